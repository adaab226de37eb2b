#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "providers/bindfile/bindfile_provider.hpp"
#include "providers/bindfile/zone_files.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::bindfile;
using danehook::testing::read_text;
using danehook::testing::TempDir;
using danehook::testing::write_text;

namespace {

const std::string zone = "example.net.";
const std::string owner = "_25._tcp.mail.example.net.";

EpochSeconds day_2026_11_23() {
    return 1795435200;
}  // 2026-11-23T12:00:00Z

TlsaRecord tlsa(const std::string& name, const std::string& hex, std::uint32_t ttl = 3600) {
    return TlsaRecord{name, ttl, TlsaRdata::parse("3 1 1 " + hex)};
}

const std::string hex_a = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const std::string hex_b = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const std::string hex_c = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";

ChangeSet add(std::vector<TlsaRecord> records) {
    ChangeSet changes;
    changes.zone = zone;
    changes.additions = std::move(records);
    return changes;
}

ChangeSet remove(std::vector<TlsaRecord> records) {
    ChangeSet changes;
    changes.zone = zone;
    for (auto& r : records)
        changes.deletions.push_back(PublishedRecord{r, BindFileProvider::managed_id});
    return changes;
}

// A zone with unusual but valid formatting that must survive byte for byte.
const std::string zone_head =
    ";; example.net -- hand-written, keep my   spacing\r\n"
    "$TTL 1h ; default\n"
    "@\tIN\tSOA\tns1.example.net. hostmaster.example.net. (\n"
    "\t\t\t2026112001\t; serial, YYYYMMDDnn\n"
    "\t\t\t3h 15m 1w 1h )\n"
    "\t\tNS\tns1\n"
    "ns1\t\tA\t192.0.2.53\n"
    "mail   300  IN   A   192.0.2.25   ; the MX host\n"
    "@ MX 10 mail\n";
const std::string zone_tail =
    "\n"
    "; trailing notes\n"
    "www CNAME mail ; alias\n";

std::string zone_text(const std::string& serial, const std::string& middle = "") {
    std::string head = zone_head;
    head.replace(head.find("2026112001"), 10, serial);
    return head + middle + zone_tail;
}

struct Fixture {
    TempDir dir;
    std::filesystem::path zone_file = dir / "db.example.net";
    std::filesystem::path tlsa_file = dir / "tlsa.example.net";
    std::filesystem::path log_file = dir / "commands.log";
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(day_2026_11_23());

    BindFileConfig config(Mode mode) const {
        BindFileConfig c;
        c.zone = zone;
        c.zone_file = zone_file;
        c.mode = mode;
        if (mode == Mode::include) c.tlsa_file = tlsa_file;
        c.reload_command = logging_command("reload", 0);
        c.freeze_command = logging_command("freeze", 0);
        c.thaw_command = logging_command("thaw", 0);
        c.lock_timeout = std::chrono::milliseconds(200);
        return c;
    }
    std::vector<std::string> logging_command(const std::string& word, int status) const {
        return {"sh", "-c",
                "echo " + word + " >> '" + log_file.string() + "'; exit " + std::to_string(status)};
    }
    std::string commands() const {
        return std::filesystem::exists(log_file) ? read_text(log_file) : "";
    }
    BindFileProvider provider(const BindFileConfig& c) const { return BindFileProvider(c, clock); }

    // Files in the directory other than the ones a test made: temporaries must not be left.
    std::vector<std::string> leftovers() const {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
            auto name = entry.path().filename().string();
            if (name.find(".danehook-new-") != std::string::npos ||
                name.find(".danehook-check-") != std::string::npos ||
                name.find(".tmp-") != std::string::npos ||
                name.find(".danehook-restore-") != std::string::npos) {
                names.push_back(name);
            }
        }
        return names;
    }
};

std::string managed_block(const std::string& lines) {
    return "; BEGIN danehook managed TLSA records: danehook rewrites this block, edit its "
           "configuration instead\n" +
           lines + "; END danehook managed TLSA records\n";
}

std::string line(const std::string& name, const std::string& hex, std::uint32_t ttl = 3600) {
    return name + " " + std::to_string(ttl) + " IN TLSA 3 1 1 " + hex + "\n";
}

}  // namespace

