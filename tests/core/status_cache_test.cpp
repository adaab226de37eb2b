// The status cache file: what it keeps, and that any doubt about it means an empty cache.
#include <doctest/doctest.h>

#include "danehook/status_cache.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

constexpr std::int64_t second = 1'000'000'000;
constexpr std::int64_t now_ns = 1'800'000'000 * second;

FileStamp stamp(std::uint64_t inode, std::int64_t mtime_ns = now_ns - 3600 * second,
                std::int64_t size = 100) {
    return FileStamp{2049, inode, mtime_ns, size};
}

StatusCache two_entries() {
    StatusCache cache;
    cache.put("mail", stamp(11), R"({"name":"mail","records":[]})");
    cache.put("www", stamp(12), R"({"name":"www","records":[]})");
    return cache;
}

}  // namespace

TEST_CASE("status cache: a round trip keeps entries, matched on the whole file stamp") {
    auto cache = StatusCache::parse(two_entries().serialise(now_ns));
    REQUIRE(cache.size() == 2);
    REQUIRE(cache.find("mail", stamp(11)) != nullptr);
    CHECK(*cache.find("mail", stamp(11)) == R"({"name":"mail","records":[]})");
    CHECK(cache.find("mail", stamp(12)) == nullptr);                          // replaced by rename
    CHECK(cache.find("mail", stamp(11, now_ns - 3599 * second)) == nullptr);  // edited in place
    CHECK(cache.find("mail", stamp(11, now_ns - 3600 * second, 101)) == nullptr);
    CHECK(cache.find("other", stamp(11)) == nullptr);
}

TEST_CASE("status cache: files changed within the racy window are not written out") {
    StatusCache cache;
    cache.put("old", stamp(1), "{}");
    cache.put("recent", stamp(2, now_ns - StatusCache::racy_window_ns / 2), "{}");
    auto loaded = StatusCache::parse(cache.serialise(now_ns));
    CHECK(loaded.size() == 1);
    CHECK(loaded.find("old", stamp(1)) != nullptr);
}

TEST_CASE("status cache: keep_only drops journals that are gone") {
    auto cache = two_entries();
    cache.keep_only({"www"});
    CHECK(cache.size() == 1);
    CHECK(cache.find("mail", stamp(11)) == nullptr);
}

TEST_CASE("status cache: names or renderings that would break the line format are not cached") {
    StatusCache cache;
    cache.put("tab\tname", stamp(1), "{}");
    cache.put("mail", stamp(2), "{\"a\":\n1}");
    CHECK(cache.size() == 0);
}

TEST_CASE("status cache: a torn, garbled or foreign file is an empty cache") {
    const auto good = two_entries().serialise(now_ns);
    REQUIRE(StatusCache::parse(good).size() == 2);
    auto replaced = [&](const std::string& from, const std::string& to) {
        auto text = good;
        auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        return text.replace(at, from.size(), to);
    };
    for (const auto& bad : {
             std::string(), good.substr(0, good.size() - 1),  // no final newline
             good.substr(0, good.find("end ")),               // no end line
             good.substr(0, good.find("www")) + "end 2\n",    // count mismatch
             replaced("danehook-status-cache 1", "danehook-status-cache 0"),
             replaced("\t2049\t11\t", "\t2049\tx\t"), replaced("\t2049\t11\t", "\t-2049\t11\t"),
             replaced("{\"name\":\"mail\"", "[\"name\",\"mail\""), good + "trailing\n",
             replaced("www", "mail"),  // duplicate name
         }) {
        CAPTURE(bad);
        CHECK(StatusCache::parse(bad).size() == 0);
    }
}

TEST_CASE("status cache: load ignores a missing file, save writes 0600 only when changed") {
    TempDir dir;
    CHECK(StatusCache::load(dir.path()).size() == 0);
    StatusCache cache;  // saving uses the real clock: these files changed long ago
    cache.put("mail", stamp(11, 1'000'000'000 * second), "{}");
    cache.put("www", stamp(12, 1'000'000'000 * second), "{}");
    cache.save_if_changed(dir.path());
    auto path = dir / "status.cache";
    REQUIRE(std::filesystem::exists(path));
    CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    auto loaded = StatusCache::load(dir.path());
    CHECK(loaded.size() == 2);
    std::filesystem::remove(path);
    loaded.save_if_changed(dir.path());  // nothing changed since load: not rewritten
    CHECK_FALSE(std::filesystem::exists(path));
}
