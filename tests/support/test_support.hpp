// Helpers shared by the tests: temporary directories, running the danehook binary, paths.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "danehook/command.hpp"

namespace danehook::testing {

// The repository's source directory and the built danehook executable.
std::filesystem::path source_dir();
std::filesystem::path danehook_binary();
std::filesystem::path samples_dir();  // config-samples/

// A fresh directory removed (with its contents) when the object goes away.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);

// Runs danehook with the arguments; environment additions as "NAME=value".
CommandResult run_danehook(const std::vector<std::string>& arguments,
                           const std::vector<std::string>& environment = {});

// True when `program` is on PATH.
bool have_program(const std::string& program);

// A free TCP+UDP port on 127.0.0.1 (best effort: bound, then released).
int free_port();

}  // namespace danehook::testing
