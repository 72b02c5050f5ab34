// AWS CLI / SDK JSON of Evidently: get-* objects, their `feature`/`experiment`/... envelopes,
// and list-* pages (`features`/`experiments`/... arrays with `nextToken`), members as the API
// names them (camelCase).
#include "evidently/evidently_import.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "json_reader.hpp"
#include "message_text.hpp"

namespace expbridge::evidently_import {
namespace {

Result<SavedValue> variable_value(const Document& doc, const boost::json::value& v, const std::string& path) {
  const auto* o = v.if_object();
  if (o == nullptr || o->size() != 1)
    return std::unexpected(doc.error_at(path, "a variation value is an object of exactly one of boolValue, longValue, "
                                              "doubleValue, stringValue"));
  const auto& member = *o->begin();
  const std::string type(member.key());
  const auto& value = member.value();
  const bool ok = (type == "boolValue" && value.is_bool()) ||
                  ((type == "longValue" || type == "doubleValue") && value.is_number()) ||
                  (type == "stringValue" && value.is_string());
  if (!ok) return std::unexpected(doc.error_at(join_path(path, type), "is not a VariableValue member of its type"));
  return SavedValue{type, value};
}

Status read_feature(const Document& doc, const boost::json::value& v, const std::string& path, Inventory& out) {
  if (!v.is_object()) return std::unexpected(doc.error_at(path, "a feature must be an object"));
  SavedFeature f;
  MemberWalk w(doc, v.get_object(), path, f.losses);
  EXPBRIDGE_RETURN_IF_ERROR(w.identity(f.source, f.name, f.project, f.description));
  EXPBRIDGE_ASSIGN_OR_RETURN(f.default_variation, w.string("defaultVariation"));
  EXPBRIDGE_ASSIGN_OR_RETURN(f.evaluation_strategy, w.string("evaluationStrategy"));
  // Derived by Evidently: status (AVAILABLE/UPDATING), times, the value type, and the rules
  // (one per launch or experiment, which are read from their own resources).
  w.derived({"status", "createdTime", "lastUpdatedTime", "valueType", "evaluationRules"});
  if (const auto* list = w.take("variations")) {
    if (!list->is_array()) return std::unexpected(w.error("variations", "must be a list"));
    f.variations.emplace();
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      const std::string item = index_path(w.path("variations"), i);
      const auto* o = list->get_array()[i].if_object();
      const auto* name = o ? o->if_contains("name") : nullptr;
      if (!name || !name->is_string()) return std::unexpected(doc.error_at(item, "a variation needs a name"));
      SavedVariation sv{std::string(name->get_string()), std::nullopt};
      if (const auto* value = o->if_contains("value")) {
        SavedValue parsed;
        EXPBRIDGE_ASSIGN_OR_RETURN(parsed, variable_value(doc, *value, join_path(item, "value")));
        sv.value = std::move(parsed);
      }
      f.variations->push_back(std::move(sv));
    }
  } else if (const auto* raw = v.get_object().if_contains("variations"); raw && raw->is_array()) {
    f.variations.emplace();  // an empty list, which a full feature never holds but is no summary
  }
  if (const auto* overrides = w.take("entityOverrides")) {
    if (!overrides->is_object()) return std::unexpected(w.error("entityOverrides", "must be a map of entity id to variation"));
    f.overrides.emplace();
    for (const auto& m : overrides->get_object()) {
      if (!m.value().is_string())
        return std::unexpected(doc.error_at(join_path(w.path("entityOverrides"), m.key()), "must name a variation"));
      f.overrides->emplace_back(std::string(m.key()), std::string(m.value().get_string()));
    }
  }
  w.lose("tags", "evidently.feature.tags", "tags");
  w.finish("feature.");
  out.features.push_back(std::move(f));
  return {};
}

Status read_experiment(const Document& doc, const boost::json::value& v, const std::string& path, Inventory& out) {
  if (!v.is_object()) return std::unexpected(doc.error_at(path, "an experiment must be an object"));
  SavedExperiment x;
  MemberWalk w(doc, v.get_object(), path, x.losses);
  EXPBRIDGE_RETURN_IF_ERROR(w.identity(x.source, x.name, x.project, x.description));
  EXPBRIDGE_ASSIGN_OR_RETURN(x.status, w.string("status"));
  EXPBRIDGE_ASSIGN_OR_RETURN(x.status_reason, w.string("statusReason"));
  EXPBRIDGE_ASSIGN_OR_RETURN(x.sampling_rate, w.number("samplingRate"));
  w.derived({"createdTime", "lastUpdatedTime", "type"});
  if (const auto* list = w.take("treatments")) {
    if (!list->is_array()) return std::unexpected(w.error("treatments", "must be a list"));
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      const std::string item = index_path(w.path("treatments"), i);
      const auto* o = list->get_array()[i].if_object();
      const auto* name = o ? o->if_contains("name") : nullptr;
      const auto* fv = o ? o->if_contains("featureVariations") : nullptr;
      if (!name || !name->is_string() || !fv || !fv->is_object() || fv->get_object().empty())
        return std::unexpected(doc.error_at(item, "a treatment needs a name and featureVariations {feature: variation}"));
      SavedTreatment t;
      t.name = std::string(name->get_string());
      for (const auto& m : fv->get_object()) {
        if (!m.value().is_string())
          return std::unexpected(doc.error_at(join_path(join_path(item, "featureVariations"), m.key()), "must name a variation"));
        if (t.feature.empty()) {
          t.feature = feature_name(m.key());
          t.variation = std::string(m.value().get_string());
        } else {
          t.other_features.emplace_back(feature_name(m.key()), std::string(m.value().get_string()));
        }
      }
      if (const auto* d = o->if_contains("description"); d && d->is_string()) t.description = std::string(d->get_string());
      x.treatments.push_back(std::move(t));
    }
  }
  if (const auto* ab = w.take("onlineAbDefinition")) {
    if (!ab->is_object()) return std::unexpected(w.error("onlineAbDefinition", "must be an object"));
    const auto& o = ab->get_object();
    if (const auto* c = o.if_contains("controlTreatmentName"); c && c->is_string()) x.control = std::string(c->get_string());
    if (const auto* weights = o.if_contains("treatmentWeights")) {
      if (!weights->is_object())
        return std::unexpected(doc.error_at(join_path(w.path("onlineAbDefinition"), "treatmentWeights"), "must be a map"));
      x.weights.emplace();
      for (const auto& m : weights->get_object()) {
        if (!m.value().is_number())
          return std::unexpected(doc.error_at(join_path(join_path(w.path("onlineAbDefinition"), "treatmentWeights"), m.key()),
                                              "must be a number (thousandths of a percent)"));
        x.weights->emplace_back(std::string(m.key()), m.value().to_number<double>());
      }
    }
  }
  w.lose("metricGoals", "evidently.metricGoals", "metric_goals");
  w.lose("segment", "evidently.segment", "segment");
  w.lose("randomizationSalt", "evidently.randomizationSalt", "randomization_salt");
  w.lose("tags", "evidently.tags", "tags");
  w.lose("schedule", "evidently.schedule", "schedule");
  w.lose("execution", "evidently.execution", "execution");
  w.finish("");
  out.experiments.push_back(std::move(x));
  return {};
}

