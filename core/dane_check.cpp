#include "danehook/dane_check.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "danehook/error.hpp"

namespace danehook {
namespace {

Severity worst(Severity a, Severity b) {
    return static_cast<int>(a) > static_cast<int>(b) ? a : b;
}

Severity worst_of(const std::vector<Finding>& findings) {
    Severity result = Severity::ok;
    for (const auto& finding : findings) result = worst(result, finding.severity);
    return result;
}

bool contains(const std::vector<TlsaRdata>& rrset, const TlsaRdata& rdata) {
    return std::find(rrset.begin(), rrset.end(), rdata) != rrset.end();
}

std::vector<TlsaRdata> sorted(std::vector<TlsaRdata> rrset) {
    std::sort(rrset.begin(), rrset.end());
    return rrset;
}

std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

class ServiceChecker {
  public:
    ServiceChecker(const CertificateEntry& entry, const ServiceEntry& service,
                   const std::optional<CertificateJournal>& journal, const CheckSteps& steps)
        : entry_(entry), service_(service), journal_(journal), steps_(steps) {
        report_.service = service.service.to_string();
        report_.owner = service.service.owner_name();
        report_.address = service.address.value_or(service.service.host);
    }

    ServiceReport run() {
        check_authoritative();
        check_dnssec();
        check_tls();
        judge_disagreement();
        check_journal();
        return std::move(report_);
    }

  private:
    void add(Severity severity, const char* aspect, std::string message) {
        report_.findings.push_back({severity, aspect, std::move(message)});
    }

    std::vector<const ServerAnswer*> answered() const {
        std::vector<const ServerAnswer*> result;
        for (const auto& server : report_.servers) {
            if (server.answered) result.push_back(&server);
        }
        return result;
    }

    void check_authoritative() {
        try {
            report_.servers = steps_.observe(entry_, report_.owner);
        } catch (const std::exception& e) {
            add(Severity::failure, "dns",
                std::string("cannot query the authoritative servers: ") + e.what());
            return;
        }
        auto replies = answered();
        for (const auto& server : report_.servers) {
            if (!server.answered)
                add(Severity::warning, "dns", server.server + " did not answer: " + server.error);
        }
        if (replies.empty()) {
            add(Severity::failure, "dns", "no authoritative server answered");
            return;
        }
        std::set<std::vector<TlsaRdata>> distinct;
        std::set<std::uint32_t> serials;
        for (const auto* reply : replies) {
            distinct.insert(sorted(reply->rrset));
            if (reply->soa_serial) serials.insert(*reply->soa_serial);
        }
        report_.servers_agree = distinct.size() == 1;
        if (report_.servers_agree && distinct.begin()->empty()) {
            add(Severity::failure, "dns",
                "no TLSA records at " + report_.owner + " on any authoritative server");
        }
        if (serials.size() > 1) {
            std::string text;
            for (auto serial : serials) text += (text.empty() ? "" : ", ") + std::to_string(serial);
            add(Severity::ok, "dns", "the servers serve different SOA serials (" + text + ")");
        }
    }

    void check_dnssec() {
        auto result = steps_.validate(report_.owner);
        switch (result.status) {
            case DnssecStatus::secure:
                if (result.rrset.empty()) {
                    add(Severity::failure, "dnssec",
                        std::string("secure denial: the validated answer has no TLSA RRset") +
                            (result.nxdomain ? " (NXDOMAIN)" : " (NODATA)"));
                }
                break;
            case DnssecStatus::insecure:
                add(Severity::failure, "dnssec",
                    "insecure: the zone is not signed or not reachable by a chain of trust from "
                    "the trust anchor, "
                    "so DANE clients ignore its TLSA records");
                break;
            case DnssecStatus::bogus:
                add(Severity::failure, "dnssec",
                    "bogus: validation failed (" + result.why_bogus +
                        "); DANE clients cannot use the records and "
                        "SMTP clients defer mail to this service");
                break;
            case DnssecStatus::failed:
                add(Severity::failure, "dnssec", "no validated answer: " + result.error);
                break;
        }
        report_.dnssec = std::move(result);
    }

