// A buffer holding a secret (a TSIG key, an API token) that is wiped with OPENSSL_cleanse when
// it is destroyed, moved from or overwritten, so the secret does not linger in freed heap memory
// that a later core dump or a heap bug could expose. Copies are wiped too. Intermediate buffers
// (the file text it was read from, libcurl's own copies of a header) are outside its reach;
// where danehook owns them it wipes them explicitly (wipe()).
#pragma once

#include <openssl/crypto.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace danehook {

// Overwrites the contents with zeros the compiler cannot optimise away, then empties it.
template <typename Buffer>
void wipe(Buffer& buffer) {
    if (!buffer.empty()) OPENSSL_cleanse(buffer.data(), buffer.size() * sizeof(buffer[0]));
    buffer.clear();
}

template <typename Buffer>
class Secret {
  public:
    Secret() = default;
    // Implicit, so that `key.secret = decode(...)` reads naturally; the argument is moved in.
    Secret(Buffer value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Secret(const Secret& other) : value_(other.value_) {}
    Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { wipe(other.value_); }
    Secret& operator=(const Secret& other) {
        if (this != &other) {
            wipe(value_);
            value_ = other.value_;
        }
        return *this;
    }
    Secret& operator=(Secret&& other) noexcept {
        if (this != &other) {
            wipe(value_);
            value_ = std::move(other.value_);
            wipe(other.value_);
        }
        return *this;
    }
    ~Secret() { wipe(value_); }

    const Buffer& reveal() const { return value_; }
    const auto* data() const { return value_.data(); }
    std::size_t size() const { return value_.size(); }
    bool empty() const { return value_.empty(); }
    bool operator==(const Secret& other) const { return value_ == other.value_; }

  private:
    Buffer value_;
};

using SecretBytes = Secret<std::vector<std::uint8_t>>;
using SecretText = Secret<std::string>;

}  // namespace danehook
