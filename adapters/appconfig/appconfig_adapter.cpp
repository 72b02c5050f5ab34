#include "appconfig_adapter.hpp"

#include <map>

#include <set>
#include <tuple>
#include <variant>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapter_support.hpp"
#include "message_text.hpp"
#include "document.hpp"
#include "json_reader.hpp"

namespace expbridge {
namespace {

constexpr std::string_view kVendor = "appconfig";

/// `backends.<name>` settings: region, signing profile and the ApplicationIdentifier (ID or
/// name) every request addresses.
using AppConfigOptions = AwsBackend;

struct AppConfigBinding final : Binding {
  std::string definition;  ///< ExperimentDefinitionIdentifier: ID or name
  std::string run;         ///< the run number, as its path label
  /// Neutral variation key -> AppConfig treatment key (`c`, `t1`, ...), in config order.
  std::vector<std::pair<std::string, std::string>> treatments;
  std::string treatments_path;  ///< where that map is in the config, for messages
};

/// Every limit the adapter checks, by its name in the table.
struct AppConfigLimits {
  const LimitSpec *definition, *run, *treatment_key;
  const LimitSpec *hypothesis, *audience_rule, *audience_description, *launch_criteria;
  const LimitSpec *treatments, *weight, *treatment_description, *flag_value;
  const LimitSpec *attributes, *attribute_key, *attribute_string, *attribute_array, *definition_while_running;
  const LimitSpec *exposure, *description, *overrides, *override_entity, *override_treatment, *result_text;
  const LimitSpec *extension_parameters, *extension_parameter_key, *extension_parameter_value;
  const LimitSpec *tags, *tag_key, *tag_value;
};

/// Everything the adapter takes from its mapping table, resolved once.
struct AppConfigTable {
  const OperationSpec* update_definition = nullptr;
  const OperationSpec* update_run = nullptr;
  const OperationSpec* start_run = nullptr;
  const OperationSpec* stop_run = nullptr;
  const OperationSpec* archive = nullptr;
  const OperationSpec* get_run = nullptr;
  std::map<std::string, ExperimentStatus, std::less<>> run_statuses;  ///< wire run Status -> neutral
  std::string content_type;

  // Wire names.
  std::string hypothesis, launch_criteria, audience_rule, audience_description;
  std::string control, treatments, weight, treatment_description, flag_value, enabled, attribute_values;
  std::string string_value, number_value, boolean_value, string_array, number_array;
  std::string description, exposure, treatment_overrides, inline_overrides;
  std::string result, executive_summary, reasons_to_launch, reasons_not_to_launch;
  std::string deployment_parameters, run_tags, dynamic_extension_parameters, deployment_tags;

  std::set<std::string, std::less<>> skipped_actions;  ///< the actions AppConfig has no operation for
  std::string start_note;

  AppConfigLimits limits{};

