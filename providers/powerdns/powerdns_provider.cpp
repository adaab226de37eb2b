#include "providers/powerdns/powerdns_provider.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>
#include <optional>
#include <thread>

#include "danehook/curl_handles.hpp"
#include "danehook/dns_name.hpp"
#include "danehook/error.hpp"
#include "danehook/file_io.hpp"
#include "danehook/log.hpp"
#include "danehook/secret.hpp"

namespace danehook::powerdns {

using Json = nlohmann::json;

namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
}

// PowerDNS answers errors as {"error": "..."}; the body is otherwise not shown (it may be long).
std::string api_error_text(const std::string& body) {
    Json json = Json::parse(body, nullptr, false);
    if (json.is_object() && json.contains("error") && json["error"].is_string())
        return json["error"].get<std::string>();
    return body.substr(0, 200);
}

ProviderFailure failure_for_status(long status) {
    if (status == 401 || status == 403) return ProviderFailure::authentication;
    if (status == 404) return ProviderFailure::not_found;
    if (status == 408 || status == 429 || status >= 500) return ProviderFailure::transient;
    return ProviderFailure::rejected;
}

std::string trimmed(std::string text) {
    auto end = text.find_last_not_of(" \t\r\n");
    text.erase(end == std::string::npos ? 0 : end + 1);
    auto start = text.find_first_not_of(" \t\r\n");
    return start == std::string::npos ? "" : text.substr(start);
}

std::optional<TlsaRdata> parse_content(const std::string& content) {
    try {
        return TlsaRdata::parse(content);
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
}

}  // namespace

struct PowerDnsProvider::Http {
    std::string base;  // ".../api/v1/servers/<id>"
    SecretText api_key;
    std::filesystem::path ca_file;
    std::string label;

    struct Response {
        long status = 0;
        std::string body;
    };

    std::string escape(const std::string& text) const {
        CurlEasy handle(curl_easy_init());
        CurlString escaped(
            curl_easy_escape(handle.get(), text.c_str(), static_cast<int>(text.size())));
        if (!escaped) throw ProviderError(ProviderFailure::transient, label + ": out of memory");
        return escaped.get();
    }

    // One request; throws ProviderError for transport failures and non-2xx answers.
    Response send_once(const std::string& method, const std::string& path, const std::string& body,
                       std::chrono::milliseconds timeout) const {
        CurlEasy handle(curl_easy_init());
        if (!handle)
            throw ProviderError(ProviderFailure::transient,
                                label + ": cannot create a curl handle");
        std::string url = base + path;
        Response response;
        curl_slist* raw = nullptr;
        {
            SecretText header("X-API-Key: " + api_key.reveal());
            raw = curl_slist_append(raw, header.reveal().c_str());
        }
        CurlSecretList headers(raw);
        headers.reset(curl_slist_append(headers.release(), "Accept: application/json"));
        if (!body.empty())
            headers.reset(curl_slist_append(headers.release(), "Content-Type: application/json"));
        if (!headers) throw ProviderError(ProviderFailure::transient, label + ": out of memory");
        CURL* h = handle.get();
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // never send the key elsewhere
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
        if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
        if (!body.empty()) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        }
        std::string what = label + ": " + method + " " + url;
        CURLcode code = curl_easy_perform(h);
        if (code != CURLE_OK) {
            auto failure = code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL
                               ? ProviderFailure::configuration
                               : ProviderFailure::transient;
            throw ProviderError(failure, what + ": " + curl_easy_strerror(code));
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
        if (response.status < 200 || response.status > 299) {
            throw ProviderError(failure_for_status(response.status),
                                what + ": HTTP " + std::to_string(response.status) + ": " +
                                    api_error_text(response.body));
        }
        return response;
    }

    // Retries transient failures (every request here is idempotent: GETs and REPLACE/DELETE).
    Response send(const std::string& method, const std::string& path, const std::string& body,
                  std::chrono::milliseconds timeout, int retries) const {
        for (int attempt = 0;; ++attempt) {
            try {
                return send_once(method, path, body, timeout);
            } catch (const ProviderError& e) {
                if (!e.retryable() || attempt >= retries) throw;
                log::warning(std::string(e.what()) + "; retrying");
                std::this_thread::sleep_for(std::chrono::milliseconds(250 * (attempt + 1)));
            }
        }
    }

