// expbridge — reading a backend's experiment into the neutral model (`get`, `diff`, and the
// reads a converging `apply` starts with).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "expbridge/model.hpp"
#include "expbridge/plan.hpp"

namespace expbridge {

/// What one backend holds of an experiment, in neutral terms.
struct VendorState {
  /// Every field the vendor holds is set (an empty string where it holds an empty one), with
  /// `status` and the `vendor_ids` it was read from; an absent field is one it does not hold.
  Experiment experiment;
  /// Neutral fields (`field::` names) this backend cannot hold, whatever it is sent.
  std::vector<std::string> not_expressible;
  /// What the adapter needs from the read to plan, beyond the neutral model (the ids and
  /// versions of the vendor's own resources: a current iteration, treatment ids, a flag
  /// version). Only the adapter that read it looks inside; never shown to a user.
  boost::json::object detail;
};

/// One step of a read (`Adapter::read`): the requests to send next, or the state.
struct ReadStep {
  std::vector<PlannedRequest> requests;  ///< GETs to send next; empty when the state is there
  std::optional<VendorState> state;      ///< set on the last step
};

/// Steps a read may take (pagination included) before it is cut off as an adapter bug.
inline constexpr int kMaxReadSteps = 64;

}  // namespace expbridge
