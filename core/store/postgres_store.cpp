#include "store/postgres_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>


#include "secrets.hpp"
#include "store/libpq_library.hpp"
#include "store/store_backends.hpp"

namespace expbridge {

namespace {

struct ConnectionCloser {
  void operator()(PGconn* conn) const noexcept { libpq().PQfinish(conn); }
};
using PgConnection = std::unique_ptr<PGconn, ConnectionCloser>;

struct ResultCloser {
  void operator()(PGresult* result) const noexcept { libpq().PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultCloser>;

// The schema lock uses the two-key form of the advisory lock functions, whose key space is
// distinct from the one-key (bigint) form the experiment locks use: an experiment whose hash
// happened to equal it could not block every store open.
constexpr const char* kSchemaLockSql = "SELECT pg_advisory_xact_lock(1702391650, 1)";

/// Named as the base class names every store error, `state store LOCATION: OPERATION: …`, so
/// that it leaves these as they are.
Error store_error(const std::string& location, ErrorCode code, std::string_view operation, std::string message) {
  return make_error(code, "state store " + location + ": " + std::string(operation) + ": " + message);
}

/// libpq's messages span lines ("FATAL:  …\nDETAIL: …\n"): one line for an error.
std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return secrets::scrub(out);
}

ErrorCode code_for_sqlstate(std::string_view state) {
  // 08: connection lost; 53: out of resources; 57: shut down or cancelled; 55P03: lock_timeout;
  // 40001/40P01: serialisation failure or deadlock, which a retry resolves.
  if (state.starts_with("08") || state.starts_with("53") || state.starts_with("57") || state == "55P03" ||
      state == "40001" || state == "40P01")
    return ErrorCode::unavailable;
  if (state.starts_with("28") || state == "42501") return ErrorCode::unauthorized;
  if (state == "23505") return ErrorCode::conflict;
  if (state == "23503") return ErrorCode::not_found;
  return ErrorCode::internal;
}

/// Why a connection failed, from libpq's text: a failed connection has no result to carry a
/// SQLSTATE, only the server's FATAL message.
ErrorCode code_for_connect_failure(PGconn* conn, std::string_view message) {
  if (libpq().PQconnectionNeedsPassword(conn)) return ErrorCode::unauthorized;
  for (std::string_view auth : {"authentication failed", "no pg_hba.conf entry", "password", "permission denied"})
    if (message.find(auth) != std::string_view::npos) return ErrorCode::unauthorized;
  if (message.find("role \"") != std::string_view::npos && message.find("does not exist") != std::string_view::npos)
    return ErrorCode::unauthorized;
  if (message.find("database \"") != std::string_view::npos && message.find("does not exist") != std::string_view::npos)
    return ErrorCode::not_found;
  return ErrorCode::unavailable;
}

std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const std::string hex(text.substr(i + 1, 2));
      char* end = nullptr;
      const long value = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(value);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

/// Where the user info ends, if the URL has one: the last `@` before the path.
std::optional<std::pair<std::size_t, std::size_t>> user_info_span(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const std::size_t start = scheme_end + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?", start), url.size());
  const auto at = url.rfind('@', authority_end == 0 ? 0 : authority_end - 1);
  if (at == std::string_view::npos || at < start) return std::nullopt;
  return std::pair{start, at};
}

/// Every password the URL carries, so that `secrets::scrub` masks it wherever it could appear.
std::vector<std::string> url_passwords(std::string_view url) {
  std::vector<std::string> out;
  if (auto span = user_info_span(url)) {
    const auto info = url.substr(span->first, span->second - span->first);
    if (auto colon = info.find(':'); colon != std::string_view::npos) out.push_back(percent_decoded(info.substr(colon + 1)));
  }
  if (auto query = url.find('?'); query != std::string_view::npos) {
    std::string_view rest = url.substr(query + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto pair = rest.substr(0, amp);
      if (pair.starts_with("password=")) out.push_back(percent_decoded(pair.substr(9)));
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
  }
  return out;
}

/// One libpq connection and the store location its errors name. Parameterised statements only.
class Session {
 public:
  Session() = default;
  Session(PgConnection conn, std::string location) : conn_(std::move(conn)), location_(std::move(location)) {}

  /// Runs one statement with text parameters; any status but success is an error naming the
  /// store, `operation` and the server's SQLSTATE.
  Result<PgResult> exec(std::string_view operation, const char* sql, std::initializer_list<std::string> params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult result(libpq().PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr, values.data(),
                                         nullptr, nullptr, 0));
    const auto status = result ? libpq().PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    const char* state = result ? libpq().PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = result ? libpq().PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string message = primary != nullptr ? std::string(primary) : std::string(libpq().PQerrorMessage(conn_.get()));
    ErrorCode code = state != nullptr ? code_for_sqlstate(state) : ErrorCode::internal;
    if (libpq().PQstatus(conn_.get()) == CONNECTION_BAD) {
      code = ErrorCode::unavailable;
      message = "lost the connection to the PostgreSQL server: " + message;
    }
    if (state != nullptr) message += std::string(" (SQLSTATE ") + state + ")";
    return std::unexpected(store_error(location_, code, std::string(operation), one_line(message)));
  }

  /// Rows changed by a statement that succeeded.
  static long changed(const PgResult& result) { return std::strtol(libpq().PQcmdTuples(result.get()), nullptr, 10); }

  Status in_transaction(std::string_view operation, const std::function<Status()>& body) {
    EXPBRIDGE_RETURN_IF_ERROR(exec(operation, "BEGIN"));
    if (auto done = body(); !done) {
      // The failure is what the caller needs; a failed ROLLBACK (a lost connection) ends the
      // transaction as surely, since the server rolls back on disconnect.
      (void)exec(operation, "ROLLBACK");
      return done;
    }
    EXPBRIDGE_RETURN_IF_ERROR(exec(operation, "COMMIT"));
    return {};
  }

  Error error(ErrorCode code, std::string_view operation, std::string message) const {
    return store_error(location_, code, std::string(operation), std::move(message));
  }
  PGconn* get() const noexcept { return conn_.get(); }

 private:
  PgConnection conn_;
  std::string location_;
};

std::string text(const PgResult& r, int row, int column) { return libpq().PQgetvalue(r.get(), row, column); }
std::int64_t integer(const PgResult& r, int row, int column) { return std::strtoll(libpq().PQgetvalue(r.get(), row, column), nullptr, 10); }
bool boolean(const PgResult& r, int row, int column) { return libpq().PQgetvalue(r.get(), row, column)[0] == 't'; }
std::string boolean_text(bool value) { return value ? "true" : "false"; }

/// Opens a connection with the session settings the store relies on. `url` is what the user
/// gave (with any password); errors name `location`, the URL without it.
Result<Session> connect(const std::string& url, const std::string& location, std::chrono::milliseconds busy_timeout,
                        std::string_view operation) {
  // Loaded on the first connection, not linked: see store/libpq_library.hpp.
  if (auto loaded = load_libpq(); !loaded)
    return std::unexpected(store_error(location, loaded.error().code, operation, loaded.error().message));
  for (const auto& password : url_passwords(url)) secrets::register_secret(password);
  const auto seconds = std::max<long long>(2, (busy_timeout.count() + 999) / 1000);
  const std::string connect_timeout = std::to_string(seconds);
  // Our defaults come first and the URL last, so that what the URL sets wins (libpq keeps the
  // last value of a repeated keyword; `dbname` expands to the URL's parameters).
  const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {connect_timeout.c_str(), "expbridge", url.c_str(), nullptr};
  PgConnection conn(libpq().PQconnectdbParams(keys, values, 1));
  if (!conn) return std::unexpected(store_error(location, ErrorCode::internal, std::string(operation), "libpq is out of memory"));
  if (libpq().PQstatus(conn.get()) != CONNECTION_OK) {
    const std::string message = one_line(libpq().PQerrorMessage(conn.get()));
    const ErrorCode code = code_for_connect_failure(conn.get(), message);
    return std::unexpected(
        store_error(location, code, std::string(operation), "cannot connect to the PostgreSQL store: " + message));
  }
  // The schema's IF NOT EXISTS notices would otherwise be printed on stderr by libpq.
  libpq().PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  Session session(std::move(conn), location);
  // synchronous_commit off for the session: a commit waits for no WAL flush unless it must
  // (Store's Durability); the transactions that must, those that record intents, turn it on
  // for themselves, whatever the server's default. lock_timeout bounds every wait for
  // another process's lock (the schema lock, an experiment lock) by busy_timeout.
  EXPBRIDGE_RETURN_IF_ERROR(session.exec(operation,
                                         "SELECT set_config('synchronous_commit', 'off', false), "
                                         "set_config('lock_timeout', $1, false), "
                                         "set_config('client_min_messages', 'warning', false)",
                                         {std::to_string(busy_timeout.count()) + "ms"}));
  return session;
}

/// Schema version N+1 from N: index 0 creates the first schema in an empty database.
const std::vector<std::vector<const char*>>& migrations() {
  static const std::vector<std::vector<const char*>> steps = {{
      // seq: the order runs began in, whatever the clocks of the processes that began them.
      "CREATE TABLE runs (seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, started_at text NOT NULL, "
      "finished_at text, command text NOT NULL, config_path text NOT NULL, config_digest text NOT NULL)",
      "CREATE INDEX runs_unfinished ON runs (config_path, seq) WHERE finished_at IS NULL",
      "CREATE TABLE inputs (run_id text NOT NULL REFERENCES runs (id), position bigint NOT NULL, "
      "source text NOT NULL, digest text NOT NULL, experiment text NOT NULL, done boolean NOT NULL DEFAULT false, "
      "PRIMARY KEY (run_id, position))",
      "CREATE TABLE intents (id bigserial PRIMARY KEY, run_id text NOT NULL REFERENCES runs (id), "
      "input_position bigint NOT NULL, input_digest text NOT NULL, experiment text NOT NULL, backend text NOT NULL, "
      "operation text NOT NULL, sequence integer NOT NULL, request_digest text NOT NULL, idempotent boolean NOT NULL, "
      "recorded_at text NOT NULL, outcome text NOT NULL, http_status integer NOT NULL DEFAULT 0, "
      "error text NOT NULL DEFAULT '', completed_at text)",
      "CREATE INDEX intents_by_run ON intents (run_id, id)",
      "CREATE TABLE backend_records (experiment text NOT NULL, backend text NOT NULL, vendor text NOT NULL, "
      "vendor_ids text NOT NULL, read_hint text NOT NULL, applied text NOT NULL, applied_at text NOT NULL, "
      "applied_run text NOT NULL, last_read text NOT NULL, read_at text NOT NULL, PRIMARY KEY (experiment, backend))",
      "CREATE TABLE history (id bigserial PRIMARY KEY, at text NOT NULL, run_id text NOT NULL, "
      "experiment text NOT NULL, backend text NOT NULL, operation text NOT NULL, fields text NOT NULL, "
      "outcome text NOT NULL)",
      "CREATE INDEX history_by_experiment ON history (experiment, at, id)",
  },
  // 2: the SQLite store's intents and history lost AUTOINCREMENT; bigserial here is a sequence
  // PostgreSQL keeps cheaply, so nothing changes but the version.
  {}};
  return steps;
}

/// Creates or migrates the schema, in one transaction under the schema lock so that two
/// processes opening a new database at once do not both create it. Returns the version.
Result<int> prepare_schema(Session& session) {
  constexpr std::string_view op = "open";
  int version = 0;
  auto done = session.in_transaction(op, [&]() -> Status {
    EXPBRIDGE_RETURN_IF_ERROR(session.exec(op, kSchemaLockSql));
    EXPBRIDGE_RETURN_IF_ERROR(session.exec(op, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"));
    PgResult found;
    EXPBRIDGE_ASSIGN_OR_RETURN(found, session.exec(op, "SELECT coalesce(max(version), 0) FROM schema_version"));
    version = static_cast<int>(integer(found, 0, 0));
    if (version > kStoreSchemaVersion)
      return std::unexpected(session.error(
          ErrorCode::invalid_input, op,
          "its schema version " + std::to_string(version) + " is newer than this build's " +
              std::to_string(kStoreSchemaVersion) + ": a newer expbridge wrote it, so this one leaves it alone"));
    if (version == kStoreSchemaVersion) return {};
    for (int from = version; from < kStoreSchemaVersion; ++from)
      for (const char* statement : migrations().at(static_cast<std::size_t>(from)))
        EXPBRIDGE_RETURN_IF_ERROR(session.exec(op, statement));
    EXPBRIDGE_RETURN_IF_ERROR(session.exec(op, "DELETE FROM schema_version"));
    EXPBRIDGE_RETURN_IF_ERROR(session.exec(op, "INSERT INTO schema_version (version) VALUES ($1)",
                                           {std::to_string(kStoreSchemaVersion)}));
    version = kStoreSchemaVersion;
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return version;
}

/// Connections that held an experiment lock and let it go, kept for the next lock: a stream
/// locks one experiment per update, and a new connection (TCP, authentication, settings) costs
/// more than the update's own writes. Shared with the locks, which may outlive their store.
class LockSessions {
 public:
  static constexpr std::size_t kKept = 8;
  std::optional<Session> take() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return std::nullopt;
    Session session = std::move(idle_.back());
    idle_.pop_back();
    return session;
  }
  void give_back(Session session) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kKept) idle_.push_back(std::move(session));
  }

 private:
  std::mutex mutex_;
  std::vector<Session> idle_;
};

/// Held for as long as its connection holds the session-level advisory lock; the server drops
/// the lock when the connection closes, whoever closes it (this destructor, or a killed process).
class PostgresExperimentLock final : public Store::ExperimentLock::Holder {
 public:
  PostgresExperimentLock(Session session, std::int64_t key, std::shared_ptr<LockSessions> pool)
      : session_(std::move(session)), key_(key), pool_(std::move(pool)) {}
  ~PostgresExperimentLock() override {
    // Unlocked explicitly so that the next waiter proceeds at once rather than when the server
    // notices the closed socket; closing the connection releases it even if this fails. Only a
    // connection that unlocked goes back to the pool: one in doubt still holds the lock.
    auto unlocked = session_.exec("unlock_experiment", "SELECT pg_advisory_unlock($1::bigint)", {std::to_string(key_)});
    if (unlocked && boolean(*unlocked, 0, 0) && pool_) pool_->give_back(std::move(session_));
  }

 private:
  Session session_;
  std::int64_t key_;
  std::shared_ptr<LockSessions> pool_;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string url, std::string location, StoreOptions options, Session session, int version)
      : Store(location, std::move(options)), url_(std::move(url)), location_(std::move(location)),
        session_(std::move(session)), version_(version) {}

 protected:
  int do_schema_version() const override { return version_; }

  Result<Run> do_begin_run(const RunStart& start) override {
    Run run;
    run.started_at = store_detail::now_utc();
    run.command = start.command;
    run.config_path = start.config_path;
    run.config_digest = start.config_digest;
    run.id = store_detail::new_run_id(run.started_at);
    EXPBRIDGE_RETURN_IF_ERROR(session_.exec(
        "begin_run", "INSERT INTO runs (id, started_at, command, config_path, config_digest) VALUES ($1, $2, $3, $4, $5)",
        {run.id, run.started_at, run.command, run.config_path, run.config_digest}));
    return run;
  }

  Status do_finish_run(const std::string& run_id) override {
    PgResult r;
    EXPBRIDGE_ASSIGN_OR_RETURN(
        r, session_.exec("finish_run",
                         "UPDATE runs SET finished_at = coalesce(finished_at, $2) WHERE id = $1",
                         {run_id, store_detail::now_utc()}));
    if (Session::changed(r) == 0) return std::unexpected(no_run("finish_run", run_id));
    return {};
  }

  Result<std::optional<Run>> do_last_unfinished_run(const std::string& config_path) override {
    std::vector<Run> found;
    EXPBRIDGE_ASSIGN_OR_RETURN(
        found, rows<Run>("last_unfinished_run",
                         "SELECT id, started_at, finished_at, command, config_path, config_digest FROM runs "
                         "WHERE config_path = $1 AND finished_at IS NULL ORDER BY seq DESC LIMIT 1",
                         {config_path}, [](const PgResult& r, int i) -> Result<Run> {
                           return Run{.id = text(r, i, 0), .started_at = text(r, i, 1), .finished_at = text(r, i, 2),
                                      .command = text(r, i, 3), .config_path = text(r, i, 4),
                                      .config_digest = text(r, i, 5)};
                         }));
    if (found.empty()) return std::optional<Run>();
    return std::optional<Run>(std::move(found.front()));
  }

  Status do_record_input(const InputRecord& input) override {
    auto recorded = session_.exec("record_input",
                                  "INSERT INTO inputs (run_id, position, source, digest, experiment, done) "
                                  "VALUES ($1, $2, $3, $4, $5, $6)",
                                  {input.run_id, std::to_string(input.position), input.source, input.digest,
                                   input.experiment, boolean_text(input.done)});
    if (!recorded)
      return std::unexpected(constraint_error(std::move(recorded).error(), "record_input", input.run_id,
                                              "input " + std::to_string(input.position) + " of run " + input.run_id +
                                                  " is already recorded"));
    return {};
  }

  Status do_mark_input_done(const std::string& run_id, std::int64_t position) override {
    PgResult r;
    EXPBRIDGE_ASSIGN_OR_RETURN(r, session_.exec("mark_input_done",
                                                "UPDATE inputs SET done = true WHERE run_id = $1 AND position = $2",
                                                {run_id, std::to_string(position)}));
    if (Session::changed(r) == 0)
      return std::unexpected(session_.error(ErrorCode::not_found, "mark_input_done",
                                            "run " + run_id + " has no input " + std::to_string(position)));
    return {};
  }

  Result<std::vector<InputRecord>> do_inputs(const std::string& run_id) override {
    return rows<InputRecord>("inputs",
                             "SELECT run_id, position, source, digest, experiment, done FROM inputs "
                             "WHERE run_id = $1 ORDER BY position",
                             {run_id}, [](const PgResult& r, int i) -> Result<InputRecord> {
                               return InputRecord{.run_id = text(r, i, 0), .position = integer(r, i, 1),
                                                  .source = text(r, i, 2), .digest = text(r, i, 3),
                                                  .experiment = text(r, i, 4), .done = boolean(r, i, 5)};
                             });
  }

  Result<std::int64_t> do_record_intent(const Intent& intent) override {
    std::int64_t id = 0;
    auto done = session_.in_transaction("record_intent", [&]() -> Status {
      EXPBRIDGE_RETURN_IF_ERROR(session_.exec("record_intent", kSynced));
      EXPBRIDGE_ASSIGN_OR_RETURN(id, insert_intent(intent));
      return {};
    });
    if (!done) return std::unexpected(std::move(done).error());
    return id;
  }

  Result<std::int64_t> insert_intent(const Intent& intent) {
    auto recorded = session_.exec("record_intent",
                         "INSERT INTO intents (run_id, input_position, input_digest, experiment, backend, operation, "
                         "sequence, request_digest, idempotent, recorded_at, outcome, http_status, error, completed_at) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, '')) RETURNING id",
                         {intent.run_id, std::to_string(intent.input_position), intent.input_digest, intent.experiment,
                          intent.backend, intent.operation, std::to_string(intent.sequence), intent.request_digest,
                          boolean_text(intent.idempotent), intent.recorded_at.empty() ? store_detail::now_utc() : intent.recorded_at,
                          std::string(to_string(intent.outcome)), std::to_string(intent.http_status), intent.error,
                          intent.completed_at});
    if (!recorded)
      return std::unexpected(constraint_error(std::move(recorded).error(), "record_intent", intent.run_id, "an equal intent is already recorded"));
    return integer(*recorded, 0, 0);
  }

  Status do_record_outcome(std::int64_t intent_id, IntentOutcome outcome, int http_status,
                           std::string_view error) override {
    PgResult r;
    EXPBRIDGE_ASSIGN_OR_RETURN(
        r, session_.exec("record_outcome",
                         "UPDATE intents SET outcome = $2, http_status = $3, error = $4, completed_at = $5 WHERE id = $1",
                         {std::to_string(intent_id), std::string(to_string(outcome)), std::to_string(http_status),
                          std::string(error), store_detail::now_utc()}));
    if (Session::changed(r) == 0)
      return std::unexpected(
          session_.error(ErrorCode::not_found, "record_outcome", "no intent " + std::to_string(intent_id)));
    return {};
  }

  Result<std::vector<Intent>> do_journal(const std::string& run_id) override {
    return rows<Intent>(
        "journal",
        "SELECT id, run_id, input_position, input_digest, experiment, backend, operation, sequence, "
        "request_digest, idempotent, recorded_at, outcome, http_status, error, completed_at "
        "FROM intents WHERE run_id = $1 ORDER BY id",
        {run_id}, [this](const PgResult& r, int i) -> Result<Intent> {
          IntentOutcome outcome{};
          const auto stored = store_detail::parse_intent_outcome(text(r, i, 11));
          if (!stored)
            return std::unexpected(session_.error(ErrorCode::internal, "journal",
                                                  "unknown intent outcome `" + text(r, i, 11) + "`"));
          outcome = *stored;
          return Intent{.id = integer(r, i, 0), .run_id = text(r, i, 1), .input_position = integer(r, i, 2),
                        .input_digest = text(r, i, 3), .experiment = text(r, i, 4), .backend = text(r, i, 5),
                        .operation = text(r, i, 6), .sequence = static_cast<int>(integer(r, i, 7)),
                        .request_digest = text(r, i, 8), .idempotent = boolean(r, i, 9), .recorded_at = text(r, i, 10),
                        .outcome = outcome, .http_status = static_cast<int>(integer(r, i, 12)), .error = text(r, i, 13),
                        .completed_at = text(r, i, 14)};
        });
  }

  Status do_save_backend(const BackendRecord& record) override {
    PgResult r;
    EXPBRIDGE_ASSIGN_OR_RETURN(
        r, session_.exec("save_backend",
                         "INSERT INTO backend_records (experiment, backend, vendor, vendor_ids, read_hint, applied, "
                         "applied_at, applied_run, last_read, read_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                         "ON CONFLICT (experiment, backend) DO UPDATE SET vendor = EXCLUDED.vendor, "
                         "vendor_ids = EXCLUDED.vendor_ids, read_hint = EXCLUDED.read_hint, applied = EXCLUDED.applied, "
                         "applied_at = EXCLUDED.applied_at, applied_run = EXCLUDED.applied_run, "
                         "last_read = EXCLUDED.last_read, read_at = EXCLUDED.read_at",
                         {record.experiment, record.backend, record.vendor, store_detail::to_json_text(record.vendor_ids), store_detail::to_json_text(record.read_hint),
                          store_detail::to_json_text(record.applied), record.applied_at, record.applied_run, store_detail::to_json_text(record.last_read),
                          record.read_at}));
    return {};
  }

  Result<std::optional<BackendRecord>> do_backend(const std::string& experiment, const std::string& backend) override {
    std::vector<BackendRecord> found;
    EXPBRIDGE_ASSIGN_OR_RETURN(
        found, rows<BackendRecord>("backend",
                                   std::string(kSelectBackends).append(" WHERE experiment = $1 AND backend = $2").c_str(),
                                   {experiment, backend}, [this](const PgResult& r, int i) { return backend_row(r, i); }));
    if (found.empty()) return std::optional<BackendRecord>();
    return std::optional<BackendRecord>(std::move(found.front()));
  }

  Result<std::vector<BackendRecord>> do_backends(const std::optional<std::string>& experiment) override {
    // $2 is true when every record is asked for.
    return rows<BackendRecord>(
        "backends",
        std::string(kSelectBackends).append(" WHERE ($2::boolean OR experiment = $1) ORDER BY experiment, backend").c_str(),
        {experiment.value_or(""), boolean_text(!experiment)},
        [this](const PgResult& r, int i) { return backend_row(r, i); });
  }

  Status do_add_history(const HistoryEntry& entry) override {
    PgResult r;
    EXPBRIDGE_ASSIGN_OR_RETURN(
        r, session_.exec("add_history",
                         "INSERT INTO history (at, run_id, experiment, backend, operation, fields, outcome) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                         {entry.at.empty() ? store_detail::now_utc() : entry.at, entry.run_id, entry.experiment, entry.backend,
                          entry.operation, store_detail::to_json_text(entry.fields), entry.outcome}));
    return {};
  }

