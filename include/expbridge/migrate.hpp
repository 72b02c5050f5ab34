// expbridge — migrate: move experiments from one backend (or an import folder) to another,
// creating them where the target has no binding, converging them where it has one, and saying
// field by field what carries over (the loss report of migration.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/error.hpp"
#include "expbridge/migration.hpp"
#include "expbridge/model.hpp"

namespace expbridge {

/// The update that brings a backend to `state`: its fields, and the action its status implies
/// (running → start, paused → pause, stopped → stop with its result, archived → archive, draft or
/// none → no action). A result held by an experiment that is not stopped has no place in an
/// update (`result` goes only with `action: stop`): it is left out, and `migrate` reports it lost.
Update update_from_state(const Experiment& state);

/// The state an update document of an import folder describes: its fields, and the status its
/// action says the source was in (start → running, pause → paused, stop → stopped, archive →
/// archived, none → draft).
Experiment state_from_update(const Update& update);

/// One experiment of an import folder (`expbridge import`'s output).
struct FolderExperiment {
  std::string file;       ///< `DIR/<key>.yaml`
  Update update;          ///< the document as written
  Experiment state;       ///< `state_from_update(update)`
  /// `bindings.yaml`'s `experiments.<key>.create`: the partial binding for any target (may be empty).
  boost::json::object create;
  /// The import's own loss report (`loss-report.json`) for this experiment.
  std::vector<FieldCarriage> losses;
};

/// An import folder: `<key>.yaml` update documents, `bindings.yaml`
/// (`experiments: {<key>: {source: {...}, create: {...}}}`) and `loss-report.json`, opened for
/// reading one experiment at a time: the documents are listed, and each is parsed by `load`,
/// so what a migration holds does not grow with the folder's documents. `open_import_folder`
/// checks every entry of `bindings.yaml` and of the loss report; `load` keeps their entries of a
/// window of keys around the one it loads, read again from the files when it moves on (once per
/// `kWindow` keys in key order), so neither does what it holds grow with them. `load` is called
/// from one thread at a time.
class ImportFolder {
 public:
  const std::string& dir() const { return dir_; }
  /// The experiments' keys (the documents' file names without `.yaml`), sorted.
  const std::vector<std::string>& keys() const { return keys_; }
  bool contains(std::string_view key) const;
  /// Parses `DIR/<key>.yaml`. Errors name the file, position and field, or a key that differs
  /// from its file name.
  Result<FolderExperiment> load(const std::string& key) const;

