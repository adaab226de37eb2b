#include <doctest/doctest.h>

#include <chrono>

#include "danehook/command.hpp"

using namespace danehook;

TEST_CASE("commands run without a shell and report their status") {
    auto result = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
    CHECK(result.exit_status == 3);
    CHECK(result.output == "out\n");
    CHECK(result.errors == "err\n");
    CHECK(result.describe() == "exited with status 3: err");

    // No shell: metacharacters reach the program as plain arguments.
    auto echo = run_command({"echo", "$HOME;", "|x"});
    CHECK(echo.output == "$HOME; |x\n");
}

TEST_CASE("standard input is delivered") {
    CommandOptions options;
    options.input = "hello";
    auto result = run_command({"cat"}, options);
    CHECK(result.ok());
    CHECK(result.output == "hello");
}

TEST_CASE("a hanging command is killed at the timeout") {
    CommandOptions options;
    options.timeout = std::chrono::milliseconds(300);
    auto start = std::chrono::steady_clock::now();
    auto result = run_command({"sleep", "30"}, options);
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(result.timed_out);
    CHECK_FALSE(result.ok());
    CHECK(elapsed < std::chrono::seconds(5));
}

TEST_CASE("a missing program exits 127 with the reason") {
    auto result = run_command({"/nonexistent/program"});
    CHECK(result.exit_status == 127);
    CHECK(result.errors.find("cannot run") != std::string::npos);
}

TEST_CASE("a program flooding its output is killed at the cap, long before the timeout") {
    CommandOptions options;
    options.max_output = 1024 * 1024;
    options.timeout = std::chrono::seconds(60);
    auto start = std::chrono::steady_clock::now();
    auto result = run_command({"cat", "/dev/zero"}, options);
    CHECK(result.output_overflow);
    CHECK_FALSE(result.ok());
    CHECK(result.output.size() + result.errors.size() <= options.max_output + 65536);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    CHECK(result.describe() == "was killed for writing too much output");
}
