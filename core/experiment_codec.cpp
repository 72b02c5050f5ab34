#include "experiment_codec.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <boost/json/array.hpp>

#include "json_writer.hpp"

namespace expbridge {
namespace {

boost::json::value attribute_json(const AttributeValue& value) {
  return std::visit(
      [](const auto& v) -> boost::json::value {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>> || std::is_same_v<T, std::vector<double>>) {
          boost::json::array out;
          for (const auto& item : v) out.emplace_back(item);
          return out;
        } else {
          return boost::json::value(v);
        }
      },
      value);
}

boost::json::object variation_json(const Variation& v, bool weights_held) {
  boost::json::object out;
  out["key"] = v.key;
  if (v.control) out["control"] = true;
  if (weights_held) out["weight"] = v.weight;
  if (v.description) out["description"] = *v.description;
  if (v.value) {
    boost::json::object value;
    value["enabled"] = v.value->enabled;
    if (!v.value->attributes.empty()) {
      boost::json::object attributes;
      for (const auto& [name, attribute] : v.value->attributes) attributes[name] = attribute_json(attribute);
      value["attributes"] = std::move(attributes);
    }
    out["value"] = std::move(value);
  }
  return out;
}

void put_result(boost::json::object& out, const ExperimentResult& r) {
  boost::json::object result;
  if (r.winner) result["winner"] = *r.winner;
  if (r.summary) result["summary"] = *r.summary;
  if (r.reasons_to_launch) result["reasons_to_launch"] = *r.reasons_to_launch;
  if (r.reasons_not_to_launch) result["reasons_not_to_launch"] = *r.reasons_not_to_launch;
  if (!result.empty()) out["result"] = std::move(result);
}

// Plain scalars YAML would read as something else (a bool, null, a number) or that carry
// indicators; strings are always double-quoted, so only keys need this.
bool plain_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  if (key == "true" || key == "false" || key == "null" || key == "yes" || key == "no" || key == "on" || key == "off" ||
      key == "y" || key == "n" || key == "~")
    return false;
  double ignored;
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), ignored);
  if (ec == std::errc() && end == key.data() + key.size()) return false;  // would read as a number
  return key.front() != '-' && key.front() != '.';
}

void write_key(std::string& out, std::string_view key) {
  if (plain_key(key)) {
    out += key;
  } else {
    append_json_string(out, key);
  }
}

bool is_scalar(const boost::json::value& v) {
  return !(v.is_object() && !v.get_object().empty()) && !(v.is_array() && !v.get_array().empty());
}

void write_scalar(std::string& out, const boost::json::value& v) {
  if (v.is_object()) {
    out += "{}";
  } else if (v.is_array()) {
    out += "[]";
  } else {
    out += write_json(v);
  }
}

void write_block(std::string& out, const boost::json::value& v, std::size_t indent);

void write_members(std::string& out, const boost::json::object& o, std::size_t indent, bool first_inline) {
  bool first = true;
  for (const auto& member : o) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    write_key(out, member.key());
    out += ":";
    if (is_scalar(member.value())) {
      out += " ";
      write_scalar(out, member.value());
      out += "\n";
    } else {
      out += "\n";
      write_block(out, member.value(), indent + 2);
    }
  }
}

void write_block(std::string& out, const boost::json::value& v, std::size_t indent) {
  if (v.is_object()) {
    write_members(out, v.get_object(), indent, false);
    return;
  }
  for (const auto& item : v.get_array()) {
    out.append(indent, ' ');
    out += "- ";
    if (is_scalar(item)) {
      write_scalar(out, item);
      out += "\n";
    } else if (item.is_object()) {
      write_members(out, item.get_object(), indent + 2, true);
    } else {
      out += "\n";
      write_block(out, item, indent + 2);
    }
  }
}

bool holds_weights(const std::vector<std::string>& not_expressible) {
  return std::find(not_expressible.begin(), not_expressible.end(), "variations.weight") == not_expressible.end();
}

}  // namespace

boost::json::object experiment_state_json(const Experiment& e, const std::vector<std::string>& not_expressible) {
  boost::json::object out;
  const bool weights_held = holds_weights(not_expressible);
  if (e.name) out["name"] = *e.name;
  if (e.description) out["description"] = *e.description;
  if (e.hypothesis) out["hypothesis"] = *e.hypothesis;
  if (e.launch_criteria) out["launch_criteria"] = *e.launch_criteria;
  if (e.audience && (e.audience->rule || e.audience->description)) {
    boost::json::object audience;
    if (e.audience->rule) audience["rule"] = *e.audience->rule;
    if (e.audience->description) audience["description"] = *e.audience->description;
    out["audience"] = std::move(audience);
  }
  if (e.variations) {
    boost::json::array variations;
    for (const auto& v : *e.variations) variations.emplace_back(variation_json(v, weights_held));
    out["variations"] = std::move(variations);
  }
  if (e.exposure) out["exposure"] = *e.exposure;
  if (e.overrides) {
    boost::json::object overrides;
    for (const auto& [entity, variation] : *e.overrides) overrides[entity] = variation;
    out["overrides"] = std::move(overrides);
  }
  if (e.result) put_result(out, *e.result);
  return out;
}

boost::json::object experiment_update_document(const Experiment& e, const std::vector<std::string>& not_expressible) {
  boost::json::object out;
  out["experiment"] = e.experiment;
  boost::json::object state = experiment_state_json(e, not_expressible);
  if (!holds_weights(not_expressible)) state.erase("variations");
  // `result` goes only with `action: stop` in an update document.
  const bool stopped = e.status == ExperimentStatus::stopped;
  for (auto& member : state)
    if (member.key() != "result" || stopped) out[member.key()] = std::move(member.value());
  if (e.status) {
    switch (*e.status) {
      case ExperimentStatus::draft: break;
      case ExperimentStatus::running: out["action"] = "start"; break;
      case ExperimentStatus::paused: out["action"] = "pause"; break;
      case ExperimentStatus::stopped: out["action"] = "stop"; break;
      case ExperimentStatus::archived: out["action"] = "archive"; break;
    }
  }
  return out;
}

std::string write_yaml(const boost::json::value& value) {
  std::string out;
  if (is_scalar(value)) {
    write_scalar(out, value);
    out += "\n";
  } else {
    write_block(out, value, 0);
  }
  return out;
}

}  // namespace expbridge
