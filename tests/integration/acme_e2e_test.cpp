// End to end with real programs, all on loopback: Pebble as the ACME CA, certbot issuing and
// renewing with danehook as its deploy hook, BIND 9 serving the DNSSEC-signed zone and taking
// the TSIG-signed updates, a validating resolver (libunbound, trust anchor = the zone's key) and
// `openssl s_client -dane_tlsa_*` against `openssl s_server`. DANEHOOK_NOW moves danehook's
// clock past the hold instead of sleeping.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <sstream>
#include <thread>

#include "danehook/command.hpp"
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

// A DNSSEC-validated TLSA lookup through libunbound: stub to the test's named, trust anchor =
// the zone's key-signing key. A fresh context each time, so nothing is cached between steps.
Lookup validated_tlsa(const std::string& name, const std::string& server,
                      const std::string& trust_anchor) {
    Lookup lookup;
    std::unique_ptr<ub_ctx, decltype(&ub_ctx_delete)> ctx(ub_ctx_create(), ub_ctx_delete);
    REQUIRE(ctx);
    REQUIRE(ub_ctx_set_option(ctx.get(), "do-not-query-localhost:", "no") == 0);
    // Unbound answers the RFC 6761 name "test." itself (NXDOMAIN) unless told not to.
    REQUIRE(ub_ctx_set_option(ctx.get(), "local-zone:", "test. nodefault") == 0);
    REQUIRE(ub_ctx_set_stub(ctx.get(), zone.c_str(), server.c_str(), 0) == 0);
    REQUIRE(ub_ctx_add_ta(ctx.get(), trust_anchor.c_str()) == 0);
    REQUIRE(ub_ctx_zone_add(ctx.get(), zone.c_str(), "transparent") == 0);  // finalizes the context
    ub_result* raw = nullptr;
    int rc = ub_resolve(ctx.get(), name.c_str(), 52 /* TLSA */, 1 /* IN */, &raw);
    REQUIRE_MESSAGE(rc == 0, ub_strerror(rc));
    std::unique_ptr<ub_result, decltype(&ub_resolve_free)> result(raw, ub_resolve_free);
    lookup.secure = result->secure != 0;
    lookup.bogus = result->bogus != 0;
    lookup.why = "rcode " + std::to_string(result->rcode) +
                 (result->havedata ? ", data" : ", no data") +
                 (result->why_bogus ? std::string(", ") + result->why_bogus : "");
    for (int i = 0; result->havedata && result->data[i]; ++i) {
        const auto* bytes = reinterpret_cast<const unsigned char*>(result->data[i]);
        int length = result->len[i];
        if (length < 3) continue;
        std::ostringstream text;
        text << int(bytes[0]) << ' ' << int(bytes[1]) << ' ' << int(bytes[2]) << ' ';
        static const char* hex = "0123456789ABCDEF";
        for (int j = 3; j < length; ++j) text << hex[bytes[j] >> 4] << hex[bytes[j] & 15];
        lookup.rdata.push_back(text.str());
    }
    std::sort(lookup.rdata.begin(), lookup.rdata.end());
    return lookup;
}

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
    for (const char* program : {"pebble", "certbot", "openssl", "python3"}) {
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
    auto lookup = [&] { return validated_tlsa(owner, stub, trust_anchor); };

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
