// The Cloudflare provider, created from YAML through the registry, against the local API double
// over real HTTPS (libcurl on one side, Python's http.server + ssl on the other).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <mutex>

#include "danehook/command.hpp"
#include "danehook/log.hpp"
#include "danehook/provider.hpp"
#include "providers/cloudflare/cloudflare_client.hpp"
#include "providers/cloudflare/cloudflare_double.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone_id = "023e105f4ecef8ad9ca31a8372d0c353";
const std::string zone = "example.net.";
const std::string owner = "_25._tcp.mail.example.net.";
const std::string token = "Sekr1t-cf-T0ken_for-tests-0123456789abcdef";
const std::string email = "hostmaster@example.net";
const std::string global_key = "c2547eb745079dac9320b638f5e225cf483cc5cfdda41";

std::string digest(char fill) {
    return std::string(64, fill);
}

TlsaRecord tlsa(const std::string& name, const std::string& hex, std::uint32_t ttl = 300) {
    return TlsaRecord{name, ttl, TlsaRdata::parse("3 1 1 " + hex)};
}

nlohmann::json foreign_record(const std::string& name, const std::string& hex) {
    return {{"name", name},
            {"ttl", 3600},
            {"comment", "added by hand"},
            {"data", {{"usage", 2}, {"selector", 0}, {"matching_type", 1}, {"certificate", hex}}}};
}

nlohmann::json double_state(nlohmann::json records = nlohmann::json::array()) {
    return {{"tokens", {token}},
            {"global_keys", {{{"email", email}, {"key", global_key}}}},
            {"page_size", 2},
            {"zones",
             {{{"id", zone_id},
               {"name", "example.net"},
               {"name_servers", {"127.0.0.1", "::1"}},
               {"records", records}},
              {{"id", "9a7806061c88ada191ed06f989cc3dac"},
               {"name", "example.org"},
               {"name_servers", {"127.0.0.1"}}}}}};
}

std::unique_ptr<Provider> create_provider(const Settings& settings) {
    return ProviderRegistry::instance().create(
        ProviderContext{"cf", settings, {}, default_operation_timeout, default_retries});
}

// No credentials from the environment of whoever runs the tests.
struct CleanEnvironment {
    CleanEnvironment() { clear(); }
    ~CleanEnvironment() { clear(); }
    static void clear() {
        for (const char* name : {"CLOUDFLARE_API_TOKEN", "CF_Token", "CF_Key", "CF_Email"}) {
            ::unsetenv(name);
        }
    }
};

// Captures every log line, debug included, for the duration of a test.
struct LogCapture {
    LogCapture() {
        log::set_verbose(true);
        log::set_sink([this](log::Level, const std::string& line) {
            std::lock_guard lock(mutex);
            lines.push_back(line);
        });
    }
    ~LogCapture() {
        log::set_sink(nullptr);
        log::set_verbose(false);
    }
    std::string all() {
        std::lock_guard lock(mutex);
        std::string text;
        for (const auto& line : lines) text += line + "\n";
        return text;
    }
    std::mutex mutex;
    std::vector<std::string> lines;
};

class Fixture {
  public:
    explicit Fixture(nlohmann::json state = double_state()) : api(state) {
        write_text(dir / "token", token + "\n");
        ::chmod((dir / "token").c_str(), 0600);
    }

    // `extra`: YAML lines added to the provider's mapping (indented by the caller's 4 spaces).
    std::unique_ptr<Provider> provider(const std::string& extra = "    api_token_file: token\n") {
        std::string text =
            "providers:\n  cf:\n    type: cloudflare\n    api_base: " + api.api_base() +
            "\n    ca_file: " + api.ca_file().string() + "\n    timeout: 5\n" + extra;
        write_text(dir / "danehook.yaml", text);
        auto root = YAML::LoadFile((dir / "danehook.yaml").string());
        Settings settings(dir / "danehook.yaml", root["providers"]["cf"], "providers.cf");
        return create_provider(settings);
    }

    int records_at(const std::string& name) {
        int n = 0;
        for (const auto& record : api.records(zone_id)) n += record["name"] == name;
        return n;
    }

