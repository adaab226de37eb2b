#include "providers/bindfile/serial.hpp"

#include <ctime>
#include <stdexcept>

namespace danehook::bindfile {
namespace {

constexpr std::uint32_t half_range = 0x80000000u;

// Plus one in serial arithmetic, skipping 0 (which BIND and some secondaries treat as unset).
std::uint32_t plus_one(std::uint32_t serial) {
    std::uint32_t next = serial + 1;
    return next == 0 ? 1 : next;
}

std::uint32_t date_serial(EpochSeconds now) {
    std::time_t time = static_cast<std::time_t>(now);
    std::tm tm{};
    gmtime_r(&time, &tm);
    auto year = static_cast<std::uint32_t>(tm.tm_year + 1900);
    auto month = static_cast<std::uint32_t>(tm.tm_mon + 1);
    auto day = static_cast<std::uint32_t>(tm.tm_mday);
    return ((year * 100 + month) * 100 + day) * 100;
}

bool looks_like_date_serial(std::uint32_t serial) {
    std::uint32_t day = (serial / 100) % 100;
    std::uint32_t month = (serial / 10000) % 100;
    std::uint32_t year = serial / 1000000;
    return year >= 1970 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

}  // namespace

SerialFormat parse_serial_format(std::string_view text) {
    if (text == "date") return SerialFormat::date;
    if (text == "unixtime") return SerialFormat::unixtime;
    if (text == "increment") return SerialFormat::increment;
    throw std::invalid_argument("unknown serial format '" + std::string(text) +
                                "' (expected date, unixtime or increment)");
}

std::string to_string(SerialFormat format) {
    switch (format) {
        case SerialFormat::date:
            return "date";
        case SerialFormat::unixtime:
            return "unixtime";
        case SerialFormat::increment:
            return "increment";
    }
    return "";
}

bool serial_greater(std::uint32_t a, std::uint32_t b) {
    std::uint32_t distance = a - b;  // modulo 2^32
    return distance != 0 && distance < half_range;
}

SerialStep next_serial(std::uint32_t current, SerialFormat format, EpochSeconds now) {
    const std::string current_text = std::to_string(current);
    switch (format) {
        case SerialFormat::increment:
            return {plus_one(current), std::nullopt};
        case SerialFormat::unixtime: {
            auto candidate =
                static_cast<std::uint32_t>(static_cast<std::uint64_t>(now) & 0xFFFFFFFFu);
            if (serial_greater(candidate, current) && candidate != 0)
                return {candidate, std::nullopt};
            auto next = plus_one(current);
            return {next, "SOA serial " + current_text + " is not below the current unix time " +
                              std::to_string(candidate) +
                              " (serial_format changed, or a clock behind?); "
                              "increasing it by one to " +
                              std::to_string(next) + " so that it never goes backwards"};
        }
        case SerialFormat::date: {
            std::uint32_t today = date_serial(now);
            if (current / 100 == today / 100 && current % 100 < 99)
                return {current + 1, std::nullopt};
            if (serial_greater(today, current)) return {today, std::nullopt};
            auto next = plus_one(current);
            std::string reason;
            if (current / 100 == today / 100) {
                reason = "all 100 date serials for today are used up";
            } else if (looks_like_date_serial(current)) {
                reason = "it is ahead of today's date serial " + std::to_string(today);
            } else {
                reason = "it does not follow the date format YYYYMMDDnn and is not below today's " +
                         std::to_string(today) + " (serial_format changed?)";
            }
            return {next, "SOA serial " + current_text + ": " + reason +
                              "; increasing it by one to " + std::to_string(next) +
                              " so that it never goes backwards"};
        }
    }
    return {plus_one(current), std::nullopt};
}

}  // namespace danehook::bindfile
