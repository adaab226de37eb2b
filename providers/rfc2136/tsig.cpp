#include "providers/rfc2136/tsig.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

#include "danehook/ldns_handles.hpp"

namespace danehook::rfc2136 {
namespace {

struct AlgorithmInfo {
    TsigAlgorithm algorithm;
    const char* name;       // BIND's configuration name
    const char* wire_name;  // the algorithm name in the TSIG record (RFC 8945 section 6)
    int bind_number;        // BIND's K*.private "Algorithm:" number
    std::size_t mac_size;
    const EVP_MD* (*digest)();
};

const std::array<AlgorithmInfo, 6> algorithms{{
    {TsigAlgorithm::hmac_md5, "hmac-md5", "hmac-md5.sig-alg.reg.int.", 157, 16, EVP_md5},
    {TsigAlgorithm::hmac_sha1, "hmac-sha1", "hmac-sha1.", 161, 20, EVP_sha1},
    {TsigAlgorithm::hmac_sha224, "hmac-sha224", "hmac-sha224.", 162, 28, EVP_sha224},
    {TsigAlgorithm::hmac_sha256, "hmac-sha256", "hmac-sha256.", 163, 32, EVP_sha256},
    {TsigAlgorithm::hmac_sha384, "hmac-sha384", "hmac-sha384.", 164, 48, EVP_sha384},
    {TsigAlgorithm::hmac_sha512, "hmac-sha512", "hmac-sha512.", 165, 64, EVP_sha512},
}};

const AlgorithmInfo& info(TsigAlgorithm algorithm) {
    for (const auto& entry : algorithms) {
        if (entry.algorithm == algorithm) return entry;
    }
    throw std::logic_error("unknown TSIG algorithm");
}

LdnsRdf dname(const std::string& text) {
    LdnsRdf rdf(ldns_dname_new_frm_str(text.c_str()));
    if (!rdf) throw std::invalid_argument("'" + text + "' is not a domain name");
    return rdf;
}

// The RFC 8945 section 4.3.3 "TSIG variables" that follow the message in the digest.
struct TsigVariables {
    const ldns_rdf* key_name;
    const ldns_rdf* algorithm_name;
    std::uint64_t time_signed;
    std::uint16_t fudge;
    std::uint16_t error;
    std::vector<std::uint8_t> other_data;
};

void reserve(ldns_buffer* buffer, std::size_t count) {
    if (!ldns_buffer_reserve(buffer, count)) throw std::bad_alloc();
}

std::vector<std::uint8_t> compute_mac(const TsigKey& key,
                                      const std::vector<std::uint8_t>& request_mac,
                                      const std::uint8_t* message, std::size_t message_size,
                                      const TsigVariables& variables) {
    LdnsBuffer digest_input(ldns_buffer_new(message_size + request_mac.size() + 600));
    if (!digest_input) throw std::bad_alloc();
    ldns_buffer* buffer = digest_input.get();
    if (!request_mac.empty()) {
        reserve(buffer, 2 + request_mac.size());
        ldns_buffer_write_u16(buffer, static_cast<std::uint16_t>(request_mac.size()));
        ldns_buffer_write(buffer, request_mac.data(), request_mac.size());
    }
    reserve(buffer, message_size);
    ldns_buffer_write(buffer, message, message_size);
    // Names in canonical (lower case, uncompressed) wire form.
    if (ldns_rdf2buffer_wire_canonical(buffer, variables.key_name) != LDNS_STATUS_OK)
        throw std::bad_alloc();
    reserve(buffer, 6);
    ldns_buffer_write_u16(buffer, LDNS_RR_CLASS_ANY);
    ldns_buffer_write_u32(buffer, 0);  // TTL
    if (ldns_rdf2buffer_wire_canonical(buffer, variables.algorithm_name) != LDNS_STATUS_OK) {
        throw std::bad_alloc();
    }
    reserve(buffer, 12 + variables.other_data.size());
    ldns_buffer_write_u16(buffer, static_cast<std::uint16_t>(variables.time_signed >> 32));
    ldns_buffer_write_u32(buffer, static_cast<std::uint32_t>(variables.time_signed & 0xffffffffu));
    ldns_buffer_write_u16(buffer, variables.fudge);
    ldns_buffer_write_u16(buffer, variables.error);
    ldns_buffer_write_u16(buffer, static_cast<std::uint16_t>(variables.other_data.size()));
    if (!variables.other_data.empty()) {  // memcpy from an empty vector's null data() is UB
        ldns_buffer_write(buffer, variables.other_data.data(), variables.other_data.size());
    }

    const AlgorithmInfo& algorithm = info(key.algorithm);
    std::vector<std::uint8_t> mac(EVP_MAX_MD_SIZE);
    unsigned int mac_size = 0;
    // An empty secret still needs a valid key pointer for OpenSSL.
    static const std::uint8_t empty_key = 0;
    if (!HMAC(algorithm.digest(), key.secret.empty() ? &empty_key : key.secret.data(),
              static_cast<int>(key.secret.size()), ldns_buffer_begin(buffer),
              ldns_buffer_position(buffer), mac.data(), &mac_size)) {
        throw std::runtime_error(std::string("HMAC with ") + algorithm.name + " failed");
    }
    mac.resize(mac_size);
    return mac;
}

std::uint16_t rdf_u16(const ldns_rdf* rdf) {
    if (!rdf || ldns_rdf_size(rdf) < 2) return 0;
    return ldns_read_uint16(ldns_rdf_data(rdf));
}

// INT16_DATA: a 16-bit length, then the bytes.
std::vector<std::uint8_t> rdf_int16_data(const ldns_rdf* rdf) {
    if (!rdf || ldns_rdf_size(rdf) < 2) return {};
    const std::uint8_t* data = ldns_rdf_data(rdf);
    std::size_t length = std::min<std::size_t>(ldns_read_uint16(data), ldns_rdf_size(rdf) - 2);
    return {data + 2, data + 2 + length};
}

std::uint64_t rdf_u48(const ldns_rdf* rdf) {
    if (!rdf || ldns_rdf_size(rdf) != 6) return 0;
    const std::uint8_t* data = ldns_rdf_data(rdf);
    std::uint64_t value = 0;
    for (int i = 0; i < 6; ++i) value = (value << 8) | data[i];
    return value;
}

std::string lower(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return result;
}

}  // namespace

TsigAlgorithm parse_tsig_algorithm(std::string_view text) {
    std::string name = lower(text);
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name == "hmac-md5.sig-alg.reg.int") name = "hmac-md5";
    for (const auto& entry : algorithms) {
        if (name == entry.name) return entry.algorithm;
    }
    std::string known;
    for (const auto& entry : algorithms)
        known += std::string(known.empty() ? "" : ", ") + entry.name;
    throw std::invalid_argument("unsupported TSIG algorithm '" + std::string(text) +
                                "' (supported: " + known + "; truncated MACs are not supported)");
}

