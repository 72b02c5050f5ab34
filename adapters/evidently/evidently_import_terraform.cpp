// Terraform state v4: the AWS provider's aws_evidently_{project,feature,launch,segment} (it never
// had an experiment resource) and the Cloud Control provider's awscc_evidently_*, attributes as
// each provider writes them (snake_case; the AWS provider keeps nested blocks as lists and its
// nullable variation values as strings, Cloud Control keeps typed values and lists of objects).
#include <array>
#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "evidently/evidently_import.hpp"
#include "json_writer.hpp"
#include "message_text.hpp"

namespace expbridge::evidently_import {
namespace {

enum class Provider { aws, awscc };

/// `[{key, value}]` (Cloud Control) and `{key: value}` (AWS) both hold tags; either is lost.
void lose_tags(MemberWalk& w, const char* field) {
  w.lose("tags", field, "tags");
  w.derived({"tags_all"});  // the AWS provider's tags plus the provider's default tags
}

/// The AWS provider's `value: [{bool_value, long_value, double_value, string_value}]`: nullable
/// values kept as strings, "" for unset; with none of the first three set it is a string value.
Result<std::optional<SavedValue>> aws_value(const Document& doc, const boost::json::value* v, const std::string& path) {
  if (v == nullptr) return std::optional<SavedValue>();
  const auto* list = v->if_array();
  const auto* o = list && list->size() == 1 ? list->front().if_object() : nullptr;
  if (o == nullptr) return std::unexpected(doc.error_at(path, "must be a list of one {bool_value, long_value, double_value, string_value}"));
  auto text = [&](const char* key) -> std::string {
    const auto* m = o->if_contains(key);
    return m && m->is_string() ? std::string(m->get_string()) : std::string();
  };
  const std::string item = index_path(path, 0);
  if (auto b = text("bool_value"); !b.empty()) {
    if (b != "true" && b != "false") return std::unexpected(doc.error_at(join_path(item, "bool_value"), "must be \"true\" or \"false\""));
    return std::optional<SavedValue>(SavedValue{"boolValue", boost::json::value(b == "true")});
  }
  for (auto [key, type] : {std::pair{"long_value", "longValue"}, std::pair{"double_value", "doubleValue"}}) {
    const std::string t = text(key);
    if (t.empty()) continue;
    double d = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (ec != std::errc{} || end != t.data() + t.size())
      return std::unexpected(doc.error_at(join_path(item, key), "must be a number written as text, found " + quote_value(t)));
    return std::optional<SavedValue>(SavedValue{type, boost::json::value(d)});
  }
  return std::optional<SavedValue>(SavedValue{"stringValue", boost::json::value(text("string_value"))});
}

/// Cloud Control's variation: `{variation_name, boolean_value | long_value | double_value | string_value}`.
Result<SavedVariation> awscc_variation(const Document& doc, const boost::json::value& v, const std::string& path,
                                       const char* name_key, const std::array<std::pair<const char*, const char*>, 4>& members) {
  const auto* o = v.if_object();
  const auto* name = o ? o->if_contains(name_key) : nullptr;
  if (!name || !name->is_string()) return std::unexpected(doc.error_at(path, std::string("a variation needs ") + name_key));
  SavedVariation out{std::string(name->get_string()), std::nullopt};
  for (auto [key, type] : members) {
    const auto* m = o->if_contains(key);
    if (m == nullptr || m->is_null()) continue;
    if (out.value) return std::unexpected(doc.error_at(join_path(path, key), "a variation holds one value; this is a second"));
    out.value = SavedValue{type, *m};
  }
  return out;
}

constexpr std::array<std::pair<const char*, const char*>, 4> kAwsccValues = {
    std::pair{"boolean_value", "boolValue"}, std::pair{"long_value", "longValue"}, std::pair{"double_value", "doubleValue"},
    std::pair{"string_value", "stringValue"}};

Status read_feature(const Document& doc, const boost::json::object& a, const std::string& path, Provider provider,
                    Inventory& out) {
  SavedFeature f;
  MemberWalk w(doc, a, path, f.losses);
  EXPBRIDGE_RETURN_IF_ERROR(w.identity(f.source, f.name, f.project, f.description));
  EXPBRIDGE_ASSIGN_OR_RETURN(f.default_variation, w.string("default_variation"));
  EXPBRIDGE_ASSIGN_OR_RETURN(f.evaluation_strategy, w.string("evaluation_strategy"));
  w.derived({"id", "created_time", "last_updated_time", "status", "value_type", "evaluation_rules", "timeouts"});
  f.variations.emplace();
  if (const auto* list = w.take("variations")) {
    if (!list->is_array()) return std::unexpected(w.error("variations", "must be a list"));
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      const std::string item = index_path(w.path("variations"), i);
      const auto& v = list->get_array()[i];
      if (provider == Provider::awscc) {
        SavedVariation sv;
        EXPBRIDGE_ASSIGN_OR_RETURN(sv, awscc_variation(doc, v, item, "variation_name", kAwsccValues));
        f.variations->push_back(std::move(sv));
        continue;
      }
      const auto* o = v.if_object();
      const auto* name = o ? o->if_contains("name") : nullptr;
      if (!name || !name->is_string()) return std::unexpected(doc.error_at(item, "a variation needs a name"));
      std::optional<SavedValue> value;
      EXPBRIDGE_ASSIGN_OR_RETURN(value, aws_value(doc, o->if_contains("value"), join_path(item, "value")));
      f.variations->push_back(SavedVariation{std::string(name->get_string()), std::move(value)});
    }
  }
  if (const auto* overrides = w.take("entity_overrides")) {
    f.overrides.emplace();
    if (provider == Provider::aws && overrides->is_object()) {
      for (const auto& m : overrides->get_object()) {
        if (!m.value().is_string())
          return std::unexpected(doc.error_at(join_path(w.path("entity_overrides"), m.key()), "must name a variation"));
        f.overrides->emplace_back(std::string(m.key()), std::string(m.value().get_string()));
      }
    } else if (provider == Provider::awscc && overrides->is_array()) {
      for (std::size_t i = 0; i < overrides->get_array().size(); ++i) {
        const auto* o = overrides->get_array()[i].if_object();
        const auto* id = o ? o->if_contains("entity_id") : nullptr;
        const auto* variation = o ? o->if_contains("variation") : nullptr;
        if (!id || !id->is_string() || !variation || !variation->is_string())
          return std::unexpected(doc.error_at(index_path(w.path("entity_overrides"), i), "an override is {entity_id, variation}"));
        f.overrides->emplace_back(std::string(id->get_string()), std::string(variation->get_string()));
      }
    } else {
      return std::unexpected(w.error("entity_overrides", provider == Provider::aws ? "must be a map of entity id to variation"
                                                                                   : "must be a list of {entity_id, variation}"));
    }
  }
  lose_tags(w, "evidently.feature.tags");
  w.finish("feature.");
  out.features.push_back(std::move(f));
  return {};
}

/// Only Cloud Control has an experiment resource.
Status read_experiment(const Document& doc, const boost::json::object& a, const std::string& path, Inventory& out) {
  SavedExperiment x;
  MemberWalk w(doc, a, path, x.losses);
  EXPBRIDGE_RETURN_IF_ERROR(w.identity(x.source, x.name, x.project, x.description));
  EXPBRIDGE_ASSIGN_OR_RETURN(x.sampling_rate, w.number("sampling_rate"));
  w.derived({"id", "remove_segment"});
  if (const auto* list = w.take("treatments")) {
    if (!list->is_array()) return std::unexpected(w.error("treatments", "must be a list"));
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      const std::string item = index_path(w.path("treatments"), i);
      const auto* o = list->get_array()[i].if_object();
      auto text = [&](const char* key) {
        const auto* m = o ? o->if_contains(key) : nullptr;
        return m && m->is_string() ? std::optional<std::string>(std::string(m->get_string())) : std::nullopt;
      };
      auto name = text("treatment_name"), feature = text("feature"), variation = text("variation");
      if (!name || !feature || !variation)
        return std::unexpected(doc.error_at(item, "a treatment needs treatment_name, feature and variation"));
      x.treatments.push_back(SavedTreatment{*name, feature_name(*feature), *variation, text("description"), {}});
    }
  }
  if (const auto* ab = w.take("online_ab_config")) {
    const auto* o = ab->if_object();
    if (o == nullptr) return std::unexpected(w.error("online_ab_config", "must be an object"));
    if (const auto* c = o->if_contains("control_treatment_name"); c && c->is_string()) x.control = std::string(c->get_string());
    if (const auto* weights = o->if_contains("treatment_weights"); weights && weights->is_array()) {
      x.weights.emplace();
      for (std::size_t i = 0; i < weights->get_array().size(); ++i) {
        const auto* item = weights->get_array()[i].if_object();
        const auto* t = item ? item->if_contains("treatment") : nullptr;
        const auto* split = item ? item->if_contains("split_weight") : nullptr;
        if (!t || !t->is_string() || !split || !split->is_number())
          return std::unexpected(doc.error_at(index_path(join_path(w.path("online_ab_config"), "treatment_weights"), i),
                                              "a weight is {treatment, split_weight}"));
        x.weights->emplace_back(std::string(t->get_string()), split->to_number<double>());
      }
    }
  }
  // running_status {status: START|STOP, desired_state, reason, analysis_complete_time}.
  if (const auto* rs = w.take("running_status")) {
    const auto* o = rs->if_object();
    if (o == nullptr) return std::unexpected(w.error("running_status", "must be an object"));
    auto text = [&](const char* key) {
      const auto* m = o->if_contains(key);
      return m && m->is_string() ? std::string(m->get_string()) : std::string();
    };
    const std::string status = text("status");
    if (status == "START") {
      x.status = "RUNNING";
    } else if (status == "STOP") {
      x.status = text("desired_state").empty() ? "COMPLETED" : text("desired_state");
      if (!text("reason").empty()) x.status_reason = text("reason");
    } else if (!status.empty()) {
      return std::unexpected(doc.error_at(join_path(w.path("running_status"), "status"), "must be START or STOP"));
    }
    if (!text("analysis_complete_time").empty())
      x.losses.push_back(SavedLoss{"evidently.schedule", "schedule", w.where("running_status"), ""});
  }
  w.lose("metric_goals", "evidently.metricGoals", "metric_goals");
  w.lose("segment", "evidently.segment", "segment");
  w.lose("randomization_salt", "evidently.randomizationSalt", "randomization_salt");
  lose_tags(w, "evidently.tags");
  w.finish("");
  out.experiments.push_back(std::move(x));
  return {};
}

