#include "danehook/engine.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "danehook/command.hpp"
#include "danehook/dns_name.hpp"
#include "danehook/error.hpp"
#include "danehook/file_io.hpp"
#include "danehook/log.hpp"
#include "danehook/status_cache.hpp"

namespace danehook {
namespace {

using RecordPredicate = std::function<bool(const JournalRecord&)>;

// Records of one provider and zone, handled with one change set.
using ZoneKey = std::pair<std::string, std::string>;  // provider name, zone

std::string describe(const JournalRecord& record) {
    return record.record.owner + " TLSA " + record.record.rdata.presentation();
}

std::string short_describe(const JournalRecord& record) {
    auto hex = record.record.rdata.hex();
    return record.record.owner + " " + record.record.rdata.params.to_string() + " " + hex.substr(0, 16) +
           (hex.size() > 16 ? "..." : "");
}

std::map<ZoneKey, std::vector<JournalRecord*>> group_by_zone(CertificateJournal& journal, const RecordPredicate& wanted) {
    std::map<ZoneKey, std::vector<JournalRecord*>> groups;
    for (auto& record : journal.records) {
        if (wanted(record)) groups[{record.provider, record.zone}].push_back(&record);
    }
    return groups;
}

std::set<std::string> owners_of(const std::vector<JournalRecord*>& records) {
    std::set<std::string> owners;
    for (const auto* record : records) owners.insert(record->record.owner);
    return owners;
}

const PublishedRecord* find_listed(const std::vector<PublishedRecord>& listed, const TlsaRecord& record) {
    for (const auto& item : listed) {
        if (item.record.owner == record.owner && item.record.rdata == record.rdata) return &item;
    }
    return nullptr;
}

// 2 x the largest TTL of any record danehook knows at the owner, plus the entry's margin.
EpochSeconds hold_seconds(const CertificateEntry& entry, const CertificateJournal& journal, const std::string& owner) {
    std::uint32_t ttl = entry.ttl;
    for (const auto& record : journal.records) {
        if (record.record.owner == owner) ttl = std::max(ttl, record.record.ttl);
    }
    return 2 * static_cast<EpochSeconds>(ttl) + entry.hold_margin;
}

std::optional<EpochSeconds> safe_at(const CertificateEntry& entry, const CertificateJournal& journal,
                                    const JournalRecord& record) {
    if (record.state != RecordState::published || record.confirmed_at == 0) return std::nullopt;
    return record.confirmed_at + hold_seconds(entry, journal, record.record.owner);
}

// When every record in `keys` is safe, or nullopt when one is not confirmed yet.
std::optional<EpochSeconds> all_safe_at(const CertificateEntry& entry, const CertificateJournal& journal,
                                        const std::vector<std::string>& keys) {
    EpochSeconds latest = 0;
    for (const auto& key : keys) {
        const JournalRecord* found = nullptr;
        for (const auto& record : journal.records) {
            if (record.desired && record_key(record.record.owner, record.record.rdata) == key) found = &record;
        }
        if (!found) return std::nullopt;
        auto when = safe_at(entry, journal, *found);
        if (!when) return std::nullopt;
        latest = std::max(latest, *when);
    }
    return latest;
}

// The replacements at the record's owner: when they have all been served everywhere for the
// hold, or nullopt while one is unconfirmed. An owner with no desired record has no replacement
// to wait for.
std::optional<EpochSeconds> replacements_safe_at(const CertificateEntry& entry, const CertificateJournal& journal,
                                                 const JournalRecord& retired) {
    std::vector<std::string> keys;
    for (const auto& record : journal.records) {
        if (record.desired && record.provider == retired.provider && record.record.owner == retired.record.owner) {
            keys.push_back(record_key(record.record.owner, record.record.rdata));
        }
    }
    if (keys.empty()) return EpochSeconds{0};
    return all_safe_at(entry, journal, keys);
}

std::set<std::string> protected_keys(const CertificateJournal& journal) {
    std::set<std::string> keys(journal.deployed.records.begin(), journal.deployed.records.end());
    if (journal.activation) keys.insert(journal.activation->identity.records.begin(), journal.activation->identity.records.end());
    return keys;
}

// The earliest time `run` has something to do for this certificate, nullopt for nothing.
std::optional<EpochSeconds> next_due(const CertificateEntry& entry, const CertificateJournal& journal, EpochSeconds now) {
    std::optional<EpochSeconds> due;
    auto consider = [&](EpochSeconds when) { due = due ? std::min(*due, when) : when; };
    for (const auto& record : journal.records) {
        if (record.state != RecordState::published) {
            consider(now);  // an unfinished publication or withdrawal
        } else if (record.desired && record.confirmed_at == 0) {
            consider(now);  // poll the authoritative servers
        } else if (!record.desired) {
            auto when = replacements_safe_at(entry, journal, record);
            consider(when ? *when : now);
        }
    }
    if (journal.activation) {
        auto when = all_safe_at(entry, journal, journal.activation->identity.records);
        consider(when && journal.activation->last_error.empty() ? *when : now);
    }
    return due;
}

std::string files_or_empty(const std::optional<std::filesystem::path>& path) { return path ? path->string() : ""; }

}  // namespace

void crash_point(const char* step) {
    static const long crash_at = [] {
        const char* value = std::getenv("DANEHOOK_CRASH_AT");
        return value ? std::atol(value) : 0L;
    }();
    static const bool trace = std::getenv("DANEHOOK_CRASH_TRACE") != nullptr;
    static std::atomic<long> count{0};
    long current = ++count;
    if (trace) log::info(std::string("crash point ") + std::to_string(current) + ": " + step);
    if (crash_at > 0 && current == crash_at) ::kill(::getpid(), SIGKILL);
}

// ---------------------------------------------------------------------------------------------
// Deploy sources

DeploySource deploy_source_from_environment(const std::function<const char*(const char*)>& getenv) {
    auto get = [&](const char* name) -> std::string {
        const char* value = getenv(name);
        return value ? value : "";
    };
    DeploySource source;
    if (auto lineage = get("RENEWED_LINEAGE"); !lineage.empty()) {
        source.client = "certbot";
        source.lineage = lineage;
        std::string domains = get("RENEWED_DOMAINS");
        std::size_t start = 0;
        while (start < domains.size()) {
            auto end = domains.find(' ', start);
            if (end == std::string::npos) end = domains.size();
            if (end > start) source.domains.push_back(domains.substr(start, end - start));
            start = end + 1;
        }
        return source;
    }
    if (auto cert = get("CERT_PATH"); !cert.empty()) {
        source.client = "acme.sh";
        source.files.certificate = cert;
        // CA_CERT_PATH holds the issuers; CERT_FULLCHAIN_PATH is leaf + issuers. Either serves.
        if (auto ca = get("CA_CERT_PATH"); !ca.empty()) {
            source.files.chain = ca;
        } else if (auto full = get("CERT_FULLCHAIN_PATH"); !full.empty()) {
            source.files.chain = full;
        }
        if (auto key = get("CERT_KEY_PATH"); !key.empty()) source.files.private_key = key;
        // acme.sh exports the path of the pre-generated key; it is gone once that key was used.
        if (auto next = get("Le_Next_Domain_Key"); !next.empty()) {
            std::error_code ec;
            if (std::filesystem::exists(next, ec)) {
                source.files.next_keys.emplace_back(next);
            } else {
                log::warning("Le_Next_Domain_Key names " + next + ", which does not exist; no next key to pre-publish");
            }
        }
        if (auto domain = get("Le_Domain"); !domain.empty()) source.domains.push_back(domain);
    }
    return source;
}

const CertificateEntry& match_certificate_entry(const Config& config, const DeploySource& source) {
    auto same_path = [](const std::filesystem::path& a, const std::filesystem::path& b) {
        std::error_code ec1, ec2;
        return std::filesystem::weakly_canonical(a, ec1) == std::filesystem::weakly_canonical(b, ec2);
    };
    auto lower = [](std::string text) {
        for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return text;
    };
    auto has_domain = [&](const CertificateEntry& entry, const std::string& domain) {
        return std::any_of(entry.domains.begin(), entry.domains.end(),
                           [&](const std::string& d) { return lower(d) == lower(domain); });
    };
    std::vector<std::function<bool(const CertificateEntry&)>> rules;
    if (!source.certificate_name.empty()) {
        rules.push_back([&](const CertificateEntry& e) { return e.name == source.certificate_name; });
    } else {
        if (source.lineage) {
            rules.push_back([&](const CertificateEntry& e) { return e.lineage && same_path(*e.lineage, *source.lineage); });
            rules.push_back([&](const CertificateEntry& e) { return has_domain(e, source.lineage->filename().string()); });
        }
        if (source.files.certificate) {
            rules.push_back([&](const CertificateEntry& e) {
                return e.files.certificate && same_path(*e.files.certificate, *source.files.certificate);
            });
        }
        for (const auto& domain : source.domains) {
            rules.push_back([&, domain](const CertificateEntry& e) { return has_domain(e, domain); });
        }
    }
    for (const auto& rule : rules) {
        for (const auto& entry : config.certificates) {
            if (rule(entry)) return entry;
        }
    }
    std::string what = !source.certificate_name.empty() ? "--name " + source.certificate_name
                       : source.lineage                 ? "lineage " + source.lineage->string()
                       : !source.domains.empty()        ? "domain " + source.domains.front()
                       : source.files.certificate       ? "certificate " + source.files.certificate->string()
                                                        : "nothing (no certbot or acme.sh variables, no --name)";
    throw ConfigError(config.file.string() + ": no certificate entry matches " + what +
                      " (match by name, lineage, domain or certificate path)");
}

// The time the engine works with for `journal`: never earlier than the journal's last write.
// A clock that went backwards (a wrong RTC at boot, later fixed by NTP) would otherwise stamp
// confirmations in the past, and once the clock is right again the hold would look long over:
// the old record withdrawn and the service reloaded seconds after the new record appeared.
static EpochSeconds journal_time(EpochSeconds clock_now, const CertificateJournal& journal) {
    if (clock_now >= journal.updated_at) return clock_now;
    log::warning(journal.name + ": the clock (" + format_time(clock_now) + ") is behind the journal's last write (" +
                 format_time(journal.updated_at) + "); using the journal's time so that no hold is cut short");
    return journal.updated_at;
}

// ---------------------------------------------------------------------------------------------
// Engine

struct Engine::Work {
    Engine& engine;
    const CertificateEntry& entry;
    CertificateJournal& journal;
    JournalStore* store;  // null in a dry run
    EngineReport& report;
    EpochSeconds now;

