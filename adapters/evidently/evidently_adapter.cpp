#include "evidently_adapter.hpp"

#include <map>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapter_support.hpp"
#include "message_text.hpp"
#include "document.hpp"
#include "json_reader.hpp"

namespace expbridge {
namespace {


constexpr std::string_view kVendor = "evidently";

/// `backends.<name>` settings: region, signing profile and the project (a name or an ARN)
/// every request addresses.
using EvidentlyOptions = AwsBackend;

struct EvidentlyBinding final : Binding {
  std::string feature;
  std::string experiment;  ///< empty: no Evidently experiment is bound
  /// neutral variation key -> Evidently treatment name, for the keys that differ.
  std::map<std::string, std::string, std::less<>> treatments;

  const std::string& treatment_for(const std::string& key) const {
    auto it = treatments.find(key);
    return it == treatments.end() ? key : it->second;
  }
};


/// Matching Evidently's name pattern is not enough: `.` and `..` match it, yet as a path
/// segment they would address another resource. Asking expand_path keeps one rule for that.
Status refuse_path_changing(std::string_view id, std::string field) {
  if (auto path = expand_path("/{id}", {{"id", id}}); !path) {
    Error e = std::move(path).error();
    e.field = std::move(field);
    return std::unexpected(std::move(e));
  }
  return {};
}

/// Everything the adapter takes from its mapping table, resolved once: a table that lacks
/// one of these fails at start-up, not in the middle of a plan.
struct EvidentlyTable {
  const OperationSpec* update_feature = nullptr;
  const OperationSpec* update_experiment = nullptr;
  const OperationSpec* start_experiment = nullptr;
  const OperationSpec* stop_experiment = nullptr;
  const OperationSpec* get_feature = nullptr;
  const OperationSpec* get_experiment = nullptr;
  std::string content_type;

  // UpdateFeature members.
  std::string description, entity_overrides, add_or_update_variations, variation_name, variation_value, bool_value,
      default_variation, remove_variations, evaluation_strategy;
  // UpdateExperiment members.
  std::string sampling_rate, online_ab_config, control_treatment_name, treatment_weights;

  std::map<std::string, std::string, std::less<>> strategies;  ///< neutral action -> evaluationStrategy value
  double percent_scale = 0;                                    ///< neutral percent -> Evidently units
  std::size_t override_entry_bytes = 0;

  // The read: GetFeature / GetExperiment members, and the VariableValue members besides boolValue.
  std::string long_value, double_value, string_value, value_attribute;
  // StartExperiment / StopExperiment members, and how long an analysis runs when the update says nothing.
  std::string analysis_complete, desired_state, completed, status_reason, stop_reason;
  double analysis_days = 0;

  // Skip reasons.
  std::string skip_attributes, skip_no_value, skip_control, skip_variation_description, skip_exposure;
  std::string skip_result, skip_winner, skip_reasons;

  // Limits: of the binding's names, of UpdateFeature, of UpdateExperiment.
  const LimitSpec *feature{}, *experiment{}, *treatment{}, *variation{};
  const LimitSpec *variations{}, *remove_variations_count{}, *description_length{}, *entity_overrides_size{}, *override_entity{};
  const LimitSpec *sampling_rate_range{}, *treatment_weight{}, *stop_reason_length{}, *analysis_complete_range{};

  static Result<EvidentlyTable> resolve(const MappingTable& t) {
    EvidentlyTable out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_feature, t.operation(t.field(field::description).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_experiment, t.operation(t.field(field::exposure).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.start_experiment, t.operation("StartExperiment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.stop_experiment, t.operation(t.field(field::result).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_feature, t.operation("GetFeature"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_experiment, t.operation("GetExperiment"));
    out.content_type = t.content_type();
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {
        {&out.value_attribute, "read_value", "attribute"},
        {&out.long_value, "read_value", "long"},
        {&out.double_value, "read_value", "double"},
        {&out.string_value, "read_value", "string"},
        {&out.analysis_complete, "experiment_lifecycle", "analysis_complete"},
        {&out.desired_state, "experiment_lifecycle", "desired_state"},
        {&out.completed, "experiment_lifecycle", "completed"},
        {&out.status_reason, "experiment_lifecycle", "status_reason"},
    }));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_wires(t, {{&out.stop_reason, field::result}}));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.analysis_days, t.scale("analysis_days"));
    // Both status maps are looked up per value read; an entry missing from either is a table error then.
    for (const auto& [name, key] : {std::pair{"experiment_status", "RUNNING"}, std::pair{"strategy_status", "ALL_RULES"}})
      EXPBRIDGE_RETURN_IF_ERROR(t.enum_value(name, key));

