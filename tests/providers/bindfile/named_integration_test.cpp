// The bindfile provider against a real BIND 9: named serves the zone file danehook edits, the
// configured reload command (rndc) makes it load the new version, and DNS queries see it.
#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "danehook/error.hpp"
#include "providers/bindfile/bindfile_provider.hpp"
#include "support/named_server.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone = "example.test.";
const std::string owner = "_25._tcp.mail.example.test.";
const std::string hex_a = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const std::string hex_b = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

const std::string base_zone =
    "$TTL 300\n"
    "@ IN SOA ns1 hostmaster (\n"
    "        2026010100 ; serial\n"
    "        3600 900 604800 300 )\n"
    "  IN NS ns1\n"
    "ns1 IN A 127.0.0.1\n"
    "mail IN A 192.0.2.25\n";

std::string program(const std::string& name) {
    for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
        auto candidate = std::filesystem::path(dir) / name;
        if (std::filesystem::exists(candidate)) return candidate.string();
    }
    return name;
}

std::string yaml_list(const std::vector<std::string>& items) {
    std::string text = "[";
    for (const auto& item : items) text += (text.size() > 1 ? ", " : "") + ("'" + item + "'");
    return text + "]";
}

// rndc argv for the harness's server. The control port is private to NamedServer, so it is read
// back from the named.conf the harness wrote.
std::vector<std::string> rndc_argv(const NamedServer& named, const std::string& verb,
                                   const std::string& target = "{zone}") {
    auto conf = read_text(named.directory() / "named.conf");
    auto controls = conf.find("controls");
    auto port_at = conf.find(" port ", controls) + 6;
    auto port = conf.substr(port_at, conf.find(' ', port_at) - port_at);
    return {program("rndc"),           "-s", named.address(), "-p", port, "-k",
            named.key_file().string(), verb, target};
}

std::unique_ptr<Provider> make_provider(const std::string& yaml,
                                        const std::filesystem::path& config_dir) {
    YAML::Node node = YAML::Load(yaml);
    ProviderContext context{"primary",
                            Settings(config_dir / "danehook.yaml", node, "providers.primary"),
                            {},
                            default_operation_timeout,
                            default_retries};
    return ProviderRegistry::instance().create(context);
}

std::string common_yaml(const NamedServer& named, const std::vector<std::string>& reload) {
    return "type: bindfile\nzone: example.test\nnameservers: ['" + named.endpoint() +
           "']\ntimeout: 3\nretries: 1\n" + "reload_command: " + yaml_list(reload) + "\n" +
           "check_command: ['" + program("named-checkzone") +
           "', '{zone}', '{file}']\ncommand_timeout: 30\n";
}

std::string common_yaml(const NamedServer& named) {
    return common_yaml(named, rndc_argv(named, "reload"));
}

ChangeSet add(const std::string& hex) {
    ChangeSet changes;
    changes.zone = zone;
    changes.additions.push_back(TlsaRecord{owner, 300, TlsaRdata::parse("3 1 1 " + hex)});
    return changes;
}

ChangeSet remove(const std::string& hex) {
    ChangeSet changes;
    changes.zone = zone;
    changes.deletions.push_back(
        PublishedRecord{TlsaRecord{owner, 300, TlsaRdata::parse("3 1 1 " + hex)}, "managed"});
    return changes;
}

// What the server answers at the owner, once it serves at least `serial`.
std::vector<TlsaRdata> served(Provider& provider, const NamedServer& named, std::uint32_t serial) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
        auto current = named.soa_serial(zone);
        if (current && *current >= serial) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto answers = provider.observe(zone, owner);
    REQUIRE(answers.size() == 1);
    REQUIRE_MESSAGE(answers[0].answered, answers[0].error);
    REQUIRE(answers[0].soa_serial);
    CHECK(*answers[0].soa_serial >= serial);
    return answers[0].rrset;
}

std::uint32_t file_serial(const std::filesystem::path& file) {
    std::smatch match;
    auto text = read_text(file);
    REQUIRE(std::regex_search(text, match, std::regex("([0-9]+) ; serial")));
    return static_cast<std::uint32_t>(std::stoul(match[1].str()));
}

bool tools_available() {
    return NamedServer::available() && have_program("named-checkzone") &&
           have_program("dnssec-signzone") && have_program("dnssec-keygen") && have_program("dig");
}

}  // namespace

