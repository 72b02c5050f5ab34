// Field-by-field comparison of what backends hold (`diff`): between the backends bound to an
// experiment, or between a desired update document and each of them (drift).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "expbridge/error.hpp"
#include "expbridge/model.hpp"

namespace expbridge {

/// One backend's read, as `diff` compares it.
struct BackendState {
  std::string backend;
  std::string vendor;
  Experiment state;
  /// Neutral fields this vendor cannot hold (`field::` names); never compared.
  std::vector<std::string> not_expressible;
};

enum class FieldStatus { equal, differs, not_expressible };
std::string_view to_string(FieldStatus status) noexcept;

/// One neutral field across the backends.
struct FieldDiff {
  std::string field;  ///< a `field::` name, or `status`
  struct PerBackend {
    std::string backend;
    boost::json::value value;  ///< what it holds, in the update document's units; null when nothing
    FieldStatus status = FieldStatus::equal;
  };
  std::vector<PerBackend> backends;   ///< in the order of the states compared
  std::optional<boost::json::value> desired;  ///< with a desired document: its value
};

struct ExperimentDiff {
  std::string experiment;
  std::vector<FieldDiff> fields;  ///< schema order; fields nobody holds or asks for are left out
  bool differs() const;
};

/// Compares `states` with each other (`desired` null): a field whose holders do not all hold
/// the same value `differs` at each of them. With `desired`: each backend against the fields
/// the document sets (its action as the status it leads to: start → running, ...); fields it
/// does not set are not compared. Values compare as `converge` does (variations as a set,
/// weights within 0.001, a variation member a vendor does not keep not compared).
ExperimentDiff diff_states(const std::string& experiment, const std::vector<BackendState>& states,
                           const Update* desired = nullptr);

/// An update document as a read model: its fields, and the status its action leads to (none
/// without an action, or for restore).
Experiment desired_state(const Update& update);

/// The status an action leads to (start → running, pause → paused, stop → stopped, archive →
/// archived); none for restore, whose status is the vendor's business.
std::optional<ExperimentStatus> status_after(Action action);

/// `{"experiment", "fields": [{"field", "backends": {NAME: {"value", "status"}}, "desired"?}]}`.
boost::json::object diff_to_json(const ExperimentDiff& diff);
/// A table a person reads: one row a field, one column a backend (and `desired`), the values
/// shortened to fit; `=` equal, `≠` differs, `—` not expressible.
std::string diff_to_text(const ExperimentDiff& diff);

}  // namespace expbridge
