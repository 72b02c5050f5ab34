// Runs the worked examples of a mapping table: each neutral update must plan to
// exactly the vendor requests and skips the table says.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "expbridge/bridge.hpp"

namespace expbridge {

struct ExampleOutcome {
  std::string vendor;
  std::string name;
  bool passed = false;
  std::string detail;  ///< why it failed
  /// The error planning returned, for an example whose config and update load but whose plan
  /// is refused: what tests check beyond the example's own expectation (who says it, and of
  /// which vendor operation).
  std::optional<Error> plan_error;
};

/// Runs every example of `vendor`'s table (from `mappings_dir` when it has one, else embedded).
/// An example gives `update`, optional `backend` / `binding` (merged over `example_defaults`),
/// optional `current` state, and either `requests` + `skipped` or `error: {field, contains}`.
/// A create example (`create: {desired, binding?, answers?}`) runs one step of `Adapter::create`
/// instead and checks its `requests`, `then`, `carriage`, `created_binding` or `error`.
Result<std::vector<ExampleOutcome>> run_mapping_examples(const std::string& vendor, const std::string& mappings_dir = {},
                                                         const Registry* registry = nullptr);

/// Compares JSON values, treating numbers by value (50 == 50.0).
bool json_equal(const boost::json::value& a, const boost::json::value& b);

}  // namespace expbridge
