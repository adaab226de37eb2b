#include "danehook/unique_fd.hpp"
#include "danehook/certificate.hpp"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>

#include "danehook/error.hpp"

namespace danehook {
namespace {

struct PemBlock {
    std::string label;  // "CERTIFICATE", "PRIVATE KEY", ...
    std::string text;   // the whole block, BEGIN and END lines included
};

InputError input_error(const std::filesystem::path& file, const std::string& problem) {
    return InputError(file.string() + ": " + problem);
}

// Certificate, key and chain files are a few kilobytes; the cap keeps a wrong path such as
// /dev/zero or a huge log file from eating memory or time in a deploy hook.
constexpr std::size_t max_pem_file_size = 4 * 1024 * 1024;

std::string read_bounded(const std::filesystem::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw input_error(file, std::string("cannot read: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode))
        throw input_error(file, "is a directory");
    std::string content;
    char buffer[16384];
    while (true) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw input_error(file, std::string("cannot read: ") + std::strerror(errno));
        }
        if (n == 0) break;
        content.append(buffer, static_cast<std::size_t>(n));
        if (content.size() > max_pem_file_size) {
            throw input_error(file, "larger than 4 MiB; not a certificate or key file");
        }
    }
    return content;
}

// Splits PEM text into blocks, diagnosing the common ways a file is not what it should be.
std::vector<PemBlock> pem_blocks(const std::filesystem::path& file, const std::string& content) {
    if (content.empty()) throw input_error(file, "file is empty");
    std::vector<PemBlock> blocks;
    std::string_view rest = content;
    constexpr std::string_view begin_marker = "-----BEGIN ";
    constexpr std::string_view dashes = "-----";
    while (true) {
        auto begin = rest.find(begin_marker);
        if (begin == std::string_view::npos) break;
        auto label_start = begin + begin_marker.size();
        auto label_end = rest.find(dashes, label_start);
        auto newline = rest.find('\n', label_start);
        if (label_end == std::string_view::npos ||
            (newline != std::string_view::npos && newline < label_end)) {
            throw input_error(file, "malformed PEM BEGIN line");
        }
        std::string label(rest.substr(label_start, label_end - label_start));
        std::string end_line = "-----END " + label + "-----";
        auto end = rest.find(end_line, label_end);
        if (end == std::string_view::npos) {
            throw input_error(file, "truncated PEM: '" + label + "' block has no END line");
        }
        std::size_t block_end = end + end_line.size();
        blocks.push_back({label, std::string(rest.substr(begin, block_end - begin)) + "\n"});
        rest = rest.substr(block_end);
    }
    if (blocks.empty()) {
        auto first = static_cast<unsigned char>(content[0]);
        if (first == 0x30)
            throw input_error(file,
                              "looks like DER, expected PEM (convert with 'openssl x509 -inform "
                              "DER', or 'openssl pkey -inform DER' for a key)");
        throw input_error(file, "not a PEM file (no '-----BEGIN' line)");
    }
    return blocks;
}

std::vector<PemBlock> read_pem(const std::filesystem::path& file) {
    return pem_blocks(file, read_bounded(file));
}

BioPtr memory_bio(const std::string& text) {
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!bio) throw std::bad_alloc();
    return bio;
}

bool is_certificate_label(std::string_view label) {
    return label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE";
}
bool is_private_key_label(std::string_view label) {
    return label == "PRIVATE KEY" || label == "RSA PRIVATE KEY" || label == "EC PRIVATE KEY" ||
           label == "ENCRYPTED PRIVATE KEY" || label == "DSA PRIVATE KEY";
}
bool is_public_key_label(std::string_view label) {
    return label == "PUBLIC KEY" || label == "RSA PUBLIC KEY";
}
bool is_csr_label(std::string_view label) {
    return label == "CERTIFICATE REQUEST" || label == "NEW CERTIFICATE REQUEST";
}

std::string describe_label(std::string_view label) {
    if (is_certificate_label(label)) return "a certificate";
    if (is_private_key_label(label)) return "a private key";
    if (is_public_key_label(label)) return "a public key";
    if (is_csr_label(label)) return "a certificate request";
    return "a '" + std::string(label) + "' block";
}

[[noreturn]] void wrong_content(const std::filesystem::path& file,
                                const std::vector<PemBlock>& blocks, const char* expected) {
    throw input_error(
        file, "contains " + describe_label(blocks.front().label) + ", expected " + expected);
}

X509Ptr decode_certificate(const std::filesystem::path& file, const PemBlock& block) {
    auto bio = memory_bio(block.text);
    X509Ptr cert(block.label == "TRUSTED CERTIFICATE"
                     ? PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr)
                     : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert)
        throw input_error(
            file, "certificate block is corrupt or truncated (" + last_openssl_error() + ")");
    return cert;
}

