#include "danehook/dns_query.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "danehook/dns_name.hpp"
#include "danehook/error.hpp"
#include "danehook/ldns_handles.hpp"

namespace danehook {
namespace {

bool is_numeric_address(const std::string& host) {
    unsigned char buffer[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

LdnsRdf address_rdf(const std::string& address) {
    unsigned char buffer[sizeof(in6_addr)];
    ldns_rdf* rdf = nullptr;
    if (inet_pton(AF_INET, address.c_str(), buffer) == 1) {
        rdf = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, address.c_str());
    } else if (inet_pton(AF_INET6, address.c_str(), buffer) == 1) {
        rdf = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, address.c_str());
    }
    if (!rdf) throw std::invalid_argument("'" + address + "' is not an IP address");
    return LdnsRdf(rdf);
}

LdnsRdf dname_rdf(const std::string& name) {
    LdnsRdf rdf(ldns_dname_new_frm_str(name.c_str()));
    if (!rdf) throw std::invalid_argument("'" + name + "' is not a domain name");
    return rdf;
}

// A non-recursive resolver aimed at one address.
LdnsResolver resolver_for(const std::string& address, std::uint16_t port, const QueryOptions& options) {
    LdnsResolver resolver(ldns_resolver_new());
    if (!resolver) throw std::bad_alloc();
    auto rdf = address_rdf(address);
    if (ldns_resolver_push_nameserver(resolver.get(), rdf.get()) != LDNS_STATUS_OK) {
        throw std::invalid_argument("cannot use nameserver " + address);
    }
    ldns_resolver_set_port(resolver.get(), port);
    ldns_resolver_set_recursive(resolver.get(), false);
    ldns_resolver_set_random(resolver.get(), false);
    ldns_resolver_set_usevc(resolver.get(), options.tcp);
    ldns_resolver_set_fallback(resolver.get(), true);
    ldns_resolver_set_retry(resolver.get(), static_cast<std::uint8_t>(std::max(1, options.attempts)));
    ldns_resolver_set_retrans(resolver.get(), 1);
    timeval timeout{};
    auto per_try = options.timeout / std::max(1, options.attempts);
    timeout.tv_sec = static_cast<time_t>(per_try.count() / 1000);
    timeout.tv_usec = static_cast<suseconds_t>((per_try.count() % 1000) * 1000);
    ldns_resolver_set_timeout(resolver.get(), timeout);
    return resolver;
}

struct Response {
    LdnsPkt packet;
    std::string error;
};

Response send_query(ldns_resolver* resolver, const std::string& name, ldns_rr_type type) {
    auto qname = dname_rdf(name);
    ldns_pkt* raw = nullptr;
    ldns_status status = ldns_resolver_send(&raw, resolver, qname.get(), type, LDNS_RR_CLASS_IN, 0);
    Response response{LdnsPkt(raw), ""};
    if (status != LDNS_STATUS_OK || !response.packet) {
        response.error = std::string("no answer (") + ldns_get_errorstr_by_id(status) + ")";
        return response;
    }
    auto rcode = ldns_pkt_get_rcode(response.packet.get());
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, rcode);
        response.error = std::string("answered ") + (entry ? entry->name : std::to_string(rcode).c_str());
    } else if (!ldns_pkt_aa(response.packet.get())) {
        response.error = "answered without the authoritative (AA) flag: not authoritative for the zone";
    }
    return response;
}

std::string owner_of(const ldns_rr* rr) {
    MallocedChars text(ldns_rdf2str(ldns_rr_owner(rr)));
    return text ? canonical_name(text.get()) : "";
}

}  // namespace

DnsServer DnsServer::parse(const std::string& text, std::uint16_t default_port) {
    DnsServer server;
    server.port = default_port;
    std::string host = text;
    std::string port_text;
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string::npos) throw std::invalid_argument("server '" + text + "': missing ']'");
        if (close + 1 < host.size()) {
            if (host[close + 1] != ':') throw std::invalid_argument("server '" + text + "': expected ':' after ']'");
            port_text = host.substr(close + 2);
        }
        host = host.substr(1, close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        auto colon = host.find(':');
        port_text = host.substr(colon + 1);
        host = host.substr(0, colon);
    }
    if (host.empty()) throw std::invalid_argument("server '" + text + "': empty host");
    if (!is_numeric_address(host)) {
        try {
            host = without_trailing_dot(canonical_name(host));
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("server '" + text + "': " + e.what());
        }
    }
    if (!port_text.empty()) {
        unsigned port = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
            throw std::invalid_argument("server '" + text + "': port must be 1-65535");
        }
        server.port = static_cast<std::uint16_t>(port);
    }
    server.host = host;
    return server;
}

