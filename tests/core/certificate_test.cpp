// The TLSA engine against the openssl-CLI known-answer vectors, and its handling of bad input.
#include <doctest/doctest.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>

#include "core/tlsa_vectors.hpp"
#include "danehook/certificate.hpp"
#include "danehook/error.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

TrustAnchor anchor_of(const TlsaVector& vector) {
    return vector.anchor == "top" ? TrustAnchor::top_of_chain : TrustAnchor::issuer;
}

// The InputError message `action` throws (fails the test when it throws nothing or another type).
std::string input_error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const InputError& e) {
        return e.what();
    }
    FAIL("expected an InputError");
    return "";
}

std::string load_error(const CertificateFiles& files) {
    return input_error_of([&] { load_certificate_material(files); });
}

CertificateFiles certificate_only(const std::filesystem::path& path) {
    CertificateFiles files;
    files.certificate = path;
    return files;
}

std::filesystem::path lineage(const std::string& name) {
    return sample_certs_dir() / name;
}

X509Ptr read_certificate(const std::filesystem::path& path) {
    BioPtr bio(BIO_new_file(path.c_str(), "r"));
    REQUIRE(bio);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(cert);
    return cert;
}

std::string certificate_pem(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

bool is_line_of(const std::string& message) {
    return message.find('\n') == std::string::npos;
}

}  // namespace

TEST_CASE("the vectors cover all 24 combinations for every certificate input") {
    auto vectors = load_tlsa_vectors();
    for (const auto& input : certificate_inputs()) {
        CAPTURE(input);
        std::set<TlsaParams> seen;
        for (const auto& vector : vectors_for(vectors, input)) {
            if (vector.anchor != "top") seen.insert(vector.params);
        }
        CHECK(seen.size() == 24);
    }
    CHECK(vectors_for(vectors, "acme", "top").size() == 12);
    // RSA, ECDSA P-256, P-384 and Ed25519 leaves really are what their names say.
    std::map<std::string, int> expected_types{{"rsa2048", EVP_PKEY_RSA},
                                              {"ecdsa-p256", EVP_PKEY_EC},
                                              {"ecdsa-p384", EVP_PKEY_EC},
                                              {"ed25519", EVP_PKEY_ED25519}};
    for (const auto& [input, type] : expected_types) {
        auto material = load_certificate_material(files_for_input(input));
        CHECK(EVP_PKEY_get_base_id(material.leaf_key.get()) == type);
    }
    char curve[64] = {};
    auto p384 = load_certificate_material(files_for_input("ecdsa-p384"));
    REQUIRE(EVP_PKEY_get_group_name(p384.leaf_key.get(), curve, sizeof curve, nullptr) == 1);
    CHECK(std::string(curve) == "secp384r1");
}

TEST_CASE("association data matches the openssl command-line tool for every vector") {
    auto vectors = load_tlsa_vectors();
    REQUIRE(vectors.size() > 150);
    std::map<std::string, CertificateMaterial> materials;
    for (const auto& vector : vectors) {
        CAPTURE(vector.input);
        CAPTURE(vector.anchor);
        CAPTURE(vector.params.to_string());
        auto [it, fresh] = materials.try_emplace(vector.input);
        if (fresh) it->second = load_certificate_material(files_for_input(vector.input));
        const auto& material = it->second;
        if (vector.input == "acme-next") {
            auto next = compute_next_key_tlsa(material, vector.params);
            REQUIRE(next.size() == 1);
            CHECK(next.front().hex() == vector.hex);
            CHECK(next.front().params == vector.params);
        } else {
            auto rdata = compute_tlsa(material, vector.params, anchor_of(vector));
            CHECK(rdata.hex() == vector.hex);
            CHECK(rdata.params == vector.params);
        }
    }
}

