// The Cloudflare provider's pure parts: envelope errors, Retry-After, credentials files, and
// the JSON shapes of records.
#include <doctest/doctest.h>

#include "providers/cloudflare/cloudflare_client.hpp"
#include "providers/cloudflare/cloudflare_credentials.hpp"
#include "providers/cloudflare/cloudflare_provider.hpp"

using namespace danehook;
using namespace danehook::cloudflare;

namespace {
const std::string digest = "0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6";
}

TEST_CASE("cloudflare: failures are classified from HTTP status and envelope codes") {
    CHECK(classify_failure(403, {{10000, "Authentication error"}}) ==
          ProviderFailure::authentication);
    CHECK(classify_failure(400, {{6003, "Invalid request headers"}}) ==
          ProviderFailure::authentication);
    CHECK(classify_failure(400, {{9109, "Invalid access token"}}) ==
          ProviderFailure::authentication);
    CHECK(classify_failure(401, {}) == ProviderFailure::authentication);
    CHECK(classify_failure(404, {{7003, "Could not route"}}) == ProviderFailure::not_found);
    CHECK(classify_failure(429, {{971, "Please wait"}}) == ProviderFailure::transient);
    CHECK(classify_failure(502, {}) == ProviderFailure::transient);
    CHECK(classify_failure(400, {{81058, "An identical record already exists."}}) ==
          ProviderFailure::rejected);
    CHECK(
        describe_errors({{81058, "An identical record already exists."}, {9021, "Invalid TTL"}}) ==
        "code 81058: An identical record already exists.; code 9021: Invalid TTL");
}

TEST_CASE("cloudflare: Retry-After as seconds or HTTP-date") {
    auto now = std::chrono::system_clock::from_time_t(1'700'000'000);  // 2023-11-14T22:13:20Z
    CHECK(parse_retry_after("7", now) == std::chrono::seconds(7));
    CHECK(parse_retry_after("0", now) == std::chrono::seconds(0));
    CHECK(parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now) == std::chrono::seconds(30));
    CHECK(parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == std::chrono::seconds(0));
    CHECK_FALSE(parse_retry_after("", now).has_value());
    CHECK_FALSE(parse_retry_after("soon", now).has_value());
    CHECK_FALSE(parse_retry_after("99999999999999", now).has_value());
}

TEST_CASE("cloudflare: query values are percent-encoded") {
    CHECK(url_encode("_25._tcp.mail.example.net") == "_25._tcp.mail.example.net");
    CHECK(url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
}

TEST_CASE("cloudflare: certbot credentials INI") {
    auto token = parse_certbot_credentials(
        "# Cloudflare API token used by Certbot\n"
        "dns_cloudflare_api_token = 0123456789abcdef0123456789abcdef01234567\n",
        "cf.ini");
    CHECK(token.kind == Credentials::Kind::api_token);
    CHECK(token.token.reveal() == "0123456789abcdef0123456789abcdef01234567");

    auto global = parse_certbot_credentials(
        "dns_cloudflare_email = \"cloudflare@example.com\"\n"
        "dns_cloudflare_api_key=0123456789abcdef0123456789abcdef01234\n",
        "cf.ini");
    CHECK(global.kind == Credentials::Kind::global_key);
    CHECK(global.email == "cloudflare@example.com");
    CHECK(global.key.reveal() == "0123456789abcdef0123456789abcdef01234");

    // A token wins over a global key in the same file, as in certbot-dns-cloudflare.
    auto both = parse_certbot_credentials(
        "dns_cloudflare_email = a@example.com\ndns_cloudflare_api_key = k\n"
        "dns_cloudflare_api_token = t0k3n\n",
        "cf.ini");
    CHECK(both.kind == Credentials::Kind::api_token);

    CHECK_THROWS_AS(parse_certbot_credentials("dns_cloudflare_email = a@example.com\n", "cf.ini"),
                    ConfigError);
    CHECK_THROWS_AS(parse_certbot_credentials("dns_cloudflare_api_token\n", "cf.ini"), ConfigError);
    try {
        parse_certbot_credentials("dns_cloudflare_api_token = two words\n", "cf.ini");
        FAIL("expected a ConfigError");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("two words") == std::string::npos);  // never echo a secret
    }
}

TEST_CASE("cloudflare: create body uses the structured data object, never content") {
    TlsaRecord record{"_25._tcp.mail.example.net.", 300, TlsaRdata::parse("3 1 1 " + digest)};
    auto body = create_body(record);
    CHECK(body["type"] == "TLSA");
    CHECK(body["name"] == "_25._tcp.mail.example.net");
    CHECK(body["ttl"] == 300);
    CHECK(body["data"]["usage"].is_number_integer());
    CHECK(body["data"]["usage"] == 3);
    CHECK(body["data"]["selector"] == 1);
    CHECK(body["data"]["matching_type"] == 1);
    CHECK(body["data"]["certificate"].get<std::string>().size() == 64);
    CHECK_FALSE(body.contains("content"));
    CHECK(body["comment"].get<std::string>().find("danehook") != std::string::npos);
    CHECK(body["comment"].get<std::string>().size() <= 100);
}

TEST_CASE("cloudflare: listed records parse from data or content, TTL 1 is automatic (300 s)") {
    auto from_data =
        parse_record(nlohmann::json::parse(R"({"id": "372e67954025e0ba6aaa6d586b9e0b59",
        "type": "TLSA", "name": "_25._tcp.Mail.example.net", "ttl": 1,
        "data": {"usage": 3, "selector": 1, "matching_type": 1, "certificate": ")" +
                                           digest + R"("},
        "content": "3 1 1 )" + digest + R"("})"));
    REQUIRE(from_data);
    CHECK(from_data->id == "372e67954025e0ba6aaa6d586b9e0b59");
    CHECK(from_data->record.owner == "_25._tcp.mail.example.net.");
    CHECK(from_data->record.ttl == automatic_ttl_seconds);
    CHECK(from_data->record.rdata == TlsaRdata::parse("3 1 1 " + digest));

    std::string lower_digest = digest;
    for (auto& c : lower_digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto from_content = parse_record(nlohmann::json::parse(R"({"id": "a1", "type": "TLSA",
        "name": "_25._tcp.mail.example.net", "ttl": 3600, "content": "3 1 1 )" +
                                                           lower_digest + R"("})"));
    REQUIRE(from_content);
    CHECK(from_content->record.ttl == 3600);
    CHECK(from_content->record.rdata == from_data->record.rdata);  // hex case does not matter

    CHECK_FALSE(
        parse_record(nlohmann::json::parse(R"({"id": "a2", "type": "TXT", "name": "x.example.net",
        "content": "hello"})")));
    CHECK_FALSE(parse_record(nlohmann::json::parse(R"({"id": "../../x", "type": "TLSA",
        "name": "x.example.net", "content": "3 1 1 00"})")));
}
