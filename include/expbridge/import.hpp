// expbridge — importing a vendor's saved files (CLI output, Terraform state, templates) into
// neutral update documents, offline: `expbridge import VENDOR FILES... --out DIR`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "expbridge/error.hpp"
#include "expbridge/mapping.hpp"
#include "expbridge/migration.hpp"
#include "expbridge/model.hpp"

namespace expbridge {

/// One file to import. The importer tells its kind from its content, never from its name.
struct ImportFile {
  std::string source;               ///< the path (read from there) or, with `text`, a name for messages
  std::optional<std::string> text;  ///< the content, when it is not to be read from `source`
};

/// One rule of an import (`import.rules.<id>` of the vendor's mapping table): how a value of the
/// vendor's saved files becomes a neutral one (`converted`), or why it has nowhere to go
/// (`lost`). The loss report names it as `<vendor>.<id>`.
struct ImportRuleSpec {
  std::string id;
  /// The neutral field it gives (`variations.weight`, `exposure`, `action`), or for a loss the
  /// vendor's own name (`evidently.metricGoals`).
  std::string field;
  Carriage carriage = Carriage::converted;  ///< converted or lost
  std::string what;    ///< the conversion, for people (units, types, enum values)
  std::string why;     ///< why it is done so
  std::string reason;  ///< lost: the reason the loss report gives
  /// A worked example the importer must reproduce: `{files: [{name, json | text}], experiment,
  /// from?, to?}` — importing `files` gives `experiment` an entry of this rule with these values.
  boost::json::object example;
};

/// What an importer is given besides the files.
struct ImportOptions {
  /// The vendor's mapping table (its scales and enums). Never null.
  std::shared_ptr<const MappingTable> table;
  /// The table's `import.rules`: every conversion the importer makes and every loss's reason.
  std::vector<ImportRuleSpec> rules;

  /// The rule `id`, or an internal error (an importer/table mismatch).
  Result<const ImportRuleSpec*> rule(std::string_view id) const;
};

/// One neutral experiment found in the files.
struct ImportedExperiment {
  std::string key;  ///< the neutral key (unique within one import; a file name of the import folder)
  /// Every field the source holds, `status` giving the document's action (running → start,
  /// stopped → stop with the result, draft → none); `vendor_ids` unused.
  Experiment experiment;
  /// `source`: where it came from, as the vendor names it (`{vendor, project, feature, ...}`).
  boost::json::object source;
  /// The partial binding any target's `Adapter::create` understands (`CreateSpec::binding`):
  /// at least `flag`, the key of the feature flag the experiment runs on.
  boost::json::object create;
};

/// A note about the files that concerns no one experiment's field (a reference left
/// unresolved outside any experiment, a duplicate resource, a summary that lacks members).
struct ImportNote {
  std::string source;  ///< `file:line:column` or `file`
  std::string message;
};

/// What one import found: the experiments, what became of each of their fields, and notes.
struct ImportResult {
  std::vector<ImportedExperiment> experiments;  ///< in key order
  LossReport losses;
  std::vector<ImportNote> notes;
};

/// A vendor's importer. Sends nothing. A file of no known kind, or one that cannot be read as
/// its kind (truncated, another format version, a reference cycle), is an invalid_input error
/// naming the file and, where there is one, the line and column; nothing is imported then.
using Importer = std::function<Result<ImportResult>(const std::vector<ImportFile>& files, const ImportOptions& options)>;

class Registry;

/// A vendor that can import, and its importer.
struct VendorImporter {
  std::string vendor;
  Importer importer;
};

/// The built-in importers (adapters/builtin.cpp, beside the built-in vendors).
const std::vector<VendorImporter>& builtin_importers();

/// `import.rules` of `vendor`'s mapping table, from where `load_mapping_table` would read the
/// table (`<mappings_dir>/<vendor>.yaml`, the vendor's own table in `registry`, the embedded
/// one); empty when the table has no `import:` section.
Result<std::vector<ImportRuleSpec>> load_import_rules(std::string_view vendor, const std::string& mappings_dir = {},
                                                      const Registry* registry = nullptr);

/// Imports `files` with `vendor`'s importer (from `importers`) and its mapping table
/// (`load_mapping_table` and `load_import_rules`: `mappings_dir` first, then `registry`). A vendor
/// without an importer is an invalid_input error listing the vendors that have one.
Result<ImportResult> import_vendor_files(std::string_view vendor, const std::vector<ImportFile>& files,
                                         const std::vector<VendorImporter>& importers, const Registry* registry = nullptr,
                                         const std::string& mappings_dir = {});

/// Writes an import folder: `DIR/<key>.yaml` (one update document per experiment, the update
/// schema of `parse_update`), `DIR/bindings.yaml` (`experiments: {<key>: {source, create}}`),
/// `DIR/loss-report.json` and `DIR/loss-report.txt`. A key that cannot be a file of the folder
/// (empty, `.`, `..`, `bindings`, a path separator) is refused before anything is written.
///
/// `DIR` is created when missing. A non-empty `DIR` is written only when it is an earlier
/// import folder (it holds `bindings.yaml` and `loss-report.json`, and nothing but `*.yaml`
/// and `loss-report.*` files): its `*.yaml` and `loss-report.*` files are replaced, so no
/// experiment of the earlier import lingers. Anything else is an invalid_input error naming the
/// folder and the file that makes it foreign; nothing is written then.
Status write_import_folder(const std::string& dir, const ImportResult& result);

/// The update document of one imported experiment (what `write_import_folder` writes as YAML).
boost::json::object imported_update_document(const ImportedExperiment& experiment);

}  // namespace expbridge