TEST_CASE("the committed vectors are what the openssl command-line tool computes today") {
    if (!have_program("openssl")) {
        MESSAGE("openssl not installed: regeneration check skipped");
        return;
    }
    TempDir dir;
    CommandOptions options;
    options.timeout = std::chrono::seconds(120);
    auto result = run_command({(source_dir() / "scripts" / "make-tlsa-vectors.sh").string(),
                               (dir / "vectors.txt").string(), sample_certs_dir().string()},
                              options);
    INFO(result.errors);
    REQUIRE(result.ok());
    CHECK(read_text(dir / "vectors.txt") == read_text(tlsa_vectors_file()));
}

TEST_CASE("the trust anchor is the leaf's issuer, or the top of the chain on request") {
    auto vectors = load_tlsa_vectors();
    auto material = load_certificate_material(files_for_input("acme"));
    // ca.cer holds the intermediate and the root: the two anchors differ.
    auto issuer = compute_tlsa(material, TlsaParams::parse("2 0 1"), TrustAnchor::issuer);
    auto top = compute_tlsa(material, TlsaParams::parse("2 0 1"), TrustAnchor::top_of_chain);
    CHECK(issuer.hex() != top.hex());
    CHECK(top.hex() == vector_for(vectors, "acme", "top", "2 0 1").hex);

    // Chain order does not matter: the root first, then the intermediate.
    TempDir dir;
    auto certs = sample_certs_dir() / "ca";
    write_text(dir / "reversed.pem",
               read_text(certs / "root.pem") + read_text(certs / "intermediate-ecdsa.pem"));
    auto files = files_for_input("acme");
    files.chain = dir / "reversed.pem";
    auto reversed = load_certificate_material(files);
    CHECK(compute_tlsa(reversed, TlsaParams::parse("2 0 1"), TrustAnchor::issuer).hex() ==
          issuer.hex());
    CHECK(compute_tlsa(reversed, TlsaParams::parse("2 0 1"), TrustAnchor::top_of_chain).hex() ==
          top.hex());

    // Without the root, the top of the chain is the intermediate.
    auto lineage_material = load_certificate_material(files_for_input("ecdsa-p256"));
    CHECK(compute_tlsa(lineage_material, TlsaParams::parse("2 1 1"), TrustAnchor::top_of_chain)
              .hex() == vector_for(vectors, "ecdsa-p256", "issuer", "2 1 1").hex);
}

TEST_CASE("a full chain serves as chain: the leading copy of the leaf is skipped") {
    auto vectors = load_tlsa_vectors();
    auto files = certificate_only(lineage("rsa2048") / "cert.pem");
    files.chain = lineage("rsa2048") / "fullchain.pem";
    auto material = load_certificate_material(files);
    REQUIRE(material.chain.size() == 1);
    CHECK(compute_tlsa(material, TlsaParams::parse("2 1 1")).hex() ==
          vector_for(vectors, "rsa2048", "issuer", "2 1 1").hex);
    // fullchain.pem alone as the certificate: leaf first, issuers after it.
    auto alone = load_certificate_material(certificate_only(lineage("rsa2048") / "fullchain.pem"));
    CHECK(compute_tlsa(alone, TlsaParams::parse("3 1 1")).hex() ==
          vector_for(vectors, "rsa2048", "-", "3 1 1").hex);
    CHECK(compute_tlsa(alone, TlsaParams::parse("0 0 1")).hex() ==
          vector_for(vectors, "rsa2048", "issuer", "0 0 1").hex);
}

TEST_CASE("fingerprints are the SHA-256 of the certificate and of its SubjectPublicKeyInfo") {
    auto vectors = load_tlsa_vectors();
    auto material = load_certificate_material(files_for_input("ed25519"));
    CHECK(material.certificate_fingerprint() == vector_for(vectors, "ed25519", "-", "3 0 1").hex);
    CHECK(material.key_fingerprint() == vector_for(vectors, "ed25519", "-", "3 1 1").hex);
    auto key_only = load_certificate_material(files_for_input("ed25519-csr"));
    CHECK(key_only.certificate_fingerprint().empty());
    CHECK(key_only.key_fingerprint() == material.key_fingerprint());
}

