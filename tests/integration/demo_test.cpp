// scripts/demo.sh (the README's first command) runs a whole rollover; keep it working.
#include <doctest/doctest.h>

#include "danehook/command.hpp"
#include "support/named_server.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

TEST_CASE("the demo publishes, holds, and withdraws the old record after the hold") {
    if (!have_program("named") || !have_program("dig") || !have_program("python3")) {
        MESSAGE("named, dig or python3 not installed: the demo's rollover part is skipped");
        return;
    }
    CommandOptions options;
    options.timeout = std::chrono::seconds(120);
    auto result = run_command(
        {(source_dir() / "scripts/demo.sh").string(), danehook_binary().string()}, options);
    INFO(result.output);
    INFO(result.errors);
    REQUIRE(result.exit_status == 0);
    const auto& out = result.output;
    auto renewal = out.find("== renewal with a new key");
    auto early = out.find("== the timer's danehook run, before the hold is over");
    auto later = out.find("== an hour later");
    REQUIRE(renewal != std::string::npos);
    REQUIRE(early != std::string::npos);
    REQUIRE(later != std::string::npos);
    CHECK(out.find("schedule withdrawal of _25._tcp.mail.example.net.", renewal) < early);
    // Before the hold: both records served, nothing withdrawn.
    auto early_part = out.substr(early, later - early);
    CHECK(early_part.find("withdrew") == std::string::npos);
    CHECK(early_part.find("served: 3 1 1") != early_part.rfind("served: 3 1 1"));
    // After the hold: the withdrawal, one record served, status lists one record.
    auto late_part = out.substr(later);
    CHECK(late_part.find("withdrew _25._tcp.mail.example.net.") != std::string::npos);
    CHECK(late_part.find("served: 3 1 1") == late_part.rfind("served: 3 1 1"));
    CHECK(late_part.find("scheduled for withdrawal") == std::string::npos);
}
