#include "providers/bindfile/bindfile_provider.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "danehook/command.hpp"
#include "danehook/dns_name.hpp"
#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "providers/bindfile/zone_scanner.hpp"

namespace danehook::bindfile {
namespace {

constexpr std::uint32_t max_ttl = 0x7FFFFFFF;  // RFC 2181 section 8

bool has_suffix(const std::filesystem::path& path, std::string_view suffix) {
    return path.string().ends_with(suffix);
}

// Characters that would end or escape the quoted file name of a $INCLUDE line.
void require_includable(const std::filesystem::path& path, const std::string& key) {
    for (char c : path.string()) {
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\0') {
            throw std::invalid_argument(
                key + ": the path must not contain quotes, backslashes or line breaks");
        }
    }
}

void require_placeholders(const std::vector<std::string>& argv,
                          const std::set<std::string>& allowed, const std::string& key) {
    for (const auto& argument : argv) {
        std::size_t position = 0;
        while ((position = argument.find('{', position)) != std::string::npos) {
            auto close = argument.find('}', position);
            if (close == std::string::npos) break;
            auto name = argument.substr(position, close - position + 1);
            if (allowed.count(name) == 0) {
                std::string list;
                for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                throw std::invalid_argument(key + ": unknown placeholder " + name +
                                            " (known here: " + list + ")");
            }
            position = close + 1;
        }
    }
}

std::string substitute(std::string argument, const std::string& placeholder,
                       const std::string& value) {
    std::size_t position = 0;
    while ((position = argument.find(placeholder, position)) != std::string::npos) {
        argument.replace(position, placeholder.size(), value);
        position += value.size();
    }
    return argument;
}

// The first lines a failed program printed, for the error message.
std::string program_output(const CommandResult& result) {
    std::string lines;
    int count = 0;
    for (const std::string* stream : {&result.errors, &result.output}) {
        std::size_t start = 0;
        while (start < stream->size() && count < 6) {
            auto end = stream->find('\n', start);
            if (end == std::string::npos) end = stream->size();
            auto line = stream->substr(start, end - start);
            if (line.find_first_not_of(" \t\r") != std::string::npos) {
                lines += (lines.empty() ? "" : " | ") + line;
                ++count;
            }
            start = end + 1;
        }
    }
    return lines;
}

std::string describe_failure(const CommandResult& result) {
    if (result.timed_out) return "timed out";
    std::string text = result.exit_status >= 0
                           ? "exited with status " + std::to_string(result.exit_status)
                           : "was killed by a signal";
    auto output = program_output(result);
    if (!output.empty()) text += ": " + output;
    return text;
}

std::string joined(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
    return text;
}

bool same_record_data(const TlsaRecord& a, const TlsaRecord& b) {
    return a.owner == b.owner && a.rdata == b.rdata;
}

std::vector<TlsaRecord> sorted(std::vector<TlsaRecord> records) {
    std::sort(records.begin(), records.end());
    return records;
}

std::optional<std::vector<std::string>> command_setting(const Settings& settings,
                                                        const std::string& key) {
    if (!settings.has(key)) return std::nullopt;
    auto argv = settings.strings(key);
    if (argv.size() == 1) {
        const auto& word = argv[0];
        if (word == "off" || word == "false" || word == "none" || word == "no" || word.empty())
            argv.clear();
    }
    return argv;
}

// The managed records after the change set: deletions match owner and data (any TTL), an
// addition of a present record only updates its TTL. Records outside the managed area
// (`foreign`) cannot be deleted here.
std::vector<TlsaRecord> merged(const std::vector<TlsaRecord>& current, const ChangeSet& changes,
                               const std::vector<TlsaRecord>& foreign) {
    std::vector<TlsaRecord> desired = current;
    for (const auto& deletion : changes.deletions) {
        const auto& target = deletion.record;
        auto matches = [&](const TlsaRecord& r) { return same_record_data(r, target); };
        if (std::erase_if(desired, matches) > 0) continue;
        if (std::any_of(foreign.begin(), foreign.end(), matches)) {
            throw ProviderError(ProviderFailure::rejected,
                                "cannot delete " + target.owner + " TLSA " +
                                    target.rdata.presentation() +
                                    ": it is in the zone file outside the area danehook "
                                    "manages; remove it by hand");
        }
        log::debug("bindfile: " + target.owner + " TLSA " + target.rdata.presentation() +
                   " is already absent");
    }
    for (const auto& addition : changes.additions) {
        auto existing = std::find_if(desired.begin(), desired.end(), [&](const TlsaRecord& r) {
            return same_record_data(r, addition);
        });
        if (existing != desired.end()) {
            existing->ttl = addition.ttl;
        } else {
            desired.push_back(addition);
        }
    }
    std::sort(desired.begin(), desired.end());
    return desired;
}

// The permission bits of `path`, or `fallback` when it does not exist.
mode_t mode_or(const std::filesystem::path& path, mode_t fallback) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : fallback;
}