TEST_CASE("certbot lineage layout") {
    auto files = certbot_lineage_files(lineage("ed25519"));
    CHECK(files.certificate == lineage("ed25519") / "cert.pem");
    CHECK(files.chain == lineage("ed25519") / "chain.pem");
    CHECK(files.private_key == lineage("ed25519") / "privkey.pem");

    TempDir dir;
    auto message = input_error_of([&] { certbot_lineage_files(dir / "missing"); });
    CHECK(message.find((dir / "missing").string()) != std::string::npos);
    message = input_error_of([&] { certbot_lineage_files(dir.path()); });
    CHECK(message.find("cert.pem") != std::string::npos);

    // Without chain.pem, fullchain.pem supplies the chain.
    std::filesystem::copy_file(lineage("ed25519") / "cert.pem", dir / "cert.pem");
    std::filesystem::copy_file(lineage("ed25519") / "fullchain.pem", dir / "fullchain.pem");
    files = certbot_lineage_files(dir.path());
    CHECK(files.chain == dir / "fullchain.pem");
    CHECK_FALSE(files.private_key);
    auto material = load_certificate_material(files);
    CHECK(compute_tlsa(material, TlsaParams::parse("2 1 1")).hex() ==
          vector_for(load_tlsa_vectors(), "ed25519", "issuer", "2 1 1").hex);
}

TEST_CASE("an expired certificate gives a warning and its records") {
    auto material = load_certificate_material(files_for_input("expired"));
    REQUIRE(material.warnings.size() == 1);
    CHECK(material.warnings.front().find("expired on 2021-01-01 00:00:00 UTC") !=
          std::string::npos);
    CHECK(material.warnings.front().find((lineage("expired") / "cert.pem").string()) !=
          std::string::npos);
    CHECK(compute_tlsa(material, TlsaParams{}).hex() ==
          vector_for(load_tlsa_vectors(), "expired", "-", "3 1 1").hex);
    CHECK(load_certificate_material(files_for_input("ecdsa-p256")).warnings.empty());
}

TEST_CASE("a certificate that is not valid yet gives a warning") {
    auto key = EvpPkeyPtr(EVP_EC_gen("P-256"));
    REQUIRE(key);
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 30L * 24 * 3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 120L * 24 * 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("future.example.net"), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
    X509_set_pubkey(cert.get(), key.get());
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    TempDir dir;
    write_text(dir / "future.pem", certificate_pem(cert.get()));
    auto material = load_certificate_material(certificate_only(dir / "future.pem"));
    REQUIRE(material.warnings.size() == 1);
    CHECK(material.warnings.front().find("is not valid before") != std::string::npos);
    CHECK(compute_tlsa(material, TlsaParams::parse("3 1 1")).data.size() == 32);
}

TEST_CASE("bare keys, CSRs and PKCS#1 public keys give end-entity SPKI records only") {
    auto vectors = load_tlsa_vectors();
    for (const char* input :
         {"rsa2048-key", "rsa2048-csr", "rsa2048-pub", "rsa2048-rsa-pub", "ed25519-csr"}) {
        CAPTURE(input);
        auto material = load_certificate_material(files_for_input(input));
        CHECK_FALSE(material.leaf);
        auto message = input_error_of([&] { compute_tlsa(material, TlsaParams::parse("3 0 1")); });
        CHECK(message.find("only a key") != std::string::npos);
        message = input_error_of([&] { compute_tlsa(material, TlsaParams::parse("2 1 1")); });
        CHECK(message.find("needs the certificate") != std::string::npos);
    }
    // The key forms agree with the certificate they belong to.
    CHECK(compute_tlsa(load_certificate_material(files_for_input("rsa2048-rsa-pub")), TlsaParams{})
              .hex() == vector_for(vectors, "rsa2048", "-", "3 1 1").hex);
    CHECK(compute_tlsa(load_certificate_material(files_for_input("ed25519-csr")), TlsaParams{})
              .hex() == vector_for(vectors, "ed25519", "-", "3 1 1").hex);
    // A matching CSR or public key next to the certificate is accepted; a foreign one is not.
    auto files = files_for_input("rsa2048");
    files.csr = sample_certs_dir() / "inputs" / "rsa2048.csr.pem";
    files.public_key = sample_certs_dir() / "inputs" / "rsa2048.rsa-pub.pem";
    CHECK_NOTHROW(load_certificate_material(files));
    files = files_for_input("ecdsa-p256");
    files.csr = sample_certs_dir() / "inputs" / "ed25519.csr.pem";
    auto message = load_error(files);
    CHECK(message.find("ed25519.csr.pem") != std::string::npos);
    CHECK(message.find("does not match") != std::string::npos);
}

