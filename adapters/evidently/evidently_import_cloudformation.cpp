// CloudFormation templates, JSON or YAML: AWS::Evidently::Project, Feature, Experiment, Launch
// and Segment. `Ref`, `Fn::Sub` and `Fn::GetAtt` (long forms, and the YAML short forms !Ref, !Sub,
// !GetAtt) are resolved where they point inside the template: to a parameter's Default, or to an
// Evidently resource's ARN, built from its Name (and its project's), whose region and account
// stay `${AWS::Region}` and `${AWS::AccountId}` — only the names at the ARN's end are used.
#include <map>
#include <set>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "evidently/evidently_import.hpp"
#include "message_text.hpp"

namespace expbridge::evidently_import {
namespace {

constexpr std::string_view kTypePrefix = "AWS::Evidently::";
constexpr std::size_t kMaxReferenceDepth = 32;

/// `OnlineAbConfig` → `online_ab_config`: CloudFormation's property names as Cloud Control's
/// attributes spell them.
std::string snake_case(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i > 0 && (std::islower(static_cast<unsigned char>(name[i - 1])) || std::isdigit(static_cast<unsigned char>(name[i - 1]))))
        out.push_back('_');
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

boost::json::value snake_cased(const boost::json::value& v) {
  if (const auto* o = v.if_object()) {
    boost::json::object out;
    for (const auto& m : *o) out[snake_case(m.key())] = snake_cased(m.value());
    return out;
  }
  if (const auto* a = v.if_array()) {
    boost::json::array out;
    for (const auto& item : *a) out.push_back(snake_cased(item));
    return out;
  }
  return v;
}

/// `OnlineAbConfig.TreatmentWeights[0]` → `online_ab_config.treatment_weights[0]`.
std::string snake_path(std::string_view path) {
  std::string out;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    const auto bracket = part.find('[');
    if (!out.empty()) out.push_back('.');
    out += snake_case(part.substr(0, bracket));
    if (bracket != std::string_view::npos) out.append(part.substr(bracket));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return out;
}

class Template {
 public:
  Template(const Document& doc, Inventory& out) : doc_(doc), out_(out) {}

  Status read() {
    const auto& root = doc_.root.get_object();
    const auto* resources = root.if_contains("Resources");
    if (!resources || !resources->is_object())
      return std::unexpected(doc_.error_at("Resources", "a template's Resources must be a mapping"));
    resources_ = &resources->get_object();
    if (const auto* p = root.if_contains("Parameters")) {
      if (!p->is_object()) return std::unexpected(doc_.error_at("Parameters", "must be a mapping"));
      parameters_ = &p->get_object();
    }
    std::size_t others = 0;
    for (const auto& r : *resources_) {
      const std::string logical(r.key());
      const std::string path = join_path("Resources", logical);
      std::string type;
      EXPBRIDGE_ASSIGN_OR_RETURN(type, type_of(logical));
      if (!type.starts_with(kTypePrefix)) {
        ++others;
        continue;
      }
      const std::string kind = snake_case(type.substr(kTypePrefix.size()));
      const auto& resource = r.value().get_object();
      if (resource.contains("Condition"))
        out_.notes.push_back({where(doc_, join_path(path, "Condition")),
                              logical + " exists only under its Condition, which expbridge does not evaluate; imported as if it held"});
      if (kind == "project" || kind == "segment") {
        out_.notes.push_back({where(doc_, path), type + " " + logical + ": a " + kind + " has no neutral counterpart; not imported"});
        continue;
      }
      if (kind != "feature" && kind != "experiment" && kind != "launch")
        return std::unexpected(doc_.error_at(join_path(path, "Type"), "is no Evidently resource type expbridge knows"));
      const auto* properties = resource.if_contains("Properties");
      if (!properties || !properties->is_object())
        return std::unexpected(doc_.error_at(join_path(path, "Properties"), "must be a mapping"));
      std::vector<std::string> trail;
      std::vector<SavedLoss> losses;
      boost::json::value resolved;
      EXPBRIDGE_ASSIGN_OR_RETURN(resolved, resolve(*properties, join_path(path, "Properties"), trail, losses));
      EXPBRIDGE_RETURN_IF_ERROR(convert(kind, resolved, join_path(path, "Properties"), losses));
    }
    if (others > 0) out_.notes.push_back({doc_.source, std::to_string(others) + " resource(s) of other types skipped"});
    return {};
  }

