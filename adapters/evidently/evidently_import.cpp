#include "evidently/evidently_import.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "json_reader.hpp"
#include "filtered_json.hpp"
#include "message_text.hpp"
#include "tagged_document.hpp"

namespace expbridge::evidently_import {
namespace {

/// Every `import.rules` id the conversion names; checked against the table before anything is read.
constexpr std::string_view kRules[] = {
    "weights_thousandths", "weights_unset",  "sampling_rate_thousandths", "typed_value",     "control_treatment",
    "experiment_status",   "evaluation_strategy", "feature_default_weights", "launch",       "metric_goals",
    "segment",             "randomization_salt",  "tags",                    "schedule",     "execution",
    "feature_description", "variation_unused",    "override_unused",         "extra_feature", "unknown_member",
    "unresolved_reference", "strategy_default_variation",
};

std::string number_text(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  (void)ec;  // 32 bytes hold any double's shortest form
  return std::string(buf, end);
}

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(separator) : std::string()) + parts[i];
  return out;
}

/// The kind of a file, told from its content.
enum class FileKind { cli_json, terraform_state, cloudformation, unknown };

bool is_evidently_arn(std::string_view s) { return s.starts_with("arn:") && s.find(":evidently:") != std::string_view::npos; }

FileKind kind_of(const boost::json::value& root) {
  const auto* o = root.if_object();
  if (o == nullptr) return FileKind::unknown;
  if (o->contains("terraform_version") || (o->contains("version") && o->contains("resources") && o->contains("lineage")))
    return FileKind::terraform_state;
  if (o->contains("AWSTemplateFormatVersion") || o->contains("Resources")) return FileKind::cloudformation;
  for (const char* key : {"feature", "experiment", "launch", "project", "features", "experiments", "launches", "projects"})
    if (o->contains(key)) return FileKind::cli_json;
  if (const auto* arn = o->if_contains("arn"); arn && arn->is_string() && is_evidently_arn(arn->get_string()))
    return FileKind::cli_json;
  return FileKind::unknown;
}

class Converter {
 public:
  Converter(const ImportOptions& options, Inventory& inventory, ImportResult& out)
      : table_(*options.table), options_(options), inv_(inventory), out_(out) {}

  Status run() {
    EXPBRIDGE_ASSIGN_OR_RETURN(value_attribute_, table_.enum_value("read_value", "attribute"));
    EXPBRIDGE_ASSIGN_OR_RETURN(percent_, table_.scale("percent"));
    merge_features();
    // Features by project and name; features an experiment runs on.
    std::map<std::pair<std::string, std::string>, const SavedFeature*> features;
    for (const auto& f : inv_.features) features.emplace(std::pair{f.project, f.name}, &f);
    std::set<std::pair<std::string, std::string>> used;
    struct Pending {
      std::string name, project;
      const SavedExperiment* experiment = nullptr;
      const SavedFeature* feature = nullptr;
    };
    std::vector<Pending> pending;
    for (const auto& x : inv_.experiments) {
      Pending p{x.name, x.project, &x, nullptr};
      if (!x.treatments.empty()) {
        auto it = features.find({x.project, x.treatments.front().feature});
        if (it != features.end()) p.feature = it->second;
        used.insert({x.project, x.treatments.front().feature});
      }
      pending.push_back(p);
    }
    for (const auto& f : inv_.features)
      if (!used.contains({f.project, f.name})) pending.push_back(Pending{f.name, f.project, nullptr, &f});

    // Keys: the Evidently name; where two share one (two projects, or a feature alone named as an
    // experiment), each becomes `<project>.<name>`.
    std::map<std::string, int> count;
    for (const auto& p : pending) ++count[p.name];
    std::set<std::string> taken;
    for (auto& p : pending) {
      std::string key = count[p.name] > 1 || p.name == "bindings" ? p.project + "." + p.name : p.name;
      if (!taken.insert(key).second) {
        Error e = make_error(ErrorCode::invalid_input,
                             "two experiments of project " + quote_value(p.project) + " would both be " + quote_value(key) +
                                 " (an experiment and a feature without an experiment share the name); rename one");
        e.file = p.experiment ? p.experiment->source : p.feature->source;
        return std::unexpected(std::move(e));
      }
      ImportedExperiment imported;
      imported.key = key;
      if (p.experiment) {
        EXPBRIDGE_RETURN_IF_ERROR(convert_experiment(*p.experiment, p.feature, imported));
      } else {
        EXPBRIDGE_RETURN_IF_ERROR(convert_feature_alone(*p.feature, imported));
      }
      out_.experiments.push_back(std::move(imported));
    }
    std::sort(out_.experiments.begin(), out_.experiments.end(),
              [](const ImportedExperiment& a, const ImportedExperiment& b) { return a.key < b.key; });
    // The report in key order too, each experiment's fields in the order they were looked at.
    std::stable_sort(out_.losses.fields.begin(), out_.losses.fields.end(),
                     [](const FieldCarriage& a, const FieldCarriage& b) { return a.experiment < b.experiment; });
    out_.notes.insert(out_.notes.end(), inv_.notes.begin(), inv_.notes.end());
    return {};
  }

