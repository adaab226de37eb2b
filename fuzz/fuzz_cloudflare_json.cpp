// What danehook reads from Cloudflare API answers: the response envelope's errors[] and
// classification, and DNS record objects (parse_record). Arbitrary bytes are parsed as JSON the
// way Client::call does (no exceptions), then every object found is tried as a record.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "providers/cloudflare/cloudflare_client.hpp"
#include "providers/cloudflare/cloudflare_provider.hpp"

using namespace danehook;
using namespace danehook::cloudflare;

namespace {

void visit(const nlohmann::json& value, int depth) {
    if (depth > 8) return;
    if (value.is_object()) {
        if (auto parsed = parse_record(value)) {
            // A record danehook accepts can be sent back in a create request.
            (void)create_body(parsed->record).dump();
        }
    }
    if (value.is_structured()) {
        for (const auto& item : value) visit(item, depth + 1);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::silence_log();
    if (size < 2) return 0;
    const long status = 200 + (data[0] % 8) * 50;  // 200, 250, ..., 550
    auto envelope = nlohmann::json::parse(fuzz::as_text(data + 1, size - 1), nullptr, false);
    if (envelope.is_discarded()) return 0;
    auto errors = parse_errors(envelope);
    (void)describe_errors(errors);
    (void)classify_failure(status, errors);
    visit(envelope, 0);
    return 0;
}
