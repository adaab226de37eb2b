// Rollover scenarios against the in-process provider, with a test-controlled clock.
#include <doctest/doctest.h>

#include "danehook/error.hpp"
#include "hook/engine_fixture.hpp"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

using namespace danehook;
using namespace danehook::testing;

namespace {

constexpr EpochSeconds hold = 2 * 300 + 60;

std::string r311(EVP_PKEY* key) { return "3 1 1 " + EngineFixture::spki_hex(key); }

}  // namespace

TEST_CASE("first issuance publishes a record per service and confirms it") {
    EngineFixture f;
    auto report = f.deploy();
    CHECK(report.exit_code == ExitCode::ok);
    CHECK(f.published_at() == std::vector<std::string>{r311(f.key.get())});
    CHECK(f.published_at("_465._tcp.mail.example.net.") == std::vector<std::string>{r311(f.key.get())});
    CHECK(f.world().apply_calls == 1);  // one change set for the zone
    auto journal = f.journal();
    REQUIRE(journal);
    REQUIRE(journal->records.size() == 2);
    for (const auto& record : journal->records) {
        CHECK(record.state == RecordState::published);
        CHECK(record.confirmed_at == f.clock.now());
        CHECK_FALSE(record.preexisting);
    }
    // Nothing is due afterwards: run has nothing to do.
    f.clock.advance(10);
    auto run = f.run();
    CHECK(run.actions.empty());
    CHECK(f.world().apply_calls == 1);
}

TEST_CASE("a renewal that reuses the key changes nothing in DNS") {
    EngineFixture f;
    f.deploy();
    f.clock.advance(60 * 86400);
    f.issue();  // same key, new certificate
    int applies = f.world().apply_calls;
    auto report = f.deploy();
    CHECK(report.exit_code == ExitCode::ok);
    CHECK(f.world().apply_calls == applies);
    CHECK(f.published_at() == std::vector<std::string>{r311(f.key.get())});
}

TEST_CASE("a renewal with a new key keeps the old record until the new one is safe") {
    EngineFixture f;
    f.deploy();
    auto old_record = r311(f.key.get());
    f.clock.advance(60 * 86400);
    f.renew_with_new_key();
    auto new_record = r311(f.key.get());
    f.deploy();
    auto both = std::vector<std::string>{old_record, new_record};
    std::sort(both.begin(), both.end());
    CHECK(f.published_at() == both);

    f.clock.advance(hold - 1);
    f.run();
    CHECK(f.published_at() == both);  // still within 2 x TTL + margin

    f.clock.advance(1);
    auto report = f.run();
    CHECK(report.exit_code == ExitCode::ok);
    CHECK(f.published_at() == std::vector<std::string>{new_record});
    CHECK(f.published_at("_465._tcp.mail.example.net.") == std::vector<std::string>{new_record});
    auto journal = f.journal();
    REQUIRE(journal);
    CHECK(journal->records.size() == 2);
}

TEST_CASE("withdrawal waits until every authoritative server serves the replacement") {
    EngineFixture f;
    f.deploy();
    auto old_record = r311(f.key.get());
    f.world().auto_sync = false;
    f.renew_with_new_key();
    f.deploy();
    f.clock.advance(10 * hold);
    f.run();
    CHECK(f.published_at().size() == 2);  // the servers never showed the new record

    f.world().servers[0] = f.world().primary;  // one of two servers caught up
    f.clock.advance(10 * hold);
    f.run();
    CHECK(f.published_at().size() == 2);

    f.world().sync();
    f.run();  // confirmation happens now; the hold starts now
    CHECK(f.published_at().size() == 2);
    f.clock.advance(hold);
    f.run();
    CHECK(f.published_at() == std::vector<std::string>{r311(f.key.get())});
}

