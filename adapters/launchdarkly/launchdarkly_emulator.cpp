// LaunchDarkly emulator: the REST API v2 experiment endpoints, semantic patch only, and the flag
// read an iteration is built from. Facts: LaunchDarkly REST API v2 reference, sections
// Experiments (Get experiments, Get experiment, Create experiment, Create iteration, Patch
// experiment and its semantic-patch instructions) and Feature flags (Get feature flag), with the
// API's authentication, error and pagination conventions. Where the reference leaves a rule or a
// status open, the choice made here is said at the rule ("unverified").
//
// This emulator is a second witness of LaunchDarkly's rules: it never includes the LaunchDarkly
// adapter nor reads the mapping tables (mappings/*.yaml), so a mistake there cannot hide here.
//
// Routes (auth is checked first, on every route; an unknown project, environment, experiment
// or flag answers 404 {code: not_found, message, id}):
//   GET   /api/v2/projects/{p}/environments/{e}/experiments                 list (200; limit, offset,
//                                                                           filter, lifecycleState, expand)
//   POST  /api/v2/projects/{p}/environments/{e}/experiments                 create (201)
//   GET   /api/v2/projects/{p}/environments/{e}/experiments/{k}             get (200): currentIteration
//         always (the latest started one, else the draft); with expand=draftIteration the draft;
//         with expand=previousIterations the older started ones; treatments (and their `_id`s)
//         only with expand=treatments, else left out as the API does
//   PATCH /api/v2/projects/{p}/environments/{e}/experiments/{k}             semantic patch (200):
//         updateName, updateDescription, startIteration (changeJustification required while an
//         iteration runs), stopIteration (winningTreatmentId, winningReason), archiveExperiment,
//         restoreExperiment
//   POST  /api/v2/projects/{p}/environments/{e}/experiments/{k}/iterations  new draft iteration (200
//         IterationRep): IterationInput checked against the flag (variationIds are its variation
//         `_id`s, ruleId "fallthrough" or one of its rule `_id`s, flagConfigVersion its current
//         environment version)
//   GET   /api/v2/flags/{p}/{flag}[?env=E]                                  get feature flag (200):
//         key, name, kind, _version, variations [{_id, value, name?}], and environments.{E}
//         {on, archived, version (the flag config version), rules [{_id, clauses, …}], …}
// A POST with `X-HTTP-Method-Override: PATCH` is a PATCH. Any other path under /api/v2/projects
// or /api/v2/flags answers 404: those endpoints exist at LaunchDarkly but are not emulated.
//
// Fixture section (the value of the fixture's `launchdarkly:` key; unknown keys are errors):
//   token: api-emulator-token            # optional; the exact Authorization value accepted
//   projects:                            # optional ({} = no resources)
//     PROJECT:
//       metrics: [KEY, ...]                # optional: the project's metrics; an iteration may name
//                                          # only these (absent: any metric key is taken)
//       environments:
//         ENV:
//           flags:
//             FLAG:
//               on: true                 # required
//               archived: false
//               version: 7               # the environment's flag config version (default 1)
//               name: ..., _version: N   # flag-level (default: the key, the largest version)
//               variations:              # flag-level; each {_id, value, name?, description?},
//                 - {_id: ID, value: false, name: control}   # or just ID (value = that string)
//               rules: [{_id: ID, description?}]            # this environment's targeting rules
//             # name, _version and variations must be the same in every environment listing FLAG
//           experiments:
//             KEY:
//               name: ...                # required
//               description: ...
//               _id, _maintainerId, _creationDate (ms), archivedDate (ms), holdoutId
//               iterations:              # oldest first; at most one not_started, one running
//                 - IterationInput members (hypothesis, metrics, primarySingleMetricKey |
//                   primaryFunnelKey, flags, treatments, randomizationUnit, canReshuffleTraffic,
//                   attributes) plus _id, status, createdAt, startedAt, endedAt,
//                   winningTreatmentId, winningReason, changeJustification; treatments may
//                   carry `_id` (default: their first parameter's variationId).
//                   randomizationUnit absent = unset (so a fixture can break that precondition);
//                   flagConfigVersion may be older than the flag's version (an old iteration).
//
// state() shape:
//   {"ld_api_versions": [distinct LD-API-Version values received, in arrival order],
//    "projects": {P: {"environments": {E: {
//       "flags": {F: {"on", "archived", "version"}},
//       "experiments": {K: {
//          "_id", "name", "description" (null when none), "archived": bool, "archivedDate"?,
//          "iterations": [{"_id", "status", "hypothesis", "randomizationUnit", "createdAt",
//                          "startedAt"?, "endedAt"?, "changeJustification"?,
//                          "winningTreatmentId"?, "winner"? (that treatment's name), "winningReason"?,
//                          "treatments": [{"_id", "name", "allocationPercent", "baseline"}]}],
//          "comments": [comment of every applied PATCH that had one],
//          "instructions": [every instruction of every applied PATCH, as received]}}}}}}}
#include "launchdarkly_emulator.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include "document.hpp"
#include "emulator/fixtures.hpp"
#include "emulator/rate_limits.hpp"
#include "json_reader.hpp"

namespace expbridge::emulator {
namespace {

// The API access token a fresh emulator accepts (a fixture's `token:` may change it): an
// example value, not a secret.
constexpr const char* kExampleToken = "api-emulator-token";

namespace json = boost::json;

constexpr std::string_view kSemanticPatch = "domain-model=launchdarkly.semanticpatch";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 256) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

/// A decimal percent in a string, as LaunchDarkly's allocationPercent ("50", "33.3").
std::optional<double> parse_percent(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value < 0 || value > 100)
    return std::nullopt;
  return value;
}

struct Treatment {
  std::string id;
  std::string name;
  std::string allocation_percent;
  bool baseline = false;
  std::vector<std::pair<std::string, std::string>> parameters;  ///< flagKey, variationId
};

struct FlagBinding {
  std::string rule_id;
  std::int64_t config_version = 0;
  std::optional<std::string> not_in_experiment_variation;
};

struct Metric {
  std::string key;
  bool is_group = false;
};

struct Iteration {
  std::string id;
  std::string status = "not_started";  ///< not_started | running | stopped
  std::string hypothesis;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> started_at, ended_at;
  std::optional<std::string> winning_treatment_id, winning_reason, change_justification;
  bool can_reshuffle_traffic = true;
  std::map<std::string, FlagBinding> flags;
  std::vector<Metric> metrics;
  std::optional<std::string> primary_single_metric, primary_funnel;
  std::string randomization_unit;  ///< empty = unset
  std::vector<std::string> attributes;
  std::vector<Treatment> treatments;

  const Treatment* treatment(std::string_view treatment_id) const {
    for (const auto& t : treatments)
      if (t.id == treatment_id) return &t;
    return nullptr;
  }
};

struct Experiment {
  std::string id;
  std::string name;
  std::optional<std::string> description;
  std::string maintainer_id;
  std::int64_t creation_date = 0;
  std::optional<std::int64_t> archived_date;
  std::optional<std::string> holdout_id;
  std::vector<Iteration> iterations;  ///< oldest first
  std::vector<std::string> comments;
  json::array instructions;

  std::optional<std::size_t> index_with_status(std::string_view status) const {
    for (std::size_t i = iterations.size(); i-- > 0;)
      if (iterations[i].status == status) return i;
    return std::nullopt;
  }
  std::optional<std::size_t> draft() const { return index_with_status("not_started"); }
  std::optional<std::size_t> running() const { return index_with_status("running"); }
  /// The latest started iteration, else the draft (a new experiment's only iteration).
  std::optional<std::size_t> current() const {
    for (std::size_t i = iterations.size(); i-- > 0;)
      if (iterations[i].status != "not_started") return i;
    return draft();
  }
};

struct FlagVariation {
  std::string id;
  json::value value;
  std::optional<std::string> name, description;
};

struct FlagRule {
  std::string id;
  std::optional<std::string> description;
};

/// One environment's copy of a flag. LaunchDarkly keeps the variations, name and `_version` on
/// the flag and `on`, `version` (the flag config version) and rules per environment; the seed
/// checks that the flag-level members agree across environments.
struct Flag {
  bool on = false;
  bool archived = false;
  std::int64_t version = 1;  ///< environments[env].version: an iteration's flagConfigVersion
  std::optional<std::int64_t> flag_version;  ///< `_version`; default: the largest config version
  std::optional<std::string> name;            ///< default: the key
  std::vector<FlagVariation> variations;      ///< empty = not checked
  std::vector<FlagRule> rules;

