#include "danehook/record_format.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace danehook {
namespace {

std::string zone_line(const TlsaRecord& record) {
    return record.owner + " " + std::to_string(record.ttl) + " IN TLSA " +
           record.rdata.presentation();
}

// RFC 3597: the RDATA in wire form is the three one-octet fields, then the association data.
std::string generic_line(const TlsaRecord& record) {
    const auto& params = record.rdata.params;
    std::vector<std::uint8_t> fields{static_cast<std::uint8_t>(params.usage),
                                     static_cast<std::uint8_t>(params.selector),
                                     static_cast<std::uint8_t>(params.matching)};
    return record.owner + " " + std::to_string(record.ttl) + " IN TYPE52 \\# " +
           std::to_string(fields.size() + record.rdata.data.size()) + " " + to_hex(fields) +
           record.rdata.hex();
}

}  // namespace

RecordFormat parse_record_format(std::string_view name) {
    if (name == "zone") return RecordFormat::zone;
    if (name == "nsupdate") return RecordFormat::nsupdate;
    if (name == "json") return RecordFormat::json;
    if (name == "generic") return RecordFormat::generic;
    throw std::invalid_argument("unknown format '" + std::string(name) +
                                "' (zone, nsupdate, json, generic)");
}

std::string format_records(const std::vector<TlsaRecord>& records, RecordFormat format) {
    std::string out;
    switch (format) {
        case RecordFormat::zone:
            for (const auto& record : records) out += zone_line(record) + "\n";
            break;
        case RecordFormat::generic:
            for (const auto& record : records) out += generic_line(record) + "\n";
            break;
        case RecordFormat::nsupdate:
            for (const auto& record : records) out += "update add " + zone_line(record) + "\n";
            out += "send\n";
            break;
        case RecordFormat::json: {
            auto array = nlohmann::json::array();
            for (const auto& record : records) {
                array.push_back({{"name", record.owner},
                                 {"ttl", record.ttl},
                                 {"type", "TLSA"},
                                 {"usage", static_cast<int>(record.rdata.params.usage)},
                                 {"selector", static_cast<int>(record.rdata.params.selector)},
                                 {"matching_type", static_cast<int>(record.rdata.params.matching)},
                                 {"data", record.rdata.hex()}});
            }
            out = array.dump(2) + "\n";
            break;
        }
    }
    return out;
}

}  // namespace danehook
