// powerdns_bench API_URL KEY_FILE ZONE [ROUNDS]: wall time of the powerdns provider's list and
// apply (one add, then one exact delete, each a full merge with re-read guard and read-back)
// against a running PowerDNS, e.g. one with a large zone loaded by `pdnsutil load-zone`.
// Uses the owner _bench._tcp.<ZONE> and leaves it empty. See docs/providers.md.
#include <chrono>
#include <cstdio>
#include <string>

#include "danehook/error.hpp"
#include "providers/powerdns/powerdns_provider.hpp"

using namespace danehook;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s API_URL KEY_FILE ZONE [ROUNDS]\n", argv[0]);
        return 2;
    }
    std::string zone = std::string(argv[3]);
    if (zone.back() != '.') zone += '.';
    int rounds = argc > 4 ? std::stoi(argv[4]) : 5;
    powerdns::PowerDnsConfig config;
    config.name = "bench";
    config.api_url = argv[1];
    config.api_key_file = argv[2];
    try {
        powerdns::PowerDnsProvider provider(config);
        std::string owner = "_bench._tcp." + zone;
        TlsaRecord record{owner, 300, TlsaRdata::parse("3 1 1 " + std::string(64, 'A'))};
        double list_ms = 0, add_ms = 0, delete_ms = 0;
        auto ms_since = [](Clock::time_point start) {
            return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        };
        for (int i = 0; i < rounds; ++i) {
            ChangeSet add{zone, {record}, {}};
            auto start = Clock::now();
            provider.apply(add);
            add_ms += ms_since(start);
            start = Clock::now();
            auto listed = provider.list(zone, owner);
            list_ms += ms_since(start);
            ChangeSet remove{zone, {}, {listed.at(0)}};
            start = Clock::now();
            provider.apply(remove);
            delete_ms += ms_since(start);
        }
        std::printf("rounds %d: list %.1f ms, apply(add) %.1f ms, apply(delete) %.1f ms (means)\n", rounds,
                    list_ms / rounds, add_ms / rounds, delete_ms / rounds);
    } catch (const Error& e) {
        std::fprintf(stderr, "powerdns_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
