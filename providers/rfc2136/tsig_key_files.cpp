#include "providers/rfc2136/tsig_key_files.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <utility>

#include "danehook/certbot_ini.hpp"
#include "danehook/dns_name.hpp"
#include "danehook/error.hpp"
#include "danehook/file_io.hpp"
#include "danehook/log.hpp"

namespace danehook::rfc2136 {
namespace {

struct Token {
    enum Kind { word, string, open, close, semicolon, end } kind = end;
    std::string text;
    int line = 0;
};

// BIND configuration lexer: words, "strings", { } ; and #, // and /* */ comments.
class Lexer {
  public:
    Lexer(std::string_view text, const std::string& source) : text_(text), source_(source) {}

    Token next() {
        skip_space_and_comments();
        Token token;
        token.line = line_;
        if (pos_ >= text_.size()) return token;
        char c = text_[pos_];
        if (c == '{' || c == '}' || c == ';') {
            ++pos_;
            token.kind = c == '{' ? Token::open : c == '}' ? Token::close : Token::semicolon;
            token.text = std::string(1, c);
            return token;
        }
        if (c == '"') {
            ++pos_;
            token.kind = Token::string;
            while (pos_ < text_.size() && text_[pos_] != '"') {
                if (text_[pos_] == '\n') ++line_;
                if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
                token.text.push_back(text_[pos_++]);
            }
            if (pos_ >= text_.size()) throw error(token.line, "unterminated string");
            ++pos_;
            return token;
        }
        token.kind = Token::word;
        while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
               std::string_view("{};\"").find(text_[pos_]) == std::string_view::npos) {
            token.text.push_back(text_[pos_++]);
        }
        return token;
    }

    InputError error(int line, const std::string& message) const {
        return InputError(source_ + ":" + std::to_string(line) + ": " + message);
    }

  private:
    void skip_space_and_comments() {
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (c == '\n') {
                ++line_;
                ++pos_;
            } else if (std::isspace(static_cast<unsigned char>(c))) {
                ++pos_;
            } else if (c == '#' || text_.substr(pos_, 2) == "//") {
                while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
            } else if (text_.substr(pos_, 2) == "/*") {
                auto close = text_.find("*/", pos_ + 2);
                auto stop = close == std::string_view::npos ? text_.size() : close + 2;
                line_ += static_cast<int>(
                    std::count(text_.begin() + static_cast<std::ptrdiff_t>(pos_),
                               text_.begin() + static_cast<std::ptrdiff_t>(stop), '\n'));
                pos_ = stop;
            } else {
                return;
            }
        }
    }

    std::string_view text_;
    const std::string& source_;
    std::size_t pos_ = 0;
    int line_ = 1;
};

// Skips the rest of a statement whose first token was already read: up to the ';' that ends it
// at brace depth 0. Lenient, because ddns-confgen's output ends with an "nsupdate -k <keyfile>"
// line that is not configuration syntax; only key statements are parsed strictly.
// Returns false at the end of the text.
bool skip_statement(Lexer& lexer) {
    int depth = 0;
    while (true) {
        Token token = lexer.next();
        if (token.kind == Token::end) return false;
        if (token.kind == Token::open) ++depth;
        if (token.kind == Token::close) depth = std::max(0, depth - 1);
        if (token.kind == Token::semicolon && depth == 0) return true;
    }
}

KeyStatement parse_key_body(Lexer& lexer, int line) {
    KeyStatement key;
    key.line = line;
    Token name = lexer.next();
    if (name.kind != Token::word && name.kind != Token::string)
        throw lexer.error(line, "key statement without a name");
    key.name = name.text;
    if (lexer.next().kind != Token::open)
        throw lexer.error(line, "expected '{' after key \"" + key.name + "\"");
    while (true) {
        Token field = lexer.next();
        if (field.kind == Token::close) break;
        if (field.kind != Token::word)
            throw lexer.error(field.line,
                              "unexpected '" + field.text + "' in key \"" + key.name + "\"");
        Token value = lexer.next();
        if (value.kind != Token::word && value.kind != Token::string) {
            throw lexer.error(field.line, "'" + field.text + "' needs a value");
        }
        if (lexer.next().kind != Token::semicolon)
            throw lexer.error(field.line, "expected ';' after " + field.text);
        if (field.text == "algorithm") {
            key.algorithm = value.text;
        } else if (field.text == "secret") {
            key.secret = value.text;
        } else {
            throw lexer.error(field.line, "unknown key field '" + field.text + "'");
        }
    }
    if (lexer.next().kind != Token::semicolon)
        throw lexer.error(line, "expected ';' after key \"" + key.name + "\" { ... }");
    return key;
}

