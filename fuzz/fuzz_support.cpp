#include "fuzz_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "danehook/log.hpp"

namespace danehook::fuzz {

const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/danehook-fuzz-XXXXXX";
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        return std::filesystem::path(pattern);
    }();
    return dir;
}

std::filesystem::path write_scratch(const std::string& name, std::string_view data) {
    auto path = scratch_dir() / name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + path.string());
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot write " + path.string());
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path;
}

void silence_log() {
    static bool done = false;
    if (done) return;
    done = true;
    log::set_sink([](log::Level, const std::string&) {});
}

}  // namespace danehook::fuzz
