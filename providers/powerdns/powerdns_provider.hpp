// `type: powerdns`: TLSA records through the PowerDNS Authoritative HTTP API (/api/v1).
//
// PowerDNS replaces a whole RRset on PATCH, so every change reads the TLSA RRset, merges (adds
// ours, removes exactly ours, keeps every other record, disabled ones and comments included),
// reads it again just before writing and starts over if it changed, then writes it back and
// checks the result. The API has no conditional write, so a change that lands in the
// milliseconds between the second read and the write can still be lost; see docs/providers.md.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "danehook/provider.hpp"

namespace danehook::powerdns {

struct PowerDnsConfig {
    std::string name;     // the provider's name in the configuration
    std::string api_url;  // "http://127.0.0.1:8081" (a trailing /api/v1 is accepted)
    std::string server_id = "localhost";
    std::filesystem::path api_key_file;
    std::filesystem::path ca_file;  // optional CA bundle for https
    int max_conflict_attempts = 5;  // merges restarted because the RRset changed under us
};

class PowerDnsProvider : public Provider {
  public:
    // Reads the API key file (ConfigError when unreadable or empty; warns when permissive).
    explicit PowerDnsProvider(PowerDnsConfig config);
    ~PowerDnsProvider() override;

    std::string zone_for(const std::string& owner, const std::string& configured_zone) override;
    std::vector<PublishedRecord> list(const std::string& zone, const std::string& owner) override;
    void apply(const ChangeSet& changes) override;

    // Test seam: runs after the RRsets are read and merged, before the guard re-reads them.
    void set_before_guard_hook(std::function<void()> hook) { before_guard_hook_ = std::move(hook); }

  private:
    struct Http;
    struct RecordEntry {
        std::string content;
        bool disabled = false;
        bool operator==(const RecordEntry&) const = default;
    };
    struct RRsetState {
        bool exists = false;
        std::uint32_t ttl = 0;
        std::vector<RecordEntry> records;
        bool operator==(const RRsetState&) const = default;
    };

    std::string zone_id(const std::string& zone);
    // The TLSA RRsets at `owners`; `with_disabled` reads the whole zone to see disabled records.
    std::map<std::string, RRsetState> read_rrsets(const std::string& zone,
                                                  const std::vector<std::string>& owners,
                                                  bool with_disabled);
    std::string label() const;

    PowerDnsConfig config_;
    std::unique_ptr<Http> http_;
    std::map<std::string, std::string> zone_ids_;  // canonical zone name -> API zone id
    std::function<void()> before_guard_hook_;
};

}  // namespace danehook::powerdns
