// `type: exec` against the example provider in contrib/ and against programs that misbehave.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "danehook/error.hpp"
#include "providers/conformance/conformance.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone = "example.net.";
const std::string owner = "_25._tcp.mail.example.net.";

std::filesystem::path example_provider() {
    return source_dir() / "contrib" / "danehook-provider-jsonfile";
}

std::string yaml_list(const std::vector<std::string>& items) {
    std::string text = "[";
    for (const auto& item : items)
        text += (text.size() > 1 ? ", " : "") + nlohmann::json(item).dump();
    return text + "]";
}

TlsaRecord record(char fill) {
    return TlsaRecord{owner, 3600, TlsaRdata::parse("3 1 1 " + std::string(64, fill))};
}

ChangeSet adding(std::vector<TlsaRecord> records) {
    ChangeSet changes;
    changes.zone = zone;
    changes.additions = std::move(records);
    return changes;
}

// A program that speaks the protocol for `capabilities` and then misbehaves as told by its
// first argument on every other operation.
const char* misbehaving_program = R"PY(
import json, os, signal, sys, time
mode = sys.argv[1]
request = json.loads(sys.stdin.read())
def answer(body, status=0):
    print(json.dumps(dict(protocol=1, **body)))
    sys.exit(status)
if request["operation"] == "capabilities":
    if mode == "no-apply":
        answer(dict(ok=True, operations=["list"]))
    if mode == "version-2":
        print(json.dumps(dict(protocol=2, ok=True, operations=["list", "apply"])))
        sys.exit(0)
    answer(dict(ok=True, operations=["capabilities", "list", "apply", "nameservers"]))
if mode == "crash":
    os.kill(os.getpid(), signal.SIGSEGV)
if mode == "hang":
    time.sleep(60)
if mode == "hang-child":
    # A grandchild that keeps standard output open: the whole process group must go.
    os.spawnlp(os.P_NOWAIT, "sleep", "sleep", "60")
    time.sleep(60)
if mode == "garbage":
    sys.stdout.write("Traceback (most recent call last):\n  \x01\x02 not json\n")
    sys.exit(0)
if mode == "exit-3":
    sys.stderr.write("backend exploded: database locked\n")
    sys.exit(3)
if mode == "ok-but-exit-1":
    answer(dict(ok=True, records=[]), 1)
if mode.startswith("kind-"):
    answer(dict(ok=False, error=dict(kind=mode[5:], message="the API said no")), 1)
if mode == "no-error-object":
    answer(dict(ok=False), 1)
if mode == "wrong-owner":
    answer(dict(ok=True, records=[dict(owner="_443._tcp.www.example.net.", ttl=300, rdata="3 1 1 AA")]))
if mode == "bad-rdata":
    answer(dict(ok=True, records=[dict(owner=request.get("owner"), ttl=300, rdata="3 1 1 XYZ")]))
if mode == "nameservers":
    answer(dict(ok=True, nameservers=["192.0.2.53", "[2001:db8::53]:5353"]))
if mode == "environment":
    answer(dict(ok=True, records=[dict(owner=request["owner"], ttl=int(os.environ["TEST_TTL"]),
                                       rdata="3 1 1 " + os.environ["DANEHOOK_EXEC_PROTOCOL"] * 2)]))
if mode == "flaky":
    counter = sys.argv[2]
    count = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(count + 1))
    if count == 0:
        answer(dict(ok=False, error=dict(kind="transient", message="try again")), 1)
    answer(dict(ok=True, records=[]))
answer(dict(ok=False, error=dict(kind="configuration", message="unknown mode " + mode)), 1)
)PY";

struct Fixture {
    TempDir dir;
    std::filesystem::path program = dir / "misbehaving.py";
    Fixture() { write_text(program, misbehaving_program); }