std::string tsig_algorithm_name(TsigAlgorithm algorithm) {
    return info(algorithm).name;
}
std::string tsig_algorithm_wire_name(TsigAlgorithm algorithm) {
    return info(algorithm).wire_name;
}
std::size_t tsig_mac_size(TsigAlgorithm algorithm) {
    return info(algorithm).mac_size;
}

std::optional<TsigAlgorithm> tsig_algorithm_from_bind_number(int number) {
    for (const auto& entry : algorithms) {
        if (entry.bind_number == number) return entry.algorithm;
    }
    return std::nullopt;
}

bool tsig_algorithm_is_weak(TsigAlgorithm algorithm) {
    return algorithm == TsigAlgorithm::hmac_md5 || algorithm == TsigAlgorithm::hmac_sha1;
}

std::vector<std::uint8_t> decode_tsig_secret(std::string_view base64) {
    std::string compact;
    for (char c : base64) {
        if (!std::isspace(static_cast<unsigned char>(c))) compact.push_back(c);
    }
    auto valid = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
    };
    std::size_t padding = 0;
    while (padding < compact.size() && compact[compact.size() - 1 - padding] == '=') ++padding;
    if (compact.empty() || compact.size() % 4 != 0 || padding > 2 ||
        !std::all_of(compact.begin(), compact.end() - static_cast<std::ptrdiff_t>(padding),
                     valid)) {
        throw std::invalid_argument("the secret is not valid base64");
    }
    std::vector<std::uint8_t> bytes(compact.size() / 4 * 3);
    int decoded =
        EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(compact.data()),
                        static_cast<int>(compact.size()));
    if (decoded < 0) throw std::invalid_argument("the secret is not valid base64");
    bytes.resize(static_cast<std::size_t>(decoded) - padding);
    return bytes;
}

