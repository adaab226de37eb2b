// probe_tls against real TLS servers on loopback: openssl s_server (direct TLS, SNI) and an
// in-process STARTTLS responder (SMTP, IMAP, POP3 and misbehaving servers).
#include <doctest/doctest.h>

#include <chrono>

#include "danehook/tls_probe.hpp"
#include "hook/check_fixture.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

struct ProbeSetup {
    TempDir dir;
    TestCa ca = make_ca("Probe Test CA");
    ServiceCertificate www{ca, "www.example.test", dir / "www"};
    ServiceCertificate other{ca, "other.example.test", dir / "other", 2};

    TlsProbeOptions options(int port, const std::string& host, std::vector<std::string> records,
                            StartTls starttls = StartTls::none) const {
        TlsProbeOptions o;
        o.host = host;
        o.address = "127.0.0.1";
        o.port = static_cast<std::uint16_t>(port);
        o.starttls = starttls;
        o.smtp_rules = starttls == StartTls::smtp;
        for (const auto& record : records) o.tlsa.push_back(TlsaRdata::parse(record));
        o.connect_timeout = o.dialogue_timeout = o.handshake_timeout =
            std::chrono::milliseconds(3000);
        return o;
    }
};

}  // namespace

TEST_CASE("starttls mode follows the port unless overridden") {
    CHECK(default_starttls(25) == StartTls::smtp);
    CHECK(default_starttls(587) == StartTls::smtp);
    CHECK(default_starttls(143) == StartTls::imap);
    CHECK(default_starttls(110) == StartTls::pop3);
    CHECK(default_starttls(443) == StartTls::none);
    CHECK(default_starttls(465) == StartTls::none);
    CHECK(parse_starttls("imap") == StartTls::imap);
    CHECK_THROWS_AS(parse_starttls("ftp"), std::invalid_argument);
}

TEST_CASE("direct TLS: DANE-EE matches the leaf, DANE-TA the issuer, a wrong record nothing") {
    ProbeSetup setup;
    SServer server(setup.www);

    auto ee = probe_tls(setup.options(server.port(), "www.example.test", {setup.www.ee_record()}));
    REQUIRE_MESSAGE(ee.reached(), ee.error);
    CHECK(ee.dane_verified);
    REQUIRE(ee.match);
    CHECK(ee.match->depth == 0);
    CHECK(ee.match->record.presentation() == setup.www.ee_record());
    CHECK(ee.leaf_sha256 == setup.www.leaf_sha256());
    CHECK(ee.chain.size() == 2);
    CHECK(ee.endpoint == "127.0.0.1:" + std::to_string(server.port()));

    auto ta = probe_tls(setup.options(server.port(), "www.example.test", {ta_record(setup.ca)}));
    REQUIRE(ta.reached());
    CHECK(ta.dane_verified);
    REQUIRE(ta.match);
    CHECK(ta.match->depth == 1);

    // DANE-TA with the wrong name: the name check applies outside SMTP.
    auto wrong_name =
        probe_tls(setup.options(server.port(), "nothere.example.test", {ta_record(setup.ca)}));
    REQUIRE(wrong_name.reached());
    CHECK_FALSE(wrong_name.dane_verified);

    auto wrong =
        probe_tls(setup.options(server.port(), "www.example.test", {setup.other.ee_record()}));
    REQUIRE(wrong.reached());
    CHECK_FALSE(wrong.dane_verified);
    CHECK_FALSE(wrong.match);
    CHECK_FALSE(wrong.verify_error.empty());

    // One good record among bad ones is enough.
    auto mixed = probe_tls(setup.options(server.port(), "www.example.test",
                                         {setup.other.ee_record(), setup.www.ee_record()}));
    CHECK(mixed.dane_verified);
}

TEST_CASE("SNI selects the certificate the service presents for the name") {
    ProbeSetup setup;
    SServer server(setup.www, "other.example.test", &setup.other);
    auto plain = probe_tls(setup.options(server.port(), "www.example.test", {}));
    REQUIRE(plain.reached());
    CHECK(plain.leaf_sha256 == setup.www.leaf_sha256());
    auto sni =
        probe_tls(setup.options(server.port(), "other.example.test", {setup.other.ee_record()}));
    REQUIRE(sni.reached());
    CHECK(sni.leaf_sha256 == setup.other.leaf_sha256());
    CHECK(sni.dane_verified);
}

TEST_CASE("STARTTLS for SMTP, IMAP and POP3") {
    ProbeSetup setup;
    for (auto [mode, starttls] : {std::pair{ResponderMode::smtp, StartTls::smtp},
                                  std::pair{ResponderMode::imap, StartTls::imap},
                                  std::pair{ResponderMode::pop3, StartTls::pop3}}) {
        CAPTURE(to_string(starttls));
        StartTlsResponder responder(mode, setup.www, setup.ca);
        auto result = probe_tls(
            setup.options(responder.port(), "www.example.test", {setup.www.ee_record()}, starttls));
        REQUIRE_MESSAGE(result.reached(), result.error);
        CHECK(result.dane_verified);
        CHECK(result.leaf_sha256 == setup.www.leaf_sha256());
    }
}

