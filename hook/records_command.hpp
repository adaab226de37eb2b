// `danehook records`: compute TLSA records offline from certificate files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "danehook/certificate.hpp"
#include "danehook/record_format.hpp"

namespace danehook {

struct RecordsRequest {
    CertificateFiles files;
    std::vector<std::string> services;  // HOST:PORT[/PROTO]
    std::vector<std::string> records;   // "3 1 1"; empty means 3 1 1
    std::uint32_t ttl = 300;
    RecordFormat format = RecordFormat::zone;
    TrustAnchor anchor = TrustAnchor::issuer;
};

// The records, in service order then record order (current key first, then next keys).
// Throws InputError / std::invalid_argument (converted by the CLI).
std::vector<TlsaRecord> compute_records(const RecordsRequest& request,
                                        std::vector<std::string>* warnings);

// Runs the command and returns the text to print.
std::string records_command(const RecordsRequest& request);

}  // namespace danehook
