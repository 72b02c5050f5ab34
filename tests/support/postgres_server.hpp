// expbridge tests — a throw-away PostgreSQL 15 for the test binary: initdb in a temporary
// folder, as an unprivileged user (PostgreSQL refuses to run as root), on a free 127.0.0.1 port;
// started on first use, shared by the tests, stopped at exit. One database per test.
//
// What it leaves behind, on purpose: the first initdb's data folder, kept as a template in
// $TMPDIR/expbridge-pgtemplate-15-<uid of the tests> (about 28 MB; /tmp when TMPDIR is unset),
// copied by every later start, since ctest runs each test in a process of its own and initdb is
// most of a start. Used only when the user running PostgreSQL owns it. Safe to delete whenever no
// test runs: the next start runs initdb again and keeps a new one. The server's own folder
// ($TMPDIR/expbridge-pg-XXXXXX) is removed at exit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "expbridge/error.hpp"

namespace expbridge::test {

class PostgresServer {
 public:
  /// Trusted on loopback: the role the stores connect as, owner of every test database.
  static constexpr std::string_view test_role = "expbridge_test";
  /// The one role that must give a password (scram-sha-256), `password_role_password`.
  static constexpr std::string_view password_role = "expbridge_pw";
  static constexpr std::string_view password_role_password = "right-horse-battery";

  /// The server of this test binary: started by the first call, stopped at exit.
  static PostgresServer& shared();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  /// Empty when the server runs; otherwise exactly why it cannot, for the tests to skip with.
  const std::string& skip_reason() const noexcept { return skip_reason_; }
  std::uint16_t port() const noexcept { return port_; }

  /// `postgresql://USER_INFO@127.0.0.1:PORT/DATABASE`.
  std::string url(std::string_view database, std::string_view user_info = test_role) const;
  /// A new empty database owned by `test_role`, named after `unique` (and a counter, so a name
  /// never repeats): its URL.
  Result<std::string> create_database(std::string_view unique);
  /// Runs `sql` as the superuser in `database`; the first column of the first row, if any.
  Result<std::string> admin_query(std::string_view database, const std::string& sql);

 private:
  PostgresServer();
  Status start();
  Status make_data_directory(const std::string& data);
  Status run(const std::vector<std::string>& argv, const std::string& what);

  std::mutex mutex_;
  std::filesystem::path dir_;
  std::string bin_dir_;
  std::uint16_t port_ = 0;
  int run_as_uid_ = -1;  // when running as root: the unprivileged user PostgreSQL runs as
  int run_as_gid_ = -1;
  bool started_ = false;
  std::string skip_reason_;
  int database_counter_ = 0;
};

}  // namespace expbridge::test
