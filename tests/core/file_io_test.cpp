#include <doctest/doctest.h>

#include <sys/stat.h>

#include "danehook/error.hpp"
#include "danehook/file_io.hpp"
#include "support/test_support.hpp"

using namespace danehook;
using danehook::testing::TempDir;

TEST_CASE("atomic writes create 0600 files and keep an existing file's mode") {
    TempDir dir;
    auto path = dir / "state.json";
    write_file_atomic(path, "one");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(read_file(path) == "one");

    ::chmod(path.c_str(), 0640);
    write_file_atomic(path, "two");
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(read_file(path) == "two");

    // No temporary files are left behind.
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 1);
}

TEST_CASE("atomic writes refuse to replace a symbolic link") {
    TempDir dir;
    danehook::testing::write_text(dir / "target", "keep");
    std::filesystem::create_symlink(dir / "target", dir / "link");
    CHECK_THROWS_WITH(write_file_atomic(dir / "link", "x"), doctest::Contains("symbolic link"));
    CHECK(read_file(dir / "target") == "keep");
}

TEST_CASE("reading a missing file names it") {
    CHECK_THROWS_WITH_AS(read_file("/nonexistent/file.pem"), doctest::Contains("/nonexistent/file.pem"), InputError);
}

TEST_CASE("credentials readable by others are flagged") {
    TempDir dir;
    auto path = dir / "secret";
    danehook::testing::write_text(path, "s");
    ::chmod(path.c_str(), 0600);
    CHECK_FALSE(permissive_credentials_warning(path));
    ::chmod(path.c_str(), 0644);
    auto warning = permissive_credentials_warning(path);
    REQUIRE(warning);
    CHECK(warning->find("0644") != std::string::npos);
}
