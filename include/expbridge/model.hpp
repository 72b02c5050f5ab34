// expbridge — the neutral experiment model (the contract every adapter maps from).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

namespace expbridge {

/// One typed attribute of a variation's value. Lists hold one scalar type each.
using AttributeValue = std::variant<std::string, double, bool, std::vector<std::string>, std::vector<double>>;

/// What a variation serves: the flag on/off plus typed attributes, in document order.
struct VariationValue {
  bool enabled = false;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
};

/// One arm of the experiment. `weight` is a percent of exposed traffic (0..100).
struct Variation {
  std::string key;
  bool control = false;
  double weight = 0;
  std::optional<std::string> description;
  std::optional<VariationValue> value;
};

/// Who is eligible: a rule expression (AppConfig syntax) and a note for people.
struct Audience {
  std::optional<std::string> rule;
  std::optional<std::string> description;
};

/// The neutral lifecycle actions. `pause` exists only at some vendors.
enum class Action { start, pause, stop, archive, restore };

/// The outcome recorded with `action: stop`.
struct ExperimentResult {
  std::optional<std::string> winner;  ///< a variation key
  std::optional<std::string> summary;
  std::optional<std::string> reasons_to_launch;
  std::optional<std::string> reasons_not_to_launch;
};

/// An update document: every field optional but `experiment`.
/// A field that is present is set; one that is absent is left alone.
/// `variations` and `overrides` replace the whole set when present.
struct Update {
  std::string experiment;  ///< neutral key, bound to vendor ids in the config
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> hypothesis;
  std::optional<std::string> launch_criteria;
  std::optional<Audience> audience;
  std::optional<std::vector<Variation>> variations;
  std::optional<double> exposure;  ///< percent of the audience in the experiment, 0..100
  /// entity id -> variation key, in document order (entity ids are unique).
  std::optional<std::vector<std::pair<std::string, std::string>>> overrides;
  std::optional<Action> action;
  std::optional<ExperimentResult> result;  ///< only with `action: stop`
  std::optional<std::string> comment;      ///< audit note where the vendor keeps one
  /// Per-vendor pass-through, keyed by vendor name, sent as is by that vendor's adapter.
  boost::json::object vendor;

  /// Where the document came from (a path or `-`), for error messages.
  std::string source;
};

/// The lifecycle state of an experiment as read from a vendor.
enum class ExperimentStatus { draft, running, paused, stopped, archived };

/// The read model: what a vendor holds, in neutral terms. Fields the vendor
/// does not keep stay empty. `vendor_ids` names the vendor resources it was read from.
struct Experiment {
  std::string experiment;
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> hypothesis;
  std::optional<std::string> launch_criteria;
  std::optional<Audience> audience;
  std::optional<std::vector<Variation>> variations;
  std::optional<double> exposure;
  std::optional<std::vector<std::pair<std::string, std::string>>> overrides;
  std::optional<ExperimentResult> result;
  std::optional<ExperimentStatus> status;
  std::map<std::string, std::string> vendor_ids;
};

std::string_view to_string(Action action) noexcept;
std::optional<Action> parse_action(std::string_view text) noexcept;
std::string_view to_string(ExperimentStatus status) noexcept;

/// The neutral field names, in schema order. Adapters report skips with these names.
namespace field {
inline constexpr const char* name = "name";
inline constexpr const char* description = "description";
inline constexpr const char* hypothesis = "hypothesis";
inline constexpr const char* launch_criteria = "launch_criteria";
inline constexpr const char* audience_rule = "audience.rule";
inline constexpr const char* audience_description = "audience.description";
inline constexpr const char* variations = "variations";
inline constexpr const char* exposure = "exposure";
inline constexpr const char* overrides = "overrides";
inline constexpr const char* action = "action";
inline constexpr const char* result = "result";
inline constexpr const char* comment = "comment";
inline constexpr const char* vendor = "vendor";
}  // namespace field

}  // namespace expbridge
