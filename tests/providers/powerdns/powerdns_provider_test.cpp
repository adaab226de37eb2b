// `type: powerdns` against a real pdns_server (sqlite3 backend, API on, zone DNSSEC-signed by
// PowerDNS) started on loopback by the test. Skips when PowerDNS is not installed.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <chrono>
#include <thread>

#include "danehook/dns_query.hpp"
#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "providers/conformance/conformance.hpp"
#include "providers/powerdns/powerdns_provider.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone = "example.net.";
const std::string owner = "_25._tcp.mail.example.net.";
const std::string api_key = "pdns-test-key-4f9c2d";

std::filesystem::path sqlite_schema() {
    for (const char* candidate : {"/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
                                  "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"}) {
        if (std::filesystem::exists(candidate)) return candidate;
    }
    return {};
}

bool powerdns_available() {
    return have_program("pdns_server") && have_program("pdnsutil") && have_program("sqlite3") &&
           !sqlite_schema().empty();
}

bool accepts_connections(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

void must(const CommandResult& result, const std::string& what) {
    if (!result.ok())
        throw std::runtime_error(what + " " + result.describe() + "\n" + result.output +
                                 result.errors);
}

// One pdns_server for the whole test program: its own directory, sqlite database, DNS and API
// ports on 127.0.0.1. The server dies with the test process (PR_SET_PDEATHSIG) even on a crash.
class PdnsServer {
  public:
    PdnsServer() {
        dns_port_ = free_port();
        do {
            api_port_ = free_port();
        } while (api_port_ == dns_port_);
        auto db = dir_ / "pdns.sqlite3";
        must(run_command({"sh", "-c", "sqlite3 \"$1\" < \"$2\"", "sh", db.string(),
                          sqlite_schema().string()}),
             "sqlite3 schema");
        write_text(dir_ / "pdns.conf",
                   "launch=gsqlite3\n"
                   "gsqlite3-database=" +
                       db.string() +
                       "\n"
                       "gsqlite3-dnssec=yes\n"
                       "local-address=127.0.0.1\n"
                       "local-port=" +
                       std::to_string(dns_port_) +
                       "\n"
                       "api=yes\n"
                       "api-key=" +
                       api_key +
                       "\n"
                       "webserver=yes\n"
                       "webserver-address=127.0.0.1\n"
                       "webserver-port=" +
                       std::to_string(api_port_) +
                       "\n"
                       "webserver-allow-from=127.0.0.0/8\n"
                       "socket-dir=" +
                       dir_.path().string() +
                       "\n"
                       "daemon=no\nguardian=no\n"
                       "cache-ttl=0\nquery-cache-ttl=0\nnegquery-cache-ttl=0\nzone-cache-refresh-"
                       "interval=0\n"
                       "loglevel=4\n");
        pdnsutil({"create-zone", "example.net", "ns1.example.net"});
        pdnsutil({"add-record", "example.net", "ns1", "A", "3600", "192.0.2.53"});
        pdnsutil({"secure-zone", "example.net"});
        pdnsutil({"set-meta", "example.net", "SOA-EDIT-API", "DEFAULT"});
        pdnsutil({"rectify-zone", "example.net"});
        start();
    }
    ~PdnsServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            for (int i = 0; i < 50 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    void pdnsutil(std::vector<std::string> arguments) const {
        arguments.insert(arguments.begin(), {"pdnsutil", "--config-dir=" + dir_.path().string()});
        CommandOptions options;
        options.timeout = std::chrono::seconds(30);
        must(run_command(arguments, options), "pdnsutil " + arguments[2]);
    }
    std::string api_url() const { return "http://127.0.0.1:" + std::to_string(api_port_); }
    std::string dns_endpoint() const { return "127.0.0.1:" + std::to_string(dns_port_); }
    int api_port() const { return api_port_; }
    const std::filesystem::path& directory() const { return dir_.path(); }

    static PdnsServer& shared() {
        static PdnsServer server;
        return server;
    }

  private:
    void start() {
        auto log_path = dir_ / "pdns.log";
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            std::string config_dir = "--config-dir=" + dir_.path().string();
            ::execlp("pdns_server", "pdns_server", config_dir.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            auto answer = query_authoritative(DnsServer::parse(dns_endpoint()), zone, zone,
                                              QueryOptions{std::chrono::milliseconds(300), 1});
            if (answer.answered && answer.soa_serial && accepts_connections(api_port_)) return;
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        throw std::runtime_error("pdns_server did not come up:\n" + read_text(log_path));
    }

    TempDir dir_;
    int dns_port_ = 0;
    int api_port_ = 0;
    pid_t pid_ = -1;
};

std::filesystem::path write_key(const TempDir& dir, const std::string& key = api_key,
                                mode_t mode = 0600) {
    auto path = dir / "pdns.key";
    write_text(path, key + "\n");
    ::chmod(path.c_str(), mode);
    return path;
}

std::unique_ptr<Provider> make_provider(const TempDir& dir, const PdnsServer& server,
                                        const std::string& extra = "",
                                        const std::string& key = api_key) {
    return make_registered_provider("type: powerdns\napi_url: " + server.api_url() +
                                        "\napi_key_file: " + write_key(dir, key).string() +
                                        "\nnameservers: [" + server.dns_endpoint() +
                                        "]\ntimeout: 5\n" + extra,
                                    dir / "danehook.yaml", "pdns");
}

std::string relative(const std::string& name) {
    return name.substr(0, name.size() - zone.size() - 1);
}

TlsaRecord record(char fill, const std::string& at = owner, std::uint32_t ttl = 3600) {
    return TlsaRecord{at, ttl, TlsaRdata::parse("3 1 1 " + std::string(64, fill))};
}

ChangeSet adding(std::vector<TlsaRecord> records) {
    ChangeSet changes;
    changes.zone = zone;
    changes.additions = std::move(records);
    return changes;
}

void reset(const PdnsServer& server, const std::vector<std::string>& names) {
    for (const auto& name : names)
        server.pdnsutil({"delete-rrset", "example.net", relative(name), "TLSA"});
}

void add_foreign(const PdnsServer& server, const TlsaRecord& r) {
    server.pdnsutil({"add-record", "example.net", relative(r.owner), "TLSA", std::to_string(r.ttl),
                     r.rdata.presentation()});
}

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

}  // namespace

TEST_CASE("powerdns provider conformance (real pdns_server, DNSSEC-signed zone)") {
    if (!powerdns_available()) {
        MESSAGE("pdns_server, pdnsutil, sqlite3 or the sqlite3 schema not installed: skipped");
        return;
    }
    auto& server = PdnsServer::shared();
    TempDir dir;
    ConformanceTarget target;
    target.zone = zone;
    target.owner = owner;
    target.make_provider = [&] { return make_provider(dir, server); };
    target.add_foreign = [&](const TlsaRecord& r) { add_foreign(server, r); };
    target.reset = [&] { reset(server, {owner, "_465._tcp.mail.example.net."}); };
    run_provider_conformance(target);
}

TEST_CASE(
    "powerdns: records are served signed, foreign records and comments survive, zone discovery") {
    if (!powerdns_available()) {
        MESSAGE("PowerDNS not installed: skipped");
        return;
    }
    auto& server = PdnsServer::shared();
    reset(server, {owner});
    TempDir dir;
    auto provider = make_provider(dir, server);

    SUBCASE("served over DNS with an RRSIG made by PowerDNS") {
        provider->apply(adding({record('A', owner, 600)}));
        auto answer = query_authoritative(DnsServer::parse(server.dns_endpoint()), zone, owner);
        REQUIRE(answer.answered);
        CHECK(answer.rrset == std::vector<TlsaRdata>{record('A').rdata});
        if (have_program("dig")) {
            auto dig = run_command({"dig", "@127.0.0.1", "-p", server.dns_endpoint().substr(10),
                                    "+dnssec", "+norec", "TLSA", owner});
            REQUIRE(dig.ok());
            CHECK(dig.output.find("RRSIG\tTLSA 13 5 600") != std::string::npos);
        } else {
            MESSAGE("dig not installed: RRSIG not checked");
        }
    }

    SUBCASE("a disabled foreign record stays disabled; adding the same data enables it") {
        add_foreign(server, record('F'));
        // Disable it through the API the way an operator would.
        auto key = write_key(dir);
        auto body = R"({"rrsets":[{"name":")" + owner +
                    R"(","type":"TLSA","changetype":"REPLACE","ttl":3600,"records":[{"content":")" +
                    record('F').rdata.presentation() + R"(","disabled":true},{"content":")" +
                    record('E').rdata.presentation() + R"(","disabled":false}]}]})";
        if (!have_program("curl")) {
            MESSAGE("curl not installed: skipped");
            return;
        }
        must(run_command({"curl", "-sf", "-X", "PATCH", "-H", "X-API-Key: " + api_key, "-H",
                          "Content-Type: application/json", "--data", body,
                          server.api_url() + "/api/v1/servers/localhost/zones/example.net."}),
             "curl PATCH");
        auto listed = provider->list(zone, owner);
        REQUIRE(listed.size() == 1);  // disabled records are not served, so not listed
        CHECK(listed[0].record.rdata == record('E').rdata);
        provider->apply(adding({record('A')}));
        // Still in the database, still disabled.
        auto rows =
            run_command({"sqlite3", (server.directory() / "pdns.sqlite3").string(),
                         "select disabled, upper(content) from records where type = 'TLSA'"});
        INFO(rows.output << rows.errors);
        CHECK(rows.output.find("1|" + record('F').rdata.presentation()) != std::string::npos);
        CHECK(provider->list(zone, owner).size() == 2);  // E and A; F still disabled
        provider->apply(adding({record('F')}));
        CHECK(provider->list(zone, owner).size() == 3);
    }

    SUBCASE("comments on the RRset are kept") {
        if (!have_program("curl")) {
            MESSAGE("curl not installed: skipped");
            return;
        }
        add_foreign(server, record('F'));
        auto body =
            R"({"rrsets":[{"name":")" + owner +
            R"(","type":"TLSA","changetype":"REPLACE","comments":[{"content":"pinned by the mail team","account":"ops"}]}]})";
        must(run_command({"curl", "-sf", "-X", "PATCH", "-H", "X-API-Key: " + api_key, "-H",
                          "Content-Type: application/json", "--data", body,
                          server.api_url() + "/api/v1/servers/localhost/zones/example.net."}),
             "curl PATCH");
        provider->apply(adding({record('A')}));
        ChangeSet removal;
        removal.zone = zone;
        removal.deletions.push_back(PublishedRecord{record('A'), ""});
        provider->apply(removal);
        auto rows = run_command({"sqlite3", (server.directory() / "pdns.sqlite3").string(),
                                 "select account, comment from comments where type = 'TLSA'"});
        CHECK(rows.output == "ops|pinned by the mail team\n");
        CHECK(provider->list(zone, owner).size() == 1);
    }

    SUBCASE("the zone is discovered from the owner name") {
        CHECK(provider->zone_for(owner, "") == zone);
        CHECK(provider->zone_for(owner, zone) == zone);
        auto missing =
            provider_error([&] { provider->zone_for("_25._tcp.mail.example.org.", ""); });
        CHECK(missing.failure() == ProviderFailure::not_found);
        auto configured_missing = provider_error(
            [&] { provider->zone_for("_25._tcp.mail.example.org.", "example.org."); });
        CHECK(configured_missing.failure() == ProviderFailure::not_found);
    }
}

