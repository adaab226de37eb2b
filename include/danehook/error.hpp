// Failures that cross an I/O boundary, each carrying the exit code the CLI reports.
#pragma once

#include <stdexcept>
#include <string>

namespace danehook {

// Process exit codes, documented in README.md ("Exit codes").
enum class ExitCode : int {
    ok = 0,
    failure = 1,      // something went wrong that has no more specific code
    usage = 2,        // bad command line
    config = 3,       // configuration file invalid
    input = 4,        // certificate, key or other input file invalid
    provider = 5,     // DNS provider or network failure
    locked = 6,       // another danehook holds the state lock
    interlock = 7,    // a safety check refused a change
};

class Error : public std::runtime_error {
public:
    Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ExitCode code() const noexcept { return code_; }

private:
    ExitCode code_;
};

// Configuration problems: the message names the file, the key and its line.
class ConfigError : public Error {
public:
    explicit ConfigError(const std::string& message) : Error(ExitCode::config, message) {}
};

// Unusable certificates, keys, chains and other input files: the message names the file.
class InputError : public Error {
public:
    explicit InputError(const std::string& message) : Error(ExitCode::input, message) {}
};

// What the engine needs to know about a failed provider operation to decide between
// "stop now" and "retry on the next run".
enum class ProviderFailure {
    configuration,   // wrong settings: retrying will not help
    authentication,  // credentials rejected: retrying will not help
    not_found,       // zone or record unknown to the provider
    rejected,        // the provider refused the change (policy, validation)
    transient,       // timeout, connection refused, server failure: retry later
};

class ProviderError : public Error {
public:
    ProviderError(ProviderFailure failure, const std::string& message)
        : Error(ExitCode::provider, message), failure_(failure) {}
    ProviderFailure failure() const noexcept { return failure_; }
    bool retryable() const noexcept { return failure_ == ProviderFailure::transient; }

private:
    ProviderFailure failure_;
};

class LockError : public Error {
public:
    explicit LockError(const std::string& message) : Error(ExitCode::locked, message) {}
};

}  // namespace danehook