Status read_launch(const Document& doc, const boost::json::object& a, const std::string& path, Provider provider,
                   Inventory& out) {
  SavedLaunch l;
  l.source = where(doc, path);
  const auto* name = a.if_contains("name");
  const auto* project = a.if_contains("project");
  if (!name || !name->is_string() || !project || !project->is_string())
    return std::unexpected(doc.error_at(path, "a launch needs name and project"));
  l.name = std::string(name->get_string());
  l.project = project_name(project->get_string());
  (void)provider;  // both providers name a group's feature `feature`
  if (const auto* groups = a.if_contains("groups"); groups && groups->is_array())
    for (const auto& g : groups->get_array())
      if (const auto* f = g.is_object() ? g.get_object().if_contains("feature") : nullptr; f && f->is_string())
        l.features.push_back(feature_name(f->get_string()));
  out.launches.push_back(std::move(l));
  return {};
}

}  // namespace

Status read_cloud_control_resource(const Document& doc, std::string_view kind, const boost::json::object& attributes,
                                   const std::string& path, Inventory& out) {
  if (kind == "feature") return read_feature(doc, attributes, path, Provider::awscc, out);
  if (kind == "experiment") return read_experiment(doc, attributes, path, out);
  if (kind == "launch") return read_launch(doc, attributes, path, Provider::awscc, out);
  return std::unexpected(doc.error_at(path, "is no Evidently feature, experiment or launch"));
}

