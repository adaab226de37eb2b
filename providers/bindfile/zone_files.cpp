#include "providers/bindfile/zone_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "danehook/unique_fd.hpp"
#include "danehook/error.hpp"
#include "danehook/file_io.hpp"
#include "danehook/openssl_handles.hpp"
#include "providers/bindfile/zone_scanner.hpp"

namespace danehook::bindfile {
namespace {

constexpr std::size_t chunk_size = 1 << 20;

Error io_error(const std::filesystem::path& path, const std::string& what, int error_number) {
    return Error(ExitCode::failure,
                 path.string() + ": " + what + ": " + std::strerror(error_number));
}

class Sha256 {
  public:
    Sha256() : context_(EVP_MD_CTX_new()) {
        if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
            throw Error(ExitCode::failure, "SHA-256 unavailable: " + last_openssl_error());
        }
    }
    void update(const char* data, std::size_t size) {
        EVP_DigestUpdate(context_.get(), data, size);
    }
    Digest final() {
        Digest digest{};
        unsigned int length = 0;
        EVP_DigestFinal_ex(context_.get(), digest.data(), &length);
        return digest;
    }

  private:
    EvpMdCtxPtr context_;
};

// Calls `consume(data, size)` for each chunk of the file; returns its SHA-256.
template <typename Consumer>
Digest read_in_chunks(int fd, const std::filesystem::path& path, Consumer&& consume) {
    Sha256 sha;
    std::string buffer(chunk_size, '\0');
    while (true) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw io_error(path, "cannot read", errno);
        }
        if (n == 0) break;
        sha.update(buffer.data(), static_cast<std::size_t>(n));
        consume(buffer.data(), static_cast<std::size_t>(n));
    }
    return sha.final();
}

std::string_view comment_body(std::string_view comment) {
    while (!comment.empty() &&
           (comment.front() == ';' || comment.front() == ' ' || comment.front() == '\t')) {
        comment.remove_prefix(1);
    }
    return comment;
}

bool is_tlsa_type(const std::string& type) {
    return type == "TLSA" || type == "TYPE52";
}

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
    if (a.lexically_normal() == b.lexically_normal()) return true;
    std::error_code ec;
    return std::filesystem::equivalent(a, b, ec);
}

}  // namespace

