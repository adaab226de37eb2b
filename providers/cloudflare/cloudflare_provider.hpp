// `type: cloudflare`: TLSA records through the Cloudflare API v4.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "danehook/provider.hpp"
#include "providers/cloudflare/cloudflare_client.hpp"

namespace danehook::cloudflare {

// Marks records danehook created (Cloudflare limits comments to 100 characters on Free).
inline constexpr const char* record_comment = "managed by danehook (DANE TLSA)";
// Cloudflare's "automatic" TTL, and what it stands for.
inline constexpr std::uint32_t automatic_ttl = 1;
inline constexpr std::uint32_t automatic_ttl_seconds = 300;

struct ProviderOptions {
    ClientOptions client;
    std::string zone_id;    // "" to look zones up by name
    bool use_batch = true;  // POST .../dns_records/batch for change sets
    int batch_limit = 200;  // operations per batch (Free plan limit)
};

struct ZoneInfo {
    std::string id;
    std::string name;  // canonical
    std::vector<std::string> name_servers;
};

class CloudflareProvider : public Provider {
  public:
    CloudflareProvider(Credentials credentials, ProviderOptions options);

    std::string zone_for(const std::string& owner, const std::string& configured_zone) override;
    std::vector<PublishedRecord> list(const std::string& zone, const std::string& owner) override;
    void apply(const ChangeSet& changes) override;
    std::vector<std::string> authoritative_servers(const std::string& zone) override;

    Client& client() { return client_; }

  private:
    struct Operations {
        std::vector<nlohmann::json> posts;  // create bodies
        std::vector<std::string> deletes;   // record ids
    };

    const ZoneInfo& zone_info(const std::string& zone);
    std::optional<ZoneInfo> find_zone(const std::string& name);
    ZoneInfo fetch_zone(const std::string& id);
    std::string zone_path(const std::string& zone);
    std::vector<std::string> ids_to_delete(
        const std::string& zone, const PublishedRecord& deletion,
        std::map<std::string, std::vector<PublishedRecord>>& fresh);
    void apply_batch(const std::string& zone, const Operations& operations);
    void apply_singly(const std::string& zone, const Operations& operations);

    Client client_;
    ProviderOptions options_;
    std::map<std::string, ZoneInfo> zones_;     // by canonical name
    std::map<std::string, bool> zone_absent_;   // names known not to be zones
    std::map<std::string, TlsaRecord> listed_;  // record id -> record, from list()
    bool batch_unavailable_ = false;
};

// JSON of a record to create, and a listed record back (nullopt for non-TLSA or unusable).
nlohmann::json create_body(const TlsaRecord& record);
std::optional<PublishedRecord> parse_record(const nlohmann::json& item);

}  // namespace danehook::cloudflare
