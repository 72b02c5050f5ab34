#include "auth0_adapter.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapter_support.hpp"
#include "message_text.hpp"
#include "document.hpp"
#include "json_reader.hpp"
#include "url.hpp"

namespace expbridge {
namespace {

constexpr std::string_view kVendor = "auth0";

/// `backends.<name>` settings. Only names of environment variables, never the credentials.
struct Auth0Options {
  std::string domain;  ///< the tenant's Auth0 host name, e.g. `example.us.auth0.com`
  std::string client_id_env;
  std::string client_secret_env;
  std::string base_url;  ///< from the domain, or the endpoint override
  std::string audience;  ///< the tenant's Management API
  /// Token URL, audience and the credentials' homes, each with the setting it comes from.
  std::vector<AuthSetting> auth;

  std::vector<AuthSetting> auth_settings() const { return auth; }
};

struct Auth0Binding final : Binding {
  std::string id;  ///< `exp_…`
  /// Neutral variation key -> `var_…`, in config order.
  std::vector<std::pair<std::string, std::string>> variations;
  std::string path;  ///< `experiments.<key>.<backend>`, for messages

  const std::string* variation_id(std::string_view key) const {
    for (const auto& [neutral, id] : variations)
      if (neutral == key) return &id;
    return nullptr;
  }
};


Result<std::string> auth_string(const MappingTable& t, std::string_view key) {
  if (const auto* v = t.auth().if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return std::unexpected(table_error(t, "auth." + std::string(key) + " must be a string"));
}

/// Everything the adapter takes from its mapping table, resolved once.
struct Auth0Table {
  const OperationSpec* update_experiment = nullptr;
  const OperationSpec* transition_status = nullptr;
  const OperationSpec* get_experiment = nullptr;
  const OperationSpec* list_experiments = nullptr;
  const OperationSpec* get_flag = nullptr;
  const OperationSpec* list_variations = nullptr;
  const OperationSpec* create_experiment = nullptr;
  std::string content_type;
  // CreateExperiment members no neutral field sets (enums.create_members) and their defaults.
  std::string authentication_flow_member, allocation_strategy_member, assignment_config_member;
  std::string default_authentication_flow, default_allocation_strategy, default_subject;
  /// Why a create cannot carry a status (enums.create_lost), by the neutral status.
  std::map<std::string, std::string, std::less<>> create_lost;
  const LimitSpec *flag_id{}, *authentication_flow{}, *create_variations{};
  // The read's member names (`enums.read`).
  std::string feature_flag_member, parameters_member, variations_member, variation_id_member, variation_name_member,
      overrides_member, next_member, from_query;
  std::string name_member, description_member, status_member;
  std::string allocations_member, variation_member, control_member, weight_member;
  /// Neutral action -> Auth0 status the transition moves to.
  std::map<std::string, std::string, std::less<>> action_statuses;
  /// Neutral status -> Auth0 status.
  std::map<std::string, std::string, std::less<>> statuses;
  /// Auth0 target status -> the statuses it may be reached from, space-separated (`enums.transition_from`).
  std::map<std::string, std::string, std::less<>> transition_sources;
  std::string token_path, audience_template;
  // Limits: of the binding's ids, of UpdateExperiment's values, of what the current state allows.
  const LimitSpec *experiment_id{}, *variation_id{};
  const LimitSpec *name{}, *description{}, *allocations{}, *weight{};
  const LimitSpec *allocations_frozen{}, *completed_is_final{};

  static Result<Auth0Table> resolve(const MappingTable& t) {
    Auth0Table out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_experiment, t.operation(t.field(field::name).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.transition_status, t.operation(t.field(field::action).operation));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_experiment, t.operation("GetExperiment"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.list_experiments, t.operation("ListExperiments"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.get_flag, t.operation("GetFeatureFlag"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.list_variations, t.operation("ListFeatureFlagVariations"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.create_experiment, t.operation("CreateExperiment"));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {
        {&out.authentication_flow_member, "create_members", "authentication_flow"},
        {&out.allocation_strategy_member, "create_members", "allocation_strategy"},
        {&out.assignment_config_member, "create_members", "assignment_config"},
        {&out.default_authentication_flow, "create_defaults", "authentication_flow"},
        {&out.default_allocation_strategy, "create_defaults", "allocation_strategy"},
        {&out.default_subject, "create_defaults", "subject"},
    }));
    for (const char* key : {"stopped", "paused", "archived"}) {
      std::string reason;
      EXPBRIDGE_ASSIGN_OR_RETURN(reason, t.enum_value("create_lost", key));
      out.create_lost.emplace(key, std::move(reason));
    }
    EXPBRIDGE_RETURN_IF_ERROR(resolve_limits(t, {{&out.flag_id, "flag_id"},
                                                 {&out.authentication_flow, "authentication_flow"},
                                                 {&out.create_variations, "create_variations"}}));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_enums(t, {
        {&out.feature_flag_member, "read", "feature_flag"},
        {&out.parameters_member, "read", "parameters"},
        {&out.variations_member, "read", "variations"},
        {&out.variation_id_member, "read", "variation_id"},
        {&out.variation_name_member, "read", "variation_name"},
        {&out.overrides_member, "read", "overrides"},
        {&out.next_member, "read", "next"},
        {&out.from_query, "read", "from"},
    }));
    // The adapter builds one PATCH body; a table routing a field or pass-through member to
    // another operation would be silently ignored, so it is refused at start-up.
    for (const char* neutral : {field::description, field::variations}) {
      if (t.field(neutral).operation != out.update_experiment->name)
        return std::unexpected(
            table_error(t, std::string("fields.") + neutral + ".operation must be " + out.update_experiment->name));
    }
    for (const auto& [member, operation] : t.passthrough()) {
      if (operation != out.update_experiment->name)
        return std::unexpected(table_error(t, "passthrough." + member + " must name " + out.update_experiment->name));
    }
    out.content_type = t.content_type();
    EXPBRIDGE_RETURN_IF_ERROR(resolve_wires(t, {
        {&out.name_member, field::name},
        {&out.description_member, field::description},
        {&out.status_member, field::action},
        {&out.allocations_member, field::variations},
        {&out.variation_member, field::variations, "variation"},
        {&out.control_member, field::variations, "control"},
        {&out.weight_member, field::variations, "weight"},
    }));
    out.action_statuses = t.field(field::action).values;
    for (auto status : {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::paused,
                        ExperimentStatus::stopped, ExperimentStatus::archived}) {
      std::string wire;
      EXPBRIDGE_ASSIGN_OR_RETURN(wire, t.enum_value("status", to_string(status)));
      out.statuses.emplace(std::string(to_string(status)), std::move(wire));
    }
    // Targets whose sources the table leaves out (archived: unverified) are not checked before sending.
    for (const auto& [action, target] : out.action_statuses)
      if (auto from = t.enum_value("transition_from", target)) out.transition_sources.emplace(target, std::move(*from));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.token_path, auth_string(t, "token_path"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.audience_template, auth_string(t, "audience"));
    EXPBRIDGE_RETURN_IF_ERROR(resolve_limits(t, {
        {&out.experiment_id, "experiment_id"},
        {&out.variation_id, "variation_id"},
        {&out.name, "name"},
        {&out.description, "description"},
        {&out.allocations, "allocations"},
        {&out.weight, "weight"},
        {&out.allocations_frozen, "allocations_frozen"},
        {&out.completed_is_final, "completed_is_final"},
    }));
    return out;
  }
};

class Auth0Adapter final : public ResolvedAdapter<Auth0Table, Auth0Options> {
  // The base's constructor, as public as it is there (an inherited constructor keeps its access).
  using ResolvedAdapter::ResolvedAdapter;

  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto opened = open_binding(settings, path, {"id", "variations"}, "id", *t_.experiment_id, &Auth0Binding::id);
    if (!opened) return std::unexpected(std::move(opened).error());
    auto& [reader, binding] = *opened;
    binding->path = path;
    const boost::json::object* variations = nullptr;
    EXPBRIDGE_ASSIGN_OR_RETURN(variations, reader.optional_object("variations"));
    if (variations) {
      auto vr = ObjectReader::open(*variations, reader.member_path("variations"));
      std::map<std::string, std::string> variation_of_id;  // the duplicate check stays linear
      for (const auto& member : *variations) {
        std::string key(member.key());
        std::string id;
        EXPBRIDGE_ASSIGN_OR_RETURN(id, vr.required_string(key));
        EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.variation_id, id, vr.member_path(key)));
        // Two neutral variations on one Auth0 variation would give it two allocations.
        if (auto [it, fresh] = variation_of_id.emplace(id, key); !fresh)
          return std::unexpected(invalid_field(vr.member_path(key), quote_value(id) + " is already bound to variation " +
                                                                  quote_value(it->second) +
                                                                  "; each Auth0 variation takes one allocation"));
        binding->variations.emplace_back(std::move(key), std::move(id));
      }
    }
    return std::unique_ptr<const Binding>(std::move(binding));
  }