 private:
  /// One feature seen in several files (a tfstate and a get-feature): the first full one is
  /// kept; a summary gives way to a full one.
  void merge_features() {
    std::vector<SavedFeature> merged;
    for (auto& f : inv_.features) {
      auto it = std::find_if(merged.begin(), merged.end(),
                             [&](const SavedFeature& m) { return m.project == f.project && m.name == f.name; });
      if (it == merged.end()) {
        merged.push_back(std::move(f));
      } else if (!it->variations && f.variations) {
        inv_.notes.push_back({it->source, "feature " + quote_value(f.name) + ": this summary gives way to the full feature at " + f.source});
        *it = std::move(f);
      } else {
        inv_.notes.push_back({f.source, "feature " + quote_value(f.name) + " of project " + quote_value(f.project) +
                                            " was read already from " + it->source + "; this copy is not used"});
      }
    }
    inv_.features = std::move(merged);
    // The same experiment in two files (a get-experiment and a list page): the first is kept.
    std::vector<SavedExperiment> experiments;
    for (auto& x : inv_.experiments) {
      auto it = std::find_if(experiments.begin(), experiments.end(),
                             [&](const SavedExperiment& m) { return m.project == x.project && m.name == x.name; });
      if (it == experiments.end()) {
        experiments.push_back(std::move(x));
      } else {
        inv_.notes.push_back({x.source, "experiment " + quote_value(x.name) + " of project " + quote_value(x.project) +
                                            " was read already from " + it->source + "; this copy is not used"});
      }
    }
    inv_.experiments = std::move(experiments);
    for (const auto& f : inv_.features)
      if (!f.variations)
        inv_.notes.push_back({f.source, "feature " + quote_value(f.name) +
                                            " is a list-features summary (FeatureSummary), which holds no variations "
                                            "and no entityOverrides: import `aws evidently get-feature` output for them"});
  }

  void carried(const std::string& key, std::string field, const std::string& source) {
    out_.losses.fields.push_back(FieldCarriage{key, std::move(field), Carriage::carried, "", "", "", "", source});
  }
  void converted(const std::string& key, std::string field, std::string_view rule, std::string from, std::string to,
                 const std::string& source) {
    out_.losses.fields.push_back(FieldCarriage{key, std::move(field), Carriage::converted, "evidently." + std::string(rule),
                                               std::move(from), std::move(to), "", source});
  }
  void lost(const std::string& key, const SavedLoss& loss) {
    auto rule = options_.rule(loss.rule);
    std::string reason = rule ? (*rule)->reason : std::string();
    if (!loss.detail.empty()) reason += " (" + loss.detail + ")";
    out_.losses.fields.push_back(
        FieldCarriage{key, loss.field, Carriage::lost, "evidently." + loss.rule, "", "", std::move(reason), loss.source});
  }

