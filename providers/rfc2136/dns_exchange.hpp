// One DNS request/response exchange with one server over TCP or UDP, with a deadline. Framing and
// socket reads through ldns (ldns_tcp_send_query, ldns_tcp_read_wire_timeout, ldns_udp_*); the
// connect is done here so that "connection refused" and "timed out" stay distinguishable.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace danehook::rfc2136 {

enum class Transport { tcp, udp };

class ExchangeError : public std::runtime_error {
  public:
    enum class Kind { timeout, refused, network };
    ExchangeError(Kind kind, const std::string& message)
        : std::runtime_error(message), kind_(kind) {}
    Kind kind() const noexcept { return kind_; }

  private:
    Kind kind_;
};

// Sends `message` (wire format) to address:port and returns the first answer whose ID matches
// (UDP answers with another ID are ignored). `address` is numeric. Throws ExchangeError.
std::vector<std::uint8_t> exchange(const std::string& address, std::uint16_t port,
                                   const std::vector<std::uint8_t>& message, Transport transport,
                                   std::chrono::milliseconds timeout);

}  // namespace danehook::rfc2136
