// The danehook binary end to end with the `file` provider: exit codes, config errors, hook
// variables, concurrency and crash injection (SIGKILL at every I/O step).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <thread>

#include "danehook/certificate.hpp"
#include "danehook/journal.hpp"
#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

constexpr long start_time = 1'800'000'000;
constexpr long hold = 2 * 300 + 60;

struct CliSetup {
    TempDir dir;
    TestCa ca = make_ca("CLI Test CA");
    EvpPkeyPtr key = generate_key(KeyKind::p256);
    long serial = 1;

    explicit CliSetup(const std::string& extra_entry = "") {
        write_text(dir / "danehook.yaml",
                   "state_dir: " + (dir / "state").string() + "\n"
                   "lock_timeout: 5\n"
                   "providers:\n"
                   "  local:\n"
                   "    type: file\n"
                   "    path: " + (dir / "tlsa.zone").string() + "\n"
                   "certificates:\n"
                   "  - name: mail\n"
                   "    lineage: " + lineage().string() + "\n"
                   "    zone: example.net\n"
                   "    ttl: 300\n"
                   "    hold_margin: 60\n"
                   "    services:\n"
                   "      - { host: mail.example.net, port: 25 }\n"
                   "      - { host: mail.example.net, port: 587 }\n" + extra_entry);
        issue();
    }
    std::filesystem::path lineage() const { return dir / "live/mail.example.net"; }
    void issue() {
        auto leaf = make_leaf(ca, key.get(), "mail.example.net", -1, 90, serial++);
        write_lineage(lineage(), leaf.get(), ca, key.get());
    }
    void new_key() {
        key = generate_key(KeyKind::p256);
        issue();
    }
    std::string record_of(EVP_PKEY* k) const { return "3 1 1 " + to_hex(key_association(k, MatchingType::sha256)); }

    CommandResult danehook(const std::vector<std::string>& args, long now, std::vector<std::string> env = {}) const {
        std::vector<std::string> full{"--config", (dir / "danehook.yaml").string()};
        full.insert(full.end(), args.begin(), args.end());
        env.push_back("DANEHOOK_NOW=" + std::to_string(now));
        return run_danehook(full, env);
    }
    CommandResult certbot_deploy(long now, std::vector<std::string> env = {}) const {
        env.push_back("RENEWED_LINEAGE=" + lineage().string());
        env.push_back("RENEWED_DOMAINS=mail.example.net");
        return danehook({"deploy"}, now, env);
    }
    // "OWNER U S M HEX" lines in the provider's file.
    std::multiset<std::string> zone_records() const {
        std::multiset<std::string> records;
        std::error_code ec;
        if (!std::filesystem::exists(dir / "tlsa.zone", ec)) return records;
        std::istringstream lines(read_text(dir / "tlsa.zone"));
        std::string line;
        while (std::getline(lines, line)) {
            if (line.empty() || line[0] == ';') continue;
            std::istringstream fields(line);
            std::string owner, ttl, klass, type, u, s, m, hex;
            fields >> owner >> ttl >> klass >> type >> u >> s >> m >> hex;
            records.insert(owner + " " + u + " " + s + " " + m + " " + hex);
        }
        return records;
    }
    std::multiset<std::string> expected_for(const std::vector<std::string>& rdatas) const {
        std::multiset<std::string> records;
        for (const auto& owner : {"_25._tcp.mail.example.net.", "_587._tcp.mail.example.net."}) {
            for (const auto& rdata : rdatas) records.insert(std::string(owner) + " " + rdata);
        }
        return records;
    }
};

bool killed(const CommandResult& result) { return result.exit_status == -1 && !result.timed_out; }

}  // namespace

TEST_CASE("certbot deploy hook, run after the hold, status") {
    CliSetup setup;
    auto first = setup.certbot_deploy(start_time);
    CHECK_MESSAGE(first.exit_status == 0, first.errors);
    CHECK(first.output.find("publish _25._tcp.mail.example.net. TLSA 3 1 1") != std::string::npos);
    auto old_record = setup.record_of(setup.key.get());
    CHECK(setup.zone_records() == setup.expected_for({old_record}));

    setup.new_key();
    CHECK(setup.certbot_deploy(start_time + 100).exit_status == 0);
    auto new_record = setup.record_of(setup.key.get());
    CHECK(setup.zone_records() == setup.expected_for({old_record, new_record}));

    auto early = setup.danehook({"run"}, start_time + 100 + hold - 1);
    CHECK(early.exit_status == 0);
    CHECK(setup.zone_records() == setup.expected_for({old_record, new_record}));

    auto status = setup.danehook({"status"}, start_time + 100 + hold - 1);
    CHECK(status.exit_status == 0);
    CHECK(status.output.find("scheduled for withdrawal after") != std::string::npos);

    auto plan = setup.danehook({"plan"}, start_time + 100 + hold);
    CHECK(plan.output.find("would withdraw _25._tcp.mail.example.net. TLSA " + old_record) != std::string::npos);
    CHECK(setup.zone_records() == setup.expected_for({old_record, new_record}));

    auto due = setup.danehook({"run"}, start_time + 100 + hold);
    CHECK(due.exit_status == 0);
    CHECK(due.output.find("withdrew") != std::string::npos);
    CHECK(setup.zone_records() == setup.expected_for({new_record}));

    auto json = setup.danehook({"status", "--json"}, start_time + 100 + hold);
    auto parsed = nlohmann::json::parse(json.output);
    CHECK(parsed["certificates"][0]["records"].size() == 2);
}

