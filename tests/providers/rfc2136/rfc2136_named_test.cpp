// The rfc2136 provider against real BIND 9: a primary with dnssec-policy + inline-signing and
// update-policy grants, and a secondary fed by NOTIFY/IXFR.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <stdbool.h>  // before ldns (see providers/rfc2136/tsig.hpp)
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <optional>
#include <thread>

#include "danehook/error.hpp"
#include "rfc2136_test_support.hpp"
#include "support/named_server.hpp"

using namespace danehook;
using namespace danehook::testing;
using danehook::rfc2136::Rfc2136Provider;

namespace {

using SteadyClock = std::chrono::steady_clock;

const std::string zone = "example.test.";
const std::string owner = "_25._tcp.mail.example.test.";
const std::string foreign_rdata =
    "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";

const char* algorithms[] = {"hmac-md5",    "hmac-sha1",   "hmac-sha224",
                            "hmac-sha256", "hmac-sha384", "hmac-sha512"};

std::string zone_text() {
    return "$TTL 300\n"
           "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
           "@ IN NS ns1\n"
           "ns1 IN A 127.0.0.1\n"
           "mail IN A 127.0.0.25\n"
           "_25._tcp.mail IN TLSA " +
           foreign_rdata + "\n";
}

// A signed primary and (optionally) a secondary, with keys: "danehook-key" and one key per
// algorithm are allowed to change TLSA records, "unprivileged-key" is known but granted nothing.
struct Lab {
    TempDir dir;
    TsigKeySpec key = make_tsig_key("danehook-key", "hmac-sha256");
    TsigKeySpec unprivileged = make_tsig_key("unprivileged-key", "hmac-sha256");
    std::vector<TsigKeySpec> algorithm_keys;
    std::unique_ptr<NamedServer> primary;
    std::unique_ptr<NamedServer> secondary;

    explicit Lab(bool with_secondary = true, bool secondary_accepts_notify = true) {
        for (const char* algorithm : algorithms) {
            algorithm_keys.push_back(make_tsig_key(std::string("key-") + algorithm, algorithm));
        }
        int secondary_port = free_port();
        NamedOptions primary_options;
        primary_options.keys = {key, unprivileged};
        primary_options.keys.insert(primary_options.keys.end(), algorithm_keys.begin(),
                                    algorithm_keys.end());
        auto primary_zone = NamedZone::primary(zone, zone_text());
        primary_zone.dnssec_policy = "default";
        primary_zone.update_policy = "grant danehook-key zonesub TLSA;";
        for (const auto& k : algorithm_keys)
            primary_zone.update_policy += " grant " + k.name + " zonesub TLSA;";
        if (with_secondary)
            primary_zone.also_notify = {"127.0.0.1 port " + std::to_string(secondary_port)};
        primary_options.zones.push_back(primary_zone);
        primary = std::make_unique<NamedServer>(primary_options);
        REQUIRE(primary->wait_until_signed(zone, std::chrono::seconds(20)));
        if (with_secondary) {
            NamedOptions secondary_options;
            secondary_options.port = secondary_port;
            auto secondary_zone = NamedZone::secondary_of(zone, {primary->primaries_entry()});
            secondary_zone.accept_notify = secondary_accepts_notify;
            secondary_options.zones.push_back(secondary_zone);
            secondary = std::make_unique<NamedServer>(secondary_options);
        }
    }

    std::string key_file(const TsigKeySpec& spec) const {
        auto path = dir / (spec.name + ".key");
        write_text(path, spec.statement());
        ::chmod(path.c_str(), 0600);
        return path.string();
    }

    std::string yaml(const std::string& key_settings, const std::string& extra = "") const {
        std::string nameservers =
            "nameservers: [\"" + primary->endpoint() + "\"" +
            (secondary ? ", \"" + secondary->endpoint() + "\"" : std::string()) + "]\n";
        return "type: rfc2136\nserver: " + primary->address() +
               "\nport: " + std::to_string(primary->port()) + "\n" + nameservers +
               "timeout: 5\nretries: 0\n" + key_settings + extra;
    }

    std::unique_ptr<Provider> provider(const std::string& key_settings,
                                       const std::string& extra = "") const {
        return provider_from_yaml(dir, yaml(key_settings, extra));
    }

    std::unique_ptr<Provider> provider() const {
        return provider("tsig_key_file: " + key_file(key) + "\n");
    }

