// Scale benchmark for hosting operators: 10,000 configured certificates with journals.
//
// Measures, through the real danehook binary (fork + exec included):
//   - `run` with nothing due (target < 50 ms, and no provider contacted),
//   - `deploy` for one certificate with 10 and with 10,000 others configured,
//   - `status --json` over all journals (target < 200 ms), without and with its status cache,
// for the certificates_dir layout (one YAML file per certificate) and, for comparison, one
// big danehook.yaml.
//
// Usage: scale_bench DANEHOOK_BINARY [CERTIFICATES] [REPEATS] [keep]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "danehook/command.hpp"
#include "danehook/journal.hpp"
#include "danehook/tlsa.hpp"

namespace fs = std::filesystem;
using namespace danehook;

namespace {

constexpr EpochSeconds now = 1'800'000'000;

void write(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
}

std::string entry_yaml(int i, const fs::path& lineage, bool in_list) {
    std::string indent = in_list ? "    " : "";
    std::string text = in_list ? "  - name: cert" + std::to_string(i) + "\n" : "";
    text += indent + "lineage: " + lineage.string() + "\n";
    text += indent + "zone: example.net\n";
    text += indent + "records: [\"3 1 1\"]\n";
    text += indent + "services:\n";
    text += indent + "  - { host: host" + std::to_string(i) + ".example.net, port: 25 }\n";
    text += indent + "  - { host: host" + std::to_string(i) + ".example.net, port: 443 }\n";
    return text;
}

// A settled journal: two published, confirmed records and nothing due.
CertificateJournal settled_journal(int i) {
    CertificateJournal journal;
    journal.name = "cert" + std::to_string(i);
    std::vector<std::uint8_t> data(32, static_cast<std::uint8_t>(i));
    journal.deployed = {std::string(64, 'A'), std::string(64, 'B'), {}};
    for (int port : {25, 443}) {
        JournalRecord record;
        record.provider = "local";
        record.zone = "example.net.";
        record.record = {"_" + std::to_string(port) + "._tcp.host" + std::to_string(i) + ".example.net.", 300,
                         TlsaRdata{TlsaParams{}, data}};
        record.state = RecordState::published;
        record.role = "current";
        record.added_at = record.published_at = record.confirmed_at = now - 86400;
        journal.deployed.records.push_back(record_key(record.record.owner, record.record.rdata));
        journal.records.push_back(record);
    }
    journal.updated_at = now - 86400;
    return journal;
}

struct Setup {
    fs::path root;
    fs::path config;
};

Setup make_setup(const fs::path& root, int certificates, bool per_file, const fs::path& lineage) {
    fs::create_directories(root);
    fs::path state = root / "state";
    std::string yaml = "state_dir: " + state.string() + "\nproviders:\n  local:\n    type: file\n    path: " +
                       (root / "tlsa.zone").string() + "\n";
    if (per_file) {
        fs::create_directories(root / "certificates.d");
        yaml += "certificates_dir: " + (root / "certificates.d").string() + "\n";
        for (int i = 0; i < certificates; ++i) {
            write(root / "certificates.d" / ("cert" + std::to_string(i) + ".yaml"), entry_yaml(i, lineage, false));
        }
    } else {
        yaml += "certificates:\n";
        for (int i = 0; i < certificates; ++i) yaml += entry_yaml(i, lineage, true);
    }
    write(root / "danehook.yaml", yaml);
    JournalStore store(state);
    for (int i = 1; i < certificates; ++i) store.save(settled_journal(i), std::nullopt);  // cert0 is deployed
    // As on a server where the journals were written by earlier renewals, not a second ago (the
    // status cache does not trust files younger than its racy window).
    auto an_hour_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
    for (const auto& item : fs::directory_iterator(state / "journal")) fs::last_write_time(item.path(), an_hour_ago);
    return {root, root / "danehook.yaml"};
}

double median_ms(const std::vector<std::string>& argv, int repeats, const std::vector<std::string>& env,
                 const fs::path& cleanup = {}) {
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        std::error_code ec;
        if (!cleanup.empty()) {
            fs::remove(cleanup, ec);
            fs::remove(fs::path(cleanup.string() + ".prev"), ec);
        }
        CommandOptions options;
        options.extra_environment = env;
        auto start = std::chrono::steady_clock::now();
        auto result = run_command(argv, options);
        auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (!result.ok()) {
            std::fprintf(stderr, "command failed: %s\n", result.describe().c_str());
            std::exit(1);
        }
        times.push_back(elapsed);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DANEHOOK_BINARY [CERTIFICATES] [REPEATS]\n", argv[0]);
        return 2;
    }
    std::string danehook = argv[1];
    int certificates = argc > 2 ? std::atoi(argv[2]) : 10000;
    int repeats = argc > 3 ? std::atoi(argv[3]) : 15;
    char pattern[] = "/tmp/danehook-scale-XXXXXX";
    fs::path root = ::mkdtemp(pattern);

    // One shared certbot-style lineage made with the openssl CLI.
    fs::path lineage = root / "live";
    fs::create_directories(lineage);
    auto made = run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                             "-keyout", (lineage / "privkey.pem").string(), "-out", (lineage / "cert.pem").string(),
                             "-subj", "/CN=bench.example.net", "-days", "30"});
    if (!made.ok()) {
        std::fprintf(stderr, "openssl failed: %s\n", made.describe().c_str());
        return 1;
    }
    std::vector<std::string> env{"DANEHOOK_NOW=" + std::to_string(now)};

    std::printf("%-44s %12s %12s\n", "operation (median of runs, ms)", "10 certs", std::to_string(certificates).append(" certs").c_str());
    for (bool per_file : {true, false}) {
        auto small = make_setup(root / (per_file ? "small-dir" : "small-file"), 10, per_file, lineage);
        auto large = make_setup(root / (per_file ? "large-dir" : "large-file"), certificates, per_file, lineage);
        const char* layout = per_file ? "certificates_dir" : "one danehook.yaml";
        auto measure = [&](const Setup& s, std::vector<std::string> args, bool reset_deploy) {
            std::vector<std::string> full{danehook, "--config", s.config.string()};
            full.insert(full.end(), args.begin(), args.end());
            return median_ms(full, repeats, env, reset_deploy ? s.root / "state/journal/cert0.json" : fs::path());
        };
        std::printf("[%s]\n", layout);
        std::printf("%-44s %12.1f %12.1f\n", "run, nothing due", measure(small, {"run"}, false), measure(large, {"run"}, false));
        std::printf("%-44s %12.1f %12.1f\n", "deploy one certificate (first issuance)",
                    measure(small, {"deploy", "--name", "cert0"}, true), measure(large, {"deploy", "--name", "cert0"}, true));
        auto status_cold = [&](const Setup& s) {
            std::vector<std::string> full{danehook, "--config", s.config.string(), "status", "--json"};
            return median_ms(full, repeats, env, s.root / "state/status.cache");
        };
        std::printf("%-44s %12.1f %12.1f\n", "status --json, no status cache", status_cold(small), status_cold(large));
        // The cold runs above left a cache behind: these runs read it.
        std::printf("%-44s %12.1f %12.1f\n", "status --json, status cache current", measure(small, {"status", "--json"}, false),
                    measure(large, {"status", "--json"}, false));
        std::printf("%-44s %12.1f %12.1f\n", "status (text)", measure(small, {"status"}, false),
                    measure(large, {"status"}, false));
    }
    if (argc > 4 && std::string(argv[4]) == "keep") {
        std::printf("kept %s\n", root.c_str());
    } else {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    return 0;
}
