// A streaming reader for DNS master files (RFC 1035 section 5, with BIND's extensions) that
// keeps byte offsets, so an editor can copy every byte it does not own verbatim.
//
// The scanner splits the input into entries (a directive or a resource record, possibly spread
// over several lines by parentheses, comments removed) and whole-line comments. It is fed in
// chunks and holds only the entry being read, so memory does not grow with the file.
// The interpreter gives entries their meaning: owner names, TTLs, classes, types, $ORIGIN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "danehook/tlsa.hpp"

namespace danehook::bindfile {

// A master file that does not parse; the message starts with "FILE:LINE: ".
class ZoneSyntaxError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct ZoneToken {
    std::string_view text;  // as written, escapes kept; quoted strings without their quotes
    bool quoted = false;
    std::uint64_t offset = 0;  // of the token's first byte (the quote for quoted strings)
    std::uint64_t length = 0;  // bytes in the file, quotes included
};

struct ZoneEntry {
    std::vector<ZoneToken> tokens;
    bool owner_implicit = false;  // the line starts with a blank: the previous owner applies
    std::uint64_t begin = 0;      // offset of the first line's first byte
    std::uint64_t end = 0;        // offset just past the last line's newline (or end of file)
    std::size_t line = 0;         // 1-based
};

// A line holding nothing but an optional blank and a comment.
struct ZoneCommentLine {
    std::string_view text;  // from ';' to the end of the line, without the newline
    std::uint64_t begin = 0;
    std::uint64_t end = 0;  // past the newline
    std::size_t line = 0;
};

class ZoneScanner {
  public:
    using EntryHandler = std::function<void(const ZoneEntry&)>;
    using CommentHandler = std::function<void(const ZoneCommentLine&)>;

    ZoneScanner(std::string source_name, EntryHandler on_entry, CommentHandler on_comment);

    void feed(std::string_view chunk);
    // Ends the input: reports the last entry, or throws for open parentheses or quotes.
    void finish();

    std::uint64_t bytes_seen() const { return offset_; }

  private:
    void end_token();
    void start_token(std::uint64_t offset, bool quoted);
    void end_line(std::uint64_t newline_offset);
    void emit_entry(std::uint64_t end_offset);
    [[noreturn]] void fail(const std::string& message) const;

    std::string source_;
    EntryHandler on_entry_;
    CommentHandler on_comment_;

    std::uint64_t offset_ = 0;  // of the next byte to be fed
    std::size_t line_ = 1;
    std::uint64_t line_start_ = 0;
    bool line_has_content_ = false;  // a token or parenthesis on the current line
    bool line_starts_blank_ = false;
    bool at_line_start_ = true;

    int paren_depth_ = 0;
    bool in_comment_ = false;
    bool comment_is_whole_line_ = false;
    std::string comment_text_;
    bool in_quote_ = false;
    bool escape_pending_ = false;
    bool in_token_ = false;

    bool entry_open_ = false;
    ZoneEntry entry_;
    std::string entry_text_;  // token characters, addressed by token_spans_
    struct Span {
        std::size_t begin;
        std::size_t size;
        bool quoted;
        std::uint64_t offset;
        std::uint64_t length;
    };
    std::vector<Span> token_spans_;
};

// What an entry means once $ORIGIN, $TTL and the previous owner are applied.
struct ZoneRecord {
    std::string owner;                 // absolute, lower case, escapes kept
    std::optional<std::uint32_t> ttl;  // explicit TTL, else $TTL, else the last explicit one
    bool ttl_explicit = false;
    std::string type;             // upper case: "SOA", "TLSA", "TYPE52", ...
    std::size_t rdata_index = 0;  // first rdata token in the entry
};

enum class DirectiveKind { none, origin, ttl, include, generate, other };

class ZoneInterpreter {
  public:
    // `zone` is the canonical zone name: the initial origin, as named-checkzone sets it.
    ZoneInterpreter(std::string source_name, std::string zone);

    // Applies a directive, or returns the record. Throws ZoneSyntaxError.
    DirectiveKind directive_kind(const ZoneEntry& entry) const;
    void apply_directive(const ZoneEntry& entry);
    ZoneRecord record(const ZoneEntry& entry);

    const std::string& origin() const { return origin_; }
    bool has_default_ttl() const { return default_ttl_.has_value(); }

    // The absolute lower-case form of a name as written in the file, relative to `origin`.
    static std::string absolute_name(std::string_view written, const std::string& origin);

  private:
    [[noreturn]] void fail(const ZoneEntry& entry, const std::string& message) const;

    std::string source_;
    std::string zone_;
    std::string origin_;
    std::string last_owner_;
    std::optional<std::uint32_t> default_ttl_;  // $TTL
    std::optional<std::uint32_t> last_ttl_;     // RFC 1035: the last explicit TTL
};

// A BIND TTL: seconds, or units such as "1h30m" / "2W". nullopt when not a TTL.
std::optional<std::uint32_t> parse_ttl(std::string_view text);

// The TLSA RDATA of a record (TLSA or TYPE52, presentation or RFC 3597 "\#" form).
// Throws std::invalid_argument.
TlsaRdata parse_tlsa_rdata(const ZoneEntry& entry, std::size_t rdata_index);

}  // namespace danehook::bindfile
