// Amazon CloudWatch Evidently emulator — the vendor's side of features and experiments.
//
// Facts: Amazon CloudWatch Evidently API Reference (operations CreateFeature, GetFeature,
// UpdateFeature, ListFeatures, GetExperiment, UpdateExperiment, ListExperiments, StartExperiment,
// StopExperiment) with the service model's constraints and the common AWS errors. Where the
// reference leaves a rule open, the choice made here is stated next to the rule ("unverified").
//
// This emulator is a second witness of Evidently's rules: it never includes the Evidently adapter
// nor reads the mapping tables (mappings/*.yaml).
//
// Routes (every request SigV4-signed for `evidently`, else 403; `{project}` is a name or a
// project ARN; a missing project, feature or experiment is 404 ResourceNotFoundException
// {message, resourceId, resourceType}; lists take maxResults/nextToken):
//   POST  /projects/{project}/features                           CreateFeature ({feature})
//   GET   /projects/{project}/features                           ListFeatures ({features: [FeatureSummary]})
//   GET   /projects/{project}/features/{feature}                 GetFeature ({feature}: typed variations
//         [{name, value: {boolValue|longValue|doubleValue|stringValue}}], valueType, defaultVariation,
//         entityOverrides, evaluationStrategy, evaluationRules (running experiments on it))
//   PATCH /projects/{project}/features/{feature}                 UpdateFeature ({feature})
//   GET   /projects/{project}/experiments[?status=S]             ListExperiments
//   GET   /projects/{project}/experiments/{experiment}           GetExperiment ({experiment}: status,
//         samplingRate and onlineAbDefinition.treatmentWeights in thousandths of a percent,
//         treatments [{name, featureVariations}], execution, schedule)
//   PATCH /projects/{project}/experiments/{experiment}           UpdateExperiment ({experiment})
//   POST  /projects/{project}/experiments/{experiment}/start     StartExperiment ({startedTime})
//   POST  /projects/{project}/experiments/{experiment}/cancel    StopExperiment ({endedTime})
//
// Fixture section (`evidently:`), strict: region, account, projects: {NAME: {description?,
// features: {NAME: CreateFeature members but `name`}, experiments: {NAME: CreateExperiment /
// UpdateExperiment members but `name`, plus status, statusReason, startedTime, endedTime,
// analysisCompleteTime}}}. Fixture entries go through the same checks as the API calls.
//
// state() shape (what tests assert on):
//   {"region": "us-east-1", "account": "123456789012",
//    "projects": {NAME: {
//      "features": {NAME: {"description"?, "variations": [{"name", "value": {ONE_MEMBER}}],
//                          "valueType", "defaultVariation", "evaluationStrategy",
//                          "entityOverrides": {entity: variation}, "tags": {}}},
//      "experiments": {NAME: {"description"?, "status", "statusReason"?, "samplingRate",
//                             "treatments": [{"name", "feature", "variation", "description"?}],
//                             "onlineAbDefinition": {"controlTreatmentName"?, "treatmentWeights": {}},
//                             "randomizationSalt", "segment"?, "metricGoals": [...],
//                             "startedTime"?, "endedTime"?, "analysisCompleteTime"?}}}}}
#include "evidently_emulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "emulator/fixtures.hpp"
#include "emulator/rate_limits.hpp"
#include "json_writer.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;

// ------------------------------------------------------------------------------------------
// Refusals. Handlers throw one; handle() turns it into the vendor's error reply and seed()
// into an Error, so the fixture obeys exactly the rules the API enforces.

struct Refusal {
  int status = 400;
  std::string code;
  std::string message;
  json::object extra;  ///< vendor members beside `message` (reason, fieldList, resourceId, ...)
  std::string field;   ///< the member concerned, for seed errors
};

[[noreturn]] void invalid(const std::string& field, const std::string& constraint,
                          const std::string& reason = "fieldValidationFailed") {
  Refusal r;
  r.code = "ValidationException";
  r.field = field;
  // The wording AWS's Coral validation uses, so a person reading a test log recognises it.
  r.message = field.empty() ? constraint
                            : "1 validation error detected: Value at '" + field + "' failed to satisfy constraint: " + constraint;
  r.extra["reason"] = reason;
  if (!field.empty()) r.extra["fieldList"] = json::array{json::object{{"name", field}, {"message", constraint}}};
  throw r;
}

[[noreturn]] void not_found(const std::string& type, const std::string& id) {
  Refusal r;
  r.status = 404;
  r.code = "ResourceNotFoundException";
  r.message = type + " " + id + " does not exist.";
  r.extra["resourceId"] = id;
  r.extra["resourceType"] = type;
  r.field = type;
  throw r;
}

[[noreturn]] void conflict(const std::string& type, const std::string& id, const std::string& message) {
  Refusal r;
  r.status = 409;
  r.code = "ConflictException";
  r.message = message;
  r.extra["resourceId"] = id;
  r.extra["resourceType"] = type;
  r.field = type;
  throw r;
}

[[noreturn]] void quota(const std::string& type, const std::string& id, const std::string& message) {
  Refusal r;
  r.status = 402;
  r.code = "ServiceQuotaExceededException";
  r.message = message;
  r.extra["quotaCode"] = "";  // quota codes were never published for Evidently
  r.extra["serviceCode"] = "evidently";
  r.extra["resourceId"] = id;
  r.extra["resourceType"] = type;
  r.field = type;
  throw r;
}

ServerReply to_reply(const Refusal& refusal) {
  ServerReply reply = aws_error(refusal.status, refusal.code, refusal.message);
  json::object body;
  body["message"] = refusal.message;
  for (const auto& member : refusal.extra) body[member.key()] = member.value();
  reply.body = write_json(body);
  return reply;
}

// ------------------------------------------------------------------------------------------
// Member checks (the service model's constraints).

std::string join(const std::string& parent, std::string_view member) {
  return parent.empty() ? std::string(member) : parent + "." + std::string(member);
}
std::string at(const std::string& parent, std::size_t index) { return parent + "[" + std::to_string(index) + "]"; }

