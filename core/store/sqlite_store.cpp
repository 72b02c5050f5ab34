#include "store/sqlite_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>
#include <thread>
#include <utility>

#include "store/store_backends.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;
using store_detail::name_store;

/// `PRAGMA application_id` of an expbridge store ("EXBR"): another program's SQLite file is
/// recognised as such and left alone.
constexpr int kApplicationId = 0x45584252;

/// Migration N+1 takes a store from schema version N to N+1; each runs in the one transaction
/// that also sets user_version, so a crash mid-way leaves the previous version intact.
constexpr std::array<const char*, kStoreSchemaVersion> kMigrations = {
    // 1: runs, their inputs, the journal, per experiment and backend records, history.
    R"sql(
CREATE TABLE runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  command TEXT NOT NULL,
  config_path TEXT NOT NULL,
  config_digest TEXT NOT NULL
);
CREATE INDEX runs_unfinished ON runs (config_path, seq) WHERE finished_at IS NULL;
CREATE TABLE inputs (
  run_id TEXT NOT NULL REFERENCES runs (id),
  position INTEGER NOT NULL,
  source TEXT NOT NULL,
  digest TEXT NOT NULL,
  experiment TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, position)
);
CREATE TABLE intents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  input_position INTEGER NOT NULL,
  input_digest TEXT NOT NULL,
  experiment TEXT NOT NULL,
  backend TEXT NOT NULL,
  operation TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  request_digest TEXT NOT NULL,
  idempotent INTEGER NOT NULL,
  recorded_at TEXT NOT NULL,
  outcome TEXT NOT NULL,
  http_status INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  completed_at TEXT
);
CREATE INDEX intents_by_run ON intents (run_id, id);
CREATE TABLE backend_records (
  experiment TEXT NOT NULL,
  backend TEXT NOT NULL,
  vendor TEXT NOT NULL,
  vendor_ids TEXT NOT NULL,
  read_hint TEXT NOT NULL,
  applied TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  applied_run TEXT NOT NULL,
  last_read TEXT NOT NULL,
  read_at TEXT NOT NULL,
  PRIMARY KEY (experiment, backend)
);
CREATE TABLE history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  run_id TEXT NOT NULL,
  experiment TEXT NOT NULL,
  backend TEXT NOT NULL,
  operation TEXT NOT NULL,
  fields TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX history_by_experiment ON history (experiment, at, id);
)sql",
    // 2: intents and history keyed by their rowid, not AUTOINCREMENT. AUTOINCREMENT writes the
    // sqlite_sequence table on every insert (a stream inserts about eight such rows per update,
    // and callgrind counted 12 % of the store's work in it); rows here are never deleted, so the
    // rowid grows the same way. An id of a transaction rolled back may be given again, which is
    // harmless: such an intent never became durable, so its request was never sent.
    R"sql(
CREATE TABLE intents_rowid (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id),
  input_position INTEGER NOT NULL,
  input_digest TEXT NOT NULL,
  experiment TEXT NOT NULL,
  backend TEXT NOT NULL,
  operation TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  request_digest TEXT NOT NULL,
  idempotent INTEGER NOT NULL,
  recorded_at TEXT NOT NULL,
  outcome TEXT NOT NULL,
  http_status INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  completed_at TEXT
);
INSERT INTO intents_rowid SELECT id, run_id, input_position, input_digest, experiment, backend, operation, sequence,
  request_digest, idempotent, recorded_at, outcome, http_status, error, completed_at FROM intents;
DROP TABLE intents;
ALTER TABLE intents_rowid RENAME TO intents;
CREATE INDEX intents_by_run ON intents (run_id, id);
CREATE TABLE history_rowid (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  run_id TEXT NOT NULL,
  experiment TEXT NOT NULL,
  backend TEXT NOT NULL,
  operation TEXT NOT NULL,
  fields TEXT NOT NULL,
  outcome TEXT NOT NULL
);
INSERT INTO history_rowid SELECT id, at, run_id, experiment, backend, operation, fields, outcome FROM history;
DROP TABLE history;
ALTER TABLE history_rowid RENAME TO history;
CREATE INDEX history_by_experiment ON history (experiment, at, id);
DELETE FROM sqlite_sequence WHERE name IN ('intents', 'history');
)sql",
};

