// The one small interface every DNS back end implements, and the registry that names them.
//
// A provider never deletes a whole RRset: deletions are exact records, additions are records.
// Failures are ProviderError with a ProviderFailure that tells the engine whether to stop
// (configuration, authentication, rejected) or to retry on the next run (transient).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "danehook/settings.hpp"
#include "danehook/tlsa.hpp"

namespace danehook {

// Timeouts every provider honours unless its settings override them ("timeout", "retries").
inline constexpr std::chrono::milliseconds default_operation_timeout{10'000};
inline constexpr int default_retries = 2;

// A TLSA record as a back end holds it.
struct PublishedRecord {
    TlsaRecord record;
    std::string id;  // the back end's record id; "" where it has none

    bool operator==(const PublishedRecord&) const = default;
};

struct ChangeSet {
    std::string zone;                       // canonical
    std::vector<TlsaRecord> additions;      // records to add (adding a present record is a no-op)
    std::vector<PublishedRecord> deletions;  // exact records to remove

    bool empty() const { return additions.empty() && deletions.empty(); }
};

// What one authoritative server serves at a name.
struct ServerAnswer {
    std::string server;  // "192.0.2.53:53" or a back end's label
    bool answered = false;
    std::string error;  // why not, when !answered
    std::optional<std::uint32_t> soa_serial;
    std::vector<TlsaRdata> rrset;
};

class Provider {
public:
    virtual ~Provider() = default;

    // The zone that holds `owner` (canonical); `configured_zone` is the certificate entry's
    // `zone` ("" when not set). Providers may verify or discover it.
    virtual std::string zone_for(const std::string& owner, const std::string& configured_zone) = 0;

    // The TLSA records at `owner`, foreign ones included.
    virtual std::vector<PublishedRecord> list(const std::string& zone, const std::string& owner) = 0;

    // Applies the change set as atomically as the back end allows.
    virtual void apply(const ChangeSet& changes) = 0;

    // What every authoritative server of `zone` serves at `owner`. The default queries the
    // servers from authoritative_servers() over DNS.
    virtual std::vector<ServerAnswer> observe(const std::string& zone, const std::string& owner);

    // The authoritative servers ("address:port") to confirm publication on: the provider's
    // `nameservers` setting, else the zone's NS set resolved to every address.
    virtual std::vector<std::string> authoritative_servers(const std::string& zone);

protected:
    // Set by the registry from the settings every provider accepts.
    friend class ProviderRegistry;
    std::vector<std::string> configured_nameservers_;
    std::chrono::milliseconds timeout_ = default_operation_timeout;
    int retries_ = default_retries;
};

// Everything a factory gets.
struct ProviderContext {
    std::string name;  // the user's name for this provider ("primary")
    Settings settings;
    // Filled in by the registry from the common settings before the factory runs.
    std::vector<std::string> nameservers;
    std::chrono::milliseconds timeout = default_operation_timeout;
    int retries = default_retries;
};

struct SettingSpec {
    std::string key;
    std::string help;
    bool required = false;
};

// What `danehook recipe` hands a provider: the owners the configuration publishes through it,
// grouped by zone (canonical names with the trailing dot).
struct RecipeRequest {
    std::string provider_name;  // the user's name for this provider ("primary")
    Settings settings;          // that provider's settings
    std::map<std::string, std::vector<std::string>> owners_by_zone;
};

struct ProviderDescriptor {
    std::string type;     // "rfc2136"
    std::string summary;  // one line for --help and docs
    std::vector<SettingSpec> settings;  // keys beyond the common ones
    std::function<std::unique_ptr<Provider>(const ProviderContext&)> create;
    // The narrowest credential this back end allows for exactly those owners, as text to paste
    // (a BIND grant, a token policy, an IAM policy, ...). Empty: the provider has none to offer.
    std::function<std::string(const RecipeRequest&)> recipe;
};

// Keys every provider accepts, validated by the registry.
const std::vector<SettingSpec>& common_provider_settings();

class ProviderRegistry {
public:
    static ProviderRegistry& instance();  // holds the built-in providers

    void add(ProviderDescriptor descriptor);
    const ProviderDescriptor* find(std::string_view type) const;
    std::vector<const ProviderDescriptor*> all() const;

    // Validates keys (common + declared), then creates the provider. Throws ConfigError.
    std::unique_ptr<Provider> create(const ProviderContext& context) const;

private:
    std::vector<ProviderDescriptor> descriptors_;
};

// Implemented by the generated registration table (one line per built-in provider).
void register_builtin_providers(ProviderRegistry& registry);

}  // namespace danehook
