// Benchmark of the bindfile provider on a large zone: one change set (add two TLSA records,
// remove two) applied to an N-record zone file, against named-checkzone on the same file.
// Each side runs in its own child process so that its wall time and peak RSS are its own.
//
//   build/bench/bindfile_bench [--records N] [--dir DIR] [--mode inline|include]
//
// Exits 1 when the edit is not faster than the check, or when the edit's peak RSS grows with
// the zone (compared with a zone a tenth the size) by more than a streaming buffer.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "danehook/clock.hpp"
#include "danehook/log.hpp"
#include "providers/bindfile/bindfile_provider.hpp"

using namespace danehook;
using namespace danehook::bindfile;

namespace {

struct Measurement {
    double seconds = 0;
    long peak_rss_kib = 0;
    int status = -1;
};

// Runs `body` in a child process; wall time and the child's own peak RSS.
Measurement in_child(const std::function<int()>& body) {
    auto start = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(2);
    }
    if (pid == 0) {
        int status = 1;
        try {
            status = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child failed: %s\n", e.what());
        }
        std::fflush(nullptr);
        ::_exit(status);
    }
    int status = 0;
    rusage usage{};
    ::wait4(pid, &status, 0, &usage);
    Measurement m;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.peak_rss_kib = usage.ru_maxrss;
    m.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return m;
}

const std::string zone = "bench.example.";

std::string hex_for(int n) {
    char buffer[65];
    for (int i = 0; i < 64; ++i) buffer[i] = "0123456789ABCDEF"[(n * 7 + i) % 16];
    buffer[64] = '\0';
    return buffer;
}

TlsaRecord record(int n) {
    return TlsaRecord{"_25._tcp.mx" + std::to_string(n % 2) + ".bench.example.", 3600,
                      TlsaRdata::parse("3 1 1 " + hex_for(n))};
}

// A zone of `count` ordinary records (A, AAAA, MX, TXT), written in a stream, with the managed
// area holding records 0 and 1 in the middle of the file.
void write_zone(const std::filesystem::path& path, const std::filesystem::path& tlsa_file,
                long count, Mode mode) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "$TTL 3600\n"
        << "@ IN SOA ns1 hostmaster (\n\t2026010100 ; serial\n\t3600 900 1209600 300 )\n"
        << "\tIN NS ns1\n\tIN NS ns2\nns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n"
        << "mx0 IN A 192.0.2.10\nmx1 IN A 192.0.2.11\n";
    std::string block;
    if (mode == Mode::inline_block) {
        block = "; BEGIN danehook managed TLSA records\n";
        for (int n : {0, 1}) {
            auto r = record(n);
            block += r.owner + " 3600 IN TLSA " + r.rdata.presentation() + "\n";
        }
        block += "; END danehook managed TLSA records\n";
    } else {
        block = "$INCLUDE \"" + tlsa_file.string() + "\"\n";
        std::ofstream tlsa(tlsa_file, std::ios::binary | std::ios::trunc);
        for (int n : {0, 1}) {
            auto r = record(n);
            tlsa << r.owner << " 3600 IN TLSA " << r.rdata.presentation() << "\n";
        }
    }
    for (long i = 0; i < count; ++i) {
        if (i == count / 2) out << block;
        switch (i % 4) {
            case 0:
                out << "host" << i << " IN A 10." << (i >> 16 & 255) << '.' << (i >> 8 & 255) << '.'
                    << (i & 255) << '\n';
                break;
            case 1:
                out << "host" << i << " 600 IN AAAA 2001:db8::" << std::hex << (i >> 16) << ':'
                    << (i & 0xFFFF) << std::dec << '\n';
                break;
            case 2:
                out << "host" << i << " IN MX 10 mx" << (i % 2) << '\n';
                break;
            default:
                out << "host" << i << " IN TXT \"v=spf1 -all ; record " << i << "\"\n";
                break;
        }
    }
}