std::string trim(std::string_view text) {
    auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) return "";
    auto end = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(begin, end - begin + 1));
}

std::string canonical_key_name(const std::string& name, const std::string& where) {
    try {
        return canonical_name(name);
    } catch (const std::invalid_argument& e) {
        throw InputError(where + ": key name '" + name + "': " + e.what());
    }
}

TsigKey key_from_statement(const KeyStatement& statement, const std::string& source) {
    std::string where = source + ":" + std::to_string(statement.line);
    if (statement.algorithm.empty())
        throw InputError(where + ": key \"" + statement.name + "\" has no algorithm");
    if (statement.secret.empty())
        throw InputError(where + ": key \"" + statement.name + "\" has no secret");
    TsigKey key;
    key.name = canonical_key_name(statement.name, where);
    key.source = source;
    try {
        key.algorithm = parse_tsig_algorithm(statement.algorithm);
        key.secret = decode_tsig_secret(statement.secret);
    } catch (const std::invalid_argument& e) {
        throw InputError(where + ": key \"" + statement.name + "\": " + e.what());
    }
    return key;
}

// "Kname.+163+01234.private" -> ("name", 163); nullopt for other names.
std::optional<std::pair<std::string, int>> parse_private_key_file_name(const std::string& base) {
    const std::string suffix = ".private";
    // K + name (at least one character) + ".+NNN+NNNNN" + ".private"
    if (base.size() < 1 + 1 + 11 + suffix.size() || base[0] != 'K' ||
        base.compare(base.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return std::nullopt;
    }
    std::string stem = base.substr(1, base.size() - 1 - suffix.size());  // name.+NNN+NNNNN
    std::string tail = stem.substr(stem.size() - 10);                    // +NNN+NNNNN
    auto digits = [](std::string_view text) {
        return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (tail[0] != '+' || tail[4] != '+' || !digits(std::string_view(tail).substr(1, 3)) ||
        !digits(std::string_view(tail).substr(5))) {
        return std::nullopt;
    }
    std::string name = stem.substr(0, stem.size() - 10);
    if (name.empty()) return std::nullopt;
    if (name.back() == '.') name.pop_back();
    if (name.empty()) return std::nullopt;
    return std::pair<std::string, int>{name, std::stoi(tail.substr(1, 3))};
}

}  // namespace

std::vector<KeyStatement> parse_key_statements(std::string_view text, const std::string& source) {
    Lexer lexer(text, source);
    std::vector<KeyStatement> keys;
    while (true) {
        Token token = lexer.next();
        if (token.kind == Token::end) break;
        if (token.kind == Token::semicolon) continue;
        if (token.kind == Token::word && token.text == "key") {
            keys.push_back(parse_key_body(lexer, token.line));
        } else if (!skip_statement(lexer)) {
            break;
        }
    }
    return keys;
}

TsigKey parse_private_key_file(std::string_view text, const std::string& file_name) {
    // K<name>.+<algorithm>+<id>.private; BIND writes the name with its trailing dot.
    std::string base = std::filesystem::path(file_name).filename().string();
    auto name_and_numbers = parse_private_key_file_name(base);
    if (!name_and_numbers) {
        throw InputError(
            file_name +
            ": a BIND private key file must be named K<keyname>.+<algorithm>+<id>.private");
    }
    auto [name, file_algorithm] = *name_and_numbers;

    std::optional<int> algorithm_number;
    std::string secret;
    std::istringstream lines{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string field = trim(std::string_view(line).substr(0, colon));
        std::string value = trim(std::string_view(line).substr(colon + 1));
        if (field == "Algorithm") {
            int parsed = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
            if (ec != std::errc() || end == value.data()) {
                throw InputError(file_name + ":" + std::to_string(number) +
                                 ": cannot read the algorithm number");
            }
            algorithm_number = parsed;
        } else if (field == "Key") {
            secret = value;
        }
    }
    if (!algorithm_number) throw InputError(file_name + ": no 'Algorithm:' line");
    if (*algorithm_number != file_algorithm) {
        throw InputError(file_name + ": the file name says algorithm " +
                         std::to_string(file_algorithm) + " but the file says " +
                         std::to_string(*algorithm_number));
    }
    auto algorithm = tsig_algorithm_from_bind_number(*algorithm_number);
    if (!algorithm) {
        throw InputError(
            file_name + ": algorithm " + std::to_string(*algorithm_number) +
            " is not an HMAC TSIG algorithm (157 md5, 161 sha1, 162 sha224, 163 sha256, 164 "
            "sha384, 165 sha512)");
    }
    if (secret.empty()) throw InputError(file_name + ": no 'Key:' line");
    TsigKey key;
    key.name = canonical_key_name(name, file_name);
    key.algorithm = *algorithm;
    key.source = file_name;
    try {
        key.secret = decode_tsig_secret(secret);
    } catch (const std::invalid_argument& e) {
        throw InputError(file_name + ": " + e.what());
    }
    return key;
}

TsigKey load_key_file(const std::filesystem::path& path,
                      const std::optional<std::string>& key_name) {
    SecretText file_text(read_file(path));  // wiped when done: it holds the base64 secret
    const std::string& text = file_text.reveal();
    if (auto warning = permissive_credentials_warning(path)) log::warning(*warning);
    if (text.find("Private-key-format:") != std::string::npos) {
        TsigKey key = parse_private_key_file(text, path.string());
        if (key_name && canonical_key_name(*key_name, path.string()) != key.name) {
            throw InputError(path.string() + ": holds key '" + key.name + "', not '" + *key_name +
                             "'");
        }
        return key;
    }
    auto statements = parse_key_statements(text, path.string());
    if (statements.empty())
        throw InputError(path.string() +
                         ": no key statement (key \"name\" { algorithm ...; secret \"...\"; };)");
    if (key_name) {
        std::string wanted = canonical_key_name(*key_name, path.string());
        for (const auto& statement : statements) {
            if (canonical_key_name(statement.name, path.string()) == wanted)
                return key_from_statement(statement, path.string());
        }
        std::string names;
        for (const auto& statement : statements)
            names += (names.empty() ? "" : ", ") + statement.name;
        throw InputError(path.string() + ": no key named '" + *key_name +
                         "' (the file has: " + names + ")");
    }
    if (statements.size() > 1) {
        std::string names;
        for (const auto& statement : statements)
            names += (names.empty() ? "" : ", ") + statement.name;
        throw InputError(path.string() + ": holds several keys (" + names +
                         "); choose one with tsig_key_name");
    }
    return key_from_statement(statements.front(), path.string());
}

CertbotCredentials parse_certbot_credentials(std::string_view text, const std::string& source) {
    CertbotCredentials credentials;
    std::optional<std::string> name, secret, algorithm;
    int name_line = 0;
    for (const auto& [key, item] : parse_certbot_ini(text, source)) {
        const std::string& value = item.value;
        int number = item.line;
        std::string where = source + ":" + std::to_string(number);
        if (key == "dns_rfc2136_server") {
            credentials.server = value;
        } else if (key == "dns_rfc2136_port") {
            unsigned port = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
            if (ec != std::errc() || end != value.data() + value.size() || port == 0 ||
                port > 65535) {
                throw InputError(where + ": dns_rfc2136_port must be 1-65535");
            }
            credentials.port = static_cast<std::uint16_t>(port);
        } else if (key == "dns_rfc2136_name") {
            name = value;
            name_line = number;
        } else if (key == "dns_rfc2136_secret") {
            secret = value;
        } else if (key == "dns_rfc2136_algorithm") {
            algorithm = value;
        }
        // Other keys (dns_rfc2136_sign_query, other plugins' settings) do not concern us.
    }
    if (name && secret) {
        TsigKey key;
        std::string where = source + ":" + std::to_string(name_line);
        key.name = canonical_key_name(*name, where);
        key.source = source;
        try {
            // certbot-dns-rfc2136 defaults to HMAC-MD5 when no algorithm is given.
            key.algorithm = parse_tsig_algorithm(algorithm.value_or("HMAC-MD5"));
            key.secret = decode_tsig_secret(*secret);
        } catch (const std::invalid_argument& e) {
            throw InputError(source + ": " + e.what());
        }
        credentials.key = key;
    } else if (name || secret) {
        throw InputError(source +
                         ": dns_rfc2136_name and dns_rfc2136_secret must be given together");
    }
    return credentials;
}

CertbotCredentials load_certbot_credentials(const std::filesystem::path& path) {
    SecretText text(read_file(path));
    if (auto warning = permissive_credentials_warning(path)) log::warning(*warning);
    return parse_certbot_credentials(text.reveal(), path.string());
}

std::vector<std::uint8_t> load_secret_file(const std::filesystem::path& path) {
    SecretText text(read_file(path));
    if (auto warning = permissive_credentials_warning(path)) log::warning(*warning);
    try {
        return decode_tsig_secret(text.reveal());
    } catch (const std::invalid_argument& e) {
        throw InputError(path.string() + ": " + e.what());
    }
}

}  // namespace danehook::rfc2136
