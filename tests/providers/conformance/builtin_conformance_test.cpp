// The conformance suite for the file and bindfile providers.
#include <doctest/doctest.h>

#include "danehook/clock.hpp"
#include "providers/bindfile/bindfile_provider.hpp"
#include "providers/conformance/conformance.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

const std::string zone = "example.net.";
const std::string owner = "_25._tcp.mail.example.net.";

std::string zone_line(const TlsaRecord& record) {
    return record.owner + " " + std::to_string(record.ttl) + " IN TLSA " +
           record.rdata.presentation() + "\n";
}

}  // namespace

TEST_CASE("file provider conformance") {
    TempDir dir;
    auto records = dir / "tlsa.zone";
    ConformanceTarget target;
    target.zone = zone;
    target.owner = owner;
    target.make_provider = [&] {
        return make_registered_provider(
            "type: file\npath: " + records.string() + "\nzone: example.net\n",
            dir / "danehook.yaml");
    };
    target.add_foreign = [&](const TlsaRecord& record) {
        std::string text = std::filesystem::exists(records) ? read_text(records) : "";
        write_text(records, text + zone_line(record));
    };
    run_provider_conformance(target);
}

TEST_CASE("bindfile provider conformance (include mode, no server)") {
    TempDir dir;
    auto zone_file = dir / "db.example.net";
    write_text(zone_file,
               "$TTL 3600\n"
               "@ IN SOA ns1.example.net. hostmaster.example.net. 2026112301 3600 900 604800 300\n"
               "  IN NS ns1\n"
               "ns1 IN A 192.0.2.53\n"
               "$INCLUDE tlsa.example.net\n");
    write_text(dir / "tlsa.example.net", "");
    bindfile::BindFileConfig config;
    config.zone = zone;
    config.zone_file = zone_file;
    config.mode = bindfile::Mode::include;
    config.tlsa_file = dir / "tlsa.example.net";
    if (!have_program("named-checkzone")) config.check_command.clear();
    config.reload_command.clear();
    config.lock_timeout = std::chrono::milliseconds(2000);

    ConformanceTarget target;
    target.zone = zone;
    target.owner = owner;
    target.observable = false;  // no named here: the zone file is not served
    target.make_provider = [&] {
        return std::make_unique<bindfile::BindFileProvider>(config,
                                                            std::make_shared<SystemClock>());
    };
    target.add_foreign = [&](const TlsaRecord& record) {
        write_text(zone_file, read_text(zone_file) + zone_line(record));
    };
    run_provider_conformance(target);
}
