#include "providers/rfc2136/rfc2136_provider.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include "danehook/dns_name.hpp"
#include "danehook/dns_query.hpp"
#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "providers/rfc2136/tsig_key_files.hpp"

namespace danehook::rfc2136 {
namespace {

// Room kept for the TSIG record when deciding whether an UPDATE fits in 64 KiB: owner and
// algorithm names (at most 255 bytes each), fixed fields and the largest MAC.
constexpr std::size_t tsig_record_reserve = 255 + 255 + 10 + 16 + 64;

LdnsRdf dname(const std::string& name) {
    LdnsRdf rdf(ldns_dname_new_frm_str(name.c_str()));
    if (!rdf) throw std::invalid_argument("'" + name + "' is not a domain name");
    return rdf;
}

std::string rcode_name(ldns_pkt_rcode rcode) {
    const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, static_cast<int>(rcode));
    return entry ? entry->name : "RCODE " + std::to_string(static_cast<int>(rcode));
}

LdnsRr tlsa_rr(const TlsaRecord& record, ldns_rr_class rr_class, std::uint32_t ttl) {
    LdnsRr rr(ldns_rr_new());
    if (!rr) throw std::bad_alloc();
    ldns_rr_set_owner(rr.get(), dname(record.owner).release());
    ldns_rr_set_type(rr.get(), LDNS_RR_TYPE_TLSA);
    ldns_rr_set_class(rr.get(), rr_class);
    ldns_rr_set_ttl(rr.get(), ttl);
    const auto& rdata = record.rdata;
    ldns_rdf* fields[] = {
        ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, static_cast<std::uint8_t>(rdata.params.usage)),
        ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, static_cast<std::uint8_t>(rdata.params.selector)),
        ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, static_cast<std::uint8_t>(rdata.params.matching)),
        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_HEX, rdata.data.size(), rdata.data.data()),
    };
    bool complete = true;
    for (ldns_rdf* field : fields) {
        if (!field || !ldns_rr_push_rdf(rr.get(), field)) {
            complete = false;
            ldns_rdf_deep_free(field);
        }
    }
    if (!complete) throw std::bad_alloc();
    return rr;
}

std::size_t wire_size(const ldns_pkt* packet) {
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&raw, packet, &size) != LDNS_STATUS_OK)
        throw std::runtime_error("cannot encode an UPDATE message");
    MallocedBytes wire(raw);
    return size;
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* packet) {
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&raw, packet, &size) != LDNS_STATUS_OK)
        throw std::runtime_error("cannot encode a DNS message");
    MallocedBytes wire(raw);
    return {wire.get(), wire.get() + size};
}

// An UPDATE for `zone` holding `records` (owned by the caller; cloned into the packet).
LdnsPkt update_packet(const std::string& zone, const std::vector<LdnsRr>& records,
                      std::size_t begin, std::size_t end) {
    LdnsRrList updates(ldns_rr_list_new());
    if (!updates) throw std::bad_alloc();
    for (std::size_t i = begin; i < end; ++i) {
        ldns_rr* clone = ldns_rr_clone(records[i].get());
        if (!clone || !ldns_rr_list_push_rr(updates.get(), clone)) {
            ldns_rr_free(clone);
            throw std::bad_alloc();
        }
    }
    // ldns_update_pkt_new takes the zone name and clones the lists.
    LdnsPkt packet(ldns_update_pkt_new(dname(zone).release(), LDNS_RR_CLASS_IN, nullptr,
                                       updates.get(), nullptr));
    if (!packet) throw std::bad_alloc();
    // ldns 1.8.3 builds UPDATE messages as queries with RD set; RFC 2136 2.2 wants it clear.
    ldns_pkt_set_rd(packet.get(), false);
    return packet;
}

// Splits [begin, end) in halves until each part fits in one message; order is kept.
void split_into_messages(const std::string& zone, const std::vector<LdnsRr>& records,
                         std::size_t begin, std::size_t end, std::vector<LdnsPkt>& out) {
    auto packet = update_packet(zone, records, begin, end);
    if (wire_size(packet.get()) + tsig_record_reserve <= max_message_size) {
        out.push_back(std::move(packet));
        return;
    }
    if (end - begin == 1)
        throw std::runtime_error("a single TLSA record does not fit in a DNS message");
    std::size_t middle = begin + (end - begin) / 2;
    split_into_messages(zone, records, begin, middle, out);
    split_into_messages(zone, records, middle, end, out);
}

