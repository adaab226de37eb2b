// SOA serial numbers: RFC 1982 comparison and the next serial for each serial_format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "danehook/clock.hpp"

namespace danehook::bindfile {

enum class SerialFormat { date, unixtime, increment };

// Throws std::invalid_argument for anything but "date", "unixtime" and "increment".
SerialFormat parse_serial_format(std::string_view text);
std::string to_string(SerialFormat format);

// RFC 1982 section 3.2: true when `a` is greater than `b` in 32-bit serial arithmetic.
// (Pairs exactly 2^31 apart are undefined there and compare as not greater.)
bool serial_greater(std::uint32_t a, std::uint32_t b);

struct SerialStep {
    std::uint32_t serial = 0;
    // Set when the format could not be followed and the serial was increased by one instead
    // (format changed, date serial used up for the day, serial ahead of the clock).
    std::optional<std::string> warning;
};

// The next serial after `current`: always greater than `current` in RFC 1982 terms, never 0.
// `date` is YYYYMMDDnn for the UTC day of `now`.
SerialStep next_serial(std::uint32_t current, SerialFormat format, EpochSeconds now);

}  // namespace danehook::bindfile
