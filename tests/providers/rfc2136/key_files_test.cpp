// Every TSIG key file format the rfc2136 provider reads.
#include <doctest/doctest.h>
#include <stdbool.h>  // before ldns (see providers/rfc2136/tsig.hpp)
#include <sys/stat.h>

#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "providers/rfc2136/tsig_key_files.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::rfc2136;
using danehook::testing::TempDir;
using danehook::testing::write_text;

namespace {

// Collects warnings while alive.
struct LogCapture {
    std::vector<std::string> lines;
    LogCapture() {
        log::set_sink([this](log::Level, const std::string& line) { lines.push_back(line); });
    }
    ~LogCapture() { log::set_sink(nullptr); }
    bool contains(const std::string& text) const {
        for (const auto& line : lines) {
            if (line.find(text) != std::string::npos) return true;
        }
        return false;
    }
};

std::filesystem::path private_file(const TempDir& dir, const std::string& name,
                                   const std::string& text) {
    auto path = dir / name;
    write_text(path, text);
    ::chmod(path.c_str(), 0600);
    return path;
}

}  // namespace

TEST_CASE("tsig-keygen output: one key") {
    TempDir dir;
    auto path = private_file(dir, "danehook.key",
                             "key \"danehook-key\" {\n\talgorithm hmac-sha256;\n\tsecret "
                             "\"SGVsbG8gVFNJRyB3b3JsZCEgMDEyMzQ1Njc4OWFiY2RlZg==\";\n};\n");
    auto key = load_key_file(path, std::nullopt);
    CHECK(key.name == "danehook-key.");
    CHECK(key.algorithm == TsigAlgorithm::hmac_sha256);
    CHECK(key.secret == decode_tsig_secret("SGVsbG8gVFNJRyB3b3JsZCEgMDEyMzQ1Njc4OWFiY2RlZg=="));
    CHECK(key.source == path.string());
}

TEST_CASE("ddns-confgen output: comments and an update-policy statement around the key") {
    TempDir dir;
    auto path = private_file(
        dir, "ddns.key",
        "# To activate this key, place the following in named.conf, and\n"
        "# in a separate keyfile on the system or systems from which nsupdate\n"
        "key \"ddns-key.example.test\" {\n"
        "\talgorithm hmac-sha384;\n"
        "\tsecret \"r9WcB3SXUmp1ZyQhAI6OOyBt1DcQkQp/jvF/VZRmeERqM9JEfZG+KbUCeCjIA/Up\";\n"
        "};\n\n"
        "# Then, in the \"zone\" definition statement for \"example.test\",\n"
        "update-policy {\n\t  grant ddns-key.example.test zonesub ANY;\n};\n"
        "// a C++ comment\n/* and a\n C comment */\n"
        "nsupdate -k <keyfile>;\n");
    auto key = load_key_file(path, std::nullopt);
    CHECK(key.name == "ddns-key.example.test.");
    CHECK(key.algorithm == TsigAlgorithm::hmac_sha384);
    CHECK(key.secret.size() == 48);
}

