// RAII owners for libcurl handles, and its process-wide initialisation.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace danehook {

template <auto Free>
struct CurlDeleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

using CurlEasy = std::unique_ptr<CURL, CurlDeleter<curl_easy_cleanup>>;
using CurlList = std::unique_ptr<curl_slist, CurlDeleter<curl_slist_free_all>>;
using CurlString = std::unique_ptr<char, CurlDeleter<curl_free>>;

// curl_global_init is not thread-safe: every user goes through this, once per process.
inline void curl_global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace danehook
