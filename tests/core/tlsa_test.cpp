#include <doctest/doctest.h>

#include <stdexcept>

#include "danehook/tlsa.hpp"

using namespace danehook;

TEST_CASE("TLSA parameters parse from numbers and RFC 7218 acronyms") {
    CHECK(TlsaParams::parse("3 1 1").to_string() == "3 1 1");
    CHECK(TlsaParams::parse("DANE-EE SPKI SHA2-256") == TlsaParams::parse("3 1 1"));
    CHECK(TlsaParams::parse("pkix-ta cert full") ==
          TlsaParams{Usage::pkix_ta, Selector::full_certificate, MatchingType::exact});
    CHECK(TlsaParams::parse("  2   0   2 ").to_string() == "2 0 2");
    CHECK(TlsaParams::parse("2 0 2").acronyms() == "DANE-TA CERT SHA2-512");
}

TEST_CASE("unknown TLSA fields are refused with the field named") {
    CHECK_THROWS_WITH_AS(TlsaParams::parse("4 1 1"), doctest::Contains("usage '4'"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(TlsaParams::parse("3 2 1"), doctest::Contains("selector '2'"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(TlsaParams::parse("3 1 3"), doctest::Contains("matching type '3'"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(TlsaParams::parse("3 1"), doctest::Contains("three fields"),
                         std::invalid_argument);
    CHECK_THROWS_AS(TlsaParams::parse("DANE-XX SPKI SHA2-256"), std::invalid_argument);
    CHECK_THROWS_AS(TlsaParams::parse("-1 1 1"), std::invalid_argument);
    CHECK_THROWS_AS(TlsaParams::parse("3 1 1x"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(TlsaParams::parse("255 1 1"),
                         doctest::Contains("private-use value 255 (PrivCert)"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(TlsaParams::parse("3 privsel 1"), doctest::Contains("(PrivSel)"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(TlsaParams::parse("3 1 255"), doctest::Contains("(PrivDig)"),
                         std::invalid_argument);
}

TEST_CASE("hex round trip is upper case and rejects bad digits") {
    CHECK(to_hex({0x00, 0xab, 0xff}) == "00ABFF");
    CHECK(from_hex("00 ab FF") == std::vector<std::uint8_t>{0x00, 0xab, 0xff});
    CHECK_THROWS_AS(from_hex("abc"), std::invalid_argument);
    CHECK_THROWS_AS(from_hex("zz"), std::invalid_argument);
}

TEST_CASE("TLSA rdata parses presentation form in any case") {
    auto rdata = TlsaRdata::parse("3 1 1 abcd EF01");
    CHECK(rdata.presentation() == "3 1 1 ABCDEF01");
    CHECK_THROWS_AS(TlsaRdata::parse("3 1 1"), std::invalid_argument);
}

TEST_CASE("services give the TLSA owner name") {
    CHECK(Service::parse("Mail.Example.NET:25").owner_name() == "_25._tcp.mail.example.net.");
    CHECK(Service::parse("www.example.net.:443/udp").owner_name() == "_443._udp.www.example.net.");
    CHECK(Service::parse("www.example.net:25/TCP").owner_name() == "_25._tcp.www.example.net.");
    CHECK(Service::parse("sip.example.net:5061/sctp").to_string() == "sip.example.net:5061/sctp");
    CHECK_THROWS_AS(Service::parse("www.example.net"), std::invalid_argument);
    CHECK_THROWS_AS(Service::parse("www.example.net:0"), std::invalid_argument);
    CHECK_THROWS_AS(Service::parse("www.example.net:70000"), std::invalid_argument);
    CHECK_THROWS_AS(Service::parse("www.example.net:25/xyz"), std::invalid_argument);
    CHECK_THROWS_AS(Service::parse("bad;name.example:25"), std::invalid_argument);
}