    EXPBRIDGE_RETURN_IF_ERROR(resolve_wires(t, {
        {&out.description, field::description},
        {&out.entity_overrides, field::overrides},
        {&out.add_or_update_variations, field::variations},
        {&out.variation_name, field::variations, "name"},
        {&out.variation_value, field::variations, "value"},
        {&out.bool_value, field::variations, "enabled"},
        {&out.default_variation, field::variations, "default"},
        {&out.remove_variations, field::variations, "remove"},
        {&out.evaluation_strategy, field::action},
        {&out.sampling_rate, field::exposure},
        {&out.online_ab_config, field::variations, "ab_config"},
        {&out.control_treatment_name, field::variations, "control"},
        {&out.treatment_weights, field::variations, "weights"},
    }));
    out.strategies = t.field(field::action).values;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.percent_scale, t.scale("percent"));
    double entry_bytes = 0;
    EXPBRIDGE_ASSIGN_OR_RETURN(entry_bytes, t.scale("override_entry_bytes"));
    out.override_entry_bytes = static_cast<std::size_t>(entry_bytes);

    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_attributes, required_skip_value(t, field::variations, "attributes"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_no_value, required_skip_value(t, field::variations, "no_value"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_control, required_skip_value(t, field::variations, "control"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_variation_description, required_skip_value(t, field::variations, "description"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_exposure, required_skip_value(t, field::exposure, "no_experiment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_result, required_skip_value(t, field::result, "no_experiment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_winner, required_skip_value(t, field::result, "winner"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_reasons, required_skip_value(t, field::result, "reasons"));
    // These fields are always skipped; an entry that maps them would be silently ignored otherwise.
    for (const char* neutral : {field::name, field::hypothesis, field::launch_criteria, field::audience_rule,
                                field::audience_description, field::comment})
      EXPBRIDGE_RETURN_IF_ERROR(required_skip(t, neutral));
    // The adapter knows how to send removeVariations and analysisCompleteTime only; any other
    // pass-through member would be dropped.
    for (const auto& [member, operation] : t.passthrough())
      if (!(member == out.remove_variations && operation == out.update_feature->name) &&
          !(member == out.analysis_complete && operation == out.start_experiment->name))
        return std::unexpected(table_error(t, "passthrough." + member + " is not supported by the adapter"));

    EXPBRIDGE_RETURN_IF_ERROR(resolve_limits(t, {
        {&out.feature, "feature"},
        {&out.experiment, "experiment"},
        {&out.treatment, "treatment"},
        {&out.variation, "variation"},
        {&out.variations, "variations"},
        {&out.remove_variations_count, "remove_variations"},
        {&out.description_length, "description"},
        {&out.entity_overrides_size, "entity_overrides"},
        {&out.override_entity, "override_entity"},
        {&out.sampling_rate_range, "sampling_rate"},
        {&out.treatment_weight, "treatment_weight"},
        {&out.stop_reason_length, "stop_reason"},
        {&out.analysis_complete_range, "analysis_complete"},
    }));
    return out;
  }
};

/// Percent weights -> integer thousandths that sum to exactly `total` (largest remainder):
/// each weight is scaled (normalised by the actual sum, which the neutral rules allow to be
/// off by a hair) and cut down to an integer; the units still missing go one each to the
/// weights that lost the largest fractions, the earlier variation first on a tie.
std::vector<std::int64_t> apportion(const std::vector<Variation>& variations, std::int64_t total) {
  double sum = 0;
  for (const auto& v : variations) sum += v.weight;
  std::vector<std::int64_t> out(variations.size(), 0);
  if (variations.empty() || sum <= 0) return out;
  std::vector<double> lost(variations.size());
  std::int64_t assigned = 0;
  for (std::size_t i = 0; i < variations.size(); ++i) {
    double exact = variations[i].weight / sum * static_cast<double>(total);
    // The epsilon keeps 49999.99999999 (binary noise for 50000) from being cut to 49999.
    double whole = std::floor(exact + 1e-7);
    out[i] = static_cast<std::int64_t>(whole);
    lost[i] = exact - whole;
    assigned += out[i];
  }
  std::vector<std::size_t> order(variations.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lost[a] > lost[b]; });
  for (std::int64_t missing = total - assigned, k = 0; k < missing; ++k)
    ++out[order[static_cast<std::size_t>(k) % order.size()]];
  return out;
}

class EvidentlyAdapter final : public ResolvedAdapter<EvidentlyTable, EvidentlyOptions> {
  // The base's constructor, as public as it is there (an inherited constructor keeps its access).
  using ResolvedAdapter::ResolvedAdapter;

  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto opened = open_binding(settings, path, {"feature", "experiment", "treatments"}, "feature", *t_.feature,
                               &EvidentlyBinding::feature);
    if (!opened) return std::unexpected(std::move(opened).error());
    auto& [reader, binding] = *opened;
    EXPBRIDGE_RETURN_IF_ERROR(refuse_path_changing(binding->feature, reader.member_path("feature")));

    std::optional<std::string> experiment;
    EXPBRIDGE_ASSIGN_OR_RETURN(experiment, reader.optional_string("experiment"));
    if (experiment) {
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.experiment, *experiment, reader.member_path("experiment")));
      EXPBRIDGE_RETURN_IF_ERROR(refuse_path_changing(*experiment, reader.member_path("experiment")));
      binding->experiment = std::move(*experiment);
    }

    const boost::json::object* treatments = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(treatments, reader.optional_object("treatments"));
    if (treatments) {
      // Treatment names only reach Evidently through an experiment; without one they would do nothing.
      if (binding->experiment.empty())
        return std::unexpected(reader.error("treatments", "treatment names are used only with `experiment` (the "
                                                          "Evidently experiment whose weights they name); add it or "
                                                          "remove treatments"));
      std::string treatments_path = reader.member_path("treatments");
      std::map<std::string, std::string> variation_of_treatment;  // the duplicate check stays linear
      for (const auto& member : *treatments) {
        std::string key(member.key());
        std::string member_path = join_path(treatments_path, key);
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.variation, key, member_path));
        if (!member.value().is_string())
          return std::unexpected(invalid_field(member_path, "must be a treatment name (a string), found " +
                                                          std::string(json_kind(member.value()))));
        std::string name(member.value().get_string());
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.treatment, name, member_path));
        if (auto [it, fresh] = variation_of_treatment.emplace(name, key); !fresh)
          return std::unexpected(invalid_field(member_path, "treatment " + quote_value(name) +
                                                                " is already bound to variation " + quote_value(it->second) +
                                                                "; each variation needs its own treatment"));
        binding->treatments.emplace(std::move(key), std::move(name));
      }
    }
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    return std::unique_ptr<const Binding>(std::move(binding));
  }

  Result<BackendPlan> do_plan(const Update& u, const Binding& b, const PlanContext& context) const override {
    const auto& binding = static_cast<const EvidentlyBinding&>(b);
    BackendPlan out;
    RequestDraft feature(*t_.update_feature);
    RequestDraft experiment(*t_.update_experiment);
    std::optional<RequestDraft> lifecycle;  // StartExperiment or StopExperiment, sent last

    skip_if(u.name.has_value(), field::name, out);
    if (u.description) {
      EXPBRIDGE_RETURN_IF_ERROR(feature.check_string(*t_.description_length, *u.description, field::description));
      feature.body()[t_.description] = *u.description;
      carry(out, field::description);
    }
    skip_present(u, out, {field::hypothesis, field::launch_criteria, field::audience_rule, field::audience_description});

    std::vector<std::string> unsent;  // variation keys this update holds but could not send
    if (u.variations) {
      const std::vector<Variation>* held = context.current && context.current->variations ? &*context.current->variations : nullptr;
      EXPBRIDGE_RETURN_IF_ERROR(plan_variations(*u.variations, held, binding, feature, experiment, out, unsent));
      carry(out, field::variations);  // each variation is sent or listed under variations[key]
    }

    if (u.exposure) {
      if (binding.experiment.empty()) {
        out.skipped.push_back(Skip{field::exposure, t_.skip_exposure});
      } else {
        auto rate = static_cast<std::int64_t>(std::llround(*u.exposure * t_.percent_scale));
        EXPBRIDGE_RETURN_IF_ERROR(
            experiment.check_number(*t_.sampling_rate_range, static_cast<double>(rate), field::exposure));
        experiment.body()[t_.sampling_rate] = rate;
        carry(out, field::exposure);
      }
    }

    if (u.overrides) {
      EXPBRIDGE_RETURN_IF_ERROR(plan_overrides(*u.overrides, unsent, feature, out));
      carry(out, field::overrides);
    }

    bool removes = false;
    std::optional<std::int64_t> analysis_complete;
    EXPBRIDGE_ASSIGN_OR_RETURN(removes, plan_passthrough(u, binding, feature, out, analysis_complete));
    // The neutral set replaces the whole set; Evidently only adds and updates unless told what to remove.
    if (u.variations) {
      if (removes)
        out.notes.push_back(t_.remove_variations + " is sent as given; any other variation the feature holds that this "
                                                   "update lacks is kept");
      else if (context.current && context.current->variations)
        EXPBRIDGE_RETURN_IF_ERROR(plan_removals(u, *context.current->variations, feature, out));
      else
        out.notes.push_back("only " + t_.add_or_update_variations +
                            " is sent: this plan has no read of the feature (plan alone, or apply --no-read), so "
                            "variations it holds that this update lacks are kept; list them in vendor.evidently." +
                            t_.remove_variations + " to remove them");
    }

    if (u.action) {
      std::string_view action = to_string(*u.action);
      if (auto it = t_.strategies.find(action); it != t_.strategies.end()) {
        feature.body()[t_.evaluation_strategy] = it->second;
        carry(out, field::action);
        if (!binding.experiment.empty())
          EXPBRIDGE_ASSIGN_OR_RETURN(lifecycle, plan_lifecycle(u, binding, context, analysis_complete, out));
      } else {
        skip_value(out, field::action, action,
                   "Evidently has no equivalent of " + std::string(field::action) + " " + quote_value(action));
      }
    }
    if (u.result && !lifecycle) out.skipped.push_back(Skip{field::result, t_.skip_result});
    skip_if(u.comment.has_value(), field::comment, out);

    // Feature first: the experiment's treatments serve the feature's variations, so new values land before new weights.
    if (!feature.empty())
      EXPBRIDGE_RETURN_IF_ERROR(feature.add_to(out, options_.base_url,
                                               {{"project", options_.resource}, {"feature", binding.feature}},
                                               t_.content_type));
    if (!experiment.empty())
      EXPBRIDGE_RETURN_IF_ERROR(experiment.add_to(out, options_.base_url,
                                                  {{"project", options_.resource}, {"experiment", binding.experiment}},
                                                  t_.content_type));
    // Last: the experiment starts with its new weights and rate, and stops after them.
    if (lifecycle)
      EXPBRIDGE_RETURN_IF_ERROR(lifecycle->add_to(out, options_.base_url,
                                                  {{"project", options_.resource}, {"experiment", binding.experiment}},
                                                  t_.content_type));
    return out;
  }

  /// The read: GetFeature, and GetExperiment when the binding names an experiment, asked for
  /// together (neither is paginated); the second call builds the state from both answers. One
  /// round trip already, so no hint is needed or given.
  Result<ReadStep> do_read(const Binding& b, const std::vector<ReadResponse>& answers, const ReadHint*) const override {
    const auto& binding = static_cast<const EvidentlyBinding&>(b);
    const bool bound = !binding.experiment.empty();
    if (answers.empty()) {
      ReadStep step;
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_feature, options_.base_url,
                                                       {{"project", options_.resource}, {"feature", binding.feature}},
                                                       t_.content_type, std::nullopt));
      step.requests.push_back(std::move(request));
      if (bound) {
        EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_experiment, options_.base_url,
                                                         {{"project", options_.resource}, {"experiment", binding.experiment}},
                                                         t_.content_type, std::nullopt));
        step.requests.push_back(std::move(request));
      }
      return step;
    }
    if (answers.size() != (bound ? 2u : 1u))
      return std::unexpected(make_error(ErrorCode::internal, "evidently read: expected " + std::to_string(bound ? 2 : 1) +
                                                                 " answers, got " + std::to_string(answers.size())));

    boost::json::object feature, experiment;
    EXPBRIDGE_ASSIGN_OR_RETURN(feature, resource_of(*t_.get_feature, answers[0], "feature", binding.feature));
    if (bound)
      EXPBRIDGE_ASSIGN_OR_RETURN(experiment, resource_of(*t_.get_experiment, answers[1], "experiment", binding.experiment));

    VendorState state;
    Experiment& e = state.experiment;
    e.vendor_ids = {{"project", options_.resource}, {"feature", binding.feature}};
    if (bound) e.vendor_ids["experiment"] = binding.experiment;
    state.not_expressible = fields_not_expressible();
    // Without an experiment there is no samplingRate, no stop reason and no treatment weight
    // to hold (weights are the experiment's onlineAbConfig.treatmentWeights).
    if (!bound)
      state.not_expressible.insert(state.not_expressible.end(), {field::exposure, field::result, "variations.weight"});
    EXPBRIDGE_RETURN_IF_ERROR(read_feature(feature, e, state.detail));
    if (bound) EXPBRIDGE_RETURN_IF_ERROR(read_experiment(experiment, binding, e, state.detail));
    return ReadStep{{}, std::move(state)};
  }

 private:
  /// The `member` object of a Get answer; a 404 is `not_found` naming the resource's id.
  Result<boost::json::object> resource_of(const OperationSpec& operation, const ReadResponse& reply,
                                          std::string_view member, const std::string& id) const {
    if (reply.status == 404) {
      Error e = make_error(ErrorCode::not_found, "Evidently project " + quote_value(options_.resource) + " has no " +
                                                     std::string(member) + " " + quote_value(id));
      e.operation = operation.name;
      e.http_status = reply.status;
      return std::unexpected(std::move(e));
    }
    boost::json::object answer;
    EXPBRIDGE_ASSIGN_OR_RETURN(answer, reply_object(operation, reply, "a JSON object"));
    auto* inner = answer.if_contains(member);
    if (!inner || !inner->is_object())
      return unusable(operation, "without a `" + std::string(member) + "` object");
    return std::move(inner->get_object());
  }

  /// An answer whose shape the read cannot use: `internal`, naming the operation (never the body).
  static std::unexpected<Error> unusable(const OperationSpec& operation, std::string what) {
    Error e = make_error(ErrorCode::internal, operation.name + " answered " + what);
    e.operation = operation.name;
    return std::unexpected(std::move(e));
  }

  /// `enums.<name>.<vendor value>` as a neutral status; a value the table does not map is unusable.
  Result<ExperimentStatus> status_of(const OperationSpec& operation, std::string_view name, std::string_view value) const {
    auto neutral = table().enum_value(name, value);
    if (neutral)
      for (auto status : {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::paused,
                          ExperimentStatus::stopped, ExperimentStatus::archived})
        if (to_string(status) == *neutral) return status;
    return unusable(operation, "a status expbridge does not know: " + quote_value(value));
  }

  /// GetFeature's description, variations (typed values, the default as control), entity overrides and,
  /// for a feature without an experiment, the status its evaluationStrategy gives.
  Status read_feature(const boost::json::object& f, Experiment& e, boost::json::object& detail) const {
    const OperationSpec& op = *t_.get_feature;
    e.description = "";  // Evidently holds an empty description when it holds none
    if (const auto* d = f.if_contains(t_.description)) {
      if (!d->is_string()) return unusable(op, "a " + t_.description + " that is not a string");
      e.description = std::string(d->get_string());
    }
    std::string default_variation;
    if (const auto* d = f.if_contains(t_.default_variation); d && d->is_string()) default_variation = d->get_string();
    const auto* variations = f.if_contains("variations");
    if (!variations || !variations->is_array()) return unusable(op, "without a variations list");
    e.variations.emplace();
    for (const auto& item : variations->get_array()) {
      const auto* v = item.if_object();
      const auto* name = v ? v->if_contains(t_.variation_name) : nullptr;
      const auto* value = v ? v->if_contains(t_.variation_value) : nullptr;
      if (!name || !name->is_string() || !value || !value->is_object() || value->get_object().size() != 1)
        return unusable(op, "a variation that is not {" + t_.variation_name + ", " + t_.variation_value + ": {ONE member}}");
      Variation out;
      out.key = std::string(name->get_string());
      out.control = out.key == default_variation;
      EXPBRIDGE_ASSIGN_OR_RETURN(out.value, typed_value(*value->get_object().begin()));
      e.variations->push_back(std::move(out));
    }
    if (const auto* overrides = f.if_contains(t_.entity_overrides)) {
      if (!overrides->is_object()) return unusable(op, "an " + t_.entity_overrides + " that is not a map");
      e.overrides.emplace();
      for (const auto& entry : overrides->get_object()) {
        if (!entry.value().is_string())
          return unusable(op, "an " + t_.entity_overrides + " entry that is not a variation name");
        e.overrides->emplace_back(std::string(entry.key()), std::string(entry.value().get_string()));
      }
    }
    const auto* strategy = f.if_contains(t_.evaluation_strategy);
    if (!strategy || !strategy->is_string()) return unusable(op, "without an " + t_.evaluation_strategy);
    EXPBRIDGE_ASSIGN_OR_RETURN(e.status, status_of(op, "strategy_status", strategy->get_string()));
    detail[t_.evaluation_strategy] = strategy->get_string();
    return {};
  }

  /// One VariableValue member back to neutral: boolValue is `enabled`; a long, double or string is
  /// served as is, so it reads as enabled with one attribute (the table's read_value.attribute).
  Result<VariationValue> typed_value(const boost::json::key_value_pair& member) const {
    const OperationSpec& op = *t_.get_feature;
    const auto& v = member.value();
    VariationValue out;
    out.enabled = true;
    if (member.key() == t_.bool_value && v.is_bool()) {
      out.enabled = v.get_bool();
    } else if ((member.key() == t_.long_value || member.key() == t_.double_value) && v.is_number()) {
      out.attributes.emplace_back(t_.value_attribute, v.to_number<double>());
    } else if (member.key() == t_.string_value && v.is_string()) {
      out.attributes.emplace_back(t_.value_attribute, std::string(v.get_string()));
    } else {
      return unusable(op, "a variation value expbridge does not know: " + quote_value(member.key()));
    }
    return out;
  }

  /// GetExperiment's samplingRate and treatment weights (thousandths of a percent -> percent; treatment
  /// names back to neutral keys through the binding), its control and its status.
  Status read_experiment(const boost::json::object& x, const EvidentlyBinding& binding, Experiment& e,
                         boost::json::object& detail) const {
    const OperationSpec& op = *t_.get_experiment;
    const auto* status = x.if_contains("status");
    if (!status || !status->is_string()) return unusable(op, "without a status");
    EXPBRIDGE_ASSIGN_OR_RETURN(e.status, status_of(op, "experiment_status", status->get_string()));
    detail["experiment_status"] = status->get_string();
    // StopExperiment's reason is kept as statusReason: the result's summary.
    if (e.status == ExperimentStatus::stopped)
      if (const auto* reason = x.if_contains(t_.status_reason); reason && reason->is_string())
        e.result.emplace().summary = std::string(reason->get_string());
    if (const auto* rate = x.if_contains(t_.sampling_rate)) {
      if (!rate->is_number()) return unusable(op, "a " + t_.sampling_rate + " that is not a number");
      e.exposure = rate->to_number<double>() / t_.percent_scale;
    }
    // GetExperiment answers the onlineAbConfig it was sent as onlineAbDefinition.
    const auto* definition = x.if_contains("onlineAbDefinition");
    if (!definition) return {};
    if (!definition->is_object()) return unusable(op, "an onlineAbDefinition that is not an object");
    std::map<std::string, std::string, std::less<>> key_of;  // treatment name -> neutral key
    for (const auto& v : *e.variations) key_of.emplace(binding.treatment_for(v.key), v.key);
    if (const auto* weights = definition->get_object().if_contains(t_.treatment_weights)) {
      if (!weights->is_object()) return unusable(op, "treatmentWeights that are not a map");
      for (const auto& entry : weights->get_object()) {
        if (!entry.value().is_number()) return unusable(op, "a treatment weight that is not a number");
        const double units = entry.value().to_number<double>();
        auto it = key_of.find(entry.key());
        if (it == key_of.end()) continue;  // a treatment serving no variation of this feature
        for (auto& v : *e.variations)
          if (v.key == it->second) v.weight = units / t_.percent_scale;
      }
    }
    if (const auto* control = definition->get_object().if_contains(t_.control_treatment_name); control && control->is_string())
      if (auto it = key_of.find(control->get_string()); it != key_of.end())
        for (auto& v : *e.variations) v.control = v.key == it->second;
    return {};
  }

  /// `held`: the feature's variations as read, or null without a read. With a read, a value the
  /// feature already serves and a default it already has are not sent again: the neutral
  /// variations may still differ in what Evidently cannot hold (attributes), and resending the
  /// rest would make every converging apply send something.
  Status plan_variations(const std::vector<Variation>& variations, const std::vector<Variation>* held,
                         const EvidentlyBinding& binding, RequestDraft& feature, RequestDraft& experiment,
                         BackendPlan& out, std::vector<std::string>& unsent) const {
    auto held_as = [&](const Variation& v) -> const Variation* {
      if (!held) return nullptr;
      for (const auto& h : *held)
        if (h.key == v.key) return &h;
      return nullptr;
    };
    // The feature-wide maximum: the neutral set replaces the whole set, so all of it must fit.
    EXPBRIDGE_RETURN_IF_ERROR(feature.check_count(*t_.variations, variations.size(), field::variations));
    boost::json::array add;
    std::optional<std::string> default_key;  // only a control that was sent can be the default
    for (std::size_t i = 0; i < variations.size(); ++i) {
      const Variation& v = variations[i];
      std::string skip_field = "variations[" + v.key + "]";
      std::string reason;
      if (!v.value) {
        reason = t_.skip_no_value;
      } else if (!v.value->attributes.empty()) {
        reason = t_.skip_attributes;
      }
      if (!reason.empty()) {
        if (v.control) reason += "; " + t_.skip_control;
        out.skipped.push_back(Skip{std::move(skip_field), std::move(reason)});
        unsent.push_back(v.key);
        continue;
      }
      EXPBRIDGE_RETURN_IF_ERROR(
          feature.check_string(*t_.variation, v.key, join_path(index_path(field::variations, i), "key")));
      const Variation* was = held_as(v);
      const bool served = was && was->value && was->value->attributes.empty() && was->value->enabled == v.value->enabled;
      if (!served)
        add.push_back(boost::json::object{{t_.variation_name, v.key},
                                          {t_.variation_value, boost::json::object{{t_.bool_value, v.value->enabled}}}});
      // Sent now or held already, so it exists; a default it already is goes unsent.
      if (v.control && !(was && was->control)) default_key = v.key;
      if (v.description) out.skipped.push_back(Skip{skip_field + ".description", t_.skip_variation_description});
    }
    // addOrUpdateVariations takes 1..5 items: with nothing expressible the member is left out.
    if (!add.empty()) feature.body()[t_.add_or_update_variations] = std::move(add);
    if (default_key) feature.body()[t_.default_variation] = *default_key;

    if (binding.experiment.empty()) {
      out.notes.push_back("variation weights are not sent: they are the " + t_.online_ab_config + "." +
                          t_.treatment_weights +
                          " of an Evidently experiment, and this binding names none (add `experiment: NAME`); "
                          "outside launches and experiments the feature serves its " +
                          t_.default_variation + " to everyone");
      return {};
    }

    // The weights name treatments, which exist on the experiment whether or not this update could
    // send the variation's value, so every variation takes part (the weights must add up to 100 %).
    const auto total = static_cast<std::int64_t>(std::llround(100 * t_.percent_scale));
    std::vector<std::int64_t> units = apportion(variations, total);
    boost::json::object weights;
    std::string control_treatment;
    for (std::size_t i = 0; i < variations.size(); ++i) {
      const Variation& v = variations[i];
      const std::string& treatment = binding.treatment_for(v.key);
      std::string path = join_path(index_path(field::variations, i), "key");
      // Names from the binding were checked when the config was loaded; a defaulted name is the key.
      if (!binding.treatments.contains(v.key))
        EXPBRIDGE_RETURN_IF_ERROR(experiment.check_string(*t_.treatment, treatment, path));
      if (weights.contains(treatment))
        return experiment.refuse(path, "variation '" + v.key + "' maps to the Evidently treatment '" + treatment +
                                           "', which another variation already uses; give each its own name "
                                           "in the binding's treatments");
      EXPBRIDGE_RETURN_IF_ERROR(experiment.check_number(*t_.treatment_weight, static_cast<double>(units[i]),
                                                        join_path(index_path(field::variations, i), "weight")));
      weights[treatment] = units[i];
      if (v.control) control_treatment = treatment;
    }
    experiment.body()[t_.online_ab_config] =
        boost::json::object{{t_.control_treatment_name, control_treatment}, {t_.treatment_weights, std::move(weights)}};
    return {};
  }

  Status plan_overrides(const std::vector<std::pair<std::string, std::string>>& overrides,
                        const std::vector<std::string>& unsent, RequestDraft& feature, BackendPlan& out) const {
    EXPBRIDGE_RETURN_IF_ERROR(feature.check_count(*t_.entity_overrides_size, overrides.size(), field::overrides));
    boost::json::object map;
    std::size_t bytes = 0;
    for (const auto& [entity, variation] : overrides) {
      std::string path = join_path(field::overrides, entity);
      EXPBRIDGE_RETURN_IF_ERROR(feature.check_string(*t_.override_entity, entity, path));
      EXPBRIDGE_RETURN_IF_ERROR(feature.check_string(*t_.variation, variation, path));
      bytes += entity.size() + variation.size() + t_.override_entry_bytes;
      map[entity] = variation;
      if (std::find(unsent.begin(), unsent.end(), variation) != unsent.end())
        out.notes.push_back("override " + quote_value(entity) + " -> " + quote_value(variation) +
                            " names a variation this update could not send; Evidently accepts it only if the "
                            "feature already has a variation of that name");
    }
    EXPBRIDGE_RETURN_IF_ERROR(feature.check_bytes(*t_.entity_overrides_size, bytes, field::overrides));
    feature.body()[t_.entity_overrides] = std::move(map);
    return {};
  }

  /// With an experiment bound, action start is StartExperiment (the analysis ends at the pass-through
  /// analysisCompleteTime, else scales.analysis_days from now) and stop is StopExperiment (COMPLETED,
  /// with the result's summary as the reason). A read experiment that has stopped cannot start again.
  Result<std::optional<RequestDraft>> plan_lifecycle(const Update& u, const EvidentlyBinding& binding,
                                                     const PlanContext& context,
                                                     std::optional<std::int64_t> analysis_complete,
                                                     BackendPlan& out) const {
    if (*u.action == Action::start) {
      RequestDraft start(*t_.start_experiment);
      const auto* read_status = context.read ? context.read->detail.if_contains("experiment_status") : nullptr;
      if (context.current && context.current->status == ExperimentStatus::stopped && read_status &&
          read_status->is_string())
        return start.refuse(field::action, "the Evidently experiment '" + binding.experiment + "' is " +
                                               std::string(read_status->get_string()) +
                                               ": a stopped experiment cannot be started again; create a new one");
      if (!analysis_complete) {
        auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
        analysis_complete = now.count() + static_cast<std::int64_t>(t_.analysis_days * 86400);
        out.notes.push_back("StartExperiment " + t_.analysis_complete + " is " + format_number(t_.analysis_days) +
                            " days after this plan; pass vendor.evidently." + t_.analysis_complete +
                            " (epoch seconds) to choose it");
      }
      start.body()[t_.analysis_complete] = *analysis_complete;
      return std::optional<RequestDraft>(std::move(start));
    }
    RequestDraft stop(*t_.stop_experiment);
    stop.body()[t_.desired_state] = t_.completed;
    if (u.result) {
      if (u.result->summary) {
        EXPBRIDGE_RETURN_IF_ERROR(stop.check_string(*t_.stop_reason_length, *u.result->summary, "result.summary"));
        stop.body()[t_.stop_reason] = *u.result->summary;
      }
      carry(out, field::result);
      if (u.result->winner) out.skipped.push_back(Skip{"result.winner", t_.skip_winner});
      if (u.result->reasons_to_launch) out.skipped.push_back(Skip{"result.reasons_to_launch", t_.skip_reasons});
      if (u.result->reasons_not_to_launch) out.skipped.push_back(Skip{"result.reasons_not_to_launch", t_.skip_reasons});
    }
    return std::optional<RequestDraft>(std::move(stop));
  }

  /// With the feature read, the variations it holds that the update's set lacks go in removeVariations
  /// (the neutral set replaces the whole set). Kept: one an override of this update serves, and the
  /// feature's default when this update sets no other (Evidently cannot remove its default).
  Status plan_removals(const Update& u, const std::vector<Variation>& held, RequestDraft& feature,
                       BackendPlan& out) const {
    boost::json::array names;
    for (const auto& h : held) {
      bool wanted = std::any_of(u.variations->begin(), u.variations->end(), [&](const Variation& v) { return v.key == h.key; });
      if (u.overrides)
        wanted = wanted || std::any_of(u.overrides->begin(), u.overrides->end(),
                                       [&](const auto& o) { return o.second == h.key; });
      if (wanted) continue;
      if (h.control && !feature.body().contains(t_.default_variation)) {
        out.notes.push_back("variation " + quote_value(h.key) + " is kept: it is the feature's " + t_.default_variation +
                            ", and this update sets no other");
        continue;
      }
      names.push_back(boost::json::string(h.key));
    }
    if (names.empty()) return {};
    EXPBRIDGE_RETURN_IF_ERROR(feature.check_count(*t_.remove_variations_count, names.size(), field::variations));
    out.notes.push_back(t_.remove_variations + " holds the variations the feature was read with that this update lacks");
    feature.body()[t_.remove_variations] = std::move(names);
    return {};
  }

  /// Adds removeVariations to the UpdateFeature body (true when it now removes variations) and
  /// takes analysisCompleteTime for StartExperiment.
  Result<bool> plan_passthrough(const Update& u, const EvidentlyBinding& binding, RequestDraft& feature,
                                BackendPlan& out, std::optional<std::int64_t>& analysis_complete) const {
    std::vector<PassThrough> members;
    EXPBRIDGE_ASSIGN_OR_RETURN(members, passthrough(u, out));
    bool removes = false;
    for (const auto& member : members) {
      std::string path = passthrough_path(member);
      if (member.member == t_.analysis_complete) {
        RequestDraft start(*t_.start_experiment);
        if (binding.experiment.empty() || !u.action || *u.action != Action::start)
          return start.refuse(path, "is sent with StartExperiment only: it needs action start and an experiment "
                                    "in the binding");
        if (!member.value->is_number()) return start.refuse(path, "must be a time in epoch seconds (a number)");
        const double seconds = member.value->to_number<double>();
        EXPBRIDGE_RETURN_IF_ERROR(start.check_number(*t_.analysis_complete_range, seconds, path));
        analysis_complete = static_cast<std::int64_t>(std::llround(seconds));
        continue;
      }
      // resolve() made sure removeVariations is the only other member the table lists.
      if (!member.value->is_array()) return feature.refuse(path, "must be a list of variation names");
      const auto& names = member.value->get_array();
      EXPBRIDGE_RETURN_IF_ERROR(feature.check_count(*t_.remove_variations_count, names.size(), path));
      for (std::size_t i = 0; i < names.size(); ++i) {
        std::string item_path = index_path(path, i);
        if (!names[i].is_string())
          return feature.refuse(item_path, "must be a variation name (a string), found " + std::string(json_kind(names[i])));
        std::string_view name = names[i].get_string();
        EXPBRIDGE_RETURN_IF_ERROR(feature.check_string(*t_.variation, name, item_path));
        // Adding and removing one name in the same UpdateFeature has no documented outcome.
        if (u.variations)
          for (const auto& v : *u.variations)
            if (v.key == name)
              return feature.refuse(item_path, quote_value(name) +
                                                   " is also in this update's variations; keep it or remove it, not both");
        if (u.overrides)
          for (const auto& [entity, variation] : *u.overrides)
            if (variation == name)
              return feature.refuse(item_path, quote_value(name) + " is served to override " + quote_value(entity) +
                                                   " in this update; it cannot be removed as well");
      }
      if (!names.empty()) {
        feature.body()[t_.remove_variations] = names;
        removes = true;
      }
    }
    return removes;
  }
};

Result<EvidentlyOptions> read_options(const BackendContext& context, const EvidentlyTable&) {
  EvidentlyOptions options;
  EXPBRIDGE_ASSIGN_OR_RETURN(options, AwsBackend::read(context, "project"));
  EXPBRIDGE_RETURN_IF_ERROR(refuse_path_changing(options.resource, options.resource_setting));
  return options;
}

}  // namespace

Result<std::unique_ptr<Adapter>> make_evidently_adapter(const BackendContext& context) {
  static const AdapterFactory factory = adapter_factory<EvidentlyAdapter>(kVendor, read_options);
  return factory(context);
}

}  // namespace expbridge
