// danehook.yaml: global settings, providers and certificate entries.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "danehook/certificate.hpp"
#include "danehook/settings.hpp"
#include "danehook/tlsa.hpp"

namespace danehook {

inline constexpr const char* default_config_path = "/etc/danehook/danehook.yaml";
inline constexpr const char* default_state_dir = "/var/lib/danehook";

// Files danehook writes when the new certificate's records are safe, right before the reload.
struct InstallTargets {
    std::optional<std::filesystem::path> certificate;  // leaf only
    std::optional<std::filesystem::path> key;          // private key (0600)
    std::optional<std::filesystem::path> fullchain;    // leaf + chain
    std::optional<std::filesystem::path> combined;     // key + leaf + chain (0600), Postfix smtpd_tls_chain_files
    bool empty() const { return !certificate && !key && !fullchain && !combined; }
};

struct ServiceEntry {
    Service service;
    std::optional<std::string> address;   // where `check` connects (default: host)
    std::optional<std::string> starttls;  // smtp | imap | pop3 | none (default by port)
};

struct CertificateEntry {
    std::string name;
    std::optional<std::filesystem::path> lineage;  // certbot live/<name>
    std::vector<std::string> domains;              // certbot lineage name / acme.sh Le_Domain
    // Explicit files (acme.sh or any other client), used when no lineage is given.
    CertificateFiles files;
    std::string zone;      // canonical, "" = let the provider find it
    std::string provider;  // key into Config::providers
    std::uint32_t ttl = 300;
    std::int64_t hold_margin = 60;
    std::vector<TlsaParams> records;
    TrustAnchor trust_anchor = TrustAnchor::issuer;
    std::vector<ServiceEntry> services;
    std::vector<std::string> reload_command;
    std::chrono::seconds reload_timeout{120};
    InstallTargets install;
    std::string where;  // "FILE:LINE" of the entry, for messages

    bool gated() const { return !reload_command.empty() || !install.empty(); }
    std::vector<std::string> owner_names() const;
};

struct Config {
    std::filesystem::path file;
    std::filesystem::path state_dir = default_state_dir;
    std::chrono::seconds lock_timeout{30};
    std::map<std::string, Settings> providers;  // created lazily by the engine
    std::vector<CertificateEntry> certificates;
    // One YAML file per certificate entry, <name>.yaml; loaded on demand when `lazy`.
    std::optional<std::filesystem::path> certificates_dir;
    // For `check`: DNSSEC validation.
    std::optional<std::filesystem::path> trust_anchor_file;
    std::optional<std::string> resolver;

    const CertificateEntry* find(const std::string& name) const;
};

enum class CertificateLoading {
    all,   // every entry, from the file and certificates_dir
    lazy,  // entries in the main file only; certificates_dir entries via load_certificate_entry
};

// Loads and validates the file. Every problem is a ConfigError "FILE:LINE: key: problem".
// Certificate entries may also come from `certificates_dir` (one YAML file per entry or list).
Config load_config(const std::filesystem::path& file, CertificateLoading loading = CertificateLoading::all);

// The entry in <certificates_dir>/<name>.yaml, or nullopt when there is no such file.
std::optional<CertificateEntry> load_certificate_entry(const Config& config, const std::string& name);

// --config, else $DANEHOOK_CONFIG, else the default path.
std::filesystem::path resolve_config_path(const std::string& from_command_line);

}  // namespace danehook
