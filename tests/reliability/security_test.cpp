// Security claims of docs/security.md that no other test covers, end to end through the danehook
// binary with the file provider: modes of everything danehook writes, refusal to write through
// symbolic links, commands without a shell, names that would inject syntax, and secrets kept out
// of logs and out of child processes' argv.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>

#include "support/named_server.hpp"
#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

constexpr long now = 1'800'000'000;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

mode_t mode_of(const std::filesystem::path& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

struct Setup {
    TempDir dir;
    TestCa ca = make_ca("Security Test CA");
    EvpPkeyPtr key = generate_key(KeyKind::p256);

    explicit Setup(const std::string& extra_entry = "",
                   const std::string& host = "mail.example.net") {
        write_text(dir / "danehook.yaml",
                   "state_dir: " + (dir / "state").string() +
                       "\nlock_timeout: 2\nproviders:\n  local:\n    type: file\n    path: " +
                       (dir / "tlsa.zone").string() +
                       "\ncertificates:\n  - name: mail\n    lineage: " + lineage().string() +
                       "\n    zone: example.net\n    ttl: 60\n    hold_margin: 0\n"
                       "    services:\n      - { host: \"" +
                       host + "\", port: 25 }\n" + extra_entry);
        auto leaf = make_leaf(ca, key.get(), "mail.example.net");
        write_lineage(lineage(), leaf.get(), ca, key.get());
    }
    std::filesystem::path lineage() const { return dir / "live/mail.example.net"; }
    CommandResult danehook(const std::vector<std::string>& args, long at = now,
                           std::vector<std::string> env = {}) const {
        std::vector<std::string> full{"--config", (dir / "danehook.yaml").string()};
        full.insert(full.end(), args.begin(), args.end());
        env.push_back("DANEHOOK_NOW=" + std::to_string(at));
        return run_danehook(full, env);
    }
    CommandResult deploy(long at = now) const {
        return danehook(
            {"deploy"}, at,
            {"RENEWED_LINEAGE=" + lineage().string(), "RENEWED_DOMAINS=mail.example.net"});
    }
};

}  // namespace

TEST_CASE("security: state files are 0600 in 0700 directories, whatever the umask") {
    Setup setup;
    auto result = setup.danehook(
        {"deploy"}, now,
        {"RENEWED_LINEAGE=" + setup.lineage().string(), "RENEWED_DOMAINS=mail.example.net"});
    REQUIRE_MESSAGE(result.exit_status == 0, result.errors);
    // Old enough for the status cache, which `status --json` then writes.
    auto journal = setup.dir / "state/journal/mail.json";
    std::filesystem::last_write_time(journal, std::filesystem::last_write_time(journal) - std::chrono::hours(1));
    auto status = setup.danehook({"status", "--json"}, now);
    REQUIRE_MESSAGE(status.exit_status == 0, status.errors);
    CHECK(std::filesystem::exists(setup.dir / "state/status.cache"));
    int files = 0;
    for (const auto& item : std::filesystem::recursive_directory_iterator(setup.dir / "state")) {
        if (item.is_directory()) {
            CHECK_MESSAGE(mode_of(item.path()) == 0700, item.path());
        } else {
            CHECK_MESSAGE(mode_of(item.path()) == 0600, item.path());
            ++files;
        }
    }
    CHECK(mode_of(setup.dir / "state") == 0700);
    CHECK(files >= 3);  // journal, lock and status cache at least
}

TEST_CASE("security: installed private keys are 0600; certificates 0644") {
    Setup setup(
        "    install:\n      key: INSTALL/key.pem\n      combined: INSTALL/combined.pem\n"
        "      fullchain: INSTALL/fullchain.pem\n    reload_command: [\"true\"]\n");
    auto yaml = read_text(setup.dir / "danehook.yaml");
    for (std::size_t at; (at = yaml.find("INSTALL")) != std::string::npos;)
        yaml.replace(at, 7, setup.dir.path().string());
    write_text(setup.dir / "danehook.yaml", yaml);
    REQUIRE(setup.deploy().exit_status == 0);
    auto run = setup.danehook({"run"}, now + 200);
    REQUIRE_MESSAGE(run.exit_status == 0, run.errors);
    CHECK(mode_of(setup.dir / "key.pem") == 0600);
    CHECK(mode_of(setup.dir / "combined.pem") == 0600);
    CHECK(mode_of(setup.dir / "fullchain.pem") == 0644);
}

