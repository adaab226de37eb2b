// install-hooks, the contrib hook scripts run the way certbot and acme.sh run them, and the
// install rules / CPack package.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "danehook/command.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace danehook;
using namespace danehook::testing;
using namespace std::chrono_literals;

namespace {

unsigned mode_of(const fs::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

CommandResult run(const std::vector<std::string>& argv, std::vector<std::string> environment = {},
                  std::chrono::milliseconds timeout = 60s) {
    CommandOptions options;
    options.timeout = timeout;
    options.extra_environment = std::move(environment);
    // `dpkg-deb --fsys-tarfile` writes the whole package; a sanitizer build's binary is large.
    options.max_output = std::size_t{1} << 30;
    return run_command(argv, options);
}

// A danehook configuration with the file provider: the records land in `tlsa.txt`.
fs::path write_file_provider_config(const fs::path& dir, const std::string& certificate_keys) {
    auto config = dir / "danehook.yaml";
    write_text(config, "state_dir: " + (dir / "state").string() +
                           "\nproviders:\n  out:\n    type: file\n    path: " +
                           (dir / "tlsa.txt").string() + "\ncertificates:\n  - name: mail\n" +
                           certificate_keys +
                           "    zone: example.net\n    records: [\"3 1 1\"]\n"
                           "    services:\n      - { host: mail.example.net, port: 25 }\n");
    fs::permissions(config, fs::perms::owner_read | fs::perms::owner_write);
    return config;
}

// The `records` lines of danehook for a key, to compare with what a hook published.
std::string record_line(const fs::path& key) {
    auto result =
        run_danehook({"records", "--key", key.string(), "--service", "mail.example.net:25"});
    REQUIRE_MESSAGE(result.ok(), result.errors);
    auto line = result.output.substr(0, result.output.find('\n'));
    return line.substr(line.find("3 1 1 "));  // rdata only: the file provider's TTL may differ
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
}

bool published(const fs::path& dir, const std::string& rdata) {
    if (!fs::exists(dir / "tlsa.txt")) return false;
    for (const auto& line : lines_of(read_text(dir / "tlsa.txt"))) {
        if (line.find(rdata) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("install-hooks places the certbot hook and the systemd units, idempotently") {
    TempDir root;
    const std::string binary = danehook_binary().string();
    const auto hook = root / "etc/letsencrypt/renewal-hooks/deploy/danehook";
    const auto service = root / "etc/systemd/system/danehook.service";
    const auto timer = root / "etc/systemd/system/danehook.timer";

    auto dry = run_danehook(
        {"install-hooks", "--root", root.path().string(), "--danehook", binary, "--dry-run"});
    CHECK_MESSAGE(dry.ok(), dry.errors);
    CHECK(dry.output.find("would write " + hook.string()) != std::string::npos);
    CHECK_FALSE(fs::exists(root / "etc"));

    auto first =
        run_danehook({"install-hooks", "--root", root.path().string(), "--danehook", binary});
    REQUIRE_MESSAGE(first.ok(), first.errors);
    CHECK(mode_of(hook) == 0755);
    CHECK(mode_of(service) == 0644);
    CHECK(mode_of(timer) == 0644);
    CHECK(read_text(service).find("ExecStart=" + binary + " run\n") != std::string::npos);
    CHECK(read_text(service).find("Type=oneshot") != std::string::npos);
    CHECK(read_text(timer).find("OnUnitActiveSec=5min") != std::string::npos);
    CHECK(read_text(timer).find("Persistent=true") != std::string::npos);

    auto again =
        run_danehook({"install-hooks", "--root", root.path().string(), "--danehook", binary});
    CHECK(again.ok());
    CHECK(lines_of(again.output).size() == 3);
    CHECK(again.output.find("unchanged " + hook.string()) != std::string::npos);

    // A file the administrator changed is not overwritten without --force.
    write_text(timer, "[Timer]\nOnCalendar=hourly\n");
    auto refused =
        run_danehook({"install-hooks", "--root", root.path().string(), "--danehook", binary});
    CHECK(refused.exit_status == 1);
    CHECK(refused.errors.find(timer.string()) != std::string::npos);
    CHECK(read_text(timer) == "[Timer]\nOnCalendar=hourly\n");
    // Nothing else was touched either: a refusal is decided before any file is written.
    fs::remove(hook);
    refused = run_danehook({"install-hooks", "--root", root.path().string(), "--danehook", binary});
    CHECK(refused.exit_status == 1);
    CHECK_FALSE(fs::exists(hook));
    auto forced = run_danehook(
        {"install-hooks", "--root", root.path().string(), "--danehook", binary, "--force"});
    CHECK_MESSAGE(forced.ok(), forced.errors);
    CHECK(read_text(timer).find("Persistent=true") != std::string::npos);

    // A relative --danehook would make the hook depend on certbot's working directory.
    auto relative =
        run_danehook({"install-hooks", "--root", root.path().string(), "--danehook", "danehook"});
    CHECK(relative.exit_status == 2);
}

TEST_CASE("install-hooks refuses to write through a symbolic link") {
    TempDir root;
    TempDir elsewhere;
    fs::create_directories(root / "etc/systemd/system");
    fs::create_symlink(elsewhere / "victim", root / "etc/systemd/system/danehook.timer");
    auto result = run_danehook({"install-hooks", "--root", root.path().string(), "--danehook",
                                danehook_binary().string(), "--no-certbot"});
    CHECK(result.exit_status != 0);
    CHECK_FALSE(fs::exists(elsewhere / "victim"));
}

TEST_CASE("the installed certbot hook runs danehook deploy for RENEWED_LINEAGE") {
    TempDir dir;
    auto lineage = samples_dir() / "certs/ecdsa-p256";
    auto config = write_file_provider_config(dir.path(), "    lineage: " + lineage.string() + "\n");
    auto result = run_danehook({"install-hooks", "--root", dir.path().string(), "--danehook",
                                danehook_binary().string(), "--no-systemd"});
    REQUIRE_MESSAGE(result.ok(), result.errors);
    const auto hook = (dir / "etc/letsencrypt/renewal-hooks/deploy/danehook").string();

    // certbot runs every executable in renewal-hooks/deploy with these variables.
    auto missing = run({hook}, {"DANEHOOK_CONFIG=" + config.string()});
    CHECK(missing.exit_status == 2);
    auto ran =
        run({hook}, {"DANEHOOK_CONFIG=" + config.string(), "RENEWED_LINEAGE=" + lineage.string(),
                     "RENEWED_DOMAINS=mail.example.net"});
    CHECK_MESSAGE(ran.ok(), ran.errors);
    CHECK(published(dir.path(), record_line(lineage / "privkey.pem")));
}

TEST_CASE("the acme.sh deploy hook publishes the current and the pre-generated next key") {
    if (!have_program("sh")) return;
    TempDir dir;
    const auto acme = samples_dir() / "certs/acme.sh/mail.example.net_ecc";
    auto config = write_file_provider_config(dir.path(), "    domain: mail.example.net\n");
    // acme.sh sources the hook and calls danehook_deploy DOMAIN KEY CERT CA FULLCHAIN; these
    // stand in for acme.sh's own helper functions, and Le_Next_Domain_Key is its variable.
    const std::string script =
        "_debug() { :; }\n_info() { echo \"$*\" >&2; }\n_err() { echo \"error: $*\" >&2; }\n"
        "_getdeployconf() { :; }\n_savedeployconf() { :; }\n"
        ". \"$1\"\nLe_Next_Domain_Key=\"$2\"\nshift 2\ndanehook_deploy \"$@\"\n";
    auto deploy = [&](const std::string& next_key) {
        return run(
            {"sh", "-c", script, "acme.sh",
             (source_dir() / "contrib/acme.sh/deploy/danehook.sh").string(), next_key,
             "mail.example.net", (acme / "mail.example.net.key").string(),
             (acme / "mail.example.net.cer").string(), (acme / "ca.cer").string(),
             (acme / "fullchain.cer").string()},
            {"DANEHOOK_BIN=" + danehook_binary().string(), "DANEHOOK_CONFIG=" + config.string()});
    };
    auto result = deploy((acme / "mail.example.net.key.next").string());
    CHECK_MESSAGE(result.ok(), result.errors);
    CHECK(published(dir.path(), record_line(acme / "mail.example.net.key")));
    CHECK(published(dir.path(), record_line(acme / "mail.example.net.key.next")));

    // A stale Le_Next_Domain_Key (the file is gone) is not passed on.
    TempDir other;
    config = write_file_provider_config(other.path(), "    domain: mail.example.net\n");
    auto stale =
        run({"sh", "-c", script, "acme.sh",
             (source_dir() / "contrib/acme.sh/deploy/danehook.sh").string(),
             (other / "gone.key").string(), "mail.example.net",
             (acme / "mail.example.net.key").string(), (acme / "mail.example.net.cer").string(),
             (acme / "ca.cer").string(), (acme / "fullchain.cer").string()},
            {"DANEHOOK_BIN=" + danehook_binary().string(), "DANEHOOK_CONFIG=" + config.string()});
    CHECK_MESSAGE(stale.ok(), stale.errors);
    auto records = lines_of(read_text(other / "tlsa.txt"));
    CHECK(std::count_if(records.begin(), records.end(), [](const std::string& line) {
              return line.find(" IN TLSA ") != std::string::npos;
          }) == 1);

    // A missing danehook is an error acme.sh reports, not a silent success.
    auto missing =
        run({"sh", "-c", script, "acme.sh",
             (source_dir() / "contrib/acme.sh/deploy/danehook.sh").string(), "", "mail.example.net",
             (acme / "mail.example.net.key").string(), (acme / "mail.example.net.cer").string(),
             (acme / "ca.cer").string(), (acme / "fullchain.cer").string()},
            {"DANEHOOK_BIN=/nonexistent/danehook", "DANEHOOK_CONFIG=" + config.string()});
    CHECK(missing.exit_status != 0);
}

TEST_CASE("cmake --install and cpack -G DEB put every file in its usual place") {
    if (!have_program("cmake") || !have_program("cpack") || !have_program("dpkg-deb")) {
        MESSAGE("cmake, cpack or dpkg-deb missing: skipped");
        return;
    }
    TempDir prefix;
    auto install = run(
        {"cmake", "--install", DANEHOOK_BUILD_DIR, "--prefix", prefix.path().string()}, {}, 120s);
    REQUIRE_MESSAGE(install.ok(), install.errors);
    const std::vector<std::string> expected{
        "bin/danehook",
        "bin/danehook-certbot-hook",
        "lib/systemd/system/danehook.service",
        "lib/systemd/system/danehook.timer",
        "share/man/man1/danehook.1",
        "share/man/man5/danehook.yaml.5",
        "share/bash-completion/completions/danehook",
        "share/danehook/acme.sh/deploy/danehook.sh",
        "share/doc/danehook/config-samples/certbot-rfc2136-bind.yaml",
        "share/doc/danehook/README.md",
    };
    for (const auto& file : expected) CHECK_MESSAGE(fs::is_regular_file(prefix / file), file);
    // The units and the hook name the binary where this prefix put it.
    const auto binary = (prefix / "bin/danehook").string();
    CHECK(read_text(prefix / "lib/systemd/system/danehook.service")
              .find("ExecStart=" + binary + " run") != std::string::npos);
    CHECK(
        read_text(prefix / "bin/danehook-certbot-hook").find("danehook_program=" + binary + "\n") !=
        std::string::npos);
    CHECK(mode_of(prefix / "bin/danehook-certbot-hook") == 0755);
    auto version = run({binary, "--version"});
    CHECK(version.ok());

    TempDir package_dir;
    auto cpack = run({"cpack", "--config", std::string(DANEHOOK_BUILD_DIR) + "/CPackConfig.cmake",
                      "-G", "DEB", "-B", package_dir.path().string()},
                     {}, 240s);
    REQUIRE_MESSAGE(cpack.ok(), (cpack.output + cpack.errors));
    fs::path deb;
    for (const auto& entry : fs::directory_iterator(package_dir.path())) {
        if (entry.path().extension() == ".deb") deb = entry.path();
    }
    REQUIRE_MESSAGE(!deb.empty(), cpack.output);
    auto listing = run({"dpkg-deb", "-c", deb.string()});
    REQUIRE(listing.ok());
    for (const auto& file : expected)
        CHECK_MESSAGE(listing.output.find("./usr/" + file) != std::string::npos, file);
    auto service = run({"dpkg-deb", "--fsys-tarfile", deb.string()});
    CHECK(service.output.find("ExecStart=/usr/bin/danehook run") != std::string::npos);
    auto info = run({"dpkg-deb", "-f", deb.string(), "Package", "Depends"});
    CHECK(info.output.find("Package: danehook") != std::string::npos);
    CHECK(info.output.find("libssl3") != std::string::npos);
}
