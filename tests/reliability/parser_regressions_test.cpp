// Inputs the fuzzers found that once escaped the parsers' documented errors, replayed through the
// normal (and sanitizer) builds. Each file is fuzz/corpus/<target>/regression-*.
#include <doctest/doctest.h>

#include <filesystem>

#include "danehook/config.hpp"
#include "danehook/error.hpp"
#include "danehook/journal.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

std::vector<std::filesystem::path> regressions(const std::string& target) {
    std::vector<std::filesystem::path> files;
    for (const auto& item :
         std::filesystem::directory_iterator(source_dir() / "fuzz/corpus" / target)) {
        if (item.path().filename().string().starts_with("regression-"))
            files.push_back(item.path());
    }
    return files;
}

}  // namespace

TEST_CASE(
    "configuration: a mapping key that is not a plain name is a ConfigError with file and line") {
    auto files = regressions("fuzz_config");
    REQUIRE_FALSE(files.empty());
    for (const auto& file : files) {
        try {
            (void)load_config(file);
            FAIL("accepted " << file);
        } catch (const ConfigError& e) {
            CHECK_MESSAGE(std::string(e.what()).starts_with(file.string() + ":"), e.what());
        }
    }
    TempDir dir;
    write_text(dir / "danehook.yaml", "providers:\n  ? [a, b]\n  : {type: file}\n");
    try {
        (void)load_config(dir / "danehook.yaml");
        FAIL("accepted a list as a provider name");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()) ==
              (dir / "danehook.yaml").string() +
                  ":2: providers: keys must be plain names, not lists or mappings");
    }
}

TEST_CASE("journal: a number that is not an integer in range is corruption, never converted") {
    // fuzz_journal (CI, UBSan) found that a TTL of 4.44444e+86 reached nlohmann's float-to-integer
    // conversion, which is undefined behaviour for values out of range.
    auto files = regressions("fuzz_journal");
    REQUIRE_FALSE(files.empty());
    for (const auto& file : files) {
        try {
            (void)journal_from_json(read_text(file), file.string());
            FAIL("accepted " << file);
        } catch (const Error& e) {
            CHECK_MESSAGE(std::string(e.what()).starts_with(file.string() + ": journal is corrupt"), e.what());
        }
    }
}