  Result<std::vector<HistoryEntry>> do_history(const std::string& experiment) override {
    return rows<HistoryEntry>(
        "history",
        "SELECT at, run_id, experiment, backend, operation, fields, outcome FROM history "
        "WHERE experiment = $1 ORDER BY at, id",
        {experiment}, [](const PgResult& r, int i) -> Result<HistoryEntry> {
          HistoryEntry entry{.at = text(r, i, 0), .run_id = text(r, i, 1), .experiment = text(r, i, 2),
                             .backend = text(r, i, 3), .operation = text(r, i, 4), .fields = {},
                             .outcome = text(r, i, 6)};
          EXPBRIDGE_ASSIGN_OR_RETURN(entry.fields, store_detail::strings_from_json_text(text(r, i, 5), "fields"));
          return entry;
        });
  }

  Result<std::vector<std::int64_t>> do_commit(std::span<const Intent> intents, const StoreWrites& with) override {
    constexpr std::string_view op = "commit";
    std::vector<std::int64_t> ids;
    auto done = session_.in_transaction(op, [&]() -> Status {
      // Synced only when it carries intents (Store's Durability): the server's WAL is written in
      // order, so the next synced commit makes this one durable too.
      if (!intents.empty()) EXPBRIDGE_RETURN_IF_ERROR(session_.exec(op, kSynced));
      for (const auto& input : with.inputs) EXPBRIDGE_RETURN_IF_ERROR(do_record_input(input));
      for (const auto& o : with.outcomes)
        EXPBRIDGE_RETURN_IF_ERROR(do_record_outcome(o.intent_id, o.outcome, o.http_status, o.error));
      for (const auto& input : with.inputs_done) EXPBRIDGE_RETURN_IF_ERROR(do_mark_input_done(input.run_id, input.position));
      for (const auto& record : with.backends) EXPBRIDGE_RETURN_IF_ERROR(do_save_backend(record));
      for (const auto& state : with.applied)
        EXPBRIDGE_RETURN_IF_ERROR(session_.exec(
            op,
            "INSERT INTO backend_records (experiment, backend, vendor, vendor_ids, read_hint, applied, applied_at, "
            "applied_run, last_read, read_at) VALUES ($1, $2, $3, '{}', '{}', $4, $5, $6, '{}', '') "
            "ON CONFLICT (experiment, backend) DO UPDATE SET vendor = EXCLUDED.vendor, applied = EXCLUDED.applied, "
            "applied_at = EXCLUDED.applied_at, applied_run = EXCLUDED.applied_run",
            {state.experiment, state.backend, state.vendor, store_detail::to_json_text(state.applied),
             state.applied_at, state.applied_run}));
      for (const auto& entry : with.history) EXPBRIDGE_RETURN_IF_ERROR(do_add_history(entry));
      for (const auto& intent : intents) {
        auto id = insert_intent(intent);
        if (!id) return std::unexpected(std::move(id).error());
        ids.push_back(*id);
      }
      return {};
    });
    if (!done) return std::unexpected(std::move(done).error());
    return ids;
  }

