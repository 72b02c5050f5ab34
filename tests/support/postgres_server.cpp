#include "support/postgres_server.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
#include <libpq-fe.h>
#endif

#include "support/test_resources.hpp"

namespace expbridge::test {

namespace {

// Debian's postgresql-15 installs its server binaries here (not on PATH).
constexpr const char* kDefaultBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr const char* kAdminRole = "expbridge_admin";
constexpr auto kCommandTimeout = std::chrono::seconds(60);

std::string tail_of(const std::filesystem::path& file, std::size_t limit = 600) {
  std::ifstream in(file);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  if (text.size() > limit) text = "…" + text.substr(text.size() - limit);
  return text;
}

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

pid_t first_number_in(const std::filesystem::path& file) {
  std::ifstream in(file);
  long pid = 0;
  in >> pid;
  return in ? static_cast<pid_t>(pid) : 0;
}

/// A test binary killed before its exit leaves its server running: the next one stops it
/// (immediate shutdown) and removes its folder. Only servers whose test binary is gone, and only
/// a process that is still a postgres (a recycled pid is left alone).
void stop_orphaned_servers() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
    if (!entry.path().filename().string().starts_with("expbridge-pg-")) continue;
    // No pid yet: a binary that has just made its folder.
    const pid_t owner = first_number_in(entry.path() / "owner.pid");
    if (owner <= 0 || process_alive(owner)) continue;
    const pid_t postmaster = first_number_in(entry.path() / "data" / "postmaster.pid");
    std::ifstream comm("/proc/" + std::to_string(postmaster) + "/comm");
    std::string name;
    if (postmaster > 0 && std::getline(comm, name) && name == "postgres") {
      ::kill(postmaster, SIGQUIT);
      for (int i = 0; i < 500 && process_alive(postmaster); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::filesystem::remove_all(entry.path(), ec);
  }
}

}  // namespace

PostgresServer& PostgresServer::shared() {
  // Destroyed at exit, which stops the server. Forked test children leave with _exit, so they
  // never stop the parent's server.
  static PostgresServer server;
  return server;
}

PostgresServer::PostgresServer() {
#ifndef EXPBRIDGE_HAVE_POSTGRES_STORE
  skip_reason_ = "built without libpq (Debian libpq-dev): no PostgreSQL store to test";
#else
  if (auto started = start(); !started) skip_reason_ = "PostgreSQL 15 cannot run here: " + started.error().message;
#endif
}

PostgresServer::~PostgresServer() {
  if (started_) {
    // Immediate: the data is thrown away, so nothing needs a clean shutdown checkpoint.
    (void)run({bin_dir_ + "/pg_ctl", "-D", (dir_ / "data").string(), "-m", "immediate", "-w", "-t", "30", "stop"},
              "pg_ctl stop");
  }
  std::error_code ignored;  // a leftover temp folder is not worth failing the test binary over
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

Status PostgresServer::run(const std::vector<std::string>& argv, const std::string& what) {
  std::vector<std::string> full;
  if (run_as_uid_ >= 0)
    full = {kSetpriv, "--reuid=" + std::to_string(run_as_uid_), "--regid=" + std::to_string(run_as_gid_),
            "--clear-groups"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  const auto log = dir_ / "commands.log";
  const pid_t pid = ::fork();
  if (pid < 0) return std::unexpected(make_error(ErrorCode::internal, what + ": fork failed"));
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    // Somewhere the unprivileged user may stand: initdb and pg_ctl complain about an unreadable cwd.
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + kCommandTimeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return std::unexpected(make_error(ErrorCode::unavailable, what + " did not finish within 60 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return std::unexpected(make_error(ErrorCode::unavailable, what + " failed (status " + std::to_string(status) +
                                                                "): " + tail_of(log)));
}

#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE

namespace {

struct Conn {
  PGconn* conn = nullptr;
  ~Conn() {
    if (conn != nullptr) PQfinish(conn);
  }
};

Result<std::string> query(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexecParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
  const auto status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  std::string out;
  if (status == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  const std::string message = PQerrorMessage(conn);
  PQclear(r);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    return std::unexpected(make_error(ErrorCode::internal, sql + ": " + message));
  return out;
}

}  // namespace

Status PostgresServer::start() {
  const char* from_env = std::getenv("EXPBRIDGE_POSTGRES_BIN");
  bin_dir_ = from_env != nullptr && *from_env != '\0' ? from_env : kDefaultBinDir;
  for (const char* tool : {"initdb", "pg_ctl", "postgres"})
    if (!executable(bin_dir_ + "/" + tool))
      return std::unexpected(make_error(ErrorCode::unavailable, bin_dir_ + "/" + tool +
                                                                    " not found (Debian postgresql-15; "
                                                                    "scripts/install-deps.sh installs it)"));
  stop_orphaned_servers();
  std::string pattern = (std::filesystem::temp_directory_path() / "expbridge-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return std::unexpected(make_error(ErrorCode::unavailable, "cannot create a temporary folder for the data"));
  dir_ = pattern;
  std::ofstream(dir_ / "owner.pid") << ::getpid() << "\n";
  std::filesystem::create_directory(dir_ / "sock");
  if (::geteuid() == 0) {
    // PostgreSQL refuses to run as root: as `nobody`, which owns the folder.
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr)
      return std::unexpected(make_error(ErrorCode::unavailable, "running as root and there is no user `nobody` to run it as"));
    if (!executable(kSetpriv))
      return std::unexpected(make_error(ErrorCode::unavailable,
                                        std::string("running as root and ") + kSetpriv +
                                            " (util-linux) is missing to switch to `nobody`"));
    run_as_uid_ = static_cast<int>(nobody->pw_uid);
    run_as_gid_ = static_cast<int>(nobody->pw_gid);
    for (const auto& path : {dir_, dir_ / "sock"})
      if (::chown(path.c_str(), nobody->pw_uid, nobody->pw_gid) != 0)
        return std::unexpected(make_error(ErrorCode::unavailable, "cannot give " + path.string() + " to `nobody`"));
  }
  const auto data = (dir_ / "data").string();
  EXPBRIDGE_RETURN_IF_ERROR(make_data_directory(data));
  {
    // Overwritten after initdb (the file stays the server user's): trust on loopback for every
    // role but the one whose wrong password a test gives.
    std::ofstream hba(dir_ / "data" / "pg_hba.conf", std::ios::trunc);
    hba << "local all all trust\n"
        << "host all " << password_role << " 127.0.0.1/32 scram-sha-256\n"
        << "host all all 127.0.0.1/32 trust\n";
    if (!hba) return std::unexpected(make_error(ErrorCode::unavailable, "cannot write pg_hba.conf"));
  }
  // The port is free when chosen but another process may take it before the server binds it:
  // a few tries, each with a new port.
  Status started = std::unexpected(make_error(ErrorCode::unavailable, "not started"));
  for (int attempt = 0; attempt < 3 && !started; ++attempt) {
    port_ = unused_loopback_port();
    // fsync off: the tests check what the store commits, not that this disk survives a power cut.
    const std::string server_options = "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port_) + " -k " +
                                       (dir_ / "sock").string() +
                                       " -c fsync=off -c full_page_writes=off -c max_connections=60 "
                                       "-c shared_buffers=16MB";
    started = run({bin_dir_ + "/pg_ctl", "-D", data, "-l", (dir_ / "server.log").string(), "-w", "-t", "30", "-o",
                   server_options, "start"},
                  "pg_ctl start");
    if (!started) started = std::unexpected(make_error(started.error().code, started.error().message + " " + tail_of(dir_ / "server.log")));
  }
  EXPBRIDGE_RETURN_IF_ERROR(started);
  started_ = true;
  EXPBRIDGE_RETURN_IF_ERROR(admin_query("postgres", "CREATE ROLE " + std::string(test_role) + " LOGIN"));
  EXPBRIDGE_RETURN_IF_ERROR(admin_query("postgres", "CREATE ROLE " + std::string(password_role) + " LOGIN PASSWORD '" +
                                                        std::string(password_role_password) + "'"));
  return {};
}

Status PostgresServer::make_data_directory(const std::string& data) {
  // ctest runs every test in a process of its own, and initdb is most of a start (0.8 s of 1):
  // the first initdb is kept as a template that the next test binaries copy. Per user, and used
  // only if that user owns it, since the temp folder is shared.
  const auto temp = std::filesystem::temp_directory_path();
  const auto kept = temp / ("expbridge-pgtemplate-15-" + std::to_string(::geteuid()));
  const auto owner = static_cast<uid_t>(run_as_uid_ >= 0 ? run_as_uid_ : static_cast<int>(::geteuid()));
  struct stat template_stat {};
  if (::stat((kept / "data").c_str(), &template_stat) == 0 && template_stat.st_uid == owner &&
      std::filesystem::exists(kept / "data" / "PG_VERSION")) {
    if (run({"/bin/cp", "-a", (kept / "data").string(), data}, "copying the initdb template")) return {};
    std::error_code ignored;  // initdb below reports a folder it cannot use
    std::filesystem::remove_all(data, ignored);
  }
  // --no-sync: a throw-away cluster need not survive a machine crash. 1 MB WAL segments, not 16:
  // less to copy from the template.
  EXPBRIDGE_RETURN_IF_ERROR(run({bin_dir_ + "/initdb", "-D", data, "-U", kAdminRole, "-A", "trust", "-E", "UTF8",
                                 "--locale=C", "--no-sync", "--no-instructions", "--wal-segsize=1"},
                                "initdb"));
  // Copied aside, then renamed into place whole: a concurrent test binary sees no template or a
  // complete one. Losing the race (or failing) only means the next binary runs initdb too.
  std::string staging = (temp / "expbridge-pgtemplate-XXXXXX").string();
  if (::mkdtemp(staging.data()) == nullptr) return {};
  const bool owned = run_as_uid_ < 0 || ::chown(staging.c_str(), owner, static_cast<gid_t>(run_as_gid_)) == 0;
  std::error_code ignored;
  if (owned && run({"/bin/cp", "-a", data, staging + "/data"}, "keeping the initdb template"))
    std::filesystem::rename(staging, kept, ignored);
  std::filesystem::remove_all(staging, ignored);  // gone already when renamed
  return {};
}

Result<std::string> PostgresServer::admin_query(std::string_view database, const std::string& sql) {
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + kAdminRole +
                               " dbname=" + std::string(database) + " connect_timeout=5";
  Conn c{PQconnectdb(conninfo.c_str())};
  if (c.conn == nullptr || PQstatus(c.conn) != CONNECTION_OK)
    return std::unexpected(make_error(ErrorCode::unavailable,
                                      "cannot connect as " + std::string(kAdminRole) + ": " +
                                          (c.conn != nullptr ? PQerrorMessage(c.conn) : "out of memory")));
  PQsetNoticeProcessor(c.conn, [](void*, const char*) {}, nullptr);
  return query(c.conn, sql);
}

Result<std::string> PostgresServer::create_database(std::string_view unique) {
  if (!skip_reason_.empty()) return std::unexpected(make_error(ErrorCode::unavailable, skip_reason_));
  std::string name;
  {
    std::lock_guard lock(mutex_);
    name = "t" + std::to_string(++database_counter_) + "_";
  }
  for (char c : unique) name += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  name.resize(std::min<std::size_t>(name.size(), 63));  // PostgreSQL's identifier limit
  EXPBRIDGE_RETURN_IF_ERROR(admin_query("postgres", "CREATE DATABASE " + name + " OWNER " + std::string(test_role)));
  return url(name);
}

#else

Status PostgresServer::start() { return std::unexpected(make_error(ErrorCode::unsupported, skip_reason_)); }
Result<std::string> PostgresServer::admin_query(std::string_view, const std::string&) {
  return std::unexpected(make_error(ErrorCode::unsupported, skip_reason_));
}
Result<std::string> PostgresServer::create_database(std::string_view) {
  return std::unexpected(make_error(ErrorCode::unsupported, skip_reason_));
}

#endif

std::string PostgresServer::url(std::string_view database, std::string_view user_info) const {
  return "postgresql://" + std::string(user_info) + "@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
}

}  // namespace expbridge::test
