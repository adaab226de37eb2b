// DNS queries danehook makes itself: TLSA RRsets and SOA serials on authoritative servers, and
// the zone's NS set. Wire format through ldns.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "danehook/provider.hpp"

namespace danehook {

struct DnsServer {
    std::string host;  // address or name
    std::uint16_t port = 53;

    // "192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:53", "2001:db8::1", "ns1.example.net:53".
    // Throws std::invalid_argument.
    static DnsServer parse(const std::string& text, std::uint16_t default_port = 53);
    std::string to_string() const;
};

struct QueryOptions {
    std::chrono::milliseconds timeout{5000};
    int attempts = 2;
    bool tcp = false;  // UDP with fallback to TCP on truncation when false
};

// Every IPv4 and IPv6 address of `host` (numeric hosts return themselves). Throws
// ProviderError(transient) when the name does not resolve.
std::vector<std::string> resolve_addresses(const std::string& host);

// Asks `server` for the TLSA RRset at `owner` and the SOA serial of `zone` (non-recursive).
// Never throws for network failures: they are reported in ServerAnswer::error.
ServerAnswer query_authoritative(const DnsServer& server, const std::string& zone,
                                 const std::string& owner, const QueryOptions& options = {});

// The zone's NS set from the system resolver, each name resolved to all its addresses,
// as "address:53". Throws ProviderError when nothing resolves.
std::vector<std::string> zone_nameserver_addresses(const std::string& zone,
                                                   const QueryOptions& options = {});

}  // namespace danehook
