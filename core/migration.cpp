#include "expbridge/migration.hpp"

#include <algorithm>
#include <map>
#include <ostream>
#include <sstream>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "json_writer.hpp"
#include "loss_report_writer.hpp"

namespace expbridge {

namespace json = boost::json;

std::string_view to_string(Carriage carriage) noexcept {
  switch (carriage) {
    case Carriage::carried: return "carried";
    case Carriage::converted: return "converted";
    case Carriage::lost: return "lost";
  }
  return "carried";
}

namespace {

/// `accepted` names `field` or a path it lies under (`variations` → `variations[1].weight`).
bool accepts(std::string_view accepted, std::string_view field) {
  if (!field.starts_with(accepted)) return false;
  if (field.size() == accepted.size()) return true;
  char next = field[accepted.size()];
  return next == '.' || next == '[';
}

}  // namespace

std::vector<std::string> LossReport::lost_fields(std::string_view experiment) const {
  std::vector<std::string> out;
  for (const auto& f : fields)
    if (f.experiment == experiment && f.carriage == Carriage::lost &&
        std::find(out.begin(), out.end(), f.field) == out.end())
      out.push_back(f.field);
  return out;
}

std::vector<std::string> LossReport::unaccepted_losses(std::string_view experiment,
                                                       const std::vector<std::string>& accepted) const {
  std::vector<std::string> out;
  for (auto& lost : lost_fields(experiment))
    if (std::none_of(accepted.begin(), accepted.end(), [&](const std::string& a) { return accepts(a, lost); }))
      out.push_back(std::move(lost));
  return out;
}

bool LossReport::has_losses() const {
  return std::any_of(fields.begin(), fields.end(), [](const FieldCarriage& f) { return f.carriage == Carriage::lost; });
}

namespace {

json::object field_carriage_to_json(const FieldCarriage& f) {
  json::object o;
  o["experiment"] = f.experiment;
  o["field"] = f.field;
  o["carriage"] = to_string(f.carriage);
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) o[key] = value;
  };
  put("rule", f.rule);
  put("from", f.from);
  put("to", f.to);
  put("reason", f.reason);
  put("source", f.source);
  return o;
}

}  // namespace

json::value loss_report_to_json(const LossReport& report) {
  json::array out;
  for (const auto& f : report.fields) out.push_back(field_carriage_to_json(f));
  return json::object{{"fields", std::move(out)}};
}

void write_loss_report_json(std::ostream& out, const LossReport& report) {
  out << "{\n  \"fields\": [";
  bool first = true;
  for (const auto& f : report.fields) {
    out << (first ? "\n    " : ",\n    ") << write_json(field_carriage_to_json(f));
    first = false;
  }
  out << (first ? "]\n}\n" : "\n  ]\n}\n");
}

void write_loss_report_text(std::ostream& out, const LossReport& report) {
  // Experiments in the order they first appear, each with its lines in report order.
  std::vector<std::string_view> order;
  std::map<std::string_view, std::vector<const FieldCarriage*>, std::less<>> by_experiment;
  for (const auto& f : report.fields) {
    auto [it, inserted] = by_experiment.try_emplace(f.experiment);
    if (inserted) order.push_back(f.experiment);
    it->second.push_back(&f);
  }
  for (const auto& experiment : order) {
    const auto& lines = by_experiment[experiment];
    auto count = [&](Carriage c) {
      return std::count_if(lines.begin(), lines.end(), [&](const FieldCarriage* f) { return f->carriage == c; });
    };
    out << experiment << ": " << count(Carriage::carried) << " carried, " << count(Carriage::converted)
        << " converted, " << count(Carriage::lost) << " lost\n";
    for (const auto* f : lines) {
      if (f->carriage == Carriage::carried) continue;
      out << "  " << to_string(f->carriage) << (f->carriage == Carriage::lost ? "       " : "  ") << f->field;
      if (f->carriage == Carriage::converted) {
        out << "  " << f->from << " → " << f->to;
        if (!f->rule.empty()) out << " (" << f->rule << ")";
      } else if (!f->reason.empty()) {
        out << ": " << f->reason;
      }
      if (!f->source.empty()) out << "  [" << f->source << "]";
      out << '\n';
    }
  }
}

std::string loss_report_to_text(const LossReport& report) {
  std::ostringstream out;
  write_loss_report_text(out, report);
  return std::move(out).str();
}

}  // namespace expbridge