Status read_launch(const Document& doc, const boost::json::value& v, const std::string& path, Inventory& out) {
  if (!v.is_object()) return std::unexpected(doc.error_at(path, "a launch must be an object"));
  SavedLaunch l;
  l.source = where(doc, path);
  const auto& o = v.get_object();
  if (const auto* n = o.if_contains("name"); n && n->is_string()) l.name = std::string(n->get_string());
  if (l.name.empty()) return std::unexpected(doc.error_at(path, "a launch needs a name"));
  const auto* p = o.if_contains("project");
  if (!p || !p->is_string()) p = o.if_contains("arn");
  if (p && p->is_string()) l.project = project_name(p->get_string());
  // A launch has no neutral counterpart at all: it is reported lost whole on the experiments
  // of the features its groups serve; only those features are read.
  if (const auto* groups = o.if_contains("groups"); groups && groups->is_array())
    for (const auto& g : groups->get_array())
      if (const auto* fv = g.is_object() ? g.get_object().if_contains("featureVariations") : nullptr; fv && fv->is_object())
        for (const auto& m : fv->get_object()) l.features.push_back(feature_name(m.key()));
  out.launches.push_back(std::move(l));
  return {};
}

Status read_project(const Document& doc, const boost::json::value& v, const std::string& path, Inventory& out) {
  if (!v.is_object()) return std::unexpected(doc.error_at(path, "a project must be an object"));
  const auto& o = v.get_object();
  std::vector<std::string> settings;
  for (const char* key : {"dataDelivery", "appConfigResource", "tags"})
    if (const auto* m = o.if_contains(key); m && !is_empty_value(*m)) settings.emplace_back(key);
  if (!settings.empty()) {
    std::string list;
    for (const auto& s : settings) list += (list.empty() ? "" : ", ") + s;
    const auto* name = o.if_contains("name");
    out.notes.push_back({where(doc, path), "project " + (name && name->is_string() ? quote_value(name->get_string()) : std::string("?")) +
                                               ": " + list + " are project settings, which no experiment carries"});
  }
  return {};
}

