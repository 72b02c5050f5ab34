// expbridge — the state store: what expbridge learnt and did, per experiment and backend, and the
// journal that makes a fan-out crash-safe (nothing applied twice, nothing lost, even after
// `kill -9`). One interface, two backends: SQLite (a file, the default: `.expbridge/state.db`
// beside the config) and PostgreSQL (a `postgresql://` URL, shared by several processes and,
// later, by several `serve` replicas). Both keep the same schema and pass the same test suite
// (tests/core/store/store_conformance_test.cpp).
//
// Public methods are non-virtual: they check their arguments and stamp errors with the
// store's location, then call the protected `do_*` hook a backend implements. They may be
// called from several threads: the database operations run one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "expbridge/error.hpp"

namespace expbridge {

/// Where a store lives and how long to wait for another process that holds it.
struct StoreOptions {
  /// A file path (SQLite; its folder is created) or a `postgresql://` URL (libpq's URI form).
  std::string location;
  /// How long an operation waits for another process's lock on the same store (SQLite's busy
  /// wait, PostgreSQL's lock_timeout, and `lock_experiment`) before failing `unavailable`.
  std::chrono::milliseconds busy_timeout{10'000};
};

/// The schema version this build writes. A store with a newer one is refused (`invalid_input`,
/// naming the store and both versions): an older expbridge never writes what it does not know.
inline constexpr int kStoreSchemaVersion = 2;

/// Hex SHA-256 of `bytes`: input documents and requests are recorded by digest.
std::string store_digest(std::string_view bytes);

/// What starts a run (one `apply` or `migrate` invocation).
struct RunStart {
  std::string command;        ///< "apply", "migrate"
  std::string config_path;    ///< as given on the command line
  std::string config_digest;  ///< of the config's bytes
};

/// One run: an invocation that sends. Unfinished until `finish_run` (a crash leaves it so).
struct Run {
  std::string id;           ///< unique and sortable by start time
  std::string started_at;   ///< RFC 3339 UTC, milliseconds
  std::string finished_at;  ///< empty while unfinished
  std::string command;
  std::string config_path;
  std::string config_digest;
};

/// One input of a run: an update document, or one line of a stream.
struct InputRecord {
  std::string run_id;
  std::int64_t position = 0;  ///< 0-based, in input order (file index, or stream line index)
  std::string source;         ///< the file name, or `-:LINE`
  std::string digest;         ///< of the input's bytes: a resumed run refuses a different input
  std::string experiment;
  bool done = false;          ///< every request it planned has an outcome
};

/// What became of a mutating request recorded as an intent.
enum class IntentOutcome {
  pending,             ///< recorded, no answer recorded: a crash, an answer that never came, or in flight
  succeeded,           ///< the vendor answered success
  failed,              ///< the vendor refused it, or it cannot have reached the vendor
  reconciled_applied,  ///< resumed: a read found its effect at the vendor, so it was not resent
  reconciled_absent,   ///< resumed: a read found no effect, so it was sent again (a new intent)
};
std::string_view to_string(IntentOutcome outcome) noexcept;

/// A mutating request, committed durably BEFORE it is sent, and completed after its answer.
struct Intent {
  std::int64_t id = 0;  ///< assigned by `record_intent`
  std::string run_id;
  std::int64_t input_position = 0;
  std::string input_digest;
  std::string experiment;
  std::string backend;
  std::string operation;       ///< the vendor operation, e.g. StartExperimentRun
  int sequence = 0;            ///< its index among the input's requests to this backend
  std::string request_digest;  ///< of method, URL and body; never of headers (credentials)
  bool idempotent = true;
  std::string recorded_at;
  IntentOutcome outcome = IntentOutcome::pending;
  int http_status = 0;         ///< the last status answered, 0 when none
  std::string error;           ///< a scrubbed message when failed
  std::string completed_at;
};

/// What the store knows of one experiment at one backend.
struct BackendRecord {
  std::string experiment;
  std::string backend;
  std::string vendor;
  /// Ids learnt at run time: the current AppConfig run, LaunchDarkly iteration and treatment
  /// ids, ids a migration created. A binding in the config always wins over these.
  std::map<std::string, std::string> vendor_ids;
  boost::json::object read_hint;  ///< the last read's VendorState::detail (next read's hint)
  boost::json::object applied;    ///< the last applied neutral state (experiment_state_json)
  std::string applied_at;
  std::string applied_run;
  boost::json::object last_read;  ///< the last read's neutral state, with its status
  std::string read_at;
};

/// One change, as `history` lists it.
struct HistoryEntry {
  std::string at;
  std::string run_id;
  std::string experiment;
  std::string backend;
  std::string operation;
  std::vector<std::string> fields;  ///< the neutral fields (and action.<name>) it carried
  std::string outcome;              ///< "ok", "failed: …", "unchanged", "reconciled: applied"
};

/// What an answered request became: an intent's outcome, as `StoreWrites` carries it.
struct OutcomeRecord {
  std::int64_t intent_id = 0;
  IntentOutcome outcome = IntentOutcome::succeeded;
  int http_status = 0;  ///< the last status answered, 0 when none
  std::string error;    ///< a scrubbed message when failed
};

/// An input that every request it planned has an outcome for.
struct InputDone {
  std::string run_id;
  std::int64_t position = 0;
};

/// What an update applied at a backend: sets those columns of its record (creating the record
/// if there is none), and leaves what reads learnt (ids, hint, last read) as it is.
struct AppliedState {
  std::string experiment;
  std::string backend;
  std::string vendor;
  boost::json::object applied;
  std::string applied_at;
  std::string applied_run;
};

/// Writes committed together in one transaction: all of them, or none. In the order the
/// members are declared; an outcome may complete an intent committed in the same call.
struct StoreWrites {
  std::vector<InputRecord> inputs;
  std::vector<OutcomeRecord> outcomes;
  std::vector<InputDone> inputs_done;
  std::vector<BackendRecord> backends;  ///< each inserted or replaced
  std::vector<AppliedState> applied;
  std::vector<HistoryEntry> history;
  bool empty() const noexcept;
};

class Store {
 public:
  /// Opens (and creates or migrates) the store at `options.location`. A file that is not a
  /// database, a schema newer than this build, a server that refuses the connection: a clear
  /// error naming the store, and nothing changed.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  virtual ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// Where it is, for messages: a path, or the URL without its password.
  const std::string& location() const noexcept { return location_; }
  int schema_version() const;
  /// How long an operation waits for another process (StoreOptions::busy_timeout).
  std::chrono::milliseconds busy_timeout() const noexcept { return options_.busy_timeout; }