std::vector<X509Ptr> load_certificates(const std::filesystem::path& file, bool require_one) {
    auto blocks = read_pem(file);
    std::vector<X509Ptr> certs;
    for (const auto& block : blocks) {
        if (is_certificate_label(block.label)) certs.push_back(decode_certificate(file, block));
    }
    if (certs.empty() && require_one) wrong_content(file, blocks, "a certificate");
    if (certs.empty()) wrong_content(file, blocks, "certificates");
    return certs;
}

// No passphrase prompt: a deploy hook must never wait for a terminal.
int no_passphrase(char*, int, int, void*) {
    return -1;
}

EvpPkeyPtr private_key_from(const std::filesystem::path& file,
                            const std::vector<PemBlock>& blocks) {
    for (const auto& block : blocks) {
        if (!is_private_key_label(block.label)) continue;
        // PKCS#8 encryption shows in the label, the traditional OpenSSL form in a Proc-Type header.
        if (block.label == "ENCRYPTED PRIVATE KEY" ||
            block.text.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
            throw input_error(file, "private key is encrypted; danehook needs an unencrypted key");
        }
        auto bio = memory_bio(block.text);
        EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
        if (!key)
            throw input_error(
                file, "private key block is corrupt or truncated (" + last_openssl_error() + ")");
        return key;
    }
    wrong_content(file, blocks, "a private key");
}

EvpPkeyPtr public_key_from(const std::filesystem::path& file, const std::vector<PemBlock>& blocks) {
    for (const auto& block : blocks) {
        auto bio = memory_bio(block.text);
        EvpPkeyPtr key;
        if (block.label == "PUBLIC KEY") {
            key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
        } else if (block.label == "RSA PUBLIC KEY") {
            // PKCS#1 "RSA PUBLIC KEY": only the OpenSSL 3 decoder reads it without deprecated
            // calls.
            EVP_PKEY* raw = nullptr;
            OSSL_DECODER_CTX* decoder =
                OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", "type-specific", "RSA",
                                              OSSL_KEYMGMT_SELECT_PUBLIC_KEY, nullptr, nullptr);
            if (decoder) {
                OSSL_DECODER_from_bio(decoder, bio.get());
                OSSL_DECODER_CTX_free(decoder);
            }
            key.reset(raw);
        } else {
            continue;
        }
        if (!key)
            throw input_error(
                file, "public key block is corrupt or truncated (" + last_openssl_error() + ")");
        return key;
    }
    wrong_content(file, blocks, "a public key");
}

EvpPkeyPtr load_csr_key(const std::filesystem::path& file) {
    auto blocks = read_pem(file);
    for (const auto& block : blocks) {
        if (!is_csr_label(block.label)) continue;
        auto bio = memory_bio(block.text);
        X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
        if (!req)
            throw input_error(
                file, "certificate request is corrupt or truncated (" + last_openssl_error() + ")");
        EvpPkeyPtr key(X509_REQ_get_pubkey(req.get()));
        if (!key) throw input_error(file, "certificate request holds no usable public key");
        // A request whose self-signature fails was altered or damaged: its key is not to be
        // trusted.
        if (X509_REQ_verify(req.get(), key.get()) != 1) {
            throw input_error(file, "certificate request signature does not verify (" +
                                        last_openssl_error() + ")");
        }
        return key;
    }
    wrong_content(file, blocks, "a certificate request");
}

// A key file may hold a private or a public key (next keys are private keys in acme.sh).
EvpPkeyPtr load_any_key(const std::filesystem::path& file) {
    auto blocks = read_pem(file);
    for (const auto& block : blocks) {
        if (is_private_key_label(block.label)) return private_key_from(file, blocks);
        if (is_public_key_label(block.label)) return public_key_from(file, blocks);
    }
    wrong_content(file, blocks, "a private or public key");
}

EvpPkeyPtr load_private_key(const std::filesystem::path& file) {
    return private_key_from(file, read_pem(file));
}

EvpPkeyPtr load_public_key(const std::filesystem::path& file) {
    return public_key_from(file, read_pem(file));
}

bool same_certificate(X509* a, X509* b) {
    return X509_cmp(a, b) == 0;
}

std::string subject_of(X509* cert) {
    char buffer[512];
    X509_NAME_oneline(X509_get_subject_name(cert), buffer, sizeof buffer);
    return buffer;
}

std::string time_text(const ASN1_TIME* time) {
    std::tm parts{};
    if (ASN1_TIME_to_tm(time, &parts) != 1) return "an unreadable date";
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
    return text;
}

