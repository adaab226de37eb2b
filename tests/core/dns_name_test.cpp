#include <doctest/doctest.h>

#include <stdexcept>

#include "danehook/dns_name.hpp"

using namespace danehook;

TEST_CASE("canonical names are lower case and absolute") {
    CHECK(canonical_name("Example.NET") == "example.net.");
    CHECK(canonical_name("example.net.") == "example.net.");
    CHECK(canonical_name(".") == ".");
}

TEST_CASE("names that could inject zone-file or shell syntax are refused") {
    for (const char* bad : {"a b.example", "a;b.example", "a$b.example", "a(b.example", "a\"b.example", "a\nb.example",
                            "a..b", ""}) {
        CHECK_THROWS_AS(canonical_name(bad), std::invalid_argument);
    }
    CHECK_THROWS_AS(canonical_name(std::string(64, 'a') + ".example"), std::invalid_argument);
}

TEST_CASE("zone membership is decided on label boundaries") {
    CHECK(is_in_zone("mail.example.net.", "example.net."));
    CHECK(is_in_zone("example.net.", "example.net."));
    CHECK_FALSE(is_in_zone("mail.badexample.net.", "example.net."));
    CHECK(is_in_zone("anything.", "."));
    CHECK(parent_name("a.b.") == "b.");
    CHECK(parent_name("b.") == ".");
}