  Result<std::optional<ExperimentLock>> do_try_lock_experiment(const std::string& experiment) override {
    const auto key = experiment_key(experiment);
    Session session;
    auto r = on_lock_session(session, "try_lock_experiment", "SELECT pg_try_advisory_lock($1::bigint)", key);
    if (!r) return std::unexpected(std::move(r).error());
    if (!boolean(*r, 0, 0)) {
      lock_sessions_->give_back(std::move(session));  // it holds nothing
      return std::optional<ExperimentLock>();
    }
    return std::optional<ExperimentLock>(
        ExperimentLock(std::make_unique<PostgresExperimentLock>(std::move(session), key, lock_sessions_)));
  }

  Result<ExperimentLock> do_lock_experiment(const std::string& experiment) override {
    // A connection of its own: a session-level advisory lock lives as long as its connection, so
    // the lock outlives no process and no lock object, and the store's connection stays free.
    const auto key = experiment_key(experiment);
    Session session;
    // Waits under lock_timeout (busy_timeout, set by `connect`).
    if (auto locked = on_lock_session(session, "lock_experiment", "SELECT pg_advisory_lock($1::bigint)", key);
        !locked) {
      // 55P03: lock_timeout expired; anything else (a lost connection) is said as it came.
      if (locked.error().message.find("SQLSTATE 55P03") == std::string::npos)
        return std::unexpected(std::move(locked).error());
      return std::unexpected(session.error(ErrorCode::unavailable, "lock_experiment",
                                           "experiment " + experiment + " is locked by another process (waited " +
                                               std::to_string(options().busy_timeout.count()) + " ms)"));
    }
    return ExperimentLock(std::make_unique<PostgresExperimentLock>(std::move(session), key, lock_sessions_));
  }

