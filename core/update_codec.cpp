#include <charconv>
#include <cmath>

#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "document.hpp"
#include "expbridge/update.hpp"
#include "json_reader.hpp"
#include "message_text.hpp"

namespace expbridge {
namespace {

constexpr double kWeightTolerance = 0.001;

Error annotate(Error e, const Document& doc) {
  if (e.file.empty()) {
    Error located = doc.error_at(e.field, std::move(e.message));
    located.code = e.code;
    return located;
  }
  return e;
}


Result<AttributeValue> parse_attribute(const boost::json::value& v, const std::string& path) {
  auto fail = [&](std::string message) {
    Error e = make_error(ErrorCode::invalid_input, std::move(message));
    e.field = path;
    return std::unexpected(std::move(e));
  };
  if (v.is_string()) return AttributeValue(std::string(v.get_string()));
  if (v.is_bool()) return AttributeValue(v.get_bool());
  if (auto n = as_number(v)) {
    if (!std::isfinite(*n)) return fail("must be a finite number (NaN and infinity are refused)");
    if (auto exact = check_exact_number(v); !exact) return fail(std::move(exact.error().message));
    return AttributeValue(*n);
  }
  if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty() || a.front().is_string()) {
      std::vector<std::string> strings;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_string())
          return fail("a list holds one type: item " + std::to_string(i) + " is " +
                      std::string(json_kind(a[i])) + " in a list of strings");
        strings.emplace_back(a[i].get_string());
      }
      return AttributeValue(std::move(strings));
    }
    std::vector<double> numbers;
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto n = as_number(a[i]);
      if (!n)
        return fail("a list holds strings or numbers, one type: item " + std::to_string(i) + " is " +
                    std::string(json_kind(a[i])));
      if (!std::isfinite(*n)) return fail("item " + std::to_string(i) + " must be a finite number");
      if (auto exact = check_exact_number(a[i]); !exact)
        return fail("item " + std::to_string(i) + ": " + exact.error().message);
      numbers.push_back(*n);
    }
    return AttributeValue(std::move(numbers));
  }
  return fail("an attribute is a string, number, boolean, or a list of strings or of numbers; found " +
              std::string(json_kind(v)));
}

Result<VariationValue> parse_value(const boost::json::value& v, const std::string& path) {
  VariationValue out;
  auto reader = ObjectReader::open(v, path);
  if (!reader) return std::unexpected(std::move(reader).error());
  EXPBRIDGE_RETURN_IF_ERROR(reader->known({"enabled", "attributes"}));
  std::optional<bool> enabled;
  EXPBRIDGE_ASSIGN_OR_RETURN(enabled, reader->optional_bool("enabled"));
  if (!enabled) return std::unexpected(reader->missing("enabled", "is required (the flag value served: true or false)"));
  out.enabled = *enabled;
  const boost::json::object* attributes = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(attributes, reader->optional_object("attributes"));
  if (attributes) {
    std::string attributes_path = reader->member_path("attributes");
    for (const auto& member : *attributes) {
      AttributeValue value;
      EXPBRIDGE_ASSIGN_OR_RETURN(value, parse_attribute(member.value(), join_path(attributes_path, member.key())));
      out.attributes.emplace_back(std::string(member.key()), std::move(value));
    }
  }
  EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
  return out;
}

Result<Variation> parse_variation(const boost::json::value& v, const std::string& path) {
  Variation out;
  auto reader = ObjectReader::open(v, path);
  if (!reader) return std::unexpected(std::move(reader).error());
  EXPBRIDGE_RETURN_IF_ERROR(reader->known({"key", "control", "weight", "description", "value"}));
  EXPBRIDGE_ASSIGN_OR_RETURN(out.key, reader->required_string("key"));
  std::optional<bool> control;
  EXPBRIDGE_ASSIGN_OR_RETURN(control, reader->optional_bool("control"));
  out.control = control.value_or(false);
  std::optional<double> weight;
  EXPBRIDGE_ASSIGN_OR_RETURN(weight, reader->optional_number("weight"));
  if (!weight) return std::unexpected(reader->missing("weight", "is required (percent of exposed traffic, 0..100)"));
  out.weight = *weight;
  EXPBRIDGE_ASSIGN_OR_RETURN(out.description, reader->optional_string("description"));
  if (const auto* value = reader->optional_value("value")) {
    VariationValue parsed;
    EXPBRIDGE_ASSIGN_OR_RETURN(parsed, parse_value(*value, reader->member_path("value")));
    out.value = std::move(parsed);
  }
  EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
  return out;
}