Status read_terraform_state(const Document& doc, Inventory& out) {
  const auto& root = doc.root.get_object();
  const auto* version = root.if_contains("version");
  if (!version || !version->is_int64() || version->get_int64() != 4) {
    const bool older = version && version->is_int64() && version->get_int64() < 4;
    return std::unexpected(doc.error_at(
        "version", "is Terraform state version " + (version ? write_json(*version) : std::string("(none)")) +
                       "; expbridge reads state version 4 (Terraform 0.12 and later)" +
                       (older ? ": `terraform state pull` with Terraform 0.12 or later upgrades it"
                              : ", and knows no other format")));
  }
  const auto* resources = root.if_contains("resources");
  if (!resources || !resources->is_array()) return std::unexpected(doc.error_at("resources", "must be a list"));
  std::size_t others = 0;
  for (std::size_t i = 0; i < resources->get_array().size(); ++i) {
    const std::string rpath = index_path("resources", i);
    const auto* r = resources->get_array()[i].if_object();
    const auto* type = r ? r->if_contains("type") : nullptr;
    if (!type || !type->is_string()) return std::unexpected(doc.error_at(rpath, "a resource needs a type"));
    const std::string t(type->get_string());
    Provider provider;
    std::string kind;
    if (t.starts_with("aws_evidently_")) {
      provider = Provider::aws;
      kind = t.substr(14);
    } else if (t.starts_with("awscc_evidently_")) {
      provider = Provider::awscc;
      kind = t.substr(16);
    } else {
      ++others;
      continue;
    }
    const auto* mode = r->if_contains("mode");
    if (mode && mode->is_string() && mode->get_string() != "managed") {
      out.notes.push_back({where(doc, rpath), "data source " + t + " is not a resource Terraform manages; not imported"});
      continue;
    }
    const auto* instances = r->if_contains("instances");
    if (!instances || !instances->is_array()) return std::unexpected(doc.error_at(join_path(rpath, "instances"), "must be a list"));
    for (std::size_t j = 0; j < instances->get_array().size(); ++j) {
      const std::string ipath = join_path(index_path(join_path(rpath, "instances"), j), "attributes");
      const auto* inst = instances->get_array()[j].if_object();
      const auto* attributes = inst ? inst->if_contains("attributes") : nullptr;
      if (!attributes || !attributes->is_object())
        return std::unexpected(doc.error_at(ipath, "an instance needs attributes (state version 4 keeps them as JSON)"));
      const auto& a = attributes->get_object();
      if (kind == "feature") {
        EXPBRIDGE_RETURN_IF_ERROR(read_feature(doc, a, ipath, provider, out));
      } else if (kind == "experiment" && provider == Provider::awscc) {
        EXPBRIDGE_RETURN_IF_ERROR(read_experiment(doc, a, ipath, out));
      } else if (kind == "launch") {
        EXPBRIDGE_RETURN_IF_ERROR(read_launch(doc, a, ipath, provider, out));
      } else if (kind == "project" || kind == "segment") {
        // A project holds experiments' settings of no neutral field (data delivery, AppConfig
        // resource); a segment's pattern is lost on the experiments that name it.
        const auto* name = a.if_contains("name");
        out.notes.push_back({where(doc, ipath), t + " " + quote_value(name && name->is_string() ? std::string(name->get_string())
                                                                                                : std::string()) +
                                                    ": a " + kind + " has no neutral counterpart; not imported"});
      } else {
        return std::unexpected(doc.error_at(join_path(rpath, "type"), "is no Evidently resource type expbridge knows"));
      }
    }
  }
  if (others > 0)
    out.notes.push_back({doc.source, std::to_string(others) + " resource(s) of other types skipped"});
  return {};
}

}  // namespace expbridge::evidently_import
