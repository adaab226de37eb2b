// Typed access to one mapping of the YAML configuration, with errors that name file, key and line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "danehook/error.hpp"

namespace YAML {
class Node;
}

namespace danehook {

class Settings {
public:
    // `where` is the dotted path of this mapping in the file, e.g. "providers.primary".
    Settings(std::filesystem::path file, const YAML::Node& mapping, std::string where);
    ~Settings();
    Settings(const Settings&);
    Settings& operator=(const Settings&);

    bool has(const std::string& key) const;
    std::vector<std::string> keys() const;

    std::optional<std::string> string(const std::string& key) const;
    std::string required_string(const std::string& key) const;
    std::optional<std::int64_t> integer(const std::string& key, std::int64_t min,
                                        std::int64_t max) const;
    bool boolean(const std::string& key, bool fallback) const;
    // A list of scalars; a single scalar is accepted as a one-element list.
    std::vector<std::string> strings(const std::string& key) const;
    // Relative paths resolve against the configuration file's directory.
    std::optional<std::filesystem::path> path(const std::string& key) const;
    // A nested mapping.
    std::optional<Settings> mapping(const std::string& key) const;

    // A list of mappings ("services: [{host: ..., port: ...}]"), each named WHERE.KEY[i].
    std::vector<Settings> mapping_list(const std::string& key) const;

    // "FILE:LINE" of this mapping.
    std::string location() const;
    // "FILE:LINE: WHERE.KEY: message" (the line of the key when present, else of the mapping).
    ConfigError error(const std::string& key, const std::string& message) const;
    const std::filesystem::path& file() const;
    const std::string& where() const;

    // Throws for the first key not in `allowed`.
    void reject_unknown_keys(const std::vector<std::string>& allowed) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace danehook
