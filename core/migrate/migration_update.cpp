// The neutral state and the update document, each in terms of the other: what a migration sends
// to converge a backend, and what an import folder's documents say the source held.
#include "expbridge/migrate.hpp"

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
  Experiment e;
  e.experiment = update.experiment;
  e.name = update.name;
  e.description = update.description;
  e.hypothesis = update.hypothesis;
  e.launch_criteria = update.launch_criteria;
  e.audience = update.audience;
  e.variations = update.variations;
  e.exposure = update.exposure;
  e.overrides = update.overrides;
  e.result = update.result;
  e.status = ExperimentStatus::draft;
  if (!update.action) return e;
  switch (*update.action) {
    case Action::start: e.status = ExperimentStatus::running; break;
    case Action::pause: e.status = ExperimentStatus::paused; break;
    case Action::stop: e.status = ExperimentStatus::stopped; break;
    case Action::archive: e.status = ExperimentStatus::archived; break;
    // What a restore leads to is the vendor's business: the source's status is not known.
    case Action::restore: e.status.reset(); break;
  }
  return e;
}

}  // namespace expbridge