TEST_CASE("powerdns: a change made while merging is merged, not overwritten") {
    if (!powerdns_available()) {
        MESSAGE("PowerDNS not installed: skipped");
        return;
    }
    auto& server = PdnsServer::shared();
    reset(server, {owner});
    TempDir dir;
    powerdns::PowerDnsConfig config;
    config.name = "pdns";
    config.api_url = server.api_url() + "/api/v1/";
    config.api_key_file = write_key(dir);
    powerdns::PowerDnsProvider provider(config);
    provider.apply(adding({record('A')}));

    int hook_calls = 0;
    provider.set_before_guard_hook([&] {
        if (hook_calls++ == 0) add_foreign(server, record('F'));  // another tool writes meanwhile
    });
    ChangeSet rollover = adding({record('B')});
    rollover.deletions.push_back(PublishedRecord{record('A'), ""});
    provider.apply(rollover);
    CHECK(hook_calls == 2);  // the guard saw the change and merged again
    auto listed = provider.list(zone, owner);
    std::vector<TlsaRdata> data;
    for (const auto& item : listed) data.push_back(item.record.rdata);
    std::sort(data.begin(), data.end());
    CHECK(data == std::vector<TlsaRdata>{record('B').rdata, record('F').rdata});

    SUBCASE("an RRset that never settles is a transient error after bounded attempts") {
        char fill = '0';  // '0'..'4': never the record being added
        provider.set_before_guard_hook([&] { add_foreign(server, record(fill++)); });
        auto error = provider_error([&] { provider.apply(adding({record('D')})); });
        CHECK(error.failure() == ProviderFailure::transient);
        CHECK(std::string(error.what()).find("kept changing during 5 merge attempts") !=
              std::string::npos);
    }
}

