// DNSSEC-validated TLSA lookups through libunbound (what a DANE client relies on).
//
// By default the system's root trust anchor (/usr/share/dns/root.key, Debian's dns-root-data)
// and full recursion; the configuration's `trust_anchor_file` and `resolver` replace them, e.g.
// for a private test zone behind a forwarder.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "danehook/tlsa.hpp"

struct ub_ctx;

namespace danehook {

inline constexpr const char* default_root_trust_anchor = "/usr/share/dns/root.key";

struct ValidatorOptions {
    // DS/DNSKEY lines (zone-file format); default: default_root_trust_anchor.
    std::optional<std::filesystem::path> trust_anchor_file;
    // "address[:port]" ("[v6]:port") to forward queries to; default: recurse from the root.
    std::optional<std::string> forwarder;
    std::chrono::milliseconds timeout{10'000};
};

enum class DnssecStatus {
    secure,    // validated from the trust anchor
    insecure,  // provably unsigned (or no anchor covers it): DANE clients ignore the TLSA records
    bogus,     // validation failed: DANE clients treat the service as unreachable
    failed,    // no usable answer (SERVFAIL, timeout, resolver error)
};

const char* to_string(DnssecStatus status);

struct ValidatedTlsa {
    std::string owner;
    DnssecStatus status = DnssecStatus::failed;
    int rcode = 0;                 // DNS rcode of the answer
    bool nxdomain = false;         // the name does not exist
    std::vector<TlsaRdata> rrset;  // empty for NODATA / NXDOMAIN
    std::uint32_t ttl = 0;
    std::string why_bogus;  // unbound's reason, for bogus answers
    std::string error;      // resolver errors / timeouts, for failed lookups
};

class ValidatingResolver {
  public:
    // Throws ConfigError naming the trust anchor file or the forwarder when unbound refuses them.
    explicit ValidatingResolver(ValidatorOptions options);
    ~ValidatingResolver();
    ValidatingResolver(const ValidatingResolver&) = delete;
    ValidatingResolver& operator=(const ValidatingResolver&) = delete;

    // Looks the TLSA RRset at `owner` up and validates it; never throws for DNS failures, which
    // are reported as DnssecStatus::failed with `error`. Bounded by ValidatorOptions::timeout.
    ValidatedTlsa lookup_tlsa(const std::string& owner);

  private:
    struct ContextDeleter {
        void operator()(ub_ctx* context) const noexcept;
    };
    ValidatorOptions options_;
    std::unique_ptr<ub_ctx, ContextDeleter> context_;
};

}  // namespace danehook
