// TSIG signing and verification, cross-checked against ldns's own implementation for the
// algorithms ldns 1.8.3 supports (hmac-md5, hmac-sha1, hmac-sha256, hmac-sha512).
#include <doctest/doctest.h>
#include <stdbool.h>  // before ldns (see providers/rfc2136/tsig.hpp)

#include <ctime>

#include "danehook/ldns_handles.hpp"
#include "providers/rfc2136/tsig.hpp"

using namespace danehook;
using namespace danehook::rfc2136;

namespace {

const char* secret_base64 = "c2VjcmV0LWtleS1ieXRlcy1mb3ItdGVzdGluZy0wMTIzNDU2Nzg5";

TsigKey test_key(TsigAlgorithm algorithm, const std::string& name = "danehook-key.") {
    return TsigKey{name, algorithm, decode_tsig_secret(secret_base64), "test"};
}

LdnsPkt sample_query() {
    LdnsPkt packet(ldns_pkt_query_new(ldns_dname_new_frm_str("_25._tcp.mail.example.test."),
                                      LDNS_RR_TYPE_TLSA, LDNS_RR_CLASS_IN, 0));
    REQUIRE(packet);
    ldns_pkt_set_id(packet.get(), 4242);
    return packet;
}

std::vector<std::uint8_t> wire_of(const ldns_pkt* packet) {
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&raw, packet, &size) == LDNS_STATUS_OK);
    MallocedBytes owner(raw);
    return {raw, raw + size};
}

}  // namespace

TEST_CASE("TSIG algorithm names: BIND, certbot and wire forms") {
    CHECK(parse_tsig_algorithm("hmac-sha256") == TsigAlgorithm::hmac_sha256);
    CHECK(parse_tsig_algorithm("HMAC-SHA512") == TsigAlgorithm::hmac_sha512);
    CHECK(parse_tsig_algorithm("hmac-sha384.") == TsigAlgorithm::hmac_sha384);
    CHECK(parse_tsig_algorithm("hmac-md5.sig-alg.reg.int") == TsigAlgorithm::hmac_md5);
    CHECK(parse_tsig_algorithm("HMAC-MD5.SIG-ALG.REG.INT.") == TsigAlgorithm::hmac_md5);
    CHECK(parse_tsig_algorithm("hmac-sha224") == TsigAlgorithm::hmac_sha224);
    CHECK(parse_tsig_algorithm("hmac-sha1") == TsigAlgorithm::hmac_sha1);
    CHECK_THROWS_WITH_AS(parse_tsig_algorithm("hmac-sha256-128"),
                         doctest::Contains("truncated MACs are not supported"),
                         std::invalid_argument);
    CHECK_THROWS_AS(parse_tsig_algorithm("gss-tsig"), std::invalid_argument);
    CHECK(tsig_algorithm_wire_name(TsigAlgorithm::hmac_md5) == "hmac-md5.sig-alg.reg.int.");
    CHECK(tsig_algorithm_wire_name(TsigAlgorithm::hmac_sha384) == "hmac-sha384.");
    CHECK(tsig_algorithm_from_bind_number(157) == TsigAlgorithm::hmac_md5);
    CHECK(tsig_algorithm_from_bind_number(161) == TsigAlgorithm::hmac_sha1);
    CHECK(tsig_algorithm_from_bind_number(162) == TsigAlgorithm::hmac_sha224);
    CHECK(tsig_algorithm_from_bind_number(163) == TsigAlgorithm::hmac_sha256);
    CHECK(tsig_algorithm_from_bind_number(164) == TsigAlgorithm::hmac_sha384);
    CHECK(tsig_algorithm_from_bind_number(165) == TsigAlgorithm::hmac_sha512);
    CHECK_FALSE(tsig_algorithm_from_bind_number(8));
    CHECK(tsig_algorithm_is_weak(TsigAlgorithm::hmac_md5));
    CHECK(tsig_algorithm_is_weak(TsigAlgorithm::hmac_sha1));
    CHECK_FALSE(tsig_algorithm_is_weak(TsigAlgorithm::hmac_sha256));
}

TEST_CASE("TSIG secrets are base64 (whitespace allowed) and never echoed in errors") {
    CHECK(decode_tsig_secret("AAEC") == std::vector<std::uint8_t>{0, 1, 2});
    CHECK(decode_tsig_secret("AAE=") == std::vector<std::uint8_t>{0, 1});
    CHECK(decode_tsig_secret(" AA\nE= ") == std::vector<std::uint8_t>{0, 1});
    try {
        decode_tsig_secret("not*base64secret");
        FAIL("accepted invalid base64");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("not*base64secret") == std::string::npos);
    }
    CHECK_THROWS_AS(decode_tsig_secret(""), std::invalid_argument);
    CHECK_THROWS_AS(decode_tsig_secret("AAE"), std::invalid_argument);
}