    // The TLSA records the primary serves at `name`, as "3 1 1 HEX".
    std::vector<std::string> served(const NamedServer& server,
                                    const std::string& name = owner) const {
        std::vector<std::string> result;
        for (const auto& line : server.dig(name, "TLSA")) {
            auto at = line.find("TLSA\t");
            if (at != std::string::npos) {
                std::string rdata = line.substr(at + 5);
                rdata.erase(std::remove(rdata.begin() + 6, rdata.end(), ' '), rdata.end());
                std::transform(rdata.begin(), rdata.end(), rdata.begin(), ::toupper);
                result.push_back(rdata);
            }
        }
        std::sort(result.begin(), result.end());
        return result;
    }
};

ChangeSet add(const std::vector<TlsaRecord>& records) {
    ChangeSet changes;
    changes.zone = zone;
    changes.additions = records;
    return changes;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
        if (predicate()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return predicate();
}

bool rrset_has(const ServerAnswer& answer, const TlsaRecord& record) {
    return std::find(answer.rrset.begin(), answer.rrset.end(), record.rdata) != answer.rrset.end();
}

ProviderError apply_error(Provider& provider, const ChangeSet& changes) {
    try {
        provider.apply(changes);
    } catch (const ProviderError& e) {
        if (std::getenv("SHOW_ERRORS")) std::fprintf(stderr, "ERROR: %s\n", e.what());
        return e;
    }
    FAIL("apply() succeeded");
    return ProviderError(ProviderFailure::transient, "");
}

#define SKIP_WITHOUT_NAMED()                          \
    if (!NamedServer::available()) {                  \
        MESSAGE("named/rndc not installed: skipped"); \
        return;                                       \
    }

}  // namespace

TEST_CASE("publish: records reach the signed primary and, through NOTIFY/IXFR, the secondary") {
    SKIP_WITHOUT_NAMED();
    Lab lab;
    auto provider = lab.provider();
    auto serial_before = *lab.primary->soa_serial(zone);

    CHECK(provider->zone_for(owner, "") == zone);  // walks up SOA queries to the apex
    auto before = provider->list(zone, owner);
    REQUIRE(before.size() == 1);  // the foreign record from the zone file
    CHECK(before[0].record.rdata.presentation() == foreign_rdata);
    CHECK(before[0].record.ttl == 300);

    auto record = sample_record(owner, 1, 600);
    auto other = sample_record("_443._tcp.www.example.test.", 2, 600);
    provider->apply(add({record, other}));

    // Under inline-signing the signed zone (what queries see) follows the update a moment later.
    REQUIRE(eventually([&] { return provider->list(zone, owner).size() == 2; }));
    auto listed = provider->list(zone, owner);
    CHECK(std::find_if(listed.begin(), listed.end(), [&](const PublishedRecord& p) {
              return p.record == record;
          }) != listed.end());

    // Inline signing: the signed zone gets the records with RRSIGs and a higher serial.
    CHECK(eventually([&] {
        for (const auto& line : lab.primary->dig(owner, "TLSA", true)) {
            if (line.find("RRSIG\tTLSA") != std::string::npos) {
                return contains(lab.served(*lab.primary), record.rdata.presentation());
            }
        }
        return false;
    }));
    CHECK(*lab.primary->soa_serial(zone) > serial_before);

    // observe() sees the primary and, once NOTIFY/IXFR has run, the secondary.
    CHECK(eventually([&] {
        auto answers = provider->observe(zone, owner);
        return answers.size() == 2 && answers[0].answered && answers[1].answered &&
               rrset_has(answers[0], record) && rrset_has(answers[1], record) &&
               answers[0].soa_serial == answers[1].soa_serial;
    }));
    auto answers = provider->observe(zone, owner);
    REQUIRE(answers.size() == 2);
    CHECK(answers[0].server == lab.primary->endpoint());
    CHECK(answers[1].server == lab.secondary->endpoint());
    CHECK(answers[1].rrset.size() == 2);
    // The secondary caught up incrementally.
    CHECK(lab.primary->log().find("IXFR started") != std::string::npos);

    // Adding what exists is a no-op for DNS (RFC 2136 3.4.2.2): no error, nothing duplicated,
    // and the zone's serial does not move.
    auto serial_after = *lab.primary->soa_serial(zone);
    provider->apply(add({record}));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(provider->list(zone, owner).size() == 2);
    CHECK(*lab.primary->soa_serial(zone) == serial_after);
}

TEST_CASE("observe: a lagging secondary is noticed until it transfers") {
    SKIP_WITHOUT_NAMED();
    Lab lab(true, /*secondary_accepts_notify=*/false);
    auto provider = lab.provider();
    auto record = sample_record(owner, 7);
    provider->apply(add({record}));
    REQUIRE(eventually([&] { return rrset_has(provider->observe(zone, owner)[0], record); }));

    auto answers = provider->observe(zone, owner);
    REQUIRE(answers.size() == 2);
    CHECK(answers[1].answered);
    CHECK_FALSE(rrset_has(answers[1], record));
    REQUIRE(answers[0].soa_serial);
    REQUIRE(answers[1].soa_serial);
    CHECK(*answers[1].soa_serial < *answers[0].soa_serial);

    REQUIRE(lab.secondary->rndc({"refresh", "example.test"}).ok());
    CHECK(eventually([&] {
        auto now = provider->observe(zone, owner);
        return rrset_has(now[1], record) && now[0].soa_serial == now[1].soa_serial;
    }));
}

TEST_CASE("withdraw: exact deletions leave foreign records at the same name alone") {
    SKIP_WITHOUT_NAMED();
    Lab lab(false);
    auto provider = lab.provider();
    auto first = sample_record(owner, 11);
    auto second = sample_record(owner, 12);
    provider->apply(add({first, second}));
    REQUIRE(eventually([&] { return provider->list(zone, owner).size() == 3; }));

    ChangeSet withdraw;
    withdraw.zone = zone;
    withdraw.deletions = {PublishedRecord{first, ""}};
    provider->apply(withdraw);
    REQUIRE(eventually([&] { return provider->list(zone, owner).size() == 2; }));
    auto left = provider->list(zone, owner);
    std::vector<std::string> presentations;
    for (const auto& p : left) presentations.push_back(p.record.rdata.presentation());
    CHECK(contains(presentations, foreign_rdata));
    CHECK(contains(presentations, second.rdata.presentation()));

    // A rollover in one message: add the new, delete the old.
    auto third = sample_record(owner, 13);
    ChangeSet rollover;
    rollover.zone = zone;
    rollover.additions = {third};
    rollover.deletions = {PublishedRecord{second, ""}};
    provider->apply(rollover);
    REQUIRE(eventually([&] {
        auto now = provider->list(zone, owner);
        return std::find_if(now.begin(), now.end(), [&](const PublishedRecord& p) {
                   return p.record == third;
               }) != now.end();
    }));
    presentations.clear();
    for (const auto& p : provider->list(zone, owner))
        presentations.push_back(p.record.rdata.presentation());
    CHECK(presentations.size() == 2);
    CHECK(contains(presentations, foreign_rdata));
    CHECK(contains(presentations, third.rdata.presentation()));

    // Deleting a record that is not there is not an error and touches nothing else.
    provider->apply(withdraw);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(provider->list(zone, owner).size() == 2);
}

TEST_CASE("errors: each is one clear ProviderError and changes nothing") {
    SKIP_WITHOUT_NAMED();
    Lab lab(false);
    auto record = sample_record(owner, 21);
    auto serial = *lab.primary->soa_serial(zone);
    auto unchanged = [&] {
        // The raw zone's journal appears with the first applied update.
        CHECK_FALSE(std::filesystem::exists(lab.primary->zone_file(zone).string() + ".jnl"));
        CHECK(lab.primary->soa_serial(zone) == serial);
        CHECK(lab.served(*lab.primary) == std::vector<std::string>{foreign_rdata});
    };

    SUBCASE("wrong secret: BADSIG") {
        auto wrong = lab.key;
        wrong.secret = make_tsig_key("x", "hmac-sha256").secret;
        auto provider = lab.provider("tsig_key_file: " + lab.key_file(wrong) + "\n");
        auto error = apply_error(*provider, add({record}));
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("BADSIG") != std::string::npos);
        CHECK(std::string(error.what()).find("secret") != std::string::npos);
        CHECK(std::string(error.what()).find(wrong.secret) == std::string::npos);
        CHECK_THROWS_AS(provider->list(zone, owner), ProviderError);
        unchanged();
    }
    SUBCASE("wrong key name: BADKEY") {
        auto stranger = make_tsig_key("stranger-key", "hmac-sha256");
        auto provider = lab.provider("tsig_key_file: " + lab.key_file(stranger) + "\n");
        auto error = apply_error(*provider, add({record}));
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("BADKEY") != std::string::npos);
        CHECK(std::string(error.what()).find("stranger-key.") != std::string::npos);
        unchanged();
    }
    SUBCASE("wrong algorithm for a known key name: BADKEY") {
        auto mismatched = lab.key;
        mismatched.algorithm = "hmac-sha512";
        auto provider = lab.provider("tsig_key_file: " + lab.key_file(mismatched) + "\n");
        auto error = apply_error(*provider, add({record}));
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("BADKEY") != std::string::npos);
        unchanged();
    }
    SUBCASE("key without permission: REFUSED") {
        auto provider = lab.provider("tsig_key_file: " + lab.key_file(lab.unprivileged) + "\n");
        auto error = apply_error(*provider, add({record}));
        CHECK(error.failure() == ProviderFailure::rejected);
        CHECK(std::string(error.what()).find("REFUSED") != std::string::npos);
        CHECK(std::string(error.what()).find("update-policy") != std::string::npos);
        unchanged();
    }
    SUBCASE("unsigned update: REFUSED") {
        // Only the granted keys may update: an unsigned update is refused.
        auto provider = lab.provider("tsig: none\n");
        auto error = apply_error(*provider, add({record}));
        CHECK(error.failure() == ProviderFailure::rejected);
        CHECK(std::string(error.what()).find("REFUSED") != std::string::npos);
        unchanged();
    }
    SUBCASE("a zone the server does not serve: NOTAUTH") {
        auto provider = lab.provider();
        ChangeSet changes;
        changes.zone = "other.test.";
        changes.additions = {sample_record("_25._tcp.mail.other.test.", 22)};
        auto error = apply_error(*provider, changes);
        CHECK(error.failure() == ProviderFailure::not_found);
        CHECK(std::string(error.what()).find("NOTAUTH") != std::string::npos);
        CHECK(std::string(error.what()).find("other.test.") != std::string::npos);
        CHECK_THROWS_AS(provider->zone_for("_25._tcp.mail.other.test.", ""), ProviderError);
        unchanged();
    }
    SUBCASE("a zone that is not the zone apex: NOTZONE or NOTAUTH") {
        auto provider = lab.provider();
        ChangeSet changes;
        changes.zone = "mail.example.test.";
        changes.additions = {sample_record(owner, 23)};
        auto error = apply_error(*provider, changes);
        CHECK_FALSE(error.retryable());
        unchanged();
    }
    SUBCASE("clock skew: BADTIME") {
        auto provider = lab.provider();
        ManualClock skewed(std::time(nullptr) + 3600);
        as_rfc2136(*provider).set_clock(&skewed);
        auto error = apply_error(*provider, add({record}));
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("BADTIME") != std::string::npos);
        CHECK(std::string(error.what()).find("clock") != std::string::npos);
        unchanged();
    }
    SUBCASE("a stopped server: connection refused, transient") {
        auto provider = lab.provider();
        lab.primary->stop();
        auto started = SteadyClock::now();
        auto error = apply_error(*provider, add({record}));
        CHECK(error.retryable());
        CHECK(std::string(error.what()).find("connection refused") != std::string::npos);
        CHECK(SteadyClock::now() - started < std::chrono::seconds(5));
        CHECK_THROWS_AS(provider->list(zone, owner), ProviderError);
    }
}

