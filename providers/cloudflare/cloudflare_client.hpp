// Cloudflare API v4 over libcurl: one reused handle, the response envelope, and a retry policy
// that keeps a deploy hook from hanging (bounded attempts and total time).
#pragma once

#include "danehook/secret.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "danehook/error.hpp"

namespace danehook::cloudflare {

// How requests authenticate. Never logged, never part of an error message.
struct Credentials {
    enum class Kind { api_token, global_key };
    Kind kind = Kind::api_token;
    SecretText token;    // api_token
    std::string email;   // global_key
    SecretText key;      // global_key
    std::string source;  // where they came from, for messages ("api_token_file /etc/...")
};

struct RetryPolicy {
    int retries = 2;                               // attempts after the first
    std::chrono::milliseconds first_backoff{500};  // doubled per retry, with jitter
    std::chrono::milliseconds max_backoff{8'000};
    std::chrono::milliseconds budget{60'000};  // all attempts and waits of one call
};

struct ClientOptions {
    std::string api_base = "https://api.cloudflare.com/client/v4";
    std::string ca_file;  // "" for the system trust store
    std::chrono::milliseconds request_timeout{10'000};
    RetryPolicy retry;
};

// One error of the envelope's errors[].
struct ApiMessage {
    long code = 0;
    std::string message;
};

// A request that failed for good, with what Cloudflare said about it.
class ApiError : public ProviderError {
  public:
    ApiError(ProviderFailure failure, const std::string& message, long http_status,
             std::vector<ApiMessage> errors)
        : ProviderError(failure, message), http_status_(http_status), errors_(std::move(errors)) {}
    long http_status() const noexcept { return http_status_; }  // 0: no HTTP answer
    const std::vector<ApiMessage>& errors() const noexcept { return errors_; }
    bool has_code(long code) const;

  private:
    long http_status_;
    std::vector<ApiMessage> errors_;
};

// The failure kind for a final answer: 401/403 and Cloudflare's authentication codes ->
// authentication, 404 -> not_found, 429/5xx -> transient, other 4xx -> rejected.
ProviderFailure classify_failure(long http_status, const std::vector<ApiMessage>& errors);

// The errors[] of a response envelope; tolerant of any JSON (missing or mistyped fields give
// empty values), since it reads whatever the server sent.
std::vector<ApiMessage> parse_errors(const nlohmann::json& envelope);

// "code 81058: An identical record already exists.; code ..." (empty when there are none).
std::string describe_errors(const std::vector<ApiMessage>& errors);

// Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), nullopt when unusable.
std::optional<std::chrono::seconds> parse_retry_after(const std::string& value,
                                                      std::chrono::system_clock::time_point now);

// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
std::string url_encode(const std::string& value);

class Client {
  public:
    Client(Credentials credentials, ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends `method path` (path relative to api_base, query included) with an optional JSON
    // body, retrying rate limits, server errors and broken connections within the retry
    // policy. Returns the whole envelope of a successful answer; throws ApiError otherwise.
    nlohmann::json call(const std::string& method, const std::string& path,
                        const std::optional<nlohmann::json>& body = std::nullopt);

    const ClientOptions& options() const { return options_; }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Credentials credentials_;
    ClientOptions options_;
};

}  // namespace danehook::cloudflare