Result<Update> update_from_json(const boost::json::value& root) {
  Update u;
  auto reader = ObjectReader::open(root, "");
  if (!reader) return std::unexpected(std::move(reader).error());
  EXPBRIDGE_RETURN_IF_ERROR(reader->known({"experiment", "name", "description", "hypothesis", "launch_criteria",
                                           "audience", "variations", "exposure", "overrides", "action", "result",
                                           "comment", "vendor"}));
  EXPBRIDGE_ASSIGN_OR_RETURN(u.experiment, reader->required_string("experiment"));
  EXPBRIDGE_ASSIGN_OR_RETURN(u.name, reader->optional_string("name"));
  EXPBRIDGE_ASSIGN_OR_RETURN(u.description, reader->optional_string("description"));
  EXPBRIDGE_ASSIGN_OR_RETURN(u.hypothesis, reader->optional_string("hypothesis"));
  EXPBRIDGE_ASSIGN_OR_RETURN(u.launch_criteria, reader->optional_string("launch_criteria"));
  EXPBRIDGE_ASSIGN_OR_RETURN(u.comment, reader->optional_string("comment"));
  EXPBRIDGE_ASSIGN_OR_RETURN(u.exposure, reader->optional_number("exposure"));

  const boost::json::object* audience = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(audience, reader->optional_object("audience"));
  if (audience) {
    auto ar = ObjectReader::open(*reader->optional_value("audience"), "audience");
    EXPBRIDGE_RETURN_IF_ERROR(ar->known({"rule", "description"}));
    Audience a;
    EXPBRIDGE_ASSIGN_OR_RETURN(a.rule, ar->optional_string("rule"));
    EXPBRIDGE_ASSIGN_OR_RETURN(a.description, ar->optional_string("description"));
    EXPBRIDGE_RETURN_IF_ERROR(ar->finish());
    u.audience = std::move(a);
  }

  if (const auto* variations = reader->optional_value("variations")) {
    if (!variations->is_array())
      return std::unexpected(reader->error("variations", "must be a list, found " + std::string(json_kind(*variations))));
    std::vector<Variation> list;
    const auto& items = variations->get_array();
    if (items.empty()) return std::unexpected(reader->error("variations", "must hold at least one variation"));
    for (std::size_t i = 0; i < items.size(); ++i) {
      Variation var;
      EXPBRIDGE_ASSIGN_OR_RETURN(var, parse_variation(items[i], index_path("variations", i)));
      list.push_back(std::move(var));
    }
    u.variations = std::move(list);
  }

  const boost::json::object* overrides = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(overrides, reader->optional_object("overrides"));
  if (overrides) {
    std::vector<std::pair<std::string, std::string>> list;
    for (const auto& member : *overrides) {
      std::string path = join_path("overrides", member.key());
      if (member.key().empty()) {
        Error e = make_error(ErrorCode::invalid_input, "an entity id must not be empty");
        e.field = path;
        return std::unexpected(std::move(e));
      }
      if (!member.value().is_string()) {
        Error e = make_error(ErrorCode::invalid_input,
                             "must name a variation key (a string), found " + std::string(json_kind(member.value())));
        e.field = path;
        return std::unexpected(std::move(e));
      }
      list.emplace_back(std::string(member.key()), std::string(member.value().get_string()));
    }
    u.overrides = std::move(list);
  }

  std::optional<std::string> action;
  EXPBRIDGE_ASSIGN_OR_RETURN(action, reader->optional_string("action"));
  if (action) {
    u.action = parse_action(*action);
    if (!u.action)
      return std::unexpected(reader->error("action", quote_value(*action) + " is not an action; use start, pause, stop, archive or restore"));
  }

  const boost::json::object* result = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(result, reader->optional_object("result"));
  if (result) {
    auto rr = ObjectReader::open(*reader->optional_value("result"), "result");
    EXPBRIDGE_RETURN_IF_ERROR(rr->known({"winner", "summary", "reasons_to_launch", "reasons_not_to_launch"}));
    ExperimentResult r;
    EXPBRIDGE_ASSIGN_OR_RETURN(r.winner, rr->optional_string("winner"));
    EXPBRIDGE_ASSIGN_OR_RETURN(r.summary, rr->optional_string("summary"));
    EXPBRIDGE_ASSIGN_OR_RETURN(r.reasons_to_launch, rr->optional_string("reasons_to_launch"));
    EXPBRIDGE_ASSIGN_OR_RETURN(r.reasons_not_to_launch, rr->optional_string("reasons_not_to_launch"));
    EXPBRIDGE_RETURN_IF_ERROR(rr->finish());
    u.result = std::move(r);
  }

  const boost::json::object* vendor = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(vendor, reader->optional_object("vendor"));
  if (vendor) {
    for (const auto& member : *vendor) {
      if (!member.value().is_object()) {
        Error e = make_error(ErrorCode::invalid_input,
                             "a vendor pass-through must be a mapping, found " + std::string(json_kind(member.value())));
        e.field = join_path("vendor", member.key());
        return std::unexpected(std::move(e));
      }
    }
    u.vendor = *vendor;
  }
  EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
  return u;
}

