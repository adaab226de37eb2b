// The shared provider conformance suite against a real BIND 9 primary that takes TSIG-signed
// updates. Foreign records are planted with nsupdate, behind danehook's back.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "providers/conformance/conformance.hpp"
#include "support/named_server.hpp"

using namespace danehook;
using namespace danehook::testing;

TEST_CASE("rfc2136 provider conformance against named") {
    if (!NamedServer::available() || !have_program("nsupdate")) {
        MESSAGE("named/nsupdate not installed: skipped");
        return;
    }
    const std::string zone = "conformance.test.";
    TempDir dir;
    auto key = make_tsig_key("danehook-key", "hmac-sha256");
    NamedOptions options;
    options.keys = {key};
    auto primary_zone = NamedZone::primary(zone, "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                                                 "@ IN NS ns1\nns1 IN A 127.0.0.1\n");
    primary_zone.update_policy = "grant danehook-key zonesub TLSA;";
    options.zones.push_back(primary_zone);
    NamedServer named(options);
    write_text(dir / "tsig.key", key.statement());
    ::chmod((dir / "tsig.key").c_str(), 0600);
    std::string yaml = "type: rfc2136\nserver: 127.0.0.1\nport: " + std::to_string(named.port()) +
                       "\ntsig_key_file: " + (dir / "tsig.key").string() + "\nnameservers: [\"" + named.endpoint() +
                       "\"]\ntimeout: 5\n";

    ConformanceTarget target;
    target.zone = zone;
    target.owner = "_25._tcp.mail.conformance.test.";
    target.make_provider = [&] { return make_registered_provider(yaml, dir / "danehook.yaml"); };
    target.add_foreign = [&](const TlsaRecord& record) {
        CommandOptions input;
        input.input = "server 127.0.0.1 " + std::to_string(named.port()) + "\nzone " + zone + "\nupdate add " +
                      record.owner + " " + std::to_string(record.ttl) + " IN TLSA " + record.rdata.presentation() +
                      "\nsend\n";
        auto result = run_command({"nsupdate", "-k", (dir / "tsig.key").string()}, input);
        REQUIRE_MESSAGE(result.ok(), result.describe());
    };
    run_provider_conformance(target);
}