std::vector<std::uint8_t> digest(const unsigned char* data, std::size_t size,
                                 MatchingType matching) {
    if (matching == MatchingType::exact) return {data, data + size};
    const EVP_MD* md = matching == MatchingType::sha256 ? EVP_sha256() : EVP_sha512();
    std::vector<std::uint8_t> out(static_cast<std::size_t>(EVP_MD_get_size(md)));
    unsigned int length = 0;
    if (EVP_Digest(data, size, out.data(), &length, md, nullptr) != 1) {
        throw Error(ExitCode::failure, "hashing failed: " + last_openssl_error());
    }
    out.resize(length);
    return out;
}

template <typename T, typename Encode>
std::vector<std::uint8_t> encode_and_digest(T* object, Encode encode, MatchingType matching) {
    unsigned char* der = nullptr;
    int length = encode(object, &der);
    if (length <= 0) throw Error(ExitCode::failure, "DER encoding failed: " + last_openssl_error());
    std::unique_ptr<unsigned char, decltype([](unsigned char* p) { OPENSSL_free(p); })> owner(der);
    return digest(der, static_cast<std::size_t>(length), matching);
}

// The chain certificate that issued `subject`: names and key identifiers must match and its key
// must verify the signature, so that a stale intermediate with the same name (a CA re-key) is
// never pinned by mistake.
X509* find_issuer(const std::vector<X509Ptr>& chain, X509* subject) {
    for (const auto& candidate : chain) {
        if (same_certificate(candidate.get(), subject)) continue;
        if (X509_check_issued(candidate.get(), subject) != X509_V_OK) continue;
        EVP_PKEY* issuer_key = X509_get0_pubkey(candidate.get());
        if (issuer_key && X509_verify(subject, issuer_key) == 1) return candidate.get();
        ERR_clear_error();
    }
    return nullptr;
}

bool self_signed(X509* certificate) {
    return X509_check_issued(certificate, certificate) == X509_V_OK;
}

// Copies the public half of a key, so that no private key material stays in memory longer than
// needed.
EvpPkeyPtr public_half(const std::filesystem::path& file, EVP_PKEY* key) {
    unsigned char* der = nullptr;
    int length = i2d_PUBKEY(key, &der);
    if (length <= 0)
        throw input_error(file, "cannot extract the public key (" + last_openssl_error() + ")");
    const unsigned char* cursor = der;
    EvpPkeyPtr public_key(d2i_PUBKEY(nullptr, &cursor, length));
    OPENSSL_free(der);
    if (!public_key)
        throw input_error(file, "cannot extract the public key (" + last_openssl_error() + ")");
    return public_key;
}

}  // namespace

CertificateFiles certbot_lineage_files(const std::filesystem::path& lineage_dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(lineage_dir, ec)) {
        throw InputError(lineage_dir.string() + ": certbot lineage directory not found");
    }
    CertificateFiles files;
    files.certificate = lineage_dir / "cert.pem";
    if (!std::filesystem::exists(*files.certificate, ec)) {
        throw InputError(files.certificate->string() + ": missing from the certbot lineage");
    }
    if (std::filesystem::exists(lineage_dir / "chain.pem", ec)) {
        files.chain = lineage_dir / "chain.pem";
    } else if (std::filesystem::exists(lineage_dir / "fullchain.pem", ec)) {
        files.chain = lineage_dir / "fullchain.pem";
    }
    if (std::filesystem::exists(lineage_dir / "privkey.pem", ec))
        files.private_key = lineage_dir / "privkey.pem";
    return files;
}

std::string CertificateMaterial::certificate_fingerprint() const {
    if (!leaf) return "";
    return to_hex(
        certificate_association(leaf.get(), Selector::full_certificate, MatchingType::sha256));
}

std::string CertificateMaterial::key_fingerprint() const {
    return to_hex(key_association(leaf_key.get(), MatchingType::sha256));
}