std::string owner_of(const ldns_rr* rr) {
    MallocedChars text(ldns_rdf2str(ldns_rr_owner(rr)));
    return text ? canonical_name(text.get()) : "";
}

}  // namespace

Rfc2136Provider::Rfc2136Provider(Rfc2136Config config) : config_(std::move(config)) {}

std::string Rfc2136Provider::server_label(const std::string& address) const {
    return DnsServer{address, config_.port}.to_string();
}

std::string Rfc2136Provider::prefix() const {
    std::string server = DnsServer{config_.server, config_.port}.to_string();
    return "provider '" + config_.label + "' (rfc2136, " + server + "): ";
}

LdnsPkt Rfc2136Provider::transact_once(ldns_pkt* request, const std::string& address,
                                       const std::string& what, Transport transport) {
    // A fresh ID and signature per attempt.
    if (ldns_pkt_tsig(request)) {
        ldns_rr_free(ldns_pkt_tsig(request));
        ldns_pkt_set_tsig(request, nullptr);
    }
    ldns_pkt_set_random_id(request);
    std::vector<std::uint8_t> request_mac;
    if (config_.key) request_mac = tsig_sign(request, *config_.key, clock_->now());
    auto wire = to_wire(request);
    if (transport == Transport::udp && wire.size() > max_udp_request_size)
        transport = Transport::tcp;

    auto answer = exchange(address, config_.port, wire, transport, timeout_);
    if (transport == Transport::udp && answer.size() >= LDNS_HEADER_SIZE &&
        LDNS_TC_WIRE(answer.data())) {
        log::debug(prefix() + what + ": truncated answer over UDP, retrying over TCP");
        answer = exchange(address, config_.port, wire, Transport::tcp, timeout_);
    }
    // The address matters when the server is a name with several.
    std::string where =
        prefix() + what + (address == config_.server ? "" : " at " + server_label(address)) + ": ";

    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, answer.data(), answer.size()) != LDNS_STATUS_OK || !raw) {
        throw ProviderError(ProviderFailure::transient, where + "malformed answer");
    }
    LdnsPkt response(raw);
    if (ldns_pkt_id(response.get()) != ldns_pkt_id(request) || !ldns_pkt_qr(response.get()) ||
        ldns_pkt_get_opcode(response.get()) != ldns_pkt_get_opcode(request)) {
        throw ProviderError(ProviderFailure::transient,
                            where + "the answer does not match the request");
    }
    auto rcode = ldns_pkt_get_rcode(response.get());
    if (config_.key) {
        const TsigKey& key = *config_.key;
        std::string key_text =
            "key '" + key.name + "' (" + tsig_algorithm_name(key.algorithm) + ")";
        std::string maybe_applied = ldns_pkt_get_opcode(request) == LDNS_PACKET_UPDATE
                                        ? " (the update may or may not have been applied)"
                                        : "";
        auto verdict = tsig_verify(answer.data(), answer.size(), key, request_mac, clock_->now());
        switch (verdict.status) {
            case TsigStatus::ok:
                break;
            case TsigStatus::server_error:
                if (verdict.error == tsig_badsig) {
                    throw ProviderError(
                        ProviderFailure::authentication,
                        where +
                            "the server rejected the signature (NOTAUTH/BADSIG): the secret of " +
                            key_text + " does not match the server's copy");
                }
                if (verdict.error == tsig_badkey) {
                    throw ProviderError(
                        ProviderFailure::authentication,
                        where + "the server does not know " + key_text +
                            " (NOTAUTH/BADKEY): check the key name and algorithm against the "
                            "server's key statement");
                }
                if (verdict.error == tsig_badtime) {
                    throw ProviderError(
                        ProviderFailure::authentication,
                        where +
                            "the server rejected the signing time (NOTAUTH/BADTIME): this host's "
                            "clock and the server's differ by more than " +
                            std::to_string(tsig_fudge) + " s; check NTP on both");
                }
                throw ProviderError(ProviderFailure::authentication,
                                    where + "the server reported TSIG error " +
                                        tsig_error_name(verdict.error) + " for " + key_text);
            case TsigStatus::unsigned_response:
                if (rcode != LDNS_RCODE_NOERROR) {
                    throw ProviderError(
                        rcode == LDNS_RCODE_NOTAUTH ? ProviderFailure::authentication
                                                    : ProviderFailure::rejected,
                        where + "unsigned answer " + rcode_name(rcode) +
                            " to a signed request: the server did not "
                            "accept " +
                            key_text + "; check the key name, algorithm and secret");
                }
                throw ProviderError(ProviderFailure::authentication,
                                    where + "unsigned answer to a request signed with " + key_text +
                                        ": refusing to trust it" + maybe_applied);
            case TsigStatus::bad_time:
                throw ProviderError(ProviderFailure::authentication,
                                    where + "clock skew: " + verdict.detail +
                                        "; check NTP on both hosts" + maybe_applied);
            case TsigStatus::bad_mac:
            case TsigStatus::wrong_key:
            case TsigStatus::malformed:
                throw ProviderError(ProviderFailure::authentication,
                                    where + verdict.detail + " (" + key_text +
                                        "): refusing to trust the answer" + maybe_applied);
        }
    }
    if (rcode == LDNS_RCODE_SERVFAIL) {
        throw ProviderError(ProviderFailure::transient,
                            where + "server failure (SERVFAIL); see the server's log for the zone");
    }
    return response;
}

