// `danehook check` and the live-service checks the engine asks before withdrawals and after
// deferred reloads.
#pragma once

#include <iosfwd>
#include <string>

#include "danehook/config.hpp"
#include "danehook/dane_check.hpp"
#include "danehook/engine.hpp"

namespace danehook {

struct CheckCommandOptions {
    std::string name;  // one certificate entry; "" = all
    bool json = false;
    CheckTimeouts timeouts;
    std::chrono::milliseconds dns_timeout{10'000};  // validated lookup
};

// Runs the checks and returns the report; ConfigError for an unknown --name, a missing trust
// anchor or a bad `resolver`.
CheckReport run_check(const Config& config, const CheckCommandOptions& options);

std::string render_check_text(const CheckReport& report);
std::string render_check_json(const CheckReport& report);

// Prints the report and returns its exit code (0 ok, 1 warnings, 2 failures).
int check_command(const Config& config, const CheckCommandOptions& options, std::ostream& out);

// For Engine::set_interlock: refuses a withdrawal when a configured service at the owner is
// reachable and its chain would no longer verify against the records left; allows with a
// warning when the service cannot be reached.
WithdrawalInterlock live_service_interlock(CheckTimeouts timeouts = {});

// For Engine::set_activation_check: a warning when a configured service does not present the
// newly activated certificate (or cannot be reached to tell).
ActivationCheck live_service_activation_check(CheckTimeouts timeouts = {});

}  // namespace danehook