    bool dry_run() const { return engine.options_.dry_run; }

    void action(const std::string& text) {
        report.actions.push_back((dry_run() ? "would " : "") + text);
        if (!dry_run()) log::info(entry.name + ": " + text);
    }

    void problem(const std::string& text, ExitCode code) {
        report.problems.push_back(entry.name + ": " + text);
        log::error(entry.name + ": " + text);
        if (report.exit_code == ExitCode::ok) report.exit_code = code;
        journal.last_error = text;
        journal.last_error_at = now;
    }

    void save(const char* step) {
        if (dry_run()) return;
        journal.updated_at = now;
        crash_point((std::string("before journal write: ") + step).c_str());
        store->save(journal, next_due(entry, journal, now));
        crash_point((std::string("after journal write: ") + step).c_str());
    }

    Provider& provider(const std::string& name) { return engine.provider(name); }

    // Publishes every record in state `publishing`: lists first, so a record the provider
    // already has (an earlier run that died after the write) is not added twice.
    // Records queued while the provider was unreachable may not know their zone yet.
    void resolve_zones() {
        for (auto& record : journal.records) {
            if (record.state != RecordState::publishing || !record.zone.empty()) continue;
            try {
                record.zone = provider(record.provider).zone_for(record.record.owner, entry.zone);
            } catch (const ProviderError& e) {
                record.last_error = e.what();
            }
        }
    }

