// A real BIND 9 `named` for integration tests: its own directory, loopback address and
// unprivileged port, an rndc channel with a generated key, primary zones (optionally signed with
// dnssec-policy + inline-signing) and secondary zones fed by NOTIFY/IXFR. The destructor stops the
// server (SIGTERM, then SIGKILL) also when a test fails.
//
//   if (!NamedServer::available()) { MESSAGE("named not installed: skipped"); return; }
//   NamedOptions options;
//   options.zones.push_back(NamedZone::primary("example.test.", zone_text));
//   NamedServer named(options);
//   query named.endpoint() ...
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "danehook/command.hpp"
#include "support/test_support.hpp"

namespace danehook::testing {

// A TSIG key as BIND writes it: key "name" { algorithm hmac-sha256; secret "base64"; };
struct TsigKeySpec {
    std::string name;
    std::string algorithm = "hmac-sha256";
    std::string secret;  // base64

    std::string statement() const;  // the named.conf / tsig-keygen form
};

// A key with a fresh random secret (32 bytes, or the algorithm's digest size).
TsigKeySpec make_tsig_key(const std::string& name, const std::string& algorithm = "hmac-sha256");

struct NamedZone {
    std::string name;  // "example.test."
    bool secondary = false;
    // Primary: the zone file's text ($ORIGIN is set to the zone name).
    std::string zone_text;
    // Primary: sign with `dnssec-policy <policy>` and `inline-signing yes`.
    std::optional<std::string> dnssec_policy;
    // Primary: the statements inside update-policy { ... }, e.g.
    // "grant danehook. zonesub TLSA;". Empty: not dynamic.
    std::string update_policy;
    // Primary: servers to NOTIFY ("127.0.0.2 port 5300"); notify is "explicit" when set.
    std::vector<std::string> also_notify;
    // Secondary: where to transfer from ("127.0.0.1 port 5300").
    std::vector<std::string> primaries;
    // Secondary: accept NOTIFY (true) or only refresh on `rndc refresh` / SOA timers (false).
    bool accept_notify = true;
    // Raw statements added inside the zone block.
    std::string extra;

    static NamedZone primary(std::string name, std::string zone_text);
    static NamedZone secondary_of(std::string name, std::vector<std::string> primaries);
};

struct NamedOptions {
    // named listens only on addresses configured on an interface: on a stock Linux machine that
    // is 127.0.0.1 (lo has 127.0.0.1/8 but only that address is listed), so a secondary runs on
    // the same address with another port.
    std::string address = "127.0.0.1";
    int port = 0;  // 0: free_port()
    std::vector<NamedZone> zones;
    std::vector<TsigKeySpec> keys;  // TSIG keys known to the server (besides the rndc key)
    std::string extra_options;      // raw statements inside options { }
    // Wait until every zone answers SOA authoritatively (secondaries: after their transfer).
    bool wait_for_zones = true;
    std::chrono::seconds startup_timeout{30};
};

class NamedServer {
  public:
    // True when named and rndc are installed.
    static bool available();

    // Writes the configuration, starts named and waits until it answers. Throws
    // std::runtime_error with named's log when it does not come up.
    explicit NamedServer(NamedOptions options);
    ~NamedServer();
    NamedServer(const NamedServer&) = delete;
    NamedServer& operator=(const NamedServer&) = delete;

    const std::string& address() const { return options_.address; }
    int port() const { return options_.port; }
    std::string endpoint() const;  // "127.0.0.1:5300"
    // "127.0.0.1 port 5300", the form primaries/also-notify take.
    std::string primaries_entry() const;
    const std::filesystem::path& directory() const { return dir_.path(); }
    std::filesystem::path key_file() const;  // the rndc key file
    std::filesystem::path zone_file(const std::string& zone) const;

    // rndc -s ADDRESS -p CONTROL_PORT -k KEYFILE args...
    CommandResult rndc(const std::vector<std::string>& arguments) const;
    void reload();  // rndc reload; throws on failure

    // The SOA serial the server serves for `zone` (nullopt when it does not answer).
    std::optional<std::uint32_t> soa_serial(const std::string& zone) const;
    // Polls until the zone answers authoritatively; false on timeout.
    bool wait_for_zone(const std::string& zone, std::chrono::milliseconds timeout) const;
    // Polls until the zone's apex SOA carries an RRSIG (inline signing done); false on timeout.
    bool wait_until_signed(const std::string& zone, std::chrono::milliseconds timeout) const;

    // The answer section of a TCP query to this server, one presentation-format record per
    // line ("name ttl IN TLSA 3 1 1 ..."); with `dnssec` the DO bit is set so RRSIGs come too.
    // Empty when there is no answer.
    std::vector<std::string> dig(const std::string& name, const std::string& type,
                                 bool dnssec = false) const;

    bool running();
    std::string log() const;  // named's -g output, for failure messages
    // Stops named (idempotent); the destructor calls it.
    void stop();

  private:
    void write_configuration();
    void start();

    NamedOptions options_;
    TempDir dir_;
    int control_port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace danehook::testing
