// The live-service interlock and the activation check through the danehook binary: the `file`
// provider, a manual clock (DANEHOOK_NOW) and an openssl s_server as the live service.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "danehook/certificate.hpp"
#include "hook/check_fixture.hpp"

using namespace danehook;
using namespace danehook::testing;

namespace {

constexpr long t0 = 1'800'000'000;
constexpr long hold = 2 * 300 + 60;

struct RolloverSetup {
    TempDir dir;
    TestCa ca = make_ca("Interlock Test CA");
    EvpPkeyPtr key = generate_key(KeyKind::p256);
    long serial = 1;
    int port = free_port();

    explicit RolloverSetup(const std::string& extra_entry = "") {
        write_text(dir / "danehook.yaml", "state_dir: " + (dir / "state").string() +
                                              "\nlock_timeout: 5\nproviders:\n  local:\n"
                                              "    type: file\n    path: " +
                                              (dir / "tlsa.zone").string() +
                                              "\ncertificates:\n"
                                              "  - name: web\n    lineage: " +
                                              lineage().string() +
                                              "\n    zone: example.net\n"
                                              "    ttl: 300\n    hold_margin: 60\n    services:\n"
                                              "      - { host: www.example.net, port: " +
                                              std::to_string(port) +
                                              ", address: 127.0.0.1, starttls: none }\n" +
                                              extra_entry);
        issue();
    }
    std::filesystem::path lineage() const { return dir / "live/web"; }
    void issue() {
        write_lineage(lineage(),
                      make_leaf(ca, key.get(), "www.example.net", -1, 90, serial++).get(), ca,
                      key.get());
    }
    void new_key() {
        key = generate_key(KeyKind::p256);
        issue();
    }
    std::string record_of(EVP_PKEY* k) const {
        return "3 1 1 " + to_hex(key_association(k, MatchingType::sha256));
    }
    std::string zone() const {
        return std::filesystem::exists(dir / "tlsa.zone") ? read_text(dir / "tlsa.zone") : "";
    }

    CommandResult danehook(const std::vector<std::string>& args, long now) const {
        std::vector<std::string> full{"--config", (dir / "danehook.yaml").string()};
        full.insert(full.end(), args.begin(), args.end());
        return run_danehook(
            full, {"DANEHOOK_NOW=" + std::to_string(now), "RENEWED_LINEAGE=" + lineage().string(),
                   "RENEWED_DOMAINS=www.example.net"});
    }
};

// Copies the lineage (cert, chain, key) into `dir/name` so a server can keep presenting it.
std::filesystem::path keep_copy(const RolloverSetup& setup, const std::string& name) {
    auto target = setup.dir / name;
    std::filesystem::create_directories(target);
    for (const char* file : {"cert.pem", "chain.pem", "privkey.pem"}) {
        std::filesystem::copy_file(setup.lineage() / file, target / file,
                                   std::filesystem::copy_options::overwrite_existing);
    }
    return target;
}

// openssl s_server on the configured port with the certificate files in `files`.
struct LiveService {
    LiveService(int port, const std::filesystem::path& files) : process(run_server(port, files)) {}
    ~LiveService() { stop(); }
    void stop() {
        if (process > 0) {
            ::kill(-process, SIGKILL);
            ::kill(process, SIGKILL);
            int status = 0;
            ::waitpid(process, &status, 0);
            process = -1;
        }
    }
    static pid_t run_server(int port, const std::filesystem::path& files) {
        pid_t pid = ::fork();
        if (pid == 0) {
            ::setpgid(0, 0);
            int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);
            std::string accept = "127.0.0.1:" + std::to_string(port),
                        cert = (files / "cert.pem").string(),
                        key = (files / "privkey.pem").string(),
                        chain = (files / "chain.pem").string();
            ::execlp("openssl", "openssl", "s_server", "-accept", accept.c_str(), "-cert",
                     cert.c_str(), "-key", key.c_str(), "-cert_chain", chain.c_str(), "-www",
                     "-quiet", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        REQUIRE(wait_for_port(port, std::chrono::seconds(10)));
        return pid;
    }
    pid_t process = -1;
};

}  // namespace

TEST_CASE("run refuses a withdrawal that would break the live service; --force overrides") {
    RolloverSetup setup;
    auto old_files = keep_copy(setup, "old");
    std::string old_record = setup.record_of(setup.key.get());
    REQUIRE(setup.danehook({"deploy"}, t0).exit_status == 0);
    setup.new_key();
    std::string new_record = setup.record_of(setup.key.get());
    REQUIRE(setup.danehook({"deploy"}, t0 + 10).exit_status == 0);
    REQUIRE(setup.zone().find(old_record) != std::string::npos);
    REQUIRE(setup.zone().find(new_record) != std::string::npos);

    LiveService service(setup.port, old_files);  // the reload never happened
    auto refused = setup.danehook({"run"}, t0 + 10 + hold + 1);
    CHECK_MESSAGE(refused.exit_status == 7, refused.output, refused.errors);
    CHECK(refused.errors.find("refusing to withdraw") != std::string::npos);
    CHECK(refused.errors.find("would not match") != std::string::npos);
    CHECK(refused.errors.find("--force overrides") != std::string::npos);
    CHECK(setup.zone().find(old_record) != std::string::npos);

    // Still refused on the next run while the service is unchanged.
    CHECK(setup.danehook({"run"}, t0 + 10 + hold + 100).exit_status == 7);

    auto forced = setup.danehook({"run", "--force"}, t0 + 10 + hold + 200);
    CHECK_MESSAGE(forced.exit_status == 0, forced.output, forced.errors);
    CHECK(forced.output.find("withdrew") != std::string::npos);
    CHECK(setup.zone().find(old_record) == std::string::npos);
    CHECK(setup.zone().find(new_record) != std::string::npos);
}

TEST_CASE(
    "run withdraws when the live service presents the new certificate, and warns when it is "
    "unreachable") {
    for (bool reachable : {true, false}) {
        CAPTURE(reachable);
        RolloverSetup setup;
        std::string old_record = setup.record_of(setup.key.get());
        REQUIRE(setup.danehook({"deploy"}, t0).exit_status == 0);
        setup.new_key();
        REQUIRE(setup.danehook({"deploy"}, t0 + 10).exit_status == 0);
        std::optional<LiveService> service;
        if (reachable) service.emplace(setup.port, keep_copy(setup, "new"));
        auto result = setup.danehook({"run"}, t0 + 10 + hold + 1);
        CHECK_MESSAGE(result.exit_status == 0, result.output, result.errors);
        CHECK(setup.zone().find(old_record) == std::string::npos);
        CHECK((result.errors.find("withdrawing without the live check") != std::string::npos) ==
              !reachable);
    }
}

TEST_CASE(
    "after a deferred reload, a service that does not present the new certificate is reported") {
    RolloverSetup setup("    reload_command: [\"true\"]\n");
    auto old_files = keep_copy(setup, "old");
    LiveService service(setup.port, old_files);
    setup.new_key();  // the lineage now holds a certificate the service does not present
    REQUIRE(setup.danehook({"deploy"}, t0).exit_status == 0);
    auto run = setup.danehook({"run"}, t0 + hold + 1);
    CHECK_MESSAGE(run.exit_status == 0, run.output, run.errors);
    CHECK(run.output.find("the new certificate is in service") != std::string::npos);
    CHECK(run.output.find("does not present the new certificate") != std::string::npos);
}