    CleanEnvironment environment;
    TempDir dir;
    CloudflareDouble api;
};

template <typename F>
double seconds_taken(F&& f) {
    auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

ProviderFailure failure_of(const std::function<void()>& f, std::string* message = nullptr) {
    try {
        f();
    } catch (const ProviderError& e) {
        if (message) *message = e.what();
        return e.failure();
    }
    FAIL("expected a ProviderError");
    return ProviderFailure::transient;
}

}  // namespace

TEST_CASE("cloudflare: publish, list across pages, withdraw; foreign records are left alone") {
    nlohmann::json seeded = nlohmann::json::array();
    for (char c : std::string("12345"))
        seeded.push_back(foreign_record("_25._tcp.mail.example.net", digest(c)));
    Fixture f(double_state(seeded));
    auto provider = f.provider();

    auto before = provider->list(zone, owner);
    CHECK(before.size() == 5);  // three pages of two
    CHECK(f.api.count("list") == 3);

    ChangeSet publish{zone, {tlsa(owner, digest('a')), tlsa(owner, digest('b'))}, {}};
    provider->apply(publish);
    CHECK(f.api.count("batch") == 1);
    CHECK(f.api.count("create") == 0);
    CHECK(f.records_at("_25._tcp.mail.example.net") == 7);
    for (const auto& record : f.api.records(zone_id)) {
        if (record["data"]["certificate"].get<std::string>()[0] == 'a') {
            CHECK(record["ttl"] == 300);
            CHECK(record["comment"].get<std::string>().find("danehook") != std::string::npos);
        }
    }

    auto after = provider->list(zone, owner);
    REQUIRE(after.size() == 7);
    std::vector<PublishedRecord> ours;
    for (const auto& record : after) {
        if (record.record.rdata.params.usage == Usage::dane_ee) ours.push_back(record);
    }
    REQUIRE(ours.size() == 2);

    provider->apply(ChangeSet{zone, {}, ours});
    CHECK(f.api.count("batch") == 2);
    auto left = provider->list(zone, owner);
    CHECK(left.size() == 5);
    for (const auto& record : left) CHECK(record.record.rdata.params.usage == Usage::dane_ta);
    CHECK(f.api.count("delete") == 0);
    CHECK(f.api.stats()["connections"] == 1);  // one reused connection for everything
}

TEST_CASE("cloudflare: a rollover in one batch; deletions without ids are matched on data") {
    Fixture f;
    auto provider = f.provider();
    provider->apply(ChangeSet{zone, {tlsa(owner, digest('a'))}, {}});
    f.api.control({{"add_records",
                    {{{"zone_id", zone_id},
                      {"name", "_25._tcp.mail.example.net"},
                      {"ttl", 300},
                      {"comment", "someone else's"},
                      {"data",
                       {{"usage", 3},
                        {"selector", 1},
                        {"matching_type", 1},
                        {"certificate", digest('c')}}}}}}});
    // A fresh provider (as after a restart) gets the old record without its id.
    auto restarted = f.provider();
    restarted->apply(ChangeSet{
        zone, {tlsa(owner, digest('b'))}, {PublishedRecord{tlsa(owner, digest('a')), ""}}});
    CHECK(f.api.count("batch") == 2);
    auto now = restarted->list(zone, owner);
    REQUIRE(now.size() == 2);
    std::set<std::string> hexes;
    for (const auto& record : now) hexes.insert(record.record.rdata.hex());
    CHECK(hexes == std::set<std::string>{digest('B'), digest('C')});
}

TEST_CASE("cloudflare: a deletion whose id holds other data is refused") {
    Fixture f;
    auto provider = f.provider();
    provider->apply(ChangeSet{zone, {tlsa(owner, digest('a'))}, {}});
    auto listed = provider->list(zone, owner);
    REQUIRE(listed.size() == 1);
    PublishedRecord wrong{tlsa(owner, digest('d')), listed[0].id};
    CHECK(failure_of([&] {
              provider->apply(ChangeSet{zone, {}, {wrong}});
          }) == ProviderFailure::rejected);
    CHECK(f.records_at("_25._tcp.mail.example.net") == 1);
}