ErrorCode code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL: return ErrorCode::unavailable;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return ErrorCode::invalid_input;
    case SQLITE_CONSTRAINT: return ErrorCode::conflict;
    default: return ErrorCode::internal;
  }
}

Error sqlite_failure(sqlite3* db, int rc, std::string_view what, std::chrono::milliseconds busy_timeout) {
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
    detail = "another process holds the store (waited " + std::to_string(busy_timeout.count()) + " ms): " + detail;
  return make_error(code_of(rc), std::string(what) + ": " + detail + " (SQLite error " + std::to_string(rc) + ")");
}

/// A file that exists and is not empty must start with SQLite's header; checked by reading it
/// ourselves, so that nothing (not even SQLite's WAL switch) ever writes to someone else's file.
Status check_is_database(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || status.type() == fs::file_type::not_found) return {};
  if (status.type() == fs::file_type::directory)
    return std::unexpected(make_error(ErrorCode::invalid_input, "is a folder, not a database file"));
  const auto size = fs::file_size(path, ec);
  if (ec || size == 0) return {};  // an empty file is an empty database to SQLite
  static constexpr std::string_view kHeader("SQLite format 3\0", 16);
  std::array<char, 16> head{};
  std::ifstream in(path, std::ios::binary);
  in.read(head.data(), head.size());
  if (!in || std::string_view(head.data(), head.size()) != kHeader)
    return std::unexpected(make_error(ErrorCode::invalid_input,
                                      "is not a SQLite database (it does not start with SQLite's header); "
                                      "it was left as it is"));
  return {};
}

/// The lock of one experiment: an exclusive flock() on its own file. The kernel drops it when
/// the descriptor closes, so also when the process dies, however it dies.
struct FlockHolder final : Store::ExperimentLock::Holder {
  explicit FlockHolder(int fd) : fd_(fd) {}
  ~FlockHolder() override { ::close(fd_); }
  FlockHolder(const FlockHolder&) = delete;
  FlockHolder& operator=(const FlockHolder&) = delete;
  int fd_;
};

fs::path lock_path(const std::string& location, const std::string& experiment) {
  // A digest, not the name: experiment names may hold anything a file name may not.
  return fs::path(location + ".locks") / store_digest(experiment);
}

}  // namespace

/// One cached prepared statement in use: bound, stepped, and reset when it goes out of scope.
class SqliteStore::Statement {
 public:
  Statement(SqliteStore& store, sqlite3_stmt* stmt, const char* what) : store_(&store), stmt_(stmt), what_(what) {}
  Statement(Statement&& other) noexcept
      : store_(other.store_), stmt_(std::exchange(other.stmt_, nullptr)), what_(other.what_) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  /// Binds `values` to ?1, ?2, ... in order.
  template <class... Values>
  Status bind(const Values&... values) {
    int index = 0;
    int rc = SQLITE_OK;
    ((rc == SQLITE_OK ? (rc = bind_one(++index, values)) : rc), ...);
    if (rc != SQLITE_OK) return std::unexpected(store_->sqlite_error(rc, what_));
    return {};
  }

  /// True with a row to read, false when done.
  Result<bool> step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(store_->sqlite_error(rc, what_));
  }

  /// Steps a statement that returns no rows.
  Status run() {
    auto row = step();
    if (!row) return std::unexpected(row.error());
    return {};
  }

  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

  /// Text that is stored NULL when empty (a time not reached yet).
  struct OrNull {
    std::string_view text;
  };

 private:
  int bind_one(int i, std::string_view v) {
    // A default string_view has no data, which SQLite would bind as NULL: an empty text it is.
    return sqlite3_bind_text(stmt_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int bind_one(int i, const std::string& v) { return bind_one(i, std::string_view(v)); }
  int bind_one(int i, OrNull v) { return v.text.empty() ? sqlite3_bind_null(stmt_, i) : bind_one(i, v.text); }
  int bind_one(int i, std::int64_t v) { return sqlite3_bind_int64(stmt_, i, v); }
  int bind_one(int i, int v) { return sqlite3_bind_int64(stmt_, i, v); }
  int bind_one(int i, bool v) { return sqlite3_bind_int64(stmt_, i, v ? 1 : 0); }

  SqliteStore* store_;
  sqlite3_stmt* stmt_;
  const char* what_;
};

namespace {

/// Runs `sql` (no parameters, results ignored) on `db`.
Status exec(sqlite3* db, const char* sql, std::string_view what, std::chrono::milliseconds busy_timeout) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_failure(db, rc, what, busy_timeout));
  return {};
}

