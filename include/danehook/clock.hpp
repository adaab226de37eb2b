// Time as the engine sees it, injectable so tests never sleep.
#pragma once

#include <cstdint>
#include <string>

namespace danehook {

using EpochSeconds = std::int64_t;

class Clock {
public:
    virtual ~Clock() = default;
    virtual EpochSeconds now() const = 0;
};

// The engine's clock: the system clock, unless DANEHOOK_NOW=<epoch seconds> is set (for demos
// and tests of the whole program; it moves danehook's schedule, not TSIG or zone serials).
class SystemClock : public Clock {
public:
    EpochSeconds now() const override;
};

// The real time, never overridden: for cryptography (TSIG time signed) and for dates written into
// zone files, which must not follow a test clock.
class WallClock : public Clock {
public:
    EpochSeconds now() const override;
};

class ManualClock : public Clock {
public:
    explicit ManualClock(EpochSeconds start) : now_(start) {}
    EpochSeconds now() const override { return now_; }
    void advance(EpochSeconds seconds) { now_ += seconds; }
    void set(EpochSeconds t) { now_ = t; }

private:
    EpochSeconds now_;
};

// "2026-11-23T10:54:07Z"
std::string format_time(EpochSeconds t);

}  // namespace danehook
