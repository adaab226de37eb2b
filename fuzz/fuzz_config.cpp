// The YAML configuration loader (core/config.cpp, core/settings.cpp) on arbitrary text. Every
// rejection must be a ConfigError "FILE:LINE: ..."; anything else escaping is a bug.
#include <cstdint>
#include <string>

#include "danehook/config.hpp"
#include "danehook/error.hpp"
#include "fuzz_support.hpp"

using namespace danehook;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::silence_log();
    auto file = fuzz::write_scratch("danehook.yaml", fuzz::as_text(data, size));
    try {
        auto config = load_config(file, CertificateLoading::lazy);
        for (const auto& entry : config.certificates) (void)entry.owner_names();
    } catch (const ConfigError& e) {
        // The message must name the file.
        if (std::string(e.what()).find(file.string()) == std::string::npos) __builtin_trap();
    } catch (const Error&) {
        // I/O problems with files the configuration points at.
    }
    return 0;
}