    Json get_json(const std::string& path, std::chrono::milliseconds timeout, int retries) const {
        auto response = send("GET", path, "", timeout, retries);
        Json json = Json::parse(response.body, nullptr, false);
        if (json.is_discarded()) {
            throw ProviderError(ProviderFailure::transient,
                                label + ": GET " + base + path + ": the answer is not JSON");
        }
        return json;
    }
};

PowerDnsProvider::PowerDnsProvider(PowerDnsConfig config)
    : config_(std::move(config)), http_(std::make_unique<Http>()) {
    curl_global_init_once();
    std::string base = config_.api_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (base.size() >= 7 && base.compare(base.size() - 7, 7, "/api/v1") == 0)
        base.erase(base.size() - 7);
    http_->label = label();
    http_->ca_file = config_.ca_file;
    http_->base = base + "/api/v1/servers/" + http_->escape(config_.server_id);
    if (auto warning = permissive_credentials_warning(config_.api_key_file)) log::warning(*warning);
    SecretText key;
    try {
        SecretText text(read_file(config_.api_key_file));
        key = trimmed(text.reveal());
    } catch (const Error& e) {
        throw ConfigError(label() + ": api_key_file: " + e.what());
    }
    if (key.empty())
        throw ConfigError(label() + ": api_key_file " + config_.api_key_file.string() +
                          " is empty");
    if (key.reveal().find_first_of("\r\n") != std::string::npos) {
        throw ConfigError(label() + ": api_key_file " + config_.api_key_file.string() +
                          " holds more than one line");
    }
    http_->api_key = std::move(key);
}

PowerDnsProvider::~PowerDnsProvider() = default;

std::string PowerDnsProvider::label() const {
    return "powerdns provider '" + config_.name + "'";
}

std::string PowerDnsProvider::zone_id(const std::string& zone) {
    if (auto cached = zone_ids_.find(zone); cached != zone_ids_.end()) return cached->second;
    Json zones = http_->get_json("/zones?zone=" + http_->escape(zone), timeout_, retries_);
    if (!zones.is_array())
        throw ProviderError(ProviderFailure::transient, label() + ": zone list is not an array");
    for (const auto& entry : zones) {
        if (!entry.is_object() || !entry.contains("name") || !entry.contains("id")) continue;
        if (!entry["name"].is_string() || !entry["id"].is_string()) continue;
        if (canonical_name(entry["name"].get<std::string>()) == zone) {
            zone_ids_[zone] = entry["id"].get<std::string>();
            return zone_ids_[zone];
        }
    }
    throw ProviderError(
        ProviderFailure::not_found,
        label() + ": zone " + zone + " is not on server '" + config_.server_id + "'");
}

std::string PowerDnsProvider::zone_for(const std::string& owner,
                                       const std::string& configured_zone) {
    if (!configured_zone.empty()) {
        if (!is_in_zone(owner, configured_zone)) {
            throw ProviderError(ProviderFailure::configuration,
                                owner + " is outside zone " + configured_zone);
        }
        zone_id(configured_zone);
        return configured_zone;
    }
    // The closest enclosing zone the server holds.
    std::string candidate = owner;
    while (!candidate.empty() && candidate != ".") {
        try {
            zone_id(candidate);
            return candidate;
        } catch (const ProviderError& e) {
            if (e.failure() != ProviderFailure::not_found) throw;
        }
        auto dot = candidate.find('.');
        candidate = candidate.substr(dot + 1);
    }
    throw ProviderError(ProviderFailure::not_found,
                        label() + ": no zone on the server holds " + owner);
}