  // ---- runs and their inputs
  Result<Run> begin_run(const RunStart& start);
  Status finish_run(const std::string& run_id);
  /// The latest run not finished for `config_path` (what `--resume` continues), if any.
  Result<std::optional<Run>> last_unfinished_run(const std::string& config_path);
  Status record_input(const InputRecord& input);
  Status mark_input_done(const std::string& run_id, std::int64_t position);
  Result<std::vector<InputRecord>> inputs(const std::string& run_id);

  // ---- the journal
  //
  // Durability: an intent is durable (committed with a full sync: SQLite's synchronous=FULL,
  // PostgreSQL's synchronous_commit=on) before the call returns, for its request may leave only
  // then. Every other write is committed without a sync of its own: a kill -9 loses none of it
  // (the operating system or the server holds it), and it becomes durable with the next intent,
  // which syncs the one log they are written to in order, or when the system writes it back. A
  // power cut can lose only the newest of them, and what it can lose is safe to lose: an
  // outcome lost leaves its intent pending, which `--resume` settles by reading the vendor; an
  // input not marked done is applied again, converging to nothing to send; a run not marked
  // finished is one `--resume` can still continue.

  /// Durable before it returns: only then may the request leave.
  Result<std::int64_t> record_intent(const Intent& intent);
  /// `intents` durable before it returns, committed in one transaction with `with` (written
  /// first): one sync for a whole fan-out, and for what was waiting to be written. Their ids,
  /// in order. Nothing is committed if anything fails.
  Result<std::vector<std::int64_t>> record_intents(std::span<const Intent> intents, const StoreWrites& with = {});
  Status record_outcome(std::int64_t intent_id, IntentOutcome outcome, int http_status, std::string_view error);
  /// `writes` in one transaction, without a sync of its own (see Durability above).
  Status write(const StoreWrites& writes);
  Result<std::vector<Intent>> journal(const std::string& run_id);