std::string DnsServer::to_string() const {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

std::vector<std::string> resolve_addresses(const std::string& host) {
    if (is_numeric_address(host)) return {host};
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* result = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
    if (rc != 0) throw ProviderError(ProviderFailure::transient, "cannot resolve " + host + ": " + gai_strerror(rc));
    std::vector<std::string> addresses;
    for (addrinfo* ai = result; ai; ai = ai->ai_next) {
        char buffer[INET6_ADDRSTRLEN] = {};
        const void* address = ai->ai_family == AF_INET
                                  ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                                  : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
        if (inet_ntop(ai->ai_family, address, buffer, sizeof buffer) &&
            std::find(addresses.begin(), addresses.end(), buffer) == addresses.end()) {
            addresses.push_back(buffer);
        }
    }
    freeaddrinfo(result);
    return addresses;
}

ServerAnswer query_authoritative(const DnsServer& server, const std::string& zone, const std::string& owner,
                                 const QueryOptions& options) {
    ServerAnswer answer;
    answer.server = server.to_string();
    try {
        auto addresses = resolve_addresses(server.host);
        if (addresses.empty()) throw ProviderError(ProviderFailure::transient, "no address for " + server.host);
        auto resolver = resolver_for(addresses.front(), server.port, options);
        auto soa = send_query(resolver.get(), zone, LDNS_RR_TYPE_SOA);
        if (!soa.error.empty()) {
            answer.error = "SOA query: " + soa.error;
            return answer;
        }
        LdnsRrList soa_records(ldns_pkt_rr_list_by_type(soa.packet.get(), LDNS_RR_TYPE_SOA, LDNS_SECTION_ANSWER));
        if (soa_records && ldns_rr_list_rr_count(soa_records.get()) > 0) {
            ldns_rr* rr = ldns_rr_list_rr(soa_records.get(), 0);
            if (ldns_rr_rd_count(rr) >= 3) answer.soa_serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
        }
        auto tlsa = send_query(resolver.get(), owner, LDNS_RR_TYPE_TLSA);
        if (!tlsa.error.empty()) {
            answer.error = "TLSA query: " + tlsa.error;
            return answer;
        }
        LdnsRrList records(ldns_pkt_rr_list_by_type(tlsa.packet.get(), LDNS_RR_TYPE_TLSA, LDNS_SECTION_ANSWER));
        std::string wanted = canonical_name(owner);
        for (std::size_t i = 0; records && i < ldns_rr_list_rr_count(records.get()); ++i) {
            ldns_rr* rr = ldns_rr_list_rr(records.get(), i);
            if (ldns_rr_rd_count(rr) != 4 || owner_of(rr) != wanted) continue;
            TlsaRdata rdata;
            rdata.params.usage = static_cast<Usage>(ldns_rdf2native_int8(ldns_rr_rdf(rr, 0)));
            rdata.params.selector = static_cast<Selector>(ldns_rdf2native_int8(ldns_rr_rdf(rr, 1)));
            rdata.params.matching = static_cast<MatchingType>(ldns_rdf2native_int8(ldns_rr_rdf(rr, 2)));
            const ldns_rdf* data = ldns_rr_rdf(rr, 3);
            rdata.data.assign(ldns_rdf_data(data), ldns_rdf_data(data) + ldns_rdf_size(data));
            answer.rrset.push_back(std::move(rdata));
        }
        std::sort(answer.rrset.begin(), answer.rrset.end());
        answer.answered = true;
    } catch (const std::exception& e) {
        answer.error = e.what();
    }
    return answer;
}

std::vector<std::string> zone_nameserver_addresses(const std::string& zone, const QueryOptions& options) {
    ldns_resolver* raw = nullptr;
    if (ldns_resolver_new_frm_file(&raw, nullptr) != LDNS_STATUS_OK || !raw) {
        throw ProviderError(ProviderFailure::configuration,
                            "cannot read the system resolver configuration to find the NS set of " + zone +
                                "; set 'nameservers' for the provider");
    }
    LdnsResolver resolver(raw);
    timeval timeout{};
    timeout.tv_sec = static_cast<time_t>(std::max<long long>(1, options.timeout.count() / 1000));
    ldns_resolver_set_timeout(resolver.get(), timeout);
    ldns_resolver_set_retry(resolver.get(), static_cast<std::uint8_t>(std::max(1, options.attempts)));
    auto qname = dname_rdf(zone);
    LdnsPkt packet(ldns_resolver_query(resolver.get(), qname.get(), LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, LDNS_RD));
    if (!packet) throw ProviderError(ProviderFailure::transient, "cannot look up the NS set of " + zone);
    LdnsRrList ns(ldns_pkt_rr_list_by_type(packet.get(), LDNS_RR_TYPE_NS, LDNS_SECTION_ANSWER));
    std::vector<std::string> servers;
    for (std::size_t i = 0; ns && i < ldns_rr_list_rr_count(ns.get()); ++i) {
        MallocedChars name(ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ns.get(), i), 0)));
        if (!name) continue;
        try {
            for (const auto& address : resolve_addresses(without_trailing_dot(name.get()))) {
                servers.push_back(DnsServer{address, 53}.to_string());
            }
        } catch (const ProviderError&) {
            // An NS name that does not resolve is not a server we can confirm on.
        }
    }
    if (servers.empty()) {
        throw ProviderError(ProviderFailure::transient, "the NS set of " + zone + " gave no reachable address; set 'nameservers'");
    }
    return servers;
}

}  // namespace danehook
