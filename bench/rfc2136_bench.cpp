// Publishes and withdraws N TLSA records in one zone of a local BIND 9 named three ways, in one
// run against the same server: the rfc2136 provider (one UPDATE per change set), one
// `nsupdate -k` call per record, and one hand-written nsupdate batch of all records.
//
//   build/bench/rfc2136_bench [--records N] [--rounds R] [--dnssec]
//
// The provider and the batch run R rounds (default 5, alternating) and report the round with the
// median total; the per-record run, which takes minutes, runs once.
//
// Every phase is checked (the records are there after publishing, gone after withdrawing), so
// the figures time real work.
#include <stdbool.h>  // before ldns (see providers/rfc2136/tsig.hpp)
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "danehook/command.hpp"
#include "danehook/log.hpp"
#include "danehook/provider.hpp"
#include "providers/rfc2136/rfc2136_provider.hpp"
#include "support/named_server.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::string zone = "bench.test.";

std::string owner_of(int i) {
    return "_25._tcp.mx" + std::to_string(i) + ".bench.test.";
}

TlsaRecord record_of(int i) {
    TlsaRecord record;
    record.owner = owner_of(i);
    record.ttl = 300;
    record.rdata.params = TlsaParams{Usage::dane_ee, Selector::spki, MatchingType::sha256};
    record.rdata.data.resize(32);
    for (std::size_t b = 0; b < 32; ++b)
        record.rdata.data[b] = static_cast<std::uint8_t>((i * 31 + static_cast<int>(b)) & 0xff);
    return record;
}

std::string nsupdate_line(const std::string& verb, const TlsaRecord& record) {
    return "update " + verb + " " + record.owner + " " + (verb == "add" ? "300 " : "") +
           "IN TLSA " + record.rdata.presentation() + "\n";
}