std::map<std::string, PowerDnsProvider::RRsetState> PowerDnsProvider::read_rrsets(
    const std::string& zone, const std::vector<std::string>& owners, bool with_disabled) {
    std::map<std::string, RRsetState> result;
    // The rrset_name/rrset_type filter leaves disabled records out (PowerDNS 4.7), and a write
    // must keep them: merges read the whole zone. Servers that ignore the filter send the whole
    // zone too; either way the RRset is picked out here.
    std::optional<Json> whole_zone;
    if (with_disabled)
        whole_zone = http_->get_json("/zones/" + http_->escape(zone_id(zone)) + "?rrsets=true",
                                     timeout_, retries_);
    for (const auto& owner : owners) {
        Json json = whole_zone
                        ? *whole_zone
                        : http_->get_json("/zones/" + http_->escape(zone_id(zone)) +
                                              "?rrsets=true&rrset_name=" + http_->escape(owner) +
                                              "&rrset_type=TLSA",
                                          timeout_, retries_);
        RRsetState state;
        const Json* rrsets =
            json.is_object() && json.contains("rrsets") ? &json["rrsets"] : nullptr;
        if (!rrsets || !rrsets->is_array()) {
            throw ProviderError(ProviderFailure::transient,
                                label() + ": zone " + zone + " answer has no rrsets");
        }
        for (const auto& rrset : *rrsets) {
            if (!rrset.is_object() || rrset.value("type", "") != "TLSA") continue;
            std::string name = rrset.value("name", "");
            try {
                if (canonical_name(name) != owner) continue;
            } catch (const std::invalid_argument&) {
                continue;
            }
            state.exists = true;
            state.ttl = rrset.value("ttl", 0u);
            if (rrset.contains("records") && rrset["records"].is_array()) {
                for (const auto& record : rrset["records"]) {
                    state.records.push_back(
                        RecordEntry{record.value("content", ""), record.value("disabled", false)});
                }
            }
        }
        result[owner] = std::move(state);
    }
    return result;
}

std::vector<PublishedRecord> PowerDnsProvider::list(const std::string& zone,
                                                    const std::string& owner) {
    auto state = read_rrsets(zone, {owner}, false)[owner];
    std::vector<PublishedRecord> result;
    for (const auto& record : state.records) {
        if (record.disabled) continue;  // not served
        auto rdata = parse_content(record.content);
        if (!rdata) {
            log::warning(label() + ": ignoring unparsable TLSA content '" + record.content +
                         "' at " + owner);
            continue;
        }
        result.push_back(PublishedRecord{TlsaRecord{owner, state.ttl, *rdata}, ""});
    }
    return result;
}