std::vector<std::uint8_t> tsig_sign(ldns_pkt* packet, const TsigKey& key, EpochSeconds now) {
    if (ldns_pkt_tsig(packet)) throw std::logic_error("packet is already signed");
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&raw, packet, &size) != LDNS_STATUS_OK)
        throw std::runtime_error("cannot encode the message");
    MallocedBytes wire(raw);

    auto key_name = dname(key.name);
    auto algorithm_name = dname(tsig_algorithm_wire_name(key.algorithm));
    TsigVariables variables{
        key_name.get(), algorithm_name.get(), static_cast<std::uint64_t>(now), tsig_fudge, 0, {}};
    auto mac = compute_mac(key, {}, wire.get(), size, variables);

    std::array<std::uint8_t, 6> time_signed{};
    for (int i = 5, shift = 0; i >= 0; --i, shift += 8) {
        time_signed[static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(variables.time_signed >> shift);
    }
    LdnsRr rr(ldns_rr_new());
    if (!rr) throw std::bad_alloc();
    ldns_rr_set_owner(rr.get(), key_name.release());
    ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_ANY);
    ldns_rr_set_type(rr.get(), LDNS_RR_TYPE_TSIG);
    ldns_rr_set_ttl(rr.get(), 0);
    ldns_rdf* fields[] = {
        algorithm_name.release(),
        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_TSIGTIME, time_signed.size(), time_signed.data()),
        ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, tsig_fudge),
        ldns_native2rdf_int16_data(mac.size(), mac.data()),
        ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, ldns_pkt_id(packet)),
        ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 0),
        ldns_native2rdf_int16_data(0, nullptr),
    };
    bool complete = true;
    for (ldns_rdf* field : fields) {
        if (!field || !ldns_rr_push_rdf(rr.get(), field)) {
            complete = false;
            ldns_rdf_deep_free(field);
        }
    }
    if (!complete) throw std::bad_alloc();
    ldns_pkt_set_tsig(packet, rr.release());
    return mac;
}