TEST_CASE("cloudflare: identical records and vanished ids count as done") {
    nlohmann::json seeded = nlohmann::json::array();
    nlohmann::json ours = foreign_record("_25._tcp.mail.example.net", digest('A'));
    ours["data"]["usage"] = 3;
    ours["data"]["selector"] = 1;
    seeded.push_back(ours);
    Fixture f(double_state(seeded));
    auto provider = f.provider();

    // Not listed first: the provider cannot know, Cloudflare answers 81058 and the whole
    // batch is refused; the single requests then treat the identical record as done.
    provider->apply(ChangeSet{zone, {tlsa(owner, digest('a')), tlsa(owner, digest('e'))}, {}});
    CHECK(f.api.count("error_81058") == 2);
    CHECK(f.api.count("create") == 2);
    CHECK(f.records_at("_25._tcp.mail.example.net") == 2);

    // Deleting ids that are gone (deleted by someone else since this instance listed them).
    auto listed = provider->list(zone, owner);
    REQUIRE(listed.size() == 2);
    auto someone_else = f.provider();
    someone_else->list(zone, owner);
    someone_else->apply(ChangeSet{zone, {}, listed});
    CHECK(f.records_at("_25._tcp.mail.example.net") == 0);
    SUBCASE("in a batch") {
        provider->apply(ChangeSet{zone, {}, listed});
        CHECK(f.api.count("error_81044") == 3);  // the refused batch, then each single delete
    }
    SUBCASE("singly") {
        f.api.control({{"batch_enabled", false}});
        provider->apply(ChangeSet{zone, {}, listed});
        CHECK(f.api.count("error_81044") == 2);
    }
}

TEST_CASE("cloudflare: hex case is irrelevant when comparing") {
    nlohmann::json seeded = nlohmann::json::array();
    nlohmann::json upper = foreign_record("_25._tcp.mail.example.net", digest('F'));
    upper["data"]["usage"] = 3;
    upper["data"]["selector"] = 1;
    upper["ttl"] = 300;
    seeded.push_back(upper);
    Fixture f(double_state(seeded));
    f.api.control({{"hex_case", "upper"}});
    auto provider = f.provider();
    auto listed = provider->list(zone, owner);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].record ==
          tlsa(owner, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
    int before = f.api.total_requests();
    provider->apply(ChangeSet{zone, {tlsa(owner, digest('f'))}, {}});  // already there
    CHECK(f.api.total_requests() == before);
    provider->apply(ChangeSet{zone, {}, {PublishedRecord{tlsa(owner, digest('f')), ""}}});
    CHECK(f.records_at("_25._tcp.mail.example.net") == 0);
}

TEST_CASE(
    "cloudflare: without the batch endpoint, single requests: creations first, then deletions") {
    Fixture f;
    f.api.control({{"batch_enabled", false}});
    auto provider = f.provider();
    provider->apply(ChangeSet{zone, {tlsa(owner, digest('a'))}, {}});
    CHECK(f.api.count("batch") == 1);
    CHECK(f.api.count("create") == 1);
    auto old = provider->list(zone, owner);
    provider->apply(ChangeSet{zone, {tlsa(owner, digest('b')), tlsa(owner, digest('c'))}, old});
    CHECK(f.api.count("batch") == 1);  // not asked again
    CHECK(f.api.count("create") == 3);
    CHECK(f.api.count("delete") == 1);
    CHECK(f.records_at("_25._tcp.mail.example.net") == 2);

    SUBCASE("batch: false in the settings never tries it") {
        auto singles = f.provider("    api_token_file: token\n    batch: false\n");
        singles->apply(ChangeSet{zone, {tlsa(owner, digest('d'))}, {}});
        CHECK(f.api.count("batch") == 1);
        CHECK(f.api.count("create") == 4);
    }
}

