// TLSA record parameters and data (RFC 6698, RFC 7218 acronyms, RFC 7671).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace danehook {

enum class Usage : std::uint8_t { pkix_ta = 0, pkix_ee = 1, dane_ta = 2, dane_ee = 3 };
enum class Selector : std::uint8_t { full_certificate = 0, spki = 1 };
enum class MatchingType : std::uint8_t { exact = 0, sha256 = 1, sha512 = 2 };

// The three leading fields of a TLSA record, e.g. "3 1 1".
struct TlsaParams {
    Usage usage = Usage::dane_ee;
    Selector selector = Selector::spki;
    MatchingType matching = MatchingType::sha256;

    // Accepts numbers ("3 1 1") or RFC 7218 acronyms ("DANE-EE SPKI SHA2-256"), case-insensitive.
    // Throws std::invalid_argument naming the offending field.
    static TlsaParams parse(std::string_view text);
    std::string to_string() const;  // "3 1 1"
    std::string acronyms() const;   // "DANE-EE SPKI SHA2-256"
    bool uses_issuer() const { return usage == Usage::pkix_ta || usage == Usage::dane_ta; }

    auto operator<=>(const TlsaParams&) const = default;
};

// RDATA of one TLSA record.
struct TlsaRdata {
    TlsaParams params;
    std::vector<std::uint8_t> data;  // certificate association data

    std::string hex() const;           // upper case, no spaces
    std::string presentation() const;  // "3 1 1 ABCD..."
    // Parses "3 1 1 abcd..." (hex may contain spaces, any case). Throws std::invalid_argument.
    static TlsaRdata parse(std::string_view text);

    auto operator<=>(const TlsaRdata&) const = default;
};

// A TLS service whose TLSA records live at _<port>._<proto>.<host>.
struct Service {
    std::string host;  // lower case, without trailing dot
    std::uint16_t port = 0;
    std::string protocol = "tcp";

    // Parses HOST:PORT[/PROTO]. Throws std::invalid_argument.
    static Service parse(std::string_view text);
    std::string owner_name() const;  // "_25._tcp.mail.example.net." (absolute, lower case)
    std::string to_string() const;   // "mail.example.net:25/tcp"

    auto operator<=>(const Service&) const = default;
};

// One TLSA resource record.
struct TlsaRecord {
    std::string owner;  // absolute, lower case, with trailing dot
    std::uint32_t ttl = 0;
    TlsaRdata rdata;

    auto operator<=>(const TlsaRecord&) const = default;
};

std::string to_hex(const std::vector<std::uint8_t>& bytes);  // upper case
// Throws std::invalid_argument on odd length or non-hex characters; ignores spaces.
std::vector<std::uint8_t> from_hex(std::string_view hex);

}  // namespace danehook
