// Secret<Buffer>: the bytes are overwritten, not just released.
#include <doctest/doctest.h>

#include <array>

#include "danehook/secret.hpp"

using namespace danehook;

namespace {

// A buffer whose storage stays observable after clear(), to see what wipe() left in it.
struct ObservableBuffer {
    std::array<char, 8> storage{};
    std::size_t length = 0;

    char* data() { return storage.data(); }
    const char* data() const { return storage.data(); }
    std::size_t size() const { return length; }
    bool empty() const { return length == 0; }
    void clear() { length = 0; }
    char operator[](std::size_t i) const { return storage[i]; }
    bool operator==(const ObservableBuffer&) const = default;
};

ObservableBuffer buffer_of(const char* text) {
    ObservableBuffer buffer;
    for (; text[buffer.length]; ++buffer.length)
        buffer.storage[buffer.length] = text[buffer.length];
    return buffer;
}

bool all_zero(const ObservableBuffer& buffer) {
    for (char c : buffer.storage) {
        if (c != 0) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("wipe overwrites the contents and empties the buffer") {
    auto buffer = buffer_of("s3cret");
    wipe(buffer);
    CHECK(buffer.empty());
    CHECK(all_zero(buffer));
}

TEST_CASE("a secret keeps its value through copies and moves, and a moved-from one is empty") {
    SecretText token(std::string(48, 'k'));
    SecretText copy = token;
    CHECK(copy.reveal() == std::string(48, 'k'));
    SecretText moved = std::move(token);
    CHECK(moved.reveal() == std::string(48, 'k'));
    CHECK(token.empty());  // NOLINT(bugprone-use-after-move): the point of the check
    copy = SecretText(std::string("other"));
    CHECK(copy.reveal() == "other");
    SecretBytes key(std::vector<std::uint8_t>{1, 2, 3});
    CHECK(key.size() == 3);
    CHECK(key.data()[2] == 3);
}

TEST_CASE("a secret's buffer is wiped when it is destroyed, moved from or overwritten") {
    // Secret<ObservableBuffer> keeps its storage inline, so what a move leaves behind in the
    // source can be inspected.
    Secret<ObservableBuffer> secret(buffer_of("abc"));
    Secret<ObservableBuffer> target(std::move(secret));
    CHECK(secret.empty());  // NOLINT(bugprone-use-after-move)
    CHECK(all_zero(secret.reveal()));
    CHECK(target.reveal().size() == 3);
    target = Secret<ObservableBuffer>(buffer_of("defg"));
    CHECK(target.reveal().size() == 4);
    CHECK(target.reveal()[0] == 'd');
}