std::string inline_block(const std::vector<TlsaRecord>& records) {
    return "; " + std::string(begin_marker_word) +
           " TLSA records: danehook rewrites this block, edit its configuration instead\n" +
           format_tlsa_lines(records) + "; " + std::string(end_marker_word) + " TLSA records\n";
}

void sort_by_offset(std::vector<Replacement>& replacements) {
    std::sort(replacements.begin(), replacements.end(),
              [](const auto& a, const auto& b) { return a.offset < b.offset; });
}

}  // namespace

void BindFileConfig::validate() const {
    if (zone_file.empty()) throw std::invalid_argument("zone_file: is required");
    if (has_suffix(zone_file, ".signed")) {
        throw std::invalid_argument(
            "zone_file: " + zone_file.string() +
            " is the signed copy that BIND writes itself for inline-signing (it re-signs from the "
            "unsigned "
            "source and would discard an edit); point zone_file at the unsigned source file");
    }
    if (mode == Mode::include) {
        if (tlsa_file.empty())
            throw std::invalid_argument("tlsa_file: is required in include mode");
        if (tlsa_file == zone_file)
            throw std::invalid_argument("tlsa_file: must differ from zone_file");
        require_includable(tlsa_file, "tlsa_file");
    } else if (!tlsa_file.empty()) {
        throw std::invalid_argument("tlsa_file: is only used in include mode (mode: include)");
    }
    if (sign_command.empty() != !signed_file.has_value()) {
        throw std::invalid_argument(
            sign_command.empty() ? "signed_file: needs sign_command"
                                 : "sign_command: needs signed_file (where the signed zone goes)");
    }
    if (signed_file && (*signed_file == zone_file || *signed_file == tlsa_file)) {
        throw std::invalid_argument("signed_file: must differ from zone_file and tlsa_file");
    }
    if (!sign_command.empty()) {
        bool writes_output =
            std::any_of(sign_command.begin(), sign_command.end(),
                        [](const auto& a) { return a.find("{signed}") != std::string::npos; });
        if (!writes_output)
            throw std::invalid_argument("sign_command: must write the signed zone to {signed}");
    }
    require_placeholders(check_command, {"{zone}", "{file}"}, "check_command");
    require_placeholders(sign_command, {"{zone}", "{file}", "{signed}"}, "sign_command");
    require_placeholders(reload_command, {"{zone}"}, "reload_command");
    require_placeholders(freeze_command, {"{zone}"}, "freeze_command");
    require_placeholders(thaw_command, {"{zone}"}, "thaw_command");
    if (!freeze_command.empty() && thaw_command.empty()) {
        throw std::invalid_argument(
            "thaw_command: is needed with freeze_command (a frozen zone takes no updates)");
    }
}

BindFileConfig config_from_settings(const Settings& settings) {
    BindFileConfig config;
    try {
        config.zone = canonical_name(settings.required_string("zone"));
    } catch (const std::invalid_argument& e) {
        throw settings.error("zone", e.what());
    }
    auto zone_file = settings.path("zone_file");
    if (!zone_file) throw settings.error("zone_file", "is required");
    config.zone_file = *zone_file;
    auto mode = settings.string("mode").value_or("include");
    if (mode == "include") {
        config.mode = Mode::include;
    } else if (mode == "inline") {
        config.mode = Mode::inline_block;
    } else {
        throw settings.error("mode", "must be include or inline, not '" + mode + "'");
    }
    if (auto tlsa_file = settings.path("tlsa_file")) config.tlsa_file = *tlsa_file;
    if (auto format = settings.string("serial_format")) {
        try {
            config.serial_format = parse_serial_format(*format);
        } catch (const std::invalid_argument& e) {
            throw settings.error("serial_format", e.what());
        }
    }
    if (auto argv = command_setting(settings, "check_command")) config.check_command = *argv;
    if (auto argv = command_setting(settings, "sign_command")) config.sign_command = *argv;
    if (auto argv = command_setting(settings, "reload_command")) config.reload_command = *argv;
    if (auto argv = command_setting(settings, "freeze_command")) config.freeze_command = *argv;
    if (auto argv = command_setting(settings, "thaw_command")) config.thaw_command = *argv;
    config.signed_file = settings.path("signed_file");
    config.dynamic = settings.boolean("dynamic", false);
    if (auto seconds = settings.integer("command_timeout", 1, 3600))
        config.command_timeout = std::chrono::seconds(*seconds);
    if (auto seconds = settings.integer("lock_timeout", 0, 3600))
        config.lock_timeout = std::chrono::seconds(*seconds);
    try {
        config.validate();
    } catch (const std::invalid_argument& e) {
        std::string message = e.what();
        auto colon = message.find(": ");
        throw settings.error(message.substr(0, colon), message.substr(colon + 2));
    }
    return config;
}

