#include "hook/records_command.hpp"

#include <algorithm>

#include "danehook/error.hpp"
#include "danehook/log.hpp"

namespace danehook {

std::vector<TlsaRecord> compute_records(const RecordsRequest& request,
                                        std::vector<std::string>* warnings) {
    std::vector<TlsaParams> params;
    for (const auto& text : request.records) {
        try {
            params.push_back(TlsaParams::parse(text));
        } catch (const std::invalid_argument& e) {
            throw Error(ExitCode::usage, std::string("--record: ") + e.what());
        }
    }
    if (params.empty()) params.push_back(TlsaParams{});
    std::vector<Service> services;
    for (const auto& text : request.services) {
        try {
            services.push_back(Service::parse(text));
        } catch (const std::invalid_argument& e) {
            throw Error(ExitCode::usage, std::string("--service: ") + e.what());
        }
    }
    if (services.empty())
        throw Error(ExitCode::usage, "--service: at least one HOST:PORT is required");
    // RFC 2181 section 8: a TTL is an unsigned 31-bit value.
    if (request.ttl > 2147483647U)
        throw Error(ExitCode::usage, "--ttl: must be at most 2147483647 seconds");

    auto material = load_certificate_material(request.files);
    if (warnings) *warnings = material.warnings;

    // Compute each distinct RDATA once, then place it at every service.
    std::vector<TlsaRdata> rdatas;
    for (const auto& p : params) {
        auto add = [&](TlsaRdata rdata) {
            if (std::find(rdatas.begin(), rdatas.end(), rdata) == rdatas.end())
                rdatas.push_back(std::move(rdata));
        };
        add(compute_tlsa(material, p, request.anchor));
        auto next_records = compute_next_key_tlsa(material, p);
        // A next key has no certificate yet, so a record pinning the whole end-entity certificate
        // cannot pre-publish it. Say so, or the operator believes the rollover is covered.
        // (Trust-anchor records need no next-key record: they cover any key the CA certifies.)
        if (next_records.empty() && !material.next_keys.empty() && !p.uses_issuer() && warnings) {
            warnings->push_back("record '" + p.to_string() +
                                "' pins the whole certificate and cannot pre-publish a next key "
                                "(use SPKI records such as '3 1 1' for key rollover)");
        }
        for (auto& next : next_records) add(std::move(next));
    }
    std::vector<TlsaRecord> records;
    records.reserve(services.size() * rdatas.size());
    for (const auto& service : services) {
        for (const auto& rdata : rdatas)
            records.push_back({service.owner_name(), request.ttl, rdata});
    }
    return records;
}

std::string records_command(const RecordsRequest& request) {
    std::vector<std::string> warnings;
    auto records = compute_records(request, &warnings);
    for (const auto& warning : warnings) log::warning(warning);
    return format_records(records, request.format);
}

}  // namespace danehook