TEST_CASE("powerdns: credentials and failures") {
    if (!powerdns_available()) {
        MESSAGE("PowerDNS not installed: skipped");
        return;
    }
    auto& server = PdnsServer::shared();
    TempDir dir;
    std::vector<std::string> logged;
    log::set_sink([&](log::Level, const std::string& line) { logged.push_back(line); });

    SUBCASE("a wrong key is an authentication failure that does not show either key") {
        auto provider = make_provider(dir, server, "", "wrong-key-123");
        auto error = provider_error([&] { provider->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("HTTP 401") != std::string::npos);
        CHECK(std::string(error.what()).find("wrong-key-123") == std::string::npos);
    }
    SUBCASE("a permissive key file is warned about; the key never reaches the log") {
        auto key = write_key(dir, api_key, 0644);
        auto provider = make_registered_provider("type: powerdns\napi_url: " + server.api_url() +
                                                     "\napi_key_file: " + key.string() + "\n",
                                                 dir / "danehook.yaml", "pdns");
        log::set_verbose(true);
        provider->apply(adding({record('A')}));
        log::set_verbose(false);
        bool warned = std::any_of(logged.begin(), logged.end(), [&](const std::string& line) {
            return line.find(key.string()) != std::string::npos;
        });
        CHECK(warned);
        for (const auto& line : logged) CHECK(line.find(api_key) == std::string::npos);
    }
    SUBCASE("nothing listening: transient, within the timeout and retries") {
        int port = free_port();
        auto provider = make_registered_provider(
            "type: powerdns\napi_url: http://127.0.0.1:" + std::to_string(port) +
                "\napi_key_file: " + write_key(dir).string() + "\nretries: 1\n",
            dir / "danehook.yaml", "pdns");
        auto start = std::chrono::steady_clock::now();
        auto error = provider_error([&] { provider->list(zone, owner); });
        CHECK(error.failure() == ProviderFailure::transient);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    }
    SUBCASE("a server that accepts but never answers times out") {
        // A listening socket nobody accepts from: curl connects, then waits for the answer.
        int port = free_port();
        CommandOptions options;
        auto provider = make_registered_provider(
            "type: powerdns\napi_url: http://127.0.0.1:" + std::to_string(port) +
                "\napi_key_file: " + write_key(dir).string() + "\ntimeout: 1\nretries: 0\n",
            dir / "danehook.yaml", "pdns");
        pid_t listener = ::fork();
        if (listener == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::execlp(
                "python3", "python3", "-c",
                "import "
                "socket,sys,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_"
                "REUSEADDR,1)\n"
                "s.bind(('127.0.0.1',int(sys.argv[1])))\ns.listen(5)\nc=s.accept()\ntime.sleep(30)",
                std::to_string(port).c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        auto start = std::chrono::steady_clock::now();
        auto error = provider_error([&] { provider->list(zone, owner); });
        auto elapsed = std::chrono::steady_clock::now() - start;
        ::kill(listener, SIGKILL);
        ::waitpid(listener, nullptr, 0);
        CHECK(error.failure() == ProviderFailure::transient);
        CHECK(elapsed < std::chrono::seconds(4));
    }
    SUBCASE("settings are checked") {
        auto yaml = dir / "danehook.yaml";
        CHECK_THROWS_WITH_AS(
            make_registered_provider("type: powerdns\napi_url: ftp://x\napi_key_file: k\n", yaml),
            doctest::Contains("must start with http"), ConfigError);
        CHECK_THROWS_WITH_AS(
            make_registered_provider(
                "type: powerdns\napi_url: http://x\napi_key_file: /nonexistent/k\n", yaml),
            doctest::Contains("api_key_file"), ConfigError);
        write_text(dir / "empty.key", "\n");
        CHECK_THROWS_WITH_AS(
            make_registered_provider("type: powerdns\napi_url: http://x\napi_key_file: " +
                                         (dir / "empty.key").string() + "\n",
                                     yaml),
            doctest::Contains("is empty"), ConfigError);
        CHECK_THROWS_WITH_AS(make_registered_provider("type: powerdns\napi_url: http://x\n", yaml),
                             doctest::Contains("api_key_file"), ConfigError);
    }
    log::set_sink(nullptr);
}
