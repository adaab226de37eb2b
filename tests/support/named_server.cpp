#include "support/named_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "danehook/dns_name.hpp"
#include "danehook/dns_query.hpp"
#include "danehook/ldns_handles.hpp"

namespace danehook::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

std::size_t secret_size(const std::string& algorithm) {
    if (algorithm == "hmac-sha512") return 64;
    if (algorithm == "hmac-sha384") return 48;
    if (algorithm == "hmac-sha224") return 28;
    if (algorithm == "hmac-sha1") return 20;
    if (algorithm == "hmac-md5") return 16;
    return 32;
}

std::string program_path(const std::string& program) {
    for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
        auto candidate = std::filesystem::path(dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return program;  // execvp searches PATH
}

// A short, fixed file name for a zone ("example.test." -> "example.test.db").
std::string zone_file_name(const std::string& zone) {
    std::string name = without_trailing_dot(canonical_name(zone));
    return (name.empty() ? std::string("root") : name) + ".db";
}

std::string zone_block(const NamedZone& zone, const std::filesystem::path& dir) {
    std::ostringstream out;
    out << "zone \"" << without_trailing_dot(canonical_name(zone.name)) << "\" {\n";
    out << "    type " << (zone.secondary ? "secondary" : "primary") << ";\n";
    out << "    file \"" << (dir / zone_file_name(zone.name)).string() << "\";\n";
    if (zone.secondary) {
        out << "    primaries {";
        for (const auto& primary : zone.primaries) out << " " << primary << ";";
        out << " };\n";
        if (!zone.accept_notify) out << "    allow-notify { none; };\n";
        out << "    request-ixfr yes;\n";
    } else {
        if (zone.dnssec_policy) {
            out << "    dnssec-policy \"" << *zone.dnssec_policy << "\";\n";
            out << "    inline-signing yes;\n";
        }
        if (!zone.update_policy.empty()) {
            out << "    update-policy { " << zone.update_policy << " };\n";
        }
        if (!zone.also_notify.empty()) {
            out << "    notify explicit;\n    also-notify {";
            for (const auto& target : zone.also_notify) out << " " << target << ";";
            out << " };\n";
        } else {
            out << "    notify no;\n";
        }
    }
    out << zone.extra;
    out << "};\n";
    return out.str();
}

// One query over TCP to a single server (DO bit when `dnssec`); nullptr when no answer.
LdnsPkt tcp_query(const std::string& address, int port, const std::string& name, ldns_rr_type type,
                  bool dnssec = true) {
    LdnsResolver resolver(ldns_resolver_new());
    if (!resolver) return nullptr;
    LdnsRdf server(ldns_rdf_new_frm_str(
        address.find(':') == std::string::npos ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
        address.c_str()));
    LdnsRdf qname(ldns_dname_new_frm_str(name.c_str()));
    if (!server || !qname) return nullptr;
    ldns_resolver_push_nameserver(resolver.get(), server.get());
    ldns_resolver_set_port(resolver.get(), static_cast<std::uint16_t>(port));
    ldns_resolver_set_recursive(resolver.get(), false);
    ldns_resolver_set_usevc(resolver.get(), true);
    ldns_resolver_set_dnssec(resolver.get(), dnssec);
    ldns_resolver_set_retry(resolver.get(), 1);
    ldns_resolver_set_timeout(resolver.get(), timeval{2, 0});
    ldns_pkt* raw = nullptr;
    if (ldns_resolver_send(&raw, resolver.get(), qname.get(), type, LDNS_RR_CLASS_IN, 0) !=
        LDNS_STATUS_OK) {
        ldns_pkt_free(raw);
        return nullptr;
    }
    return LdnsPkt(raw);
}

}  // namespace

std::string TsigKeySpec::statement() const {
    return "key \"" + name + "\" {\n\talgorithm " + algorithm + ";\n\tsecret \"" + secret +
           "\";\n};\n";
}

TsigKeySpec make_tsig_key(const std::string& name, const std::string& algorithm) {
    std::vector<unsigned char> bytes(secret_size(algorithm));
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return TsigKeySpec{name, algorithm, base64(bytes.data(), bytes.size())};
}

NamedZone NamedZone::primary(std::string name, std::string zone_text) {
    NamedZone zone;
    zone.name = std::move(name);
    zone.zone_text = std::move(zone_text);
    return zone;
}

