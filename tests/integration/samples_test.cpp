// Every config-samples/*.yaml loads and every provider it names can be created, with the
// samples' paths moved under a temporary root, so the samples cannot rot.
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "danehook/config.hpp"
#include "danehook/error.hpp"
#include "danehook/provider.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace danehook;
using namespace danehook::testing;

namespace {

std::vector<fs::path> sample_files() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(samples_dir())) {
        if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

// Absolute /etc, /var and /usr paths in the YAML text move under `root`.
std::string rooted(const std::string& yaml, const fs::path& root) {
    static const std::regex absolute(R"((^|[\s\[,"'])/(etc|var|usr)/)");
    return std::regex_replace(yaml, absolute, "$1" + root.string() + "/$2/");
}

void write_private(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    write_text(path, text);
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

// The files the samples point at, as an installed system would have them.
void populate(const fs::path& root) {
    write_private(root / "etc/danehook/tsig.key",
                  "key \"danehook\" {\n\talgorithm hmac-sha256;\n"
                  "\tsecret \"c2FtcGxlLXRzaWcta2V5LWZvci10aGUtdGVzdHMtb25seQ==\";\n};\n");
    write_private(root / "etc/danehook/cloudflare.token", "sample-token-for-the-tests-only\n");
    fs::create_directories(root / "etc/bind/keys");
    fs::create_directories(root / "etc/bind/zones");
    write_text(root / "etc/bind/zones/example.net.tlsa", "");
    write_text(root / "etc/bind/zones/db.example.net",
               "$TTL 300\n@ IN SOA ns1.example.net. hostmaster.example.net. 2026010100 3600 600 "
               "604800 300\n@ IN NS ns1.example.net.\nns1 IN A 192.0.2.53\n$INCLUDE " +
                   (root / "etc/bind/zones/example.net.tlsa").string() + "\n");
}

}  // namespace

TEST_CASE("config samples exist for every documented setup") {
    std::set<std::string> names;
    for (const auto& file : sample_files()) names.insert(file.filename().string());
    for (const char* expected :
         {"certbot-rfc2136-bind.yaml", "certbot-cloudflare.yaml", "acmesh-next-key-rfc2136.yaml",
          "bindfile-dnssec-signzone.yaml", "mail-and-web.yaml"}) {
        CHECK_MESSAGE(names.count(expected) == 1, expected);
    }
}

TEST_CASE("every config sample loads and creates its providers") {
    for (const auto& sample : sample_files()) {
        CAPTURE(sample);
        TempDir root;
        populate(root.path());
        const auto config_path = root / "danehook.yaml";
        write_private(config_path, rooted(read_text(sample), root.path()));

        Config config;
        REQUIRE_NOTHROW(config = load_config(config_path, CertificateLoading::all));
        CHECK(config.state_dir.string().rfind(root.path().string(), 0) == 0);
        REQUIRE_FALSE(config.providers.empty());
        REQUIRE_FALSE(config.certificates.empty());

        for (const auto& [name, settings] : config.providers) {
            CAPTURE(name);
            std::unique_ptr<Provider> provider;
            try {
                provider = ProviderRegistry::instance().create(
                    ProviderContext{name, settings, {}, {}, {}});
            } catch (const Error& e) {
                FAIL_CHECK(std::string(e.what()));
            }
            CHECK(provider != nullptr);
        }
        for (const auto& entry : config.certificates) {
            CAPTURE(entry.name);
            CHECK_FALSE(entry.services.empty());
            CHECK_FALSE(entry.records.empty());
            // An entry names a provider of the file, or the file has exactly one.
            if (entry.provider.empty()) {
                CHECK(config.providers.size() == 1);
            } else {
                CHECK(config.providers.count(entry.provider) == 1);
            }
            CHECK((entry.lineage || !entry.domains.empty() || entry.files.certificate));
        }
    }
}

TEST_CASE("the mail and web sample publishes at every service name and port") {
    TempDir root;
    populate(root.path());
    write_private(root / "danehook.yaml",
                  rooted(read_text(samples_dir() / "mail-and-web.yaml"), root.path()));
    auto config = load_config(root / "danehook.yaml");
    REQUIRE(config.certificates.size() == 1);
    auto owners = config.certificates[0].owner_names();
    std::set<std::string> owner_set(owners.begin(), owners.end());
    CHECK(owner_set ==
          std::set<std::string>{"_25._tcp.mail.example.com.", "_465._tcp.mail.example.com.",
                                "_587._tcp.mail.example.com.", "_443._tcp.www.example.com."});
}