  bool has_variation(std::string_view id) const {
    return variations.empty() ||
           std::any_of(variations.begin(), variations.end(), [&](const FlagVariation& v) { return v.id == id; });
  }
  bool has_rule(std::string_view id) const {
    return id == "fallthrough" || std::any_of(rules.begin(), rules.end(), [&](const FlagRule& r) { return r.id == id; });
  }
};

struct Environment {
  std::map<std::string, Flag> flags;
  std::map<std::string, Experiment> experiments;
  /// The project's metrics (they are project-level at LaunchDarkly), copied into each of its
  /// environments for the iterations built there; none = not checked.
  std::optional<std::set<std::string, std::less<>>> metrics;
};

struct Project {
  std::map<std::string, Environment> environments;
};

/// What `expand` asked for.
struct Expand {
  bool treatments = false, draft_iteration = false, previous_iterations = false;
};

Error invalid(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}

std::string describe(const Error& e) { return e.field.empty() ? e.message : e.field + ": " + e.message; }

Result<const json::array*> array_member(ObjectReader& r, std::string_view key, bool required) {
  const json::value* v = r.optional_value(key);
  if (!v) {
    if (required) return std::unexpected(r.error(key, "is required"));
    return static_cast<const json::array*>(nullptr);
  }
  if (!v->is_array()) return std::unexpected(r.error(key, "must be a list, found " + std::string(json_kind(*v))));
  return &v->get_array();
}

Result<bool> required_bool(ObjectReader& r, std::string_view key) {
  auto b = r.optional_bool(key);
  if (!b) return std::unexpected(std::move(b).error());
  if (!*b) return std::unexpected(r.error(key, "is required"));
  return **b;
}

std::string next_uuid(std::uint64_t& counter) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx", static_cast<unsigned long long>(++counter));
  return buf;
}

/// An IterationInput (API reference: IterationInput); with `fixture`, also the stored members of an IterationRep.
Result<Iteration> parse_iteration(const json::value& value, const std::string& path, const Environment& env, bool fixture,
                                  std::uint64_t& ids, std::int64_t now) {
  auto opened = ObjectReader::open(value, path);
  if (!opened) return std::unexpected(std::move(opened).error());
  ObjectReader& r = *opened;
  Iteration it;
  it.created_at = now;
  EXPBRIDGE_ASSIGN_OR_RETURN(it.hypothesis, r.required_string("hypothesis"));

  const json::array* metrics = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(metrics, array_member(r, "metrics", true));
  for (std::size_t i = 0; i < metrics->size(); ++i) {
    auto m = ObjectReader::open((*metrics)[i], index_path(r.member_path("metrics"), i));
    if (!m) return std::unexpected(std::move(m).error());
    Metric metric;
    EXPBRIDGE_ASSIGN_OR_RETURN(metric.key, m->required_string("key"));
    // A metric is created at LaunchDarkly before an experiment measures it (status unverified: 400).
    if (env.metrics && !env.metrics->contains(metric.key))
      return std::unexpected(m->error("key", "metric '" + metric.key + "' does not exist in this project"));
    std::optional<bool> is_group;
    EXPBRIDGE_ASSIGN_OR_RETURN(is_group, m->optional_bool("isGroup"));
    metric.is_group = is_group.value_or(false);
    EXPBRIDGE_RETURN_IF_ERROR(m->optional_bool("primary"));  // deprecated, accepted
    EXPBRIDGE_RETURN_IF_ERROR(m->finish());
    it.metrics.push_back(std::move(metric));
  }
  EXPBRIDGE_ASSIGN_OR_RETURN(it.primary_single_metric, r.optional_string("primarySingleMetricKey"));
  EXPBRIDGE_ASSIGN_OR_RETURN(it.primary_funnel, r.optional_string("primaryFunnelKey"));
  // The doc says one of the two is required; both at once is refused here (unverified).
  if (it.primary_single_metric.has_value() == it.primary_funnel.has_value())
    return std::unexpected(invalid(r.member_path("primarySingleMetricKey"),
                                   "exactly one of primarySingleMetricKey and primaryFunnelKey is required"));
  const std::string& primary = it.primary_single_metric ? *it.primary_single_metric : *it.primary_funnel;
  if (std::none_of(it.metrics.begin(), it.metrics.end(), [&](const Metric& m) { return m.key == primary; }))
    return std::unexpected(invalid(r.member_path(it.primary_single_metric ? "primarySingleMetricKey" : "primaryFunnelKey"),
                                   "'" + primary + "' is not one of the iteration's metrics"));

  const json::object* flags = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(flags, r.required_object("flags"));
  if (flags->empty()) return std::unexpected(invalid(r.member_path("flags"), "must name at least one flag"));
  for (const auto& member : *flags) {
    std::string flag_key(member.key());
    std::string flag_path = join_path(r.member_path("flags"), flag_key);
    auto flag = env.flags.find(flag_key);
    if (flag == env.flags.end())
      return std::unexpected(invalid(flag_path, "flag '" + flag_key + "' does not exist in this environment"));
    auto f = ObjectReader::open(member.value(), flag_path);
    if (!f) return std::unexpected(std::move(f).error());
    FlagBinding binding;
    EXPBRIDGE_ASSIGN_OR_RETURN(binding.rule_id, f->required_string("ruleId"));
    // ruleId is a rule `_id` of the flag in this environment, or "fallthrough" (the default rule).
    if (!flag->second.has_rule(binding.rule_id))
      return std::unexpected(f->error("ruleId", "'" + binding.rule_id + "' is neither \"fallthrough\" nor a rule _id of flag '" +
                                                    flag_key + "' in this environment"));
    std::optional<std::int64_t> version;
    EXPBRIDGE_ASSIGN_OR_RETURN(version, f->optional_integer("flagConfigVersion"));
    if (!version) return std::unexpected(f->error("flagConfigVersion", "is required"));
    if (*version < 0) return std::unexpected(f->error("flagConfigVersion", "must not be negative"));
    // The API documents the value as the flag's current environment version; a stale or made-up
    // one is refused here (400 chosen; the status the API uses is unverified). A fixture may hold
    // an older iteration, built when the flag was at an earlier version.
    if (!fixture && *version != flag->second.version)
      return std::unexpected(f->error("flagConfigVersion", std::to_string(*version) + " is not the current version (" +
                                                              std::to_string(flag->second.version) + ") of flag '" + flag_key +
                                                              "' in this environment; read it with GET /api/v2/flags/{projectKey}/" + flag_key));
    binding.config_version = *version;
    EXPBRIDGE_ASSIGN_OR_RETURN(binding.not_in_experiment_variation, f->optional_string("notInExperimentVariationId"));
    if (binding.not_in_experiment_variation && !flag->second.has_variation(*binding.not_in_experiment_variation))
      return std::unexpected(f->error("notInExperimentVariationId", "is not a variation of flag '" + flag_key + "'"));
    EXPBRIDGE_RETURN_IF_ERROR(f->finish());
    it.flags.emplace(flag_key, std::move(binding));
  }

  const json::array* treatments = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(treatments, array_member(r, "treatments", true));
  if (treatments->empty()) return std::unexpected(invalid(r.member_path("treatments"), "must hold at least one treatment"));
  for (std::size_t i = 0; i < treatments->size(); ++i) {
    std::string t_path = index_path(r.member_path("treatments"), i);
    auto t = ObjectReader::open((*treatments)[i], t_path);
    if (!t) return std::unexpected(std::move(t).error());
    Treatment treatment;
    EXPBRIDGE_ASSIGN_OR_RETURN(treatment.name, t->required_string("name"));
    EXPBRIDGE_ASSIGN_OR_RETURN(treatment.baseline, required_bool(*t, "baseline"));
    // allocationPercent is a string in the API (API reference: IterationInput); a number is refused.
    EXPBRIDGE_ASSIGN_OR_RETURN(treatment.allocation_percent, t->required_string("allocationPercent"));
    if (!parse_percent(treatment.allocation_percent))
      return std::unexpected(t->error("allocationPercent", "must be a decimal percent between 0 and 100 in a string"));
    const json::array* parameters = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(parameters, array_member(*t, "parameters", true));
    if (parameters->empty()) return std::unexpected(t->error("parameters", "must hold at least one flag variation"));
    for (std::size_t j = 0; j < parameters->size(); ++j) {
      auto p = ObjectReader::open((*parameters)[j], index_path(t->member_path("parameters"), j));
      if (!p) return std::unexpected(std::move(p).error());
      std::string flag_key, variation_id;
      EXPBRIDGE_ASSIGN_OR_RETURN(flag_key, p->required_string("flagKey"));
      EXPBRIDGE_ASSIGN_OR_RETURN(variation_id, p->required_string("variationId"));
      EXPBRIDGE_RETURN_IF_ERROR(p->finish());
      if (!it.flags.contains(flag_key))
        return std::unexpected(p->error("flagKey", "flag '" + flag_key + "' is not one of the iteration's flags"));
      if (!env.flags.at(flag_key).has_variation(variation_id))
        return std::unexpected(p->error("variationId", "'" + variation_id + "' is not a variation of flag '" + flag_key + "'"));
      treatment.parameters.emplace_back(std::move(flag_key), std::move(variation_id));
    }
    // The treatment id is "the variation ID from the flag" (TreatmentRep._id, API reference).
    treatment.id = treatment.parameters.front().second;
    if (fixture) {
      std::optional<std::string> id;
      EXPBRIDGE_ASSIGN_OR_RETURN(id, t->optional_string("_id"));
      if (id) treatment.id = *id;
    }
    EXPBRIDGE_RETURN_IF_ERROR(t->finish());
    // Unique names and ids keep winners unambiguous (not a documented server rule).
    for (const auto& other : it.treatments) {
      if (other.name == treatment.name)
        return std::unexpected(invalid(t_path + ".name", "treatment name '" + treatment.name + "' is used twice"));
      if (other.id == treatment.id)
        return std::unexpected(invalid(t_path, "two treatments use the same flag variation '" + treatment.id + "'"));
    }
    it.treatments.push_back(std::move(treatment));
  }

  std::optional<std::string> unit;
  EXPBRIDGE_ASSIGN_OR_RETURN(unit, r.optional_string("randomizationUnit"));
  // The API defaults it to `user` (API reference: IterationInput); a fixture may leave it unset.
  it.randomization_unit = unit ? *unit : (fixture ? "" : "user");
  std::optional<bool> reshuffle;
  EXPBRIDGE_ASSIGN_OR_RETURN(reshuffle, r.optional_bool("canReshuffleTraffic"));
  it.can_reshuffle_traffic = reshuffle.value_or(true);
  const json::array* attributes = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(attributes, array_member(r, "attributes", false));
  if (attributes) {
    for (std::size_t i = 0; i < attributes->size(); ++i) {
      if (!(*attributes)[i].is_string())
        return std::unexpected(invalid(index_path(r.member_path("attributes"), i), "must be a string"));
      it.attributes.emplace_back((*attributes)[i].get_string());
    }
  }

  if (fixture) {
    std::optional<std::string> id, status;
    EXPBRIDGE_ASSIGN_OR_RETURN(id, r.optional_string("_id"));
    it.id = id ? *id : next_uuid(ids);
    EXPBRIDGE_ASSIGN_OR_RETURN(status, r.optional_string("status"));
    if (status) {
      if (*status != "not_started" && *status != "running" && *status != "stopped")
        return std::unexpected(r.error("status", "must be not_started, running or stopped"));
      it.status = *status;
    }
    std::optional<std::int64_t> created;
    EXPBRIDGE_ASSIGN_OR_RETURN(created, r.optional_integer("createdAt"));
    if (created) it.created_at = *created;
    EXPBRIDGE_ASSIGN_OR_RETURN(it.started_at, r.optional_integer("startedAt"));
    EXPBRIDGE_ASSIGN_OR_RETURN(it.ended_at, r.optional_integer("endedAt"));
    if (it.status != "not_started" && !it.started_at) it.started_at = it.created_at;
    if (it.status == "stopped" && !it.ended_at) it.ended_at = *it.started_at;
    EXPBRIDGE_ASSIGN_OR_RETURN(it.winning_treatment_id, r.optional_string("winningTreatmentId"));
    EXPBRIDGE_ASSIGN_OR_RETURN(it.winning_reason, r.optional_string("winningReason"));
    EXPBRIDGE_ASSIGN_OR_RETURN(it.change_justification, r.optional_string("changeJustification"));
    if (it.winning_treatment_id && !it.treatment(*it.winning_treatment_id))
      return std::unexpected(r.error("winningTreatmentId", "is not one of the iteration's treatment _ids"));
  } else {
    it.id = next_uuid(ids);
  }
  EXPBRIDGE_RETURN_IF_ERROR(r.finish());
  return it;
}

