#include "providers/cloudflare/cloudflare_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <random>
#include <thread>

#include "danehook/curl_handles.hpp"
#include "danehook/log.hpp"

namespace danehook::cloudflare {
namespace {

// Envelope error codes that mean "these credentials are not accepted" (Cloudflare API docs
// and observed answers: 6003 invalid request headers, 6100-6111 malformed auth headers,
// 9103 unknown X-Auth-Key/Email, 9106 missing auth headers, 9109 invalid access token,
// 10000 authentication error, 10001 unable to authenticate).
bool is_authentication_code(long code) {
    return code == 6003 || (code >= 6100 && code <= 6111) || code == 9103 || code == 9106 ||
           code == 9109 || code == 10000 || code == 10001;
}

constexpr std::size_t max_response_bytes = 32u << 20;

struct Response {
    CURLcode transport = CURLE_OK;
    std::string transport_error;
    long status = 0;
    std::string body;
    std::string retry_after;
    bool too_large = false;
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
    auto* response = static_cast<Response*>(user);
    size_t bytes = size * count;
    if (response->body.size() + bytes > max_response_bytes) {
        response->too_large = true;
        return 0;
    }
    response->body.append(data, bytes);
    return bytes;
}

size_t read_header(char* data, size_t size, size_t count, void* user) {
    auto* response = static_cast<Response*>(user);
    size_t bytes = size * count;
    std::string line(data, bytes);
    // A new status line (after 1xx or a retried connection) starts a new header block.
    if (line.rfind("HTTP/", 0) == 0) response->retry_after.clear();
    auto colon = line.find(':');
    if (colon == std::string::npos) return bytes;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "retry-after") {
        std::string value = line.substr(colon + 1);
        auto first = value.find_first_not_of(" \t");
        auto last = value.find_last_not_of(" \t\r\n");
        response->retry_after =
            first == std::string::npos ? "" : value.substr(first, last - first + 1);
    }
    return bytes;
}

// Transport failures that will not go away by themselves: no retry.
bool is_permanent_transport_error(CURLcode code) {
    switch (code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_FUNCTION_NOT_FOUND:
        case CURLE_NOT_BUILT_IN:
        case CURLE_OUT_OF_MEMORY:
            return true;
        default:
            return false;
    }
}

std::string seconds_text(std::chrono::milliseconds duration) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(duration.count()) / 1000.0);
    return text;
}

}  // namespace

std::vector<ApiMessage> parse_errors(const nlohmann::json& envelope) {
    std::vector<ApiMessage> errors;
    if (!envelope.is_object()) return errors;
    auto it = envelope.find("errors");
    if (it == envelope.end() || !it->is_array()) return errors;
    for (const auto& item : *it) {
        ApiMessage message;
        if (item.is_object()) {
            if (auto code = item.find("code"); code != item.end() && code->is_number_integer()) {
                message.code = code->get<long>();
            }
            if (auto text = item.find("message"); text != item.end() && text->is_string()) {
                message.message = text->get<std::string>();
            }
        } else if (item.is_string()) {
            message.message = item.get<std::string>();
        }
        errors.push_back(std::move(message));
    }
    return errors;
}

bool ApiError::has_code(long code) const {
    return std::any_of(errors_.begin(), errors_.end(),
                       [code](const ApiMessage& m) { return m.code == code; });
}

ProviderFailure classify_failure(long http_status, const std::vector<ApiMessage>& errors) {
    bool auth_code = std::any_of(errors.begin(), errors.end(), [](const ApiMessage& m) {
        return is_authentication_code(m.code);
    });
    if (http_status == 401 || http_status == 403 || auth_code)
        return ProviderFailure::authentication;
    if (http_status == 429 || http_status >= 500 || http_status == 0)
        return ProviderFailure::transient;
    if (http_status == 404) return ProviderFailure::not_found;
    return ProviderFailure::rejected;
}

std::string describe_errors(const std::vector<ApiMessage>& errors) {
    std::string text;
    for (const auto& error : errors) {
        if (!text.empty()) text += "; ";
        text += "code " + std::to_string(error.code) + ": " + error.message;
    }
    return text;
}

