#include "hook/check_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "danehook/certificate.hpp"
#include "danehook/command.hpp"
#include "danehook/openssl_handles.hpp"

namespace danehook::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

pid_t spawn(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    return pid;
}

void stop_process(pid_t& pid) {
    if (pid <= 0) return;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
}

void send_text(int fd, const std::string& text) {
    ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

// Reads one line (blocking, bounded by the socket's receive timeout); "" on EOF or timeout.
std::string receive_line(int fd) {
    std::string line;
    char c = 0;
    while (::recv(fd, &c, 1, 0) == 1) {
        if (c == '\n') return line;
        if (c != '\r') line.push_back(c);
    }
    return line;
}

}  // namespace

ServiceCertificate::ServiceCertificate(const TestCa& ca, const std::string& host,
                                       const std::filesystem::path& dir_in, long serial)
    : dir(dir_in),
      key(generate_key(KeyKind::p256)),
      leaf(make_leaf(ca, key.get(), host, -1, 90, serial)) {
    write_lineage(dir, leaf.get(), ca, key.get());
}

std::string ServiceCertificate::ee_record() const {
    return "3 1 1 " + to_hex(key_association(key.get(), MatchingType::sha256));
}

std::string ServiceCertificate::leaf_sha256() const {
    return to_hex(
        certificate_association(leaf.get(), Selector::full_certificate, MatchingType::sha256));
}

std::string ta_record(const TestCa& ca) {
    return "2 1 1 " + to_hex(certificate_association(ca.certificate.get(), Selector::spki,
                                                     MatchingType::sha256));
}

bool PostfixServer::available() {
    return ::geteuid() == 0 && ::access("/usr/sbin/postfix", X_OK) == 0 &&
           ::getpwnam("postfix") != nullptr;
}