  /// A VariableValue in neutral terms: boolValue is `enabled`; a long, double or string is served
  /// as is, so it is `enabled: true` with one attribute holding it (as the adapter's read does).
  VariationValue neutral_value(const SavedValue& v) const {
    VariationValue out;
    out.enabled = true;
    if (v.type == "boolValue") {
      out.enabled = v.value.is_bool() && v.value.get_bool();
    } else if (v.value.is_string()) {
      out.attributes.emplace_back(value_attribute_, std::string(v.value.get_string()));
    } else if (v.value.is_number()) {
      out.attributes.emplace_back(value_attribute_, v.value.to_number<double>());
    }
    return out;
  }

  std::string saved_value_text(const SavedValue& v) const {
    if (v.value.is_string()) return v.type + " " + quote_value(v.value.get_string());
    if (v.value.is_bool()) return v.type + (v.value.get_bool() ? " true" : " false");
    return v.type + " " + number_text(v.value.to_number<double>());
  }

  std::string neutral_value_text(const VariationValue& v) const {
    std::string out = v.enabled ? "enabled true" : "enabled false";
    for (const auto& [name, value] : v.attributes) {
      out += ", attributes." + name + " ";
      if (const auto* s = std::get_if<std::string>(&value)) out += quote_value(*s);
      if (const auto* d = std::get_if<double>(&value)) out += number_text(*d);
    }
    return out;
  }

  /// The values of `variations` from the feature's, with one `typed_value` entry for all.
  void convert_values(const std::string& key, const SavedFeature& feature, std::vector<Variation>& variations) {
    if (!feature.variations) return;
    std::vector<std::string> from, to;
    for (auto& v : variations) {
      auto it = std::find_if(feature.variations->begin(), feature.variations->end(),
                             [&](const SavedVariation& s) { return s.name == v.key; });
      if (it == feature.variations->end() || !it->value) continue;
      v.value = neutral_value(*it->value);
      from.push_back(saved_value_text(*it->value));
      to.push_back(neutral_value_text(*v.value));
    }
    if (!from.empty()) converted(key, "variations.value", "typed_value", joined(from, " / "), joined(to, " / "), feature.source);
  }

  void convert_feature_common(const std::string& key, const SavedFeature& f, Experiment& e,
                              const std::set<std::string>& served) {
    if (f.overrides) {
      std::vector<std::pair<std::string, std::string>> kept;
      for (const auto& [entity, variation] : *f.overrides) {
        if (served.contains(variation)) {
          kept.emplace_back(entity, variation);
        } else {
          lost(key, SavedLoss{"overrides." + entity, "override_unused", f.source, "variation " + quote_value(variation)});
        }
      }
      if (!kept.empty()) {
        e.overrides = std::move(kept);
        carried(key, field::overrides, f.source);
      }
    }
    for (const auto& loss : f.losses) lost(key, loss);
  }

  std::string weights_text(const std::vector<double>& values, double scale, std::string_view unit) const {
    std::vector<std::string> parts;
    for (double v : values) parts.push_back(number_text(v / scale));
    return joined(parts, "/") + " " + std::string(unit);
  }

