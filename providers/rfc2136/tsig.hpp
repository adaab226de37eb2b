// TSIG (RFC 8945) for the RFC 2136 provider: algorithms, keys, signing requests and verifying
// responses.
//
// The MAC is computed here with OpenSSL over the RFC 8945 digest variables, which are assembled
// with ldns (canonical name wire form, rdata encodings); the TSIG record itself is an ldns_rr.
// One code path serves all six algorithms because ldns 1.8.3's own ldns_pkt_tsig_sign has no
// hmac-sha224, looks hmac-sha384 up under a misspelt name, reads the system clock itself (so the
// signing time cannot come from danehook's Clock) and its ldns_pkt_tsig_verify checks only the
// MAC. The unit tests cross-check this implementation against ldns_pkt_tsig_sign/verify for the
// algorithms ldns does support, and the integration tests against named for all six.
#pragma once

#include "danehook/secret.hpp"

// Before any ldns header: without it ldns/common.h #defines bool/true/false, which breaks
// standard headers included later (e.g. <optional>).
#include <stdbool.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ldns/ldns.h>

#include "danehook/clock.hpp"

namespace danehook::rfc2136 {

enum class TsigAlgorithm {
    hmac_md5,
    hmac_sha1,
    hmac_sha224,
    hmac_sha256,
    hmac_sha384,
    hmac_sha512
};

// Accepts BIND's names ("hmac-sha256"), certbot's ("HMAC-SHA256"), a trailing dot and the long
// form "hmac-md5.sig-alg.reg.int". Throws std::invalid_argument listing the supported ones.
TsigAlgorithm parse_tsig_algorithm(std::string_view text);
std::string tsig_algorithm_name(TsigAlgorithm algorithm);       // "hmac-sha256"
std::string tsig_algorithm_wire_name(TsigAlgorithm algorithm);  // "hmac-sha256."
// BIND's private key file numbers: 157 md5, 161 sha1, 162 sha224, 163 sha256, 164 sha384, 165
// sha512.
std::optional<TsigAlgorithm> tsig_algorithm_from_bind_number(int number);
// MD5 and SHA-1 are deprecated for TSIG (RFC 8945 section 6).
bool tsig_algorithm_is_weak(TsigAlgorithm algorithm);
std::size_t tsig_mac_size(TsigAlgorithm algorithm);

struct TsigKey {
    std::string name;  // canonical, "danehook-key."
    TsigAlgorithm algorithm = TsigAlgorithm::hmac_sha256;
    SecretBytes secret;  // never logged; wiped on destruction
    std::string source;                // where it was read from, for messages
};

// Decodes base64 (whitespace allowed). Throws std::invalid_argument without echoing the text.
std::vector<std::uint8_t> decode_tsig_secret(std::string_view base64);

// RFC 8945 recommends 300 s.
inline constexpr std::uint16_t tsig_fudge = 300;

// TSIG error codes (RFC 8945 section 4.3 and RFC 2845).
inline constexpr std::uint16_t tsig_badsig = 16;
inline constexpr std::uint16_t tsig_badkey = 17;
inline constexpr std::uint16_t tsig_badtime = 18;
inline constexpr std::uint16_t tsig_badtrunc = 22;

// Appends a TSIG record signed at `now` to `packet` (which must not have one). The packet is
// encoded with ldns_pkt2wire; the returned MAC is needed to verify the response.
std::vector<std::uint8_t> tsig_sign(ldns_pkt* packet, const TsigKey& key, EpochSeconds now);

enum class TsigStatus {
    ok,
    unsigned_response,  // no TSIG record in a response to a signed request
    wrong_key,          // signed with another key name or algorithm
    server_error,       // the server set the TSIG error field (BADSIG, BADKEY, BADTIME, ...)
    bad_mac,            // the MAC does not verify
    bad_time,           // time signed outside now +/- fudge
    malformed,          // the TSIG record is not the last record, or cannot be parsed
};

struct TsigVerdict {
    TsigStatus status = TsigStatus::ok;
    std::uint16_t error = 0;  // the TSIG error field
    std::int64_t time_signed = 0;
    std::string detail;  // one line for messages (no secrets)
};

// Verifies the TSIG record that ends `wire` (a response to a request whose MAC is
// `request_mac`, or an unsolicited message when it is empty) with `key` at `now`.
TsigVerdict tsig_verify(const std::uint8_t* wire, std::size_t size, const TsigKey& key,
                        const std::vector<std::uint8_t>& request_mac, EpochSeconds now);

std::string tsig_error_name(std::uint16_t error);  // "BADSIG", "BADKEY", "BADTIME", "error 21"

}  // namespace danehook::rfc2136
