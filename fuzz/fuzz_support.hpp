// Shared helpers for the libFuzzer targets: a private scratch directory for parsers that read
// files, and a silent log sink so the fuzzer's output stays readable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace danehook::fuzz {

// A directory of this process (created once, mode 0700, under $TMPDIR or /tmp).
const std::filesystem::path& scratch_dir();

// Writes `data` to scratch_dir()/name with mode 0600 and returns the path.
std::filesystem::path write_scratch(const std::string& name, std::string_view data);

// Routes danehook's log lines to nowhere (called once per target).
void silence_log();

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace danehook::fuzz