TEST_CASE("timeouts are bounded: a server that never answers") {
    // A UDP socket nobody reads: the request is swallowed, the provider gives up on time.
    TempDir dir;
    int port = free_port();
    int sink = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(sink, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    auto provider =
        provider_from_yaml(dir, "type: rfc2136\nserver: 127.0.0.1\nport: " + std::to_string(port) +
                                    "\ntsig: none\ntransport: udp\ntimeout: 1\nretries: 1\n");
    auto started = SteadyClock::now();
    auto error = apply_error(*provider, add({sample_record(owner, 1)}));
    auto elapsed = SteadyClock::now() - started;
    ::close(sink);
    CHECK(error.retryable());
    CHECK(std::string(error.what()).find("no answer within 1000 ms") != std::string::npos);
    CHECK(std::string(error.what()).find("2 attempts") != std::string::npos);
    CHECK(elapsed >= std::chrono::seconds(2));
    CHECK(elapsed < std::chrono::seconds(4));
}

TEST_CASE("every TSIG algorithm against named") {
    SKIP_WITHOUT_NAMED();
    Lab lab(false);
    int seed = 100;
    for (const auto& spec : lab.algorithm_keys) {
        CAPTURE(spec.algorithm);
        auto provider = lab.provider("tsig_key_file: " + lab.key_file(spec) + "\n");
        auto record = sample_record(owner, ++seed);
        provider->apply(add({record}));  // response TSIG verified inside
        CHECK(eventually([&] {
            auto listed = provider->list(zone, owner);  // signed query, signed answer
            return std::find_if(listed.begin(), listed.end(), [&](const PublishedRecord& p) {
                       return p.record.rdata == record.rdata;
                   }) != listed.end();
        }));
    }
    CHECK(eventually([&] { return lab.served(*lab.primary).size() == 7; }));
}

TEST_CASE("key sources against named: certbot credentials, tsig_name + secret file, K*.private") {
    SKIP_WITHOUT_NAMED();
    Lab lab(false);
    const auto& spec = lab.algorithm_keys[5];  // hmac-sha512
    auto ini = lab.dir / "certbot.ini";
    write_text(ini, "dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = " +
                        std::to_string(lab.primary->port()) + "\ndns_rfc2136_name = " + spec.name +
                        "\ndns_rfc2136_secret = " + spec.secret +
                        "\ndns_rfc2136_algorithm = HMAC-SHA512\n");
    ::chmod(ini.c_str(), 0600);
    auto certbot =
        provider_from_yaml(lab.dir, "type: rfc2136\ncredentials: " + ini.string() + "\n");
    certbot->apply(add({sample_record(owner, 31)}));

    auto secret = lab.dir / "secret";
    write_text(secret, lab.algorithm_keys[2].secret + "\n");
    ::chmod(secret.c_str(), 0600);
    auto named_key =
        lab.provider("tsig_name: " + lab.algorithm_keys[2].name +
                     "\ntsig_algorithm: hmac-sha224\ntsig_secret_file: " + secret.string() + "\n");
    named_key->apply(add({sample_record(owner, 32)}));

    auto private_file = lab.dir / ("K" + lab.algorithm_keys[4].name + ".+164+01234.private");
    write_text(private_file, "Private-key-format: v1.3\nAlgorithm: 164 (HMAC_SHA384)\nKey: " +
                                 lab.algorithm_keys[4].secret + "\nBits: AAA=\n");
    ::chmod(private_file.c_str(), 0600);
    auto legacy = lab.provider("tsig_key_file: " + private_file.string() + "\n");
    legacy->apply(add({sample_record(owner, 33)}));

    // A server given by name: every address is tried (named listens on 127.0.0.1 only, while
    // localhost may resolve to ::1 first).
    auto by_name = provider_from_yaml(
        lab.dir, "type: rfc2136\nserver: localhost\nport: " + std::to_string(lab.primary->port()) +
                     "\ntsig_key_file: " + lab.key_file(lab.key) + "\ntimeout: 5\nretries: 0\n");
    by_name->apply(add({sample_record(owner, 34)}));

    REQUIRE(eventually([&] { return lab.served(*lab.primary).size() == 5; }));
    auto served = lab.served(*lab.primary);
    for (int seed : {31, 32, 33, 34})
        CHECK(contains(served, sample_record(owner, seed).rdata.presentation()));
}

TEST_CASE("UDP transport, and large change sets over TCP") {
    SKIP_WITHOUT_NAMED();
    Lab lab(false);
    auto udp = lab.provider("tsig_key_file: " + lab.key_file(lab.key) + "\n", "transport: udp\n");
    udp->apply(add({sample_record(owner, 41)}));
    CHECK(eventually([&] { return lab.served(*lab.primary).size() == 2; }));

    // 300 records do not fit a UDP request: sent over TCP, in one message.
    std::vector<TlsaRecord> many;
    for (int i = 0; i < 300; ++i)
        many.push_back(sample_record("_25._tcp.mx" + std::to_string(i) + ".example.test.", i));
    udp->apply(add(many));
    CHECK(eventually(
        [&] { return lab.served(*lab.primary, "_25._tcp.mx299.example.test.").size() == 1; }));
    CHECK(lab.served(*lab.primary, "_25._tcp.mx0.example.test.").size() == 1);
}

namespace {

// A TCP "server" that answers one request per connection with whatever `respond` makes of it.
class FakeServer {
  public:
    explicit FakeServer(
        std::function<std::vector<std::uint8_t>(const std::vector<std::uint8_t>&)> respond)
        : respond_(std::move(respond)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t length = sizeof address;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        REQUIRE(::listen(listener_, 4) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeServer() {
        ::shutdown(listener_, SHUT_RDWR);
        ::close(listener_);
        thread_.join();
    }
    int port() const { return port_; }

  private:
    void serve() {
        while (true) {
            int connection = ::accept(listener_, nullptr, nullptr);
            if (connection < 0) return;
            std::uint8_t length_bytes[2];
            if (::recv(connection, length_bytes, 2, MSG_WAITALL) == 2) {
                std::vector<std::uint8_t> request((length_bytes[0] << 8) | length_bytes[1]);
                if (::recv(connection, request.data(), request.size(), MSG_WAITALL) ==
                    static_cast<ssize_t>(request.size())) {
                    auto response = respond_(request);
                    std::uint8_t prefix[2] = {static_cast<std::uint8_t>(response.size() >> 8),
                                              static_cast<std::uint8_t>(response.size() & 0xff)};
                    [[maybe_unused]] auto a = ::send(connection, prefix, 2, MSG_NOSIGNAL);
                    [[maybe_unused]] auto b =
                        ::send(connection, response.data(), response.size(), MSG_NOSIGNAL);
                }
            }
            ::close(connection);
        }
    }

    std::function<std::vector<std::uint8_t>(const std::vector<std::uint8_t>&)> respond_;
    int listener_ = -1;
    int port_ = 0;
    std::thread thread_;
};

// A NOERROR answer to `request` without its TSIG record; `sign_with`, when set, signs it
// (without covering the request MAC, so it can never verify).
std::vector<std::uint8_t> answer_to(const std::vector<std::uint8_t>& request,
                                    const std::optional<rfc2136::TsigKey>& sign_with) {
    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_wire2pkt(&raw, request.data(), request.size()) == LDNS_STATUS_OK);
    LdnsPkt packet(raw);
    ldns_rr_free(ldns_pkt_tsig(packet.get()));
    ldns_pkt_set_tsig(packet.get(), nullptr);
    ldns_pkt_set_qr(packet.get(), true);
    ldns_pkt_set_aa(packet.get(), true);
    if (sign_with) rfc2136::tsig_sign(packet.get(), *sign_with, std::time(nullptr));
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&wire, packet.get(), &size) == LDNS_STATUS_OK);
    MallocedBytes owner(wire);
    return {wire, wire + size};
}

}  // namespace

