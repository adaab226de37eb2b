// End to end with real programs, all on loopback: Pebble as the ACME CA, certbot issuing and
// renewing with danehook as its deploy hook, BIND 9 serving the DNSSEC-signed zone and taking
// the TSIG-signed updates, a validating resolver (the unbound daemon, trust anchor = the zone's key) and
// `openssl s_client -dane_tlsa_*` against `openssl s_server`. DANEHOOK_NOW moves danehook's
// clock past the hold instead of sleeping.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <sstream>
#include <thread>

#include "danehook/command.hpp"
#include "danehook/ldns_handles.hpp"
#include "support/named_server.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace danehook;
using namespace danehook::testing;
using namespace std::chrono_literals;

namespace {

const std::string zone = "dane.test.";
const std::string host = "mail.dane.test";
const std::string owner = "_443._tcp.mail.dane.test";

// A program running in the background in its own process group, output to a log file; killed
// (SIGTERM, then SIGKILL) when the object goes away, also when a check fails.
class BackgroundProcess {
  public:
    BackgroundProcess(std::vector<std::string> argv, fs::path log,
                      std::vector<std::string> environment = {})
        : log_(std::move(log)) {
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::setpgid(0, 0);
            int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            int null = ::open("/dev/null", O_RDONLY);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            if (null >= 0) ::dup2(null, 0);
            for (auto& assignment : environment) ::putenv(assignment.data());
            std::vector<char*> args;
            for (auto& arg : argv) args.push_back(arg.data());
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::setpgid(pid_, pid_);
    }
    ~BackgroundProcess() { stop(); }
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    void stop() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGTERM);
        for (int i = 0; i < 50; ++i) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(100ms);
        }
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    std::string log() const { return read_text(log_); }

  private:
    fs::path log_;
    pid_t pid_ = -1;
};

CommandResult run(const std::vector<std::string>& argv, std::vector<std::string> environment = {},
                  std::chrono::milliseconds timeout = 60s) {
    CommandOptions options;
    options.timeout = timeout;
    options.extra_environment = std::move(environment);
    return run_command(argv, options);
}