 private:
  /// Makes the transaction it runs in wait for its WAL flush (the session's default is off).
  static constexpr const char* kSynced = "SET LOCAL synchronous_commit TO on";

  /// Runs the lock statement `sql` for `key` on a connection of its own, left in `session`:
  /// one a lock gave back, or a new one (also when the one given back has since been lost, as
  /// a server restart loses every idle connection).
  Result<PgResult> on_lock_session(Session& session, std::string_view operation, const char* sql, std::int64_t key) {
    if (auto kept = lock_sessions_->take()) {
      session = std::move(*kept);
      auto r = session.exec(operation, sql, {std::to_string(key)});
      if (r || libpq().PQstatus(session.get()) != CONNECTION_BAD) return r;
    }
    EXPBRIDGE_ASSIGN_OR_RETURN(session, connect(url_, location_, options().busy_timeout, operation));
    return session.exec(operation, sql, {std::to_string(key)});
  }

  /// The lock's key: the first 8 bytes of the experiment's SHA-256, as a signed bigint.
  static std::int64_t experiment_key(const std::string& experiment) {
    return static_cast<std::int64_t>(std::stoull(store_digest(experiment).substr(0, 16), nullptr, 16));
  }

  static constexpr std::string_view kSelectBackends =
      "SELECT experiment, backend, vendor, vendor_ids, read_hint, applied, applied_at, applied_run, last_read, read_at "
      "FROM backend_records";

