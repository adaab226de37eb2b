#include "danehook/unique_fd.hpp"
#include "danehook/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "danehook/error.hpp"

namespace danehook {
namespace {

Error io_error(const std::filesystem::path& path, const std::string& what, int error_number) {
    return Error(ExitCode::failure, path.string() + ": " + what + ": " + std::strerror(error_number));
}

FileStamp stamp_from(const struct stat& st) {
    return FileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                     static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                     static_cast<std::int64_t>(st.st_size)};
}

}  // namespace

std::string random_suffix() {
    static thread_local std::mt19937_64 generator{std::random_device{}()};
    static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string suffix;
    for (int i = 0; i < 8; ++i) suffix.push_back(letters[generator() % (sizeof letters - 1)]);
    return suffix;
}

std::string read_file(const std::filesystem::path& path, FileStamp* stamp) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw InputError(path.string() + ": cannot read: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw InputError(path.string() + ": cannot stat: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw InputError(path.string() + ": is a directory");
    if (stamp) *stamp = stamp_from(st);
    std::string content;
    if (st.st_size > 0) content.reserve(static_cast<std::size_t>(st.st_size));
    char buffer[65536];
    while (true) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw InputError(path.string() + ": cannot read: " + std::strerror(errno));
        }
        if (n == 0) break;
        content.append(buffer, static_cast<std::size_t>(n));
    }
    return content;
}

std::optional<FileStamp> file_stamp(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return stamp_from(st);
}

void fsync_directory(const std::filesystem::path& directory) {
    UniqueFd fd(::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) throw io_error(directory, "cannot open directory", errno);
    if (::fsync(fd.get()) != 0 && errno != EINVAL) throw io_error(directory, "fsync failed", errno);
}

void write_file_atomic(const std::filesystem::path& path, const std::string& content, mode_t mode, bool force_mode) {
    auto directory = path.parent_path();
    struct stat existing {};
    bool exists = ::lstat(path.c_str(), &existing) == 0;
    if (exists && S_ISLNK(existing.st_mode)) {
        throw Error(ExitCode::failure, path.string() + ": refusing to replace a symbolic link");
    }
    auto temporary = path;
    temporary += ".tmp-" + random_suffix();
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd.get() < 0) throw io_error(temporary, "cannot create", errno);
    auto cleanup_and_throw = [&](const std::string& what, int error_number) {
        ::unlink(temporary.c_str());
        throw io_error(temporary, what, error_number);
    };
    mode_t final_mode = (exists && !force_mode) ? (existing.st_mode & 07777) : mode;
    if (::fchmod(fd.get(), final_mode) != 0) cleanup_and_throw("chmod failed", errno);
    if (exists && !force_mode && ::geteuid() == 0) {
        if (::fchown(fd.get(), existing.st_uid, existing.st_gid) != 0) cleanup_and_throw("chown failed", errno);
    }
    std::size_t written = 0;
    while (written < content.size()) {
        ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            cleanup_and_throw("write failed", errno);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) cleanup_and_throw("fsync failed", errno);
    if (::close(fd.release()) != 0) cleanup_and_throw("close failed", errno);
    if (::rename(temporary.c_str(), path.c_str()) != 0) cleanup_and_throw("rename failed", errno);
    fsync_directory(directory);
}

void ensure_private_directory(const std::filesystem::path& directory, mode_t mode) {
    struct stat st {};
    if (::lstat(directory.c_str(), &st) == 0) {
        if (S_ISLNK(st.st_mode)) throw Error(ExitCode::failure, directory.string() + ": is a symbolic link; refusing to use it for state");
        if (!S_ISDIR(st.st_mode)) throw Error(ExitCode::failure, directory.string() + ": exists and is not a directory");
        return;
    }
    std::error_code ec;
    if (directory.has_parent_path()) std::filesystem::create_directories(directory.parent_path(), ec);
    if (::mkdir(directory.c_str(), mode) != 0 && errno != EEXIST) {
        throw io_error(directory, "cannot create directory", errno);
    }
}

std::optional<std::string> permissive_credentials_warning(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    if ((st.st_mode & 0077) == 0) return std::nullopt;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return path.string() + ": credentials file has mode " + mode +
           " and is readable by group or others; run 'chmod 600 " + path.string() + "'";
}

}  // namespace danehook