TEST_CASE("security: danehook does not write through symbolic links") {
    SUBCASE("a symlinked state directory is refused") {
        Setup setup;
        TempDir elsewhere;
        std::filesystem::create_directory_symlink(elsewhere.path(), setup.dir / "state");
        auto result = setup.deploy();
        CHECK(result.exit_status != 0);
        CHECK_MESSAGE(contains(result.errors, "symbolic link"), result.errors);
        CHECK(std::filesystem::is_empty(elsewhere.path()));
    }
    SUBCASE("a journal file replaced by a symlink is not written through") {
        Setup setup;
        REQUIRE(setup.deploy().exit_status == 0);
        auto journal = setup.dir / "state/journal/mail.json";
        write_text(setup.dir / "victim", read_text(journal));
        std::filesystem::remove(journal);
        std::filesystem::create_symlink(setup.dir / "victim", journal);
        auto before = read_text(setup.dir / "victim");
        auto result = setup.deploy(now + 10);  // a deploy always writes the journal
        CHECK(result.exit_status != 0);
        CHECK_MESSAGE(contains(result.errors, "symbolic link"), result.errors);
        CHECK(read_text(setup.dir / "victim") == before);
    }
    SUBCASE("an install target that is a symlink is refused") {
        Setup setup("    install:\n      key: " + std::string("KEYPATH") +
                    "\n    reload_command: [\"true\"]\n");
        auto yaml = read_text(setup.dir / "danehook.yaml");
        yaml.replace(yaml.find("KEYPATH"), 7, (setup.dir / "key.pem").string());
        write_text(setup.dir / "danehook.yaml", yaml);
        write_text(setup.dir / "victim", "do not overwrite\n");
        std::filesystem::create_symlink(setup.dir / "victim", setup.dir / "key.pem");
        REQUIRE(setup.deploy().exit_status == 0);
        auto result = setup.danehook({"run"}, now + 200);
        CHECK(result.exit_status != 0);
        CHECK_MESSAGE(contains(result.errors, "symbolic link"), result.errors);
        CHECK(read_text(setup.dir / "victim") == "do not overwrite\n");
    }
}

TEST_CASE("security: reload_command runs without a shell") {
    Setup setup;
    auto literal = setup.dir / "x;touch pwned$(id)";
    auto yaml = read_text(setup.dir / "danehook.yaml") + "    reload_command: [\"touch\", \"" +
                literal.string() + "\"]\n";
    write_text(setup.dir / "danehook.yaml", yaml);
    REQUIRE(setup.deploy().exit_status == 0);
    auto run = setup.danehook({"run"}, now + 200);
    REQUIRE_MESSAGE(run.exit_status == 0, run.errors);
    CHECK(std::filesystem::exists(literal));  // one argument, metacharacters and all
    CHECK_FALSE(std::filesystem::exists(setup.dir / "pwned"));
    CHECK_FALSE(std::filesystem::exists("pwned"));
}

TEST_CASE("security: names that would inject zone-file or DNS syntax are configuration errors") {
    for (const std::string host :
         {"mail.example.net. 300 IN A 192.0.2.1", "mail.example.net\\nevil", "mail;example.net",
          "mail.example.net\\\"", "$INCLUDE /etc/shadow", "mail..example.net"}) {
        Setup setup("", host);
        auto result = setup.deploy();
        CHECK_MESSAGE(result.exit_status == 3, host << ": " << result.errors);
        CHECK_FALSE(std::filesystem::exists(setup.dir / "tlsa.zone"));
    }
}

TEST_CASE("security: the TSIG secret is in no log line and in no child's argv") {
    if (!NamedServer::available()) return;
    auto key = make_tsig_key("danehook-key");
    NamedOptions options;
    auto primary = NamedZone::primary(
        "example.net.",
        "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A 127.0.0.1\n");
    primary.update_policy = "grant danehook-key. zonesub TLSA;";
    options.zones.push_back(primary);
    options.keys.push_back(key);
    NamedServer named(options);
    Setup setup;
    write_text(setup.dir / "danehook.key", key.statement());
    std::filesystem::permissions(
        setup.dir / "danehook.key",
        std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    // reload_command records its own argv and environment: the secret must be in neither.
    auto yaml = read_text(setup.dir / "danehook.yaml");
    yaml.replace(yaml.find("    type: file\n    path: "),
                 std::string("    type: file\n    path: ").size(), "    REPLACED: ");
    auto start = yaml.find("    REPLACED: ");
    auto end = yaml.find('\n', start);
    yaml.replace(
        start, end - start,
        "    type: rfc2136\n    server: 127.0.0.1\n    port: " + std::to_string(named.port()) +
            "\n    tsig_key_file: " + (setup.dir / "danehook.key").string() +
            "\n    nameservers: [\"" + named.endpoint() + "\"]\n    timeout: 2\n    retries: 0");
    auto seen = setup.dir / "child-saw";
    yaml += "    reload_command: [\"sh\", \"-c\", \"tr '\\\\0' ' ' < /proc/$$/cmdline > " +
            seen.string() + "; env >> " + seen.string() + "\"]\n";
    write_text(setup.dir / "danehook.yaml", yaml);
    const long t = static_cast<long>(std::time(nullptr)) - 150;
    auto deploy = setup.danehook(
        {"-v", "deploy"}, t,
        {"RENEWED_LINEAGE=" + setup.lineage().string(), "RENEWED_DOMAINS=mail.example.net"});
    REQUIRE_MESSAGE(deploy.exit_status == 0, deploy.errors);
    auto run = setup.danehook({"-v", "run"}, t + 130);
    REQUIRE_MESSAGE(run.exit_status == 0, run.errors);
    auto child = read_text(seen);
    CHECK(contains(child, "PATH="));
    CHECK(contains(child, "cmdline"));
    for (const auto& text : {deploy.output, deploy.errors, run.output, run.errors, child}) {
        CHECK_FALSE(contains(text, key.secret));
    }
}
