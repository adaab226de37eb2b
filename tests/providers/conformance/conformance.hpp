// The provider conformance suite: the behaviour the rollover engine relies on, checked the same
// way for every DNS back end. A provider's tests describe how to reach a test zone (a factory,
// the zone and owner, and how to plant a record danehook does not manage), then call
// run_provider_conformance() inside a doctest TEST_CASE; each check is a SUBCASE, and doctest
// runs the TEST_CASE body once per subcase, so a fixture built in the body is fresh every time.
//
//   TEST_CASE("file provider conformance") {
//       Fixture f;  // a TempDir, a config, ...
//       ConformanceTarget target;
//       target.zone = "example.net."; target.owner = "_25._tcp.mail.example.net.";
//       target.make_provider = [&] { return ...; };
//       target.add_foreign = [&](const TlsaRecord& r) { ... write it behind danehook's back ... };
//       run_provider_conformance(target);
//   }
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "danehook/provider.hpp"

namespace danehook::testing {

struct ConformanceTarget {
    std::string zone;   // canonical, e.g. "example.net."
    std::string owner;  // a name in `zone` with no TLSA records when the suite starts
    // A name in `zone` beside `owner` (also without TLSA records); "" derives one from owner.
    std::string sibling;
    // A new provider instance each call (the suite also checks that a second instance sees
    // what the first one wrote).
    std::function<std::unique_ptr<Provider>()> make_provider;
    // Puts a TLSA record at the owner directly in the back end, the way an operator or another
    // tool would (not through the provider's apply).
    std::function<void(const TlsaRecord&)> add_foreign;
    // Empties `owner` and `sibling` in the back end before each subcase; may be empty when the
    // fixture is fresh for every run of the TEST_CASE body.
    std::function<void()> reset;
    // False when observe() cannot work in this setup (no server to ask): that subcase only
    // reports a MESSAGE.
    bool observable = true;
    // How long observe() may lag behind apply() (secondaries, caches) before it is a failure.
    std::chrono::milliseconds settle{5000};
};

// Runs every conformance check as a doctest SUBCASE. Call it from a TEST_CASE.
void run_provider_conformance(const ConformanceTarget& target);

}  // namespace danehook::testing

#include <filesystem>

namespace danehook::testing {

// Creates a provider through the registry from the YAML text of one `providers:` entry, as the
// configuration loader does (unknown keys rejected, common settings applied). `config_file` is
// where relative paths resolve and what errors name.
std::unique_ptr<Provider> make_registered_provider(const std::string& yaml,
                                                   const std::filesystem::path& config_file,
                                                   const std::string& name = "test");

}  // namespace danehook::testing
