#include "hook/engine_fixture.hpp"

#include <atomic>

#include "danehook/certificate.hpp"

namespace danehook::testing {

EngineFixture::EngineFixture(const std::string& records, const std::string& entry_extra) {
    static std::atomic<int> counter{0};
    world_name = "world-" + std::to_string(++counter);
    register_memory_provider();
    std::string yaml = "state_dir: " + (dir / "state").string() + "\n"
                       "providers:\n"
                       "  primary:\n"
                       "    type: memory\n"
                       "    world: " + world_name + "\n"
                       "certificates:\n"
                       "  - name: mail\n"
                       "    lineage: " + lineage().string() + "\n"
                       "    zone: example.net\n"
                       "    provider: primary\n"
                       "    ttl: 300\n"
                       "    hold_margin: 60\n"
                       "    records: " + records + "\n"
                       "    services:\n"
                       "      - { host: mail.example.net, port: 25 }\n"
                       "      - { host: mail.example.net, port: 465 }\n" + entry_extra;
    write_text(dir / "danehook.yaml", yaml);
    config = load_config(dir / "danehook.yaml");
    issue();
}

void EngineFixture::issue() {
    auto leaf = make_leaf(ca, key.get(), "mail.example.net", -1, 90, serial++);
    write_lineage(lineage(), leaf.get(), ca, key.get());
}

void EngineFixture::renew_with_new_key() {
    key = generate_key(KeyKind::p256);
    issue();
}

EngineReport EngineFixture::deploy(EngineOptions options) {
    Engine engine(config, clock, options);
    DeploySource source;
    source.client = "certbot";
    source.lineage = lineage();
    return engine.deploy(source);
}

EngineReport EngineFixture::run(EngineOptions options) {
    Engine engine(config, clock, options);
    return engine.run();
}

std::optional<CertificateJournal> EngineFixture::journal() const {
    return JournalStore(config.state_dir).load("mail");
}

std::string EngineFixture::spki_hex(EVP_PKEY* key) { return to_hex(key_association(key, MatchingType::sha256)); }

std::vector<std::string> EngineFixture::published_at(const std::string& owner) const {
    std::vector<std::string> result;
    for (const auto& record : memory_world(world_name).at(owner)) result.push_back(record.rdata.presentation());
    std::sort(result.begin(), result.end());
    return result;
}

}  // namespace danehook::testing
