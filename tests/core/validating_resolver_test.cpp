// ValidatingResolver (libunbound) forwarding to a real named that serves a zone signed by
// dnssec-policy, an unsigned zone and a zone whose signature was broken after signing.
#include <doctest/doctest.h>

#include <algorithm>

#include "danehook/error.hpp"
#include "danehook/validating_resolver.hpp"
#include "hook/check_fixture.hpp"
#include "support/named_server.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string ee_data(64, 'A');
const std::string ta_data = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";

std::string zone_body(const std::string& extra) {
    return "@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n" + extra;
}

}  // namespace

// Zones under .net: libunbound answers NXDOMAIN itself for the RFC 6761 names (test., invalid.).
TEST_CASE("validated TLSA lookups: secure, secure denial, insecure, bogus, unreachable") {
    if (!NamedServer::available()) {
        MESSAGE("named not installed: skipped");
        return;
    }
    TempDir dir;
    std::string bogus_anchor;
    auto bogus_zone = tampered_signed_zone(
        dir / "bogus", "bogus.net.", zone_body("_443._tcp.www TLSA 3 1 1 " + ee_data + "\n"),
        std::string(32, 'A'), std::string(32, 'B'), bogus_anchor);
    NamedOptions options;
    auto signed_zone = NamedZone::primary(
        "example.net.", zone_body("_443._tcp.www TLSA 3 1 1 " + ee_data +
                                  "\n_443._tcp.www TLSA 2 1 1 " + ta_data + "\n"));
    signed_zone.dnssec_policy = "default";
    options.zones.push_back(signed_zone);
    options.zones.push_back(
        NamedZone::primary("plain.net.", zone_body("_443._tcp.www TLSA 3 1 1 " + ee_data + "\n")));
    options.zones.push_back(NamedZone::primary("bogus.net.", bogus_zone));
    NamedServer named(options);
    REQUIRE(named.wait_until_signed("example.net.", std::chrono::seconds(20)));
    write_text(dir / "anchors", dnskey_anchor(named.directory(), "example.net.") + bogus_anchor);

    ValidatorOptions validator;
    validator.trust_anchor_file = dir / "anchors";
    validator.forwarder = named.endpoint();
    validator.timeout = std::chrono::seconds(5);
    ValidatingResolver resolver(validator);

    auto secure = resolver.lookup_tlsa("_443._tcp.www.example.net.");
    CHECK_MESSAGE(secure.status == DnssecStatus::secure, secure.why_bogus, secure.error);
    REQUIRE(secure.rrset.size() == 2);
    CHECK(std::count(secure.rrset.begin(), secure.rrset.end(),
                     TlsaRdata::parse("3 1 1 " + ee_data)) == 1);
    CHECK(std::count(secure.rrset.begin(), secure.rrset.end(),
                     TlsaRdata::parse("2 1 1 " + ta_data)) == 1);
    CHECK(secure.ttl == 300);

    auto denial = resolver.lookup_tlsa("_25._tcp.none.example.net.");
    CHECK(denial.status == DnssecStatus::secure);
    CHECK(denial.nxdomain);
    CHECK(denial.rrset.empty());

    auto insecure = resolver.lookup_tlsa("_443._tcp.www.plain.net.");
    CHECK(insecure.status == DnssecStatus::insecure);
    CHECK(insecure.rrset.size() == 1);

    auto bogus = resolver.lookup_tlsa("_443._tcp.www.bogus.net.");
    CHECK(bogus.status == DnssecStatus::bogus);
    CHECK_FALSE(bogus.why_bogus.empty());
    CHECK(bogus.rrset.empty());
    MESSAGE("why_bogus: " << bogus.why_bogus);

    // A forwarder that never answers: bounded by the timeout.
    ValidatorOptions dead = validator;
    dead.forwarder = "127.0.0.1:" + std::to_string(free_port());
    dead.timeout = std::chrono::milliseconds(800);
    ValidatingResolver unreachable(dead);
    auto start = std::chrono::steady_clock::now();
    auto failed = unreachable.lookup_tlsa("_443._tcp.www.example.net.");
    CHECK(failed.status == DnssecStatus::failed);
    CHECK_FALSE(failed.error.empty());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
}

TEST_CASE("resolver configuration errors name the setting") {
    ValidatorOptions missing;
    missing.trust_anchor_file = "/nonexistent/anchor.key";
    CHECK_THROWS_AS(ValidatingResolver{missing}, ConfigError);
    ValidatorOptions named_forwarder;
    named_forwarder.trust_anchor_file = std::nullopt;
    named_forwarder.forwarder = "resolver.example.net";
    try {
        ValidatingResolver resolver(named_forwarder);
        FAIL("a host name as resolver was accepted");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("resolver") != std::string::npos);
    } catch (const Error& e) {
        MESSAGE("root trust anchor missing here: " << e.what());
    }
}
