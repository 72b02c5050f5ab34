// expbridge — migrate: move experiments from one backend (or an import folder) to another,
// creating them where the target has no binding, converging them where it has one, and saying
// field by field what carries over (the loss report of migration.hpp).
#pragma once

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
};

/// An import folder: `<key>.yaml` update documents, `bindings.yaml`
/// (`experiments: {<key>: {source: {...}, create: {...}}}`) and `loss-report.json`.
struct ImportFolder {
  std::string dir;
  std::vector<FolderExperiment> experiments;  ///< in key order
  LossReport losses;                            ///< the import's own (`loss-report.json`), if any
  const FolderExperiment* find(std::string_view key) const;
};

/// Reads an import folder. Errors name the file, position and field: a document that does not
/// parse, a key that differs from its file name, a member of `bindings.yaml` or of the loss report
/// it does not know.
Result<ImportFolder> read_import_folder(const std::string& dir);

/// How a migration runs.
struct MigrateOptions {
  /// A backend name of the config, or (a folder that exists) an import folder.
  std::string from;
  /// The backend to migrate to.
  std::string to;
  /// The experiments' keys; empty with `all`: every experiment the source holds (bound to the
  /// source backend in the config, or every document of the folder).
  std::vector<std::string> experiments;
  bool all = false;
  /// False (the default): a plan. Only reads are sent (the source, the target, a create's GETs).
  bool apply = false;
  /// Lost fields accepted (`--accept-loss`); a name accepts every path under it.
  std::vector<std::string> accept_loss;
  /// The options `bridge` was built with (its registry, its tables): the bridge with the
  /// bindings a store recorded is built with them too.
  BridgeOptions bridge_options;
  /// The config's text, where the bindings a store recorded are added to build the bridge the
  /// target is converged with; empty: the file `bridge.source()` names.
  std::string config_text;
  /// How requests are sent: environment, HTTP client, store, run (as for `apply`).
  /// `plan.backends` is set by the migration.
  ApplyOptions apply_options;
};

/// What happened to one experiment.
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
  /// `apply` refused the experiment for them: nothing was sent for it.
  bool refused = false;
  /// The target's part: the requests planned or sent, skips, journal, its error.
  BackendReport target;
  /// A create's plan: what its later steps would send.
  std::vector<std::string> then;
  /// A create that finished: the new binding (recorded in the store; `--write-config` writes it).
  std::optional<boost::json::object> binding;
  bool unsettled = false;
  /// Nothing failed, nothing was refused.
  bool ok() const;
};

/// A whole migration.
struct MigrationReport {
  std::string from;
  std::string to;
  bool applied = false;  ///< `apply` was asked for
  std::vector<ExperimentMigration> experiments;
  /// Per experiment and field, from the source stage (an import's loss report) and the target
  /// stage (a create's carriage, a converging plan's carried and skipped fields).
  LossReport losses;
  bool ok() const;
  /// The bindings created now, per experiment (at `to`).
  std::vector<std::pair<std::string, boost::json::object>> created_bindings() const;
};

/// Runs a migration on `bridge`'s config. Fails only when it cannot start (an unknown backend,
/// an unreadable folder, an experiment the source does not have, a store that cannot be read);
/// what goes wrong for one experiment is in its entry, and the others proceed.
Result<MigrationReport> migrate(const Bridge& bridge, const MigrateOptions& options);

/// `{"from", "to", "applied", "experiments": [{"experiment", "way", "binding_from_store"?,
/// "error"?, "refused_losses"?, "target": <backend report>, "then"?, "binding"?}],
/// "losses": loss_report_to_json}`.
boost::json::value migration_report_to_json(const MigrationReport& report);
/// Per experiment: how, what would be (or was) sent, the then-lines, the refusal; then the loss
/// report (`loss_report_to_text`).
std::string migration_report_to_text(const MigrationReport& report);

/// The config `config_text` (YAML or JSON) with `bindings` added under
/// `experiments.<key>.<backend>`, as YAML. Comments of the input are not kept.
Result<std::string> config_with_bindings(std::string_view config_text, const std::string& source,
                                         const std::string& backend,
                                         const std::vector<std::pair<std::string, boost::json::object>>& bindings);

}  // namespace expbridge