TEST_CASE("acme.sh reloadcmd variables with a next key") {
    CliSetup setup("    domain: mail.example.net\n");
    auto next = generate_key(KeyKind::p256);
    write_text(setup.dir / "next.key", private_key_pem(next.get()));
    auto result = setup.danehook({"deploy"}, start_time,
                                 {"CERT_PATH=" + (setup.lineage() / "cert.pem").string(),
                                  "CERT_KEY_PATH=" + (setup.lineage() / "privkey.pem").string(),
                                  "CA_CERT_PATH=" + (setup.lineage() / "chain.pem").string(),
                                  "CERT_FULLCHAIN_PATH=" + (setup.lineage() / "fullchain.pem").string(),
                                  "Le_Domain=mail.example.net",
                                  "Le_Next_Domain_Key=" + (setup.dir / "next.key").string()});
    CHECK_MESSAGE(result.exit_status == 0, result.errors);
    CHECK(setup.zone_records() == setup.expected_for({setup.record_of(setup.key.get()), setup.record_of(next.get())}));
}

TEST_CASE("configuration errors name the file, key and line, exit 3, and change nothing") {
    CliSetup setup;
    auto config = setup.dir / "danehook.yaml";
    auto original = read_text(config);
    struct Case {
        std::string from, to, expected;
    };
    std::vector<Case> cases{
        {"    ttl: 300\n", "    ttl: 300\n    tll: 5\n", "danehook.yaml:12: certificates[0].tll: unknown key"},
        {"    ttl: 300\n", "    ttl: soon\n", "danehook.yaml:11: certificates[0].ttl: must be an integer"},
        {"  - name: mail\n", "  - lineage2: x\n", "certificates[0].lineage2: unknown key"},
        {"    type: file\n", "    type: carrier-pigeon\n", "providers.local.type: unknown provider type 'carrier-pigeon'"},
        {"    path: ", "    colour: blue\n    path: ", "providers.local.colour: unknown key"},
        {"      - { host: mail.example.net, port: 25 }\n", "      - { host: mail.example.net, port: 99999 }\n",
         "certificates[0].services[0].port: must be between 1 and 65535"},
        {"lock_timeout: 5\n", "lock_timeout: 5\nfoo: [\n", "invalid YAML"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.expected);
        auto text = original;
        text.replace(text.find(c.from), c.from.size(), c.to);
        write_text(config, text);
        auto result = setup.certbot_deploy(start_time);
        CHECK(result.exit_status == 3);
        CHECK(result.errors.find(c.expected) != std::string::npos);
        CHECK(std::count(result.errors.begin(), result.errors.end(), '\n') == 1);
        CHECK_FALSE(std::filesystem::exists(setup.dir / "state/journal/mail.json"));
        CHECK_FALSE(std::filesystem::exists(setup.dir / "tlsa.zone"));
    }
}

TEST_CASE("input and matching errors exit non-zero and change nothing") {
    CliSetup setup;
    write_text(setup.lineage() / "cert.pem", "");
    auto result = setup.certbot_deploy(start_time);
    CHECK(result.exit_status == 4);
    CHECK(result.errors.find("cert.pem: file is empty") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(setup.dir / "tlsa.zone"));

    auto other = setup.danehook({"deploy"}, start_time, {"RENEWED_LINEAGE=/etc/letsencrypt/live/other.example"});
    CHECK(other.exit_status == 3);
    CHECK(other.errors.find("no certificate entry matches lineage /etc/letsencrypt/live/other.example") != std::string::npos);

    auto nothing = setup.danehook({"deploy"}, start_time);
    CHECK(nothing.exit_status == 3);
}

