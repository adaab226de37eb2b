#include "danehook/dns_name.hpp"

#include <stdexcept>

namespace danehook {

std::string canonical_name(std::string_view name) {
    if (name.empty()) throw std::invalid_argument("empty domain name");
    std::string result;
    result.reserve(name.size() + 1);
    for (char c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                       c == '.' || c == '*';
        if (!allowed) {
            std::string shown = (c >= 0x21 && c < 0x7f) ? std::string(1, c) : "\\" + std::to_string(static_cast<unsigned char>(c));
            throw std::invalid_argument("domain name '" + std::string(name) +
                                        "' contains the character '" + shown + "'");
        }
        result.push_back(c);
    }
    if (result == ".") return result;
    if (result.back() != '.') result.push_back('.');
    if (result.size() > 254) throw std::invalid_argument("domain name '" + std::string(name) + "' is too long");
    std::size_t label_start = 0;
    for (std::size_t i = 0; i < result.size(); ++i) {
        if (result[i] != '.') continue;
        std::size_t length = i - label_start;
        if (length == 0) throw std::invalid_argument("domain name '" + std::string(name) + "' has an empty label");
        if (length > 63) throw std::invalid_argument("domain name '" + std::string(name) + "' has a label over 63 characters");
        label_start = i + 1;
    }
    return result;
}

bool is_in_zone(std::string_view name, std::string_view zone) {
    if (zone == ".") return true;
    if (name.size() < zone.size()) return false;
    if (name.substr(name.size() - zone.size()) != zone) return false;
    return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

std::string parent_name(std::string_view name) {
    auto dot = name.find('.');
    if (dot == std::string_view::npos || dot + 1 >= name.size()) return ".";
    return std::string(name.substr(dot + 1));
}

std::string without_trailing_dot(std::string_view name) {
    if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
    return std::string(name);
}

}  // namespace danehook
