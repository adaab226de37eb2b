// Presentation of TLSA records for people and for other tools.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "danehook/tlsa.hpp"

namespace danehook {

enum class RecordFormat { zone, nsupdate, json, generic };

// Throws std::invalid_argument for an unknown name.
RecordFormat parse_record_format(std::string_view name);

// zone:     "_443._tcp.www.example.net. 300 IN TLSA 3 1 1 <HEX>" per line
// nsupdate: "update add _443._tcp.www.example.net. 300 IN TLSA 3 1 1 <HEX>" per line, then "send"
// json:     an array of {"name","ttl","type","usage","selector","matching_type","data"}
// generic:  RFC 3597 "_443._tcp.www.example.net. 300 IN TYPE52 \# 35 030101<HEX>"
std::string format_records(const std::vector<TlsaRecord>& records, RecordFormat format);

}  // namespace danehook
