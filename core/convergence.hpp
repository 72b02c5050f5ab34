// Converging an update on what a backend holds: `apply` reads each bound backend, keeps only
// what differs, and plans that; what is already as asked is reported `unchanged`.
#pragma once

#include <string>
#include <vector>

#include "expbridge/error.hpp"
#include "expbridge/model.hpp"

namespace expbridge {

/// What is left to send of an update once a backend's state is known.
struct Convergence {
  /// `desired` without the fields (and the action) the state already holds as asked.
  Update remaining;
  /// Neutral field names (`field::`), and `action.<name>` for an action already in effect,
  /// in schema order.
  std::vector<std::string> unchanged;

  /// True when nothing is left to send (a comment alone is no change).
  bool nothing_to_send() const;
};

/// Compares `desired` with `current` field by field, with the update document's units.
///
/// A read sets every field the vendor holds (an empty string where it holds an empty one);
/// an absent field means the vendor does not hold it or the read could not tell. So:
/// - a top-level field `current` lacks stays in `remaining` (the adapter sends it or skips it);
/// - inside a variation, a description or value `current` lacks is not compared;
/// - variations compare as a set keyed by `key` (vendors list them in their own order),
///   weights within 0.001 percent; overrides and attributes compare as maps;
/// - `vendor` pass-through is never compared: it is sent as asked.
///
/// Actions against `current.status` (absent status: the action stays): start while running,
/// pause while paused, stop while stopped (with the same result, or none read), archive while
/// archived, restore while not archived are `unchanged`. Refused before anything is sent, as
/// invalid_input on field `action` (or `result`) naming the state and the rule: stop while
/// draft (stop before any start), start or stop while archived (restore first), a stopped
/// experiment's result changed. Vendor rules beyond these stay with the adapters.
/// A comment is dropped with everything else when nothing is left to send.
///
/// `unheld`: parts of the variations this backend cannot hold, as skip paths (a plan's
/// `variations[KEY].value`, `variations[KEY].description`, `variations[KEY]` for a value it
/// cannot express) or `variations.weight` (a read's `not_expressible`): they never count as a
/// difference, so an update the vendor holds all it can of converges.
Result<Convergence> converge(const Update& desired, const Experiment& current,
                             const std::vector<std::string>& unheld = {});

}  // namespace expbridge
