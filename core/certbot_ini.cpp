#include "danehook/certbot_ini.hpp"

#include <sstream>

#include "danehook/error.hpp"

namespace danehook {
namespace {

std::string trim(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return "";
    auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

std::string unquote(std::string value) {
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
        return value.substr(1, value.size() - 2);
    }
    return value;
}

}  // namespace

std::map<std::string, IniValue> parse_certbot_ini(std::string_view text, const std::string& source) {
    std::map<std::string, IniValue> values;
    std::istringstream lines{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        std::string content = trim(line);
        if (content.empty() || content[0] == '#' || content[0] == ';' || content[0] == '[') continue;
        auto equals = content.find('=');
        if (equals == std::string::npos) {
            throw InputError(source + ":" + std::to_string(number) + ": expected 'key = value'");
        }
        values[trim(std::string_view(content).substr(0, equals))] =
            IniValue{unquote(trim(std::string_view(content).substr(equals + 1))), number};
    }
    return values;
}

}  // namespace danehook
