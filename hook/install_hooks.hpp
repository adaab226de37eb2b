// `danehook install-hooks`: places the certbot deploy hook and the systemd units.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace danehook {

struct InstallHooksOptions {
    std::filesystem::path root = "/";     // install under this directory (tests, images)
    std::filesystem::path danehook_path;  // absolute path the hook and units run
    bool certbot = true;                  // etc/letsencrypt/renewal-hooks/deploy/danehook
    bool systemd = true;                  // etc/systemd/system/danehook.{service,timer}
    bool dry_run = false;                 // say what would be written, write nothing
    bool force = false;                   // replace files that differ from ours
};

struct InstalledFile {
    std::filesystem::path path;  // relative to the root, e.g. etc/systemd/system/danehook.timer
    std::string content;
    unsigned mode;
};

// The files install-hooks writes, with `danehook_path` substituted. Pure: touches nothing.
std::vector<InstalledFile> hook_files(const InstallHooksOptions& options);

// Writes the files atomically; an identical file is left alone, a different one is refused
// (Error, exit code 1) unless `force`. Returns one line per file saying what was done.
std::vector<std::string> install_hooks(const InstallHooksOptions& options);

// The path of the running executable (/proc/self/exe), for the default danehook_path.
std::filesystem::path current_executable();

}  // namespace danehook
