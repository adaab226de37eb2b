#include "support/test_support.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace danehook::testing {

std::filesystem::path source_dir() { return DANEHOOK_SOURCE_DIR; }
std::filesystem::path danehook_binary() { return DANEHOOK_BINARY; }
std::filesystem::path samples_dir() { return source_dir() / "config-samples"; }

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "danehook-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path.string());
    out << text;
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

CommandResult run_danehook(const std::vector<std::string>& arguments, const std::vector<std::string>& environment) {
    std::vector<std::string> argv{danehook_binary().string()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    CommandOptions options;
    options.timeout = std::chrono::seconds(120);
    options.extra_environment = environment;
    return run_command(argv, options);
}

bool have_program(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (::access((std::filesystem::path(dir) / program).c_str(), X_OK) == 0) return true;
    }
    for (const char* extra : {"/usr/sbin", "/sbin"}) {
        if (::access((std::filesystem::path(extra) / program).c_str(), X_OK) == 0) return true;
    }
    return false;
}

int free_port() {
    for (int attempt = 0; attempt < 50; ++attempt) {
        int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = 0;
        if (::bind(tcp, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            ::close(tcp);
            continue;
        }
        socklen_t length = sizeof address;
        ::getsockname(tcp, reinterpret_cast<sockaddr*>(&address), &length);
        int port = ntohs(address.sin_port);
        int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
        bool udp_free = ::bind(udp, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(udp);
        ::close(tcp);
        if (udp_free) return port;
    }
    throw std::runtime_error("no free port");
}

}  // namespace danehook::testing