json::object iteration_json(const Iteration& it, bool with_treatments) {
  json::object o;
  o["_id"] = it.id;
  o["hypothesis"] = it.hypothesis;
  o["status"] = it.status;
  o["createdAt"] = it.created_at;
  if (it.started_at) o["startedAt"] = *it.started_at;
  if (it.ended_at) o["endedAt"] = *it.ended_at;
  if (it.winning_treatment_id) o["winningTreatmentId"] = *it.winning_treatment_id;
  if (it.winning_reason) o["winningReason"] = *it.winning_reason;
  o["canReshuffleTraffic"] = it.can_reshuffle_traffic;
  json::object flags;
  for (const auto& [key, binding] : it.flags) {
    json::object f;
    f["targetingRule"] = binding.rule_id;
    f["flagConfigVersion"] = binding.config_version;
    if (binding.not_in_experiment_variation) f["notInExperimentVariationId"] = *binding.not_in_experiment_variation;
    flags[key] = std::move(f);
  }
  o["flags"] = std::move(flags);
  if (it.primary_single_metric) o["primarySingleMetric"] = json::object{{"key", *it.primary_single_metric}};
  if (it.primary_funnel) o["primaryFunnel"] = json::object{{"key", *it.primary_funnel}};
  if (!it.randomization_unit.empty()) o["randomizationUnit"] = it.randomization_unit;
  if (!it.attributes.empty()) {
    json::array attributes;
    for (const auto& a : it.attributes) attributes.emplace_back(a);
    o["attributes"] = std::move(attributes);
  }
  json::array metrics;
  for (const auto& m : it.metrics) metrics.push_back(json::object{{"key", m.key}, {"isGroup", m.is_group}});
  o["metrics"] = std::move(metrics);
  // Treatments, and with them their _ids, only come with expand=treatments (API reference: Get experiment, expand).
  if (with_treatments) {
    json::array treatments;
    for (const auto& t : it.treatments) {
      json::array parameters;
      for (const auto& [flag, variation] : t.parameters)
        parameters.push_back(json::object{{"variationId", variation}, {"flagKey", flag}});
      treatments.push_back(json::object{{"_id", t.id},
                                        {"name", t.name},
                                        {"allocationPercent", t.allocation_percent},
                                        {"baseline", t.baseline},
                                        {"parameters", std::move(parameters)}});
    }
    o["treatments"] = std::move(treatments);
  }
  return o;
}

std::string experiment_path(std::string_view project, std::string_view environment, std::string_view key) {
  return "/api/v2/projects/" + std::string(project) + "/environments/" + std::string(environment) + "/experiments/" +
         std::string(key);
}

json::object experiment_json(const Experiment& e, std::string_view project, std::string_view environment,
                             std::string_view key, const Expand& expand) {
  json::object o;
  o["_id"] = e.id;
  o["key"] = key;
  o["name"] = e.name;
  if (e.description) o["description"] = *e.description;
  o["_maintainerId"] = e.maintainer_id;
  o["_creationDate"] = e.creation_date;
  o["environmentKey"] = environment;
  if (e.archived_date) o["archivedDate"] = *e.archived_date;
  if (e.holdout_id) o["holdoutId"] = *e.holdout_id;
  o["_links"] = json::object{
      {"self", json::object{{"href", experiment_path(project, environment, key)}, {"type", "application/json"}}}};
  auto current = e.current();
  if (current) o["currentIteration"] = iteration_json(e.iterations[*current], expand.treatments);
  if (expand.draft_iteration)
    if (auto draft = e.draft()) o["draftIteration"] = iteration_json(e.iterations[*draft], expand.treatments);
  if (expand.previous_iterations) {
    json::array previous;
    for (std::size_t i = 0; i < e.iterations.size(); ++i)
      if (e.iterations[i].status != "not_started" && (!current || i != *current))
        previous.push_back(iteration_json(e.iterations[i], expand.treatments));
    if (!previous.empty()) o["previousIterations"] = std::move(previous);  // empty expansions are left out
  }
  return o;
}

/// A refusal the handler turns into a LaunchDarkly error body.
struct Refusal {
  int status = 400;
  std::string code;
  std::string message;
};

