// End to end: the danehook binary as certbot's deploy hook, publishing through `type: exec`
// and the example provider in contrib/, configured from YAML like an operator would.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

TEST_CASE("certbot deploy through an exec provider publishes into the example provider's store") {
    if (!have_program("python3")) {
        MESSAGE("python3 not installed: skipped");
        return;
    }
    TempDir dir;
    auto store = dir / "tlsa.json";
    auto token = dir / "token";
    write_text(token, "t0k3n\n");
    write_text(store, R"({"records": [], "token": "t0k3n"})");
    auto lineage = dir / "live/mail.example.net";
    auto ca = make_ca("Exec Test CA");
    auto key = generate_key(KeyKind::p256);
    auto leaf = make_leaf(ca, key.get(), "mail.example.net");
    write_lineage(lineage, leaf.get(), ca, key.get());
    write_text(dir / "danehook.yaml",
               "state_dir: " + (dir / "state").string() +
                   "\n"
                   "providers:\n"
                   "  external:\n"
                   "    type: exec\n"
                   "    command: [" +
                   (source_dir() / "contrib/danehook-provider-jsonfile").string() + ", --store, " +
                   store.string() +
                   "]\n"
                   "    environment: {DANEHOOK_JSONFILE_TOKEN_FILE: " +
                   token.string() +
                   "}\n"
                   "certificates:\n"
                   "  - name: mail\n"
                   "    lineage: " +
                   lineage.string() +
                   "\n"
                   "    zone: example.net\n"
                   "    ttl: 300\n"
                   "    services:\n"
                   "      - { host: mail.example.net, port: 25 }\n");
    auto result =
        run_danehook({"--config", (dir / "danehook.yaml").string(), "deploy"},
                     {"RENEWED_LINEAGE=" + lineage.string(), "RENEWED_DOMAINS=mail.example.net"});
    CHECK_MESSAGE(result.exit_status == 0, result.errors);
    auto data = nlohmann::json::parse(read_text(store));
    REQUIRE(data["records"].size() == 1);
    CHECK(data["records"][0]["owner"] == "_25._tcp.mail.example.net.");
    CHECK(data["records"][0]["ttl"] == 300);
    CHECK(data["records"][0]["rdata"].get<std::string>().rfind("3 1 1 ", 0) == 0);
    // The token travels by file named in the environment, never on the command line or in logs.
    CHECK(result.errors.find("t0k3n") == std::string::npos);
    CHECK(result.output.find("t0k3n") == std::string::npos);
}
