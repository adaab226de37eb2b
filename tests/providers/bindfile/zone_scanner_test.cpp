#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "providers/bindfile/zone_files.hpp"
#include "providers/bindfile/zone_scanner.hpp"
#include "support/test_support.hpp"

using namespace danehook::bindfile;
using danehook::testing::TempDir;
using danehook::testing::write_text;

namespace {

struct Collected {
    std::vector<std::vector<std::string>> entries;
    std::vector<bool> implicit_owner;
    std::vector<std::string> comments;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
};

Collected scan_text(const std::string& text, std::size_t chunk) {
    Collected collected;
    ZoneScanner scanner(
        "test.zone",
        [&](const ZoneEntry& entry) {
            std::vector<std::string> tokens;
            for (const auto& token : entry.tokens) {
                tokens.emplace_back(token.text);
                // Offsets point at the token in the original text.
                if (!token.quoted)
                    CHECK(text.substr(token.offset, token.length) == std::string(token.text));
            }
            collected.entries.push_back(tokens);
            collected.implicit_owner.push_back(entry.owner_implicit);
            collected.spans.emplace_back(entry.begin, entry.end);
        },
        [&](const ZoneCommentLine& comment) { collected.comments.emplace_back(comment.text); });
    for (std::size_t i = 0; i < text.size(); i += chunk)
        scanner.feed(std::string_view(text).substr(i, chunk));
    scanner.finish();
    return collected;
}

const std::string sample_zone =
    "; leading comment\n"
    "$TTL 1h\n"
    "@   IN  SOA ns1.example.net. hostmaster.example.net. ( ; the SOA\n"
    "        2026010100 ; serial\n"
    "        3600       ; refresh\n"
    "        900 1w 300 )\n"
    "    IN  NS  ns1\n"
    "ns1 300 IN A 192.0.2.1\n"
    "txt TXT \"a ; not a comment\" \"with \\\" quote\"\n"
    "$ORIGIN sub.example.net.\n"
    "www A 192.0.2.2 ; trailing\n"
    "   ; indented comment line\n"
    "esc\\.aped A 192.0.2.3";

}  // namespace

TEST_CASE("the scanner splits entries across lines, comments and quotes") {
    auto collected = scan_text(sample_zone, 1 << 20);
    REQUIRE(collected.entries.size() == 8);
    CHECK(collected.entries[0] == std::vector<std::string>{"$TTL", "1h"});
    CHECK(collected.entries[1] == std::vector<std::string>{"@", "IN", "SOA", "ns1.example.net.",
                                                           "hostmaster.example.net.", "2026010100",
                                                           "3600", "900", "1w", "300"});
    CHECK(collected.implicit_owner[2]);
    CHECK(collected.entries[4] ==
          std::vector<std::string>{"txt", "TXT", "a ; not a comment", "with \\\" quote"});
    CHECK(collected.entries[7] == std::vector<std::string>{"esc\\.aped", "A", "192.0.2.3"});
    CHECK(collected.comments ==
          std::vector<std::string>{"; leading comment", "; indented comment line"});
    // The SOA entry spans its four lines exactly.
    auto soa_begin = sample_zone.find("@   IN");
    auto soa_end = sample_zone.find("    IN  NS");
    CHECK(collected.spans[1] == std::pair<std::uint64_t, std::uint64_t>(soa_begin, soa_end));
}

TEST_CASE("the scanner gives the same result for any chunk size") {
    auto whole = scan_text(sample_zone, 1 << 20);
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u}) {
        auto pieces = scan_text(sample_zone, chunk);
        CHECK(pieces.entries == whole.entries);
        CHECK(pieces.comments == whole.comments);
        CHECK(pieces.spans == whole.spans);
    }
}

TEST_CASE("the scanner reports unbalanced syntax with the line") {
    CHECK_THROWS_WITH_AS(scan_text("a A 1.2.3.4\nb TXT \"open\n", 64),
                         doctest::Contains("test.zone:2"), ZoneSyntaxError);
    CHECK_THROWS_WITH_AS(scan_text("@ SOA a b ( 1 2 3 4 5\n", 64), doctest::Contains("not closed"),
                         ZoneSyntaxError);
    CHECK_THROWS_WITH_AS(scan_text("a A 1.2.3.4 )\n", 64), doctest::Contains("without '('"),
                         ZoneSyntaxError);
}

TEST_CASE("TTL values in BIND units") {
    CHECK(parse_ttl("3600") == 3600u);
    CHECK(parse_ttl("1h") == 3600u);
    CHECK(parse_ttl("1h30m") == 5400u);
    CHECK(parse_ttl("2W") == 1209600u);
    CHECK(parse_ttl("1d2h3m4s") == 93784u);
    CHECK_FALSE(parse_ttl("IN"));
    CHECK_FALSE(parse_ttl("1x"));
    CHECK_FALSE(parse_ttl("99999999999"));
}