TEST_CASE("an unsigned or wrongly signed answer to a signed request is an error") {
    TempDir dir;
    auto key_path = dir / "update.key";
    auto spec = make_tsig_key("danehook-key", "hmac-sha256");
    write_text(key_path, spec.statement());
    ::chmod(key_path.c_str(), 0600);
    auto key = rfc2136::TsigKey{"danehook-key.", rfc2136::TsigAlgorithm::hmac_sha256,
                                rfc2136::decode_tsig_secret(spec.secret), "test"};
    auto make_provider = [&](int port) {
        return provider_from_yaml(
            dir, "type: rfc2136\nserver: 127.0.0.1\nport: " + std::to_string(port) +
                     "\ntsig_key_file: update.key\ntimeout: 2\nretries: 0\n");
    };

    SUBCASE("unsigned") {
        FakeServer server([](const std::vector<std::uint8_t>& request) {
            return answer_to(request, std::nullopt);
        });
        auto provider = make_provider(server.port());
        auto error = apply_error(*provider, add({sample_record(owner, 1)}));
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("unsigned answer") != std::string::npos);
        CHECK(std::string(error.what()).find("may or may not have been applied") !=
              std::string::npos);
        CHECK_THROWS_AS(provider->list(zone, owner), ProviderError);
    }
    SUBCASE("signed without the request MAC") {
        FakeServer server(
            [&](const std::vector<std::uint8_t>& request) { return answer_to(request, key); });
        auto provider = make_provider(server.port());
        auto error = apply_error(*provider, add({sample_record(owner, 1)}));
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("does not verify") != std::string::npos);
    }
    SUBCASE("signed with another key") {
        auto other = key;
        other.name = "other-key.";
        FakeServer server(
            [&](const std::vector<std::uint8_t>& request) { return answer_to(request, other); });
        auto provider = make_provider(server.port());
        auto error = apply_error(*provider, add({sample_record(owner, 1)}));
        CHECK(error.failure() == ProviderFailure::authentication);
        CHECK(std::string(error.what()).find("another key") != std::string::npos);
    }
    SUBCASE("an answer with another ID") {
        FakeServer server([](const std::vector<std::uint8_t>& request) {
            auto answer = answer_to(request, std::nullopt);
            answer[0] ^= 0xff;
            return answer;
        });
        auto provider = make_provider(server.port());
        auto error = apply_error(*provider, add({sample_record(owner, 1)}));
        CHECK(error.retryable());
        CHECK(std::string(error.what()).find("does not match the request") != std::string::npos);
    }
}