LdnsPkt Rfc2136Provider::transact(ldns_pkt* request, const std::string& what, Transport transport,
                                  int attempts) {
    std::vector<std::string> addresses;
    try {
        addresses = resolve_addresses(config_.server);
    } catch (const ProviderError& e) {
        throw ProviderError(ProviderFailure::transient, prefix() + e.what());
    }
    if (addresses.empty())
        throw ProviderError(ProviderFailure::transient,
                            prefix() + "no address for " + config_.server);
    std::optional<ProviderError> last;
    if (attempts <= 0) attempts = std::max(0, retries_) + 1;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        if (attempt > 0)
            std::this_thread::sleep_for(std::min(std::chrono::milliseconds(250) * attempt,
                                                 std::chrono::milliseconds(1000)));
        for (const auto& address : addresses) {
            try {
                return transact_once(request, address, what, transport);
            } catch (const ExchangeError& e) {
                std::string hint =
                    e.kind() == ExchangeError::Kind::refused
                        ? " (is the DNS server running and listening on this address and port?)"
                    : e.kind() == ExchangeError::Kind::timeout
                        ? " (server down, or a firewall drops the packets?)"
                        : "";
                last = ProviderError(ProviderFailure::transient,
                                     prefix() + what + ": " + e.what() + hint);
            } catch (const ProviderError& e) {
                if (!e.retryable()) throw;
                last = e;
            }
        }
    }
    std::string message = last->what();
    if (attempts > 1) message += " (" + std::to_string(attempts) + " attempts)";
    throw ProviderError(ProviderFailure::transient, message);
}

LdnsPkt Rfc2136Provider::query(const std::string& name, ldns_rr_type type, int attempts) {
    LdnsPkt request(ldns_pkt_query_new(dname(name).release(), type, LDNS_RR_CLASS_IN, 0));
    if (!request) throw std::bad_alloc();
    ldns_pkt_set_rd(request.get(), false);
    const ldns_rr_descriptor* descriptor = ldns_rr_descript(type);
    std::string what = std::string(descriptor && descriptor->_name ? descriptor->_name : "query") +
                       " query for " + name;
    return transact(request.get(), what, Transport::tcp, attempts);
}