/// `^[-a-zA-Z0-9._]*$`: feature, variation, experiment and treatment names.
bool is_name_chars(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

const json::object& need_object(const json::value& v, const std::string& field) {
  if (!v.is_object()) invalid(field, "Member must be a structure", "cannotParse");
  return v.get_object();
}

const json::array& need_array(const json::value& v, const std::string& field, std::size_t min, std::size_t max) {
  if (!v.is_array()) invalid(field, "Member must be a list", "cannotParse");
  const auto& a = v.get_array();
  if (a.size() < min) invalid(field, "Member must have length greater than or equal to " + std::to_string(min));
  if (a.size() > max) invalid(field, "Member must have length less than or equal to " + std::to_string(max));
  return a;
}

std::string need_string(const json::value& v, const std::string& field, std::size_t min, std::size_t max) {
  if (!v.is_string()) invalid(field, "Member must be a string", "cannotParse");
  std::string s(v.get_string());
  if (s.size() < min) invalid(field, "Member must have length greater than or equal to " + std::to_string(min));
  if (s.size() > max) invalid(field, "Member must have length less than or equal to " + std::to_string(max));
  return s;
}

std::string need_name(const json::value& v, const std::string& field) {
  std::string s = need_string(v, field, 1, 127);
  if (!is_name_chars(s)) invalid(field, "Member must satisfy regular expression pattern: ^[-a-zA-Z0-9._]*$");
  return s;
}

/// A JSON number that is a whole number (the model's `long`), as int64.
std::int64_t need_long(const json::value& v, const std::string& field, std::int64_t min, std::int64_t max) {
  std::optional<std::int64_t> n;
  if (v.is_int64()) n = v.get_int64();
  else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    n = static_cast<std::int64_t>(v.get_uint64());
  else if (v.is_double() && std::isfinite(v.get_double()) && v.get_double() == std::floor(v.get_double()) &&
           std::fabs(v.get_double()) < 9.2e18)
    n = static_cast<std::int64_t>(v.get_double());
  if (!n) invalid(field, "Member must be a whole number (long)", "cannotParse");
  if (*n < min) invalid(field, "Member must have value greater than or equal to " + std::to_string(min));
  if (*n > max) invalid(field, "Member must have value less than or equal to " + std::to_string(max));
  return *n;
}

double need_number(const json::value& v, const std::string& field) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double() && std::isfinite(v.get_double())) return v.get_double();
  invalid(field, "Member must be a number", "cannotParse");
}

bool need_bool(const json::value& v, const std::string& field) {
  if (!v.is_bool()) invalid(field, "Member must be a boolean", "cannotParse");
  return v.get_bool();
}

std::string need_enum(const json::value& v, const std::string& field, std::initializer_list<std::string_view> values) {
  std::string s = need_string(v, field, 0, 1024);
  std::string list;
  for (auto value : values) {
    if (s == value) return s;
    list += (list.empty() ? "" : ", ") + std::string(value);
  }
  invalid(field, "Member must satisfy enum value set: [" + list + "]");
}

/// Refuses members the operation does not define. The real service's JSON reader may ignore
/// them silently; refusing them here catches a misspelt member in what expbridge sends.
void only_members(const json::object& o, const std::string& path, std::initializer_list<std::string_view> allowed) {
  for (const auto& member : o) {
    bool known = false;
    for (auto name : allowed) known = known || member.key() == name;
    if (!known) invalid(join(path, member.key()), "Unknown member; expected one of the operation's members", "cannotParse");
  }
}

/// VariableValue: a union, exactly one member.
json::object parse_value(const json::value& v, const std::string& field) {
  const auto& o = need_object(v, field);
  only_members(o, field, {"boolValue", "longValue", "doubleValue", "stringValue"});
  if (o.size() != 1) invalid(field, "Member must set exactly one of boolValue, longValue, doubleValue, stringValue");
  const auto& [key, value] = *o.begin();
  std::string member_field = join(field, key);
  json::object out;
  if (key == "boolValue") out["boolValue"] = need_bool(value, member_field);
  else if (key == "longValue") out["longValue"] = need_long(value, member_field, -9007199254740991LL, 9007199254740991LL);
  else if (key == "doubleValue") out["doubleValue"] = need_number(value, member_field);
  else out["stringValue"] = need_string(value, member_field, 0, 512);
  return out;
}

std::string value_type(const json::object& value) {
  const auto& key = value.begin()->key();
  if (key == "boolValue") return "BOOLEAN";
  if (key == "longValue") return "LONG";
  if (key == "doubleValue") return "DOUBLE";
  return "STRING";
}

/// entityOverrides: 0–2500 entries, ≤ 40 KB counting 6 bytes per entry (40 × 1024, as the
/// mapping table reads it; whether Evidently meant 40 000 is unverified).
json::object parse_overrides(const json::value& v, const std::string& field) {
  const auto& o = need_object(v, field);
  if (o.size() > 2500) invalid(field, "Member must have at most 2500 entries");
  std::size_t bytes = 0;
  json::object out;
  for (const auto& [key, value] : o) {
    std::string entry = field + "." + std::string(key);
    if (key.empty() || key.size() > 512) invalid(entry, "Map keys must have length between 1 and 512");
    out[key] = need_name(value, entry);
    bytes += key.size() + value.get_string().size() + 6;
  }
  if (bytes > 40 * 1024) invalid(field, "Member must not exceed 40 KB in total (6 bytes of overhead per entry)");
  return out;
}

json::object parse_tags(const json::value& v, const std::string& field) {
  const auto& o = need_object(v, field);
  if (o.size() > 50) invalid(field, "Member must have at most 50 tags");
  json::object out;
  for (const auto& [key, value] : o) {
    std::string entry = field + "." + std::string(key);
    if (key.empty() || key.size() > 128 || key.starts_with("aws:")) invalid(entry, "Tag keys must have length 1..128 and not start with aws:");
    out[key] = need_string(value, entry, 0, 256);
  }
  return out;
}

