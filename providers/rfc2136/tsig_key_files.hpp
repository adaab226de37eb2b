// Reading TSIG keys from the files DNS operators already have: BIND key statements (tsig-keygen,
// ddns-confgen, rndc.key, named.conf fragments), BIND's legacy K<name>.+<alg>+<id>.private
// files, certbot-dns-rfc2136 credentials INI files, and bare base64 secret files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/rfc2136/tsig.hpp"

namespace danehook::rfc2136 {

// One `key "name" { algorithm ...; secret "..."; };` statement.
struct KeyStatement {
    std::string name;
    std::string algorithm;  // as written; "" when the statement has none
    std::string secret;     // base64 as written
    int line = 0;
};

// Every top-level key statement in BIND configuration syntax (comments in all three styles,
// other statements skipped). Throws InputError "<source>:<line>: ..." on syntax errors.
std::vector<KeyStatement> parse_key_statements(std::string_view text, const std::string& source);

// A key file: BIND key statements (pick `key_name`, required when the file holds several) or a
// K*.private file (recognised by its "Private-key-format:" line). Throws InputError.
TsigKey load_key_file(const std::filesystem::path& path,
                      const std::optional<std::string>& key_name);

// A K<name>.+<alg>+<id>.private file's text; `file_name` supplies the key name.
TsigKey parse_private_key_file(std::string_view text, const std::string& file_name);

// certbot-dns-rfc2136's credentials file.
struct CertbotCredentials {
    std::optional<std::string> server;
    std::optional<std::uint16_t> port;
    std::optional<TsigKey> key;  // when dns_rfc2136_name and dns_rfc2136_secret are present
};
CertbotCredentials load_certbot_credentials(const std::filesystem::path& path);
CertbotCredentials parse_certbot_credentials(std::string_view text, const std::string& source);

// A file holding only the base64 secret (surrounding whitespace ignored).
std::vector<std::uint8_t> load_secret_file(const std::filesystem::path& path);

}  // namespace danehook::rfc2136
