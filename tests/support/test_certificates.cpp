#include "support/test_certificates.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <stdexcept>

#include "support/test_support.hpp"

namespace danehook::testing {
namespace {

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(size));
}

void set_name(X509_NAME* name, const std::string& cn) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("extension failed");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}


}  // namespace

EvpPkeyPtr generate_key(KeyKind kind) {
    EVP_PKEY* key = nullptr;
    switch (kind) {
        case KeyKind::rsa2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)); break;
        case KeyKind::p256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
        case KeyKind::p384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
        case KeyKind::ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    }
    if (!key) throw std::runtime_error("key generation failed");
    return EvpPkeyPtr(key);
}

std::string private_key_pem(EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    return bio_text(bio.get());
}

std::string certificate_pem(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    return bio_text(bio.get());
}

TestCa make_ca(const std::string& name) {
    TestCa ca{generate_key(KeyKind::p256), X509Ptr(X509_new()), name};
    X509* cert = ca.certificate.get();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1000);
    X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3650L * 86400);
    set_name(X509_get_subject_name(cert), name);
    set_name(X509_get_issuer_name(cert), name);
    X509_set_pubkey(cert, ca.key.get());
    add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert, cert, NID_subject_key_identifier, "hash");
    if (X509_sign(cert, ca.key.get(), EVP_sha256()) == 0) throw std::runtime_error("CA signing failed");
    return ca;
}

X509Ptr make_leaf(const TestCa& ca, EVP_PKEY* key, const std::string& dns_name, long not_before_days, long valid_days,
                  long serial) {
    X509Ptr leaf(X509_new());
    X509* cert = leaf.get();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), not_before_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), (not_before_days + valid_days) * 86400);
    set_name(X509_get_subject_name(cert), dns_name);
    X509_set_issuer_name(cert, X509_get_subject_name(ca.certificate.get()));
    X509_set_pubkey(cert, key);
    add_extension(cert, ca.certificate.get(), NID_subject_alt_name, ("DNS:" + dns_name).c_str());
    add_extension(cert, ca.certificate.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, ca.certificate.get(), NID_authority_key_identifier, "keyid:always");
    if (X509_sign(cert, ca.key.get(), EVP_sha256()) == 0) throw std::runtime_error("leaf signing failed");
    return leaf;
}

void write_lineage(const std::filesystem::path& dir, X509* leaf, const TestCa& ca, EVP_PKEY* key) {
    std::filesystem::create_directories(dir);
    auto leaf_pem = certificate_pem(leaf);
    auto ca_pem = certificate_pem(ca.certificate.get());
    write_text(dir / "cert.pem", leaf_pem);
    write_text(dir / "chain.pem", ca_pem);
    write_text(dir / "fullchain.pem", leaf_pem + ca_pem);
    write_text(dir / "privkey.pem", private_key_pem(key));
    ::chmod((dir / "privkey.pem").c_str(), 0600);
}

}  // namespace danehook::testing