std::string Rfc2136Provider::zone_for(const std::string& owner,
                                      const std::string& configured_zone) {
    std::string name = canonical_name(owner);
    if (!configured_zone.empty()) {
        std::string zone = canonical_name(configured_zone);
        if (!is_in_zone(name, zone)) {
            throw ProviderError(ProviderFailure::configuration,
                                prefix() + name + " is not inside the configured zone " + zone);
        }
        return zone;
    }
    if (auto cached = zone_cache_.find(name); cached != zone_cache_.end()) return cached->second;
    // Walk up from the owner name until the server answers an SOA at the name itself.
    for (std::string candidate = name;; candidate = parent_name(candidate)) {
        auto response = query(candidate, LDNS_RR_TYPE_SOA);
        auto rcode = ldns_pkt_get_rcode(response.get());
        if (rcode == LDNS_RCODE_NOERROR && ldns_pkt_aa(response.get())) {
            LdnsRrList soa(
                ldns_pkt_rr_list_by_type(response.get(), LDNS_RR_TYPE_SOA, LDNS_SECTION_ANSWER));
            for (std::size_t i = 0; soa && i < ldns_rr_list_rr_count(soa.get()); ++i) {
                if (owner_of(ldns_rr_list_rr(soa.get(), i)) == candidate) {
                    zone_cache_[name] = candidate;
                    return candidate;
                }
            }
        }
        if (candidate == ".") break;
    }
    throw ProviderError(ProviderFailure::not_found,
                        prefix() + "the server is authoritative for no zone containing " + name +
                            "; check 'server', or set 'zone' on the certificate entry");
}

std::vector<PublishedRecord> Rfc2136Provider::list(const std::string& zone,
                                                   const std::string& owner) {
    std::string name = canonical_name(owner);
    auto response = query(name, LDNS_RR_TYPE_TLSA);
    auto rcode = ldns_pkt_get_rcode(response.get());
    std::string where = prefix() + "TLSA query for " + name + ": ";
    if (rcode == LDNS_RCODE_REFUSED || rcode == LDNS_RCODE_NOTAUTH) {
        throw ProviderError(
            ProviderFailure::not_found,
            where + "answered " + rcode_name(rcode) + ": the server does not serve zone " + zone +
                " (or refuses queries from this host); point 'server' at the zone's primary");
    }
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        throw ProviderError(ProviderFailure::rejected, where + "answered " + rcode_name(rcode));
    }
    if (!ldns_pkt_aa(response.get())) {
        throw ProviderError(
            ProviderFailure::configuration,
            where + "the answer is not authoritative: 'server' must be the primary of " + zone);
    }
    std::vector<PublishedRecord> records;
    LdnsRrList tlsa(
        ldns_pkt_rr_list_by_type(response.get(), LDNS_RR_TYPE_TLSA, LDNS_SECTION_ANSWER));
    for (std::size_t i = 0; tlsa && i < ldns_rr_list_rr_count(tlsa.get()); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(tlsa.get(), i);
        if (ldns_rr_rd_count(rr) != 4 || owner_of(rr) != name) continue;
        PublishedRecord published;
        published.record.owner = name;
        published.record.ttl = ldns_rr_ttl(rr);
        auto& rdata = published.record.rdata;
        rdata.params.usage = static_cast<Usage>(ldns_rdf2native_int8(ldns_rr_rdf(rr, 0)));
        rdata.params.selector = static_cast<Selector>(ldns_rdf2native_int8(ldns_rr_rdf(rr, 1)));
        rdata.params.matching = static_cast<MatchingType>(ldns_rdf2native_int8(ldns_rr_rdf(rr, 2)));
        const ldns_rdf* data = ldns_rr_rdf(rr, 3);
        rdata.data.assign(ldns_rdf_data(data), ldns_rdf_data(data) + ldns_rdf_size(data));
        records.push_back(std::move(published));
    }
    std::sort(
        records.begin(), records.end(),
        [](const PublishedRecord& a, const PublishedRecord& b) { return a.record < b.record; });
    return records;
}

