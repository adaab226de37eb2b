// Domain name helpers for the presentation form danehook uses everywhere:
// absolute, lower case, with a trailing dot ("mail.example.net.").
#pragma once

#include <string>
#include <string_view>

namespace danehook {

// Lower-cases and adds the trailing dot. Throws std::invalid_argument for names that are empty,
// too long, have empty or over-long labels, or contain characters outside letters, digits,
// '-', '_' and '*' (which also keeps zone-file and shell syntax out of names).
std::string canonical_name(std::string_view name);

// True when `name` equals `zone` or lies below it (both canonical).
bool is_in_zone(std::string_view name, std::string_view zone);

// Parent of a canonical name ("a.b." -> "b.", "b." -> "."). The root's parent is the root.
std::string parent_name(std::string_view name);

// "mail.example.net." -> "mail.example.net"
std::string without_trailing_dot(std::string_view name);

}  // namespace danehook