TEST_CASE("real tsig-keygen and ddns-confgen output parses") {
    if (!danehook::testing::have_program("tsig-keygen") ||
        !danehook::testing::have_program("ddns-confgen")) {
        MESSAGE("tsig-keygen/ddns-confgen not installed: skipped");
        return;
    }
    TempDir dir;
    for (const char* algorithm :
         {"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}) {
        CAPTURE(algorithm);
        auto generated = run_command({"tsig-keygen", "-a", algorithm, "generated-key"});
        REQUIRE(generated.ok());
        auto path = private_file(dir, std::string(algorithm) + ".key", generated.output);
        auto key = load_key_file(path, std::nullopt);
        CHECK(key.name == "generated-key.");
        CHECK(tsig_algorithm_name(key.algorithm) == algorithm);
        CHECK(key.secret.size() == tsig_mac_size(key.algorithm));
    }
    auto confgen = run_command(
        {"ddns-confgen", "-a", "hmac-sha512", "-k", "confgen-key", "-z", "example.test"});
    REQUIRE(confgen.ok());
    auto key = load_key_file(private_file(dir, "confgen.key", confgen.output), std::nullopt);
    CHECK(key.name == "confgen-key.");
    CHECK(key.algorithm == TsigAlgorithm::hmac_sha512);
}

TEST_CASE("several keys in one file: tsig_key_name picks one") {
    TempDir dir;
    auto path =
        private_file(dir, "keys.conf",
                     "key first { algorithm hmac-sha256; secret \"AAECAwQFBgcICQoLDA0ODw==\"; };\n"
                     "key \"second.example.\" { algorithm hmac-sha512; secret "
                     "\"EBESExQVFhcYGRobHB0eHw==\"; };\n");
    CHECK(load_key_file(path, std::string("first")).name == "first.");
    auto second = load_key_file(path, std::string("SECOND.example"));
    CHECK(second.name == "second.example.");
    CHECK(second.algorithm == TsigAlgorithm::hmac_sha512);
    CHECK_THROWS_WITH_AS(load_key_file(path, std::nullopt),
                         doctest::Contains("several keys (first, second.example.)"), InputError);
    CHECK_THROWS_WITH_AS(load_key_file(path, std::string("third")),
                         doctest::Contains("no key named 'third'"), InputError);
}

TEST_CASE("key file errors name the file and line, never the secret") {
    TempDir dir;
    auto check_error = [&](const std::string& text, const std::string& expected) {
        auto path = private_file(dir, "bad.key", text);
        try {
            load_key_file(path, std::nullopt);
            FAIL("accepted: " << text);
        } catch (const InputError& e) {
            std::string message = e.what();
            CHECK_MESSAGE(message.find(expected) != std::string::npos, message);
            CHECK(message.find(path.string()) != std::string::npos);
            CHECK(message.find("SECRETSECRET") == std::string::npos);
        }
    };
    check_error("key k {\n algorithm hmac-sha256;\n secret \"SECRETSECRET*\";\n};\n",
                ":1: key \"k\": the secret is not valid base64");
    check_error("key k {\n algorithm hmac-sha999;\n secret \"SECRETSECRET\";\n};\n",
                "unsupported TSIG algorithm");
    check_error("key k {\n secret \"SECRETSECRET\";\n};\n", "has no algorithm");
    check_error("key k {\n algorithm hmac-sha256;\n};\n", "has no secret");
    check_error("key k {\n algorithm hmac-sha256;\n secret \"SECRETSECRET\"\n};\n",
                ":3: expected ';' after secret");
    check_error("key k {\n algorithm hmac-sha256;\n secret \"SECRETSECRET\";\n}\n",
                "expected ';' after key");
    check_error("options { directory \"/tmp\"; };\n", "no key statement");
    check_error("key k {\n algorithm hmac-sha256;\n secret \"SECRETSECRET;\n};\n",
                "unterminated string");
    CHECK_THROWS_WITH_AS(load_key_file(dir / "missing.key", std::nullopt),
                         doctest::Contains("missing.key"), InputError);
}

TEST_CASE("legacy K<name>.+<alg>+<id>.private files, every BIND algorithm number") {
    TempDir dir;
    struct Case {
        int number;
        TsigAlgorithm algorithm;
    };
    for (auto [number, algorithm] :
         {Case{157, TsigAlgorithm::hmac_md5}, Case{161, TsigAlgorithm::hmac_sha1},
          Case{162, TsigAlgorithm::hmac_sha224}, Case{163, TsigAlgorithm::hmac_sha256},
          Case{164, TsigAlgorithm::hmac_sha384}, Case{165, TsigAlgorithm::hmac_sha512}}) {
        CAPTURE(number);
        std::string name = "Kupdate.example.test.+" + std::to_string(number) + "+12345.private";
        auto path = private_file(
            dir, name,
            "Private-key-format: v1.3\nAlgorithm: " + std::to_string(number) +
                " (HMAC)\nKey: AAECAwQFBgcICQoLDA0ODw==\nBits: AAA=\nCreated: 20200101000000\n");
        auto key = load_key_file(path, std::nullopt);
        CHECK(key.name == "update.example.test.");
        CHECK(key.algorithm == algorithm);
        CHECK(key.secret.size() == 16);
        CHECK(load_key_file(path, std::string("update.example.test")).name ==
              "update.example.test.");
        CHECK_THROWS_WITH_AS(load_key_file(path, std::string("other")),
                             doctest::Contains("not 'other'"), InputError);
    }
    auto mismatch = private_file(
        dir, "Kx.+163+00001.private",
        "Private-key-format: v1.3\nAlgorithm: 165 (HMAC_SHA512)\nKey: AAECAwQFBgcICQoLDA0ODw==\n");
    CHECK_THROWS_WITH_AS(load_key_file(mismatch, std::nullopt),
                         doctest::Contains("file name says algorithm 163"), InputError);
    auto dnssec = private_file(
        dir, "Kexample.+013+00002.private",
        "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n");
    CHECK_THROWS_WITH_AS(load_key_file(dnssec, std::nullopt),
                         doctest::Contains("not an HMAC TSIG algorithm"), InputError);
    auto badly_named = private_file(dir, "update.private",
                                    "Private-key-format: v1.3\nAlgorithm: 163\nKey: AAAA\n");
    CHECK_THROWS_WITH_AS(load_key_file(badly_named, std::nullopt),
                         doctest::Contains("must be named K<keyname>"), InputError);
}

TEST_CASE("certbot-dns-rfc2136 credentials files") {
    auto credentials = parse_certbot_credentials(
        "# Target DNS server (IPv4 or IPv6 address, not a hostname)\n"
        "dns_rfc2136_server = 192.0.2.1\n"
        "dns_rfc2136_port = 5353\n"
        "dns_rfc2136_name = keyname.\n"
        "# TSIG key secret, as certbot's documentation shows it (wrapped with a space)\n"
        "dns_rfc2136_secret = 4q4wM/2I180UXoMyN4INVhJNi8V9BCV+jMw2mXgZw/CSuxUT8C7NKKFs "
        "AmKd7ak51vWKgSl12ib86oQRPkpDjg==\n"
        "dns_rfc2136_algorithm = HMAC-SHA512\n"
        "dns_rfc2136_sign_query = false\n",
        "rfc2136.ini");
    CHECK(credentials.server == "192.0.2.1");
    CHECK(credentials.port == 5353);
    REQUIRE(credentials.key);
    CHECK(credentials.key->name == "keyname.");
    CHECK(credentials.key->algorithm == TsigAlgorithm::hmac_sha512);
    CHECK(credentials.key->secret.size() == 64);

    // certbot's default algorithm is HMAC-MD5; quotes are stripped.
    auto minimal = parse_certbot_credentials(
        "dns_rfc2136_name = \"k\"\ndns_rfc2136_secret = 'AAECAwQFBgcICQoLDA0ODw=='\n", "m.ini");
    REQUIRE(minimal.key);
    CHECK(minimal.key->algorithm == TsigAlgorithm::hmac_md5);
    CHECK_FALSE(minimal.server);

    CHECK_THROWS_WITH_AS(parse_certbot_credentials("dns_rfc2136_name = k\n", "x.ini"),
                         doctest::Contains("must be given together"), InputError);
    CHECK_THROWS_WITH_AS(parse_certbot_credentials("dns_rfc2136_port = 70000\n", "x.ini"),
                         doctest::Contains("x.ini:1: dns_rfc2136_port"), InputError);
    CHECK_THROWS_WITH_AS(parse_certbot_credentials("garbage line\n", "x.ini"),
                         doctest::Contains("x.ini:1"), InputError);
    CHECK_THROWS_WITH_AS(
        parse_certbot_credentials(
            "dns_rfc2136_name = k\ndns_rfc2136_secret = AAAA\ndns_rfc2136_algorithm = HMAC-SHA3\n",
            "x.ini"),
        doctest::Contains("unsupported TSIG algorithm"), InputError);
}

TEST_CASE("credential files readable by group or others are warned about") {
    TempDir dir;
    auto path = dir / "open.key";
    write_text(path, "key k { algorithm hmac-sha256; secret \"AAECAwQFBgcICQoLDA0ODw==\"; };\n");
    ::chmod(path.c_str(), 0644);
    {
        LogCapture capture;
        load_key_file(path, std::nullopt);
        CHECK(capture.contains("readable by group or others"));
        CHECK_FALSE(capture.contains("AAECAwQFBgcICQoLDA0ODw=="));
    }
    ::chmod(path.c_str(), 0600);
    {
        LogCapture capture;
        load_key_file(path, std::nullopt);
        CHECK(capture.lines.empty());
    }
    auto secret = dir / "secret";
    write_text(secret, "AAECAwQFBgcICQoLDA0ODw==\n");
    ::chmod(secret.c_str(), 0640);
    LogCapture capture;
    CHECK(load_secret_file(secret).size() == 16);
    CHECK(capture.contains("readable by group or others"));
}
