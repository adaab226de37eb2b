#include "core/tlsa_vectors.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/test_support.hpp"

namespace danehook::testing {
namespace {

std::filesystem::path acme_dir() {
    return sample_certs_dir() / "acme.sh" / "mail.example.net_ecc";
}

}  // namespace

std::filesystem::path sample_certs_dir() {
    return samples_dir() / "certs";
}
std::filesystem::path tlsa_vectors_file() {
    return source_dir() / "tests" / "core" / "data" / "tlsa_vectors.txt";
}

std::vector<TlsaVector> load_tlsa_vectors(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("cannot read " + file.string());
    std::vector<TlsaVector> vectors;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        TlsaVector vector;
        std::string usage, selector, matching;
        if (!(fields >> vector.input >> vector.anchor >> usage >> selector >> matching >>
              vector.hex)) {
            throw std::runtime_error(file.string() + ":" + std::to_string(number) +
                                     ": malformed vector");
        }
        vector.params = TlsaParams::parse(usage + " " + selector + " " + matching);
        vectors.push_back(std::move(vector));
    }
    return vectors;
}

std::vector<TlsaVector> vectors_for(const std::vector<TlsaVector>& all, const std::string& input,
                                    const std::string& anchor) {
    std::vector<TlsaVector> selected;
    for (const auto& vector : all) {
        if (vector.input == input && (anchor.empty() || vector.anchor == anchor))
            selected.push_back(vector);
    }
    return selected;
}

TlsaVector vector_for(const std::vector<TlsaVector>& all, const std::string& input,
                      const std::string& anchor, const std::string& params) {
    auto wanted = TlsaParams::parse(params);
    for (const auto& vector : all) {
        if (vector.input == input && vector.anchor == anchor && vector.params == wanted)
            return vector;
    }
    throw std::runtime_error("no vector " + input + " " + anchor + " " + params);
}

CertificateFiles files_for_input(const std::string& input) {
    CertificateFiles files;
    auto certs = sample_certs_dir();
    if (input == "rsa2048" || input == "ecdsa-p256" || input == "ecdsa-p384" ||
        input == "ed25519" || input == "expired") {
        return certbot_lineage_files(certs / input);
    }
    if (input == "acme" || input == "acme-next") {
        files.certificate = acme_dir() / "mail.example.net.cer";
        files.chain = acme_dir() / "ca.cer";
        files.private_key = acme_dir() / "mail.example.net.key";
        if (input == "acme-next")
            files.next_keys.push_back(acme_dir() / "mail.example.net.key.next");
    } else if (input == "rsa2048-key") {
        files.private_key = certs / "rsa2048" / "privkey.pem";
    } else if (input == "rsa2048-csr") {
        files.csr = certs / "inputs" / "rsa2048.csr.pem";
    } else if (input == "rsa2048-pub") {
        files.public_key = certs / "inputs" / "rsa2048.pub.pem";
    } else if (input == "rsa2048-rsa-pub") {
        files.public_key = certs / "inputs" / "rsa2048.rsa-pub.pem";
    } else if (input == "ed25519-csr") {
        files.csr = certs / "inputs" / "ed25519.csr.pem";
    } else {
        throw std::invalid_argument("unknown vector input " + input);
    }
    return files;
}

std::vector<std::string> arguments_for_input(const std::string& input) {
    auto files = files_for_input(input);
    std::vector<std::string> arguments;
    auto add = [&](const char* option, const std::optional<std::filesystem::path>& path) {
        if (!path) return;
        arguments.push_back(option);
        arguments.push_back(path->string());
    };
    add("--cert", files.certificate);
    add("--chain", files.chain);
    add("--key", files.private_key);
    add("--public-key", files.public_key);
    add("--csr", files.csr);
    for (const auto& next : files.next_keys) add("--next-key", next);
    return arguments;
}

const std::vector<std::string>& certificate_inputs() {
    static const std::vector<std::string> inputs{"rsa2048", "ecdsa-p256", "ecdsa-p384",
                                                 "ed25519", "expired",    "acme"};
    return inputs;
}

}  // namespace danehook::testing
