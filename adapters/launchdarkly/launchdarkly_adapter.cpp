#include "launchdarkly_adapter.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <type_traits>
#include <variant>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapter_support.hpp"
#include "message_text.hpp"
#include "document.hpp"
#include "json_reader.hpp"

namespace expbridge {
namespace {

constexpr std::string_view kVendor = "launchdarkly";

/// `backends.<name>` settings.
struct LaunchDarklyOptions {
  std::string project;
  std::string environment;
  std::string token_env;  ///< the environment variable holding the access token
  std::string token_env_setting;  ///< where it is in the config
  std::string base_url;           ///< the table's, or the endpoint override

  std::vector<AuthSetting> auth_settings() const { return {{"env", token_env, token_env_setting}}; }
};

namespace json = boost::json;

struct LaunchDarklyBinding final : Binding {
  std::string experiment;  ///< the experiment key
  /// Neutral variation key -> LaunchDarkly treatment name, where they differ (binding `treatments`).
  std::vector<std::pair<std::string, std::string>> treatments;
  std::optional<std::string> flag;  ///< the flag, when the iteration runs on more than one
  std::string path;                 ///< `experiments.<key>.<backend>`, for errors

  /// The treatment name of neutral variation `key`.
  const std::string& treatment_of(const std::string& key) const {
    for (const auto& [k, name] : treatments)
      if (k == key) return name;
    return key;
  }
  /// The neutral key of treatment `name`.
  const std::string& key_of(const std::string& name) const {
    for (const auto& [k, n] : treatments)
      if (n == name) return k;
    return name;
  }
};

/// Everything the adapter takes from its mapping table, resolved once.
struct LaunchDarklyTable {
  const OperationSpec* patch_experiment = nullptr;
  const OperationSpec* get_experiment = nullptr;
  const OperationSpec* get_flag = nullptr;
  const OperationSpec* create_iteration = nullptr;
  const OperationSpec* create_experiment = nullptr;
  std::string content_type;
  std::string update_name, update_description, comment_member;
  std::string hypothesis, treatments, allocation, baseline, parameters, winner_id, winner_reason;
  std::map<std::string, std::string, std::less<>> action_instructions;
  std::map<std::string, std::string, std::less<>> without_read;  ///< field (or action value) -> skip reason
  std::string comment_without_change;  ///< why a comment alone is not sent
  std::string comment_without_patch;   ///< why a comment does not travel with a new iteration alone
  std::string default_justification, default_winning_reason;
  std::map<std::string, ExperimentStatus, std::less<>> iteration_status;
  const LimitSpec* experiment_key = nullptr;
  const LimitSpec *metric_key = nullptr, *create_hypothesis = nullptr, *create_variations = nullptr, *create_metric = nullptr;
  std::string default_rule, default_randomization_unit;
  /// Why a create cannot carry a field or status (enums.create_lost), by its key there.
  std::map<std::string, std::string, std::less<>> create_lost;

  static Result<LaunchDarklyTable> resolve(const MappingTable& t) {
    LaunchDarklyTable out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.patch_experiment, t.operation(t.field(field::name).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_experiment, t.operation("GetExperiment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_flag, t.operation("GetFeatureFlag"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.create_iteration, t.operation(t.field(field::variations).operation));
    out.content_type = t.content_type();
    EXPBRIDGE_RETURN_IF_ERROR(resolve_wires(t, {
        {&out.update_name, field::name},
        {&out.update_description, field::description},
        {&out.comment_member, field::comment},
        {&out.hypothesis, field::hypothesis},
        {&out.treatments, field::variations},
        {&out.allocation, field::variations, "weight"},
        {&out.baseline, field::variations, "control"},
        {&out.parameters, field::variations, "value"},
        {&out.winner_id, field::result, "winner"},
        {&out.winner_reason, field::result, "summary"},
    }));
    out.action_instructions = t.field(field::action).values;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.comment_without_change, required_skip_value(t, field::comment, "without_change"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.comment_without_patch, required_skip_value(t, field::comment, "without_patch"));
    for (std::string_view key : {"hypothesis", "variations", "start", "stop", "result"}) {
      std::string reason;
      EXPBRIDGE_ASSIGN_OR_RETURN(reason, t.enum_value("without_read", key));
      out.without_read.emplace(std::string(key), std::move(reason));
    }
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {
        {&out.default_justification, "texts", "change_justification"},
        {&out.default_winning_reason, "texts", "winning_reason"},
    }));
    for (std::string_view wire : {"not_started", "running", "stopped"}) {
      std::string neutral;
      EXPBRIDGE_ASSIGN_OR_RETURN(neutral, t.enum_value("iteration_status", wire));
      bool found = false;
      for (auto status : {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::stopped})
        if (to_string(status) == neutral) {
          out.iteration_status.emplace(std::string(wire), status);
          found = true;
        }
      if (!found) return std::unexpected(table_error(t, "enums.iteration_status." + std::string(wire) + ": '" + neutral +
                                                            "' is not draft, running or stopped"));
    }
    EXPBRIDGE_ASSIGN_OR_RETURN(out.experiment_key, t.limit("experiment_key"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.create_experiment, t.operation("CreateExperiment"));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_limits(t, {{&out.metric_key, "metric_key"},
                                                 {&out.create_hypothesis, "create_hypothesis"},
                                                 {&out.create_variations, "create_variations"},
                                                 {&out.create_metric, "create_metric"}}));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {{&out.default_rule, "create_defaults", "rule"},
                                                {&out.default_randomization_unit, "create_defaults", "randomization_unit"}}));
    for (const char* key : {"variation_description", "result", "stopped", "paused", "archived"}) {
      std::string reason;
      EXPBRIDGE_ASSIGN_OR_RETURN(reason, t.enum_value("create_lost", key));
      out.create_lost.emplace(key, std::move(reason));
    }
    return out;
  }
};

const json::object* object_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* array_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

std::optional<std::string> string_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