 private:
  Result<std::string> type_of(const std::string& logical) const {
    const std::string path = join_path("Resources", logical);
    const auto& v = resources_->at(logical);
    const auto* type = v.is_object() ? v.get_object().if_contains("Type") : nullptr;
    if (!type || !type->is_string()) return std::unexpected(doc_.error_at(path, "a resource needs a Type"));
    return std::string(type->get_string());
  }

  /// A CloudFormation resource through the Cloud Control reader: properties snake_cased, and a
  /// document whose marks follow the new names, so positions still point into the template.
  Status convert(const std::string& kind, const boost::json::value& resolved, const std::string& path,
                 std::vector<SavedLoss>& losses) {
    Document renamed;
    renamed.source = doc_.source;
    renamed.root = snake_cased(resolved);
    for (const auto& [p, mark] : doc_.marks)
      if (p == path) {
        renamed.marks.emplace("", mark);
      } else if (p.starts_with(path + ".")) {
        renamed.marks.emplace(snake_path(std::string_view(p).substr(path.size() + 1)), mark);
      }
    const std::size_t features = out_.features.size(), experiments = out_.experiments.size();
    EXPBRIDGE_RETURN_IF_ERROR(read_cloud_control_resource(renamed, kind, renamed.root.get_object(), "", out_));
    // Unresolved references found while resolving belong to the resource just read.
    auto add = [&](std::vector<SavedLoss>& to) { to.insert(to.end(), losses.begin(), losses.end()); };
    if (out_.features.size() > features) add(out_.features.back().losses);
    if (out_.experiments.size() > experiments) add(out_.experiments.back().losses);
    return {};
  }

  /// An unresolvable reference: the value is left out, its field lost, and a note says where.
  std::optional<boost::json::value> unresolved(const std::string& path, const std::string& why,
                                               std::vector<SavedLoss>& losses) {
    const std::string at = where(doc_, path);
    out_.notes.push_back({at, why});
    // `Resources.X.Properties.Description` → `evidently.unresolved.X.Description`.
    std::string field = path;
    if (field.starts_with("Resources.")) field = field.substr(10);
    if (auto cut = field.find(".Properties"); cut != std::string::npos) field.erase(cut, 11);
    losses.push_back(SavedLoss{"evidently.unresolved." + field, "unresolved_reference", at, why});
    return std::nullopt;
  }

  /// `v` with its intrinsic functions resolved. A value that cannot be resolved is dropped
  /// (reported through `unresolved`); a reference cycle is an error naming it.
  Result<boost::json::value> resolve(const boost::json::value& v, const std::string& path, std::vector<std::string>& trail,
                                     std::vector<SavedLoss>& losses) {
    if (const auto* a = v.if_array()) {
      boost::json::array out;
      for (std::size_t i = 0; i < a->size(); ++i) {
        std::optional<boost::json::value> item;
        EXPBRIDGE_ASSIGN_OR_RETURN(item, resolve_intrinsic((*a)[i], index_path(path, i), trail, losses));
        if (item) out.push_back(std::move(*item));
      }
      return boost::json::value(std::move(out));
    }
    if (const auto* o = v.if_object()) {
      boost::json::object out;
      for (const auto& m : *o) {
        std::optional<boost::json::value> member;
        EXPBRIDGE_ASSIGN_OR_RETURN(member, resolve_intrinsic(m.value(), join_path(path, m.key()), trail, losses));
        if (member) out[m.key()] = std::move(*member);
      }
      return boost::json::value(std::move(out));
    }
    return v;
  }

