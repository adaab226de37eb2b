#include "providers/conformance/conformance.hpp"

#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "danehook/error.hpp"

namespace danehook::testing {
namespace {

TlsaRecord record_at(const std::string& owner, char fill, std::uint32_t ttl = 3600) {
    return TlsaRecord{owner, ttl, TlsaRdata::parse("3 1 1 " + std::string(64, fill))};
}

ChangeSet adding(const std::string& zone, std::vector<TlsaRecord> records) {
    ChangeSet changes;
    changes.zone = zone;
    changes.additions = std::move(records);
    return changes;
}

ChangeSet deleting(const std::string& zone, std::vector<PublishedRecord> records) {
    ChangeSet changes;
    changes.zone = zone;
    changes.deletions = std::move(records);
    return changes;
}

std::vector<TlsaRdata> rdata_of(const std::vector<PublishedRecord>& listed) {
    std::vector<TlsaRdata> result;
    for (const auto& item : listed) result.push_back(item.record.rdata);
    std::sort(result.begin(), result.end());
    return result;
}

std::vector<TlsaRdata> sorted(std::vector<TlsaRdata> rdata) {
    std::sort(rdata.begin(), rdata.end());
    return rdata;
}

const PublishedRecord& find_listed(const std::vector<PublishedRecord>& listed,
                                   const TlsaRecord& record) {
    auto found = std::find_if(listed.begin(), listed.end(), [&](const PublishedRecord& item) {
        return item.record.owner == record.owner && item.record.rdata == record.rdata;
    });
    REQUIRE_MESSAGE(found != listed.end(), "not listed: " << record.rdata.presentation());
    return *found;
}

std::string describe(const std::vector<ServerAnswer>& answers) {
    std::string text;
    for (const auto& answer : answers) {
        text +=
            answer.server + (answer.answered ? " answered [" : " failed (" + answer.error + ") [");
        for (const auto& rdata : answer.rrset) text += " " + rdata.presentation();
        text += " ]; ";
    }
    return text;
}

// Polls observe() until every server answers with exactly `expected` or `settle` runs out.
void expect_observed(Provider& provider, const ConformanceTarget& target,
                     const std::vector<TlsaRdata>& expected) {
    auto deadline = std::chrono::steady_clock::now() + target.settle;
    std::vector<ServerAnswer> answers;
    while (true) {
        answers = provider.observe(target.zone, target.owner);
        bool all = !answers.empty() &&
                   std::all_of(answers.begin(), answers.end(), [&](const ServerAnswer& a) {
                       return a.answered && sorted(a.rrset) == sorted(expected);
                   });
        if (all) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            FAIL("observe() did not show the expected RRset within the settle time: "
                 << describe(answers));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace

void run_provider_conformance(const ConformanceTarget& target_in) {
    ConformanceTarget target = target_in;
    REQUIRE(target.make_provider);
    REQUIRE(target.add_foreign);
    if (target.sibling.empty()) {
        // "_25._tcp.mail.example.net." -> "_26._tcp.mail.example.net." style neighbour.
        target.sibling = "_465" + target.owner.substr(target.owner.find('.'));
    }
    if (target.reset) target.reset();
    const auto& zone = target.zone;
    const auto& owner = target.owner;
    const auto a = record_at(owner, 'A');
    const auto b = record_at(owner, 'B');
    const auto foreign = record_at(owner, 'F');

    auto provider = target.make_provider();
    REQUIRE(provider);

    SUBCASE("zone_for accepts the configured zone") {
        CHECK(provider->zone_for(owner, zone) == zone);
    }

    SUBCASE("an owner without records lists nothing") {
        CHECK(provider->list(zone, owner).empty());
    }

    SUBCASE("an added record is listed with its TTL, also by a new provider instance") {
        provider->apply(adding(zone, {a}));
        auto listed = provider->list(zone, owner);
        REQUIRE(listed.size() == 1);
        CHECK(listed[0].record == a);
        auto again = target.make_provider()->list(zone, owner);
        REQUIRE(again.size() == 1);
        CHECK(again[0].record == a);
    }

    SUBCASE("adding a present record again is a no-op") {
        provider->apply(adding(zone, {a}));
        provider->apply(adding(zone, {a}));
        CHECK(rdata_of(provider->list(zone, owner)) == std::vector<TlsaRdata>{a.rdata});
    }

    SUBCASE("a deletion removes exactly the listed record") {
        provider->apply(adding(zone, {a, b}));
        auto listed = provider->list(zone, owner);
        CHECK(rdata_of(listed) == sorted({a.rdata, b.rdata}));
        provider->apply(deleting(zone, {find_listed(listed, a)}));
        CHECK(rdata_of(provider->list(zone, owner)) == std::vector<TlsaRdata>{b.rdata});
    }

    SUBCASE("deleting a record that is not there is a no-op") {
        provider->apply(adding(zone, {b}));
        provider->apply(deleting(zone, {PublishedRecord{a, ""}}));
        CHECK(rdata_of(provider->list(zone, owner)) == std::vector<TlsaRdata>{b.rdata});
    }

    SUBCASE("one change set adds the new record and deletes the old one (rollover)") {
        provider->apply(adding(zone, {a}));
        ChangeSet rollover = adding(zone, {b});
        rollover.deletions.push_back(find_listed(provider->list(zone, owner), a));
        provider->apply(rollover);
        CHECK(rdata_of(provider->list(zone, owner)) == std::vector<TlsaRdata>{b.rdata});
    }

    SUBCASE("foreign records are listed and survive every change") {
        target.add_foreign(foreign);
        auto listed = provider->list(zone, owner);
        CHECK(rdata_of(listed) == std::vector<TlsaRdata>{foreign.rdata});
        provider->apply(adding(zone, {a}));
        CHECK(rdata_of(provider->list(zone, owner)) == sorted({a.rdata, foreign.rdata}));
        ChangeSet rollover = adding(zone, {b});
        rollover.deletions.push_back(find_listed(provider->list(zone, owner), a));
        provider->apply(rollover);
        CHECK(rdata_of(provider->list(zone, owner)) == sorted({b.rdata, foreign.rdata}));
        provider->apply(deleting(zone, {find_listed(provider->list(zone, owner), b)}));
        CHECK(rdata_of(provider->list(zone, owner)) == std::vector<TlsaRdata>{foreign.rdata});
    }

    SUBCASE("records at other names are untouched") {
        auto neighbour = record_at(target.sibling, 'C');
        provider->apply(adding(zone, {a, neighbour}));
        CHECK(rdata_of(provider->list(zone, target.sibling)) ==
              std::vector<TlsaRdata>{neighbour.rdata});
        provider->apply(deleting(zone, {find_listed(provider->list(zone, owner), a)}));
        CHECK(provider->list(zone, owner).empty());
        CHECK(rdata_of(provider->list(zone, target.sibling)) ==
              std::vector<TlsaRdata>{neighbour.rdata});
    }

    SUBCASE("observe confirms additions and deletions on every authoritative server") {
        if (!target.observable) {
            MESSAGE("observe() not checked: this setup has no server to ask");
            return;
        }
        provider->apply(adding(zone, {a}));
        expect_observed(*provider, target, {a.rdata});
        ChangeSet rollover = adding(zone, {b});
        rollover.deletions.push_back(find_listed(provider->list(zone, owner), a));
        provider->apply(rollover);
        expect_observed(*provider, target, {b.rdata});
        provider->apply(deleting(zone, {find_listed(provider->list(zone, owner), b)}));
        expect_observed(*provider, target, {});
    }
}

std::unique_ptr<Provider> make_registered_provider(const std::string& yaml,
                                                   const std::filesystem::path& config_file,
                                                   const std::string& name) {
    ProviderContext context{name,
                            Settings(config_file, YAML::Load(yaml), "providers." + name),
                            {},
                            default_operation_timeout,
                            default_retries};
    return ProviderRegistry::instance().create(context);
}

}  // namespace danehook::testing
