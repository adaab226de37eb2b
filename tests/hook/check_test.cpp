// `danehook check` against real components on loopback: named (a zone signed by dnssec-policy
// on a primary and a secondary, an unsigned zone, a zone with a broken signature), libunbound
// forwarding to it with the zone's trust anchor, openssl s_server and a STARTTLS responder.
#include <doctest/doctest.h>

#include <openssl/ssl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <thread>

#include "danehook/certificate.hpp"
#include "danehook/dns_query.hpp"
#include "danehook/journal.hpp"
#include "hook/check_command.hpp"
#include "hook/check_fixture.hpp"
#include "support/named_server.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

std::string zone_head(int serial = 1) {
    return "$TTL 300\n@ SOA ns1 hostmaster " + std::to_string(serial) +
           " 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n";
}

std::string tlsa_line(const std::string& host_label, int port, const std::string& record) {
    return "_" + std::to_string(port) + "._tcp." + host_label + " TLSA " + record + "\n";
}

// Six services, each showing one outcome; all servers and zones shared by the test cases.
struct CheckWorld {
    TempDir dir;
    TestCa ca = make_ca("Check Test CA");
    ServiceCertificate mail{ca, "mail.example.net", dir / "live/mail", 1};
    ServiceCertificate www{ca, "www.example.net", dir / "live/www", 2};
    ServiceCertificate imap{ca, "imap.example.net", dir / "live/imap", 3};
    ServiceCertificate plain{ca, "www.plain.net", dir / "live/plain", 4};
    ServiceCertificate bogus{ca, "www.bogus.net", dir / "live/bogus", 5};
    ServiceCertificate old_cert{ca, "old.example.net", dir / "old", 6};
    ServiceCertificate renewed{ca, "old.example.net", dir / "live/old", 7};
    ServiceCertificate unrelated{ca, "nowhere.example.net", dir / "unrelated", 8};

    StartTlsResponder mail_server{ResponderMode::smtp, mail, ca};
    SServer www_server{www};
    StartTlsResponder imap_server{ResponderMode::imap, imap, ca};
    SServer plain_server{plain};
    SServer bogus_server{bogus};
    SServer old_server{old_cert};  // still presents the certificate before the renewal

    // The SMTP service is a real Postfix when it can run here (root, installed).
    std::unique_ptr<PostfixServer> postfix =
        PostfixServer::available() ? std::make_unique<PostfixServer>(mail, "mail.example.net")
                                   : nullptr;
    int mail_port() const { return postfix ? postfix->port() : mail_server.port(); }

    std::unique_ptr<NamedServer> primary, secondary;
    Config config;

    CheckWorld() {
        std::string bogus_anchor;
        auto bogus_hex = bogus.ee_record().substr(6);
        std::string tampered = bogus_hex.substr(0, 16);
        std::replace(tampered.begin(), tampered.end(), tampered[0], tampered[0] == '0' ? '1' : '0');
        auto bogus_zone = tampered_signed_zone(
            dir / "bogus-keys", "bogus.net.",
            "@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n" +
                tlsa_line("www", bogus_server.port(), bogus.ee_record()),
            bogus_hex.substr(0, 16), tampered, bogus_anchor);

        NamedOptions primary_options;
        auto example = NamedZone::primary("example.net.", example_zone(false));
        example.dnssec_policy = "default";
        int secondary_port = free_port();
        primary_options.zones.push_back(example);
        primary_options.zones.push_back(NamedZone::primary(
            "plain.net.", zone_head() + tlsa_line("www", plain_server.port(), plain.ee_record())));
        primary_options.zones.push_back(NamedZone::primary("bogus.net.", bogus_zone));
        primary = std::make_unique<NamedServer>(primary_options);
        REQUIRE(primary->wait_until_signed("example.net.", std::chrono::seconds(20)));

        NamedOptions secondary_options;
        secondary_options.port = secondary_port;
        auto copy = NamedZone::secondary_of("example.net.", {primary->primaries_entry()});
        copy.accept_notify =
            false;  // keeps the first transfer: the later change reaches the primary only
        secondary_options.zones.push_back(copy);
        secondary = std::make_unique<NamedServer>(secondary_options);

        // The IMAP service's record appears on the primary only.
        write_text(primary->zone_file("example.net."),
                   "$ORIGIN example.net.\n" + example_zone(true));
        primary->reload();
        QueryOptions quick;
        quick.timeout = std::chrono::milliseconds(500);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (query_authoritative(DnsServer::parse(primary->endpoint()), "example.net.",
                                   imap_owner(), quick)
                   .rrset.empty()) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }

        write_text(dir / "anchors",
                   dnskey_anchor(primary->directory(), "example.net.") + bogus_anchor);
        write_text(dir / "danehook.yaml", configuration());
        config = load_config(dir / "danehook.yaml");
    }

    std::string imap_owner() const {
        return "_" + std::to_string(imap_server.port()) + "._tcp.imap.example.net.";
    }

    std::string example_zone(bool with_imap) const {
        return zone_head(with_imap ? 2 : 1) + tlsa_line("mail", mail_port(), mail.ee_record()) +
               tlsa_line("www", www_server.port(), unrelated.ee_record()) +
               (with_imap ? tlsa_line("imap", imap_server.port(), imap.ee_record()) : "") +
               tlsa_line("old", old_server.port(), renewed.ee_record());
    }

    std::string provider(const std::string& name, const std::string& zone,
                         const std::string& nameservers) const {
        return "  " + name + ":\n    type: bindfile\n    mode: inline\n    zone: " + zone +
               "\n    zone_file: " + primary->zone_file(zone + ".").string() +
               "\n    nameservers: [" + nameservers + "]\n";
    }

    std::string entry(const std::string& name, const std::string& provider_name,
                      const std::string& zone, const std::string& host, int port,
                      const std::string& starttls) const {
        return "  - name: " + name + "\n    lineage: " + (dir / "live" / name).string() +
               "\n    provider: " + provider_name + "\n    zone: " + zone +
               "\n    services:\n      - { host: " + host + ", port: " + std::to_string(port) +
               ", address: 127.0.0.1, starttls: " + starttls + " }\n";
    }

    std::string configuration() const {
        return "state_dir: " + (dir / "state").string() + "\n" +
               "trust_anchor_file: " + (dir / "anchors").string() +
               "\nresolver: " + primary->endpoint() + "\nproviders:\n" +
               provider("example", "example.net",
                        primary->endpoint() + ", " + secondary->endpoint()) +
               provider("plain", "plain.net", primary->endpoint()) +
               provider("bogus", "bogus.net", primary->endpoint()) + "certificates:\n" +
               entry("mail", "example", "example.net", "mail.example.net", mail_port(), "smtp") +
               entry("www", "example", "example.net", "www.example.net", www_server.port(),
                     "none") +
               entry("imap", "example", "example.net", "imap.example.net", imap_server.port(),
                     "imap") +
               entry("plain", "plain", "plain.net", "www.plain.net", plain_server.port(), "none") +
               entry("bogus", "bogus", "bogus.net", "www.bogus.net", bogus_server.port(), "none") +
               entry("old", "example", "example.net", "old.example.net", old_server.port(), "none");
    }

    // The journal of the "old" entry: the renewed certificate deployed, its record confirmed,
    // a record danehook confirmed that is gone from DNS, and the old record scheduled for
    // withdrawal.
    void write_old_journal() const {
        CertificateJournal journal;
        journal.name = "old";
        journal.deployed.certificate = renewed.leaf_sha256();
        auto owner = "_" + std::to_string(old_server.port()) + "._tcp.old.example.net.";
        auto record = [&](const std::string& rdata, bool desired) {
            JournalRecord r;
            r.provider = "example";
            r.zone = "example.net.";
            r.record = {owner, 300, TlsaRdata::parse(rdata)};
            r.state = RecordState::published;
            r.desired = desired;
            r.published_at = r.confirmed_at = 1'700'000'000;
            return r;
        };
        journal.records.push_back(record(renewed.ee_record(), true));
        journal.records.push_back(record(ta_record(ca), true));  // confirmed once, now missing
        journal.records.push_back(record(old_cert.ee_record(), false));
        JournalStore(config.state_dir).save(journal, std::nullopt);
    }
};

CheckWorld* world() {
    // OpenSSL first: its exit handler must run after the world's destructor has stopped the
    // responder threads, or their thread-local OpenSSL state is never freed.
    OPENSSL_init_ssl(0, nullptr);
    static std::unique_ptr<CheckWorld> instance;
    if (!instance) instance = std::make_unique<CheckWorld>();
    return instance.get();
}

const ServiceReport& only_service(const CheckReport& report) {
    REQUIRE(report.certificates.size() == 1);
    REQUIRE(report.certificates[0].services.size() == 1);
    return report.certificates[0].services[0];
}

bool has_finding(const ServiceReport& service, Severity severity, const std::string& aspect,
                 const std::string& text) {
    return std::any_of(service.findings.begin(), service.findings.end(), [&](const Finding& f) {
        return f.severity == severity && f.aspect == aspect &&
               f.message.find(text) != std::string::npos;
    });
}

std::string describe(const ServiceReport& service) {
    std::string text;
    for (const auto& f : service.findings)
        text += std::string(to_string(f.severity)) + " " + f.aspect + ": " + f.message + "\n";
    return text;
}

CheckReport check(const std::string& name) {
    CheckCommandOptions options;
    options.name = name;
    // Generous: these cases expect answers, and a loaded CI machine must not turn them into
    // timeouts (the timeout cases have their own tests with short limits).
    options.timeouts.connect = options.timeouts.dialogue = options.timeouts.handshake =
        std::chrono::seconds(10);
    options.dns_timeout = std::chrono::seconds(10);
    return run_check(world()->config, options);
}

bool skip() {
    if (NamedServer::available()) return false;
    MESSAGE("named not installed: skipped");
    return true;
}

}  // namespace