/// The single integer `sql` yields.
Result<std::int64_t> query_integer(sqlite3* db, const char* sql, std::string_view what,
                                   std::chrono::milliseconds busy_timeout) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  std::int64_t value = 0;
  if (rc == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return std::unexpected(sqlite_failure(db, rc, what, busy_timeout));
  return value;
}

/// Brings the store to kStoreSchemaVersion in one transaction. Another process may migrate at
/// the same moment: the version is read again once the write lock is held.
Status migrate(sqlite3* db, std::chrono::milliseconds busy_timeout) {
  EXPBRIDGE_RETURN_IF_ERROR(exec(db, "BEGIN IMMEDIATE", "starting the schema migration", busy_timeout));
  auto work = [&]() -> Status {
    std::int64_t version = 0;
    EXPBRIDGE_ASSIGN_OR_RETURN(version, query_integer(db, "PRAGMA user_version", "reading the schema version",
                                                      busy_timeout));
    for (auto v = version; v < kStoreSchemaVersion; ++v)
      EXPBRIDGE_RETURN_IF_ERROR(exec(db, kMigrations[static_cast<std::size_t>(v)],
                                     "migrating the schema to version " + std::to_string(v + 1), busy_timeout));
    const std::string stamp = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                              "; PRAGMA user_version = " + std::to_string(kStoreSchemaVersion);
    EXPBRIDGE_RETURN_IF_ERROR(exec(db, stamp.c_str(), "recording the schema version", busy_timeout));
    return exec(db, "COMMIT", "committing the schema migration", busy_timeout);
  };
  Status done = work();
  if (!done) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);  // its own failure changes nothing
  return done;
}

/// Refuses, before anything is written, a database that is not an expbridge store or whose
/// schema is newer than this build's. Returns its schema version.
Result<std::int64_t> check_schema(sqlite3* db, std::chrono::milliseconds busy_timeout) {
  // One statement, so one snapshot: read one by one, another process's migration committing in
  // between would show its tables without its application id, a store of "another program".
  std::int64_t version = 0, application = 0, objects = 0;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT (SELECT user_version FROM pragma_user_version()), "
                              "(SELECT application_id FROM pragma_application_id()), "
                              "(SELECT count(*) FROM sqlite_schema)",
                              -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    version = sqlite3_column_int64(stmt, 0);
    application = sqlite3_column_int64(stmt, 1);
    objects = sqlite3_column_int64(stmt, 2);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return std::unexpected(sqlite_failure(db, rc, "reading the schema version", busy_timeout));
  if (application != kApplicationId && (objects > 0 || version > 0))
    return std::unexpected(make_error(ErrorCode::invalid_input,
                                      "is a SQLite database of another program, not an expbridge state store; "
                                      "it was left as it is"));
  if (version > kStoreSchemaVersion)
    return std::unexpected(make_error(
        ErrorCode::invalid_input, "has schema version " + std::to_string(version) + ", newer than this expbridge's (" +
                                      std::to_string(kStoreSchemaVersion) +
                                      "): use the expbridge that wrote it, or a newer one; it was left as it is"));
  return version;
}

