#include "providers/cloudflare/cloudflare_double.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "danehook/command.hpp"

namespace danehook::testing {
namespace {

void openssl(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    auto result = run_command(argv);
    if (!result.ok())
        throw std::runtime_error("openssl " + arguments.front() + ": " + result.describe() + " " +
                                 result.errors);
}

void make_certificates(const std::filesystem::path& dir) {
    auto p = [&](const char* name) { return (dir / name).string(); };
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj",
             "/CN=danehook test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"});
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             p("server.key"), "-out", p("server.csr"), "-subj", "/CN=127.0.0.1"});
    write_text(dir / "server.ext",
               "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
               "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n");
    openssl({"x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
             "-CAcreateserial", "-out", p("server.pem"), "-days", "2", "-extfile",
             p("server.ext")});
}

// One CA and server certificate per test process: making them is most of a double's start-up.
const std::filesystem::path& certificates() {
    static TempDir dir;
    static bool made = (make_certificates(dir.path()), true);
    (void)made;
    return dir.path();
}

}  // namespace

std::filesystem::path CloudflareDouble::ca_file() const { return certificates() / "ca.pem"; }

CloudflareDouble::CloudflareDouble(const nlohmann::json& state) {
    write_text(dir_ / "state.json", state.dump());
    const std::string script =
        (source_dir() / "tests/providers/cloudflare/cloudflare_double.py").string();
    const std::string log_path = (dir_ / "double.log").string();
    const std::string directory = dir_.path().string();
    const std::string cert = (certificates() / "server.pem").string();
    const std::string key = (certificates() / "server.key").string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::setpgid(0, 0);
        int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
        }
        ::execlp("python3", "python3", script.c_str(), "--dir", directory.c_str(), "--cert",
                 cert.c_str(), "--key", key.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        if (std::filesystem::exists(dir_ / "port")) {
            port_ = std::stoi(read_text(dir_ / "port"));
            return;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("cloudflare double exited: " + log());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("cloudflare double did not start: " + log());
}

CloudflareDouble::~CloudflareDouble() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
}

std::string CloudflareDouble::api_base() const {
    return "https://127.0.0.1:" + std::to_string(port_) + "/client/v4";
}

void CloudflareDouble::control(const nlohmann::json& commands) const {
    write_text(dir_ / "control.json.tmp", commands.dump());
    std::filesystem::rename(dir_ / "control.json.tmp", dir_ / "control.json");
}

nlohmann::json CloudflareDouble::stats() const {
    return nlohmann::json::parse(read_text(dir_ / "stats.json"));
}

int CloudflareDouble::count(const std::string& kind) const {
    auto counts = stats()["counts"];
    return counts.contains(kind) ? counts[kind].get<int>() : 0;
}

int CloudflareDouble::total_requests() const {
    return count("requests");
}

nlohmann::json CloudflareDouble::records(const std::string& zone_id) const {
    return stats()["zones"][zone_id]["records"];
}

std::string CloudflareDouble::log() const {
    try {
        return read_text(dir_ / "double.log");
    } catch (const std::exception&) {
        return "";
    }
}

}  // namespace danehook::testing
