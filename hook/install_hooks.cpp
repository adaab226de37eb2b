#include "hook/install_hooks.hpp"

#include <sys/stat.h>

#include <system_error>

#include "danehook/error.hpp"
#include "danehook/file_io.hpp"
#include "hook/contrib_files.hpp"

namespace danehook {
namespace {

// Single-quoted for sh: every ' becomes '\''.
std::string shell_quote(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

// systemd unit files take a path verbatim unless it holds whitespace, quotes, backslashes or
// specifiers; refusing those keeps ExecStart= unambiguous.
void require_plain_unit_path(const std::filesystem::path& path) {
    for (char c : path.string()) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '\\' || c == '%' ||
            c == '$') {
            throw Error(ExitCode::usage, "--danehook: '" + path.string() +
                                             "' holds characters a systemd unit cannot take "
                                             "verbatim; use a plain path or --no-systemd");
        }
    }
}

void create_parent_directories(const std::filesystem::path& directory) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec) throw Error(ExitCode::failure, directory.string() + ": cannot create: " + ec.message());
}

}  // namespace

std::vector<InstalledFile> hook_files(const InstallHooksOptions& options) {
    if (!options.danehook_path.is_absolute()) {
        throw Error(ExitCode::usage, "--danehook: must be an absolute path, not '" +
                                         options.danehook_path.string() + "'");
    }
    std::vector<InstalledFile> files;
    if (options.certbot) {
        auto script =
            replace_all(contrib::certbot_hook, "\ndanehook_program=danehook\n",
                        "\ndanehook_program=" + shell_quote(options.danehook_path.string()) + "\n");
        files.push_back({"etc/letsencrypt/renewal-hooks/deploy/danehook", script, 0755});
    }
    if (options.systemd) {
        require_plain_unit_path(options.danehook_path);
        auto service = replace_all(contrib::systemd_service, "ExecStart=/usr/bin/danehook ",
                                   "ExecStart=" + options.danehook_path.string() + " ");
        files.push_back({"etc/systemd/system/danehook.service", service, 0644});
        files.push_back({"etc/systemd/system/danehook.timer", contrib::systemd_timer, 0644});
    }
    return files;
}

std::vector<std::string> install_hooks(const InstallHooksOptions& options) {
    enum class Action { write, replace, unchanged };
    struct Step {
        const InstalledFile* file;
        std::filesystem::path target;
        Action action;
    };
    const auto files = hook_files(options);
    // Decide for every file before writing any, so a refusal leaves nothing half installed.
    std::vector<Step> steps;
    for (const auto& file : files) {
        auto target = options.root / file.path;
        std::error_code ec;
        const auto status = std::filesystem::symlink_status(target, ec);
        if (ec || !std::filesystem::exists(status)) {
            steps.push_back({&file, target, Action::write});
            continue;
        }
        if (!std::filesystem::is_regular_file(status)) {
            throw Error(ExitCode::failure,
                        target.string() + ": exists and is not a regular file; not replaced");
        }
        const bool same_content = read_file(target) == file.content;
        struct stat st {};
        const bool same_mode =
            ::stat(target.c_str(), &st) == 0 && (st.st_mode & 07777) == file.mode;
        if (!same_content && !options.force) {
            throw Error(ExitCode::failure, target.string() +
                                               ": exists with other content; not replaced (use "
                                               "--force to replace it)");
        }
        // Same content with another mode (a hook that lost its execute bit) is repaired.
        steps.push_back(
            {&file, target, same_content && same_mode ? Action::unchanged : Action::replace});
    }

    std::vector<std::string> report;
    for (const auto& step : steps) {
        const std::string path = step.target.string();
        if (step.action == Action::unchanged) {
            report.push_back("unchanged " + path);
        } else if (options.dry_run) {
            report.push_back(step.action == Action::write ? "would write " + path
                                                          : "would replace " + path);
        } else {
            create_parent_directories(step.target.parent_path());
            write_file_atomic(step.target, step.file->content, step.file->mode, true);
            report.push_back(step.action == Action::write ? "wrote " + path : "replaced " + path);
        }
    }
    return report;
}

std::filesystem::path current_executable() {
    std::error_code ec;
    auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
        throw Error(ExitCode::failure,
                    "/proc/self/exe: cannot read: " + ec.message() + " (give --danehook)");
    return path;
}

}  // namespace danehook