BindFileProvider::BindFileProvider(BindFileConfig config, std::shared_ptr<const Clock> clock)
    : config_(std::move(config)), clock_(std::move(clock)) {
    config_.validate();
}

bool BindFileProvider::is_dynamic() const {
    if (config_.dynamic) return true;
    auto journal = config_.zone_file;
    journal += ".jnl";
    std::error_code ec;
    return std::filesystem::exists(journal, ec);
}

void BindFileProvider::require_zone(const std::string& zone) const {
    if (zone != config_.zone) {
        throw ProviderError(ProviderFailure::configuration,
                            "bindfile provider for " + config_.zone + " (" +
                                config_.zone_file.string() + ") asked about zone " + zone);
    }
}

void BindFileProvider::validate_record(const TlsaRecord& record) const {
    // canonical_name admits letters, digits, '-', '_', '*' and dots only: nothing that means
    // something in a zone file (';', '$', '(', '"', '\\', blanks, line breaks).
    std::string owner;
    try {
        owner = canonical_name(record.owner);
    } catch (const std::invalid_argument& e) {
        throw ProviderError(ProviderFailure::rejected,
                            std::string("refusing record for the zone file: ") + e.what());
    }
    if (owner != record.owner) {
        throw ProviderError(
            ProviderFailure::rejected,
            "refusing record owner '" + record.owner + "': not in canonical form (" + owner + ")");
    }
    if (!is_in_zone(owner, config_.zone)) {
        throw ProviderError(ProviderFailure::rejected, "refusing record " + owner +
                                                           ": outside the zone " + config_.zone +
                                                           " of " + config_.zone_file.string());
    }
    if (record.rdata.data.empty()) {
        throw ProviderError(ProviderFailure::rejected,
                            "refusing record " + owner + ": empty certificate association data");
    }
    if (record.ttl > max_ttl) {
        throw ProviderError(ProviderFailure::rejected, "refusing record " + owner + ": TTL " +
                                                           std::to_string(record.ttl) +
                                                           " is above 2^31-1");
    }
}

std::string BindFileProvider::zone_for(const std::string& owner,
                                       const std::string& configured_zone) {
    if (!configured_zone.empty()) {
        std::string zone;
        try {
            zone = canonical_name(configured_zone);
        } catch (const std::invalid_argument& e) {
            throw ProviderError(ProviderFailure::configuration, e.what());
        }
        require_zone(zone);
    }
    if (!is_in_zone(owner, config_.zone)) {
        throw ProviderError(
            ProviderFailure::configuration,
            owner + " is not in the zone " + config_.zone + " that this bindfile provider edits");
    }
    return config_.zone;
}

namespace {

template <typename Function>
auto as_provider_errors(Function&& function) -> decltype(function()) {
    try {
        return function();
    } catch (const ZoneSyntaxError& e) {
        throw ProviderError(ProviderFailure::configuration, e.what());
    } catch (const ProviderError&) {
        throw;
    } catch (const Error& e) {
        throw ProviderError(ProviderFailure::transient, e.what());
    }
}

}  // namespace