TEST_CASE("cloudflare: change sets over the operation limit are split, or fall back when refused") {
    Fixture f;
    SUBCASE("split by batch_limit") {
        auto provider = f.provider("    api_token_file: token\n    batch_limit: 2\n");
        provider->apply(ChangeSet{
            zone,
            {tlsa(owner, digest('a')), tlsa(owner, digest('b')), tlsa(owner, digest('c'))},
            {}});
        CHECK(f.api.count("batch") == 2);
        CHECK(f.records_at("_25._tcp.mail.example.net") == 3);
    }
    SUBCASE("the plan's limit is lower than configured") {
        f.api.control({{"batch_limit", 2}});
        auto provider = f.provider();
        provider->apply(ChangeSet{
            zone,
            {tlsa(owner, digest('a')), tlsa(owner, digest('b')), tlsa(owner, digest('c'))},
            {}});
        CHECK(f.api.count("batch") == 1);
        CHECK(f.api.count("error_81507") == 1);
        CHECK(f.api.count("create") == 3);
        CHECK(f.records_at("_25._tcp.mail.example.net") == 3);
    }
}

TEST_CASE("cloudflare: HTTP 429 waits for Retry-After") {
    Fixture f;
    auto provider = f.provider();
    f.api.control({{"faults", {{{"kind", "429"}, {"retry_after", 1}, {"count", 1}}}}});
    double taken = seconds_taken([&] { CHECK(provider->list(zone, owner).empty()); });
    CHECK(taken >= 1.0);
    CHECK(taken < 4.0);
    CHECK(f.api.count("fault_429") == 1);
    CHECK(f.api.count("list") == 1);

    // A wait beyond the retry budget is not waited for: the run fails at once, retryably.
    auto impatient = f.provider("    api_token_file: token\n    retry_budget: 5\n");
    f.api.control({{"faults", {{{"kind", "429"}, {"retry_after", 300}, {"count", 5}}}}});
    std::string message;
    taken = seconds_taken([&] {
        CHECK(failure_of([&] { impatient->list(zone, owner); }, &message) ==
              ProviderFailure::transient);
    });
    CHECK(taken < 2.0);
    CHECK(message.find("Retry-After 300") != std::string::npos);
    CHECK(message.find("code 971") != std::string::npos);
}

TEST_CASE(
    "cloudflare: server errors, malformed answers and dropped connections are retried, boundedly") {
    Fixture f;
    auto provider = f.provider("    api_token_file: token\n    retries: 2\n");
    SUBCASE("a 500, a malformed answer and a dropped connection, then success") {
        f.api.control(
            {{"faults", {{{"kind", "500"}, {"count", 1}}, {{"kind", "malformed"}, {"count", 1}}}}});
        CHECK(provider->list(zone, owner).empty());
        f.api.control({{"faults", {{{"kind", "drop"}, {"count", 1}}}}});
        provider->apply(ChangeSet{zone, {tlsa(owner, digest('a'))}, {}});
        CHECK(f.api.count("fault_drop") == 1);
        CHECK(f.records_at("_25._tcp.mail.example.net") == 1);
    }
    SUBCASE("a batch carried out whose answer is lost: the retry finds it done") {
        f.api.control({{"faults", {{{"kind", "lost_answer"}, {"path", "/batch"}, {"count", 1}}}}});
        provider->apply(ChangeSet{zone, {tlsa(owner, digest('a')), tlsa(owner, digest('b'))}, {}});
        CHECK(f.api.count("fault_lost_answer") == 1);
        CHECK(f.api.count("error_81058") >= 1);
        CHECK(f.records_at("_25._tcp.mail.example.net") == 2);
    }
    SUBCASE("a server that keeps failing: retries + 1 attempts, a few seconds at most") {
        f.api.control({{"faults", {{{"kind", "503"}, {"count", 100}}}}});
        std::string message;
        double taken = seconds_taken([&] {
            CHECK(failure_of([&] { provider->list(zone, owner); }, &message) ==
                  ProviderFailure::transient);
        });
        CHECK(f.api.count("fault_503") == 3);
        CHECK(taken < 5.0);
        CHECK(message.find("HTTP 503") != std::string::npos);
        CHECK(message.find("3 attempt") != std::string::npos);
    }
    SUBCASE("retries: 0 means one attempt") {
        auto once = f.provider("    api_token_file: token\n    retries: 0\n");
        f.api.control({{"faults", {{{"kind", "500"}, {"count", 100}}}}});
        CHECK(failure_of([&] { once->list(zone, owner); }) == ProviderFailure::transient);
        CHECK(f.api.count("fault_500") == 1);
    }
}