TEST_CASE("inline mode appends the managed block and changes nothing else but the serial") {
    Fixture f;
    write_text(f.zone_file, zone_text("2026112001"));
    auto provider = f.provider(f.config(Mode::inline_block));
    provider.apply(add({tlsa(owner, hex_a)}));
    CHECK(read_text(f.zone_file) == zone_text("2026112300") + managed_block(line(owner, hex_a)));
    CHECK(f.commands() == "reload\n");
    CHECK(f.leftovers().empty());
    // The previous version is kept.
    CHECK(read_text(backup_path(f.zone_file)) == zone_text("2026112001"));

    auto listed = provider.list(zone, owner);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id == BindFileProvider::managed_id);
    CHECK(listed[0].record == tlsa(owner, hex_a));
}

TEST_CASE("inline mode rewrites a block in the middle and keeps every byte around it") {
    Fixture f;
    std::string before_block = "; --- danehook below ---\n";
    std::string after_block = "imap 600 IN A 192.0.2.26\n";
    auto old_block =
        managed_block(line(owner, hex_a) + "_443._tcp.www 300 TLSA 3 1 1 " + hex_c + "\n");
    write_text(f.zone_file, zone_text("2026112305", before_block + old_block + after_block));
    auto provider = f.provider(f.config(Mode::inline_block));

    ChangeSet changes = add({tlsa(owner, hex_b)});
    changes.deletions.push_back(PublishedRecord{tlsa(owner, hex_a), BindFileProvider::managed_id});
    provider.apply(changes);
    auto expected_block =
        managed_block(line(owner, hex_b) + line("_443._tcp.www.example.net.", hex_c, 300));
    CHECK(read_text(f.zone_file) ==
          zone_text("2026112306", before_block + expected_block + after_block));

    // Records at the name outside the block are reported as foreign.
    write_text(f.zone_file, zone_text("2026112306", "_25._tcp.mail TLSA 3 1 1 " + hex_c + "\n" +
                                                        expected_block + after_block));
    auto listed = provider.list(zone, owner);
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].id == BindFileProvider::managed_id);
    CHECK(listed[0].record == tlsa(owner, hex_b));
    CHECK(listed[1].id == "");
    CHECK(listed[1].record == tlsa(owner, hex_c));

    // A foreign record cannot be deleted through the provider.
    auto untouched = read_text(f.zone_file);
    CHECK_THROWS_WITH_AS(provider.apply(remove({tlsa(owner, hex_c)})),
                         doctest::Contains("outside the area"), ProviderError);
    CHECK(read_text(f.zone_file) == untouched);
}

TEST_CASE("inline mode refuses a block that would lend its owner or TTL to the next record") {
    Fixture f;
    auto provider = f.provider(f.config(Mode::inline_block));
    write_text(f.zone_file, zone_text("1", managed_block(line(owner, hex_a)) + "\tA 192.0.2.9\n"));
    CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_b)})),
                         doctest::Contains("has no owner name"), ProviderError);
    std::string no_ttl = zone_text("1", managed_block(line(owner, hex_a)) + "x A 192.0.2.9\n");
    no_ttl.erase(no_ttl.find("$TTL 1h ; default\n"), 18);
    write_text(f.zone_file, no_ttl);
    CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_b)})), doctest::Contains("no TTL"),
                         ProviderError);
    write_text(f.zone_file, zone_text("1", managed_block(line(owner, hex_a) + "@ NS ns2\n")));
    CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_b)})),
                         doctest::Contains("TLSA records only"), ProviderError);
    write_text(f.zone_file, zone_text("1", managed_block("")) + managed_block(""));
    CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_b)})), doctest::Contains("second"),
                         ProviderError);
    CHECK(f.commands().empty());
}

TEST_CASE("include mode rewrites only the TLSA file and the serial") {
    Fixture f;
    std::string include_line = "$INCLUDE \"" + f.tlsa_file.string() + "\" ; danehook\n";
    write_text(f.zone_file, zone_text("2026112001", include_line));
    auto provider = f.provider(f.config(Mode::include));
    provider.apply(add({tlsa(owner, hex_a), tlsa("_465._tcp.mail.example.net.", hex_b, 300)}));
    CHECK(read_text(f.zone_file) == zone_text("2026112300", include_line));
    auto tlsa_text = read_text(f.tlsa_file);
    CHECK(tlsa_text.find(line(owner, hex_a)) != std::string::npos);
    CHECK(tlsa_text.find(line("_465._tcp.mail.example.net.", hex_b, 300)) != std::string::npos);
    CHECK(f.leftovers().empty());

    provider.apply(remove({tlsa(owner, hex_a)}));
    CHECK(read_text(f.zone_file) == zone_text("2026112301", include_line));
    CHECK(read_text(f.tlsa_file).find(hex_a) == std::string::npos);
    CHECK(provider.list(zone, owner).empty());
    CHECK(provider.list(zone, "_465._tcp.mail.example.net.").size() == 1);
    CHECK(f.commands() == "reload\nreload\n");
}