/// Switches the connection to WAL; commits are synced only where a transaction asks (`in_transaction`).
Status configure(sqlite3* db, std::chrono::milliseconds busy_timeout) {
  // Changing the journal mode needs the database to itself, and SQLite answers BUSY at once
  // (without its busy handler) while another process opens the same new store: retried here,
  // bounded by the same busy_timeout.
  const auto give_up = std::chrono::steady_clock::now() + busy_timeout;
  int rc = SQLITE_BUSY;
  std::string mode;
  for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
    sqlite3_stmt* stmt = nullptr;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || std::chrono::steady_clock::now() + pause > give_up) break;
    std::this_thread::sleep_for(pause);
  }
  if (rc != SQLITE_ROW) return std::unexpected(sqlite_failure(db, rc, "switching to WAL mode", busy_timeout));
  if (mode != "wal")
    return std::unexpected(make_error(ErrorCode::unavailable,
                                      "cannot use WAL mode (journal mode stays " + mode +
                                          "): is the file on a network file system?"));
  // NORMAL: a commit is not synced unless it must be (Store's Durability); the transactions
  // that must be switch to FULL for their commit.
  return exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "configuring the connection", busy_timeout);
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options) {
  auto opened = SqliteStore::open(options);
  if (!opened) return std::unexpected(opened.error());
  return std::unique_ptr<Store>(std::move(*opened));
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const StoreOptions& options) {
  const std::string& location = options.location;
  const auto busy = options.busy_timeout;
  auto fail = [&](Error e) { return std::unexpected(name_store(location, std::move(e))); };

  const fs::path path(location);
  std::error_code ec;
  if (path.has_parent_path() && !fs::is_directory(path.parent_path(), ec)) {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return fail(make_error(ErrorCode::unavailable,
                             "cannot create its folder " + path.parent_path().string() + ": " + ec.message()));
  }
  if (auto is_db = check_is_database(path); !is_db) return fail(is_db.error());

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(location.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) return fail(sqlite_failure(raw, rc, "opening", busy));
  sqlite3_extended_result_codes(raw, 1);
  const auto busy_ms = std::min<std::chrono::milliseconds::rep>(busy.count(), std::numeric_limits<int>::max());
  sqlite3_busy_timeout(raw, static_cast<int>(busy_ms));

  std::int64_t version = 0;
  if (auto checked = check_schema(raw, busy); !checked) return fail(checked.error());
  else version = *checked;
  if (auto configured = configure(raw, busy); !configured) return fail(configured.error());
  if (version < kStoreSchemaVersion) {
    if (auto migrated = migrate(raw, busy); !migrated) return fail(migrated.error());
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(options, db.release(), kStoreSchemaVersion));
}

SqliteStore::SqliteStore(const StoreOptions& options, sqlite3* db, int schema_version)
    : Store(options.location, options), db_(db), schema_version_(schema_version) {}

SqliteStore::~SqliteStore() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Error SqliteStore::sqlite_error(int rc, std::string_view what) const {
  return sqlite_failure(db_, rc, what, options().busy_timeout);
}

Result<SqliteStore::Statement> SqliteStore::statement(const char* sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(rc, "preparing a statement"));
    found = statements_.emplace(sql, stmt).first;
  }
  return Statement(*this, found->second, "the database");
}

template <class... Values>
Result<SqliteStore::Statement> SqliteStore::bound(const char* sql, const Values&... values) {
  auto st = statement(sql);
  if (!st) return st;
  if (auto bound = st->bind(values...); !bound) return std::unexpected(bound.error());
  return st;
}

Result<std::string> SqliteStore::pragma(std::string_view name) {
  std::lock_guard lock(mutex_);
  const std::string sql = "PRAGMA " + std::string(name);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  std::string value;
  if (rc == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return std::unexpected(sqlite_error(rc, sql));
  return value;
}

int SqliteStore::do_schema_version() const { return schema_version_; }

namespace {

Run read_run(const auto& row) {
  return Run{row.text(0), row.text(1), row.text(2), row.text(3), row.text(4), row.text(5)};
}

/// Every row `st` yields, each read by `read`.
template <class T, class Statement, class Read>
Result<std::vector<T>> read_all(Statement& st, const Read& read) {
  std::vector<T> out;
  for (;;) {
    auto row = st.step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return out;
    auto item = read(st);
    if (!item) return std::unexpected(item.error());
    out.push_back(std::move(*item));
  }
}

/// A changed row count of zero means the row named does not exist.
Status require_changed(sqlite3* db, std::string message) {
  if (sqlite3_changes(db) == 0) return std::unexpected(make_error(ErrorCode::not_found, std::move(message)));
  return {};
}

/// A foreign key names a missing run; a primary key, a row already there.
Error constraint_error(Error e, int rc, std::string missing, std::string duplicate) {
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return make_error(ErrorCode::not_found, std::move(missing));
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
    return make_error(ErrorCode::conflict, std::move(duplicate));
  return e;
}

}  // namespace

Result<Run> SqliteStore::do_begin_run(const RunStart& start) {
  std::lock_guard lock(mutex_);
  const std::string started_at = store_detail::now_utc();
  Run run{store_detail::new_run_id(started_at), started_at, "", start.command, start.config_path,
          start.config_digest};
  auto st = bound("INSERT INTO runs (id, started_at, command, config_path, config_digest) VALUES (?1, ?2, ?3, ?4, ?5)",
                  run.id, run.started_at, run.command, run.config_path, run.config_digest);
  if (!st) return std::unexpected(st.error());
  EXPBRIDGE_RETURN_IF_ERROR(st->run());
  return run;
}

Status SqliteStore::do_finish_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto st =
      bound("UPDATE runs SET finished_at = coalesce(finished_at, ?2) WHERE id = ?1", run_id, store_detail::now_utc());
  if (!st) return std::unexpected(st.error());
  EXPBRIDGE_RETURN_IF_ERROR(st->run());
  return require_changed(db_, "no run " + run_id);
}