std::vector<PublishedRecord> BindFileProvider::list(const std::string& zone,
                                                    const std::string& owner) {
    require_zone(zone);
    return as_provider_errors([&] {
        ZoneScanRequest request;
        request.zone_file = config_.zone_file;
        request.zone = config_.zone;
        request.find_block = config_.mode == Mode::inline_block;
        if (config_.mode == Mode::include) request.include_target = config_.tlsa_file;
        request.owners.insert(owner);
        ZoneScan scan = scan_zone(request);
        std::vector<TlsaRecord> managed;
        if (config_.mode == Mode::include) {
            if (!scan.include_found) {
                throw ProviderError(ProviderFailure::configuration,
                                    config_.zone_file.string() + " does not include " +
                                        config_.tlsa_file.string() + "; add the line: $INCLUDE \"" +
                                        config_.tlsa_file.string() + "\"");
            }
            managed = read_tlsa_file(config_.tlsa_file, config_.zone, scan.include_origin);
        } else {
            managed = scan.managed;
        }
        std::vector<PublishedRecord> result;
        for (auto& record : managed) {
            if (record.owner == owner) result.push_back(PublishedRecord{record, managed_id});
        }
        for (auto& record : scan.foreign) result.push_back(PublishedRecord{record, ""});
        return result;
    });
}

void BindFileProvider::run_step(const char* what, const std::vector<std::string>& argv,
                                const std::string& file, const std::string& signed_output) const {
    std::vector<std::string> command;
    for (const auto& argument : argv) {
        auto text = substitute(argument, "{zone}", without_trailing_dot(config_.zone));
        text = substitute(text, "{file}", file);
        text = substitute(text, "{signed}", signed_output);
        command.push_back(text);
    }
    CommandOptions options;
    options.timeout = config_.command_timeout;
    log::debug(std::string(what) + ": " + joined(command));
    auto result = run_command(command, options);
    if (!result.ok()) {
        throw ProviderError(ProviderFailure::rejected,
                            std::string(what) + " command '" + joined(command) + "' " +
                                describe_failure(result) +
                                "; the zone files were left as they were");
    }
}

bool BindFileProvider::run_reload(const char* what, const std::vector<std::string>& argv,
                                  std::string& failure) const {
    std::vector<std::string> command;
    for (const auto& argument : argv)
        command.push_back(substitute(argument, "{zone}", without_trailing_dot(config_.zone)));
    CommandOptions options;
    options.timeout = config_.command_timeout;
    log::debug(std::string(what) + ": " + joined(command));
    auto result = run_command(command, options);
    if (result.ok()) return true;
    failure = std::string(what) + " command '" + joined(command) + "' " + describe_failure(result);
    return false;
}