json::object parse_metric_goal(const json::value& v, const std::string& field) {
  const auto& o = need_object(v, field);
  only_members(o, field, {"metricDefinition", "desiredChange"});
  json::object out;
  auto def_it = o.find("metricDefinition");
  if (def_it == o.end()) invalid(join(field, "metricDefinition"), "Member must not be null");
  std::string def_field = join(field, "metricDefinition");
  const auto& def = need_object(def_it->value(), def_field);
  only_members(def, def_field, {"name", "entityIdKey", "valueKey", "eventPattern", "unitLabel"});
  json::object definition;
  for (std::string_view required : {"name", "entityIdKey", "valueKey"}) {
    auto it = def.find(required);
    if (it == def.end()) invalid(join(def_field, required), "Member must not be null");
    std::size_t max = required == "name" ? 255 : 256;
    std::string s = need_string(it->value(), join(def_field, required), 1, max);
    if (required == "name" && s.find_first_of(" \t\r\n") != std::string::npos)
      invalid(join(def_field, required), "Member must satisfy regular expression pattern: ^[\\S]+$");
    definition[required] = s;
  }
  if (auto it = def.find("eventPattern"); it != def.end())
    definition["eventPattern"] = need_string(it->value(), join(def_field, "eventPattern"), 0, 1024);
  if (auto it = def.find("unitLabel"); it != def.end())
    definition["unitLabel"] = need_string(it->value(), join(def_field, "unitLabel"), 1, 256);
  out["metricDefinition"] = std::move(definition);
  if (auto it = o.find("desiredChange"); it != o.end())
    out["desiredChange"] = need_enum(it->value(), join(field, "desiredChange"), {"INCREASE", "DECREASE"});
  return out;
}

double now_seconds() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return static_cast<double>(ms.count()) / 1000.0;
}

// ------------------------------------------------------------------------------------------
// State.

struct Variation {
  std::string name;
  json::object value;  ///< exactly one VariableValue member
};

struct Feature {
  std::string name;
  std::optional<std::string> description;
  std::vector<Variation> variations;
  std::string default_variation;
  std::string evaluation_strategy = "ALL_RULES";
  json::object entity_overrides;
  json::object tags;
  double created = 0, last_updated = 0;

  const Variation* find(std::string_view variation) const {
    for (const auto& v : variations)
      if (v.name == variation) return &v;
    return nullptr;
  }
};

struct Treatment {
  std::string name;
  std::optional<std::string> description;
  std::string feature;
  std::string variation;
};

struct Experiment {
  std::string name;
  std::optional<std::string> description;
  std::string status = "CREATED";
  std::optional<std::string> status_reason;
  std::vector<Treatment> treatments;
  json::array metric_goals;
  std::int64_t sampling_rate = 10000;  // the console's default of 10 %
  std::string randomization_salt;
  std::optional<std::string> segment;
  std::optional<std::string> control_treatment;
  json::object treatment_weights;
  json::object tags;
  double created = 0, last_updated = 0;
  std::optional<double> started, ended, analysis_complete;
};

struct Project {
  std::string name;
  std::optional<std::string> description;
  std::map<std::string, Feature> features;
  std::map<std::string, Experiment> experiments;
};

constexpr std::size_t max_variations_per_feature = 5;  // "up to five variations of a feature"
constexpr std::size_t max_features_per_project = 100;  // Evidently's published default quota

class EvidentlyEmulator final : public VendorEmulator {
 public:
  std::string_view vendor() const override { return "evidently"; }

  // What the host asks of every emulator: defined apart, at the end of this file.
  std::vector<Credential> credentials() const override;
  ServerReply injected_error(const InjectedError& error) const override;
  Result<std::string_view> default_fixture() const override;
  std::optional<SampleBackend> sample_backend() const override;
  // `rate_limits.evidently: {per_second, burst}`: ThrottlingException (429) over the bucket.
  Status limit_rate(const boost::json::value& section, WallClock::time_point now) override {
    return throttling_.configure(section, vendor(), now);
  }
  RateVerdict rate_limit(const ServerRequest&, WallClock::time_point now) override { return throttling_.admit(now); }

  bool serves(const ServerRequest& request) const override {
    std::string_view path = path_of(request);
    return path == "/projects" || path.starts_with("/projects/");
  }

  ServerReply handle(const ServerRequest& request) override {
    auto check = check_sigv4(request, "evidently");
    if (!check.ok) return check.refusal;
    try {
      return route(request, check.region);
    } catch (const Refusal& refusal) {
      return to_reply(refusal);
    }
  }

  Status seed(const json::value& fixture) override {
    try {
      seed_or_throw(fixture);
      return {};
    } catch (const Refusal& refusal) {
      return std::unexpected(invalid_field(refusal.field.empty() ? "evidently" : "evidently." + refusal.field, refusal.message));
    }
  }

  json::value state() const override {
    json::object projects;
    for (const auto& [name, project] : projects_) {
      json::object features, experiments;
      for (const auto& [fname, feature] : project.features) {
        json::object f;
        if (feature.description) f["description"] = *feature.description;
        f["variations"] = variations_json(feature);
        f["valueType"] = value_type(feature.variations.front().value);
        f["defaultVariation"] = feature.default_variation;
        f["evaluationStrategy"] = feature.evaluation_strategy;
        f["entityOverrides"] = feature.entity_overrides;
        f["tags"] = feature.tags;
        features[fname] = std::move(f);
      }
      for (const auto& [ename, experiment] : project.experiments) {
        json::object e;
        if (experiment.description) e["description"] = *experiment.description;
        e["status"] = experiment.status;
        if (experiment.status_reason) e["statusReason"] = *experiment.status_reason;
        e["samplingRate"] = experiment.sampling_rate;
        json::array treatments;
        for (const auto& t : experiment.treatments) {
          json::object tj{{"name", t.name}, {"feature", t.feature}, {"variation", t.variation}};
          if (t.description) tj["description"] = *t.description;
          treatments.push_back(std::move(tj));
        }
        e["treatments"] = std::move(treatments);
        e["onlineAbDefinition"] = online_ab_json(experiment);
        e["randomizationSalt"] = experiment.randomization_salt;
        if (experiment.segment) e["segment"] = *experiment.segment;
        e["metricGoals"] = experiment.metric_goals;
        if (experiment.started) e["startedTime"] = *experiment.started;
        if (experiment.ended) e["endedTime"] = *experiment.ended;
        if (experiment.analysis_complete) e["analysisCompleteTime"] = *experiment.analysis_complete;
        experiments[ename] = std::move(e);
      }
      projects[name] = json::object{{"features", std::move(features)}, {"experiments", std::move(experiments)}};
    }
    return json::object{{"region", region_}, {"account", account_}, {"projects", std::move(projects)}};
  }

