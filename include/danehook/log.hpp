// One-line log records on stderr. Never pass secrets here.
#pragma once

#include <functional>
#include <string>

namespace danehook::log {

enum class Level { debug, info, warning, error };

void set_verbose(bool verbose);
bool verbose();
// Replaces the sink (tests); nullptr restores stderr.
void set_sink(std::function<void(Level, const std::string&)> sink);

void debug(const std::string& message);
void info(const std::string& message);
void warning(const std::string& message);
void error(const std::string& message);

}  // namespace danehook::log
