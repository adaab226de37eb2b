// The four output formats, checked exactly and against independent parsers (BIND, ldns).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <sstream>

// After the C++ headers: ldns's common.h redefines bool when <stdbool.h> has not been seen.
#include <ldns/ldns.h>

#include "core/tlsa_vectors.hpp"
#include "danehook/ldns_handles.hpp"
#include "danehook/record_format.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

// Records straight from the openssl-computed vectors: no danehook hashing involved.
std::vector<TlsaRecord> records_from_vectors() {
    auto vectors = load_tlsa_vectors();
    std::vector<TlsaRecord> records;
    for (const char* params : {"3 1 1", "3 0 2", "2 1 0"}) {
        auto vector = vector_for(vectors, "ecdsa-p384", params[0] == '2' ? "issuer" : "-", params);
        records.push_back(
            {"_25._tcp.mail.example.net.", 3600, TlsaRdata{vector.params, from_hex(vector.hex)}});
    }
    auto rsa = vector_for(vectors, "rsa2048", "-", "3 1 1");
    records.push_back(
        {"_443._tcp.www.example.net.", 300, TlsaRdata{rsa.params, from_hex(rsa.hex)}});
    return records;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// "owner ttl TLSA u s m HEX" from a BIND or ldns presentation line (hex may be split in words).
std::string normalized_tlsa(const std::string& line) {
    std::istringstream in(line);
    std::string owner, ttl, klass, type, u, s, m, word, hex;
    in >> owner >> ttl >> klass >> type >> u >> s >> m;
    while (in >> word) hex += word;
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return owner + " " + ttl + " " + type + " " + u + " " + s + " " + m + " " + hex;
}

std::set<std::string> compiled_tlsa_records(const std::filesystem::path& zone_file) {
    CommandOptions options;
    options.timeout = std::chrono::seconds(30);
    auto result = run_command({"named-compilezone", "-q", "-f", "text", "-F", "text", "-s", "full",
                               "-o", "-", "example.net", zone_file.string()},
                              options);
    INFO(result.errors);
    REQUIRE(result.ok());
    std::set<std::string> records;
    for (const auto& line : lines_of(result.output)) {
        if (line.find(" TLSA") != std::string::npos || line.find("\tTLSA") != std::string::npos) {
            records.insert(normalized_tlsa(line));
        }
    }
    return records;
}

const char* zone_head =
    "$ORIGIN example.net.\n"
    "@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
    "@ 300 IN NS ns1\n"
    "ns1 300 IN A 127.0.0.1\n";

}  // namespace

TEST_CASE("format names") {
    CHECK(parse_record_format("zone") == RecordFormat::zone);
    CHECK(parse_record_format("nsupdate") == RecordFormat::nsupdate);
    CHECK(parse_record_format("json") == RecordFormat::json);
    CHECK(parse_record_format("generic") == RecordFormat::generic);
    CHECK_THROWS_WITH_AS(parse_record_format("bind"), doctest::Contains("unknown format 'bind'"),
                         std::invalid_argument);
}

TEST_CASE("zone and nsupdate formats, exactly") {
    auto records = records_from_vectors();
    auto vectors = load_tlsa_vectors();
    std::string p384_311 = vector_for(vectors, "ecdsa-p384", "-", "3 1 1").hex;
    std::string rsa_311 = vector_for(vectors, "rsa2048", "-", "3 1 1").hex;
    std::string p384_302 = vector_for(vectors, "ecdsa-p384", "-", "3 0 2").hex;
    std::string e1_210 = vector_for(vectors, "ecdsa-p384", "issuer", "2 1 0").hex;
    std::string zone = "_25._tcp.mail.example.net. 3600 IN TLSA 3 1 1 " + p384_311 + "\n" +
                       "_25._tcp.mail.example.net. 3600 IN TLSA 3 0 2 " + p384_302 + "\n" +
                       "_25._tcp.mail.example.net. 3600 IN TLSA 2 1 0 " + e1_210 + "\n" +
                       "_443._tcp.www.example.net. 300 IN TLSA 3 1 1 " + rsa_311 + "\n";
    CHECK(format_records(records, RecordFormat::zone) == zone);

    std::string nsupdate;
    for (const auto& line : lines_of(zone)) nsupdate += "update add " + line + "\n";
    nsupdate += "send\n";
    CHECK(format_records(records, RecordFormat::nsupdate) == nsupdate);

    CHECK(format_records({}, RecordFormat::zone).empty());
    CHECK(format_records({}, RecordFormat::json) == "[]\n");
}