 private:
  AwsThrottling throttling_{429};
  // ---------------------------------------------------------------------------------------
  // Seeding: `{region?, account?, projects: {NAME: {description?, features: {NAME: {...}},
  // experiments: {NAME: {...}}}}}`. Features and experiments use the API's member names
  // (CreateFeature / CreateExperiment + UpdateExperiment), validated by the same rules.

  void seed_or_throw(const json::value& fixture) {
    std::string region = "us-east-1", account = "123456789012";
    std::map<std::string, Project> projects;
    if (!fixture.is_null()) {
      const auto& root = need_object(fixture, "");
      only_members(root, "", {"region", "account", "projects"});
      if (auto it = root.find("region"); it != root.end()) region = need_string(it->value(), "region", 1, 64);
      if (auto it = root.find("account"); it != root.end()) {
        account = need_string(it->value(), "account", 12, 12);
        if (account.find_first_not_of("0123456789") != std::string::npos) invalid("account", "an AWS account id is 12 digits");
      }
      if (auto it = root.find("projects"); it != root.end()) {
        for (const auto& [pname, pvalue] : need_object(it->value(), "projects")) {
          std::string path = "projects." + std::string(pname);
          if (pname.empty() || pname.size() > 127 || !is_name_chars(pname))
            invalid(path, "a project name is 1..127 letters, digits, '-', '.' or '_'");
          Project project;
          project.name = pname;
          const auto& po = need_object(pvalue, path);
          only_members(po, path, {"description", "features", "experiments"});
          if (auto d = po.find("description"); d != po.end()) project.description = need_string(d->value(), join(path, "description"), 0, 160);
          if (auto fs = po.find("features"); fs != po.end()) {
            for (const auto& [fname, fvalue] : need_object(fs->value(), join(path, "features"))) {
              std::string fpath = join(path, "features") + "." + std::string(fname);
              json::object body = need_object(fvalue, fpath);
              body["name"] = fname;
              project.features[fname] = build_feature(body, fpath, 0);
            }
          }
          if (auto es = po.find("experiments"); es != po.end()) {
            for (const auto& [ename, evalue] : need_object(es->value(), join(path, "experiments"))) {
              std::string epath = join(path, "experiments") + "." + std::string(ename);
              project.experiments[ename] = seed_experiment(project, ename, need_object(evalue, epath), epath);
            }
          }
          projects[pname] = std::move(project);
        }
      }
    }
    region_ = std::move(region);
    account_ = std::move(account);
    projects_ = std::move(projects);
  }

  Experiment seed_experiment(const Project& project, std::string_view name, const json::object& o, const std::string& path) {
    only_members(o, path, {"description", "status", "statusReason", "treatments", "metricGoals", "onlineAbConfig", "randomizationSalt",
                           "samplingRate", "segment", "tags", "startedTime", "endedTime", "analysisCompleteTime"});
    Experiment e;
    e.name = name;
    e.randomization_salt = name;
    e.created = e.last_updated = now_seconds();
    if (auto it = o.find("status"); it != o.end())
      e.status = need_enum(it->value(), join(path, "status"), {"CREATED", "RUNNING", "COMPLETED", "CANCELLED"});
    if (auto it = o.find("statusReason"); it != o.end()) e.status_reason = need_string(it->value(), join(path, "statusReason"), 0, 160);
    if (auto it = o.find("tags"); it != o.end()) e.tags = parse_tags(it->value(), join(path, "tags"));
    for (std::string_view t : {"startedTime", "endedTime", "analysisCompleteTime"}) {
      auto it = o.find(t);
      if (it == o.end()) continue;
      double v = need_number(it->value(), join(path, t));
      (t == "startedTime" ? e.started : t == "endedTime" ? e.ended : e.analysis_complete) = v;
    }
    if (e.status != "CREATED" && !e.started) e.started = e.created;
    if ((e.status == "COMPLETED" || e.status == "CANCELLED") && !e.ended) e.ended = e.created;
    if (o.find("metricGoals") == o.end()) invalid(join(path, "metricGoals"), "Member must not be null");
    if (o.find("treatments") == o.end()) invalid(join(path, "treatments"), "Member must not be null");
    json::object update;
    for (const auto& [key, value] : o)
      if (key != "status" && key != "statusReason" && key != "tags" && key != "startedTime" && key != "endedTime" && key != "analysisCompleteTime")
        update[key] = value;
    // The rest are UpdateExperiment members; apply them as an update would (segment included,
    // since the RUNNING rule is about changing a segment, not about a fixture holding one).
    apply_experiment_update(project, e, update, path, /*seeding=*/true);
    return e;
  }

  // ---------------------------------------------------------------------------------------
  // Routing.

  ServerReply route(const ServerRequest& request, const std::string& region) {
    auto segments = path_segments(request);
    const std::string& method = request.method;
    auto unknown = [&]() -> ServerReply {
      invalid("", "No operation matches " + method + " " + std::string(path_of(request)), "unknownOperation");
    };
    if (segments.size() < 3 || segments[0] != "projects") return unknown();
    Project& project = find_project(segments[1], region);
    const std::string& kind = segments[2];
    if (kind == "features") {
      if (segments.size() == 3 && method == "POST") return create_feature(project, parse_body(request), region);
      if (segments.size() == 3 && method == "GET") return list_features(project, request, region);
      if (segments.size() == 4) {
        check_path_name(segments[3], "feature");
        if (method == "GET") return ok("feature", feature_json(project, find_feature(project, segments[3]), region));
        if (method == "PATCH") return update_feature(project, find_feature(project, segments[3]), parse_body(request), region);
      }
      return unknown();
    }
    if (kind == "experiments") {
      if (segments.size() == 3 && method == "GET") return list_experiments(project, request, region);
      if (segments.size() >= 4) check_path_name(segments[3], "experiment");
      if (segments.size() == 4) {
        if (method == "GET") return ok("experiment", experiment_json(project, find_experiment(project, segments[3]), region));
        if (method == "PATCH") return update_experiment(project, find_experiment(project, segments[3]), parse_body(request), region);
      }
      if (segments.size() == 5 && method == "POST" && segments[4] == "start")
        return start_experiment(find_experiment(project, segments[3]), parse_body(request));
      if (segments.size() == 5 && method == "POST" && segments[4] == "cancel")
        return stop_experiment(find_experiment(project, segments[3]), parse_body(request));
      return unknown();
    }
    return unknown();
  }