  static Result<AppConfigTable> resolve(const MappingTable& t) {
    AppConfigTable out;
    out.content_type = t.content_type();
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_definition, t.operation(t.field(field::hypothesis).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_run, t.operation(t.field(field::exposure).operation));

    const FieldSpec& action = t.field(field::action);
    auto action_operation = [&](std::string_view name) -> Result<const OperationSpec*> {
      auto it = action.values.find(name);
      if (it == action.values.end())
        return std::unexpected(table_error(t, "fields.action.values." + std::string(name) + " is missing"));
      return t.operation(it->second);
    };
    EXPBRIDGE_ASSIGN_OR_RETURN(out.start_run, action_operation("start"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.stop_run, action_operation("stop"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.archive, action_operation("archive"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_run, t.operation("GetExperimentRun"));
    for (auto status : {ExperimentStatus::running, ExperimentStatus::stopped}) {
      std::string wire;
      EXPBRIDGE_ASSIGN_OR_RETURN(wire, t.enum_value("run_status", to_string(status)));
      out.run_statuses.emplace(std::move(wire), status);
    }
    for (auto a : {Action::start, Action::pause, Action::stop, Action::archive, Action::restore}) {
      std::string_view name = to_string(a);
      if (action.values.contains(name)) continue;
      if (!action.skip_values.contains(name))
        return std::unexpected(
            table_error(t, "fields.action maps action '" + std::string(name) + "' nowhere (values or skip_values)"));
      out.skipped_actions.emplace(name);
    }

    EXPBRIDGE_RETURN_IF_ERROR(resolve_wires(t, {
        {&out.hypothesis, field::hypothesis},
        {&out.launch_criteria, field::launch_criteria},
        {&out.audience_rule, field::audience_rule},
        {&out.audience_description, field::audience_description},
        {&out.control, field::variations, "control"},
        {&out.treatments, field::variations, "treatments"},
        {&out.weight, field::variations, "weight"},
        {&out.treatment_description, field::variations, "description"},
        {&out.flag_value, field::variations, "value"},
        {&out.enabled, field::variations, "enabled"},
        {&out.attribute_values, field::variations, "attributes"},
        {&out.description, field::description},
        {&out.exposure, field::exposure},
        {&out.treatment_overrides, field::overrides},
        {&out.inline_overrides, field::overrides, "inline"},
        {&out.result, field::result},
        {&out.executive_summary, field::result, "summary"},
        {&out.reasons_to_launch, field::result, "reasons_to_launch"},
        {&out.reasons_not_to_launch, field::result, "reasons_not_to_launch"},
        {&out.deployment_parameters, field::vendor, "deployment_parameters"},
        {&out.run_tags, field::vendor, "run_tags"},
        {&out.dynamic_extension_parameters, field::vendor, "dynamic_extension_parameters"},
        {&out.deployment_tags, field::vendor, "deployment_tags"},
    }));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {
        {&out.string_value, "attribute_type", "string"},
        {&out.number_value, "attribute_type", "number"},
        {&out.boolean_value, "attribute_type", "bool"},
        {&out.string_array, "attribute_type", "string_list"},
        {&out.number_array, "attribute_type", "number_list"},
    }));
    for (const auto* member : {&out.deployment_parameters, &out.run_tags})
      if (!t.passthrough().contains(*member))
        return std::unexpected(table_error(t, "passthrough has no member '" + *member + "'"));

    // Checked now, so that a plan never skips with an empty reason.
    for (const char* neutral : {field::name, field::comment}) EXPBRIDGE_RETURN_IF_ERROR(required_skip(t, neutral));
    EXPBRIDGE_RETURN_IF_ERROR(required_skip_value(t, field::result, "winner"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.start_note, t.enum_value("notes", "start"));

    auto& l = out.limits;
    EXPBRIDGE_RETURN_IF_ERROR(resolve_limits(t, {
        {&l.definition, "definition"},
        {&l.run, "run"},
        {&l.treatment_key, "treatment_key"},
        {&l.hypothesis, "hypothesis"},
        {&l.audience_rule, "audience_rule"},
        {&l.audience_description, "audience_description"},
        {&l.launch_criteria, "launch_criteria"},
        {&l.treatments, "treatments"},
        {&l.weight, "weight"},
        {&l.treatment_description, "treatment_description"},
        {&l.flag_value, "flag_value"},
        {&l.attributes, "attributes"},
        {&l.attribute_key, "attribute_key"},
        {&l.attribute_string, "attribute_string"},
        {&l.attribute_array, "attribute_array"},
        {&l.definition_while_running, "definition_while_running"},
        {&l.exposure, "exposure"},
        {&l.description, "description"},
        {&l.overrides, "overrides"},
        {&l.override_entity, "override_entity"},
        {&l.override_treatment, "override_treatment"},
        {&l.result_text, "result_text"},
        {&l.extension_parameters, "dynamic_extension_parameters"},
        {&l.extension_parameter_key, "dynamic_extension_parameter_key"},
        {&l.extension_parameter_value, "dynamic_extension_parameter_value"},
        {&l.tags, "tags"},
        {&l.tag_key, "tag_key"},
        {&l.tag_value, "tag_value"},
    }));
    return out;
  }
};

/// The pass-through members of one update, checked.
struct VendorMembers {
  std::optional<boost::json::value> deployment_parameters;
  std::optional<boost::json::value> run_tags;
};

class AppConfigAdapter final : public ResolvedAdapter<AppConfigTable, AppConfigOptions> {
  // The base's constructor, as public as it is there (an inherited constructor keeps its access).
  using ResolvedAdapter::ResolvedAdapter;

  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto opened = open_binding(settings, path, {"definition", "run", "treatments"}, "definition", *l_.definition,
                               &AppConfigBinding::definition);
    if (!opened) return std::unexpected(std::move(opened).error());
    auto& [reader, binding] = *opened;

    std::optional<std::int64_t> run;
    EXPBRIDGE_ASSIGN_OR_RETURN(run, reader.optional_integer("run"));
    if (!run) return std::unexpected(reader.missing("run", "is required: the number of the AppConfig run to update (1, 2, ...)"));
    EXPBRIDGE_RETURN_IF_ERROR(check_number(*l_.run, static_cast<double>(*run), reader.member_path("run")));
    binding->run = std::to_string(*run);

    const boost::json::object* treatments = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(treatments, reader.optional_object("treatments"));
    binding->treatments_path = reader.member_path("treatments");
    if (treatments) {
      std::map<std::string_view, std::string_view> variation_of_key;  // the duplicate check stays linear
      for (const auto& member : *treatments) {
        std::string member_path = join_path(binding->treatments_path, member.key());
        if (!member.value().is_string())
          return std::unexpected(invalid_field(member_path, "must be an AppConfig treatment key (a string such as t1), found " +
                                                          std::string(json_kind(member.value()))));
        std::string key(member.value().get_string());
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.treatment_key, key, member_path));
        if (auto [it, fresh] = variation_of_key.emplace(member.value().get_string(), member.key()); !fresh)
          return std::unexpected(invalid_field(member_path, "treatment key " + quote_value(key) +
                                                                " is already bound to variation " + quote_value(it->second)));
        binding->treatments.emplace_back(std::string(member.key()), std::move(key));
      }
    }
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    return std::unique_ptr<const Binding>(std::move(binding));
  }

