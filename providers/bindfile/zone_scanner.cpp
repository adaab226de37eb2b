#include "providers/bindfile/zone_scanner.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cstring>

namespace danehook::bindfile {
namespace {

enum CharClass : std::uint8_t {
    ordinary,
    newline,
    blank,
    semicolon,
    open_paren,
    close_paren,
    quote,
    backslash
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> classes{};
    classes['\n'] = newline;
    classes[' '] = blank;
    classes['\t'] = blank;
    classes['\r'] = blank;
    classes[';'] = semicolon;
    classes['('] = open_paren;
    classes[')'] = close_paren;
    classes['"'] = quote;
    classes['\\'] = backslash;
    return classes;
}
constexpr auto char_classes = make_classes();

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
        if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
        if (x != y) return false;
    }
    return true;
}

bool is_class(std::string_view token) {
    if (iequals(token, "IN") || iequals(token, "CH") || iequals(token, "HS") ||
        iequals(token, "CS") || iequals(token, "NONE") || iequals(token, "ANY")) {
        return true;
    }
    if (token.size() > 5 && iequals(token.substr(0, 5), "CLASS")) {
        for (char c : token.substr(5)) {
            if (c < '0' || c > '9') return false;
        }
        return true;
    }
    return false;
}

std::string upper(std::string_view text) {
    std::string result(text);
    for (char& c : result) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return result;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ZoneScanner

ZoneScanner::ZoneScanner(std::string source_name, EntryHandler on_entry, CommentHandler on_comment)
    : source_(std::move(source_name)),
      on_entry_(std::move(on_entry)),
      on_comment_(std::move(on_comment)) {
    entry_text_.reserve(4096);
    token_spans_.reserve(16);
}

void ZoneScanner::fail(const std::string& message) const {
    throw ZoneSyntaxError(source_ + ":" + std::to_string(line_) + ": " + message);
}

void ZoneScanner::start_token(std::uint64_t offset, bool quoted) {
    if (!entry_open_) {
        entry_open_ = true;
        entry_.begin = line_start_;
        entry_.line = line_;
        entry_.owner_implicit = line_starts_blank_;
        entry_text_.clear();
        token_spans_.clear();
    }
    in_token_ = true;
    line_has_content_ = true;
    token_spans_.push_back(Span{entry_text_.size(), 0, quoted, offset, 0});
}

void ZoneScanner::end_token() {
    if (!in_token_) return;
    in_token_ = false;
    Span& span = token_spans_.back();
    span.size = entry_text_.size() - span.begin;
    span.length = offset_ - span.offset;
}

void ZoneScanner::emit_entry(std::uint64_t end_offset) {
    entry_.end = end_offset;
    entry_.tokens.clear();
    for (const auto& span : token_spans_) {
        entry_.tokens.push_back(
            ZoneToken{std::string_view(entry_text_).substr(span.begin, span.size), span.quoted,
                      span.offset, span.length});
    }
    entry_open_ = false;
    on_entry_(entry_);
}

void ZoneScanner::end_line(std::uint64_t newline_offset) {
    if (in_comment_) {
        in_comment_ = false;
        if (comment_is_whole_line_ && on_comment_) {
            on_comment_(ZoneCommentLine{comment_text_, line_start_, newline_offset + 1, line_});
        }
    }
    if (paren_depth_ == 0 && entry_open_) emit_entry(newline_offset + 1);
    ++line_;
    line_start_ = newline_offset + 1;
    line_has_content_ = false;
    line_starts_blank_ = false;
    at_line_start_ = true;
}

void ZoneScanner::feed(std::string_view chunk) {
    const char* data = chunk.data();
    const std::size_t size = chunk.size();
    std::size_t i = 0;
    while (i < size) {
        const char c = data[i];
        if (in_comment_) {
            const void* found = std::memchr(data + i, '\n', size - i);
            std::size_t stop =
                found ? static_cast<std::size_t>(static_cast<const char*>(found) - data) : size;
            if (comment_is_whole_line_) comment_text_.append(data + i, stop - i);
            offset_ += stop - i;
            i = stop;
            if (i < size) {
                end_line(offset_);
                ++offset_;
                ++i;
            }
            continue;
        }
        if (in_quote_) {
            if (escape_pending_) {
                escape_pending_ = false;
                entry_text_.push_back(c);
            } else if (c == '\\') {
                escape_pending_ = true;
                entry_text_.push_back(c);
            } else if (c == '"') {
                in_quote_ = false;
                ++offset_;
                ++i;
                end_token();
                continue;
            } else if (c == '\n') {
                fail("quoted string not closed on its line");
            } else {
                entry_text_.push_back(c);
            }
            ++offset_;
            ++i;
            continue;
        }
        if (escape_pending_) {
            escape_pending_ = false;
            entry_text_.push_back(c);
            if (c == '\n') fail("backslash at the end of a line");
            ++offset_;
            ++i;
            continue;
        }
        const auto kind = static_cast<CharClass>(char_classes[static_cast<unsigned char>(c)]);
        if (kind == ordinary) {
            if (!in_token_) {
                at_line_start_ = false;
                start_token(offset_, false);
            }
            std::size_t run = i + 1;
            while (run < size && char_classes[static_cast<unsigned char>(data[run])] == ordinary)
                ++run;
            entry_text_.append(data + i, run - i);
            offset_ += run - i;
            i = run;
            continue;
        }
        switch (kind) {
            case newline:
                end_token();
                end_line(offset_);
                break;
            case blank:
                end_token();
                if (at_line_start_) line_starts_blank_ = true;
                at_line_start_ = false;
                break;
            case semicolon:
                end_token();
                at_line_start_ = false;
                in_comment_ = true;
                comment_is_whole_line_ = !line_has_content_ && paren_depth_ == 0 && !entry_open_;
                comment_text_.assign(1, ';');
                break;
            case open_paren:
                end_token();
                at_line_start_ = false;
                if (!entry_open_) fail("'(' before any field");
                line_has_content_ = true;
                ++paren_depth_;
                break;
            case close_paren:
                end_token();
                at_line_start_ = false;
                if (paren_depth_ == 0) fail("')' without '('");
                line_has_content_ = true;
                --paren_depth_;
                break;
            case quote:
                end_token();
                at_line_start_ = false;
                start_token(offset_, true);
                in_quote_ = true;
                break;
            case backslash:
                if (!in_token_) {
                    at_line_start_ = false;
                    start_token(offset_, false);
                }
                entry_text_.push_back(c);
                escape_pending_ = true;
                break;
            case ordinary:
                break;
        }
        ++offset_;
        ++i;
    }
}

void ZoneScanner::finish() {
    if (in_quote_) fail("quoted string not closed at the end of the file");
    if (escape_pending_) fail("backslash at the end of the file");
    end_token();
    if (paren_depth_ != 0) fail("'(' not closed at the end of the file");
    if (in_comment_) {
        in_comment_ = false;
        if (comment_is_whole_line_ && on_comment_)
            on_comment_(ZoneCommentLine{comment_text_, line_start_, offset_, line_});
    }
    if (entry_open_) emit_entry(offset_);
}

// ---------------------------------------------------------------------------------------------
// Interpretation

std::optional<std::uint32_t> parse_ttl(std::string_view text) {
    if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
    std::uint64_t total = 0;
    std::uint64_t number = 0;
    bool have_digits = false;
    for (char c : text) {
        if (c >= '0' && c <= '9') {
            number = number * 10 + static_cast<std::uint64_t>(c - '0');
            if (number > 0xFFFFFFFFull) return std::nullopt;
            have_digits = true;
            continue;
        }
        if (!have_digits) return std::nullopt;
        std::uint64_t factor = 0;
        switch (c) {
            case 'w':
            case 'W':
                factor = 604800;
                break;
            case 'd':
            case 'D':
                factor = 86400;
                break;
            case 'h':
            case 'H':
                factor = 3600;
                break;
            case 'm':
            case 'M':
                factor = 60;
                break;
            case 's':
            case 'S':
                factor = 1;
                break;
            default:
                return std::nullopt;
        }
        total += number * factor;
        number = 0;
        have_digits = false;
    }
    if (have_digits) total += number;  // a trailing number without a unit counts seconds
    if (total > 0xFFFFFFFFull) return std::nullopt;
    return static_cast<std::uint32_t>(total);
}

ZoneInterpreter::ZoneInterpreter(std::string source_name, std::string zone)
    : source_(std::move(source_name)), zone_(zone), origin_(std::move(zone)) {}

void ZoneInterpreter::fail(const ZoneEntry& entry, const std::string& message) const {
    throw ZoneSyntaxError(source_ + ":" + std::to_string(entry.line) + ": " + message);
}

std::string ZoneInterpreter::absolute_name(std::string_view written, const std::string& origin) {
    if (written == "@") return origin;
    // Lower case; escapes of ordinary name characters ("\095", "\_") are decoded so that the
    // name compares equal to its plain spelling, other escapes are kept as written.
    auto plain = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
    };
    auto lower = [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    std::string name;
    name.reserve(written.size() + origin.size() + 1);
    bool ends_with_label_dot = false;
    for (std::size_t i = 0; i < written.size(); ++i) {
        char c = written[i];
        ends_with_label_dot = false;
        if (c != '\\' || i + 1 >= written.size()) {
            name.push_back(lower(c));
            ends_with_label_dot = c == '.';
            continue;
        }
        std::string_view rest = written.substr(i + 1);
        if (rest.size() >= 3 && std::isdigit(static_cast<unsigned char>(rest[0])) &&
            std::isdigit(static_cast<unsigned char>(rest[1])) &&
            std::isdigit(static_cast<unsigned char>(rest[2]))) {
            int value = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
            char decoded = lower(static_cast<char>(value));
            if (value < 128 && plain(decoded)) {
                name.push_back(decoded);
            } else {
                name.append(written.substr(i, 4));
            }
            i += 3;
            continue;
        }
        char decoded = lower(rest[0]);
        if (plain(decoded)) {
            name.push_back(decoded);
        } else {
            name.push_back('\\');
            name.push_back(decoded);
        }
        i += 1;
    }
    if (ends_with_label_dot) return name;
    if (origin != ".") name.push_back('.');
    name += origin;
    return name;
}

DirectiveKind ZoneInterpreter::directive_kind(const ZoneEntry& entry) const {
    if (entry.owner_implicit || entry.tokens.empty() || entry.tokens[0].quoted)
        return DirectiveKind::none;
    std::string_view first = entry.tokens[0].text;
    if (first.empty() || first[0] != '$') return DirectiveKind::none;
    if (iequals(first, "$ORIGIN")) return DirectiveKind::origin;
    if (iequals(first, "$TTL")) return DirectiveKind::ttl;
    if (iequals(first, "$INCLUDE")) return DirectiveKind::include;
    if (iequals(first, "$GENERATE")) return DirectiveKind::generate;
    return DirectiveKind::other;
}

void ZoneInterpreter::apply_directive(const ZoneEntry& entry) {
    switch (directive_kind(entry)) {
        case DirectiveKind::origin:
            if (entry.tokens.size() < 2) fail(entry, "$ORIGIN without a name");
            origin_ = absolute_name(entry.tokens[1].text, origin_);
            break;
        case DirectiveKind::ttl: {
            if (entry.tokens.size() < 2) fail(entry, "$TTL without a value");
            auto ttl = parse_ttl(entry.tokens[1].text);
            if (!ttl)
                fail(entry, "$TTL value '" + std::string(entry.tokens[1].text) + "' is not a TTL");
            default_ttl_ = ttl;
            break;
        }
        case DirectiveKind::include:
        case DirectiveKind::generate:
            break;  // included files and generated records are not read (see
                    // docs/provider-bindfile.md)
        case DirectiveKind::other:
            fail(entry, "unknown directive '" + std::string(entry.tokens[0].text) + "'");
        case DirectiveKind::none:
            break;
    }
}

ZoneRecord ZoneInterpreter::record(const ZoneEntry& entry) {
    ZoneRecord result;
    std::size_t index = 0;
    if (entry.owner_implicit) {
        if (last_owner_.empty()) fail(entry, "record without an owner name and no previous owner");
        result.owner = last_owner_;
    } else {
        result.owner = absolute_name(entry.tokens[0].text, origin_);
        last_owner_ = result.owner;
        index = 1;
    }
    // [TTL] [class] type, or [class] [TTL] type.
    std::optional<std::uint32_t> ttl;
    for (int field = 0; field < 2 && index < entry.tokens.size(); ++field) {
        std::string_view token = entry.tokens[index].text;
        if (!ttl) {
            if (auto parsed = parse_ttl(token)) {
                ttl = parsed;
                ++index;
                continue;
            }
        }
        if (is_class(token)) {
            if (!iequals(token, "IN"))
                fail(entry, "class " + std::string(token) + " in an IN zone");
            ++index;
            continue;
        }
        break;
    }
    if (index >= entry.tokens.size()) fail(entry, "record without a type");
    result.type = upper(entry.tokens[index].text);
    result.rdata_index = index + 1;
    if (ttl) {
        result.ttl = ttl;
        result.ttl_explicit = true;
        last_ttl_ = ttl;
    } else if (default_ttl_) {
        result.ttl = default_ttl_;
    } else {
        result.ttl = last_ttl_;
    }
    return result;
}

TlsaRdata parse_tlsa_rdata(const ZoneEntry& entry, std::size_t rdata_index) {
    const auto& tokens = entry.tokens;
    if (rdata_index >= tokens.size()) throw std::invalid_argument("TLSA record without data");
    if (tokens[rdata_index].text == "\\#") {
        // RFC 3597: \# <length> <hex>
        if (rdata_index + 1 >= tokens.size()) throw std::invalid_argument("\\# without a length");
        std::string_view length_text = tokens[rdata_index + 1].text;
        std::size_t length = 0;
        auto [end, ec] =
            std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
        if (ec != std::errc() || end != length_text.data() + length_text.size()) {
            throw std::invalid_argument("\\# length '" + std::string(length_text) +
                                        "' is not a number");
        }
        std::string hex;
        for (std::size_t i = rdata_index + 2; i < tokens.size(); ++i) hex += tokens[i].text;
        auto bytes = from_hex(hex);
        if (bytes.size() != length)
            throw std::invalid_argument("\\# length does not match the data");
        if (bytes.size() < 4) throw std::invalid_argument("TLSA data too short");
        TlsaRdata rdata;
        rdata.params.usage = static_cast<Usage>(bytes[0]);
        rdata.params.selector = static_cast<Selector>(bytes[1]);
        rdata.params.matching = static_cast<MatchingType>(bytes[2]);
        rdata.data.assign(bytes.begin() + 3, bytes.end());
        return rdata;
    }
    if (rdata_index + 3 >= tokens.size())
        throw std::invalid_argument("TLSA record needs usage, selector, matching type and data");
    std::string text;
    for (std::size_t i = rdata_index; i < tokens.size(); ++i) {
        if (tokens[i].quoted) throw std::invalid_argument("quoted string in TLSA data");
        if (!text.empty()) text.push_back(' ');
        text += tokens[i].text;
    }
    return TlsaRdata::parse(text);
}

}  // namespace danehook::bindfile
