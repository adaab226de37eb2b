// The rfc2136 provider against Knot DNS (Debian's knot): a zone with automatic DNSSEC signing
// and an ACL that lets one TSIG key update TLSA records only.
#include <doctest/doctest.h>
#include <signal.h>
#include <stdbool.h>  // before ldns (see providers/rfc2136/tsig.hpp)
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "danehook/dns_query.hpp"
#include "danehook/error.hpp"
#include "rfc2136_test_support.hpp"
#include "support/named_server.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone = "example.test.";
const std::string owner = "_25._tcp.mail.example.test.";
const std::string foreign = "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";

// knotd in the foreground with its own configuration, storage and port; killed on destruction.
class KnotServer {
public:
    KnotServer(const TsigKeySpec& key, const TsigKeySpec& other_key) : port_(free_port()) {
        write_text(dir_ / "example.test.zone",
                   "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\n"
                   "ns1 A 127.0.0.1\nmail A 127.0.0.25\n_25._tcp.mail TLSA " + foreign + "\n");
        write_text(dir_ / "knot.conf",
                   "server:\n  rundir: " + dir_.path().string() + "\n  listen: 127.0.0.1@" + std::to_string(port_) + "\n"
                   "log:\n  - target: stderr\n    any: info\n"
                   "database:\n  storage: " + dir_.path().string() + "\n"
                   "key:\n"
                   "  - id: " + key.name + "\n    algorithm: " + key.algorithm + "\n    secret: " + key.secret + "\n"
                   "  - id: " + other_key.name + "\n    algorithm: " + other_key.algorithm + "\n    secret: " + other_key.secret + "\n"
                   "acl:\n  - id: tlsa_update\n    key: " + key.name + "\n    action: update\n    update-type: TLSA\n"
                   "template:\n  - id: default\n    storage: " + dir_.path().string() + "\n    file: \"%s.zone\"\n"
                   "    zonefile-sync: -1\n    zonefile-load: difference-no-serial\n    journal-content: all\n"
                   "zone:\n  - domain: example.test\n    dnssec-signing: on\n    acl: tlsa_update\n");
        pid_t parent = ::getpid();
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(127);
            auto log = (dir_ / "knotd.log").string();
            std::freopen(log.c_str(), "w", stderr);
            std::freopen("/dev/null", "w", stdout);
            ::execl("/usr/sbin/knotd", "knotd", "-c", (dir_ / "knot.conf").c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~KnotServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            for (int i = 0; i < 50 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    KnotServer(const KnotServer&) = delete;
    KnotServer& operator=(const KnotServer&) = delete;

    static bool available() { return ::access("/usr/sbin/knotd", X_OK) == 0; }
    int port() const { return port_; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string log() const { return read_text(dir_ / "knotd.log"); }

    // The TLSA RRset Knot serves at `name`, and whether an RRSIG covers it.
    ServerAnswer tlsa(const std::string& name) const {
        return query_authoritative(DnsServer::parse(endpoint()), zone, name);
    }
    bool signed_tlsa(const std::string& name) const {
        auto result = run_command({"dig", "@127.0.0.1", "-p", std::to_string(port_), "+dnssec", "+tcp", "+norec",
                                   name, "TLSA"});
        return result.output.find("RRSIG\tTLSA") != std::string::npos;
    }
    bool wait_until_signed() const {
        for (int i = 0; i < 100; ++i) {
            if (signed_tlsa(owner)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }

private:
    TempDir dir_;
    int port_;
    pid_t pid_ = -1;
};

std::vector<std::string> rrset(const ServerAnswer& answer) {
    std::vector<std::string> result;
    for (const auto& rdata : answer.rrset) result.push_back(rdata.presentation());
    std::sort(result.begin(), result.end());
    return result;
}

}  // namespace

TEST_CASE("rfc2136 against Knot DNS with automatic signing and a TLSA-only ACL") {
    if (!KnotServer::available() || !have_program("dig")) {
        MESSAGE("knotd or dig not installed: skipped");
        return;
    }
    auto key = make_tsig_key("danehook-key", "hmac-sha256");
    auto stranger = make_tsig_key("stranger-key", "hmac-sha256");
    KnotServer knot(key, stranger);
    REQUIRE_MESSAGE(knot.wait_until_signed(), knot.log());

    TempDir dir;
    write_text(dir / "tsig.key", key.statement());
    write_text(dir / "stranger.key", stranger.statement());
    ::chmod((dir / "tsig.key").c_str(), 0600);
    ::chmod((dir / "stranger.key").c_str(), 0600);
    auto yaml = [&](const std::string& key_file) {
        return "type: rfc2136\nserver: 127.0.0.1\nport: " + std::to_string(knot.port()) + "\ntsig_key_file: " +
               (dir / key_file).string() + "\nnameservers: [\"" + knot.endpoint() + "\"]\ntimeout: 5\nretries: 0\n";
    };
    auto provider = provider_from_yaml(dir, yaml("tsig.key"));

    CHECK(provider->zone_for(owner, "") == zone);
    auto ours = sample_record(owner, 11);
    ChangeSet add{zone, {ours}, {}};
    provider->apply(add);
    auto served = rrset(knot.tlsa(owner));
    CHECK(served == std::vector<std::string>{ours.rdata.presentation() < foreign ? ours.rdata.presentation() : foreign,
                                             ours.rdata.presentation() < foreign ? foreign : ours.rdata.presentation()});
    CHECK(knot.signed_tlsa(owner));
    auto answers = provider->observe(zone, owner);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].answered);
    CHECK(std::find(answers[0].rrset.begin(), answers[0].rrset.end(), ours.rdata) != answers[0].rrset.end());

    // Re-adding is a no-op; the exact deletion leaves the foreign record.
    provider->apply(add);
    CHECK(knot.tlsa(owner).rrset.size() == 2);
    PublishedRecord published{ours, ""};
    provider->apply(ChangeSet{zone, {}, {published}});
    CHECK(rrset(knot.tlsa(owner)) == std::vector<std::string>{foreign});

    // A key the ACL does not allow is refused, and nothing changes.
    auto refused = provider_from_yaml(dir, yaml("stranger.key"));
    try {
        refused->apply(add);
        FAIL("an update with a key outside the ACL succeeded");
    } catch (const ProviderError& e) {
        MESSAGE("Knot refuses with: " << std::string(e.what()));
        CHECK(e.failure() != ProviderFailure::transient);
    }
    CHECK(rrset(knot.tlsa(owner)) == std::vector<std::string>{foreign});
}
