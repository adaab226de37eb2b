// `type: exec`: a DNS back end implemented by an external program in any language.
//
// danehook runs the program once per operation (no shell, with the provider's timeout), writes
// one JSON request on its standard input and reads one JSON response from its standard output.
// The protocol (version 1) is specified in docs/providers.md; contrib/danehook-provider-jsonfile
// is a complete example. Secrets reach the program through its environment or its own
// configuration, never through argv (visible to every user in ps).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <thread>

#include "danehook/command.hpp"
#include "danehook/dns_name.hpp"
#include "danehook/dns_query.hpp"
#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "danehook/provider.hpp"

namespace danehook {
namespace {

using Json = nlohmann::json;

constexpr int protocol_version = 1;
// A response larger than this is not a TLSA listing: refuse it rather than parse it.
constexpr std::size_t max_response_bytes = 4 * 1024 * 1024;

std::optional<ProviderFailure> failure_from_kind(const std::string& kind) {
    if (kind == "configuration") return ProviderFailure::configuration;
    if (kind == "authentication") return ProviderFailure::authentication;
    if (kind == "not_found") return ProviderFailure::not_found;
    if (kind == "rejected") return ProviderFailure::rejected;
    if (kind == "transient") return ProviderFailure::transient;
    return std::nullopt;
}

Json record_json(const TlsaRecord& record, const std::string& id = "") {
    Json json{{"owner", record.owner}, {"ttl", record.ttl}, {"rdata", record.rdata.presentation()}};
    if (!id.empty()) json["id"] = id;
    return json;
}

struct ExecConfig {
    std::string name;  // the provider's name in the configuration
    std::vector<std::string> command;
    std::string zone;                      // default zone, canonical; "" when not set
    std::vector<std::string> environment;  // "NAME=value"
};

class ExecProvider : public Provider {
  public:
    explicit ExecProvider(ExecConfig config) : config_(std::move(config)) {}

    std::string zone_for(const std::string& owner, const std::string& configured_zone) override {
        std::string zone = !configured_zone.empty() ? configured_zone : config_.zone;
        if (zone.empty()) {
            throw ProviderError(ProviderFailure::configuration,
                                label() + ": set 'zone' on the certificate or the provider");
        }
        if (!is_in_zone(owner, zone)) {
            throw ProviderError(ProviderFailure::configuration, owner + " is outside zone " + zone);
        }
        return zone;
    }

    std::vector<PublishedRecord> list(const std::string& zone, const std::string& owner) override {
        require_capabilities();
        Json response = call("list", {{"zone", zone}, {"owner", owner}});
        const Json& records = member(response, "list", "records");
        if (!records.is_array()) protocol_violation("list", "'records' must be an array");
        std::vector<PublishedRecord> result;
        for (const auto& item : records) {
            auto published = parse_record(item, "list");
            if (published.record.owner != owner) {
                protocol_violation("list", "listed a record at " + published.record.owner +
                                               " when asked for " + owner);
            }
            result.push_back(std::move(published));
        }
        return result;
    }

    void apply(const ChangeSet& changes) override {
        if (changes.empty()) return;
        require_capabilities();
        Json additions = Json::array();
        for (const auto& record : changes.additions) additions.push_back(record_json(record));
        Json deletions = Json::array();
        for (const auto& item : changes.deletions)
            deletions.push_back(record_json(item.record, item.id));
        call("apply", {{"zone", changes.zone}, {"additions", additions}, {"deletions", deletions}});
    }

    std::vector<std::string> authoritative_servers(const std::string& zone) override {
        if (!configured_nameservers_.empty()) return configured_nameservers_;
        require_capabilities();
        if (!supports_nameservers_) return Provider::authoritative_servers(zone);
        Json response = call("nameservers", {{"zone", zone}});
        const Json& servers = member(response, "nameservers", "nameservers");
        if (!servers.is_array() || servers.empty()) {
            protocol_violation("nameservers", "'nameservers' must be a non-empty array");
        }
        std::vector<std::string> result;
        for (const auto& server : servers) {
            if (!server.is_string())
                protocol_violation("nameservers", "every nameserver must be a string");
            try {
                result.push_back(DnsServer::parse(server.get<std::string>()).to_string());
            } catch (const std::invalid_argument& e) {
                protocol_violation("nameservers", e.what());
            }
        }
        return result;
    }

