// Connects to a TLS service (directly or after STARTTLS), fetches the chain it presents and
// verifies it against TLSA records with OpenSSL's own DANE support (RFC 6698, 7671, 7672).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "danehook/openssl_handles.hpp"
#include "danehook/tlsa.hpp"

namespace danehook {

enum class StartTls { none, smtp, imap, pop3 };

// smtp for 25 and 587, imap for 143, pop3 for 110, none otherwise.
StartTls default_starttls(std::uint16_t port);
// "smtp", "imap", "pop3" or "none"; throws std::invalid_argument.
StartTls parse_starttls(std::string_view text);
const char* to_string(StartTls mode);

struct TlsProbeOptions {
    std::string host;     // the service's name: SNI and the DANE reference identifier
    std::string address;  // where to connect (name or address); "" = host
    std::uint16_t port = 0;
    StartTls starttls = StartTls::none;
    // RFC 7672 rules: PKIX-TA(0)/PKIX-EE(1) are unusable, DANE-EE(3) skips name checks.
    bool smtp_rules = false;
    // Records to verify against; empty: fetch the chain only.
    std::vector<TlsaRdata> tlsa;
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds dialogue_timeout{10'000};  // STARTTLS exchange, whole
    std::chrono::milliseconds handshake_timeout{10'000};
    std::string ehlo_name = "danehook.invalid";  // what we call ourselves in EHLO
};

enum class ProbeStage {
    connect,    // no TCP connection (refused, unreachable, timeout, name not found)
    starttls,   // the STARTTLS dialogue failed
    handshake,  // the TLS handshake failed
    done,       // a chain was received
};

struct DaneMatch {
    TlsaRdata record;
    int depth = 0;  // 0: the leaf; n: the n-th issuer in the presented chain
};

struct TlsProbeResult {
    std::string endpoint;  // "192.0.2.1:25" actually reached (or tried last)
    ProbeStage stage = ProbeStage::connect;
    std::string error;  // why the stage was not passed
    std::string protocol, cipher;
    std::vector<X509Ptr> chain;  // as presented, leaf first
    std::string leaf_sha256;     // hex of the leaf's DER
    std::string leaf_subject;
    // DANE (only when records were given):
    std::vector<TlsaRdata> usable;    // records handed to OpenSSL
    std::vector<TlsaRdata> unusable;  // ignored: unknown parameters or RFC 7672 PKIX usages
    bool dane_verified = false;
    std::string verify_error;  // X509 verification error when not verified
    std::optional<DaneMatch> match;

    bool reached() const { return stage == ProbeStage::done; }
};

// Never throws for network or TLS failures: they are described in the result. Every network
// step has its own deadline from the options.
TlsProbeResult probe_tls(const TlsProbeOptions& options);

}  // namespace danehook