TEST_CASE("acme.sh current + next key: the served key always has a safe record") {
    EngineFixture f;
    auto next = generate_key(KeyKind::p256);
    auto next_path = f.dir / "next.key";
    write_text(next_path, private_key_pem(next.get()));

    auto deploy_acme = [&](const std::filesystem::path& next_key) {
        Engine engine(f.config, f.clock);
        DeploySource source;
        source.client = "acme.sh";
        source.certificate_name = "mail";
        source.files.certificate = f.lineage() / "cert.pem";
        source.files.chain = f.lineage() / "chain.pem";
        source.files.private_key = f.lineage() / "privkey.pem";
        source.files.next_keys.push_back(next_key);
        return engine.deploy(source);
    };
    deploy_acme(next_path);
    auto current = r311(f.key.get());
    auto pre = r311(next.get());
    auto both = std::vector<std::string>{current, pre};
    std::sort(both.begin(), both.end());
    CHECK(f.published_at() == both);

    // Much later, the renewal switches to the pre-published key and pre-generates another.
    f.clock.advance(60 * 86400);
    f.run();
    CHECK(f.published_at() == both);  // the next key's record is wanted, nothing to withdraw
    f.key = std::move(next);
    auto after = generate_key(KeyKind::p256);
    auto after_path = f.dir / "after.key";
    write_text(after_path, private_key_pem(after.get()));
    f.issue();
    deploy_acme(after_path);
    // The key now in service was published 60 days ago: safe at once.
    auto journal = f.journal();
    REQUIRE(journal);
    for (const auto& record : journal->records) {
        if (record.record.rdata.presentation() == pre) CHECK(record.confirmed_at + hold <= f.clock.now());
    }
    f.clock.advance(hold);
    f.run();
    auto expected = std::vector<std::string>{pre, r311(after.get())};
    std::sort(expected.begin(), expected.end());
    CHECK(f.published_at() == expected);
}

TEST_CASE("an issuer change under 2 1 1 rolls the issuer record") {
    EngineFixture f("[\"3 1 1\", \"2 1 1\"]");
    f.deploy();
    auto old_ca = EngineFixture::spki_hex(f.ca.key.get());
    CHECK(f.published_at().size() == 2);
    f.ca = make_ca("Test CA R2");
    f.issue();  // same key, new issuer
    f.deploy();
    CHECK(f.published_at().size() == 3);
    f.clock.advance(hold);
    f.run();
    auto records = f.published_at();
    CHECK(records.size() == 2);
    CHECK(std::find(records.begin(), records.end(), "2 1 1 " + old_ca) == records.end());
    CHECK(std::find(records.begin(), records.end(), "2 1 1 " + EngineFixture::spki_hex(f.ca.key.get())) != records.end());
}

TEST_CASE("a repeated deploy is idempotent") {
    EngineFixture f;
    f.deploy();
    auto journal_before = f.journal();
    int applies = f.world().apply_calls;
    f.deploy();
    f.deploy();
    CHECK(f.world().apply_calls == applies);
    CHECK(f.journal()->records.size() == journal_before->records.size());
    CHECK(f.published_at().size() == 1);
}

TEST_CASE("a foreign record at the same name is kept, also one identical to ours") {
    EngineFixture f;
    TlsaRecord foreign{"_25._tcp.mail.example.net.", 300, TlsaRdata::parse("3 1 1 " + std::string(64, 'A'))};
    f.world().primary.push_back(foreign);
    // Someone published our 465 record by hand before danehook ran.
    TlsaRecord manual{"_465._tcp.mail.example.net.", 300, TlsaRdata::parse(r311(f.key.get()))};
    f.world().primary.push_back(manual);
    f.world().sync();
    f.deploy();
    f.renew_with_new_key();
    f.deploy();
    f.clock.advance(hold);
    f.run();
    CHECK(f.world().has(foreign.owner, foreign.rdata));
    CHECK(f.world().has(manual.owner, manual.rdata));  // not danehook's: never deleted
    CHECK(f.published_at().size() == 2);  // foreign + new
    auto journal = f.journal();
    for (const auto& record : journal->records) CHECK(record.record.rdata != manual.rdata);
}

TEST_CASE("a provider failure during publish loses nothing and run completes it") {
    EngineFixture f;
    f.world().fail_next_applies = 1;
    auto report = f.deploy();
    CHECK(report.exit_code == ExitCode::provider);
    CHECK(f.published_at().empty());
    auto journal = f.journal();
    REQUIRE(journal);
    REQUIRE(journal->records.size() == 2);
    for (const auto& record : journal->records) {
        CHECK(record.state == RecordState::publishing);
        CHECK(record.last_error.find("injected") != std::string::npos);
    }
    CHECK_FALSE(journal->last_error.empty());

    f.clock.advance(300);
    auto run = f.run();
    CHECK(run.exit_code == ExitCode::ok);
    CHECK(f.published_at() == std::vector<std::string>{r311(f.key.get())});
    journal = f.journal();
    for (const auto& record : journal->records) CHECK(record.state == RecordState::published);
    CHECK(journal->last_error.empty());
}

