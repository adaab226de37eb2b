#include "danehook/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "danehook/dns_name.hpp"
#include "danehook/error.hpp"
#include "danehook/file_io.hpp"

namespace danehook {
namespace {

const std::vector<std::string> top_level_keys{"state_dir", "lock_timeout", "providers", "certificates",
                                              "certificates_dir", "trust_anchor_file", "resolver"};
const std::vector<std::string> certificate_keys{
    "name", "lineage", "domain", "certificate", "chain", "key", "next_key", "zone", "provider",
    "ttl", "hold_margin", "records", "trust_anchor", "services", "reload_command", "reload_timeout", "install"};
const std::vector<std::string> service_keys{"host", "port", "protocol", "address", "starttls"};
const std::vector<std::string> install_keys{"certificate", "key", "fullchain", "combined"};

YAML::Node parse_yaml(const std::filesystem::path& file) {
    std::string text = read_file(file);
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(file.string() + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
    }
}

bool valid_entry_name(const std::string& name) {
    if (name.empty() || name.size() > 128 || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_';
    });
}

std::vector<std::string> command_list(const Settings& settings, const std::string& key) {
    auto list = settings.strings(key);
    if (settings.has(key) && list.empty()) throw settings.error(key, "must be a non-empty list (program and arguments)");
    return list;
}

ServiceEntry parse_service(const Settings& settings) {
    settings.reject_unknown_keys(service_keys);
    ServiceEntry entry;
    auto host = settings.required_string("host");
    try {
        entry.service.host = without_trailing_dot(canonical_name(host));
    } catch (const std::invalid_argument& e) {
        throw settings.error("host", e.what());
    }
    auto port = settings.integer("port", 1, 65535);
    if (!port) throw settings.error("port", "is required");
    entry.service.port = static_cast<std::uint16_t>(*port);
    entry.service.protocol = settings.string("protocol").value_or("tcp");
    if (entry.service.protocol != "tcp" && entry.service.protocol != "udp" && entry.service.protocol != "sctp") {
        throw settings.error("protocol", "must be tcp, udp or sctp");
    }
    entry.address = settings.string("address");
    entry.starttls = settings.string("starttls");
    if (entry.starttls && *entry.starttls != "smtp" && *entry.starttls != "imap" && *entry.starttls != "pop3" &&
        *entry.starttls != "none") {
        throw settings.error("starttls", "must be smtp, imap, pop3 or none");
    }
    return entry;
}

CertificateEntry parse_certificate(const Settings& settings, const std::map<std::string, Settings>& providers) {
    settings.reject_unknown_keys(certificate_keys);
    CertificateEntry entry;
    entry.name = settings.required_string("name");
    if (!valid_entry_name(entry.name)) {
        throw settings.error("name", "'" + entry.name + "' may only use letters, digits, '.', '-' and '_'");
    }
    entry.where = settings.location();
    entry.lineage = settings.path("lineage");
    entry.domains = settings.strings("domain");
    entry.files.certificate = settings.path("certificate");
    entry.files.chain = settings.path("chain");
    entry.files.private_key = settings.path("key");
    if (auto next = settings.path("next_key")) entry.files.next_keys.push_back(*next);
    if (entry.lineage && entry.files.certificate) {
        throw settings.error("certificate", "give either 'lineage' or 'certificate', not both");
    }
    if (!entry.lineage && !entry.files.certificate && entry.domains.empty()) {
        throw settings.error("lineage", "one of 'lineage', 'certificate' or 'domain' is required");
    }
    if (auto zone = settings.string("zone")) {
        try {
            entry.zone = canonical_name(*zone);
        } catch (const std::invalid_argument& e) {
            throw settings.error("zone", e.what());
        }
    }
    if (auto provider = settings.string("provider")) {
        entry.provider = *provider;
    } else if (providers.size() == 1) {
        entry.provider = providers.begin()->first;
    } else {
        throw settings.error("provider", "is required when more than one provider is configured");
    }
    if (!providers.count(entry.provider)) throw settings.error("provider", "no provider named '" + entry.provider + "'");
    entry.ttl = static_cast<std::uint32_t>(settings.integer("ttl", 1, 604800).value_or(300));
    entry.hold_margin = settings.integer("hold_margin", 0, 30 * 86400).value_or(60);
    for (const auto& text : settings.strings("records")) {
        try {
            auto params = TlsaParams::parse(text);
            if (std::find(entry.records.begin(), entry.records.end(), params) == entry.records.end()) {
                entry.records.push_back(params);
            }
        } catch (const std::invalid_argument& e) {
            throw settings.error("records", e.what());
        }
    }
    if (entry.records.empty()) entry.records.push_back(TlsaParams{});
    auto anchor = settings.string("trust_anchor").value_or("issuer");
    if (anchor == "issuer") {
        entry.trust_anchor = TrustAnchor::issuer;
    } else if (anchor == "top") {
        entry.trust_anchor = TrustAnchor::top_of_chain;
    } else {
        throw settings.error("trust_anchor", "must be 'issuer' or 'top'");
    }
    if (!settings.has("services")) throw settings.error("services", "is required (at least one host and port)");
    for (const auto& item : settings.mapping_list("services")) {
        auto service = parse_service(item);
        for (const auto& existing : entry.services) {
            if (existing.service == service.service) throw item.error("port", "service " + service.service.to_string() + " is listed twice");
        }
        entry.services.push_back(std::move(service));
    }
    if (entry.services.empty()) throw settings.error("services", "must list at least one service");
    if (!entry.zone.empty()) {
        for (const auto& service : entry.services) {
            if (!is_in_zone(service.service.owner_name(), entry.zone)) {
                throw settings.error("services", "service host " + service.service.host + " is outside zone " + entry.zone);
            }
        }
    }
    entry.reload_command = command_list(settings, "reload_command");
    entry.reload_timeout = std::chrono::seconds(settings.integer("reload_timeout", 1, 3600).value_or(120));
    if (auto install = settings.mapping("install")) {
        install->reject_unknown_keys(install_keys);
        entry.install.certificate = install->path("certificate");
        entry.install.key = install->path("key");
        entry.install.fullchain = install->path("fullchain");
        entry.install.combined = install->path("combined");
    }
    return entry;
}

void load_certificates_from(const Settings& root, const std::map<std::string, Settings>& providers,
                            std::vector<CertificateEntry>& out) {
    for (const auto& item : root.mapping_list("certificates")) out.push_back(parse_certificate(item, providers));
}

CertificateEntry parse_certificate_file(const std::filesystem::path& file, const std::map<std::string, Settings>& providers) {
    auto node = parse_yaml(file);
    if (!node.IsMap()) throw ConfigError(file.string() + ":1: must be a certificate entry (a mapping)");
    auto stem = file.stem().string();
    if (!node["name"]) node["name"] = stem;  // the file name names the entry
    Settings settings(file, node, "");
    auto entry = parse_certificate(settings, providers);
    if (entry.name != stem) {
        throw settings.error("name", "'" + entry.name + "' must match the file name '" + stem + ".yaml'");
    }
    return entry;
}

void load_certificates_dir(const std::filesystem::path& dir, const std::map<std::string, Settings>& providers,
                           std::vector<CertificateEntry>& out) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
        if (item.is_regular_file() && item.path().extension() == ".yaml") files.push_back(item.path());
    }
    if (ec) throw ConfigError(dir.string() + ": cannot read certificates_dir: " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) out.push_back(parse_certificate_file(file, providers));
}

}  // namespace