  Result<BackendPlan> do_plan(const Update& u, const Binding& b, const PlanContext& context) const override {
    const auto& binding = static_cast<const Auth0Binding&>(b);
    const Experiment* current = context.current;
    BackendPlan out;
    RequestDraft patch(*t_.update_experiment);
    RequestDraft transition(*t_.transition_status);

    if (u.name) {
      EXPBRIDGE_RETURN_IF_ERROR(patch.check_string(*t_.name, *u.name, field::name));
      patch.body()[t_.name_member] = *u.name;
      carry(out, field::name);
    }
    if (u.description) {
      EXPBRIDGE_RETURN_IF_ERROR(patch.check_string(*t_.description, *u.description, field::description));
      patch.body()[t_.description_member] = *u.description;
      carry(out, field::description);
    }
    skip_present(u, out, {field::hypothesis, field::launch_criteria, field::audience_rule, field::audience_description});

    if (u.variations) {
      // Auth0 answers 400 to allocations on an active experiment; known state lets us say so first.
      if (current && current->status == ExperimentStatus::running)
        return patch.refuse(field::variations, "cannot change now: the Auth0 experiment is " +
                                                   t_.statuses.at(std::string(to_string(*current->status))) + " (" +
                                                   t_.allocations_frozen->rule + ")");
      EXPBRIDGE_RETURN_IF_ERROR(patch.check_count(*t_.allocations, u.variations->size(), field::variations));
      boost::json::array allocations;
      for (std::size_t i = 0; i < u.variations->size(); ++i) {
        const Variation& v = (*u.variations)[i];
        std::string path = index_path(field::variations, i);
        const std::string* id = binding.variation_id(v.key);
        if (!id)
          return patch.refuse(path, "variation '" + v.key + "' has no Auth0 variation id in " + binding.path +
                                        ".variations; every variation needs one (var_…) to become an allocation");
        EXPBRIDGE_RETURN_IF_ERROR(patch.check_number(*t_.weight, v.weight, join_path(path, "weight")));
        allocations.push_back(boost::json::object{
            {t_.variation_member, *id}, {t_.control_member, v.control}, {t_.weight_member, v.weight}});
        std::string skipped_as = std::string(field::variations) + "[" + v.key + "]";
        if (v.value) out.skipped.push_back(Skip{skipped_as + ".value", variation_part_reason("value")});
        if (v.description) out.skipped.push_back(Skip{skipped_as + ".description", variation_part_reason("description")});
      }
      patch.body()[t_.allocations_member] = std::move(allocations);
      carry(out, field::variations);
    }
    skip_if(u.exposure.has_value(), field::exposure, out);
    skip_if(u.overrides.has_value(), field::overrides, out);

    std::vector<PassThrough> members;
    EXPBRIDGE_ASSIGN_OR_RETURN(members, passthrough(u, out));
    for (const auto& member : members) {
      // Every UpdateExperiment member the model lacks is an object (assignment_config).
      if (!member.value->is_object())
        return refuse_for(member.operation, passthrough_path(member),
                          "must be a mapping, found " + std::string(json_kind(*member.value)));
      patch.body()[member.member] = *member.value;
    }

    std::optional<std::string> target_status;
    if (u.action) {
      std::string_view action = to_string(*u.action);
      if (auto it = t_.action_statuses.find(action); it != t_.action_statuses.end()) {
        target_status = it->second;
        carry(out, field::action);  // sent, or noted as already holding
        if (current && current->status) {
          const std::string& now = t_.statuses.at(std::string(to_string(*current->status)));
          if (*current->status == ExperimentStatus::stopped && *u.action == Action::start)
            return transition.refuse(field::action, "the Auth0 experiment is " + now + " (" + t_.completed_is_final->rule + ")");
          if (auto from = t_.transition_sources.find(*target_status);
              now != *target_status && from != t_.transition_sources.end() &&
              (" " + from->second + " ").find(" " + now + " ") == std::string::npos)
            return transition.refuse(field::action, "the Auth0 experiment is " + now + ", and Auth0 moves an experiment to " +
                                                        *target_status + " only from " + from->second);
          if (now == *target_status) {
            // The documented transitions never lead from a status to itself: a repeat may be refused.
            out.notes.push_back("the Auth0 experiment is already " + now + "; no status transition is sent for action " +
                                std::string(action));
            target_status.reset();
          }
        }
      } else {
        skip_value(out, field::action, action, "Auth0 has no status transition for action '" + std::string(action) + "'");
      }
    }
    skip_if(u.result.has_value(), field::result, out);
    skip_if(u.comment.has_value(), field::comment, out);

    Labels labels{{"id", binding.id}};
    if (!patch.empty()) EXPBRIDGE_RETURN_IF_ERROR(patch.add_to(out, options_.base_url, labels, t_.content_type));
    if (target_status) {
      transition.body()[t_.status_member] = *target_status;
      EXPBRIDGE_RETURN_IF_ERROR(transition.add_to(out, options_.base_url, labels, t_.content_type));
    }
    return out;
  }