bool wait_for_tcp(int port, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto probe = run({"python3", "-c",
                          "import socket,sys; s=socket.socket(); s.settimeout(1); "
                          "sys.exit(s.connect_ex(('127.0.0.1'," +
                              std::to_string(port) + ")))"},
                         {}, 5s);
        if (probe.ok()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

struct Lookup {
    bool secure = false;
    bool bogus = false;
    std::vector<std::string> rdata;  // "3 1 1 HEX"
    std::string why;
};

// The validating resolver a DANE client host runs: Debian's `unbound` daemon on loopback, with
// the zone's key-signing key as trust anchor and a stub zone pointing at the test's named. It
// caches nothing (cache-max-ttl 0), so every lookup sees what named serves at that moment.
class ValidatingResolver {
  public:
    ValidatingResolver(const fs::path& dir, const std::string& stub, const std::string& trust_anchor)
        : port_(free_port()) {
        const fs::path config = dir / "unbound.conf";
        write_text(config,
                   "server:\n"
                   "    interface: 127.0.0.1\n"
                   "    port: " + std::to_string(port_) + "\n"
                   "    do-ip6: no\n"
                   "    do-daemonize: no\n"
                   "    username: \"\"\n"
                   "    chroot: \"\"\n"
                   "    directory: \"" + dir.string() + "\"\n"
                   "    pidfile: \"\"\n"
                   "    use-syslog: no\n"
                   "    logfile: \"\"\n"
                   "    verbosity: 1\n"
                   "    val-log-level: 2\n"
                   "    num-threads: 1\n"
                   "    so-reuseport: no\n"
                   "    access-control: 127.0.0.0/8 allow\n"
                   "    do-not-query-localhost: no\n"
                   // Unbound answers the RFC 6761 name "test." itself unless told not to.
                   "    local-zone: \"test.\" nodefault\n"
                   "    module-config: \"validator iterator\"\n"
                   "    trust-anchor: \"" + trust_anchor + "\"\n"
                   "    cache-max-ttl: 0\n"
                   "    cache-max-negative-ttl: 0\n"
                   "stub-zone:\n"
                   "    name: \"" + zone + "\"\n"
                   "    stub-addr: " + stub + "\n");
        auto checked = run({"unbound-checkconf", config.string()});
        REQUIRE_MESSAGE(checked.ok(), (checked.describe() + "\n" + checked.output + checked.errors));
        daemon_ = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"unbound", "-d", "-c", config.string()}, dir / "unbound.log");
    }

    // A TLSA query with the DO bit, as a DANE client's stub resolver sends it; `secure` is the
    // AD bit of the answer (RFC 6698 section 4.1, RFC 7672 section 2.2: trust AD from a local
    // validating resolver), `bogus` a SERVFAIL.
    Lookup tlsa(const std::string& name) const {
        for (int attempt = 0;; ++attempt) {
            auto lookup = query(name);
            // The daemon may still be starting; a few tries before a missing answer counts.
            if (lookup.why != "no answer" || attempt >= 50) return lookup;
            std::this_thread::sleep_for(100ms);
        }
    }

    std::string log() const { return daemon_->log(); }

  private:
    Lookup query(const std::string& name) const {
        Lookup lookup;
        LdnsResolver resolver(ldns_resolver_new());
        REQUIRE(resolver);
        LdnsRdf address(ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "127.0.0.1"));
        REQUIRE(ldns_resolver_push_nameserver(resolver.get(), address.get()) == LDNS_STATUS_OK);
        ldns_resolver_set_port(resolver.get(), static_cast<std::uint16_t>(port_));
        ldns_resolver_set_recursive(resolver.get(), true);
        ldns_resolver_set_dnssec(resolver.get(), true);
        ldns_resolver_set_retry(resolver.get(), 1);
        ldns_resolver_set_timeout(resolver.get(), timeval{5, 0});
        LdnsRdf owner(ldns_dname_new_frm_str(name.c_str()));
        REQUIRE(owner);
        LdnsPkt answer(ldns_resolver_query(resolver.get(), owner.get(), LDNS_RR_TYPE_TLSA, LDNS_RR_CLASS_IN, LDNS_RD));
        if (!answer) {
            lookup.why = "no answer";
            return lookup;
        }
        auto rcode = ldns_pkt_get_rcode(answer.get());
        lookup.secure = rcode == LDNS_RCODE_NOERROR && ldns_pkt_ad(answer.get());
        lookup.bogus = rcode == LDNS_RCODE_SERVFAIL;
        lookup.why = "rcode " + std::to_string(rcode) + (ldns_pkt_ad(answer.get()) ? ", AD" : ", no AD");
        LdnsRrList records(ldns_pkt_rr_list_by_type(answer.get(), LDNS_RR_TYPE_TLSA, LDNS_SECTION_ANSWER));
        for (std::size_t i = 0; records && i < ldns_rr_list_rr_count(records.get()); ++i) {
            const ldns_rr* rr = ldns_rr_list_rr(records.get(), i);
            if (ldns_rr_rd_count(rr) != 4) continue;
            std::ostringstream text;
            for (std::size_t field = 0; field < 3; ++field) {
                text << int(ldns_rdf2native_int8(ldns_rr_rdf(rr, field))) << ' ';
            }
            const ldns_rdf* data = ldns_rr_rdf(rr, 3);
            static const char* hex = "0123456789ABCDEF";
            for (std::size_t j = 0; j < ldns_rdf_size(data); ++j) {
                auto byte = ldns_rdf_data(data)[j];
                text << hex[byte >> 4] << hex[byte & 15];
            }
            lookup.rdata.push_back(text.str());
        }
        std::sort(lookup.rdata.begin(), lookup.rdata.end());
        return lookup;
    }

    int port_;
    std::unique_ptr<BackgroundProcess> daemon_;
};

