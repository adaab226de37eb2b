// `danehook records`, through the library entry point and through the real binary.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "core/tlsa_vectors.hpp"
#include "danehook/error.hpp"
#include "hook/records_command.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::string zone_line(const std::string& owner, const TlsaVector& vector, int ttl = 300) {
    return owner + " " + std::to_string(ttl) + " IN TLSA " + vector.params.to_string() + " " +
           vector.hex;
}

std::filesystem::path lineage(const std::string& name) {
    return sample_certs_dir() / name;
}

// A failed run: the exit code, nothing on stdout, and one "danehook: error:" line on stderr
// holding every expected fragment.
void check_failure(const CommandResult& result, int exit_code,
                   const std::vector<std::string>& fragments) {
    INFO("stderr: " << result.errors);
    CHECK(result.exit_status == exit_code);
    CHECK(result.output.empty());
    auto lines = lines_of(result.errors);
    REQUIRE(lines.size() == 1);
    CHECK(lines.front().rfind("danehook: error: ", 0) == 0);
    for (const auto& fragment : fragments) {
        CAPTURE(fragment);
        CHECK(lines.front().find(fragment) != std::string::npos);
    }
}

const std::vector<std::string> service{"--service", "mail.example.net:25"};

}  // namespace

TEST_CASE("records command needs a service") {
    RecordsRequest request;
    request.files = files_for_input("ed25519");
    CHECK_THROWS_AS(compute_records(request, nullptr), Error);
}

TEST_CASE(
    "records come in service order, then record order, current key before next key, once each") {
    RecordsRequest request;
    request.files = files_for_input("acme-next");
    request.services = {"www.example.net:443", "mail.example.net:25/tcp"};
    request.records = {"3 1 1", "2 1 1", "DANE-EE SPKI SHA2-256"};
    request.ttl = 600;
    std::vector<std::string> warnings;
    auto records = compute_records(request, &warnings);
    CHECK(warnings.empty());
    auto vectors = load_tlsa_vectors();
    std::vector<std::string> expected_hex{vector_for(vectors, "acme", "-", "3 1 1").hex,
                                          vector_for(vectors, "acme-next", "-", "3 1 1").hex,
                                          vector_for(vectors, "acme", "issuer", "2 1 1").hex};
    REQUIRE(records.size() == 6);
    for (std::size_t i = 0; i < records.size(); ++i) {
        CAPTURE(i);
        CHECK(records[i].owner ==
              (i < 3 ? "_443._tcp.www.example.net." : "_25._tcp.mail.example.net."));
        CHECK(records[i].ttl == 600);
        CHECK(records[i].rdata.hex() == expected_hex[i % 3]);
    }
}

TEST_CASE("the binary prints the openssl-computed data for all 24 parameter sets") {
    auto vectors = load_tlsa_vectors();
    std::vector<std::string> all_params;
    for (int u = 0; u < 4; ++u) {
        for (int s = 0; s < 2; ++s) {
            for (int m = 0; m < 3; ++m) {
                all_params.push_back("--record");
                all_params.push_back(std::to_string(u) + " " + std::to_string(s) + " " +
                                     std::to_string(m));
            }
        }
    }
    for (const auto& input : certificate_inputs()) {
        CAPTURE(input);
        auto result = run_danehook(
            concat(concat(concat({"records"}, arguments_for_input(input)), service), all_params));
        INFO(result.errors);
        REQUIRE(result.exit_status == 0);
        std::vector<std::string> expected;
        for (const auto& vector : vectors_for(vectors, input)) {
            if (vector.anchor != "top")
                expected.push_back(zone_line("_25._tcp.mail.example.net.", vector));
        }
        CHECK(lines_of(result.output) == expected);
    }
    // --trust-anchor top: the root that acme.sh's ca.cer carries.
    auto result = run_danehook(concat(
        concat({"records", "--trust-anchor", "top", "--record", "0 0 0", "--record", "2 1 2"},
               arguments_for_input("acme")),
        service));
    REQUIRE(result.exit_status == 0);
    CHECK(
        lines_of(result.output) ==
        std::vector<std::string>{
            zone_line("_25._tcp.mail.example.net.", vector_for(vectors, "acme", "top", "0 0 0")),
            zone_line("_25._tcp.mail.example.net.", vector_for(vectors, "acme", "top", "2 1 2"))});
}