TEST_CASE("a provider unreachable at deploy time: the records are queued and run publishes them") {
    EngineFixture f;
    f.world().fail_next_operations = 1000;
    auto report = f.deploy();
    CHECK(report.exit_code == ExitCode::provider);
    auto journal = f.journal();
    REQUIRE(journal);  // certbot will not call the hook again: the work must be on disk
    REQUIRE(journal->records.size() == 2);
    for (const auto& record : journal->records) {
        CHECK(record.state == RecordState::publishing);
        CHECK_FALSE(record.origin_checked);
    }
    // Meanwhile someone published the 465 record by hand.
    TlsaRecord manual{"_465._tcp.mail.example.net.", 300, TlsaRdata::parse(r311(f.key.get()))};
    f.world().primary.push_back(manual);
    f.world().sync();

    f.world().fail_next_operations = 0;
    f.clock.advance(300);
    CHECK(f.run().exit_code == ExitCode::ok);
    CHECK(f.published_at() == std::vector<std::string>{r311(f.key.get())});
    journal = f.journal();
    for (const auto& record : journal->records) {
        CHECK(record.state == RecordState::published);
        CHECK(record.origin_checked);
        // Found already there on the first look: never danehook's to delete.
        CHECK(record.preexisting == (record.record.owner == manual.owner));
    }
}

TEST_CASE("a failed withdrawal stays scheduled and is retried") {
    EngineFixture f;
    f.deploy();
    auto old_record = r311(f.key.get());
    f.renew_with_new_key();
    f.deploy();
    f.clock.advance(hold);
    f.world().fail_next_applies = 1;
    auto report = f.run();
    CHECK(report.exit_code == ExitCode::provider);
    CHECK(f.published_at().size() == 2);
    auto journal = f.journal();
    int withdrawing = 0;
    for (const auto& record : journal->records) withdrawing += record.state == RecordState::withdrawing;
    CHECK(withdrawing == 2);
    f.run();
    CHECK(f.published_at() == std::vector<std::string>{r311(f.key.get())});
}

TEST_CASE("reload is deferred until the new records are safe, then run does it once") {
    EngineFixture f("[\"3 1 1\"]", "    reload_command: [\"sh\", \"-c\", \"echo x >> " + std::string("RELOADS") + "\"]\n");
    // Rewrite the command with the real path now that the fixture has a directory.
    auto reloads = f.dir / "reloads";
    auto yaml = read_text(f.dir / "danehook.yaml");
    yaml.replace(yaml.find("RELOADS"), 7, reloads.string());
    write_text(f.dir / "danehook.yaml", yaml);
    f.config = load_config(f.dir / "danehook.yaml");
    auto reload_count = [&] {
        std::error_code ec;
        if (!std::filesystem::exists(reloads, ec)) return 0;
        auto text = read_text(reloads);
        return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    };

    f.deploy();
    CHECK(reload_count() == 0);  // first issuance: the records are new, so the reload waits
    f.clock.advance(hold - 1);
    f.run();
    CHECK(reload_count() == 0);
    f.clock.advance(1);
    f.run();
    CHECK(reload_count() == 1);
    f.run();
    CHECK(reload_count() == 1);

    // Key reuse: the records are long safe, so deploy reloads at once.
    f.clock.advance(30 * 86400);
    f.issue();
    f.deploy();
    CHECK(reload_count() == 2);

    // New key: deferred; the old record stays until the reload happened and the hold passed.
    auto old_record = r311(f.key.get());
    f.renew_with_new_key();
    f.deploy();
    CHECK(reload_count() == 2);
    f.clock.advance(hold);
    f.run();
    CHECK(reload_count() == 3);
    CHECK(f.published_at() == std::vector<std::string>{r311(f.key.get())});
}

TEST_CASE("a failing reload is reported and retried; the old record stays meanwhile") {
    EngineFixture f("[\"3 1 1\"]", "    reload_command: [\"false\"]\n");
    f.deploy();
    auto first = r311(f.key.get());
    f.clock.advance(hold);
    auto report = f.run();
    CHECK(report.exit_code != ExitCode::ok);
    auto journal = f.journal();
    REQUIRE(journal->activation);
    CHECK(journal->activation->attempts == 1);
    CHECK(journal->activation->last_error.find("reload_command exited with status 1") != std::string::npos);
    f.run();
    CHECK(f.journal()->activation->attempts == 2);
}

