// AWS AppConfig experimentation emulator: experiment definitions and runs (restJson1, SigV4).
//
// Facts: AWS AppConfig API Reference (API version 2019-10-09, experimentation release of
// 2026-06-29), operations CreateExperimentDefinition, GetExperimentDefinition,
// UpdateExperimentDefinition, DeleteExperimentDefinition, ListExperimentDefinitions,
// StartExperimentRun, GetExperimentRun, UpdateExperimentRun, StopExperimentRun,
// ListExperimentRuns, ListExperimentRunEvents, with the service model's constraints and the
// common AWS errors. Where the reference leaves a behaviour open, the choice made here is stated
// next to the code that makes it ("unverified").
//
// This emulator is a second witness of AppConfig's rules: it never includes the AppConfig adapter
// nor reads the mapping tables (mappings/*.yaml).
//
// Routes (every request SigV4-signed for `appconfig`, else 403; `{app}` and `{def}` take an ID or
// a name; a missing application, definition or run is 404 ResourceNotFoundException
// {Message, ResourceName}; lists take `max_results` 1–50 and `next_token`, and answer
// {Items, NextToken?} — NextToken only while more items follow):
//   GET    /experimentdefinitions                                      ListExperimentDefinitions
//   POST   /applications/{app}/experimentdefinitions                   CreateExperimentDefinition (201)
//   GET    /applications/{app}/experimentdefinitions/{def}             GetExperimentDefinition
//   PATCH  /applications/{app}/experimentdefinitions/{def}             UpdateExperimentDefinition
//   DELETE /applications/{app}/experimentdefinitions/{def}             DeleteExperimentDefinition (204)
//   POST   …/{def}/experimentruns                                      StartExperimentRun (201)
//   GET    …/{def}/experimentruns[?status=RUNNING|DONE]                ListExperimentRuns (run summaries,
//                                                                     oldest run first)
//   GET    …/{def}/experimentruns/{run}                                GetExperimentRun
//   PATCH  …/{def}/experimentruns/{run}/update                         UpdateExperimentRun
//   PATCH  …/{def}/experimentruns/{run}/stop                           StopExperimentRun
//   GET    …/{def}/experimentruns/{run}/events                         ListExperimentRunEvents (newest first)
//
// Fixture section (`appconfig:`), strict: applications: [{id, name?, configuration_profiles:
// [{id, name?, flags: [KEY]}], environments: [{id, name?}], experiment_definitions: [{id?,
// status?: IDLE|ARCHIVED, definition: {CreateExperimentDefinition body}, runs: [{status:
// RUNNING|DONE, start?: {StartExperimentRun body}, stop?: {StopExperimentRun body}}]}]}].
//
// state() shape (objects keyed by id so tests can index directly):
//   {"applications": {APP_ID: {
//       "Name": str,
//       "ExperimentDefinitions": {DEF_ID: {
//           ...the ExperimentDefinition response body (Id, Name, Status, Control, Treatments, ...),
//           "Tags": {..},
//           "Runs": {"1": {...the ExperimentRun response body..., "Tags": {..},
//                          "Events": [ExperimentRunEvent, newest first]}}}}}}}
#include "appconfig_emulator.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <expected>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include <boost/json/parse.hpp>

#include "json_reader.hpp"
#include "emulator/fixtures.hpp"
#include "emulator/rate_limits.hpp"
#include "json_writer.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;

constexpr std::size_t kUnbounded = static_cast<std::size_t>(-1);

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Lengths in the AWS model count characters, not bytes: count UTF-8 code points.
std::size_t char_count(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

/// A float member as JSON: integral values as integers, so that the state equals itself after a
/// write/parse round trip (`/_emulator/state`); the wire text is the same (`50`, `75.5`).
json::value number_json(double d) {
  if (std::trunc(d) == d && std::fabs(d) < 9e15) return static_cast<std::int64_t>(d);
  return d;
}

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

/// `^[a-zA-Z0-9]{1,8}` (treatment keys).
bool is_treatment_key(std::string_view s) {
  return !s.empty() && s.size() <= 8 && std::all_of(s.begin(), s.end(), is_alnum);
}
/// `[a-z][a-zA-Z0-9_-]{min_tail,max_tail}`.
bool is_lower_identifier(std::string_view s, std::size_t min_tail, std::size_t max_tail) {
  if (s.empty() || !is_lower(s[0]) || s.size() - 1 < min_tail || s.size() - 1 > max_tail) return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}
/// `(?!enabled$)[a-z][a-zA-Z0-9_-]{0,63}` (AttributeValues keys; `enabled` is reserved).
bool is_attribute_key(std::string_view s) { return s != "enabled" && is_lower_identifier(s, 0, 63); }
/// `^([^#\n]{1,96})#([^\/#\n]{1,64})$` (DynamicExtensionParameters keys).
bool is_extension_parameter_key(std::string_view s) {
  auto hash = s.find('#');
  if (hash == std::string_view::npos) return false;
  std::string_view ext = s.substr(0, hash), param = s.substr(hash + 1);
  auto n_ext = char_count(ext), n_param = char_count(param);
  if (n_ext < 1 || n_ext > 96 || n_param < 1 || n_param > 64) return false;
  if (ext.find('\n') != std::string_view::npos) return false;
  return param.find_first_of("#/\n") == std::string_view::npos;
}

/// A restJson1 error with AppConfig's `Message` member (and any extra members).
ServerReply error_reply(int status, std::string_view code, std::string_view message,
                        std::vector<std::pair<std::string, std::string>> extra = {}) {
  ServerReply reply = aws_error(status, code, message, "Message");
  if (!extra.empty()) {
    json::object body = json::parse(reply.body).as_object();
    for (auto& [k, v] : extra) body[k] = v;
    reply.body = write_json(body);
  }
  return reply;
}
ServerReply bad_request(std::string_view message) { return error_reply(400, "BadRequestException", message); }
ServerReply conflict(std::string_view message) { return error_reply(409, "ConflictException", message); }
ServerReply not_found(std::string_view what, std::string_view identifier) {
  return error_reply(404, "ResourceNotFoundException",
                     std::string(what) + " '" + std::string(identifier) + "' was not found.",
                     {{"ResourceName", std::string(identifier)}});
}

template <class T>
using Outcome = std::expected<T, ServerReply>;

// ---------------------------------------------------------------------------------------------
// Strict reading of one JSON object: first problem wins; unknown members are refused.

class Fields {
 public:
  Fields(const json::object& object, std::string where) : object_(object), where_(std::move(where)) {}

  std::optional<std::string> problem;

  void fail(std::string message) {
    if (!problem) problem = std::move(message);
  }
  std::string at(std::string_view key) const { return where_.empty() ? std::string(key) : where_ + "." + std::string(key); }

  /// Refuses members not in `known` (the brief's strict stance; see the report).
  void only(std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : object_) {
      if (std::find(known.begin(), known.end(), std::string_view(k)) == known.end())
        fail("Unknown member '" + at(k) + "'.");
    }
  }
  /// The member, or nullptr when absent or JSON null (the SDKs omit unset members).
  const json::value* get(std::string_view key, bool required) {
    auto it = object_.find(key);
    if (it == object_.end() || it->value().is_null()) {
      if (required) fail("Value null at '" + at(key) + "' failed to satisfy constraint: Member must not be null.");
      return nullptr;
    }
    return &it->value();
  }
  std::optional<std::string> str(std::string_view key, std::size_t min, std::size_t max, bool required = false) {
    const json::value* v = get(key, required);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      fail("Value at '" + at(key) + "' must be a string, not " + std::string(json_kind(*v)) + ".");
      return std::nullopt;
    }
    std::string s(v->as_string());
    check_length(at(key), char_count(s), min, max);
    return s;
  }
  std::optional<double> num(std::string_view key, std::optional<double> min, std::optional<double> max, bool required = false) {
    const json::value* v = get(key, required);
    if (!v) return std::nullopt;
    auto d = as_number(*v);
    if (!d || !std::isfinite(*d)) {
      fail("Value at '" + at(key) + "' must be a number, not " + std::string(json_kind(*v)) + ".");
      return std::nullopt;
    }
    if (min && *d < *min) fail("Value '" + format(*d) + "' at '" + at(key) + "' failed to satisfy constraint: Member must have value greater than or equal to " + format(*min) + ".");
    if (max && *d > *max) fail("Value '" + format(*d) + "' at '" + at(key) + "' failed to satisfy constraint: Member must have value less than or equal to " + format(*max) + ".");
    return d;
  }
  std::optional<bool> boolean(std::string_view key, bool required = false) {
    const json::value* v = get(key, required);
    if (!v) return std::nullopt;
    if (!v->is_bool()) {
      fail("Value at '" + at(key) + "' must be a boolean, not " + std::string(json_kind(*v)) + ".");
      return std::nullopt;
    }
    return v->as_bool();
  }
  const json::object* obj(std::string_view key, bool required = false) {
    const json::value* v = get(key, required);
    if (!v) return nullptr;
    if (!v->is_object()) {
      fail("Value at '" + at(key) + "' must be an object, not " + std::string(json_kind(*v)) + ".");
      return nullptr;
    }
    return &v->as_object();
  }
  const json::array* arr(std::string_view key, std::size_t min, std::size_t max, bool required = false) {
    const json::value* v = get(key, required);
    if (!v) return nullptr;
    if (!v->is_array()) {
      fail("Value at '" + at(key) + "' must be a list, not " + std::string(json_kind(*v)) + ".");
      return nullptr;
    }
    check_length(at(key), v->as_array().size(), min, max);
    return &v->as_array();
  }
  void check_length(const std::string& path, std::size_t n, std::size_t min, std::size_t max) {
    if (n < min) fail("Value at '" + path + "' failed to satisfy constraint: Member must have length greater than or equal to " + std::to_string(min) + ".");
    if (max != kUnbounded && n > max) fail("Value at '" + path + "' failed to satisfy constraint: Member must have length less than or equal to " + std::to_string(max) + ".");
  }
  static std::string format(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }

 private:
  const json::object& object_;
  std::string where_;
};