std::optional<std::chrono::seconds> parse_retry_after(const std::string& value,
                                                      std::chrono::system_clock::time_point now) {
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
        if (value.size() > 9) return std::nullopt;
        return std::chrono::seconds(std::stol(value));
    }
    time_t when = curl_getdate(value.c_str(), nullptr);
    if (when < 0) return std::nullopt;
    auto delta = std::chrono::system_clock::from_time_t(when) - now;
    return std::max(std::chrono::seconds(0),
                    std::chrono::duration_cast<std::chrono::seconds>(delta));
}

std::string url_encode(const std::string& value) {
    static const char digits[] = "0123456789ABCDEF";
    std::string encoded;
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            encoded += static_cast<char>(c);
        } else {
            encoded += '%';
            encoded += digits[c >> 4];
            encoded += digits[c & 15];
        }
    }
    return encoded;
}

struct Client::Impl {
    CurlEasy handle;
    char error_buffer[CURL_ERROR_SIZE] = {};
    std::mt19937_64 random{std::random_device{}()};
};

namespace {

// The handle keeps pointers to per-call data (headers, buffers) only while a call runs.
class CallScope {
  public:
    explicit CallScope(CURL* curl) : curl_(curl) {}
    ~CallScope() {
        curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
        curl_easy_setopt(curl_, CURLOPT_WRITEDATA, nullptr);
        curl_easy_setopt(curl_, CURLOPT_HEADERDATA, nullptr);
    }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

  private:
    CURL* curl_;
};

}  // namespace

Client::Client(Credentials credentials, ClientOptions options)
    : impl_(std::make_unique<Impl>()),
      credentials_(std::move(credentials)),
      options_(std::move(options)) {
    curl_global_init_once();
    impl_->handle.reset(curl_easy_init());
    if (!impl_->handle)
        throw ProviderError(ProviderFailure::transient, "cloudflare: curl_easy_init failed");
    CURL* curl = impl_->handle.get();
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, impl_->error_buffer);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "danehook/" DANEHOOK_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
}

Client::~Client() = default;

