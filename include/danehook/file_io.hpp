// Crash-safe file writes and careful reads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>

namespace danehook {

// What identifies one version of a file's content without reading it: atomic replacement
// (rename) changes the inode, an in-place edit the modification time or size.
struct FileStamp {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t size = 0;
    bool operator==(const FileStamp&) const = default;
};

// Reads a whole file. Throws InputError "<path>: <reason>". `stamp`, when given, receives the
// stamp of the file that was read (from the open descriptor, so it matches the content).
std::string read_file(const std::filesystem::path& path, FileStamp* stamp = nullptr);
// The stamp of a file (following symlinks), or nullopt when it cannot be stat()ed.
std::optional<FileStamp> file_stamp(const std::filesystem::path& path);

// Writes `content` to a temporary file in the same directory, fsyncs it, renames it over
// `path` and fsyncs the directory. Refuses to replace a symbolic link. `mode` applies to new
// files; an existing file keeps its mode and owner unless `force_mode`.
// Throws Error(ExitCode::failure) naming the path.
void write_file_atomic(const std::filesystem::path& path, const std::string& content,
                       mode_t mode = 0600, bool force_mode = false);

void fsync_directory(const std::filesystem::path& directory);
// Eight random letters and digits, for names of temporary files beside their target (created
// with O_EXCL, so the randomness only avoids collisions; it is not a secret).
std::string random_suffix();

// Creates the directory (and parents) with `mode` when missing; refuses a symlink.
void ensure_private_directory(const std::filesystem::path& directory, mode_t mode = 0700);

// Warning text when a credentials file is readable by group or others, else nullopt.
std::optional<std::string> permissive_credentials_warning(const std::filesystem::path& path);

}  // namespace danehook
