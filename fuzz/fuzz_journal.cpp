// The journal loader (core/journal.cpp journal_from_json) on arbitrary text. A journal it accepts
// must survive a round trip: serialising and loading it again gives the same text.
#include <cstdint>
#include <string>

#include "danehook/error.hpp"
#include "danehook/journal.hpp"
#include "fuzz_support.hpp"

using namespace danehook;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::silence_log();
    CertificateJournal journal;
    try {
        journal = journal_from_json(std::string(fuzz::as_text(data, size)), "fuzz.json");
    } catch (const Error&) {
        return 0;
    }
    std::string once = journal_to_json(journal);
    std::string twice = journal_to_json(journal_from_json(once, "round-trip"));
    if (once != twice) __builtin_trap();
    return 0;
}
