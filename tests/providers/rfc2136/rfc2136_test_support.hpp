// Shared helpers for the rfc2136 provider tests: providers built the way the engine builds them
// (ProviderRegistry from a YAML mapping) and TLSA records to publish.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <memory>
#include <string>

#include "danehook/provider.hpp"
#include "providers/rfc2136/rfc2136_provider.hpp"
#include "support/test_support.hpp"

namespace danehook::testing {

// Writes `yaml` (one provider mapping) to DIR/config.yaml and creates the provider through the
// registry, as the engine does.
inline std::unique_ptr<Provider> provider_from_yaml(const TempDir& dir, const std::string& yaml,
                                                    const std::string& name = "primary") {
    auto file = dir / "config.yaml";
    write_text(file, yaml);
    YAML::Node node = YAML::LoadFile(file.string());
    ProviderContext context{name,
                            Settings(file, node, "providers." + name),
                            {},
                            default_operation_timeout,
                            default_retries};
    return ProviderRegistry::instance().create(context);
}

inline rfc2136::Rfc2136Provider& as_rfc2136(Provider& provider) {
    return dynamic_cast<rfc2136::Rfc2136Provider&>(provider);
}

// A DANE-EE SPKI SHA-256 record whose data is derived from `seed`.
inline TlsaRecord sample_record(const std::string& owner, int seed, std::uint32_t ttl = 300) {
    TlsaRecord record;
    record.owner = owner;
    record.ttl = ttl;
    record.rdata.params = TlsaParams{Usage::dane_ee, Selector::spki, MatchingType::sha256};
    record.rdata.data.resize(32);
    for (std::size_t i = 0; i < 32; ++i) {
        record.rdata.data[i] =
            static_cast<std::uint8_t>((seed * 131 + static_cast<int>(i) * 7) & 0xff);
    }
    record.rdata.data[0] = static_cast<std::uint8_t>(seed & 0xff);
    record.rdata.data[1] = static_cast<std::uint8_t>((seed >> 8) & 0xff);
    return record;
}

}  // namespace danehook::testing
