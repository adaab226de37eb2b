#include "danehook/provider.hpp"

#include <algorithm>

#include "danehook/dns_query.hpp"

namespace danehook {

std::vector<ServerAnswer> Provider::observe(const std::string& zone, const std::string& owner) {
    QueryOptions options;
    options.timeout = timeout_;
    options.attempts = retries_ + 1;
    std::vector<ServerAnswer> answers;
    for (const auto& server : authoritative_servers(zone)) {
        answers.push_back(query_authoritative(DnsServer::parse(server), zone, owner, options));
    }
    return answers;
}

std::vector<std::string> Provider::authoritative_servers(const std::string& zone) {
    if (!configured_nameservers_.empty()) return configured_nameservers_;
    QueryOptions options;
    options.timeout = timeout_;
    options.attempts = retries_ + 1;
    return zone_nameserver_addresses(zone, options);
}

const std::vector<SettingSpec>& common_provider_settings() {
    static const std::vector<SettingSpec> common{
        {"type", "provider type (rfc2136, cloudflare, bindfile, ...)", true},
        {"nameservers", "authoritative servers to confirm publication on (address[:port]); default: the zone's NS set", false},
        {"timeout", "seconds per network operation (default 10)", false},
        {"retries", "retries of a failed network operation (default 2)", false},
    };
    return common;
}

ProviderRegistry& ProviderRegistry::instance() {
    static ProviderRegistry registry = [] {
        ProviderRegistry r;
        register_builtin_providers(r);
        return r;
    }();
    return registry;
}

void ProviderRegistry::add(ProviderDescriptor descriptor) {
    auto existing = std::find_if(descriptors_.begin(), descriptors_.end(),
                                 [&](const auto& d) { return d.type == descriptor.type; });
    if (existing != descriptors_.end()) {
        *existing = std::move(descriptor);
    } else {
        descriptors_.push_back(std::move(descriptor));
    }
}

const ProviderDescriptor* ProviderRegistry::find(std::string_view type) const {
    for (const auto& descriptor : descriptors_) {
        if (descriptor.type == type) return &descriptor;
    }
    return nullptr;
}

std::vector<const ProviderDescriptor*> ProviderRegistry::all() const {
    std::vector<const ProviderDescriptor*> result;
    for (const auto& descriptor : descriptors_) result.push_back(&descriptor);
    return result;
}

std::unique_ptr<Provider> ProviderRegistry::create(const ProviderContext& context) const {
    const auto& settings = context.settings;
    auto type = settings.required_string("type");
    const ProviderDescriptor* descriptor = find(type);
    if (!descriptor) {
        std::string known;
        for (const auto& d : descriptors_) known += (known.empty() ? "" : ", ") + d.type;
        throw settings.error("type", "unknown provider type '" + type + "' (known: " + known + ")");
    }
    std::vector<std::string> allowed;
    for (const auto& spec : common_provider_settings()) allowed.push_back(spec.key);
    for (const auto& spec : descriptor->settings) allowed.push_back(spec.key);
    settings.reject_unknown_keys(allowed);
    for (const auto& spec : descriptor->settings) {
        if (spec.required && !settings.has(spec.key)) throw settings.error(spec.key, "is required for type " + type);
    }
    std::vector<std::string> nameservers = settings.strings("nameservers");
    for (const auto& server : nameservers) {
        try {
            DnsServer::parse(server);
        } catch (const std::invalid_argument& e) {
            throw settings.error("nameservers", e.what());
        }
    }
    auto timeout_seconds = settings.integer("timeout", 1, 600).value_or(default_operation_timeout.count() / 1000);
    auto retries = settings.integer("retries", 0, 10).value_or(default_retries);

    ProviderContext full = context;
    full.nameservers = nameservers;
    full.timeout = std::chrono::seconds(timeout_seconds);
    full.retries = static_cast<int>(retries);
    auto provider = descriptor->create(full);
    provider->configured_nameservers_ = std::move(nameservers);
    provider->timeout_ = full.timeout;
    provider->retries_ = full.retries;
    return provider;
}

}  // namespace danehook