/// A string→string map with counted entries and bounded keys/values (Tags, extension params).
void check_string_map(Fields& f, const json::object& map, const std::string& where, std::size_t min_entries,
                      std::size_t max_entries, std::size_t key_min, std::size_t key_max, std::size_t value_min,
                      std::size_t value_max) {
  f.check_length(where, map.size(), min_entries, max_entries);
  for (const auto& [k, v] : map) {
    f.check_length(where + " key '" + std::string(k) + "'", char_count(k), key_min, key_max);
    if (!v.is_string()) {
      f.fail("Value at '" + where + "." + std::string(k) + "' must be a string.");
      continue;
    }
    f.check_length(where + "." + std::string(k), char_count(v.as_string()), value_min, value_max);
  }
}

void check_tags(Fields& f, std::string_view key) {
  if (const json::object* tags = f.obj(key)) check_string_map(f, *tags, f.at(key), 0, 50, 1, 128, 0, 256);
}

/// FlagValue: Enabled* and AttributeValues (≤ 25, key pattern, each a one-member union).
void check_flag_value(Fields& parent, const json::object& flag_value, const std::string& where) {
  Fields f(flag_value, where);
  f.only({"Enabled", "AttributeValues"});
  f.boolean("Enabled", true);
  if (const json::object* attributes = f.obj("AttributeValues")) {
    f.check_length(f.at("AttributeValues"), attributes->size(), 0, 25);
    for (const auto& [name, value] : *attributes) {
      std::string path = f.at("AttributeValues") + "." + std::string(name);
      if (!is_attribute_key(name))
        f.fail("Value '" + std::string(name) + "' at '" + f.at("AttributeValues") +
               "' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!enabled$)[a-z][a-zA-Z0-9_-]{0,63}.");
      if (!value.is_object()) {
        f.fail("Value at '" + path + "' must be an object.");
        continue;
      }
      const json::object& member = value.as_object();
      Fields u(member, path);
      u.only({"StringValue", "NumberValue", "BooleanValue", "StringArray", "NumberArray"});
      std::size_t set = 0;
      for (const auto& [k, v] : member)
        if (!v.is_null()) ++set;
      if (set != 1) u.fail("Value at '" + path + "' must have exactly one member set (AttributeValue is a union).");
      u.str("StringValue", 0, 1024);
      u.num("NumberValue", std::nullopt, std::nullopt);
      u.boolean("BooleanValue");
      if (const json::array* strings = u.arr("StringArray", 0, 25)) {
        for (std::size_t i = 0; i < strings->size(); ++i) {
          const auto& item = (*strings)[i];
          std::string ip = u.at("StringArray") + "[" + std::to_string(i) + "]";
          if (!item.is_string()) u.fail("Value at '" + ip + "' must be a string.");
          else u.check_length(ip, char_count(item.as_string()), 0, 1024);
        }
      }
      if (const json::array* numbers = u.arr("NumberArray", 0, 25)) {
        for (std::size_t i = 0; i < numbers->size(); ++i)
          if (!as_number((*numbers)[i]))
            u.fail("Value at '" + u.at("NumberArray") + "[" + std::to_string(i) + "]' must be a number.");
      }
      if (u.problem) f.fail(*u.problem);
    }
  }
  if (f.problem) parent.fail(*f.problem);
}

// ---------------------------------------------------------------------------------------------
// The model

struct Treatment {
  std::string key;
  double weight = 0;
  json::object flag_value;
  std::optional<std::string> description;

  json::object to_json() const {
    json::object o;
    o["Key"] = key;
    o["Weight"] = number_json(weight);
    o["FlagValue"] = flag_value;
    if (description) o["Description"] = *description;
    return o;
  }
};

