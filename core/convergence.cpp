#include "convergence.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

namespace expbridge {
namespace {

constexpr double kWeightTolerance = 0.001;  // percent, as validate_update sums them
constexpr double kNumberTolerance = 1e-9;

bool near(double a, double b, double tolerance) { return std::fabs(a - b) <= tolerance; }

bool same_attribute(const AttributeValue& a, const AttributeValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) return near(*x, std::get<double>(b), kNumberTolerance);
  if (const auto* x = std::get_if<std::vector<double>>(&a)) {
    const auto& y = std::get<std::vector<double>>(b);
    return x->size() == y.size() &&
           std::equal(x->begin(), x->end(), y.begin(), [](double p, double q) { return near(p, q, kNumberTolerance); });
  }
  return a == b;
}

bool same_value(const VariationValue& a, const VariationValue& b) {
  if (a.enabled != b.enabled || a.attributes.size() != b.attributes.size()) return false;
  std::unordered_map<std::string_view, const AttributeValue*> by_name;
  for (const auto& [name, value] : b.attributes) by_name.emplace(name, &value);
  for (const auto& [name, value] : a.attributes) {
    auto it = by_name.find(name);
    if (it == by_name.end() || !same_attribute(value, *it->second)) return false;
  }
  return true;
}

/// What a backend cannot hold of its variations: parts no comparison may count as a difference.
struct Unheld {
  const std::vector<std::string>& paths;
  bool has(std::string_view path) const { return std::find(paths.begin(), paths.end(), path) != paths.end(); }
  bool weights() const { return has("variations.weight"); }
  // `variations[KEY]` alone is a skip of the variation's value (Evidently: one typed value only).
  bool value(const std::string& key) const {
    return has("variations[" + key + "].value") || has("variations[" + key + "]");
  }
  bool description(const std::string& key) const { return has("variations[" + key + "].description"); }
};

// `held` is what the vendor holds: its absent description or value is not compared.
bool same_variation(const Variation& desired, const Variation& held, const Unheld& unheld) {
  if (desired.control != held.control) return false;
  if (!unheld.weights() && !near(desired.weight, held.weight, kWeightTolerance)) return false;
  if (held.description && !unheld.description(desired.key) && desired.description.value_or("") != *held.description)
    return false;
  if (held.value && !unheld.value(desired.key) && !(desired.value && same_value(*desired.value, *held.value)))
    return false;
  return true;
}

bool same_variations(const std::vector<Variation>& desired, const std::vector<Variation>& held, const Unheld& unheld) {
  if (desired.size() != held.size()) return false;
  std::unordered_map<std::string_view, const Variation*> by_key;
  for (const auto& v : held) by_key.emplace(v.key, &v);
  if (by_key.size() != held.size()) return false;  // a vendor answer with a key twice is no match
  return std::all_of(desired.begin(), desired.end(), [&](const Variation& v) {
    auto it = by_key.find(v.key);
    return it != by_key.end() && same_variation(v, *it->second, unheld);
  });
}

bool same_overrides(const std::vector<std::pair<std::string, std::string>>& desired,
                    const std::vector<std::pair<std::string, std::string>>& held) {
  if (desired.size() != held.size()) return false;
  std::unordered_map<std::string_view, std::string_view> by_entity;
  for (const auto& [entity, variation] : held) by_entity.emplace(entity, variation);
  return std::all_of(desired.begin(), desired.end(), [&](const auto& o) {
    auto it = by_entity.find(o.first);
    return it != by_entity.end() && it->second == o.second;
  });
}

bool same_result(const ExperimentResult& desired, const ExperimentResult& held) {
  auto same = [](const std::optional<std::string>& want, const std::optional<std::string>& have) {
    return !have || want.value_or("") == *have;  // a member the vendor does not keep cannot differ
  };
  return same(desired.winner, held.winner) && same(desired.summary, held.summary) &&
         same(desired.reasons_to_launch, held.reasons_to_launch) &&
         same(desired.reasons_not_to_launch, held.reasons_not_to_launch);
}

Error refusal(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}

/// Drops `field` from `remaining` when the state holds it as asked.
template <typename T, typename Same>
void converge_field(std::optional<T>& remaining, const std::optional<T>& held, const char* name, Same same,
                    std::vector<std::string>& unchanged) {
  if (remaining && held && same(*remaining, *held)) {
    remaining.reset();
    unchanged.emplace_back(name);
  }
}

bool same_text(const std::string& a, const std::string& b) { return a == b; }

}  // namespace