  static json::object parse_body(const ServerRequest& request) {
    if (request.body.empty()) return {};
    boost::system::error_code ec;
    json::value v = json::parse(request.body, ec);
    if (ec || !v.is_object()) invalid("", "The request body is not a JSON object", "cannotParse");
    return std::move(v.get_object());
  }

  static void check_path_name(const std::string& name, const std::string& label) {
    if (name.empty() || name.size() > 127 || !is_name_chars(name))
      invalid(label, "Member must satisfy regular expression pattern: ^[-a-zA-Z0-9._]*$ and have length 1..127");
  }

  /// The `{project}` label: a name or a project ARN (one percent-decoded path segment).
  Project& find_project(const std::string& label, const std::string& region) {
    static const std::regex pattern(R"((^[a-zA-Z0-9._-]*$)|(arn:[^:]*:[^:]*:[^:]*:[^:]*:project/[a-zA-Z0-9._-]*))");
    if (label.size() > 2048 || !std::regex_match(label, pattern))
      invalid("project", "Member must satisfy regular expression pattern: (^[a-zA-Z0-9._-]*$)|(arn:[^:]*:[^:]*:[^:]*:[^:]*:project/[a-zA-Z0-9._-]*)");
    std::string name = label;
    if (label.starts_with("arn:")) {
      // arn:PARTITION:evidently:REGION:ACCOUNT:project/NAME — another region or account holds
      // no project of this emulator.
      std::vector<std::string> parts;
      for (std::size_t start = 0, end; start <= label.size(); start = end + 1) {
        end = label.find(':', start);
        if (end == std::string::npos) end = label.size();
        parts.push_back(label.substr(start, end - start));
      }
      if (parts.size() != 6 || parts[2] != "evidently" || parts[3] != region || parts[4] != account_) not_found("Project", label);
      name = parts[5].substr(std::string_view("project/").size());
    }
    // Resources are regional: a request signed for another region sees none of them.
    auto it = projects_.find(name);
    if (region != region_ || it == projects_.end()) not_found("Project", label);
    return it->second;
  }

  static Feature& find_feature(Project& project, const std::string& name) {
    auto it = project.features.find(name);
    if (it == project.features.end()) not_found("Feature", name);
    return it->second;
  }
  static Experiment& find_experiment(Project& project, const std::string& name) {
    auto it = project.experiments.find(name);
    if (it == project.experiments.end()) not_found("Experiment", name);
    return it->second;
  }

  static ServerReply ok(std::string_view member, json::value value) { return json_reply(200, json::object{{member, std::move(value)}}); }

  std::string project_arn(const Project& project, const std::string& region) const {
    return "arn:aws:evidently:" + region + ":" + account_ + ":project/" + project.name;
  }

  // ---------------------------------------------------------------------------------------
  // Features.

  static json::array variations_json(const Feature& feature) {
    json::array out;
    for (const auto& v : feature.variations) out.push_back(json::object{{"name", v.name}, {"value", v.value}});
    return out;
  }

  /// evaluationRules: one per running experiment that splits this feature's traffic.
  static json::array evaluation_rules(const Project& project, const Feature& feature) {
    json::array rules;
    for (const auto& [name, e] : project.experiments) {
      if (e.status != "RUNNING") continue;
      for (const auto& t : e.treatments)
        if (t.feature == feature.name) {
          rules.push_back(json::object{{"name", name}, {"type", "aws.evidently.onlineab"}});
          break;
        }
    }
    return rules;
  }

  json::object feature_summary_json(const Project& project, const Feature& feature, const std::string& region) const {
    json::object f;
    f["arn"] = project_arn(project, region) + "/feature/" + feature.name;
    f["name"] = feature.name;
    f["project"] = project_arn(project, region);
    f["status"] = "AVAILABLE";
    f["createdTime"] = feature.created;
    f["lastUpdatedTime"] = feature.last_updated;
    f["evaluationStrategy"] = feature.evaluation_strategy;
    f["evaluationRules"] = evaluation_rules(project, feature);
    f["defaultVariation"] = feature.default_variation;
    f["tags"] = feature.tags;
    return f;
  }

  json::object feature_json(const Project& project, const Feature& feature, const std::string& region) const {
    json::object f = feature_summary_json(project, feature, region);
    if (feature.description) f["description"] = *feature.description;
    f["valueType"] = value_type(feature.variations.front().value);
    f["variations"] = variations_json(feature);
    f["entityOverrides"] = feature.entity_overrides;
    return f;
  }

