#include <doctest/doctest.h>

#include <ctime>
#include <stdexcept>

#include "providers/bindfile/serial.hpp"

using namespace danehook::bindfile;

namespace {

danehook::EpochSeconds at(int year, int month, int day, int hour = 12) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    return static_cast<danehook::EpochSeconds>(timegm(&tm));
}

}  // namespace

TEST_CASE("RFC 1982 comparison wraps around 2^32") {
    CHECK(serial_greater(2, 1));
    CHECK_FALSE(serial_greater(1, 2));
    CHECK_FALSE(serial_greater(5, 5));
    CHECK(serial_greater(0, 0xFFFFFFFFu));
    CHECK(serial_greater(10, 0xFFFFFF00u));
    CHECK(serial_greater(0x7FFFFFFFu, 0));
    CHECK_FALSE(serial_greater(0x80000000u, 0));  // undefined in RFC 1982: not greater
    CHECK_FALSE(serial_greater(0, 0x80000000u));
    CHECK_FALSE(serial_greater(0x80000001u, 0));
}

TEST_CASE("date serials") {
    auto today = at(2026, 11, 23);
    SUBCASE("an older date moves to today's first serial") {
        auto step = next_serial(2026112205, SerialFormat::date, today);
        CHECK(step.serial == 2026112300u);
        CHECK_FALSE(step.warning);
    }
    SUBCASE("today's serial counts nn up") {
        auto step = next_serial(2026112300, SerialFormat::date, today);
        CHECK(step.serial == 2026112301u);
        CHECK_FALSE(step.warning);
        CHECK(next_serial(2026112398, SerialFormat::date, today).serial == 2026112399u);
    }
    SUBCASE("nn = 99 falls back to +1 and says so") {
        auto step = next_serial(2026112399, SerialFormat::date, today);
        CHECK(step.serial == 2026112400u);
        REQUIRE(step.warning);
        CHECK(step.warning->find("used up") != std::string::npos);
        // The next day continues from there, still increasing.
        auto tomorrow = next_serial(step.serial, SerialFormat::date, at(2026, 11, 24));
        CHECK(tomorrow.serial == 2026112401u);
        CHECK_FALSE(tomorrow.warning);
    }
    SUBCASE("a serial ahead of today increases by one") {
        auto step = next_serial(2026120105, SerialFormat::date, today);
        CHECK(step.serial == 2026120106u);
        REQUIRE(step.warning);
        CHECK(step.warning->find("ahead of today") != std::string::npos);
    }
    SUBCASE("date rollover at midnight UTC") {
        CHECK(next_serial(2026112317, SerialFormat::date, at(2026, 11, 23, 23)).serial ==
              2026112318u);
        CHECK(next_serial(2026112317, SerialFormat::date, at(2026, 11, 24, 0)).serial ==
              2026112400u);
        CHECK(next_serial(2026123199, SerialFormat::date, at(2027, 1, 1, 0)).serial == 2027010100u);
    }
    SUBCASE("switching from unixtime keeps increasing") {
        // A unix-time serial (1.76e9) is below the date serial (2.03e9): jumping up is fine.
        CHECK(next_serial(1763900000, SerialFormat::date, today).serial == 2026112300u);
        // A serial beyond the date serial and not a date: +1 with a warning.
        auto step = next_serial(4000000000u, SerialFormat::date, today);
        CHECK(serial_greater(step.serial, 4000000000u));
        REQUIRE(step.warning);
        CHECK(step.warning->find("serial_format changed") != std::string::npos);
    }
    SUBCASE("near 2^32 the date serial is greater in serial arithmetic and wraps") {
        // 4294967000 -> 2026112300 is a forward step of 2026112596 < 2^31.
        auto step = next_serial(4294967000u, SerialFormat::date, today);
        CHECK(step.serial == 2026112300u);
        CHECK(serial_greater(step.serial, 4294967000u));
    }
}

TEST_CASE("unixtime serials") {
    auto now = at(2026, 11, 23);
    auto expected = static_cast<std::uint32_t>(now);
    CHECK(next_serial(1, SerialFormat::unixtime, now).serial == expected);
    CHECK_FALSE(next_serial(expected - 10, SerialFormat::unixtime, now).warning);
    SUBCASE("twice in the same second still increases") {
        auto step = next_serial(expected, SerialFormat::unixtime, now);
        CHECK(step.serial == expected + 1);
        CHECK(step.warning);
    }
    SUBCASE("from a date serial (ahead of unix time) it keeps increasing by one") {
        auto step = next_serial(2026112305, SerialFormat::unixtime, now);
        CHECK(step.serial == 2026112306u);
        REQUIRE(step.warning);
        CHECK(step.warning->find("never goes backwards") != std::string::npos);
    }
}

TEST_CASE("increment serials wrap and skip zero") {
    CHECK(next_serial(41, SerialFormat::increment, 0).serial == 42u);
    CHECK(next_serial(0xFFFFFFFEu, SerialFormat::increment, 0).serial == 0xFFFFFFFFu);
    auto wrapped = next_serial(0xFFFFFFFFu, SerialFormat::increment, 0);
    CHECK(wrapped.serial == 1u);
    CHECK(serial_greater(wrapped.serial, 0xFFFFFFFFu));
}

TEST_CASE("every format always increases in serial arithmetic") {
    const std::uint32_t serials[] = {0u,          1u,          2026112300u, 2026112399u,
                                     2147483647u, 2147483648u, 4294967294u, 4294967295u,
                                     1763900000u, 3000000000u};
    const danehook::EpochSeconds times[] = {at(1999, 12, 31), at(2026, 11, 23), at(2106, 2, 7, 6)};
    for (auto format : {SerialFormat::date, SerialFormat::unixtime, SerialFormat::increment}) {
        for (auto serial : serials) {
            for (auto time : times) {
                auto step = next_serial(serial, format, time);
                INFO("format " << to_string(format) << " serial " << serial << " time " << time);
                CHECK(serial_greater(step.serial, serial));
                CHECK(step.serial != 0u);
            }
        }
    }
}

TEST_CASE("serial_format names") {
    CHECK(parse_serial_format("date") == SerialFormat::date);
    CHECK(parse_serial_format("unixtime") == SerialFormat::unixtime);
    CHECK(parse_serial_format("increment") == SerialFormat::increment);
    CHECK_THROWS_AS(parse_serial_format("Date"), std::invalid_argument);
}