 private:
  friend Result<ImportFolder> open_import_folder(const std::string& dir);
  std::string dir_;
  std::vector<std::string> keys_;
  std::string bindings_, loss_report_;  ///< their paths; empty: the folder has none
  static constexpr std::size_t kWindow = 1000;
  /// The `create` members and loss-report entries of `keys_[window_begin_, window_end_)` (and of
  /// any experiment between those keys).
  mutable std::size_t window_begin_ = 0, window_end_ = 0;
  mutable std::map<std::string, boost::json::object, std::less<>> creates_;
  mutable std::map<std::string, std::vector<FieldCarriage>, std::less<>> losses_;
  /// `check_all`: every entry parsed and checked (at open), not only the window's.
  Status read_window(std::size_t begin, bool check_all) const;
};

/// Opens an import folder: lists its documents, reads `bindings.yaml` and `loss-report.json`.
/// Errors name the file, position and field: a member of `bindings.yaml` or of the loss report it
/// does not know, an experiment of `bindings.yaml` with no document.
Result<ImportFolder> open_import_folder(const std::string& dir);

/// What happened to one experiment at one target.
struct ExperimentMigration {
  std::string experiment;
  /// How: `create` (the target has no binding), `converge` (it has one: the config's, or one a
  /// store recorded from an earlier migration, then `binding_from_store`).
  enum class Way { create, converge };
  Way way = Way::create;
  bool binding_from_store = false;
  /// Why nothing was done (the source could not be read, the create is impossible, a pending
  /// create in the journal), when that is so.
  std::optional<Error> error;
  /// Lost fields `accept_loss` does not accept (a plan lists them too).
  std::vector<std::string> unaccepted_losses;
  /// `apply` refused the experiment at this target for them: nothing was sent for it there.
  bool refused = false;
  /// The target's part: its name (`target.backend`), the requests planned or sent, skips,
  /// journal, its error.
  BackendReport target;
  /// A create's plan: what its later steps would send.
  std::vector<std::string> then;
  /// A create that finished: the new binding (recorded in the store; `--write-config` writes it).
  std::optional<boost::json::object> binding;
  bool unsettled = false;
  /// What carries over to this target, per field: the source stage's (an import's loss report)
  /// and this target's (a create's carriage, a converging plan's carried and skipped fields).
  LossReport losses;
  /// Nothing failed, nothing was refused.
  bool ok() const;
};

/// Counts over a migration's entries (one per experiment and target).
struct MigrationSummary {
  std::int64_t experiments = 0;  ///< experiments taken from the source
  std::int64_t entries = 0;      ///< (experiment, target) entries finished
  std::int64_t ok = 0;           ///< entries with nothing failed or refused
  std::int64_t failed = 0;       ///< entries with an error, a failed request, or unsettled
  std::int64_t refused = 0;      ///< entries `apply` refused for an unaccepted loss
  std::int64_t created = 0;      ///< creates that finished with a binding
  std::int64_t converged = 0;    ///< converging entries that sent what differed
  std::int64_t unchanged = 0;    ///< converging entries with nothing to send
  std::int64_t planned = 0;      ///< a plan: entries with requests that --apply would send
  std::int64_t requests_sent = 0;  ///< requests that reached the targets (creates and updates)
};

/// A binding a migration created (kept with `MigrateOptions::keep_created_bindings`).
struct CreatedBinding {
  std::string experiment;
  std::string backend;
  boost::json::object binding;
};

/// A whole migration: its summary, not its entries (they go to `MigrateOptions::sink`).
struct MigrationReport {
  std::string from;
  std::vector<std::string> to;
  bool applied = false;  ///< `apply` was asked for
  /// Experiments times targets: the entries to come, known once the source is listed.
  std::int64_t entries_expected = 0;
  MigrationSummary summary;
  /// The pacing (rate-limit pauses, concurrency) of the targets and of a source backend, in
  /// config order.
  std::vector<BackendPacing> pacing;
  /// With `keep_created_bindings`: the bindings created now, in input order.
  std::vector<CreatedBinding> created;
  /// With `apply` and a store: earlier migrations of this config left unfinished (killed, or an
  /// answer that never came) that this one finished, having settled every input they left (the
  /// same experiment migrated from the same source to the same target, now ok). Oldest last.
  std::vector<std::string> finished_earlier_runs;
  bool ok() const;  ///< every entry ok
  /// The bindings created now at `backend`, per experiment.
  std::vector<std::pair<std::string, boost::json::object>> created_bindings(std::string_view backend) const;
};

/// How a migration runs.
struct MigrateOptions {
  /// A backend name of the config, or (a folder that exists) an import folder.
  std::string from;
  /// The backends to migrate to: each experiment goes to each, in this order.
  std::vector<std::string> to;
  /// The experiments' keys; empty with `all`: every experiment the source holds (bound to the
  /// source backend in the config, or every document of the folder).
  std::vector<std::string> experiments;
  bool all = false;
  /// False (the default): a plan. Only reads are sent (the source, the target, a create's GETs).
  bool apply = false;
  /// Lost fields accepted (`--accept-loss`); a name accepts every path under it.
  std::vector<std::string> accept_loss;
  /// Experiments in flight at once (1..256): their source reads and target work overlap on one
  /// event loop, so each backend's pacer can fill its budget. An experiment's steps (its source
  /// read, then each target in turn) go one after another.
  int parallel = 1;
  /// Keep each created binding in `MigrationReport::created` (`--write-config`); else the report
  /// does not grow with the count.
  bool keep_created_bindings = false;
  /// Receives each finished entry (experiment-major, then `to` order, whatever order they finish
  /// in), with the report so far (its summary counts the entry). Called on the thread that calls
  /// `migrate`. Empty: entries are counted and dropped.
  std::function<void(ExperimentMigration, const MigrationReport&)> sink;
  /// Called once the source is listed, before the first entry (`entries_expected` known), on the
  /// thread that calls `migrate`. Empty: nothing.
  std::function<void(const MigrationReport&)> started;
  /// The options `bridge` was built with (its registry, its tables): the bridge with the
  /// bindings a store recorded is built with them too.
  BridgeOptions bridge_options;
  /// The config's text, where the bindings a store recorded are added to build the bridge the
  /// target is converged with; empty: the file `bridge.source()` names.
  std::string config_text;
  /// How requests are sent: environment, HTTP client, store, run (as for `apply`).
  /// `plan.backends` (the targets and a source backend) and `parallel_updates` are set by the
  /// migration: one Applier runs every experiment's source read and target work.
  ApplyOptions apply_options;
};

/// Runs a migration on `bridge`'s config. Fails only when it cannot start (an unknown backend,
/// an unreadable folder, an experiment the source does not have, a store that cannot be read,
/// `parallel` out of range); what goes wrong for one entry is in it, and the others proceed.
Result<MigrationReport> migrate(const Bridge& bridge, const MigrateOptions& options);

/// An entry: `{"experiment", "target", "way", "ok", "binding_from_store"?, "error"?,
/// "unaccepted_losses"?, "refused"?, "report": <backend report>, "then"?, "binding"?,
/// "unsettled"?, "losses": [<FieldCarriage objects of loss_report_to_json>]}`.
boost::json::value migration_entry_to_json(const ExperimentMigration& entry);
/// `{"experiments", "entries", "ok", "failed", "refused", "created", "converged", "unchanged",
/// "planned", "requests_sent", "rate_limit_waits": {<backend>: {"paused_ms", "pauses",
/// "throttled", "most_concurrency"}}}`.
boost::json::value migration_summary_to_json(const MigrationReport& report);
/// "migrate SRC -> T1, T2: applied" (or a plan's words), the first line of the text output.
std::string migration_heading_text(const MigrationReport& report);
/// One entry: how, what would be (or was) sent, the then-lines, the refusal, what carries over.
/// `reasons`: each skip reason once per run (nullptr: this entry alone).
std::string migration_entry_to_text(const ExperimentMigration& entry, bool applied, SkipReasonIndex* reasons);
/// The closing lines: the counts of the summary.
std::string migration_summary_text(const MigrationReport& report);

/// The config `config_text` (YAML or JSON) with `bindings` added under
/// `experiments.<key>.<backend>`, as YAML. Comments of the input are not kept.
Result<std::string> config_with_bindings(std::string_view config_text, const std::string& source,
                                         const std::string& backend,
                                         const std::vector<std::pair<std::string, boost::json::object>>& bindings);

}  // namespace expbridge