bool Convergence::nothing_to_send() const {
  const Update& u = remaining;
  return !u.name && !u.description && !u.hypothesis && !u.launch_criteria && !u.audience && !u.variations &&
         !u.exposure && !u.overrides && !u.action && !u.result && u.vendor.empty();
}

Result<Convergence> converge(const Update& desired, const Experiment& current, const std::vector<std::string>& unheld) {
  Convergence out;
  out.remaining = desired;
  Update& r = out.remaining;
  auto& unchanged = out.unchanged;

  // Actions first: a refusal must come before anything is planned.
  bool stop_unchanged = false;
  if (r.action && current.status) {
    const ExperimentStatus status = *current.status;
    const std::string state(to_string(status));
    bool in_effect = false;
    switch (*r.action) {
      case Action::start:
        if (status == ExperimentStatus::archived)
          return std::unexpected(refusal("action", "cannot start an archived experiment (restore it first)"));
        in_effect = status == ExperimentStatus::running;
        break;
      case Action::stop:
        if (status == ExperimentStatus::draft)
          return std::unexpected(refusal("action", "cannot stop before any start (the experiment is draft)"));
        if (status == ExperimentStatus::archived)
          return std::unexpected(refusal("action", "cannot stop an archived experiment"));
        if (status == ExperimentStatus::stopped) {
          if (r.result && current.result && !same_result(*r.result, *current.result))
            return std::unexpected(refusal(
                "result", "the experiment is already stopped with another result (winner " +
                              current.result->winner.value_or("none") + "); a stopped experiment's result cannot change"));
          in_effect = stop_unchanged = true;
        }
        break;
      case Action::pause: in_effect = status == ExperimentStatus::paused; break;
      case Action::archive: in_effect = status == ExperimentStatus::archived; break;
      case Action::restore: in_effect = status != ExperimentStatus::archived; break;
    }
    if (in_effect) {
      unchanged.push_back("action." + std::string(to_string(*r.action)));
      r.action.reset();
    }
  }

  converge_field(r.name, current.name, field::name, same_text, unchanged);
  converge_field(r.description, current.description, field::description, same_text, unchanged);
  converge_field(r.hypothesis, current.hypothesis, field::hypothesis, same_text, unchanged);
  converge_field(r.launch_criteria, current.launch_criteria, field::launch_criteria, same_text, unchanged);
  if (r.audience && current.audience) {
    // The two halves are separate neutral fields: each may already hold.
    converge_field(r.audience->rule, current.audience->rule, field::audience_rule, same_text, unchanged);
    converge_field(r.audience->description, current.audience->description, field::audience_description, same_text,
                   unchanged);
    if (!r.audience->rule && !r.audience->description) r.audience.reset();
  }
  const Unheld not_held{unheld};
  converge_field(r.variations, current.variations, field::variations,
                 [&](const auto& want, const auto& have) { return same_variations(want, have, not_held); }, unchanged);
  converge_field(r.exposure, current.exposure, field::exposure,
                 [](double a, double b) { return near(a, b, kNumberTolerance); }, unchanged);
  converge_field(r.overrides, current.overrides, field::overrides, same_overrides, unchanged);
  if (stop_unchanged && r.result) {
    r.result.reset();  // `result` goes only with `action: stop`, which is already in effect
    unchanged.emplace_back(field::result);
  }

  if (out.nothing_to_send()) r.comment.reset();
  // Schema order, whatever order the checks ran in.
  static constexpr std::string_view kOrder[] = {field::name,          field::description,         field::hypothesis,
                                                field::launch_criteria, field::audience_rule,     field::audience_description,
                                                field::variations,    field::exposure,            field::overrides,
                                                field::action,        field::result};
  auto rank = [](std::string_view name) {
    const std::string_view head = name.substr(0, name.find('.'));
    for (std::size_t i = 0; i < std::size(kOrder); ++i)
      if (kOrder[i] == name || (head == field::action && kOrder[i] == head)) return i;
    return std::size(kOrder);
  };
  std::stable_sort(unchanged.begin(), unchanged.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return out;
}

}  // namespace expbridge
