// The rollover engine: what `deploy`, `run`, `status` and `plan` do.
//
// deploy: publish the new certificate's records (and a pre-generated next key's), schedule the
//         withdrawal of records no longer wanted, install + reload at once only when safe.
// run:    retry publications, confirm them on every authoritative server, perform deferred
//         installs/reloads when the new records are safe, withdraw records whose replacements
//         have been served everywhere for 2 x TTL + hold_margin.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "danehook/clock.hpp"
#include "danehook/config.hpp"
#include "danehook/journal.hpp"
#include "danehook/provider.hpp"

namespace danehook {

// Where a deploy's certificate comes from: the ACME client's environment or the command line.
struct DeploySource {
    std::string client;  // "certbot", "acme.sh" or "command line" (for messages)
    std::string certificate_name;          // --name
    std::optional<std::filesystem::path> lineage;  // certbot RENEWED_LINEAGE
    std::vector<std::string> domains;      // RENEWED_DOMAINS, Le_Domain
    CertificateFiles files;                // acme.sh CERT_PATH etc., or --cert/--chain/--key
};

// Reads certbot's and acme.sh's hook variables through `getenv`.
DeploySource deploy_source_from_environment(const std::function<const char*(const char*)>& getenv);

// The configured entry the source belongs to. Throws ConfigError when none matches.
const CertificateEntry& match_certificate_entry(const Config& config, const DeploySource& source);

struct EngineOptions {
    bool dry_run = false;  // report, touch nothing (no provider calls, no journal writes)
    bool force = false;    // override the live-service interlock
};

// Asked before a withdrawal: would the TLSA set left at `owner` still match what the live
// service presents? Returns an error text to refuse, or "" to allow.
using WithdrawalInterlock = std::function<std::string(const CertificateEntry& entry, const std::string& owner,
                                                      const std::vector<TlsaRdata>& remaining)>;

// Asked after a deferred install/reload put a new certificate in service (`identity`): does the
// live service present it? Returns a warning text, or "" when all is well.
using ActivationCheck = std::function<std::string(const CertificateEntry& entry, const CertificateIdentity& identity)>;

struct EngineReport {
    std::vector<std::string> actions;   // what was done (or would be, in a dry run)
    std::vector<std::string> problems;  // failures that leave work for a later run
    ExitCode exit_code = ExitCode::ok;
};

class Engine {
public:
    Engine(const Config& config, const Clock& clock, EngineOptions options = {});
    ~Engine();

    EngineReport deploy(const DeploySource& source);
    EngineReport run();
    // Everything the journal knows, per certificate, as JSON (status --json) or text.
    std::string status_json();
    std::string status_text();

    void set_interlock(WithdrawalInterlock interlock) { interlock_ = std::move(interlock); }
    void set_activation_check(ActivationCheck check) { activation_check_ = std::move(check); }

private:
    struct Work;
    Provider& provider(const std::string& name);
    // From the configuration, or loaded on demand from certificates_dir.
    const CertificateEntry* entry_for(const std::string& name);
    const CertificateEntry& find_entry(const DeploySource& source);
    std::set<std::string> configured_names() const;
    std::vector<std::string> render_statuses(bool json_mode);
    EngineReport run_one(const CertificateEntry& entry, CertificateJournal& journal);
    std::string status_of(const CertificateEntry* entry, const CertificateJournal& journal, bool configured,
                          bool json_mode);

    const Config& config_;
    const Clock& clock_;
    EngineOptions options_;
    WithdrawalInterlock interlock_;
    ActivationCheck activation_check_;
    std::map<std::string, std::unique_ptr<Provider>> providers_;
    std::map<std::string, std::optional<CertificateEntry>> lazy_entries_;
};

// SIGKILLs the process at the Nth call when DANEHOOK_CRASH_AT=N is set (crash-injection tests);
// logs the step names when DANEHOOK_CRASH_TRACE is set.
void crash_point(const char* step);

}  // namespace danehook