TEST_CASE(
    "inline-signing: split change sets and back-to-back change sets all reach the signed zone") {
    // BIND 9.18 leaves an UPDATE that arrives while it copies the previous one into the signed
    // zone out of the signed zone until the next change; the provider waits for the served
    // serial to move between UPDATEs to a zone.
    SKIP_WITHOUT_NAMED();
    Lab lab(false);
    auto provider = lab.provider();
    std::vector<TlsaRecord> many;
    for (int i = 0; i < 2500; ++i) {
        many.push_back(sample_record("_25._tcp.mx" + std::to_string(i) + ".example.test.", i));
    }
    REQUIRE(as_rfc2136(*provider).build_updates(add(many)).size() >= 3);
    provider->apply(add(many));
    auto all_served = [&](int first, int last, int step) {
        for (int i = first; i <= last; i += step) {
            if (lab.primary->dig("_25._tcp.mx" + std::to_string(i) + ".example.test.", "TLSA")
                    .empty()) {
                return false;
            }
        }
        return true;
    };
    CHECK(eventually([&] { return all_served(0, 2499, 50) && all_served(2499, 2499, 1); }));

    // Three small change sets in quick succession.
    for (int round = 0; round < 3; ++round) {
        provider->apply(add(
            {sample_record("_25._tcp.burst" + std::to_string(round) + ".example.test.", round)}));
    }
    CHECK(eventually([&] {
        for (int round = 0; round < 3; ++round) {
            if (lab.served(*lab.primary,
                           "_25._tcp.burst" + std::to_string(round) + ".example.test.")
                    .empty()) {
                return false;
            }
        }
        return true;
    }));
}

