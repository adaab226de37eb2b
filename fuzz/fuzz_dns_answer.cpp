// DNS answers handed to danehook's own code:
//  - query_authoritative (core/dns_query.cpp), the publication check of every provider: a UDP
//    responder on loopback, in this process, answers its SOA and TLSA queries with the input
//    (the ID patched to match the query, the TC bit cleared so no TCP retry leaves the process);
//  - tsig_verify (providers/rfc2136/tsig.cpp), which parses the TSIG record of every answer to
//    a signed update before anything else looks at it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "danehook/dns_query.hpp"
#include "fuzz_support.hpp"
#include "providers/rfc2136/tsig.hpp"

using namespace danehook;

namespace {

class Responder {
  public:
    Responder() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            __builtin_trap();
        }
        port_ = ntohs(address.sin_port);
        std::thread([this] { serve(); }).detach();  // lives as long as the fuzzing process
    }
    std::uint16_t port() const { return port_; }
    void set_answer(std::vector<std::uint8_t> answer) {
        std::lock_guard lock(mutex_);
        answer_ = std::move(answer);
    }

  private:
    void serve() {
        std::vector<std::uint8_t> query(65535);
        for (;;) {
            sockaddr_in peer{};
            socklen_t length = sizeof peer;
            ssize_t n = ::recvfrom(fd_, query.data(), query.size(), 0,
                                   reinterpret_cast<sockaddr*>(&peer), &length);
            if (n < 2) continue;
            std::vector<std::uint8_t> answer;
            {
                std::lock_guard lock(mutex_);
                answer = answer_;
            }
            if (answer.size() < 12) answer.resize(12, 0);
            answer[0] = query[0];
            answer[1] = query[1];
            answer[2] &= static_cast<std::uint8_t>(~0x02);  // TC
            ::sendto(fd_, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                     length);
        }
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::mutex mutex_;
    std::vector<std::uint8_t> answer_;
};

const rfc2136::TsigKey& fuzz_key() {
    static const rfc2136::TsigKey key{"danehook-key.", rfc2136::TsigAlgorithm::hmac_sha256,
                                      std::vector<std::uint8_t>(32, 0x5a), "fuzz"};
    return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::silence_log();
    static Responder responder;

    std::vector<std::uint8_t> answer(data, data + size);
    (void)rfc2136::tsig_verify(answer.data(), answer.size(), fuzz_key(),
                               std::vector<std::uint8_t>(32, 0x11), 1'800'000'000);

    responder.set_answer(std::move(answer));
    QueryOptions options;
    options.timeout = std::chrono::milliseconds(500);
    options.attempts = 1;
    auto result = query_authoritative(DnsServer{"127.0.0.1", responder.port()}, "example.net.",
                                      "_25._tcp.mail.example.net.", options);
    for (const auto& rdata : result.rrset) (void)rdata.hex();
    return 0;
}