std::optional<FileIdentity> identity_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::nullopt;
        throw io_error(path, "cannot stat", errno);
    }
    if (S_ISLNK(st.st_mode)) {
        throw Error(ExitCode::failure,
                    path.string() +
                        ": is a symbolic link; danehook replaces files by "
                        "renaming and would replace the link: configure the real path");
    }
    return FileIdentity{
        st.st_dev, st.st_ino, st.st_size,
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Digest digest_of(std::string_view data) {
    Sha256 sha;
    sha.update(data.data(), data.size());
    return sha.final();
}

ZoneScan scan_zone(const ZoneScanRequest& request) {
    const auto& path = request.zone_file;
    const std::string source = path.string();
    identity_of(path);  // refuses symbolic links
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        if (errno == ENOENT) {
            throw ProviderError(ProviderFailure::configuration,
                                source + ": the zone file does not exist");
        }
        throw io_error(path, "cannot open the zone file", errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw io_error(path, "cannot stat", errno);
    if (!S_ISREG(st.st_mode)) throw Error(ExitCode::failure, source + ": is not a regular file");

    ZoneScan scan;
    scan.identity = FileIdentity{
        st.st_dev, st.st_ino, st.st_size,
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
    scan.mode = st.st_mode & 07777;
    scan.uid = st.st_uid;
    scan.gid = st.st_gid;

    ZoneInterpreter interpreter(source, request.zone);
    bool soa_found = false;
    bool in_block = false;
    bool check_after_block = false;
    std::size_t block_line = 0;
    auto fail = [&](std::size_t line, const std::string& message) {
        throw ZoneSyntaxError(source + ":" + std::to_string(line) + ": " + message);
    };

    auto on_comment = [&](const ZoneCommentLine& comment) {
        if (!request.find_block) return;
        std::string_view body = comment_body(comment.text);
        if (body.starts_with(begin_marker_word)) {
            if (in_block)
                fail(comment.line,
                     "managed block opened twice (missing END marker before this line)");
            if (scan.block_found)
                fail(comment.line, "a second danehook managed block; keep only one");
            in_block = true;
            block_line = comment.line;
            scan.block_found = true;
            scan.block_begin = comment.begin;
        } else if (body.starts_with(end_marker_word)) {
            if (!in_block)
                fail(comment.line,
                     "END marker of the danehook managed block without its BEGIN marker");
            in_block = false;
            scan.block_end = comment.end;
            check_after_block = true;
        }
    };

    auto on_entry = [&](const ZoneEntry& entry) {
        DirectiveKind kind = interpreter.directive_kind(entry);
        if (in_block) {
            if (kind != DirectiveKind::none) {
                fail(entry.line,
                     "directive inside the danehook managed block (it holds TLSA records only)");
            }
            ZoneRecord record = interpreter.record(entry);
            if (!is_tlsa_type(record.type)) {
                fail(entry.line,
                     record.type +
                         " record inside the danehook managed block (it holds TLSA records only)");
            }
            try {
                scan.managed.push_back(TlsaRecord{record.owner, record.ttl.value_or(0),
                                                  parse_tlsa_rdata(entry, record.rdata_index)});
            } catch (const std::invalid_argument& e) {
                fail(entry.line, std::string("managed TLSA record: ") + e.what());
            }
            return;
        }
        // The block's records must not lend their owner or TTL to the record after it.
        const bool first_after_block = check_after_block && kind == DirectiveKind::none;
        if (first_after_block) {
            check_after_block = false;
            if (entry.owner_implicit) {
                fail(entry.line,
                     "the record after the danehook managed block has no owner name and would "
                     "take the owner of the last managed record; write its owner name");
            }
        }
        if (kind != DirectiveKind::none) {
            if (kind == DirectiveKind::include && request.include_target &&
                entry.tokens.size() >= 2) {
                std::filesystem::path named(std::string(entry.tokens[1].text));
                if (named.is_relative()) named = path.parent_path() / named;
                if (same_file(named, *request.include_target)) {
                    if (scan.include_found) fail(entry.line, "the TLSA file is included twice");
                    scan.include_found = true;
                    scan.include_name_offset = entry.tokens[1].offset;
                    scan.include_name_length = entry.tokens[1].length;
                    scan.include_origin = entry.tokens.size() > 2
                                              ? ZoneInterpreter::absolute_name(entry.tokens[2].text,
                                                                               interpreter.origin())
                                              : interpreter.origin();
                }
            }
            interpreter.apply_directive(entry);
            return;
        }
        ZoneRecord record = interpreter.record(entry);
        if (first_after_block && !record.ttl_explicit && !interpreter.has_default_ttl()) {
            fail(entry.line,
                 "the record after the danehook managed block has no TTL and the file has no $TTL, "
                 "so "
                 "it would take the TTL of the last managed record; add a $TTL line or a TTL");
        }
        if (record.type == "SOA" || record.type == "TYPE6") {
            if (soa_found) fail(entry.line, "a second SOA record");
            soa_found = true;
            if (record.owner != request.zone) {
                fail(entry.line,
                     "SOA record at " + record.owner + ", not at the zone apex " + request.zone);
            }
            std::size_t serial_index = record.rdata_index + 2;
            if (serial_index >= entry.tokens.size())
                fail(entry.line, "SOA record without a serial");
            const ZoneToken& token = entry.tokens[serial_index];
            std::uint64_t serial = 0;
            bool digits = !token.text.empty() && !token.quoted && token.text.size() <= 10;
            for (char c : token.text) {
                if (c < '0' || c > '9')
                    digits = false;
                else
                    serial = serial * 10 + static_cast<std::uint64_t>(c - '0');
            }
            if (!digits || serial > 0xFFFFFFFFull) {
                fail(entry.line, "SOA serial '" + std::string(token.text) +
                                     "' is not a number from 0 to 4294967295");
            }
            scan.serial = static_cast<std::uint32_t>(serial);
            scan.serial_offset = token.offset;
            scan.serial_length = token.length;
            return;
        }
        if (is_tlsa_type(record.type) && request.owners.count(record.owner) != 0) {
            try {
                scan.foreign.push_back(TlsaRecord{record.owner, record.ttl.value_or(0),
                                                  parse_tlsa_rdata(entry, record.rdata_index)});
            } catch (const std::invalid_argument& e) {
                fail(entry.line, std::string("TLSA record: ") + e.what());
            }
        }
    };

    ZoneScanner scanner(source, on_entry, on_comment);
    char last_byte = '\n';
    scan.digest = read_in_chunks(fd.get(), path, [&](const char* data, std::size_t size) {
        scanner.feed(std::string_view(data, size));
        last_byte = data[size - 1];
    });
    scanner.finish();
    scan.size = scanner.bytes_seen();
    scan.ends_with_newline = scan.size == 0 || last_byte == '\n';
    if (in_block)
        fail(block_line, "BEGIN marker of the danehook managed block without its END marker");
    if (!soa_found) throw ZoneSyntaxError(source + ": no SOA record for " + request.zone);
    return scan;
}

std::vector<TlsaRecord> read_tlsa_file(const std::filesystem::path& path, const std::string& zone,
                                       const std::string& origin, Digest* digest) {
    std::vector<TlsaRecord> records;
    if (!identity_of(path)) {
        if (digest) *digest = Digest{};
        return records;
    }
    std::string content = read_file(path);
    if (digest) *digest = digest_of(content);
    ZoneInterpreter interpreter(path.string(), origin);
    auto on_entry = [&](const ZoneEntry& entry) {
        auto where = path.string() + ":" + std::to_string(entry.line) + ": ";
        if (interpreter.directive_kind(entry) != DirectiveKind::none) {
            throw ZoneSyntaxError(
                where + "directive in the TLSA file danehook owns (it holds TLSA records only)");
        }
        ZoneRecord record = interpreter.record(entry);
        if (!is_tlsa_type(record.type)) {
            throw ZoneSyntaxError(
                where + record.type +
                " record in the TLSA file danehook owns (it holds TLSA records only)");
        }
        if (record.owner != zone &&
            !(record.owner.size() > zone.size() && record.owner.ends_with("." + zone))) {
            if (zone != ".")
                throw ZoneSyntaxError(where + record.owner + " is outside the zone " + zone);
        }
        try {
            records.push_back(TlsaRecord{record.owner, record.ttl.value_or(0),
                                         parse_tlsa_rdata(entry, record.rdata_index)});
        } catch (const std::invalid_argument& e) {
            throw ZoneSyntaxError(where + "TLSA record: " + e.what());
        }
    };
    ZoneScanner scanner(path.string(), on_entry, nullptr);
    scanner.feed(content);
    scanner.finish();
    return records;
}

std::string format_tlsa_lines(const std::vector<TlsaRecord>& records) {
    std::string text;
    for (const auto& record : records) {
        std::string hex = record.rdata.hex();
        text += record.owner + " " + std::to_string(record.ttl) + " IN TLSA " +
                record.rdata.params.to_string() + " ";
        constexpr std::size_t group = 64;
        if (hex.size() <= group) {
            text += hex;
            text += "\n";
            continue;
        }
        // BIND limits a token to a few kilobytes; full certificates need several groups.
        text += "(";
        for (std::size_t i = 0; i < hex.size(); i += group) text += "\n\t" + hex.substr(i, group);
        text += " )\n";
    }
    return text;
}

// ---------------------------------------------------------------------------------------------
// StagedFile

StagedFile::StagedFile(std::filesystem::path target, std::string_view kind)
    : target_(std::move(target)) {
    temporary_ = target_;
    temporary_ += ".danehook-" + std::string(kind) + "-" + random_suffix();
}

StagedFile::~StagedFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!released_) ::unlink(temporary_.c_str());
}

void StagedFile::open() {
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) throw io_error(temporary_, "cannot create", errno);
    buffer_.reserve(chunk_size);
}