  Result<BackendPlan> do_plan(const Update& u, const Binding& b, const PlanContext& context) const override {
    const auto& binding = static_cast<const AppConfigBinding&>(b);
    const bool starting = u.action == Action::start;
    const bool stopping = u.action == Action::stop;
    BackendPlan out;

    VendorMembers members;
    EXPBRIDGE_ASSIGN_OR_RETURN(members, read_vendor_block(u, starting, stopping, out));

    // Skips, in neutral field order.
    skip_if(u.name.has_value(), field::name, out);
    if (u.action && t_.skipped_actions.contains(to_string(*u.action)))
      skip_value(out, field::action, to_string(*u.action), {});
    if (u.result && u.result->winner) skip_value(out, field::result, "winner", {});
    skip_if(u.comment.has_value(), field::comment, out);

    // Every value is checked before any request is built: nothing is sent for a refused update.
    // A start creates the run: what would update the bound run configures the new one instead.
    RequestDraft definition(*t_.update_definition);
    RequestDraft run(starting ? *t_.start_run : *t_.update_run);
    RequestDraft stop(*t_.stop_run);
    EXPBRIDGE_ASSIGN_OR_RETURN(definition.body(), definition.named(definition_body(u, context)));
    EXPBRIDGE_ASSIGN_OR_RETURN(run.body(), run.named(run_body(u, binding, context, starting)));
    if (stopping) EXPBRIDGE_ASSIGN_OR_RETURN(stop.body(), stop.named(stop_body(u)));
    // Each body holds every field it was given, and each non-empty body is sent below.
    const std::pair<bool, const char*> sent[] = {
        {u.hypothesis.has_value(), field::hypothesis},   {u.launch_criteria.has_value(), field::launch_criteria},
        {u.audience && u.audience->rule, field::audience_rule},
        {u.audience && u.audience->description, field::audience_description},
        {u.variations.has_value(), field::variations},   {u.description.has_value(), field::description},
        {u.exposure.has_value(), field::exposure},       {u.overrides.has_value(), field::overrides},
    };
    for (const auto& [present, neutral] : sent)
      if (present) carry(out, neutral);
    if (u.action && !t_.skipped_actions.contains(to_string(*u.action))) carry(out, field::action);
    if (u.result && stopping) carry(out, field::result);

    const Labels labels = run_labels(binding);
    if (!definition.empty()) EXPBRIDGE_RETURN_IF_ERROR(definition.add_to(out, base_url(), labels, t_.content_type));
    if (starting) {
      if (members.deployment_parameters) run.body()[t_.deployment_parameters] = *members.deployment_parameters;
      if (members.run_tags) run.body()[t_.run_tags] = *members.run_tags;
      EXPBRIDGE_RETURN_IF_ERROR(run.add_to(out, base_url(), labels, t_.content_type));
      out.notes.push_back(t_.start_note);
    } else if (!run.empty() || (members.deployment_parameters && !stopping)) {
      // Each run operation makes its own deployment, so the parameters go with each of them.
      if (members.deployment_parameters) run.body()[t_.deployment_parameters] = *members.deployment_parameters;
      EXPBRIDGE_RETURN_IF_ERROR(run.add_to(out, base_url(), labels, t_.content_type));
    }
    if (stopping) {
      if (members.deployment_parameters) stop.body()[t_.deployment_parameters] = *members.deployment_parameters;
      EXPBRIDGE_RETURN_IF_ERROR(stop.add_to(out, base_url(), labels, t_.content_type));
    }
    if (u.action == Action::archive)
      EXPBRIDGE_RETURN_IF_ERROR(RequestDraft(*t_.archive).add_to(out, base_url(), labels, t_.content_type));
    return out;
  }