std::vector<LdnsPkt> Rfc2136Provider::build_updates(const ChangeSet& changes) const {
    std::string zone = canonical_name(changes.zone);
    std::set<std::pair<std::string, TlsaRdata>> added;
    std::vector<LdnsRr> records;
    for (const auto& record : changes.additions) {
        if (!is_in_zone(record.owner, zone)) {
            throw ProviderError(ProviderFailure::configuration,
                                prefix() + record.owner + " is not inside zone " + zone);
        }
        added.emplace(record.owner, record.rdata);
        records.push_back(tlsa_rr(record, LDNS_RR_CLASS_IN, record.ttl));
    }
    for (const auto& deletion : changes.deletions) {
        const auto& record = deletion.record;
        if (!is_in_zone(record.owner, zone)) {
            throw ProviderError(ProviderFailure::configuration,
                                prefix() + record.owner + " is not inside zone " + zone);
        }
        // Deleting what the same change set adds would leave the outcome to message order.
        if (added.count({record.owner, record.rdata})) continue;
        // RFC 2136 2.5.4: delete one RR = class NONE, TTL 0, the RR's rdata.
        records.push_back(tlsa_rr(record, LDNS_RR_CLASS_NONE, 0));
    }
    std::vector<LdnsPkt> messages;
    if (!records.empty()) split_into_messages(zone, records, 0, records.size(), messages);
    return messages;
}

void Rfc2136Provider::apply(const ChangeSet& changes) {
    if (changes.empty()) return;
    std::string zone = canonical_name(changes.zone);
    auto messages = build_updates(changes);
    if (messages.size() > 1) {
        log::info(prefix() + "the change set for " + zone + " exceeds 64 KiB; sending it as " +
                  std::to_string(messages.size()) + " UPDATE messages, additions first");
    }
    // BIND 9.18 with inline-signing copies an update into the signed zone asynchronously, and an
    // UPDATE that arrives while it does so stays out of the signed zone until the zone changes
    // again. So an UPDATE to a zone is sent only once the served serial shows the previous one
    // (ours) has landed, bounded by the timeout.
    if (auto pending = unsettled_.find(zone); pending != unsettled_.end()) {
        wait_for_serial_change(zone, pending->second);
        unsettled_.erase(pending);
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
        std::string what = "UPDATE of zone " + zone;
        if (messages.size() > 1)
            what +=
                " (part " + std::to_string(i + 1) + " of " + std::to_string(messages.size()) + ")";
        auto serial_before = served_serial(zone);
        auto response = transact(messages[i].get(), what, config_.transport);
        auto rcode = ldns_pkt_get_rcode(response.get());
        if (rcode == LDNS_RCODE_NOERROR) {
            if (serial_before && i + 1 < messages.size()) {
                wait_for_serial_change(zone, *serial_before);
            } else if (serial_before) {
                unsettled_[zone] = *serial_before;
            }
            continue;
        }
        std::string where = prefix() + what + ": ";
        std::string refused_hint =
            config_.key ? "check that the zone's update-policy grants key '" + config_.key->name +
                              "' TLSA updates at these names (e.g. update-policy { grant " +
                              without_trailing_dot(config_.key->name) +
                              " zonesub TLSA; };) and that 'server' is the zone's primary"
                        : "the server does not accept unsigned updates from this address; use a "
                          "TSIG key (update-policy { grant KEY zonesub TLSA; };)";
        switch (rcode) {
            case LDNS_RCODE_REFUSED:
                throw ProviderError(ProviderFailure::rejected,
                                    where + "refused (REFUSED): " + refused_hint);
            case LDNS_RCODE_NOTAUTH:
                throw ProviderError(
                    ProviderFailure::not_found,
                    where + "the server is not authoritative for " + zone +
                        " (NOTAUTH): check 'server' (the zone's primary) and the zone name");
            case LDNS_RCODE_NOTZONE:
                throw ProviderError(ProviderFailure::configuration,
                                    where + "a record name lies outside zone " + zone +
                                        " (NOTZONE): check the certificate entry's zone");
            case LDNS_RCODE_NOTIMPL:
                throw ProviderError(
                    ProviderFailure::configuration,
                    where + "the server does not implement dynamic update (NOTIMP)");
            case LDNS_RCODE_FORMERR:
                throw ProviderError(ProviderFailure::rejected,
                                    where + "the server could not parse the update (FORMERR)");
            default:
                throw ProviderError(ProviderFailure::rejected,
                                    where + "answered " + rcode_name(rcode));
        }
    }
    log::info(prefix() + "updated zone " + zone + ": " + std::to_string(changes.additions.size()) +
              " added, " + std::to_string(changes.deletions.size()) + " deleted");
}