TEST_CASE("cloudflare: a bad token is a clear authentication error and changes nothing") {
    Fixture f;
    f.api.control({{"tokens", {"another-token"}}});
    auto provider = f.provider();
    std::string message;
    CHECK(failure_of(
              [&] {
                  provider->apply(ChangeSet{zone, {tlsa(owner, digest('a'))}, {}});
              },
              &message) == ProviderFailure::authentication);
    CHECK(message.find("HTTP 403") != std::string::npos);
    CHECK(message.find("code 10000: Authentication error") != std::string::npos);
    CHECK(message.find(token) == std::string::npos);
    CHECK(f.api.total_requests() == 1);  // no retries of an authentication failure
    CHECK(f.records_at("_25._tcp.mail.example.net") == 0);
}

TEST_CASE("cloudflare: TLS verification is always on") {
    Fixture f;
    write_text(f.dir / "provider.yaml", "");
    std::string text =
        "providers:\n  cf:\n    type: cloudflare\n    api_base: " + f.api.api_base() +
        "\n    api_token_file: token\n    zone_id: " + zone_id + "\n";
    write_text(f.dir / "danehook.yaml", text);
    auto root = YAML::LoadFile((f.dir / "danehook.yaml").string());
    auto provider =
        create_provider(Settings(f.dir / "danehook.yaml", root["providers"]["cf"], "providers.cf"));
    std::string message;
    CHECK(failure_of([&] { provider->list(zone, owner); }, &message) ==
          ProviderFailure::configuration);
    CHECK(f.api.total_requests() == 0);

    // http:// is refused when the configuration is read.
    write_text(f.dir / "danehook.yaml",
               "providers:\n  cf:\n    type: cloudflare\n    api_base: http://127.0.0.1:1/\n"
               "    api_token_file: token\n");
    root = YAML::LoadFile((f.dir / "danehook.yaml").string());
    CHECK_THROWS_AS(
        create_provider(Settings(f.dir / "danehook.yaml", root["providers"]["cf"], "providers.cf")),
        ConfigError);
}

TEST_CASE("cloudflare: credentials from every source, in order of preference") {
    Fixture f;
    auto works = [&](const std::string& extra) {
        auto provider = f.provider(extra);
        return provider->list(zone, owner).empty();
    };
    write_text(f.dir / "wrong-token", "not-the-token\n");
    ::chmod((f.dir / "wrong-token").c_str(), 0600);
    write_text(f.dir / "token.ini",
               "# certbot-dns-cloudflare\ndns_cloudflare_api_token = " + token + "\n");
    ::chmod((f.dir / "token.ini").c_str(), 0600);
    write_text(f.dir / "global.ini", "dns_cloudflare_email = " + email +
                                         "\ndns_cloudflare_api_key = " + global_key + "\n");
    ::chmod((f.dir / "global.ini").c_str(), 0600);

    write_text(f.dir / "bad-global.ini",
               "dns_cloudflare_email = " + email + "\ndns_cloudflare_api_key = nope\n");
    ::chmod((f.dir / "bad-global.ini").c_str(), 0600);

    CHECK(works("    api_token_file: token\n"));
    CHECK(works("    credentials: token.ini\n"));
    CHECK(works("    credentials: global.ini\n"));
    ::setenv("CF_Token", token.c_str(), 1);
    CHECK(works("    credentials: global.ini\n"));  // the environment comes before the INI file
    CHECK(f.api.count("auth_rejected") == 0);
    ::setenv("CLOUDFLARE_API_TOKEN", "not-the-token",
             1);  // and CLOUDFLARE_API_TOKEN before CF_Token
    CHECK(failure_of([&] { works(""); }) == ProviderFailure::authentication);
    CHECK(failure_of([&] { works("    api_token_file: wrong-token\n"); }) ==
          ProviderFailure::authentication);
    ::setenv("CLOUDFLARE_API_TOKEN", token.c_str(), 1);
    CHECK(works(""));
    // The token file comes before the environment.
    CHECK(failure_of([&] { works("    api_token_file: wrong-token\n"); }) ==
          ProviderFailure::authentication);
    ::unsetenv("CLOUDFLARE_API_TOKEN");
    ::unsetenv("CF_Token");
    ::setenv("CF_Key", global_key.c_str(), 1);
    ::setenv("CF_Email", email.c_str(), 1);
    CHECK(works("    credentials: bad-global.ini\n"));  // acme.sh's global key, before the INI file
    ::unsetenv("CF_Key");
    ::unsetenv("CF_Email");
    CHECK_THROWS_AS(f.provider(""), ConfigError);
    CHECK_THROWS_AS(f.provider("    api_token_file: missing-file\n"), ConfigError);

    // A wrong global key is refused with Cloudflare's code.
    std::string message;
    CHECK(failure_of([&] { works("    credentials: bad-global.ini\n"); }, &message) ==
          ProviderFailure::authentication);
    CHECK(message.find("code 9103") != std::string::npos);
}