  private:
    std::string label() const { return "exec provider '" + config_.name + "'"; }

    [[noreturn]] void protocol_violation(const std::string& operation,
                                         const std::string& detail) const {
        throw ProviderError(ProviderFailure::configuration,
                            label() + ": " + operation + ": protocol error: " + detail);
    }

    const Json& member(const Json& response, const std::string& operation, const char* key) const {
        auto found = response.find(key);
        if (found == response.end())
            protocol_violation(operation, std::string("response has no '") + key + "'");
        return *found;
    }

    PublishedRecord parse_record(const Json& item, const std::string& operation) const {
        if (!item.is_object()) protocol_violation(operation, "every record must be an object");
        auto owner = item.find("owner");
        auto ttl = item.find("ttl");
        auto rdata = item.find("rdata");
        if (owner == item.end() || !owner->is_string() || ttl == item.end() ||
            !ttl->is_number_unsigned() || rdata == item.end() || !rdata->is_string()) {
            protocol_violation(
                operation,
                "a record needs 'owner' (string), 'ttl' (unsigned) and 'rdata' (string): " +
                    item.dump());
        }
        PublishedRecord published;
        try {
            published.record.owner = canonical_name(owner->get<std::string>());
            auto ttl_value = ttl->get<std::uint64_t>();
            if (ttl_value > 0x7fffffff) throw std::invalid_argument("ttl out of range");
            published.record.ttl = static_cast<std::uint32_t>(ttl_value);
            published.record.rdata = TlsaRdata::parse(rdata->get<std::string>());
        } catch (const std::exception& e) {
            protocol_violation(operation,
                               std::string("bad record ") + item.dump() + ": " + e.what());
        }
        if (auto id = item.find("id"); id != item.end()) {
            if (!id->is_string()) protocol_violation(operation, "'id' must be a string");
            published.id = id->get<std::string>();
        }
        return published;
    }

    void require_capabilities() {
        if (capabilities_checked_) return;
        Json response = call("capabilities", Json::object());
        const Json& operations = member(response, "capabilities", "operations");
        if (!operations.is_array())
            protocol_violation("capabilities", "'operations' must be an array");
        auto supports = [&](const char* operation) {
            return std::any_of(operations.begin(), operations.end(), [&](const Json& o) {
                return o.is_string() && o.get<std::string>() == operation;
            });
        };
        if (!supports("list") || !supports("apply")) {
            protocol_violation("capabilities", "the program must support 'list' and 'apply'");
        }
        supports_nameservers_ = supports("nameservers");
        capabilities_checked_ = true;
    }

    // Runs the program for one operation, retrying transient failures; returns the response.
    Json call(const std::string& operation, Json request) {
        request["protocol"] = protocol_version;
        request["operation"] = operation;
        request["provider"] = config_.name;
        for (int attempt = 0;; ++attempt) {
            try {
                return call_once(operation, request);
            } catch (const ProviderError& e) {
                if (!e.retryable() || attempt >= retries_) throw;
                log::warning(std::string(e.what()) + "; retrying");
                std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));
            }
        }
    }

    Json call_once(const std::string& operation, const Json& request) const {
        CommandOptions options;
        options.timeout = timeout_;
        options.input = request.dump() + "\n";
        options.extra_environment = config_.environment;
        options.extra_environment.push_back("DANEHOOK_EXEC_PROTOCOL=" +
                                            std::to_string(protocol_version));
        auto started = std::chrono::steady_clock::now();
        CommandResult result = run_command(config_.command, options);
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        log::debug(label() + ": " + operation + ": " +
                   (result.ok() ? std::string("exited with status 0") : result.describe()) +
                   " after " + std::to_string(elapsed.count()) + " ms");
        std::string where = label() + ": " + operation + ": ";
        if (result.timed_out) {
            throw ProviderError(ProviderFailure::transient,
                                where + config_.command[0] + " did not finish within " +
                                    std::to_string(timeout_.count()) + " ms and was killed");
        }
        if (result.exit_status == 127 && result.errors.rfind("cannot run ", 0) == 0) {
            throw ProviderError(ProviderFailure::configuration, where + first_line(result.errors));
        }
        if (result.exit_status < 0) {
            throw ProviderError(ProviderFailure::transient,
                                where + config_.command[0] + " " + result.describe());
        }
        if (result.output.size() > max_response_bytes) {
            protocol_violation(
                operation, "response larger than " + std::to_string(max_response_bytes) + " bytes");
        }
        Json response = Json::parse(result.output, nullptr, false);
        if (response.is_discarded() || !response.is_object()) {
            if (result.exit_status != 0) {
                throw ProviderError(ProviderFailure::transient,
                                    where + config_.command[0] + " " + result.describe());
            }
            protocol_violation(operation, "standard output is not one JSON object (starts with '" +
                                              printable_prefix(result.output) + "')");
        }
        check_version(operation, response);
        auto ok = response.find("ok");
        if (ok == response.end() || !ok->is_boolean())
            protocol_violation(operation, "response has no boolean 'ok'");
        if (!ok->get<bool>()) throw reported_error(operation, response);
        if (result.exit_status != 0) {
            throw ProviderError(
                ProviderFailure::transient,
                where + "answered ok but " + result.describe() + "; treating it as a failure");
        }
        return response;
    }

