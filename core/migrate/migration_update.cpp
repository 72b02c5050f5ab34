// The neutral state and the update document, each in terms of the other: what a migration sends
// to converge a backend, and what an import folder's documents say the source held.
#include "expbridge/migrate.hpp"

#include "state_diff.hpp"

namespace expbridge {

Update update_from_state(const Experiment& state) {
  Update u;
  u.experiment = state.experiment;
  u.name = state.name;
  u.description = state.description;
  u.hypothesis = state.hypothesis;
  u.launch_criteria = state.launch_criteria;
  u.audience = state.audience;
  u.variations = state.variations;
  u.exposure = state.exposure;
  u.overrides = state.overrides;
  if (!state.status) return u;
  switch (*state.status) {
    case ExperimentStatus::draft: break;
    case ExperimentStatus::running: u.action = Action::start; break;
    case ExperimentStatus::paused: u.action = Action::pause; break;
    case ExperimentStatus::stopped:
      u.action = Action::stop;
      u.result = state.result;
      break;
    case ExperimentStatus::archived: u.action = Action::archive; break;
  }
  return u;
}

Experiment state_from_update(const Update& update) {
  Experiment e = desired_state(update);
  // No action: the source had not started it. After a restore its status is not known.
  if (!update.action) e.status = ExperimentStatus::draft;
  return e;
}

}  // namespace expbridge