std::optional<std::uint32_t> Rfc2136Provider::served_serial(const std::string& zone) {
    LdnsPkt response;
    try {
        response = query(zone, LDNS_RR_TYPE_SOA, 1);
    } catch (const ProviderError& e) {
        log::debug(std::string("no SOA serial: ") + e.what());
        return std::nullopt;
    }
    if (ldns_pkt_get_rcode(response.get()) != LDNS_RCODE_NOERROR) return std::nullopt;
    LdnsRrList soa(ldns_pkt_rr_list_by_type(response.get(), LDNS_RR_TYPE_SOA, LDNS_SECTION_ANSWER));
    if (!soa || ldns_rr_list_rr_count(soa.get()) == 0) return std::nullopt;
    const ldns_rr* rr = ldns_rr_list_rr(soa.get(), 0);
    if (ldns_rr_rd_count(rr) < 3) return std::nullopt;
    return ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
}

void Rfc2136Provider::wait_for_serial_change(const std::string& zone, std::uint32_t before) {
    // An UPDATE that changed nothing (records already there) leaves the serial alone, so the
    // wait is short; the cost of giving up is only the BIND delay described in apply().
    auto bound = std::min<std::chrono::milliseconds>(timeout_, std::chrono::seconds(5));
    auto deadline = std::chrono::steady_clock::now() + bound;
    auto pause = std::chrono::milliseconds(10);
    while (true) {
        auto serial = served_serial(zone);
        if (serial && *serial != before) return;
        if (std::chrono::steady_clock::now() + pause > deadline) break;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(200));
    }
    log::debug(prefix() + "the served serial of " + zone + " stayed " + std::to_string(before) +
               " after an UPDATE (nothing changed, or the server is slow to apply it)");
}

