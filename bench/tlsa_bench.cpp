// TLSA records per second over a directory of certificates, three ways, in one run:
//   danehook  - the engine in process: load_certificate_material + compute_tlsa (3 1 1)
//   openssl   - a bare OpenSSL loop: PEM_read_bio_X509 + i2d_X509_PUBKEY + EVP_Digest
//   pipeline  - what people run today, per certificate through sh:
//               openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst
//               -sha256
// The certificates (RSA 2048, ECDSA P-256, P-384, Ed25519 leaves under one test CA) are made in
// the benchmark's own set-up with the OpenSSL API. Every way's digests are compared with the
// others', so a fast wrong answer cannot pass.
//
//   tlsa_bench [--count N] [--pipeline-count M] [--passes P] [--keep DIR]
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "danehook/certificate.hpp"
#include "danehook/command.hpp"
#include "danehook/openssl_handles.hpp"

namespace {

using namespace danehook;
using Clock = std::chrono::steady_clock;

struct Options {
    std::size_t count = 1000;
    std::size_t pipeline_count = 0;  // 0: all
    int passes = 5;
    std::filesystem::path keep;  // write the certificates here and keep them
};

Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--count") {
            options.count = std::stoul(value());
        } else if (arg == "--pipeline-count") {
            options.pipeline_count = std::stoul(value());
        } else if (arg == "--passes") {
            options.passes = std::max(1, std::stoi(value()));
        } else if (arg == "--keep") {
            options.keep = value();
        } else {
            throw std::invalid_argument(
                "usage: tlsa_bench [--count N] [--pipeline-count M] [--passes P] [--keep DIR]");
        }
    }
    if (options.count == 0) throw std::invalid_argument("--count must be positive");
    if (options.pipeline_count == 0 || options.pipeline_count > options.count)
        options.pipeline_count = options.count;
    return options;
}

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string(what) + " failed: " + last_openssl_error());
}

EvpPkeyPtr generate_key(int kind) {
    switch (kind) {
        case 0:
            return EvpPkeyPtr(EVP_RSA_gen(2048));
        case 1:
            return EvpPkeyPtr(EVP_EC_gen("P-256"));
        case 2:
            return EvpPkeyPtr(EVP_EC_gen("P-384"));
        default:
            return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    }
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    check(extension != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
}

X509Ptr make_certificate(EVP_PKEY* key, const std::string& common_name, long serial, X509* issuer,
                         EVP_PKEY* issuer_key) {
    X509Ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 90L * 24 * 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(cert.get(), key);
    X509* signer = issuer ? issuer : cert.get();
    if (issuer) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_subject_alt_name, ("DNS:" + common_name).c_str());
        add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    }
    add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
    check(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

void write_pem(const std::filesystem::path& path, X509* cert) {
    BioPtr bio(BIO_new_file(path.c_str(), "w"));
    check(bio != nullptr, "BIO_new_file");
    check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
}

// N leaf certificates: a quarter each RSA 2048, P-256, P-384, Ed25519. RSA key generation is
// slow, so the RSA leaves share a small pool of keys; the others each get their own.
std::vector<std::filesystem::path> make_certificates(const std::filesystem::path& dir,
                                                     std::size_t count) {
    EvpPkeyPtr ca_key(EVP_EC_gen("P-256"));
    check(ca_key != nullptr, "CA key");
    auto ca = make_certificate(ca_key.get(), "tlsa_bench CA", 1, nullptr, nullptr);
    std::vector<EvpPkeyPtr> rsa_pool;
    for (int i = 0; i < 4; ++i) {
        rsa_pool.push_back(generate_key(0));
        check(rsa_pool.back() != nullptr, "RSA key");
    }
    std::vector<std::filesystem::path> files;
    for (std::size_t i = 0; i < count; ++i) {
        int kind = static_cast<int>(i % 4);
        EvpPkeyPtr own = kind == 0 ? nullptr : generate_key(kind);
        EVP_PKEY* key = kind == 0 ? rsa_pool[(i / 4) % rsa_pool.size()].get() : own.get();
        check(key != nullptr, "leaf key");
        auto name = "host" + std::to_string(i) + ".example.net";
        auto cert = make_certificate(key, name, static_cast<long>(i) + 2, ca.get(), ca_key.get());
        char file_name[32];
        std::snprintf(file_name, sizeof file_name, "cert-%05zu.pem", i);
        files.push_back(dir / file_name);
        write_pem(files.back(), cert.get());
    }
    return files;
}

std::string danehook_record(const std::filesystem::path& file) {
    CertificateFiles files;
    files.certificate = file;
    auto material = load_certificate_material(files);
    return compute_tlsa(material, TlsaParams{}).hex();
}

std::string bare_openssl_record(const std::filesystem::path& file) {
    BioPtr bio(BIO_new_file(file.c_str(), "r"));
    check(bio != nullptr, "BIO_new_file");
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    check(cert != nullptr, "PEM_read_bio_X509");
    unsigned char* der = nullptr;
    int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
    check(length > 0, "i2d_X509_PUBKEY");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    int ok = EVP_Digest(der, static_cast<std::size_t>(length), digest, &digest_length, EVP_sha256(),
                        nullptr);
    OPENSSL_free(der);
    check(ok == 1, "EVP_Digest");
    return to_hex(std::vector<std::uint8_t>(digest, digest + digest_length));
}

std::string pipeline_record(const std::filesystem::path& file) {
    CommandOptions options;
    options.timeout = std::chrono::seconds(30);
    auto result =
        run_command({"sh", "-c",
                     "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | "
                     "openssl dgst -sha256",
                     "sh", file.string()},
                    options);
    if (!result.ok())
        throw std::runtime_error("pipeline on " + file.string() + " " + result.describe());
    // "SHA2-256(stdin)= 4269e6..." (the label differs between OpenSSL versions).
    auto equals = result.output.rfind("= ");
    if (equals == std::string::npos)
        throw std::runtime_error("unexpected openssl dgst output: " + result.output);
    std::string hex = result.output.substr(equals + 2);
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.pop_back();
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return hex;
}

struct Timing {
    double seconds;  // of the median pass
    std::size_t records;
    double per_second() const { return static_cast<double>(records) / seconds; }
};

using Compute = std::function<std::string(const std::filesystem::path&)>;

// One timed pass of `compute` over the files; every answer is checked against `expected`
// (filled by the first pass of all).
double timed_pass(const char* label, const std::vector<std::filesystem::path>& files,
                  const Compute& compute, std::vector<std::string>& expected) {
    std::vector<std::string> answers(files.size());
    auto start = Clock::now();
    for (std::size_t i = 0; i < files.size(); ++i) answers[i] = compute(files[i]);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (expected.empty()) expected = answers;
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (answers[i] != expected[i]) {
            throw std::runtime_error(std::string(label) + " disagrees on " + files[i].string() +
                                     ": " + answers[i] + " vs " + expected[i]);
        }
    }
    return seconds;
}