TEST_CASE("cloudflare: credentials files readable by others are warned about") {
    Fixture f;
    LogCapture capture;
    f.provider();
    CHECK(capture.all().find("readable by group or others") == std::string::npos);
    ::chmod((f.dir / "token").c_str(), 0644);
    f.provider();
    CHECK(capture.all().find("readable by group or others") != std::string::npos);
    write_text(f.dir / "token.ini", "dns_cloudflare_api_token = " + token + "\n");
    ::chmod((f.dir / "token.ini").c_str(), 0640);
    capture.lines.clear();
    f.provider("    credentials: token.ini\n");
    CHECK(capture.all().find("token.ini: credentials file has mode 0640") != std::string::npos);
}

TEST_CASE("cloudflare: the token never appears in logs or errors, verbose or not") {
    Fixture f;
    LogCapture capture;
    auto provider = f.provider();
    std::string messages;
    provider->apply(ChangeSet{zone, {tlsa(owner, digest('a'))}, {}});
    f.api.control(
        {{"faults",
          {{{"kind", "500"}, {"count", 1}}, {{"kind", "429"}, {"retry_after", 0}, {"count", 1}}}}});
    provider->list(zone, owner);
    f.api.control({{"tokens", {"another-token"}}});
    failure_of([&] { provider->list(zone, owner); }, &messages);
    CHECK(capture.lines.size() >= 4);  // the verbose HTTP trace was on
    CHECK(capture.all().find("GET /zones/" + zone_id + "/dns_records") != std::string::npos);
    CHECK(capture.all().find(token) == std::string::npos);
    CHECK(capture.all().find("Bearer") == std::string::npos);
    CHECK(messages.find(token) == std::string::npos);
    CHECK(f.api.log().find(token) == std::string::npos);
}

TEST_CASE("cloudflare: zones are found by walking up the owner name, or from zone_id") {
    Fixture f;
    auto provider = f.provider();
    CHECK(provider->zone_for(owner, "") == zone);
    CHECK(f.api.count("zone_lookup") == 2);  // mail.example.net, then example.net
    CHECK(provider->zone_for("_443._tcp.www.example.net.", "") == zone);
    CHECK(f.api.count("zone_lookup") == 3);  // www.example.net; example.net is remembered
    CHECK(provider->zone_for(owner, zone) == zone);
    CHECK(f.api.count("zone_lookup") == 3);
    CHECK(failure_of([&] { provider->zone_for("_25._tcp.mail.example.com.", ""); }) ==
          ProviderFailure::not_found);
    CHECK(failure_of([&] { provider->zone_for(owner, "example.org."); }) ==
          ProviderFailure::configuration);

    auto pinned = f.provider("    api_token_file: token\n    zone_id: " + zone_id + "\n");
    int lookups = f.api.count("zone_lookup");
    CHECK(pinned->list(zone, owner).empty());
    CHECK(f.api.count("zone_lookup") == lookups);
    CHECK(f.api.count("zone_get") == 0);  // zone_id and the certificate's zone: no lookup at all
    CHECK(pinned->zone_for(owner, "") == zone);
    CHECK(f.api.count("zone_get") == 1);  // the name of zone_id, when the certificate has no zone
    CHECK(failure_of([&] { pinned->zone_for("_25._tcp.mail.example.org.", ""); }) ==
          ProviderFailure::configuration);
}