using Reader = Status (*)(const Document&, const boost::json::value&, const std::string&, Inventory&);

/// Which reader an object without an envelope needs, from its ARN (`…/feature/…`) or members.
Reader reader_for_object(const boost::json::object& o) {
  if (const auto* arn = o.if_contains("arn"); arn && arn->is_string()) {
    const auto& s = arn->get_string();
    const std::string_view a(s.data(), s.size());
    if (a.find("/feature/") != std::string_view::npos) return read_feature;
    if (a.find("/experiment/") != std::string_view::npos) return read_experiment;
    if (a.find("/launch/") != std::string_view::npos) return read_launch;
    if (a.find(":project/") != std::string_view::npos) return read_project;
  }
  return nullptr;
}

}  // namespace

Status read_cli_json(const Document& doc, Inventory& out) {
  const auto& root = doc.root.get_object();
  struct Envelope {
    const char* single;
    const char* list;
    Reader reader;
  };
  static const Envelope kEnvelopes[] = {{"feature", "features", read_feature},
                                        {"experiment", "experiments", read_experiment},
                                        {"launch", "launches", read_launch},
                                        {"project", "projects", read_project}};
  // A resource object itself (SDK output, or one item of a page saved alone) has a name or an
  // ARN; an answer of the CLI wraps resources in envelopes and pages.
  if (root.contains("name") || root.contains("arn")) {
    Reader reader = reader_for_object(root);
    if (reader == nullptr)
      return std::unexpected(doc.error_at("arn", "is the ARN of no Evidently feature, experiment, launch or project"));
    return reader(doc, doc.root, "", out);
  }
  bool any = false;
  for (const auto& e : kEnvelopes) {
    if (const auto* one = root.if_contains(e.single)) {
      any = true;
      EXPBRIDGE_RETURN_IF_ERROR(e.reader(doc, *one, e.single, out));
    }
    if (const auto* list = root.if_contains(e.list)) {
      any = true;
      if (!list->is_array()) return std::unexpected(doc.error_at(e.list, "a list page holds a list"));
      for (std::size_t i = 0; i < list->get_array().size(); ++i)
        EXPBRIDGE_RETURN_IF_ERROR(e.reader(doc, list->get_array()[i], index_path(e.list, i), out));
    }
  }
  if (any) {
    for (const auto& m : root) {
      const bool known = m.key() == "nextToken" || std::any_of(std::begin(kEnvelopes), std::end(kEnvelopes), [&](const Envelope& e) {
                           return m.key() == e.single || m.key() == e.list;
                         });
      if (!known) return std::unexpected(doc.error_at(std::string(m.key()), "is no member of an Evidently CLI/SDK answer"));
    }
    if (const auto* token = root.if_contains("nextToken"); token && token->is_string() && !token->get_string().empty())
      out.notes.push_back({where(doc, "nextToken"), "this list page has a nextToken: more pages follow; import them too"});
    return {};
  }
  return std::unexpected(doc.error_at("", "holds no Evidently feature, experiment, launch or project"));
}

}  // namespace expbridge::evidently_import
