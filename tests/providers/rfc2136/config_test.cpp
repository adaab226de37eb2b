// The rfc2136 provider's settings (through the registry, as the engine creates it) and the
// UPDATE messages it builds.
#include <doctest/doctest.h>
#include <stdbool.h>  // before ldns (see providers/rfc2136/tsig.hpp)
#include <sys/stat.h>

#include "danehook/error.hpp"
#include "rfc2136_test_support.hpp"

using namespace danehook;
using namespace danehook::rfc2136;
using namespace danehook::testing;

namespace {

const char* key_text =
    "key \"danehook-key\" { algorithm hmac-sha512; secret \"AAECAwQFBgcICQoLDA0ODw==\"; };\n";

void write_private(const std::filesystem::path& path, const std::string& text) {
    write_text(path, text);
    ::chmod(path.c_str(), 0600);
}

std::string config_error(const TempDir& dir, const std::string& yaml) {
    try {
        provider_from_yaml(dir, yaml);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("rfc2136 is registered") {
    const auto* descriptor = ProviderRegistry::instance().find("rfc2136");
    REQUIRE(descriptor);
    CHECK(descriptor->summary.find("RFC 2136") != std::string::npos);
}

TEST_CASE("settings: key file, server with port, transport, defaults") {
    TempDir dir;
    write_private(dir / "update.key", key_text);
    auto provider =
        provider_from_yaml(dir,
                           "type: rfc2136\nserver: 127.0.0.1\nport: 5353\n"
                           "tsig_key_file: update.key\ntransport: udp\ntimeout: 3\nretries: 1\n");
    const auto& config = as_rfc2136(*provider).config();
    CHECK(config.label == "primary");
    CHECK(config.server == "127.0.0.1");
    CHECK(config.port == 5353);
    CHECK(config.transport == Transport::udp);
    REQUIRE(config.key);
    CHECK(config.key->name == "danehook-key.");
    CHECK(config.key->algorithm == TsigAlgorithm::hmac_sha512);

    auto defaults = provider_from_yaml(
        dir, "type: rfc2136\nserver: ns1.example.test\ntsig_key_file: update.key\n");
    CHECK(as_rfc2136(*defaults).config().port == 53);
    CHECK(as_rfc2136(*defaults).config().transport == Transport::tcp);
    auto inline_port = provider_from_yaml(
        dir, "type: rfc2136\nserver: \"[::1]:5300\"\ntsig_key_file: update.key\n");
    CHECK(as_rfc2136(*inline_port).config().server == "::1");
    CHECK(as_rfc2136(*inline_port).config().port == 5300);
}

TEST_CASE("settings: certbot credentials supply key, server and port") {
    TempDir dir;
    write_private(
        dir / "rfc2136.ini",
        "dns_rfc2136_server = 192.0.2.7\ndns_rfc2136_port = 5300\ndns_rfc2136_name = certbot-key\n"
        "dns_rfc2136_secret = AAECAwQFBgcICQoLDA0ODw==\ndns_rfc2136_algorithm = HMAC-SHA256\n");
    auto provider = provider_from_yaml(dir, "type: rfc2136\ncredentials: rfc2136.ini\n");
    const auto& config = as_rfc2136(*provider).config();
    CHECK(config.server == "192.0.2.7");
    CHECK(config.port == 5300);
    CHECK(config.key->name == "certbot-key.");
    // The YAML wins over the credentials file.
    auto overridden = provider_from_yaml(
        dir, "type: rfc2136\ncredentials: rfc2136.ini\nserver: 192.0.2.8\nport: 53\n");
    CHECK(as_rfc2136(*overridden).config().server == "192.0.2.8");
    CHECK(as_rfc2136(*overridden).config().port == 53);
}

TEST_CASE("settings: tsig_name + tsig_secret_file, and tsig: none") {
    TempDir dir;
    write_private(dir / "secret", "AAECAwQFBgcICQoLDA0ODw==\n");
    auto provider =
        provider_from_yaml(dir,
                           "type: rfc2136\nserver: 127.0.0.1\ntsig_name: "
                           "Named-Key\ntsig_algorithm: hmac-sha224\ntsig_secret_file: secret\n");
    const auto& config = as_rfc2136(*provider).config();
    CHECK(config.key->name == "named-key.");
    CHECK(config.key->algorithm == TsigAlgorithm::hmac_sha224);
    CHECK(config.key->secret.size() == 16);
    auto default_algorithm = provider_from_yaml(
        dir, "type: rfc2136\nserver: 127.0.0.1\ntsig_name: k\ntsig_secret_file: secret\n");
    CHECK(as_rfc2136(*default_algorithm).config().key->algorithm == TsigAlgorithm::hmac_sha256);

    auto unsigned_provider =
        provider_from_yaml(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig: none\n");
    CHECK_FALSE(as_rfc2136(*unsigned_provider).config().key);
}

TEST_CASE("settings errors name the file, line and key") {
    TempDir dir;
    write_private(dir / "update.key", key_text);
    write_private(dir / "secret", "AAECAwQFBgcICQoLDA0ODw==\n");
    CHECK(config_error(dir, "type: rfc2136\nserver: 127.0.0.1\n").find("needs a TSIG key") !=
          std::string::npos);
    CHECK(config_error(dir, "type: rfc2136\ntsig_key_file: update.key\n")
              .find("server: is required") != std::string::npos);
    CHECK(config_error(dir,
                       "type: rfc2136\nserver: 127.0.0.1\ntsig: none\ntsig_key_file: update.key\n")
              .find("cannot be combined") != std::string::npos);
    CHECK(config_error(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig: yes\n")
              .find("only value is 'none'") != std::string::npos);
    CHECK(config_error(dir,
                       "type: rfc2136\nserver: 127.0.0.1\ntsig_key_file: update.key\ntsig_name: k\n"
                       "tsig_secret_file: secret\n")
              .find("one way only") != std::string::npos);
    CHECK(config_error(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig_name: k\n")
              .find("needs tsig_secret_file") != std::string::npos);
    CHECK(config_error(
              dir, "type: rfc2136\nserver: 127.0.0.1\ntsig_key_file: update.key\ntransport: quic\n")
              .find("transport: must be tcp or udp") != std::string::npos);
    CHECK(
        config_error(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig_key_file: update.key\nport: 0\n")
            .find("port") != std::string::npos);
    CHECK(config_error(dir,
                       "type: rfc2136\nserver: 127.0.0.1\ntsig_key_file: update.key\nkey_file: x\n")
              .find("key_file") != std::string::npos);
    CHECK(config_error(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig_key_name: k\ntsig: none\n")
              .find("only applies with tsig_key_file") != std::string::npos);
    std::string located =
        config_error(dir, "type: rfc2136\nserver: 127.0.0.1\n\ntransport: x\ntsig: none\n");
    CHECK(located.find("config.yaml:4") != std::string::npos);
}

TEST_CASE("UPDATE messages: zone section, RD clear, class IN adds, class NONE exact deletions") {
    TempDir dir;
    auto provider = provider_from_yaml(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig: none\n");
    ChangeSet changes;
    changes.zone = "Example.Test";
    changes.additions = {sample_record("_25._tcp.mail.example.test.", 1, 3600),
                         sample_record("_443._tcp.www.example.test.", 2, 600)};
    changes.deletions = {
        PublishedRecord{sample_record("_25._tcp.mail.example.test.", 3, 3600), ""}};
    auto messages = as_rfc2136(*provider).build_updates(changes);
    REQUIRE(messages.size() == 1);
    ldns_pkt* update = messages[0].get();
    CHECK(ldns_pkt_get_opcode(update) == LDNS_PACKET_UPDATE);
    CHECK_FALSE(ldns_pkt_rd(update));
    REQUIRE(ldns_pkt_qdcount(update) == 1);
    const ldns_rr* zone = ldns_rr_list_rr(ldns_pkt_question(update), 0);
    CHECK(ldns_rr_get_type(zone) == LDNS_RR_TYPE_SOA);
    CHECK(ldns_rr_get_class(zone) == LDNS_RR_CLASS_IN);
    MallocedChars zone_name(ldns_rdf2str(ldns_rr_owner(zone)));
    CHECK(std::string(zone_name.get()) == "example.test.");
    CHECK(ldns_pkt_ancount(update) == 0);  // no prerequisites
    ldns_rr_list* records = ldns_pkt_authority(update);
    REQUIRE(ldns_rr_list_rr_count(records) == 3);
    CHECK(ldns_rr_get_class(ldns_rr_list_rr(records, 0)) == LDNS_RR_CLASS_IN);
    CHECK(ldns_rr_ttl(ldns_rr_list_rr(records, 0)) == 3600);
    CHECK(ldns_rr_ttl(ldns_rr_list_rr(records, 1)) == 600);
    const ldns_rr* deletion = ldns_rr_list_rr(records, 2);
    CHECK(ldns_rr_get_class(deletion) == LDNS_RR_CLASS_NONE);
    CHECK(ldns_rr_ttl(deletion) == 0);
    CHECK(ldns_rr_get_type(deletion) == LDNS_RR_TYPE_TLSA);
    CHECK(ldns_rr_rd_count(deletion) == 4);
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(records); ++i) {
        CHECK(ldns_rr_get_class(ldns_rr_list_rr(records, i)) != LDNS_RR_CLASS_ANY);
    }
    MallocedChars text(ldns_rr2str(ldns_rr_list_rr(records, 0)));
    CHECK(std::string(text.get()).find("TLSA\t3 1 1 01") != std::string::npos);
}

TEST_CASE("UPDATE messages: a record both deleted and added is only added") {
    TempDir dir;
    auto provider = provider_from_yaml(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig: none\n");
    ChangeSet changes;
    changes.zone = "example.test.";
    changes.additions = {sample_record("_25._tcp.mail.example.test.", 1, 60)};
    changes.deletions = {
        PublishedRecord{sample_record("_25._tcp.mail.example.test.", 1, 3600), ""}};
    auto messages = as_rfc2136(*provider).build_updates(changes);
    REQUIRE(messages.size() == 1);
    REQUIRE(ldns_pkt_nscount(messages[0].get()) == 1);
    CHECK(ldns_rr_get_class(ldns_rr_list_rr(ldns_pkt_authority(messages[0].get()), 0)) ==
          LDNS_RR_CLASS_IN);
}

TEST_CASE("UPDATE messages: split only above 64 KiB, additions before deletions") {
    TempDir dir;
    auto provider = provider_from_yaml(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig: none\n");
    ChangeSet small;
    small.zone = "example.test.";
    for (int i = 0; i < 1000; ++i)
        small.additions.push_back(
            sample_record("_25._tcp.mx" + std::to_string(i) + ".example.test.", i));
    CHECK(as_rfc2136(*provider).build_updates(small).size() == 1);

    // Full certificates (matching type 0) of 2,000 bytes: 80 of them are 160 KB.
    ChangeSet large;
    large.zone = "example.test.";
    for (int i = 0; i < 80; ++i) {
        auto record = sample_record("_25._tcp.mail.example.test.", i);
        record.rdata.params.matching = MatchingType::exact;
        record.rdata.data.assign(2000, static_cast<std::uint8_t>(i));
        (i < 40 ? large.additions.push_back(record)
                : large.deletions.push_back(PublishedRecord{record, ""}));
    }
    auto messages = as_rfc2136(*provider).build_updates(large);
    CHECK(messages.size() >= 3);
    std::size_t total = 0;
    bool seen_deletion = false;
    for (const auto& message : messages) {
        std::uint8_t* raw = nullptr;
        std::size_t size = 0;
        REQUIRE(ldns_pkt2wire(&raw, message.get(), &size) == LDNS_STATUS_OK);
        MallocedBytes owner(raw);
        CHECK(size + 600 <= 65535);
        ldns_rr_list* records = ldns_pkt_authority(message.get());
        for (std::size_t i = 0; i < ldns_rr_list_rr_count(records); ++i) {
            bool deletion = ldns_rr_get_class(ldns_rr_list_rr(records, i)) == LDNS_RR_CLASS_NONE;
            CHECK_FALSE((seen_deletion && !deletion));  // no addition after a deletion
            seen_deletion = seen_deletion || deletion;
            ++total;
        }
    }
    CHECK(total == 80);
}

TEST_CASE("records outside the zone are refused before anything is sent") {
    TempDir dir;
    auto provider = provider_from_yaml(dir, "type: rfc2136\nserver: 127.0.0.1\ntsig: none\n");
    ChangeSet changes;
    changes.zone = "example.test.";
    changes.additions = {sample_record("_25._tcp.mail.other.test.", 1)};
    try {
        provider->apply(changes);
        FAIL("applied a record outside the zone");
    } catch (const ProviderError& e) {
        CHECK(e.failure() == ProviderFailure::configuration);
        CHECK(std::string(e.what()).find("not inside zone example.test.") != std::string::npos);
    }
    CHECK_THROWS_AS(provider->zone_for("_25._tcp.mail.other.test.", "example.test."),
                    ProviderError);
    CHECK(provider->zone_for("_25._tcp.MAIL.example.test", "Example.Test") == "example.test.");
}
