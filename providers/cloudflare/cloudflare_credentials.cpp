#include "providers/cloudflare/cloudflare_credentials.hpp"

#include <cstdlib>
#include <map>
#include <sstream>

#include "danehook/certbot_ini.hpp"
#include "danehook/command.hpp"
#include "danehook/file_io.hpp"
#include "danehook/log.hpp"

namespace danehook::cloudflare {
namespace {

std::string trim(const std::string& text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

// A secret goes into an HTTP header: printable ASCII without spaces keeps header injection
// and copy-and-paste accidents (quotes, newlines) out.
bool is_header_safe(const std::string& secret) {
    if (secret.empty()) return false;
    for (unsigned char c : secret) {
        if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
}

void warn_if_permissive(const std::filesystem::path& path) {
    if (auto warning = permissive_credentials_warning(path)) log::warning(*warning);
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
}

Credentials parse_certbot_credentials(const std::string& text, const std::string& file) {
    std::map<std::string, std::string> values;
    try {
        for (auto& [key, item] : parse_certbot_ini(text, file)) values[key] = item.value;
    } catch (const InputError& e) {
        throw ConfigError(e.what());
    }
    Credentials credentials;
    credentials.source = "credentials file " + file;
    auto token = values.find("dns_cloudflare_api_token");
    if (token != values.end() && !token->second.empty()) {
        if (!is_header_safe(token->second)) {
            throw ConfigError(file +
                              ": dns_cloudflare_api_token contains spaces or control characters");
        }
        credentials.kind = Credentials::Kind::api_token;
        credentials.token = token->second;
        return credentials;
    }
    auto email = values.find("dns_cloudflare_email");
    auto key = values.find("dns_cloudflare_api_key");
    if (email != values.end() && key != values.end() && !email->second.empty() &&
        !key->second.empty()) {
        if (!is_header_safe(email->second) || !is_header_safe(key->second)) {
            throw ConfigError(file +
                              ": dns_cloudflare_email or dns_cloudflare_api_key contains spaces or "
                              "control characters");
        }
        credentials.kind = Credentials::Kind::global_key;
        credentials.email = email->second;
        credentials.key = key->second;
        return credentials;
    }
    throw ConfigError(file +
                      ": has neither dns_cloudflare_api_token nor both dns_cloudflare_email and "
                      "dns_cloudflare_api_key");
}

Credentials resolve_credentials(const Settings& settings, const EnvironmentLookup& environment) {
    // acme.sh exports these to its hooks; whichever source wins below, the programs danehook
    // runs (reload_command, ...) do not get them.
    for (const char* name : {"CLOUDFLARE_API_TOKEN", "CF_Token", "CF_Key"}) {
        if (environment(name)) withhold_from_children(name);
    }
    if (auto token_file = settings.path("api_token_file")) {
        std::string token;
        try {
            SecretText text(read_file(*token_file));
            token = trim(text.reveal());
        } catch (const Error& e) {
            throw settings.error("api_token_file", e.what());
        }
        if (!is_header_safe(token)) {
            throw settings.error("api_token_file",
                                 token_file->string() +
                                     " must hold one API token (no spaces or control characters)");
        }
        warn_if_permissive(*token_file);
        return Credentials{Credentials::Kind::api_token, std::move(token), "", {},
                           "api_token_file " + token_file->string()};
    }
    for (const char* name : {"CLOUDFLARE_API_TOKEN", "CF_Token"}) {
        auto value = environment(name);
        if (!value || value->empty()) continue;
        std::string token = trim(*value);
        if (!is_header_safe(token)) {
            throw ConfigError(std::string("environment variable ") + name +
                              " must hold one API token (no spaces or control characters)");
        }
        return Credentials{Credentials::Kind::api_token, std::move(token), "", {},
                           std::string("environment variable ") + name};
    }
    // acme.sh's global-key pair, the environment's last resort.
    auto key = environment("CF_Key");
    auto email = environment("CF_Email");
    if (key && email && !key->empty() && !email->empty()) {
        std::string trimmed_key = trim(*key);
        std::string trimmed_email = trim(*email);
        if (!is_header_safe(trimmed_key) || !is_header_safe(trimmed_email)) {
            throw ConfigError(
                "environment variables CF_Key and CF_Email must not contain spaces or control "
                "characters");
        }
        return Credentials{Credentials::Kind::global_key, {}, trimmed_email, std::move(trimmed_key),
                           "environment variables CF_Email and CF_Key"};
    }
    if (auto file = settings.path("credentials")) {
        SecretText text;
        try {
            text = read_file(*file);
        } catch (const Error& e) {
            throw settings.error("credentials", e.what());
        }
        warn_if_permissive(*file);
        return parse_certbot_credentials(text.reveal(), file->string());
    }
    throw settings.error("",
                         "no Cloudflare credentials: set api_token_file or credentials, or "
                         "CLOUDFLARE_API_TOKEN (or CF_Token) in the environment");
}

}  // namespace danehook::cloudflare
