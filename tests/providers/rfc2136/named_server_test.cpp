// The shared named harness itself: a signed primary, a secondary fed by NOTIFY, rndc, teardown.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "support/named_server.hpp"

using namespace danehook::testing;

namespace {

const char* minimal_zone =
    "$TTL 300\n"
    "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
    "@ IN NS ns1\n"
    "ns1 IN A 127.0.0.1\n";

}  // namespace

TEST_CASE("named harness: signed primary, NOTIFY-fed secondary, rndc, teardown") {
    if (!NamedServer::available()) {
        MESSAGE("named/rndc not installed: skipped");
        return;
    }
    int secondary_port = free_port();
    NamedOptions primary_options;
    auto zone = NamedZone::primary("harness.test.", minimal_zone);
    zone.dnssec_policy = "default";
    zone.also_notify = {"127.0.0.1 port " + std::to_string(secondary_port)};
    primary_options.zones.push_back(zone);
    NamedServer primary(primary_options);
    CHECK(primary.wait_until_signed("harness.test.", std::chrono::seconds(20)));

    NamedOptions secondary_options;
    secondary_options.port = secondary_port;
    secondary_options.zones.push_back(
        NamedZone::secondary_of("harness.test.", {primary.primaries_entry()}));
    NamedServer secondary(secondary_options);
    REQUIRE(secondary.soa_serial("harness.test."));
    CHECK(secondary.soa_serial("harness.test.") == primary.soa_serial("harness.test."));

    // A reload with a higher serial reaches the secondary through NOTIFY.
    auto before = *primary.soa_serial("harness.test.");
    write_text(primary.zone_file("harness.test."),
               "$ORIGIN harness.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 2 3600 600 86400 300\n"
               "@ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 127.0.0.3\n");
    primary.reload();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline &&
           (primary.soa_serial("harness.test.").value_or(0) == before ||
            secondary.soa_serial("harness.test.") != primary.soa_serial("harness.test."))) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(primary.soa_serial("harness.test.").value_or(0) != before);
    CHECK(secondary.soa_serial("harness.test.") == primary.soa_serial("harness.test."));

    CHECK(primary.rndc({"status"}).ok());
    primary.stop();
    CHECK_FALSE(primary.running());
    CHECK_FALSE(primary.soa_serial("harness.test."));
}

TEST_CASE("named harness: a broken configuration fails with named's log") {
    if (!NamedServer::available()) {
        MESSAGE("named/rndc not installed: skipped");
        return;
    }
    NamedOptions options;
    options.zones.push_back(NamedZone::primary("broken.test.", "this is not a zone file\n"));
    options.startup_timeout = std::chrono::seconds(5);
    try {
        NamedServer named(options);
        FAIL("named started with a broken zone");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("broken.test") != std::string::npos);
    }
}

TEST_CASE("named harness: a port taken by someone else fails fast") {
    if (!NamedServer::available()) {
        MESSAGE("named/rndc not installed: skipped");
        return;
    }
    int port = free_port();
    int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
    int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(udp, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::bind(tcp, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(tcp, 1) == 0);
    NamedOptions options;
    options.port = port;
    options.zones.push_back(NamedZone::primary("taken.test.", minimal_zone));
    auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(NamedServer{options}, doctest::Contains("address in use"),
                         std::runtime_error);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
    ::close(udp);
    ::close(tcp);
}
