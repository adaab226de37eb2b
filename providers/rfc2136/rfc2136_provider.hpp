// The RFC 2136 provider: DNS UPDATE with TSIG to a zone's primary server (BIND, Knot, PowerDNS,
// NSD+..., anything that speaks RFC 2136). Created through the ProviderRegistry as
// `type: rfc2136`; see docs/provider-rfc2136.md for the settings.
#pragma once

// Before any ldns header: without it ldns/common.h #defines bool/true/false, which breaks
// standard headers included later (e.g. <optional>).
#include <stdbool.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "danehook/clock.hpp"
#include "danehook/ldns_handles.hpp"
#include "danehook/provider.hpp"
#include "providers/rfc2136/dns_exchange.hpp"
#include "providers/rfc2136/tsig.hpp"

namespace danehook {
void register_rfc2136_provider(ProviderRegistry& registry);
}

namespace danehook::rfc2136 {

struct Rfc2136Config {
    std::string label;   // the user's name for the provider, for messages
    std::string server;  // name or address
    std::uint16_t port = 53;
    std::optional<TsigKey> key;  // nullopt only with `tsig: none`
    Transport transport = Transport::tcp;
};

// Reads the provider's settings (and the key files they name). Throws ConfigError/InputError.
Rfc2136Config rfc2136_config_from(const ProviderContext& context);

// Largest DNS message over TCP (RFC 1035 4.2.2 length field).
inline constexpr std::size_t max_message_size = 65535;
// Over UDP, requests larger than this go over TCP instead (no fragmentation; DNS flag day 2020).
inline constexpr std::size_t max_udp_request_size = 1232;

class Rfc2136Provider : public Provider {
  public:
    explicit Rfc2136Provider(Rfc2136Config config);

    std::string zone_for(const std::string& owner, const std::string& configured_zone) override;
    std::vector<PublishedRecord> list(const std::string& zone, const std::string& owner) override;
    void apply(const ChangeSet& changes) override;

    // The UPDATE messages apply() would send for `changes`, unsigned (split only when one
    // message would exceed 64 KiB). Exposed for tests.
    std::vector<LdnsPkt> build_updates(const ChangeSet& changes) const;

    // Signing time source (tests use a ManualClock to provoke BADTIME). Not owned.
    void set_clock(const Clock* clock) { clock_ = clock; }
    const Rfc2136Config& config() const { return config_; }

  private:
    // Sends `request` (signed here when a key is set) and returns the verified response.
    // Retries timeouts, refused connections and SERVFAIL (retries_ times); throws ProviderError.
    // `attempts` 0: retries_ + 1.
    LdnsPkt transact(ldns_pkt* request, const std::string& what, Transport transport,
                     int attempts = 0);
    LdnsPkt transact_once(ldns_pkt* request, const std::string& address, const std::string& what,
                          Transport transport);
    LdnsPkt query(const std::string& name, ldns_rr_type type, int attempts = 0);
    std::string server_label(const std::string& address) const;
    // The SOA serial `server` answers for the zone; nullopt when it does not answer one or the
    // query fails (one attempt: the UPDATE that follows reports the problem with its retries).
    std::optional<std::uint32_t> served_serial(const std::string& zone);
    // Polls (bounded) until `server` answers another serial than `before`.
    void wait_for_serial_change(const std::string& zone, std::uint32_t before);
    std::string prefix() const;

    Rfc2136Config config_;
    WallClock system_clock_;
    const Clock* clock_ = &system_clock_;
    std::map<std::string, std::string> zone_cache_;
    // Zones whose last UPDATE has not yet been seen to change the served serial, with the
    // serial served before it.
    std::map<std::string, std::uint32_t> unsettled_;
};

}  // namespace danehook::rfc2136
