// Importing what Evidently users saved (AWS CLI/SDK JSON, Terraform state v4, CloudFormation
// templates) into neutral documents. Each reader turns one kind of file into the resources it
// describes, in Evidently's own terms (`Saved*`); one conversion then makes neutral experiments
// of them, every step a rule of mappings/evidently.yaml `import:`.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "document.hpp"
#include "expbridge/import.hpp"

namespace expbridge::evidently_import {

/// A value of the source with no neutral field (or one a rule drops), reported as `lost`.
struct SavedLoss {
  std::string field;   ///< `evidently.metricGoals`, `overrides.user-1`, ...
  std::string rule;    ///< the `import.rules` id giving the reason
  std::string source;  ///< `file:line:column`
  std::string detail;  ///< appended to the rule's reason (a member name, a reference)
};

/// A VariableValue: exactly one of boolValue, longValue, doubleValue, stringValue.
struct SavedValue {
  std::string type;  ///< the API member name: `boolValue`, `longValue`, `doubleValue`, `stringValue`
  boost::json::value value;
};

struct SavedVariation {
  std::string name;
  std::optional<SavedValue> value;
};

struct SavedFeature {
  std::string project, name, source;
  std::optional<std::string> description, default_variation, evaluation_strategy;
  std::optional<std::vector<SavedVariation>> variations;  ///< none: a list-features summary
  std::optional<std::vector<std::pair<std::string, std::string>>> overrides;
  std::vector<SavedLoss> losses;
};

struct SavedTreatment {
  std::string name, feature, variation;
  std::optional<std::string> description;
  /// Further features the treatment sets (an experiment may span several): feature → variation.
  std::vector<std::pair<std::string, std::string>> other_features;
};

struct SavedExperiment {
  std::string project, name, source;
  std::optional<std::string> description;
  std::vector<SavedTreatment> treatments;
  std::optional<std::string> control;  ///< controlTreatmentName
  std::optional<std::vector<std::pair<std::string, double>>> weights;  ///< treatment → thousandths
  std::optional<double> sampling_rate;                                 ///< thousandths
  std::optional<std::string> status;  ///< CREATED, RUNNING, UPDATING, COMPLETED, CANCELLED
  std::optional<std::string> status_reason;
  std::vector<SavedLoss> losses;
};

struct SavedLaunch {
  std::string project, name, source;
  std::vector<std::string> features;  ///< the features its groups serve
};

/// Everything the files describe, in the order read.
struct Inventory {
  std::vector<SavedFeature> features;
  std::vector<SavedExperiment> experiments;
  std::vector<SavedLaunch> launches;
  std::vector<ImportNote> notes;
};

/// Walks one resource's members so that none goes unaccounted: a reader takes what it converts,
/// names what the vendor derives (ARNs, times, counts), loses what has no neutral field, and
/// `finish` reports whatever is left as an unknown member, lost. Empty values (null, "", [], {})
/// hold nothing and are never reported.
class MemberWalk {
 public:
  MemberWalk(const Document& doc, const boost::json::object& object, std::string path, std::vector<SavedLoss>& losses)
      : doc_(doc), object_(object), path_(std::move(path)), losses_(losses) {}

  /// The member, or nullptr when it is absent or empty; marks it used.
  const boost::json::value* take(std::string_view key);
  /// A string member (absent or empty: none); another type is an error naming it.
  Result<std::optional<std::string>> string(std::string_view key);
  Result<std::string> required_string(std::string_view key);
  /// A number member (absent: none); a numeric string counts (Terraform keeps some as text).
  Result<std::optional<double>> number(std::string_view key);
  /// What every feature and experiment starts with: where it is, its name, its project (the
  /// `project` member, a name or an ARN, else the resource's own ARN) and its description.
  Status identity(std::string& source, std::string& name, std::string& project, std::optional<std::string>& description);
  /// Members the vendor derives or that say nothing of the experiment: used, nothing carried.
  void derived(std::initializer_list<std::string_view> keys);
  /// A member with no neutral field: when it holds something, lost as `field` by `rule`.
  void lose(std::string_view key, std::string field, std::string rule);
  /// Every member the reader has not taken that holds something: lost as `evidently.<prefix><member>`.
  void finish(std::string_view prefix);

  std::string path(std::string_view key) const;
  std::string where(std::string_view key = {}) const;
  Error error(std::string_view key, std::string message) const;

 private:
  const Document& doc_;
  const boost::json::object& object_;
  std::string path_;
  std::vector<SavedLoss>& losses_;
  std::vector<std::string> used_;
};

/// Whether a value holds nothing (null, "", [], {}).
bool is_empty_value(const boost::json::value& v);

/// `file:line:column` of `path` in `doc`.
std::string where(const Document& doc, std::string_view path);
/// A project name from a name or a project ARN (`arn:…:project/NAME`, also the prefix of a
/// feature or experiment ARN).
std::string project_name(std::string_view name_or_arn);
/// A feature name from a name or a feature ARN (`arn:…:project/P/feature/NAME`).
std::string feature_name(std::string_view name_or_arn);

/// The readers: each adds what one file describes to `out`, or fails naming file and position.
/// `root` is the document's root, already known to be of the reader's kind.
Status read_cli_json(const Document& doc, Inventory& out);
Status read_terraform_state(const Document& doc, Inventory& out);
Status read_cloudformation(const Document& doc, Inventory& out);

/// A Cloud Control resource's attributes (`feature`, `experiment` or `launch`): the awscc
/// provider's, and a CloudFormation resource's properties once snake_cased (awscc's schema is
/// generated from CloudFormation's).
Status read_cloud_control_resource(const Document& doc, std::string_view kind, const boost::json::object& attributes,
                                   const std::string& path, Inventory& out);

/// The importer registered as `Vendor::importer` of `evidently`.
Result<ImportResult> import_files(const std::vector<ImportFile>& files, const ImportOptions& options);

}  // namespace expbridge::evidently_import
