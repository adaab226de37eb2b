#include "danehook/log.hpp"

#include <cstdio>
#include <mutex>

namespace danehook::log {
namespace {

std::mutex mutex;
bool verbose_enabled = false;
std::function<void(Level, const std::string&)> custom_sink;

const char* prefix(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warning: return "warning";
        case Level::error: return "error";
    }
    return "";
}

// One record per line: embedded newlines would let one message forge another.
std::string single_line(const std::string& message) {
    std::string line = message;
    for (char& c : line) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return line;
}

void emit(Level level, const std::string& message) {
    if (level == Level::debug && !verbose_enabled) return;
    std::lock_guard lock(mutex);
    if (custom_sink) {
        custom_sink(level, single_line(message));
        return;
    }
    std::fprintf(stderr, "danehook: %s: %s\n", prefix(level), single_line(message).c_str());
}

}  // namespace

void set_verbose(bool verbose) { verbose_enabled = verbose; }
bool verbose() { return verbose_enabled; }
void set_sink(std::function<void(Level, const std::string&)> sink) {
    std::lock_guard lock(mutex);
    custom_sink = std::move(sink);
}

void debug(const std::string& message) { emit(Level::debug, message); }
void info(const std::string& message) { emit(Level::info, message); }
void warning(const std::string& message) { emit(Level::warning, message); }
void error(const std::string& message) { emit(Level::error, message); }

}  // namespace danehook::log