TEST_CASE("include mode needs the $INCLUDE line and says which") {
    Fixture f;
    write_text(f.zone_file, zone_text("1"));
    auto provider = f.provider(f.config(Mode::include));
    CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_a)})),
                         doctest::Contains(("$INCLUDE \"" + f.tlsa_file.string() + "\"").c_str()),
                         ProviderError);
    CHECK(read_text(f.zone_file) == zone_text("1"));
}

TEST_CASE("adding what is there already changes nothing") {
    Fixture f;
    write_text(f.zone_file, zone_text("7", managed_block(line(owner, hex_a))));
    auto provider = f.provider(f.config(Mode::inline_block));
    provider.apply(add({tlsa(owner, hex_a)}));
    provider.apply(remove({tlsa(owner, hex_b)}));
    CHECK(read_text(f.zone_file) == zone_text("7", managed_block(line(owner, hex_a))));
    CHECK(f.commands().empty());
}

TEST_CASE("a failed check leaves the files as they were") {
    if (!danehook::testing::have_program("named-checkzone")) return;
    Fixture f;
    // A CNAME at the owner: named-checkzone refuses "CNAME and other data".
    std::string original = zone_text("2026112001", "_25._tcp.mail CNAME mail\n");
    write_text(f.zone_file, original);
    auto provider = f.provider(f.config(Mode::inline_block));
    CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_a)})),
                         doctest::Contains("named-checkzone"), ProviderError);
    CHECK(read_text(f.zone_file) == original);
    CHECK_FALSE(std::filesystem::exists(backup_path(f.zone_file)));
    CHECK(f.commands().empty());
    CHECK(f.leftovers().empty());

    // The same check passes for a valid change, and checks the included TLSA file's new content.
    std::string include_line = "$INCLUDE \"" + f.tlsa_file.string() + "\"\n";
    write_text(f.zone_file, zone_text("2026112001", include_line));
    write_text(f.tlsa_file, "");
    auto included = f.provider(f.config(Mode::include));
    included.apply(add({tlsa(owner, hex_a)}));
    CHECK(read_text(f.tlsa_file).find(hex_a) != std::string::npos);
    write_text(f.zone_file, zone_text("2026112301", include_line + "_443._tcp.mail CNAME mail\n"));
    CHECK_THROWS_WITH_AS(included.apply(add({tlsa("_443._tcp.mail.example.net.", hex_b)})),
                         doctest::Contains("CNAME"), ProviderError);
    CHECK(read_text(f.tlsa_file).find(hex_b) == std::string::npos);
}

TEST_CASE("a failed reload puts the previous files back and reloads them") {
    Fixture f;
    std::string include_line = "$INCLUDE \"" + f.tlsa_file.string() + "\"\n";
    std::string original_zone = zone_text("2026112001", include_line);
    std::string original_tlsa = line(owner, hex_a);
    write_text(f.zone_file, original_zone);
    write_text(f.tlsa_file, original_tlsa);
    auto config = f.config(Mode::include);
    config.reload_command = f.logging_command("reload", 1);
    auto provider = f.provider(config);
    CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_b)})),
                         doctest::Contains("previous files were put back"), ProviderError);
    CHECK(read_text(f.zone_file) == original_zone);
    CHECK(read_text(f.tlsa_file) == original_tlsa);
    CHECK(f.commands() == "reload\nreload\n");
    CHECK(f.leftovers().empty());

    // A TLSA file that did not exist before is removed again.
    std::filesystem::remove(f.tlsa_file);
    std::filesystem::remove(f.log_file);
    CHECK_THROWS_AS(provider.apply(add({tlsa(owner, hex_b)})), ProviderError);
    CHECK_FALSE(std::filesystem::exists(f.tlsa_file));
    CHECK(read_text(f.zone_file) == original_zone);
}