TEST_CASE("cloudflare: an ambiguous zone name is an error that asks for zone_id") {
    auto state = double_state();
    state["zones"].push_back({{"id", "1111111111111111111111111111111a"},
                              {"name", "example.net"},
                              {"status", "pending"}});
    state["zones"].push_back({{"id", "1111111111111111111111111111111b"},
                              {"name", "example.net"},
                              {"status", "pending"}});
    SUBCASE("one active zone among pending ones is the one") {
        Fixture f(state);
        auto provider = f.provider();
        CHECK(provider->list(zone, owner).empty());
    }
    SUBCASE("two active zones") {
        state["zones"][2]["status"] = "active";
        Fixture f(state);
        auto provider = f.provider();
        std::string message;
        CHECK(failure_of([&] { provider->list(zone, owner); }, &message) ==
              ProviderFailure::configuration);
        CHECK(message.find("zone_id") != std::string::npos);
    }
}

TEST_CASE(
    "cloudflare: authoritative servers are the zone's assigned name servers, or nameservers") {
    Fixture f;
    auto provider = f.provider();
    auto servers = provider->authoritative_servers(zone);
    CHECK(servers == std::vector<std::string>{"127.0.0.1:53", "[::1]:53"});
    auto configured =
        f.provider("    api_token_file: token\n    nameservers: [\"127.0.0.1:5300\"]\n");
    CHECK(configured->authoritative_servers(zone) == std::vector<std::string>{"127.0.0.1:5300"});
}

// Also run by bench/cloudflare_requests.sh, which reports the figures it prints.
TEST_CASE("cloudflare: API requests per rollover (bench)") {
    // The certificate entry names its zone (`zone: example.net`), as the engine passes it.
    // One certificate, two services (SMTP on 25 and submission on 465 of mail.example.net),
    // two record types (3 1 1 for the end entity, 2 1 1 for the issuing CA).
    const std::vector<std::string> owners{"_25._tcp.mail.example.net.",
                                          "_465._tcp.mail.example.net."};
    auto rollover = [&](Provider& provider, const std::string& configured_zone, char old_fill,
                        char new_fill) {
        ChangeSet changes;
        changes.zone = provider.zone_for(owners[0], configured_zone);
        for (const auto& name : owners) {
            for (const auto& record : provider.list(changes.zone, name)) {
                if (record.record.rdata.params.usage == Usage::dane_ee &&
                    record.record.rdata.data[0] == (old_fill == 'a' ? 0xaa : 0xbb)) {
                    changes.deletions.push_back(record);
                }
            }
            changes.additions.push_back(tlsa(name, digest(new_fill)));
            changes.additions.push_back(
                TlsaRecord{name, 300, TlsaRdata::parse("2 1 1 " + digest('9'))});
        }
        provider.apply(changes);
    };
    for (bool with_zone_id : {false, true}) {
        Fixture f;
        auto provider =
            f.provider(with_zone_id ? "    api_token_file: token\n    zone_id: " + zone_id + "\n"
                                    : "    api_token_file: token\n");
        // The first run publishes (the issuer records stay from then on).
        rollover(*provider, zone, 'x', 'a');
        f.api.control({{"reset_counts", true}});
        auto fresh =
            f.provider(with_zone_id ? "    api_token_file: token\n    zone_id: " + zone_id + "\n"
                                    : "    api_token_file: token\n");
        rollover(*fresh, zone, 'a', 'b');
        int lookups = f.api.count("zone_lookup") + f.api.count("zone_get");
        int lists = f.api.count("list");
        int batches = f.api.count("batch");
        int total = f.api.total_requests();
        std::string how = with_zone_id ? "zone_id set" : "zone looked up by name";
        MESSAGE("cloudflare rollover (" << how << "): " << total << " requests: " << lookups
                                        << " zone lookup(s), " << lists << " list(s) for 2 names, "
                                        << batches << " batch write(s)");
        CHECK(lookups == (with_zone_id ? 0 : 1));
        CHECK(lists == 2);
        CHECK(batches == 1);
        CHECK(total == lookups + lists + batches);
        CHECK(f.records_at("_25._tcp.mail.example.net") == 2);
        CHECK(f.records_at("_465._tcp.mail.example.net") == 2);
    }
}