/// TreatmentInput → Treatment (key assigned by the caller: TreatmentInput has no Key member).
std::optional<Treatment> read_treatment_input(Fields& parent, const json::value& value, const std::string& where) {
  if (!value.is_object()) {
    parent.fail("Value at '" + where + "' must be an object.");
    return std::nullopt;
  }
  Fields f(value.as_object(), where);
  f.only({"Weight", "FlagValue", "Description"});
  Treatment t;
  t.weight = f.num("Weight", 0.0, std::nullopt, true).value_or(0);
  t.description = f.str("Description", 0, 1024);
  if (const json::object* fv = f.obj("FlagValue", true)) {
    check_flag_value(f, *fv, f.at("FlagValue"));
    t.flag_value = *fv;
  }
  if (f.problem) {
    parent.fail(*f.problem);
    return std::nullopt;
  }
  return t;
}

/// Control + Treatments with the service's keys: control "c", treatments "t1", "t2"… in order
/// (every published example; the scheme itself is unverified). A Treatments update re-keys.
void assign_keys(Treatment& control, std::vector<Treatment>& treatments) {
  control.key = "c";
  for (std::size_t i = 0; i < treatments.size(); ++i) treatments[i].key = "t" + std::to_string(i + 1);
}

struct Event {
  std::string type;
  std::string occurred_at;
  std::string description;
  std::string deployment;
  double exposure = 0;
  std::optional<json::object> overrides;

  json::object to_json() const {
    json::object o;
    o["Description"] = description;
    o["AssociatedDeployment"] = deployment;
    o["EventType"] = type;
    o["OccurredAt"] = occurred_at;
    o["TriggeredBy"] = "USER";
    o["ExposurePercentage"] = number_json(exposure);
    if (overrides) o["TreatmentOverrides"] = *overrides;
    return o;
  }
};

struct Run {
  std::int64_t number = 0;
  std::optional<std::string> description;
  std::string status = "RUNNING";
  double exposure = 0;
  std::optional<json::object> overrides;  ///< the TreatmentOverrides union, as sent
  std::optional<json::object> result;
  std::string started_at, updated_at;
  std::optional<std::string> ended_at;
  json::object snapshot;
  json::object tags;
  std::vector<Event> events;  ///< oldest first; listed newest first
};

struct Definition {
  std::string id, name;
  std::string status = "IDLE";  ///< IDLE | ACTIVE (a run is RUNNING) | ARCHIVED
  std::string profile_id, environment_id, flag_key, audience_rule;
  std::optional<std::string> hypothesis, audience_description, launch_criteria;
  Treatment control;
  std::vector<Treatment> treatments;
  std::string created_at, updated_at;
  json::object tags;
  std::map<std::int64_t, Run> runs;
  std::int64_t last_run = 0;

  bool running() const {
    return std::any_of(runs.begin(), runs.end(), [](const auto& r) { return r.second.status == "RUNNING"; });
  }
  bool has_treatment_key(std::string_view key) const {
    if (control.key == key) return true;
    return std::any_of(treatments.begin(), treatments.end(), [&](const Treatment& t) { return t.key == key; });
  }
};

struct Profile {
  std::string id, name;
  std::set<std::string, std::less<>> flags;  ///< a set: a profile may hold thousands, checked on every create
};
struct Environment {
  std::string id, name;
};

struct Application {
  std::string id, name;
  std::vector<Profile> profiles;
  std::vector<Environment> environments;
  std::vector<Definition> definitions;  ///< creation order; added only through add_definition
  std::int64_t deployments = 0;         ///< runs are delivered as deployments; their numbers

  // Every request names its definition by ID or name: indexes into `definitions`, so that an
  // application holding 10,000 definitions answers without a scan per request.
  std::unordered_map<std::string, std::size_t> definition_at_id, definition_at_name;

  Definition* definition(std::string_view identifier) {
    for (const auto* index : {&definition_at_id, &definition_at_name})
      if (auto it = index->find(std::string(identifier)); it != index->end()) return &definitions[it->second];
    return nullptr;
  }
  Definition& add_definition(Definition d) {
    definition_at_id.emplace(d.id, definitions.size());
    definition_at_name.emplace(d.name, definitions.size());
    definitions.push_back(std::move(d));
    return definitions.back();
  }
  void remove_definition(const Definition* d) {
    std::erase_if(definitions, [&](const Definition& x) { return &x == d; });
    definition_at_id.clear();
    definition_at_name.clear();
    for (std::size_t i = 0; i < definitions.size(); ++i) {
      definition_at_id.emplace(definitions[i].id, i);
      definition_at_name.emplace(definitions[i].name, i);
    }
  }
};

/// Common members of ExperimentDefinition and the run's ExperimentDefinitionSnapshot.
json::object definition_core(const Application& app, const Definition& d) {
  json::object o;
  o["ApplicationId"] = app.id;
  o["Id"] = d.id;
  o["Name"] = d.name;
  if (d.hypothesis) o["Hypothesis"] = *d.hypothesis;
  o["ConfigurationProfileId"] = d.profile_id;
  o["EnvironmentId"] = d.environment_id;
  o["FlagKey"] = d.flag_key;
  o["AudienceRule"] = d.audience_rule;
  if (d.audience_description) o["AudienceDescription"] = *d.audience_description;
  if (d.launch_criteria) o["LaunchCriteria"] = *d.launch_criteria;
  json::array treatments;
  for (const auto& t : d.treatments) treatments.push_back(t.to_json());
  o["Treatments"] = std::move(treatments);
  o["Control"] = d.control.to_json();
  return o;
}

json::object definition_json(const Application& app, const Definition& d) {
  json::object o = definition_core(app, d);
  o["Status"] = d.status;
  o["CreatedAt"] = d.created_at;
  o["UpdatedAt"] = d.updated_at;
  return o;
}

json::object definition_summary(const Application& app, const Definition& d) {
  json::object o;
  o["ApplicationId"] = app.id;
  o["Id"] = d.id;
  o["Name"] = d.name;
  if (d.hypothesis) o["Hypothesis"] = *d.hypothesis;
  o["Status"] = d.status;
  o["ConfigurationProfileId"] = d.profile_id;
  o["EnvironmentId"] = d.environment_id;
  o["FlagKey"] = d.flag_key;
  o["CreatedAt"] = d.created_at;
  o["UpdatedAt"] = d.updated_at;
  return o;
}

json::object run_json(const Application& app, const Definition& d, const Run& r) {
  json::object o;
  o["ApplicationId"] = app.id;
  o["ExperimentDefinitionId"] = d.id;
  o["Run"] = r.number;
  if (r.description) o["Description"] = *r.description;
  o["Status"] = r.status;
  o["ExposurePercentage"] = number_json(r.exposure);
  if (r.overrides) o["TreatmentOverrides"] = *r.overrides;
  if (r.result) o["Result"] = *r.result;
  o["StartedAt"] = r.started_at;
  o["UpdatedAt"] = r.updated_at;
  if (r.ended_at) o["EndedAt"] = *r.ended_at;
  o["ExperimentDefinitionSnapshot"] = r.snapshot;
  return o;
}