TEST_CASE("defaults: 3 1 1, TTL 300, zone format, tcp") {
    auto vector = vector_for(load_tlsa_vectors(), "ed25519", "-", "3 1 1");
    auto result = run_danehook(
        {"records", "--lineage", lineage("ed25519").string(), "--service", "WWW.Example.NET.:443"});
    CHECK(result.exit_status == 0);
    CHECK(result.errors.empty());
    CHECK(result.output == zone_line("_443._tcp.www.example.net.", vector) + "\n");
    // RFC 7218 acronyms mean the same.
    auto acronyms = run_danehook({"records", "--lineage", lineage("ed25519").string(), "--service",
                                  "www.example.net:443", "--record", "DANE-EE SPKI SHA2-256"});
    CHECK(acronyms.output == result.output);
}

TEST_CASE("nsupdate, generic and json output of the binary, against the openssl vectors") {
    auto vectors = load_tlsa_vectors();
    auto ee = vector_for(vectors, "ecdsa-p256", "-", "3 1 1");
    auto ta = vector_for(vectors, "ecdsa-p256", "issuer", "2 1 1");
    std::vector<std::string> arguments{"records",
                                       "--lineage",
                                       lineage("ecdsa-p256").string(),
                                       "--service",
                                       "mail.example.net:25",
                                       "--service",
                                       "www.example.net:443/udp",
                                       "--record",
                                       "3 1 1",
                                       "--record",
                                       "2 1 1",
                                       "--ttl",
                                       "3600"};
    const char* mail = "_25._tcp.mail.example.net.";
    const char* www = "_443._udp.www.example.net.";

    auto nsupdate = run_danehook(concat(arguments, {"--format", "nsupdate"}));
    CHECK(nsupdate.exit_status == 0);
    CHECK(nsupdate.output == "update add " + zone_line(mail, ee, 3600) + "\nupdate add " +
                                 zone_line(mail, ta, 3600) + "\nupdate add " +
                                 zone_line(www, ee, 3600) + "\nupdate add " +
                                 zone_line(www, ta, 3600) + "\nsend\n");

    auto generic = run_danehook(concat(arguments, {"--format", "generic"}));
    CHECK(generic.exit_status == 0);
    auto generic_line = [](const std::string& owner, const TlsaVector& vector) {
        return owner + " 3600 IN TYPE52 \\# 35 " +
               (vector.params.to_string() == "3 1 1" ? "030101" : "020101") + vector.hex;
    };
    CHECK(lines_of(generic.output) ==
          std::vector<std::string>{generic_line(mail, ee), generic_line(mail, ta),
                                   generic_line(www, ee), generic_line(www, ta)});

    auto json_run = run_danehook(concat(arguments, {"--format", "json"}));
    CHECK(json_run.exit_status == 0);
    auto json = nlohmann::json::parse(json_run.output);
    REQUIRE(json.size() == 4);
    CHECK(json[0] == nlohmann::json{{"name", mail},
                                    {"ttl", 3600},
                                    {"type", "TLSA"},
                                    {"usage", 3},
                                    {"selector", 1},
                                    {"matching_type", 1},
                                    {"data", ee.hex}});
    CHECK(json[3] == nlohmann::json{{"name", www},
                                    {"ttl", 3600},
                                    {"type", "TLSA"},
                                    {"usage", 2},
                                    {"selector", 1},
                                    {"matching_type", 1},
                                    {"data", ta.hex}});
}

