// Crash injection against a real BIND 9 named: the full rollover through the rfc2136 provider
// with TSIG, danehook SIGKILLed at the Nth crash point (DANEHOOK_CRASH_AT) of one step, then the
// invariants checked and the remaining steps rerun. Scenarios: first issuance and renewal with a
// new key or the same key, a 2 1 1 issuer change, and gated reloads (install + reload_command),
// with one or three services.
//
// Invariants after every kill:
//  - the journal loads (`danehook status --json` exits 0);
//  - every TLSA record in DNS at the entry's owners is in the journal (nothing published and
//    forgotten: it is either still desired or scheduled for withdrawal);
//  - while a certificate is in service, its records are in DNS;
//  - the foreign TLSA records in the zone (another owner, and one at the same owner) are intact;
//  - after the rerun the DNS holds exactly the records of the final certificate (plus foreign).
//
// Each iteration uses its own host name, so one named serves every iteration independently.
// The clock is fixed per iteration close to the real time with ttl 60 and hold_margin 0: TSIG
// signs with danehook's clock and BIND refuses signatures more than 300 s off.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <set>
#include <sstream>

#include "danehook/certificate.hpp"
#include "danehook/dns_name.hpp"
#include "danehook/tlsa.hpp"
#include "support/named_server.hpp"
#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

constexpr const char* zone = "example.net.";
constexpr const char* foreign_owner = "_25._tcp.foreign.example.net.";
const std::string foreign_rdata = "3 1 1 " + std::string(64, 'A');
const std::string same_owner_foreign_rdata = "3 0 1 " + std::string(64, 'B');
constexpr long ttl = 60;
constexpr long hold = 2 * ttl;  // hold_margin 0

int crash_stride() {
    const char* text = std::getenv("DANEHOOK_CRASH_STRIDE");
    int stride = text ? std::atoi(text) : 3;
    return stride > 0 ? stride : 1;
}

std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

// "owner U S M HEX" from a presentation line "owner ttl IN TLSA U S M HEX [HEX...]".
std::string normalise_rr(const std::string& line) {
    std::istringstream fields(line);
    std::string owner, rr_ttl, klass, type, u, s, m, part, hex;
    fields >> owner >> rr_ttl >> klass >> type >> u >> s >> m;
    while (fields >> part) hex += part;
    return canonical_name(owner) + " " + u + " " + s + " " + m + " " + upper(hex);
}

struct Server {
    TsigKeySpec key = make_tsig_key("danehook-key");
    std::unique_ptr<NamedServer> named;
    TempDir dir;

    Server() {
        NamedOptions options;
        std::string zone_text =
            "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A "
            "127.0.0.1\n" +
            std::string(foreign_owner) + " IN TLSA " + foreign_rdata + "\n";
        auto primary = NamedZone::primary(zone, zone_text);
        primary.update_policy = "grant danehook-key. zonesub TLSA;";
        options.zones.push_back(primary);
        options.keys.push_back(key);
        named = std::make_unique<NamedServer>(options);
        write_text(dir / "danehook.key", key.statement());
        std::filesystem::permissions(dir / "danehook.key", std::filesystem::perms::owner_read |
                                                               std::filesystem::perms::owner_write);
    }
    std::set<std::string> tlsa(const std::string& owner) const {
        std::set<std::string> records;
        for (const auto& line : named->dig(owner, "TLSA")) records.insert(normalise_rr(line));
        return records;
    }
};

struct Scenario {
    const char* name;
    bool new_key;             // the renewal changes the key (else only the certificate)
    bool new_issuer;          // the renewal comes from another CA: the 2 1 1 record changes
    bool gated;               // install + reload_command once the new records are safe
    bool with_issuer_record;  // publish "2 1 1" besides "3 1 1"
    int services;             // ports 25, 465, 587 (owners)
    int renewals = 1;         // deploys after the first, 10 s apart (all within one hold)
};

const std::vector<Scenario> scenarios{
    {"renewal with a new key", true, false, false, false, 1},
    {"renewal with the same key", false, false, false, false, 1},
    {"2 1 1 issuer change", false, true, false, true, 1},
    {"gated reload, new key", true, false, true, false, 1},
    {"gated reload, issuer change, three services", true, true, true, true, 3},
    {"new key, three services", true, false, false, false, 3},
    {"two renewals within the hold, new keys", true, false, false, false, 1, 2},
    {"two renewals within the hold, gated, issuer change", true, true, true, true, 1, 2},
};

struct Iteration {
    const Server& server;
    Scenario scenario;
    std::string host;
    static constexpr int ports[3] = {25, 465, 587};
    TempDir dir;
    TestCa ca = make_ca("Crash Test CA");
    TestCa other_ca = make_ca("Crash Test CA 2");
    EvpPkeyPtr key = generate_key(KeyKind::p256);
    long serial = 1;

