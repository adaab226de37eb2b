// `danehook check`: would a DANE client succeed with each configured service right now?
//
// Per service: the TLSA RRset on every authoritative server (do they agree, SOA serials), a
// DNSSEC-validated lookup (secure?), the live TLS chain verified against the validated records
// with OpenSSL's DANE code, and the journal's view (records missing from DNS, withdrawals due).
// The network steps are injected so the evaluation can be tested and reused by the interlock.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "danehook/config.hpp"
#include "danehook/journal.hpp"
#include "danehook/provider.hpp"
#include "danehook/tls_probe.hpp"
#include "danehook/validating_resolver.hpp"

namespace danehook {

enum class Severity { ok, warning, failure };
const char* to_string(Severity severity);

struct Finding {
    Severity severity = Severity::ok;
    std::string aspect;  // "dns", "dnssec", "tls", "journal"
    std::string message;
};

struct ServiceReport {
    std::string service;  // "mail.example.net:25/tcp"
    std::string owner;    // "_25._tcp.mail.example.net."
    std::string address;  // where the TLS probe connected to (config `address` or host)
    StartTls starttls = StartTls::none;
    std::vector<ServerAnswer> servers;
    bool servers_agree = false;
    std::optional<ValidatedTlsa> dnssec;
    std::optional<TlsProbeResult> tls;
    bool tls_against_unvalidated = false;  // DNSSEC failed: verified against the servers' set
    std::vector<Finding> findings;

    Severity severity() const;
};

struct CertificateReport {
    std::string name;
    std::vector<ServiceReport> services;
    std::vector<Finding> findings;  // certificate-wide (journal)

    Severity severity() const;
};

struct CheckReport {
    std::vector<CertificateReport> certificates;

    Severity severity() const;
    // 0 all good, 1 warnings, 2 failures (documented in docs/check.md).
    int exit_code() const;
};

struct CheckTimeouts {
    std::chrono::milliseconds connect{10'000};
    std::chrono::milliseconds dialogue{10'000};
    std::chrono::milliseconds handshake{10'000};
};

// The network steps of a check.
struct CheckSteps {
    // What every authoritative server serves at `owner`; may throw Error.
    std::function<std::vector<ServerAnswer>(const CertificateEntry&, const std::string& owner)>
        observe;
    // The validated TLSA RRset at `owner`.
    std::function<ValidatedTlsa(const std::string& owner)> validate;
    std::function<TlsProbeResult(const TlsProbeOptions&)> probe = probe_tls;
    CheckTimeouts timeouts;
};

// The probe settings for a configured service: SNI = host, connect to `address` or host,
// STARTTLS from the override or the port, RFC 7672 rules for SMTP.
TlsProbeOptions probe_options_for(const ServiceEntry& service, std::vector<TlsaRdata> tlsa,
                                  const CheckTimeouts& timeouts = {});

CertificateReport check_certificate(const CertificateEntry& entry,
                                    const std::optional<CertificateJournal>& journal,
                                    const CheckSteps& steps);

// "3 1 1 ABCDEF0123456789..." for messages.
std::string short_rdata(const TlsaRdata& rdata);

}  // namespace danehook