  Status convert_experiment(const SavedExperiment& x, const SavedFeature* feature, ImportedExperiment& out) {
    const std::string& key = out.key;
    Experiment& e = out.experiment;
    auto fail = [&](std::string message) {
      Error err = make_error(ErrorCode::invalid_input, "experiment " + quote_value(x.name) + ": " + std::move(message));
      err.file = x.source;
      return std::unexpected(std::move(err));
    };
    if (x.treatments.empty()) return fail("has no treatments, so it has no variations to import");
    const std::string& flag = x.treatments.front().feature;
    out.source = {{"vendor", "evidently"}, {"project", x.project}, {"feature", flag}, {"experiment", x.name}};
    out.create = {{"flag", flag}};
    e.name = x.name;
    carried(key, field::name, x.source);
    if (x.description) {
      e.description = x.description;
      carried(key, field::description, x.source);
      if (feature && feature->description && !feature->description->empty() && *feature->description != *x.description)
        lost(key, SavedLoss{"evidently.feature.description", "feature_description", feature->source, ""});
    } else if (feature && feature->description) {
      e.description = feature->description;
      carried(key, field::description, feature->source);
    }

    // One variation per treatment, keyed by the feature variation it serves.
    std::vector<Variation> variations;
    boost::json::object treatments;  // neutral key → treatment name, where they differ
    std::set<std::string> served;
    for (const auto& t : x.treatments) {
      if (t.feature != flag) {
        lost(key, SavedLoss{"evidently.treatments." + t.name, "extra_feature", x.source,
                            "feature " + quote_value(t.feature)});
        continue;
      }
      if (served.contains(t.variation))
        return fail("treatments serve variation " + quote_value(t.variation) +
                    " twice; the neutral model holds one variation per key");
      served.insert(t.variation);
      Variation v;
      v.key = t.variation;
      v.description = t.description;
      variations.push_back(std::move(v));
      if (t.name != t.variation) treatments[t.variation] = t.name;
      for (const auto& [other, variation] : t.other_features)
        lost(key, SavedLoss{"evidently.treatments." + t.name + ".featureVariations." + other, "extra_feature", x.source,
                            "feature " + quote_value(other) + " variation " + quote_value(variation)});
    }
    if (!treatments.empty()) out.source["treatments"] = std::move(treatments);
    auto treatment_of = [&](const Variation& v) {
      auto it = std::find_if(x.treatments.begin(), x.treatments.end(),
                             [&](const SavedTreatment& t) { return t.feature == flag && t.variation == v.key; });
      return it->name;
    };

    // Weights in thousandths of a percent.
    std::vector<double> units;
    if (x.weights) {
      for (const auto& v : variations) {
        const std::string name = treatment_of(v);
        auto it = std::find_if(x.weights->begin(), x.weights->end(), [&](const auto& w) { return w.first == name; });
        units.push_back(it == x.weights->end() ? 0 : it->second);
      }
    } else {
      const auto n = static_cast<double>(variations.size());
      const double share = std::floor(100000 / n);
      for (std::size_t i = 0; i < variations.size(); ++i) units.push_back(share);
      units.front() += 100000 - share * n;
    }
    double total = 0;
    for (double u : units) total += u;
    if (std::abs(total - 100000) > 1e-6)
      return fail("treatment weights add up to " + number_text(total) +
                  " thousandths of a percent, not 100000 (= 100 %); the neutral weights must sum to 100");
    for (std::size_t i = 0; i < variations.size(); ++i) variations[i].weight = units[i] / percent_;
    if (x.weights) {
      converted(key, "variations.weight", "weights_thousandths", weights_text(units, 1, "thousandths"),
                weights_text(units, percent_, "%"), x.source);
    } else {
      converted(key, "variations.weight", "weights_unset", "no treatmentWeights", weights_text(units, percent_, "%"),
                x.source);
    }

    // The control: controlTreatmentName, else the treatment serving the feature's default.
    std::string control_from;
    std::string control_key;
    if (x.control) {
      auto it = std::find_if(x.treatments.begin(), x.treatments.end(),
                             [&](const SavedTreatment& t) { return t.name == *x.control && t.feature == flag; });
      if (it == x.treatments.end()) return fail("its controlTreatmentName " + quote_value(*x.control) + " is no treatment of it");
      control_key = it->variation;
      control_from = "controlTreatmentName " + *x.control;
    } else if (feature && feature->default_variation && served.contains(*feature->default_variation)) {
      control_key = *feature->default_variation;
      control_from = "no controlTreatmentName; the feature's defaultVariation " + control_key;
    } else {
      control_key = variations.front().key;
      control_from = "no controlTreatmentName; the first treatment";
    }
    for (auto& v : variations) v.control = v.key == control_key;
    converted(key, "variations.control", "control_treatment", control_from, "control: true on " + control_key, x.source);
    if (feature) convert_values(key, *feature, variations);
    carried(key, field::variations, x.source);
    e.variations = std::move(variations);

    if (x.sampling_rate) {
      e.exposure = *x.sampling_rate / percent_;
      converted(key, field::exposure, "sampling_rate_thousandths", number_text(*x.sampling_rate) + " thousandths",
                number_text(*e.exposure) + " %", x.source);
    }

    // The lifecycle.
    const std::string status = x.status.value_or("CREATED");
    if (status == "RUNNING" || status == "UPDATING") {
      e.status = ExperimentStatus::running;
    } else if (status == "COMPLETED" || status == "CANCELLED") {
      e.status = ExperimentStatus::stopped;
    } else if (status == "CREATED") {
      e.status = ExperimentStatus::draft;
    } else {
      return fail("has status " + quote_value(status) + ", which Evidently does not have (CREATED, RUNNING, UPDATING, "
                  "COMPLETED, CANCELLED)");
    }
    converted(key, field::action, "experiment_status", (x.status ? "" : "no status: ") + status,
              e.status == ExperimentStatus::running ? "start" : e.status == ExperimentStatus::stopped ? "stop" : "none (draft)",
              x.source);
    if (e.status == ExperimentStatus::stopped && x.status_reason && !x.status_reason->empty()) {
      e.result.emplace().summary = x.status_reason;
      carried(key, field::result, x.source);
    }
    if (feature && feature->evaluation_strategy == "DEFAULT_VARIATION" && e.status == ExperimentStatus::running)
      lost(key, SavedLoss{"evidently.feature.evaluationStrategy", "strategy_default_variation", feature->source, ""});

    if (feature) {
      convert_feature_common(key, *feature, e, served);
      if (feature->variations)
        for (const auto& v : *feature->variations)
          if (!served.contains(v.name))
            lost(key, SavedLoss{"evidently.feature.variations." + v.name, "variation_unused", feature->source, ""});
    } else {
      out_.notes.push_back({x.source, "experiment " + quote_value(x.name) + ": its feature " + quote_value(flag) +
                                          " is in none of the files, so its variations have no values"});
    }
    for (const auto& loss : x.losses) lost(key, loss);
    lose_launches(key, x.project, flag);
    return {};
  }

