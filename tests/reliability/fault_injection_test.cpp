// Engine-level fault injection: the danehook binary with the rfc2136 provider against a real
// BIND 9 named (and the file provider where TSIG's clock check would mask the fault under test).
// Each fault must give a clear error, in bounded time, lose no record, and converge once it
// clears. Provider-level faults (SERVFAIL, REFUSED, NOTAUTH, truncated/garbage/unsigned answers,
// Cloudflare 429/5xx/malformed JSON, TLS failures) are tested in tests/providers/*; see
// docs/reliability.md for the map.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

#include "danehook/certificate.hpp"
#include "danehook/command.hpp"
#include "danehook/dns_name.hpp"
#include "danehook/journal.hpp"
#include "support/named_server.hpp"
#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

using Seconds = std::chrono::duration<double>;
constexpr const char* owner = "_25._tcp.mail.example.net.";

std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A TCP listener that never accepts: the kernel completes the handshake into the backlog, and the
// client waits for an answer that never comes.
struct BlackHole {
    int fd = -1;
    int port = 0;
    BlackHole() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(fd, 16) == 0);
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port = ntohs(address.sin_port);
    }
    ~BlackHole() { ::close(fd); }
};

struct Setup {
    TsigKeySpec key = make_tsig_key("danehook-key");
    std::unique_ptr<NamedServer> named;
    TempDir dir;
    TestCa ca = make_ca("Fault Test CA");
    EvpPkeyPtr cert_key = generate_key(KeyKind::p256);
    long serial = 1;

    explicit Setup(bool with_named = true) {
        if (with_named) {
            NamedOptions options;
            auto primary = NamedZone::primary(
                "example.net.",
                "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\n"
                "ns1 IN A 127.0.0.1\n");
            primary.update_policy = "grant danehook-key. zonesub TLSA;";
            options.zones.push_back(primary);
            options.keys.push_back(key);
            named = std::make_unique<NamedServer>(options);
        }
        write_text(dir / "danehook.key", key.statement());
        std::filesystem::permissions(dir / "danehook.key", std::filesystem::perms::owner_read |
                                                               std::filesystem::perms::owner_write);
        issue();
    }
    std::filesystem::path lineage() const { return dir / "live/mail.example.net"; }
    void issue() {
        auto leaf = make_leaf(ca, cert_key.get(), "mail.example.net", -1, 90, serial++);
        write_lineage(lineage(), leaf.get(), ca, cert_key.get());
    }
    void new_key() {
        cert_key = generate_key(KeyKind::p256);
        issue();
    }
    std::string record_of_lineage() const {
        auto material = load_certificate_material(certbot_lineage_files(lineage()));
        return std::string(owner) + " " +
               upper(compute_tlsa(material, TlsaParams::parse("3 1 1")).presentation());
    }
    // The rfc2136 provider aimed at `port` (named's by default); a file provider without named.
    void configure(std::optional<int> port = std::nullopt,
                   const std::string& state = "state") const {
        std::string provider;
        if (named) {
            int p = port.value_or(named->port());
            provider = "    type: rfc2136\n    server: 127.0.0.1\n    port: " + std::to_string(p) +
                       "\n    tsig_key_file: " + (dir / "danehook.key").string() +
                       "\n    nameservers: [\"127.0.0.1:" + std::to_string(p) +
                       "\"]\n    timeout: 2\n    retries: 0\n";
        } else {
            provider = "    type: file\n    path: " + (dir / "tlsa.zone").string() + "\n";
        }
        write_text(dir / "danehook.yaml",
                   "state_dir: " + (dir / state).string() +
                       "\nlock_timeout: 2\nproviders:\n  primary:\n" + provider +
                       "certificates:\n  - name: mail\n    lineage: " + lineage().string() +
                       "\n    zone: example.net\n    ttl: 60\n    hold_margin: 0\n"
                       "    services:\n      - { host: mail.example.net, port: 25 }\n");
    }
    CommandResult danehook(const std::vector<std::string>& args, long now,
                           std::vector<std::string> env = {}) const {
        std::vector<std::string> full{"--config", (dir / "danehook.yaml").string()};
        full.insert(full.end(), args.begin(), args.end());
        env.push_back("DANEHOOK_NOW=" + std::to_string(now));
        return run_danehook(full, env);
    }
    CommandResult deploy(long now) const {
        return danehook(
            {"deploy"}, now,
            {"RENEWED_LINEAGE=" + lineage().string(), "RENEWED_DOMAINS=mail.example.net"});
    }
    std::set<std::string> in_dns() const {
        std::set<std::string> records;
        if (named) {
            for (const auto& line : named->dig(owner, "TLSA")) {
                std::istringstream fields(line);
                std::string name, ttl, klass, type, u, s, m, part, hex;
                fields >> name >> ttl >> klass >> type >> u >> s >> m;
                while (fields >> part) hex += part;
                records.insert(canonical_name(name) + " " + u + " " + s + " " + m + " " +
                               upper(hex));
            }
            return records;
        }
        std::error_code ec;
        if (!std::filesystem::exists(dir / "tlsa.zone", ec)) return records;
        std::istringstream lines(read_text(dir / "tlsa.zone"));
        std::string line;
        while (std::getline(lines, line)) {
            if (line.empty() || line[0] == ';') continue;
            std::istringstream fields(line);
            std::string name, ttl, klass, type, u, s, m, hex;
            fields >> name >> ttl >> klass >> type >> u >> s >> m >> hex;
            records.insert(name + " " + u + " " + s + " " + m + " " + upper(hex));
        }
        return records;
    }
    std::filesystem::path journal_file(const std::string& state = "state") const {
        return dir / state / "journal/mail.json";
    }
};