    Iteration(const Server& s, const Scenario& sc, int number)
        : server(s), scenario(sc), host("m" + std::to_string(number) + ".example.net") {
        std::string records =
            scenario.with_issuer_record ? "[\"3 1 1\", \"2 1 1\"]" : "[\"3 1 1\"]";
        std::string services;
        for (int i = 0; i < scenario.services; ++i) {
            services += "      - { host: " + host + ", port: " + std::to_string(ports[i]) + " }\n";
        }
        std::string gated;
        if (scenario.gated) {
            gated = "    install:\n      fullchain: " + (dir / "installed.pem").string() +
                    "\n    reload_command: [\"touch\", \"" + (dir / "reloaded").string() + "\"]\n";
        }
        write_text(
            dir / "danehook.yaml",
            "state_dir: " + (dir / "state").string() +
                "\nlock_timeout: 5\nproviders:\n  primary:\n"
                "    type: rfc2136\n    server: " +
                server.named->address() + "\n    port: " + std::to_string(server.named->port()) +
                "\n    tsig_key_file: " + (server.dir / "danehook.key").string() +
                "\n    nameservers: [\"" + server.named->endpoint() +
                "\"]\n    timeout: 5\n    retries: 0\n"
                "certificates:\n  - name: mail\n    lineage: " +
                lineage().string() + "\n    zone: example.net\n    ttl: " + std::to_string(ttl) +
                "\n    hold_margin: 0\n    records: " + records + "\n    services:\n" + services +
                gated);
        issue(ca);
    }
    std::filesystem::path lineage() const { return dir / "live" / host; }
    std::vector<std::string> owners() const {
        std::vector<std::string> names;
        for (int i = 0; i < scenario.services; ++i)
            names.push_back("_" + std::to_string(ports[i]) + "._tcp." + host + ".");
        return names;
    }
    std::string owner() const { return owners().front(); }
    void issue(const TestCa& by) {
        auto leaf = make_leaf(by, key.get(), host, -1, 90, serial++);
        write_lineage(lineage(), leaf.get(), by, key.get());
    }
    // The next certificate of the scenario.
    void renew() {
        if (scenario.new_key) key = generate_key(KeyKind::p256);
        issue(scenario.new_issuer ? other_ca : ca);
    }
    // The records the certificate now in the lineage should have.
    std::set<std::string> expected() const { return records_of(certbot_lineage_files(lineage())); }
    // The records of the certificate danehook installed for the service (gated), if any.
    std::set<std::string> installed() const {
        if (!std::filesystem::exists(dir / "installed.pem")) return {};
        CertificateFiles files;
        files.certificate = dir / "installed.pem";
        return records_of(files);
    }
    std::set<std::string> records_of(const CertificateFiles& files) const {
        auto material = load_certificate_material(files);
        std::set<std::string> records;
        for (const auto& name : owners()) {
            records.insert(
                name + " " +
                upper(compute_tlsa(material, TlsaParams::parse("3 1 1")).presentation()));
            if (scenario.with_issuer_record) {
                records.insert(
                    name + " " +
                    upper(compute_tlsa(material, TlsaParams::parse("2 1 1")).presentation()));
            }
        }
        return records;
    }
    CommandResult danehook(const std::vector<std::string>& args, long now,
                           std::vector<std::string> env = {}) const {
        std::vector<std::string> full{"--config", (dir / "danehook.yaml").string()};
        full.insert(full.end(), args.begin(), args.end());
        env.push_back("DANEHOOK_NOW=" + std::to_string(now));
        return run_danehook(full, env);
    }
    CommandResult deploy(long now, std::vector<std::string> env = {}) const {
        env.push_back("RENEWED_LINEAGE=" + lineage().string());
        env.push_back("RENEWED_DOMAINS=" + host);
        return danehook({"deploy"}, now, env);
    }
    // The entry's records in DNS, without the foreign one planted at the same owner.
    std::set<std::string> in_dns() const {
        std::set<std::string> records;
        for (const auto& name : owners()) records.merge(server.tlsa(name));
        records.erase(owner() + " " + same_owner_foreign_rdata);
        return records;
    }
};

bool killed(const CommandResult& result) {
    return result.exit_status == -1 && !result.timed_out;
}

struct Tally {
    int kill_points = 0;
    int violations = 0;
};