void StagedFile::flush() {
    std::size_t written = 0;
    while (written < buffer_.size()) {
        ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw io_error(temporary_, "write failed", errno);
        }
        written += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

void StagedFile::write(std::string_view data) {
    if (buffer_.size() + data.size() > chunk_size) flush();
    if (data.size() >= chunk_size) {
        buffer_.assign(data);
        flush();
        return;
    }
    buffer_.append(data);
}

void StagedFile::finish(mode_t mode, std::optional<std::pair<uid_t, gid_t>> owner) {
    if (fd_ < 0) {
        fd_ = ::open(temporary_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd_ < 0) throw io_error(temporary_, "cannot open", errno);
    } else {
        flush();
    }
    if (::fchmod(fd_, mode) != 0) throw io_error(temporary_, "chmod failed", errno);
    if (owner && ::geteuid() == 0 && ::fchown(fd_, owner->first, owner->second) != 0) {
        throw io_error(temporary_, "chown failed", errno);
    }
    if (::fsync(fd_) != 0) throw io_error(temporary_, "fsync failed", errno);
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw io_error(temporary_, "close failed", errno);
}

// ---------------------------------------------------------------------------------------------
// Copying

Digest copy_with_replacements(const std::filesystem::path& source,
                              std::vector<CopyTarget>& targets) {
    UniqueFd fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) throw io_error(source, "cannot open", errno);
    std::vector<std::size_t> next(targets.size(), 0);
    std::vector<bool> emitted(targets.size(), false);
    std::uint64_t chunk_start = 0;
    auto digest = read_in_chunks(fd.get(), source, [&](const char* data, std::size_t size) {
        const std::uint64_t chunk_end = chunk_start + size;
        for (std::size_t t = 0; t < targets.size(); ++t) {
            auto& target = targets[t];
            std::uint64_t position = chunk_start;
            while (position < chunk_end) {
                const Replacement* replacement =
                    next[t] < target.replacements.size() ? &target.replacements[next[t]] : nullptr;
                if (replacement && replacement->offset <= position) {
                    if (!emitted[t]) {
                        target.file->write(replacement->text);
                        emitted[t] = true;
                    }
                    std::uint64_t replaced_end = replacement->offset + replacement->length;
                    if (replaced_end > position) position = std::min(replaced_end, chunk_end);
                    if (position >= replaced_end) {
                        ++next[t];
                        emitted[t] = false;
                    }
                    continue;
                }
                std::uint64_t stop =
                    replacement ? std::min(replacement->offset, chunk_end) : chunk_end;
                target.file->write(
                    std::string_view(data + (position - chunk_start), stop - position));
                position = stop;
            }
        }
        chunk_start = chunk_end;
    });
    // Appends at the end of the file.
    for (std::size_t t = 0; t < targets.size(); ++t) {
        for (std::size_t r = next[t]; r < targets[t].replacements.size(); ++r) {
            const auto& replacement = targets[t].replacements[r];
            if (replacement.offset < chunk_start) {
                throw Error(ExitCode::failure, source.string() + ": changed while being copied");
            }
            targets[t].file->write(replacement.text);
        }
    }
    return digest;
}