template <typename F>
std::pair<CommandResult, double> timed(F&& run) {
    auto started = std::chrono::steady_clock::now();
    auto result = run();
    return {result, Seconds(std::chrono::steady_clock::now() - started).count()};
}

long real_now() {
    return static_cast<long>(std::time(nullptr));
}

// A small tmpfs for the state directory, unmounted also when the test fails. Needs root and a
// kernel that lets this process mount (a CI VM does; some containers do not: then skipped).
struct SmallFilesystem {
    std::filesystem::path where;
    bool mounted = false;
    explicit SmallFilesystem(std::filesystem::path path) : where(std::move(path)) {
        std::filesystem::create_directories(where);
        if (::geteuid() != 0 || !have_program("mount")) return;
        mounted = run_command({"mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs",
                               where.string()})
                      .ok();
    }
    bool remount(const char* how) const {
        return run_command({"mount", "-o", std::string("remount,") + how, where.string()}).ok();
    }
    ~SmallFilesystem() {
        if (mounted) (void)run_command({"umount", "-l", where.string()});
    }
};

// Fills the filesystem holding `file` until writes fail with ENOSPC.
void fill(const std::filesystem::path& file) {
    FILE* out = std::fopen(file.c_str(), "w");
    REQUIRE(out);
    std::string block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), out) == block.size() &&
           std::fflush(out) == 0) {
    }
    std::fclose(out);
}

}  // namespace

TEST_CASE("fault: connection refused at deploy, then the server comes back") {
    if (!NamedServer::available()) return;
    Setup setup;
    setup.configure(free_port());  // nothing listens there
    auto [result, seconds] = timed([&] { return setup.deploy(real_now()); });
    CHECK(result.exit_status == 5);
    CHECK_MESSAGE(contains(result.errors, "refused"), result.errors);
    CHECK(seconds < 10);
    // certbot never reruns a deploy hook: the records are queued in the journal, and `run`
    // publishes them once the server is back.
    CHECK(std::filesystem::exists(setup.journal_file()));
    CHECK(setup.in_dns().empty());
    setup.configure();
    auto later = setup.danehook({"run"}, real_now());
    CHECK_MESSAGE(later.exit_status == 0, later.errors);
    CHECK(setup.in_dns() == std::set<std::string>{setup.record_of_lineage()});
}

TEST_CASE("fault: a server that accepts the TCP connection and never answers") {
    if (!NamedServer::available()) return;
    Setup setup;
    BlackHole hole;
    setup.configure(hole.port);
    auto [result, seconds] = timed([&] { return setup.deploy(real_now()); });
    CHECK(result.exit_status == 5);
    CHECK_MESSAGE(contains(result.errors, "no answer within 2000 ms"), result.errors);
    CHECK(seconds < 15);  // timeout 2 s, retries 0: bounded whatever the peer does
    setup.configure();
    auto again = setup.deploy(real_now());
    CHECK_MESSAGE(again.exit_status == 0, again.errors);
    CHECK(setup.in_dns() == std::set<std::string>{setup.record_of_lineage()});
}

TEST_CASE("fault: the server goes away during the hold; the old record is never withdrawn blind") {
    if (!NamedServer::available()) return;
    Setup setup;
    setup.configure();
    long t = real_now() - 150;
    REQUIRE(setup.deploy(t).exit_status == 0);
    auto v1 = setup.record_of_lineage();
    setup.new_key();
    REQUIRE(setup.deploy(t + 10).exit_status == 0);
    auto v2 = setup.record_of_lineage();
    CHECK(setup.in_dns() == std::set<std::string>{v1, v2});
    BlackHole hole;
    setup.configure(hole.port);
    auto failed = setup.danehook({"run"}, t + 10 + 121);
    CHECK(failed.exit_status != 0);
    setup.configure();
    CHECK(setup.in_dns() == std::set<std::string>{v1, v2});  // nothing withdrawn while blind
    auto run = setup.danehook({"run"}, real_now());
    CHECK_MESSAGE(run.exit_status == 0, run.errors);
    CHECK(setup.in_dns() == std::set<std::string>{v2});
}

