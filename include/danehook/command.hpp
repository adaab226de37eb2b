// Running external programs without a shell, with a timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace danehook {

struct CommandResult {
    int exit_status = -1;  // exit code, or -1 when killed / not started
    bool timed_out = false;
    bool output_overflow = false;  // killed for writing more than max_output
    std::string output;  // stdout
    std::string errors;  // stderr

    bool ok() const { return exit_status == 0 && !timed_out && !output_overflow; }
    // "exited with status 2: <first stderr line>" / "timed out after 30 s"
    std::string describe() const;
};

struct CommandOptions {
    std::chrono::milliseconds timeout{60'000};
    std::string input;  // written to the program's standard input
    std::vector<std::string> extra_environment;  // "NAME=value"
    // A program that writes more than this (stdout + stderr) is killed, so a runaway child
    // cannot grow danehook's memory until the timeout.
    std::size_t max_output = 16 * 1024 * 1024;
};

// Marks an environment variable as a secret that danehook has read (a provider's API token
// passed by acme.sh, say): every program run_command starts from then on gets an environment
// without it. Thread-safe.
void withhold_from_children(const std::string& variable);

// execvp(argv[0], argv) in a new process group, with the withheld variables removed from its
// environment; on timeout the group gets SIGTERM, then
// SIGKILL. Throws std::invalid_argument for an empty argv. A program that cannot be started
// gives exit_status 127 and the reason in `errors`.
CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

}  // namespace danehook
