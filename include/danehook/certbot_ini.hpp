// certbot's DNS-plugin credentials files ("key = value" lines, # or ; comments), which danehook
// reads so that existing certbot users reuse their files.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace danehook {

struct IniValue {
    std::string value;  // trimmed, one level of matching quotes removed
    int line = 0;       // 1-based
};

// Later keys override earlier ones, as in certbot. Throws InputError "SOURCE:LINE: expected
// 'key = value'" for a line that is neither a comment, a [section] nor an assignment.
std::map<std::string, IniValue> parse_certbot_ini(std::string_view text, const std::string& source);

}  // namespace danehook