TEST_CASE("acme.sh files with the pre-generated next key") {
    auto vectors = load_tlsa_vectors();
    auto result =
        run_danehook(concat(concat({"records"}, arguments_for_input("acme-next")), service));
    CHECK(result.exit_status == 0);
    CHECK(lines_of(result.output) ==
          std::vector<std::string>{
              zone_line("_25._tcp.mail.example.net.", vector_for(vectors, "acme", "-", "3 1 1")),
              zone_line("_25._tcp.mail.example.net.",
                        vector_for(vectors, "acme-next", "-", "3 1 1"))});
    // A next key cannot give a full-certificate or trust-anchor record: a warning says so.
    auto partial = run_danehook(concat(concat({"records", "--record", "3 1 1", "--record", "3 0 1"},
                                              arguments_for_input("acme-next")),
                                       service));
    CHECK(partial.exit_status == 0);
    CHECK(lines_of(partial.output).size() == 3);
    CHECK(lines_of(partial.errors).size() == 1);
    CHECK(partial.errors.find("warning: record '3 0 1' pins the whole certificate and cannot "
                              "pre-publish a next key") != std::string::npos);
    CHECK(result.errors.empty());
    // fullchain.cer as the chain, the leaf copy in it skipped.
    auto dir = sample_certs_dir() / "acme.sh" / "mail.example.net_ecc";
    auto full = run_danehook({"records", "--cert", (dir / "mail.example.net.cer").string(),
                              "--chain", (dir / "fullchain.cer").string(), "--record", "2 0 1",
                              "--service", "mail.example.net:25"});
    CHECK(full.exit_status == 0);
    CHECK(full.output ==
          zone_line("_25._tcp.mail.example.net.", vector_for(vectors, "acme", "issuer", "2 0 1")) +
              "\n");
}

TEST_CASE("a full chain passed as --chain") {
    auto result = run_danehook({"records", "--cert", (lineage("rsa2048") / "cert.pem").string(),
                                "--chain", (lineage("rsa2048") / "fullchain.pem").string(),
                                "--record", "2 1 1", "--service", "www.example.net:443"});
    CHECK(result.exit_status == 0);
    CHECK(result.output ==
          zone_line("_443._tcp.www.example.net.",
                    vector_for(load_tlsa_vectors(), "rsa2048", "issuer", "2 1 1")) +
              "\n");
}

TEST_CASE("an expired certificate warns on stderr and still gives its records") {
    auto result = run_danehook(
        {"records", "--lineage", lineage("expired").string(), "--service", "mail.example.net:25"});
    CHECK(result.exit_status == 0);
    CHECK(result.output == zone_line("_25._tcp.mail.example.net.",
                                     vector_for(load_tlsa_vectors(), "expired", "-", "3 1 1")) +
                               "\n");
    auto lines = lines_of(result.errors);
    REQUIRE(lines.size() == 1);
    CHECK(lines.front().rfind("danehook: warning: ", 0) == 0);
    CHECK(lines.front().find((lineage("expired") / "cert.pem").string()) != std::string::npos);
    CHECK(lines.front().find("expired") != std::string::npos);
}

TEST_CASE("PKCS#1 public key and CSR inputs") {
    auto vectors = load_tlsa_vectors();
    auto inputs = sample_certs_dir() / "inputs";
    auto expected =
        zone_line("_25._tcp.mail.example.net.", vector_for(vectors, "rsa2048", "-", "3 1 2")) +
        "\n";
    for (const auto& arguments : std::vector<std::vector<std::string>>{
             {"--public-key", (inputs / "rsa2048.rsa-pub.pem").string()},
             {"--public-key", (inputs / "rsa2048.pub.pem").string()},
             {"--csr", (inputs / "rsa2048.csr.pem").string()},
             {"--key", (lineage("rsa2048") / "privkey.pem").string()}}) {
        CAPTURE(arguments[1]);
        auto result =
            run_danehook(concat(concat({"records", "--record", "3 1 2"}, arguments), service));
        CHECK(result.exit_status == 0);
        CHECK(result.output == expected);
    }
    // A key alone cannot give a full-certificate record.
    check_failure(run_danehook(concat({"records", "--record", "3 0 1", "--csr",
                                       (inputs / "rsa2048.csr.pem").string()},
                                      service)),
                  4, {(inputs / "rsa2048.csr.pem").string(), "only a key"});
}