TEST_CASE("staged install writes the files only when the records are safe") {
    EngineFixture f("[\"3 1 1\"]",
                    "    install:\n      fullchain: INSTALL/fullchain.pem\n      key: INSTALL/key.pem\n"
                    "      combined: INSTALL/combined.pem\n      certificate: INSTALL/cert.pem\n");
    auto installed = f.dir / "installed";
    std::filesystem::create_directories(installed);
    auto yaml = read_text(f.dir / "danehook.yaml");
    for (auto at = yaml.find("INSTALL"); at != std::string::npos; at = yaml.find("INSTALL")) yaml.replace(at, 7, installed.string());
    write_text(f.dir / "danehook.yaml", yaml);
    f.config = load_config(f.dir / "danehook.yaml");

    f.deploy();
    CHECK_FALSE(std::filesystem::exists(installed / "cert.pem"));
    f.clock.advance(hold);
    f.run();
    CHECK(read_text(installed / "cert.pem") == read_text(f.lineage() / "cert.pem"));
    CHECK(read_text(installed / "fullchain.pem") == read_text(f.lineage() / "fullchain.pem"));
    CHECK(read_text(installed / "key.pem") == read_text(f.lineage() / "privkey.pem"));
    CHECK(read_text(installed / "combined.pem") ==
          read_text(f.lineage() / "privkey.pem") + read_text(f.lineage() / "fullchain.pem"));
    struct stat st {};
    REQUIRE(::stat((installed / "key.pem").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat((installed / "combined.pem").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // A new key is not installed before its record is safe.
    auto old_cert = read_text(installed / "cert.pem");
    f.renew_with_new_key();
    f.deploy();
    CHECK(read_text(installed / "cert.pem") == old_cert);
    f.clock.advance(hold);
    f.run();
    CHECK(read_text(installed / "cert.pem") == read_text(f.lineage() / "cert.pem"));
}

TEST_CASE("dry runs report and touch nothing") {
    EngineFixture f;
    auto report = f.deploy(EngineOptions{true, false});
    CHECK_FALSE(report.actions.empty());
    CHECK(report.actions.front().rfind("would ", 0) == 0);
    CHECK(f.world().apply_calls == 0);
    CHECK_FALSE(f.journal());

    f.deploy();
    f.renew_with_new_key();
    f.deploy();
    f.clock.advance(hold);
    auto before = read_text(f.config.state_dir / "journal/mail.json");
    auto plan = f.run(EngineOptions{true, false});
    bool mentions_withdraw = false;
    for (const auto& line : plan.actions) mentions_withdraw |= line.find("would withdraw") == 0;
    CHECK(mentions_withdraw);
    CHECK(f.published_at().size() == 2);
    CHECK(read_text(f.config.state_dir / "journal/mail.json") == before);
}

TEST_CASE("status shows published, pending and scheduled records") {
    EngineFixture f;
    f.deploy();
    f.renew_with_new_key();
    f.deploy();
    Engine engine(f.config, f.clock);
    auto text = engine.status_text();
    CHECK(text.find("certificate mail") != std::string::npos);
    CHECK(text.find("scheduled for withdrawal after") != std::string::npos);
    auto json = nlohmann::json::parse(engine.status_json());
    REQUIRE(json["certificates"].size() == 1);
    CHECK(json["certificates"][0]["records"].size() == 4);
}

TEST_CASE("the interlock stops a withdrawal unless forced") {
    EngineFixture f;
    f.deploy();
    f.renew_with_new_key();
    f.deploy();
    f.clock.advance(hold);
    {
        Engine engine(f.config, f.clock);
        engine.set_interlock([](const CertificateEntry&, const std::string&, const std::vector<TlsaRdata>&) {
            return std::string("the live service still presents the old certificate");
        });
        auto report = engine.run();
        CHECK(report.exit_code == ExitCode::interlock);
        CHECK(f.published_at().size() == 2);
    }
    Engine forced(f.config, f.clock, EngineOptions{false, true});
    forced.set_interlock([](const CertificateEntry&, const std::string&, const std::vector<TlsaRdata>&) {
        return std::string("objection");
    });
    CHECK(forced.run().exit_code == ExitCode::ok);
    CHECK(f.published_at().size() == 1);
}

TEST_CASE("a deploy that matches no configured certificate is a clear error") {
    EngineFixture f;
    Engine engine(f.config, f.clock);
    DeploySource source;
    source.lineage = f.dir / "live/other.example.net";
    CHECK_THROWS_WITH_AS(engine.deploy(source), doctest::Contains("no certificate entry matches lineage"), ConfigError);
    CHECK_FALSE(f.journal());
}

TEST_CASE("certbot and acme.sh hook variables are understood") {
    std::map<std::string, std::string> env{{"RENEWED_LINEAGE", "/etc/letsencrypt/live/a.example"},
                                           {"RENEWED_DOMAINS", "a.example www.a.example"}};
    auto getenv = [&](const char* name) -> const char* {
        auto found = env.find(name);
        return found == env.end() ? nullptr : found->second.c_str();
    };
    auto certbot = deploy_source_from_environment(getenv);
    CHECK(certbot.client == "certbot");
    CHECK(certbot.lineage->string() == "/etc/letsencrypt/live/a.example");
    CHECK(certbot.domains == std::vector<std::string>{"a.example", "www.a.example"});

    TempDir dir;
    write_text(dir / "a.key.next", "key");
    env = {{"CERT_PATH", "/root/.acme.sh/a/a.cer"}, {"CERT_KEY_PATH", "/root/.acme.sh/a/a.key"},
           {"CA_CERT_PATH", "/root/.acme.sh/a/ca.cer"}, {"CERT_FULLCHAIN_PATH", "/root/.acme.sh/a/fullchain.cer"},
           {"Le_Domain", "a.example"}, {"Le_Next_Domain_Key", (dir / "a.key.next").string()}};
    auto acme = deploy_source_from_environment(getenv);
    CHECK(acme.client == "acme.sh");
    CHECK(acme.files.certificate->string() == "/root/.acme.sh/a/a.cer");
    CHECK(acme.files.chain->string() == "/root/.acme.sh/a/ca.cer");
    CHECK(acme.files.private_key->string() == "/root/.acme.sh/a/a.key");
    REQUIRE(acme.files.next_keys.size() == 1);
    CHECK(acme.domains == std::vector<std::string>{"a.example"});

    // Once the next key has been used, acme.sh's variable may name a file that is gone.
    env["Le_Next_Domain_Key"] = (dir / "gone.key.next").string();
    CHECK(deploy_source_from_environment(getenv).files.next_keys.empty());
}

namespace {

// Journals written during a test are younger than the status cache's racy window; ageing the
// file lets the cache keep it, as it would in production a few seconds later.
void age_file(const std::filesystem::path& path) {
    std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) - std::chrono::hours(1));
}

}  // namespace

TEST_CASE("status --json from the cache follows every change to the journal and the config") {
    EngineFixture f;
    f.deploy();
    auto journal_file = f.config.state_dir / "journal/mail.json";
    age_file(journal_file);
    auto fresh_status = [&] {
        Engine engine(f.config, f.clock);
        return engine.status_json();
    };
    auto first = fresh_status();
    REQUIRE(std::filesystem::exists(f.config.state_dir / "status.cache"));
    CHECK(fresh_status() == first);  // served from the cache, byte for byte the same

    SUBCASE("a new deploy replaces the journal: the cache entry is not used") {
        f.renew_with_new_key();
        f.deploy();
        auto before = nlohmann::json::parse(first)["certificates"][0]["records"].size();
        auto json = nlohmann::json::parse(fresh_status());
        CHECK(json["certificates"][0]["records"].size() == 2 * before);  // old ones scheduled
    }
    SUBCASE("an in-place edit of the journal (same inode) is seen") {
        auto text = read_text(journal_file);
        auto at = text.find("\"last_error\":\"\"");
        REQUIRE(at != std::string::npos);
        text.replace(at, 15, "\"last_error\":\"edited by hand\"");
        {
            std::ofstream out(journal_file, std::ios::in | std::ios::out | std::ios::trunc);
            out << text;
        }
        age_file(journal_file);
        auto json = nlohmann::json::parse(fresh_status());
        CHECK(json["certificates"][0]["last_error"] == "edited by hand");
    }
    SUBCASE("whether the certificate is configured comes from the config, not the cache") {
        CHECK(nlohmann::json::parse(first)["certificates"][0]["configured"] == true);
        f.config.certificates.clear();
        auto json = nlohmann::json::parse(fresh_status());
        CHECK(json["certificates"][0]["configured"] == false);
        CHECK(json["certificates"][0]["records"] == nlohmann::json::parse(first)["certificates"][0]["records"]);
    }
    SUBCASE("a removed journal disappears") {
        std::filesystem::remove(journal_file);
        CHECK(nlohmann::json::parse(fresh_status())["certificates"].empty());
    }
    SUBCASE("a cache entry made from another file is ignored and replaced") {
        write_text(f.config.state_dir / "status.cache", "danehook-status-cache 1\nmail\t1\t2\t3\t4\t{}\nend 1\n");
        CHECK(fresh_status() == first);
        CHECK(read_text(f.config.state_dir / "status.cache").find("\"name\":\"mail\"") != std::string::npos);
    }
}
