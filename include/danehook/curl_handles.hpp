// RAII owners for libcurl handles, and its process-wide initialisation.
#pragma once

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <cstring>
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

// A header list that may hold credentials ("Authorization: Bearer ..."): every entry is wiped
// before the list is freed.
struct WipingCurlListDeleter {
    void operator()(curl_slist* list) const noexcept {
        for (curl_slist* item = list; item; item = item->next) {
            if (item->data) OPENSSL_cleanse(item->data, std::strlen(item->data));
        }
        curl_slist_free_all(list);
    }
};
using CurlSecretList = std::unique_ptr<curl_slist, WipingCurlListDeleter>;

// curl_global_init is not thread-safe: every user goes through this, once per process.
inline void curl_global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace danehook