TEST_CASE("input that would inject zone-file syntax is refused") {
    Fixture f;
    write_text(f.zone_file, zone_text("1"));
    auto provider = f.provider(f.config(Mode::inline_block));
    for (const std::string name :
         {"evil.example.net.\n@ IN NS attacker.", "a;b.example.net.", "$include.example.net.",
          "a(b.example.net.", "a\"b.example.net.", "a b.example.net.", "a\\.example.net.",
          "www.other.net.", "Upper.Example.Net."}) {
        INFO(name);
        CHECK_THROWS_AS(provider.apply(add({TlsaRecord{name, 300, TlsaRdata::parse("3 1 1 00")}})),
                        ProviderError);
    }
    CHECK_THROWS_AS(
        provider.apply(add({TlsaRecord{owner, 0x80000000u, TlsaRdata::parse("3 1 1 00")}})),
        ProviderError);
    CHECK(read_text(f.zone_file) == zone_text("1"));
    CHECK(f.commands().empty());
}

TEST_CASE("a dynamic zone is edited only between freeze and thaw") {
    Fixture f;
    write_text(f.zone_file, zone_text("5"));
    auto journal = f.zone_file;
    journal += ".jnl";
    write_text(journal, "journal");
    SUBCASE("freeze, edit, thaw (thaw reloads)") {
        auto provider = f.provider(f.config(Mode::inline_block));
        CHECK(provider.is_dynamic());
        provider.apply(add({tlsa(owner, hex_a)}));
        CHECK(f.commands() == "freeze\nthaw\n");
        CHECK(read_text(f.zone_file).find(hex_a) != std::string::npos);
    }
    SUBCASE("without freeze_command danehook refuses and points to rfc2136") {
        auto config = f.config(Mode::inline_block);
        config.freeze_command.clear();
        auto provider = f.provider(config);
        CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_a)})),
                             doctest::Contains("rfc2136"), ProviderError);
        CHECK(read_text(f.zone_file) == zone_text("5"));
    }
    SUBCASE("a failed freeze refuses too") {
        auto config = f.config(Mode::inline_block);
        config.freeze_command = f.logging_command("freeze", 1);
        auto provider = f.provider(config);
        CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_a)})),
                             doctest::Contains("rfc2136"), ProviderError);
        CHECK(f.commands() == "freeze\n");
        CHECK(read_text(f.zone_file) == zone_text("5"));
    }
    SUBCASE("a journal from ixfr-from-differences: BIND says 'not dynamic', the zone is static") {
        auto config = f.config(Mode::inline_block);
        config.freeze_command = {"sh", "-c",
                                 "echo freeze >> '" + f.log_file.string() +
                                     "'; echo \"rndc: 'freeze' failed: not dynamic\" >&2; exit 1"};
        auto provider = f.provider(config);
        provider.apply(add({tlsa(owner, hex_a)}));
        CHECK(f.commands() == "freeze\nreload\n");
        CHECK(read_text(f.zone_file).find(hex_a) != std::string::npos);
    }
    SUBCASE("a failed edit still thaws the zone") {
        write_text(f.zone_file, "broken (\n");
        auto provider = f.provider(f.config(Mode::inline_block));
        CHECK_THROWS_AS(provider.apply(add({tlsa(owner, hex_a)})), ProviderError);
        CHECK(f.commands() == "freeze\nthaw\n");
    }
    SUBCASE("dynamic: true without a journal") {
        std::filesystem::remove(journal);
        auto config = f.config(Mode::inline_block);
        config.dynamic = true;
        auto provider = f.provider(config);
        provider.apply(add({tlsa(owner, hex_a)}));
        CHECK(f.commands() == "freeze\nthaw\n");
    }
}

TEST_CASE("configuration refuses the .signed copy and incomplete settings") {
    Fixture f;
    auto config = f.config(Mode::inline_block);
    config.zone_file = f.dir / "db.example.net.signed";
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("inline-signing"),
                         std::invalid_argument);
    config = f.config(Mode::include);
    config.tlsa_file.clear();
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("tlsa_file"), std::invalid_argument);
    config = f.config(Mode::include);
    config.tlsa_file = f.dir / "bad\"name";
    CHECK_THROWS_AS(config.validate(), std::invalid_argument);
    config = f.config(Mode::inline_block);
    config.sign_command = {"dnssec-signzone", "{file}"};
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("signed_file"),
                         std::invalid_argument);
    config.signed_file = f.dir / "db.signed-out";
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("{signed}"), std::invalid_argument);
    config = f.config(Mode::inline_block);
    config.check_command = {"named-checkzone", "{zonefile}"};
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("unknown placeholder"),
                         std::invalid_argument);
}