std::vector<std::string> CertificateEntry::owner_names() const {
    std::vector<std::string> owners;
    for (const auto& service : services) owners.push_back(service.service.owner_name());
    return owners;
}

const CertificateEntry* Config::find(const std::string& name) const {
    for (const auto& entry : certificates) {
        if (entry.name == name) return &entry;
    }
    return nullptr;
}

Config load_config(const std::filesystem::path& file, CertificateLoading loading) {
    auto root_node = parse_yaml(file);
    if (!root_node.IsMap()) throw ConfigError(file.string() + ":1: the configuration must be a mapping");
    Settings root(file, root_node, "");
    root.reject_unknown_keys(top_level_keys);

    Config config;
    config.file = file;
    if (auto dir = root.path("state_dir")) config.state_dir = *dir;
    config.lock_timeout = std::chrono::seconds(root.integer("lock_timeout", 0, 3600).value_or(30));
    config.trust_anchor_file = root.path("trust_anchor_file");
    config.resolver = root.string("resolver");

    auto providers = root.mapping("providers");
    if (!providers) throw root.error("providers", "is required (at least one DNS provider)");
    for (const auto& name : providers->keys()) {
        auto provider = providers->mapping(name);
        if (!provider) throw providers->error(name, "must be a mapping with at least 'type'");
        provider->required_string("type");
        config.providers.emplace(name, *provider);
    }
    if (config.providers.empty()) throw root.error("providers", "must define at least one provider");

    load_certificates_from(root, config.providers, config.certificates);
    config.certificates_dir = root.path("certificates_dir");
    if (config.certificates_dir && loading == CertificateLoading::all) {
        load_certificates_dir(*config.certificates_dir, config.providers, config.certificates);
    }

    std::set<std::string> names;
    for (const auto& entry : config.certificates) {
        if (!names.insert(entry.name).second) {
            throw ConfigError(entry.where + ": certificate name '" + entry.name + "' is used twice");
        }
    }
    return config;
}

std::optional<CertificateEntry> load_certificate_entry(const Config& config, const std::string& name) {
    if (!config.certificates_dir || !valid_entry_name(name)) return std::nullopt;
    auto file = *config.certificates_dir / (name + ".yaml");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
    auto entry = parse_certificate_file(file, config.providers);
    if (config.find(entry.name)) throw ConfigError(file.string() + ": certificate name '" + name + "' is used twice");
    return entry;
}

std::filesystem::path resolve_config_path(const std::string& from_command_line) {
    if (!from_command_line.empty()) return from_command_line;
    if (const char* env = std::getenv("DANEHOOK_CONFIG"); env && *env) return env;
    return default_config_path;
}

}  // namespace danehook