  Result<std::vector<PlannedRequest>> do_state_requests(const Update& u, const Binding& b) const override {
    // Allocations are frozen while active, and a transition depends on the status now.
    if (!u.variations && !u.action) return std::vector<PlannedRequest>{};
    const auto& binding = static_cast<const Auth0Binding&>(b);
    PlannedRequest request;
    EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_experiment, options_.base_url, {{"id", binding.id}},
                                                     t_.content_type, std::nullopt));
    return std::vector<PlannedRequest>{std::move(request)};
  }

  Result<Experiment> do_read_state(const Binding&, const std::vector<ReadResponse>& responses) const override {
    Experiment state;
    if (responses.empty() || responses.front().status == 404) return state;
    boost::json::object experiment;
    EXPBRIDGE_ASSIGN_OR_RETURN(experiment, reply_object(*t_.get_experiment, responses.front(), "an experiment"));
    if (const auto* status = experiment.if_contains("status"); status && status->is_string())
      for (const auto& [neutral, wire] : t_.statuses)
        if (wire == status->get_string())
          for (auto s : {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::paused,
                         ExperimentStatus::stopped, ExperimentStatus::archived})
            if (to_string(s) == neutral) state.status = s;
    return state;
  }

  /// The read: GetExperiment; then the flag it runs on (GetFeatureFlag: the baseline parameters) and
  /// that flag's variations (ListFeatureFlagVariations, one checkpoint page per step while an answer
  /// names a `next`). Answers, in order: experiment, flag, variation pages.
  /// With a hint (the `feature_flag_id` an earlier read found) the flag and its first page are asked
  /// with the experiment: answers experiment, hinted flag, hinted page, then more pages. When the
  /// experiment now runs on another flag, those two answers are ignored and the right flag's follow.
  Result<ReadStep> do_read(const Binding& b, const std::vector<ReadResponse>& answers,
                           const ReadHint* hint) const override {
    const auto& binding = static_cast<const Auth0Binding&>(b);
    const std::optional<std::string> hinted = hinted_label(hint, t_.feature_flag_member);
    ReadStep step;
    if (answers.empty()) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.get_experiment, options_.base_url, {{"id", binding.id}},
                                                       t_.content_type, std::nullopt));
      step.requests.push_back(std::move(request));
      if (hinted) EXPBRIDGE_RETURN_IF_ERROR(ask_flag(*hinted, step));
      return step;
    }
    boost::json::object experiment;
    EXPBRIDGE_ASSIGN_OR_RETURN(experiment, answer_object(*t_.get_experiment, answers[0], "experiment", binding.id));
    const auto* flag_id = experiment.if_contains(t_.feature_flag_member);
    if (!flag_id || !flag_id->is_string()) return unusable(*t_.get_experiment, "without a " + t_.feature_flag_member);
    const std::string flag(flag_id->get_string());
    const Labels flag_labels{{"flag", flag}};
    // Where this flag's answers start: after the experiment, or after a stale hint's two.
    const std::size_t first = hinted && *hinted != flag ? 3 : 1;
    if (answers.size() < first)
      return std::unexpected(make_error(ErrorCode::internal, "auth0 read: the hinted flag was not answered"));
    if (answers.size() == first) {
      EXPBRIDGE_RETURN_IF_ERROR(ask_flag(flag, step));
      return step;
    }
    if (answers.size() < first + 2)
      return std::unexpected(make_error(ErrorCode::internal, "auth0 read: GetFeatureFlag was answered without "
                                                             "ListFeatureFlagVariations"));
    PlannedRequest request;
    boost::json::object flag_object;
    EXPBRIDGE_ASSIGN_OR_RETURN(flag_object, answer_object(*t_.get_flag, answers[first], "feature flag", flag));
    std::vector<boost::json::object> variations;  // every page's, in order
    for (std::size_t i = first + 1; i < answers.size(); ++i) {
      boost::json::object page;
      EXPBRIDGE_ASSIGN_OR_RETURN(page, answer_object(*t_.list_variations, answers[i], "feature flag", flag));
      const auto* list = page.if_contains(t_.variations_member);
      if (!list || !list->is_array()) return unusable(*t_.list_variations, "without a " + t_.variations_member + " list");
      for (const auto& v : list->get_array()) {
        if (!v.is_object()) return unusable(*t_.list_variations, "a variation that is not an object");
        variations.push_back(v.get_object());
      }
      const auto* next = page.if_contains(t_.next_member);
      if (i + 1 == answers.size() && next && next->is_string()) {
        EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.list_variations, options_.base_url, flag_labels,
                                                         t_.content_type, std::nullopt));
        request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + t_.from_query + "=" +
                       percent_encode(next->get_string());
        step.requests.push_back(std::move(request));
        return step;
      }
    }

    VendorState state;
    state.experiment.vendor_ids = {{"experiment", binding.id}, {"feature_flag", flag}};
    state.not_expressible = fields_not_expressible();
    state.detail[t_.feature_flag_member] = flag;
    state.hint[t_.feature_flag_member] = flag;
    EXPBRIDGE_RETURN_IF_ERROR(read_experiment(experiment, flag_object, variations, binding, state));
    return ReadStep{{}, std::move(state)};
  }

  // Creating: GetFeatureFlag + ListFeatureFlagVariations (every page), then CreateExperiment,
  // then TransitionExperimentStatus active when the experiment runs.
  // Answers: [flag, variation pages..., experiment created, status?].
  // Finding first (`find_existing`): ListExperiments, every page until one holds the create's
  // name; none = the create's steps follow, their answers after the pages; found = [pages...,
  // status?], the status POST only for a draft that should run.
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
    RequestDraft create(*t_.create_experiment);
    EXPBRIDGE_ASSIGN_OR_RETURN(create.body(), create_body(spec, target));
    const std::string name(create.body().at(t_.name_member).as_string());
    if (answers.empty()) {
      ReadStep asked;
      EXPBRIDGE_RETURN_IF_ERROR(ask_flag(target.flag, asked));
      CreateStep step;
      step.requests = std::move(asked.requests);
      step.then.push_back(t_.create_experiment->name + " " + quote_value(name) + " on " + target.flag + " (" +
                          std::to_string(desired.variations->size()) + " allocations)");
      if (running) step.then.push_back(t_.transition_status->name + " " + t_.statuses.at("running"));
      step.carriage = create_carriage(spec);
      return step;
    }
    boost::json::object flag;
    EXPBRIDGE_ASSIGN_OR_RETURN(flag, answer_object(*t_.get_flag, answers[0], "feature flag", target.flag));
    // The variation pages: each but the last names the next one.
    std::vector<std::string> flag_variations;
    std::size_t at = 1;
    for (;; ++at) {
      if (at >= answers.size())
        return std::unexpected(make_error(ErrorCode::internal, "auth0 create: the flag's variations were not answered"));
      boost::json::object page;
      EXPBRIDGE_ASSIGN_OR_RETURN(page, answer_object(*t_.list_variations, answers[at], "feature flag", target.flag));
      const auto* list = page.if_contains(t_.variations_member);
      if (!list || !list->is_array()) return unusable(*t_.list_variations, "without a " + t_.variations_member + " list");
      for (const auto& v : list->get_array())
        if (const auto* id = v.is_object() ? v.get_object().if_contains(t_.variation_id_member) : nullptr; id && id->is_string())
          flag_variations.emplace_back(id->get_string());
      const auto* next = page.if_contains(t_.next_member);
      if (!next || !next->is_string()) break;
      if (at + 1 < answers.size()) continue;
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.list_variations, options_.base_url, {{"flag", target.flag}},
                                                       t_.content_type, std::nullopt));
      request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + t_.from_query + "=" +
                     percent_encode(next->get_string());
      return CreateStep{{std::move(request)}, std::nullopt, {}, {}};
    }
    for (const auto& [key, id] : target.variations)
      if (std::find(flag_variations.begin(), flag_variations.end(), id) == flag_variations.end())
        return std::unexpected(make_error(ErrorCode::not_found,
                                          "Auth0 feature flag " + quote_value(target.flag) + " has no variation " +
                                              quote_value(id) + " (bound to variation " + quote_value(key) +
                                              " in the binding's `variations`); expbridge does not create variations"));
    const auto* flag_status = flag.if_contains(t_.status_member);
    if (running && (!flag_status || !flag_status->is_string() || flag_status->get_string() != t_.statuses.at("running")))
      return refuse_for(t_.transition_status->name, "status",
                        "Auth0 activates an experiment only on an active feature flag, and " + quote_value(target.flag) +
                            " is not active: activate the flag at Auth0 first (nothing was created)");
    boost::json::object variation_ids;
    for (const auto& [key, id] : target.variations) variation_ids[key] = id;
    const std::size_t created_at = at + 1;
    if (answers.size() == created_at) {
      BackendPlan planned;
      EXPBRIDGE_RETURN_IF_ERROR(create.add_to(planned, options_.base_url, {}, t_.content_type));
      return CreateStep{std::move(planned.requests), std::nullopt, {}, {}};
    }
    boost::json::object created;
    EXPBRIDGE_ASSIGN_OR_RETURN(created, created_object(*t_.create_experiment, answers[created_at],
                                                       "experiment " + quote_value(name)));
    const auto* id = created.if_contains("id");
    if (!id || !id->is_string() || !check_string(*t_.experiment_id, id->get_string(), "id"))
      return unusable(*t_.create_experiment, "without an experiment id (exp_…)");
    const std::string experiment_id(id->get_string());
    boost::json::object binding{{"id", experiment_id}, {"variations", std::move(variation_ids)}};
    if (!running) return CreateStep{{}, std::move(binding), {}, {}};
    if (answers.size() == created_at + 1) return start_step(experiment_id);
    EXPBRIDGE_RETURN_IF_ERROR(started_after_create(*t_.transition_status, answers[created_at + 1],
                                                   "an active experiment " + quote_value(experiment_id), binding));
    return CreateStep{{}, std::move(binding), {}, {}};
  }

  /// TransitionExperimentStatus active of experiment `id`.
  Result<CreateStep> start_step(const std::string& id) const {
    RequestDraft transition(*t_.transition_status);
    transition.body()[t_.status_member] = t_.statuses.at("running");
    BackendPlan planned;
    EXPBRIDGE_RETURN_IF_ERROR(transition.add_to(planned, options_.base_url, {{"id", id}}, t_.content_type));
    return CreateStep{std::move(planned.requests), std::nullopt, {}, {}};
  }

  /// What a create takes from the partial binding: the flag, each variation's var_… id, and the
  /// authentication flow.
  struct CreateTarget {
    std::string flag, authentication_flow;
    std::vector<std::pair<std::string, std::string>> variations;  ///< neutral key -> var_…, in desired order
  };

  /// The members of a partial binding a create reads, each checked as the vendor limits them.
  struct CreateMembers {
    std::optional<std::string> flag, authentication_flow;
    const boost::json::object* variations = nullptr;
  };

  Result<CreateMembers> read_create_members(const boost::json::object& partial, const std::string& path) const {
    ObjectReader reader = ObjectReader::open(partial, path);
    CreateMembers out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.flag, reader.optional_string("flag"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.authentication_flow, reader.optional_string("authentication_flow"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.variations, reader.optional_object("variations"));
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    if (out.flag) EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.flag_id, *out.flag, reader.member_path("flag")));
    if (out.authentication_flow)
      EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.authentication_flow, *out.authentication_flow,
                                             reader.member_path("authentication_flow")));
    if (out.variations) {
      // Through the binding reader, so each var_… id is checked as a binding's is.
      std::unique_ptr<const Binding> bound;
      EXPBRIDGE_ASSIGN_OR_RETURN(bound, do_bind(boost::json::object{{"id", "exp_1"}, {"variations", *out.variations}}, path));
    }
    return out;
  }

  Status do_check_create_binding(const boost::json::object& partial, const std::string& path) const override {
    auto read = read_create_members(partial, path);
    if (!read) return std::unexpected(std::move(read).error());
    return {};
  }

  Result<CreateTarget> create_target(const CreateSpec& spec) const {
    const Experiment& e = *spec.desired;
    const std::string path = create_binding_path(spec.experiment);
    static const boost::json::object none;
    const boost::json::object& partial = spec.binding ? *spec.binding : none;
    CreateMembers given;
    EXPBRIDGE_ASSIGN_OR_RETURN(given, read_create_members(partial, path));
    ObjectReader reader = ObjectReader::open(partial, path);
    if (!given.flag)
      return std::unexpected(reader.missing("flag", "is required to create the experiment at Auth0: the id (flg_…) of "
                                                    "the feature flag it runs on"));
    CreateTarget out;
    out.flag = *given.flag;
    out.authentication_flow = given.authentication_flow.value_or(t_.default_authentication_flow);
    EXPBRIDGE_RETURN_IF_ERROR(
        check_string(*t_.authentication_flow, out.authentication_flow, reader.member_path("authentication_flow")));
    const boost::json::object* variations = given.variations;
    std::size_t controls = 0;
    for (const auto& v : e.variations.value_or(std::vector<Variation>{})) controls += v.control;
    if (!e.variations || e.variations->empty() || controls != 1)
      return refuse_for(t_.create_experiment->name, field::variations, t_.create_variations->rule);
    // Through the binding reader, so each var_… id is checked as a binding's is.
    boost::json::object as_binding{{"id", "exp_1"}};
    if (variations) as_binding["variations"] = *variations;
    std::unique_ptr<const Binding> bound;
    EXPBRIDGE_ASSIGN_OR_RETURN(bound, do_bind(as_binding, path));
    const auto& checked = static_cast<const Auth0Binding&>(*bound);
    for (const auto& v : *e.variations) {
      const std::string* id = checked.variation_id(v.key);
      if (!id)
        return std::unexpected(invalid_field(join_path(reader.member_path("variations"), v.key),
                                             "is required to create the experiment at Auth0: the id (var_…) of the flag "
                                             "variation that variation " + quote_value(v.key) + " serves"));
      out.variations.emplace_back(v.key, *id);
    }
    return out;
  }

  Result<CreateStep> find_or_create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const {
    CreateTarget target;
    EXPBRIDGE_ASSIGN_OR_RETURN(target, create_target(spec));
    boost::json::object body;
    EXPBRIDGE_ASSIGN_OR_RETURN(body, create_body(spec, target));
    const std::string name(body.at(t_.name_member).as_string());
    auto page_request = [&](const boost::json::value* from) -> Result<PlannedRequest> {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.list_experiments, options_.base_url, {}, t_.content_type,
                                                       std::nullopt));
      if (from) append_query(request.url, t_.from_query, from->get_string());
      return request;
    };
    if (answers.empty()) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, page_request(nullptr));
      return lookup_step(std::move(request),
                         "when " + t_.list_experiments->name + " finds no experiment named " + quote_value(name) + ": " +
                             t_.get_flag->name + " " + target.flag + ", " + t_.create_experiment->name,
                         create_carriage(spec));
    }
    const boost::json::object* found = nullptr;
    std::vector<boost::json::object> pages;
    while (pages.size() < answers.size()) {
      boost::json::object page;
      EXPBRIDGE_ASSIGN_OR_RETURN(page, looked_up_object(*t_.list_experiments, answers[pages.size()], "the experiments"));
      pages.push_back(std::move(page));
      // `experiments`: the list's member, as the vendor facts give it.
      const auto* list = pages.back().if_contains("experiments");
      if (!list || !list->is_array()) return unusable(*t_.list_experiments, "without an experiments list");
      for (const auto& e : list->get_array())
        if (const auto* n = e.is_object() ? e.get_object().if_contains(t_.name_member) : nullptr;
            !found && n && n->is_string() && n->get_string() == name)
          found = &e.get_object();
      const auto* next = pages.back().if_contains(t_.next_member);
      if (found || !next || !next->is_string()) break;
      if (pages.size() == answers.size()) {
        PlannedRequest request;
        EXPBRIDGE_ASSIGN_OR_RETURN(request, page_request(next));
        return CreateStep{{std::move(request)}, std::nullopt, {}, {}};
      }
    }
    if (!found) {
      auto step = create_steps(spec, answers_after(answers, pages.size()));
      if (step) step->carriage.clear();
      return step;
    }
    const auto* id = found->if_contains("id");
    if (!id || !id->is_string() || !check_string(*t_.experiment_id, id->get_string(), "id"))
      return unusable(*t_.list_experiments, "an experiment without an id (exp_…)");
    const std::string experiment_id(id->get_string());
    const std::string what = "Auth0 experiment " + quote_value(experiment_id) + " named " + quote_value(name);
    auto text_of = [&](const std::string& member) {
      const auto* v = found->if_contains(member);
      return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    if (text_of(t_.feature_flag_member) != target.flag)
      return std::unexpected(found_but_different(*t_.list_experiments, what,
                                                 "it runs on feature flag " + quote_value(text_of(t_.feature_flag_member)) +
                                                     ", the create on " + quote_value(target.flag)));
    // Its allocations' variations and which is the control, against the create's.
    std::vector<std::string> held, wanted;
    if (const auto* allocations = found->if_contains(t_.allocations_member); allocations && allocations->is_array())
      for (const auto& a : allocations->get_array()) {
        if (!a.is_object()) continue;
        const auto* variation = a.get_object().if_contains(t_.variation_member);
        const auto* control = a.get_object().if_contains(t_.control_member);
        held.push_back((variation && variation->is_string() ? std::string(variation->get_string()) : std::string()) +
                       (control && control->is_bool() && control->get_bool() ? " (control)" : ""));
      }
    for (std::size_t i = 0; i < target.variations.size(); ++i)
      wanted.push_back(target.variations[i].second + ((*spec.desired->variations)[i].control ? " (control)" : ""));
    std::sort(held.begin(), held.end());
    std::sort(wanted.begin(), wanted.end());
    if (held != wanted)
      return std::unexpected(found_but_different(*t_.list_experiments, what,
                                                 "its allocations are of variations " + quoted_list(held) +
                                                     ", the create's of " + quoted_list(wanted)));
    boost::json::object variation_ids;
    for (const auto& [key, vid] : target.variations) variation_ids[key] = vid;
    boost::json::object binding{{"id", experiment_id}, {"variations", std::move(variation_ids)}};
    const std::string status = text_of(t_.status_member);
    const bool running = spec.desired->status == ExperimentStatus::running;
    if (!running || status == t_.statuses.at("running")) return CreateStep{{}, std::move(binding), {}, {}};
    if (status != t_.statuses.at("draft"))
      return std::unexpected(found_but_different(*t_.list_experiments, what,
                                                 "its status is " + quote_value(status) + ", where the create leaves " +
                                                     t_.statuses.at("draft") + " or " + t_.statuses.at("running")));
    if (answers.size() == pages.size()) return start_step(experiment_id);
    EXPBRIDGE_RETURN_IF_ERROR(started_after_create(*t_.transition_status, answers[pages.size()],
                                                   "an active experiment " + quote_value(experiment_id), binding));
    return CreateStep{{}, std::move(binding), {}, {}};
  }

  /// CreateExperiment's body: the percentage strategy, one allocation per variation.
  Result<boost::json::object> create_body(const CreateSpec& spec, const CreateTarget& target) const {
    const Experiment& e = *spec.desired;
    RequestDraft draft(*t_.create_experiment);
    boost::json::object body;
    const std::string name = e.name.value_or(spec.experiment);
    EXPBRIDGE_RETURN_IF_ERROR(draft.check_string(*t_.name, name, e.name ? field::name : "experiment"));
    body[t_.name_member] = name;
    // An empty description is none (Auth0 takes 3 characters at least when one is sent).
    if (e.description && !e.description->empty()) {
      EXPBRIDGE_RETURN_IF_ERROR(draft.check_string(*t_.description, *e.description, field::description));
      body[t_.description_member] = *e.description;
    }
    body[t_.feature_flag_member] = target.flag;
    body[t_.authentication_flow_member] = target.authentication_flow;
    body[t_.allocation_strategy_member] = t_.default_allocation_strategy;
    body[t_.assignment_config_member] = boost::json::object{{"subject", t_.default_subject}};
    boost::json::array allocations;
    for (std::size_t i = 0; i < e.variations->size(); ++i) {
      const Variation& v = (*e.variations)[i];
      EXPBRIDGE_RETURN_IF_ERROR(
          draft.check_number(*t_.weight, v.weight, join_path(index_path(field::variations, i), "weight")));
      allocations.push_back(boost::json::object{
          {t_.variation_member, target.variations[i].second}, {t_.control_member, v.control}, {t_.weight_member, v.weight}});
    }
    body[t_.allocations_member] = std::move(allocations);
    return body;
  }

  /// What the create makes of each field `desired` holds.
  std::vector<FieldCarriage> create_carriage(const CreateSpec& spec) const {
    const Experiment& e = *spec.desired;
    CarriageList list(spec.experiment, kVendor);
    if (e.name) list.carried(field::name);
    if (e.description) list.carried(field::description);
    list.lost_if_skipped(e.hypothesis.has_value(), field::hypothesis, table());
    list.lost_if_skipped(e.launch_criteria.has_value(), field::launch_criteria, table());
    list.lost_if_skipped(e.audience && e.audience->rule, field::audience_rule, table());
    list.lost_if_skipped(e.audience && e.audience->description, field::audience_description, table());
    if (e.variations) {
      list.carried(field::variations);
      for (std::size_t i = 0; i < e.variations->size(); ++i) {
        const Variation& v = (*e.variations)[i];
        const std::string at = index_path(field::variations, i);
        if (v.value) list.lost(join_path(at, "value"), "fields.variations.skip_values.value", variation_part_reason("value"));
        if (v.description)
          list.lost(join_path(at, "description"), "fields.variations.skip_values.description",
                    variation_part_reason("description"));
      }
    }
    list.lost_if_skipped(e.exposure.has_value(), field::exposure, table());
    list.lost_if_skipped(e.overrides.has_value(), field::overrides, table());
    list.lost_if_skipped(e.result.has_value(), field::result, table());
    list.status(e.status, t_.create_lost);
    return list.take();
  }

  /// Adds GetFeatureFlag and the first page of ListFeatureFlagVariations of `flag` to `step`.
  Status ask_flag(const std::string& flag, ReadStep& step) const {
    const Labels labels{{"flag", flag}};
    for (const auto* operation : {t_.get_flag, t_.list_variations}) {
      PlannedRequest request;
      EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*operation, options_.base_url, labels, t_.content_type, std::nullopt));
      step.requests.push_back(std::move(request));
    }
    return {};
  }

  /// The JSON object a read answered; a 404 is `not_found` naming the resource's id.
  static Result<boost::json::object> answer_object(const OperationSpec& operation, const ReadResponse& reply,
                                                   std::string_view what, const std::string& id) {
    if (reply.status == 404) {
      Error e = make_error(ErrorCode::not_found, "Auth0 has no " + std::string(what) + " " + quote_value(id));
      e.operation = operation.name;
      e.http_status = reply.status;
      return std::unexpected(std::move(e));
    }
    return reply_object(operation, reply, "a JSON object");
  }

  /// An answer whose shape the read cannot use: `internal`, naming the operation (never the body).
  static std::unexpected<Error> unusable(const OperationSpec& operation, std::string what) {
    Error e = make_error(ErrorCode::internal, operation.name + " answered " + what);
    e.operation = operation.name;
    return std::unexpected(std::move(e));
  }

  /// Name, description, status and allocations (as variations: the binding's reverse map gives the
  /// neutral key, the flag's variations the value and description).
  Status read_experiment(const boost::json::object& x, const boost::json::object& flag,
                         const std::vector<boost::json::object>& flag_variations, const Auth0Binding& binding,
                         VendorState& state) const {
    const OperationSpec& op = *t_.get_experiment;
    Experiment& e = state.experiment;
    const auto* name = x.if_contains(t_.name_member);
    if (!name || !name->is_string()) return unusable(op, "without a " + t_.name_member);
    e.name = std::string(name->get_string());
    e.description = "";  // absent or null: the experiment holds no description
    if (const auto* d = x.if_contains(t_.description_member); d && !d->is_null()) {
      if (!d->is_string()) return unusable(op, "a " + t_.description_member + " that is not a string");
      e.description = std::string(d->get_string());
    }
    const auto* status = x.if_contains(t_.status_member);
    if (!status || !status->is_string()) return unusable(op, "without a " + t_.status_member);
    for (const auto& [neutral, wire] : t_.statuses)
      if (wire == status->get_string())
        for (auto s : {ExperimentStatus::draft, ExperimentStatus::running, ExperimentStatus::paused,
                       ExperimentStatus::stopped, ExperimentStatus::archived})
          if (to_string(s) == neutral) e.status = s;
    if (!e.status) return unusable(op, "a status expbridge does not know: " + quote_value(status->get_string()));
    state.detail[t_.status_member] = status->get_string();

    const boost::json::object* baseline = nullptr;
    if (const auto* p = flag.if_contains(t_.parameters_member)) {
      if (!p->is_object()) return unusable(*t_.get_flag, t_.parameters_member + " that are not a map");
      baseline = &p->get_object();
    }
    const auto* allocations = x.if_contains(t_.allocations_member);
    if (!allocations || !allocations->is_array()) return unusable(op, "without an " + t_.allocations_member + " list");
    e.variations.emplace();
    for (const auto& item : allocations->get_array()) {
      const auto* a = item.if_object();
      const auto* id = a ? a->if_contains(t_.variation_member) : nullptr;
      if (!id || !id->is_string()) return unusable(op, "an allocation without a " + t_.variation_member);
      Variation v;
      const std::string var(id->get_string());
      for (const auto& [key, bound] : binding.variations)
        if (bound == var) v.key = key;
      if (const auto* c = a->if_contains(t_.control_member); c && c->is_bool()) v.control = c->get_bool();
      if (const auto* w = a->if_contains(t_.weight_member); w && w->is_number()) v.weight = w->to_number<double>();
      const boost::json::object* flag_variation = nullptr;
      for (const auto& fv : flag_variations)
        if (const auto* fid = fv.if_contains(t_.variation_id_member); fid && fid->is_string() && fid->get_string() == var)
          flag_variation = &fv;
      if (flag_variation) {
        EXPBRIDGE_RETURN_IF_ERROR(read_flag_variation(*flag_variation, baseline, v));
      }
      // A variation the binding does not name keeps a recognisable key: its name at the flag, else its id.
      if (v.key.empty()) v.key = var;
      e.variations->push_back(std::move(v));
    }
    return {};
  }

  /// The value (the baseline with the variation's overrides applied, as attributes), description and,
  /// for a variation the binding does not name, its name as the key.
  Status read_flag_variation(const boost::json::object& fv, const boost::json::object* baseline, Variation& v) const {
    const OperationSpec& op = *t_.list_variations;
    if (v.key.empty())
      if (const auto* n = fv.if_contains(t_.variation_name_member); n && n->is_string()) v.key = n->get_string();
    if (const auto* d = fv.if_contains(t_.description_member); d && d->is_string()) v.description = std::string(d->get_string());
    const boost::json::object* overrides = nullptr;
    if (const auto* o = fv.if_contains(t_.overrides_member)) {
      if (!o->is_object()) return unusable(op, t_.overrides_member + " that are not a map");
      overrides = &o->get_object();
    }
    VariationValue value;
    value.enabled = true;  // Auth0 has no on/off: every variation serves its parameters
    auto add = [&](std::string_view name, const boost::json::value& json) -> Status {
      auto attribute = attribute_of(json);
      if (!attribute) return unusable(op, "a parameter expbridge cannot type: " + quote_value(name));
      for (auto& [existing, held] : value.attributes)
        if (existing == name) {
          held = std::move(*attribute);
          return {};
        }
      value.attributes.emplace_back(std::string(name), std::move(*attribute));
      return {};
    };
    if (baseline)
      for (const auto& p : *baseline) EXPBRIDGE_RETURN_IF_ERROR(add(p.key(), p.value()));
    if (overrides)
      for (const auto& p : *overrides) EXPBRIDGE_RETURN_IF_ERROR(add(p.key(), p.value()));
    v.value = std::move(value);
    return {};
  }

  /// A flag parameter's typed value as a neutral attribute: a string, number, boolean, or a list of
  /// strings or of numbers; none for anything else.
  static std::optional<AttributeValue> attribute_of(const boost::json::value& v) {
    if (v.is_string()) return AttributeValue(std::string(v.get_string()));
    if (v.is_bool()) return AttributeValue(v.get_bool());
    if (v.is_number()) return AttributeValue(v.to_number<double>());
    if (!v.is_array()) return std::nullopt;
    const auto& list = v.get_array();
    if (!list.empty() && list.front().is_string()) {
      std::vector<std::string> out;
      for (const auto& item : list) {
        if (!item.is_string()) return std::nullopt;
        out.emplace_back(item.get_string());
      }
      return AttributeValue(std::move(out));
    }
    std::vector<double> out;
    for (const auto& item : list) {
      if (!item.is_number()) return std::nullopt;
      out.push_back(item.to_number<double>());
    }
    return AttributeValue(std::move(out));
  }

  std::string variation_part_reason(std::string_view part) const {
    return skip_value_reason(field::variations, part, "Auth0 allocations carry no variation " + std::string(part));
  }

};