Error rule_error(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}

std::string format_number(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

}  // namespace

Status validate_update(const Update& u) {
  // Every check is linear in the size of the update: hostile documents hold 10^5 overrides.
  if (u.experiment.empty()) return std::unexpected(rule_error("experiment", "is required"));
  if (u.exposure) {
    if (!std::isfinite(*u.exposure)) return std::unexpected(rule_error("exposure", "must be a finite number"));
    if (*u.exposure < 0 || *u.exposure > 100)
      return std::unexpected(rule_error("exposure", "must be a percent within 0..100, got " + format_number(*u.exposure)));
  }
  std::unordered_set<std::string_view> variation_keys;
  if (u.variations) {
    const auto& vars = *u.variations;
    if (vars.empty()) return std::unexpected(rule_error("variations", "must hold at least one variation"));
    double sum = 0;
    int controls = 0;
    for (std::size_t i = 0; i < vars.size(); ++i) {
      const auto& v = vars[i];
      std::string path = index_path("variations", i);
      if (v.key.empty()) return std::unexpected(rule_error(join_path(path, "key"), "must not be empty"));
      if (!variation_keys.insert(v.key).second)
        return std::unexpected(rule_error(join_path(path, "key"), "duplicate variation key " + quote_value(v.key)));
      if (!std::isfinite(v.weight)) return std::unexpected(rule_error(join_path(path, "weight"), "must be a finite number"));
      if (v.weight < 0 || v.weight > 100)
        return std::unexpected(rule_error(join_path(path, "weight"),
                                          "must be a percent within 0..100, got " + format_number(v.weight)));
      sum += v.weight;
      if (v.control) ++controls;
    }
    if (std::fabs(sum - 100) > kWeightTolerance)
      return std::unexpected(rule_error("variations", "weights must sum to 100, they sum to " + format_number(sum)));
    if (controls != 1)
      return std::unexpected(rule_error("variations", "exactly one variation must be the control (control: true), found " +
                                                          std::to_string(controls)));
  }
  if (u.overrides) {
    std::unordered_set<std::string_view> entities;
    entities.reserve(u.overrides->size());
    for (const auto& [entity, key] : *u.overrides) {
      if (!entities.insert(entity).second)
        return std::unexpected(rule_error(join_path("overrides", entity), "duplicate entity id"));
      if (key.empty()) return std::unexpected(rule_error(join_path("overrides", entity), "must name a variation"));
      if (u.variations && !variation_keys.contains(key))
        return std::unexpected(rule_error(join_path("overrides", entity),
                                          "names variation " + quote_value(key) + ", which is not among this update's variations"));
    }
  }
  if (u.result) {
    if (u.action != Action::stop)
      return std::unexpected(rule_error("result", "a result is recorded only with action: stop"));
    if (u.result->winner && u.variations && !variation_keys.contains(*u.result->winner))
      return std::unexpected(rule_error("result.winner", "names variation " + quote_value(*u.result->winner) +
                                                             ", which is not among this update's variations"));
  }
  return {};
}

Result<Update> parse_update(std::string_view text, std::string source, DocumentFormat format) {
  auto doc = parse_document(text, std::move(source), format);
  if (!doc) return std::unexpected(std::move(doc).error());
  auto update = update_from_json(doc->root);
  if (!update) return std::unexpected(annotate(std::move(update).error(), *doc));
  update->source = doc->source;
  if (auto ok = validate_update(*update); !ok) {
    // Rule errors name fields by index path, which the document can locate.
    return std::unexpected(annotate(std::move(ok).error(), *doc));
  }
  return update;
}

Result<Update> load_update(const std::string& path) {
  auto text = read_text(path);
  if (!text) return std::unexpected(std::move(text).error());
  return parse_update(*text, path);
}

}  // namespace expbridge