/// A percent in a string, as LaunchDarkly's allocationPercent ("50", "33.3").
std::optional<double> parse_percent(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

/// A number as JSON: an integer when it is one, so `2` matches a flag value of 2.
json::value number_json(double n) {
  if (std::floor(n) == n && std::fabs(n) < 9.0e15) return json::value(static_cast<std::int64_t>(n));
  return json::value(n);
}

/// A neutral value as a flag variation's value: `enabled` alone is a boolean flag's value; with
/// attributes, a JSON flag's object {enabled, ATTRIBUTE...}.
json::value flag_value(const VariationValue& value) {
  if (value.attributes.empty()) return json::value(value.enabled);
  json::object o{{"enabled", value.enabled}};
  for (const auto& [key, attribute] : value.attributes) {
    json::value& slot = o[key];
    std::visit(
        [&](const auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, std::string> || std::is_same_v<A, bool>) {
            slot = json::value(a);
          } else if constexpr (std::is_same_v<A, double>) {
            slot = number_json(a);
          } else if constexpr (std::is_same_v<A, std::vector<std::string>>) {
            json::array list;
            for (const auto& item : a) list.emplace_back(item);
            slot = std::move(list);
          } else {
            json::array list;
            for (double item : a) list.push_back(number_json(item));
            slot = std::move(list);
          }
        },
        attribute);
  }
  return o;
}

/// A boolean flag value as the JSON flag object {enabled} that means the same; others unchanged.
json::value as_flag_object(const json::value& v) {
  if (v.is_bool()) return json::object{{"enabled", v.get_bool()}};
  return v;
}