TEST_CASE("names resolve against the origin") {
    CHECK(ZoneInterpreter::absolute_name("@", "example.net.") == "example.net.");
    CHECK(ZoneInterpreter::absolute_name("WWW", "example.net.") == "www.example.net.");
    CHECK(ZoneInterpreter::absolute_name("Mail.Example.NET.", "example.net.") ==
          "mail.example.net.");
    CHECK(ZoneInterpreter::absolute_name("a\\.", "example.net.") == "a\\..example.net.");
    CHECK(ZoneInterpreter::absolute_name("host", ".") == "host.");
    // Escaped ordinary characters compare equal to their plain spelling; others stay escaped.
    CHECK(ZoneInterpreter::absolute_name("\\09525._tcp.\\M", "example.net.") ==
          "_25._tcp.m.example.net.");
    CHECK(ZoneInterpreter::absolute_name("a\\032b", "example.net.") == "a\\032b.example.net.");
    CHECK(ZoneInterpreter::absolute_name("a\\.b.", "example.net.") == "a\\.b.");
}

TEST_CASE("scan_zone finds the SOA serial wherever it sits") {
    TempDir dir;
    auto file = dir / "db.example";
    write_text(file,
               "$ORIGIN net.\n"
               "$TTL 300\n"
               "example\tIN SOA\tns1.example.net. hostmaster (\n"
               "\t; the serial follows\n"
               "\t\t2026112301 ; serial\n"
               "\t\t1h 15m 1w 5m )\n"
               "$ORIGIN example.net.\n"
               "_25._tcp.mail TLSA 3 1 1 ( 0123456789ABCDEF0123456789ABCDEF\n"
               "                           0123456789abcdef0123456789abcdef )\n"
               "\t\t7200 TLSA \\# 5 0301010203\n"
               "other TLSA 3 1 1 00\n");
    ZoneScanRequest request;
    request.zone_file = file;
    request.zone = "example.net.";
    request.owners = {"_25._tcp.mail.example.net."};
    auto scan = scan_zone(request);
    CHECK(scan.serial == 2026112301u);
    auto content = danehook::testing::read_text(file);
    CHECK(content.substr(scan.serial_offset, scan.serial_length) == "2026112301");
    REQUIRE(scan.foreign.size() == 2);
    CHECK(scan.foreign[0].ttl == 300u);
    CHECK(scan.foreign[0].rdata.presentation() ==
          "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF");
    CHECK(scan.foreign[1].ttl == 7200u);
    CHECK(scan.foreign[1].rdata.presentation() == "3 1 1 0203");
}

TEST_CASE("scan_zone refuses zones without a usable SOA") {
    TempDir dir;
    auto file = dir / "db";
    ZoneScanRequest request;
    request.zone_file = file;
    request.zone = "example.net.";
    write_text(file, "www A 192.0.2.1\n");
    CHECK_THROWS_WITH_AS(scan_zone(request), doctest::Contains("no SOA"), ZoneSyntaxError);
    write_text(file, "other.net. SOA a b 1 2 3 4 5\n");
    CHECK_THROWS_WITH_AS(scan_zone(request), doctest::Contains("not at the zone apex"),
                         ZoneSyntaxError);
    write_text(file, "@ SOA a b 1x 2 3 4 5\n");
    CHECK_THROWS_WITH_AS(scan_zone(request), doctest::Contains("not a number"), ZoneSyntaxError);
    write_text(file, "@ SOA a b 4294967296 2 3 4 5\n");
    CHECK_THROWS_AS(scan_zone(request), ZoneSyntaxError);
}

TEST_CASE("copying with replacements changes only the given byte ranges, across chunk boundaries") {
    TempDir dir;
    auto source = dir / "source";
    std::string text;
    for (int i = 0; i < 200000; ++i)
        text += "line " + std::to_string(i) + "\n";  // ~2.2 MB, three chunks
    write_text(source, text);
    StagedFile out(dir / "out");
    out.open();
    std::uint64_t boundary =
        (1 << 20) - 3;  // a replacement that straddles the first chunk boundary
    std::vector<CopyTarget> targets{
        CopyTarget{&out, {{5, 1, "ZERO"}, {boundary, 10, "<X>"}, {text.size(), 0, "tail\n"}}}};
    auto digest = copy_with_replacements(source, targets);
    CHECK(digest == digest_of(text));
    out.finish(0644, std::nullopt);
    std::string expected = text;
    expected.replace(boundary, 10, "<X>");
    expected.replace(5, 1, "ZERO");
    expected += "tail\n";
    CHECK(danehook::testing::read_text(out.path()) == expected);
}