TEST_CASE("a held state lock makes a second danehook wait, then give up with exit 6") {
    CliSetup setup;
    CHECK(setup.certbot_deploy(start_time).exit_status == 0);
    {
        StateLock lock(setup.dir / "state", std::chrono::seconds(1));
        auto result = setup.danehook({"run"}, start_time);
        CHECK(result.exit_status == 6);
        CHECK(result.errors.find("holds the state lock") != std::string::npos);
    }
    CHECK(setup.danehook({"run"}, start_time).exit_status == 0);
}

TEST_CASE("two processes at once never interleave") {
    CliSetup setup;
    CHECK(setup.certbot_deploy(start_time).exit_status == 0);
    setup.new_key();
    CommandResult a, b;
    std::thread first([&] { a = setup.certbot_deploy(start_time + 10); });
    std::thread second([&] { b = setup.danehook({"run"}, start_time + 10); });
    first.join();
    second.join();
    CHECK(a.exit_status == 0);
    CHECK(b.exit_status == 0);
    auto records = setup.zone_records();
    CHECK(records.size() == 4);
    CHECK(std::set<std::string>(records.begin(), records.end()).size() == 4);  // no duplicates
    CHECK(setup.danehook({"status", "--json"}, start_time + 10).exit_status == 0);
}

// Runs a renewal rollover, SIGKILLing danehook at every crash point of every step, and checks
// after each kill that nothing danehook published was lost or left untracked, that the record of
// the certificate in service is still published, and that a rerun converges to the same end state.
TEST_CASE("crash injection: a SIGKILL at any step leaves a state that converges") {
    struct Step {
        const char* command;
        long at;
    };
    const std::vector<Step> steps{{"deploy-v1", start_time}, {"deploy-v2", start_time + 100},
                                  {"run", start_time + 100 + hold}, {"run", start_time + 100 + hold + 1}};
    int kill_points = 0;
    int violations = 0;
    for (std::size_t crash_step = 0; crash_step < steps.size(); ++crash_step) {
        for (int point = 1; point < 100; ++point) {
            CliSetup setup;
            auto v1_key = std::move(setup.key);
            setup.key = EvpPkeyPtr(EVP_PKEY_dup(v1_key.get()));
            auto v1 = setup.record_of(v1_key.get());
            std::string v2;
            bool crashed = false;
            for (std::size_t i = 0; i < steps.size(); ++i) {
                const auto& step = steps[i];
                std::string command = step.command;
                if (command == "deploy-v2" && v2.empty()) {
                    setup.new_key();
                    v2 = setup.record_of(setup.key.get());
                }
                std::vector<std::string> env;
                if (i == crash_step) env.push_back("DANEHOOK_CRASH_AT=" + std::to_string(point));
                auto result = command == "run" ? setup.danehook({"run"}, step.at, env) : setup.certbot_deploy(step.at, env);
                if (i == crash_step) {
                    if (!killed(result)) break;  // fewer crash points in this step than `point`
                    crashed = true;
                    ++kill_points;
                    // Invariants right after the kill.
                    auto status = setup.danehook({"status", "--json"}, step.at);
                    bool ok = status.exit_status == 0;
                    auto records = setup.zone_records();
                    std::set<std::string> journal_records;
                    if (ok) {
                        auto parsed = nlohmann::json::parse(status.output);
                        for (const auto& cert : parsed["certificates"]) {
                            for (const auto& r : cert["records"]) {
                                journal_records.insert(r["owner"].get<std::string>() + " " + r["rdata"].get<std::string>());
                            }
                        }
                    }
                    for (const auto& record : records) ok = ok && journal_records.count(record);
                    // The v1 certificate stays in service until the v2 deploy; its records must stay.
                    if (i >= 1 && i < 2) {
                        for (const auto& record : setup.expected_for({v1})) ok = ok && records.count(record);
                    }
                    if (!ok) {
                        ++violations;
                        std::string listing;
                        for (const auto& record : records) listing += record + (journal_records.count(record) ? "" : " (untracked)") + "; ";
                        MESSAGE("violation at step " << i << " point " << point << ": status " << status.exit_status << " "
                                                     << status.errors << " records: " << listing);
                    }
                    // Rerun the interrupted command without a crash.
                    result = command == "run" ? setup.danehook({"run"}, step.at) : setup.certbot_deploy(step.at);
                }
                CHECK_MESSAGE(result.exit_status == 0, result.errors);
            }
            if (!crashed) break;
            CHECK(setup.zone_records() == setup.expected_for({v2}));
        }
    }
    MESSAGE("crash points tried: " << kill_points << ", invariant violations: " << violations);
    CHECK(kill_points >= 10);
    CHECK(violations == 0);
}