Result<Auth0Options> read_options(const BackendContext& context, const Auth0Table& table) {
  BackendSettings settings;
  EXPBRIDGE_ASSIGN_OR_RETURN(settings, read_settings(context, {{"domain", "domain"},
                                                               {"client_id_env", "env_var"},
                                                               {"client_secret_env", "env_var"}}));
  Auth0Options options;
  options.domain = settings.value("domain");
  options.client_id_env = settings.value("client_id_env");
  options.client_secret_env = settings.value("client_secret_env");
  options.base_url = context.endpoint;
  Labels domain{{"domain", options.domain}};
  if (options.base_url.empty())
    EXPBRIDGE_ASSIGN_OR_RETURN(options.base_url,
                               expand_host_template(context.table->base_url(), domain, settings.setting("domain")));
  // The audience names the Management API of the tenant, so it stays on the domain under an endpoint override.
  EXPBRIDGE_ASSIGN_OR_RETURN(options.audience,
                             expand_host_template(table.audience_template, domain, settings.setting("domain")));
  options.auth = {
      // The token URL follows the base URL, so a bad one is the endpoint's fault when there is one.
      {"token_url", options.base_url + table.token_path, settings.setting(context.endpoint.empty() ? "domain" : "endpoint")},
      {"audience", options.audience, settings.setting("domain")},
      {"client_id_env", options.client_id_env, settings.setting("client_id_env")},
      {"client_secret_env", options.client_secret_env, settings.setting("client_secret_env")},
  };
  return options;
}

}  // namespace

Result<std::unique_ptr<Adapter>> make_auth0_adapter(const BackendContext& context) {
  static const AdapterFactory factory = adapter_factory<Auth0Adapter>(kVendor, read_options);
  return factory(context);
}

}  // namespace expbridge
