// The whole certbot-style rollover through the danehook binary against real BIND 9: a signed
// primary that takes TSIG-signed updates, and a secondary fed by NOTIFY/IXFR. danehook's own
// clock is moved with DANEHOOK_NOW, so the test never sleeps through a hold.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>

#include "danehook/certificate.hpp"
#include "support/named_server.hpp"
#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone = "example.test.";
const std::string foreign = "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";

struct NamedLab {
    TempDir dir;
    TsigKeySpec key = make_tsig_key("danehook-key", "hmac-sha256");
    std::unique_ptr<NamedServer> primary;
    std::unique_ptr<NamedServer> secondary;
    TestCa ca = make_ca("Rollover Test CA");
    EvpPkeyPtr leaf_key = generate_key(KeyKind::p256);
    long serial = 1;

    NamedLab() {
        int secondary_port = free_port();
        NamedOptions options;
        options.keys = {key};
        auto primary_zone = NamedZone::primary(zone, "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                                                     "@ IN NS ns1\nns1 IN A 127.0.0.1\nmail IN A 127.0.0.25\n"
                                                     "_25._tcp.mail IN TLSA " + foreign + "\n");
        primary_zone.dnssec_policy = "default";
        primary_zone.update_policy = "grant danehook-key zonesub TLSA;";
        primary_zone.also_notify = {"127.0.0.1 port " + std::to_string(secondary_port)};
        options.zones.push_back(primary_zone);
        primary = std::make_unique<NamedServer>(options);
        REQUIRE(primary->wait_until_signed(zone, std::chrono::seconds(20)));
        NamedOptions secondary_options;
        secondary_options.port = secondary_port;
        secondary_options.zones.push_back(NamedZone::secondary_of(zone, {primary->primaries_entry()}));
        secondary = std::make_unique<NamedServer>(secondary_options);

        write_text(dir / "tsig.key", key.statement());
        ::chmod((dir / "tsig.key").c_str(), 0600);
        write_text(dir / "danehook.yaml",
                   "state_dir: " + (dir / "state").string() + "\n"
                   "providers:\n"
                   "  primary:\n"
                   "    type: rfc2136\n"
                   "    server: 127.0.0.1\n"
                   "    port: " + std::to_string(primary->port()) + "\n"
                   "    tsig_key_file: " + (dir / "tsig.key").string() + "\n"
                   "    nameservers: [\"" + primary->endpoint() + "\", \"" + secondary->endpoint() + "\"]\n"
                   "    timeout: 5\n"
                   "certificates:\n"
                   "  - name: mail\n"
                   "    lineage: " + lineage().string() + "\n"
                   "    zone: example.test\n"
                   "    ttl: 300\n"
                   "    hold_margin: 60\n"
                   "    records: [\"3 1 1\", \"2 1 1\"]\n"
                   "    services:\n"
                   "      - { host: mail.example.test, port: 25 }\n"
                   "      - { host: mail.example.test, port: 465 }\n");
        issue();
    }
    std::filesystem::path lineage() const { return dir / "live/mail.example.test"; }
    void issue() {
        auto leaf = make_leaf(ca, leaf_key.get(), "mail.example.test", -1, 90, serial++);
        write_lineage(lineage(), leaf.get(), ca, leaf_key.get());
    }
    std::string record_of(EVP_PKEY* key) const { return "3 1 1 " + to_hex(key_association(key, MatchingType::sha256)); }

    CommandResult danehook(const std::vector<std::string>& args, long now, bool certbot = false) const {
        std::vector<std::string> full{"--config", (dir / "danehook.yaml").string()};
        full.insert(full.end(), args.begin(), args.end());
        std::vector<std::string> env{"DANEHOOK_NOW=" + std::to_string(now)};
        if (certbot) env.push_back("RENEWED_LINEAGE=" + lineage().string());
        return run_danehook(full, env);
    }

