// expbridge — the embedded state store: one SQLite file (WAL; intents synced, see Store), per-experiment
// locks as flock()ed files beside it. Opened through `Store::open` with a file path.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "expbridge/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace expbridge {

class SqliteStore final : public Store {
 public:
  /// Prefer `Store::open`; this is what it calls for a path.
  static Result<std::unique_ptr<SqliteStore>> open(const StoreOptions& options);
  ~SqliteStore() override;

  /// The value of `PRAGMA name` on this store's connection (`journal_mode`, `synchronous`): for
  /// tests and diagnostics, since some of these are per connection and invisible from outside.
  Result<std::string> pragma(std::string_view name);

 protected:
  int do_schema_version() const override;
  Result<Run> do_begin_run(const RunStart& start) override;
  Status do_finish_run(const std::string& run_id) override;
  Result<std::optional<Run>> do_last_unfinished_run(const std::string& config_path) override;
  Status do_record_input(const InputRecord& input) override;
  Status do_mark_input_done(const std::string& run_id, std::int64_t position) override;
  Result<std::vector<InputRecord>> do_inputs(const std::string& run_id) override;
  Result<std::int64_t> do_record_intent(const Intent& intent) override;
  Status do_record_outcome(std::int64_t intent_id, IntentOutcome outcome, int http_status,
                           std::string_view error) override;
  Result<std::vector<Intent>> do_journal(const std::string& run_id) override;
  Status do_save_backend(const BackendRecord& record) override;
  Result<std::optional<BackendRecord>> do_backend(const std::string& experiment, const std::string& backend) override;
  Result<std::vector<BackendRecord>> do_backends(const std::optional<std::string>& experiment) override;
  Status do_add_history(const HistoryEntry& entry) override;
  Result<std::vector<HistoryEntry>> do_history(const std::string& experiment) override;
  Result<ExperimentLock> do_lock_experiment(const std::string& experiment) override;
  Result<std::optional<ExperimentLock>> do_try_lock_experiment(const std::string& experiment) override;
  Result<std::vector<std::int64_t>> do_commit(std::span<const Intent> intents, const StoreWrites& with) override;

 private:
  class Statement;
  SqliteStore(const StoreOptions& options, sqlite3* db, int schema_version);

  /// The cached prepared statement for `sql` (a string literal), reset and ready to bind.
  Result<Statement> statement(const char* sql);
  /// The same with `values` bound to ?1, ?2, ...
  template <class... Values>
  Result<Statement> bound(const char* sql, const Values&... values);
  Error sqlite_error(int rc, std::string_view what) const;

  // One write each, in the caller's transaction (or autocommit), with `mutex_` held.
  Status insert_input(const InputRecord& input);
  Result<std::int64_t> insert_intent(const Intent& intent);
  Status update_outcome(const OutcomeRecord& outcome);
  Status set_input_done(const InputDone& done);
  Status upsert_backend(const BackendRecord& record);
  Status upsert_applied(const AppliedState& state);
  Status insert_history(const HistoryEntry& entry);
  /// `body` in one IMMEDIATE transaction, rolled back if it fails; with `durable`, the commit
  /// is synced (synchronous=FULL for it; the connection's default is NORMAL).
  template <class Body>
  auto in_transaction(bool durable, std::string_view what, Body&& body) -> decltype(body());
  /// The open file of `experiment`'s lock, to flock().
  Result<int> open_lock_file(const std::string& experiment);

  sqlite3* db_;
  int schema_version_;
  std::mutex mutex_;  // one connection: statements are bound, stepped and reset one at a time
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace expbridge