TEST_CASE("all good: agreeing servers, secure, STARTTLS SMTP chain matches DANE-EE at depth 0") {
    if (skip()) return;
    auto report = check("mail");
    const auto& service = only_service(report);
    CHECK_MESSAGE(report.exit_code() == 0, describe(service));
    CHECK(service.servers.size() == 2);
    CHECK(service.servers_agree);
    for (const auto& server : service.servers) CHECK(server.soa_serial.has_value());
    REQUIRE(service.dnssec);
    CHECK(service.dnssec->status == DnssecStatus::secure);
    REQUIRE(service.tls);
    CHECK(service.tls->dane_verified);
    REQUIRE(service.tls->match);
    CHECK(service.tls->match->depth == 0);
    CHECK(service.tls->match->record.presentation() == world()->mail.ee_record());
    CHECK(service.starttls == StartTls::smtp);
    MESSAGE("SMTP server: " << (world()->postfix ? "Postfix" : "the STARTTLS responder"));
}

TEST_CASE("a record that does not match the live chain is a failure") {
    if (skip()) return;
    auto report = check("www");
    const auto& service = only_service(report);
    CHECK(report.exit_code() == 2);
    CHECK(service.dnssec->status == DnssecStatus::secure);
    CHECK_FALSE(service.tls->dane_verified);
    CHECK_MESSAGE(
        has_finding(service, Severity::failure, "tls", "does not verify against the TLSA records"),
        describe(service));
}

TEST_CASE("a record missing on one of two authoritative servers") {
    if (skip()) return;
    auto report = check("imap");
    const auto& service = only_service(report);
    CHECK(report.exit_code() == 2);
    CHECK_FALSE(service.servers_agree);
    CHECK(service.tls->dane_verified);  // the validating resolver asked the primary
    CHECK_MESSAGE(has_finding(service, Severity::failure, "dns",
                              world()->secondary->endpoint() + " lack the record"),
                  describe(service));
    CHECK(has_finding(service, Severity::ok, "dns", "different SOA serials"));
}

TEST_CASE(
    "an unsigned zone is insecure: failure, and TLS is judged against the unvalidated records") {
    if (skip()) return;
    auto report = check("plain");
    const auto& service = only_service(report);
    CHECK(report.exit_code() == 2);
    CHECK(service.dnssec->status == DnssecStatus::insecure);
    CHECK(has_finding(service, Severity::failure, "dnssec", "insecure"));
    CHECK(service.tls_against_unvalidated);
    CHECK(service.tls->dane_verified);
}

TEST_CASE("a bogus signature is a failure that says why") {
    if (skip()) return;
    auto report = check("bogus");
    const auto& service = only_service(report);
    CHECK(report.exit_code() == 2);
    CHECK(service.dnssec->status == DnssecStatus::bogus);
    CHECK_MESSAGE(has_finding(service, Severity::failure, "dnssec", "signature"),
                  describe(service));
}

TEST_CASE("a service presenting its old certificate, and the journal's view") {
    if (skip()) return;
    world()->write_old_journal();
    auto report = check("old");
    const auto& service = only_service(report);
    CHECK(report.exit_code() == 2);
    CHECK_FALSE(service.tls->dane_verified);
    CHECK(service.tls->leaf_sha256 == world()->old_cert.leaf_sha256());
    CHECK_MESSAGE(
        has_finding(service, Severity::warning, "journal", "other than the one danehook deployed"),
        describe(service));
    CHECK(has_finding(service, Severity::failure, "journal",
                      "published and confirmed but is missing"));
    CHECK(has_finding(service, Severity::ok, "journal", "scheduled for withdrawal"));
}

TEST_CASE("the command: table, --json, exit codes, unknown --name") {
    if (skip()) return;
    auto config_path = (world()->dir / "danehook.yaml").string();
    auto good = run_danehook({"--config", config_path, "check", "--name", "mail"});
    CHECK_MESSAGE(good.exit_status == 0, good.output, good.errors);
    CHECK(good.output.find("CERTIFICATE") != std::string::npos);
    CHECK(good.output.find("2/2 agree") != std::string::npos);
    CHECK(good.output.find("3 1 1 at depth 0") != std::string::npos);
    CHECK(good.output.find("overall: ok") != std::string::npos);

    auto everything = run_danehook({"--config", config_path, "check", "--json"});
    CHECK(everything.exit_status == 2);
    auto document = nlohmann::json::parse(everything.output);
    CHECK(document["status"] == "failure");
    CHECK(document["exit_code"] == 2);
    CHECK(document["certificates"].size() == 6);
    auto mail = document["certificates"][0]["services"][0];
    CHECK(mail["dnssec"]["status"] == "secure");
    CHECK(mail["tls"]["match"]["depth"] == 0);
    CHECK(mail["dns"]["servers"].size() == 2);

    auto unknown = run_danehook({"--config", config_path, "check", "--name", "nosuch"});
    CHECK(unknown.exit_status == 3);
}
