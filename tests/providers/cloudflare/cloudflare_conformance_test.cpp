// The provider conformance suite against the Cloudflare API double (real HTTPS, the API's JSON
// shapes, two records per page so every listing paginates). The double serves no DNS, so the
// observe() subcase is reported, not checked; confirmation through Cloudflare's name servers is
// covered by the engine's confirmation tests against real servers.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>

#include "danehook/provider.hpp"
#include "providers/cloudflare/cloudflare_double.hpp"
#include "providers/conformance/conformance.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone_id = "023e105f4ecef8ad9ca31a8372d0c353";
const std::string token = "Conformance-cf-T0ken_0123456789abcdefghij";

nlohmann::json conformance_state() {
    return {{"tokens", {token}},
            {"page_size", 2},
            {"zones",
             {{{"id", zone_id},
               {"name", "example.net"},
               {"name_servers", {"127.0.0.1"}},
               {"records", nlohmann::json::array()}}}}};
}

// Cloudflare's API names records without the trailing dot and answers digests in lower case.
std::string api_name(const std::string& owner) {
    return owner.substr(0, owner.size() - 1);
}

std::string lower_hex(std::string hex) {
    for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return hex;
}

}  // namespace

TEST_CASE("cloudflare provider conformance (API double over HTTPS, paginated)") {
    for (const char* name : {"CLOUDFLARE_API_TOKEN", "CF_Token", "CF_Key", "CF_Email"})
        ::unsetenv(name);
    CloudflareDouble api(conformance_state());
    TempDir dir;
    write_text(dir / "token", token + "\n");
    ::chmod((dir / "token").c_str(), 0600);

    ConformanceTarget target;
    target.zone = "example.net.";
    target.owner = "_25._tcp.mail.example.net.";
    target.observable = false;
    target.make_provider = [&] {
        return make_registered_provider("type: cloudflare\napi_base: " + api.api_base() +
                                            "\nca_file: " + api.ca_file().string() +
                                            "\ntimeout: 5\napi_token_file: token\n",
                                        dir / "danehook.yaml", "cf");
    };
    target.add_foreign = [&](const TlsaRecord& record) {
        const auto& params = record.rdata.params;
        api.control({{"add_records",
                      {{{"zone_id", zone_id},
                        {"name", api_name(record.owner)},
                        {"ttl", record.ttl},
                        {"comment", "added by hand"},
                        {"data",
                         {{"usage", static_cast<int>(params.usage)},
                          {"selector", static_cast<int>(params.selector)},
                          {"matching_type", static_cast<int>(params.matching)},
                          {"certificate", lower_hex(record.rdata.hex())}}}}}}});
    };
    run_provider_conformance(target);
}