TEST_CASE("bad input files: one line naming the file and the problem, exit code 4") {
    TempDir dir;
    auto cert_text = read_text(lineage("ecdsa-p256") / "cert.pem");
    write_text(dir / "empty.pem", "");
    write_text(dir / "text.pem", "not a certificate\n");
    write_text(dir / "truncated.pem", cert_text.substr(0, cert_text.size() / 2));
    write_text(dir / "key.pem", read_text(lineage("ecdsa-p256") / "privkey.pem"));
    {
        CommandOptions options;
        auto der =
            run_command({"openssl", "x509", "-in", (lineage("ecdsa-p256") / "cert.pem").string(),
                         "-outform", "DER", "-out", (dir / "der.pem").string()},
                        options);
        REQUIRE(der.ok());
    }
    struct Case {
        std::string file;
        std::string problem;
    };
    for (const auto& c :
         std::vector<Case>{{"empty.pem", "file is empty"},
                           {"text.pem", "not a PEM file"},
                           {"truncated.pem", "truncated PEM"},
                           {"der.pem", "looks like DER"},
                           {"key.pem", "contains a private key, expected a certificate"},
                           {"absent.pem", "cannot read: No such file or directory"}}) {
        CAPTURE(c.file);
        check_failure(run_danehook(concat({"records", "--cert", (dir / c.file).string()}, service)),
                      4, {(dir / c.file).string() + ": ", c.problem});
    }
    // Mismatched private key; a chain without the issuer; a lineage that is not there.
    check_failure(
        run_danehook(concat({"records", "--cert", (lineage("ecdsa-p256") / "cert.pem").string(),
                             "--key", (lineage("ed25519") / "privkey.pem").string()},
                            service)),
        4,
        {(lineage("ed25519") / "privkey.pem").string(),
         "private key does not match the certificate"});
    check_failure(run_danehook(concat({"records", "--record", "2 1 1", "--cert",
                                       (lineage("ecdsa-p256") / "cert.pem").string(), "--chain",
                                       (lineage("rsa2048") / "chain.pem").string()},
                                      service)),
                  4,
                  {(lineage("rsa2048") / "chain.pem").string(), "chain lacks the issuer", "2 1 1"});
    check_failure(
        run_danehook(concat({"records", "--lineage", (dir / "nowhere").string()}, service)), 4,
        {(dir / "nowhere").string(), "not found"});
    check_failure(
        run_danehook(concat({"records", "--cert", (lineage("ecdsa-p256") / "cert.pem").string(),
                             "--next-key", (dir / "text.pem").string()},
                            service)),
        4, {(dir / "text.pem").string(), "not a PEM file"});
}

TEST_CASE("bad command lines: one line, exit code 2") {
    auto lineage_args =
        std::vector<std::string>{"records", "--lineage", lineage("ed25519").string()};
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--record", "4 1 1"})), 2,
                  {"--record", "unknown TLSA usage '4'"});
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--record", "3 2 1"})), 2,
                  {"--record", "unknown TLSA selector '2'"});
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--record", "3 1 9"})), 2,
                  {"--record", "unknown TLSA matching type '9'"});
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--record", "DANE-EE SPKI"})),
                  2, {"--record", "three fields"});
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--format", "bind"})), 2,
                  {"--format", "unknown format 'bind'"});
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--trust-anchor", "root"})),
                  2, {"--trust-anchor"});
    check_failure(run_danehook(concat(lineage_args, {"--service", "mail.example.net"})), 2,
                  {"--service", "HOST:PORT"});
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--ttl", "2147483648"})), 2,
                  {"--ttl", "2147483647"});
    check_failure(run_danehook(concat(concat(lineage_args, service), {"--ttl", "-5"})), 2,
                  {"--ttl"});
    check_failure(run_danehook(lineage_args), 2, {"--service"});
    check_failure(run_danehook(concat({"records"}, service)), 2, {"--lineage"});
}

TEST_CASE("scripts/demo.sh prints the records of the samples") {
    CommandOptions options;
    options.timeout = std::chrono::seconds(60);
    auto result = run_command(
        {(source_dir() / "scripts" / "demo.sh").string(), danehook_binary().string()}, options);
    INFO(result.errors);
    CHECK(result.exit_status == 0);
    auto vectors = load_tlsa_vectors();
    for (const char* input :
         {"rsa2048", "ecdsa-p256", "ecdsa-p384", "ed25519", "expired", "acme", "acme-next"}) {
        CAPTURE(input);
        CHECK(result.output.find(" 3 1 1 " + vector_for(vectors, input, "-", "3 1 1").hex + "\n") !=
              std::string::npos);
    }
}