  Result<std::optional<boost::json::value>> resolve_intrinsic(const boost::json::value& v, const std::string& path,
                                                              std::vector<std::string>& trail, std::vector<SavedLoss>& losses) {
    const auto* o = v.if_object();
    if (o == nullptr || o->size() != 1) {
      boost::json::value plain;
      EXPBRIDGE_ASSIGN_OR_RETURN(plain, resolve(v, path, trail, losses));
      return std::optional<boost::json::value>(std::move(plain));
    }
    const std::string name(o->begin()->key());
    const auto& arg = o->begin()->value();
    const std::string arg_path = join_path(path, name);
    if (name == "Ref" || name == "!Ref") {
      if (!arg.is_string()) return std::unexpected(doc_.error_at(arg_path, "Ref takes the name of a parameter or resource"));
      return reference(std::string(arg.get_string()), "", arg_path, trail, losses);
    }
    if (name == "Fn::GetAtt" || name == "!GetAtt") {
      std::string logical, attribute;
      if (arg.is_string()) {
        const std::string s(arg.get_string());
        auto dot = s.find('.');
        logical = s.substr(0, dot);
        attribute = dot == std::string::npos ? "" : s.substr(dot + 1);
      } else if (arg.is_array() && arg.get_array().size() == 2 && arg.get_array()[0].is_string() &&
                 arg.get_array()[1].is_string()) {
        logical = std::string(arg.get_array()[0].get_string());
        attribute = std::string(arg.get_array()[1].get_string());
      } else {
        return std::unexpected(doc_.error_at(arg_path, "Fn::GetAtt takes [resource, attribute] or \"resource.attribute\""));
      }
      if (attribute != "Arn")
        return unresolved(path, "Fn::GetAtt " + logical + "." + attribute + ": only Arn is resolved (other attributes exist only once deployed)", losses);
      return reference(logical, "Arn", arg_path, trail, losses);
    }
    if (name == "Fn::Sub" || name == "!Sub") return substitute(arg, arg_path, path, trail, losses);
    if (name.starts_with("Fn::") || (name.size() > 1 && name[0] == '!'))
      return unresolved(path, name + " is not resolved by expbridge (it resolves Ref, Fn::Sub and Fn::GetAtt)", losses);
    boost::json::value plain;
    EXPBRIDGE_ASSIGN_OR_RETURN(plain, resolve(v, path, trail, losses));
    return std::optional<boost::json::value>(std::move(plain));
  }

  /// A parameter's Default, or an Evidently resource's ARN.
  Result<std::optional<boost::json::value>> reference(const std::string& target, const std::string& attribute,
                                                      const std::string& path, std::vector<std::string>& trail,
                                                      std::vector<SavedLoss>& losses) {
    const std::string value_path = path.substr(0, path.rfind('.'));
    if (target.starts_with("AWS::"))
      return unresolved(value_path, target + " is a pseudo parameter, known only where the stack is deployed", losses);
    if (attribute.empty() && parameters_ != nullptr && parameters_->contains(target)) {
      const auto& p = parameters_->at(target);
      const auto* def = p.is_object() ? p.get_object().if_contains("Default") : nullptr;
      if (def == nullptr) return unresolved(value_path, "parameter " + target + " has no Default", losses);
      return std::optional<boost::json::value>(*def);
    }
    if (!resources_->contains(target))
      return unresolved(value_path, target + " is neither a parameter nor a resource of this template", losses);
    std::string type;
    EXPBRIDGE_ASSIGN_OR_RETURN(type, type_of(target));
    if (!type.starts_with(kTypePrefix))
      return unresolved(value_path, target + " is a " + type + ", whose " + (attribute.empty() ? "Ref" : attribute) +
                                        " exists only once deployed", losses);
    std::optional<std::string> arn;
    EXPBRIDGE_ASSIGN_OR_RETURN(arn, arn_of(target, type, path, trail, losses));
    if (!arn) return unresolved(value_path, target + "'s name cannot be resolved, so neither can its ARN", losses);
    return std::optional<boost::json::value>(boost::json::value(*arn));
  }

  /// `arn:aws:evidently:${AWS::Region}:${AWS::AccountId}:project/P[/feature/F]` from the names.
  Result<std::optional<std::string>> arn_of(const std::string& logical, const std::string& type, const std::string& from,
                                            std::vector<std::string>& trail, std::vector<SavedLoss>& losses) {
    if (auto it = arns_.find(logical); it != arns_.end()) return it->second;
    if (std::find(trail.begin(), trail.end(), logical) != trail.end()) {
      std::string cycle;
      for (auto it = std::find(trail.begin(), trail.end(), logical); it != trail.end(); ++it) cycle += *it + " → ";
      return std::unexpected(doc_.error_at(from, "the template's references form a cycle: " + cycle + logical));
    }
    // A chain of references as long as the template is deep would recurse as deep: refuse it
    // well before the stack is at risk (real templates nest a few levels).
    if (trail.size() >= kMaxReferenceDepth)
      return std::unexpected(doc_.error_at(from, "references chain through more than " +
                                                     std::to_string(kMaxReferenceDepth) + " resources (" + trail.front() +
                                                     " → … → " + logical + "), the most expbridge follows"));
    trail.push_back(logical);
    const std::string props = join_path(join_path("Resources", logical), "Properties");
    const auto& resource = resources_->at(logical).get_object();
    const auto* properties = resource.if_contains("Properties");
    auto text_of = [&](const char* key) -> Result<std::optional<std::string>> {
      const auto* p = properties && properties->is_object() ? properties->get_object().if_contains(key) : nullptr;
      if (p == nullptr) return std::optional<std::string>();
      std::optional<boost::json::value> v;
      EXPBRIDGE_ASSIGN_OR_RETURN(v, resolve_intrinsic(*p, join_path(props, key), trail, losses));
      if (!v || !v->is_string()) return std::optional<std::string>();
      return std::optional<std::string>(std::string(v->get_string()));
    };
    std::optional<std::string> name, project;
    EXPBRIDGE_ASSIGN_OR_RETURN(name, text_of("Name"));
    const std::string kind = snake_case(type.substr(kTypePrefix.size()));
    if (kind != "project" && kind != "segment") EXPBRIDGE_ASSIGN_OR_RETURN(project, text_of("Project"));
    trail.pop_back();
    std::optional<std::string> arn;
    const std::string prefix = "arn:aws:evidently:${AWS::Region}:${AWS::AccountId}:";
    if (name) {
      if (kind == "project" || kind == "segment") {
        arn = prefix + kind + "/" + *name;
      } else if (project) {
        arn = prefix + "project/" + project_name(*project) + "/" + kind + "/" + *name;
      }
    }
    arns_[logical] = arn;
    return arn;
  }