    // The records to verify the live chain against: the validated set, or when DNSSEC failed the
    // first authoritative server's set, so the TLS result still tells something.
    std::vector<TlsaRdata> reference_records() {
        if (report_.dnssec && report_.dnssec->status == DnssecStatus::secure)
            return report_.dnssec->rrset;
        for (const auto* reply : answered()) {
            if (!reply->rrset.empty()) {
                report_.tls_against_unvalidated = true;
                return reply->rrset;
            }
        }
        return {};
    }

    void check_tls() {
        auto records = reference_records();
        auto options = probe_options_for(service_, records, steps_.timeouts);
        report_.starttls = options.starttls;
        auto result = steps_.probe(options);
        const std::string where = report_.address + ":" + std::to_string(service_.service.port);
        if (!result.reached()) {
            const char* stage = result.stage == ProbeStage::connect    ? "connect"
                                : result.stage == ProbeStage::starttls ? "STARTTLS"
                                                                       : "TLS handshake";
            add(Severity::failure, "tls",
                std::string("cannot get the chain from ") + where + " (" + stage +
                    "): " + result.error);
        } else if (!records.empty()) {
            judge_dane(result, options.smtp_rules);
        } else {
            add(Severity::failure, "tls", "no TLSA records to verify the chain against");
        }
        report_.tls = std::move(result);
    }

    void judge_dane(const TlsProbeResult& result, bool smtp_rules) {
        std::string suffix =
            report_.tls_against_unvalidated ? " (against the unvalidated records)" : "";
        if (smtp_rules) {
            for (const auto& record : result.unusable) {
                if (static_cast<int>(record.params.usage) <= 1) {
                    add(Severity::warning, "tls",
                        short_rdata(record) +
                            " is unusable for SMTP: RFC 7672 section 3.1.3 rules out "
                            "PKIX-TA(0) and PKIX-EE(1); publish DANE-EE(3) or DANE-TA(2)");
                }
            }
        }
        for (const auto& record : result.unusable) {
            if (smtp_rules && static_cast<int>(record.params.usage) <= 1) continue;
            add(Severity::warning, "tls",
                short_rdata(record) + " is unusable (unsupported parameters or bad data)");
        }
        if (result.usable.empty()) {
            add(Severity::failure, "tls", "no usable TLSA record: DANE clients fail" + suffix);
        } else if (!result.dane_verified) {
            add(Severity::failure, "tls",
                "the presented chain (leaf " + result.leaf_subject + ", SHA-256 " +
                    result.leaf_sha256.substr(0, 16) +
                    "...) does not verify against the TLSA records: " + result.verify_error +
                    suffix);
        } else if (report_.tls_against_unvalidated) {
            add(Severity::ok, "tls", "the chain matches the unvalidated records");
        }
    }

    // Servers that disagree are a warning while every one of them still serves the record the
    // live chain matched; otherwise clients asking the others fail.
    void judge_disagreement() {
        if (report_.servers_agree || answered().empty()) return;
        const TlsaRdata* matched =
            report_.tls && report_.tls->match ? &report_.tls->match->record : nullptr;
        std::string lacking;
        for (const auto* reply : answered()) {
            if (!matched || !contains(reply->rrset, *matched))
                lacking += (lacking.empty() ? "" : ", ") + reply->server;
        }
        if (lacking.empty()) {
            add(Severity::warning, "dns",
                "the authoritative servers serve different TLSA RRsets; each still has the record "
                "the service "
                "matches (a rollover in progress?)");
        } else {
            add(Severity::failure, "dns",
                "the authoritative servers serve different TLSA RRsets; " + lacking +
                    (matched
                         ? " lack the record the service matches (" + short_rdata(*matched) + ")"
                         : " (and the service did not verify)"));
        }
    }

