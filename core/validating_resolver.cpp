#include "danehook/validating_resolver.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <unbound.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "danehook/dns_name.hpp"
#include "danehook/dns_query.hpp"
#include "danehook/error.hpp"

namespace danehook {
namespace {

constexpr int rr_type_tlsa = 52;
constexpr int rr_class_in = 1;

using SteadyClock = std::chrono::steady_clock;

struct ResultDeleter {
    void operator()(ub_result* result) const noexcept { ub_resolve_free(result); }
};
using ResultPtr = std::unique_ptr<ub_result, ResultDeleter>;

struct PendingQuery {
    bool done = false;
    int error = 0;
    ResultPtr result;
};

void on_result(void* data, int error, ub_result* result) {
    auto* pending = static_cast<PendingQuery*>(data);
    pending->done = true;
    pending->error = error;
    pending->result.reset(result);
}

std::string unbound_error(int code) {
    return ub_strerror(code);
}

// unbound's forwarder syntax is "address@port" and takes addresses only.
std::string forwarder_address(const std::string& text) {
    DnsServer server;
    try {
        server = DnsServer::parse(text);
    } catch (const std::invalid_argument& e) {
        throw ConfigError("resolver: " + std::string(e.what()));
    }
    in6_addr scratch{};
    bool numeric = ::inet_pton(AF_INET, server.host.c_str(), &scratch) == 1 ||
                   ::inet_pton(AF_INET6, server.host.c_str(), &scratch) == 1;
    if (!numeric) {
        throw ConfigError("resolver: '" + text + "' must be an IP address (with an optional port)");
    }
    return server.host + "@" + std::to_string(server.port);
}

TlsaRdata rdata_from_wire(const char* data, int length, const std::string& owner) {
    if (length < 3) throw std::runtime_error(owner + ": TLSA record shorter than 3 octets");
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    TlsaRdata rdata;
    rdata.params.usage = static_cast<Usage>(bytes[0]);
    rdata.params.selector = static_cast<Selector>(bytes[1]);
    rdata.params.matching = static_cast<MatchingType>(bytes[2]);
    rdata.data.assign(bytes + 3, bytes + length);
    return rdata;
}

}  // namespace

const char* to_string(DnssecStatus status) {
    switch (status) {
        case DnssecStatus::secure:
            return "secure";
        case DnssecStatus::insecure:
            return "insecure";
        case DnssecStatus::bogus:
            return "bogus";
        case DnssecStatus::failed:
            return "failed";
    }
    return "?";
}

void ValidatingResolver::ContextDeleter::operator()(ub_ctx* context) const noexcept {
    ub_ctx_delete(context);
}

ValidatingResolver::ValidatingResolver(ValidatorOptions options) : options_(std::move(options)) {
    context_.reset(ub_ctx_create());
    if (!context_) throw Error(ExitCode::failure, "libunbound: cannot create a resolver context");
    auto* context = context_.get();
    // Threads, not a forked worker: a deploy hook must not leave processes behind.
    if (int rc = ub_ctx_async(context, 1); rc != 0) {
        throw Error(ExitCode::failure, "libunbound: " + unbound_error(rc));
    }
    auto anchor = options_.trust_anchor_file.value_or(default_root_trust_anchor);
    // unbound reads the file only at the first query; say what is wrong with it now.
    if (::access(anchor.c_str(), R_OK) != 0) {
        throw ConfigError("trust_anchor_file: " + anchor.string() + ": " + std::strerror(errno) +
                          (options_.trust_anchor_file
                               ? ""
                               : " (install dns-root-data or set trust_anchor_file)"));
    }
    if (int rc = ub_ctx_add_ta_file(context, anchor.c_str()); rc != 0) {
        throw ConfigError("trust_anchor_file: " + anchor.string() + ": " + unbound_error(rc) +
                          (options_.trust_anchor_file
                               ? ""
                               : " (install dns-root-data or set trust_anchor_file)"));
    }
    if (options_.forwarder) {
        // A forwarder on loopback (a local unbound, a test server) is refused by default.
        if (int rc = ub_ctx_set_option(context, "do-not-query-localhost:", "no"); rc != 0) {
            throw Error(ExitCode::failure,
                        "libunbound: do-not-query-localhost: " + unbound_error(rc));
        }
        if (int rc = ub_ctx_set_fwd(context, forwarder_address(*options_.forwarder).c_str());
            rc != 0) {
            throw ConfigError("resolver: " + *options_.forwarder + ": " + unbound_error(rc));
        }
    }
}

ValidatingResolver::~ValidatingResolver() = default;

ValidatedTlsa ValidatingResolver::lookup_tlsa(const std::string& owner) {
    ValidatedTlsa answer;
    answer.owner = owner;
    auto* context = context_.get();
    PendingQuery pending;
    int async_id = 0;
    if (int rc = ub_resolve_async(context, owner.c_str(), rr_type_tlsa, rr_class_in, &pending,
                                  on_result, &async_id);
        rc != 0) {
        answer.error = "libunbound: " + unbound_error(rc);
        return answer;
    }
    auto deadline = SteadyClock::now() + options_.timeout;
    while (!pending.done) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
        if (left.count() <= 0) {
            ub_cancel(context, async_id);
            answer.error =
                "no validated answer within " + std::to_string(options_.timeout.count()) + " ms";
            return answer;
        }
        pollfd descriptor{ub_fd(context), POLLIN, 0};
        int ready = ::poll(&descriptor, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno != EINTR) {
            ub_cancel(context, async_id);
            answer.error = "poll on the resolver failed";
            return answer;
        }
        if (ready > 0) {
            if (int rc = ub_process(context); rc != 0) {
                answer.error = "libunbound: " + unbound_error(rc);
                return answer;
            }
        }
    }
    if (pending.error != 0 || !pending.result) {
        answer.error = "libunbound: " + unbound_error(pending.error);
        return answer;
    }
    const ub_result& result = *pending.result;
    answer.rcode = result.rcode;
    answer.nxdomain = result.nxdomain != 0;
    answer.ttl = static_cast<std::uint32_t>(result.ttl);
    if (result.bogus) {
        answer.status = DnssecStatus::bogus;
        answer.why_bogus = result.why_bogus ? result.why_bogus : "validation failed";
        return answer;
    }
    // SERVFAIL without bogus: the resolver got no answer it could use.
    if (result.rcode != 0 && result.rcode != 3) {
        answer.error = "resolver answered rcode " + std::to_string(result.rcode) +
                       (result.rcode == 2 ? " (SERVFAIL)" : "");
        return answer;
    }
    answer.status = result.secure ? DnssecStatus::secure : DnssecStatus::insecure;
    if (result.havedata) {
        try {
            for (int i = 0; result.data[i] != nullptr; ++i) {
                answer.rrset.push_back(rdata_from_wire(result.data[i], result.len[i], owner));
            }
        } catch (const std::runtime_error& e) {
            answer.status = DnssecStatus::failed;
            answer.error = e.what();
            answer.rrset.clear();
        }
    }
    return answer;
}

}  // namespace danehook