CertificateMaterial load_certificate_material(const CertificateFiles& files) {
    CertificateMaterial material;
    if (files.certificate) {
        material.origin = files.certificate->string();
        auto certs = load_certificates(*files.certificate, true);
        material.leaf = std::move(certs.front());
        for (std::size_t i = 1; i < certs.size(); ++i)
            material.chain.push_back(std::move(certs[i]));
        material.leaf_key.reset(X509_get_pubkey(material.leaf.get()));
        if (!material.leaf_key)
            throw input_error(*files.certificate, "certificate has an unsupported public key");
        // Dates are a warning, not an error: DANE-EE ignores them (RFC 7671 section 5.1), and an
        // operator may pre-publish records for a certificate that is not yet valid.
        const X509* leaf = material.leaf.get();
        if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
            material.warnings.push_back(
                files.certificate->string() + ": certificate " + subject_of(material.leaf.get()) +
                " expired on " + time_text(X509_get0_notAfter(leaf)) +
                "; DANE-EE records ignore dates, PKIX clients will refuse it");
        } else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
            material.warnings.push_back(files.certificate->string() + ": certificate " +
                                        subject_of(material.leaf.get()) + " is not valid before " +
                                        time_text(X509_get0_notBefore(leaf)));
        }
    }
    if (files.chain) {
        auto chain = load_certificates(*files.chain, false);
        material.chain_origin = files.chain->string();
        material.chain.clear();  // an explicit chain replaces one that came with the certificate
        for (auto& cert : chain) {
            if (material.leaf && same_certificate(cert.get(), material.leaf.get()))
                continue;  // full chain
            material.chain.push_back(std::move(cert));
        }
    }
    if (files.private_key) {
        auto key = load_private_key(*files.private_key);
        if (material.leaf_key) {
            if (EVP_PKEY_eq(material.leaf_key.get(), key.get()) != 1) {
                throw input_error(*files.private_key,
                                  "private key does not match the certificate " + material.origin);
            }
        } else {
            material.origin = files.private_key->string();
            material.leaf_key = public_half(*files.private_key, key.get());
        }
    }
    for (const auto& [path, loader] :
         {std::pair{files.public_key, &load_public_key}, std::pair{files.csr, &load_csr_key}}) {
        if (!path) continue;
        auto key = loader(*path);
        if (material.leaf_key && EVP_PKEY_eq(material.leaf_key.get(), key.get()) != 1) {
            throw input_error(*path, "key does not match " + material.origin);
        }
        if (!material.leaf_key) {
            material.leaf_key = std::move(key);
            material.origin = path->string();
        }
    }
    if (!material.leaf_key) {
        throw InputError("no certificate, key or certificate request given");
    }
    for (const auto& path : files.next_keys) material.next_keys.push_back(load_any_key(path));
    return material;
}

std::vector<std::uint8_t> certificate_association(X509* certificate, Selector selector,
                                                  MatchingType matching) {
    if (selector == Selector::full_certificate)
        return encode_and_digest(certificate, i2d_X509, matching);
    return encode_and_digest(X509_get_X509_PUBKEY(certificate), i2d_X509_PUBKEY, matching);
}

std::vector<std::uint8_t> key_association(EVP_PKEY* key, MatchingType matching) {
    return encode_and_digest(key, i2d_PUBKEY, matching);
}

TlsaRdata compute_tlsa(const CertificateMaterial& material, TlsaParams params, TrustAnchor anchor) {
    TlsaRdata rdata{params, {}};
    if (!params.uses_issuer()) {
        if (params.selector == Selector::spki) {
            rdata.data = material.leaf ? certificate_association(material.leaf.get(),
                                                                 params.selector, params.matching)
                                       : key_association(material.leaf_key.get(), params.matching);
        } else {
            if (!material.leaf) {
                throw InputError(material.origin + ": record '" + params.to_string() +
                                 "' pins the whole certificate, but only a key was given");
            }
            rdata.data =
                certificate_association(material.leaf.get(), params.selector, params.matching);
        }
        return rdata;
    }
    if (!material.leaf) {
        throw InputError(material.origin + ": record '" + params.to_string() +
                         "' needs the certificate and its chain");
    }
    X509* issuer = find_issuer(material.chain, material.leaf.get());
    if (!issuer) {
        std::string needed = "record '" + params.to_string() + "' needs the issuer of '" +
                             subject_of(material.leaf.get()) + "'";
        if (material.chain_origin.empty() && material.chain.empty()) {
            throw InputError(material.origin + ": no chain given; " + needed +
                             " (give --chain chain.pem or fullchain.pem)");
        }
        throw InputError((material.chain_origin.empty() ? material.origin : material.chain_origin) +
                         ": chain lacks the issuer of '" + subject_of(material.leaf.get()) +
                         "' needed for record '" + params.to_string() + "'");
    }
    if (anchor == TrustAnchor::top_of_chain) {
        // Walk up while the chain holds the next issuer; stop at a self-signed certificate. The
        // step bound also ends issuer loops in a malicious chain.
        for (std::size_t steps = 0; steps < material.chain.size() && !self_signed(issuer);
             ++steps) {
            X509* next = find_issuer(material.chain, issuer);
            if (!next) break;
            issuer = next;
        }
    }
    rdata.data = certificate_association(issuer, params.selector, params.matching);
    return rdata;
}

std::vector<TlsaRdata> compute_next_key_tlsa(const CertificateMaterial& material,
                                             TlsaParams params) {
    std::vector<TlsaRdata> records;
    if (params.uses_issuer() || params.selector != Selector::spki) return records;
    for (const auto& key : material.next_keys)
        records.push_back({params, key_association(key.get(), params.matching)});
    return records;
}

}  // namespace danehook