  Status convert_feature_alone(const SavedFeature& f, ImportedExperiment& out) {
    const std::string& key = out.key;
    Experiment& e = out.experiment;
    out.source = {{"vendor", "evidently"}, {"project", f.project}, {"feature", f.name}};
    out.create = {{"flag", f.name}};
    e.name = f.name;
    carried(key, field::name, f.source);
    if (f.description) {
      e.description = f.description;
      carried(key, field::description, f.source);
    }
    std::set<std::string> served;
    if (f.variations && !f.variations->empty()) {
      // Without an experiment (or a launch) everyone gets the default variation.
      const std::string fallback = f.default_variation.value_or(f.variations->front().name);
      std::vector<Variation> variations;
      std::vector<double> weights;
      for (const auto& saved : *f.variations) {
        Variation v;
        v.key = saved.name;
        v.control = saved.name == fallback;
        v.weight = v.control ? 100 : 0;
        weights.push_back(v.weight);
        served.insert(v.key);
        variations.push_back(std::move(v));
      }
      if (!served.contains(fallback)) {
        Error err = make_error(ErrorCode::invalid_input, "feature " + quote_value(f.name) + ": its defaultVariation " +
                                                             quote_value(fallback) + " is none of its variations");
        err.file = f.source;
        return std::unexpected(std::move(err));
      }
      converted(key, "variations.weight", "feature_default_weights",
                "no experiment: " + fallback + (f.default_variation ? " (defaultVariation)" : " (the first variation)") +
                    " for everyone",
                weights_text(weights, 1, "%"), f.source);
      converted(key, "variations.control", "feature_default_weights", "defaultVariation " + fallback,
                "control: true on " + fallback, f.source);
      convert_values(key, f, variations);
      carried(key, field::variations, f.source);
      e.variations = std::move(variations);
    }
    const std::string strategy = f.evaluation_strategy.value_or("DEFAULT_VARIATION");
    e.status = strategy == "ALL_RULES" ? ExperimentStatus::running : ExperimentStatus::stopped;
    converted(key, field::action, "evaluation_strategy", (f.evaluation_strategy ? "" : "no evaluationStrategy: ") + strategy,
              e.status == ExperimentStatus::running ? "start" : "stop", f.source);
    convert_feature_common(key, f, e, served);
    lose_launches(key, f.project, f.name);
    return {};
  }