NamedZone NamedZone::secondary_of(std::string name, std::vector<std::string> primaries) {
    NamedZone zone;
    zone.name = std::move(name);
    zone.secondary = true;
    zone.primaries = std::move(primaries);
    return zone;
}

bool NamedServer::available() {
    return have_program("named") && have_program("rndc");
}

NamedServer::NamedServer(NamedOptions options) : options_(std::move(options)) {
    // free_port() only finds a port that was free a moment ago; tests running in parallel may
    // take it first. Ports we chose ourselves are chosen again then.
    bool choose_port = options_.port == 0;
    for (int attempt = 1;; ++attempt) {
        if (choose_port) options_.port = free_port();
        control_port_ = free_port();
        while (control_port_ == options_.port) control_port_ = free_port();
        write_configuration();
        try {
            start();
            return;
        } catch (const std::runtime_error& e) {
            bool port_taken = std::string(e.what()).find("address in use") != std::string::npos;
            // Only ports chosen here are chosen again; a caller's port stays the caller's.
            bool control_port = std::string(e.what()).find("control channel") != std::string::npos;
            if (!port_taken || !(choose_port || control_port) || attempt >= 3) throw;
        }
    }
}

NamedServer::~NamedServer() {
    stop();
}

std::string NamedServer::endpoint() const {
    return options_.address + ":" + std::to_string(options_.port);
}

std::string NamedServer::primaries_entry() const {
    return options_.address + " port " + std::to_string(options_.port);
}

std::filesystem::path NamedServer::key_file() const {
    return dir_ / "rndc.key";
}

std::filesystem::path NamedServer::zone_file(const std::string& zone) const {
    return dir_ / zone_file_name(zone);
}

void NamedServer::write_configuration() {
    const auto& dir = dir_.path();
    auto rndc_key = make_tsig_key("rndc-key", "hmac-sha256");
    write_text(key_file(), rndc_key.statement());

    std::ostringstream conf;
    conf << "options {\n"
         << "    directory \"" << dir.string() << "\";\n"
         << "    pid-file \"" << (dir / "named.pid").string() << "\";\n"
         << "    lock-file \"" << (dir / "named.lock").string() << "\";\n"
         << "    session-keyfile \"" << (dir / "session.key").string() << "\";\n"
         << "    managed-keys-directory \"" << dir.string() << "\";\n"
         << "    dump-file \"" << (dir / "named_dump.db").string() << "\";\n"
         << "    statistics-file \"" << (dir / "named.stats").string() << "\";\n"
         << "    listen-on port " << options_.port << " { " << options_.address << "; };\n"
         << "    listen-on-v6 { none; };\n"
         << "    recursion no;\n"
         << "    dnssec-validation no;\n"
         << "    allow-transfer { 127.0.0.0/8; };\n"
         << "    minimal-responses no;\n"
         // NOTIFY at once (the default waits 5 s), so a test sees the secondary catch up quickly.
         << "    notify-delay 0;\n"
         << options_.extra_options << "};\n";
    conf << rndc_key.statement();
    conf << "controls {\n    inet " << options_.address << " port " << control_port_
         << " allow { 127.0.0.0/8; } keys { \"rndc-key\"; };\n};\n";
    conf << "logging {\n    category default { default_stderr; };\n"
         << "    category update { default_stderr; };\n"
         << "    category lame-servers { null; };\n};\n";
    for (const auto& key : options_.keys) conf << key.statement();
    for (const auto& zone : options_.zones) {
        conf << zone_block(zone, dir);
        if (!zone.secondary) {
            std::string origin = canonical_name(zone.name);
            write_text(zone_file(zone.name), "$ORIGIN " + origin + "\n" + zone.zone_text);
        }
    }
    write_text(dir / "named.conf", conf.str());
}

