#include "evidently_adapter.hpp"

#include <map>
#include <algorithm>
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

/// `backends.<name>` settings.
struct EvidentlyOptions {
  AwsOptions aws;       ///< region and the signing profile
  std::string project;  ///< a project name or a project ARN
};

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
  std::string content_type;

  // UpdateFeature members.
  std::string description, entity_overrides, add_or_update_variations, variation_name, variation_value, bool_value,
      default_variation, remove_variations, evaluation_strategy;
  // UpdateExperiment members.
  std::string sampling_rate, online_ab_config, control_treatment_name, treatment_weights;

  std::map<std::string, std::string, std::less<>> strategies;  ///< neutral action -> evaluationStrategy value
  double percent_scale = 0;                                    ///< neutral percent -> Evidently units
  std::size_t override_entry_bytes = 0;

  // Skip reasons.
  std::string skip_attributes, skip_no_value, skip_control, skip_variation_description, skip_exposure;

  const LimitSpec* feature = nullptr;
  const LimitSpec* experiment = nullptr;
  const LimitSpec* treatment = nullptr;
  const LimitSpec* variation = nullptr;
  const LimitSpec* variations = nullptr;
  const LimitSpec* remove_variations_count = nullptr;
  const LimitSpec* description_length = nullptr;
  const LimitSpec* entity_overrides_size = nullptr;
  const LimitSpec* override_entity = nullptr;
  const LimitSpec* sampling_rate_range = nullptr;
  const LimitSpec* treatment_weight = nullptr;

  static Result<std::string> skip_value(const MappingTable& t, std::string_view neutral, std::string_view key) {
    const auto& values = t.field(neutral).skip_values;
    if (auto it = values.find(key); it != values.end()) return it->second;
    return std::unexpected(
        table_error(t, "no fields." + std::string(neutral) + ".skip_values." + std::string(key)));
  }

  static Result<EvidentlyTable> resolve(const MappingTable& t) {
    EvidentlyTable out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_feature, t.operation(t.field(field::description).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_experiment, t.operation(t.field(field::exposure).operation));
    out.content_type = t.content_type();

    EXPBRIDGE_ASSIGN_OR_RETURN(out.description, t.wire(field::description));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.entity_overrides, t.wire(field::overrides));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.add_or_update_variations, t.wire(field::variations));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.variation_name, t.wire(field::variations, "name"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.variation_value, t.wire(field::variations, "value"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.bool_value, t.wire(field::variations, "enabled"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.default_variation, t.wire(field::variations, "default"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.remove_variations, t.wire(field::variations, "remove"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.evaluation_strategy, t.wire(field::action));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.sampling_rate, t.wire(field::exposure));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.online_ab_config, t.wire(field::variations, "ab_config"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.control_treatment_name, t.wire(field::variations, "control"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.treatment_weights, t.wire(field::variations, "weights"));
    out.strategies = t.field(field::action).values;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.percent_scale, t.scale("percent"));
    double entry_bytes = 0;
    EXPBRIDGE_ASSIGN_OR_RETURN(entry_bytes, t.scale("override_entry_bytes"));
    out.override_entry_bytes = static_cast<std::size_t>(entry_bytes);

    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_attributes, skip_value(t, field::variations, "attributes"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_no_value, skip_value(t, field::variations, "no_value"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_control, skip_value(t, field::variations, "control"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_variation_description, skip_value(t, field::variations, "description"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.skip_exposure, skip_value(t, field::exposure, "no_experiment"));
    // These fields are always skipped; an entry that maps them would be silently ignored otherwise.
    for (const char* neutral : {field::name, field::hypothesis, field::launch_criteria, field::audience_rule,
                                field::audience_description, field::result, field::comment})
      if (t.field(neutral).skip.empty())
        return std::unexpected(table_error(t, "fields." + std::string(neutral) + " needs a skip reason"));
    // The adapter knows how to send removeVariations only; any other pass-through member would be dropped.
    for (const auto& [member, operation] : t.passthrough())
      if (member != out.remove_variations || operation != out.update_feature->name)
        return std::unexpected(table_error(t, "passthrough." + member + " is not supported by the adapter"));

    EXPBRIDGE_ASSIGN_OR_RETURN(out.feature, t.limit("feature"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.experiment, t.limit("experiment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.treatment, t.limit("treatment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.variation, t.limit("variation"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.variations, t.limit("variations"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.remove_variations_count, t.limit("remove_variations"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.description_length, t.limit("description"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.entity_overrides_size, t.limit("entity_overrides"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.override_entity, t.limit("override_entity"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.sampling_rate_range, t.limit("sampling_rate"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.treatment_weight, t.limit("treatment_weight"));
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

class EvidentlyAdapter final : public Adapter {
 public:
  EvidentlyAdapter(const BackendContext& context, EvidentlyTable resolved, EvidentlyOptions options,
                   std::string base_url)
      : Adapter(context, std::string(kVendor)), t_(std::move(resolved)), options_(std::move(options)),
        base_url_(std::move(base_url)) {}

 protected:
  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto reader = ObjectReader::open(settings, path);
    EXPBRIDGE_RETURN_IF_ERROR(reader.known({"feature", "experiment", "treatments"}));
    auto binding = std::make_unique<EvidentlyBinding>();
    EXPBRIDGE_ASSIGN_OR_RETURN(binding->feature, reader.required_string("feature"));
    EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.feature, binding->feature, reader.member_path("feature")));
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

  Result<BackendPlan> do_plan(const Update& u, const Binding& b, const PlanContext&) const override {
    const auto& binding = static_cast<const EvidentlyBinding&>(b);
    BackendPlan out;
    boost::json::object feature;     // the UpdateFeature body
    boost::json::object experiment;  // the UpdateExperiment body

    skip_if(u.name.has_value(), field::name, out);
    if (u.description) {
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.description_length, *u.description, field::description));
      feature[t_.description] = *u.description;
      carry(out, field::description);
    }
    skip_present(u, out, {field::hypothesis, field::launch_criteria, field::audience_rule, field::audience_description});

    std::vector<std::string> unsent;  // variation keys this update holds but could not send
    if (u.variations) {
      EXPBRIDGE_RETURN_IF_ERROR(plan_variations(*u.variations, binding, feature, experiment, out, unsent));
      carry(out, field::variations);  // each variation is sent or listed under variations[key]
    }

    if (u.exposure) {
      if (binding.experiment.empty()) {
        out.skipped.push_back(Skip{field::exposure, t_.skip_exposure});
      } else {
        auto rate = static_cast<std::int64_t>(std::llround(*u.exposure * t_.percent_scale));
        EXPBRIDGE_RETURN_IF_ERROR(check_number(*t_.sampling_rate_range, static_cast<double>(rate), field::exposure));
        experiment[t_.sampling_rate] = rate;
        carry(out, field::exposure);
      }
    }

    if (u.overrides) {
      EXPBRIDGE_RETURN_IF_ERROR(plan_overrides(*u.overrides, unsent, feature, out));
      carry(out, field::overrides);
    }

    bool removes = false;
    EXPBRIDGE_ASSIGN_OR_RETURN(removes, plan_passthrough(u, feature));
    // The neutral set replaces the whole set; Evidently only adds and updates unless told what to remove.
    if (u.variations)
      out.notes.push_back(removes ? t_.remove_variations + " is sent as given; any other variation the feature holds "
                                    "that this update lacks is kept"
                                  : "only " + t_.add_or_update_variations +
                                        " is sent: variations the feature already holds that this update lacks are "
                                        "kept (removing them needs the feature's current variations, which expbridge "
                                        "does not read yet); list them in vendor.evidently." + t_.remove_variations +
                                        " to remove them");

    if (u.action) {
      std::string_view action = to_string(*u.action);
      if (auto it = t_.strategies.find(action); it != t_.strategies.end()) {
        feature[t_.evaluation_strategy] = it->second;
        carry(out, field::action);
        if (!binding.experiment.empty())
          out.notes.push_back("action " + std::string(action) + " sets the feature's " + t_.evaluation_strategy + " to " +
                              it->second + "; the Evidently experiment '" + binding.experiment +
                              "' itself is not started or stopped (StartExperiment needs an analysis end time, "
                              "StopExperiment a desired state; expbridge does not send them yet)");
      } else {
        skip_value(out, field::action, action,
                   "Evidently has no equivalent of " + std::string(field::action) + " " + quote_value(action));
      }
    }
    skip_if(u.result.has_value(), field::result, out);
    skip_if(u.comment.has_value(), field::comment, out);

    // Feature first: the experiment's treatments serve the feature's variations, so new values land before new weights.
    if (!feature.empty()) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.update_feature, base_url_,
                                   {{"project", options_.project}, {"feature", binding.feature}}, t_.content_type,
                                   boost::json::value(std::move(feature))));
      out.requests.push_back(std::move(request));
    }
    if (!experiment.empty()) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.update_experiment, base_url_,
                                   {{"project", options_.project}, {"experiment", binding.experiment}},
                                   t_.content_type, boost::json::value(std::move(experiment))));
      out.requests.push_back(std::move(request));
    }
    return out;
  }

  Result<AuthSpec> do_auth() const override { return auth_from_table(table(), options_.aws.auth_settings()); }

 private:
  Status plan_variations(const std::vector<Variation>& variations, const EvidentlyBinding& binding,
                         boost::json::object& feature, boost::json::object& experiment, BackendPlan& out,
                         std::vector<std::string>& unsent) const {
    // The feature-wide maximum: the neutral set replaces the whole set, so all of it must fit.
    EXPBRIDGE_RETURN_IF_ERROR(check_count(*t_.variations, variations.size(), field::variations));
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
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.variation, v.key, join_path(index_path(field::variations, i), "key")));
      add.push_back(boost::json::object{{t_.variation_name, v.key},
                                        {t_.variation_value, boost::json::object{{t_.bool_value, v.value->enabled}}}});
      if (v.control) default_key = v.key;
      if (v.description) out.skipped.push_back(Skip{skip_field + ".description", t_.skip_variation_description});
    }
    // addOrUpdateVariations takes 1..5 items: with nothing expressible the member is left out.
    if (!add.empty()) feature[t_.add_or_update_variations] = std::move(add);
    if (default_key) feature[t_.default_variation] = *default_key;

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
      if (!binding.treatments.contains(v.key)) EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.treatment, treatment, path));
      if (weights.contains(treatment))
        return std::unexpected(invalid_field(path, "variation '" + v.key + "' maps to the Evidently treatment '" + treatment +
                                                 "', which another variation already uses; give each its own name "
                                                 "in the binding's treatments"));
      EXPBRIDGE_RETURN_IF_ERROR(check_number(*t_.treatment_weight, static_cast<double>(units[i]),
                                             join_path(index_path(field::variations, i), "weight")));
      weights[treatment] = units[i];
      if (v.control) control_treatment = treatment;
    }
    experiment[t_.online_ab_config] =
        boost::json::object{{t_.control_treatment_name, control_treatment}, {t_.treatment_weights, std::move(weights)}};
    return {};
  }

  Status plan_overrides(const std::vector<std::pair<std::string, std::string>>& overrides,
                        const std::vector<std::string>& unsent, boost::json::object& feature, BackendPlan& out) const {
    EXPBRIDGE_RETURN_IF_ERROR(check_count(*t_.entity_overrides_size, overrides.size(), field::overrides));
    boost::json::object map;
    std::size_t bytes = 0;
    for (const auto& [entity, variation] : overrides) {
      std::string path = join_path(field::overrides, entity);
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.override_entity, entity, path));
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.variation, variation, path));
      bytes += entity.size() + variation.size() + t_.override_entry_bytes;
      map[entity] = variation;
      if (std::find(unsent.begin(), unsent.end(), variation) != unsent.end())
        out.notes.push_back("override " + quote_value(entity) + " -> " + quote_value(variation) +
                            " names a variation this update could not send; Evidently accepts it only if the "
                            "feature already has a variation of that name");
    }
    EXPBRIDGE_RETURN_IF_ERROR(check_bytes(*t_.entity_overrides_size, bytes, field::overrides));
    feature[t_.entity_overrides] = std::move(map);
    return {};
  }

  /// Adds the pass-through members to the UpdateFeature body; true when it now removes variations.
  Result<bool> plan_passthrough(const Update& u, boost::json::object& feature) const {
    std::vector<PassThrough> members;
    EXPBRIDGE_ASSIGN_OR_RETURN(members, passthrough(u));
    bool removes = false;
    for (const auto& member : members) {
      // resolve() made sure removeVariations is the only member the table lists.
      std::string path = join_path(join_path(field::vendor, kVendor), member.member);
      if (!member.value->is_array()) return std::unexpected(invalid_field(path, "must be a list of variation names"));
      const auto& names = member.value->get_array();
      EXPBRIDGE_RETURN_IF_ERROR(check_count(*t_.remove_variations_count, names.size(), path));
      for (std::size_t i = 0; i < names.size(); ++i) {
        std::string item_path = index_path(path, i);
        if (!names[i].is_string())
          return std::unexpected(
              invalid_field(item_path, "must be a variation name (a string), found " + std::string(json_kind(names[i]))));
        std::string_view name = names[i].get_string();
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.variation, name, item_path));
        // Adding and removing one name in the same UpdateFeature has no documented outcome.
        if (u.variations)
          for (const auto& v : *u.variations)
            if (v.key == name)
              return std::unexpected(invalid_field(item_path, quote_value(name) +
                                                            " is also in this update's variations; keep it or "
                                                            "remove it, not both"));
        if (u.overrides)
          for (const auto& [entity, variation] : *u.overrides)
            if (variation == name)
              return std::unexpected(invalid_field(item_path, quote_value(name) + " is served to override " +
                                                            quote_value(entity) + " in this update; it cannot be removed as well"));
      }
      if (!names.empty()) {
        feature[t_.remove_variations] = names;
        removes = true;
      }
    }
    return removes;
  }

  EvidentlyTable t_;
  EvidentlyOptions options_;
  std::string base_url_;
};

Result<std::unique_ptr<Adapter>> make_evidently(const BackendContext& context) {
  EvidentlyTable resolved;
  EXPBRIDGE_ASSIGN_OR_RETURN(resolved, EvidentlyTable::resolve(*context.table));
  BackendSettings settings;
  EXPBRIDGE_ASSIGN_OR_RETURN(settings, read_settings(context, {{"region", "region"},
                                                               {"project", "project"},
                                                               {"profile", "profile", false}}));
  EvidentlyOptions options{AwsOptions::from(settings), settings.value("project")};
  EXPBRIDGE_RETURN_IF_ERROR(refuse_path_changing(options.project, settings.setting("project")));
  std::string base_url;
  EXPBRIDGE_ASSIGN_OR_RETURN(base_url, aws_base_url(context, options.aws));
  return std::unique_ptr<Adapter>(
      std::make_unique<EvidentlyAdapter>(context, std::move(resolved), std::move(options), std::move(base_url)));
}

}  // namespace

Result<std::unique_ptr<Adapter>> make_evidently_adapter(const BackendContext& context) { return make_evidently(context); }

}  // namespace expbridge
