// The known-answer vectors written by scripts/make-tlsa-vectors.sh (openssl CLI) and the sample
// files behind each input name. Shared by the core and hook tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "danehook/certificate.hpp"

namespace danehook::testing {

struct TlsaVector {
    std::string input;   // "rsa2048", "acme", "acme-next", "rsa2048-csr", ...
    std::string anchor;  // "issuer", "top" or "-"
    TlsaParams params;
    std::string hex;
};

std::filesystem::path sample_certs_dir();   // config-samples/certs
std::filesystem::path tlsa_vectors_file();  // tests/core/data/tlsa_vectors.txt
std::vector<TlsaVector> load_tlsa_vectors(const std::filesystem::path& file = tlsa_vectors_file());

// The vectors of one input (and anchor, unless empty).
std::vector<TlsaVector> vectors_for(const std::vector<TlsaVector>& all, const std::string& input,
                                    const std::string& anchor = "");
// The single vector for input/anchor/params; throws when absent.
TlsaVector vector_for(const std::vector<TlsaVector>& all, const std::string& input,
                      const std::string& anchor, const std::string& params);

// The files scripts/make-tlsa-vectors.sh used for an input (for "acme-next": the acme.sh files
// with the next key). Throws std::invalid_argument for an unknown name.
CertificateFiles files_for_input(const std::string& input);
// The same as command-line arguments for `danehook records`.
std::vector<std::string> arguments_for_input(const std::string& input);

// The certificate inputs that have all 24 usage/selector/matching combinations.
const std::vector<std::string>& certificate_inputs();

}  // namespace danehook::testing