Rfc2136Config rfc2136_config_from(const ProviderContext& context) {
    const Settings& settings = context.settings;
    Rfc2136Config config;
    config.label = context.name;

    bool unsigned_updates = false;
    if (auto tsig = settings.string("tsig")) {
        if (*tsig != "none")
            throw settings.error("tsig", "the only value is 'none' (send unsigned updates)");
        unsigned_updates = true;
    }
    int sources = static_cast<int>(settings.has("tsig_key_file")) +
                  static_cast<int>(settings.has("credentials")) +
                  static_cast<int>(settings.has("tsig_name") || settings.has("tsig_secret_file"));
    if (unsigned_updates && sources > 0) {
        throw settings.error("tsig", "'tsig: none' cannot be combined with a TSIG key setting");
    }
    if (sources > 1) {
        throw settings.error(
            settings.has("tsig_key_file") ? "tsig_key_file" : "credentials",
            "give the TSIG key one way only: tsig_key_file, credentials, or tsig_name + "
            "tsig_secret_file");
    }
    if (settings.has("tsig_key_name") && !settings.has("tsig_key_file")) {
        throw settings.error("tsig_key_name", "only applies with tsig_key_file");
    }
    if (settings.has("tsig_algorithm") && !settings.has("tsig_name")) {
        throw settings.error("tsig_algorithm", "only applies with tsig_name and tsig_secret_file");
    }

    std::optional<std::string> credentials_server;
    std::optional<std::uint16_t> credentials_port;
    if (auto file = settings.path("tsig_key_file")) {
        config.key = load_key_file(*file, settings.string("tsig_key_name"));
    } else if (auto file = settings.path("credentials")) {
        auto credentials = load_certbot_credentials(*file);
        if (!credentials.key) {
            throw settings.error("credentials",
                                 file->string() + " has no dns_rfc2136_name/dns_rfc2136_secret");
        }
        config.key = credentials.key;
        credentials_server = credentials.server;
        credentials_port = credentials.port;
    } else if (settings.has("tsig_name") || settings.has("tsig_secret_file")) {
        if (!settings.has("tsig_name")) throw settings.error("tsig_secret_file", "needs tsig_name");
        if (!settings.has("tsig_secret_file"))
            throw settings.error("tsig_name", "needs tsig_secret_file");
        TsigKey key;
        try {
            key.name = canonical_name(settings.required_string("tsig_name"));
        } catch (const std::invalid_argument& e) {
            throw settings.error("tsig_name", e.what());
        }
        try {
            key.algorithm =
                parse_tsig_algorithm(settings.string("tsig_algorithm").value_or("hmac-sha256"));
        } catch (const std::invalid_argument& e) {
            throw settings.error("tsig_algorithm", e.what());
        }
        auto secret_file = *settings.path("tsig_secret_file");
        key.secret = load_secret_file(secret_file);
        key.source = secret_file.string();
        config.key = key;
    } else if (!unsigned_updates) {
        throw settings.error(
            "type",
            "rfc2136 needs a TSIG key: tsig_key_file, credentials, or tsig_name + tsig_secret_file "
            "(or 'tsig: none' for unsigned updates)");
    }
    if (config.key && tsig_algorithm_is_weak(config.key->algorithm)) {
        log::warning(
            "provider '" + context.name + "': key '" + config.key->name + "' uses " +
            tsig_algorithm_name(config.key->algorithm) +
            ", which RFC 8945 deprecates; prefer hmac-sha256 (tsig-keygen -a hmac-sha256)");
    }
    if (unsigned_updates) {
        log::warning("provider '" + context.name +
                     "': sending unsigned updates ('tsig: none'); anyone who can "
                     "reach the server from this address can change the zone");
    }

    auto server_text = settings.string("server");
    if (!server_text) server_text = credentials_server;
    if (!server_text)
        throw settings.error("server",
                             "is required (or dns_rfc2136_server in the credentials file)");
    auto port = settings.integer("port", 1, 65535);
    std::uint16_t default_port =
        port ? static_cast<std::uint16_t>(*port) : credentials_port.value_or(53);
    try {
        DnsServer server = DnsServer::parse(*server_text, default_port);
        config.server = server.host;
        config.port = server.port;
    } catch (const std::invalid_argument& e) {
        throw settings.error(settings.has("server") ? "server" : "credentials", e.what());
    }

    auto transport = settings.string("transport").value_or("tcp");
    if (transport == "tcp") {
        config.transport = Transport::tcp;
    } else if (transport == "udp") {
        config.transport = Transport::udp;
    } else {
        throw settings.error("transport", "must be tcp or udp");
    }
    return config;
}

}  // namespace danehook::rfc2136

namespace danehook {

void register_rfc2136_provider(ProviderRegistry& registry) {
    registry.add(ProviderDescriptor{
        "rfc2136",
        "DNS UPDATE (RFC 2136) with TSIG to the zone's primary server (BIND, Knot, PowerDNS, ...)",
        {
            {"server",
             "primary server: address or name, optionally with :port (or dns_rfc2136_server in "
             "credentials)",
             false},
            {"port", "server port (default 53)", false},
            {"tsig_key_file",
             "BIND key file (tsig-keygen/ddns-confgen output, or K<name>.+<alg>+<id>.private)",
             false},
            {"tsig_key_name", "which key of a tsig_key_file holding several", false},
            {"credentials",
             "certbot-dns-rfc2136 credentials INI file (dns_rfc2136_name, _secret, _algorithm, "
             "_server, _port)",
             false},
            {"tsig_name", "TSIG key name (with tsig_secret_file)", false},
            {"tsig_algorithm", "TSIG algorithm for tsig_name (default hmac-sha256)", false},
            {"tsig_secret_file", "file holding the base64 TSIG secret (with tsig_name)", false},
            {"tsig", "'none' to send unsigned updates", false},
            {"transport", "tcp (default) or udp (falls back to TCP on truncation)", false},
        },
        [](const ProviderContext& context) -> std::unique_ptr<Provider> {
            return std::make_unique<rfc2136::Rfc2136Provider>(
                rfc2136::rfc2136_config_from(context));
        },
        {}});
}

}  // namespace danehook
