#include "appconfig_adapter.hpp"

#include <algorithm>
#include <map>

#include <set>
#include <tuple>
#include <variant>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapter_support.hpp"
#include "mapping_examples.hpp"
#include "message_text.hpp"
#include "document.hpp"
#include "json_reader.hpp"

namespace expbridge {
namespace {

constexpr std::string_view kVendor = "appconfig";
/// `VendorState::detail` member holding the current run number (the adapter's own key).
constexpr std::string_view kDetailRun = "run";

/// `backends.<name>` settings: region, signing profile and the ApplicationIdentifier (ID or
/// name) every request addresses; and, for creating experiments, the configuration profile and
/// environment a new definition uses when its partial binding names none.
struct AppConfigOptions : AwsBackend {
  std::optional<std::string> configuration_profile, environment;
  std::string configuration_profile_setting, environment_setting;
};

struct AppConfigBinding final : Binding {
  std::string definition;  ///< ExperimentDefinitionIdentifier: ID or name
  /// The run number, as its path label; empty = the current run, found by the read.
  std::string run;
  std::string run_path;  ///< where `run` is (or would be) in the config, for messages
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
  const LimitSpec *definition_name, *flag_key, *configuration_profile, *environment;
  const LimitSpec *create_audience_rule, *create_variations;
};

/// Everything the adapter takes from its mapping table, resolved once.
struct AppConfigTable {
  const OperationSpec* update_definition = nullptr;
  const OperationSpec* update_run = nullptr;
  const OperationSpec* start_run = nullptr;
  const OperationSpec* stop_run = nullptr;
  const OperationSpec* archive = nullptr;
  const OperationSpec* get_run = nullptr;
  const OperationSpec* get_definition = nullptr;
  const OperationSpec* list_definitions = nullptr;
  const OperationSpec* list_runs = nullptr;
  const OperationSpec* create_definition = nullptr;
  /// CreateExperimentDefinition members no neutral field sets (enums.create_members).
  std::string name, configuration_profile, environment, flag_key;
  /// Why a create cannot carry a field or status (enums.create_lost), by its key there.
  std::map<std::string, std::string, std::less<>> create_lost;
  std::map<std::string, ExperimentStatus, std::less<>> run_statuses;  ///< wire run Status -> neutral
  std::map<std::string, ExperimentStatus, std::less<>> definition_statuses;  ///< wire definition Status -> neutral
  /// Response members the read uses beyond the update's wire names (enums.read_members).
  std::string id, application_id, status, run_number, treatment_key, items, next_token, next_token_query;
  std::map<std::string, std::string, std::less<>> attribute_types;  ///< AttributeValue member -> neutral type
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
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_definition, t.operation("GetExperimentDefinition"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.list_definitions, t.operation("ListExperimentDefinitions"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.list_runs, t.operation("ListExperimentRuns"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.create_definition, t.operation("CreateExperimentDefinition"));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {
        {&out.name, "create_members", "name"},
        {&out.configuration_profile, "create_members", "configuration_profile"},
        {&out.environment, "create_members", "environment"},
        {&out.flag_key, "create_members", "flag"},
    }));
    for (const char* key : {"run_fields", "result", "stopped", "paused", "archived"}) {
      std::string reason;
      EXPBRIDGE_ASSIGN_OR_RETURN(reason, t.enum_value("create_lost", key));
      out.create_lost.emplace(key, std::move(reason));
    }
    auto statuses = [&](const char* table_enum, std::initializer_list<ExperimentStatus> neutral,
                        std::map<std::string, ExperimentStatus, std::less<>>& into) -> Status {
      for (auto status : neutral) {
        std::string wire;
        EXPBRIDGE_ASSIGN_OR_RETURN(wire, t.enum_value(table_enum, to_string(status)));
        into.emplace(std::move(wire), status);
      }
      return {};
    };
    EXPBRIDGE_RETURN_IF_ERROR(statuses("run_status", {ExperimentStatus::running, ExperimentStatus::stopped}, out.run_statuses));
    EXPBRIDGE_RETURN_IF_ERROR(statuses("definition_status",
                                       {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::archived},
                                       out.definition_statuses));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {
        {&out.id, "read_members", "id"},
        {&out.application_id, "read_members", "application"},
        {&out.status, "read_members", "status"},
        {&out.run_number, "read_members", "run"},
        {&out.treatment_key, "read_members", "treatment_key"},
        {&out.items, "read_members", "items"},
        {&out.next_token, "read_members", "next_token"},
        {&out.next_token_query, "read_members", "next_token_query"},
    }));
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
    for (const char* type : {"string", "number", "bool", "string_list", "number_list"}) {
      std::string wire;
      EXPBRIDGE_ASSIGN_OR_RETURN(wire, t.enum_value("attribute_type", type));
      out.attribute_types.emplace(std::move(wire), type);
    }
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
        {&l.definition_name, "definition_name"},
        {&l.flag_key, "flag_key"},
        {&l.configuration_profile, "configuration_profile"},
        {&l.environment, "environment"},
        {&l.create_audience_rule, "create_audience_rule"},
        {&l.create_variations, "create_variations"},
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

    // Without `run` (absent or null), updates go to the current run, which only a read of
    // AppConfig can find.
    std::optional<std::int64_t> run;
    if (const auto* given = reader.optional_value("run"); given && !given->is_null())
      EXPBRIDGE_ASSIGN_OR_RETURN(run, reader.optional_integer("run"));
    binding->run_path = reader.member_path("run");
    if (run) {
      EXPBRIDGE_RETURN_IF_ERROR(check_number(*l_.run, static_cast<double>(*run), binding->run_path));
      binding->run = std::to_string(*run);
    }

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