Timing report(const char* label, std::vector<double> seconds, std::size_t records) {
    std::sort(seconds.begin(), seconds.end());
    Timing timing{seconds[seconds.size() / 2], records};
    std::printf("%-9s %6zu records in %8.4f s  %12.0f records/s  (median of %zu pass%s)\n", label,
                timing.records, timing.seconds, timing.per_second(), seconds.size(),
                seconds.size() == 1 ? "" : "es");
    return timing;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        auto options = parse_options(argc, argv);
        std::filesystem::path dir = options.keep;
        bool temporary = dir.empty();
        if (temporary) {
            std::string pattern =
                (std::filesystem::temp_directory_path() / "tlsa-bench-XXXXXX").string();
            if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
            dir = pattern;
        } else {
            std::filesystem::create_directories(dir);
        }
        struct Cleanup {
            std::filesystem::path dir;
            bool active;
            ~Cleanup() {
                std::error_code ec;
                if (active) std::filesystem::remove_all(dir, ec);
            }
        } cleanup{dir, temporary};

        auto start = Clock::now();
        auto files = make_certificates(dir, options.count);
        std::printf(
            "set-up: %zu certificates (RSA 2048, ECDSA P-256, P-384, Ed25519) in %.2f s in %s\n",
            files.size(), std::chrono::duration<double>(Clock::now() - start).count(), dir.c_str());

        // The two in-process ways alternate pass by pass, so that load from other processes
        // on the machine falls on both alike.
        std::vector<std::string> expected;
        std::vector<double> bare_seconds, engine_seconds;
        for (int pass = 0; pass < options.passes; ++pass) {
            bare_seconds.push_back(timed_pass("openssl", files, bare_openssl_record, expected));
            engine_seconds.push_back(timed_pass("danehook", files, danehook_record, expected));
        }
        auto bare = report("openssl", bare_seconds, files.size());
        auto engine = report("danehook", engine_seconds, files.size());
        std::vector<std::filesystem::path> pipeline_files(
            files.begin(), files.begin() + static_cast<long>(options.pipeline_count));
        std::vector<std::string> pipeline_expected(
            expected.begin(), expected.begin() + static_cast<long>(options.pipeline_count));
        auto pipeline =
            report("pipeline",
                   {timed_pass("pipeline", pipeline_files, pipeline_record, pipeline_expected)},
                   pipeline_files.size());

        double speedup = engine.per_second() / pipeline.per_second();
        double overhead = bare.per_second() / engine.per_second();
        std::printf("danehook / pipeline throughput: %.0fx (target >= 200x)  %s\n", speedup,
                    speedup >= 200 ? "ok" : "MISSED");
        std::printf("danehook time / bare OpenSSL time: %.2fx (target <= 2x)  %s\n", overhead,
                    overhead <= 2 ? "ok" : "MISSED");
        return speedup >= 200 && overhead <= 2 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tlsa_bench: %s\n", e.what());
        return 2;
    }
}
