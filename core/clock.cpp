#include "danehook/clock.hpp"

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <string_view>

namespace danehook {

EpochSeconds SystemClock::now() const {
    if (const char* fixed = std::getenv("DANEHOOK_NOW")) {
        std::string_view text(fixed);
        EpochSeconds value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size()) return value;
    }
    return static_cast<EpochSeconds>(std::time(nullptr));
}

EpochSeconds WallClock::now() const { return static_cast<EpochSeconds>(std::time(nullptr)); }

std::string format_time(EpochSeconds t) {
    std::time_t time = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&time, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

}  // namespace danehook
