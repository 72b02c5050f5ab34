// libpq loaded when a PostgreSQL store is first opened, not linked (core/store/libpq_library):
// what a store open says when the library or one of its functions is missing, and that the
// shipped command does not link it.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/cli_sandbox.hpp"

#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
#include "store/libpq_library.hpp"
#include "store/postgres_store.hpp"
#endif

namespace expbridge::test {
namespace {

#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE

/// A 127.0.0.1 socket that listens and never accepts: a connection attempt would wait in its
/// backlog, where `was_reached` sees it.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      return;
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

  int port() const { return port_; }
  bool was_reached() const {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    return ::poll(&p, 1, 0) > 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

/// Loads `file` in place of libpq for as long as it lives.
class LibpqFileForTest {
 public:
  explicit LibpqFileForTest(std::string file) { set_libpq_file_for_testing(std::move(file)); }
  ~LibpqFileForTest() { set_libpq_file_for_testing(""); }
  LibpqFileForTest(const LibpqFileForTest&) = delete;
  LibpqFileForTest& operator=(const LibpqFileForTest&) = delete;
};

TEST(LibpqLibraryTest, AMissingLibraryIsUnavailableNamingStoreLibraryAndPackageAndNothingElseHappens) {
  SilentListener listener;
  ASSERT_NE(listener.port(), 0);
  const std::string password = "hunter2-no-libpq-secret";
  const std::string location = "postgresql://expbridge_test@127.0.0.1:" + std::to_string(listener.port()) + "/store";
  const std::string missing = (std::filesystem::temp_directory_path() / "expbridge-no-such-libpq.so.5").string();
  ASSERT_FALSE(std::filesystem::exists(missing));
  LibpqFileForTest no_libpq(missing);

  auto refused = open_postgres_store(
      {.location = "postgresql://expbridge_test:" + password + "@127.0.0.1:" + std::to_string(listener.port()) + "/store",
       .busy_timeout = std::chrono::milliseconds(2000)});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
  const auto text = refused.error().describe();
  EXPECT_NE(text.find("state store " + location + ": open: cannot load the PostgreSQL client library " + missing),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apt-get install libpq5"), std::string::npos) << text;
  EXPECT_EQ(text.find(password), std::string::npos) << text;
  EXPECT_EQ(text.find("***"), std::string::npos) << text;
  // No connection was tried: the server, had there been one, was never reached.
  EXPECT_FALSE(listener.was_reached());
}

TEST(LibpqLibraryTest, ALibraryWithoutLibpqsFunctionsIsRefusedNamingTheFirstMissing) {
  // libc is loaded in every process and has no PQ* function.
  LibpqFileForTest not_libpq("libc.so.6");
  auto refused = load_libpq();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
  EXPECT_NE(refused.error().message.find("libc.so.6 has no PQconnectdbParams"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("libpq5"), std::string::npos) << refused.error().message;
}

TEST(LibpqLibraryTest, LoadsOnceAndAgainAfterAFailedLoad) {
  {
    LibpqFileForTest no_libpq("expbridge-no-such-libpq.so.5");
    ASSERT_FALSE(load_libpq());
  }
  auto first = load_libpq();
  ASSERT_TRUE(first) << first.error().describe();
  auto second = load_libpq();
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(&libpq(), *first);
  // The table calls the real library: a connection string that does not parse is refused by it.
  PGconn* conn = libpq().PQconnectdbParams(
      std::array<const char*, 2>{"dbname", nullptr}.data(),
      std::array<const char*, 2>{"postgresql://[not-a-host", nullptr}.data(), 1);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(libpq().PQstatus(conn), CONNECTION_BAD);
  EXPECT_NE(std::string(libpq().PQerrorMessage(conn)), "");
  libpq().PQfinish(conn);
}

#endif

TEST(LibpqLibraryTest, TheCommandDoesNotLinkLibpqOrItsDependencies) {
  if (!std::filesystem::exists("/usr/bin/ldd")) GTEST_SKIP() << "no /usr/bin/ldd to list the command's libraries";
  CliSandbox sandbox("libpq-ldd");
  const auto listed = sandbox.run_program("/usr/bin/ldd", std::string("'") + EXPBRIDGE_CLI + "'");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  ASSERT_NE(listed.out.find("libc.so"), std::string::npos) << listed.out;
  for (const char* library : {"libpq", "libkrb5", "libgssapi", "libldap"})
    EXPECT_EQ(listed.out.find(library), std::string::npos) << library << " in:\n" << listed.out;
}

}  // namespace
}  // namespace expbridge::test