void NamedServer::start() {
    std::string named = program_path("named");
    std::string conf = (dir_ / "named.conf").string();
    std::string log_path = (dir_ / "named.log").string();
    // -g: foreground, log to stderr; -n 1: one worker thread (the CI machine is small).
    // Everything the child needs is prepared before fork().
    std::vector<std::string> argv{named, "-g", "-n", "1", "-4", "-c", conf};
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    if (pid_ == 0) {
        ::setpgid(0, 0);
        // If the test process dies without running destructors (a crash, a sanitizer abort),
        // named must not outlive it.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);  // died before prctl took effect
        int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (log_fd >= 0) {
            ::dup2(log_fd, STDOUT_FILENO);
            ::dup2(log_fd, STDERR_FILENO);
        }
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        ::execv(args[0], args.data());
        ::_exit(127);
    }

    auto deadline = SteadyClock::now() + options_.startup_timeout;
    auto exited = [&] {
        return log().find("unable to listen on any configured interfaces") != std::string::npos
                   ? std::string("could not listen (address in use?) and exited")
                   : std::string("exited during startup");
    };
    auto fail = [&](const std::string& why) {
        std::string message = "named at " + endpoint() + " " + why + "; its log:\n" + log();
        stop();
        throw std::runtime_error(message);
    };
    // Up when the first zone (or, without zones, the server) answers.
    for (const auto& zone : options_.zones) {
        if (!options_.wait_for_zones && zone.secondary) continue;
        while (!soa_serial(zone.name)) {
            if (!running()) fail(exited());
            auto text = log();
            if (text.find("not loaded due to errors") != std::string::npos) {
                fail("could not load a zone");
            }
            if (text.find("couldn't add command channel") != std::string::npos) {
                fail("could not open its rndc control channel (address in use?)");
            }
            if (SteadyClock::now() >= deadline) fail("did not serve " + zone.name + " in time");
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    if (options_.zones.empty()) {
        while (!rndc({"status"}).ok()) {
            if (!running()) fail(exited());
            if (SteadyClock::now() >= deadline) fail("did not answer rndc status in time");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    if (!running()) fail(exited());
}

bool NamedServer::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

void NamedServer::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (SteadyClock::now() < deadline) {
        int status = 0;
        pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_ || (done < 0 && errno == ECHILD)) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::string NamedServer::log() const {
    try {
        return read_text(dir_ / "named.log");
    } catch (const std::exception&) {
        return "(no log)";
    }
}

CommandResult NamedServer::rndc(const std::vector<std::string>& arguments) const {
    std::vector<std::string> argv{program_path("rndc"),          "-s", options_.address,   "-p",
                                  std::to_string(control_port_), "-k", key_file().string()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    CommandOptions command_options;
    command_options.timeout = std::chrono::seconds(15);
    return run_command(argv, command_options);
}

void NamedServer::reload() {
    auto result = rndc({"reload"});
    if (!result.ok()) throw std::runtime_error("rndc reload " + result.describe());
}

std::optional<std::uint32_t> NamedServer::soa_serial(const std::string& zone) const {
    QueryOptions query_options;
    query_options.timeout = std::chrono::milliseconds(1000);
    query_options.attempts = 1;
    query_options.tcp = true;
    auto answer =
        query_authoritative(DnsServer{options_.address, static_cast<std::uint16_t>(options_.port)},
                            canonical_name(zone), canonical_name(zone), query_options);
    if (!answer.answered) return std::nullopt;
    return answer.soa_serial;
}

bool NamedServer::wait_for_zone(const std::string& zone, std::chrono::milliseconds timeout) const {
    auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
        if (soa_serial(zone)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

bool NamedServer::wait_until_signed(const std::string& zone,
                                    std::chrono::milliseconds timeout) const {
    auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
        auto packet =
            tcp_query(options_.address, options_.port, canonical_name(zone), LDNS_RR_TYPE_SOA);
        if (packet) {
            LdnsRrList signatures(
                ldns_pkt_rr_list_by_type(packet.get(), LDNS_RR_TYPE_RRSIG, LDNS_SECTION_ANSWER));
            if (signatures && ldns_rr_list_rr_count(signatures.get()) > 0) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

std::vector<std::string> NamedServer::dig(const std::string& name, const std::string& type,
                                          bool dnssec) const {
    ldns_rr_type rr_type = ldns_get_rr_type_by_name(type.c_str());
    auto packet = tcp_query(options_.address, options_.port, canonical_name(name), rr_type, dnssec);
    std::vector<std::string> records;
    if (!packet) return records;
    ldns_rr_list* answer = ldns_pkt_answer(packet.get());
    for (std::size_t i = 0; answer && i < ldns_rr_list_rr_count(answer); ++i) {
        MallocedChars text(ldns_rr2str(ldns_rr_list_rr(answer, i)));
        if (!text) continue;
        std::string line = text.get();
        while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
        records.push_back(line);
    }
    return records;
}

}  // namespace danehook::testing