TsigVerdict tsig_verify(const std::uint8_t* wire, std::size_t size, const TsigKey& key,
                        const std::vector<std::uint8_t>& request_mac, EpochSeconds now) {
    TsigVerdict verdict;
    if (size < LDNS_HEADER_SIZE) {
        verdict.status = TsigStatus::malformed;
        verdict.detail = "message shorter than a DNS header";
        return verdict;
    }
    std::uint16_t counts[] = {LDNS_QDCOUNT(wire), LDNS_ANCOUNT(wire), LDNS_NSCOUNT(wire),
                              LDNS_ARCOUNT(wire)};
    if (counts[3] == 0) {
        verdict.status = TsigStatus::unsigned_response;
        verdict.detail = "the answer carries no TSIG record";
        return verdict;
    }
    // Walk to the last record with ldns's parser; TSIG must be that record (RFC 8945 5.1).
    std::size_t position = LDNS_HEADER_SIZE;
    const ldns_pkt_section sections[] = {LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER,
                                         LDNS_SECTION_AUTHORITY, LDNS_SECTION_ADDITIONAL};
    for (int s = 0; s < 4; ++s) {
        std::uint16_t count = s == 3 ? static_cast<std::uint16_t>(counts[3] - 1) : counts[s];
        for (std::uint16_t i = 0; i < count; ++i) {
            ldns_rr* raw = nullptr;
            if (ldns_wire2rr(&raw, wire, size, &position, sections[s]) != LDNS_STATUS_OK) {
                verdict.status = TsigStatus::malformed;
                verdict.detail = "cannot parse the answer";
                return verdict;
            }
            ldns_rr_free(raw);
        }
    }
    std::size_t tsig_start = position;
    ldns_rr* raw = nullptr;
    if (ldns_wire2rr(&raw, wire, size, &position, LDNS_SECTION_ADDITIONAL) != LDNS_STATUS_OK) {
        verdict.status = TsigStatus::malformed;
        verdict.detail = "cannot parse the answer's last record";
        return verdict;
    }
    LdnsRr tsig(raw);
    if (ldns_rr_get_type(tsig.get()) != LDNS_RR_TYPE_TSIG) {
        verdict.status = TsigStatus::unsigned_response;
        verdict.detail = "the answer carries no TSIG record";
        return verdict;
    }
    if (position != size || ldns_rr_rd_count(tsig.get()) != 7) {
        verdict.status = TsigStatus::malformed;
        verdict.detail = "malformed TSIG record";
        return verdict;
    }
    verdict.time_signed = static_cast<std::int64_t>(rdf_u48(ldns_rr_rdf(tsig.get(), 1)));
    verdict.error = rdf_u16(ldns_rr_rdf(tsig.get(), 5));

    auto expected_name = dname(key.name);
    auto expected_algorithm = dname(tsig_algorithm_wire_name(key.algorithm));
    if (ldns_dname_compare(ldns_rr_owner(tsig.get()), expected_name.get()) != 0 ||
        ldns_dname_compare(ldns_rr_rdf(tsig.get(), 0), expected_algorithm.get()) != 0) {
        verdict.status = TsigStatus::wrong_key;
        verdict.detail = "the answer is signed with another key or algorithm";
        return verdict;
    }
    if (verdict.error != 0) {
        verdict.status = TsigStatus::server_error;
        verdict.detail = "the server reported TSIG error " + tsig_error_name(verdict.error);
        return verdict;
    }

    // The digest covers the message as it was before the TSIG record was added: original ID,
    // ARCOUNT without the TSIG record.
    std::vector<std::uint8_t> message(wire, wire + tsig_start);
    ldns_write_uint16(message.data(), rdf_u16(ldns_rr_rdf(tsig.get(), 4)));
    ldns_write_uint16(message.data() + LDNS_ARCOUNT_OFF, static_cast<std::uint16_t>(counts[3] - 1));
    TsigVariables variables{ldns_rr_owner(tsig.get()),
                            ldns_rr_rdf(tsig.get(), 0),
                            static_cast<std::uint64_t>(verdict.time_signed),
                            rdf_u16(ldns_rr_rdf(tsig.get(), 2)),
                            verdict.error,
                            rdf_int16_data(ldns_rr_rdf(tsig.get(), 6))};
    auto expected_mac = compute_mac(key, request_mac, message.data(), message.size(), variables);
    auto received_mac = rdf_int16_data(ldns_rr_rdf(tsig.get(), 3));
    if (received_mac.size() != expected_mac.size() ||
        CRYPTO_memcmp(received_mac.data(), expected_mac.data(), expected_mac.size()) != 0) {
        verdict.status = TsigStatus::bad_mac;
        verdict.detail = "the answer's TSIG MAC does not verify with the key";
        return verdict;
    }
    std::int64_t skew = now - verdict.time_signed;
    if (skew > variables.fudge || -skew > variables.fudge) {
        verdict.status = TsigStatus::bad_time;
        verdict.detail = "the answer was signed at " + format_time(verdict.time_signed) + ", " +
                         std::to_string(skew < 0 ? -skew : skew) + " s from local time (fudge " +
                         std::to_string(variables.fudge) + " s)";
        return verdict;
    }
    return verdict;
}

std::string tsig_error_name(std::uint16_t error) {
    switch (error) {
        case 0:
            return "NOERROR";
        case tsig_badsig:
            return "BADSIG";
        case tsig_badkey:
            return "BADKEY";
        case tsig_badtime:
            return "BADTIME";
        case tsig_badtrunc:
            return "BADTRUNC";
        default:
            return "error " + std::to_string(error);
    }
}

}  // namespace danehook::rfc2136