double seconds_since(SteadyClock::time_point start) {
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

void run_nsupdate(const NamedServer& named, const std::string& key_file, const std::string& body) {
    CommandOptions options;
    options.timeout = std::chrono::seconds(120);
    options.input = "server " + named.address() + " " + std::to_string(named.port()) + "\nzone " +
                    zone + "\n" + body + "send\n";
    // -v: TCP, like the provider's default.
    auto result = run_command({"nsupdate", "-v", "-k", key_file}, options);
    if (!result.ok()) throw std::runtime_error("nsupdate " + result.describe());
}

// Checks a sample of names (first, middle, last) for presence or absence.
void verify(const NamedServer& named, int count, bool present) {
    for (int i : {0, count / 2, count - 1}) {
        bool found = !named.dig(owner_of(i), "TLSA").empty();
        if (found != present) {
            throw std::runtime_error(owner_of(i) + (present ? " is missing" : " is still there"));
        }
    }
}

// Inline signing applies updates to the signed zone shortly after the raw zone; wait for it so
// each phase starts from a settled zone.
void settle(const NamedServer& named, int count, bool present, const char* phase,
            std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto deadline = SteadyClock::now() + limit;
    while (true) {
        try {
            verify(named, count, present);
            return;
        } catch (const std::runtime_error& e) {
            if (SteadyClock::now() > deadline) {
                std::string log = named.log();
                auto tail = log.size() > 1500 ? log.substr(log.size() - 1500) : log;
                throw std::runtime_error(std::string(phase) + ": " + e.what() +
                                         "; named's log ends:\n" + tail);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
}

struct Timing {
    double publish = 0;
    double withdraw = 0;
    double total() const { return publish + withdraw; }
};

Timing median(std::vector<Timing> rounds) {
    std::sort(rounds.begin(), rounds.end(),
              [](const Timing& a, const Timing& b) { return a.total() < b.total(); });
    return rounds[rounds.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int count = 1000;
    bool dnssec = false;
    int rounds = 5;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--records" && i + 1 < argc) {
            count = std::atoi(argv[++i]);
        } else if (arg == "--rounds" && i + 1 < argc) {
            rounds = std::max(1, std::atoi(argv[++i]));
        } else if (arg == "--dnssec") {
            dnssec = true;
        } else {
            std::cerr << "usage: rfc2136_bench [--records N] [--rounds R] [--dnssec]\n";
            return 2;
        }
    }
    if (!NamedServer::available() || !have_program("nsupdate")) {
        std::cerr << "rfc2136_bench needs named, rndc and nsupdate (Debian: bind9, bind9-utils, "
                     "bind9-dnsutils)\n";
        return 1;
    }
    log::set_sink([](log::Level level, const std::string& line) {
        if (level >= log::Level::warning) std::cerr << line << "\n";
    });
    try {
        auto key = make_tsig_key("bench-key", "hmac-sha256");
        NamedOptions options;
        options.keys = {key};
        auto zone_definition =
            NamedZone::primary(zone,
                               "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                               "@ IN NS ns1\nns1 IN A 127.0.0.1\n");
        zone_definition.update_policy = "grant bench-key zonesub TLSA;";
        if (dnssec) zone_definition.dnssec_policy = "default";
        options.zones.push_back(zone_definition);
        NamedServer named(options);
        if (dnssec && !named.wait_until_signed(zone, std::chrono::seconds(30)))
            throw std::runtime_error("zone not signed");

        auto key_file = named.directory() / "bench.key";
        write_text(key_file, key.statement());
        ::chmod(key_file.c_str(), 0600);

        std::vector<TlsaRecord> records;
        for (int i = 0; i < count; ++i) records.push_back(record_of(i));

        // 1. The provider, created from YAML as the engine creates it.
        auto config_file = named.directory() / "config.yaml";
        write_text(config_file, "type: rfc2136\nserver: " + named.address() +
                                    "\nport: " + std::to_string(named.port()) +
                                    "\ntsig_key_file: " + key_file.string() + "\n");
        ProviderContext context{
            "bench",
            Settings(config_file, YAML::LoadFile(config_file.string()), "providers.bench"),
            {},
            default_operation_timeout,
            default_retries};
        auto provider = ProviderRegistry::instance().create(context);
        ChangeSet publish;
        publish.zone = zone;
        publish.additions = records;
        ChangeSet withdraw;
        withdraw.zone = zone;
        for (const auto& record : records)
            withdraw.deletions.push_back(PublishedRecord{record, ""});
        // The messages apply() sends (before TSIG), for the report.
        std::size_t message_bytes = 0;
        auto messages = dynamic_cast<rfc2136::Rfc2136Provider&>(*provider).build_updates(publish);
        for (const auto& message : messages) {
            std::uint8_t* wire = nullptr;
            std::size_t size = 0;
            if (ldns_pkt2wire(&wire, message.get(), &size) == LDNS_STATUS_OK) message_bytes += size;
            std::free(wire);
        }
        auto provider_round = [&] {
            Timing t;
            auto start = SteadyClock::now();
            provider->apply(publish);
            t.publish = seconds_since(start);
            settle(named, count, true, "provider publish");
            start = SteadyClock::now();
            provider->apply(withdraw);
            t.withdraw = seconds_since(start);
            settle(named, count, false, "provider withdraw");
            return t;
        };

        // 2. One nsupdate call per record.
        auto per_record_round = [&] {
            Timing t;
            auto start = SteadyClock::now();
            for (const auto& record : records) {
                run_nsupdate(named, key_file.string(), nsupdate_line("add", record));
            }
            t.publish = seconds_since(start);
            settle(named, count, true, "per-record publish");
            start = SteadyClock::now();
            for (const auto& record : records) {
                run_nsupdate(named, key_file.string(), nsupdate_line("delete", record));
            }
            t.withdraw = seconds_since(start);
            settle(named, count, false, "per-record withdraw");
            return t;
        };

        // 3. One nsupdate process with every record. nsupdate renders a message into a fixed
        // buffer and fails with "ran out of space" on large ones, so the batch is cut into as
        // few `send`s as it accepts (1, 2, 4, ... messages), all in one nsupdate run.
        int sends = 1;
        std::string batch_note;
        auto batch_body = [&](const std::string& verb, int parts) {
            std::string body;
            int per_part = (count + parts - 1) / parts;
            for (int i = 0; i < count; ++i) {
                body += nsupdate_line(verb, records[static_cast<std::size_t>(i)]);
                if ((i + 1) % per_part == 0 && i + 1 < count) body += "send\n";
            }
            return body;
        };
        auto batch_round = [&] {
            Timing t;
            while (true) {
                try {
                    auto start = SteadyClock::now();
                    run_nsupdate(named, key_file.string(), batch_body("add", sends));
                    t.publish = seconds_since(start);
                    break;
                } catch (const std::runtime_error& e) {
                    if (std::string(e.what()).find("ran out of space") == std::string::npos ||
                        sends >= 64) {
                        throw;
                    }
                    sends *= 2;
                }
            }
            // With inline-signing, nsupdate's back-to-back messages meet BIND 9.18's race (see
            // docs/provider-rfc2136.md): the later ones reach the signed zone only with the next
            // change. Report it, then nudge the zone so each phase starts from a settled zone.
            auto settle_batch = [&](bool present, const char* phase) {
                try {
                    settle(named, count, present, phase, std::chrono::seconds(dnssec ? 10 : 60));
                } catch (const std::runtime_error&) {
                    if (!dnssec || sends == 1) throw;
                    batch_note =
                        "nsupdate batch: records of later messages were missing from the "
                        "signed zone 10 s after nsupdate returned (BIND inline-signing race)";
                    run_nsupdate(named, key_file.string(), nsupdate_line("add", record_of(count)));
                    run_nsupdate(named, key_file.string(),
                                 nsupdate_line("delete", record_of(count)));
                    settle(named, count, present, phase);
                }
            };
            settle_batch(true, "batch publish");
            auto start = SteadyClock::now();
            run_nsupdate(named, key_file.string(), batch_body("delete", sends));
            t.withdraw = seconds_since(start);
            settle_batch(false, "batch withdraw");
            return t;
        };

        // The fast methods alternate over several rounds (machine load hits both alike); the
        // slow per-record method runs once.
        std::vector<Timing> ours_rounds, batch_rounds;
        for (int round = 0; round < rounds; ++round) {
            ours_rounds.push_back(provider_round());
            batch_rounds.push_back(batch_round());
        }
        Timing ours = median(ours_rounds);
        Timing batch = median(batch_rounds);
        Timing per_record = per_record_round();

        std::printf("rfc2136_bench: %d TLSA records, zone %s%s, BIND named on %s\n", count,
                    zone.c_str(), dnssec ? " (dnssec-policy default, inline-signing)" : "",
                    named.endpoint().c_str());
        std::printf("%-32s %10s %10s %10s\n", "method", "publish s", "withdraw s", "total s");
        auto row = [](const char* name, const Timing& t) {
            std::printf("%-32s %10.3f %10.3f %10.3f\n", name, t.publish, t.withdraw, t.total());
        };
        std::printf("(provider and batch: median of %d rounds; per-record: one round)\n", rounds);
        row("danehook rfc2136 provider", ours);
        row("nsupdate -k, one per record", per_record);
        std::string batch_name = "nsupdate -k, one batch (" + std::to_string(sends) + " msg)";
        row(batch_name.c_str(), batch);
        std::printf("provider's publish: %zu UPDATE message(s), %zu bytes before TSIG\n",
                    messages.size(), message_bytes);
        if (!batch_note.empty()) std::printf("%s\n", batch_note.c_str());
        std::printf("provider vs per-record nsupdate: %.1fx faster\n",
                    per_record.total() / ours.total());
        std::printf("provider vs one nsupdate batch: %.2fx the batch's time\n",
                    ours.total() / batch.total());
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "rfc2136_bench: " << e.what() << "\n";
        return 1;
    }
}