Refusal bad_request(std::string message) { return Refusal{400, "invalid_request", std::move(message)}; }
Refusal bad_request(const Error& e) { return bad_request(describe(e)); }

std::string content_type_of(const ServerRequest& request) { return request.header("content-type").value_or(""); }

class LaunchDarklyEmulator final : public VendorEmulator {
 public:
  std::string_view vendor() const override { return "launchdarkly"; }

  // What the host asks of every emulator: defined apart, at the end of this file.
  std::vector<Credential> credentials() const override;
  ServerReply injected_error(const InjectedError& error) const override;
  Result<std::string_view> default_fixture() const override;
  std::optional<SampleBackend> sample_backend() const override;
  Status limit_rate(const boost::json::value& section, WallClock::time_point now) override;
  RateVerdict rate_limit(const ServerRequest& request, WallClock::time_point now) override;

  bool serves(const ServerRequest& request) const override {
    auto segments = path_segments(request);
    return segments.size() >= 3 && segments[0] == "api" && segments[1] == "v2" &&
           (segments[2] == "projects" || segments[2] == "flags");
  }

  ServerReply handle(const ServerRequest& request) override {
    auto authorization = request.header("authorization");
    // The raw token, exactly; "Bearer <token>" is refused like any other value (API reference: authentication).
    if (!authorization || *authorization != token_) return error(Refusal{401, "unauthorized", "Invalid access token"});
    if (auto version = request.header("ld-api-version")) {
      bool dated = version->size() == 8 && std::all_of(version->begin(), version->end(), [](char c) { return c >= '0' && c <= '9'; });
      // Status for a malformed version is unverified; 400 is the API's answer for a bad request.
      if (!dated && *version != "beta")
        return error(bad_request("LD-API-Version must be a date (yyyymmdd) or 'beta', found '" + *version + "'"));
      if (std::find(api_versions_.begin(), api_versions_.end(), *version) == api_versions_.end())
        api_versions_.push_back(*version);
    }
    std::string method = request.method;
    if (method == "POST")
      if (auto override_method = request.header("x-http-method-override")) method = *override_method;

    auto segments = path_segments(request);
    // api v2 flags P F: Get feature flag (the flag's semantic patch is not emulated).
    if (segments.size() == 5 && segments[2] == "flags" && method == "GET") {
      auto project = projects_.find(segments[3]);
      if (project == projects_.end()) return error(Refusal{404, "not_found", "Unknown project '" + segments[3] + "'"});
      return get_flag(request, segments[3], project->second, segments[4]);
    }
    // api v2 projects P environments E experiments [K [iterations]]
    bool experiments_route = segments.size() >= 7 && segments.size() <= 9 && segments[2] == "projects" &&
                             segments[4] == "environments" && segments[6] == "experiments" &&
                             (segments.size() != 9 || segments[8] == "iterations");
    if (!experiments_route) return error(Refusal{404, "not_found", "Not found (this endpoint is not emulated)"});
    const std::string& project_key = segments[3];
    const std::string& environment_key = segments[5];
    auto project = projects_.find(project_key);
    if (project == projects_.end()) return error(Refusal{404, "not_found", "Unknown project '" + project_key + "'"});
    auto environment = project->second.environments.find(environment_key);
    if (environment == project->second.environments.end())
      return error(Refusal{404, "not_found", "Unknown environment '" + environment_key + "'"});
    Environment& env = environment->second;

    if (segments.size() == 7) {
      if (method == "GET") return list_experiments(request, project_key, environment_key, env);
      if (method == "POST") return create_experiment(request, project_key, environment_key, env);
      return error(Refusal{405, "method_not_allowed", "Method not allowed"});
    }
    const std::string& key = segments[7];
    auto experiment = env.experiments.find(key);
    if (experiment == env.experiments.end()) return error(Refusal{404, "not_found", "Unknown experiment '" + key + "'"});
    if (segments.size() == 9) {
      if (method != "POST") return error(Refusal{405, "method_not_allowed", "Method not allowed"});
      return create_iteration(request, env, experiment->second);
    }
    if (method == "GET") {
      Expand expand;
      if (auto refusal = read_expand(request, expand)) return error(*refusal);
      return json_reply(200, experiment_json(experiment->second, project_key, environment_key, key, expand));
    }
    if (method == "PATCH") return patch_experiment(request, project_key, environment_key, key, env, experiment->second);
    return error(Refusal{405, "method_not_allowed", "Method not allowed"});
  }

  Status seed(const boost::json::value& fixture) override {
    std::uint64_t ids = 0;
    std::map<std::string, Project> projects;
    auto top = ObjectReader::open(fixture, "launchdarkly");
    if (!top) return std::unexpected(std::move(top).error());
    std::optional<std::string> token;
    EXPBRIDGE_ASSIGN_OR_RETURN(token, top->optional_string("token"));
    const json::object* projects_in = nullptr;
    // Optional: the host seeds a vendor without a fixture section with `{}`, "no resources".
    EXPBRIDGE_ASSIGN_OR_RETURN(projects_in, top->optional_object("projects"));
    EXPBRIDGE_RETURN_IF_ERROR(top->finish());
    std::int64_t now = now_ms();
    const json::object no_projects;
    for (const auto& p : projects_in ? *projects_in : no_projects) {
      std::string p_path = join_path(top->member_path("projects"), p.key());
      if (!valid_key(p.key())) return std::unexpected(invalid(p_path, "not a LaunchDarkly key"));
      auto pr = ObjectReader::open(p.value(), p_path);
      if (!pr) return std::unexpected(std::move(pr).error());
      const json::object* envs = nullptr;
      EXPBRIDGE_ASSIGN_OR_RETURN(envs, pr->required_object("environments"));
      const json::array* metric_keys = nullptr;
      EXPBRIDGE_ASSIGN_OR_RETURN(metric_keys, array_member(*pr, "metrics", false));
      EXPBRIDGE_RETURN_IF_ERROR(pr->finish());
      std::optional<std::set<std::string, std::less<>>> metrics;
      if (metric_keys) {
        metrics.emplace();
        for (std::size_t i = 0; i < metric_keys->size(); ++i) {
          const auto& key = (*metric_keys)[i];
          if (!key.is_string() || !valid_key(key.get_string()))
            return std::unexpected(invalid(index_path(pr->member_path("metrics"), i), "must be a metric key"));
          metrics->emplace(key.get_string());
        }
      }
      Project& project = projects[std::string(p.key())];
      for (const auto& e : *envs) {
        std::string e_path = join_path(pr->member_path("environments"), e.key());
        if (!valid_key(e.key())) return std::unexpected(invalid(e_path, "not a LaunchDarkly key"));
        auto er = ObjectReader::open(e.value(), e_path);
        if (!er) return std::unexpected(std::move(er).error());
        const json::object *flags = nullptr, *experiments = nullptr;
        EXPBRIDGE_ASSIGN_OR_RETURN(flags, er->optional_object("flags"));
        EXPBRIDGE_ASSIGN_OR_RETURN(experiments, er->optional_object("experiments"));
        EXPBRIDGE_RETURN_IF_ERROR(er->finish());
        Environment& env = project.environments[std::string(e.key())];
        env.metrics = metrics;
        if (flags) {
          for (const auto& f : *flags) {
            EXPBRIDGE_RETURN_IF_ERROR(seed_flag(f.value(), join_path(er->member_path("flags"), f.key()), env.flags[std::string(f.key())]));
          }
        }
        if (experiments) {
          for (const auto& x : *experiments) {
            std::string x_path = join_path(er->member_path("experiments"), x.key());
            if (!valid_key(x.key())) return std::unexpected(invalid(x_path, "not a LaunchDarkly key"));
            Experiment experiment;
            EXPBRIDGE_ASSIGN_OR_RETURN(experiment, seed_experiment(x.value(), x_path, env, ids, now));
            env.experiments.emplace(std::string(x.key()), std::move(experiment));
          }
        }
      }
    }
    for (const auto& [p_key, project] : projects)
      EXPBRIDGE_RETURN_IF_ERROR(check_flags_agree(join_path(top->member_path("projects"), p_key), project));
    // Only a fixture that parsed whole replaces the state.
    creation_date_ = now;
    projects_ = std::move(projects);
    token_ = token ? *token : kExampleToken;
    ids_ = ids;
    error_ids_ = 0;
    api_versions_.clear();
    return {};
  }

