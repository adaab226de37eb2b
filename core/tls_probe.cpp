#include "danehook/tls_probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace danehook {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

// A failed step; caught inside probe_tls and turned into the result's stage and error.
struct StepFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// OpenSSL writes to the socket with write(2): a peer that has gone away would raise SIGPIPE and
// kill the process. Blocks it for this thread during the probe and discards one raised meanwhile.
class SigpipeGuard {
  public:
    SigpipeGuard() {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigpending(&pending_before_);
        was_pending_ = sigismember(&pending_before_, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask_);
    }
    ~SigpipeGuard() {
        sigset_t pending;
        sigpending(&pending);
        if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
            sigset_t pipe_only;
            sigemptyset(&pipe_only);
            sigaddset(&pipe_only, SIGPIPE);
            timespec no_wait{0, 0};
            sigtimedwait(&pipe_only, nullptr, &no_wait);
        }
        pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

  private:
    sigset_t old_mask_{}, pending_before_{};
    bool was_pending_ = false;
};

class Socket {
  public:
    Socket() = default;
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    Socket& operator=(Socket&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd() const { return fd_; }

  private:
    int fd_ = -1;
};

int milliseconds_left(Deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
                    .count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd`; false on timeout.
bool wait_for(int fd, short events, Deadline deadline) {
    for (;;) {
        int left = milliseconds_left(deadline);
        if (left == 0) return false;
        pollfd descriptor{fd, events, 0};
        int ready = ::poll(&descriptor, 1, left);
        if (ready > 0) return true;
        if (ready == 0) return false;
        if (errno != EINTR) throw StepFailure(std::string("poll: ") + std::strerror(errno));
    }
}

std::string endpoint_text(const sockaddr* address, socklen_t length) {
    char host[NI_MAXHOST] = {}, port[NI_MAXSERV] = {};
    if (::getnameinfo(address, length, host, sizeof host, port, sizeof port,
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return "?";
    }
    return address->sa_family == AF_INET6 ? "[" + std::string(host) + "]:" + port
                                          : std::string(host) + ":" + port;
}

// Tries every address of `host` in turn, each with the full timeout.
Socket connect_to(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                  std::string& endpoint) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    auto service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        endpoint = host + ":" + service;
        throw StepFailure("cannot resolve " + host + ": " + gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    std::string errors;
    for (addrinfo* ai = addresses.get(); ai; ai = ai->ai_next) {
        endpoint = endpoint_text(ai->ai_addr, ai->ai_addrlen);
        Socket socket(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                               ai->ai_protocol));
        if (socket.fd() < 0) {
            errors += (errors.empty() ? "" : "; ") + endpoint + ": " + std::strerror(errno);
            continue;
        }
        int rc = ::connect(socket.fd(), ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno != EINPROGRESS) {
            errors += (errors.empty() ? "" : "; ") + endpoint + ": " + std::strerror(errno);
            continue;
        }
        if (rc != 0) {
            if (!wait_for(socket.fd(), POLLOUT, SteadyClock::now() + timeout)) {
                errors += (errors.empty() ? "" : "; ") + endpoint + ": connect timed out after " +
                          std::to_string(timeout.count()) + " ms";
                continue;
            }
            int error = 0;
            socklen_t length = sizeof error;
            ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
            if (error != 0) {
                errors += (errors.empty() ? "" : "; ") + endpoint + ": " + std::strerror(error);
                continue;
            }
        }
        return socket;
    }
    throw StepFailure(errors.empty() ? "no address for " + host : errors);
}

// The plain-text part of STARTTLS: line-oriented, every read bounded by the dialogue deadline.
class Dialogue {
  public:
    Dialogue(int fd, Deadline deadline, const char* protocol)
        : fd_(fd), deadline_(deadline), protocol_(protocol) {}

    std::string read_line() {
        for (;;) {
            auto end = buffer_.find("\r\n");
            if (end == std::string::npos) end = buffer_.find('\n');
            if (end != std::string::npos) {
                std::string line = buffer_.substr(0, end);
                buffer_.erase(0, end + (buffer_[end] == '\r' ? 2 : 1));
                return line;
            }
            if (buffer_.size() > 16384) fail("line longer than 16384 octets");
            if (!wait_for(fd_, POLLIN, deadline_)) fail("no answer in time (timeout)");
            char chunk[4096];
            ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
            if (got == 0) fail("the server closed the connection");
            if (got < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                fail(std::string("read: ") + std::strerror(errno));
            }
            buffer_.append(chunk, static_cast<std::size_t>(got));
        }
    }

    void send(const std::string& text) {
        std::size_t sent = 0;
        while (sent < text.size()) {
            if (!wait_for(fd_, POLLOUT, deadline_)) fail("cannot send in time (timeout)");
            ssize_t n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                fail(std::string("write: ") + std::strerror(errno));
            }
            sent += static_cast<std::size_t>(n);
        }
    }

    // Anything the server sent after its go-ahead would be mixed into the TLS stream
    // (the STARTTLS command injection problem, CVE-2011-0411): refuse it.
    void expect_nothing_pending() {
        if (!buffer_.empty()) fail("the server sent data after its STARTTLS go-ahead");
    }

    [[noreturn]] void fail(const std::string& why) const {
        throw StepFailure(std::string(protocol_) + ": " + why);
    }

  private:
    int fd_;
    Deadline deadline_;
    const char* protocol_;
    std::string buffer_;
};

struct SmtpReply {
    int code = 0;
    std::vector<std::string> lines;  // text after "NNN-" / "NNN "
};

SmtpReply read_smtp_reply(Dialogue& dialogue) {
    SmtpReply reply;
    for (;;) {
        auto line = dialogue.read_line();
        if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
            !std::isdigit(static_cast<unsigned char>(line[1])) ||
            !std::isdigit(static_cast<unsigned char>(line[2])) ||
            (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
            dialogue.fail("malformed reply line '" + line.substr(0, 80) + "'");
        }
        int code = std::stoi(line.substr(0, 3));
        if (reply.code != 0 && code != reply.code)
            dialogue.fail("inconsistent codes in a multi-line reply");
        reply.code = code;
        reply.lines.push_back(line.size() > 4 ? line.substr(4) : "");
        if (line.size() == 3 || line[3] == ' ') return reply;
    }
}

std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

void smtp_starttls(Dialogue& dialogue, const std::string& ehlo_name) {
    auto greeting = read_smtp_reply(dialogue);
    if (greeting.code != 220) {
        dialogue.fail("greeting " + std::to_string(greeting.code) + " " + greeting.lines.front());
    }
    dialogue.send("EHLO " + ehlo_name + "\r\n");
    auto ehlo = read_smtp_reply(dialogue);
    if (ehlo.code != 250)
        dialogue.fail("EHLO answered " + std::to_string(ehlo.code) + " " + ehlo.lines.front());
    bool offered = false;
    for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
        auto keyword = upper(ehlo.lines[i].substr(0, ehlo.lines[i].find(' ')));
        if (keyword == "STARTTLS") offered = true;
    }
    if (!offered) dialogue.fail("the server does not offer STARTTLS in its EHLO reply");
    dialogue.send("STARTTLS\r\n");
    auto go = read_smtp_reply(dialogue);
    if (go.code != 220)
        dialogue.fail("STARTTLS answered " + std::to_string(go.code) + " " + go.lines.front());
    dialogue.expect_nothing_pending();
}

void imap_starttls(Dialogue& dialogue) {
    auto greeting = dialogue.read_line();
    if (!upper(greeting).starts_with("* OK"))
        dialogue.fail("greeting '" + greeting.substr(0, 80) + "'");
    const std::string tag = "dh1";
    dialogue.send(tag + " STARTTLS\r\n");
    for (;;) {
        auto line = dialogue.read_line();
        if (line.starts_with("* ")) continue;  // untagged data (CAPABILITY) may come first
        if (!line.starts_with(tag + " "))
            dialogue.fail("unexpected line '" + line.substr(0, 80) + "'");
        if (!upper(line.substr(tag.size() + 1)).starts_with("OK")) {
            dialogue.fail("STARTTLS answered '" + line.substr(0, 80) + "'");
        }
        break;
    }
    dialogue.expect_nothing_pending();
}

void pop3_starttls(Dialogue& dialogue) {
    auto greeting = dialogue.read_line();
    if (!greeting.starts_with("+OK")) dialogue.fail("greeting '" + greeting.substr(0, 80) + "'");
    dialogue.send("STLS\r\n");
    auto answer = dialogue.read_line();
    if (!answer.starts_with("+OK")) dialogue.fail("STLS answered '" + answer.substr(0, 80) + "'");
    dialogue.expect_nothing_pending();
}

void run_starttls(int fd, const TlsProbeOptions& options) {
    if (options.starttls == StartTls::none) return;
    Dialogue dialogue(fd, SteadyClock::now() + options.dialogue_timeout,
                      to_string(options.starttls));
    switch (options.starttls) {
        case StartTls::smtp:
            smtp_starttls(dialogue, options.ehlo_name);
            break;
        case StartTls::imap:
            imap_starttls(dialogue);
            break;
        case StartTls::pop3:
            pop3_starttls(dialogue);
            break;
        case StartTls::none:
            break;
    }
}

std::string openssl_failure(const char* what) {
    auto detail = last_openssl_error();
    return std::string(what) + (detail.empty() ? "" : ": " + detail);
}

// Offers the records to OpenSSL; sorts them into usable and unusable.
void add_tlsa_records(SSL* ssl, const TlsProbeOptions& options, TlsProbeResult& result) {
    for (const auto& record : options.tlsa) {
        auto usage = static_cast<std::uint8_t>(record.params.usage);
        // RFC 7672 section 3.1.3: SMTP clients treat PKIX-TA(0) and PKIX-EE(1) as unusable.
        if (options.smtp_rules && usage <= 1) {
            result.unusable.push_back(record);
            continue;
        }
        int rc = SSL_dane_tlsa_add(ssl, usage, static_cast<std::uint8_t>(record.params.selector),
                                   static_cast<std::uint8_t>(record.params.matching),
                                   record.data.data(), record.data.size());
        ERR_clear_error();
        if (rc > 0) {
            result.usable.push_back(record);
        } else {
            result.unusable.push_back(record);  // unsupported parameters or malformed data
        }
    }
}

void handshake(SSL* ssl, int fd, std::chrono::milliseconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        int rc = SSL_connect(ssl);
        if (rc == 1) return;
        int error = SSL_get_error(ssl, rc);
        short events = 0;
        if (error == SSL_ERROR_WANT_READ) {
            events = POLLIN;
        } else if (error == SSL_ERROR_WANT_WRITE) {
            events = POLLOUT;
        } else if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            throw StepFailure(std::string("connection closed during the handshake") +
                              (errno ? std::string(": ") + std::strerror(errno) : ""));
        } else {
            throw StepFailure(openssl_failure("handshake failed"));
        }
        if (!wait_for(fd, events, deadline)) {
            throw StepFailure("handshake not finished within " + std::to_string(timeout.count()) +
                              " ms");
        }
    }
}

void collect_chain(SSL* ssl, TlsProbeResult& result) {
    // On the client side the peer chain includes the leaf.
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
        X509* certificate = sk_X509_value(chain, i);
        X509_up_ref(certificate);
        result.chain.emplace_back(certificate);
    }
    if (result.chain.empty()) throw StepFailure("the server presented no certificate");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    X509_digest(result.chain.front().get(), EVP_sha256(), digest, &length);
    result.leaf_sha256 = to_hex(std::vector<std::uint8_t>(digest, digest + length));
    char subject[512] = {};
    X509_NAME_oneline(X509_get_subject_name(result.chain.front().get()), subject, sizeof subject);
    result.leaf_subject = subject;
    result.protocol = SSL_get_version(ssl);
    result.cipher = SSL_get_cipher_name(ssl);
}

void read_dane_outcome(SSL* ssl, TlsProbeResult& result) {
    if (result.usable.empty()) {
        result.verify_error = "no usable TLSA records";
        return;
    }
    long verify = SSL_get_verify_result(ssl);
    std::uint8_t usage = 0, selector = 0, matching = 0;
    const unsigned char* data = nullptr;
    std::size_t length = 0;
    int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &matching, &data, &length);
    if (depth >= 0 && data) {
        DaneMatch match;
        match.record.params.usage = static_cast<Usage>(usage);
        match.record.params.selector = static_cast<Selector>(selector);
        match.record.params.matching = static_cast<MatchingType>(matching);
        match.record.data.assign(data, data + length);
        match.depth = depth;
        result.match = match;
    }
    result.dane_verified = verify == X509_V_OK && result.match.has_value();
    if (!result.dane_verified) {
        result.verify_error = verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                                  : "no TLSA record matched the presented chain";
    }
}

// Politely ends an SMTP session inside TLS so the server does not log a lost connection.
void say_goodbye(SSL* ssl, StartTls mode) {
    const char* text = mode == StartTls::smtp   ? "QUIT\r\n"
                       : mode == StartTls::imap ? "dh2 LOGOUT\r\n"
                       : mode == StartTls::pop3 ? "QUIT\r\n"
                                                : nullptr;
    if (text) SSL_write(ssl, text, static_cast<int>(std::strlen(text)));
    SSL_shutdown(ssl);
    ERR_clear_error();
}

}  // namespace

StartTls default_starttls(std::uint16_t port) {
    switch (port) {
        case 25:
        case 587:
            return StartTls::smtp;
        case 143:
            return StartTls::imap;
        case 110:
            return StartTls::pop3;
        default:
            return StartTls::none;
    }
}

StartTls parse_starttls(std::string_view text) {
    if (text == "smtp") return StartTls::smtp;
    if (text == "imap") return StartTls::imap;
    if (text == "pop3") return StartTls::pop3;
    if (text == "none") return StartTls::none;
    throw std::invalid_argument("starttls must be smtp, imap, pop3 or none, not '" +
                                std::string(text) + "'");
}

const char* to_string(StartTls mode) {
    switch (mode) {
        case StartTls::none:
            return "none";
        case StartTls::smtp:
            return "smtp";
        case StartTls::imap:
            return "imap";
        case StartTls::pop3:
            return "pop3";
    }
    return "?";
}

TlsProbeResult probe_tls(const TlsProbeOptions& options) {
    TlsProbeResult result;
    SigpipeGuard sigpipe_guard;
    const std::string& address = options.address.empty() ? options.host : options.address;
    try {
        auto socket = connect_to(address, options.port, options.connect_timeout, result.endpoint);
        result.stage = ProbeStage::starttls;
        run_starttls(socket.fd(), options);
        result.stage = ProbeStage::handshake;

        SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
        if (!context) throw StepFailure(openssl_failure("SSL_CTX_new"));
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);  // judged after the handshake
        SSL_CTX_set_default_verify_paths(context.get());              // for PKIX-TA/PKIX-EE
        if (!options.tlsa.empty() && SSL_CTX_dane_enable(context.get()) <= 0) {
            throw StepFailure(openssl_failure("SSL_CTX_dane_enable"));
        }
        SslPtr ssl(SSL_new(context.get()));
        if (!ssl) throw StepFailure(openssl_failure("SSL_new"));
        if (SSL_set_fd(ssl.get(), socket.fd()) != 1)
            throw StepFailure(openssl_failure("SSL_set_fd"));
        if (SSL_set_tlsext_host_name(ssl.get(), options.host.c_str()) != 1) {
            throw StepFailure(openssl_failure("SNI"));
        }
        if (!options.tlsa.empty()) {
            if (SSL_dane_enable(ssl.get(), options.host.c_str()) <= 0) {
                throw StepFailure(openssl_failure("SSL_dane_enable"));
            }
            // RFC 7672 section 3.2.2: with DANE-EE(3) the SMTP client ignores names (and dates).
            if (options.smtp_rules) SSL_dane_set_flags(ssl.get(), DANE_FLAG_NO_DANE_EE_NAMECHECKS);
            add_tlsa_records(ssl.get(), options, result);
        }
        handshake(ssl.get(), socket.fd(), options.handshake_timeout);
        collect_chain(ssl.get(), result);
        if (!options.tlsa.empty()) read_dane_outcome(ssl.get(), result);
        result.stage = ProbeStage::done;
        say_goodbye(ssl.get(), options.starttls);
    } catch (const StepFailure& e) {
        result.error = e.what();
    }
    return result;
}

}  // namespace danehook
