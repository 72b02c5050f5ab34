// expbridge — reading a backend's experiment into the neutral model (`get`, `diff`, and the
// reads a converging `apply` starts with).
#pragma once

#include <optional>
#include <string>
#include <vector>

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
};

/// One step of a read (`Adapter::read`): the requests to send next, or the state.
struct ReadStep {
  std::vector<PlannedRequest> requests;  ///< GETs to send next; empty when the state is there
  std::optional<VendorState> state;      ///< set on the last step
};

/// Steps a read may take (pagination included) before it is cut off as an adapter bug.
inline constexpr int kMaxReadSteps = 64;

}  // namespace expbridge