  /// VariationConfig[] with distinct names.
  static std::vector<Variation> parse_variations(const json::value& v, const std::string& field) {
    std::vector<Variation> out;
    std::set<std::string> seen;
    const auto& a = need_array(v, field, 1, 5);
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::string item = at(field, i);
      const auto& o = need_object(a[i], item);
      only_members(o, item, {"name", "value"});
      auto name = o.find("name");
      if (name == o.end()) invalid(join(item, "name"), "Member must not be null");
      auto value = o.find("value");
      if (value == o.end()) invalid(join(item, "value"), "Member must not be null");
      Variation variation{need_name(name->value(), join(item, "name")), parse_value(value->value(), join(item, "value"))};
      if (!seen.insert(variation.name).second) invalid(join(item, "name"), "Variation names must be unique; " + variation.name + " is listed twice");
      out.push_back(std::move(variation));
    }
    return out;
  }

  /// The rules every stored feature obeys, checked after any change.
  static void check_feature(const Feature& f) {
    if (f.variations.empty()) invalid("variations", "A feature must keep at least one variation");
    if (f.variations.size() > max_variations_per_feature)
      quota("Feature", f.name, "A feature can have at most " + std::to_string(max_variations_per_feature) + " variations; this request would leave " +
                                   std::to_string(f.variations.size()));
    // valueType is one per feature, so a mix cannot be stored (unverified at AWS: refused here).
    std::string type = value_type(f.variations.front().value);
    for (const auto& v : f.variations)
      if (value_type(v.value) != type)
        invalid("variations", "All variations of a feature must have the same value type; " + v.name + " is " + value_type(v.value) + ", " +
                                  f.variations.front().name + " is " + type);
    if (!f.find(f.default_variation)) invalid("defaultVariation", "The default variation " + f.default_variation + " is not a variation of the feature");
    for (const auto& [entity, variation] : f.entity_overrides)
      if (!f.find(variation.get_string()))
        invalid("entityOverrides." + std::string(entity), "The override names variation " + std::string(variation.get_string()) +
                                                              ", which the feature does not have");
  }

  /// CreateFeature members (also the fixture's feature shape).
  static Feature build_feature(const json::object& body, const std::string& path, double now) {
    only_members(body, path, {"name", "variations", "defaultVariation", "description", "entityOverrides", "evaluationStrategy", "tags"});
    Feature f;
    f.created = f.last_updated = now == 0 ? now_seconds() : now;
    auto name = body.find("name");
    if (name == body.end()) invalid(join(path, "name"), "Member must not be null");
    f.name = need_name(name->value(), join(path, "name"));
    auto variations = body.find("variations");
    if (variations == body.end()) invalid(join(path, "variations"), "Member must not be null");
    f.variations = parse_variations(variations->value(), join(path, "variations"));
    f.default_variation = f.variations.front().name;  // "defaults to the first listed"
    if (auto it = body.find("defaultVariation"); it != body.end()) f.default_variation = need_name(it->value(), join(path, "defaultVariation"));
    if (auto it = body.find("description"); it != body.end()) f.description = need_string(it->value(), join(path, "description"), 0, 160);
    if (auto it = body.find("entityOverrides"); it != body.end()) f.entity_overrides = parse_overrides(it->value(), join(path, "entityOverrides"));
    if (auto it = body.find("evaluationStrategy"); it != body.end())
      f.evaluation_strategy = need_enum(it->value(), join(path, "evaluationStrategy"), {"ALL_RULES", "DEFAULT_VARIATION"});
    if (auto it = body.find("tags"); it != body.end()) f.tags = parse_tags(it->value(), join(path, "tags"));
    check_feature(f);
    return f;
  }

  ServerReply create_feature(Project& project, const json::object& body, const std::string& region) {
    Feature f = build_feature(body, "", now_seconds());
    if (project.features.contains(f.name)) conflict("Feature", f.name, "A feature named " + f.name + " already exists in project " + project.name);
    if (project.features.size() >= max_features_per_project)
      quota("Project", project.name, "A project can hold at most " + std::to_string(max_features_per_project) + " features");
    auto& stored = project.features[f.name] = std::move(f);
    return ok("feature", feature_json(project, stored, region));
  }

  ServerReply update_feature(Project& project, Feature& feature, const json::object& body, const std::string& region) {
    only_members(body, "", {"addOrUpdateVariations", "removeVariations", "defaultVariation", "description", "entityOverrides", "evaluationStrategy"});
    Feature next = feature;  // all or nothing: a refused update changes nothing
    std::vector<Variation> add;
    if (auto it = body.find("addOrUpdateVariations"); it != body.end()) add = parse_variations(it->value(), "addOrUpdateVariations");
    std::vector<std::string> remove;
    if (auto it = body.find("removeVariations"); it != body.end()) {
      const auto& a = need_array(it->value(), "removeVariations", 0, 5);
      for (std::size_t i = 0; i < a.size(); ++i) remove.push_back(need_name(a[i], at("removeVariations", i)));
    }
    for (const auto& name : remove) {
      for (const auto& v : add)
        if (v.name == name) invalid("removeVariations", "Variation " + name + " is both added or updated and removed");
      if (!next.find(name)) continue;  // "makes no change and does not report an error"
      // "This operation fails if you try to remove a variation that is part of an ongoing
      // launch or experiment": the request itself is well-formed and is refused because of
      // another resource's state — a ConflictException, as DeleteFeature answers for a
      // feature still in use.
      for (const auto& [ename, e] : project.experiments) {
        if (e.status != "RUNNING") continue;
        for (const auto& t : e.treatments)
          if (t.feature == feature.name && t.variation == name)
            conflict("Experiment", ename, "Variation " + name + " of feature " + feature.name + " is used by treatment " + t.name +
                                              " of running experiment " + ename + " and cannot be removed");
      }
    }
    for (auto& v : add) {
      bool updated = false;
      for (auto& existing : next.variations)
        if (existing.name == v.name) {
          existing.value = v.value;
          updated = true;
        }
      if (!updated) next.variations.push_back(std::move(v));
    }
    std::erase_if(next.variations, [&](const Variation& v) { return std::find(remove.begin(), remove.end(), v.name) != remove.end(); });
    if (auto it = body.find("defaultVariation"); it != body.end()) next.default_variation = need_name(it->value(), "defaultVariation");
    if (auto it = body.find("description"); it != body.end()) next.description = need_string(it->value(), "description", 0, 160);
    // Merge vs replace is unverified at AWS; the map given replaces the old one (what the
    // adapter assumes: it always sends the whole map).
    if (auto it = body.find("entityOverrides"); it != body.end()) next.entity_overrides = parse_overrides(it->value(), "entityOverrides");
    if (auto it = body.find("evaluationStrategy"); it != body.end())
      next.evaluation_strategy = need_enum(it->value(), "evaluationStrategy", {"ALL_RULES", "DEFAULT_VARIATION"});
    // Over 5 variations is the "variations per feature" quota: the model cannot express it
    // (each call's array is 1..5), and it is the only count UpdateFeature can grow, which is
    // why UpdateFeature lists ServiceQuotaExceededException (402).
    check_feature(next);
    next.last_updated = now_seconds();
    feature = std::move(next);
    return ok("feature", feature_json(project, feature, region));
  }

  /// Pagination: the token is the name to resume from (names are unique and sorted).
  template <class Map, class Filter, class Render>
  static json::object list_page(const Map& items, const ServerRequest& request, std::string_view key, Filter filter, Render render) {
    std::int64_t max_results = 50;
    std::string token;
    std::optional<std::string> status;
    for (const auto& [name, value] : query_of(request)) {
      if (name == "maxResults") {
        std::int64_t n = 0;
        try {
          std::size_t used = 0;
          n = std::stoll(value, &used);
          if (used != value.size()) n = 0;
        } catch (...) {
          n = 0;
        }
        if (n < 1 || n > 100) invalid("maxResults", "Member must have value between 1 and 100");
        max_results = n;
      } else if (name == "nextToken") {
        if (value.empty() || value.size() > 8192) invalid("nextToken", "Member must have length between 1 and 8192");
        token = value;
      } else if (name == "status" && key == "experiments") {
        status = need_enum(json::value(value), "status", {"CREATED", "UPDATING", "RUNNING", "COMPLETED", "CANCELLED"});
      }
    }
    json::array page;
    json::object out;
    for (auto it = items.lower_bound(token); it != items.end(); ++it) {
      if (!filter(it->second, status)) continue;
      if (static_cast<std::int64_t>(page.size()) == max_results) {
        out["nextToken"] = it->first;
        break;
      }
      page.push_back(render(it->second));
    }
    out[key] = std::move(page);
    return out;
  }

  ServerReply list_features(const Project& project, const ServerRequest& request, const std::string& region) const {
    return json_reply(200, list_page(project.features, request, "features", [](const Feature&, const auto&) { return true; },
                                     [&](const Feature& f) { return feature_summary_json(project, f, region); }));
  }

  // ---------------------------------------------------------------------------------------
  // Experiments.

  static json::object online_ab_json(const Experiment& e) {
    json::object ab;
    if (e.control_treatment) ab["controlTreatmentName"] = *e.control_treatment;
    ab["treatmentWeights"] = e.treatment_weights;
    return ab;
  }

  json::object experiment_json(const Project& project, const Experiment& e, const std::string& region) const {
    json::object o;
    o["arn"] = project_arn(project, region) + "/experiment/" + e.name;
    o["name"] = e.name;
    o["project"] = project_arn(project, region);
    o["status"] = e.status;
    if (e.status_reason) o["statusReason"] = *e.status_reason;
    if (e.description) o["description"] = *e.description;
    o["createdTime"] = e.created;
    o["lastUpdatedTime"] = e.last_updated;
    if (e.analysis_complete) o["schedule"] = json::object{{"analysisCompleteTime", *e.analysis_complete}};
    if (e.started) {
      json::object execution{{"startedTime", *e.started}};
      if (e.ended) execution["endedTime"] = *e.ended;
      o["execution"] = std::move(execution);
    }
    json::array treatments;
    for (const auto& t : e.treatments) {
      json::object tj{{"name", t.name}};
      if (t.description) tj["description"] = *t.description;
      tj["featureVariations"] = json::object{{t.feature, t.variation}};
      treatments.push_back(std::move(tj));
    }
    o["treatments"] = std::move(treatments);
    o["metricGoals"] = e.metric_goals;
    o["randomizationSalt"] = e.randomization_salt;
    o["samplingRate"] = e.sampling_rate;
    if (e.segment) o["segment"] = *e.segment;
    o["type"] = "aws.evidently.onlineab";
    o["onlineAbDefinition"] = online_ab_json(e);
    o["tags"] = e.tags;
    return o;
  }

  /// UpdateExperiment members onto `e` (all or nothing is the caller's copy).
  static void apply_experiment_update(const Project& project, Experiment& e, const json::object& body, const std::string& path, bool seeding) {
    only_members(body, path, {"description", "treatments", "metricGoals", "onlineAbConfig", "randomizationSalt", "samplingRate", "segment", "removeSegment"});
    if (auto it = body.find("description"); it != body.end()) e.description = need_string(it->value(), join(path, "description"), 0, 160);
    if (auto it = body.find("randomizationSalt"); it != body.end())
      e.randomization_salt = need_string(it->value(), join(path, "randomizationSalt"), 0, 127);
    if (auto it = body.find("samplingRate"); it != body.end()) e.sampling_rate = need_long(it->value(), join(path, "samplingRate"), 0, 100000);
    if (auto it = body.find("metricGoals"); it != body.end()) {
      const auto& a = need_array(it->value(), join(path, "metricGoals"), 1, 3);
      json::array goals;
      for (std::size_t i = 0; i < a.size(); ++i) goals.push_back(parse_metric_goal(a[i], at(join(path, "metricGoals"), i)));
      e.metric_goals = std::move(goals);
    }
    if (auto it = body.find("treatments"); it != body.end()) {
      std::string field = join(path, "treatments");
      const auto& a = need_array(it->value(), field, 0, 5);
      std::vector<Treatment> treatments;
      for (std::size_t i = 0; i < a.size(); ++i) {
        std::string item = at(field, i);
        const auto& o = need_object(a[i], item);
        only_members(o, item, {"name", "feature", "variation", "description"});
        Treatment t;
        for (std::string_view required : {"name", "feature", "variation"})
          if (!o.contains(required)) invalid(join(item, required), "Member must not be null");
        t.name = need_name(o.at("name"), join(item, "name"));
        t.feature = need_name(o.at("feature"), join(item, "feature"));
        t.variation = need_name(o.at("variation"), join(item, "variation"));
        if (auto d = o.find("description"); d != o.end()) t.description = need_string(d->value(), join(item, "description"), 0, 160);
        for (const auto& other : treatments)
          if (other.name == t.name) invalid(join(item, "name"), "Treatment names must be unique; " + t.name + " is listed twice");
        auto feature = project.features.find(t.feature);
        if (feature == project.features.end()) invalid(join(item, "feature"), "Feature " + t.feature + " does not exist in project " + project.name);
        if (!feature->second.find(t.variation))
          invalid(join(item, "variation"), "Feature " + t.feature + " has no variation " + t.variation);
        treatments.push_back(std::move(t));
      }
      // The input list may be 0..5 long, but a stored experiment compares 2..5 treatments.
      if (treatments.size() < 2) invalid(field, "An experiment must have between 2 and 5 treatments");
      e.treatments = std::move(treatments);
    }
    bool has_segment = body.contains("segment");
    bool remove_segment = false;
    if (auto it = body.find("removeSegment"); it != body.end()) remove_segment = need_bool(it->value(), join(path, "removeSegment"));
    if (has_segment && remove_segment) invalid(join(path, "segment"), "segment and removeSegment cannot be used together");
    if ((has_segment || remove_segment) && e.status == "RUNNING" && !seeding)
      conflict("Experiment", e.name, "The segment of experiment " + e.name + " cannot be changed while it is running");
    if (has_segment) {
      static const std::regex pattern(R"((^[-a-zA-Z0-9._]*$)|(arn:[^:]*:[^:]*:[^:]*:[^:]*:segment/[-a-zA-Z0-9._]*))");
      std::string segment = need_string(body.at("segment"), join(path, "segment"), 0, 2048);
      if (!std::regex_match(segment, pattern)) invalid(join(path, "segment"), "Member must be a segment name or ARN");
      e.segment = segment;
    }
    if (remove_segment) e.segment.reset();
    if (auto it = body.find("onlineAbConfig"); it != body.end()) {
      std::string field = join(path, "onlineAbConfig");
      const auto& o = need_object(it->value(), field);
      only_members(o, field, {"controlTreatmentName", "treatmentWeights"});
      // Members given replace the stored ones; a member left out keeps its value (unverified).
      if (auto c = o.find("controlTreatmentName"); c != o.end()) e.control_treatment = need_name(c->value(), join(field, "controlTreatmentName"));
      if (auto w = o.find("treatmentWeights"); w != o.end()) {
        std::string wfield = join(field, "treatmentWeights");
        const auto& weights = need_object(w->value(), wfield);
        if (weights.size() > 5) invalid(wfield, "Member must have at most 5 entries");
        json::object stored;
        for (const auto& [name, weight] : weights) stored[name] = need_long(weight, wfield + "." + std::string(name), 0, 100000);
        e.treatment_weights = std::move(stored);
      }
    }
    // The A/B definition must keep naming treatments of the experiment (also after the
    // treatments change). Whether the weights must total 100000 is unverified: not enforced.
    auto has_treatment = [&](std::string_view name) {
      for (const auto& t : e.treatments)
        if (t.name == name) return true;
      return false;
    };
    if (e.control_treatment && !has_treatment(*e.control_treatment))
      invalid(join(path, "onlineAbConfig.controlTreatmentName"), "Treatment " + *e.control_treatment + " is not a treatment of experiment " + e.name);
    for (const auto& [name, weight] : e.treatment_weights)
      if (!has_treatment(name))
        invalid(join(path, "onlineAbConfig.treatmentWeights") + "." + std::string(name),
                "Treatment " + std::string(name) + " is not a treatment of experiment " + e.name);
  }

  ServerReply update_experiment(Project& project, Experiment& experiment, const json::object& body, const std::string& region) {
    Experiment next = experiment;
    apply_experiment_update(project, next, body, "", /*seeding=*/false);
    next.last_updated = now_seconds();
    experiment = std::move(next);
    return ok("experiment", experiment_json(project, experiment, region));
  }

  ServerReply list_experiments(const Project& project, const ServerRequest& request, const std::string& region) const {
    return json_reply(200, list_page(
                               project.experiments, request, "experiments",
                               [](const Experiment& e, const std::optional<std::string>& status) { return !status || e.status == *status; },
                               [&](const Experiment& e) { return experiment_json(project, e, region); }));
  }

  static ServerReply start_experiment(Experiment& e, const json::object& body) {
    only_members(body, "", {"analysisCompleteTime"});
    auto it = body.find("analysisCompleteTime");
    if (it == body.end()) invalid("analysisCompleteTime", "Member must not be null");
    double complete = need_number(it->value(), "analysisCompleteTime");
    double now = now_seconds();
    if (complete <= now) invalid("analysisCompleteTime", "The analysis complete time must be in the future");
    if (complete > now + 30.0 * 24 * 3600) invalid("analysisCompleteTime", "The analysis complete time must be at most 30 days after the start");
    // A stopped experiment cannot be restarted, a running one not started twice.
    if (e.status != "CREATED") conflict("Experiment", e.name, "Experiment " + e.name + " is " + e.status + " and cannot be started");
    e.status = "RUNNING";
    e.started = now;
    e.analysis_complete = complete;
    e.last_updated = now;
    return json_reply(200, json::object{{"startedTime", now}});
  }

  static ServerReply stop_experiment(Experiment& e, const json::object& body) {
    only_members(body, "", {"desiredState", "reason"});
    // desiredState is optional in the model; what AWS assumed without it is unverified: COMPLETED.
    std::string desired = "COMPLETED";
    if (auto it = body.find("desiredState"); it != body.end()) desired = need_enum(it->value(), "desiredState", {"COMPLETED", "CANCELLED"});
    std::optional<std::string> reason;
    if (auto it = body.find("reason"); it != body.end()) reason = need_string(it->value(), "reason", 0, 160);
    if (e.status != "RUNNING") conflict("Experiment", e.name, "Experiment " + e.name + " is " + e.status + ", not RUNNING, and cannot be stopped");
    double now = now_seconds();
    e.status = desired;
    e.status_reason = reason;
    e.ended = now;
    e.last_updated = now;
    return json_reply(200, json::object{{"endedTime", now}});
  }

  std::string region_ = "us-east-1";
  std::string account_ = "123456789012";
  std::map<std::string, Project> projects_;
};

// ---------------------------------------------------------------------------------------------
// What the host asks of every emulator (credentials, injected errors, default fixture, sample)

std::vector<Credential> EvidentlyEmulator::credentials() const { return aws_example_credentials(); }

ServerReply EvidentlyEmulator::injected_error(const InjectedError& error) const { return aws_injected_error(error); }

Result<std::string_view> EvidentlyEmulator::default_fixture() const { return embedded_fixture("evidently_emulator_fixture.yaml"); }

std::optional<SampleBackend> EvidentlyEmulator::sample_backend() const {
  return SampleBackend{"ev", "vendor: evidently, region: us-east-1, project: checkout",
                       "{feature: checkout-redesign}"};
}

}  // namespace

std::unique_ptr<VendorEmulator> make_evidently_emulator() { return std::make_unique<EvidentlyEmulator>(); }

}  // namespace expbridge::emulator