// The steps: deploy v1, deploy v2, run after the hold (v2 safe: reload, withdraw v1), run again.
void run_scenario(const Server& server, const Scenario& scenario, Tally& tally, int& host_number) {
    const int stride = crash_stride();
    const int deploys = 1 + scenario.renewals;
    const int step_count = deploys + 2;  // then two runs: after the hold, and one second later
    for (int crash_step = 0; crash_step < step_count; ++crash_step) {
        for (int point = 1; point < 200; point += stride) {
            Iteration it(server, scenario, host_number++);
            // A foreign record at the same owner, put there by the operator before danehook ran.
            {
                auto update =
                    run_command({"nsupdate", "-k", (server.dir / "danehook.key").string()}, [&] {
                        CommandOptions options;
                        options.input = "server " + server.named->address() + " " +
                                        std::to_string(server.named->port()) + "\nupdate add " +
                                        it.owner() + " 300 IN TLSA " + same_owner_foreign_rdata +
                                        "\nsend\n";
                        options.timeout = std::chrono::seconds(10);
                        return options;
                    }());
                REQUIRE_MESSAGE(update.ok(), update.describe());
            }
            const long base = static_cast<long>(std::time(nullptr)) - 100;
            std::vector<long> at;
            for (int i = 0; i < deploys; ++i) at.push_back(base + 10 * i);
            at.push_back(at.back() + hold);
            at.push_back(at.back() + 1);
            std::vector<std::set<std::string>> versions;  // expected records of each certificate
            bool crashed = false;
            for (int step = 0; step < step_count; ++step) {
                if (step >= 1 && step < deploys) it.renew();
                if (step < deploys) versions.push_back(it.expected());
                std::vector<std::string> env;
                if (step == crash_step) env.push_back("DANEHOOK_CRASH_AT=" + std::to_string(point));
                auto invoke = [&](std::vector<std::string> e) {
                    return step < deploys ? it.deploy(at[step], std::move(e))
                                          : it.danehook({"run"}, at[step], std::move(e));
                };
                auto result = invoke(env);
                if (step == crash_step) {
                    if (!killed(result)) {
                        CHECK_MESSAGE(result.exit_status == 0, result.errors);
                        break;  // fewer crash points in this step than `point`
                    }
                    crashed = true;
                    ++tally.kill_points;
                    auto status = it.danehook({"status", "--json"}, at[step]);
                    bool ok = status.exit_status == 0;
                    std::set<std::string> journal;
                    if (ok) {
                        auto parsed = nlohmann::json::parse(status.output, nullptr, false);
                        ok = !parsed.is_discarded();
                        if (ok) {
                            for (const auto& cert : parsed["certificates"]) {
                                for (const auto& r : cert["records"]) {
                                    journal.insert(canonical_name(r["owner"].get<std::string>()) +
                                                   " " + upper(r["rdata"].get<std::string>()));
                                }
                            }
                        }
                    }
                    std::string problems;
                    auto dns = it.in_dns();
                    for (const auto& record : dns) {
                        if (!journal.count(record))
                            problems += "untracked in DNS: " + record + "; ";
                    }
                    // The certificate the service presents must keep its records. Without a gate
                    // that is the one of the last completed deploy (certbot has switched the files
                    // of the deploy being run, but the service reloads afterwards); with a gate it
                    // is the one danehook installed before running reload_command.
                    std::set<std::string> in_service;
                    if (scenario.gated) {
                        in_service = it.installed();
                    } else if (step >= 1) {
                        in_service =
                            versions[static_cast<std::size_t>(std::min(step, deploys) - 1)];
                    }
                    for (const auto& record : in_service) {
                        if (!dns.count(record))
                            problems += "in-service record missing: " + record + "; ";
                    }
                    if (server.tlsa(foreign_owner) !=
                        std::set<std::string>{std::string(foreign_owner) + " " + foreign_rdata})
                        problems += "foreign record at another owner touched; ";
                    if (!server.tlsa(it.owner()).count(it.owner() + " " + same_owner_foreign_rdata))
                        problems += "foreign record at the same owner touched; ";
                    if (!problems.empty()) {
                        ++tally.violations;
                        MESSAGE(std::string(scenario.name)
                                << ": violation after kill at step " << step << " point " << point
                                << ": " << problems << " status: " << status.errors);
                    }
                    result = invoke({});  // rerun the interrupted command without a crash
                }
                CHECK_MESSAGE(result.exit_status == 0, std::string(scenario.name)
                                                           << " step " << step << ": "
                                                           << result.errors);
            }
            if (!crashed) break;
            CHECK_MESSAGE(it.in_dns() == it.expected(),
                          std::string(scenario.name) << ": did not converge after a kill at step "
                                                     << crash_step << " point " << point);
            if (scenario.gated) CHECK(std::filesystem::exists(it.dir / "reloaded"));
        }
    }
}

}  // namespace

TEST_CASE(
    "crash injection against named: a SIGKILL at any crash point leaves a state that converges") {
    if (!NamedServer::available() || !have_program("nsupdate")) {
        MESSAGE("named or nsupdate not installed: skipped");
        return;
    }
    Server server;
    Tally tally;
    int host_number = 0;
    for (const auto& scenario : scenarios) {
        Tally before = tally;
        run_scenario(server, scenario, tally, host_number);
        MESSAGE(std::string(scenario.name)
                << ": " << tally.kill_points - before.kill_points << " kill points, "
                << tally.violations - before.violations << " violations");
    }
    MESSAGE("crash points tried: " << tally.kill_points << " (stride " << crash_stride()
                                   << "), invariant violations: " << tally.violations);
    CHECK(tally.kill_points >= 60 / crash_stride());
    CHECK(tally.violations == 0);
}
