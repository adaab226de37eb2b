#include "danehook/tlsa.hpp"

#include <array>
#include <charconv>
#include <stdexcept>

#include "danehook/dns_name.hpp"

namespace danehook {
namespace {

std::string upper(std::string_view text) {
    std::string result(text);
    for (char& c : result) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return result;
}

std::string lower(std::string_view text) {
    std::string result(text);
    for (char& c : result) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return result;
}

std::vector<std::string_view> split_words(std::string_view text) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        std::size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
        if (i > start) words.push_back(text.substr(start, i - start));
    }
    return words;
}

struct Acronym {
    int value;
    const char* name;
};
constexpr std::array<Acronym, 4> usage_names{
    {{0, "PKIX-TA"}, {1, "PKIX-EE"}, {2, "DANE-TA"}, {3, "DANE-EE"}}};
constexpr std::array<Acronym, 2> selector_names{{{0, "CERT"}, {1, "SPKI"}}};
constexpr std::array<Acronym, 3> matching_names{{{0, "FULL"}, {1, "SHA2-256"}, {2, "SHA2-512"}}};

template <std::size_t N>
int parse_field(std::string_view word, const std::array<Acronym, N>& names, const char* field,
                const char* private_use_name) {
    int value = -1;
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
    bool numeric = ec == std::errc() && end == word.data() + word.size();
    if (numeric) {
        if (value >= 0 && value < static_cast<int>(N)) return value;
    } else {
        std::string wanted = upper(word);
        for (const auto& acronym : names) {
            if (wanted == acronym.name) return acronym.value;
        }
    }
    // RFC 6698 reserves 255 in each field for private use (RFC 7218: PrivCert, PrivSel,
    // PrivDig): valid in DNS, but nothing danehook could compute.
    if ((numeric && value == 255) || upper(word) == upper(private_use_name)) {
        throw std::invalid_argument("TLSA " + std::string(field) + " '" + std::string(word) +
                                    "' is the private-use value 255 (" + private_use_name +
                                    "); danehook cannot compute it");
    }
    std::string allowed;
    for (const auto& acronym : names) {
        allowed += (allowed.empty() ? "" : ", ") + std::to_string(acronym.value) + " (" +
                   acronym.name + ")";
    }
    throw std::invalid_argument("unknown TLSA " + std::string(field) + " '" + std::string(word) +
                                "' (expected " + allowed + ")");
}

template <std::size_t N>
const char* acronym_of(int value, const std::array<Acronym, N>& names) {
    for (const auto& acronym : names) {
        if (acronym.value == value) return acronym.name;
    }
    return "?";
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

TlsaParams TlsaParams::parse(std::string_view text) {
    auto words = split_words(text);
    if (words.size() != 3) {
        throw std::invalid_argument("TLSA parameters '" + std::string(text) +
                                    "' must be three fields: usage selector matching-type");
    }
    TlsaParams params;
    params.usage = static_cast<Usage>(parse_field(words[0], usage_names, "usage", "PrivCert"));
    params.selector =
        static_cast<Selector>(parse_field(words[1], selector_names, "selector", "PrivSel"));
    params.matching = static_cast<MatchingType>(
        parse_field(words[2], matching_names, "matching type", "PrivDig"));
    return params;
}

std::string TlsaParams::to_string() const {
    return std::to_string(static_cast<int>(usage)) + " " +
           std::to_string(static_cast<int>(selector)) + " " +
           std::to_string(static_cast<int>(matching));
}

std::string TlsaParams::acronyms() const {
    return std::string(acronym_of(static_cast<int>(usage), usage_names)) + " " +
           acronym_of(static_cast<int>(selector), selector_names) + " " +
           acronym_of(static_cast<int>(matching), matching_names);
}

std::string to_hex(const std::vector<std::uint8_t>& bytes) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        hex.push_back(digits[b >> 4]);
        hex.push_back(digits[b & 0x0f]);
    }
    return hex;
}

std::vector<std::uint8_t> from_hex(std::string_view hex) {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(hex.size() / 2);
    int pending = -1;
    for (char c : hex) {
        if (c == ' ' || c == '\t') continue;
        int digit = hex_digit(c);
        if (digit < 0)
            throw std::invalid_argument("'" + std::string(1, c) + "' is not a hex digit");
        if (pending < 0) {
            pending = digit;
        } else {
            bytes.push_back(static_cast<std::uint8_t>(pending << 4 | digit));
            pending = -1;
        }
    }
    if (pending >= 0) throw std::invalid_argument("hex data has an odd number of digits");
    return bytes;
}

std::string TlsaRdata::hex() const {
    return to_hex(data);
}

std::string TlsaRdata::presentation() const {
    return params.to_string() + " " + hex();
}

TlsaRdata TlsaRdata::parse(std::string_view text) {
    auto words = split_words(text);
    if (words.size() < 4) {
        throw std::invalid_argument("TLSA data '" + std::string(text) +
                                    "' must be: usage selector matching-type hex");
    }
    TlsaRdata rdata;
    std::string first3 =
        std::string(words[0]) + " " + std::string(words[1]) + " " + std::string(words[2]);
    rdata.params = TlsaParams::parse(first3);
    std::string hex;
    for (std::size_t i = 3; i < words.size(); ++i) hex += words[i];
    rdata.data = from_hex(hex);
    if (rdata.data.empty()) throw std::invalid_argument("TLSA data has no association data");
    return rdata;
}

Service Service::parse(std::string_view text) {
    Service service;
    std::string_view rest = text;
    if (auto slash = rest.rfind('/'); slash != std::string_view::npos) {
        service.protocol = lower(rest.substr(slash + 1));
        rest = rest.substr(0, slash);
        if (service.protocol != "tcp" && service.protocol != "udp" && service.protocol != "sctp") {
            throw std::invalid_argument("service '" + std::string(text) +
                                        "': protocol must be tcp, udp or sctp");
        }
    }
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
        throw std::invalid_argument("service '" + std::string(text) +
                                    "' must be HOST:PORT[/PROTO]");
    }
    std::string_view port_text = rest.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
        throw std::invalid_argument("service '" + std::string(text) + "': port must be 1-65535");
    }
    service.port = static_cast<std::uint16_t>(port);
    try {
        service.host = without_trailing_dot(canonical_name(rest.substr(0, colon)));
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("service '" + std::string(text) + "': " + e.what());
    }
    return service;
}

std::string Service::owner_name() const {
    return "_" + std::to_string(port) + "._" + protocol + "." + host + ".";
}

std::string Service::to_string() const {
    return host + ":" + std::to_string(port) + "/" + protocol;
}

}  // namespace danehook