    void publish(const std::map<std::string, std::vector<PublishedRecord>>& known_listings = {}) {
        resolve_zones();
        auto groups = group_by_zone(journal, [](const JournalRecord& r) {
            return r.state == RecordState::publishing && !r.zone.empty();
        });
        for (auto& [zone_key, records] : groups) {
            const auto& [provider_name, zone] = zone_key;
            try {
                auto& backend = provider(provider_name);
                std::map<std::string, std::vector<PublishedRecord>> listings;
                for (const auto& owner : owners_of(records)) {
                    auto known = known_listings.find(owner);
                    listings[owner] = known != known_listings.end() ? known->second : backend.list(zone, owner);
                }
                ChangeSet changes{zone, {}, {}};
                bool origins_learned = false;
                for (auto* record : records) {
                    const auto* listed = find_listed(listings[record->record.owner], record->record);
                    if (!record->origin_checked) {
                        // First look at the provider for a record queued blind: if it is there
                        // already, it is not danehook's to delete later.
                        record->origin_checked = true;
                        record->preexisting = listed != nullptr;
                        origins_learned = true;
                    }
                    if (listed) {
                        record->state = RecordState::published;
                        record->published_at = record->published_at ? record->published_at : now;
                        record->provider_id = listed->id;
                    } else {
                        changes.additions.push_back(record->record);
                    }
                }
                // The origin must be on disk before the add, or a crash right after it would make
                // danehook's own record look pre-existing.
                if (origins_learned) save("origins checked");
                if (!changes.additions.empty()) {
                    for (const auto& added : changes.additions) action("publish " + added.owner + " TLSA " + added.rdata.presentation());
                    if (dry_run()) continue;
                    crash_point("before provider add");
                    backend.apply(changes);
                    crash_point("after provider add");
                }
                for (auto* record : records) {
                    record->state = RecordState::published;
                    if (record->published_at == 0) record->published_at = now;
                    record->last_error.clear();
                }
                save("published");
            } catch (const ProviderError& e) {
                for (auto* record : records) record->last_error = e.what();
                problem(std::string("publishing in ") + zone + " via " + provider_name + " failed: " + e.what() +
                            (e.retryable() ? " (danehook run retries)" : ""),
                        ExitCode::provider);
                save("publish failed");
            }
        }
    }

    // Marks desired records confirmed once every authoritative server serves them.
    void confirm() {
        std::map<std::tuple<std::string, std::string, std::string>, std::vector<JournalRecord*>> by_owner;
        for (auto& record : journal.records) {
            if (record.desired && record.state == RecordState::published && record.confirmed_at == 0) {
                by_owner[{record.provider, record.zone, record.record.owner}].push_back(&record);
            }
        }
        bool changed = false;
        for (auto& [key, records] : by_owner) {
            const auto& [provider_name, zone, owner] = key;
            if (dry_run()) {
                action("check the authoritative servers of " + zone + " for " + owner);
                continue;
            }
            std::vector<ServerAnswer> answers;
            try {
                answers = provider(provider_name).observe(zone, owner);
            } catch (const ProviderError& e) {
                log::warning(entry.name + ": cannot confirm " + owner + ": " + e.what());
                continue;
            }
            std::vector<std::string> missing;
            for (auto* record : records) {
                bool everywhere = !answers.empty();
                for (const auto& answer : answers) {
                    bool served = answer.answered &&
                                  std::find(answer.rrset.begin(), answer.rrset.end(), record->record.rdata) != answer.rrset.end();
                    if (!served) {
                        everywhere = false;
                        missing.push_back(answer.server + (answer.answered ? "" : " (" + answer.error + ")"));
                    }
                }
                if (everywhere) {
                    record->confirmed_at = now;
                    record->last_error.clear();
                    changed = true;
                    log::info(entry.name + ": " + short_describe(*record) + " is served by all " +
                              std::to_string(answers.size()) + " authoritative servers");
                } else {
                    record->last_error = "not yet served by " + (missing.empty() ? std::string("any server") : missing.front());
                }
            }
            if (!missing.empty()) log::debug(entry.name + ": " + owner + " not yet on " + missing.front());
        }
        if (changed) save("confirmed");
    }