// `openssl s_server` with the certificate, and `openssl s_client` authenticating it with DANE
// from the validated records only. True when the client's verification succeeded.
bool dane_client_validates(const fs::path& dir, const fs::path& cert, const fs::path& key,
                           const fs::path& chain, const std::vector<std::string>& tlsa,
                           std::string& transcript) {
    int port = free_port();
    BackgroundProcess server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                              "-cert", cert.string(), "-key", key.string(), "-cert_chain",
                              chain.string(), "-naccept", "1", "-quiet"},
                             dir / ("s_server-" + std::to_string(port) + ".log"));
    // Wait for the listener with the client itself; the first successful connect is the check.
    std::vector<std::string> argv{"openssl",
                                  "s_client",
                                  "-connect",
                                  "127.0.0.1:" + std::to_string(port),
                                  "-servername",
                                  host,
                                  "-dane_tlsa_domain",
                                  host,
                                  "-verify_return_error",
                                  "-brief"};
    for (const auto& record : tlsa) {
        argv.push_back("-dane_tlsa_rrdata");
        argv.push_back(record);
    }
    for (int attempt = 0; attempt < 50; ++attempt) {
        CommandOptions options;
        options.timeout = 10s;
        auto result = run_command(argv, options);
        transcript = result.output + result.errors;
        if (transcript.find("connect:errno") != std::string::npos ||
            transcript.find("Connection refused") != std::string::npos) {
            std::this_thread::sleep_for(100ms);
            continue;
        }
        return result.ok() && transcript.find("Verification: OK") != std::string::npos;
    }
    return false;
}

std::string make_self_signed(const fs::path& dir) {
    auto result =
        run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "2", "-keyout",
             (dir / "pebble-key.pem").string(), "-out", (dir / "pebble-cert.pem").string()});
    return result.ok() ? "" : result.describe();
}

}  // namespace