    std::unique_ptr<Provider> misbehaving(const std::vector<std::string>& arguments,
                                          int timeout = 5, int retries = 0,
                                          const std::string& extra = "") const {
        std::vector<std::string> command{"python3", program.string()};
        command.insert(command.end(), arguments.begin(), arguments.end());
        return make_registered_provider(
            "type: exec\ncommand: " + yaml_list(command) + "\nzone: example.net\ntimeout: " +
                std::to_string(timeout) + "\nretries: " + std::to_string(retries) + "\n" + extra,
            dir / "danehook.yaml", "odd");
    }
};

// Runs `operation` and returns the ProviderError it throws (fails the test when none).
template <typename Operation>
ProviderError provider_error(Operation operation) {
    try {
        operation();
    } catch (const ProviderError& e) {
        return e;
    }
    FAIL("no ProviderError");
    return ProviderError(ProviderFailure::transient, "");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("exec provider conformance with the example provider (contrib/)") {
    if (!have_program("python3")) {
        MESSAGE("python3 not installed: skipped");
        return;
    }
    TempDir dir;
    auto store = dir / "tlsa.json";
    ConformanceTarget target;
    target.zone = zone;
    target.owner = owner;
    target.observable = false;  // the example serves no DNS; nameservers are checked below
    target.make_provider = [&] {
        return make_registered_provider(
            "type: exec\ncommand: " +
                yaml_list({example_provider().string(), "--store", store.string()}) +
                "\nzone: example.net\n",
            dir / "danehook.yaml", "jsonfile");
    };
    target.add_foreign = [&](const TlsaRecord& r) {
        nlohmann::json data = std::filesystem::exists(store)
                                  ? nlohmann::json::parse(read_text(store))
                                  : nlohmann::json{{"records", nlohmann::json::array()}};
        data["records"].push_back({{"owner", r.owner},
                                   {"ttl", r.ttl},
                                   {"rdata", r.rdata.presentation()},
                                   {"id", "hand-made"}});
        write_text(store, data.dump());
    };
    run_provider_conformance(target);
}

TEST_CASE("the example provider: ids, nameservers, tokens from the environment, bad requests") {
    if (!have_program("python3")) {
        MESSAGE("python3 not installed: skipped");
        return;
    }
    TempDir dir;
    auto store = dir / "tlsa.json";
    auto config = [&](const std::string& extra) {
        return make_registered_provider(
            "type: exec\ncommand: " +
                yaml_list({example_provider().string(), "--store", store.string(), "--nameserver",
                           "127.0.0.1:5353", "--nameserver", "::1"}) +
                "\nzone: example.net\n" + extra,
            dir / "danehook.yaml", "jsonfile");
    };
    auto provider = config("");
    provider->apply(adding({record('A')}));
    auto listed = provider->list(zone, owner);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id.size() == 32);  // the program's own record id is passed through
    CHECK(provider->authoritative_servers(zone) ==
          std::vector<std::string>{"127.0.0.1:5353", "[::1]:53"});
    // The common `nameservers` setting overrides the program's answer.
    CHECK(config("nameservers: [192.0.2.1]\n")->authoritative_servers(zone) ==
          std::vector<std::string>{"192.0.2.1"});

    SUBCASE("a token held by the store is required and checked, never passed in argv") {
        auto data = nlohmann::json::parse(read_text(store));
        data["token"] = "s3cret-token";
        write_text(store, data.dump());
        auto no_token = provider_error([&] { config("")->list(zone, owner); });
        CHECK(no_token.failure() == ProviderFailure::authentication);
        CHECK(std::string(no_token.what()).find("DANEHOOK_JSONFILE_TOKEN_FILE") !=
              std::string::npos);

        write_text(dir / "token", "wrong\n");
        auto wrong = provider_error([&] {
            config("environment: {DANEHOOK_JSONFILE_TOKEN_FILE: " + (dir / "token").string() +
                   "}\n")
                ->list(zone, owner);
        });
        CHECK(wrong.failure() == ProviderFailure::authentication);
        CHECK(std::string(wrong.what()).find("s3cret") == std::string::npos);

        write_text(dir / "token", "s3cret-token\n");
        auto with_token = config(
            "environment: {DANEHOOK_JSONFILE_TOKEN_FILE: " + (dir / "token").string() + "}\n");
        CHECK(with_token->list(zone, owner).size() == 1);
    }

    SUBCASE("a record outside the zone is rejected by the program") {
        ChangeSet outside =
            adding({TlsaRecord{"_25._tcp.mail.example.org.", 3600, record('B').rdata}});
        auto error = provider_error([&] { provider->apply(outside); });
        CHECK(error.failure() == ProviderFailure::rejected);
        CHECK(std::string(error.what()).find("outside zone example.net.") != std::string::npos);
        CHECK(provider->list(zone, owner).size() == 1);
    }

    SUBCASE("a corrupt store is a configuration error naming the file") {
        write_text(store, "{not json");
        auto error = provider_error([&] { provider->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::configuration);
        CHECK(std::string(error.what()).find(store.string()) != std::string::npos);
    }
}

TEST_CASE("programs that misbehave give a clear ProviderError in bounded time") {
    if (!have_program("python3")) {
        MESSAGE("python3 not installed: skipped");
        return;
    }
    Fixture f;
    auto start = std::chrono::steady_clock::now();

    SUBCASE("crash") {
        auto error = provider_error([&] { f.misbehaving({"crash"})->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::transient);
        CHECK(std::string(error.what()) ==
              "exec provider 'odd': list: python3 was killed by a signal");
    }
    SUBCASE("hang: killed at the timeout, no retry beyond the configured ones") {
        auto error = provider_error([&] { f.misbehaving({"hang"}, 1)->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::transient);
        CHECK(std::string(error.what()).find("did not finish within 1000 ms and was killed") !=
              std::string::npos);
        CHECK(seconds_since(start) < 5);
    }
    SUBCASE("hang with a grandchild holding standard output") {
        auto error = provider_error(
            [&] { f.misbehaving({"hang-child"}, 1, 1)->apply(adding({record('A')})); });
        CHECK(error.failure() == ProviderFailure::transient);
        CHECK(std::string(error.what()).find("did not finish") != std::string::npos);
        CHECK(seconds_since(start) < 8);  // two attempts of 1 s, a short pause, the kill grace
    }
    SUBCASE("garbage on standard output") {
        auto error = provider_error([&] { f.misbehaving({"garbage"})->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::configuration);
        CHECK(std::string(error.what())
                  .find("protocol error: standard output is not one JSON object (starts with "
                        "'Traceback") != std::string::npos);
    }
    SUBCASE("non-zero exit without a response") {
        auto error = provider_error([&] { f.misbehaving({"exit-3"})->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::transient);
        CHECK(std::string(error.what()) ==
              "exec provider 'odd': list: python3 exited with status 3: backend exploded: database "
              "locked");
    }
    SUBCASE("ok with a non-zero exit status") {
        auto error = provider_error([&] { f.misbehaving({"ok-but-exit-1"})->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::transient);
    }
    SUBCASE("error kinds map to ProviderFailure") {
        const std::vector<std::pair<std::string, ProviderFailure>> kinds{
            {"configuration", ProviderFailure::configuration},
            {"authentication", ProviderFailure::authentication},
            {"not_found", ProviderFailure::not_found},
            {"rejected", ProviderFailure::rejected},
            {"transient", ProviderFailure::transient},
            {"gremlins", ProviderFailure::transient}};
        for (const auto& [kind, failure] : kinds) {
            auto error = provider_error(
                [&] { f.misbehaving({"kind-" + kind})->apply(adding({record('A')})); });
            CHECK(error.failure() == failure);
            CHECK(std::string(error.what()).find("exec provider 'odd': apply: the API said no") ==
                  0);
        }
    }
    SUBCASE("failure without an error object") {
        CHECK(provider_error([&] {
                  f.misbehaving({"no-error-object"})->list(zone, owner);
              }).failure() == ProviderFailure::configuration);
    }
    SUBCASE("a listing at another owner or with bad data") {
        auto wrong_owner =
            provider_error([&] { f.misbehaving({"wrong-owner"})->list(zone, owner); });
        CHECK(
            std::string(wrong_owner.what()).find("listed a record at _443._tcp.www.example.net.") !=
            std::string::npos);
        auto bad = provider_error([&] { f.misbehaving({"bad-rdata"})->list(zone, owner); });
        CHECK(bad.failure() == ProviderFailure::configuration);
        CHECK(std::string(bad.what()).find("bad record") != std::string::npos);
    }
    SUBCASE("protocol version and capabilities are checked first") {
        auto version = provider_error([&] { f.misbehaving({"version-2"})->list(zone, owner); });
        CHECK(std::string(version.what()).find("program speaks protocol 2, danehook speaks 1") !=
              std::string::npos);
        auto no_apply = provider_error([&] { f.misbehaving({"no-apply"})->list(zone, owner); });
        CHECK(std::string(no_apply.what()).find("must support 'list' and 'apply'") !=
              std::string::npos);
    }
    SUBCASE("a program that does not exist") {
        auto provider = make_registered_provider(
            "type: exec\ncommand: [/nonexistent/dns-tool]\nzone: example.net\n",
            f.dir / "danehook.yaml", "odd");
        auto error = provider_error([&] { provider->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::configuration);
        CHECK(std::string(error.what()).find("cannot run /nonexistent/dns-tool") !=
              std::string::npos);
    }
    CHECK(seconds_since(start) < 10);
}

TEST_CASE("exec provider: retries, environment, nameservers, settings") {
    if (!have_program("python3")) {
        MESSAGE("python3 not installed: skipped");
        return;
    }
    Fixture f;
    SUBCASE("a transient failure is retried") {
        auto counter = f.dir / "count";
        CHECK(f.misbehaving({"flaky", counter.string()}, 5, 1)->list(zone, owner).empty());
        CHECK(read_text(counter) == "2");
        std::filesystem::remove(counter);
        CHECK(provider_error([&] {
                  f.misbehaving({"flaky", counter.string()}, 5, 0)->list(zone, owner);
              }).failure() == ProviderFailure::transient);
    }
    SUBCASE("the environment setting and the protocol version reach the program") {
        auto listed = f.misbehaving({"environment"}, 5, 0, "environment: {TEST_TTL: 1234}\n")
                          ->list(zone, owner);
        REQUIRE(listed.size() == 1);
        CHECK(listed[0].record.ttl == 1234);
        CHECK(listed[0].record.rdata == TlsaRdata::parse("3 1 1 11"));
    }
    SUBCASE("nameservers from the program") {
        CHECK(f.misbehaving({"nameservers"})->authoritative_servers(zone) ==
              std::vector<std::string>{"192.0.2.53:53", "[2001:db8::53]:5353"});
    }
    SUBCASE("settings are validated") {
        auto yaml = f.dir / "danehook.yaml";
        CHECK_THROWS_WITH_AS(make_registered_provider("type: exec\ncommand: []\n", yaml),
                             doctest::Contains("must name the program"), ConfigError);
        CHECK_THROWS_WITH_AS(
            make_registered_provider("type: exec\ncommand: [x]\nenvironment: {1BAD: x}\n", yaml),
            doctest::Contains("not a valid environment variable name"), ConfigError);
        CHECK_THROWS_WITH_AS(
            make_registered_provider("type: exec\ncommand: [x]\napi_key: x\n", yaml),
            doctest::Contains("unknown key"), ConfigError);
        auto provider = make_registered_provider("type: exec\ncommand: [x]\n", yaml);
        CHECK(provider->zone_for(owner, "example.net.") == zone);
        CHECK_THROWS_AS(provider->zone_for(owner, ""), ProviderError);
        CHECK_THROWS_AS(provider->zone_for(owner, "example.org."), ProviderError);
    }
}