TEST_CASE("our TSIG signatures verify with ldns, and ldns's verify with ours") {
    for (auto algorithm : {TsigAlgorithm::hmac_md5, TsigAlgorithm::hmac_sha1,
                           TsigAlgorithm::hmac_sha256, TsigAlgorithm::hmac_sha512}) {
        CAPTURE(tsig_algorithm_name(algorithm));
        auto key = test_key(algorithm);
        EpochSeconds now = std::time(nullptr);

        auto ours = sample_query();
        auto mac = tsig_sign(ours.get(), key, now);
        CHECK(mac.size() == tsig_mac_size(algorithm));
        auto wire = wire_of(ours.get());
        // ldns_pkt_tsig_verify recomputes the MAC from the record's own fields.
        ldns_pkt* parsed = nullptr;
        REQUIRE(ldns_wire2pkt(&parsed, wire.data(), wire.size()) == LDNS_STATUS_OK);
        LdnsPkt parsed_owner(parsed);
        CHECK(ldns_pkt_tsig_verify(parsed, wire.data(), wire.size(), "danehook-key.", secret_base64,
                                   nullptr));
        CHECK(tsig_verify(wire.data(), wire.size(), key, {}, now).status == TsigStatus::ok);

        auto theirs = sample_query();
        REQUIRE(ldns_pkt_tsig_sign(theirs.get(), "danehook-key.", secret_base64, tsig_fudge,
                                   tsig_algorithm_wire_name(algorithm).c_str(),
                                   nullptr) == LDNS_STATUS_OK);
        auto their_wire = wire_of(theirs.get());
        auto verdict =
            tsig_verify(their_wire.data(), their_wire.size(), key, {}, std::time(nullptr));
        CHECK(verdict.status == TsigStatus::ok);
    }
}

TEST_CASE("a response MAC covers the request MAC (RFC 8945 4.3.1)") {
    auto key = test_key(TsigAlgorithm::hmac_sha256);
    EpochSeconds now = 1'700'000'000;
    auto request = sample_query();
    auto request_mac = tsig_sign(request.get(), key, now);

    auto response = sample_query();
    ldns_pkt_set_qr(response.get(), true);
    ldns_rdf* request_mac_rdf = ldns_native2rdf_int16_data(request_mac.size(), request_mac.data());
    REQUIRE(ldns_pkt_tsig_sign(response.get(), "danehook-key.", secret_base64, tsig_fudge,
                               "hmac-sha256.", request_mac_rdf) == LDNS_STATUS_OK);
    ldns_rdf_deep_free(request_mac_rdf);
    auto wire = wire_of(response.get());
    EpochSeconds real_now = std::time(nullptr);
    CHECK(tsig_verify(wire.data(), wire.size(), key, request_mac, real_now).status ==
          TsigStatus::ok);
    auto other_mac = request_mac;
    other_mac[0] ^= 1;
    CHECK(tsig_verify(wire.data(), wire.size(), key, other_mac, real_now).status ==
          TsigStatus::bad_mac);
}

TEST_CASE("tsig_verify rejects tampering, other keys, skewed clocks and unsigned answers") {
    auto key = test_key(TsigAlgorithm::hmac_sha384);
    EpochSeconds now = 1'700'000'000;
    auto packet = sample_query();
    tsig_sign(packet.get(), key, now);
    auto wire = wire_of(packet.get());
    CHECK(tsig_verify(wire.data(), wire.size(), key, {}, now).status == TsigStatus::ok);
    CHECK(tsig_verify(wire.data(), wire.size(), key, {}, now + 300).status == TsigStatus::ok);

    SUBCASE("tampered message") {
        auto tampered = wire;
        tampered[LDNS_HEADER_SIZE + 5] ^=
            0x20;  // a letter of the question name changes case... and so the MAC
        tampered[LDNS_HEADER_SIZE + 6] ^= 0x01;
        CHECK(tsig_verify(tampered.data(), tampered.size(), key, {}, now).status ==
              TsigStatus::bad_mac);
    }
    SUBCASE("another secret") {
        auto other = key;
        auto flipped = other.secret.reveal();
        flipped[0] ^= 1;
        other.secret = flipped;
        CHECK(tsig_verify(wire.data(), wire.size(), other, {}, now).status == TsigStatus::bad_mac);
    }
    SUBCASE("another key name or algorithm") {
        CHECK(tsig_verify(wire.data(), wire.size(), test_key(TsigAlgorithm::hmac_sha384, "other."),
                          {}, now)
                  .status == TsigStatus::wrong_key);
        CHECK(tsig_verify(wire.data(), wire.size(), test_key(TsigAlgorithm::hmac_sha512), {}, now)
                  .status == TsigStatus::wrong_key);
    }
    SUBCASE("outside the fudge window") {
        auto verdict = tsig_verify(wire.data(), wire.size(), key, {}, now + 301);
        CHECK(verdict.status == TsigStatus::bad_time);
        CHECK(verdict.detail.find("301 s") != std::string::npos);
        CHECK(tsig_verify(wire.data(), wire.size(), key, {}, now - 301).status ==
              TsigStatus::bad_time);
    }
    SUBCASE("unsigned") {
        auto plain = sample_query();
        auto plain_wire = wire_of(plain.get());
        CHECK(tsig_verify(plain_wire.data(), plain_wire.size(), key, {}, now).status ==
              TsigStatus::unsigned_response);
    }
    SUBCASE("truncated") {
        CHECK(tsig_verify(wire.data(), 5, key, {}, now).status == TsigStatus::malformed);
        CHECK(tsig_verify(wire.data(), wire.size() - 3, key, {}, now).status ==
              TsigStatus::malformed);
    }
}

TEST_CASE("key names are compared and digested in canonical (lower case) form") {
    auto key = test_key(TsigAlgorithm::hmac_sha256, "danehook-key.");
    auto upper = test_key(TsigAlgorithm::hmac_sha256, "DaneHook-Key.");
    EpochSeconds now = 1'700'000'000;
    auto packet = sample_query();
    tsig_sign(packet.get(), upper, now);
    auto wire = wire_of(packet.get());
    CHECK(tsig_verify(wire.data(), wire.size(), key, {}, now).status == TsigStatus::ok);
}