  /// Each row a query returns, converted by `convert` (which fails on a value that does not parse).
  template <class T, class Convert>
  Result<std::vector<T>> rows(std::string_view operation, const char* sql, std::initializer_list<std::string> params,
                              Convert convert) {
    PgResult r;
    EXPBRIDGE_ASSIGN_OR_RETURN(r, session_.exec(operation, sql, params));
    std::vector<T> out;
    for (int i = 0; i < libpq().PQntuples(r.get()); ++i) {
      auto one = convert(r, i);
      if (!one) return std::unexpected(std::move(one).error());
      out.push_back(std::move(*one));
    }
    return out;
  }

  Result<BackendRecord> backend_row(const PgResult& r, int i) const {
    BackendRecord record;
    record.experiment = text(r, i, 0);
    record.backend = text(r, i, 1);
    record.vendor = text(r, i, 2);
    EXPBRIDGE_ASSIGN_OR_RETURN(record.vendor_ids, store_detail::string_map_from_json_text(text(r, i, 3), "vendor_ids"));
    EXPBRIDGE_ASSIGN_OR_RETURN(record.read_hint, store_detail::object_from_json_text(text(r, i, 4), "read_hint"));
    EXPBRIDGE_ASSIGN_OR_RETURN(record.applied, store_detail::object_from_json_text(text(r, i, 5), "applied"));
    record.applied_at = text(r, i, 6);
    record.applied_run = text(r, i, 7);
    EXPBRIDGE_ASSIGN_OR_RETURN(record.last_read, store_detail::object_from_json_text(text(r, i, 8), "last_read"));
    record.read_at = text(r, i, 9);
    return record;
  }