/// A flag variation's value in neutral terms, when it is one `flag_value` makes; none otherwise
/// (a string or number flag has no neutral value, so the read leaves it out).
std::optional<VariationValue> neutral_value(const json::value& v) {
  if (v.is_bool()) return VariationValue{v.get_bool(), {}};
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  const auto* enabled = o.if_contains("enabled");
  if (!enabled || !enabled->is_bool()) return std::nullopt;
  VariationValue out{enabled->get_bool(), {}};
  for (const auto& member : o) {
    if (member.key() == "enabled") continue;
    const auto& a = member.value();
    AttributeValue attribute;
    if (a.is_string()) {
      attribute = std::string(a.get_string());
    } else if (a.is_bool()) {
      attribute = a.get_bool();
    } else if (a.is_number()) {
      attribute = a.to_number<double>();
    } else if (a.is_array() && !a.get_array().empty() && a.get_array()[0].is_string()) {
      std::vector<std::string> list;
      for (const auto& item : a.get_array()) {
        if (!item.is_string()) return std::nullopt;
        list.emplace_back(item.get_string());
      }
      attribute = std::move(list);
    } else if (a.is_array()) {
      std::vector<double> list;
      for (const auto& item : a.get_array()) {
        if (!item.is_number()) return std::nullopt;
        list.push_back(item.to_number<double>());
      }
      attribute = std::move(list);
    } else {
      return std::nullopt;
    }
    out.attributes.emplace_back(std::string(member.key()), std::move(attribute));
  }
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

class LaunchDarklyAdapter final : public ResolvedAdapter<LaunchDarklyTable, LaunchDarklyOptions> {
  // The base's constructor, as public as it is there (an inherited constructor keeps its access).
  using ResolvedAdapter::ResolvedAdapter;

  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto opened = open_binding(settings, path, {"experiment", "treatments", "flag"}, "experiment", *t_.experiment_key,
                               &LaunchDarklyBinding::experiment);
    if (!opened) return std::unexpected(std::move(opened).error());
    auto& binding = *opened->binding;
    binding.path = path;
    const json::object* treatments = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(treatments, opened->reader.optional_object("treatments"));
    if (treatments) {
      for (const auto& member : *treatments) {
        std::string at = join_path(join_path(path, "treatments"), member.key());
        if (!member.value().is_string() || member.value().get_string().empty())
          return std::unexpected(invalid_field(at, "a LaunchDarkly treatment name (a non-empty string)"));
        std::string name(member.value().get_string());
        for (const auto& [key, other] : binding.treatments)
          if (other == name)
            return std::unexpected(invalid_field(at, "treatment '" + name + "' is already the treatment of '" + key +
                                                         "': each variation needs its own treatment"));
        binding.treatments.emplace_back(std::string(member.key()), std::move(name));
      }
    }
    EXPBRIDGE_ASSIGN_OR_RETURN(binding.flag, opened->reader.optional_string("flag"));
    if (binding.flag) EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.experiment_key, *binding.flag, join_path(path, "flag")));
    EXPBRIDGE_RETURN_IF_ERROR(opened->reader.finish());
    return std::unique_ptr<const Binding>(std::move(opened->binding));
  }

  // Reads: Get experiment with expand=draftIteration,treatments (API reference: Get experiment),
  // then Get feature flag of the flag the iteration runs on, for its variations' values and ids
  // and its current flag config version (what Create iteration asks for).
  // The flag is asked with the experiment when it can be guessed: the binding's `flag`, else the
  // hint's (the flag an earlier read found). Answers: experiment, guessed flag, then the
  // iteration's flag when the guess was not it (its answer is then ignored).
  Result<ReadStep> do_read(const Binding& b, const std::vector<ReadResponse>& answers,
                           const ReadHint* hint) const override {
    const auto& binding = static_cast<const LaunchDarklyBinding&>(b);
    const Labels experiment_labels = {{"project", options_.project},
                                      {"environment", options_.environment},
                                      {"experiment", binding.experiment}};
    const std::optional<std::string> guessed = binding.flag ? binding.flag : hinted_label(hint, "flag");
    auto get_flag = [&](const std::string& flag) {
      return make_request(*t_.get_flag, options_.base_url, {{"project", options_.project}, {"flag", flag}}, "", std::nullopt);
    };
    if (answers.empty()) {
      ReadStep step;
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_experiment, options_.base_url, experiment_labels, "", std::nullopt));
      step.requests.push_back(std::move(request));
      if (guessed) {
        EXPBRIDGE_ASSIGN_OR_RETURN(request, get_flag(*guessed));
        step.requests.push_back(std::move(request));
      }
      return step;
    }
    if (answers[0].status == 404)
      return std::unexpected(make_error(ErrorCode::not_found, "LaunchDarkly has no experiment '" + binding.experiment +
                                                                  "' in project '" + options_.project + "', environment '" +
                                                                  options_.environment + "'"));
    json::object experiment;
    EXPBRIDGE_ASSIGN_OR_RETURN(experiment, reply_object(*t_.get_experiment, answers[0], "a JSON object (an experiment)"));

    const json::object* current = object_member(experiment, "currentIteration");
    const json::object* draft = object_member(experiment, "draftIteration");
    // What the experiment holds is what its next start runs: the draft when there is one.
    const json::object* base = draft ? draft : current;

    std::optional<std::string> flag;
    if (base) EXPBRIDGE_ASSIGN_OR_RETURN(flag, bound_flag(binding, *base));
    // Where the flag's answer is: after the experiment, or after a wrong guess's.
    const std::size_t at = guessed && guessed != flag ? 2 : 1;
    if (flag && answers.size() == at) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, get_flag(*flag));
      return ReadStep{{std::move(request)}, std::nullopt};
    }
    json::object flag_rep;
    if (flag) {
      if (answers.size() <= at)
        return std::unexpected(make_error(ErrorCode::internal, "launchdarkly read: the flag was not answered"));
      if (answers[at].status == 404)
        return std::unexpected(make_error(ErrorCode::not_found, "LaunchDarkly has no flag '" + *flag + "' in project '" +
                                                                    options_.project + "' (the flag experiment '" +
                                                                    binding.experiment + "' runs on)"));
      EXPBRIDGE_ASSIGN_OR_RETURN(flag_rep, reply_object(*t_.get_flag, answers[at], "a JSON object (a feature flag)"));
    }
    return state_from(binding, experiment, current, base, flag, flag_rep);
  }

  /// The flag the binding reads: the iteration's only flag, or the binding's `flag`.
  Result<std::optional<std::string>> bound_flag(const LaunchDarklyBinding& binding, const json::object& iteration) const {
    std::vector<std::string> flags;
    if (const auto* f = object_member(iteration, "flags"))
      for (const auto& member : *f) flags.emplace_back(member.key());
    if (binding.flag) {
      if (std::find(flags.begin(), flags.end(), *binding.flag) == flags.end())
        return std::unexpected(invalid_field(join_path(binding.path, "flag"),
                                             "the LaunchDarkly iteration of experiment '" + binding.experiment +
                                                 "' does not run on flag '" + *binding.flag + "' (its flags: " + joined(flags) + ")"));
      return binding.flag;
    }
    if (flags.empty()) return std::optional<std::string>{};
    if (flags.size() > 1)
      return std::unexpected(invalid_field(join_path(binding.path, "flag"),
                                           "the LaunchDarkly iteration of experiment '" + binding.experiment +
                                               "' runs on several flags (" + joined(flags) + "): name one with `flag`"));
    return std::optional<std::string>(flags.front());
  }

  Result<ReadStep> state_from(const LaunchDarklyBinding& binding, const json::object& experiment, const json::object* current,
                              const json::object* base, const std::optional<std::string>& flag,
                              const json::object& flag_rep) const {
    auto bad = [&](const OperationSpec& op, std::string what) {
      Error e = make_error(ErrorCode::internal, op.name + " answered " + std::move(what));
      e.operation = op.name;
      return std::unexpected(std::move(e));
    };
    VendorState state;
    state.not_expressible = fields_not_expressible();
    Experiment& out = state.experiment;
    out.vendor_ids["experiment"] = binding.experiment;
    if (auto id = string_member(experiment, "_id")) out.vendor_ids["experiment_id"] = *id;
    out.name = string_member(experiment, "name");
    // LaunchDarkly holds a description only once one is set.
    out.description = string_member(experiment, "description");
    json::object& detail = state.detail;

    out.status = ExperimentStatus::draft;
    if (current) {
      auto id = string_member(*current, "_id");
      auto status = string_member(*current, "status");
      auto mapped = status ? t_.iteration_status.find(*status) : t_.iteration_status.end();
      if (!id || mapped == t_.iteration_status.end())
        return bad(*t_.get_experiment, "a currentIteration without an _id or a known status (not_started, running, stopped)");
      out.status = mapped->second;
      out.vendor_ids["iteration"] = *id;
      detail["iteration"] = json::object{{"_id", *id}, {"status", *status}};
      json::object ids;
      std::map<std::string, std::string> names_by_id;
      if (const auto* treatments = array_member(*current, "treatments"))
        for (const auto& t : *treatments)
          if (t.is_object())
            if (auto name = string_member(t.get_object(), "name"))
              if (auto tid = string_member(t.get_object(), "_id")) {
                ids[*name] = *tid;
                names_by_id[*tid] = *name;
              }
      detail["treatments"] = std::move(ids);
      if (auto winner = string_member(*current, "winningTreatmentId")) {
        ExperimentResult result;
        if (auto it = names_by_id.find(*winner); it != names_by_id.end()) result.winner = binding.key_of(it->second);
        result.summary = string_member(*current, "winningReason");
        out.result = std::move(result);
      }
    }
    if (const auto* archived = experiment.if_contains("archivedDate"); archived && !archived->is_null())
      out.status = ExperimentStatus::archived;
    if (base && !string_member(*base, "_id")) return bad(*t_.get_experiment, "an iteration without an _id");
    // The draft startIteration starts: draftIteration, or a current iteration never started.
    if (base && (base != current || string_member(*base, "status") == "not_started"))
      detail["draft"] = *string_member(*base, "_id");

    if (!base) return ReadStep{{}, std::move(state)};
    out.hypothesis = string_member(*base, "hypothesis");
    if (!flag) return ReadStep{{}, std::move(state)};

    // The flag: its variations by _id, and this environment's flag config version.
    std::map<std::string, const json::object*> variations;
    json::array variation_list;
    if (const auto* list = array_member(flag_rep, "variations"))
      for (const auto& v : *list)
        if (v.is_object())
          if (auto id = string_member(v.get_object(), "_id")) {
            variations[*id] = &v.get_object();
            json::object entry{{"_id", *id}, {"value", v.get_object().contains("value") ? v.get_object().at("value") : json::value()}};
            if (auto name = string_member(v.get_object(), "name")) entry["name"] = *name;
            variation_list.push_back(std::move(entry));
          }
    const json::object* environments = object_member(flag_rep, "environments");
    const json::object* environment = environments ? object_member(*environments, options_.environment) : nullptr;
    const auto* version = environment ? environment->if_contains("version") : nullptr;
    if (!version || !version->is_int64())
      return bad(*t_.get_flag, "no flag config version for environment '" + options_.environment + "' (environments." +
                                   options_.environment + ".version)");
    detail["flag"] = *flag;
    state.hint["flag"] = *flag;
    detail["variations"] = std::move(variation_list);

    // The IterationInput a new iteration starts from: the base iteration's, on the flag's current version.
    json::object input;
    input[t_.hypothesis] = out.hypothesis.value_or("");
    if (const auto* metrics = array_member(*base, "metrics")) {
      json::array carried;
      for (const auto& m : *metrics)
        if (m.is_object())
          if (auto key = string_member(m.get_object(), "key")) {
            const auto* group = m.get_object().if_contains("isGroup");
            carried.push_back(json::object{{"key", *key}, {"isGroup", group && group->is_bool() && group->get_bool()}});
          }
      input["metrics"] = std::move(carried);
    }
    if (const auto* primary = object_member(*base, "primarySingleMetric"))
      if (auto key = string_member(*primary, "key")) input["primarySingleMetricKey"] = *key;
    if (const auto* primary = object_member(*base, "primaryFunnel"))
      if (auto key = string_member(*primary, "key")) input["primaryFunnelKey"] = *key;
    json::object flags;
    if (const auto* f = object_member(*base, "flags"))
      for (const auto& member : *f) {
        if (!member.value().is_object()) continue;
        const auto& rep = member.value().get_object();
        // The read names the rule targetingRule; IterationInput names it ruleId.
        auto rule = string_member(rep, "targetingRule");
        json::object binding_input{{"ruleId", rule.value_or("fallthrough")}};
        if (member.key() == *flag) {
          binding_input["flagConfigVersion"] = version->get_int64();
        } else if (const auto* v = rep.if_contains("flagConfigVersion")) {
          binding_input["flagConfigVersion"] = *v;
        }
        if (auto other = string_member(rep, "notInExperimentVariationId")) binding_input["notInExperimentVariationId"] = *other;
        flags[member.key()] = std::move(binding_input);
      }
    input["flags"] = std::move(flags);
    if (auto unit = string_member(*base, "randomizationUnit")) input["randomizationUnit"] = *unit;
    if (const auto* reshuffle = base->if_contains("canReshuffleTraffic"); reshuffle && reshuffle->is_bool())
      input["canReshuffleTraffic"] = *reshuffle;
    if (const auto* attributes = array_member(*base, "attributes")) input["attributes"] = *attributes;

    // Treatments <-> neutral variations, through the binding.
    std::vector<Variation> read;
    json::array treatments_input;
    if (const auto* treatments = array_member(*base, "treatments")) {
      for (const auto& t : *treatments) {
        if (!t.is_object()) return bad(*t_.get_experiment, "a treatment that is not an object");
        const auto& rep = t.get_object();
        auto name = string_member(rep, "name");
        auto percent = string_member(rep, t_.allocation);
        std::optional<double> weight = percent ? parse_percent(*percent) : std::nullopt;
        if (!name || !weight)
          return bad(*t_.get_experiment, "a treatment without a name or a numeric " + t_.allocation + " string");
        Variation v;
        v.key = binding.key_of(*name);
        v.weight = *weight;
        const auto* baseline = rep.if_contains(t_.baseline);
        v.control = baseline && baseline->is_bool() && baseline->get_bool();
        if (const auto* parameters = array_member(rep, t_.parameters))
          for (const auto& p : *parameters)
            if (p.is_object() && string_member(p.get_object(), "flagKey") == *flag)
              if (auto vid = string_member(p.get_object(), "variationId"))
                if (auto it = variations.find(*vid); it != variations.end() && it->second->contains("value"))
                  v.value = neutral_value(it->second->at("value"));
        read.push_back(std::move(v));
        json::object entry{{"name", *name}, {t_.baseline, read.back().control}, {t_.allocation, *percent}};
        if (const auto* parameters = array_member(rep, t_.parameters)) {
          json::array carried;
          for (const auto& p : *parameters)
            if (p.is_object())
              carried.push_back(json::object{{"flagKey", p.get_object().contains("flagKey") ? p.get_object().at("flagKey") : json::value()},
                                             {"variationId", p.get_object().contains("variationId") ? p.get_object().at("variationId") : json::value()}});
          entry[t_.parameters] = std::move(carried);
        }
        treatments_input.push_back(std::move(entry));
      }
      out.variations = std::move(read);
    }
    input[t_.treatments] = std::move(treatments_input);
    detail["iterationInput"] = std::move(input);
    return ReadStep{{}, std::move(state)};
  }

  Result<BackendPlan> do_plan(const Update& u, const Binding& b, const PlanContext& context) const override {
    const auto& binding = static_cast<const LaunchDarklyBinding&>(b);
    const json::object* detail = context.read ? &context.read->detail : nullptr;
    const Labels labels = {{"project", options_.project},
                           {"environment", options_.environment},
                           {"experiment", binding.experiment}};
    BackendPlan out;

    // Variations or hypothesis: a new draft iteration first (Create iteration), then the patch.
    bool new_iteration = false;
    if (u.variations || u.hypothesis || (u.action == Action::start && detail && !detail->contains("draft"))) {
      if (detail) {
        json::object input;
        EXPBRIDGE_ASSIGN_OR_RETURN(input, iteration_input(u, binding, *detail));
        RequestDraft create(*t_.create_iteration);
        create.body() = std::move(input);
        EXPBRIDGE_RETURN_IF_ERROR(create.add_to(out, options_.base_url, labels, "application/json"));
        if (u.hypothesis) carry(out, field::hypothesis);
        if (u.variations) carry(out, field::variations);
        new_iteration = true;
      }
    }

    boost::json::array instructions;
    if (u.name) {
      instructions.push_back(boost::json::object{{"kind", t_.update_name}, {"value", *u.name}});
      carry(out, field::name);
    }
    if (u.description) {
      instructions.push_back(boost::json::object{{"kind", t_.update_description}, {"value", *u.description}});
      carry(out, field::description);
    }

    // Skips in schema order: without a read, the iteration fields are among them.
    if (!detail && u.hypothesis) out.skipped.push_back(Skip{field::hypothesis, t_.without_read.at("hypothesis")});
    skip_present(u, out, {field::launch_criteria, field::audience_rule, field::audience_description});
    if (!detail && u.variations) out.skipped.push_back(Skip{field::variations, t_.without_read.at("variations")});
    skip_present(u, out, {field::exposure, field::overrides});

    std::vector<PassThrough> members;
    EXPBRIDGE_ASSIGN_OR_RETURN(members, passthrough(u, out));
    for (const auto& member : members) {
      // Extra semantic-patch instructions go after the field updates and before the action.
      const std::string path = passthrough_path(member);
      if (!member.value->is_array()) return refuse_for(member.operation, path, "must be a list of instructions");
      for (const auto& instruction : member.value->get_array()) {
        if (!instruction.is_object() || !instruction.get_object().contains("kind"))
          return refuse_for(member.operation, path, "each instruction is a mapping with a 'kind'");
        instructions.push_back(instruction);
      }
    }

    bool result_sent = false;
    if (u.action) {
      std::string_view action = to_string(*u.action);
      auto it = t_.action_instructions.find(action);
      bool needs_read = *u.action == Action::start || *u.action == Action::stop;
      if (it == t_.action_instructions.end()) {
        skip_value(out, field::action, action, "LaunchDarkly has no operation for action '" + std::string(action) + "'");
      } else if (needs_read && !detail) {
        out.skipped.push_back(Skip{std::string(field::action) + "." + std::string(action), t_.without_read.at(std::string(action))});
      } else if (*u.action == Action::start) {
        json::object start{{"kind", it->second}};
        // LaunchDarkly asks why when a start replaces a running iteration; a changed iteration says it too.
        const auto* iteration = detail->if_contains("iteration");
        bool running = iteration && iteration->is_object() && iteration->get_object().contains("status") &&
                       iteration->get_object().at("status") == "running";
        if (running || u.variations || u.hypothesis) start["changeJustification"] = u.comment.value_or(t_.default_justification);
        instructions.push_back(std::move(start));
        carry(out, field::action);
      } else if (*u.action == Action::stop) {
        json::object stop;
        EXPBRIDGE_ASSIGN_OR_RETURN(stop, stop_instruction(u, binding, *detail, it->second));
        instructions.push_back(std::move(stop));
        carry(out, field::action);
        if (u.result) carry(out, field::result);
        result_sent = u.result.has_value();
      } else {
        instructions.push_back(boost::json::object{{"kind", it->second}});
        carry(out, field::action);
      }
    }
    if (u.result && !result_sent) out.skipped.push_back(Skip{field::result, t_.without_read.at("result")});

    if (instructions.empty()) {
      if (u.comment) out.skipped.push_back(Skip{field::comment, new_iteration ? t_.comment_without_patch : t_.comment_without_change});
      return out;
    }
    RequestDraft patch(*t_.patch_experiment);
    patch.body()["instructions"] = std::move(instructions);
    if (u.comment) {
      patch.body()[t_.comment_member] = *u.comment;
      carry(out, field::comment);
    }
    EXPBRIDGE_RETURN_IF_ERROR(patch.add_to(out, options_.base_url, labels, t_.content_type));
    return out;
  }

  /// stopIteration with the winner's treatment _id in the current iteration and the summary.
  Result<json::object> stop_instruction(const Update& u, const LaunchDarklyBinding& binding, const json::object& detail,
                                        const std::string& kind) const {
    if (!u.result || !u.result->winner)
      return refuse_for(t_.patch_experiment->name, "result.winner",
                        "LaunchDarkly's stopIteration names the winning treatment: give result.winner with action: stop");
    const std::string& winner = *u.result->winner;
    const std::string& name = binding.treatment_of(winner);
    const json::object* ids = object_member(detail, "treatments");
    std::vector<std::string> names;
    if (ids)
      for (const auto& member : *ids) names.emplace_back(member.key());
    const auto* id = ids ? ids->if_contains(name) : nullptr;
    if (!id || !id->is_string()) {
      if (&name != &winner)
        return refuse_for(t_.patch_experiment->name, join_path(join_path(binding.path, "treatments"), winner),
                                             "treatment '" + name + "' is not a treatment of the current LaunchDarkly iteration "
                                             "(its treatments: " + joined(names) + ")");
      return refuse_for(t_.patch_experiment->name, "result.winner",
                        "'" + winner + "' has no treatment in the current LaunchDarkly iteration (its treatments: " +
                            joined(names) + "); map it to one in the binding's `treatments`");
    }
    return json::object{{"kind", kind},
                        {t_.winner_id, *id},
                        {t_.winner_reason, u.result->summary.value_or(t_.default_winning_reason)}};
  }

  /// The IterationInput of a new draft: the read's (`detail.iterationInput`), with the update's
  /// hypothesis and treatments. A neutral variation finds its flag variation by value, else by
  /// its treatment's name (among the flag's variation names, then the read's treatments).
  Result<json::object> iteration_input(const Update& u, const LaunchDarklyBinding& binding, const json::object& detail) const {
    const json::object* base = object_member(detail, "iterationInput");
    auto flag = string_member(detail, "flag");
    if (!base || !flag)
      return refuse_for(t_.create_iteration->name, u.variations ? field::variations : field::hypothesis,
                        "LaunchDarkly experiment '" + binding.experiment +
                            "' has no iteration on a flag to build a new one from (flags, metrics): create one at LaunchDarkly first");
    json::object input = *base;
    if (u.hypothesis) input[t_.hypothesis] = *u.hypothesis;
    if (!u.variations) return input;
    const json::array empty;
    const json::array* variations = array_member(detail, "variations");
    if (!variations) variations = &empty;
    const json::array* carried = array_member(*base, t_.treatments);
    if (!carried) carried = &empty;
    json::array treatments;
    EXPBRIDGE_ASSIGN_OR_RETURN(treatments, treatments_input(*u.variations, binding, *flag, *variations, *carried,
                                                            *t_.create_iteration));
    input[t_.treatments] = std::move(treatments);
    return input;
  }

  /// IterationInput treatments for `variations` on `flag`: a neutral variation finds its flag
  /// variation by value, else by its treatment's name (among the flag's variation names, then
  /// `carried`, the treatments of an iteration read). Refusals name `operation`.
  Result<json::array> treatments_input(const std::vector<Variation>& variations, const LaunchDarklyBinding& binding,
                                       const std::string& flag, const json::array& flag_variations,
                                       const json::array& carried, const OperationSpec& operation) const {
    json::array treatments;
    for (std::size_t i = 0; i < variations.size(); ++i) {
      const Variation& v = variations[i];
      const std::string& name = binding.treatment_of(v.key);
      std::optional<std::string> variation_id;
      std::string at = "variations[" + std::to_string(i) + "]";
      if (v.value) {
        // Compared in neutral terms: {enabled: false} is a boolean flag's `false` and a JSON
        // flag's {"enabled": false} alike, and attribute order does not matter.
        const json::value wanted = as_flag_object(flag_value(*v.value));
        for (const auto& fv : flag_variations)
          if (fv.is_object() && fv.get_object().contains("value") &&
              as_flag_object(fv.get_object().at("value")) == wanted)
            variation_id = string_member(fv.get_object(), "_id");
        if (!variation_id)
          return refuse_for(operation.name, at + ".value",
                            "flag '" + flag + "' has no variation with this value at LaunchDarkly "
                            "(a treatment serves one of the flag's variations)");
      } else {
        for (const auto& fv : flag_variations)
          if (fv.is_object() && string_member(fv.get_object(), "name") == name) variation_id = string_member(fv.get_object(), "_id");
        for (const auto& t : carried)
          if (!variation_id && t.is_object() && string_member(t.get_object(), "name") == name)
            if (const auto* parameters = array_member(t.get_object(), t_.parameters))
              for (const auto& p : *parameters)
                if (p.is_object() && string_member(p.get_object(), "flagKey") == flag)
                  variation_id = string_member(p.get_object(), "variationId");
        if (!variation_id)
          return refuse_for(operation.name, at,
                            "treatment '" + name + "' has no variation of flag '" + flag +
                                "' at LaunchDarkly: give the variation's value, or name a treatment the flag has");
      }
      treatments.push_back(json::object{{"name", name},
                                        {t_.baseline, v.control},
                                        {t_.allocation, format_number(v.weight)},
                                        {t_.parameters, json::array{json::object{{"flagKey", flag}, {"variationId", *variation_id}}}}});
    }
    return treatments;
  }

  /// What a create takes from the partial binding (or the defaults), checked.
  struct CreateTarget {
    LaunchDarklyBinding binding;  ///< the experiment key and treatment names it will have
    std::string flag, metric, rule, randomization_unit;
  };

  // Creating: Get feature flag (it must exist: nothing is created otherwise), Create experiment
  // with its first iteration, then startIteration when the experiment runs.
  // Answers: [flag, experiment created, iteration started?].
  // Finding first (`find_existing`): Get experiment by the key the create gives it; 404 = the
  // create's steps follow, their answers after it; found = [experiment, iteration started?].
  bool do_finds_existing() const override { return true; }

  Result<CreateStep> do_create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const override {
    if (!spec.find_existing) return create_steps(spec, answers);
    CreateTarget target;
    EXPBRIDGE_ASSIGN_OR_RETURN(target, create_target(spec));
    const Labels experiment_labels{{"project", options_.project},
                                   {"environment", options_.environment},
                                   {"experiment", target.binding.experiment}};
    if (answers.empty()) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_experiment, options_.base_url, experiment_labels, "",
                                                       std::nullopt));
      return lookup_step(std::move(request),
                         "when " + t_.get_experiment->name + " finds no experiment " + target.binding.experiment + ": " +
                             t_.get_flag->name + " " + target.flag + ", " + t_.create_experiment->name,
                         create_carriage(spec));
    }
    if (answers[0].status == 404) {
      auto step = create_steps(spec, answers_after(answers, 1));
      if (step) step->carriage.clear();
      return step;
    }
    const std::string what = "LaunchDarkly experiment '" + target.binding.experiment + "' in project '" +
                             options_.project + "', environment '" + options_.environment + "'";
    json::object found;
    EXPBRIDGE_ASSIGN_OR_RETURN(found, looked_up_object(*t_.get_experiment, answers[0], what));
    std::string status;
    EXPBRIDGE_ASSIGN_OR_RETURN(status, found_iteration_status(found, target, *spec.desired, what));
    json::object binding = created_binding(target);
    const bool running = spec.desired->status == ExperimentStatus::running;
    if (!running || status == "running") return CreateStep{{}, std::move(binding), {}, {}};
    if (answers.size() == 1) return start_step(experiment_labels);
    EXPBRIDGE_RETURN_IF_ERROR(started_after_create(*t_.patch_experiment, answers[1],
                                                   "a running iteration of experiment '" + target.binding.experiment + "'",
                                                   binding));
    return CreateStep{{}, std::move(binding), {}, {}};
  }

 private:
  /// The status of the current iteration of `found` (not_started or running) when it is what the
  /// create would have made: on the create's flag, with the treatments it sends, the same baseline.
  Result<std::string> found_iteration_status(const json::object& found, const CreateTarget& target,
                                             const Experiment& desired, const std::string& what) const {
    const json::object* iteration = object_member(found, "currentIteration");
    if (!iteration) return std::unexpected(found_but_different(*t_.get_experiment, what, "it has no iteration"));
    std::vector<std::string> flags;
    if (const auto* f = object_member(*iteration, "flags"))
      for (const auto& member : *f) flags.emplace_back(member.key());
    if (flags != std::vector<std::string>{target.flag})
      return std::unexpected(found_but_different(
          *t_.get_experiment, what, "its iteration runs on flag(s) " + quoted_list(flags) + ", the create on '" + target.flag + "'"));
    std::vector<std::string> wanted, held;
    std::string wanted_baseline, held_baseline;
    for (const auto& v : *desired.variations) {
      wanted.push_back(target.binding.treatment_of(v.key));
      if (v.control) wanted_baseline = wanted.back();
    }
    if (const auto* treatments = array_member(*iteration, "treatments"))
      for (const auto& t : *treatments) {
        if (!t.is_object()) continue;
        auto name = string_member(t.get_object(), "name");
        if (!name) continue;
        held.push_back(*name);
        const auto* baseline = t.get_object().if_contains(t_.baseline);
        if (baseline && baseline->is_bool() && baseline->get_bool()) held_baseline = *name;
      }
    std::sort(wanted.begin(), wanted.end());
    std::sort(held.begin(), held.end());
    if (held != wanted || held_baseline != wanted_baseline)
      return std::unexpected(found_but_different(*t_.get_experiment, what,
                                                 "its treatments are " + quoted_list(held) + " with baseline '" +
                                                     held_baseline + "', the create's " + quoted_list(wanted) +
                                                     " with baseline '" + wanted_baseline + "'"));
    auto status = string_member(*iteration, "status");
    if (status == "not_started" || status == "running") return *status;
    return std::unexpected(found_but_different(*t_.get_experiment, what,
                                               "its iteration is " + status.value_or("of no known status") +
                                                   ", where the create leaves one not started or running"));
  }

  /// The binding a create gives: the experiment key, its flag, the treatment names given.
  static json::object created_binding(const CreateTarget& target) {
    json::object binding{{"experiment", target.binding.experiment}, {"flag", target.flag}};
    if (!target.binding.treatments.empty()) {
      json::object names;
      for (const auto& [key, name] : target.binding.treatments) names[key] = name;
      binding["treatments"] = std::move(names);
    }
    return binding;
  }

  /// startIteration of the experiment's iteration.
  Result<CreateStep> start_step(const Labels& experiment_labels) const {
    RequestDraft start(*t_.patch_experiment);
    start.body()["instructions"] = json::array{json::object{{"kind", t_.action_instructions.at("start")}}};
    BackendPlan planned;
    EXPBRIDGE_RETURN_IF_ERROR(start.add_to(planned, options_.base_url, experiment_labels, t_.content_type));
    return CreateStep{std::move(planned.requests), std::nullopt, {}, {}};
  }

  Result<CreateStep> create_steps(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const {
    const Experiment& desired = *spec.desired;
    const bool running = desired.status == ExperimentStatus::running;
    CreateTarget target;
    EXPBRIDGE_ASSIGN_OR_RETURN(target, create_target(spec));
    const Labels environment_labels{{"project", options_.project}, {"environment", options_.environment}};
    if (answers.empty()) {
      CreateStep step;
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_flag, options_.base_url,
                                                       {{"project", options_.project}, {"flag", target.flag}}, "",
                                                       std::nullopt));
      step.requests.push_back(std::move(request));
      step.then.push_back(t_.create_experiment->name + " " + target.binding.experiment + " with its first iteration (" +
                          std::to_string(desired.variations->size()) + " treatments on flag " + target.flag + ")");
      if (running) step.then.push_back(t_.patch_experiment->name + " startIteration");
      step.carriage = create_carriage(spec);
      return step;
    }
    const std::string flag_what = "flag '" + target.flag + "' in project '" + options_.project + "'";
    if (answers[0].status == 404)
      return std::unexpected(make_error(ErrorCode::not_found,
                                        "LaunchDarkly has no " + flag_what + " (the flag experiment '" +
                                            target.binding.experiment + "' would run on); expbridge does not create flags: "
                                            "create it at LaunchDarkly, or name another in the binding's `flag`"));
    json::object flag_rep;
    EXPBRIDGE_ASSIGN_OR_RETURN(flag_rep, created_object(*t_.get_flag, answers[0], flag_what));
    RequestDraft create(*t_.create_experiment);
    EXPBRIDGE_ASSIGN_OR_RETURN(create.body(), experiment_post(spec, target, flag_rep));
    const Labels experiment_labels{{"project", options_.project},
                                   {"environment", options_.environment},
                                   {"experiment", target.binding.experiment}};
    json::object binding = created_binding(target);
    if (answers.size() == 1) {
      BackendPlan planned;
      EXPBRIDGE_RETURN_IF_ERROR(create.add_to(planned, options_.base_url, environment_labels, "application/json"));
      return CreateStep{std::move(planned.requests), std::nullopt, {}, {}};
    }
    EXPBRIDGE_RETURN_IF_ERROR(created_object(*t_.create_experiment, answers[1],
                                             "experiment '" + target.binding.experiment + "'"));
    if (!running) return CreateStep{{}, std::move(binding), {}, {}};
    if (answers.size() == 2) return start_step(experiment_labels);
    EXPBRIDGE_RETURN_IF_ERROR(started_after_create(*t_.patch_experiment, answers[2],
                                                   "a running iteration of experiment '" + target.binding.experiment + "'",
                                                   binding));
    return CreateStep{{}, std::move(binding), {}, {}};
  }


  /// The members of a partial binding a create reads, each checked as the vendor limits them.
  struct CreateMembers {
    std::optional<std::string> experiment, flag, metric, rule, randomization_unit;
    const json::object* treatments = nullptr;
  };

  Result<CreateMembers> read_create_members(const json::object& partial, const std::string& path) const {
    ObjectReader reader = ObjectReader::open(partial, path);
    CreateMembers out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.experiment, reader.optional_string("experiment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.flag, reader.optional_string("flag"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.metric, reader.optional_string("metric"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.rule, reader.optional_string("rule"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.randomization_unit, reader.optional_string("randomization_unit"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.treatments, reader.optional_object("treatments"));
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    if (out.flag) EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.experiment_key, *out.flag, reader.member_path("flag")));
    if (out.metric) EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.metric_key, *out.metric, reader.member_path("metric")));
    if (out.rule && out.rule->empty()) return std::unexpected(reader.error("rule", "must not be empty"));
    if (out.randomization_unit && out.randomization_unit->empty())
      return std::unexpected(reader.error("randomization_unit", "must not be empty"));
    if (out.experiment || out.treatments) {
      // The key and treatment names are checked as a binding would be (the key defaults to the
      // neutral one, checked at the create).
      json::object as_binding{{"experiment", out.experiment.value_or("x")}};
      if (out.treatments) as_binding["treatments"] = *out.treatments;
      std::unique_ptr<const Binding> bound;
      EXPBRIDGE_ASSIGN_OR_RETURN(bound, do_bind(as_binding, path));
    }
    return out;
  }

  Status do_check_create_binding(const json::object& partial, const std::string& path) const override {
    auto read = read_create_members(partial, path);
    if (!read) return std::unexpected(std::move(read).error());
    return {};
  }

  Result<CreateTarget> create_target(const CreateSpec& spec) const {
    const Experiment& e = *spec.desired;
    const std::string path = create_binding_path(spec.experiment);
    static const json::object none;
    const json::object& partial = spec.binding ? *spec.binding : none;
    CreateMembers given;
    EXPBRIDGE_ASSIGN_OR_RETURN(given, read_create_members(partial, path));
    ObjectReader reader = ObjectReader::open(partial, path);
    CreateTarget out;
    json::object as_binding{{"experiment", given.experiment.value_or(spec.experiment)}};
    if (given.treatments) as_binding["treatments"] = *given.treatments;
    std::unique_ptr<const Binding> bound;
    EXPBRIDGE_ASSIGN_OR_RETURN(bound, do_bind(as_binding, path));
    out.binding = static_cast<const LaunchDarklyBinding&>(*bound);
    if (!given.flag)
      return std::unexpected(reader.missing("flag", "is required to create the experiment at LaunchDarkly: the key of "
                                                    "the feature flag it runs on"));
    if (!given.metric) return std::unexpected(reader.missing("metric", t_.create_metric->rule));
    out.flag = *given.flag;
    out.metric = *given.metric;
    out.rule = given.rule.value_or(t_.default_rule);
    out.randomization_unit = given.randomization_unit.value_or(t_.default_randomization_unit);
    if (!e.hypothesis) return refuse_for(t_.create_experiment->name, field::hypothesis, t_.create_hypothesis->rule);
    std::size_t baselines = 0;
    for (const auto& v : e.variations.value_or(std::vector<Variation>{})) baselines += v.control;
    if (!e.variations || e.variations->empty() || baselines != 1)
      return refuse_for(t_.create_experiment->name, field::variations, t_.create_variations->rule);
    return out;
  }

  /// ExperimentPost: name, key, description and the first iteration on the flag as it is now.
  Result<json::object> experiment_post(const CreateSpec& spec, const CreateTarget& target, const json::object& flag_rep) const {
    const Experiment& e = *spec.desired;
    const OperationSpec& op = *t_.create_experiment;
    const json::array none;
    const json::array* variations = array_member(flag_rep, "variations");
    const json::object* environments = object_member(flag_rep, "environments");
    const json::object* environment = environments ? object_member(*environments, options_.environment) : nullptr;
    const auto* version = environment ? environment->if_contains("version") : nullptr;
    if (!version || !version->is_int64()) {
      Error error = make_error(ErrorCode::not_found, "LaunchDarkly flag '" + target.flag + "' has no configuration in environment '" +
                                                         options_.environment + "' of project '" + options_.project + "'");
      error.operation = t_.get_flag->name;
      return std::unexpected(std::move(error));
    }
    if (spec.desired->status == ExperimentStatus::running) {
      const auto* on = environment->if_contains("on");
      if (!on || !on->is_bool() || !on->get_bool())
        return refuse_for(t_.patch_experiment->name, "status",
                          "LaunchDarkly starts an iteration only on a flag that is on, and flag '" + target.flag +
                              "' is off in environment '" + options_.environment +
                              "': turn it on at LaunchDarkly first (nothing was created)");
    }
    json::array treatments;
    EXPBRIDGE_ASSIGN_OR_RETURN(treatments, treatments_input(*e.variations, target.binding, target.flag,
                                                            variations ? *variations : none, none, op));
    json::object flag_input{{"ruleId", target.rule}, {"flagConfigVersion", version->get_int64()}};
    json::object iteration{{t_.hypothesis, *e.hypothesis},
                           {"metrics", json::array{json::object{{"key", target.metric}, {"isGroup", false}}}},
                           {"primarySingleMetricKey", target.metric},
                           {t_.treatments, std::move(treatments)},
                           {"flags", json::object{{target.flag, std::move(flag_input)}}},
                           {"randomizationUnit", target.randomization_unit}};
    json::object body{{"name", e.name.value_or(spec.experiment)}, {"key", target.binding.experiment}};
    if (e.description) body["description"] = *e.description;
    body["iteration"] = std::move(iteration);
    return body;
  }

  /// What the create makes of each field `desired` holds.
  std::vector<FieldCarriage> create_carriage(const CreateSpec& spec) const {
    const Experiment& e = *spec.desired;
    CarriageList list(spec.experiment, kVendor);
    if (e.name) list.carried(field::name);
    if (e.description) list.carried(field::description);
    if (e.hypothesis) list.carried(field::hypothesis);
    list.lost_if_skipped(e.launch_criteria.has_value(), field::launch_criteria, table());
    list.lost_if_skipped(e.audience && e.audience->rule, field::audience_rule, table());
    list.lost_if_skipped(e.audience && e.audience->description, field::audience_description, table());
    if (e.variations) {
      std::string from, to;
      for (const auto& v : *e.variations) {
        from += (from.empty() ? "" : "/") + format_number(v.weight);
        to += (to.empty() ? "\"" : "\"/\"") + format_number(v.weight);
      }
      list.converted(field::variations, "fields.variations.wire.weight", from + " %", to + "\" " + t_.allocation + " strings");
      for (std::size_t i = 0; i < e.variations->size(); ++i)
        if ((*e.variations)[i].description)
          list.lost(join_path(index_path(field::variations, i), "description"), "create_lost.variation_description",
                    t_.create_lost.at("variation_description"));
    }
    list.lost_if_skipped(e.exposure.has_value(), field::exposure, table());
    list.lost_if_skipped(e.overrides.has_value(), field::overrides, table());
    if (e.result) list.lost(field::result, "create_lost.result", t_.create_lost.at("result"));
    list.status(e.status, t_.create_lost);
    return list.take();
  }
};

Result<LaunchDarklyOptions> read_options(const BackendContext& context, const LaunchDarklyTable&) {
  BackendSettings settings;
  EXPBRIDGE_ASSIGN_OR_RETURN(settings, read_settings(context, {{"project", "project_key"},
                                                               {"environment", "project_key"},
                                                               {"token_env", "token_env"}}));
  return LaunchDarklyOptions{settings.value("project"), settings.value("environment"), settings.value("token_env"),
                             settings.setting("token_env"),
                             context.endpoint.empty() ? context.table->base_url() : context.endpoint};
}

}  // namespace

Result<std::unique_ptr<Adapter>> make_launchdarkly_adapter(const BackendContext& context) {
  static const AdapterFactory factory = adapter_factory<LaunchDarklyAdapter>(kVendor, read_options);
  return factory(context);
}

}  // namespace expbridge