  /// `Fn::Sub`: `${Name}` from its variables, a parameter's Default or a resource's ARN;
  /// `${AWS::…}` kept as written; `${!Literal}` is `${Literal}`.
  Result<std::optional<boost::json::value>> substitute(const boost::json::value& arg, const std::string& arg_path,
                                                       const std::string& path, std::vector<std::string>& trail,
                                                       std::vector<SavedLoss>& losses) {
    std::string text;
    std::map<std::string, boost::json::value> variables;
    if (arg.is_string()) {
      text = std::string(arg.get_string());
    } else if (arg.is_array() && arg.get_array().size() == 2 && arg.get_array()[0].is_string() &&
               arg.get_array()[1].is_object()) {
      text = std::string(arg.get_array()[0].get_string());
      for (const auto& m : arg.get_array()[1].get_object()) {
        std::optional<boost::json::value> v;
        EXPBRIDGE_ASSIGN_OR_RETURN(v, resolve_intrinsic(m.value(), join_path(index_path(arg_path, 1), m.key()), trail, losses));
        if (!v) return unresolved(path, "Fn::Sub variable " + std::string(m.key()) + " cannot be resolved", losses);
        variables.emplace(std::string(m.key()), std::move(*v));
      }
    } else {
      return std::unexpected(doc_.error_at(arg_path, "Fn::Sub takes a string or [string, {variables}]"));
    }
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
      if (text.compare(i, 2, "${") != 0) {
        out.push_back(text[i++]);
        continue;
      }
      const auto end = text.find('}', i);
      if (end == std::string::npos) return std::unexpected(doc_.error_at(arg_path, "Fn::Sub has a ${ without its }"));
      const std::string name = text.substr(i + 2, end - i - 2);
      i = end + 1;
      if (name.starts_with("!")) {
        out += "${" + name.substr(1) + "}";
        continue;
      }
      if (name.starts_with("AWS::")) {
        out += "${" + name + "}";
        continue;
      }
      std::optional<boost::json::value> v;
      if (auto it = variables.find(name); it != variables.end()) {
        v = it->second;
      } else {
        auto dot = name.find('.');
        EXPBRIDGE_ASSIGN_OR_RETURN(
            v, reference(name.substr(0, dot), dot == std::string::npos ? "" : name.substr(dot + 1), arg_path, trail,
                         losses));
      }
      if (!v) return std::optional<boost::json::value>();
      if (v->is_string()) {
        out += std::string(v->get_string());
      } else if (v->is_number()) {
        out += std::to_string(v->to_number<double>());
      } else {
        return unresolved(path, "Fn::Sub ${" + name + "} is not a string", losses);
      }
    }
    return std::optional<boost::json::value>(boost::json::value(out));
  }

  const Document& doc_;
  Inventory& out_;
  const boost::json::object* resources_ = nullptr;
  const boost::json::object* parameters_ = nullptr;
  std::map<std::string, std::optional<std::string>> arns_;
};

}  // namespace

Status read_cloudformation(const Document& doc, Inventory& out) {
  Template t(doc, out);
  return t.read();
}

}  // namespace expbridge::evidently_import