TEST_CASE("UDP: a truncated answer makes the provider repeat the UPDATE over TCP") {
    TempDir dir;
    std::atomic<int> tcp_updates{0};
    FakeServer tcp([&](const std::vector<std::uint8_t>& request) {
        if (((request[2] >> 3) & 0x0f) == LDNS_PACKET_UPDATE) ++tcp_updates;  // not the SOA query
        return answer_to(request, std::nullopt);
    });
    // A UDP socket on the same port that answers everything with TC set.
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(tcp.port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(udp, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    std::atomic<int> udp_requests{0};
    std::thread responder([&] {
        pollfd pfd{udp, POLLIN, 0};
        while (::poll(&pfd, 1, 3000) > 0) {
            std::vector<std::uint8_t> request(65535);
            sockaddr_in from{};
            socklen_t length = sizeof from;
            auto size = ::recvfrom(udp, request.data(), request.size(), 0,
                                   reinterpret_cast<sockaddr*>(&from), &length);
            if (size <= 0) return;
            request.resize(static_cast<std::size_t>(size));
            ++udp_requests;
            auto answer = answer_to(request, std::nullopt);
            answer[2] |= 0x02;  // TC
            ::sendto(udp, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from),
                     length);
            return;
        }
    });
    auto provider = provider_from_yaml(
        dir, "type: rfc2136\nserver: 127.0.0.1\nport: " + std::to_string(tcp.port()) +
                 "\ntsig: none\ntransport: udp\ntimeout: 2\nretries: 0\n");
    provider->apply(add({sample_record(owner, 1)}));
    responder.join();
    ::close(udp);
    CHECK(udp_requests == 1);
    CHECK(tcp_updates == 1);
}
