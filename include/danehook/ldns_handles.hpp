// RAII owners for ldns objects.
#pragma once

#include <memory>

#include <stdbool.h>  // ldns/common.h defines bool/true/false otherwise, breaking later C++ headers

#include <cstdlib>

#include <ldns/ldns.h>

namespace danehook {

template <auto Free>
struct LdnsDeleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

using LdnsPkt = std::unique_ptr<ldns_pkt, LdnsDeleter<ldns_pkt_free>>;
using LdnsRr = std::unique_ptr<ldns_rr, LdnsDeleter<ldns_rr_free>>;
using LdnsRrList = std::unique_ptr<ldns_rr_list, LdnsDeleter<ldns_rr_list_deep_free>>;
using LdnsRdf = std::unique_ptr<ldns_rdf, LdnsDeleter<ldns_rdf_deep_free>>;
using LdnsBuffer = std::unique_ptr<ldns_buffer, LdnsDeleter<ldns_buffer_free>>;
using LdnsResolver = std::unique_ptr<ldns_resolver, LdnsDeleter<ldns_resolver_deep_free>>;

// ldns allocates wire buffers and strings with malloc.
struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};
using MallocedBytes = std::unique_ptr<std::uint8_t, FreeDeleter>;
using MallocedChars = std::unique_ptr<char, FreeDeleter>;

}  // namespace danehook
