// PEM/DER certificate, chain, key and CSR loading (core/certificate.cpp) on arbitrary bytes.
// The first byte picks which file slot the rest fills; a valid sample certificate fills the
// other slots where one is needed, so the cross-checks (key matches certificate, chain order)
// are reached too.
#include <cstdint>
#include <fstream>
#include <sstream>

#include "danehook/certificate.hpp"
#include "danehook/error.hpp"
#include "fuzz_support.hpp"

using namespace danehook;

namespace {

std::string read_sample(const char* name) {
    std::ifstream in(std::string(DANEHOOK_SOURCE_DIR "/config-samples/certs/ecdsa-p256/") + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::silence_log();
    if (size == 0) return 0;
    static const auto sample_cert = fuzz::write_scratch("sample-cert.pem", read_sample("cert.pem"));
    static const auto sample_key =
        fuzz::write_scratch("sample-key.pem", read_sample("privkey.pem"));
    const std::uint8_t mode = data[0] % 6;
    auto input = fuzz::write_scratch("input.pem", fuzz::as_text(data + 1, size - 1));

    CertificateFiles files;
    switch (mode) {
        case 0:
            files.certificate = input;
            break;  // leaf or fullchain
        case 1:
            files.certificate = sample_cert;
            files.chain = input;
            break;  // chain
        case 2:
            files.certificate = sample_cert;
            files.private_key = input;
            break;  // key match
        case 3:
            files.public_key = input;
            break;  // SPKI
        case 4:
            files.csr = input;
            break;  // PKCS#10
        case 5:
            files.private_key = sample_key;
            files.next_keys.push_back(input);
            break;
    }
    try {
        auto material = load_certificate_material(files);
        (void)material.certificate_fingerprint();
        if (material.leaf_key) (void)material.key_fingerprint();
        for (auto usage : {Usage::pkix_ta, Usage::pkix_ee, Usage::dane_ta, Usage::dane_ee}) {
            for (auto selector : {Selector::full_certificate, Selector::spki}) {
                try {
                    (void)compute_tlsa(material, TlsaParams{usage, selector, MatchingType::sha256});
                } catch (const InputError&) {
                }
            }
        }
        (void)compute_next_key_tlsa(
            material, TlsaParams{Usage::dane_ee, Selector::spki, MatchingType::sha512});
    } catch (const Error&) {
        // Rejected with a message naming the file: the expected outcome for bad input.
    }
    return 0;
}
