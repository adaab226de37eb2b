// A cache of `status --json` renderings of settled journals, so that monitoring which polls
// `status --json` across thousands of certificates does not open and parse every journal.
//
// Only journals whose rendering depends on nothing but the journal file (no deferred reload, no
// record scheduled for withdrawal: nothing that needs the configuration or the clock) are
// cached. An entry is used only while the journal file's stamp (device, inode, mtime, size) is
// unchanged; journals are replaced by rename, so every save gets a new inode. The file is an
// optimisation: any doubt (another format, a torn or garbled file) means it is ignored and
// rebuilt, and a state directory that cannot be written just means no cache.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "danehook/file_io.hpp"

namespace danehook {

class StatusCache {
  public:
    // Entries whose file changed less than this long before the cache was written are not kept:
    // an in-place edit within the file system's timestamp granularity could go unnoticed.
    static constexpr std::int64_t racy_window_ns = 2'000'000'000;

    // Reads <state_dir>/status.cache; an empty cache when it is missing or not trusted.
    static StatusCache load(const std::filesystem::path& state_dir);
    // Parses the cache file's text; an empty cache when anything about it is wrong.
    static StatusCache parse(const std::string& text);

    // The cached rendering of journal `name`, or nullptr unless it was made from `stamp`.
    const std::string* find(const std::string& name, const FileStamp& stamp) const;
    void put(const std::string& name, const FileStamp& stamp, std::string rendering);
    // Drops entries of journals not in `names` (sorted).
    void keep_only(const std::vector<std::string>& sorted_names);

    std::string serialise(std::int64_t now_ns) const;
    // Writes the cache when it changed since load(); failures are logged at debug level only.
    void save_if_changed(const std::filesystem::path& state_dir) const;

    std::size_t size() const { return entries_.size(); }

  private:
    struct Entry {
        FileStamp stamp;
        std::string rendering;
    };
    std::map<std::string, Entry> entries_;
    bool changed_ = false;
};

}  // namespace danehook