// ---------------------------------------------------------------------------------------------
// Installation

std::filesystem::path backup_path(const std::filesystem::path& target) {
    auto path = target;
    path += ".danehook-prev";
    return path;
}

namespace {

// Makes `backup` another name of `target`'s current inode (a copy where hard links fail).
void keep_as_backup(const std::filesystem::path& target, const std::filesystem::path& backup) {
    auto temporary = backup;
    temporary += ".tmp-" + random_suffix();
    if (::link(target.c_str(), temporary.c_str()) != 0) {
        std::error_code ec;
        std::filesystem::copy_file(target, temporary, ec);
        if (ec)
            throw Error(ExitCode::failure,
                        backup.string() + ": cannot keep the previous version: " + ec.message());
    }
    if (::rename(temporary.c_str(), backup.c_str()) != 0) {
        int error_number = errno;
        ::unlink(temporary.c_str());
        throw io_error(backup, "cannot keep the previous version", error_number);
    }
}

}  // namespace

void Installation::install(StagedFile& staged) {
    const auto& target = staged.target();
    bool had_previous = identity_of(target).has_value();
    if (had_previous) keep_as_backup(target, backup_path(target));
    if (::rename(staged.path().c_str(), target.c_str()) != 0)
        throw io_error(target, "cannot put the new version in place", errno);
    staged.release();
    installed_.push_back(Installed{target, had_previous});
    fsync_directory(target.parent_path());
}

std::string Installation::roll_back() {
    std::string errors;
    for (auto it = installed_.rbegin(); it != installed_.rend(); ++it) {
        try {
            if (it->had_previous) {
                auto backup = backup_path(it->target);
                auto temporary = it->target;
                temporary += ".danehook-restore-" + random_suffix();
                if (::link(backup.c_str(), temporary.c_str()) != 0)
                    throw io_error(backup, "cannot restore", errno);
                if (::rename(temporary.c_str(), it->target.c_str()) != 0) {
                    int error_number = errno;
                    ::unlink(temporary.c_str());
                    throw io_error(it->target, "cannot restore the previous version", error_number);
                }
            } else if (::unlink(it->target.c_str()) != 0 && errno != ENOENT) {
                throw io_error(it->target, "cannot remove the new file", errno);
            }
            fsync_directory(it->target.parent_path());
        } catch (const std::exception& e) {
            errors += (errors.empty() ? "" : "; ") + std::string(e.what());
        }
    }
    installed_.clear();
    return errors;
}

// ---------------------------------------------------------------------------------------------
// ZoneLock

std::filesystem::path ZoneLock::path_for(const std::filesystem::path& zone_file) {
    auto path = zone_file;
    path += ".danehook-lock";
    return path;
}

ZoneLock::ZoneLock(const std::filesystem::path& zone_file, std::chrono::milliseconds timeout) {
    auto path = path_for(zone_file);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) throw io_error(path, "cannot open the lock file", errno);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int error_number = errno;
            ::close(fd_);
            throw io_error(path, "cannot lock", error_number);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::close(fd_);
            throw ProviderError(ProviderFailure::transient,
                                zone_file.string() +
                                    ": another danehook run is editing this zone file (lock " +
                                    path.string() + " held); try again later");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

ZoneLock::~ZoneLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace danehook::bindfile