  Result<std::vector<PlannedRequest>> do_state_requests(const Update& u, const Binding& b) const override {
    const bool starting = u.action == Action::start;
    const bool changes_definition = u.hypothesis || u.launch_criteria || u.audience || u.variations;
    // Only the rules that depend on the bound run make a read worth it.
    if (!(u.exposure && !starting) && !changes_definition) return std::vector<PlannedRequest>{};
    PlannedRequest request;
    EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_run, base_url(),
                                                     run_labels(static_cast<const AppConfigBinding&>(b)),
                                                     t_.content_type, std::nullopt));
    return std::vector<PlannedRequest>{std::move(request)};
  }

  Result<Experiment> do_read_state(const Binding&, const std::vector<ReadResponse>& responses) const override {
    Experiment state;
    if (responses.empty() || responses.front().status == 404) return state;  // no such run yet
    boost::json::object o;
    EXPBRIDGE_ASSIGN_OR_RETURN(o, reply_object(*t_.get_run, responses.front(), "a run"));
    if (const auto* exposure = o.if_contains("ExposurePercentage"); exposure && exposure->is_number())
      state.exposure = exposure->to_number<double>();
    if (const auto* status = o.if_contains("Status"); status && status->is_string())
      if (auto it = t_.run_statuses.find(status->get_string()); it != t_.run_statuses.end()) state.status = it->second;
    return state;
  }

 private:
  /// UpdateExperimentDefinition's body; empty when the update changes nothing there.
  Result<boost::json::object> definition_body(const Update& u, const PlanContext& context) const {
    boost::json::object body;
    std::string first_field;
    auto text = [&](const std::optional<std::string>& value, const LimitSpec& limit, std::string_view neutral,
                    const std::string& wire) -> Status {
      if (!value) return {};
      EXPBRIDGE_RETURN_IF_ERROR(check_string(limit, *value, neutral));
      body[wire] = *value;
      if (first_field.empty()) first_field = neutral;
      return {};
    };
    EXPBRIDGE_RETURN_IF_ERROR(text(u.hypothesis, *l_.hypothesis, field::hypothesis, t_.hypothesis));
    EXPBRIDGE_RETURN_IF_ERROR(text(u.launch_criteria, *l_.launch_criteria, field::launch_criteria, t_.launch_criteria));
    if (u.audience) {
      EXPBRIDGE_RETURN_IF_ERROR(text(u.audience->rule, *l_.audience_rule, field::audience_rule, t_.audience_rule));
      EXPBRIDGE_RETURN_IF_ERROR(
          text(u.audience->description, *l_.audience_description, field::audience_description, t_.audience_description));
    }
    if (u.variations) {
      EXPBRIDGE_RETURN_IF_ERROR(add_variations(*u.variations, body));
      if (first_field.empty()) first_field = field::variations;
    }
    if (!body.empty() && context.current && context.current->status == ExperimentStatus::running)
      return std::unexpected(invalid_field(first_field, l_.definition_while_running->rule));
    return body;
  }

  /// Control = the control variation, Treatments = the others in document order.
  Status add_variations(const std::vector<Variation>& variations, boost::json::object& body) const {
    std::size_t treatment_count = 0;
    for (const auto& v : variations) treatment_count += !v.control;
    EXPBRIDGE_RETURN_IF_ERROR(check_count(*l_.treatments, treatment_count, field::variations));
    boost::json::value control;
    boost::json::array treatments;
    for (std::size_t i = 0; i < variations.size(); ++i) {
      boost::json::object input;
      EXPBRIDGE_ASSIGN_OR_RETURN(input, treatment_input(variations[i], index_path(field::variations, i)));
      if (variations[i].control) {
        control = std::move(input);
      } else {
        treatments.push_back(std::move(input));
      }
    }
    body[t_.control] = std::move(control);
    body[t_.treatments] = std::move(treatments);
    return {};
  }

  Result<boost::json::object> treatment_input(const Variation& v, const std::string& path) const {
    boost::json::object input;
    EXPBRIDGE_RETURN_IF_ERROR(check_number(*l_.weight, v.weight, join_path(path, "weight")));
    input[t_.weight] = v.weight;
    if (v.description) {
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.treatment_description, *v.description, join_path(path, "description")));
      input[t_.treatment_description] = *v.description;
    }
    std::string value_path = join_path(path, "value");
    if (!v.value) return std::unexpected(invalid_field(value_path, l_.flag_value->rule));
    boost::json::object flag_value;
    flag_value[t_.enabled] = v.value->enabled;
    if (!v.value->attributes.empty()) {
      std::string attributes_path = join_path(value_path, "attributes");
      EXPBRIDGE_RETURN_IF_ERROR(check_count(*l_.attributes, v.value->attributes.size(), attributes_path));
      boost::json::object attributes;
      for (const auto& [name, value] : v.value->attributes) {
        std::string attribute_path = join_path(attributes_path, name);
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.attribute_key, name, attribute_path));
        boost::json::object wire_value;
        EXPBRIDGE_ASSIGN_OR_RETURN(wire_value, attribute_value(value, attribute_path));
        attributes[name] = std::move(wire_value);
      }
      flag_value[t_.attribute_values] = std::move(attributes);
    }
    input[t_.flag_value] = std::move(flag_value);
    return input;
  }

  /// One AttributeValue union: exactly one member, named by the value's type.
  Result<boost::json::object> attribute_value(const AttributeValue& value, const std::string& path) const {
    if (const auto* text = std::get_if<std::string>(&value)) {
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.attribute_string, *text, path));
      return boost::json::object{{t_.string_value, *text}};
    }
    if (const auto* number = std::get_if<double>(&value)) return boost::json::object{{t_.number_value, *number}};
    if (const auto* flag = std::get_if<bool>(&value)) return boost::json::object{{t_.boolean_value, *flag}};
    if (const auto* texts = std::get_if<std::vector<std::string>>(&value)) {
      EXPBRIDGE_RETURN_IF_ERROR(check_count(*l_.attribute_array, texts->size(), path));
      boost::json::array items;
      for (std::size_t i = 0; i < texts->size(); ++i) {
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.attribute_string, (*texts)[i], index_path(path, i)));
        items.emplace_back((*texts)[i]);
      }
      return boost::json::object{{t_.string_array, std::move(items)}};
    }
    const auto& numbers = std::get<std::vector<double>>(value);
    EXPBRIDGE_RETURN_IF_ERROR(check_count(*l_.attribute_array, numbers.size(), path));
    boost::json::array items;
    for (double n : numbers) items.emplace_back(n);
    return boost::json::object{{t_.number_array, std::move(items)}};
  }

  /// The members of UpdateExperimentRun (or StartExperimentRun) that neutral fields set.
  Result<boost::json::object> run_body(const Update& u, const AppConfigBinding& binding, const PlanContext& context,
                                       bool starting) const {
    boost::json::object body;
    if (u.description) {
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.description, *u.description, field::description));
      body[t_.description] = *u.description;
    }
    if (u.exposure) {
      EXPBRIDGE_RETURN_IF_ERROR(check_number(*l_.exposure, *u.exposure, field::exposure));
      // The rule holds within one run: a start begins a new run, which may begin lower.
      const Experiment* current = context.current;
      if (!starting && l_.exposure->only_increase && current && current->exposure && *u.exposure < *current->exposure)
        return std::unexpected(invalid_field(field::exposure, l_.exposure->rule + ": " + format_number(*u.exposure) +
                                                            " is below the current " + format_number(*current->exposure)));
      body[t_.exposure] = *u.exposure;
    }
    if (u.overrides) {
      EXPBRIDGE_RETURN_IF_ERROR(check_count(*l_.overrides, u.overrides->size(), field::overrides));
      boost::json::object entries;
      for (const auto& [entity, variation] : *u.overrides) {
        std::string path = join_path(field::overrides, entity);
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.override_entity, entity, path));
        const std::string* key = nullptr;
        for (const auto& [bound_variation, treatment] : binding.treatments)
          if (bound_variation == variation) key = &treatment;
        if (!key)
          return std::unexpected(invalid_field(path, "no AppConfig treatment key for variation '" + variation + "' in " +
                                                   binding.treatments_path + " (" + l_.override_treatment->rule + ")"));
        entries[entity] = *key;
      }
      body[t_.treatment_overrides] = boost::json::object{{t_.inline_overrides, std::move(entries)}};
    }
    return body;
  }

  Result<boost::json::object> stop_body(const Update& u) const {
    boost::json::object result;
    if (u.result) {
      const std::tuple<const std::optional<std::string>*, const char*, const std::string*> parts[] = {
          {&u.result->summary, "result.summary", &t_.executive_summary},
          {&u.result->reasons_to_launch, "result.reasons_to_launch", &t_.reasons_to_launch},
          {&u.result->reasons_not_to_launch, "result.reasons_not_to_launch", &t_.reasons_not_to_launch},
      };
      for (const auto& [value, path, wire] : parts) {
        if (!*value) continue;
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.result_text, **value, path));
        result[*wire] = **value;
      }
    }
    boost::json::object body;
    if (!result.empty()) body[t_.result] = std::move(result);
    return body;
  }

  /// `vendor.appconfig`: members the table lists, each in the shape AppConfig takes. A refused
  /// member names the operation it would go with: Tags StartExperimentRun, DeploymentParameters
  /// the run operation this update sends (Start, else Stop, else Update).
  Result<VendorMembers> read_vendor_block(const Update& u, bool starting, bool stopping, BackendPlan& plan) const {
    VendorMembers out;
    std::vector<PassThrough> members;
    EXPBRIDGE_ASSIGN_OR_RETURN(members, passthrough(u, plan));
    const std::string& run_operation = starting ? t_.start_run->name : stopping ? t_.stop_run->name : t_.update_run->name;
    for (const auto& member : members) {
      std::string path = passthrough_path(member);
      if (member.operation == t_.start_run->name && !starting)
        return refuse_for(member.operation, path, "passes through to " + member.operation +
                                                      " only, which this update does not send (it needs action: start)");
      if (member.member == t_.deployment_parameters) {
        EXPBRIDGE_RETURN_IF_ERROR(for_operation(run_operation, check_deployment_parameters(*member.value, path)));
        out.deployment_parameters = *member.value;
      } else if (member.member == t_.run_tags) {
        EXPBRIDGE_RETURN_IF_ERROR(for_operation(member.operation, check_tags(*member.value, path)));
        out.run_tags = *member.value;
      }
    }
    return out;
  }

  Status check_deployment_parameters(const boost::json::value& value, const std::string& path) const {
    auto reader = ObjectReader::open(value, path);
    if (!reader) return std::unexpected(std::move(reader).error());
    if (const auto* parameters = reader->optional_value(t_.dynamic_extension_parameters)) {
      std::string parameters_path = reader->member_path(t_.dynamic_extension_parameters);
      if (!parameters->is_object())
        return std::unexpected(invalid_field(parameters_path, "must be a mapping of 'extension#parameter' names to values"));
      EXPBRIDGE_RETURN_IF_ERROR(check_count(*l_.extension_parameters, parameters->get_object().size(), parameters_path));
      for (const auto& p : parameters->get_object()) {
        std::string p_path = join_path(parameters_path, p.key());
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.extension_parameter_key, p.key(), p_path));
        if (!p.value().is_string())
          return std::unexpected(invalid_field(p_path, "must be a string, found " + std::string(json_kind(p.value()))));
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.extension_parameter_value, p.value().get_string(), p_path));
      }
    }
    if (const auto* tags = reader->optional_value(t_.deployment_tags))
      EXPBRIDGE_RETURN_IF_ERROR(check_tags(*tags, reader->member_path(t_.deployment_tags)));
    return reader->finish();
  }

  Status check_tags(const boost::json::value& value, const std::string& path) const {
    if (!value.is_object())
      return std::unexpected(invalid_field(path, "must be a mapping of tag keys to values, found " + std::string(json_kind(value))));
    EXPBRIDGE_RETURN_IF_ERROR(check_count(*l_.tags, value.get_object().size(), path));
    for (const auto& tag : value.get_object()) {
      std::string tag_path = join_path(path, tag.key());
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.tag_key, tag.key(), tag_path));
      if (!tag.value().is_string())
        return std::unexpected(invalid_field(tag_path, "must be a string, found " + std::string(json_kind(tag.value()))));
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.tag_value, tag.value().get_string(), tag_path));
    }
    return {};
  }

  const std::string& base_url() const { return options_.base_url; }
  /// Every operation's path labels: the bound run of the bound definition.
  Labels run_labels(const AppConfigBinding& binding) const {
    return {{"application", options_.resource}, {"definition", binding.definition}, {"run", binding.run}};
  }

  const AppConfigLimits& l_ = t_.limits;
};

Result<AppConfigOptions> read_options(const BackendContext& context, const AppConfigTable&) {
  return AwsBackend::read(context, "application");
}

}  // namespace

Result<std::unique_ptr<Adapter>> make_appconfig_adapter(const BackendContext& context) {
  static const AdapterFactory factory = adapter_factory<AppConfigAdapter>(kVendor, read_options);
  return factory(context);
}

}  // namespace expbridge
