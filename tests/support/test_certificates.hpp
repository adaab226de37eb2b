// Certificates made by the tests themselves (OpenSSL API), written like certbot's live/ dir.
#pragma once

#include <filesystem>
#include <string>

#include "danehook/openssl_handles.hpp"

namespace danehook::testing {

enum class KeyKind { rsa2048, p256, p384, ed25519 };

EvpPkeyPtr generate_key(KeyKind kind = KeyKind::p256);
std::string private_key_pem(EVP_PKEY* key);
std::string certificate_pem(X509* cert);

struct TestCa {
    EvpPkeyPtr key;
    X509Ptr certificate;
    std::string name;
};

// A self-signed CA "CN=<name>".
TestCa make_ca(const std::string& name);

// A leaf for `dns_name`, signed by `ca`, valid from `not_before_days` (relative to now) for
// `valid_days`.
X509Ptr make_leaf(const TestCa& ca, EVP_PKEY* key, const std::string& dns_name, long not_before_days = -1,
                  long valid_days = 90, long serial = 1);

// Writes cert.pem, chain.pem, fullchain.pem and privkey.pem (0600) into `dir`.
void write_lineage(const std::filesystem::path& dir, X509* leaf, const TestCa& ca, EVP_PKEY* key);

}  // namespace danehook::testing