json::object run_summary(const Definition& d, const Run& r) {
  json::object o;
  o["ExperimentDefinitionId"] = d.id;
  o["Run"] = r.number;
  if (r.description) o["Description"] = *r.description;
  o["Status"] = r.status;
  o["StartedAt"] = r.started_at;
  o["UpdatedAt"] = r.updated_at;
  if (r.ended_at) o["EndedAt"] = *r.ended_at;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Request pieces shared by several operations

/// TreatmentOverrides: a union with exactly one member (Inline); ≤ 32 entities, ids 1–2048,
/// values treatment keys that exist in `definition`.
void check_overrides(Fields& f, const Definition& definition) {
  const json::object* overrides = f.obj("TreatmentOverrides");
  if (!overrides) return;
  Fields u(*overrides, f.at("TreatmentOverrides"));
  u.only({"Inline"});
  std::size_t set = 0;
  for (const auto& [k, v] : *overrides)
    if (!v.is_null()) ++set;
  if (set != 1) u.fail("Value at '" + f.at("TreatmentOverrides") + "' must have exactly one member set (TreatmentOverrides is a union).");
  if (const json::object* inline_map = u.obj("Inline")) {
    u.check_length(u.at("Inline"), inline_map->size(), 0, 32);
    for (const auto& [entity, key] : *inline_map) {
      std::string path = u.at("Inline") + "." + std::string(entity);
      u.check_length(u.at("Inline") + " key", char_count(entity), 1, 2048);
      if (!key.is_string() || !is_treatment_key(key.as_string())) {
        u.fail("Value at '" + path + "' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]{1,8}.");
      } else if (!definition.has_treatment_key(key.as_string())) {
        u.fail("Value '" + std::string(key.as_string()) + "' at '" + path + "' is not a treatment key of experiment definition " +
               definition.id + ".");
      }
    }
  }
  if (u.problem) f.fail(*u.problem);
}

void check_deployment_parameters(Fields& f) {
  const json::object* params = f.obj("DeploymentParameters");
  if (!params) return;
  Fields p(*params, f.at("DeploymentParameters"));
  p.only({"DynamicExtensionParameters", "Tags"});
  if (const json::object* dynamic = p.obj("DynamicExtensionParameters")) {
    std::string where = p.at("DynamicExtensionParameters");
    check_string_map(p, *dynamic, where, 1, 10, 1, 256, 1, 2048);
    for (const auto& [k, v] : *dynamic)
      if (!is_extension_parameter_key(k))
        p.fail("Value '" + std::string(k) + "' at '" + where +
               "' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([^#\\n]{1,96})#([^\\/#\\n]{1,64})$.");
  }
  check_tags(p, "Tags");
  if (p.problem) f.fail(*p.problem);
}

// ---------------------------------------------------------------------------------------------
// Paging: an opaque token that is really the offset (refused when it does not parse).

struct Page {
  std::size_t offset = 0;
  std::size_t size = 50;  // AWS's default page size is not documented; the maximum is used.
};

Outcome<Page> read_page(const std::vector<std::pair<std::string, std::string>>& query) {
  Page page;
  for (const auto& [k, v] : query) {
    if (k == "max_results") {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 50)
        return std::unexpected(bad_request("Value '" + v + "' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50."));
      page.size = static_cast<std::size_t>(n);
    } else if (k == "next_token") {
      if (v.empty() || char_count(v) > 2048)
        return std::unexpected(bad_request("Value at 'nextToken' failed to satisfy constraint: Member must have length between 1 and 2048."));
      constexpr std::string_view prefix = "emulator-page-";
      char* end = nullptr;
      std::string digits = v.substr(std::min(v.size(), prefix.size()));
      unsigned long n = std::strtoul(digits.c_str(), &end, 10);
      if (!v.starts_with(prefix) || digits.empty() || *end != '\0')
        return std::unexpected(bad_request("The next token '" + v + "' is not valid."));
      page.offset = n;
    }
  }
  return page;
}

ServerReply page_reply(std::vector<json::object> items, const Page& page) {
  json::object body;
  json::array out;
  for (std::size_t i = page.offset; i < items.size() && i < page.offset + page.size; ++i) out.push_back(std::move(items[i]));
  body["Items"] = std::move(out);
  if (page.offset + page.size < items.size()) body["NextToken"] = "emulator-page-" + std::to_string(page.offset + page.size);
  return json_reply(200, body);
}