    // "U S M HEX" records `server` serves at the SMTP owner.
    static std::vector<std::string> served(const NamedServer& server, const std::string& owner = "_25._tcp.mail.example.test.") {
        std::vector<std::string> result;
        for (const auto& line : server.dig(owner, "TLSA")) {
            auto at = line.find("TLSA\t");
            if (at == std::string::npos) continue;
            std::string rdata = line.substr(at + 5);
            rdata.erase(std::remove(rdata.begin() + 6, rdata.end(), ' '), rdata.end());
            std::transform(rdata.begin(), rdata.end(), rdata.begin(), ::toupper);
            result.push_back(rdata);
        }
        std::sort(result.begin(), result.end());
        return result;
    }
    std::vector<std::string> expected(std::vector<std::string> records) const {
        records.push_back(foreign);
        std::sort(records.begin(), records.end());
        return records;
    }
    // Runs `danehook run` at `now` until both servers serve `records` and danehook confirmed them
    // (inline signing and IXFR take a moment in real time).
    bool run_until_confirmed(long now) const {
        for (int attempt = 0; attempt < 100; ++attempt) {
            danehook({"run"}, now);
            auto status = danehook({"status"}, now);
            if (status.output.find("awaiting confirmation") == std::string::npos &&
                status.output.find("pending publication") == std::string::npos) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return false;
    }
};

}  // namespace

TEST_CASE("certbot-style rollover against a signed BIND primary and its secondary") {
    if (!NamedServer::available()) {
        MESSAGE("named/rndc not installed: skipped");
        return;
    }
    NamedLab lab;
    long t0 = static_cast<long>(std::time(nullptr));
    auto issuer = "2 1 1 " + to_hex(key_association(lab.ca.key.get(), MatchingType::sha256));

    auto first = lab.danehook({"deploy"}, t0, true);
    REQUIRE_MESSAGE(first.exit_status == 0, first.errors);
    auto old_record = lab.record_of(lab.leaf_key.get());
    REQUIRE(lab.run_until_confirmed(t0));
    CHECK(NamedLab::served(*lab.primary) == lab.expected({old_record, issuer}));
    CHECK(NamedLab::served(*lab.secondary) == lab.expected({old_record, issuer}));

    // Renewal with a new key: old and new are served side by side.
    lab.leaf_key = generate_key(KeyKind::p256);
    lab.issue();
    long t1 = t0 + 60;
    auto renewal = lab.danehook({"deploy"}, t1, true);
    REQUIRE_MESSAGE(renewal.exit_status == 0, renewal.errors);
    auto new_record = lab.record_of(lab.leaf_key.get());
    REQUIRE(lab.run_until_confirmed(t1));
    CHECK(NamedLab::served(*lab.primary) == lab.expected({old_record, new_record, issuer}));
    CHECK(NamedLab::served(*lab.secondary) == lab.expected({old_record, new_record, issuer}));

    // Before the hold: nothing is withdrawn.
    long hold = 2 * 300 + 60;
    auto early = lab.danehook({"run"}, t1 + hold - 1);
    CHECK(early.exit_status == 0);
    CHECK(early.output.find("withdrew") == std::string::npos);
    CHECK(NamedLab::served(*lab.primary) == lab.expected({old_record, new_record, issuer}));

    // After it: only the old key's records go; the foreign record and the issuer's stay.
    auto due = lab.danehook({"run"}, t1 + hold + 600);
    CHECK_MESSAGE(due.exit_status == 0, due.errors);
    CHECK(due.output.find("withdrew _25._tcp.mail.example.test. TLSA " + old_record) != std::string::npos);
    CHECK(NamedLab::served(*lab.primary) == lab.expected({new_record, issuer}));
    CHECK(NamedLab::served(*lab.primary, "_465._tcp.mail.example.test.") ==
          std::vector<std::string>{issuer < new_record ? issuer : new_record, issuer < new_record ? new_record : issuer});
    bool secondary_caught_up = false;
    for (int i = 0; i < 100 && !secondary_caught_up; ++i) {
        secondary_caught_up = NamedLab::served(*lab.secondary) == lab.expected({new_record, issuer});
        if (!secondary_caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(secondary_caught_up);
    // The records are signed.
    bool signed_tlsa = false;
    for (const auto& line : lab.primary->dig("_25._tcp.mail.example.test.", "TLSA", true)) {
        signed_tlsa |= line.find("RRSIG\tTLSA") != std::string::npos;
    }
    CHECK(signed_tlsa);
}