TEST_CASE("fault: a truncated or corrupted journal is a clear error that changes nothing") {
    Setup setup(false);
    setup.configure();
    const long t = 1'800'000'000;
    REQUIRE(setup.deploy(t).exit_status == 0);
    auto v1 = setup.record_of_lineage();
    setup.new_key();
    REQUIRE(setup.deploy(t + 10).exit_status == 0);
    auto v2 = setup.record_of_lineage();
    const auto good = read_text(setup.journal_file());
    auto with_ttl = [&](const std::string& ttl) {
        auto text = good;
        auto at = text.find("\"ttl\":");
        REQUIRE(at != std::string::npos);
        auto end = text.find_first_of(",}", at);
        return text.replace(at, end - at, "\"ttl\":" + ttl);
    };
    // Numbers a hand edit or a bit flip can leave: each must be refused, never converted.
    for (const std::string& bad :
         {good.substr(0, good.size() / 2), std::string("\x00\x01garbage", 9), std::string(),
          with_ttl("4.44444e+86"), with_ttl("-1"), with_ttl("2.5"), with_ttl("4294967296")}) {
        write_text(setup.journal_file(), bad);
        for (const char* command : {"run", "status"}) {
            auto result = setup.danehook({command}, t + 10 + 121);
            CHECK(result.exit_status != 0);
            CHECK_MESSAGE(contains(result.errors, setup.journal_file().string()), result.errors);
        }
        CHECK(setup.in_dns() ==
              std::set<std::string>{v1, v2});  // nothing withdrawn on a bad journal
    }
    write_text(setup.journal_file(), good);  // the operator restores it (or a backup)
    auto run = setup.danehook({"run"}, t + 10 + 121);
    CHECK_MESSAGE(run.exit_status == 0, run.errors);
    CHECK(setup.in_dns() == std::set<std::string>{v2});
}