TEST_CASE("generic format is RFC 3597 wire data: usage, selector, matching type, data") {
    auto vectors = load_tlsa_vectors();
    auto vector = vector_for(vectors, "ed25519", "-", "3 1 1");
    TlsaRecord record{"_443._tcp.www.example.net.", 300,
                      TlsaRdata{vector.params, from_hex(vector.hex)}};
    CHECK(format_records({record}, RecordFormat::generic) ==
          "_443._tcp.www.example.net. 300 IN TYPE52 \\# 35 030101" + vector.hex + "\n");

    auto full = vector_for(vectors, "rsa2048", "issuer", "0 0 0");
    TlsaRecord big{"_25._tcp.mail.example.net.", 60, TlsaRdata{full.params, from_hex(full.hex)}};
    std::size_t length = full.hex.size() / 2 + 3;
    CHECK(format_records({big}, RecordFormat::generic) ==
          "_25._tcp.mail.example.net. 60 IN TYPE52 \\# " + std::to_string(length) + " 000000" +
              full.hex + "\n");
}

TEST_CASE("json format carries every field") {
    auto records = records_from_vectors();
    auto json = nlohmann::json::parse(format_records(records, RecordFormat::json));
    REQUIRE(json.is_array());
    REQUIRE(json.size() == records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        CAPTURE(i);
        CHECK(json[i].size() == 7);
        CHECK(json[i]["name"] == records[i].owner);
        CHECK(json[i]["ttl"] == records[i].ttl);
        CHECK(json[i]["type"] == "TLSA");
        CHECK(json[i]["usage"] == static_cast<int>(records[i].rdata.params.usage));
        CHECK(json[i]["selector"] == static_cast<int>(records[i].rdata.params.selector));
        CHECK(json[i]["matching_type"] == static_cast<int>(records[i].rdata.params.matching));
        CHECK(json[i]["data"] == to_hex(records[i].rdata.data));
    }
    TlsaRecord small{"_25._tcp.mx.example.net.", 300, TlsaRdata::parse("3 1 1 0A0B")};
    CHECK(format_records({small}, RecordFormat::json) ==
          "[\n  {\n    \"data\": \"0A0B\",\n    \"matching_type\": 1,\n    \"name\": "
          "\"_25._tcp.mx.example.net.\",\n"
          "    \"selector\": 1,\n    \"ttl\": 300,\n    \"type\": \"TLSA\",\n    \"usage\": 3\n  "
          "}\n]\n");
}

TEST_CASE("ldns reads the zone and generic forms as the same record") {
    for (const auto& record : records_from_vectors()) {
        auto zone_line = lines_of(format_records({record}, RecordFormat::zone)).front();
        auto generic_line = lines_of(format_records({record}, RecordFormat::generic)).front();
        ldns_rr* raw_zone = nullptr;
        ldns_rr* raw_generic = nullptr;
        REQUIRE(ldns_rr_new_frm_str(&raw_zone, zone_line.c_str(), 0, nullptr, nullptr) ==
                LDNS_STATUS_OK);
        LdnsRr from_zone(raw_zone);
        REQUIRE(ldns_rr_new_frm_str(&raw_generic, generic_line.c_str(), 0, nullptr, nullptr) ==
                LDNS_STATUS_OK);
        LdnsRr from_generic(raw_generic);
        CHECK(ldns_rr_get_type(from_zone.get()) == LDNS_RR_TYPE_TLSA);
        CHECK(ldns_rr_get_type(from_generic.get()) == LDNS_RR_TYPE_TLSA);
        CHECK(ldns_rr_compare(from_zone.get(), from_generic.get()) == 0);
        CHECK(ldns_rr_ttl(from_zone.get()) == record.ttl);
        MallocedChars text(ldns_rr2str(from_generic.get()));
        REQUIRE(text);
        CHECK(normalized_tlsa(text.get()) == normalized_tlsa(zone_line));
    }
}

TEST_CASE("BIND's named-compilezone reads the zone and generic forms as the same records") {
    if (!have_program("named-compilezone")) {
        MESSAGE("named-compilezone not installed: check skipped");
        return;
    }
    auto records = records_from_vectors();
    TempDir dir;
    write_text(dir / "zone.db", zone_head + format_records(records, RecordFormat::zone));
    write_text(dir / "generic.db", zone_head + format_records(records, RecordFormat::generic));
    auto from_zone = compiled_tlsa_records(dir / "zone.db");
    auto from_generic = compiled_tlsa_records(dir / "generic.db");
    CHECK(from_zone.size() == records.size());
    CHECK(from_zone == from_generic);
    for (const auto& record : records) {
        CHECK(from_zone.count(normalized_tlsa(
                  lines_of(format_records({record}, RecordFormat::zone)).front())) == 1);
    }
}