    bool install_files(const PendingActivation& activation) {
        const auto& targets = entry.install;
        if (targets.empty()) return true;
        CertificateFiles files;
        files.certificate = activation.certificate_file;
        if (!activation.chain_file.empty()) files.chain = activation.chain_file;
        if (!activation.key_file.empty()) files.private_key = activation.key_file;
        auto material = load_certificate_material(files);
        if (material.certificate_fingerprint() != activation.identity.certificate) {
            throw Error(ExitCode::input, activation.certificate_file +
                                             " no longer holds the certificate that was deployed (renewed again?); "
                                             "waiting for its deploy");
        }
        std::string leaf = read_file(activation.certificate_file);
        std::string chain = activation.chain_file.empty() ? "" : read_file(activation.chain_file);
        // A chain file that is a full chain already starts with the leaf.
        std::string fullchain = chain.find(leaf) == 0 ? chain : leaf + (leaf.ends_with("\n") ? "" : "\n") + chain;
        std::string key = activation.key_file.empty() ? "" : read_file(activation.key_file);
        auto need_key = [&](const char* what) {
            if (key.empty()) throw Error(ExitCode::input, std::string("install.") + what + " needs the private key (key file unknown)");
        };
        crash_point("before install");
        if (targets.certificate) write_file_atomic(*targets.certificate, leaf, 0644);
        if (targets.fullchain) write_file_atomic(*targets.fullchain, fullchain, 0644);
        if (targets.key) {
            need_key("key");
            write_file_atomic(*targets.key, key, 0600);
        }
        if (targets.combined) {
            need_key("combined");
            write_file_atomic(*targets.combined, key + (key.ends_with("\n") ? "" : "\n") + fullchain, 0600);
        }
        crash_point("after install");
        return true;
    }

    // Installs and reloads once the new certificate's records are safe.
    void activate() {
        if (!journal.activation) return;
        auto& activation = *journal.activation;
        auto safe = all_safe_at(entry, journal, activation.identity.records);
        if (!safe || *safe > now) {
            log::debug(entry.name + ": reload deferred until the new records are safe");
            return;
        }
        if (dry_run()) {
            action(std::string(entry.install.empty() ? "" : "install the new certificate and ") + "run reload_command");
            return;
        }
        try {
            install_files(activation);
            if (!entry.reload_command.empty()) {
                crash_point("before reload");
                CommandOptions options;
                options.timeout = entry.reload_timeout;
                auto result = run_command(entry.reload_command, options);
                crash_point("after reload");
                if (!result.ok()) throw Error(ExitCode::failure, "reload_command " + result.describe());
            }
            action(std::string(entry.install.empty() ? "" : "installed the new certificate, ") +
                   (entry.reload_command.empty() ? "" : "reloaded the service; ") + "the new certificate is in service");
            if (engine.activation_check_) {
                auto warning = engine.activation_check_(entry, activation.identity);
                if (!warning.empty()) {
                    log::warning(entry.name + ": " + warning);
                    action("warning: " + warning);
                }
            }
            journal.deployed = activation.identity;
            journal.activation.reset();
        } catch (const Error& e) {
            activation.attempts += 1;
            activation.last_error = e.what();
            problem(std::string("activating the new certificate failed (retried by danehook run): ") + e.what(), e.code());
        }
        save("activation");
    }

    // Other certificate entries that want the same record at the same owner.
    bool wanted_elsewhere(const JournalRecord& record) {
        for (const auto& other : engine.config_.certificates) {
            if (other.name == entry.name) continue;
            auto owners = other.owner_names();
            if (std::find(owners.begin(), owners.end(), record.record.owner) == owners.end()) continue;
            auto other_journal = store ? store->load(other.name) : std::nullopt;
            if (!other_journal) continue;
            for (const auto& candidate : other_journal->records) {
                if (candidate.desired && candidate.same_record(record)) return true;
            }
        }
        return false;
    }

    std::string withdrawal_blocker(const JournalRecord& record, const std::set<std::string>& protected_set) {
        if (protected_set.count(record_key(record.record.owner, record.record.rdata))) {
            return "matches the certificate in service";
        }
        auto safe = replacements_safe_at(entry, journal, record);
        if (!safe) return "waiting until its replacement is served by every authoritative server";
        if (*safe > now) return "hold until " + format_time(*safe);
        return "";
    }

