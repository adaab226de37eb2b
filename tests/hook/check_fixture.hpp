// Live components for the check and interlock tests: an `openssl s_server`, an in-process
// STARTTLS responder (SMTP, IMAP, POP3, and misbehaving variants), certificates on disk, and a
// DNSSEC trust anchor read from a test named's keys.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "danehook/tlsa.hpp"
#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

namespace danehook::testing {

// A leaf for `host` under a CA, on disk as cert.pem/chain.pem/fullchain.pem/privkey.pem.
struct ServiceCertificate {
    ServiceCertificate(const TestCa& ca, const std::string& host, const std::filesystem::path& dir,
                       long serial = 1);
    std::filesystem::path dir;
    EvpPkeyPtr key;
    X509Ptr leaf;
    std::string ee_record() const;    // "3 1 1 HEX" of the leaf key
    std::string leaf_sha256() const;  // hex of the leaf DER
};
std::string ta_record(const TestCa& ca);  // "2 1 1 HEX" of the CA key

// `openssl s_server -www` on 127.0.0.1, optionally a second certificate for one SNI name.
class SServer {
  public:
    SServer(const ServiceCertificate& certificate, const std::string& sni_name = "",
            const ServiceCertificate* sni_certificate = nullptr);
    ~SServer();
    SServer(const SServer&) = delete;
    SServer& operator=(const SServer&) = delete;
    int port() const { return port_; }
    void stop();

  private:
    int port_ = 0;
    pid_t pid_ = -1;
};

enum class ResponderMode { smtp, imap, pop3, smtp_without_starttls, smtp_injection, silent };

// Speaks the plain-text part of the protocol, then TLS with the certificate, one connection at
// a time, on 127.0.0.1 until destroyed.
class StartTlsResponder {
  public:
    StartTlsResponder(ResponderMode mode, const ServiceCertificate& certificate, const TestCa& ca);
    ~StartTlsResponder();
    StartTlsResponder(const StartTlsResponder&) = delete;
    StartTlsResponder& operator=(const StartTlsResponder&) = delete;
    int port() const { return port_; }
    int handshakes() const { return handshakes_; }

  private:
    void serve();
    void converse(int fd);
    ResponderMode mode_;
    std::string leaf_pem_, chain_pem_, key_pem_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> handshakes_{0};
    std::thread thread_;
};

// A real Postfix smtpd with STARTTLS on 127.0.0.1 and an unprivileged port, configured in a
// private directory (its own queue and data directories). Postfix's master must start as root.
class PostfixServer {
  public:
    // True when Postfix is installed, the `postfix` user exists and we are root.
    static bool available();
    PostfixServer(const ServiceCertificate& certificate, const std::string& hostname);
    ~PostfixServer();
    PostfixServer(const PostfixServer&) = delete;
    PostfixServer& operator=(const PostfixServer&) = delete;
    int port() const { return port_; }
    std::string log() const;
    void stop();

  private:
    TempDir dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

// The zone's key-signing DNSKEY lines from the .key files in `key_dir` (a trust anchor file).
std::string dnskey_anchor(const std::filesystem::path& key_dir, const std::string& zone);

// `body` (zone-file lines after $ORIGIN/$TTL) signed with dnssec-signzone under a fresh KSK in
// `dir`, then with the first occurrence of `tamper_from` replaced by `tamper_to` so that a
// signature no longer verifies. Returns the signed zone text; `anchor` gets the KSK line.
std::string tampered_signed_zone(const std::filesystem::path& dir, const std::string& zone,
                                 const std::string& body, const std::string& tamper_from,
                                 const std::string& tamper_to, std::string& anchor);

// Waits until something accepts TCP connections on 127.0.0.1:port.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

}  // namespace danehook::testing