  void lose_launches(const std::string& key, const std::string& project, const std::string& feature) {
    for (const auto& l : inv_.launches)
      if (l.project == project && std::find(l.features.begin(), l.features.end(), feature) != l.features.end())
        lost(key, SavedLoss{"evidently.launch." + l.name, "launch", l.source, ""});
  }

  const MappingTable& table_;
  const ImportOptions& options_;
  Inventory& inv_;
  ImportResult& out_;
  std::string value_attribute_;
  double percent_ = 1000;
};

/// A file too large to hold as one document that starts as a JSON object: a Terraform state or
/// a list page of thousands of resources, read a resource at a time.
bool is_large_json(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size <= kMaxDocumentBytes) return false;
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c) && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
  }
  return c == '{';
}

/// Keeps a Terraform state's Evidently resources only (every item of other arrays: a list page
/// holds nothing else), and notes how many others were skipped.
Result<Document> read_large_json(const std::string& path, Inventory& inventory) {
  std::size_t skipped = 0;
  auto doc = load_filtered_json(path, [&](std::string_view member, const boost::json::value& item) {
    if (member != "resources") return true;
    const auto* o = item.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    const bool wanted = type && type->is_string() &&
                        (type->get_string().starts_with("aws_evidently_") || type->get_string().starts_with("awscc_evidently_"));
    if (!wanted) ++skipped;
    return wanted;
  });
  if (doc && skipped > 0)
    inventory.notes.push_back({path, std::to_string(skipped) + " resource(s) of other types skipped while reading"});
  return doc;
}

}  // namespace

bool is_empty_value(const boost::json::value& v) {
  if (v.is_null()) return true;
  if (const auto* s = v.if_string()) return s->empty();
  if (const auto* a = v.if_array()) return a->empty();
  if (const auto* o = v.if_object()) return o->empty();
  return false;
}

const boost::json::value* MemberWalk::take(std::string_view key) {
  used_.emplace_back(key);
  const auto* v = object_.if_contains(key);
  return v == nullptr || is_empty_value(*v) ? nullptr : v;
}

Result<std::optional<std::string>> MemberWalk::string(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) {
    // An empty string is a value all the same (a description cleared to "").
    if (const auto* raw = object_.if_contains(key); raw && raw->is_string()) return std::optional<std::string>("");
    return std::optional<std::string>();
  }
  if (!v->is_string()) return std::unexpected(error(key, "must be a string, found " + std::string(json_kind(*v))));
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::string> MemberWalk::required_string(std::string_view key) {
  std::optional<std::string> s;
  EXPBRIDGE_ASSIGN_OR_RETURN(s, string(key));
  if (!s || s->empty()) return std::unexpected(error(key, "is required"));
  return *s;
}

Result<std::optional<double>> MemberWalk::number(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) return std::optional<double>();
  if (v->is_number()) return std::optional<double>(v->to_number<double>());
  if (v->is_string()) {
    const auto& s = v->get_string();
    double d = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc{} && end == s.data() + s.size() && std::isfinite(d)) return std::optional<double>(d);
  }
  return std::unexpected(error(key, "must be a number, found " + std::string(json_kind(*v))));
}

Status MemberWalk::identity(std::string& source, std::string& name, std::string& project,
                            std::optional<std::string>& description) {
  source = where();
  EXPBRIDGE_ASSIGN_OR_RETURN(name, required_string("name"));
  // The name becomes the neutral key and a file name of the import folder: hold it to
  // Evidently's own rule, which no path separator or control character passes.
  const bool valid = name.size() <= 127 && std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
                     });
  if (!valid || name == "." || name == "..")
    return std::unexpected(error("name", quote_value(name) + " is no Evidently name (1..127 letters, digits, '-', '.' or '_')"));
  std::optional<std::string> named, arn;
  EXPBRIDGE_ASSIGN_OR_RETURN(named, string("project"));
  EXPBRIDGE_ASSIGN_OR_RETURN(arn, string("arn"));
  if ((!named || named->empty()) && (!arn || arn->empty())) return std::unexpected(error("project", "is required"));
  project = project_name(named && !named->empty() ? *named : *arn);
  EXPBRIDGE_ASSIGN_OR_RETURN(description, string("description"));
  return {};
}

