// File mechanics of the bindfile provider: reading a zone file once to learn what to change,
// copying it in chunks with byte-range replacements, staging new files beside the old ones,
// putting them in place with backups (and back again), and the per-zone lock.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "danehook/tlsa.hpp"

namespace danehook::bindfile {

// The comment lines that delimit the managed block in `inline` mode.
inline constexpr std::string_view begin_marker_word = "BEGIN danehook managed";
inline constexpr std::string_view end_marker_word = "END danehook managed";

// A file's identity and version, to notice a concurrent writer.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;

    bool operator==(const FileIdentity&) const = default;
};

// nullopt when the file does not exist. Throws Error for symbolic links and other failures.
std::optional<FileIdentity> identity_of(const std::filesystem::path& path);

using Digest = std::array<unsigned char, 32>;  // SHA-256

struct ZoneScanRequest {
    std::filesystem::path zone_file;
    std::string zone;                                     // canonical
    bool find_block = false;                              // inline mode: the managed block
    std::optional<std::filesystem::path> include_target;  // include mode: the $INCLUDE of this file
    std::set<std::string> owners;                         // collect TLSA records at these owners
};

struct ZoneScan {
    FileIdentity identity;
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    Digest digest{};
    std::uint64_t size = 0;
    bool ends_with_newline = true;

    std::uint32_t serial = 0;
    std::uint64_t serial_offset = 0;
    std::uint64_t serial_length = 0;

    // inline mode
    bool block_found = false;
    std::uint64_t block_begin = 0;
    std::uint64_t block_end = 0;
    std::vector<TlsaRecord> managed;

    // include mode
    bool include_found = false;
    std::uint64_t include_name_offset = 0;  // the file name token of the $INCLUDE line
    std::uint64_t include_name_length = 0;
    std::string include_origin;  // origin the included file is read with

    // TLSA records at the requested owners outside the managed area.
    std::vector<TlsaRecord> foreign;
};

// Reads the zone file once. Throws ZoneSyntaxError for files that do not parse or break the
// managed block's rules, Error for I/O failures.
ZoneScan scan_zone(const ZoneScanRequest& request);

// The TLSA records of a file danehook owns (include mode). Throws ZoneSyntaxError.
std::vector<TlsaRecord> read_tlsa_file(const std::filesystem::path& path, const std::string& zone,
                                       const std::string& origin, Digest* digest = nullptr);

Digest digest_of(std::string_view data);

// Zone-file lines for the records: absolute owner, TTL, IN, TLSA, hex in 64-digit groups.
std::string format_tlsa_lines(const std::vector<TlsaRecord>& records);

// Writes a new file with O_EXCL, in chunks; finish() applies mode and owner and fsyncs.
class StagedFile {
  public:
    // The temporary file is "<target>.danehook-new-<random>".
    explicit StagedFile(std::filesystem::path target, std::string_view kind = "new");
    ~StagedFile();  // removes the temporary file unless released
    StagedFile(const StagedFile&) = delete;
    StagedFile& operator=(const StagedFile&) = delete;

    // Creates the temporary file for writing here (not needed when a program writes it).
    void open();
    void write(std::string_view data);
    // Flushes, sets mode/owner, fsyncs and closes (opening the file first if a program wrote it).
    void finish(mode_t mode, std::optional<std::pair<uid_t, gid_t>> owner);

    const std::filesystem::path& path() const { return temporary_; }
    const std::filesystem::path& target() const { return target_; }
    void release() { released_ = true; }  // the file was renamed away

  private:
    void flush();

    std::filesystem::path target_;
    std::filesystem::path temporary_;
    int fd_ = -1;
    std::string buffer_;
    bool released_ = false;
};

struct Replacement {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::string text;
};

// Copies `source` to every output with that output's replacements (sorted, not overlapping;
// offset == file size appends). Returns the SHA-256 of the bytes read, so the caller can tell
// whether the file changed since it was scanned.
struct CopyTarget {
    StagedFile* file;
    std::vector<Replacement> replacements;
};
Digest copy_with_replacements(const std::filesystem::path& source,
                              std::vector<CopyTarget>& targets);

// Puts staged files in place, keeping each previous version as "<target>.danehook-prev", and
// can put the previous versions back.
class Installation {
  public:
    Installation() = default;
    ~Installation() = default;
    Installation(Installation&&) = default;
    Installation& operator=(Installation&&) = default;

    void install(StagedFile& staged);
    // Restores every replaced file (newest first); files that did not exist are removed.
    // Collects errors instead of stopping at the first; returns them ("" when none).
    std::string roll_back();
    bool empty() const { return installed_.empty(); }

  private:
    struct Installed {
        std::filesystem::path target;
        bool had_previous = false;
    };
    std::vector<Installed> installed_;
};

std::filesystem::path backup_path(const std::filesystem::path& target);

// An exclusive flock on "<zone file>.danehook-lock", waited for up to `timeout`.
class ZoneLock {
  public:
    ZoneLock(const std::filesystem::path& zone_file, std::chrono::milliseconds timeout);
    ~ZoneLock();
    ZoneLock(const ZoneLock&) = delete;
    ZoneLock& operator=(const ZoneLock&) = delete;

    static std::filesystem::path path_for(const std::filesystem::path& zone_file);

  private:
    int fd_ = -1;
};

}  // namespace danehook::bindfile
