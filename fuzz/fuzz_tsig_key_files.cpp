// TSIG key sources of the rfc2136 provider: BIND key statements, K*.private files, certbot
// credentials INI files and base64 secrets. The first byte picks the parser.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "danehook/error.hpp"
#include "fuzz_support.hpp"
#include "providers/rfc2136/tsig.hpp"
#include "providers/rfc2136/tsig_key_files.hpp"

using namespace danehook;
using namespace danehook::rfc2136;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::silence_log();
    if (size == 0) return 0;
    const auto text = fuzz::as_text(data + 1, size - 1);
    try {
        switch (data[0] % 5) {
            case 0: {
                auto keys = parse_key_statements(text, "fuzz.key");
                for (const auto& key : keys) {
                    try {
                        (void)decode_tsig_secret(key.secret);
                        if (!key.algorithm.empty()) (void)parse_tsig_algorithm(key.algorithm);
                    } catch (const std::invalid_argument&) {
                    }
                }
                break;
            }
            case 1:
                (void)parse_private_key_file(text, "Kdanehook-key.+163+12345.private");
                break;
            case 2:
                (void)parse_certbot_credentials(text, "rfc2136.ini");
                break;
            case 3:
                (void)decode_tsig_secret(text);
                break;
            case 4: {
                auto path = fuzz::write_scratch("update.key", text);
                (void)load_key_file(path, std::nullopt);
                break;
            }
        }
    } catch (const Error&) {
    } catch (const std::invalid_argument&) {
        // decode_tsig_secret's and parse_tsig_algorithm's documented rejection.
    }
    return 0;
}