TEST_CASE("SMTP follows RFC 7672: PKIX usages are unusable, DANE-EE ignores the name") {
    ProbeSetup setup;
    StartTlsResponder responder(ResponderMode::smtp, setup.www, setup.ca);
    auto pkix_ee = "1 1 1 " + setup.www.ee_record().substr(6);
    auto pkix_only =
        probe_tls(setup.options(responder.port(), "www.example.test", {pkix_ee}, StartTls::smtp));
    REQUIRE(pkix_only.reached());
    CHECK(pkix_only.usable.empty());
    CHECK(pkix_only.unusable.size() == 1);
    CHECK_FALSE(pkix_only.dane_verified);
    CHECK(pkix_only.verify_error == "no usable TLSA records");

    // The MX host name differs from the certificate's: fine for DANE-EE in SMTP.
    auto other_name = probe_tls(setup.options(responder.port(), "mx.elsewhere.test",
                                              {setup.www.ee_record()}, StartTls::smtp));
    REQUIRE(other_name.reached());
    CHECK(other_name.dane_verified);
}

TEST_CASE("misbehaving STARTTLS servers and unreachable services fail at the right step, in time") {
    ProbeSetup setup;
    {
        StartTlsResponder responder(ResponderMode::smtp_without_starttls, setup.www, setup.ca);
        auto result =
            probe_tls(setup.options(responder.port(), "www.example.test", {}, StartTls::smtp));
        CHECK(result.stage == ProbeStage::starttls);
        CHECK(result.error.find("does not offer STARTTLS") != std::string::npos);
    }
    {
        StartTlsResponder responder(ResponderMode::smtp_injection, setup.www, setup.ca);
        auto result =
            probe_tls(setup.options(responder.port(), "www.example.test", {}, StartTls::smtp));
        CHECK(result.stage == ProbeStage::starttls);
        CHECK(result.error.find("after its STARTTLS go-ahead") != std::string::npos);
    }
    {
        StartTlsResponder responder(ResponderMode::silent, setup.www, setup.ca);
        auto options = setup.options(responder.port(), "www.example.test", {}, StartTls::smtp);
        options.dialogue_timeout = std::chrono::milliseconds(400);
        auto start = std::chrono::steady_clock::now();
        auto result = probe_tls(options);
        auto elapsed = std::chrono::steady_clock::now() - start;
        CHECK(result.stage == ProbeStage::starttls);
        CHECK(result.error.find("timeout") != std::string::npos);
        CHECK(elapsed < std::chrono::seconds(2));
    }
    {
        // A silent server on a direct-TLS port: the handshake times out.
        StartTlsResponder responder(ResponderMode::silent, setup.www, setup.ca);
        auto options = setup.options(responder.port(), "www.example.test", {});
        options.handshake_timeout = std::chrono::milliseconds(400);
        auto result = probe_tls(options);
        CHECK(result.stage == ProbeStage::handshake);
        CHECK(result.error.find("not finished within 400 ms") != std::string::npos);
    }
    {
        auto result = probe_tls(setup.options(free_port(), "www.example.test", {}));
        CHECK(result.stage == ProbeStage::connect);
        CHECK(result.error.find("refused") != std::string::npos);
    }
    {
        // Plain TLS to an SMTP server that expects a greeting exchange first.
        StartTlsResponder responder(ResponderMode::smtp, setup.www, setup.ca);
        auto options = setup.options(responder.port(), "www.example.test", {});
        options.handshake_timeout = std::chrono::milliseconds(1500);
        auto result = probe_tls(options);
        CHECK(result.stage == ProbeStage::handshake);
    }
}

TEST_CASE("a real Postfix smtpd: STARTTLS, DANE-EE at depth 0 and DANE-TA at depth 1") {
    if (!PostfixServer::available()) {
        MESSAGE("Postfix not installed or not root: skipped");
        return;
    }
    ProbeSetup setup;
    PostfixServer postfix(setup.www, "www.example.test");
    for (auto [record, depth] :
         {std::pair{setup.www.ee_record(), 0}, std::pair{ta_record(setup.ca), 1}}) {
        auto result =
            probe_tls(setup.options(postfix.port(), "www.example.test", {record}, StartTls::smtp));
        REQUIRE_MESSAGE(result.reached(), result.error, postfix.log());
        CHECK(result.dane_verified);
        REQUIRE(result.match);
        CHECK(result.match->depth == depth);
        CHECK(result.leaf_sha256 == setup.www.leaf_sha256());
    }
    auto wrong = probe_tls(setup.options(postfix.port(), "www.example.test",
                                         {setup.other.ee_record()}, StartTls::smtp));
    REQUIRE(wrong.reached());
    CHECK_FALSE(wrong.dane_verified);
}