  boost::json::value state() const override {
    json::object projects;
    for (const auto& [p_key, project] : projects_) {
      json::object environments;
      for (const auto& [e_key, env] : project.environments) {
        json::object flags;
        for (const auto& [f_key, flag] : env.flags)
          flags[f_key] = json::object{{"on", flag.on}, {"archived", flag.archived}, {"version", flag.version}};
        json::object experiments;
        for (const auto& [x_key, e] : env.experiments) {
          json::object x;
          x["_id"] = e.id;
          x["name"] = e.name;
          x["description"] = e.description ? json::value(*e.description) : json::value(nullptr);
          x["archived"] = e.archived_date.has_value();
          if (e.archived_date) x["archivedDate"] = *e.archived_date;
          json::array iterations;
          for (const auto& it : e.iterations) {
            json::object i;
            i["_id"] = it.id;
            i["status"] = it.status;
            i["hypothesis"] = it.hypothesis;
            i["randomizationUnit"] = it.randomization_unit;
            i["createdAt"] = it.created_at;
            if (it.started_at) i["startedAt"] = *it.started_at;
            if (it.ended_at) i["endedAt"] = *it.ended_at;
            if (it.change_justification) i["changeJustification"] = *it.change_justification;
            if (it.winning_treatment_id) {
              i["winningTreatmentId"] = *it.winning_treatment_id;
              if (const auto* t = it.treatment(*it.winning_treatment_id)) i["winner"] = t->name;
            }
            if (it.winning_reason) i["winningReason"] = *it.winning_reason;
            json::array treatments;
            for (const auto& t : it.treatments)
              treatments.push_back(json::object{
                  {"_id", t.id}, {"name", t.name}, {"allocationPercent", t.allocation_percent}, {"baseline", t.baseline}});
            i["treatments"] = std::move(treatments);
            iterations.push_back(std::move(i));
          }
          x["iterations"] = std::move(iterations);
          json::array comments;
          for (const auto& c : e.comments) comments.emplace_back(c);
          x["comments"] = std::move(comments);
          x["instructions"] = e.instructions;
          experiments[x_key] = std::move(x);
        }
        environments[e_key] = json::object{{"flags", std::move(flags)}, {"experiments", std::move(experiments)}};
      }
      projects[p_key] = json::object{{"environments", std::move(environments)}};
    }
    json::array versions;
    for (const auto& v : api_versions_) versions.emplace_back(v);
    return json::object{{"ld_api_versions", std::move(versions)}, {"projects", std::move(projects)}};
  }

 private:
  static Status seed_flag(const json::value& value, const std::string& path, Flag& flag) {
    auto r = ObjectReader::open(value, path);
    if (!r) return std::unexpected(std::move(r).error());
    EXPBRIDGE_ASSIGN_OR_RETURN(flag.on, required_bool(*r, "on"));
    std::optional<bool> archived;
    EXPBRIDGE_ASSIGN_OR_RETURN(archived, r->optional_bool("archived"));
    flag.archived = archived.value_or(false);
    std::optional<std::int64_t> version;
    EXPBRIDGE_ASSIGN_OR_RETURN(version, r->optional_integer("version"));
    flag.version = version.value_or(1);
    EXPBRIDGE_ASSIGN_OR_RETURN(flag.flag_version, r->optional_integer("_version"));
    EXPBRIDGE_ASSIGN_OR_RETURN(flag.name, r->optional_string("name"));
    const json::array* variations = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(variations, array_member(*r, "variations", false));
    for (std::size_t i = 0; variations && i < variations->size(); ++i) {
      std::string v_path = index_path(r->member_path("variations"), i);
      const json::value& item = (*variations)[i];
      FlagVariation v;
      if (item.is_string()) {  // shorthand: the _id alone, the value is that same string
        v.id = item.get_string();
        v.value = item;
      } else {
        auto vr = ObjectReader::open(item, v_path);
        if (!vr) return std::unexpected(std::move(vr).error());
        EXPBRIDGE_ASSIGN_OR_RETURN(v.id, vr->required_string("_id"));
        const json::value* value_in = vr->optional_value("value");
        if (!value_in) return std::unexpected(vr->error("value", "is required"));
        v.value = *value_in;
        EXPBRIDGE_ASSIGN_OR_RETURN(v.name, vr->optional_string("name"));
        EXPBRIDGE_ASSIGN_OR_RETURN(v.description, vr->optional_string("description"));
        EXPBRIDGE_RETURN_IF_ERROR(vr->finish());
      }
      for (const auto& other : flag.variations)
        if (other.id == v.id) return std::unexpected(invalid(v_path, "variation _id '" + v.id + "' is used twice"));
      flag.variations.push_back(std::move(v));
    }
    const json::array* rules = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(rules, array_member(*r, "rules", false));
    for (std::size_t i = 0; rules && i < rules->size(); ++i) {
      auto rr = ObjectReader::open((*rules)[i], index_path(r->member_path("rules"), i));
      if (!rr) return std::unexpected(std::move(rr).error());
      FlagRule rule;
      EXPBRIDGE_ASSIGN_OR_RETURN(rule.id, rr->required_string("_id"));
      if (rule.id == "fallthrough") return std::unexpected(rr->error("_id", "\"fallthrough\" names the default rule, not a rule"));
      EXPBRIDGE_ASSIGN_OR_RETURN(rule.description, rr->optional_string("description"));
      EXPBRIDGE_RETURN_IF_ERROR(rr->finish());
      flag.rules.push_back(std::move(rule));
    }
    return r->finish();
  }

  /// The flag-level members of one environment's copy (what every copy must agree on).
  static json::object flag_level_json(const Flag& flag) {
    json::array variations;
    for (const auto& v : flag.variations) {
      json::object o{{"_id", v.id}, {"value", v.value}};
      if (v.name) o["name"] = *v.name;
      if (v.description) o["description"] = *v.description;
      variations.push_back(std::move(o));
    }
    json::object out{{"variations", std::move(variations)}};
    if (flag.name) out["name"] = *flag.name;
    if (flag.flag_version) out["_version"] = *flag.flag_version;
    return out;
  }

  /// A flag's variations, name and `_version` belong to the flag, not to an environment: every
  /// environment of a project that lists the flag must give the same ones.
  static Status check_flags_agree(const std::string& path, const Project& project) {
    std::map<std::string, std::pair<std::string, json::object>> first;  // flag key -> (env, members)
    for (const auto& [e_key, env] : project.environments) {
      for (const auto& [f_key, flag] : env.flags) {
        json::object members = flag_level_json(flag);
        auto [at, inserted] = first.emplace(f_key, std::make_pair(e_key, members));
        if (!inserted && at->second.second != members)
          return std::unexpected(invalid(path, "flag '" + f_key + "' has other variations, name or _version in environment '" + e_key +
                                                   "' than in '" + at->second.first + "' (they are flag-level at LaunchDarkly)"));
      }
    }
    return {};
  }

  /// Get feature flag (`GET /api/v2/flags/{projectKey}/{featureFlagKey}`, API reference): the
  /// flag with its variations and, per environment (only `env` when given), its configuration.
  ServerReply get_flag(const ServerRequest& request, const std::string& project_key, const Project& project,
                       const std::string& flag_key) {
    std::optional<std::string> only_env;
    for (const auto& [name, value] : query_of(request)) {
      if (name == "env") only_env = value;
      // `expand` names optional flag members (evaluation, code references…) this emulator does
      // not keep: accepted and answered without them.
    }
    const Flag* any = nullptr;
    json::object environments;
    std::int64_t latest_version = 0;
    bool archived = false;
    for (const auto& [e_key, env] : project.environments) {
      auto it = env.flags.find(flag_key);
      if (it == env.flags.end()) continue;
      const Flag& flag = it->second;
      if (!any) any = &flag;
      latest_version = std::max(latest_version, flag.version);
      archived = archived || flag.archived;
      if (only_env && *only_env != e_key) continue;
      json::array rules;
      for (const auto& rule : flag.rules) {
        json::object o{{"_id", rule.id}, {"clauses", json::array{}}, {"trackEvents", false}};
        if (rule.description) o["description"] = *rule.description;
        rules.push_back(std::move(o));
      }
      environments[e_key] = json::object{
          {"on", flag.on},
          {"archived", flag.archived},
          {"salt", "emulator-salt-" + flag_key},
          {"sel", "emulator-sel-" + e_key},
          {"lastModified", creation_date_},
          {"version", flag.version},
          {"targets", json::array{}},
          {"contextTargets", json::array{}},
          {"rules", std::move(rules)},
          {"prerequisites", json::array{}},
          {"_site", json::object{{"href", "/" + project_key + "/" + e_key + "/features/" + flag_key}, {"type", "text/html"}}},
          {"_environmentName", e_key},
          {"trackEvents", false},
          {"trackEventsFallthrough", false}};
    }
    if (!any) return error(Refusal{404, "not_found", "Unknown flag '" + flag_key + "'"});
    json::object flag = flag_level_json(*any);
    bool boolean = !any->variations.empty() && std::all_of(any->variations.begin(), any->variations.end(),
                                                            [](const FlagVariation& v) { return v.value.is_bool(); });
    flag["key"] = flag_key;
    if (!any->name) flag["name"] = flag_key;
    flag["kind"] = boolean ? "boolean" : "multivariate";
    if (!any->flag_version) flag["_version"] = latest_version;
    flag["creationDate"] = creation_date_;
    flag["temporary"] = false;
    flag["tags"] = json::array{};
    flag["archived"] = archived;
    flag["customProperties"] = json::object{};
    flag["experiments"] = json::object{{"baselineIdx", 0}, {"items", json::array{}}};
    std::string self = "/api/v2/flags/" + project_key + "/" + flag_key;
    flag["_links"] = json::object{{"self", json::object{{"href", self}, {"type", "application/json"}}},
                                  {"parent", json::object{{"href", "/api/v2/flags/" + project_key}, {"type", "application/json"}}}};
    flag["environments"] = std::move(environments);
    return json_reply(200, flag);
  }