TEST_CASE("inline mode: named serves what danehook publishes and stops serving what it withdraws") {
    if (!tools_available()) {
        MESSAGE("BIND 9 tools not installed: skipped");
        return;
    }
    NamedOptions options;
    options.zones.push_back(NamedZone::primary(zone, base_zone));
    NamedServer named(options);
    auto provider = make_provider(
        common_yaml(named) + "mode: inline\nzone_file: '" + named.zone_file(zone).string() + "'\n",
        named.directory());
    provider->apply(add(hex_a));
    auto serial = file_serial(named.zone_file(zone));
    CHECK(serial > 2026010100u);
    auto rrset = served(*provider, named, serial);
    REQUIRE(rrset.size() == 1);
    CHECK(rrset[0] == TlsaRdata::parse("3 1 1 " + hex_a));

    // Roll over: the new record next to the old, then the old one withdrawn.
    provider->apply(add(hex_b));
    CHECK(served(*provider, named, file_serial(named.zone_file(zone))).size() == 2);
    provider->apply(remove(hex_a));
    rrset = served(*provider, named, file_serial(named.zone_file(zone)));
    REQUIRE(rrset.size() == 1);
    CHECK(rrset[0] == TlsaRdata::parse("3 1 1 " + hex_b));
    provider->apply(remove(hex_b));
    CHECK(served(*provider, named, file_serial(named.zone_file(zone))).empty());
    CHECK(provider->list(zone, owner).empty());
}

TEST_CASE(
    "include mode with a reload that fails: the previous files come back and named keeps serving") {
    if (!tools_available()) {
        MESSAGE("BIND 9 tools not installed: skipped");
        return;
    }
    TempDir work;
    auto tlsa_file = work / "example.test.tlsa";
    write_text(tlsa_file, "");
    NamedOptions options;
    options.zones.push_back(
        NamedZone::primary(zone, base_zone + "$INCLUDE \"" + tlsa_file.string() + "\"\n"));
    NamedServer named(options);
    std::string yaml = common_yaml(named) + "mode: include\nzone_file: '" +
                       named.zone_file(zone).string() + "'\ntlsa_file: '" + tlsa_file.string() +
                       "'\n";
    auto provider = make_provider(yaml, work.path());
    provider->apply(add(hex_a));
    auto serial = file_serial(named.zone_file(zone));
    auto rrset = served(*provider, named, serial);
    REQUIRE(rrset.size() == 1);
    CHECK(rrset[0] == TlsaRdata::parse("3 1 1 " + hex_a));

    // A reload that fails (rndc for a zone named does not have): everything goes back as it was.
    auto zone_before = read_text(named.zone_file(zone));
    auto tlsa_before = read_text(tlsa_file);
    std::string failing_yaml = common_yaml(named, rndc_argv(named, "reload", "no-such-zone.test")) +
                               "mode: include\nzone_file: '" + named.zone_file(zone).string() +
                               "'\ntlsa_file: '" + tlsa_file.string() + "'\n";
    auto failing = make_provider(failing_yaml, work.path());
    CHECK_THROWS_WITH_AS(failing->apply(add(hex_b)), doctest::Contains("put back"), ProviderError);
    CHECK(read_text(named.zone_file(zone)) == zone_before);
    CHECK(read_text(tlsa_file) == tlsa_before);
    named.reload();
    rrset = served(*provider, named, serial);
    CHECK(*named.soa_serial(zone) == serial);
    REQUIRE(rrset.size() == 1);
    CHECK(rrset[0] == TlsaRdata::parse("3 1 1 " + hex_a));

    // Withdrawal through the working provider.
    provider->apply(remove(hex_a));
    CHECK(served(*provider, named, file_serial(named.zone_file(zone))).empty());
}

