// A certbot-style setup for engine scenario tests: a lineage directory, a memory provider
// world, a configuration and a manual clock.
#pragma once

#include <string>

#include "danehook/config.hpp"
#include "danehook/engine.hpp"
#include "support/memory_provider.hpp"
#include "support/test_certificates.hpp"
#include "support/test_support.hpp"

namespace danehook::testing {

struct EngineFixture {
    TempDir dir;
    ManualClock clock{1'800'000'000};
    TestCa ca = make_ca("Test CA R1");
    EvpPkeyPtr key = generate_key(KeyKind::p256);
    long serial = 1;
    std::string world_name;
    Config config;

    // `entry_extra` is appended to the certificate entry (YAML, 4-space indented keys).
    explicit EngineFixture(const std::string& records = "[\"3 1 1\"]", const std::string& entry_extra = "");

    std::filesystem::path lineage() const { return dir / "live/mail.example.net"; }
    MemoryWorld& world() { return memory_world(world_name); }

    // Issues (or renews) the certificate in the lineage: optionally with a new key or CA.
    void issue();
    void renew_with_new_key();

    EngineReport deploy(EngineOptions options = {});
    EngineReport run(EngineOptions options = {});
    std::optional<CertificateJournal> journal() const;

    // The 3 1 1 data of a key, upper-case hex.
    static std::string spki_hex(EVP_PKEY* key);
    // Records in the world's primary at the SMTP owner.
    std::vector<std::string> published_at(const std::string& owner = "_25._tcp.mail.example.net.") const;
};

}  // namespace danehook::testing