std::optional<std::string> query_value(const std::vector<std::pair<std::string, std::string>>& query, std::string_view key) {
  for (const auto& [k, v] : query)
    if (k == key) return v;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------

class AppConfigEmulator final : public VendorEmulator {
 public:
  std::string_view vendor() const override { return "appconfig"; }

  // What the host asks of every emulator: defined apart, at the end of this file.
  std::vector<Credential> credentials() const override;
  ServerReply injected_error(const InjectedError& error) const override;
  Result<std::string_view> default_fixture() const override;
  std::optional<SampleBackend> sample_backend() const override;
  // `rate_limits.appconfig: {per_second, burst}`: ThrottlingException (400) over the bucket.
  Status limit_rate(const boost::json::value& section, WallClock::time_point now) override {
    return throttling_.configure(section, vendor(), now);
  }
  RateVerdict rate_limit(const ServerRequest&, WallClock::time_point now) override { return throttling_.admit(now); }

  bool serves(const ServerRequest& request) const override {
    // AppConfig's control plane owns /applications/... and the top-level /experimentdefinitions;
    // no other emulated AWS service (Evidently: /projects/...) uses those paths.
    std::string_view path = path_of(request);
    return path.starts_with("/applications/") || path == "/applications" || path == "/experimentdefinitions" ||
           path == "/experimentdefinitions/";
  }

  ServerReply handle(const ServerRequest& request) override {
    SigV4Check check = check_sigv4(request, "appconfig");
    if (!check.ok) return check.refusal;
    region_ = check.region;
    return route(request);
  }

  Status seed(const json::value& fixture) override {
    std::vector<Application> apps;
    id_counter_ = 0;
    auto reader_or = ObjectReader::open(fixture, "appconfig");
    if (!reader_or) return std::unexpected(reader_or.error());
    ObjectReader reader = std::move(*reader_or);
    if (const json::value* list = reader.optional_value("applications")) {
      if (!list->is_array()) return std::unexpected(reader.error("applications", "must be a list"));
      for (std::size_t i = 0; i < list->as_array().size(); ++i) {
        auto app = seed_application(list->as_array()[i], "appconfig.applications[" + std::to_string(i) + "]");
        if (!app) return std::unexpected(app.error());
        apps.push_back(std::move(*app));
      }
    }
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    apps_ = std::move(apps);
    return {};
  }

  json::value state() const override {
    json::object applications;
    for (const auto& app : apps_) {
      json::object a;
      a["Name"] = app.name;
      json::object definitions;
      for (const auto& d : app.definitions) {
        json::object def = definition_json(app, d);
        def["Tags"] = d.tags;
        json::object runs;
        for (const auto& [n, r] : d.runs) {
          json::object run = run_json(app, d, r);
          run["Tags"] = r.tags;
          json::array events;
          for (auto it = r.events.rbegin(); it != r.events.rend(); ++it) events.push_back(it->to_json());
          run["Events"] = std::move(events);
          runs[std::to_string(n)] = std::move(run);
        }
        def["Runs"] = std::move(runs);
        definitions[d.id] = std::move(def);
      }
      a["ExperimentDefinitions"] = std::move(definitions);
      applications[app.id] = std::move(a);
    }
    return json::object{{"applications", std::move(applications)}};
  }

 private:
  AwsThrottling throttling_{400};
  // --- routing -------------------------------------------------------------------------------

  ServerReply route(const ServerRequest& request) {
    auto seg = path_segments(request);
    auto query = query_of(request);
    const std::string& m = request.method;
    if (seg.size() == 1 && seg[0] == "experimentdefinitions" && m == "GET") return list_definitions(query);
    if (seg.size() < 3 || seg[0] != "applications" || seg[2] != "experimentdefinitions") return unknown_operation(request);

    Application* app = find_application(seg[1]);
    auto with_body = [&](auto&& op) -> ServerReply {
      auto body = parse_body(request);
      if (!body) return body.error();
      return op(*body);
    };
    if (seg.size() == 3) {
      if (m != "POST") return unknown_operation(request);
      if (!app) return not_found("Application", seg[1]);
      return with_body([&](const json::object& b) { return create_definition(*app, b); });
    }
    if (!app) return not_found("Application", seg[1]);
    Definition* def = find_definition(*app, seg[3]);
    if (seg.size() == 4) {
      if (m == "GET") return def ? json_reply(200, definition_json(*app, *def)) : not_found("ExperimentDefinition", seg[3]);
      if (m == "PATCH") {
        return with_body([&](const json::object& b) {
          return def ? update_definition(*app, *def, b) : not_found("ExperimentDefinition", seg[3]);
        });
      }
      if (m == "DELETE") return delete_definition(*app, seg[3], query);
      return unknown_operation(request);
    }
    if (seg[4] != "experimentruns") return unknown_operation(request);
    if (seg.size() == 5) {
      if (m == "POST") {
        return with_body([&](const json::object& b) {
          return def ? start_run(*app, *def, b) : not_found("ExperimentDefinition", seg[3]);
        });
      }
      if (m == "GET") return def ? list_runs(*def, query) : not_found("ExperimentDefinition", seg[3]);
      return unknown_operation(request);
    }
    if (seg.size() > 7) return unknown_operation(request);
    std::string verb = seg.size() == 7 ? seg[6] : "";
    bool known = (verb.empty() && m == "GET") || (verb == "update" && m == "PATCH") || (verb == "stop" && m == "PATCH") ||
                 (verb == "events" && m == "GET");
    if (!known) return unknown_operation(request);
    // The Run label is an integer ≥ 1: anything else is a request the model refuses (400).
    char* end = nullptr;
    long long number = std::strtoll(seg[5].c_str(), &end, 10);
    if (seg[5].empty() || *end != '\0')
      return bad_request("Value '" + seg[5] + "' at 'run' failed to satisfy constraint: Member must be an integer.");
    if (number < 1) return bad_request("Value '" + seg[5] + "' at 'run' failed to satisfy constraint: Member must have value greater than or equal to 1.");
    if (!def) return not_found("ExperimentDefinition", seg[3]);
    auto it = def->runs.find(number);
    if (it == def->runs.end()) return not_found("ExperimentRun", seg[5]);
    Run& run = it->second;
    if (verb.empty()) return json_reply(200, run_json(*app, *def, run));
    if (verb == "events") return list_events(run, query);
    return with_body([&](const json::object& b) {
      return verb == "update" ? update_run(*app, *def, run, b) : stop_run(*app, *def, run, b);
    });
  }

  static ServerReply unknown_operation(const ServerRequest& request) {
    return error_reply(404, "UnknownOperationException",
                       "No operation matches " + request.method + " " + std::string(path_of(request)) + ".");
  }

  static Outcome<json::object> parse_body(const ServerRequest& request) {
    // An empty body is an empty input structure (every member optional on the PATCH operations).
    if (request.body.empty()) return json::object{};
    boost::system::error_code ec;
    json::value v = json::parse(request.body, ec);
    if (ec || !v.is_object()) return std::unexpected(bad_request("The request body is not a JSON object."));
    return v.as_object();
  }

  // --- lookups (ID or name) -----------------------------------------------------------------

  Application* find_application(std::string_view identifier) {
    for (auto& app : apps_)
      if (app.id == identifier) return &app;
    for (auto& app : apps_)
      if (app.name == identifier) return &app;
    return nullptr;
  }
  static Definition* find_definition(Application& app, std::string_view identifier) { return app.definition(identifier); }
  template <class T>
  static T* find_by_id_or_name(std::vector<T>& items, std::string_view identifier) {
    for (auto& x : items)
      if (x.id == identifier) return &x;
    for (auto& x : items)
      if (x.name == identifier) return &x;
    return nullptr;
  }

  std::string new_id() {
    // `[a-z0-9]{4,7}` like AppConfig's ids; deterministic so tests can predict them.
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::uint64_t n = ++id_counter_;
    std::string out = "x";
    for (int i = 0; i < 6; ++i, n /= 36) out.insert(out.begin() + 1, digits[n % 36]);
    return out;
  }

  std::string deployment_arn(Application& app, const Definition& d) {
    return "arn:aws:appconfig:" + region_ + ":123456789012:application/" + app.id + "/environment/" + d.environment_id +
           "/deployment/" + std::to_string(++app.deployments);
  }

  // --- definitions ----------------------------------------------------------------------------

  /// Validates a CreateExperimentDefinition body and builds the definition (no id yet).
  static Outcome<Definition> build_definition(Application& app, const json::object& body) {
    Fields f(body, "");
    f.only({"Name", "ConfigurationProfileIdentifier", "EnvironmentIdentifier", "FlagKey", "Treatments", "Control",
            "AudienceRule", "Hypothesis", "AudienceDescription", "LaunchCriteria", "Tags"});
    Definition d;
    auto name = f.str("Name", 1, 64, true);
    if (name && name->starts_with("AWS."))
      f.fail("Value at 'Name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?!AWS\\.).{1,64}$.");
    auto profile = f.str("ConfigurationProfileIdentifier", 1, 2048, true);
    auto environment = f.str("EnvironmentIdentifier", 1, 2048, true);
    auto flag_key = f.str("FlagKey", 0, kUnbounded, true);
    if (flag_key && !is_lower_identifier(*flag_key, 1, 64))
      f.fail("Value '" + *flag_key + "' at 'FlagKey' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z][a-zA-Z0-9_-]{1,64}.");
    read_arms(f, d, true);
    auto rule = f.str("AudienceRule", 1, 16384, true);
    d.hypothesis = f.str("Hypothesis", 0, 1024);
    d.audience_description = f.str("AudienceDescription", 0, 1024);
    d.launch_criteria = f.str("LaunchCriteria", 0, 1024);
    check_tags(f, "Tags");
    if (f.problem) return std::unexpected(bad_request(*f.problem));

    Profile* p = find_by_id_or_name(app.profiles, *profile);
    if (!p) return std::unexpected(not_found("ConfigurationProfile", *profile));
    Environment* e = find_by_id_or_name(app.environments, *environment);
    if (!e) return std::unexpected(not_found("Environment", *environment));
    if (!p->flags.contains(*flag_key))
      return std::unexpected(not_found("Flag", *flag_key));
    // Names identify definitions in paths, so a second one with the same name is refused
    // (409 chosen: the exact error for a duplicate name is unverified).
    if (find_definition(app, *name))
      return std::unexpected(conflict("An experiment definition named '" + *name + "' already exists in application " + app.id + "."));

    d.name = *name;
    d.profile_id = p->id;
    d.environment_id = e->id;
    d.flag_key = *flag_key;
    d.audience_rule = *rule;
    if (const json::value* tags = body.if_contains("Tags"); tags && tags->is_object()) d.tags = tags->as_object();
    d.created_at = d.updated_at = now_iso();
    return d;
  }

  /// Control + Treatments (1–5), keyed c, t1, t2…; `required` on create, optional on update.
  static void read_arms(Fields& f, Definition& d, bool required) {
    if (const json::value* control = f.get("Control", required)) {
      if (auto t = read_treatment_input(f, *control, "Control")) d.control = std::move(*t);
    }
    if (const json::array* list = f.arr("Treatments", 1, 5, required)) {
      d.treatments.clear();
      for (std::size_t i = 0; i < list->size(); ++i)
        if (auto t = read_treatment_input(f, (*list)[i], "Treatments[" + std::to_string(i) + "]")) d.treatments.push_back(std::move(*t));
    }
    assign_keys(d.control, d.treatments);
  }

  ServerReply create_definition(Application& app, const json::object& body) {
    auto d = build_definition(app, body);
    if (!d) return d.error();
    d->id = new_id();
    const Definition& created = app.add_definition(std::move(*d));
    return json_reply(201, definition_json(app, created));
  }

  ServerReply update_definition(Application& app, Definition& d, const json::object& body) {
    Fields f(body, "");
    f.only({"Treatments", "Control", "Hypothesis", "AudienceRule", "AudienceDescription", "LaunchCriteria"});
    Definition next = d;
    read_arms(f, next, false);
    if (auto v = f.str("Hypothesis", 0, 1024)) next.hypothesis = v;
    if (auto v = f.str("AudienceRule", 1, 16384)) next.audience_rule = *v;
    if (auto v = f.str("AudienceDescription", 0, 1024)) next.audience_description = v;
    if (auto v = f.str("LaunchCriteria", 0, 1024)) next.launch_criteria = v;
    if (f.problem) return bad_request(*f.problem);
    // Documented rule: no definition change while a run is active (409 chosen, exact error unverified).
    if (d.running())
      return conflict("Experiment definition " + d.id + " cannot be updated while experiment run " +
                      std::to_string(running_number(d)) + " is RUNNING. Stop the run first.");
    if (d.status == "ARCHIVED") return conflict("Experiment definition " + d.id + " is ARCHIVED and cannot be updated.");
    next.updated_at = now_iso();
    d = std::move(next);
    return json_reply(200, definition_json(app, d));
  }

  static std::int64_t running_number(const Definition& d) {
    for (const auto& [n, r] : d.runs)
      if (r.status == "RUNNING") return n;
    return 0;
  }

  ServerReply delete_definition(Application& app, const std::string& identifier,
                                const std::vector<std::pair<std::string, std::string>>& query) {
    // Default ARCHIVE: the SDK example calls a bare delete a soft delete (likely, unverified).
    std::string type = query_value(query, "delete_type").value_or("ARCHIVE");
    if (type != "ARCHIVE" && type != "DESTROY")
      return bad_request("Value '" + type + "' at 'deleteType' failed to satisfy constraint: Member must satisfy enum value set: [ARCHIVE, DESTROY].");
    Definition* d = find_definition(app, identifier);
    if (!d) return not_found("ExperimentDefinition", identifier);
    // A definition with a live run is a state conflict (the operation models 409; which state
    // triggers it is unverified — a running run is the evident one).
    if (d->running())
      return conflict("Experiment definition " + d->id + " has a RUNNING experiment run. Stop it before deleting the definition.");
    if (type == "DESTROY") {
      app.remove_definition(d);
    } else if (d->status != "ARCHIVED") {
      d->status = "ARCHIVED";
      d->updated_at = now_iso();
    }
    ServerReply reply;
    reply.status = 204;
    reply.headers.emplace_back("x-amzn-RequestId", "emulator-appconfig-delete-" + std::to_string(++deletes_));
    return reply;
  }

  ServerReply list_definitions(const std::vector<std::pair<std::string, std::string>>& query) {
    auto page = read_page(query);
    if (!page) return page.error();
    auto status = query_value(query, "status");
    if (status && *status != "ACTIVE" && *status != "IDLE" && *status != "ARCHIVED")
      return bad_request("Value '" + *status + "' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [ACTIVE, IDLE, ARCHIVED].");
    auto app_filter = query_value(query, "application_identifier");
    auto profile_filter = query_value(query, "configuration_profile_identifier");
    auto env_filter = query_value(query, "environment_identifier");
    Application* only = nullptr;
    if (app_filter) {
      only = find_application(*app_filter);
      if (!only) return not_found("Application", *app_filter);
    }
    std::vector<json::object> items;
    for (auto& app : apps_) {
      if (only && &app != only) continue;
      for (const auto& d : app.definitions) {
        // Archiving hides a definition: it is listed only when asked for by status.
        if (status ? d.status != *status : d.status == "ARCHIVED") continue;
        if (profile_filter) {
          Profile* p = find_by_id_or_name(app.profiles, *profile_filter);
          if (!p || p->id != d.profile_id) continue;
        }
        if (env_filter) {
          Environment* e = find_by_id_or_name(app.environments, *env_filter);
          if (!e || e->id != d.environment_id) continue;
        }
        items.push_back(definition_summary(app, d));
      }
    }
    return page_reply(std::move(items), *page);
  }

  // --- runs -----------------------------------------------------------------------------------

  void add_event(Application& app, Definition& d, Run& r, std::string type, std::string description) {
    Event e;
    e.type = std::move(type);
    e.description = std::move(description);
    e.occurred_at = r.updated_at;
    e.deployment = deployment_arn(app, d);
    e.exposure = r.exposure;
    e.overrides = r.overrides;
    r.events.push_back(std::move(e));
  }

  /// Validates a StartExperimentRun body and builds the run (number and events by the caller).
  static Outcome<Run> build_run(const Application& app, const Definition& d, const json::object& body) {
    Fields f(body, "");
    f.only({"Description", "ExposurePercentage", "TreatmentOverrides", "Tags", "DeploymentParameters"});
    Run r;
    r.description = f.str("Description", 0, 1024);
    // Default exposure when omitted is unverified; 0 (the documented dry run) is chosen, so the
    // only-increase rule always has a base to compare with.
    r.exposure = f.num("ExposurePercentage", 0.0, 100.0).value_or(0.0);
    check_overrides(f, d);
    if (const json::object* o = body.if_contains("TreatmentOverrides") ? f.obj("TreatmentOverrides") : nullptr) r.overrides = *o;
    check_tags(f, "Tags");
    if (const json::value* tags = body.if_contains("Tags"); tags && tags->is_object()) r.tags = tags->as_object();
    check_deployment_parameters(f);
    if (f.problem) return std::unexpected(bad_request(*f.problem));
    r.started_at = r.updated_at = now_iso();
    r.snapshot = definition_core(app, d);
    return r;
  }

  ServerReply start_run(Application& app, Definition& d, const json::object& body) {
    auto r = build_run(app, d, body);
    if (!r) return r.error();
    if (d.status == "ARCHIVED") return conflict("Experiment definition " + d.id + " is ARCHIVED: no run can be started.");
    // One RUNNING run per definition (concurrent runs: unverified; the definition's single
    // ACTIVE status suggests one at a time, and StartExperimentRun models 409 for it).
    if (d.running())
      return conflict("Experiment definition " + d.id + " already has experiment run " + std::to_string(running_number(d)) +
                      " RUNNING.");
    r->number = ++d.last_run;
    d.status = "ACTIVE";
    Run& run = d.runs[r->number] = std::move(*r);
    add_event(app, d, run, "RUN_STARTED", "Experiment run started.");
    return json_reply(201, run_json(app, d, run));
  }

  ServerReply update_run(Application& app, Definition& d, Run& r, const json::object& body) {
    Fields f(body, "");
    f.only({"Description", "ExposurePercentage", "TreatmentOverrides", "DeploymentParameters"});
    auto description = f.str("Description", 0, 1024);
    auto exposure = f.num("ExposurePercentage", 0.0, 100.0);
    check_overrides(f, d);
    const json::object* overrides = body.if_contains("TreatmentOverrides") ? f.obj("TreatmentOverrides") : nullptr;
    check_deployment_parameters(f);
    if (f.problem) return bad_request(*f.problem);
    if (r.status == "DONE")
      return conflict("Experiment run " + std::to_string(r.number) + " of " + d.id + " is DONE and cannot be updated.");
    // "can only be increased, not decreased": 400, because the refused thing is the value sent
    // (a constraint on ExposurePercentage, like its 0–100 range), not a race with another
    // writer — re-reading the state and resending the same value can never succeed. An equal
    // value is accepted (unverified), which keeps a resend of the same update harmless.
    if (exposure && *exposure < r.exposure)
      return bad_request("ExposurePercentage can only be increased: " + Fields::format(*exposure) + " is below the current " +
                         Fields::format(r.exposure) + ".");
    if (description) r.description = description;
    r.updated_at = now_iso();
    if (exposure) {
      r.exposure = *exposure;
      add_event(app, d, r, "EXPOSURE_UPDATED", "Exposure percentage updated.");
    }
    if (overrides) {
      r.overrides = *overrides;  // the union replaces the whole map (replace vs merge: unverified)
      add_event(app, d, r, "OVERRIDES_UPDATED", "Treatment overrides updated.");
    }
    return json_reply(200, run_json(app, d, r));
  }

  ServerReply stop_run(Application& app, Definition& d, Run& r, const json::object& body) {
    Fields f(body, "");
    f.only({"Result", "DeploymentParameters"});
    const json::object* result = f.obj("Result");
    if (result) {
      Fields rf(*result, "Result");
      rf.only({"ExecutiveSummary", "ReasonsToLaunch", "ReasonsNotToLaunch"});
      rf.str("ExecutiveSummary", 0, 1024);
      rf.str("ReasonsToLaunch", 0, 1024);
      rf.str("ReasonsNotToLaunch", 0, 1024);
      if (rf.problem) f.fail(*rf.problem);
    }
    check_deployment_parameters(f);
    if (f.problem) return bad_request(*f.problem);
    if (r.status == "DONE")
      return conflict("Experiment run " + std::to_string(r.number) + " of " + d.id + " is already DONE.");
    r.status = "DONE";
    r.updated_at = now_iso();
    r.ended_at = r.updated_at;
    if (result) r.result = *result;
    if (d.status == "ACTIVE" && !d.running()) d.status = "IDLE";
    add_event(app, d, r, "RUN_STOPPED", "Experiment run stopped.");
    return json_reply(200, run_json(app, d, r));
  }

  static ServerReply list_runs(const Definition& d, const std::vector<std::pair<std::string, std::string>>& query) {
    auto page = read_page(query);
    if (!page) return page.error();
    auto status = query_value(query, "status");
    if (status && *status != "RUNNING" && *status != "DONE")
      return bad_request("Value '" + *status + "' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, DONE].");
    std::vector<json::object> items;
    for (const auto& [n, r] : d.runs)
      if (!status || r.status == *status) items.push_back(run_summary(d, r));
    return page_reply(std::move(items), *page);
  }

  static ServerReply list_events(const Run& r, const std::vector<std::pair<std::string, std::string>>& query) {
    auto page = read_page(query);
    if (!page) return page.error();
    std::vector<json::object> items;
    for (auto it = r.events.rbegin(); it != r.events.rend(); ++it) items.push_back(it->to_json());
    return page_reply(std::move(items), *page);
  }

  // --- seeding --------------------------------------------------------------------------------

  /// A refusal turned into a seed error (the fixture broke a vendor rule).
  static Error seed_error(const std::string& where, const ServerReply& reply) {
    std::string message = reply.body;
    boost::system::error_code ec;
    json::value body = json::parse(reply.body, ec);
    if (!ec && body.is_object() && body.as_object().contains("Message")) message = std::string(body.as_object().at("Message").as_string());
    return invalid_field(where, message);
  }

  static Result<std::vector<std::string>> read_string_list(ObjectReader& r, std::string_view key) {
    std::vector<std::string> out;
    const json::value* v = r.optional_value(key);
    if (!v) return out;
    if (!v->is_array()) return std::unexpected(r.error(key, "must be a list of strings"));
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) return std::unexpected(r.error(key, "must be a list of strings"));
      out.emplace_back(item.as_string());
    }
    return out;
  }

  /// Reads each item of the list `key` with `each` and hands it to `keep`.
  template <class Fn, class Keep>
  static Status read_each(ObjectReader& r, std::string_view key, Fn&& each, Keep&& keep) {
    const json::value* v = r.optional_value(key);
    if (!v) return {};
    if (!v->is_array()) return std::unexpected(r.error(key, "must be a list"));
    for (std::size_t i = 0; i < v->as_array().size(); ++i) {
      auto item = each(v->as_array()[i], r.member_path(key) + "[" + std::to_string(i) + "]");
      if (!item) return std::unexpected(item.error());
      keep(std::move(*item));
    }
    return {};
  }
  template <class T, class Fn>
  static Status read_list(ObjectReader& r, std::string_view key, std::vector<T>& out, Fn&& each) {
    return read_each(r, key, each, [&](T item) { out.push_back(std::move(item)); });
  }

  Result<Application> seed_application(const json::value& value, const std::string& where) {
    Application app;
    auto r_or = ObjectReader::open(value, where);
      if (!r_or) return std::unexpected(r_or.error());
      ObjectReader& r = *r_or;
    EXPBRIDGE_ASSIGN_OR_RETURN(app.id, r.required_string("id"));
    std::optional<std::string> name;
      EXPBRIDGE_ASSIGN_OR_RETURN(name, r.optional_string("name"));
    app.name = name.value_or(app.id);
    EXPBRIDGE_RETURN_IF_ERROR(read_list(r, "configuration_profiles", app.profiles, [](const json::value& v, const std::string& w) -> Result<Profile> {
      Profile p;
      auto pr_or = ObjectReader::open(v, w);
      if (!pr_or) return std::unexpected(pr_or.error());
      ObjectReader& pr = *pr_or;
      EXPBRIDGE_ASSIGN_OR_RETURN(p.id, pr.required_string("id"));
      std::optional<std::string> n;
      EXPBRIDGE_ASSIGN_OR_RETURN(n, pr.optional_string("name"));
      p.name = n.value_or(p.id);
      std::vector<std::string> flags;
      EXPBRIDGE_ASSIGN_OR_RETURN(flags, read_string_list(pr, "flags"));
      p.flags.insert(flags.begin(), flags.end());
      EXPBRIDGE_RETURN_IF_ERROR(pr.finish());
      return p;
    }));
    EXPBRIDGE_RETURN_IF_ERROR(read_list(r, "environments", app.environments, [](const json::value& v, const std::string& w) -> Result<Environment> {
      Environment e;
      auto er_or = ObjectReader::open(v, w);
      if (!er_or) return std::unexpected(er_or.error());
      ObjectReader& er = *er_or;
      EXPBRIDGE_ASSIGN_OR_RETURN(e.id, er.required_string("id"));
      std::optional<std::string> n;
      EXPBRIDGE_ASSIGN_OR_RETURN(n, er.optional_string("name"));
      e.name = n.value_or(e.id);
      EXPBRIDGE_RETURN_IF_ERROR(er.finish());
      return e;
    }));
    // Definitions go through the same validation as CreateExperimentDefinition / StartExperimentRun.
    EXPBRIDGE_RETURN_IF_ERROR(read_each(
        r, "experiment_definitions", [&](const json::value& v, const std::string& w) { return seed_definition(app, v, w); },
        [&](Definition d) { app.add_definition(std::move(d)); }));
    EXPBRIDGE_RETURN_IF_ERROR(r.finish());
    return app;
  }

  Result<Definition> seed_definition(Application& app, const json::value& value, const std::string& where) {
    auto r_or = ObjectReader::open(value, where);
      if (!r_or) return std::unexpected(r_or.error());
      ObjectReader& r = *r_or;
    std::optional<std::string> id;
      EXPBRIDGE_ASSIGN_OR_RETURN(id, r.optional_string("id"));
    std::optional<std::string> status;
      EXPBRIDGE_ASSIGN_OR_RETURN(status, r.optional_string("status"));
    const json::object* body = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(body, r.required_object("definition"));
    auto built = build_definition(app, *body);
    if (!built) return std::unexpected(seed_error(r.member_path("definition"), built.error()));
    Definition d = std::move(*built);
    d.id = id ? *id : new_id();
    if (status && *status != "IDLE" && *status != "ARCHIVED")
      return std::unexpected(r.error("status", "must be IDLE or ARCHIVED (ACTIVE follows from a RUNNING run)"));
    const json::value* runs = r.optional_value("runs");
    if (runs) {
      if (!runs->is_array()) return std::unexpected(r.error("runs", "must be a list"));
      for (std::size_t i = 0; i < runs->as_array().size(); ++i) {
        std::string w = r.member_path("runs") + "[" + std::to_string(i) + "]";
        auto rr_or = ObjectReader::open(runs->as_array()[i], w);
      if (!rr_or) return std::unexpected(rr_or.error());
      ObjectReader& rr = *rr_or;
        std::string run_status;
        EXPBRIDGE_ASSIGN_OR_RETURN(run_status, rr.required_string("status"));
        if (run_status != "RUNNING" && run_status != "DONE") return std::unexpected(rr.error("status", "must be RUNNING or DONE"));
        const json::object* start = nullptr;
        EXPBRIDGE_ASSIGN_OR_RETURN(start, rr.optional_object("start"));
        const json::object* stop = nullptr;
        EXPBRIDGE_ASSIGN_OR_RETURN(stop, rr.optional_object("stop"));
        EXPBRIDGE_RETURN_IF_ERROR(rr.finish());
        if (stop && run_status != "DONE") return std::unexpected(rr.error("stop", "is only for a DONE run"));
        // Replaying the operations keeps seeded runs consistent with live ones (events, status).
        ServerReply started = start_run(app, d, start ? *start : json::object{});
        if (started.status != 201) return std::unexpected(seed_error(rr.member_path("start"), started));
        if (run_status == "DONE") {
          ServerReply stopped = stop_run(app, d, d.runs[d.last_run], stop ? *stop : json::object{});
          if (stopped.status != 200) return std::unexpected(seed_error(rr.member_path("stop"), stopped));
        }
      }
    }
    EXPBRIDGE_RETURN_IF_ERROR(r.finish());
    if (status == "ARCHIVED") {
      if (d.running()) return std::unexpected(r.error("status", "cannot be ARCHIVED with a RUNNING run"));
      d.status = "ARCHIVED";
    }
    if (find_definition(app, d.id) || find_definition(app, d.name))
      return std::unexpected(invalid_field(where, "duplicate experiment definition id or name"));
    return d;
  }

  std::vector<Application> apps_;
  std::uint64_t id_counter_ = 0;
  std::uint64_t deletes_ = 0;
  std::string region_ = "us-east-1";  ///< from the last request's credential scope, for ARNs
};

// ---------------------------------------------------------------------------------------------
// What the host asks of every emulator (credentials, injected errors, default fixture, sample)

std::vector<Credential> AppConfigEmulator::credentials() const { return aws_example_credentials(); }

ServerReply AppConfigEmulator::injected_error(const InjectedError& error) const { return aws_injected_error(error); }

Result<std::string_view> AppConfigEmulator::default_fixture() const { return embedded_fixture("appconfig_emulator_fixture.yaml"); }

std::optional<SampleBackend> AppConfigEmulator::sample_backend() const {
  return SampleBackend{"aws", "vendor: appconfig, region: us-east-1, application: abc1234",
                       "{definition: bsxyd7k, run: 1, treatments: {control: c, two-step: t1}}"};
}

}  // namespace

std::unique_ptr<VendorEmulator> make_appconfig_emulator() { return std::make_unique<AppConfigEmulator>(); }

}  // namespace expbridge::emulator