PostfixServer::PostfixServer(const ServiceCertificate& certificate, const std::string& hostname)
    : port_(free_port()) {
    auto conf = dir_ / "conf", queue = dir_ / "queue", data = dir_ / "data";
    for (const auto& d : {conf, queue, data}) std::filesystem::create_directories(d);
    // The postfix user must reach its data directory inside our (0700) temporary directory.
    std::filesystem::permissions(
        dir_.path(), std::filesystem::perms::others_exec | std::filesystem::perms::group_exec,
        std::filesystem::perm_options::add);
    const passwd* postfix_user = ::getpwnam("postfix");
    if (!postfix_user || ::chown(data.c_str(), postfix_user->pw_uid, postfix_user->pw_gid) != 0) {
        throw std::runtime_error(
            "PostfixServer: cannot hand the data directory to the postfix user");
    }
    // Only smtpd and the helpers it needs; no local delivery, no maps that need system files.
    write_text(conf / "main.cf",
               "compatibility_level = 3.6\n"
               "queue_directory = " +
                   queue.string() +
                   "\n"
                   "data_directory = " +
                   data.string() +
                   "\n"
                   "mail_owner = postfix\nsetgid_group = postdrop\n"
                   "inet_interfaces = loopback-only\ninet_protocols = ipv4\n"
                   "myhostname = " +
                   hostname +
                   "\nmydestination =\nalias_maps =\nalias_database =\n"
                   "local_recipient_maps =\nsmtpd_tls_session_cache_database =\n"
                   "smtpd_tls_security_level = may\n"
                   "smtpd_tls_chain_files = " +
                   (certificate.dir / "privkey.pem").string() + ", " +
                   (certificate.dir / "fullchain.pem").string() +
                   "\n"
                   "maillog_file = /dev/stdout\n");
    write_text(conf / "master.cf", "127.0.0.1:" + std::to_string(port_) +
                                       " inet n - n - - smtpd\n"
                                       "postlog unix-dgram n - n - 1 postlogd\n"
                                       "proxymap unix - - n - - proxymap\n"
                                       "anvil unix - - n - 1 anvil\n"
                                       "tlsmgr unix - - n 1000? 1 tlsmgr\n"
                                       "scache unix - - n - 1 scache\n");
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        int null = ::open("/dev/null", O_RDONLY);
        int log = ::open((dir_ / "postfix.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        ::dup2(null, 0);
        ::dup2(log, 1);
        ::dup2(log, 2);
        ::execl("/usr/sbin/postfix", "postfix", "-c", conf.c_str(), "start-fg",
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    bool listening = false;
    while (!listening && std::chrono::steady_clock::now() < deadline &&
           log().find("fatal:") == std::string::npos) {
        listening = wait_for_port(port_, std::chrono::milliseconds(200));
    }
    if (!listening) {
        auto text = log();
        stop();
        throw std::runtime_error("Postfix did not listen on port " + std::to_string(port_) + ":\n" +
                                 text);
    }
}

PostfixServer::~PostfixServer() {
    stop();
}

std::string PostfixServer::log() const {
    try {
        return read_text(dir_ / "postfix.log");
    } catch (const std::exception&) {
        return "(no log)";
    }
}

void PostfixServer::stop() {
    if (pid_ <= 0) return;
    // master runs in its own session: ask it through `postfix stop`, then make sure by its pid.
    run_command({"/usr/sbin/postfix", "-c", (dir_ / "conf").string(), "stop"});
    try {
        pid_t master = std::stoi(read_text(dir_ / "queue/pid/master.pid"));
        for (int i = 0; i < 100 && ::kill(master, 0) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (::kill(master, 0) == 0) ::kill(master, SIGKILL);
    } catch (const std::exception&) {
    }
    stop_process(pid_);
}

std::string tampered_signed_zone(const std::filesystem::path& dir, const std::string& zone,
                                 const std::string& body, const std::string& tamper_from,
                                 const std::string& tamper_to, std::string& anchor) {
    std::filesystem::create_directories(dir);
    write_text(dir / "zone", "$ORIGIN " + zone + "\n$TTL 300\n" + body);
    auto keygen = run_command(
        {"dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", dir.string(), zone});
    if (!keygen.ok()) throw std::runtime_error("dnssec-keygen " + keygen.describe());
    auto sign = run_command({"dnssec-signzone", "-q", "-S", "-z", "-K", dir.string(), "-o", zone,
                             "-f", (dir / "signed").string(), (dir / "zone").string()});
    if (!sign.ok()) throw std::runtime_error("dnssec-signzone " + sign.describe());
    auto text = read_text(dir / "signed");
    auto at = text.find(tamper_from);
    if (at == std::string::npos)
        throw std::runtime_error("tampered_signed_zone: '" + tamper_from +
                                 "' not in the signed zone");
    text.replace(at, tamper_from.size(), tamper_to);
    anchor = dnskey_anchor(dir, zone);
    return text;
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        if (connected) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    return false;
}

SServer::SServer(const ServiceCertificate& certificate, const std::string& sni_name,
                 const ServiceCertificate* sni_certificate)
    : port_(free_port()) {
    std::vector<std::string> argv{"openssl",     "s_server",
                                  "-accept",     "127.0.0.1:" + std::to_string(port_),
                                  "-cert",       (certificate.dir / "cert.pem").string(),
                                  "-key",        (certificate.dir / "privkey.pem").string(),
                                  "-cert_chain", (certificate.dir / "chain.pem").string(),
                                  "-www",        "-quiet"};
    if (sni_certificate) {
        argv.insert(argv.end(), {"-servername", sni_name, "-cert2",
                                 (sni_certificate->dir / "cert.pem").string(), "-key2",
                                 (sni_certificate->dir / "privkey.pem").string()});
    }
    pid_ = spawn(argv);
    if (!wait_for_port(port_, std::chrono::seconds(10))) {
        stop();
        throw std::runtime_error("openssl s_server did not come up on port " +
                                 std::to_string(port_));
    }
}

SServer::~SServer() {
    stop();
}
void SServer::stop() {
    stop_process(pid_);
}

StartTlsResponder::StartTlsResponder(ResponderMode mode, const ServiceCertificate& certificate,
                                     const TestCa& ca)
    : mode_(mode),
      leaf_pem_(certificate_pem(certificate.leaf.get())),
      chain_pem_(certificate_pem(ca.certificate.get())),
      key_pem_(private_key_pem(certificate.key.get())) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(listener_);
        throw std::runtime_error("StartTlsResponder: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
}

StartTlsResponder::~StartTlsResponder() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
}

void StartTlsResponder::serve() {
    sigset_t pipe_only;  // a client that hangs up must not kill the test with SIGPIPE
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    while (!stopping_) {
        pollfd descriptor{listener_, POLLIN, 0};
        if (::poll(&descriptor, 1, 50) <= 0) continue;
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        timeval timeout{3, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        converse(fd);
        ::close(fd);
    }
}

void StartTlsResponder::converse(int fd) {
    switch (mode_) {
        case ResponderMode::silent:
            while (!stopping_ && !receive_line(fd).empty()) {
            }
            return;
        case ResponderMode::smtp:
        case ResponderMode::smtp_without_starttls:
        case ResponderMode::smtp_injection: {
            send_text(
                fd,
                "220-mail.example.test ESMTP test responder\r\n220 mail.example.test ready\r\n");
            auto ehlo = receive_line(fd);
            if (ehlo.rfind("EHLO ", 0) != 0) return;
            send_text(
                fd, std::string("250-mail.example.test\r\n250-PIPELINING\r\n") +
                        (mode_ == ResponderMode::smtp_without_starttls ? "" : "250-STARTTLS\r\n") +
                        "250 8BITMIME\r\n");
            if (receive_line(fd) != "STARTTLS") return;
            send_text(fd, mode_ == ResponderMode::smtp_injection
                              ? "220 go ahead\r\n250 injected\r\n"
                              : "220 go ahead\r\n");
            break;
        }
        case ResponderMode::imap: {
            send_text(fd, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
            auto line = receive_line(fd);
            auto space = line.find(' ');
            if (space == std::string::npos || line.substr(space + 1) != "STARTTLS") return;
            send_text(fd, line.substr(0, space) + " OK Begin TLS negotiation now\r\n");
            break;
        }
        case ResponderMode::pop3:
            send_text(fd, "+OK POP3 ready\r\n");
            if (receive_line(fd) != "STLS") return;
            send_text(fd, "+OK Begin TLS negotiation\r\n");
            break;
    }
    SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
    BioPtr leaf_bio(BIO_new_mem_buf(leaf_pem_.data(), static_cast<int>(leaf_pem_.size())));
    BioPtr chain_bio(BIO_new_mem_buf(chain_pem_.data(), static_cast<int>(chain_pem_.size())));
    BioPtr key_bio(BIO_new_mem_buf(key_pem_.data(), static_cast<int>(key_pem_.size())));
    X509Ptr leaf(PEM_read_bio_X509(leaf_bio.get(), nullptr, nullptr, nullptr));
    X509Ptr issuer(PEM_read_bio_X509(chain_bio.get(), nullptr, nullptr, nullptr));
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    SSL_CTX_use_certificate(context.get(), leaf.get());
    SSL_CTX_add1_chain_cert(context.get(), issuer.get());
    SSL_CTX_use_PrivateKey(context.get(), key.get());
    SslPtr ssl(SSL_new(context.get()));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) == 1) {
        handshakes_ += 1;
        char buffer[256];
        SSL_read(ssl.get(), buffer, sizeof buffer);  // QUIT / LOGOUT, or EOF
        SSL_shutdown(ssl.get());
    }
    ERR_clear_error();
}

std::string dnskey_anchor(const std::filesystem::path& key_dir, const std::string& zone) {
    std::string anchor;
    std::string prefix = "K" + zone;
    for (const auto& item : std::filesystem::directory_iterator(key_dir)) {
        auto name = item.path().filename().string();
        if (!name.starts_with(prefix + "+") || !name.ends_with(".key")) continue;
        std::istringstream lines(read_text(item.path()));
        std::string line;
        while (std::getline(lines, line)) {
            if (line.empty() || line[0] == ';') continue;
            if (line.find("DNSKEY 257 ") != std::string::npos) anchor += line + "\n";
        }
    }
    if (anchor.empty()) throw std::runtime_error("no KSK for " + zone + " in " + key_dir.string());
    return anchor;
}

}  // namespace danehook::testing
