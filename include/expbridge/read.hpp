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
  /// What the next read of this binding may ask for up front (a read hint, below): the few
  /// vendor ids a read finds only from an earlier answer, e.g. the flag an experiment runs on.
  /// Chosen by the adapter, kept small and free of secrets; empty = nothing worth hinting.
  boost::json::object hint;
};

/// A read hint: the `VendorState::hint` of an earlier successful read of the same backend and
/// experiment, handed to the next read (`Adapter::read`) so that it asks in its first step for
/// what it would otherwise find only from that step's answers (one round trip instead of two).
/// The adapter treats it as a guess: it checks it against the answers, and where it no longer
/// holds asks for the right resource in a further step, so a stale hint costs one more round
/// trip, never a wrong state. nullptr (or an empty object, or one it cannot use) = no hint.
/// Today the `Applier` keeps the hints in memory, per backend and experiment, for its lifetime;
/// the state store is to persist them across processes, which is why they are plain JSON.
using ReadHint = boost::json::object;

/// One step of a read (`Adapter::read`): the requests to send next, or the state.
struct ReadStep {
  std::vector<PlannedRequest> requests;  ///< GETs to send next; empty when the state is there
  std::optional<VendorState> state;      ///< set on the last step
};

/// Steps a read may take (pagination included) before it is cut off as an adapter bug.
inline constexpr int kMaxReadSteps = 64;

}  // namespace expbridge