  // ---- per experiment and backend
  Status save_backend(const BackendRecord& record);  ///< insert or replace
  Result<std::optional<BackendRecord>> backend(const std::string& experiment, const std::string& backend);
  /// Every record, or those of `experiment`; ordered by experiment, then backend.
  Result<std::vector<BackendRecord>> backends(const std::optional<std::string>& experiment = std::nullopt);
  Status add_history(const HistoryEntry& entry);
  /// Oldest first.
  Result<std::vector<HistoryEntry>> history(const std::string& experiment);

  // ---- serialising processes per experiment
  /// Held while one process applies `experiment`: another process's `lock_experiment` of the
  /// same experiment waits (up to busy_timeout, then `unavailable` naming the store and the
  /// experiment); different experiments proceed at once. Released by the destructor, and by the
  /// operating system or server when the process dies (a kill -9 leaves no stale lock).
  class ExperimentLock {
   public:
    struct Holder {
      virtual ~Holder() = default;
    };
    explicit ExperimentLock(std::unique_ptr<Holder> holder) : holder_(std::move(holder)) {}
    ExperimentLock(ExperimentLock&&) noexcept = default;
    ExperimentLock& operator=(ExperimentLock&&) noexcept = default;

   private:
    std::unique_ptr<Holder> holder_;
  };
  Result<ExperimentLock> lock_experiment(const std::string& experiment);
  /// The lock if no other process holds it, at once, else none: for a caller that waits
  /// without blocking its thread (the applier's event loop polls it on a timer).
  Result<std::optional<ExperimentLock>> try_lock_experiment(const std::string& experiment);

 protected:
  Store(std::string location, StoreOptions options);

  virtual int do_schema_version() const = 0;
  virtual Result<Run> do_begin_run(const RunStart& start) = 0;
  virtual Status do_finish_run(const std::string& run_id) = 0;
  virtual Result<std::optional<Run>> do_last_unfinished_run(const std::string& config_path) = 0;
  virtual Status do_record_input(const InputRecord& input) = 0;
  virtual Status do_mark_input_done(const std::string& run_id, std::int64_t position) = 0;
  virtual Result<std::vector<InputRecord>> do_inputs(const std::string& run_id) = 0;
  virtual Result<std::int64_t> do_record_intent(const Intent& intent) = 0;
  virtual Status do_record_outcome(std::int64_t intent_id, IntentOutcome outcome, int http_status,
                                   std::string_view error) = 0;
  virtual Result<std::vector<Intent>> do_journal(const std::string& run_id) = 0;
  virtual Status do_save_backend(const BackendRecord& record) = 0;
  virtual Result<std::optional<BackendRecord>> do_backend(const std::string& experiment, const std::string& backend) = 0;
  virtual Result<std::vector<BackendRecord>> do_backends(const std::optional<std::string>& experiment) = 0;
  virtual Status do_add_history(const HistoryEntry& entry) = 0;
  virtual Result<std::vector<HistoryEntry>> do_history(const std::string& experiment) = 0;
  virtual Result<ExperimentLock> do_lock_experiment(const std::string& experiment) = 0;
  virtual Result<std::optional<ExperimentLock>> do_try_lock_experiment(const std::string& experiment) = 0;
  /// `with`, then `intents`, in one transaction; synced before it returns when `intents` is
  /// not empty. Their ids in order.
  virtual Result<std::vector<std::int64_t>> do_commit(std::span<const Intent> intents, const StoreWrites& with) = 0;

  const StoreOptions& options() const noexcept { return options_; }

 private:
  /// `e` naming this store (its location), unless it already names one.
  Error located(Error e) const;

  std::string location_;
  StoreOptions options_;
  /// Held by each public database operation: a store may be used from two threads (the
  /// applier's event loop and its store writer), one call at a time.
  std::mutex calls_;
};

}  // namespace expbridge