  static Result<Experiment> seed_experiment(const json::value& value, const std::string& path, const Environment& env,
                                            std::uint64_t& ids, std::int64_t now) {
    auto r = ObjectReader::open(value, path);
    if (!r) return std::unexpected(std::move(r).error());
    Experiment e;
    EXPBRIDGE_ASSIGN_OR_RETURN(e.name, r->required_string("name"));
    EXPBRIDGE_ASSIGN_OR_RETURN(e.description, r->optional_string("description"));
    std::optional<std::string> id, maintainer;
    EXPBRIDGE_ASSIGN_OR_RETURN(id, r->optional_string("_id"));
    e.id = id ? *id : next_uuid(ids);
    EXPBRIDGE_ASSIGN_OR_RETURN(maintainer, r->optional_string("_maintainerId"));
    e.maintainer_id = maintainer.value_or("emulator-maintainer");
    std::optional<std::int64_t> created;
    EXPBRIDGE_ASSIGN_OR_RETURN(created, r->optional_integer("_creationDate"));
    e.creation_date = created.value_or(now);
    EXPBRIDGE_ASSIGN_OR_RETURN(e.archived_date, r->optional_integer("archivedDate"));
    EXPBRIDGE_ASSIGN_OR_RETURN(e.holdout_id, r->optional_string("holdoutId"));
    const json::array* iterations = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(iterations, array_member(*r, "iterations", false));
    if (iterations) {
      for (std::size_t i = 0; i < iterations->size(); ++i) {
        Iteration it;
        EXPBRIDGE_ASSIGN_OR_RETURN(it, parse_iteration((*iterations)[i], index_path(r->member_path("iterations"), i), env, true, ids,
                                                       e.creation_date));
        e.iterations.push_back(std::move(it));
      }
    }
    EXPBRIDGE_RETURN_IF_ERROR(r->finish());
    auto count = [&](std::string_view status) {
      return std::count_if(e.iterations.begin(), e.iterations.end(), [&](const Iteration& it) { return it.status == status; });
    };
    if (count("not_started") > 1 || count("running") > 1)
      return std::unexpected(invalid(r->member_path("iterations"), "at most one not_started and one running iteration"));
    return e;
  }

  ServerReply error(const Refusal& refusal) {
    char id[48];
    std::snprintf(id, sizeof id, "e0000000-0000-4000-8000-%012llx", static_cast<unsigned long long>(++error_ids_));
    return json_reply(refusal.status, json::object{{"code", refusal.code}, {"message", refusal.message}, {"id", id}});
  }

  static std::optional<Refusal> read_expand(const ServerRequest& request, Expand& expand) {
    for (const auto& [name, value] : query_of(request)) {
      if (name != "expand") continue;
      std::size_t start = 0;
      while (start <= value.size()) {
        auto end = value.find(',', start);
        if (end == std::string::npos) end = value.size();
        std::string item = value.substr(start, end - start);
        if (item == "treatments") expand.treatments = true;
        else if (item == "draftIteration") expand.draft_iteration = true;
        else if (item == "previousIterations") expand.previous_iterations = true;
        else if (item == "secondaryMetrics") {}  // deprecated; this emulator keeps none
        else if (!item.empty())  // status for an unknown expansion is unverified
          return bad_request("expand: unknown expansion '" + item + "' (previousIterations, draftIteration, secondaryMetrics, treatments)");
        start = end + 1;
      }
    }
    return std::nullopt;
  }

  ServerReply list_experiments(const ServerRequest& request, const std::string& project, const std::string& environment,
                               const Environment& env) {
    Expand expand;
    if (auto refusal = read_expand(request, expand)) return error(*refusal);
    std::size_t limit = 20, offset = 0;
    bool active = true, archived = false;
    std::vector<std::pair<std::string, std::string>> filters;
    auto split = [](const std::string& text) {
      std::vector<std::string> out;
      for (std::size_t start = 0; start <= text.size();) {
        auto end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 1;
      }
      return out;
    };
    auto number = [](const std::string& text) -> std::optional<std::size_t> {
      std::size_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
      return n;
    };
    for (const auto& [name, value] : query_of(request)) {
      if (name == "limit") {
        auto n = number(value);
        if (!n || *n < 1) return error(bad_request("limit must be a positive integer"));  // maximum unverified
        limit = *n;
      } else if (name == "offset") {
        auto n = number(value);
        if (!n) return error(bad_request("offset must be a non-negative integer"));
        offset = *n;
      } else if (name == "lifecycleState") {
        active = archived = false;
        for (const auto& state : split(value)) {
          if (state == "active") active = true;
          else if (state == "archived") archived = true;
          else return error(bad_request("lifecycleState must be active, archived or both, found '" + state + "'"));
        }
      } else if (name == "filter") {
        for (const auto& clause : split(value)) {
          auto colon = clause.find(':');
          std::string field = clause.substr(0, colon);
          if (colon == std::string::npos || (field != "flagKey" && field != "metricKey" && field != "status"))
            return error(bad_request("filter: '" + clause + "' is not flagKey:, metricKey: or status:<value>"));
          std::string wanted = clause.substr(colon + 1);
          if (field == "status" && wanted != "not_started" && wanted != "running" && wanted != "stopped")
            return error(bad_request("filter: status must be not_started, running or stopped"));
          filters.emplace_back(field, wanted);
        }
      }
    }
    std::vector<std::pair<const std::string*, const Experiment*>> matching;
    for (const auto& [key, e] : env.experiments) {
      if (e.archived_date ? !archived : !active) continue;
      auto current = e.current();
      const Iteration* it = current ? &e.iterations[*current] : nullptr;
      bool ok = std::all_of(filters.begin(), filters.end(), [&](const auto& f) {
        if (!it) return false;
        if (f.first == "status") return it->status == f.second;
        if (f.first == "flagKey") return it->flags.contains(f.second);
        return std::any_of(it->metrics.begin(), it->metrics.end(), [&](const Metric& m) { return m.key == f.second; });
      });
      if (ok) matching.emplace_back(&key, &e);
    }
    json::array items;
    for (std::size_t i = offset; i < matching.size() && i < offset + limit; ++i)
      items.push_back(experiment_json(*matching[i].second, project, environment, *matching[i].first, expand));
    std::string base = "/api/v2/projects/" + project + "/environments/" + environment + "/experiments";
    auto link = [&](std::size_t at) {
      return json::object{{"href", base + "?limit=" + std::to_string(limit) + "&offset=" + std::to_string(at)}, {"type", "application/json"}};
    };
    json::object links{{"self", link(offset)}, {"first", link(0)}};
    if (offset > 0) links["prev"] = link(offset > limit ? offset - limit : 0);
    if (offset + limit < matching.size()) links["next"] = link(offset + limit);
    links["last"] = link(matching.empty() ? 0 : (matching.size() - 1) / limit * limit);
    return json_reply(200, json::object{{"items", std::move(items)},
                                        {"total_count", matching.size()},
                                        {"_links", std::move(links)}});
  }

