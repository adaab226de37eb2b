// The bindfile provider's master-file reading: the streaming scanner (fed in chunks whose sizes
// come from the input, so chunk boundaries fall everywhere), the interpreter ($ORIGIN, $TTL,
// owners, TTL units), TLSA RDATA in both forms, and scan_zone on the same bytes as a file (SOA
// serial location and the managed block). Offsets reported must lie inside the input.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "danehook/error.hpp"
#include "fuzz_support.hpp"
#include "providers/bindfile/zone_files.hpp"
#include "providers/bindfile/zone_scanner.hpp"

using namespace danehook;
using namespace danehook::bindfile;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::silence_log();
    if (size < 2) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const bool find_block = data[1] & 1;
    const auto text = fuzz::as_text(data + 2, size - 2);

    ZoneInterpreter interpreter("fuzz.zone", "example.net.");
    auto on_entry = [&](const ZoneEntry& entry) {
        if (entry.end < entry.begin || entry.end > text.size()) __builtin_trap();
        for (const auto& token : entry.tokens) {
            if (token.offset + token.length > text.size()) __builtin_trap();
        }
        try {
            if (interpreter.directive_kind(entry) != DirectiveKind::none) {
                interpreter.apply_directive(entry);
                return;
            }
            auto record = interpreter.record(entry);
            if (record.type == "TLSA" || record.type == "TYPE52") {
                try {
                    (void)parse_tlsa_rdata(entry, record.rdata_index);
                } catch (const std::invalid_argument&) {
                }
            }
        } catch (const ZoneSyntaxError&) {
        }
    };
    auto on_comment = [&](const ZoneCommentLine& comment) {
        if (comment.end < comment.begin || comment.end > text.size()) __builtin_trap();
    };
    try {
        ZoneScanner scanner("fuzz.zone", on_entry, on_comment);
        for (std::size_t at = 0; at < text.size(); at += chunk)
            scanner.feed(text.substr(at, chunk));
        scanner.finish();
        if (scanner.bytes_seen() != text.size()) __builtin_trap();
    } catch (const ZoneSyntaxError&) {
    }
    for (std::size_t i = 0; i < text.size() && i < 16; ++i) (void)parse_ttl(text.substr(i, 8));

    ZoneScanRequest request;
    request.zone_file = fuzz::write_scratch("db.example.net", text);
    request.zone = "example.net.";
    request.find_block = find_block;
    if (!find_block) request.include_target = fuzz::scratch_dir() / "tlsa.example.net";
    request.owners = {"_25._tcp.mail.example.net."};
    try {
        auto scan = scan_zone(request);
        if (scan.serial_offset + scan.serial_length > text.size()) __builtin_trap();
        if (scan.block_found && (scan.block_begin > scan.block_end || scan.block_end > text.size()))
            __builtin_trap();
    } catch (const ZoneSyntaxError&) {
    } catch (const Error&) {
    }
    return 0;
}