BindFileProvider::Outcome BindFileProvider::attempt(const ChangeSet& changes,
                                                    Installation& installation) {
    const bool include_mode = config_.mode == Mode::include;
    ZoneScanRequest request;
    request.zone_file = config_.zone_file;
    request.zone = config_.zone;
    request.find_block = !include_mode;
    if (include_mode) request.include_target = config_.tlsa_file;
    for (const auto& record : changes.additions) request.owners.insert(record.owner);
    for (const auto& record : changes.deletions) request.owners.insert(record.record.owner);
    if (config_.signed_file) identity_of(*config_.signed_file);  // refuses a symbolic link early
    ZoneScan scan = scan_zone(request);

    std::vector<TlsaRecord> current;
    std::optional<FileIdentity> tlsa_identity;
    if (include_mode) {
        if (!scan.include_found) {
            throw ProviderError(ProviderFailure::configuration,
                                config_.zone_file.string() + " does not include " +
                                    config_.tlsa_file.string() + "; add the line: $INCLUDE \"" +
                                    config_.tlsa_file.string() + "\"");
        }
        tlsa_identity = identity_of(config_.tlsa_file);
        current = read_tlsa_file(config_.tlsa_file, config_.zone, scan.include_origin);
    } else {
        current = scan.managed;
    }

    std::vector<TlsaRecord> desired = merged(current, changes, scan.foreign);
    if (desired == sorted(current)) {
        log::info("bindfile: " + config_.zone_file.string() +
                  " already holds the requested TLSA records");
        return Outcome::unchanged;
    }

    SerialStep step = next_serial(scan.serial, config_.serial_format, clock_->now());
    if (step.warning)
        log::warning("bindfile: " + config_.zone_file.string() + ": " + *step.warning);

    const auto owner = std::make_optional(std::make_pair(scan.uid, scan.gid));
    const Replacement serial{scan.serial_offset, scan.serial_length, std::to_string(step.serial)};
    const bool need_assembled = !config_.check_command.empty() || !config_.sign_command.empty();

    StagedFile zone_new(config_.zone_file);
    zone_new.open();
    std::unique_ptr<StagedFile> tlsa_new;
    std::unique_ptr<StagedFile> check_view;
    std::vector<CopyTarget> targets;
    if (include_mode) {
        tlsa_new = std::make_unique<StagedFile>(config_.tlsa_file);
        tlsa_new->open();
        tlsa_new->write("; TLSA records of " + config_.zone +
                        " managed by danehook: this file is rewritten on every change.\n");
        tlsa_new->write(format_tlsa_lines(desired));
        // A new TLSA file gets the zone file's mode and owner, so that named can read it.
        mode_t tlsa_mode = mode_or(config_.tlsa_file, scan.mode);
        tlsa_new->finish(tlsa_mode, owner);
        targets.push_back(CopyTarget{&zone_new, {serial}});
        if (need_assembled) {
            // A copy of the new zone that includes the new TLSA file, for the checker and signer.
            check_view = std::make_unique<StagedFile>(config_.zone_file, "check");
            check_view->open();
            Replacement include{scan.include_name_offset, scan.include_name_length,
                                "\"" + std::filesystem::absolute(tlsa_new->path()).string() + "\""};
            std::vector<Replacement> replacements{serial, include};
            sort_by_offset(replacements);
            targets.push_back(CopyTarget{check_view.get(), replacements});
        }
    } else {
        auto block = inline_block(desired);
        Replacement managed =
            scan.block_found
                ? Replacement{scan.block_begin, scan.block_end - scan.block_begin, block}
                : Replacement{scan.size, 0, (scan.ends_with_newline ? "" : "\n") + block};
        targets.push_back(CopyTarget{&zone_new, {serial, managed}});
        sort_by_offset(targets.back().replacements);
    }
    Digest copied = copy_with_replacements(config_.zone_file, targets);
    if (copied != scan.digest) return Outcome::raced;
    zone_new.finish(scan.mode, owner);
    if (check_view) check_view->finish(0600, std::nullopt);
    const std::string assembled =
        include_mode ? (check_view ? check_view->path().string() : "") : zone_new.path().string();

    if (!config_.check_command.empty()) run_step("check", config_.check_command, assembled);
    std::unique_ptr<StagedFile> signed_new;
    if (!config_.sign_command.empty()) {
        signed_new = std::make_unique<StagedFile>(*config_.signed_file);
        run_step("sign", config_.sign_command, assembled, signed_new->path().string());
        if (!identity_of(signed_new->path())) {
            throw ProviderError(ProviderFailure::rejected,
                                "sign command did not write " + signed_new->path().string());
        }
        signed_new->finish(mode_or(*config_.signed_file, scan.mode), owner);
    }
    if (before_install_hook_) before_install_hook_();

    // Someone else may have written the files since they were read.
    if (identity_of(config_.zone_file) != std::optional(scan.identity)) return Outcome::raced;
    if (include_mode && identity_of(config_.tlsa_file) != tlsa_identity) return Outcome::raced;

    if (tlsa_new) installation.install(*tlsa_new);
    installation.install(zone_new);
    if (signed_new) installation.install(*signed_new);
    log::info("bindfile: " + config_.zone_file.string() + ": serial " +
              std::to_string(scan.serial) + " -> " + std::to_string(step.serial) + ", " +
              std::to_string(desired.size()) + " managed TLSA record(s)");
    return Outcome::installed;
}

