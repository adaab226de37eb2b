#include "providers/rfc2136/dns_exchange.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <ldns/ldns.h>

#include "danehook/ldns_handles.hpp"

namespace danehook::rfc2136 {
namespace {

using SteadyClock = std::chrono::steady_clock;

class Socket {
  public:
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int get() const { return fd_; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    int fd_;
};

struct Endpoint {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::string text;
};

Endpoint endpoint_for(const std::string& address, std::uint16_t port) {
    Endpoint endpoint;
    endpoint.text = (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
                    std::to_string(port);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.storage);
    if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        endpoint.length = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        endpoint.length = sizeof(sockaddr_in6);
    } else {
        throw ExchangeError(ExchangeError::Kind::network, "'" + address + "' is not an IP address");
    }
    return endpoint;
}

std::chrono::milliseconds remaining(SteadyClock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

timeval to_timeval(std::chrono::milliseconds duration) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;
    return tv;
}

ExchangeError system_error(const Endpoint& endpoint, const char* what, int error) {
    if (error == ECONNREFUSED) {
        return ExchangeError(ExchangeError::Kind::refused, endpoint.text + ": connection refused");
    }
    if (error == ETIMEDOUT || error == EAGAIN || error == EWOULDBLOCK) {
        return ExchangeError(ExchangeError::Kind::timeout,
                             endpoint.text + ": " + what + " timed out");
    }
    return ExchangeError(ExchangeError::Kind::network,
                         endpoint.text + ": " + what + ": " + std::strerror(error));
}

ExchangeError timeout_error(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
    return ExchangeError(ExchangeError::Kind::timeout, endpoint.text + ": no answer within " +
                                                           std::to_string(timeout.count()) + " ms");
}

// Connects with a deadline; the socket is left blocking with send/receive timeouts.
int connect_socket(const Endpoint& endpoint, int type, SteadyClock::time_point deadline,
                   std::chrono::milliseconds timeout) {
    int fd = ::socket(endpoint.storage.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw system_error(endpoint, "socket", errno);
    Socket guard(fd);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.storage), endpoint.length) != 0) {
        if (errno != EINPROGRESS) throw system_error(endpoint, "connect", errno);
        pollfd pfd{fd, POLLOUT, 0};
        int ready = ::poll(&pfd, 1, static_cast<int>(remaining(deadline).count()));
        if (ready == 0) throw timeout_error(endpoint, timeout);
        if (ready < 0) throw system_error(endpoint, "connect", errno);
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) throw system_error(endpoint, "connect", error);
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv = to_timeval(remaining(deadline));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return guard.release();
}

LdnsBuffer buffer_of(const std::vector<std::uint8_t>& message) {
    LdnsBuffer buffer(ldns_buffer_new(message.size()));
    if (!buffer) throw std::bad_alloc();
    ldns_buffer_write(buffer.get(), message.data(), message.size());
    return buffer;
}

std::vector<std::uint8_t> exchange_tcp(const Endpoint& endpoint,
                                       const std::vector<std::uint8_t>& message,
                                       SteadyClock::time_point deadline,
                                       std::chrono::milliseconds timeout) {
    Socket socket(connect_socket(endpoint, SOCK_STREAM, deadline, timeout));
    auto buffer = buffer_of(message);
    errno = 0;
    if (ldns_tcp_send_query(buffer.get(), socket.get(), &endpoint.storage, endpoint.length) <= 0) {
        throw system_error(endpoint, "sending", errno ? errno : EPIPE);
    }
    std::size_t size = 0;
    errno = 0;
    MallocedBytes answer(
        ldns_tcp_read_wire_timeout(socket.get(), &size, to_timeval(remaining(deadline))));
    if (!answer || size == 0) {
        if (remaining(deadline).count() == 0 || errno == EAGAIN)
            throw timeout_error(endpoint, timeout);
        throw ExchangeError(ExchangeError::Kind::network,
                            endpoint.text + ": connection closed without an answer");
    }
    return {answer.get(), answer.get() + size};
}

std::vector<std::uint8_t> exchange_udp(const Endpoint& endpoint,
                                       const std::vector<std::uint8_t>& message,
                                       SteadyClock::time_point deadline,
                                       std::chrono::milliseconds timeout) {
    // A connected UDP socket reports ICMP port unreachable as ECONNREFUSED.
    Socket socket(connect_socket(endpoint, SOCK_DGRAM, deadline, timeout));
    auto buffer = buffer_of(message);
    errno = 0;
    if (ldns_udp_send_query(buffer.get(), socket.get(), &endpoint.storage, endpoint.length) <= 0) {
        throw system_error(endpoint, "sending", errno ? errno : EIO);
    }
    std::uint16_t id = ldns_read_uint16(message.data());
    while (true) {
        pollfd pfd{socket.get(), POLLIN, 0};
        int ready = ::poll(&pfd, 1, static_cast<int>(remaining(deadline).count()));
        if (ready == 0) throw timeout_error(endpoint, timeout);
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw system_error(endpoint, "poll", errno);
        }
        std::size_t size = 0;
        errno = 0;
        MallocedBytes answer(ldns_udp_read_wire(socket.get(), &size, nullptr, nullptr));
        if (!answer) throw system_error(endpoint, "receiving", errno ? errno : EIO);
        // Answers to someone else's question (or forged ones) are dropped.
        if (size >= LDNS_HEADER_SIZE && ldns_read_uint16(answer.get()) == id) {
            return {answer.get(), answer.get() + size};
        }
    }
}

}  // namespace

std::vector<std::uint8_t> exchange(const std::string& address, std::uint16_t port,
                                   const std::vector<std::uint8_t>& message, Transport transport,
                                   std::chrono::milliseconds timeout) {
    if (message.size() < LDNS_HEADER_SIZE)
        throw std::invalid_argument("message shorter than a DNS header");
    auto endpoint = endpoint_for(address, port);
    auto deadline = SteadyClock::now() + timeout;
    return transport == Transport::tcp ? exchange_tcp(endpoint, message, deadline, timeout)
                                       : exchange_udp(endpoint, message, deadline, timeout);
}

}  // namespace danehook::rfc2136