  Error no_run(std::string_view operation, const std::string& run_id) const {
    return session_.error(ErrorCode::not_found, operation, "no run " + run_id);
  }

  /// A refused insert said as the store's contract says it: an unknown run (a foreign key) or a
  /// duplicate (`duplicate` says of what); any other failure as it came.
  Error constraint_error(Error e, std::string_view operation, const std::string& run_id, const std::string& duplicate) const {
    if (e.code == ErrorCode::not_found) return no_run(operation, run_id);
    if (e.code == ErrorCode::conflict) return session_.error(ErrorCode::conflict, operation, duplicate);
    return e;
  }

  std::string url_;  // with its password, for the lock connections; never printed
  std::shared_ptr<LockSessions> lock_sessions_ = std::make_shared<LockSessions>();
  std::string location_;
  Session session_;
  int version_;
};

}  // namespace

bool is_postgres_location(std::string_view location) noexcept {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string postgres_location_without_password(std::string_view url) {
  std::string out(url);
  if (auto span = user_info_span(out)) {
    const auto colon = out.find(':', span->first);
    if (colon != std::string::npos && colon < span->second) out.erase(colon, span->second - colon);
  }
  if (auto query = out.find('?'); query != std::string::npos) {
    std::string kept;
    std::string_view rest = std::string_view(out).substr(query + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto pair = rest.substr(0, amp);
      if (!pair.starts_with("password=")) kept.append(kept.empty() ? "" : "&").append(pair);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
    out.erase(query);
    if (!kept.empty()) out += "?" + kept;
  }
  return out;
}

Result<std::unique_ptr<Store>> open_postgres_store(const StoreOptions& options) {
  std::string location = postgres_location_without_password(options.location);
  if (!is_postgres_location(options.location))
    return std::unexpected(store_error(location, ErrorCode::invalid_input, "open",
                                       "not a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE)"));
  Session session;
  EXPBRIDGE_ASSIGN_OR_RETURN(session, connect(options.location, location, options.busy_timeout, "open"));
  int version = 0;
  EXPBRIDGE_ASSIGN_OR_RETURN(version, prepare_schema(session));
  return std::unique_ptr<Store>(
      std::make_unique<PostgresStore>(options.location, std::move(location), options, std::move(session), version));
}

}  // namespace expbridge
