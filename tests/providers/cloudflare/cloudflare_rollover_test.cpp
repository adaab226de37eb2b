// A certbot-style rollover through the engine with the Cloudflare provider against the local API
// double. There is no DNS server for the double's zone here, so confirmation reads the API's
// own view (a wrapper provider below); everything else is the real provider over real HTTPS.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "danehook/certificate.hpp"
#include "danehook/config.hpp"
#include "danehook/engine.hpp"
#include "providers/cloudflare/cloudflare_double.hpp"
#include "support/test_certificates.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone_id = "023e105f4ecef8ad9ca31a8372d0c353";
const std::string token = "Rollover-cf-T0ken_0123456789abcdef";

// The real Cloudflare provider; observe() answers with what the API lists.
class ApiObservedCloudflare : public Provider {
public:
    explicit ApiObservedCloudflare(std::unique_ptr<Provider> real) : real_(std::move(real)) {}
    std::string zone_for(const std::string& owner, const std::string& zone) override { return real_->zone_for(owner, zone); }
    std::vector<PublishedRecord> list(const std::string& zone, const std::string& owner) override {
        return real_->list(zone, owner);
    }
    void apply(const ChangeSet& changes) override { real_->apply(changes); }
    std::vector<ServerAnswer> observe(const std::string& zone, const std::string& owner) override {
        ServerAnswer answer;
        answer.server = "api";
        answer.answered = true;
        for (const auto& record : real_->list(zone, owner)) answer.rrset.push_back(record.record.rdata);
        return {answer};
    }

private:
    std::unique_ptr<Provider> real_;
};

void register_api_observed_cloudflare() {
    const auto* real = ProviderRegistry::instance().find("cloudflare");
    REQUIRE(real);
    auto descriptor = *real;
    descriptor.type = "cloudflare-api-observed";
    auto create_real = real->create;
    descriptor.create = [create_real](const ProviderContext& context) -> std::unique_ptr<Provider> {
        return std::make_unique<ApiObservedCloudflare>(create_real(context));
    };
    ProviderRegistry::instance().add(descriptor);
}

}  // namespace

TEST_CASE("certbot-style rollover through the engine against the Cloudflare API double") {
    register_api_observed_cloudflare();
    nlohmann::json foreign{{"name", "_25._tcp.mail.example.net"},
                           {"ttl", 3600},
                           {"comment", "added by hand"},
                           {"data", {{"usage", 3}, {"selector", 1}, {"matching_type", 1}, {"certificate", std::string(64, 'a')}}}};
    nlohmann::json zone_object{{"id", zone_id},
                               {"name", "example.net"},
                               {"name_servers", {"127.0.0.1"}},
                               {"records", nlohmann::json::array({foreign})}};
    nlohmann::json state{{"tokens", {token}}, {"page_size", 2}, {"zones", nlohmann::json::array({zone_object})}};
    CloudflareDouble api(state);
    TempDir dir;
    write_text(dir / "token", token + "\n");
    ::chmod((dir / "token").c_str(), 0600);
    write_text(dir / "danehook.yaml",
               "state_dir: " + (dir / "state").string() + "\n"
               "providers:\n"
               "  cf:\n"
               "    type: cloudflare-api-observed\n"
               "    api_token_file: " + (dir / "token").string() + "\n"
               "    api_base: " + api.api_base() + "\n"
               "    ca_file: " + api.ca_file().string() + "\n"
               "certificates:\n"
               "  - name: mail\n"
               "    lineage: " + (dir / "live").string() + "\n"
               "    zone: example.net\n"
               "    ttl: 300\n"
               "    records: [\"3 1 1\", \"2 1 1\"]\n"
               "    services:\n"
               "      - { host: mail.example.net, port: 25 }\n"
               "      - { host: mail.example.net, port: 443 }\n");
    auto config = load_config(dir / "danehook.yaml");
    auto ca = make_ca("CF Rollover CA");
    auto key = generate_key(KeyKind::p256);
    write_lineage(dir / "live", make_leaf(ca, key.get(), "mail.example.net").get(), ca, key.get());
    ManualClock clock(1'800'000'000);
    DeploySource source;
    source.lineage = dir / "live";

    auto api_records = [&] {
        std::vector<std::string> result;
        for (const auto& record : api.records(zone_id)) {
            const auto& data = record["data"];
            std::string hex = data["certificate"].get<std::string>();
            for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            result.push_back(record["name"].get<std::string>() + " " + std::to_string(data["usage"].get<int>()) + " " +
                             std::to_string(data["selector"].get<int>()) + " " + std::to_string(data["matching_type"].get<int>()) +
                             " " + hex);
        }
        std::sort(result.begin(), result.end());
        return result;
    };
    auto leaf_record = [&](EVP_PKEY* k) { return "3 1 1 " + to_hex(key_association(k, MatchingType::sha256)); };
    auto issuer = "2 1 1 " + to_hex(key_association(ca.key.get(), MatchingType::sha256));
    auto expected = [&](const std::vector<std::string>& rdatas) {
        std::vector<std::string> result{"_25._tcp.mail.example.net 3 1 1 " + std::string(64, 'A')};
        for (const char* owner : {"_25._tcp.mail.example.net", "_443._tcp.mail.example.net"}) {
            for (const auto& rdata : rdatas) result.push_back(std::string(owner) + " " + rdata);
        }
        std::sort(result.begin(), result.end());
        return result;
    };

    int before = api.total_requests();
    {
        Engine engine(config, clock);
        CHECK(engine.deploy(source).exit_code == ExitCode::ok);
    }
    auto old_record = leaf_record(key.get());
    CHECK(api_records() == expected({old_record, issuer}));
    CHECK(api.count("batch") == 1);  // one write for four records
    MESSAGE("requests for the first issuance: " << api.total_requests() - before);

    key = generate_key(KeyKind::p256);
    write_lineage(dir / "live", make_leaf(ca, key.get(), "mail.example.net", -1, 90, 2).get(), ca, key.get());
    clock.advance(86400);
    {
        Engine engine(config, clock);
        CHECK(engine.deploy(source).exit_code == ExitCode::ok);
    }
    auto new_record = leaf_record(key.get());
    CHECK(api_records() == expected({old_record, new_record, issuer}));

    clock.advance(2 * 300 + 60 - 1);
    {
        Engine engine(config, clock);
        CHECK(engine.run().exit_code == ExitCode::ok);
    }
    CHECK(api_records() == expected({old_record, new_record, issuer}));
    clock.advance(1);
    {
        Engine engine(config, clock);
        CHECK(engine.run().exit_code == ExitCode::ok);
    }
    CHECK(api_records() == expected({new_record, issuer}));  // the foreign record stays
}