    void check_version(const std::string& operation, const Json& response) const {
        auto version = response.find("protocol");
        if (version == response.end() || !version->is_number_integer()) {
            protocol_violation(operation, "response has no integer 'protocol'");
        }
        if (version->get<long long>() != protocol_version) {
            protocol_violation(operation, "program speaks protocol " + version->dump() +
                                              ", danehook speaks " +
                                              std::to_string(protocol_version));
        }
    }

    ProviderError reported_error(const std::string& operation, const Json& response) const {
        std::string where = label() + ": " + operation + ": ";
        auto error = response.find("error");
        if (error == response.end() || !error->is_object()) {
            return ProviderError(ProviderFailure::configuration,
                                 where + "protocol error: failed without an 'error' object");
        }
        std::string message = "(no message)";
        if (auto m = error->find("message"); m != error->end() && m->is_string())
            message = m->get<std::string>();
        std::string kind;
        if (auto k = error->find("kind"); k != error->end() && k->is_string())
            kind = k->get<std::string>();
        auto failure = failure_from_kind(kind);
        if (!failure) {
            return ProviderError(
                ProviderFailure::transient,
                where + message + " (unknown error kind '" + kind + "', treated as transient)");
        }
        return ProviderError(*failure, where + message);
    }

    static std::string first_line(const std::string& text) {
        auto end = text.find('\n');
        return text.substr(0, end);
    }

    static std::string printable_prefix(const std::string& text) {
        std::string prefix;
        for (char c : text.substr(0, 40)) prefix += (c >= 0x20 && c < 0x7f) ? c : '?';
        return prefix;
    }

    ExecConfig config_;
    bool capabilities_checked_ = false;
    bool supports_nameservers_ = false;
};

ExecConfig exec_config(const ProviderContext& context) {
    const auto& settings = context.settings;
    ExecConfig config;
    config.name = context.name;
    config.command = settings.strings("command");
    if (config.command.empty() || config.command[0].empty()) {
        throw settings.error("command",
                             "must name the program to run, e.g. [/usr/local/bin/my-dns, --flag]");
    }
    if (auto zone = settings.string("zone")) {
        try {
            config.zone = canonical_name(*zone);
        } catch (const std::invalid_argument& e) {
            throw settings.error("zone", e.what());
        }
    }
    if (auto environment = settings.mapping("environment")) {
        for (const auto& key : environment->keys()) {
            bool valid = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0])) &&
                         std::all_of(key.begin(), key.end(), [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                         });
            if (!valid) throw environment->error(key, "is not a valid environment variable name");
            config.environment.push_back(key + "=" + environment->string(key).value_or(""));
        }
    }
    return config;
}

}  // namespace

void register_exec_provider(ProviderRegistry& registry) {
    registry.add(ProviderDescriptor{
        "exec",
        "an external program speaking danehook's JSON provider protocol (docs/providers.md)",
        {{"command",
          "the program and its arguments, run without a shell (no secrets here: argv is public)",
          true},
         {"zone", "zone of the records when the certificate entry does not name one", false},
         {"environment", "NAME: value pairs added to the program's environment", false}},
        [](const ProviderContext& context) -> std::unique_ptr<Provider> {
            return std::make_unique<ExecProvider>(exec_config(context));
        },
        {}});
}

}  // namespace danehook
