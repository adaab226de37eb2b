// Loading certificates, chains and keys, and computing TLSA association data from them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "danehook/openssl_handles.hpp"
#include "danehook/tlsa.hpp"

namespace danehook {

// Where the certificate material comes from. Every path is optional except that at least one of
// certificate, private_key, public_key or csr must be set.
struct CertificateFiles {
    std::optional<std::filesystem::path> certificate;  // leaf (PEM); a full chain is accepted too
    std::optional<std::filesystem::path> chain;        // issuers (PEM); a leading leaf is skipped
    std::optional<std::filesystem::path> private_key;  // must match the certificate
    std::optional<std::filesystem::path> public_key;   // SubjectPublicKeyInfo (PEM)
    std::optional<std::filesystem::path> csr;          // PKCS#10 request (PEM)
    std::vector<std::filesystem::path> next_keys;      // keys to pre-publish (acme.sh next key)
};

// certbot's live/<name>/ layout: cert.pem, chain.pem (or fullchain.pem), privkey.pem.
// Throws InputError when the directory or cert.pem is missing.
CertificateFiles certbot_lineage_files(const std::filesystem::path& lineage_dir);

// Which certificate of the chain a usage 0/2 record pins.
enum class TrustAnchor { issuer, top_of_chain };

struct CertificateMaterial {
    X509Ptr leaf;                   // null when only a key or CSR was given
    EvpPkeyPtr leaf_key;            // the leaf's public key
    std::vector<X509Ptr> chain;     // issuer of the leaf first; never contains the leaf
    std::vector<EvpPkeyPtr> next_keys;
    std::vector<std::string> warnings;  // e.g. expired certificate (DANE-EE ignores dates)
    std::string origin;                 // file name used in messages
    std::string chain_origin;           // file the chain came from ("" when none was given)

    // SHA-256 of the leaf's DER (hex), or "" without a certificate.
    std::string certificate_fingerprint() const;
    // SHA-256 of the leaf key's SubjectPublicKeyInfo DER (hex).
    std::string key_fingerprint() const;
};

// Loads and cross-checks the files. Throws InputError naming the file and the problem
// (empty, not PEM, truncated, DER instead of PEM, wrong object type, key/certificate mismatch).
CertificateMaterial load_certificate_material(const CertificateFiles& files);

// Association data for a certificate / public key; no I/O.
std::vector<std::uint8_t> certificate_association(X509* certificate, Selector selector,
                                                  MatchingType matching);
std::vector<std::uint8_t> key_association(EVP_PKEY* key, MatchingType matching);

// The TLSA record data for the leaf (usage 1/3) or trust anchor (usage 0/2).
// Throws InputError when the chain lacks the needed certificate or selector 0 is asked of a
// bare key.
TlsaRdata compute_tlsa(const CertificateMaterial& material, TlsaParams params,
                       TrustAnchor anchor = TrustAnchor::issuer);

// Records for the pre-generated next keys: only DANE-EE/PKIX-EE SPKI parameters apply to a
// bare key; other parameters give no record.
std::vector<TlsaRdata> compute_next_key_tlsa(const CertificateMaterial& material,
                                             TlsaParams params);

}  // namespace danehook
