#include "support/memory_provider.hpp"

#include <algorithm>

#include "danehook/dns_name.hpp"

namespace danehook::testing {
namespace {

std::map<std::string, MemoryWorld>& worlds() {
    static std::map<std::string, MemoryWorld> all;
    return all;
}

class MemoryProvider : public Provider {
public:
    MemoryProvider(std::string world, std::string zone) : world_(std::move(world)), zone_(std::move(zone)) {}

    std::string zone_for(const std::string& owner, const std::string& configured_zone) override {
        auto zone = configured_zone.empty() ? zone_ : configured_zone;
        if (!is_in_zone(owner, zone)) throw ProviderError(ProviderFailure::configuration, owner + " outside " + zone);
        return zone;
    }

    std::vector<PublishedRecord> list(const std::string&, const std::string& owner) override {
        auto& w = world();
        ++w.list_calls;
        maybe_fail(w);
        std::vector<PublishedRecord> result;
        for (const auto& record : w.at(owner)) result.push_back({record, "id-" + record.rdata.hex().substr(0, 8)});
        return result;
    }

    void apply(const ChangeSet& changes) override {
        auto& w = world();
        ++w.apply_calls;
        maybe_fail(w);
        if (w.fail_next_applies > 0) {
            --w.fail_next_applies;
            throw ProviderError(w.failure, "memory provider: injected apply failure");
        }
        for (const auto& deletion : changes.deletions) {
            std::erase_if(w.primary, [&](const TlsaRecord& r) {
                return r.owner == deletion.record.owner && r.rdata == deletion.record.rdata;
            });
        }
        for (const auto& addition : changes.additions) {
            if (!w.has(addition.owner, addition.rdata)) w.primary.push_back(addition);
        }
        w.applied.push_back(changes);
        if (w.auto_sync) w.sync();
    }

    std::vector<ServerAnswer> observe(const std::string&, const std::string& owner) override {
        auto& w = world();
        ++w.observe_calls;
        std::vector<ServerAnswer> answers;
        for (std::size_t i = 0; i < w.servers.size(); ++i) {
            ServerAnswer answer;
            answer.server = "memory-" + std::to_string(i);
            answer.answered = true;
            for (const auto& record : w.servers[i]) {
                if (record.owner == owner) answer.rrset.push_back(record.rdata);
            }
            answers.push_back(answer);
        }
        return answers;
    }

private:
    MemoryWorld& world() { return memory_world(world_); }
    static void maybe_fail(MemoryWorld& w) {
        if (w.fail_next_operations > 0) {
            --w.fail_next_operations;
            throw ProviderError(w.failure, "memory provider: injected failure");
        }
    }

    std::string world_;
    std::string zone_;
};

}  // namespace

bool MemoryWorld::has(const std::string& owner, const TlsaRdata& rdata) const {
    return std::any_of(primary.begin(), primary.end(), [&](const TlsaRecord& r) { return r.owner == owner && r.rdata == rdata; });
}

std::vector<TlsaRecord> MemoryWorld::at(const std::string& owner) const {
    std::vector<TlsaRecord> result;
    for (const auto& record : primary) {
        if (record.owner == owner) result.push_back(record);
    }
    return result;
}

MemoryWorld& memory_world(const std::string& name) { return worlds()[name]; }

void reset_memory_worlds() { worlds().clear(); }

void register_memory_provider() {
    ProviderRegistry::instance().add(ProviderDescriptor{
        "memory",
        "in-process test provider",
        {{"world", "name of the shared in-memory world", true}, {"zone", "default zone", false}},
        [](const ProviderContext& context) -> std::unique_ptr<Provider> {
            return std::make_unique<MemoryProvider>(context.settings.required_string("world"),
                                                    context.settings.string("zone").value_or(""));
        },
        {}});
}

}  // namespace danehook::testing
