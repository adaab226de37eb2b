// The `bindfile` provider: TLSA records kept in a BIND zone file on this machine.
//
// In `include` mode danehook owns a separate file of TLSA records that the zone file pulls in
// with $INCLUDE; in `inline` mode it owns a block between two marker comments inside the zone
// file. Every change bumps the SOA serial, is checked (named-checkzone) and optionally signed
// before it replaces the old files by rename, and is undone if BIND does not reload it.
// See docs/provider-bindfile.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "danehook/clock.hpp"
#include "danehook/provider.hpp"
#include "providers/bindfile/serial.hpp"
#include "providers/bindfile/zone_files.hpp"

namespace danehook::bindfile {

enum class Mode { include, inline_block };

struct BindFileConfig {
    std::string zone;  // canonical
    std::filesystem::path zone_file;
    Mode mode = Mode::include;
    std::filesystem::path tlsa_file;  // include mode
    SerialFormat serial_format = SerialFormat::date;
    // argv lists with {zone}, {file} and (sign_command) {signed} placeholders; empty = off.
    std::vector<std::string> check_command{"named-checkzone", "{zone}", "{file}"};
    std::vector<std::string> sign_command;
    std::optional<std::filesystem::path> signed_file;
    std::vector<std::string> reload_command{"rndc", "reload", "{zone}"};
    bool dynamic = false;  // also detected from a .jnl journal beside the zone file
    std::vector<std::string> freeze_command{"rndc", "freeze", "{zone}"};
    std::vector<std::string> thaw_command{"rndc", "thaw", "{zone}"};
    std::chrono::milliseconds command_timeout{120'000};
    std::chrono::milliseconds lock_timeout{60'000};
    int max_attempts = 3;  // full restarts when the zone file changes under us

    // Validates paths and commands. Throws std::invalid_argument naming the key.
    void validate() const;
};

// Reads the provider's settings (everything but the common keys). Throws ConfigError.
BindFileConfig config_from_settings(const Settings& settings);

class BindFileProvider : public Provider {
  public:
    BindFileProvider(BindFileConfig config, std::shared_ptr<const Clock> clock);

    std::string zone_for(const std::string& owner, const std::string& configured_zone) override;
    std::vector<PublishedRecord> list(const std::string& zone, const std::string& owner) override;
    void apply(const ChangeSet& changes) override;

    const BindFileConfig& config() const { return config_; }
    // Whether BIND treats the zone as dynamic (configured, or a journal exists).
    bool is_dynamic() const;

    // Test seam: runs after the new files are staged and checked, before they are put in place.
    void set_before_install_hook(std::function<void()> hook) {
        before_install_hook_ = std::move(hook);
    }

    static constexpr const char* managed_id = "managed";

  private:
    enum class Outcome { unchanged, installed, raced };
    Outcome attempt(const ChangeSet& changes, Installation& installation);
    void require_zone(const std::string& zone) const;
    void validate_record(const TlsaRecord& record) const;
    void run_step(const char* what, const std::vector<std::string>& argv,
                  const std::string& file = "", const std::string& signed_output = "") const;
    bool run_reload(const char* what, const std::vector<std::string>& argv,
                    std::string& failure) const;

    BindFileConfig config_;
    std::shared_ptr<const Clock> clock_;
    std::function<void()> before_install_hook_;
};

}  // namespace danehook::bindfile

namespace danehook {
// The registration hook named by providers/CMakeLists.txt.
void register_bindfile_provider(ProviderRegistry& registry);
}  // namespace danehook
