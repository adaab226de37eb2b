// Starts tests/providers/cloudflare/cloudflare_double.py on 127.0.0.1 with a CA and server
// certificate made by the openssl CLI, and talks to it through its control and stats files.
#pragma once

#include <nlohmann/json.hpp>

#include <sys/types.h>
#include <filesystem>
#include <string>

#include "support/test_support.hpp"

namespace danehook::testing {

class CloudflareDouble {
  public:
    // `state`: zones, records, tokens, global_keys and knobs (see the script's docstring).
    explicit CloudflareDouble(const nlohmann::json& state);
    ~CloudflareDouble();
    CloudflareDouble(const CloudflareDouble&) = delete;
    CloudflareDouble& operator=(const CloudflareDouble&) = delete;

    std::string api_base() const;
    std::filesystem::path ca_file() const;
    const std::filesystem::path& dir() const { return dir_.path(); }

    // Writes control.json (consumed by the double before its next request).
    void control(const nlohmann::json& commands) const;
    nlohmann::json stats() const;
    int count(const std::string& kind) const;
    int total_requests() const;
    nlohmann::json records(const std::string& zone_id) const;
    std::string log() const;

  private:
    TempDir dir_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace danehook::testing