nlohmann::json Client::call(const std::string& method, const std::string& path,
                            const std::optional<nlohmann::json>& body) {
    using namespace std::chrono;
    CURL* curl = impl_->handle.get();
    const std::string what = "Cloudflare API " + method + " " + path;
    const std::string url = options_.api_base + path;
    const std::string payload = body ? body->dump() : std::string();

    CurlSecretList headers;
    CallScope scope(curl);  // declared after `headers`: runs first, before the list is freed
    auto add_header = [&headers](std::string text) {
        SecretText header(std::move(text));  // may hold a credential: wiped when done
        curl_slist* extended = curl_slist_append(headers.get(), header.reveal().c_str());
        if (!extended) throw ProviderError(ProviderFailure::transient, "cloudflare: out of memory");
        (void)headers.release();
        headers.reset(extended);
    };
    add_header("Accept: application/json");
    if (body) add_header("Content-Type: application/json");
    if (credentials_.kind == Credentials::Kind::api_token) {
        add_header("Authorization: Bearer " + credentials_.token.reveal());
    } else {
        add_header("X-Auth-Email: " + credentials_.email);
        add_header("X-Auth-Key: " + credentials_.key.reveal());
    }

    const auto started = steady_clock::now();
    const auto deadline = started + options_.retry.budget;
    const int attempts = options_.retry.retries + 1;
    std::string last_failure;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        auto remaining = duration_cast<milliseconds>(deadline - steady_clock::now());
        if (remaining <= milliseconds(0)) break;
        auto timeout = std::min(options_.request_timeout, remaining);

        Response response;
        impl_->error_buffer[0] = '\0';
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(std::min(timeout, milliseconds(10'000)).count()));
        if (method == "GET") {
            curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, nullptr);
        } else if (method == "POST" || method == "PUT" || method == "PATCH") {
            curl_easy_setopt(curl, CURLOPT_POST, 1L);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
            curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, payload.c_str());
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                             method == "POST" ? nullptr : method.c_str());
        } else {
            curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
        }
        const auto sent = steady_clock::now();
        response.transport = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
        const auto took = duration_cast<milliseconds>(steady_clock::now() - sent);
        // The trace names method, path and outcome only: request headers carry the secret.
        log::debug("cloudflare: " + method + " " + path + " -> " +
                   (response.transport == CURLE_OK
                        ? "HTTP " + std::to_string(response.status)
                        : std::string(curl_easy_strerror(response.transport))) +
                   " in " + std::to_string(took.count()) + " ms (attempt " +
                   std::to_string(attempt) + "/" + std::to_string(attempts) + ")");

        std::optional<milliseconds> requested_wait;
        if (response.transport != CURLE_OK) {
            std::string reason = impl_->error_buffer[0] ? impl_->error_buffer
                                                        : curl_easy_strerror(response.transport);
            if (response.too_large) reason = "answer larger than 32 MiB";
            if (is_permanent_transport_error(response.transport)) {
                throw ApiError(ProviderFailure::configuration, what + ": " + reason, 0, {});
            }
            last_failure = reason;
        } else {
            nlohmann::json envelope = nlohmann::json::parse(response.body, nullptr, false);
            bool well_formed = !envelope.is_discarded() && envelope.is_object() &&
                               envelope.contains("success") && envelope["success"].is_boolean();
            auto errors = parse_errors(envelope);
            bool ok = response.status >= 200 && response.status < 300;
            if (ok && well_formed && envelope["success"].get<bool>()) return envelope;

            std::string detail = "HTTP " + std::to_string(response.status);
            if (!errors.empty()) {
                detail += ": " + describe_errors(errors);
            } else if (!well_formed) {
                detail += ": answer is not a Cloudflare API envelope (malformed JSON)";
            } else if (ok) {
                detail += ": success is false without errors";
            }
            bool retryable =
                response.status == 429 || response.status >= 500 || (ok && !well_formed);
            if (!retryable) {
                throw ApiError(classify_failure(response.status, errors), what + ": " + detail,
                               response.status, errors);
            }
            last_failure = detail;
            if (response.status == 429) {
                if (auto wait = parse_retry_after(response.retry_after, system_clock::now())) {
                    requested_wait = duration_cast<milliseconds>(*wait);
                }
            }
            auto elapsed = [&] {
                return seconds_text(duration_cast<milliseconds>(steady_clock::now() - started));
            };
            if (attempt == attempts) {
                throw ApiError(ProviderFailure::transient,
                               what + ": " + detail + " (gave up after " + std::to_string(attempt) +
                                   " attempt(s) in " + elapsed() + ")",
                               response.status, errors);
            }
            if (requested_wait && steady_clock::now() + *requested_wait > deadline) {
                throw ApiError(ProviderFailure::transient,
                               what + ": " + detail + " (Retry-After " + response.retry_after +
                                   " s is beyond the retry budget of " +
                                   seconds_text(options_.retry.budget) + "; gave up after " +
                                   elapsed() + ")",
                               response.status, errors);
            }
        }
        if (attempt == attempts) break;

        milliseconds wait;
        if (requested_wait) {
            wait = *requested_wait;
        } else {
            auto base = options_.retry.first_backoff * (1LL << std::min(attempt - 1, 20));
            auto capped = std::min<milliseconds>(duration_cast<milliseconds>(base),
                                                 options_.retry.max_backoff);
            std::uniform_int_distribution<long long> jitter(capped.count() / 2,
                                                            std::max<long long>(capped.count(), 1));
            wait = milliseconds(jitter(impl_->random));
        }
        if (steady_clock::now() + wait >= deadline) break;
        log::debug("cloudflare: " + method + " " + path + " failed (" + last_failure +
                   "); retrying in " + std::to_string(wait.count()) + " ms");
        std::this_thread::sleep_for(wait);
    }
    throw ApiError(ProviderFailure::transient,
                   what + ": " + last_failure + " (gave up after " +
                       seconds_text(duration_cast<milliseconds>(steady_clock::now() - started)) +
                       "; retries: " + std::to_string(options_.retry.retries) + ")",
                   0, {});
}

}  // namespace danehook::cloudflare