TEST_CASE("fault: a state lock held by a process that died is free at once") {
    Setup setup(false);
    setup.configure();
    std::filesystem::create_directories(setup.dir / "state");
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        StateLock lock(setup.dir / "state", std::chrono::seconds(1));
        ::raise(SIGKILL);
        ::_exit(1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    auto [result, seconds] = timed([&] { return setup.deploy(1'800'000'000); });
    CHECK_MESSAGE(result.exit_status == 0, result.errors);
    CHECK(seconds < 2);  // lock_timeout is 2 s: no waiting happened
}

TEST_CASE(
    "fault: a state directory that cannot be written is a clear error, and nothing is published") {
    Setup setup(false);
    // A regular file where the state directory should be: creating it fails whatever the uid.
    write_text(setup.dir / "blocked", "");
    setup.configure(std::nullopt, "blocked/state");
    auto result = setup.deploy(1'800'000'000);
    CHECK(result.exit_status != 0);
    CHECK_MESSAGE(contains(result.errors, "blocked"), result.errors);
    CHECK(setup.in_dns().empty());
    setup.configure();
    CHECK(setup.deploy(1'800'000'000).exit_status == 0);
    CHECK(setup.in_dns() == std::set<std::string>{setup.record_of_lineage()});
}

TEST_CASE("fault: the clock jumps back or forward by days") {
    Setup setup(false);
    setup.configure();
    const long t = 1'800'000'000;
    const long day = 86400;
    REQUIRE(setup.deploy(t).exit_status == 0);
    auto v1 = setup.record_of_lineage();
    setup.new_key();
    REQUIRE(setup.deploy(t + 10).exit_status == 0);
    auto v2 = setup.record_of_lineage();
    // Backwards: the hold has not passed on this clock; the old record must stay.
    auto back = setup.danehook({"run"}, t - 3 * day);
    CHECK_MESSAGE(back.exit_status == 0, back.errors);
    CHECK(setup.in_dns() == std::set<std::string>{v1, v2});
    // Still in the past after more runs: nothing withdrawn, journal intact.
    CHECK(setup.danehook({"run"}, t - 2 * day).exit_status == 0);
    CHECK(setup.in_dns() == std::set<std::string>{v1, v2});
    CHECK(setup.danehook({"status", "--json"}, t - 2 * day).exit_status == 0);
    // Forwards by days: the hold is long over, the old record goes, the new one stays.
    auto forward = setup.danehook({"run"}, t + 5 * day);
    CHECK_MESSAGE(forward.exit_status == 0, forward.errors);
    CHECK(setup.in_dns() == std::set<std::string>{v2});
    // And back again: nothing changes any more.
    CHECK(setup.danehook({"run"}, t).exit_status == 0);
    CHECK(setup.in_dns() == std::set<std::string>{v2});
}

TEST_CASE("fault: a full state filesystem, then space is freed") {
    Setup setup(false);
    SmallFilesystem small(setup.dir / "state");
    if (!small.mounted) {
        MESSAGE("cannot mount a tmpfs here (not root, or no mount permission): skipped");
        return;
    }
    setup.configure();
    const long t = 1'800'000'000;
    REQUIRE(setup.deploy(t).exit_status == 0);
    auto v1 = setup.record_of_lineage();
    setup.new_key();
    fill(setup.dir / "state/filler");
    auto full = setup.deploy(t + 10);
    CHECK(full.exit_status != 0);
    CHECK_MESSAGE(contains(full.errors, "No space left on device"), full.errors);
    // The journal is intact and the old record is still there.
    CHECK(setup.danehook({"status", "--json"}, t + 10).exit_status == 0);
    CHECK(setup.in_dns().count(v1) == 1);
    std::filesystem::remove(setup.dir / "state/filler");
    auto again = setup.deploy(t + 10);
    CHECK_MESSAGE(again.exit_status == 0, again.errors);
    CHECK(setup.danehook({"run"}, t + 10 + 121).exit_status == 0);
    CHECK(setup.in_dns() == std::set<std::string>{setup.record_of_lineage()});
}

TEST_CASE("fault: a read-only state filesystem, then it is writable again") {
    Setup setup(false);
    SmallFilesystem small(setup.dir / "state");
    if (!small.mounted) {
        MESSAGE("cannot mount a tmpfs here (not root, or no mount permission): skipped");
        return;
    }
    setup.configure();
    const long t = 1'800'000'000;
    REQUIRE(setup.deploy(t).exit_status == 0);
    auto v1 = setup.record_of_lineage();
    setup.new_key();
    REQUIRE(setup.deploy(t + 10).exit_status == 0);
    auto v2 = setup.record_of_lineage();
    REQUIRE(small.remount("ro"));
    auto [run, seconds] = timed([&] { return setup.danehook({"run"}, t + 10 + 121); });
    CHECK(run.exit_status != 0);
    CHECK_MESSAGE(contains(run.errors, "Read-only file system"), run.errors);
    CHECK(seconds < 5);
    // The withdrawal intent could not be written, so nothing was withdrawn.
    CHECK(setup.in_dns() == std::set<std::string>{v1, v2});
    REQUIRE(small.remount("rw"));
    auto again = setup.danehook({"run"}, t + 10 + 121);
    CHECK_MESSAGE(again.exit_status == 0, again.errors);
    CHECK(setup.in_dns() == std::set<std::string>{v2});
}

TEST_CASE(
    "fault: a deploy on a clock days behind does not cut the hold short once the clock is fixed") {
    Setup setup(false);
    setup.configure();
    auto yaml = read_text(setup.dir / "danehook.yaml");
    write_text(setup.dir / "danehook.yaml", yaml + "    reload_command: [\"touch\", \"" +
                                                (setup.dir / "reloaded").string() + "\"]\n");
    const long t = 1'800'000'000;
    const long day = 86400;
    REQUIRE(setup.deploy(t).exit_status == 0);
    REQUIRE(setup.danehook({"run"}, t + 200).exit_status == 0);
    REQUIRE(std::filesystem::exists(setup.dir / "reloaded"));
    std::filesystem::remove(setup.dir / "reloaded");
    auto v1 = setup.record_of_lineage();
    setup.new_key();
    // The renewal runs while the clock is 3 days behind (a bad RTC before NTP fixed it) ...
    auto behind = setup.deploy(t + 300 - 3 * day);
    CHECK_MESSAGE(behind.exit_status == 0, behind.errors);
    CHECK(contains(behind.errors, "is behind the journal's last write"));
    auto v2 = setup.record_of_lineage();
    // ... and a minute later the clock is right: the hold (2 x 60 s) counts from the journal's
    // time, not from three days ago, so the old record and the old certificate stay.
    CHECK(setup.danehook({"run"}, t + 260).exit_status == 0);
    CHECK(setup.in_dns() == std::set<std::string>{v1, v2});
    CHECK_FALSE(std::filesystem::exists(setup.dir / "reloaded"));
    // After the hold, the rollover completes.
    CHECK(setup.danehook({"run"}, t + 200 + 121).exit_status == 0);
    CHECK(std::filesystem::exists(setup.dir / "reloaded"));
    CHECK(setup.in_dns() == std::set<std::string>{v2});
}