void PowerDnsProvider::apply(const ChangeSet& changes) {
    if (changes.empty()) return;
    std::vector<std::string> owners;
    auto note_owner = [&](const TlsaRecord& record) {
        if (!is_in_zone(record.owner, changes.zone)) {
            throw ProviderError(ProviderFailure::configuration,
                                record.owner + " is outside zone " + changes.zone);
        }
        if (std::find(owners.begin(), owners.end(), record.owner) == owners.end())
            owners.push_back(record.owner);
    };
    for (const auto& record : changes.additions) note_owner(record);
    for (const auto& item : changes.deletions) note_owner(item.record);

    auto merge = [&](const std::string& owner, const RRsetState& current) {
        RRsetState desired = current;
        auto same = [](const RecordEntry& entry, const TlsaRdata& rdata) {
            auto parsed = parse_content(entry.content);
            return parsed && *parsed == rdata;
        };
        for (const auto& item : changes.deletions) {
            if (item.record.owner != owner) continue;
            std::erase_if(desired.records,
                          [&](const RecordEntry& e) { return same(e, item.record.rdata); });
        }
        std::optional<std::uint32_t> ttl;
        for (const auto& record : changes.additions) {
            if (record.owner != owner) continue;
            ttl = ttl ? std::min(*ttl, record.ttl) : record.ttl;
            auto existing =
                std::find_if(desired.records.begin(), desired.records.end(),
                             [&](const RecordEntry& e) { return same(e, record.rdata); });
            if (existing == desired.records.end()) {
                desired.records.push_back(RecordEntry{record.rdata.presentation(), false});
            } else {
                existing->disabled = false;
            }
        }
        // One TTL per RRset (RFC 2181 5.2): ours when we add, else the RRset's own.
        if (ttl) desired.ttl = *ttl;
        desired.exists = !desired.records.empty();
        return desired;
    };

    for (int attempt = 1; attempt <= config_.max_conflict_attempts; ++attempt) {
        auto before = read_rrsets(changes.zone, owners, true);
        Json rrsets = Json::array();
        std::map<std::string, RRsetState> written;
        for (const auto& owner : owners) {
            auto desired = merge(owner, before[owner]);
            if (desired == before[owner]) continue;
            written[owner] = desired;
            Json rrset{{"name", owner}, {"type", "TLSA"}};
            if (desired.records.empty()) {
                rrset["changetype"] = "DELETE";
            } else {
                rrset["changetype"] = "REPLACE";
                rrset["ttl"] = desired.ttl;
                Json records = Json::array();
                for (const auto& r : desired.records)
                    records.push_back({{"content", r.content}, {"disabled", r.disabled}});
                rrset["records"] = records;
            }
            rrsets.push_back(rrset);
        }
        if (rrsets.empty()) {
            log::debug(label() + ": nothing to change in " + changes.zone);
            return;
        }
        if (before_guard_hook_) before_guard_hook_();
        // PowerDNS has no conditional PATCH: re-read just before writing so that a change made
        // since our read is merged instead of overwritten.
        if (read_rrsets(changes.zone, owners, true) != before) {
            log::info(label() + ": TLSA RRset in " + changes.zone +
                      " changed while merging; merging again (attempt " + std::to_string(attempt) +
                      ")");
            continue;
        }
        http_->send("PATCH", "/zones/" + http_->escape(zone_id(changes.zone)),
                    Json{{"rrsets", rrsets}}.dump(), timeout_, retries_);
        auto after = read_rrsets(changes.zone, owners, true);
        bool in_place = std::all_of(written.begin(), written.end(), [&](const auto& entry) {
            const auto& now = after[entry.first];
            return merge(entry.first, now) == now;  // our additions present, our deletions absent
        });
        if (in_place) {
            log::info(label() + ": updated " + std::to_string(written.size()) +
                      " TLSA RRset(s) in " + changes.zone);
            return;
        }
        log::warning(label() + ": TLSA RRset in " + changes.zone +
                     " changed right after our write; merging again");
    }
    throw ProviderError(
        ProviderFailure::transient,
        label() + ": the TLSA RRsets in " + changes.zone + " kept changing during " +
            std::to_string(config_.max_conflict_attempts) + " merge attempts; try again later");
}

namespace {

PowerDnsConfig powerdns_config(const ProviderContext& context) {
    const auto& settings = context.settings;
    PowerDnsConfig config;
    config.name = context.name;
    config.api_url = settings.required_string("api_url");
    if (config.api_url.rfind("http://", 0) != 0 && config.api_url.rfind("https://", 0) != 0) {
        throw settings.error("api_url", "must start with http:// or https://");
    }
    config.server_id = settings.string("server_id").value_or("localhost");
    if (config.server_id.empty()) throw settings.error("server_id", "must not be empty");
    config.api_key_file = *settings.path("api_key_file");
    if (auto ca = settings.path("ca_file")) config.ca_file = *ca;
    return config;
}

}  // namespace

}  // namespace danehook::powerdns

namespace danehook {

void register_powerdns_provider(ProviderRegistry& registry) {
    registry.add(ProviderDescriptor{
        "powerdns",
        "PowerDNS Authoritative Server through its HTTP API (RRsets merged, foreign records kept)",
        {{"api_url", "the API's base URL, e.g. http://127.0.0.1:8081", true},
         {"server_id", "the server id in the API path (default localhost)", false},
         {"api_key_file", "file holding the X-API-Key value (keep it 0600)", true},
         {"ca_file", "CA bundle to verify an https api_url with", false}},
        [](const ProviderContext& context) -> std::unique_ptr<Provider> {
            return std::make_unique<powerdns::PowerDnsProvider>(powerdns::powerdns_config(context));
        },
        {}});
}

}  // namespace danehook
