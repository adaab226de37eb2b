#include "danehook/settings.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace danehook {

struct Settings::Impl {
    std::filesystem::path file;
    YAML::Node mapping;
    std::string where;

    // The line (1-based) of `key` in the file, or of the mapping when the key is absent.
    int line_of(const std::string& key) const {
        if (mapping.IsMap()) {
            for (auto it = mapping.begin(); it != mapping.end(); ++it) {
                if (it->first.IsScalar() && it->first.Scalar() == key) return it->first.Mark().line + 1;
            }
        }
        return mapping.Mark().line + 1;
    }
    YAML::Node value(const std::string& key) const {
        if (!mapping.IsMap()) return YAML::Node();
        return mapping[key];
    }
};

Settings::Settings(std::filesystem::path file, const YAML::Node& mapping, std::string where)
    : impl_(std::make_unique<Impl>(Impl{std::move(file), mapping, std::move(where)})) {}
Settings::~Settings() = default;
Settings::Settings(const Settings& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
Settings& Settings::operator=(const Settings& other) {
    if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
    return *this;
}

ConfigError Settings::error(const std::string& key, const std::string& message) const {
    std::string location = impl_->file.string() + ":" + std::to_string(impl_->line_of(key)) + ": ";
    std::string name = impl_->where.empty() ? key : (key.empty() ? impl_->where : impl_->where + "." + key);
    return ConfigError(location + name + ": " + message);
}

const std::filesystem::path& Settings::file() const { return impl_->file; }
const std::string& Settings::where() const { return impl_->where; }

bool Settings::has(const std::string& key) const {
    auto node = impl_->value(key);
    return node.IsDefined() && !node.IsNull();
}

std::vector<std::string> Settings::keys() const {
    std::vector<std::string> result;
    if (!impl_->mapping.IsMap()) return result;
    for (auto it = impl_->mapping.begin(); it != impl_->mapping.end(); ++it) {
        // YAML allows any node as a key ("? [a, b]: c"); as<std::string>() would throw a bare
        // yaml-cpp exception without file and line.
        if (!it->first.IsScalar()) {
            throw ConfigError(impl_->file.string() + ":" + std::to_string(it->first.Mark().line + 1) + ": " +
                              (impl_->where.empty() ? std::string() : impl_->where + ": ") +
                              "keys must be plain names, not lists or mappings");
        }
        result.push_back(it->first.Scalar());
    }
    return result;
}

std::optional<std::string> Settings::string(const std::string& key) const {
    auto node = impl_->value(key);
    if (!node.IsDefined() || node.IsNull()) return std::nullopt;
    if (!node.IsScalar()) throw error(key, "must be a string");
    return node.Scalar();
}

std::string Settings::required_string(const std::string& key) const {
    auto value = string(key);
    if (!value) throw error(key, "is required");
    if (value->empty()) throw error(key, "must not be empty");
    return *value;
}

std::optional<std::int64_t> Settings::integer(const std::string& key, std::int64_t min, std::int64_t max) const {
    auto text = string(key);
    if (!text) return std::nullopt;
    std::int64_t value = 0;
    try {
        std::size_t used = 0;
        value = std::stoll(*text, &used, 10);
        if (used != text->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
        throw error(key, "must be an integer, not '" + *text + "'");
    }
    if (value < min || value > max) {
        throw error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return value;
}

bool Settings::boolean(const std::string& key, bool fallback) const {
    auto text = string(key);
    if (!text) return fallback;
    if (*text == "true" || *text == "yes" || *text == "on") return true;
    if (*text == "false" || *text == "no" || *text == "off") return false;
    throw error(key, "must be true or false, not '" + *text + "'");
}

std::vector<std::string> Settings::strings(const std::string& key) const {
    auto node = impl_->value(key);
    std::vector<std::string> result;
    if (!node.IsDefined() || node.IsNull()) return result;
    if (node.IsScalar()) return {node.Scalar()};
    if (!node.IsSequence()) throw error(key, "must be a list of strings");
    for (const auto& item : node) {
        if (!item.IsScalar()) throw error(key, "must be a list of strings");
        result.push_back(item.Scalar());
    }
    return result;
}

std::optional<std::filesystem::path> Settings::path(const std::string& key) const {
    auto text = string(key);
    if (!text) return std::nullopt;
    if (text->empty()) throw error(key, "must not be empty");
    std::filesystem::path value(*text);
    if (value.is_relative()) value = impl_->file.parent_path() / value;
    return value;
}

std::optional<Settings> Settings::mapping(const std::string& key) const {
    auto node = impl_->value(key);
    if (!node.IsDefined() || node.IsNull()) return std::nullopt;
    if (!node.IsMap()) throw error(key, "must be a mapping");
    return Settings(impl_->file, node, impl_->where.empty() ? key : impl_->where + "." + key);
}

std::vector<Settings> Settings::mapping_list(const std::string& key) const {
    auto node = impl_->value(key);
    std::vector<Settings> items;
    if (!node.IsDefined() || node.IsNull()) return items;
    if (!node.IsSequence()) throw error(key, "must be a list");
    std::string prefix = impl_->where.empty() ? key : impl_->where + "." + key;
    std::size_t index = 0;
    for (const auto& item : node) {
        std::string where = prefix + "[" + std::to_string(index++) + "]";
        if (!item.IsMap()) {
            throw ConfigError(impl_->file.string() + ":" + std::to_string(item.Mark().line + 1) + ": " + where +
                              ": must be a mapping");
        }
        items.emplace_back(impl_->file, item, where);
    }
    return items;
}

std::string Settings::location() const {
    return impl_->file.string() + ":" + std::to_string(impl_->mapping.Mark().line + 1);
}

void Settings::reject_unknown_keys(const std::vector<std::string>& allowed) const {
    if (!impl_->mapping.IsMap()) throw error("", "must be a mapping");
    for (const auto& key : keys()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            std::string list;
            for (const auto& name : allowed) list += (list.empty() ? "" : ", ") + name;
            throw error(key, "unknown key (allowed: " + list + ")");
        }
    }
}

}  // namespace danehook