  /// Parses a JSON object body, or says why not.
  static std::optional<Refusal> read_body(const ServerRequest& request, json::value& out) {
    boost::system::error_code ec;
    out = json::parse(request.body, ec);
    if (ec || !out.is_object()) return bad_request("the request body must be a JSON object");
    return std::nullopt;
  }

  ServerReply create_experiment(const ServerRequest& request, const std::string& project, const std::string& environment,
                                Environment& env) {
    json::value body;
    if (auto refusal = read_body(request, body)) return error(*refusal);
    ObjectReader r = ObjectReader::open(body.get_object(), "");
    Experiment e;
    std::string key;
    auto parsed = [&]() -> Status {
      EXPBRIDGE_ASSIGN_OR_RETURN(e.name, r.required_string("name"));
      EXPBRIDGE_ASSIGN_OR_RETURN(key, r.required_string("key"));
      if (!valid_key(key)) return std::unexpected(r.error("key", "must be letters, digits, '.', '_' or '-'"));
      EXPBRIDGE_ASSIGN_OR_RETURN(e.description, r.optional_string("description"));
      std::optional<std::string> maintainer;
      EXPBRIDGE_ASSIGN_OR_RETURN(maintainer, r.optional_string("maintainerId"));
      e.maintainer_id = maintainer.value_or("emulator-maintainer");  // the caller, presumably (unverified)
      EXPBRIDGE_ASSIGN_OR_RETURN(e.holdout_id, r.optional_string("holdoutId"));
      const json::value* iteration = r.optional_value("iteration");
      if (!iteration) return std::unexpected(r.error("iteration", "is required"));
      Iteration it;
      EXPBRIDGE_ASSIGN_OR_RETURN(it, parse_iteration(*iteration, "iteration", env, false, ids_, now_ms()));
      e.iterations.push_back(std::move(it));
      return r.finish();
    }();
    if (!parsed) return error(bad_request(parsed.error()));
    // Status for a key already in use is unverified; 409 is the API's conflict status.
    if (env.experiments.contains(key)) return error(Refusal{409, "conflict", "An experiment with key '" + key + "' already exists"});
    e.id = next_uuid(ids_);
    e.creation_date = now_ms();
    auto [at, inserted] = env.experiments.emplace(key, std::move(e));
    return json_reply(201, experiment_json(at->second, project, environment, key, Expand{}));
  }

  ServerReply create_iteration(const ServerRequest& request, Environment& env, Experiment& experiment) {
    json::value body;
    if (auto refusal = read_body(request, body)) return error(*refusal);
    // "no new iterations while archived" (API reference: Patch experiment, archiveExperiment); status unverified.
    if (experiment.archived_date) return error(bad_request("cannot create an iteration for an archived experiment"));
    Iteration it;
    auto parsed = parse_iteration(body, "", env, false, ids_, now_ms());
    if (!parsed) return error(bad_request(parsed.error()));
    // One draft at a time: a new draft replaces an unstarted one (unverified; the UI edits the draft).
    if (auto draft = experiment.draft()) experiment.iterations.erase(experiment.iterations.begin() + static_cast<std::ptrdiff_t>(*draft));
    experiment.iterations.push_back(std::move(*parsed));
    return json_reply(200, iteration_json(experiment.iterations.back(), true));
  }

  ServerReply patch_experiment(const ServerRequest& request, const std::string& project, const std::string& environment,
                               const std::string& key, const Environment& env, Experiment& experiment) {
    // Without the domain-model parameter the body is read as a JSON patch, which this endpoint refuses.
    if (content_type_of(request).find(kSemanticPatch) == std::string::npos)
      return error(bad_request("Content-Type must be 'application/json; domain-model=launchdarkly.semanticpatch': "
                               "experiments are updated with semantic patch only"));
    json::value body;
    if (auto refusal = read_body(request, body)) return error(*refusal);
    ObjectReader r = ObjectReader::open(body.get_object(), "");
    std::optional<std::string> comment;
    const json::array* instructions = nullptr;
    auto envelope = [&]() -> Status {
      EXPBRIDGE_ASSIGN_OR_RETURN(instructions, array_member(r, "instructions", true));
      EXPBRIDGE_ASSIGN_OR_RETURN(comment, r.optional_string("comment"));
      EXPBRIDGE_RETURN_IF_ERROR(r.finish());
      if (instructions->empty()) return std::unexpected(r.error("instructions", "must hold at least one instruction"));
      return {};
    }();
    if (!envelope) return error(bad_request(envelope.error()));

    // All-or-nothing: apply to a copy, keep it only when every instruction succeeded. The
    // history (instructions and comments so far) plays no part in applying and stays out of
    // the copy, so a patch costs the same however many came before it.
    Experiment work = copy_without_history(experiment);
    std::int64_t now = now_ms();
    for (std::size_t i = 0; i < instructions->size(); ++i) {
      if (auto refusal = apply_instruction(work, env, (*instructions)[i], index_path("instructions", i), now))
        return error(*refusal);
    }
    work.instructions = std::move(experiment.instructions);
    work.comments = std::move(experiment.comments);
    for (const auto& instruction : *instructions) work.instructions.push_back(instruction);
    if (comment) work.comments.push_back(*comment);
    experiment = std::move(work);
    return json_reply(200, experiment_json(experiment, project, environment, key, Expand{}));
  }

  static Experiment copy_without_history(Experiment& e) {
    json::array instructions = std::move(e.instructions);
    std::vector<std::string> comments = std::move(e.comments);
    Experiment copy = e;
    e.instructions = std::move(instructions);
    e.comments = std::move(comments);
    return copy;
  }

  /// One semantic-patch instruction (API reference: Patch experiment): nothing when applied, else why not.
  static std::optional<Refusal> apply_instruction(Experiment& e, const Environment& env, const json::value& value,
                                                  const std::string& path, std::int64_t now) {
    auto fail = [&](std::string message) { return std::optional<Refusal>(bad_request(path + ": " + std::move(message))); };
    auto refused = [](const Error& error) { return std::optional<Refusal>(bad_request(error)); };
    auto opened = ObjectReader::open(value, path);
    if (!opened) return refused(opened.error());
    ObjectReader& r = *opened;
    auto kind = r.required_string("kind");
    if (!kind) return refused(kind.error());

    if (*kind == "updateName") {
      auto name = r.required_string("value");
      if (!name) return refused(name.error());
      if (auto done = r.finish(); !done) return refused(done.error());
      e.name = *name;
      return std::nullopt;
    }
    if (*kind == "updateDescription") {
      auto description = r.optional_string("value");
      if (!description) return refused(description.error());
      if (!*description) return fail("value is required");
      if (auto done = r.finish(); !done) return refused(done.error());
      e.description = **description;
      return std::nullopt;
    }
    if (*kind == "startIteration") {
      auto justification = r.optional_string("changeJustification");
      if (!justification) return refused(justification.error());
      if (auto done = r.finish(); !done) return refused(done.error());
      if (e.archived_date) return fail("an archived experiment cannot start an iteration; restore it first");
      auto draft = e.draft();
      if (!draft) return fail("there is no draft iteration to start; create one with POST .../iterations first");
      auto running = e.running();
      if (running && (!*justification || (*justification)->empty()))
        return fail("changeJustification is required to start an iteration while another one is running");
      Iteration& next = e.iterations[*draft];
      for (const auto& [flag_key, binding] : next.flags) {
        auto flag = env.flags.find(flag_key);
        if (flag == env.flags.end()) return fail("flag '" + flag_key + "' does not exist in this environment");
        if (flag->second.archived) return fail("flag '" + flag_key + "' is archived");
        if (!flag->second.on) return fail("flag '" + flag_key + "' is off; turn it on before starting the iteration");
      }
      if (next.randomization_unit.empty()) return fail("the iteration's randomizationUnit is not set");
      if (std::none_of(next.treatments.begin(), next.treatments.end(),
                       [](const Treatment& t) { return parse_percent(t.allocation_percent).value_or(0) > 0; }))
        return fail("at least one treatment needs a non-zero allocationPercent");
      // Starting on a running experiment replaces the running iteration (API reference: Patch experiment).
      if (running) {
        e.iterations[*running].status = "stopped";
        e.iterations[*running].ended_at = now;
      }
      next.status = "running";
      next.started_at = now;
      if (*justification) next.change_justification = **justification;
      // Keep iterations in start order so the current one is the last started.
      Iteration moved = std::move(next);
      e.iterations.erase(e.iterations.begin() + static_cast<std::ptrdiff_t>(*draft));
      e.iterations.push_back(std::move(moved));
      return std::nullopt;
    }
    if (*kind == "stopIteration") {
      // Both parameters are listed without "optional" in the API reference; required here (unverified).
      auto winner = r.required_string("winningTreatmentId");
      if (!winner) return refused(winner.error());
      auto reason = r.required_string("winningReason");
      if (!reason) return refused(reason.error());
      if (auto done = r.finish(); !done) return refused(done.error());
      auto running = e.running();
      if (!running) return fail("there is no running iteration to stop");
      Iteration& it = e.iterations[*running];
      if (!it.treatment(*winner))
        return fail("winningTreatmentId '" + *winner + "' is not a treatment _id of the current iteration (see expand=treatments)");
      it.status = "stopped";
      it.ended_at = now;
      it.winning_treatment_id = *winner;
      it.winning_reason = *reason;
      return std::nullopt;
    }
    if (*kind == "archiveExperiment" || *kind == "restoreExperiment") {
      if (auto done = r.finish(); !done) return refused(done.error());
      // Asking for the current state succeeds without change (API reference: Patch experiment).
      if (*kind == "archiveExperiment") {
        if (!e.archived_date) e.archived_date = now;
      } else {
        e.archived_date.reset();
      }
      return std::nullopt;
    }
    std::string message = "unknown instruction kind '" + *kind + "'";
    auto hint = closest_name(*kind, {"updateName", "updateDescription", "startIteration", "stopIteration",
                                     "archiveExperiment", "restoreExperiment"});
    if (!hint.empty()) message += " (did you mean '" + hint + "'?)";
    return bad_request(path + ".kind: " + message);
  }

