#include "providers/cloudflare/cloudflare_provider.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "danehook/dns_name.hpp"
#include "danehook/dns_query.hpp"
#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "providers/cloudflare/cloudflare_credentials.hpp"

namespace danehook::cloudflare {
namespace {

// Bounds on the API walk so a confused server cannot keep a deploy hook busy.
constexpr int max_list_pages = 1000;
constexpr int max_zone_lookups = 8;
constexpr int list_page_size = 100;

// Ids go into URL paths: Cloudflare's are 32 hex digits; accept a little more, nothing that
// could change the path.
bool is_safe_id(const std::string& id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_';
    });
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

std::optional<std::int64_t> integer_field(const nlohmann::json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
}

std::string string_field(const nlohmann::json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return "";
    return it->get<std::string>();
}

std::optional<ZoneInfo> parse_zone(const nlohmann::json& item) {
    if (!item.is_object()) return std::nullopt;
    ZoneInfo zone;
    zone.id = string_field(item, "id");
    std::string name = string_field(item, "name");
    if (!is_safe_id(zone.id) || name.empty()) return std::nullopt;
    try {
        zone.name = canonical_name(name);
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
    if (auto servers = item.find("name_servers"); servers != item.end() && servers->is_array()) {
        for (const auto& server : *servers) {
            if (server.is_string()) zone.name_servers.push_back(server.get<std::string>());
        }
    }
    return zone;
}

// A created record that Cloudflare put at another name (a relative name under a wrong zone_id)
// must not go unnoticed.
void check_created(const nlohmann::json& created, const nlohmann::json& requested) {
    std::string name = created.is_object() ? string_field(created, "name") : "";
    std::string wanted = requested["name"].get<std::string>();
    if (!name.empty() && lower(name) != lower(wanted)) {
        throw ProviderError(
            ProviderFailure::configuration,
            "cloudflare: the record for " + wanted + " was created as " + name +
                ": zone_id does not belong to that zone; delete it and fix zone_id");
    }
}

bool same_record(const TlsaRecord& a, const TlsaRecord& b) {
    return a.owner == b.owner && a.rdata == b.rdata;  // rdata holds bytes: hex case cannot differ
}

}  // namespace

nlohmann::json create_body(const TlsaRecord& record) {
    return {
        {"type", "TLSA"},
        {"name", without_trailing_dot(record.owner)},
        {"ttl", record.ttl == 0 ? automatic_ttl : record.ttl},
        {"data",
         {{"usage", static_cast<int>(record.rdata.params.usage)},
          {"selector", static_cast<int>(record.rdata.params.selector)},
          {"matching_type", static_cast<int>(record.rdata.params.matching)},
          {"certificate", lower(record.rdata.hex())}}},
        {"comment", record_comment},
    };
}

std::optional<PublishedRecord> parse_record(const nlohmann::json& item) {
    if (!item.is_object() || string_field(item, "type") != "TLSA") return std::nullopt;
    PublishedRecord published;
    published.id = string_field(item, "id");
    std::string name = string_field(item, "name");
    if (!is_safe_id(published.id) || name.empty()) return std::nullopt;
    try {
        published.record.owner = canonical_name(name);
        auto data = item.find("data");
        if (data != item.end() && data->is_object()) {
            auto usage = integer_field(*data, "usage");
            auto selector = integer_field(*data, "selector");
            auto matching = integer_field(*data, "matching_type");
            std::string certificate = string_field(*data, "certificate");
            if (!usage || !selector || !matching || certificate.empty()) return std::nullopt;
            published.record.rdata =
                TlsaRdata::parse(std::to_string(*usage) + " " + std::to_string(*selector) + " " +
                                 std::to_string(*matching) + " " + certificate);
        } else {
            published.record.rdata = TlsaRdata::parse(string_field(item, "content"));
        }
    } catch (const std::invalid_argument& e) {
        log::warning("cloudflare: ignoring TLSA record " + published.id + " at " + name + ": " +
                     e.what());
        return std::nullopt;
    }
    auto ttl = integer_field(item, "ttl").value_or(automatic_ttl);
    published.record.ttl =
        ttl == automatic_ttl
            ? automatic_ttl_seconds
            : static_cast<std::uint32_t>(std::clamp<std::int64_t>(ttl, 0, INT32_MAX));
    return published;
}

CloudflareProvider::CloudflareProvider(Credentials credentials, ProviderOptions options)
    : client_(std::move(credentials), options.client), options_(std::move(options)) {}

std::optional<ZoneInfo> CloudflareProvider::find_zone(const std::string& name) {
    if (auto known = zones_.find(name); known != zones_.end()) return known->second;
    if (zone_absent_.count(name)) return std::nullopt;
    auto envelope = client_.call(
        "GET", "/zones?name=" + url_encode(without_trailing_dot(name)) + "&per_page=50");
    std::vector<ZoneInfo> matches;
    std::vector<ZoneInfo> active;
    const auto& result = envelope["result"];
    if (result.is_array()) {
        for (const auto& item : result) {
            auto zone = parse_zone(item);
            if (!zone || zone->name != name) continue;
            matches.push_back(*zone);
            if (string_field(item, "status") == "active") active.push_back(*zone);
        }
    }
    if (matches.empty()) {
        zone_absent_[name] = true;
        return std::nullopt;
    }
    if (matches.size() > 1 && active.size() != 1) {
        std::string ids;
        for (const auto& zone : matches) ids += (ids.empty() ? "" : ", ") + zone.id;
        throw ProviderError(ProviderFailure::configuration,
                            "cloudflare: zone " + without_trailing_dot(name) + " is ambiguous (" +
                                std::to_string(matches.size()) + " zones: " + ids +
                                "); set zone_id");
    }
    ZoneInfo zone = matches.size() == 1 ? matches.front() : active.front();
    zones_[name] = zone;
    return zone;
}

ZoneInfo CloudflareProvider::fetch_zone(const std::string& id) {
    auto envelope = client_.call("GET", "/zones/" + id);
    auto zone = parse_zone(envelope["result"]);
    if (!zone) {
        throw ProviderError(ProviderFailure::rejected,
                            "cloudflare: GET /zones/" + id + " did not return a zone");
    }
    return *zone;
}

const ZoneInfo& CloudflareProvider::zone_info(const std::string& zone) {
    if (auto known = zones_.find(zone); known != zones_.end()) return known->second;
    if (!options_.zone_id.empty()) {
        // Taken on trust to save a request per run; list() checks the zone_name of what it sees.
        return zones_[zone] = ZoneInfo{options_.zone_id, zone, {}};
    }
    if (!find_zone(zone)) {
        throw ProviderError(ProviderFailure::not_found,
                            "cloudflare: no zone " + without_trailing_dot(zone) +
                                " in the account (does the token have Zone Read on it?)");
    }
    return zones_.at(zone);
}

std::string CloudflareProvider::zone_path(const std::string& zone) {
    return "/zones/" + zone_info(zone).id;
}

std::string CloudflareProvider::zone_for(const std::string& owner,
                                         const std::string& configured_zone) {
    if (!configured_zone.empty()) {
        if (!is_in_zone(owner, configured_zone)) {
            throw ProviderError(ProviderFailure::configuration,
                                owner + " is outside zone " + configured_zone);
        }
        return configured_zone;
    }
    if (!options_.zone_id.empty()) {
        ZoneInfo info = fetch_zone(options_.zone_id);
        zones_[info.name] = info;
        if (!is_in_zone(owner, info.name)) {
            throw ProviderError(
                ProviderFailure::configuration,
                owner + " is outside zone " + info.name + " (zone_id " + options_.zone_id + ")");
        }
        return info.name;
    }
    std::vector<std::string> tried;
    for (std::string name = owner; name != "." && static_cast<int>(tried.size()) < max_zone_lookups;
         name = parent_name(name)) {
        // Service labels (_25._tcp) and top-level domains are never Cloudflare zones.
        if (name[0] == '_' || name.find('.') == name.size() - 1) continue;
        tried.push_back(without_trailing_dot(name));
        if (find_zone(name)) return name;
    }
    std::string list;
    for (const auto& name : tried) list += (list.empty() ? "" : ", ") + name;
    throw ProviderError(ProviderFailure::not_found,
                        "cloudflare: no zone in the account holds " + owner + " (looked up: " +
                            list + "); set zone on the certificate or zone_id on the provider");
}

std::vector<PublishedRecord> CloudflareProvider::list(const std::string& zone,
                                                      const std::string& owner) {
    const std::string base =
        zone_path(zone) + "/dns_records?type=TLSA&name=" + url_encode(without_trailing_dot(owner)) +
        "&per_page=" + std::to_string(list_page_size);
    std::vector<PublishedRecord> records;
    std::set<std::string> seen;
    for (int page = 1; page <= max_list_pages; ++page) {
        auto envelope = client_.call("GET", base + "&page=" + std::to_string(page));
        const auto& result = envelope["result"];
        if (!result.is_array()) {
            throw ProviderError(ProviderFailure::rejected,
                                "cloudflare: listing " + owner + ": result is not a list");
        }
        for (const auto& item : result) {
            if (std::string in_zone = item.is_object() ? string_field(item, "zone_name") : "";
                !in_zone.empty() && canonical_name(in_zone) != zone) {
                throw ProviderError(ProviderFailure::configuration,
                                    "cloudflare: zone " + zone_info(zone).id + " is " + in_zone +
                                        ", not " + without_trailing_dot(zone) + " (check zone_id)");
            }
            auto record = parse_record(item);
            if (!record || record->record.owner != owner || !seen.insert(record->id).second)
                continue;
            listed_[record->id] = record->record;
            records.push_back(*record);
        }
        std::int64_t total_pages = 1;
        if (auto info = envelope.find("result_info"); info != envelope.end() && info->is_object()) {
            total_pages = integer_field(*info, "total_pages").value_or(1);
        }
        if (page >= total_pages || result.empty()) return records;
    }
    throw ProviderError(ProviderFailure::rejected, "cloudflare: listing " + owner +
                                                       " did not end after " +
                                                       std::to_string(max_list_pages) + " pages");
}

std::vector<std::string> CloudflareProvider::ids_to_delete(
    const std::string& zone, const PublishedRecord& deletion,
    std::map<std::string, std::vector<PublishedRecord>>& fresh) {
    if (!deletion.id.empty()) {
        if (auto known = listed_.find(deletion.id); known != listed_.end()) {
            if (!same_record(known->second, deletion.record)) {
                throw ProviderError(
                    ProviderFailure::rejected,
                    "cloudflare: record " + deletion.id + " holds " + known->second.owner +
                        " TLSA " + known->second.rdata.presentation() +
                        ", not the record to delete (" + deletion.record.rdata.presentation() +
                        "); refusing to delete it");
            }
            return {deletion.id};
        }
    }
    // No id, or one this instance has not listed: find the record by its data.
    auto current = fresh.find(deletion.record.owner);
    if (current == fresh.end()) {
        current = fresh.emplace(deletion.record.owner, list(zone, deletion.record.owner)).first;
    }
    std::vector<std::string> ids;
    for (const auto& record : current->second) {
        if (same_record(record.record, deletion.record)) ids.push_back(record.id);
    }
    if (ids.empty()) {
        log::debug("cloudflare: " + deletion.record.owner + " TLSA " +
                   deletion.record.rdata.presentation() + " is already gone");
    }
    return ids;
}

void CloudflareProvider::apply(const ChangeSet& changes) {
    if (changes.empty()) return;
    Operations operations;
    std::map<std::string, std::vector<PublishedRecord>> fresh;
    std::set<std::string> deleting;
    for (const auto& deletion : changes.deletions) {
        for (auto& id : ids_to_delete(changes.zone, deletion, fresh)) {
            if (deleting.insert(id).second) operations.deletes.push_back(id);
        }
    }
    for (const auto& addition : changes.additions) {
        if (!is_in_zone(addition.owner, changes.zone)) {
            throw ProviderError(ProviderFailure::configuration,
                                addition.owner + " is outside zone " + changes.zone);
        }
        bool present = std::any_of(listed_.begin(), listed_.end(), [&](const auto& entry) {
            return !deleting.count(entry.first) && same_record(entry.second, addition);
        });
        if (present) {
            log::debug("cloudflare: " + addition.owner + " TLSA " + addition.rdata.presentation() +
                       " is already there");
            continue;
        }
        operations.posts.push_back(create_body(addition));
    }
    if (operations.posts.empty() && operations.deletes.empty()) return;
    if (options_.use_batch && !batch_unavailable_) {
        apply_batch(changes.zone, operations);
    } else {
        apply_singly(changes.zone, operations);
    }
    // What was deleted is gone; what was created has ids this instance has not seen.
    for (const auto& id : operations.deletes) listed_.erase(id);
}

void CloudflareProvider::apply_batch(const std::string& zone, const Operations& operations) {
    // Creations before deletions: when a change set spans several batches, the names never
    // lose their valid records in between (within one batch Cloudflare's transaction makes the
    // order irrelevant).
    const std::size_t total = operations.posts.size() + operations.deletes.size();
    const std::size_t limit = static_cast<std::size_t>(std::max(1, options_.batch_limit));
    for (std::size_t start = 0; start < total; start += limit) {
        Operations chunk;
        for (std::size_t i = start; i < std::min(total, start + limit); ++i) {
            if (i < operations.posts.size()) {
                chunk.posts.push_back(operations.posts[i]);
            } else {
                chunk.deletes.push_back(operations.deletes[i - operations.posts.size()]);
            }
        }
        nlohmann::json body = nlohmann::json::object();
        if (!chunk.deletes.empty()) {
            body["deletes"] = nlohmann::json::array();
            for (const auto& id : chunk.deletes) body["deletes"].push_back({{"id", id}});
        }
        if (!chunk.posts.empty()) body["posts"] = chunk.posts;
        nlohmann::json envelope;
        try {
            envelope = client_.call("POST", zone_path(zone) + "/dns_records/batch", body);
        } catch (const ApiError& e) {
            if (e.failure() == ProviderFailure::authentication ||
                e.failure() == ProviderFailure::transient ||
                e.failure() == ProviderFailure::configuration) {
                throw;
            }
            if (e.http_status() == 404 || e.http_status() == 405 || e.http_status() == 501) {
                batch_unavailable_ = true;
            }
            // The batch is one transaction: a refusal changed nothing. Single requests are each
            // idempotent (an existing record or an absent id count as done) and name the
            // record Cloudflare objects to.
            log::info("cloudflare: batch request refused (" + std::string(e.what()) +
                      "); falling back to single requests");
            Operations rest;
            for (std::size_t i = start; i < total; ++i) {
                if (i < operations.posts.size()) {
                    rest.posts.push_back(operations.posts[i]);
                } else {
                    rest.deletes.push_back(operations.deletes[i - operations.posts.size()]);
                }
            }
            apply_singly(zone, rest);
            return;
        }
        const auto& created = envelope["result"].is_object()
                                  ? envelope["result"].value("posts", nlohmann::json::array())
                                  : nlohmann::json::array();
        for (std::size_t i = 0; i < created.size() && i < chunk.posts.size(); ++i)
            check_created(created[i], chunk.posts[i]);
    }
}

void CloudflareProvider::apply_singly(const std::string& zone, const Operations& operations) {
    const std::string records = zone_path(zone) + "/dns_records";
    for (const auto& post : operations.posts) {
        try {
            check_created(client_.call("POST", records, post)["result"], post);
        } catch (const ApiError& e) {
            if (!e.has_code(81057) && !e.has_code(81058)) throw;
            log::debug("cloudflare: " + post["name"].get<std::string>() + " TLSA already exists");
        }
    }
    for (const auto& id : operations.deletes) {
        try {
            client_.call("DELETE", records + "/" + id);
        } catch (const ApiError& e) {
            if (!e.has_code(81044) && e.http_status() != 404) throw;
            log::debug("cloudflare: record " + id + " was already deleted");
        }
    }
}

std::vector<std::string> CloudflareProvider::authoritative_servers(const std::string& zone) {
    if (!configured_nameservers_.empty()) return configured_nameservers_;
    zone_info(zone);
    ZoneInfo& info = zones_.at(zone);
    if (info.name_servers.empty()) info.name_servers = fetch_zone(info.id).name_servers;
    if (info.name_servers.empty()) {
        throw ProviderError(ProviderFailure::rejected,
                            "cloudflare: zone " + without_trailing_dot(zone) +
                                " has no assigned name servers; set nameservers");
    }
    std::vector<std::string> servers;
    std::string failures;
    for (const auto& name : info.name_servers) {
        try {
            for (const auto& address : resolve_addresses(name))
                servers.push_back(DnsServer{address, 53}.to_string());
        } catch (const ProviderError& e) {
            failures += (failures.empty() ? "" : "; ") + std::string(e.what());
        }
    }
    if (servers.empty()) {
        throw ProviderError(ProviderFailure::transient, "cloudflare: none of the name servers of " +
                                                            without_trailing_dot(zone) +
                                                            " resolve: " + failures);
    }
    return servers;
}

namespace {

std::unique_ptr<Provider> create_provider(const ProviderContext& context) {
    const Settings& settings = context.settings;
    ProviderOptions options;
    if (auto base = settings.string("api_base")) {
        std::string value = *base;
        while (!value.empty() && value.back() == '/') value.pop_back();
        if (value.rfind("https://", 0) != 0 || value.size() <= 8) {
            throw settings.error("api_base", "must be an https:// URL");
        }
        options.client.api_base = value;
    }
    if (auto ca = settings.path("ca_file")) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*ca, ec))
            throw settings.error("ca_file", ca->string() + ": no such file");
        options.client.ca_file = ca->string();
    }
    if (auto zone_id = settings.string("zone_id")) {
        if (!is_safe_id(*zone_id))
            throw settings.error("zone_id", "must be a Cloudflare zone id (32 hex digits)");
        options.zone_id = *zone_id;
    }
    options.use_batch = settings.boolean("batch", true);
    options.batch_limit = static_cast<int>(settings.integer("batch_limit", 1, 3500).value_or(200));
    options.client.request_timeout = context.timeout;
    options.client.retry.retries = context.retries;
    options.client.retry.budget =
        std::chrono::seconds(settings.integer("retry_budget", 1, 3600).value_or(60));
    return std::make_unique<CloudflareProvider>(resolve_credentials(settings), std::move(options));
}

}  // namespace
}  // namespace danehook::cloudflare

namespace danehook {

void register_cloudflare_provider(ProviderRegistry& registry) {
    registry.add(ProviderDescriptor{
        "cloudflare",
        "Cloudflare DNS through the API v4 (batch changes, API token or certbot credentials)",
        {
            {"api_token_file", "file holding a Cloudflare API token (Zone Read + DNS Write)",
             false},
            {"credentials",
             "certbot-dns-cloudflare credentials INI (dns_cloudflare_api_token, or "
             "dns_cloudflare_email + dns_cloudflare_api_key)",
             false},
            {"zone_id", "the zone's id; default: looked up by name", false},
            {"api_base", "API base URL (default https://api.cloudflare.com/client/v4)", false},
            {"ca_file", "CA bundle to verify the API's certificate with (default: system store)",
             false},
            {"batch", "send change sets to the batch endpoint (default true)", false},
            {"batch_limit", "operations per batch request (default 200, the Free plan limit)",
             false},
            {"retry_budget", "seconds one API call may spend on retries and waits (default 60)",
             false},
        },
        cloudflare::create_provider,
        {}});
}

}  // namespace danehook