TEST_CASE(
    "cloudflare: the double is as strict as Cloudflare about TLSA bodies (checks the checker)") {
    Fixture f;
    cloudflare::ClientOptions options;
    options.api_base = f.api.api_base();
    options.ca_file = f.api.ca_file().string();
    options.retry.retries = 0;
    cloudflare::Client client(
        cloudflare::Credentials{cloudflare::Credentials::Kind::api_token, token, "", {}, "test"},
        options);
    const std::string records = "/zones/" + zone_id + "/dns_records";
    auto code_of = [&](const std::string& method, const std::string& path,
                       std::optional<nlohmann::json> body) {
        try {
            client.call(method, path, body);
        } catch (const cloudflare::ApiError& e) {
            return e.errors().empty() ? -1L : e.errors()[0].code;
        }
        return 0L;
    };
    nlohmann::json good = {
        {"type", "TLSA"},
        {"name", "_25._tcp.mail.example.net"},
        {"ttl", 300},
        {"data",
         {{"usage", 3}, {"selector", 1}, {"matching_type", 1}, {"certificate", digest('a')}}}};
    auto with_content = good;
    with_content["content"] = "3 1 1 " + digest('a');
    CHECK(code_of("POST", records, with_content) == 9005);
    auto string_usage = good;
    string_usage["data"]["usage"] = "3";
    CHECK(code_of("POST", records, string_usage) == 9101);
    auto bad_ttl = good;
    bad_ttl["ttl"] = 30;
    CHECK(code_of("POST", records, bad_ttl) == 9021);
    CHECK(code_of("GET", records + "?type=TLSA&name=x.example.net&per_page=100&page=1&order=type",
                  std::nullopt) == 1004);
    CHECK(code_of("POST", records, good) == 0);
    CHECK(code_of("POST", records, good) == 81058);
    CHECK(code_of("DELETE", records + "/00000000000000000000000000000000", std::nullopt) == 81044);
    CHECK(code_of("GET", "/zones/ffffffffffffffffffffffffffffffff", std::nullopt) == 7003);
    CHECK(f.records_at("_25._tcp.mail.example.net") == 1);
}

TEST_CASE("cloudflare: a zone_id of another zone is caught when a record lands at the wrong name") {
    Fixture f;
    auto provider =
        f.provider("    api_token_file: token\n    zone_id: 9a7806061c88ada191ed06f989cc3dac\n");
    std::string message;
    CHECK(failure_of(
              [&] {
                  provider->apply(ChangeSet{zone, {tlsa(owner, digest('a'))}, {}});
              },
              &message) == ProviderFailure::configuration);
    CHECK(message.find("zone_id") != std::string::npos);
}

TEST_CASE("cloudflare: API secrets from the environment are not passed to the programs danehook runs") {
    Fixture f;
    ::setenv("CF_Token", token.c_str(), 1);
    ::setenv("CF_Key", global_key.c_str(), 1);
    ::setenv("CF_Email", email.c_str(), 1);
    ::setenv("DANEHOOK_TEST_HARMLESS", "kept", 1);
    auto provider = f.provider("    api_token_file: token\n");  // the file wins; the variables are still withheld
    CHECK(provider->list(zone, owner).empty());
    auto child = run_command({"env"});
    REQUIRE(child.ok());
    CHECK(child.output.find(token) == std::string::npos);
    CHECK(child.output.find(global_key) == std::string::npos);
    CHECK(child.output.find("CF_Email=" + email) != std::string::npos);  // not a secret
    CHECK(child.output.find("DANEHOOK_TEST_HARMLESS=kept") != std::string::npos);
    ::unsetenv("DANEHOOK_TEST_HARMLESS");
}