  std::string token_ = kExampleToken;
  std::map<std::string, Project> projects_;
  std::vector<std::string> api_versions_;
  std::uint64_t ids_ = 0;
  std::uint64_t error_ids_ = 0;
  // Rate limits (fixture `rate_limits.launchdarkly`): per route and for the whole account,
  // in fixed windows (10 s at LaunchDarkly); none when unset.
  std::optional<FixedWindows> route_limits_, global_limits_;
  int limit_retry_after_s_ = -1;
  std::int64_t creation_date_ = 0;  ///< flags' creationDate and lastModified: the seed time (ms)
};

// ---------------------------------------------------------------------------------------------
// What the host asks of every emulator (credentials, injected errors, default fixture, sample)

std::vector<Credential> LaunchDarklyEmulator::credentials() const { return {{"LD_API_TOKEN", kExampleToken}}; }

// LaunchDarkly's error body: {code, message, id}, the id being its request id.
ServerReply LaunchDarklyEmulator::injected_error(const InjectedError& error) const {
  const int status = error.status;
  const std::string_view code = error_code_for(
      status, {{401, "unauthorized"}, {403, "forbidden"}, {404, "not_found"}, {409, "conflict"}, {429, "rate_limited"}},
      "invalid_request", "internal_server_error");
  ServerReply reply = json_reply(status, boost::json::object{{"code", code},
                                                             {"message", error.message},
                                                             {"id", error.echoed_request_id.value_or("emulator-fault")}});
  if (error.rate_reset) {
    // The route's window is spent; the reset is in epoch milliseconds.
    const auto reset_ms = std::chrono::duration_cast<std::chrono::milliseconds>(error.rate_reset->time_since_epoch()).count();
    reply.headers.emplace_back("X-Ratelimit-Route-Remaining", "0");
    reply.headers.emplace_back("X-Ratelimit-Reset", std::to_string(reset_ms));
  }
  return reply;
}

// `rate_limits.launchdarkly: {route_per_10s, global_per_10s, window_ms: 10000, retry_after_s}`:
// LaunchDarkly publishes no numbers, only that limits reset every 10 seconds, per route (URL
// pattern and verb) and per account; `window_ms` shortens the window for tests, and
// `retry_after_s` adds the Retry-After it sends on IP-based limits.
Status LaunchDarklyEmulator::limit_rate(const boost::json::value& section, WallClock::time_point) {
  route_limits_.reset();
  global_limits_.reset();
  limit_retry_after_s_ = -1;
  if (section.is_null()) return {};
  const std::string path = "rate_limits.launchdarkly";
  auto reader = ObjectReader::open(section, path);
  if (!reader) return std::unexpected(std::move(reader).error());
  EXPBRIDGE_RETURN_IF_ERROR(reader->known({"route_per_10s", "global_per_10s", "window_ms", "retry_after_s"}));
  std::optional<std::int64_t> route, global, window, retry_after;
  EXPBRIDGE_ASSIGN_OR_RETURN(route, reader->optional_integer("route_per_10s"));
  EXPBRIDGE_ASSIGN_OR_RETURN(global, reader->optional_integer("global_per_10s"));
  EXPBRIDGE_ASSIGN_OR_RETURN(window, reader->optional_integer("window_ms"));
  EXPBRIDGE_ASSIGN_OR_RETURN(retry_after, reader->optional_integer("retry_after_s"));
  if (!route && !global) return std::unexpected(reader->missing("route_per_10s", "or global_per_10s is required"));
  for (const auto& [name, value] : {std::pair{"route_per_10s", route}, std::pair{"global_per_10s", global}})
    if (value && (*value < 1 || *value > 1'000'000)) return std::unexpected(reader->error(name, "must be 1..1000000"));
  if (window && (*window < 1 || *window > 3'600'000)) return std::unexpected(reader->error("window_ms", "must be 1..3600000"));
  if (retry_after && (*retry_after < 0 || *retry_after > 86'400))
    return std::unexpected(reader->error("retry_after_s", "must be 0..86400"));
  EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
  const std::chrono::milliseconds length(window.value_or(10'000));
  if (route) route_limits_.emplace(*route, length);
  if (global) global_limits_.emplace(*global, length);
  limit_retry_after_s_ = static_cast<int>(retry_after.value_or(-1));
  return {};
}

// Every answer carries what is left of the window (X-Ratelimit-*, the reset in epoch ms);
// one over either limit is refused with 429 {code: rate_limited}, counting against neither.
RateVerdict LaunchDarklyEmulator::rate_limit(const ServerRequest& request, WallClock::time_point now) {
  RateVerdict verdict;
  if (!route_limits_ && !global_limits_) return verdict;
  std::string method = request.method;
  if (method == "POST")
    if (auto override_method = request.header("x-http-method-override")) method = *override_method;
  // The route is the URL pattern and verb: keys and ids are not part of it.
  auto segments = path_segments(request);
  std::string route = method;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const bool variable = (segments.size() > 2 && segments[2] == "flags" && i >= 3) ||
                          (segments.size() > 2 && segments[2] == "projects" && (i == 3 || i == 5 || i == 7));
    route += "/" + (variable ? std::string("*") : segments[i]);
  }
  // Both windows are aligned to the epoch with one length: they end together.
  FixedWindows::Use route_left, global_left;
  route_left.allowed = global_left.allowed = true;
  if (route_limits_) route_left = route_limits_->peek(route, now);
  if (global_limits_) global_left = global_limits_->peek("", now);
  const auto reset = route_limits_ ? route_left.reset : global_left.reset;
  if (route_left.allowed && global_left.allowed) {
    if (route_limits_) route_left = route_limits_->take(route, now);
    if (global_limits_) global_left = global_limits_->take("", now);
  } else {
    verdict.refusal = error(Refusal{429, "rate_limited", "Rate limit exceeded; retry after the window resets"});
    if (limit_retry_after_s_ >= 0) verdict.headers.emplace_back("Retry-After", std::to_string(limit_retry_after_s_));
  }
  if (global_limits_) verdict.headers.emplace_back("X-Ratelimit-Global-Remaining", std::to_string(global_left.remaining));
  if (route_limits_) verdict.headers.emplace_back("X-Ratelimit-Route-Remaining", std::to_string(route_left.remaining));
  const auto reset_ms = std::chrono::duration_cast<std::chrono::milliseconds>(reset.time_since_epoch()).count();
  verdict.headers.emplace_back("X-Ratelimit-Reset", std::to_string(reset_ms));
  return verdict;
}

Result<std::string_view> LaunchDarklyEmulator::default_fixture() const { return embedded_fixture("launchdarkly_emulator_fixture.yaml"); }

std::optional<SampleBackend> LaunchDarklyEmulator::sample_backend() const {
  return SampleBackend{"ld", "vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN",
                       "{experiment: checkout-redesign}"};
}

}  // namespace

std::unique_ptr<VendorEmulator> make_launchdarkly_emulator() { return std::make_unique<LaunchDarklyEmulator>(); }

}  // namespace expbridge::emulator
