#include "danehook/status_cache.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string_view>

#include "danehook/log.hpp"

namespace danehook {
namespace {

// Bump when the rendering in Engine::status_of or this file's layout changes: a cache written
// by another version is then ignored instead of showing yesterday's format.
constexpr std::string_view header = "danehook-status-cache 1\n";
constexpr char separator = '\t';

std::filesystem::path cache_path(const std::filesystem::path& state_dir) {
    return state_dir / "status.cache";
}

template <typename Integer>
bool parse_integer(std::string_view text, Integer& value) {
    if (text.empty()) return false;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

// Splits off the next tab-separated field of `line`.
std::string_view next_field(std::string_view& line) {
    auto at = line.find(separator);
    std::string_view field = line.substr(0, at);
    line = at == std::string_view::npos ? std::string_view() : line.substr(at + 1);
    return field;
}

bool storable(std::string_view text) {
    return text.find_first_of("\t\n") == std::string_view::npos;
}

}  // namespace

StatusCache StatusCache::load(const std::filesystem::path& state_dir) {
    std::string text;
    try {
        text = read_file(cache_path(state_dir));
    } catch (const std::exception&) {
        return {};
    }
    return parse(text);
}

// Layout: the header, then per journal "name TAB device TAB inode TAB mtime_ns TAB size TAB
// rendering", then "end N" with the number of entries, so a truncated file is recognised.
StatusCache StatusCache::parse(const std::string& text) {
    StatusCache cache;
    std::string_view rest(text);
    if (!rest.starts_with(header)) return {};
    rest.remove_prefix(header.size());
    while (!rest.empty()) {
        auto newline = rest.find('\n');
        if (newline == std::string_view::npos) return {};
        std::string_view line = rest.substr(0, newline);
        rest.remove_prefix(newline + 1);
        if (line.starts_with("end ")) {
            std::size_t count = 0;
            if (!rest.empty() || !parse_integer(line.substr(4), count) ||
                count != cache.entries_.size())
                return {};
            return cache;
        }
        std::string name(next_field(line));
        Entry entry;
        if (name.empty() || !parse_integer(next_field(line), entry.stamp.device) ||
            !parse_integer(next_field(line), entry.stamp.inode) ||
            !parse_integer(next_field(line), entry.stamp.mtime_ns) ||
            !parse_integer(next_field(line), entry.stamp.size) || !line.starts_with('{') ||
            !line.ends_with('}')) {
            return {};
        }
        entry.rendering = std::string(line);
        if (!cache.entries_.emplace(std::move(name), std::move(entry)).second) return {};
    }
    return {};  // no "end" line: torn
}

const std::string* StatusCache::find(const std::string& name, const FileStamp& stamp) const {
    auto it = entries_.find(name);
    if (it == entries_.end() || !(it->second.stamp == stamp)) return nullptr;
    return &it->second.rendering;
}

void StatusCache::put(const std::string& name, const FileStamp& stamp, std::string rendering) {
    if (!storable(name) || !storable(rendering)) return;
    auto& entry = entries_[name];
    if (entry.stamp == stamp && entry.rendering == rendering) return;
    entry = Entry{stamp, std::move(rendering)};
    changed_ = true;
}

void StatusCache::keep_only(const std::vector<std::string>& sorted_names) {
    auto removed = std::erase_if(entries_, [&](const auto& item) {
        return !std::binary_search(sorted_names.begin(), sorted_names.end(), item.first);
    });
    if (removed > 0) changed_ = true;
}

std::string StatusCache::serialise(std::int64_t now_ns) const {
    std::string text(header);
    std::size_t count = 0;
    for (const auto& [name, entry] : entries_) {
        if (entry.stamp.mtime_ns > now_ns - racy_window_ns) continue;
        text += name;
        for (const auto& field :
             {std::to_string(entry.stamp.device), std::to_string(entry.stamp.inode),
              std::to_string(entry.stamp.mtime_ns), std::to_string(entry.stamp.size)}) {
            text += separator;
            text += field;
        }
        text += separator;
        text += entry.rendering;
        text += '\n';
        ++count;
    }
    text += "end " + std::to_string(count) + "\n";
    return text;
}

void StatusCache::save_if_changed(const std::filesystem::path& state_dir) const {
    if (!changed_) return;
    // The wall clock, not the injectable one: the racy window is about file timestamps.
    auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    try {
        write_file_atomic(cache_path(state_dir), serialise(now_ns), 0600, true);
    } catch (const std::exception& e) {
        log::debug(std::string("status cache not written: ") + e.what());
    }
}

}  // namespace danehook
