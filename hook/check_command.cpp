#include "hook/check_command.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "danehook/error.hpp"
#include "danehook/log.hpp"

namespace danehook {
namespace {

using nlohmann::json;

// Providers by configured name, created on first use (creating one may fail: a ConfigError
// there is that certificate's problem, reported as a DNS failure of its services).
class Providers {
  public:
    explicit Providers(const Config& config) : config_(config) {}

    Provider& get(const std::string& name) {
        auto found = providers_.find(name);
        if (found != providers_.end()) return *found->second;
        auto settings = config_.providers.find(name);
        if (settings == config_.providers.end()) {
            throw ConfigError(config_.file.string() + ": no provider named '" + name + "'");
        }
        auto created = ProviderRegistry::instance().create(
            ProviderContext{name, settings->second, {}, {}, {}});
        return *providers_.emplace(name, std::move(created)).first->second;
    }

  private:
    const Config& config_;
    std::map<std::string, std::unique_ptr<Provider>> providers_;
};

std::vector<CertificateEntry> entries_to_check(const Config& config, const std::string& name) {
    if (name.empty()) return config.certificates;
    if (const auto* entry = config.find(name)) return {*entry};
    if (auto loaded = load_certificate_entry(config, name)) return {*loaded};
    throw ConfigError(config.file.string() + ": no certificate entry named '" + name + "'");
}

// Reads the journal without creating the state directory: check changes nothing.
std::optional<CertificateJournal> journal_of(const Config& config, const std::string& name) {
    std::error_code ec;
    if (!std::filesystem::is_directory(config.state_dir / "journal", ec)) return std::nullopt;
    try {
        return JournalStore(config.state_dir).load(name);
    } catch (const Error& e) {
        log::warning(name + ": cannot read the journal: " + e.what());
        return std::nullopt;
    }
}

json rrset_json(const std::vector<TlsaRdata>& rrset) {
    json list = json::array();
    for (const auto& rdata : rrset) list.push_back(rdata.presentation());
    return list;
}

json findings_json(const std::vector<Finding>& findings) {
    json list = json::array();
    for (const auto& finding : findings) {
        list.push_back({{"severity", to_string(finding.severity)},
                        {"aspect", finding.aspect},
                        {"message", finding.message}});
    }
    return list;
}

const char* stage_name(ProbeStage stage) {
    switch (stage) {
        case ProbeStage::connect:
            return "connect";
        case ProbeStage::starttls:
            return "starttls";
        case ProbeStage::handshake:
            return "handshake";
        case ProbeStage::done:
            return "done";
    }
    return "?";
}

json service_json(const ServiceReport& service) {
    json servers = json::array();
    for (const auto& server : service.servers) {
        json item{{"server", server.server},
                  {"answered", server.answered},
                  {"rrset", rrset_json(server.rrset)}};
        if (!server.error.empty()) item["error"] = server.error;
        item["soa_serial"] = server.soa_serial ? json(*server.soa_serial) : json(nullptr);
        servers.push_back(item);
    }
    json result{{"service", service.service},
                {"owner", service.owner},
                {"address", service.address},
                {"starttls", to_string(service.starttls)},
                {"status", to_string(service.severity())},
                {"dns", {{"servers", servers}, {"agree", service.servers_agree}}},
                {"findings", findings_json(service.findings)}};
    if (service.dnssec) {
        const auto& dnssec = *service.dnssec;
        result["dnssec"] = {{"status", to_string(dnssec.status)},
                            {"rcode", dnssec.rcode},
                            {"rrset", rrset_json(dnssec.rrset)}};
        if (!dnssec.why_bogus.empty()) result["dnssec"]["why_bogus"] = dnssec.why_bogus;
        if (!dnssec.error.empty()) result["dnssec"]["error"] = dnssec.error;
    }
    if (service.tls) {
        const auto& tls = *service.tls;
        json item{{"endpoint", tls.endpoint},
                  {"reached", tls.reached()},
                  {"stage", stage_name(tls.stage)},
                  {"verified", tls.dane_verified},
                  {"against_unvalidated_records", service.tls_against_unvalidated},
                  {"usable", rrset_json(tls.usable)},
                  {"unusable", rrset_json(tls.unusable)}};
        if (!tls.error.empty()) item["error"] = tls.error;
        if (tls.reached()) {
            item["protocol"] = tls.protocol;
            item["cipher"] = tls.cipher;
            item["leaf_sha256"] = tls.leaf_sha256;
            item["leaf_subject"] = tls.leaf_subject;
            item["chain_length"] = tls.chain.size();
        }
        if (!tls.verify_error.empty()) item["verify_error"] = tls.verify_error;
        if (tls.match)
            item["match"] = {{"record", tls.match->record.presentation()},
                             {"depth", tls.match->depth}};
        result["tls"] = item;
    }
    return result;
}

std::string dns_cell(const ServiceReport& service) {
    if (service.servers.empty()) return "-";
    auto answered = std::count_if(service.servers.begin(), service.servers.end(),
                                  [](const auto& s) { return s.answered; });
    return std::to_string(answered) + "/" + std::to_string(service.servers.size()) +
           (service.servers_agree ? " agree" : " differ");
}

std::string tls_cell(const ServiceReport& service) {
    if (!service.tls) return "-";
    const auto& tls = *service.tls;
    if (!tls.reached()) return std::string("no ") + stage_name(tls.stage);
    if (tls.match && tls.dane_verified) {
        return tls.match->record.params.to_string() + " at depth " +
               std::to_string(tls.match->depth);
    }
    return "no match";
}

std::string pad(const std::string& text, std::size_t width) {
    return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::string probe_failure(const TlsProbeResult& result) {
    return std::string(stage_name(result.stage)) + ": " + result.error;
}

}  // namespace

CheckReport run_check(const Config& config, const CheckCommandOptions& options) {
    auto entries = entries_to_check(config, options.name);
    ValidatorOptions validator;
    validator.trust_anchor_file = config.trust_anchor_file;
    validator.forwarder = config.resolver;
    validator.timeout = options.dns_timeout;
    ValidatingResolver resolver(validator);
    Providers providers(config);

    CheckSteps steps;
    steps.timeouts = options.timeouts;
    steps.observe = [&](const CertificateEntry& entry, const std::string& owner) {
        auto& provider = providers.get(entry.provider);
        return provider.observe(provider.zone_for(owner, entry.zone), owner);
    };
    steps.validate = [&](const std::string& owner) { return resolver.lookup_tlsa(owner); };

    CheckReport report;
    for (const auto& entry : entries) {
        report.certificates.push_back(
            check_certificate(entry, journal_of(config, entry.name), steps));
    }
    return report;
}

std::string render_check_json(const CheckReport& report) {
    json certificates = json::array();
    for (const auto& certificate : report.certificates) {
        json services = json::array();
        for (const auto& service : certificate.services) services.push_back(service_json(service));
        certificates.push_back({{"name", certificate.name},
                                {"status", to_string(certificate.severity())},
                                {"findings", findings_json(certificate.findings)},
                                {"services", services}});
    }
    json document{{"status", to_string(report.severity())},
                  {"exit_code", report.exit_code()},
                  {"certificates", certificates}};
    return document.dump(2) + "\n";
}

std::string render_check_text(const CheckReport& report) {
    std::ostringstream out;
    std::size_t name_width = 12, service_width = 8;
    for (const auto& certificate : report.certificates) {
        name_width = std::max(name_width, certificate.name.size() + 2);
        for (const auto& service : certificate.services)
            service_width = std::max(service_width, service.service.size() + 2);
    }
    out << pad("CERTIFICATE", name_width) << pad("SERVICE", service_width) << pad("DNS", 12)
        << pad("DNSSEC", 10) << pad("TLS", 20) << "STATUS\n";
    for (const auto& certificate : report.certificates) {
        for (const auto& finding : certificate.findings) {
            out << pad(certificate.name, name_width) << to_string(finding.severity) << " "
                << finding.aspect << ": " << finding.message << "\n";
        }
        for (const auto& service : certificate.services) {
            out << pad(certificate.name, name_width) << pad(service.service, service_width)
                << pad(dns_cell(service), 12)
                << pad(service.dnssec ? to_string(service.dnssec->status) : "-", 10)
                << pad(tls_cell(service), 20) << to_string(service.severity()) << "\n";
            for (const auto& finding : service.findings) {
                out << "    " << to_string(finding.severity) << " " << finding.aspect << ": "
                    << finding.message << "\n";
            }
        }
    }
    out << "overall: " << to_string(report.severity()) << "\n";
    return out.str();
}

int check_command(const Config& config, const CheckCommandOptions& options, std::ostream& out) {
    auto report = run_check(config, options);
    out << (options.json ? render_check_json(report) : render_check_text(report));
    return report.exit_code();
}

WithdrawalInterlock live_service_interlock(CheckTimeouts timeouts) {
    return [timeouts](const CertificateEntry& entry, const std::string& owner,
                      const std::vector<TlsaRdata>& remaining) -> std::string {
        std::string refusals;
        for (const auto& service : entry.services) {
            if (service.service.owner_name() != owner) continue;
            const std::string label = service.service.to_string();
            if (remaining.empty()) {
                refusals += (refusals.empty() ? "" : "; ") + label +
                            " would be left without any TLSA record";
                continue;
            }
            auto result = probe_tls(probe_options_for(service, remaining, timeouts));
            if (!result.reached()) {
                log::warning(entry.name + ": cannot reach " + label +
                             " to check the withdrawal at " + owner + " (" + probe_failure(result) +
                             "); withdrawing without the live check");
                continue;
            }
            if (!result.dane_verified) {
                refusals += (refusals.empty() ? "" : "; ") + label + " presents a chain (leaf " +
                            result.leaf_subject + ", SHA-256 " + result.leaf_sha256.substr(0, 16) +
                            "...) that the remaining TLSA records would not match (" +
                            result.verify_error + ")";
            }
        }
        return refusals;
    };
}

ActivationCheck live_service_activation_check(CheckTimeouts timeouts) {
    return [timeouts](const CertificateEntry& entry,
                      const CertificateIdentity& identity) -> std::string {
        std::string warnings;
        auto note = [&](const std::string& text) {
            warnings += (warnings.empty() ? "" : "; ") + text;
        };
        for (const auto& service : entry.services) {
            auto result = probe_tls(probe_options_for(service, {}, timeouts));
            const std::string label = service.service.to_string();
            if (!result.reached()) {
                note("cannot reach " + label + " to confirm it presents the new certificate (" +
                     probe_failure(result) + ")");
                continue;
            }
            std::string live = result.leaf_sha256, wanted = identity.certificate;
            std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                           [](unsigned char c) { return std::toupper(c); });
            if (live != wanted) {
                note(label +
                     " does not present the new certificate after the reload (it presents " +
                     result.leaf_subject + ", SHA-256 " + live.substr(0, 16) + "...)");
            }
        }
        return warnings;
    };
}

}  // namespace danehook