void BindFileProvider::apply(const ChangeSet& changes) {
    require_zone(changes.zone);
    for (const auto& record : changes.additions) validate_record(record);
    for (const auto& record : changes.deletions) validate_record(record.record);
    if (changes.empty()) return;

    as_provider_errors([&] {
        ZoneLock lock(config_.zone_file, config_.lock_timeout);
        bool dynamic = is_dynamic();
        if (dynamic) {
            const std::string why = config_.dynamic
                                        ? "configured as dynamic"
                                        : "it has a journal (.jnl), so BIND treats it as dynamic";
            if (config_.freeze_command.empty()) {
                throw ProviderError(ProviderFailure::rejected,
                                    config_.zone_file.string() + ": " + why +
                                        " and freeze_command is off; danehook edits a dynamic "
                                        "zone's file only between 'rndc freeze' and 'rndc thaw'. "
                                        "Use the rfc2136 provider to change it by DNS UPDATE");
            }
            std::string failure;
            if (!run_reload("freeze", config_.freeze_command, failure)) {
                // A static zone with ixfr-from-differences has a journal too; BIND answers
                // "not dynamic" to the freeze, and the zone is edited like any static one.
                if (!config_.dynamic && failure.find("not dynamic") != std::string::npos) {
                    log::info("bindfile: " + config_.zone_file.string() +
                              " has a journal but BIND says the zone is not dynamic "
                              "(ixfr-from-differences); editing it as a static zone");
                    dynamic = false;
                } else {
                    throw ProviderError(ProviderFailure::rejected,
                                        config_.zone_file.string() + ": " + why + "; " + failure +
                                            ", and danehook edits a dynamic zone's file only while "
                                            "it is frozen. Use the rfc2136 provider to change it "
                                            "by DNS UPDATE");
                }
            }
        }
        const auto& reload = dynamic ? config_.thaw_command : config_.reload_command;
        bool reload_ran = false;
        try {
            for (int attempt_number = 1;; ++attempt_number) {
                Installation installation;
                Outcome outcome = Outcome::unchanged;
                try {
                    outcome = attempt(changes, installation);
                } catch (...) {
                    auto errors = installation.roll_back();
                    if (!errors.empty())
                        log::error("bindfile: putting the previous files back: " + errors);
                    throw;
                }
                if (outcome == Outcome::unchanged) break;
                if (outcome == Outcome::raced) {
                    if (attempt_number >= config_.max_attempts) {
                        throw ProviderError(ProviderFailure::transient,
                                            config_.zone_file.string() +
                                                " kept changing while danehook edited it (" +
                                                std::to_string(attempt_number) +
                                                " attempts); try again later");
                    }
                    log::warning("bindfile: " + config_.zone_file.string() +
                                 " changed while danehook edited it; starting over");
                    continue;
                }
                if (reload.empty()) break;
                std::string failure;
                reload_ran = true;
                if (run_reload(dynamic ? "thaw" : "reload", reload, failure)) break;
                auto errors = installation.roll_back();
                std::string again;
                bool restored = run_reload(dynamic ? "thaw" : "reload", reload, again);
                std::string message = config_.zone_file.string() + ": " + failure + "; ";
                if (errors.empty()) {
                    message += "the previous files were put back";
                } else {
                    message += "putting the previous files back failed: " + errors;
                }
                message += restored ? " and reloaded" : ", but reloading them failed too: " + again;
                throw ProviderError(ProviderFailure::transient, message);
            }
        } catch (...) {
            if (dynamic && !reload_ran) {
                std::string failure;
                if (!run_reload("thaw", config_.thaw_command, failure))
                    log::error("bindfile: " + failure);
            }
            throw;
        }
        if (dynamic && !reload_ran) {
            std::string failure;
            if (!run_reload("thaw", config_.thaw_command, failure)) {
                throw ProviderError(ProviderFailure::transient,
                                    config_.zone_file.string() + ": " + failure);
            }
        }
    });
}

}  // namespace danehook::bindfile

namespace danehook {

void register_bindfile_provider(ProviderRegistry& registry) {
    registry.add(ProviderDescriptor{
        "bindfile",
        "TLSA records in a BIND zone file on this host (checked, optionally signed, reloaded with "
        "rndc)",
        {
            {"zone", "the zone's name (example.net)", true},
            {"zone_file", "the zone file named loads (the unsigned source with inline-signing)",
             true},
            {"mode",
             "include (default: danehook owns tlsa_file, which the zone $INCLUDEs) or inline (a "
             "marked block in zone_file)",
             false},
            {"tlsa_file", "include mode: the file of TLSA records danehook owns", false},
            {"serial_format", "date (YYYYMMDDnn, default), unixtime or increment", false},
            {"check_command",
             "argv run on the new zone before it is used; {zone}, {file} (default: named-checkzone "
             "{zone} {file}; off to skip)",
             false},
            {"sign_command",
             "argv that signs {file} into {signed}, e.g. dnssec-signzone (default: off)", false},
            {"signed_file", "where the signed zone goes (with sign_command)", false},
            {"reload_command",
             "argv run after the files are replaced (default: rndc reload {zone}; off to skip)",
             false},
            {"dynamic",
             "the zone takes dynamic updates: edit it only between freeze and thaw (default: "
             "detected from a .jnl journal)",
             false},
            {"freeze_command", "argv for dynamic zones (default: rndc freeze {zone})", false},
            {"thaw_command", "argv for dynamic zones (default: rndc thaw {zone})", false},
            {"command_timeout", "seconds each command may take (default 120)", false},
            {"lock_timeout",
             "seconds to wait for another danehook run editing the same zone file (default 60)",
             false},
        },
        [](const ProviderContext& context) -> std::unique_ptr<Provider> {
            return std::make_unique<bindfile::BindFileProvider>(
                bindfile::config_from_settings(context.settings), std::make_shared<WallClock>());
        },
        {}});
}

}  // namespace danehook