TEST_CASE("settings from the configuration file") {
    Fixture f;
    auto config_path = f.dir / "danehook.yaml";
    auto make = [&](const std::string& yaml) {
        YAML::Node node = YAML::Load(yaml);
        ProviderContext context{"primary",
                                Settings(config_path, node, "providers.primary"),
                                {},
                                default_operation_timeout,
                                default_retries};
        return ProviderRegistry::instance().create(context);
    };
    auto provider = make(
        "type: bindfile\nzone: Example.NET\nzone_file: db.example.net\nmode: "
        "inline\nserial_format: unixtime\n"
        "check_command: off\nreload_command: [rndc, -s, 127.0.0.1, reload, "
        "'{zone}']\ncommand_timeout: 30\n");
    auto* bindfile = dynamic_cast<BindFileProvider*>(provider.get());
    REQUIRE(bindfile);
    CHECK(bindfile->config().zone == "example.net.");
    CHECK(bindfile->config().zone_file == f.dir / "db.example.net");
    CHECK(bindfile->config().check_command.empty());
    CHECK(bindfile->config().serial_format == SerialFormat::unixtime);
    CHECK(bindfile->config().reload_command.size() == 5);
    CHECK_THROWS_WITH_AS(
        make("type: bindfile\nzone: example.net\nzone_file: db\ntlsa_file: t\nzonefile: x\n"),
        doctest::Contains("zonefile"), ConfigError);
    CHECK_THROWS_WITH_AS(
        make("type: bindfile\nzone: example.net\nzone_file: db.signed\nmode: inline\n"),
        doctest::Contains("zone_file"), ConfigError);
    CHECK_THROWS_WITH_AS(make("type: bindfile\nzone: example.net\nzone_file: db\n"),
                         doctest::Contains("tlsa_file"), ConfigError);
    CHECK_THROWS_WITH_AS(make("type: bindfile\nzone: example.net\nzone_file: db\nmode: "
                              "inline\nserial_format: weekly\n"),
                         doctest::Contains("serial_format"), ConfigError);
}

TEST_CASE("a zone file changed by someone else during the edit is read again") {
    Fixture f;
    write_text(f.zone_file, zone_text("2026112301"));
    auto provider = f.provider(f.config(Mode::inline_block));
    SUBCASE("once: danehook starts over and keeps the other change") {
        int calls = 0;
        provider.set_before_install_hook([&] {
            if (calls++ == 0)
                write_text(f.zone_file, zone_text("2026112310", "extra A 192.0.2.99\n"));
        });
        provider.apply(add({tlsa(owner, hex_a)}));
        CHECK(calls == 2);
        CHECK(read_text(f.zone_file) ==
              zone_text("2026112311", "extra A 192.0.2.99\n") + managed_block(line(owner, hex_a)));
    }
    SUBCASE("always: danehook gives up after a bounded number of attempts") {
        int calls = 0;
        provider.set_before_install_hook(
            [&] { write_text(f.zone_file, zone_text(std::to_string(2026112302 + calls++))); });
        CHECK_THROWS_WITH_AS(provider.apply(add({tlsa(owner, hex_a)})),
                             doctest::Contains("kept changing"), ProviderError);
        CHECK(calls == 3);
        CHECK(read_text(f.zone_file).find(hex_a) == std::string::npos);
        CHECK(f.commands().empty());
    }
}

TEST_CASE(
    "a concurrent danehook run holding the lock makes the edit wait, then fail as transient") {
    Fixture f;
    write_text(f.zone_file, zone_text("1"));
    auto lock_path = ZoneLock::path_for(f.zone_file);
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    auto provider = f.provider(f.config(Mode::inline_block));
    try {
        provider.apply(add({tlsa(owner, hex_a)}));
        FAIL("apply should have failed");
    } catch (const ProviderError& e) {
        CHECK(e.retryable());
        CHECK(std::string(e.what()).find("another danehook run") != std::string::npos);
    }
    ::close(fd);
    provider.apply(add({tlsa(owner, hex_a)}));
    CHECK(read_text(f.zone_file).find(hex_a) != std::string::npos);
}

TEST_CASE("the serial format warning is logged when the serial cannot follow the format") {
    Fixture f;
    write_text(f.zone_file, zone_text("2026112301"));
    auto config = f.config(Mode::inline_block);
    config.serial_format = SerialFormat::unixtime;
    auto provider = f.provider(config);
    std::vector<std::string> warnings;
    log::set_sink([&](log::Level level, const std::string& message) {
        if (level == log::Level::warning) warnings.push_back(message);
    });
    provider.apply(add({tlsa(owner, hex_a)}));
    log::set_sink(nullptr);
    CHECK(read_text(f.zone_file).find("2026112302") != std::string::npos);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("never goes backwards") != std::string::npos);
}

