// check_certificate's judgement with injected network steps: which findings are warnings
// (exit 1) and which are failures (exit 2).
#include <doctest/doctest.h>

#include <algorithm>

#include "danehook/dane_check.hpp"

using namespace danehook;

namespace {

const TlsaRdata current = TlsaRdata::parse("3 1 1 " + std::string(64, 'A'));
const TlsaRdata next = TlsaRdata::parse("3 1 1 " + std::string(64, 'B'));
const TlsaRdata pkix = TlsaRdata::parse("1 1 1 " + std::string(64, 'C'));

CertificateEntry smtp_entry() {
    CertificateEntry entry;
    entry.name = "mail";
    ServiceEntry service;
    service.service = Service::parse("mail.example.net:25");
    entry.services.push_back(service);
    return entry;
}

ServerAnswer server(const std::string& name, std::vector<TlsaRdata> rrset,
                    std::uint32_t serial = 1) {
    ServerAnswer answer;
    answer.server = name;
    answer.answered = true;
    answer.soa_serial = serial;
    answer.rrset = std::move(rrset);
    return answer;
}

struct Fake {
    std::vector<ServerAnswer> servers;
    ValidatedTlsa validated;
    TlsProbeOptions seen;

    CheckSteps steps() {
        CheckSteps s;
        s.observe = [this](const CertificateEntry&, const std::string&) { return servers; };
        s.validate = [this](const std::string& owner) {
            auto v = validated;
            v.owner = owner;
            return v;
        };
        // Matches `current` when offered, like OpenSSL would for a chain whose leaf key it hashes.
        s.probe = [this](const TlsProbeOptions& options) {
            seen = options;
            TlsProbeResult result;
            result.stage = ProbeStage::done;
            result.leaf_sha256 = "00";
            for (const auto& record : options.tlsa) {
                bool unusable = options.smtp_rules && static_cast<int>(record.params.usage) <= 1;
                (unusable ? result.unusable : result.usable).push_back(record);
            }
            if (std::find(result.usable.begin(), result.usable.end(), current) !=
                result.usable.end()) {
                result.dane_verified = true;
                result.match = DaneMatch{current, 0};
            } else {
                result.verify_error = "no match";
            }
            return result;
        };
        return s;
    }
};

ValidatedTlsa secure(std::vector<TlsaRdata> rrset) {
    ValidatedTlsa v;
    v.status = DnssecStatus::secure;
    v.rrset = std::move(rrset);
    return v;
}

CheckReport run(Fake& fake, const std::optional<CertificateJournal>& journal = std::nullopt) {
    CheckReport report;
    report.certificates.push_back(check_certificate(smtp_entry(), journal, fake.steps()));
    return report;
}

bool has(const CheckReport& report, Severity severity, const std::string& text) {
    for (const auto& service : report.certificates[0].services) {
        for (const auto& f : service.findings) {
            if (f.severity == severity && f.message.find(text) != std::string::npos) return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("all good is exit 0; SMTP port 25 probes with STARTTLS and RFC 7672 rules") {
    Fake fake{{server("a", {current}), server("b", {current})}, secure({current}), {}};
    auto report = run(fake);
    CHECK(report.exit_code() == 0);
    CHECK(fake.seen.starttls == StartTls::smtp);
    CHECK(fake.seen.smtp_rules);
    CHECK(fake.seen.host == "mail.example.net");
}

TEST_CASE("servers that disagree but all serve the matching record: warning, exit 1") {
    Fake fake{
        {server("a", {current, next}, 2), server("b", {current}, 1)}, secure({current, next}), {}};
    auto report = run(fake);
    CHECK(report.exit_code() == 1);
    CHECK(has(report, Severity::warning, "each still has the record the service matches"));
}

TEST_CASE("PKIX usages next to a DANE-EE record in SMTP: warning; alone: failure") {
    Fake mixed{{server("a", {current, pkix})}, secure({current, pkix}), {}};
    auto report = run(mixed);
    CHECK(report.exit_code() == 1);
    CHECK(has(report, Severity::warning, "RFC 7672"));

    Fake only{{server("a", {pkix})}, secure({pkix}), {}};
    auto failing = run(only);
    CHECK(failing.exit_code() == 2);
    CHECK(has(failing, Severity::failure, "no usable TLSA record"));
}

TEST_CASE("a server that does not answer is a warning; none answering is a failure") {
    ServerAnswer silent;
    silent.server = "b";
    silent.error = "timeout";
    Fake one{{server("a", {current}), silent}, secure({current}), {}};
    CHECK(run(one).exit_code() == 1);
    Fake none{{silent}, secure({current}), {}};
    CHECK(run(none).exit_code() == 2);
}

TEST_CASE("secure denial, validator failure and an explicit starttls override") {
    Fake denial{{server("a", {current})}, secure({}), {}};
    auto report = run(denial);
    CHECK(report.exit_code() == 2);
    CHECK(has(report, Severity::failure, "secure denial"));

    ValidatedTlsa failed;
    failed.error = "no validated answer within 10 ms";
    Fake timeout{{server("a", {current})}, failed, {}};
    CHECK(has(run(timeout), Severity::failure, "within 10 ms"));

    auto entry = smtp_entry();
    entry.services[0].starttls = "none";
    Fake direct{{server("a", {current})}, secure({current}), {}};
    check_certificate(entry, std::nullopt, direct.steps());
    CHECK(direct.seen.starttls == StartTls::none);
    CHECK_FALSE(direct.seen.smtp_rules);
}

TEST_CASE("journal: unpublished and not-yet-served records are warnings") {
    CertificateJournal journal;
    JournalRecord pending;
    pending.record = {"_25._tcp.mail.example.net.", 300, next};
    pending.state = RecordState::publishing;
    journal.records.push_back(pending);
    JournalRecord unconfirmed = pending;
    unconfirmed.state = RecordState::published;
    unconfirmed.record.rdata = TlsaRdata::parse("3 1 1 " + std::string(64, 'D'));
    journal.records.push_back(unconfirmed);
    Fake fake{{server("a", {current})}, secure({current}), {}};
    auto report = run(fake, journal);
    CHECK(report.exit_code() == 1);
    CHECK(has(report, Severity::warning, "not published yet"));
    CHECK(has(report, Severity::warning, "not yet served by a"));
}