    void check_journal() {
        if (!journal_) return;
        for (const auto& record : journal_->records) {
            if (record.record.owner != report_.owner) continue;
            if (!record.desired) {
                add(Severity::ok, "journal",
                    short_rdata(record.record.rdata) + " is scheduled for withdrawal" +
                        (record.state == RecordState::withdrawing ? " (in progress)" : ""));
                continue;
            }
            if (record.state == RecordState::publishing) {
                add(Severity::warning, "journal",
                    short_rdata(record.record.rdata) +
                        " is not published yet (danehook run retries)" +
                        (record.last_error.empty() ? "" : ": " + record.last_error));
                continue;
            }
            std::string missing;
            for (const auto* reply : answered()) {
                if (!contains(reply->rrset, record.record.rdata))
                    missing += (missing.empty() ? "" : ", ") + reply->server;
            }
            if (missing.empty()) continue;
            if (record.confirmed_at != 0) {
                add(Severity::failure, "journal",
                    short_rdata(record.record.rdata) +
                        " was published and confirmed but is missing on " + missing +
                        " (changed outside danehook?)");
            } else {
                add(Severity::warning, "journal",
                    short_rdata(record.record.rdata) + " is published but not yet served by " +
                        missing);
            }
        }
        check_presented_certificate();
    }

    void check_presented_certificate() {
        if (!report_.tls || !report_.tls->reached() || journal_->deployed.certificate.empty())
            return;
        auto live = upper(report_.tls->leaf_sha256);
        if (live == upper(journal_->deployed.certificate)) return;
        if (journal_->activation && live == upper(journal_->activation->identity.certificate))
            return;
        add(Severity::warning, "journal",
            "the service presents a certificate other than the one danehook deployed (live "
            "SHA-256 " +
                live.substr(0, 16) + "..., deployed " +
                upper(journal_->deployed.certificate).substr(0, 16) +
                "...): an old certificate still in service, or a missing reload?");
    }

    const CertificateEntry& entry_;
    const ServiceEntry& service_;
    const std::optional<CertificateJournal>& journal_;
    const CheckSteps& steps_;
    ServiceReport report_;
};

}  // namespace

const char* to_string(Severity severity) {
    switch (severity) {
        case Severity::ok:
            return "ok";
        case Severity::warning:
            return "warning";
        case Severity::failure:
            return "failure";
    }
    return "?";
}

Severity ServiceReport::severity() const {
    return worst_of(findings);
}

Severity CertificateReport::severity() const {
    Severity result = worst_of(findings);
    for (const auto& service : services) result = worst(result, service.severity());
    return result;
}

Severity CheckReport::severity() const {
    Severity result = Severity::ok;
    for (const auto& certificate : certificates) result = worst(result, certificate.severity());
    return result;
}

int CheckReport::exit_code() const {
    return static_cast<int>(severity());
}

std::string short_rdata(const TlsaRdata& rdata) {
    auto hex = rdata.hex();
    return rdata.params.to_string() + " " + hex.substr(0, 16) + (hex.size() > 16 ? "..." : "");
}

TlsProbeOptions probe_options_for(const ServiceEntry& service, std::vector<TlsaRdata> tlsa,
                                  const CheckTimeouts& timeouts) {
    TlsProbeOptions options;
    options.host = service.service.host;
    options.address = service.address.value_or("");
    options.port = service.service.port;
    options.starttls = service.starttls ? parse_starttls(*service.starttls)
                                        : default_starttls(service.service.port);
    options.smtp_rules = options.starttls == StartTls::smtp;
    options.tlsa = std::move(tlsa);
    options.connect_timeout = timeouts.connect;
    options.dialogue_timeout = timeouts.dialogue;
    options.handshake_timeout = timeouts.handshake;
    return options;
}

CertificateReport check_certificate(const CertificateEntry& entry,
                                    const std::optional<CertificateJournal>& journal,
                                    const CheckSteps& steps) {
    CertificateReport report;
    report.name = entry.name;
    if (entry.services.empty()) {
        report.findings.push_back(
            {Severity::warning, "dns", "no services configured: nothing to check"});
    }
    for (const auto& service : entry.services) {
        report.services.push_back(ServiceChecker(entry, service, journal, steps).run());
    }
    if (journal) {
        if (!journal->last_error.empty()) {
            report.findings.push_back(
                {Severity::warning, "journal", "the last run failed: " + journal->last_error});
        }
        if (journal->activation) {
            report.findings.push_back(
                {Severity::ok, "journal",
                 "a new certificate waits for its records to be safe before install/reload"});
        }
    }
    return report;
}

}  // namespace danehook
