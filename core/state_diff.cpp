#include "state_diff.hpp"

#include <algorithm>

#include "convergence.hpp"
#include "experiment_codec.hpp"
#include "json_writer.hpp"
#include "message_text.hpp"

namespace expbridge {
namespace {

// Schema order; `status` last, as the lifecycle an action leads to.
constexpr const char* kFields[] = {field::name,          field::description, field::hypothesis,
                                   field::launch_criteria, field::audience_rule, field::audience_description,
                                   field::variations,    field::exposure,    field::overrides,
                                   field::result,        "status"};

/// The part of `e` that is `name`, as an update carrying only that field (status: nothing).
Update only_field(const Experiment& e, std::string_view name) {
  Update u;
  u.experiment = e.experiment;
  if (name == field::name) u.name = e.name;
  else if (name == field::description) u.description = e.description;
  else if (name == field::hypothesis) u.hypothesis = e.hypothesis;
  else if (name == field::launch_criteria) u.launch_criteria = e.launch_criteria;
  else if (name == field::audience_rule && e.audience && e.audience->rule) u.audience = Audience{e.audience->rule, {}};
  else if (name == field::audience_description && e.audience && e.audience->description)
    u.audience = Audience{{}, e.audience->description};
  else if (name == field::variations) u.variations = e.variations;
  else if (name == field::exposure) u.exposure = e.exposure;
  else if (name == field::overrides) u.overrides = e.overrides;
  return u;
}

bool holds(const Experiment& e, std::string_view name) {
  if (name == "status") return e.status.has_value();
  if (name == field::result) return e.result.has_value();
  const Update u = only_field(e, name);
  return u.name || u.description || u.hypothesis || u.launch_criteria || u.audience || u.variations || u.exposure ||
         u.overrides;
}

boost::json::value field_value(const Experiment& e, std::string_view name,
                               const std::vector<std::string>& not_expressible = {}) {
  if (name == "status") return e.status ? boost::json::value(to_string(*e.status)) : boost::json::value(nullptr);
  const auto state = experiment_state_json(e, not_expressible);
  if (name == field::audience_rule || name == field::audience_description) {
    const auto* audience = state.if_contains("audience");
    const auto* part = audience ? audience->as_object().if_contains(name.substr(name.find('.') + 1)) : nullptr;
    return part ? *part : boost::json::value(nullptr);
  }
  const auto* v = state.if_contains(name);
  return v ? *v : boost::json::value(nullptr);
}

/// True when `have` holds what `want` holds for `name` (both nothing counts as the same);
/// `unheld`: what either side cannot hold (`variations.weight`), never a difference.
bool same_field(std::string_view name, const Experiment& want, const Experiment& have,
                const std::vector<std::string>& unheld) {
  const bool a = holds(want, name), b = holds(have, name);
  if (!a || !b) return a == b;
  if (name == "status") return *want.status == *have.status;
  if (name == field::result) {
    Update stop;
    stop.experiment = want.experiment;
    stop.action = Action::stop;
    stop.result = want.result;
    Experiment stopped = have;
    stopped.status = ExperimentStatus::stopped;
    auto c = converge(stop, stopped);
    return c && c->nothing_to_send();
  }
  auto c = converge(only_field(want, name), have, unheld);
  return c && std::find(c->unchanged.begin(), c->unchanged.end(), name) != c->unchanged.end();
}

std::vector<std::string> both(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

bool expressible(const BackendState& s, std::string_view name) {
  return std::find(s.not_expressible.begin(), s.not_expressible.end(), name) == s.not_expressible.end();
}


std::string cell(const boost::json::value& v) {
  if (v.is_null()) return "(none)";
  return printable_text(v.is_string() ? std::string(v.get_string()) : write_json(v), 40);
}

}  // namespace

Experiment desired_state(const Update& u) {
  Experiment e;
  e.experiment = u.experiment;
  e.name = u.name;
  e.description = u.description;
  e.hypothesis = u.hypothesis;
  e.launch_criteria = u.launch_criteria;
  e.audience = u.audience;
  e.variations = u.variations;
  e.exposure = u.exposure;
  e.overrides = u.overrides;
  e.result = u.result;
  if (u.action) e.status = status_after(*u.action);
  return e;
}

std::string_view to_string(FieldStatus status) noexcept {
  switch (status) {
    case FieldStatus::equal: return "equal";
    case FieldStatus::differs: return "differs";
    case FieldStatus::not_expressible: return "not_expressible";
  }
  return "equal";
}

bool ExperimentDiff::differs() const {
  return std::any_of(fields.begin(), fields.end(), [](const FieldDiff& f) {
    return std::any_of(f.backends.begin(), f.backends.end(),
                       [](const auto& b) { return b.status == FieldStatus::differs; });
  });
}

ExperimentDiff diff_states(const std::string& experiment, const std::vector<BackendState>& states,
                           const Update* desired) {
  ExperimentDiff out;
  out.experiment = experiment;
  const std::optional<Experiment> want = desired ? std::optional(desired_state(*desired)) : std::nullopt;
  for (const char* name : kFields) {
    if (want && !holds(*want, name)) continue;  // a document compares only what it sets
    FieldDiff row;
    row.field = name;
    if (want) row.desired = field_value(*want, name);
    const BackendState* reference = nullptr;
    bool all_same = true, anyone_holds = false;
    for (const auto& s : states) {
      FieldDiff::PerBackend cellv{s.backend, nullptr, FieldStatus::equal};
      if (!expressible(s, name)) {
        cellv.status = FieldStatus::not_expressible;
      } else {
        cellv.value = field_value(s.state, name, s.not_expressible);
        anyone_holds = anyone_holds || holds(s.state, name);
        if (want) {
          cellv.status =
              same_field(name, *want, s.state, s.not_expressible) ? FieldStatus::equal : FieldStatus::differs;
        } else if (reference == nullptr) {
          reference = &s;
        } else if (std::vector<std::string> unheld = both(reference->not_expressible, s.not_expressible);
                   !same_field(name, reference->state, s.state, unheld)) {
          all_same = false;
        }
      }
      row.backends.push_back(std::move(cellv));
    }
    if (!want) {
      if (!anyone_holds) continue;  // nobody holds it: nothing to say
      if (!all_same)
        for (auto& b : row.backends)
          if (b.status != FieldStatus::not_expressible) b.status = FieldStatus::differs;
    }
    out.fields.push_back(std::move(row));
  }
  return out;
}

boost::json::object diff_to_json(const ExperimentDiff& diff) {
  boost::json::array fields;
  for (const auto& f : diff.fields) {
    boost::json::object backends;
    for (const auto& b : f.backends) backends[b.backend] = {{"value", b.value}, {"status", to_string(b.status)}};
    boost::json::object row{{"field", f.field}, {"backends", std::move(backends)}};
    if (f.desired) row["desired"] = *f.desired;
    fields.emplace_back(std::move(row));
  }
  return {{"experiment", diff.experiment}, {"fields", std::move(fields)}};
}

std::string diff_to_text(const ExperimentDiff& diff) {
  std::string out = diff.experiment + (diff.differs() ? ": differences\n" : ": no difference\n");
  if (diff.fields.empty()) return out;
  // Columns: field, desired (when compared with a document), then each backend.
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"field"};
  const bool with_desired = diff.fields.front().desired.has_value();
  if (with_desired) header.push_back("desired");
  for (const auto& b : diff.fields.front().backends) header.push_back(b.backend);
  rows.push_back(header);
  for (const auto& f : diff.fields) {
    std::vector<std::string> row{f.field};
    if (with_desired) row.push_back(cell(*f.desired));
    for (const auto& b : f.backends) {
      switch (b.status) {
        case FieldStatus::equal: row.push_back("= " + cell(b.value)); break;
        case FieldStatus::differs: row.push_back("≠ " + cell(b.value)); break;
        case FieldStatus::not_expressible: row.push_back("— not expressible"); break;
      }
    }
    rows.push_back(std::move(row));
  }
  // Width in code points, so the `≠` and `—` columns line up.
  auto width = [](const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - width(row[i]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::optional<ExperimentStatus> status_after(Action action) {
  switch (action) {
    case Action::start: return ExperimentStatus::running;
    case Action::pause: return ExperimentStatus::paused;
    case Action::stop: return ExperimentStatus::stopped;
    case Action::archive: return ExperimentStatus::archived;
    case Action::restore: break;  // not archived: no single status to compare with
  }
  return std::nullopt;
}

}  // namespace expbridge