    // Withdraws records that are no longer wanted and whose replacements are safe.
    void withdraw() {
        auto protected_set = protected_keys(journal);
        std::vector<JournalRecord*> forget;
        for (auto& record : journal.records) {
            if (record.desired || record.state == RecordState::withdrawing) continue;
            auto blocker = withdrawal_blocker(record, protected_set);
            if (!blocker.empty()) {
                log::debug(entry.name + ": keeping " + short_describe(record) + ": " + blocker);
                continue;
            }
            if (record.preexisting || wanted_elsewhere(record)) {
                forget.push_back(&record);
                continue;
            }
            record.state = RecordState::withdrawing;
            record.last_error = "";
            if (dry_run()) action("withdraw " + describe(record));
        }
        for (auto* record : forget) {
            action("stop tracking " + describe(*record) + " (not danehook's to delete)");
        }
        if (!forget.empty() && !dry_run()) {
            std::erase_if(journal.records, [&](const JournalRecord& r) {
                return std::any_of(forget.begin(), forget.end(), [&](const JournalRecord* f) { return f == &r; });
            });
        }
        if (dry_run()) return;
        save("withdrawal intent");
        auto groups = group_by_zone(journal, [](const JournalRecord& r) { return r.state == RecordState::withdrawing; });
        std::set<const JournalRecord*> done;
        for (auto& [zone_key, records] : groups) {
            const auto& [provider_name, zone] = zone_key;
            try {
                auto& backend = provider(provider_name);
                ChangeSet changes{zone, {}, {}};
                std::vector<JournalRecord*> deleting;
                for (const auto& owner : owners_of(records)) {
                    auto listed = backend.list(zone, owner);
                    std::vector<TlsaRdata> remaining;
                    std::vector<JournalRecord*> at_owner;
                    for (auto* record : records) {
                        if (record->record.owner == owner) at_owner.push_back(record);
                    }
                    for (const auto& item : listed) {
                        bool leaving = std::any_of(at_owner.begin(), at_owner.end(),
                                                   [&](const JournalRecord* r) { return r->record.rdata == item.record.rdata; });
                        if (!leaving) remaining.push_back(item.record.rdata);
                    }
                    if (engine.interlock_ && !engine.options_.force) {
                        auto refusal = engine.interlock_(entry, owner, remaining);
                        if (!refusal.empty()) {
                            for (auto* record : at_owner) record->state = RecordState::published;
                            problem("refusing to withdraw at " + owner + ": " + refusal + " (--force overrides)",
                                    ExitCode::interlock);
                            continue;
                        }
                    }
                    for (auto* record : at_owner) {
                        if (const auto* item = find_listed(listed, record->record)) {
                            changes.deletions.push_back(*item);
                        }
                        deleting.push_back(record);
                    }
                }
                if (!changes.deletions.empty()) {
                    crash_point("before provider delete");
                    backend.apply(changes);
                    crash_point("after provider delete");
                }
                for (auto* record : deleting) {
                    action("withdrew " + describe(*record));
                    done.insert(record);
                }
            } catch (const ProviderError& e) {
                for (auto* record : records) record->last_error = e.what();
                problem(std::string("withdrawing in ") + zone + " via " + provider_name + " failed: " + e.what(),
                        ExitCode::provider);
            }
        }
        std::erase_if(journal.records, [&](const JournalRecord& r) { return done.count(&r) > 0; });
        save("withdrawn");
    }
};

Engine::Engine(const Config& config, const Clock& clock, EngineOptions options)
    : config_(config), clock_(clock), options_(options) {}

Engine::~Engine() = default;

const CertificateEntry* Engine::entry_for(const std::string& name) {
    if (const auto* entry = config_.find(name)) return entry;
    auto cached = lazy_entries_.find(name);
    if (cached != lazy_entries_.end()) return cached->second ? &*cached->second : nullptr;
    auto& slot = lazy_entries_[name];
    slot = load_certificate_entry(config_, name);
    return slot ? &*slot : nullptr;
}

Provider& Engine::provider(const std::string& name) {
    auto found = providers_.find(name);
    if (found != providers_.end()) return *found->second;
    auto settings = config_.providers.find(name);
    if (settings == config_.providers.end()) throw ConfigError(config_.file.string() + ": no provider named '" + name + "'");
    auto created = ProviderRegistry::instance().create(ProviderContext{name, settings->second, {}, {}, {}});
    return *providers_.emplace(name, std::move(created)).first->second;
}

const CertificateEntry& Engine::find_entry(const DeploySource& source) {
    // certificates_dir files are named after the entry: try the names the source suggests first,
    // so a deploy reads one small file however many certificates are configured.
    std::vector<std::string> candidates;
    if (!source.certificate_name.empty()) candidates.push_back(source.certificate_name);
    if (source.lineage) candidates.push_back(source.lineage->filename().string());
    candidates.insert(candidates.end(), source.domains.begin(), source.domains.end());
    Config narrowed{config_};
    for (const auto& name : candidates) {
        if (const auto* entry = entry_for(name); entry && !config_.find(name)) narrowed.certificates.push_back(*entry);
    }
    try {
        const auto& found = match_certificate_entry(narrowed, source);
        return *entry_for(found.name);
    } catch (const ConfigError&) {
        if (!config_.certificates_dir) throw;
    }
    auto everything = load_config(config_.file, CertificateLoading::all);
    const auto& found = match_certificate_entry(everything, source);
    lazy_entries_[found.name] = found;
    return *entry_for(found.name);
}

EngineReport Engine::deploy(const DeploySource& source) {
    EngineReport report;
    const auto& entry = find_entry(source);

    CertificateFiles files = source.files;
    if (source.lineage) files = certbot_lineage_files(*source.lineage);
    if (!files.certificate && entry.lineage) files = certbot_lineage_files(*entry.lineage);
    if (!files.certificate && entry.files.certificate) files = entry.files;
    if (!files.certificate) throw InputError(entry.name + ": no certificate files (no lineage, certificate or hook variables)");
    if (source.files.next_keys.empty()) files.next_keys = entry.files.next_keys;

    auto material = load_certificate_material(files);
    for (const auto& warning : material.warnings) log::warning(warning);
    EpochSeconds now = clock_.now();

    // The records this certificate wants, per service owner.
    std::vector<JournalRecord> wanted;
    CertificateIdentity identity{material.certificate_fingerprint(), material.key_fingerprint(), {}};
    for (const auto& owner : entry.owner_names()) {
        for (const auto& params : entry.records) {
            auto add = [&](TlsaRdata rdata, const char* role) {
                JournalRecord record;
                record.provider = entry.provider;
                record.record = {owner, entry.ttl, std::move(rdata)};
                record.role = role;
                bool duplicate = std::any_of(wanted.begin(), wanted.end(), [&](const JournalRecord& w) { return w.same_record(record); });
                if (!duplicate) wanted.push_back(std::move(record));
            };
            auto current = compute_tlsa(material, params, entry.trust_anchor);
            identity.records.push_back(record_key(owner, current));
            add(std::move(current), "current");
            for (auto& next : compute_next_key_tlsa(material, params)) add(std::move(next), "next");
        }
    }

    std::optional<StateLock> lock;
    std::optional<JournalStore> store;
    if (!options_.dry_run) {
        store.emplace(config_.state_dir);
        lock.emplace(config_.state_dir, config_.lock_timeout);
    } else {
        std::error_code ec;
        if (std::filesystem::exists(config_.state_dir / "journal", ec)) store.emplace(config_.state_dir);
    }
    CertificateJournal journal = store ? store->load(entry.name).value_or(CertificateJournal{}) : CertificateJournal{};
    journal.name = entry.name;
    now = journal_time(now, journal);
    Work work{*this, entry, journal, options_.dry_run ? nullptr : &*store, report, now};

    // Find each owner's zone, and what the provider already has at owners that get new records.
    std::map<std::string, std::vector<PublishedRecord>> listings;
    std::map<std::string, std::string> zones;
    std::set<std::string> unlisted_owners;  // the provider could not be asked
    std::string provider_failure;
    for (auto& record : wanted) {
        const auto& owner = record.record.owner;
        if (!provider_failure.empty()) {  // one timeout is enough: do not wait on every owner
            unlisted_owners.insert(owner);
            if (record.zone.empty()) record.zone = zones.count(owner) ? zones[owner] : entry.zone;
            continue;
        }
        try {
            auto& zone = zones[owner];
            if (zone.empty()) zone = provider(entry.provider).zone_for(owner, entry.zone);
            record.zone = zone;
            bool known = std::any_of(journal.records.begin(), journal.records.end(),
                                     [&](const JournalRecord& j) { return j.same_record(record); });
            if (!known && !listings.count(owner) && !unlisted_owners.count(owner)) {
                listings[owner] = provider(entry.provider).list(record.zone, owner);
            }
        } catch (const ProviderError& e) {
            // certbot never reruns a deploy hook: queue the records anyway, so `run` publishes
            // them once the provider is back. Without a listing their origin is unknown.
            if (provider_failure.empty()) provider_failure = e.what();
            unlisted_owners.insert(owner);
            if (record.zone.empty()) record.zone = entry.zone;  // "" = resolved by `run`
        }
    }
    if (!provider_failure.empty()) {
        log::warning(entry.name + ": the provider could not be asked (" + provider_failure +
                     "); the new records are queued and `danehook run` publishes them");
    }

    // Reconcile the journal with what is wanted now.
    for (auto& record : journal.records) {
        bool still_wanted = std::any_of(wanted.begin(), wanted.end(), [&](const JournalRecord& w) { return w.same_record(record); });
        if (!still_wanted && record.desired) {
            record.desired = false;
            record.retired_at = now;
            record.last_error.clear();  // confirmation news no longer applies to it
            work.action("schedule withdrawal of " + describe(record) + " after its replacement is safe");
        }
    }
    for (auto& record : wanted) {
        auto existing = std::find_if(journal.records.begin(), journal.records.end(),
                                     [&](const JournalRecord& j) { return j.same_record(record); });
        if (existing != journal.records.end()) {
            if (!existing->desired) log::info(entry.name + ": " + short_describe(*existing) + " is wanted again; withdrawal cancelled");
            existing->desired = true;
            existing->retired_at = 0;
            existing->role = record.role;
            if (existing->state == RecordState::withdrawing) existing->state = RecordState::publishing;
            continue;
        }
        record.added_at = now;
        record.origin_checked = !unlisted_owners.count(record.record.owner);
        if (record.origin_checked && find_listed(listings[record.record.owner], record.record)) {
            record.state = RecordState::published;
            record.published_at = now;
            record.preexisting = true;
            log::info(entry.name + ": " + short_describe(record) + " is already published (not by danehook); it will never be deleted");
        } else {
            record.state = RecordState::publishing;
        }
        journal.records.push_back(record);
    }

    // Which certificate the service presents from now on.
    if (!entry.gated()) {
        journal.deployed = identity;
        journal.activation.reset();
        auto safe = all_safe_at(entry, journal, identity.records);
        if (!safe || *safe > now) {
            log::warning(entry.name + ": the new certificate's TLSA records are not yet served everywhere for 2 x TTL; "
                         "services that read it now may fail DANE validation until then (use 'install' with "
                         "'reload_command', pre-publish the next key, or reuse the key)");
        }
    } else if (journal.deployed.certificate != identity.certificate) {
        PendingActivation activation;
        activation.identity = identity;
        activation.certificate_file = files_or_empty(files.certificate);
        activation.chain_file = files_or_empty(files.chain);
        activation.key_file = files_or_empty(files.private_key);
        activation.since = now;
        journal.activation = activation;
    } else {
        journal.activation.reset();
    }
    journal.last_error.clear();
    work.save("deploy intent");

    work.publish(listings);
    work.confirm();
    if (journal.activation) {
        auto safe = all_safe_at(entry, journal, journal.activation->identity.records);
        if (safe && *safe <= now) {
            work.activate();
        } else {
            work.action("defer install/reload until the new records are safe (danehook run does it)");
        }
    }
    work.save("deploy done");
    return report;
}

EngineReport Engine::run_one(const CertificateEntry& entry, CertificateJournal& journal) {
    EngineReport report;
    std::optional<JournalStore> store;
    if (!options_.dry_run) store.emplace(config_.state_dir);
    Work work{*this, entry, journal, options_.dry_run ? nullptr : &*store, report, journal_time(clock_.now(), journal)};
    work.publish();
    work.confirm();
    work.activate();
    work.withdraw();
    if (!options_.dry_run && report.problems.empty() && !journal.last_error.empty()) {
        journal.last_error.clear();
        work.save("cleared error");
    }
    return report;
}

EngineReport Engine::run() {
    EngineReport total;
    JournalStore store(config_.state_dir);
    std::optional<StateLock> lock;
    if (!options_.dry_run) lock.emplace(config_.state_dir, config_.lock_timeout);
    EpochSeconds now = clock_.now();
    for (const auto& [name, when] : store.due()) {
        if (when > now) continue;
        const CertificateEntry* entry = entry_for(name);
        if (!entry) {
            total.problems.push_back(name + ": the journal has pending work but the configuration has no such certificate; "
                                            "restore the entry so danehook can finish or withdraw its records");
            if (total.exit_code == ExitCode::ok) total.exit_code = ExitCode::config;
            continue;
        }
        auto journal = store.load(name);
        if (!journal) continue;
        EngineReport report;
        try {
            report = run_one(*entry, *journal);
        } catch (const Error& e) {
            report.problems.push_back(name + ": " + e.what());
            report.exit_code = e.code();
        }
        total.actions.insert(total.actions.end(), report.actions.begin(), report.actions.end());
        total.problems.insert(total.problems.end(), report.problems.begin(), report.problems.end());
        if (total.exit_code == ExitCode::ok) total.exit_code = report.exit_code;
    }
    return total;
}

namespace {

// Whether a certificate is in the configuration is the one part of a settled journal's status
// that does not come from the journal, so the JSON rendering leaves it out (and can be cached)
// and it is put in front when printing.
std::string with_configured_flag(const std::string& rendering, bool configured) {
    std::string text = configured ? "{\"configured\":true" : "{\"configured\":false";
    if (rendering.size() > 2) text += ',';
    text.append(rendering, 1);
    return text;
}

}  // namespace

// In JSON mode: the object without "configured" (see with_configured_flag).
std::string Engine::status_of(const CertificateEntry* entry, const CertificateJournal& journal, bool configured,
                              bool json_mode) {
    EpochSeconds now = clock_.now();
    nlohmann::json j;
    j["name"] = journal.name;
    j["deployed_certificate"] = journal.deployed.certificate;
    j["deployed_key"] = journal.deployed.key;
    if (journal.activation) {
        std::optional<EpochSeconds> safe = entry ? all_safe_at(*entry, journal, journal.activation->identity.records) : std::nullopt;
        j["deferred_reload"] = {{"certificate", journal.activation->identity.certificate},
                                {"since", format_time(journal.activation->since)},
                                {"due", safe ? nlohmann::json(format_time(*safe)) : nlohmann::json("after confirmation")},
                                {"attempts", journal.activation->attempts},
                                {"last_error", journal.activation->last_error}};
    } else {
        j["deferred_reload"] = nullptr;
    }
    auto protected_set = protected_keys(journal);
    j["records"] = nlohmann::json::array();
    for (const auto& record : journal.records) {
        std::string status;
        std::optional<EpochSeconds> withdraw_at;
        if (record.state == RecordState::withdrawing) {
            status = "withdrawing";
        } else if (record.state == RecordState::publishing) {
            status = "pending publication";
        } else if (record.desired) {
            status = record.confirmed_at ? "published" : "published, awaiting confirmation";
        } else {
            status = "scheduled for withdrawal";
            if (entry && !protected_set.count(record_key(record.record.owner, record.record.rdata))) {
                withdraw_at = replacements_safe_at(*entry, journal, record);
            }
        }
        nlohmann::json r{{"owner", record.record.owner},
                         {"ttl", record.record.ttl},
                         {"rdata", record.record.rdata.presentation()},
                         {"provider", record.provider},
                         {"zone", record.zone},
                         {"role", record.role},
                         {"status", status},
                         {"preexisting", record.preexisting},
                         {"confirmed_at", record.confirmed_at ? nlohmann::json(format_time(record.confirmed_at)) : nullptr},
                         {"withdraw_after", withdraw_at ? nlohmann::json(format_time(*withdraw_at)) : nullptr},
                         {"last_error", record.last_error}};
        j["records"].push_back(std::move(r));
    }
    j["last_error"] = journal.last_error;
    j["last_error_at"] = journal.last_error_at ? nlohmann::json(format_time(journal.last_error_at)) : nullptr;
    if (json_mode) return j.dump();

    std::string text = "certificate " + journal.name + (configured ? "" : " (not in the configuration)") + "\n";
    text += "  in service: " + (journal.deployed.certificate.empty() ? std::string("unknown") : journal.deployed.certificate.substr(0, 16) + "...") + "\n";
    if (journal.activation) {
        text += "  deferred reload: new certificate " + journal.activation->identity.certificate.substr(0, 16) + "..., due " +
                j["deferred_reload"]["due"].get<std::string>() +
                (journal.activation->last_error.empty() ? "" : ", last error: " + journal.activation->last_error) + "\n";
    }
    for (const auto& r : j["records"]) {
        std::string rdata = r["rdata"].get<std::string>();
        if (rdata.size() > 40) rdata = rdata.substr(0, 40) + "...";
        text += "  " + r["owner"].get<std::string>() + " " + rdata + "  " + r["status"].get<std::string>();
        if (!r["withdraw_after"].is_null()) text += " after " + r["withdraw_after"].get<std::string>();
        if (r["role"] == "next") text += " (next key)";
        if (r["preexisting"].get<bool>()) text += " (not danehook's)";
        if (!r["last_error"].get<std::string>().empty()) text += "  [" + r["last_error"].get<std::string>() + "]";
        text += "\n";
    }
    if (!journal.last_error.empty()) text += "  last error: " + journal.last_error + "\n";
    (void)now;
    return text;
}

std::set<std::string> Engine::configured_names() const {
    std::set<std::string> names;
    for (const auto& entry : config_.certificates) names.insert(entry.name);
    std::error_code ec;
    if (config_.certificates_dir) {
        for (const auto& item : std::filesystem::directory_iterator(*config_.certificates_dir, ec)) {
            if (item.path().extension() == ".yaml") names.insert(item.path().stem().string());
        }
    }
    return names;
}

// Renders every journal's status. Journals are independent, so they are read and rendered on
// a few threads; a settled journal needs no configuration entry at all, which keeps thousands
// of certificates cheap (entries are parsed only for hold times), and in JSON mode its
// rendering comes from the status cache while its file is unchanged.
std::vector<std::string> Engine::render_statuses(bool json_mode) {
    JournalStore store(config_.state_dir);
    auto names = store.names();
    auto configured = configured_names();
    // Only `status --json` uses the cache: it is what monitoring polls across every certificate.
    StatusCache cache = json_mode ? StatusCache::load(config_.state_dir) : StatusCache();
    std::vector<std::string> rendered(names.size());
    std::vector<std::optional<std::pair<FileStamp, std::string>>> fresh(names.size());
    std::mutex entries_mutex;
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto render_range = [&](std::size_t begin, std::size_t end) {
        try {
            for (std::size_t i = begin; i < end; ++i) {
                bool is_configured = configured.count(names[i]) > 0;
                if (json_mode) {
                    auto stamp = file_stamp(store.journal_path(names[i]));
                    const std::string* cached = stamp ? cache.find(names[i], *stamp) : nullptr;
                    if (cached) {
                        rendered[i] = with_configured_flag(*cached, is_configured);
                        continue;
                    }
                }
                FileStamp stamp;
                auto journal = store.load(names[i], &stamp);
                if (!journal) continue;
                bool settled = !journal->activation.has_value() &&
                               std::all_of(journal->records.begin(), journal->records.end(),
                                           [](const JournalRecord& r) { return r.desired; });
                const CertificateEntry* entry = nullptr;
                if (!settled) {
                    std::lock_guard lock(entries_mutex);
                    entry = entry_for(names[i]);
                }
                auto rendering = status_of(entry, *journal, is_configured, json_mode);
                if (!json_mode) {
                    rendered[i] = std::move(rendering);
                    continue;
                }
                rendered[i] = with_configured_flag(rendering, is_configured);
                // A settled journal renders the same whatever the configuration or the time.
                if (settled) fresh[i].emplace(stamp, std::move(rendering));
            }
        } catch (...) {
            std::lock_guard lock(failure_mutex);
            if (!failure) failure = std::current_exception();
        }
    };
    std::size_t workers = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
    if (names.size() < 256) workers = 1;
    std::vector<std::thread> threads;
    std::size_t chunk = (names.size() + workers - 1) / workers;
    for (std::size_t w = 1; w < workers; ++w) {
        threads.emplace_back(render_range, std::min(names.size(), w * chunk), std::min(names.size(), (w + 1) * chunk));
    }
    render_range(0, std::min(names.size(), chunk));
    for (auto& thread : threads) thread.join();
    if (failure) std::rethrow_exception(failure);
    if (json_mode) {
        cache.keep_only(names);
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (fresh[i]) cache.put(names[i], fresh[i]->first, std::move(fresh[i]->second));
        }
        cache.save_if_changed(config_.state_dir);
    }
    std::erase_if(rendered, [](const std::string& text) { return text.empty(); });
    return rendered;
}

std::string Engine::status_json() {
    std::string out = "{\"certificates\":[";
    bool first = true;
    for (const auto& item : render_statuses(true)) {
        out += (first ? "" : ",") + item;
        first = false;
    }
    out += "]}\n";
    return out;
}

std::string Engine::status_text() {
    std::string out;
    for (const auto& item : render_statuses(false)) out += item;
    JournalStore store(config_.state_dir);
    auto known = store.names();
    for (const auto& entry : config_.certificates) {
        if (!std::binary_search(known.begin(), known.end(), entry.name)) out += "certificate " + entry.name + ": nothing deployed yet\n";
    }
    if (out.empty()) out = "no certificates configured or deployed\n";
    return out;
}

}  // namespace danehook