Measurement measure_edit(const std::filesystem::path& zone_file,
                         const std::filesystem::path& tlsa_file, Mode mode) {
    return in_child([&] {
        log::set_sink([](log::Level, const std::string&) {});
        BindFileConfig config;
        config.zone = zone;
        config.zone_file = zone_file;
        config.mode = mode;
        if (mode == Mode::include) config.tlsa_file = tlsa_file;
        config.check_command.clear();
        config.reload_command.clear();
        BindFileProvider provider(config, std::make_shared<SystemClock>());
        ChangeSet changes;
        changes.zone = zone;
        changes.additions = {record(2), record(3)};
        changes.deletions = {PublishedRecord{record(0), "managed"},
                             PublishedRecord{record(1), "managed"}};
        provider.apply(changes);
        return 0;
    });
}

Measurement measure_check(const std::filesystem::path& zone_file) {
    return in_child([&] {
        int null_fd = ::open("/dev/null", O_WRONLY);
        ::dup2(null_fd, STDOUT_FILENO);
        std::string origin = "bench.example";
        std::string file = zone_file.string();
        char* argv[] = {const_cast<char*>("named-checkzone"), const_cast<char*>("-q"),
                        origin.data(), file.data(), nullptr};
        ::execvp(argv[0], argv);
        std::perror("named-checkzone");
        return 127;
    });
}

}  // namespace

int main(int argc, char** argv) {
    long records = 1'000'000;
    std::filesystem::path dir = std::filesystem::temp_directory_path() / "danehook-bindfile-bench";
    Mode mode = Mode::inline_block;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string key = argv[i];
        if (key == "--records")
            records = std::atol(argv[i + 1]);
        else if (key == "--dir")
            dir = argv[i + 1];
        else if (key == "--mode")
            mode = std::string(argv[i + 1]) == "include" ? Mode::include : Mode::inline_block;
    }
    std::filesystem::create_directories(dir);
    auto zone_file = dir / "bench.example.db";
    auto small_file = dir / "small.example.db";
    auto tlsa_file = dir / "bench.example.tlsa";
    auto small_tlsa = dir / "small.example.tlsa";
    const char* mode_name = mode == Mode::inline_block ? "inline" : "include";

    write_zone(zone_file, tlsa_file, records, mode);
    write_zone(small_file, small_tlsa, records / 10, mode);
    auto size_mib = static_cast<double>(std::filesystem::file_size(zone_file)) / (1 << 20);

    auto check = measure_check(zone_file);
    auto edit = measure_edit(zone_file, tlsa_file, mode);
    auto small_edit = measure_edit(small_file, small_tlsa, mode);

    std::printf("zone: %ld records, %.1f MiB, mode %s\n", records, size_mib, mode_name);
    std::printf("%-44s %9s %14s %7s\n", "step", "seconds", "peak RSS KiB", "status");
    std::printf("%-44s %9.3f %14ld %7d\n", "named-checkzone -q (same file)", check.seconds,
                check.peak_rss_kib, check.status);
    std::printf("%-44s %9.3f %14ld %7d\n", "danehook edit: +2 -2 TLSA, serial, rename",
                edit.seconds, edit.peak_rss_kib, edit.status);
    std::printf("%-44s %9.3f %14ld %7d\n",
                ("danehook edit on " + std::to_string(records / 10) + " records").c_str(),
                small_edit.seconds, small_edit.peak_rss_kib, small_edit.status);

    bool ok = check.status == 0 && edit.status == 0 && small_edit.status == 0;
    if (edit.seconds >= check.seconds) {
        std::printf("FAIL: the edit took longer than named-checkzone\n");
        ok = false;
    }
    // Streaming: ten times the zone may cost at most a few MiB more (buffers, page tables).
    if (edit.peak_rss_kib > small_edit.peak_rss_kib + 4096) {
        std::printf("FAIL: peak RSS grew with the zone size\n");
        ok = false;
    }
    if (std::getenv("BINDFILE_BENCH_KEEP") == nullptr) std::filesystem::remove_all(dir);
    return ok ? 0 : 1;
}