TEST_CASE("next keys: DANE-EE/PKIX-EE SPKI records, nothing for other parameters") {
    auto material = load_certificate_material(files_for_input("acme-next"));
    REQUIRE(material.next_keys.size() == 1);
    auto vectors = load_tlsa_vectors();
    CHECK(compute_next_key_tlsa(material, TlsaParams::parse("3 1 1")).front().hex() ==
          vector_for(vectors, "acme-next", "-", "3 1 1").hex);
    CHECK(compute_next_key_tlsa(material, TlsaParams::parse("3 1 1")).front().hex() !=
          vector_for(vectors, "acme", "-", "3 1 1").hex);
    CHECK(compute_next_key_tlsa(material, TlsaParams::parse("3 0 1")).empty());
    CHECK(compute_next_key_tlsa(material, TlsaParams::parse("2 1 1")).empty());
    // A next key given as a public key works the same.
    auto files = files_for_input("acme");
    files.next_keys = {sample_certs_dir() / "inputs" / "rsa2048.pub.pem"};
    auto with_public = load_certificate_material(files);
    CHECK(compute_next_key_tlsa(with_public, TlsaParams{}).front().hex() ==
          vector_for(vectors, "rsa2048", "-", "3 1 1").hex);
}

TEST_CASE("every bad input is a one-line InputError naming the file and the problem") {
    TempDir dir;
    auto cert_text = read_text(lineage("ecdsa-p256") / "cert.pem");
    struct Case {
        std::string name;
        std::string content;
        std::string problem;
    };
    auto der = [&] {
        auto cert = read_certificate(lineage("ecdsa-p256") / "cert.pem");
        unsigned char* buffer = nullptr;
        int length = i2d_X509(cert.get(), &buffer);
        std::string bytes(reinterpret_cast<char*>(buffer), static_cast<std::size_t>(length));
        OPENSSL_free(buffer);
        return bytes;
    }();
    // Body lines dropped but the END line kept: base64 decodes to a short, broken DER.
    auto body_cut =
        cert_text.substr(0, cert_text.find('\n') + 1) + cert_text.substr(cert_text.size() / 2);
    std::vector<Case> cases{
        {"empty.pem", "", "file is empty"},
        {"text.pem", "hello, world\n", "not a PEM file"},
        {"truncated.pem", cert_text.substr(0, cert_text.size() / 2), "truncated PEM"},
        {"body-cut.pem", body_cut, "corrupt or truncated"},
        {"der.pem", der, "looks like DER"},
        {"key.pem", read_text(lineage("ecdsa-p256") / "privkey.pem"),
         "contains a private key, expected a certificate"},
        {"csr.pem", read_text(sample_certs_dir() / "inputs" / "rsa2048.csr.pem"),
         "contains a certificate request, expected a certificate"},
        {"bad-begin.pem", "-----BEGIN CERTIFICATE\nMIIB\n", "malformed PEM"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        write_text(dir / c.name, c.content);
        auto message = load_error(certificate_only(dir / c.name));
        CHECK(message.find((dir / c.name).string() + ": ") == 0);
        CHECK(message.find(c.problem) != std::string::npos);
        CHECK(is_line_of(message));
    }

    // Unreadable: missing, a directory, and (unless root, who reads anything) mode 000.
    auto message = load_error(certificate_only(dir / "absent.pem"));
    CHECK(message.find((dir / "absent.pem").string() + ": cannot read") == 0);
    message = load_error(certificate_only(dir.path()));
    CHECK(message.find("is a directory") != std::string::npos);
    if (::geteuid() != 0) {
        write_text(dir / "locked.pem", cert_text);
        ::chmod((dir / "locked.pem").c_str(), 0);
        message = load_error(certificate_only(dir / "locked.pem"));
        CHECK(message.find("Permission denied") != std::string::npos);
    }
}

TEST_CASE("key and chain problems name the file at fault") {
    TempDir dir;
    // A private key of another certificate.
    auto files = files_for_input("ecdsa-p256");
    files.private_key = lineage("ecdsa-p384") / "privkey.pem";
    auto message = load_error(files);
    CHECK(message.find((lineage("ecdsa-p384") / "privkey.pem").string() +
                       ": private key does not match") == 0);
    CHECK(is_line_of(message));

    // A certificate where the key should be.
    files = files_for_input("ecdsa-p256");
    files.private_key = lineage("ecdsa-p256") / "cert.pem";
    message = load_error(files);
    CHECK(message.find("contains a certificate, expected a private key") != std::string::npos);

    // An encrypted key, in both PEM forms: refused, never prompted for.
    for (const char* name : {"pkcs8.pem", "traditional.pem"}) {
        CAPTURE(name);
        BioPtr in(BIO_new_file((lineage("rsa2048") / "privkey.pem").c_str(), "r"));
        EvpPkeyPtr private_key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
        REQUIRE(private_key);
        BioPtr out(BIO_new_file((dir / name).c_str(), "w"));
        static char passphrase[] = "test fixture";
        int written = std::string(name) == "pkcs8.pem"
                          ? PEM_write_bio_PKCS8PrivateKey(
                                out.get(), private_key.get(), EVP_aes_128_cbc(), passphrase,
                                static_cast<int>(sizeof passphrase - 1), nullptr, nullptr)
                          : PEM_write_bio_PrivateKey_traditional(
                                out.get(), private_key.get(), EVP_aes_128_cbc(),
                                reinterpret_cast<unsigned char*>(passphrase),
                                static_cast<int>(sizeof passphrase - 1), nullptr, nullptr);
        REQUIRE(written == 1);
        out.reset();
        files = files_for_input("rsa2048");
        files.private_key = dir / name;
        message = load_error(files);
        CHECK(message.find((dir / name).string() + ": private key is encrypted") == 0);
    }

    // A chain without the issuer: RSA intermediate offered for an ECDSA-issued leaf.
    files = certificate_only(lineage("ecdsa-p256") / "cert.pem");
    files.chain = lineage("rsa2048") / "chain.pem";
    auto material = load_certificate_material(files);
    CHECK(compute_tlsa(material, TlsaParams::parse("3 1 1")).data.size() ==
          32);  // end-entity records still work
    message = input_error_of([&] { compute_tlsa(material, TlsaParams::parse("2 1 1")); });
    CHECK(message.find((lineage("rsa2048") / "chain.pem").string() + ": chain lacks the issuer") ==
          0);
    CHECK(message.find("2 1 1") != std::string::npos);
    CHECK(is_line_of(message));

    // No chain at all.
    material = load_certificate_material(certificate_only(lineage("ecdsa-p256") / "cert.pem"));
    message = input_error_of([&] { compute_tlsa(material, TlsaParams::parse("0 0 1")); });
    CHECK(message.find((lineage("ecdsa-p256") / "cert.pem").string() + ": no chain given") == 0);

    // A chain file that holds only the leaf itself.
    files.chain = lineage("ecdsa-p256") / "cert.pem";
    material = load_certificate_material(files);
    message = input_error_of([&] { compute_tlsa(material, TlsaParams::parse("2 0 0")); });
    CHECK(message.find("chain lacks the issuer") != std::string::npos);
}

TEST_CASE("an intermediate with the right name but another key is not taken for the issuer") {
    // What a CA re-key looks like in a stale chain.pem: same subject, same key identifier
    // extension, different key. Name matching alone would pin it.
    auto real = read_certificate(sample_certs_dir() / "ca" / "intermediate-ecdsa.pem");
    X509Ptr impostor(X509_dup(real.get()));
    EvpPkeyPtr other_key(EVP_EC_gen("P-256"));
    REQUIRE(other_key);
    REQUIRE(X509_set_pubkey(impostor.get(), other_key.get()) == 1);
    REQUIRE(X509_sign(impostor.get(), other_key.get(), EVP_sha256()) > 0);

    TempDir dir;
    write_text(dir / "stale.pem", certificate_pem(impostor.get()));
    write_text(dir / "both.pem", certificate_pem(impostor.get()) + certificate_pem(real.get()));
    auto files = certificate_only(lineage("ecdsa-p256") / "cert.pem");
    files.chain = dir / "stale.pem";
    auto message = input_error_of(
        [&] { compute_tlsa(load_certificate_material(files), TlsaParams::parse("2 1 1")); });
    CHECK(message.find("chain lacks the issuer") != std::string::npos);

    files.chain = dir / "both.pem";
    CHECK(compute_tlsa(load_certificate_material(files), TlsaParams::parse("2 1 1")).hex() ==
          vector_for(load_tlsa_vectors(), "ecdsa-p256", "issuer", "2 1 1").hex);
}

TEST_CASE(
    "PEM files as people have them: CRLF line ends, text around blocks, key and cert in one") {
    TempDir dir;
    auto vectors = load_tlsa_vectors();
    auto expected = vector_for(vectors, "ecdsa-p384", "-", "3 1 1").hex;
    std::string crlf;
    for (char c : read_text(lineage("ecdsa-p384") / "cert.pem")) {
        if (c == '\n') crlf += '\r';
        crlf += c;
    }
    write_text(dir / "crlf.pem", crlf);
    CHECK(compute_tlsa(load_certificate_material(certificate_only(dir / "crlf.pem")), TlsaParams{})
              .hex() == expected);
    // As `openssl x509 -text` or a PKCS#12 export leaves them, and the key first (haproxy style).
    write_text(dir / "combined.pem", "Bag Attributes\n    friendlyName: www\n" +
                                         read_text(lineage("ecdsa-p384") / "privkey.pem") +
                                         "subject=CN = www.example.net\n" +
                                         read_text(lineage("ecdsa-p384") / "fullchain.pem"));
    auto files = certificate_only(dir / "combined.pem");
    files.private_key = dir / "combined.pem";
    auto material = load_certificate_material(files);
    CHECK(compute_tlsa(material, TlsaParams{}).hex() == expected);
    CHECK(compute_tlsa(material, TlsaParams::parse("2 1 1")).hex() ==
          vector_for(vectors, "ecdsa-p384", "issuer", "2 1 1").hex);
}

TEST_CASE("oversized files and devices are refused quickly") {
    TempDir dir;
    write_text(dir / "huge.pem", std::string(5 * 1024 * 1024, 'A'));
    auto message = load_error(certificate_only(dir / "huge.pem"));
    CHECK(message.find((dir / "huge.pem").string() + ": larger than 4 MiB") == 0);
    message = load_error(certificate_only("/dev/zero"));
    CHECK(message.find("/dev/zero: larger than 4 MiB") == 0);
}

TEST_CASE("a certificate request whose signature fails is refused") {
    BioPtr in(BIO_new_file((sample_certs_dir() / "inputs" / "rsa2048.csr.pem").c_str(), "r"));
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    REQUIRE(PEM_read_bio(in.get(), &name, &header, &data, &length) == 1);
    data[length - 1] ^= 0x01;  // the last byte belongs to the signature
    TempDir dir;
    {
        BioPtr out(BIO_new_file((dir / "tampered.csr").c_str(), "w"));
        REQUIRE(PEM_write_bio(out.get(), name, header, data, length) > 0);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    CertificateFiles files;
    files.csr = dir / "tampered.csr";
    auto message = load_error(files);
    CHECK(message.find((dir / "tampered.csr").string() +
                       ": certificate request signature does not verify") == 0);
}

TEST_CASE("nothing to work on is an error") {
    auto message = load_error(CertificateFiles{});
    CHECK(message.find("no certificate") != std::string::npos);
}
