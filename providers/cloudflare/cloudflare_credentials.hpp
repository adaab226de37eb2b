// Where the Cloudflare provider finds its credentials, in order of preference:
//   1. `api_token_file`: a file holding a scoped API token;
//   2. the environment: CLOUDFLARE_API_TOKEN, or acme.sh's CF_Token (or its global key pair
//      CF_Key + CF_Email);
//   3. `credentials`: certbot-dns-cloudflare's INI file, with dns_cloudflare_api_token or the
//      legacy dns_cloudflare_email + dns_cloudflare_api_key (global API key).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "danehook/settings.hpp"
#include "providers/cloudflare/cloudflare_client.hpp"

namespace danehook::cloudflare {

using EnvironmentLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
std::optional<std::string> process_environment(const std::string& name);

// Resolves the credentials from the provider's settings and the environment. Throws
// ConfigError naming the setting or file when none are usable. Warns (log::warning) when a
// credentials file is readable by group or others. Never puts a secret in a message.
Credentials resolve_credentials(const Settings& settings,
                                const EnvironmentLookup& environment = process_environment);

// Parses certbot-dns-cloudflare's INI text ("key = value" lines, '#' or ';' comments).
// `file` names the file in errors.
Credentials parse_certbot_credentials(const std::string& text, const std::string& file);

}  // namespace danehook::cloudflare