void MemberWalk::derived(std::initializer_list<std::string_view> keys) {
  for (auto k : keys) used_.emplace_back(k);
}

void MemberWalk::lose(std::string_view key, std::string field, std::string rule) {
  if (take(key) != nullptr) losses_.push_back(SavedLoss{std::move(field), std::move(rule), where(key), ""});
}

void MemberWalk::finish(std::string_view prefix) {
  for (const auto& m : object_) {
    if (std::find(used_.begin(), used_.end(), m.key()) != used_.end() || is_empty_value(m.value())) continue;
    losses_.push_back(SavedLoss{"evidently." + std::string(prefix) + std::string(m.key()), "unknown_member", where(m.key()),
                                "member " + quote_value(m.key())});
  }
}

std::string MemberWalk::path(std::string_view key) const { return key.empty() ? path_ : join_path(path_, key); }

std::string MemberWalk::where(std::string_view key) const { return evidently_import::where(doc_, path(key)); }

Error MemberWalk::error(std::string_view key, std::string message) const { return doc_.error_at(path(key), std::move(message)); }

std::string where(const Document& doc, std::string_view path) {
  const Mark m = doc.mark_of(path);
  if (m.line == 0) return doc.source;
  return doc.source + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
}

std::string project_name(std::string_view s) {
  if (!s.starts_with("arn:")) return std::string(s);
  auto at = s.find(":project/");
  if (at == std::string_view::npos) return std::string(s);
  s.remove_prefix(at + 9);
  return std::string(s.substr(0, s.find('/')));
}

std::string feature_name(std::string_view s) {
  if (!s.starts_with("arn:")) return std::string(s);
  auto at = s.find("/feature/");
  return at == std::string_view::npos ? std::string(s) : std::string(s.substr(at + 9));
}

Result<ImportResult> import_files(const std::vector<ImportFile>& files, const ImportOptions& options) {
  for (auto id : kRules) EXPBRIDGE_RETURN_IF_ERROR(options.rule(id));
  Inventory inventory;
  for (const auto& file : files) {
    Result<Document> doc = std::unexpected(Error{});
    if (!file.text && is_large_json(file.source)) {
      doc = read_large_json(file.source, inventory);
    } else if (file.text) {
      // With CloudFormation's short forms (!Ref, !Sub, !GetAtt) kept as one-member mappings.
      doc = parse_tagged_document(*file.text, file.source);
    } else {
      auto read = read_text(file.source);
      if (!read) return std::unexpected(std::move(read).error());
      doc = parse_tagged_document(*read, file.source);
    }
    if (!doc) return std::unexpected(std::move(doc).error());
    switch (kind_of(doc->root)) {
      case FileKind::cli_json: EXPBRIDGE_RETURN_IF_ERROR(read_cli_json(*doc, inventory)); break;
      case FileKind::terraform_state: EXPBRIDGE_RETURN_IF_ERROR(read_terraform_state(*doc, inventory)); break;
      case FileKind::cloudformation: EXPBRIDGE_RETURN_IF_ERROR(read_cloudformation(*doc, inventory)); break;
      case FileKind::unknown: {
        Error e = make_error(ErrorCode::invalid_input,
                             "is no file expbridge imports from Evidently: not AWS CLI/SDK JSON of Evidently (a "
                             "feature/experiment/launch/project object, envelope or list page), not Terraform state "
                             "(version 4 JSON), not a CloudFormation template (Resources)");
        e.file = file.source;
        return std::unexpected(std::move(e));
      }
    }
  }
  ImportResult result;
  Converter converter(options, inventory, result);
  EXPBRIDGE_RETURN_IF_ERROR(converter.run());
  return result;
}

}  // namespace expbridge::evidently_import