    // The run the run operations address: the binding's `run`, else the read's current run.
    const bool updates_run = !starting && (!run.empty() || (members.deployment_parameters && !stopping));
    const OperationSpec* run_operation = updates_run ? t_.update_run : stopping ? t_.stop_run : nullptr;
    std::string target_run;
    EXPBRIDGE_ASSIGN_OR_RETURN(target_run, run_of(binding, context, run_operation));
    const Labels labels = run_labels(binding, target_run);
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
    // Without a pinned run, only the read (`Adapter::read`) knows the current run: no state here.
    const auto& binding = static_cast<const AppConfigBinding&>(b);
    if (binding.run.empty()) return std::vector<PlannedRequest>{};
    PlannedRequest request;
    EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_run, base_url(), run_labels(binding, binding.run),
                                                     t_.content_type, std::nullopt));
    return std::vector<PlannedRequest>{std::move(request)};
  }

  Result<Experiment> do_read_state(const Binding&, const std::vector<ReadResponse>& responses) const override {
    Experiment state;
    if (responses.empty() || responses.front().status == 404) return state;  // no such run yet
    boost::json::object o;
    EXPBRIDGE_ASSIGN_OR_RETURN(o, reply_object(*t_.get_run, responses.front(), "a run"));
    if (const auto* exposure = o.if_contains(t_.exposure); exposure && exposure->is_number())
      state.exposure = exposure->to_number<double>();
    if (const auto* status = o.if_contains(t_.status); status && status->is_string())
      if (auto it = t_.run_statuses.find(status->get_string()); it != t_.run_statuses.end()) state.status = it->second;
    return state;
  }

  // The read of a binding that pins `run`: GetExperimentDefinition and GetExperimentRun of that
  // run, together (the pinned run is the one plans write to, whichever run is current); a run
  // not started yet (404) reads as the definition alone.
  // Otherwise GetExperimentDefinition and ListExperimentRuns (every page, `next_token`), then
  // GetExperimentRun of the current run — the RUNNING one, else the latest — when there is one.
  // A hint (the current run an earlier read found) asks that run with the first step.
  // Answers come back in that order: [definition, first page, hinted run, more pages..., run],
  // the last only when there is a current run and it is not the hinted one.
  Result<ReadStep> do_read(const Binding& b, const std::vector<ReadResponse>& answers,
                           const ReadHint* hint) const override {
    const auto& binding = static_cast<const AppConfigBinding&>(b);
    if (!binding.run.empty()) return read_pinned(binding, answers);
    const Labels labels = run_labels(binding, {});
    // Only a run number is a run: another hint would ask for a path AppConfig refuses.
    std::optional<std::string> hinted;
    if (const auto* run = hint ? hint->if_contains(kDetailRun) : nullptr; run && run->is_int64() && run->get_int64() > 0)
      hinted = std::to_string(run->get_int64());
    if (answers.empty()) {
      ReadStep step;
      for (const auto* operation : {t_.get_definition, t_.list_runs}) {
        PlannedRequest request;
        EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*operation, base_url(), labels, t_.content_type, std::nullopt));
        step.requests.push_back(std::move(request));
      }
      if (hinted) EXPBRIDGE_RETURN_IF_ERROR(ask_run(binding, *hinted, step));
      return step;
    }
    boost::json::object definition;
    EXPBRIDGE_ASSIGN_OR_RETURN(definition, read_answer(*t_.get_definition, answers[0], binding, {}));

    // Run pages: each but the last names the next one. The first is answers[1]; the others
    // follow the hinted run's answer, when one was asked.
    const std::size_t later_pages = hinted ? 3 : 2;
    auto page_at = [&](std::size_t k) { return k == 0 ? std::size_t{1} : later_pages + k - 1; };
    std::optional<std::int64_t> running, latest;
    std::size_t pages = 0;
    for (;; ++pages) {
      if (page_at(pages) >= answers.size()) return std::unexpected(internal_read_error("no ListExperimentRuns answer"));
      boost::json::object page;
      EXPBRIDGE_ASSIGN_OR_RETURN(page, read_answer(*t_.list_runs, answers[page_at(pages)], binding, {}));
      const auto* items = page.if_contains(t_.items);
      if (!items || !items->is_array()) return std::unexpected(malformed(*t_.list_runs, t_.items + " is not a list"));
      for (const auto& item : items->get_array()) {
        const auto* number = item.is_object() ? item.get_object().if_contains(t_.run_number) : nullptr;
        if (!number || !number->is_int64()) return std::unexpected(malformed(*t_.list_runs, "a run has no " + t_.run_number));
        const std::int64_t n = number->get_int64();
        if (!latest || n > *latest) latest = n;
        if (const auto* status = item.get_object().if_contains(t_.status);
            status && status->is_string() && run_status(status->get_string()) == ExperimentStatus::running)
          running = n;
      }
      const auto* token = page.if_contains(t_.next_token);
      if (!token || !token->is_string()) break;
      if (page_at(pages + 1) < answers.size()) continue;
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.list_runs, base_url(), labels, t_.content_type, std::nullopt));
      request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + t_.next_token_query + "=" +
                     percent_encode(token->get_string());
      return ReadStep{{std::move(request)}, std::nullopt};
    }
    const std::optional<std::int64_t> current = running ? running : latest;
    std::optional<boost::json::object> run;
    if (current) {
      const std::string number = std::to_string(*current);
      // The hinted run's answer when the hint still holds, else one asked after the pages.
      const std::size_t run_at = hinted == number ? 2 : page_at(pages + 1);
      if (run_at >= answers.size()) {
        ReadStep step;
        EXPBRIDGE_RETURN_IF_ERROR(ask_run(binding, number, step));
        return step;
      }
      EXPBRIDGE_ASSIGN_OR_RETURN(run, read_answer(*t_.get_run, answers[run_at], binding, number));
    }
    VendorState state;
    EXPBRIDGE_ASSIGN_OR_RETURN(state, vendor_state(definition, run ? &*run : nullptr, binding));
    if (current) {
      state.detail[kDetailRun] = *current;
      state.hint[kDetailRun] = *current;
    }
    return ReadStep{{}, std::move(state)};
  }

  // Creating: CreateExperimentDefinition, then StartExperimentRun of the first run when the
  // experiment runs. Answers: [definition created, run started?].
  // Finding first (`find_existing`): ListExperimentDefinitions of the application, every page;
  // none named as the create names it = the create's steps follow, their answers after the pages;
  // one = [pages..., its definition, its runs, run started?], the start only for a running
  // experiment whose definition has no run yet.
  bool do_finds_existing() const override { return true; }

  Result<CreateStep> do_create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const override {
    if (spec.find_existing) return find_or_create(spec, answers);
    return create_steps(spec, answers);
  }

 private:
  Result<CreateStep> create_steps(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const {
    const Experiment& desired = *spec.desired;
    const bool running = desired.status == ExperimentStatus::running;
    CreateTarget target;
    EXPBRIDGE_ASSIGN_OR_RETURN(target, create_target(spec));
    RequestDraft create(*t_.create_definition);
    EXPBRIDGE_ASSIGN_OR_RETURN(create.body(), create.named(create_body(spec, target)));
    // The run's values are checked now, before the definition exists: a run AppConfig would
    // refuse must not leave a definition behind.
    Update run_fields;
    if (running) {
      run_fields = run_fields_of(desired);
      EXPBRIDGE_RETURN_IF_ERROR(check_run_overrides(desired));
    }
    // Until the definition answers, every variation stands in with the control's key `c`: what
    // is checked (count, entity ids, variations known) does not depend on the keys.
    AppConfigBinding preview;
    preview.treatments_path = "treatments";
    for (const auto& v : desired.variations.value_or(std::vector<Variation>{})) preview.treatments.emplace_back(v.key, "c");
    RequestDraft start(*t_.start_run);
    if (running) EXPBRIDGE_ASSIGN_OR_RETURN(start.body(), start.named(run_body(run_fields, preview, {}, true)));

    const Labels application{{"application", options_.resource}};
    if (answers.empty()) {
      CreateStep step;
      BackendPlan planned;
      EXPBRIDGE_RETURN_IF_ERROR(create.add_to(planned, base_url(), application, t_.content_type));
      step.requests = std::move(planned.requests);
      if (running) step.then.push_back(start_summary(start.body()));
      step.carriage = create_carriage(spec);
      return step;
    }
    boost::json::object created;
    EXPBRIDGE_ASSIGN_OR_RETURN(created, created_object(*t_.create_definition, answers[0], definition_what(spec, target)));
    AppConfigBinding made;
    EXPBRIDGE_ASSIGN_OR_RETURN(made, created_binding(created, desired));
    boost::json::object binding = binding_json(made);
    if (!running) return CreateStep{{}, std::move(binding), {}, {}};
    // Now the treatment keys are known: the overrides can name them.
    if (answers.size() == 1) return start_step(desired, made);
    EXPBRIDGE_RETURN_IF_ERROR(started_after_create(
        *t_.start_run, answers[1], "the first run of experiment definition " + quote_value(made.definition), binding));
    return CreateStep{{}, std::move(binding), {}, {}};
  }

  /// Where a created definition goes: the partial binding's members, else the backend's settings.
  struct CreateTarget {
    std::string flag, configuration_profile, environment;
  };

  /// The members of a partial binding a create reads, each checked against the vendor's limits.
  struct CreateMembers {
    std::optional<std::string> flag, configuration_profile, environment;
  };

  Result<CreateMembers> read_create_members(const boost::json::object& partial, const std::string& path) const {
    ObjectReader reader = ObjectReader::open(partial, path);
    CreateMembers out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.flag, reader.optional_string("flag"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.configuration_profile, reader.optional_string("configuration_profile"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.environment, reader.optional_string("environment"));
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    if (out.flag) EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.flag_key, *out.flag, reader.member_path("flag")));
    if (out.configuration_profile)
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.configuration_profile, *out.configuration_profile,
                                             reader.member_path("configuration_profile")));
    if (out.environment)
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.environment, *out.environment, reader.member_path("environment")));
    return out;
  }

  Status do_check_create_binding(const boost::json::object& partial, const std::string& path) const override {
    auto read = read_create_members(partial, path);
    if (!read) return std::unexpected(std::move(read).error());
    return {};
  }

  Result<CreateTarget> create_target(const CreateSpec& spec) const {
    const std::string path = create_binding_path(spec.experiment);
    static const boost::json::object none;
    const boost::json::object& partial = spec.binding ? *spec.binding : none;
    CreateMembers given;
    EXPBRIDGE_ASSIGN_OR_RETURN(given, read_create_members(partial, path));
    ObjectReader reader = ObjectReader::open(partial, path);
    if (!given.flag)
      return std::unexpected(reader.missing("flag", "is required to create the experiment at AppConfig: the key of "
                                                    "the feature flag it runs on (FlagKey)"));
    auto pick = [&](const std::optional<std::string>& member_value, const std::string& member,
                    const std::optional<std::string>& setting, const std::string& setting_path) -> Result<std::string> {
      if (member_value) return *member_value;
      if (setting) return *setting;
      return std::unexpected(reader.missing(member, "is required to create the experiment at AppConfig (or " +
                                                        setting_path + " for every experiment of the backend)"));
    };
    CreateTarget out;
    out.flag = *given.flag;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.configuration_profile,
                               pick(given.configuration_profile, "configuration_profile", options_.configuration_profile,
                                    options_.configuration_profile_setting));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.environment,
                               pick(given.environment, "environment", options_.environment, options_.environment_setting));
    return out;
  }

  Result<CreateStep> find_or_create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const {
    const Experiment& desired = *spec.desired;
    CreateTarget target;
    EXPBRIDGE_ASSIGN_OR_RETURN(target, create_target(spec));
    boost::json::object body;
    EXPBRIDGE_ASSIGN_OR_RETURN(body, create_body(spec, target));
    const std::string name(body.at(t_.name).as_string());
    auto page_request = [&](const boost::json::value* token) -> Result<PlannedRequest> {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.list_definitions, base_url(), {}, t_.content_type, std::nullopt));
      // `application_identifier`: the list's filter, as the vendor facts give it.
      append_query(request.url, "application_identifier", options_.resource);
      if (token) append_query(request.url, t_.next_token_query, token->get_string());
      return request;
    };
    if (answers.empty()) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, page_request(nullptr));
      return lookup_step(std::move(request),
                         "when " + t_.list_definitions->name + " finds no definition named " + quote_value(name) + ": " +
                             t_.create_definition->name,
                         create_carriage(spec));
    }
    std::vector<std::string> found;  // the Ids of the definitions named `name`
    std::size_t pages = 0;
    while (pages < answers.size()) {
      boost::json::object page;
      EXPBRIDGE_ASSIGN_OR_RETURN(page, looked_up_object(*t_.list_definitions, answers[pages],
                                                        "the definitions of application " + quote_value(options_.resource)));
      ++pages;
      const auto* items = page.if_contains(t_.items);
      if (!items || !items->is_array()) return std::unexpected(malformed(*t_.list_definitions, t_.items + " is not a list"));
      for (const auto& item : items->get_array()) {
        const auto* n = item.is_object() ? item.get_object().if_contains(t_.name) : nullptr;
        const auto* id = item.is_object() ? item.get_object().if_contains(t_.id) : nullptr;
        if (n && n->is_string() && n->get_string() == name) {
          if (!id || !id->is_string()) return std::unexpected(malformed(*t_.list_definitions, "a definition has no " + t_.id));
          found.emplace_back(id->get_string());
        }
      }
      const auto* token = page.if_contains(t_.next_token);
      if (!token || !token->is_string()) break;
      if (pages == answers.size()) {
        PlannedRequest request;
        EXPBRIDGE_ASSIGN_OR_RETURN(request, page_request(token));
        return CreateStep{{std::move(request)}, std::nullopt, {}, {}};
      }
    }
    if (found.empty()) {
      auto step = create_steps(spec, answers_after(answers, pages));
      if (step) step->carriage.clear();
      return step;
    }
    const std::string what = "AppConfig experiment definition named " + quote_value(name) + " in application " +
                             quote_value(options_.resource);
    if (found.size() > 1)
      return std::unexpected(found_but_different(*t_.list_definitions, what,
                                                 "there are " + std::to_string(found.size()) + " of them: " +
                                                     quoted_list(found) + ", the create makes one"));
    AppConfigBinding named;
    named.definition = found.front();
    if (answers.size() == pages) {
      CreateStep step;
      for (const auto* operation : {t_.get_definition, t_.list_runs}) {
        PlannedRequest request;
        EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*operation, base_url(), run_labels(named, {}), t_.content_type,
                                                         std::nullopt));
        step.requests.push_back(std::move(request));
      }
      return step;
    }
    if (answers.size() < pages + 2)
      return std::unexpected(make_error(ErrorCode::internal, "appconfig create: the definition found was answered "
                                                             "without its runs"));
    const std::string found_what = "AppConfig experiment definition " + quote_value(named.definition) + " named " +
                                   quote_value(name);
    boost::json::object definition, runs;
    EXPBRIDGE_ASSIGN_OR_RETURN(definition, looked_up_object(*t_.get_definition, answers[pages], found_what));
    EXPBRIDGE_ASSIGN_OR_RETURN(runs, looked_up_object(*t_.list_runs, answers[pages + 1], "the runs of " + found_what));
    EXPBRIDGE_RETURN_IF_ERROR(check_found_definition(definition, body, target, found_what));
    AppConfigBinding made;
    EXPBRIDGE_ASSIGN_OR_RETURN(made, created_binding(definition, desired));
    boost::json::object binding = binding_json(made);
    // A create makes no run, or one started run: anything else was made by someone else.
    const auto* items = runs.if_contains(t_.items);
    if (!items || !items->is_array()) return std::unexpected(malformed(*t_.list_runs, t_.items + " is not a list"));
    const auto& run_list = items->get_array();
    const bool started = run_list.size() == 1 && run_list[0].is_object() && [&] {
      const auto* status = run_list[0].get_object().if_contains(t_.status);
      return status && status->is_string() && run_status(status->get_string()) == ExperimentStatus::running;
    }();
    const bool running = desired.status == ExperimentStatus::running;
    if (runs.contains(t_.next_token) || (!run_list.empty() && !(running && started)))
      return std::unexpected(found_but_different(*t_.list_runs, found_what,
                                                 "it has " + std::to_string(run_list.size()) +
                                                     (runs.contains(t_.next_token) ? " and more" : "") +
                                                     (started ? " run(s)" : " run(s), none running") + ", where the create leaves " +
                                                     (running ? "one running run" : "none")));
    if (!running || started) return CreateStep{{}, std::move(binding), {}, {}};
    if (answers.size() == pages + 2) {
      EXPBRIDGE_RETURN_IF_ERROR(check_run_overrides(desired));
      return start_step(desired, made);
    }
    EXPBRIDGE_RETURN_IF_ERROR(started_after_create(
        *t_.start_run, answers[pages + 2], "the first run of experiment definition " + quote_value(made.definition), binding));
    return CreateStep{{}, std::move(binding), {}, {}};
  }

  /// The run's fields of `desired`: what StartExperimentRun sends.
  static Update run_fields_of(const Experiment& desired) {
    Update out;
    out.description = desired.description;
    out.exposure = desired.exposure;
    out.overrides = desired.overrides;
    return out;
  }

  /// StartExperimentRun of the first run of the definition `made` addresses.
  Result<CreateStep> start_step(const Experiment& desired, const AppConfigBinding& made) const {
    RequestDraft start(*t_.start_run);
    EXPBRIDGE_ASSIGN_OR_RETURN(start.body(), start.named(run_body(run_fields_of(desired), made, {}, true)));
    BackendPlan planned;
    EXPBRIDGE_RETURN_IF_ERROR(start.add_to(planned, base_url(), run_labels(made, {}), t_.content_type));
    return CreateStep{std::move(planned.requests), std::nullopt, {}, {}};
  }

  /// The binding a create gives: the definition and each variation's treatment key.
  static boost::json::object binding_json(const AppConfigBinding& made) {
    boost::json::object treatments;
    for (const auto& [variation, key] : made.treatments) treatments[variation] = key;
    return boost::json::object{{"definition", made.definition}, {"treatments", std::move(treatments)}};
  }

  /// A found definition is the create's when it runs on the create's flag with the same control
  /// and treatments, in order, each serving the same flag value.
  Status check_found_definition(const boost::json::object& definition, const boost::json::object& body,
                                const CreateTarget& target, const std::string& what) const {
    const auto* flag = definition.if_contains(t_.flag_key);
    const std::string held_flag = flag && flag->is_string() ? std::string(flag->get_string()) : std::string();
    if (held_flag != target.flag)
      return std::unexpected(found_but_different(*t_.get_definition, what,
                                                 "it runs on flag " + quote_value(held_flag) + ", the create on " +
                                                     quote_value(target.flag)));
    auto value_of = [&](const boost::json::value* variation) -> boost::json::value {
      const auto* v = variation && variation->is_object() ? variation->get_object().if_contains(t_.flag_value) : nullptr;
      return v ? *v : boost::json::value();
    };
    const auto* held = definition.if_contains(t_.treatments);
    const auto& sent = body.at(t_.treatments).get_array();
    if (!held || !held->is_array() || held->get_array().size() != sent.size())
      return std::unexpected(found_but_different(*t_.get_definition, what,
                                                 "it has " + std::to_string(held && held->is_array() ? held->get_array().size() : 0) +
                                                     " treatments besides the control, the create " + std::to_string(sent.size())));
    // By value: a number sent as 2.0 comes back as 2.
    if (!json_equal(value_of(definition.if_contains(t_.control)), value_of(body.if_contains(t_.control))))
      return std::unexpected(found_but_different(*t_.get_definition, what, "its control serves another flag value"));
    for (std::size_t i = 0; i < sent.size(); ++i)
      if (!json_equal(value_of(&held->get_array()[i]), value_of(&sent[i])))
        return std::unexpected(found_but_different(*t_.get_definition, what,
                                                   "its treatment " + std::to_string(i + 1) + " serves another flag value"));
    return {};
  }

  std::string definition_what(const CreateSpec& spec, const CreateTarget& target) const {
    return "experiment definition " + quote_value(spec.desired->name.value_or(spec.experiment)) + " on flag " +
           quote_value(target.flag) + " of configuration profile " + quote_value(target.configuration_profile) +
           ", environment " + quote_value(target.environment) + ", application " + quote_value(options_.resource);
  }

  /// CreateExperimentDefinition's body; every value checked.
  Result<boost::json::object> create_body(const CreateSpec& spec, const CreateTarget& target) const {
    const Experiment& e = *spec.desired;
    boost::json::object body;
    const std::string name = e.name.value_or(spec.experiment);
    EXPBRIDGE_RETURN_IF_ERROR(check_string(*l_.definition_name, name, e.name ? field::name : "experiment"));
    body[t_.name] = name;
    body[t_.configuration_profile] = target.configuration_profile;
    body[t_.environment] = target.environment;
    body[t_.flag_key] = target.flag;
    std::size_t controls = 0;
    if (e.variations)
      for (const auto& v : *e.variations) controls += v.control;
    if (controls != 1) return std::unexpected(invalid_field(field::variations, l_.create_variations->rule));
    EXPBRIDGE_RETURN_IF_ERROR(add_variations(*e.variations, body));
    if (!e.audience || !e.audience->rule)
      return std::unexpected(invalid_field(field::audience_rule, l_.create_audience_rule->rule));
    auto text = [&](const std::optional<std::string>& value, const LimitSpec& limit, std::string_view neutral,
                    const std::string& wire) -> Status {
      if (!value) return {};
      EXPBRIDGE_RETURN_IF_ERROR(check_string(limit, *value, neutral));
      body[wire] = *value;
      return {};
    };
    EXPBRIDGE_RETURN_IF_ERROR(text(e.audience->rule, *l_.audience_rule, field::audience_rule, t_.audience_rule));
    EXPBRIDGE_RETURN_IF_ERROR(
        text(e.audience->description, *l_.audience_description, field::audience_description, t_.audience_description));
    EXPBRIDGE_RETURN_IF_ERROR(text(e.hypothesis, *l_.hypothesis, field::hypothesis, t_.hypothesis));
    EXPBRIDGE_RETURN_IF_ERROR(text(e.launch_criteria, *l_.launch_criteria, field::launch_criteria, t_.launch_criteria));
    return body;
  }

  /// Overrides must name variations of the experiment: their treatment keys exist only once
  /// the definition does.
  Status check_run_overrides(const Experiment& e) const {
    if (!e.overrides) return {};
    for (const auto& [entity, variation] : *e.overrides) {
      bool known = false;
      for (const auto& v : e.variations.value_or(std::vector<Variation>{})) known = known || v.key == variation;
      if (!known)
        return refuse_for(t_.start_run->name, join_path(field::overrides, entity),
                          "names variation " + quote_value(variation) + ", which the experiment does not have");
    }
    return {};
  }

  /// `StartExperimentRun ExposurePercentage 75, Description, TreatmentOverrides.Inline (2)`.
  std::string start_summary(const boost::json::object& body) const {
    std::string out = t_.start_run->name;
    std::string sep = " ";
    if (const auto* exposure = body.if_contains(t_.exposure)) {
      out += sep + t_.exposure + " " + format_number(exposure->to_number<double>());
      sep = ", ";
    }
    if (body.contains(t_.description)) {
      out += sep + t_.description;
      sep = ", ";
    }
    if (const auto* overrides = body.if_contains(t_.treatment_overrides))
      out += sep + t_.treatment_overrides + "." + t_.inline_overrides + " (" +
             std::to_string(overrides->get_object().at(t_.inline_overrides).get_object().size()) + ")";
    return out;
  }

  /// The definition CreateExperimentDefinition answered, as the binding that addresses it:
  /// its Id, and each variation's treatment key (the control's Control.Key, the others'
  /// Treatments[i].Key in the order they were sent).
  Result<AppConfigBinding> created_binding(const boost::json::object& created, const Experiment& desired) const {
    const OperationSpec& op = *t_.create_definition;
    AppConfigBinding out;
    const auto* id = created.if_contains(t_.id);
    if (!id || !id->is_string()) return std::unexpected(malformed(op, "no " + t_.id));
    out.definition = id->get_string();
    const auto* control = created.if_contains(t_.control);
    const auto* treatments = created.if_contains(t_.treatments);
    if (!control || !control->is_object() || !treatments || !treatments->is_array())
      return std::unexpected(malformed(op, "no " + t_.control + " object or " + t_.treatments + " list"));
    auto key_of = [&](const boost::json::value& treatment) -> Result<std::string> {
      const auto* key = treatment.is_object() ? treatment.get_object().if_contains(t_.treatment_key) : nullptr;
      if (!key || !key->is_string()) return std::unexpected(malformed(op, "a treatment has no " + t_.treatment_key));
      return std::string(key->get_string());
    };
    std::size_t next = 0;
    for (const auto& v : *desired.variations) {
      std::string key;
      if (v.control) {
        EXPBRIDGE_ASSIGN_OR_RETURN(key, key_of(*control));
      } else {
        if (next >= treatments->get_array().size())
          return std::unexpected(malformed(op, "fewer " + t_.treatments + " than were sent"));
        EXPBRIDGE_ASSIGN_OR_RETURN(key, key_of(treatments->get_array()[next++]));
      }
      out.treatments.emplace_back(v.key, std::move(key));
    }
    return out;
  }

  /// What the create makes of each field `desired` holds: the definition carries its own
  /// fields; the run's go only with a running experiment.
  std::vector<FieldCarriage> create_carriage(const CreateSpec& spec) const {
    const Experiment& e = *spec.desired;
    const bool running = e.status == ExperimentStatus::running;
    CarriageList list(spec.experiment, kVendor);
    if (e.name) list.carried(field::name);
    const std::string& run_lost = t_.create_lost.at("run_fields");
    if (e.description) list.carried_or_lost(running, field::description, "create_lost.run_fields", run_lost);
    if (e.hypothesis) list.carried(field::hypothesis);
    if (e.launch_criteria) list.carried(field::launch_criteria);
    if (e.audience && e.audience->rule) list.carried(field::audience_rule);
    if (e.audience && e.audience->description) list.carried(field::audience_description);
    if (e.variations) list.carried(field::variations);
    if (e.exposure) list.carried_or_lost(running, field::exposure, "create_lost.run_fields", run_lost);
    if (e.overrides) list.carried_or_lost(running, field::overrides, "create_lost.run_fields", run_lost);
    if (e.result) list.lost(field::result, "create_lost.result", t_.create_lost.at("result"));
    list.status(e.status, t_.create_lost);
    return list.take();
  }

  /// The read of a pinned run (see `do_read`): [definition, run].
  Result<ReadStep> read_pinned(const AppConfigBinding& binding, const std::vector<ReadResponse>& answers) const {
    if (answers.empty()) {
      ReadStep step;
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_definition, base_url(), run_labels(binding, {}),
                                                       t_.content_type, std::nullopt));
      step.requests.push_back(std::move(request));
      EXPBRIDGE_RETURN_IF_ERROR(ask_run(binding, binding.run, step));
      return step;
    }
    if (answers.size() != 2) return std::unexpected(internal_read_error("expected 2 answers, got " + std::to_string(answers.size())));
    boost::json::object definition;
    EXPBRIDGE_ASSIGN_OR_RETURN(definition, read_answer(*t_.get_definition, answers[0], binding, {}));
    std::optional<boost::json::object> run;
    if (answers[1].status != 404) EXPBRIDGE_ASSIGN_OR_RETURN(run, read_answer(*t_.get_run, answers[1], binding, binding.run));
    VendorState state;
    EXPBRIDGE_ASSIGN_OR_RETURN(state, vendor_state(definition, run ? &*run : nullptr, binding));
    if (run) state.detail[kDetailRun] = std::stoll(binding.run);
    return ReadStep{{}, std::move(state)};
  }

  /// Adds GetExperimentRun of `run` to `step`.
  Status ask_run(const AppConfigBinding& binding, const std::string& run, ReadStep& step) const {
    PlannedRequest request;
    EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_run, base_url(), run_labels(binding, run), t_.content_type,
                                                     std::nullopt));
    step.requests.push_back(std::move(request));
    return {};
  }

  /// A read answer as a JSON object; a 404 is `not_found` naming the missing resource (the
  /// definition, or `run` of it).
  Result<boost::json::object> read_answer(const OperationSpec& operation, const ReadResponse& answer,
                                          const AppConfigBinding& binding, std::string_view run) const {
    if (answer.status == 404) {
      std::string what = run.empty() ? "AppConfig experiment definition " + quote_value(binding.definition)
                                     : "AppConfig experiment run " + std::string(run) + " of definition " +
                                           quote_value(binding.definition);
      Error e = make_error(ErrorCode::not_found, what + " was not found in application " + quote_value(options_.resource) +
                                                     " (" + operation.name + " answered 404)");
      e.operation = operation.name;
      e.http_status = 404;
      return std::unexpected(std::move(e));
    }
    return reply_object(operation, answer, "a JSON object");
  }

  static Error malformed(const OperationSpec& operation, const std::string& what) {
    Error e = make_error(ErrorCode::internal, operation.name + " answered something this adapter cannot read: " + what);
    e.operation = operation.name;
    return e;
  }
  static Error internal_read_error(const std::string& what) {
    return make_error(ErrorCode::internal, "AppConfig read: " + what);
  }

  std::optional<ExperimentStatus> run_status(std::string_view wire) const {
    if (auto it = t_.run_statuses.find(wire); it != t_.run_statuses.end()) return it->second;
    return std::nullopt;
  }

  /// The neutral state of the definition and its current run (nullptr: no run yet).
  Result<VendorState> vendor_state(const boost::json::object& definition, const boost::json::object* run,
                                   const AppConfigBinding& binding) const {
    const OperationSpec& get_definition = *t_.get_definition;
    VendorState state;
    state.not_expressible = fields_not_expressible();
    Experiment& e = state.experiment;
    auto text = [](const boost::json::object& o, const std::string& member) -> std::optional<std::string> {
      const auto* v = o.if_contains(member);
      if (v && v->is_string()) return std::string(v->get_string());
      return std::nullopt;
    };
    // AppConfig omits an empty optional member: it holds an empty string there.
    auto held = [&](const boost::json::object& o, const std::string& member) { return text(o, member).value_or(""); };

    auto id = text(definition, t_.id);
    auto status = text(definition, t_.status);
    if (!id || !status) return std::unexpected(malformed(get_definition, "no " + t_.id + " or " + t_.status));
    auto definition_status = t_.definition_statuses.find(*status);
    if (definition_status == t_.definition_statuses.end())
      return std::unexpected(malformed(get_definition, t_.status + " " + quote_value(*status) + " is not one the table maps"));
    e.vendor_ids["application"] = text(definition, t_.application_id).value_or(options_.resource);
    e.vendor_ids["definition"] = *id;
    e.hypothesis = held(definition, t_.hypothesis);
    e.launch_criteria = held(definition, t_.launch_criteria);
    e.audience = Audience{held(definition, t_.audience_rule), held(definition, t_.audience_description)};
    EXPBRIDGE_ASSIGN_OR_RETURN(e.variations, read_variations(definition, binding));
    e.status = definition_status->second;

    if (run) {
      const OperationSpec& get_run = *t_.get_run;
      const auto* number = run->if_contains(t_.run_number);
      auto run_state = text(*run, t_.status);
      if (!number || !number->is_int64() || !run_state)
        return std::unexpected(malformed(get_run, "no " + t_.run_number + " or " + t_.status));
      auto neutral = run_status(*run_state);
      if (!neutral) return std::unexpected(malformed(get_run, t_.status + " " + quote_value(*run_state) + " is not one the table maps"));
      e.vendor_ids["run"] = std::to_string(number->get_int64());
      // An archived definition stays archived whatever its last run did.
      if (e.status != ExperimentStatus::archived) e.status = *neutral;
      e.description = held(*run, t_.description);
      const auto* exposure = run->if_contains(t_.exposure);
      if (!exposure || !exposure->is_number()) return std::unexpected(malformed(get_run, "no " + t_.exposure));
      e.exposure = exposure->to_number<double>();
      EXPBRIDGE_ASSIGN_OR_RETURN(e.overrides, read_overrides(*run, binding));
      if (const auto* result = run->if_contains(t_.result); result && result->is_object()) {
        const auto& r = result->get_object();
        e.result = ExperimentResult{std::nullopt, held(r, t_.executive_summary), held(r, t_.reasons_to_launch),
                                    held(r, t_.reasons_not_to_launch)};
      }
    }
    return state;
  }

  /// The neutral variation key of an AppConfig treatment key, through the binding's `treatments`;
  /// a key the binding does not map reads as itself (as LaunchDarkly's and Auth0's names do),
  /// unless a mapped variation already has that name, which would make two arms one.
  Result<std::string> variation_key(const AppConfigBinding& binding, std::string_view key, std::string_view where) const {
    for (const auto& [variation, treatment] : binding.treatments)
      if (treatment == key) return variation;
    for (const auto& [variation, treatment] : binding.treatments)
      if (variation == key)
        return std::unexpected(invalid_field(binding.treatments_path,
                                             "AppConfig treatment key " + quote_value(key) + " (" + std::string(where) +
                                                 ") is not mapped, and variation " + quote_value(key) +
                                                 " is another treatment's: map this key to a variation of its own"));
    return std::string(key);
  }

  /// Control + Treatments back into neutral variations (control first, treatments in order).
  Result<std::vector<Variation>> read_variations(const boost::json::object& definition, const AppConfigBinding& binding) const {
    const OperationSpec& op = *t_.get_definition;
    std::vector<const boost::json::object*> inputs;
    const auto* control = definition.if_contains(t_.control);
    const auto* treatments = definition.if_contains(t_.treatments);
    if (!control || !control->is_object() || !treatments || !treatments->is_array())
      return std::unexpected(malformed(op, "no " + t_.control + " object or " + t_.treatments + " list"));
    inputs.push_back(&control->get_object());
    for (const auto& t : treatments->get_array()) {
      if (!t.is_object()) return std::unexpected(malformed(op, "a treatment is not an object"));
      inputs.push_back(&t.get_object());
    }
    std::vector<Variation> out;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const auto& o = *inputs[i];
      Variation v;
      v.control = i == 0;
      const auto* key = o.if_contains(t_.treatment_key);
      const auto* weight = o.if_contains(t_.weight);
      if (!key || !key->is_string() || !weight || !weight->is_number())
        return std::unexpected(malformed(op, "a treatment has no " + t_.treatment_key + " or " + t_.weight));
      EXPBRIDGE_ASSIGN_OR_RETURN(v.key, variation_key(binding, key->get_string(), op.name));
      v.weight = weight->to_number<double>();
      const auto* description = o.if_contains(t_.treatment_description);
      v.description = description && description->is_string() ? std::string(description->get_string()) : std::string();
      const auto* flag = o.if_contains(t_.flag_value);
      if (!flag || !flag->is_object()) return std::unexpected(malformed(op, "a treatment has no " + t_.flag_value));
      EXPBRIDGE_ASSIGN_OR_RETURN(v.value, read_flag_value(flag->get_object()));
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<VariationValue> read_flag_value(const boost::json::object& flag) const {
    const OperationSpec& op = *t_.get_definition;
    VariationValue value;
    const auto* enabled = flag.if_contains(t_.enabled);
    if (!enabled || !enabled->is_bool()) return std::unexpected(malformed(op, "a " + t_.flag_value + " has no " + t_.enabled));
    value.enabled = enabled->get_bool();
    const auto* attributes = flag.if_contains(t_.attribute_values);
    if (!attributes) return value;
    if (!attributes->is_object()) return std::unexpected(malformed(op, t_.attribute_values + " is not an object"));
    for (const auto& [name, wire] : attributes->get_object()) {
      AttributeValue neutral;
      EXPBRIDGE_ASSIGN_OR_RETURN(neutral, read_attribute(wire, name));
      value.attributes.emplace_back(std::string(name), std::move(neutral));
    }
    return value;
  }

  /// One AttributeValue union back to its neutral type (enums.attribute_type read backwards).
  Result<AttributeValue> read_attribute(const boost::json::value& wire, std::string_view name) const {
    const OperationSpec& op = *t_.get_definition;
    auto bad = [&] { return std::unexpected(malformed(op, "attribute " + quote_value(name) + " is not an AttributeValue")); };
    if (!wire.is_object() || wire.get_object().size() != 1) return bad();
    const auto& [member, v] = *wire.get_object().begin();
    auto type = t_.attribute_types.find(std::string_view(member));
    if (type == t_.attribute_types.end()) return bad();
    const std::string& neutral = type->second;
    if (neutral == "string" && v.is_string()) return AttributeValue{std::string(v.get_string())};
    if (neutral == "number" && v.is_number()) return AttributeValue{v.to_number<double>()};
    if (neutral == "bool" && v.is_bool()) return AttributeValue{v.get_bool()};
    if (!v.is_array()) return bad();
    if (neutral == "string_list") {
      std::vector<std::string> items;
      for (const auto& item : v.get_array()) {
        if (!item.is_string()) return bad();
        items.emplace_back(item.get_string());
      }
      return AttributeValue{std::move(items)};
    }
    std::vector<double> items;
    for (const auto& item : v.get_array()) {
      if (!item.is_number()) return bad();
      items.push_back(item.to_number<double>());
    }
    return AttributeValue{std::move(items)};
  }

  /// TreatmentOverrides.Inline back to neutral variation keys; none = an empty map.
  Result<std::vector<std::pair<std::string, std::string>>> read_overrides(const boost::json::object& run,
                                                                         const AppConfigBinding& binding) const {
    std::vector<std::pair<std::string, std::string>> out;
    const auto* overrides = run.if_contains(t_.treatment_overrides);
    if (!overrides) return out;
    const auto* entries = overrides->is_object() ? overrides->get_object().if_contains(t_.inline_overrides) : nullptr;
    if (!entries || !entries->is_object())
      return std::unexpected(malformed(*t_.get_run, t_.treatment_overrides + " has no " + t_.inline_overrides + " map"));
    for (const auto& [entity, key] : entries->get_object()) {
      if (!key.is_string()) return std::unexpected(malformed(*t_.get_run, "an override is not a treatment key"));
      std::string variation;
      EXPBRIDGE_ASSIGN_OR_RETURN(variation, variation_key(binding, key.get_string(), t_.get_run->name));
      out.emplace_back(std::string(entity), std::move(variation));
    }
    return out;
  }

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
  /// Every operation's path labels: `run` (when known) of the bound definition.
  Labels run_labels(const AppConfigBinding& binding, std::string_view run) const {
    Labels labels{{"application", options_.resource}, {"definition", binding.definition}};
    if (!run.empty()) labels.emplace_back("run", run);
    return labels;
  }

  /// The run this plan's run operations address: the binding's `run` when it pins one, else
  /// the current run of the plan's read (`detail.run`). Empty when no run operation is sent;
  /// refused, naming the binding and `operation`, when one is sent and no run is known.
  Result<std::string> run_of(const AppConfigBinding& binding, const PlanContext& context,
                             const OperationSpec* operation) const {
    if (!binding.run.empty()) return binding.run;
    const VendorState* read = context.read;
    if (read)
      if (const auto* run = read->detail.if_contains(kDetailRun); run && (run->is_int64() || run->is_uint64()))
        return std::to_string(run->to_number<std::int64_t>());
    if (!operation) return std::string();
    if (read)
      return refuse_for(operation->name, binding.run_path,
                        "AppConfig experiment definition " + quote_value(binding.definition) + " has no run yet, so " +
                            operation->name + " has no run to address: start one first (action: start)");
    return refuse_for(operation->name, binding.run_path,
                      binding.run_path + " is not set, so " + operation->name +
                          " goes to the current run, and this plan did not read AppConfig to find it: `apply` reads "
                          "the current run (ListExperimentRuns), `plan` and `apply --no-read` do not; pin `run: N` in "
                          "the binding to plan without a read");
  }

  const AppConfigLimits& l_ = t_.limits;
};

Result<AppConfigOptions> read_options(const BackendContext& context, const AppConfigTable&) {
  BackendSettings settings;
  EXPBRIDGE_ASSIGN_OR_RETURN(settings, read_settings(context, {{"region", "region"},
                                                               {"application", "application"},
                                                               {"profile", "profile", false},
                                                               {"configuration_profile", "configuration_profile", false},
                                                               {"environment", "environment", false}}));
  AppConfigOptions out;
  out.aws = AwsOptions::from(settings);
  out.resource = settings.value("application");
  out.resource_setting = settings.setting("application");
  EXPBRIDGE_ASSIGN_OR_RETURN(out.base_url, aws_base_url(context, out.aws));
  out.configuration_profile = settings.optional("configuration_profile");
  out.configuration_profile_setting = settings.setting("configuration_profile");
  out.environment = settings.optional("environment");
  out.environment_setting = settings.setting("environment");
  return out;
}

}  // namespace

Result<std::unique_ptr<Adapter>> make_appconfig_adapter(const BackendContext& context) {
  static const AdapterFactory factory = adapter_factory<AppConfigAdapter>(kVendor, read_options);
  return factory(context);
}

}  // namespace expbridge