namespace {

CommandResult run(const std::vector<std::string>& argv, const std::string& input = "") {
    CommandOptions options;
    options.timeout = std::chrono::seconds(60);
    options.input = input;
    return run_command(argv, options);
}

// The TLSA RRset at the owner as dig sees it with DNSSEC records requested.
std::string dig_tlsa(const NamedServer& named) {
    auto result = run({program("dig"), "+dnssec", "+norec", "+tcp", "+time=2", "+tries=1", "-p",
                       std::to_string(named.port()), "@" + named.address(), owner, "TLSA"});
    return result.output;
}

bool has_tlsa_signature(const std::string& dig_output) {
    std::istringstream lines(dig_output);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] != ';' && line.find("RRSIG") != std::string::npos &&
            line.find("TLSA ") != std::string::npos) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("signed with dnssec-signzone: named serves the new TLSA records with RRSIGs") {
    if (!tools_available()) {
        MESSAGE("BIND 9 tools not installed: skipped");
        return;
    }
    TempDir work;
    auto keys = work / "keys";
    std::filesystem::create_directories(keys);
    for (std::vector<std::string> extra :
         {std::vector<std::string>{}, std::vector<std::string>{"-f", "KSK"}}) {
        std::vector<std::string> argv{program("dnssec-keygen"), "-q", "-K", keys.string(), "-a",
                                      "ECDSAP256SHA256"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back("example.test");
        auto result = run(argv);
        REQUIRE_MESSAGE(result.ok(), result.describe());
    }
    auto unsigned_file = work / "example.test.unsigned";
    auto tlsa_file = work / "example.test.tlsa";
    write_text(tlsa_file, "");
    write_text(unsigned_file,
               "$ORIGIN example.test.\n" + base_zone + "$INCLUDE \"" + tlsa_file.string() + "\"\n");
    std::vector<std::string> sign{program("dnssec-signzone"),
                                  "-q",
                                  "-S",
                                  "-K",
                                  keys.string(),
                                  "-d",
                                  keys.string(),
                                  "-o",
                                  "{zone}",
                                  "-f",
                                  "{signed}",
                                  "{file}"};
    // The first signed version, made by hand as an operator would.
    auto initial = work / "initial.signed";
    std::vector<std::string> first = sign;
    first[8] = "example.test";
    first[10] = initial.string();
    first[11] = unsigned_file.string();
    auto signed_once = run(first);
    REQUIRE_MESSAGE(signed_once.ok(), signed_once.describe());

    NamedOptions options;
    options.zones.push_back(NamedZone::primary(zone, read_text(initial)));
    NamedServer named(options);
    REQUIRE(named.wait_until_signed(zone, std::chrono::seconds(10)));

    auto provider = make_provider(common_yaml(named) + "mode: include\nzone_file: '" +
                                      unsigned_file.string() + "'\ntlsa_file: '" +
                                      tlsa_file.string() + "'\nsign_command: " + yaml_list(sign) +
                                      "\nsigned_file: '" + named.zone_file(zone).string() + "'\n",
                                  work.path());
    provider->apply(add(hex_a));
    auto rrset = served(*provider, named, file_serial(unsigned_file));
    REQUIRE(rrset.size() == 1);
    CHECK(rrset[0] == TlsaRdata::parse("3 1 1 " + hex_a));
    auto dig_output = dig_tlsa(named);
    CHECK_MESSAGE(has_tlsa_signature(dig_output), dig_output);
    // The previous signed zone is kept beside the new one.
    CHECK(std::filesystem::exists(bindfile::backup_path(named.zone_file(zone))));

    provider->apply(remove(hex_a));
    CHECK(served(*provider, named, file_serial(unsigned_file)).empty());
    CHECK_FALSE(has_tlsa_signature(dig_tlsa(named)));
}

TEST_CASE(
    "a dynamic zone (journal from a DNS UPDATE) is edited between rndc freeze and rndc thaw") {
    if (!tools_available() || !have_program("nsupdate")) {
        MESSAGE("BIND 9 tools not installed: skipped");
        return;
    }
    auto key = make_tsig_key("danehook-test.");
    NamedOptions options;
    auto dynamic_zone = NamedZone::primary(zone, base_zone);
    dynamic_zone.update_policy = "grant danehook-test. zonesub ANY;";
    options.zones.push_back(dynamic_zone);
    options.keys.push_back(key);
    NamedServer named(options);
    auto update = [&](const std::string& record) {
        auto result = run({program("nsupdate"), "-y", "hmac-sha256:danehook-test.:" + key.secret},
                          "server " + named.address() + " " + std::to_string(named.port()) +
                              "\nzone example.test\nupdate add " + record + "\nsend\n");
        return result;
    };
    auto first = update("nsu1.example.test. 300 A 192.0.2.77");
    REQUIRE_MESSAGE(first.ok(), first.describe());
    auto journal = named.zone_file(zone);
    journal += ".jnl";
    REQUIRE(std::filesystem::exists(journal));

    std::string yaml =
        common_yaml(named) + "mode: inline\nzone_file: '" + named.zone_file(zone).string() + "'\n";
    SUBCASE("with freeze_command off danehook refuses and names the rfc2136 provider") {
        auto refusing = make_provider(yaml + "freeze_command: off\n", named.directory());
        CHECK_THROWS_WITH_AS(refusing->apply(add(hex_a)), doctest::Contains("rfc2136"),
                             ProviderError);
    }
    SUBCASE("freeze, edit, thaw") {
        auto provider =
            make_provider(yaml + "freeze_command: " + yaml_list(rndc_argv(named, "freeze")) +
                              "\nthaw_command: " + yaml_list(rndc_argv(named, "thaw")) + "\n",
                          named.directory());
        provider->apply(add(hex_a));
        // The update made before was written to the file by the freeze and is still there.
        CHECK(read_text(named.zone_file(zone)).find("nsu1") != std::string::npos);
        auto rrset = served(*provider, named, file_serial(named.zone_file(zone)));
        REQUIRE(rrset.size() == 1);
        CHECK(rrset[0] == TlsaRdata::parse("3 1 1 " + hex_a));
        // Thawed: dynamic updates work again.
        auto second = update("nsu2.example.test. 300 A 192.0.2.78");
        CHECK_MESSAGE(second.ok(), second.describe());
    }
}