TEST_CASE(
    "certbot + Pebble + BIND + DANE client: issuance, renewal with a new key, hold, withdrawal") {
    for (const char* program : {"pebble", "certbot", "openssl", "python3", "unbound", "unbound-checkconf"}) {
        if (!have_program(program)) {
            MESSAGE(
                (std::string(program) + " is not installed (scripts/install-deps.sh): skipped"));
            return;
        }
    }
    if (!NamedServer::available()) {
        MESSAGE("named is not installed (scripts/install-deps.sh): skipped");
        return;
    }
    TempDir dir;

    // The DNSSEC-signed zone on BIND, accepting TSIG-signed TLSA updates.
    TsigKeySpec key = make_tsig_key("danehook-key", "hmac-sha256");
    NamedOptions named_options;
    auto signed_zone =
        NamedZone::primary(zone,
                           "$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\n"
                           "ns1 IN A 127.0.0.1\nmail IN A 127.0.0.1\n");
    signed_zone.dnssec_policy = "default";
    signed_zone.update_policy = "grant danehook-key zonesub TLSA;";
    named_options.zones.push_back(signed_zone);
    named_options.keys.push_back(key);
    NamedServer named(named_options);
    REQUIRE(named.wait_until_signed(zone, 30s));
    std::string trust_anchor;
    for (const auto& line : named.dig(zone, "DNSKEY")) {
        if (line.find("DNSKEY\t257 ") != std::string::npos ||
            line.find("DNSKEY 257 ") != std::string::npos) {
            trust_anchor = line;
        }
    }
    REQUIRE_MESSAGE(!trust_anchor.empty(), ("no key-signing key served for " + zone));
    const std::string stub = "127.0.0.1@" + std::to_string(named.port());

    // Pebble: every authorization is valid at once (no challenge server needed on its side).
    REQUIRE(make_self_signed(dir.path()) == "");
    int acme_port = free_port();
    int management_port = free_port();
    write_text(
        dir / "pebble.json",
        "{\"pebble\": {\"listenAddress\": \"127.0.0.1:" + std::to_string(acme_port) +
            "\", \"managementListenAddress\": \"127.0.0.1:" + std::to_string(management_port) +
            "\", \"certificate\": \"" + (dir / "pebble-cert.pem").string() +
            "\", \"privateKey\": \"" + (dir / "pebble-key.pem").string() +
            "\", \"httpPort\": 5002, \"tlsPort\": 5001, \"ocspResponderURL\": \"\", "
            "\"externalAccountBindingRequired\": false}}\n");
    BackgroundProcess pebble({"pebble", "-config", (dir / "pebble.json").string()},
                             dir / "pebble.log",
                             {"PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1",
                              "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=100"});
    REQUIRE_MESSAGE(wait_for_tcp(acme_port, 20s), pebble.log());

    // danehook's configuration: RFC 2136 to the test's named, the lineage certbot will write.
    const fs::path certbot_dir = dir / "certbot";
    const fs::path lineage = certbot_dir / "config/live" / host;
    write_text(dir / "tsig.key", key.statement());
    fs::permissions(dir / "tsig.key", fs::perms::owner_read | fs::perms::owner_write);
    write_text(dir / "danehook.yaml", "state_dir: " + (dir / "state").string() +
                                          "\nproviders:\n  primary:\n    type: rfc2136\n"
                                          "    server: 127.0.0.1\n    port: " +
                                          std::to_string(named.port()) +
                                          "\n    tsig_key_file: " + (dir / "tsig.key").string() +
                                          "\n    nameservers: [\"" + named.endpoint() +
                                          "\"]\n"
                                          "certificates:\n  - name: mail\n    lineage: " +
                                          lineage.string() + "\n    zone: " + zone +
                                          "\n    ttl: 60\n    hold_margin: 10\n"
                                          "    records: [\"3 1 1\"]\n"
                                          "    services:\n      - { host: " +
                                          host + ", port: 443 }\n");
    fs::permissions(dir / "danehook.yaml", fs::perms::owner_read | fs::perms::owner_write);
    const std::string config_env = "DANEHOOK_CONFIG=" + (dir / "danehook.yaml").string();
    const std::string hook = danehook_binary().string() + " deploy";

    auto certbot = [&](std::vector<std::string> arguments) {
        std::vector<std::string> argv{"certbot",
                                      "--non-interactive",
                                      "--config-dir",
                                      (certbot_dir / "config").string(),
                                      "--work-dir",
                                      (certbot_dir / "work").string(),
                                      "--logs-dir",
                                      (certbot_dir / "logs").string(),
                                      "--no-verify-ssl",
                                      "--server",
                                      "https://127.0.0.1:" + std::to_string(acme_port) + "/dir"};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        return run(argv, {config_env}, 90s);
    };
    auto danehook = [&](std::vector<std::string> arguments,
                        std::vector<std::string> environment = {}) {
        std::vector<std::string> argv{danehook_binary().string()};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        environment.push_back(config_env);
        return run(argv, environment);
    };
    ValidatingResolver resolver(dir.path(), stub, trust_anchor);
    auto lookup = [&] { return resolver.tlsa(owner); };

    // 1. Issuance: certbot's deploy hook publishes the record; the client validates.
    const std::string challenge_port = std::to_string(free_port());
    auto issued =
        certbot({"certonly", "--standalone", "--http-01-address", "127.0.0.1", "--http-01-port",
                 challenge_port, "--agree-tos", "--register-unsafely-without-email", "--key-type",
                 "ecdsa", "--no-reuse-key", "-d", host, "--deploy-hook", hook});
    REQUIRE_MESSAGE(issued.ok(),
                    (issued.describe() + "\n" + issued.output + issued.errors + pebble.log()));
    const fs::path first_cert = fs::canonical(lineage / "cert.pem");
    const fs::path first_key = fs::canonical(lineage / "privkey.pem");
    const fs::path first_chain = fs::canonical(lineage / "chain.pem");

    // certbot logs a failed deploy hook but still exits 0: the hook's own report tells.
    CHECK_MESSAGE(issued.errors.find("publish " + owner) != std::string::npos, issued.errors);
    auto after_issue = lookup();
    CHECK_MESSAGE(after_issue.secure, (after_issue.why + "; named serves: " + [&] {
                      std::string all;
                      for (const auto& line : named.dig(owner + ".", "TLSA")) all += line + "\n";
                      return all;
                  }()));
    REQUIRE(after_issue.rdata.size() == 1);
    std::string transcript;
    CHECK_MESSAGE(dane_client_validates(dir.path(), first_cert, first_key, first_chain,
                                        after_issue.rdata, transcript),
                  transcript);

    // 2. Renewal with a new key: both records served; the old certificate still validates.
    auto renewed =
        certbot({"renew", "--no-random-sleep-on-renew", "--force-renewal", "--cert-name", host,
                 "--http-01-address", "127.0.0.1", "--http-01-port", challenge_port});
    REQUIRE_MESSAGE(renewed.ok(), (renewed.describe() + "\n" + renewed.output + renewed.errors));
    const fs::path second_cert = fs::canonical(lineage / "cert.pem");
    const fs::path second_key = fs::canonical(lineage / "privkey.pem");
    const fs::path second_chain = fs::canonical(lineage / "chain.pem");
    REQUIRE(second_key != first_key);
    REQUIRE(read_text(second_key) != read_text(first_key));

    auto after_renewal = lookup();
    CHECK_MESSAGE(after_renewal.secure, after_renewal.why);
    CHECK(after_renewal.rdata.size() == 2);
    CHECK_MESSAGE(dane_client_validates(dir.path(), first_cert, first_key, first_chain,
                                        after_renewal.rdata, transcript),
                  transcript);
    CHECK_MESSAGE(dane_client_validates(dir.path(), second_cert, second_key, second_chain,
                                        after_renewal.rdata, transcript),
                  transcript);

    // 3. The timer before the hold is over withdraws nothing.
    auto early = danehook({"run"});
    CHECK_MESSAGE(early.ok(), (early.describe() + early.errors));
    CHECK(early.output.find("withdrew") == std::string::npos);
    CHECK(lookup().rdata == after_renewal.rdata);

    // 4. Past the hold (2 x TTL + margin): only the new record remains; the new certificate
    //    validates, the old one no longer does.
    const std::string later = "DANEHOOK_NOW=" + std::to_string(std::time(nullptr) + 3600);
    auto withdrawal = danehook({"run"}, {later});
    CHECK_MESSAGE(withdrawal.ok(), (withdrawal.describe() + withdrawal.errors));
    CHECK(withdrawal.output.find("withdrew") != std::string::npos);
    // The update is applied when named answers it; its inline signing follows a moment later.
    auto after_hold = lookup();
    for (int i = 0; i < 50 && after_hold.rdata.size() != 1; ++i) {
        std::this_thread::sleep_for(100ms);
        after_hold = lookup();
    }
    CHECK_MESSAGE(after_hold.secure, after_hold.why);
    REQUIRE(after_hold.rdata.size() == 1);
    CHECK(std::find(after_renewal.rdata.begin(), after_renewal.rdata.end(), after_hold.rdata[0]) !=
          after_renewal.rdata.end());
    CHECK(after_hold.rdata != after_issue.rdata);
    CHECK_MESSAGE(dane_client_validates(dir.path(), second_cert, second_key, second_chain,
                                        after_hold.rdata, transcript),
                  transcript);
    CHECK_FALSE(dane_client_validates(dir.path(), first_cert, first_key, first_chain,
                                      after_hold.rdata, transcript));

    auto status = danehook({"status"}, {later});
    CHECK(status.ok());
    MESSAGE("danehook status after the hold:\n" << status.output);
}
