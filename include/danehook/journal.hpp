// The crash-safe record of what danehook published, per certificate entry.
//
// One JSON file per certificate under <state_dir>/journal/, written atomically (temporary file,
// fsync, rename, fsync of the directory), mode 0600, with a schema version. A marker per
// certificate under <state_dir>/due/ holds the earliest time `run` has work for it, so a run
// with nothing due reads one small directory and nothing else.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "danehook/clock.hpp"
#include "danehook/file_io.hpp"
#include "danehook/tlsa.hpp"

namespace danehook {

inline constexpr int journal_schema_version = 1;

enum class RecordState {
    publishing,   // intent written; the provider may or may not have it yet
    published,    // the provider accepted it
    withdrawing,  // deletion intent written; the provider may or may not still have it
};

struct JournalRecord {
    std::string provider;  // provider name from the configuration
    std::string zone;      // canonical
    TlsaRecord record;
    RecordState state = RecordState::publishing;
    bool desired = true;       // false: scheduled for withdrawal
    bool preexisting = false;  // was at the provider before danehook added it: never deleted
    // False when the record was queued without seeing the provider's records (the provider was
    // unreachable at deploy time): if the provider then already has it, it counts as pre-existing.
    bool origin_checked = true;
    std::string role;          // "current" or "next" (pre-published next key)
    EpochSeconds added_at = 0;
    EpochSeconds published_at = 0;
    EpochSeconds confirmed_at = 0;  // first seen on every authoritative server
    EpochSeconds retired_at = 0;    // when it stopped being desired
    std::string provider_id;
    std::string last_error;

    // Identity of a record for comparisons: provider, owner and RDATA (the TTL may change).
    bool same_record(const JournalRecord& other) const {
        return provider == other.provider && record.owner == other.record.owner && record.rdata == other.record.rdata;
    }
};

// Which records match a certificate: "owner|U S M HEX" keys.
struct CertificateIdentity {
    std::string certificate;  // SHA-256 of the certificate DER (hex)
    std::string key;          // SHA-256 of the SPKI DER (hex)
    std::vector<std::string> records;
    bool empty() const { return certificate.empty() && key.empty(); }
};

// A new certificate waiting for its records to be safe before `install` and `reload_command`.
struct PendingActivation {
    CertificateIdentity identity;
    // Where the new certificate's files were at deploy time, for `install`.
    std::string certificate_file, chain_file, key_file;
    EpochSeconds since = 0;
    int attempts = 0;
    std::string last_error;
};

struct CertificateJournal {
    std::string name;
    CertificateIdentity deployed;  // what the service presents (as far as danehook knows)
    std::optional<PendingActivation> activation;
    std::vector<JournalRecord> records;
    std::string last_error;
    EpochSeconds last_error_at = 0;
    EpochSeconds updated_at = 0;
};

std::string record_key(const std::string& owner, const TlsaRdata& rdata);
const char* to_string(RecordState state);

// Serialisation, exposed for tests and fuzzing. Throws Error naming `origin` on bad input.
std::string journal_to_json(const CertificateJournal& journal);
CertificateJournal journal_from_json(const std::string& text, const std::string& origin);

class JournalStore {
public:
    // Creates <state_dir>, journal/ and due/ (0700) when missing; refuses symlinks.
    explicit JournalStore(std::filesystem::path state_dir);

    // nullopt when there is no journal of that name. `stamp` receives the file's stamp.
    std::optional<CertificateJournal> load(const std::string& name, FileStamp* stamp = nullptr) const;
    std::filesystem::path journal_path(const std::string& name) const;
    // Writes the journal; `next_due` nullopt removes the due marker (nothing for `run` to do).
    void save(const CertificateJournal& journal, std::optional<EpochSeconds> next_due);
    std::vector<std::string> names() const;
    // Certificates with a due marker, and the time in it.
    std::vector<std::pair<std::string, EpochSeconds>> due() const;
    const std::filesystem::path& state_dir() const { return state_dir_; }

private:
    std::filesystem::path state_dir_;
};

// An exclusive lock on the state directory (flock on <state_dir>/lock), so two danehook
// processes never interleave. A lock held by a dead process is released by the kernel.
class StateLock {
public:
    // Waits up to `timeout`; throws LockError naming the holder's pid when it cannot lock.
    StateLock(const std::filesystem::path& state_dir, std::chrono::seconds timeout);
    ~StateLock();
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace danehook
