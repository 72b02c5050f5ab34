#include "expbridge/model.hpp"

namespace expbridge {

std::string_view to_string(Action action) noexcept {
  switch (action) {
    case Action::start: return "start";
    case Action::pause: return "pause";
    case Action::stop: return "stop";
    case Action::archive: return "archive";
    case Action::restore: return "restore";
  }
  return "start";
}

std::optional<Action> parse_action(std::string_view text) noexcept {
  for (Action a : {Action::start, Action::pause, Action::stop, Action::archive, Action::restore})
    if (to_string(a) == text) return a;
  return std::nullopt;
}

std::string_view to_string(ExperimentStatus status) noexcept {
  switch (status) {
    case ExperimentStatus::draft: return "draft";
    case ExperimentStatus::running: return "running";
    case ExperimentStatus::paused: return "paused";
    case ExperimentStatus::stopped: return "stopped";
    case ExperimentStatus::archived: return "archived";
  }
  return "draft";
}

}  // namespace expbridge