Result<std::optional<Run>> SqliteStore::do_last_unfinished_run(const std::string& config_path) {
  std::lock_guard lock(mutex_);
  auto st = bound(
      "SELECT id, started_at, finished_at, command, config_path, config_digest FROM runs "
      "WHERE config_path = ?1 AND finished_at IS NULL ORDER BY seq DESC LIMIT 1", config_path);
  if (!st) return std::unexpected(st.error());
  auto row = st->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<Run>();
  return std::optional<Run>(read_run(*st));
}

Status SqliteStore::do_record_input(const InputRecord& input) {
  std::lock_guard lock(mutex_);
  return insert_input(input);
}

Status SqliteStore::insert_input(const InputRecord& input) {
  auto st =
      bound("INSERT INTO inputs (run_id, position, source, digest, experiment, done) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            input.run_id, input.position, input.source, input.digest, input.experiment, input.done);
  if (!st) return std::unexpected(st.error());
  auto done = st->run();
  if (!done)
    return std::unexpected(constraint_error(done.error(), sqlite3_extended_errcode(db_), "no run " + input.run_id,
                                            "input " + std::to_string(input.position) + " of run " + input.run_id +
                                                " is already recorded"));
  return {};
}

Status SqliteStore::do_mark_input_done(const std::string& run_id, std::int64_t position) {
  std::lock_guard lock(mutex_);
  return set_input_done(InputDone{run_id, position});
}

Status SqliteStore::set_input_done(const InputDone& input) {
  auto st = bound("UPDATE inputs SET done = 1 WHERE run_id = ?1 AND position = ?2", input.run_id, input.position);
  if (!st) return std::unexpected(st.error());
  EXPBRIDGE_RETURN_IF_ERROR(st->run());
  return require_changed(db_, "run " + input.run_id + " has no input " + std::to_string(input.position));
}

Result<std::vector<InputRecord>> SqliteStore::do_inputs(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto st =
      bound("SELECT run_id, position, source, digest, experiment, done FROM inputs WHERE run_id = ?1 ORDER BY position",
            run_id);
  if (!st) return std::unexpected(st.error());
  return read_all<InputRecord>(*st, [](const auto& row) -> Result<InputRecord> {
    return InputRecord{row.text(0), row.integer(1), row.text(2), row.text(3), row.text(4), row.integer(5) != 0};
  });
}

Result<std::int64_t> SqliteStore::do_record_intent(const Intent& intent) {
  std::lock_guard lock(mutex_);
  return in_transaction(true, "recording the intent", [&] { return insert_intent(intent); });
}

Result<std::int64_t> SqliteStore::insert_intent(const Intent& intent) {
  auto st = bound(
      "INSERT INTO intents (run_id, input_position, input_digest, experiment, backend, operation, sequence, "
      "request_digest, idempotent, recorded_at, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
      intent.run_id, intent.input_position, intent.input_digest, intent.experiment, intent.backend, intent.operation,
      intent.sequence, intent.request_digest, intent.idempotent, store_detail::now_utc(),
      to_string(IntentOutcome::pending));
  if (!st) return std::unexpected(st.error());
  auto done = st->run();
  if (!done)
    return std::unexpected(constraint_error(done.error(), sqlite3_extended_errcode(db_), "no run " + intent.run_id,
                                            "the intent is already recorded"));
  return sqlite3_last_insert_rowid(db_);
}

Status SqliteStore::do_record_outcome(std::int64_t intent_id, IntentOutcome outcome, int http_status,
                                      std::string_view error) {
  std::lock_guard lock(mutex_);
  return update_outcome(OutcomeRecord{intent_id, outcome, http_status, std::string(error)});
}

Status SqliteStore::update_outcome(const OutcomeRecord& outcome) {
  auto st = bound("UPDATE intents SET outcome = ?2, http_status = ?3, error = ?4, completed_at = ?5 WHERE id = ?1",
                  outcome.intent_id, to_string(outcome.outcome), outcome.http_status, outcome.error,
                  store_detail::now_utc());
  if (!st) return std::unexpected(st.error());
  EXPBRIDGE_RETURN_IF_ERROR(st->run());
  return require_changed(db_, "no intent " + std::to_string(outcome.intent_id));
}

Result<std::vector<std::int64_t>> SqliteStore::do_commit(std::span<const Intent> intents, const StoreWrites& with) {
  std::lock_guard lock(mutex_);
  return in_transaction(!intents.empty(), "committing the journal", [&]() -> Result<std::vector<std::int64_t>> {
    for (const auto& input : with.inputs) EXPBRIDGE_RETURN_IF_ERROR(insert_input(input));
    for (const auto& outcome : with.outcomes) EXPBRIDGE_RETURN_IF_ERROR(update_outcome(outcome));
    for (const auto& done : with.inputs_done) EXPBRIDGE_RETURN_IF_ERROR(set_input_done(done));
    for (const auto& record : with.backends) EXPBRIDGE_RETURN_IF_ERROR(upsert_backend(record));
    for (const auto& state : with.applied) EXPBRIDGE_RETURN_IF_ERROR(upsert_applied(state));
    for (const auto& entry : with.history) EXPBRIDGE_RETURN_IF_ERROR(insert_history(entry));
    std::vector<std::int64_t> ids;
    ids.reserve(intents.size());
    for (const Intent& intent : intents) {
      auto id = insert_intent(intent);
      if (!id) return std::unexpected(id.error());
      ids.push_back(*id);
    }
    return ids;
  });
}

template <class Body>
auto SqliteStore::in_transaction(bool durable, std::string_view what, Body&& body) -> decltype(body()) {
  // Cached statements: a stream runs these a few times per update.
  auto run = [&](const char* sql) -> Status {
    auto st = statement(sql);
    Status done = st ? st->run() : Status{std::unexpected(st.error())};
    if (!done) {
      Error e = std::move(done).error();
      e.message = std::string(what) + ": " + e.message;
      return std::unexpected(std::move(e));
    }
    return {};
  };
  if (durable) EXPBRIDGE_RETURN_IF_ERROR(run("PRAGMA synchronous = FULL"));
  auto result = [&]() -> decltype(body()) {
    EXPBRIDGE_RETURN_IF_ERROR(run("BEGIN IMMEDIATE"));
    auto done = body();
    if (done) {
      if (Status committed = run("COMMIT"); !committed) done = std::unexpected(committed.error());
    }
    // A failed COMMIT may leave the transaction open; a ROLLBACK that fails then has nothing
    // left to undo, and the first failure is what the caller needs.
    if (!done && sqlite3_get_autocommit(db_) == 0) (void)run("ROLLBACK");
    return done;
  }();
  // Back to the connection's default whatever happened: a later write must not pay for a sync.
  if (durable) (void)run("PRAGMA synchronous = NORMAL");
  return result;
}

Result<std::vector<Intent>> SqliteStore::do_journal(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto st = bound(
      "SELECT id, run_id, input_position, input_digest, experiment, backend, operation, sequence, request_digest, "
      "idempotent, recorded_at, outcome, http_status, error, completed_at FROM intents WHERE run_id = ?1 ORDER BY id",
      run_id);
  if (!st) return std::unexpected(st.error());
  return read_all<Intent>(*st, [](const auto& row) -> Result<Intent> {
    Intent intent;
    intent.id = row.integer(0);
    intent.run_id = row.text(1);
    intent.input_position = row.integer(2);
    intent.input_digest = row.text(3);
    intent.experiment = row.text(4);
    intent.backend = row.text(5);
    intent.operation = row.text(6);
    intent.sequence = static_cast<int>(row.integer(7));
    intent.request_digest = row.text(8);
    intent.idempotent = row.integer(9) != 0;
    intent.recorded_at = row.text(10);
    const auto outcome = store_detail::parse_intent_outcome(row.text(11));
    if (!outcome)
      return std::unexpected(make_error(ErrorCode::internal, "intent " + std::to_string(intent.id) +
                                                                 " has an unknown outcome '" + row.text(11) + "'"));
    intent.outcome = *outcome;
    intent.http_status = static_cast<int>(row.integer(12));
    intent.error = row.text(13);
    intent.completed_at = row.text(14);
    return intent;
  });
}

Status SqliteStore::do_save_backend(const BackendRecord& record) {
  std::lock_guard lock(mutex_);
  return upsert_backend(record);
}

Status SqliteStore::upsert_backend(const BackendRecord& record) {
  auto st = statement(
      "INSERT INTO backend_records (experiment, backend, vendor, vendor_ids, read_hint, applied, applied_at, "
      "applied_run, last_read, read_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      "ON CONFLICT (experiment, backend) DO UPDATE SET vendor = excluded.vendor, vendor_ids = excluded.vendor_ids, "
      "read_hint = excluded.read_hint, applied = excluded.applied, applied_at = excluded.applied_at, "
      "applied_run = excluded.applied_run, last_read = excluded.last_read, read_at = excluded.read_at");
  if (!st) return std::unexpected(st.error());
  using store_detail::to_json_text;
  EXPBRIDGE_RETURN_IF_ERROR(st->bind(record.experiment, record.backend, record.vendor, to_json_text(record.vendor_ids),
                                     to_json_text(record.read_hint), to_json_text(record.applied), record.applied_at,
                                     record.applied_run, to_json_text(record.last_read), record.read_at));
  return st->run();
}

namespace {

constexpr const char* kSelectBackendRecords =
    "SELECT experiment, backend, vendor, vendor_ids, read_hint, applied, applied_at, applied_run, last_read, read_at "
    "FROM backend_records ";

template <class Row>
Result<BackendRecord> read_backend_record(const Row& row) {
  BackendRecord record;
  record.experiment = row.text(0);
  record.backend = row.text(1);
  record.vendor = row.text(2);
  EXPBRIDGE_ASSIGN_OR_RETURN(record.vendor_ids, store_detail::string_map_from_json_text(row.text(3), "vendor_ids"));
  EXPBRIDGE_ASSIGN_OR_RETURN(record.read_hint, store_detail::object_from_json_text(row.text(4), "read_hint"));
  EXPBRIDGE_ASSIGN_OR_RETURN(record.applied, store_detail::object_from_json_text(row.text(5), "applied"));
  record.applied_at = row.text(6);
  record.applied_run = row.text(7);
  EXPBRIDGE_ASSIGN_OR_RETURN(record.last_read, store_detail::object_from_json_text(row.text(8), "last_read"));
  record.read_at = row.text(9);
  return record;
}

}  // namespace

Result<std::optional<BackendRecord>> SqliteStore::do_backend(const std::string& experiment,
                                                             const std::string& backend) {
  std::lock_guard lock(mutex_);
  static const std::string sql = std::string(kSelectBackendRecords) + "WHERE experiment = ?1 AND backend = ?2";
  auto st = bound(sql.c_str(), experiment, backend);
  if (!st) return std::unexpected(st.error());
  auto records = read_all<BackendRecord>(*st, [](const auto& row) { return read_backend_record(row); });
  if (!records) return std::unexpected(records.error());
  if (records->empty()) return std::optional<BackendRecord>();
  return std::optional<BackendRecord>(std::move(records->front()));
}

Result<std::vector<BackendRecord>> SqliteStore::do_backends(const std::optional<std::string>& experiment) {
  std::lock_guard lock(mutex_);
  static const std::string all = std::string(kSelectBackendRecords) + "ORDER BY experiment, backend";
  static const std::string one = std::string(kSelectBackendRecords) + "WHERE experiment = ?1 ORDER BY backend";
  auto st = statement(experiment ? one.c_str() : all.c_str());
  if (!st) return std::unexpected(st.error());
  if (experiment) EXPBRIDGE_RETURN_IF_ERROR(st->bind(*experiment));
  return read_all<BackendRecord>(*st, [](const auto& row) { return read_backend_record(row); });
}

Status SqliteStore::upsert_applied(const AppliedState& state) {
  auto st = bound(
      "INSERT INTO backend_records (experiment, backend, vendor, vendor_ids, read_hint, applied, applied_at, "
      "applied_run, last_read, read_at) VALUES (?1, ?2, ?3, '{}', '{}', ?4, ?5, ?6, '{}', '') "
      "ON CONFLICT (experiment, backend) DO UPDATE SET vendor = excluded.vendor, applied = excluded.applied, "
      "applied_at = excluded.applied_at, applied_run = excluded.applied_run",
      state.experiment, state.backend, state.vendor, store_detail::to_json_text(state.applied), state.applied_at,
      state.applied_run);
  if (!st) return std::unexpected(st.error());
  return st->run();
}

Status SqliteStore::do_add_history(const HistoryEntry& entry) {
  std::lock_guard lock(mutex_);
  return insert_history(entry);
}

Status SqliteStore::insert_history(const HistoryEntry& entry) {
  auto st = bound(
      "INSERT INTO history (at, run_id, experiment, backend, operation, fields, outcome) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", entry.at, entry.run_id, entry.experiment, entry.backend, entry.operation,
                                     store_detail::to_json_text(entry.fields), entry.outcome);
  if (!st) return std::unexpected(st.error());
  return st->run();
}

Result<std::vector<HistoryEntry>> SqliteStore::do_history(const std::string& experiment) {
  std::lock_guard lock(mutex_);
  auto st = bound(
      "SELECT at, run_id, experiment, backend, operation, fields, outcome FROM history WHERE experiment = ?1 "
      "ORDER BY at, id", experiment);
  if (!st) return std::unexpected(st.error());
  return read_all<HistoryEntry>(*st, [](const auto& row) -> Result<HistoryEntry> {
    HistoryEntry entry{row.text(0), row.text(1), row.text(2), row.text(3), row.text(4), {}, row.text(6)};
    EXPBRIDGE_ASSIGN_OR_RETURN(entry.fields, store_detail::strings_from_json_text(row.text(5), "fields"));
    return entry;
  });
}

Result<int> SqliteStore::open_lock_file(const std::string& experiment) {
  const fs::path path = lock_path(location(), experiment);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return std::unexpected(make_error(ErrorCode::unavailable,
                                      "cannot create the lock folder " + path.parent_path().string() + ": " +
                                          ec.message()));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return std::unexpected(make_error(ErrorCode::unavailable,
                                      "cannot open the lock file " + path.string() + ": " + std::strerror(errno)));
  return fd;
}

Result<std::optional<Store::ExperimentLock>> SqliteStore::do_try_lock_experiment(const std::string& experiment) {
  int fd = -1;
  EXPBRIDGE_ASSIGN_OR_RETURN(fd, open_lock_file(experiment));
  auto holder = std::make_unique<FlockHolder>(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return std::optional<ExperimentLock>(ExperimentLock(std::move(holder)));
  if (errno == EWOULDBLOCK || errno == EINTR) return std::optional<ExperimentLock>();
  return std::unexpected(make_error(ErrorCode::unavailable, "cannot lock experiment " + experiment + " (" +
                                                                lock_path(location(), experiment).string() +
                                                                "): " + std::strerror(errno)));
}

Result<Store::ExperimentLock> SqliteStore::do_lock_experiment(const std::string& experiment) {
  // flock() has no timeout of its own: poll, backing off, until the busy timeout has passed.
  const auto timeout = options().busy_timeout;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(2);
  for (;;) {
    auto locked = do_try_lock_experiment(experiment);
    if (!locked) return std::unexpected(std::move(locked).error());
    if (*locked) return std::move(**locked);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return std::unexpected(make_error(ErrorCode::unavailable,
                                        "experiment " + experiment + " is locked by another process (waited " +
                                            std::to_string(timeout.count()) + " ms)"));
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace expbridge