TEST_CASE("long TLSA data is split into groups BIND accepts and reads back") {
    Fixture f;
    write_text(f.zone_file, zone_text("1"));
    auto config = f.config(Mode::inline_block);
    auto provider = f.provider(config);
    std::string hex;
    for (int i = 0; i < 1200; ++i) hex += "0A1B2C3D";  // 4800 bytes: a large full certificate
    TlsaRecord full{owner, 3600, TlsaRdata::parse("3 0 0 " + hex)};
    provider.apply(add({full}));
    auto listed = provider.list(zone, owner);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].record == full);
}

TEST_CASE("the signer's output replaces signed_file only when signing succeeded") {
    Fixture f;
    std::string include_line = "$INCLUDE \"" + f.tlsa_file.string() + "\"\n";
    std::string original_zone = zone_text("2026112001", include_line);
    write_text(f.zone_file, original_zone);
    write_text(f.tlsa_file, line(owner, hex_a));
    auto signed_file = f.dir / "db.example.net.signed-by-tool";
    write_text(signed_file, "old signed zone\n");
    auto config = f.config(Mode::include);
    config.signed_file = signed_file;

    config.sign_command = {"sh", "-c", "echo partial > \"$1\"; exit 3", "sign", "{signed}"};
    auto failing = f.provider(config);
    CHECK_THROWS_WITH_AS(failing.apply(add({tlsa(owner, hex_b)})),
                         doctest::Contains("sign command"), ProviderError);
    CHECK(read_text(f.zone_file) == original_zone);
    CHECK(read_text(f.tlsa_file) == line(owner, hex_a));
    CHECK(read_text(signed_file) == "old signed zone\n");
    CHECK(f.leftovers().empty());
    CHECK(f.commands().empty());

    // The signer sees the new zone with the new TLSA file included.
    config.sign_command = {"sh",
                           "-c",
                           "cat \"$1\" > \"$2\"; grep -h TLSA \"$(sed -n 's/^.INCLUDE "
                           "\"\\(.*\\)\".*/\\1/p' \"$1\")\" >> \"$2\"",
                           "sign",
                           "{file}",
                           "{signed}"};
    auto signing = f.provider(config);
    signing.apply(add({tlsa(owner, hex_b)}));
    auto signed_text = read_text(signed_file);
    CHECK(signed_text.find("2026112300") != std::string::npos);
    CHECK(signed_text.find(hex_a) != std::string::npos);
    CHECK(signed_text.find(hex_b) != std::string::npos);
    CHECK(read_text(backup_path(signed_file)) == "old signed zone\n");
    CHECK(f.commands() == "reload\n");
    CHECK(f.leftovers().empty());
}

TEST_CASE("include mode reads the TLSA file with the $INCLUDE origin") {
    Fixture f;
    write_text(f.zone_file,
               zone_text("1", "$INCLUDE \"" + f.tlsa_file.string() + "\" mail.example.net.\n"));
    write_text(f.tlsa_file, "_25._tcp 300 IN TLSA 3 1 1 " + hex_a + "\n");
    auto provider = f.provider(f.config(Mode::include));
    auto listed = provider.list(zone, owner);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].record == tlsa(owner, hex_a, 300));
    write_text(f.tlsa_file, "www A 192.0.2.1\n");
    CHECK_THROWS_WITH_AS(provider.list(zone, owner), doctest::Contains("TLSA records only"),
                         ProviderError);
}

TEST_CASE("a serial at 2^32-1 wraps to 1 with serial_format increment") {
    Fixture f;
    write_text(f.zone_file, zone_text("4294967295"));
    auto config = f.config(Mode::inline_block);
    config.serial_format = SerialFormat::increment;
    auto provider = f.provider(config);
    provider.apply(add({tlsa(owner, hex_a)}));
    auto text = read_text(f.zone_file);
    CHECK(text.find("\t\t\t1\t; serial") != std::string::npos);
    // And the date format, from just below the wrap, moves to today's date serial (greater in
    // RFC 1982 arithmetic).
    config.serial_format = SerialFormat::date;
    write_text(f.zone_file, zone_text("4294967000"));
    f.provider(config).apply(add({tlsa(owner, hex_b)}));
    CHECK(read_text(f.zone_file).find("\t\t\t2026112300\t; serial") != std::string::npos);
}
