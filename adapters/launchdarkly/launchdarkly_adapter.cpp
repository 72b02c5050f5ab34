#include "launchdarkly_adapter.hpp"

#include <map>
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

struct LaunchDarklyBinding final : Binding {
  std::string experiment;  ///< the experiment key
};

/// Everything the adapter takes from its mapping table, resolved once.
struct LaunchDarklyTable {
  const OperationSpec* patch_experiment = nullptr;
  std::string content_type;
  std::string update_name, update_description, comment_member;
  std::map<std::string, std::string, std::less<>> action_instructions;
  std::string comment_without_change;  ///< why a comment alone is not sent
  const LimitSpec* experiment_key = nullptr;

  static Result<LaunchDarklyTable> resolve(const MappingTable& t) {
    LaunchDarklyTable out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.patch_experiment, t.operation(t.field(field::name).operation));
    out.content_type = t.content_type();
    EXPBRIDGE_RETURN_IF_ERROR(resolve_wires(t, {
        {&out.update_name, field::name},
        {&out.update_description, field::description},
        {&out.comment_member, field::comment},
    }));
    out.action_instructions = t.field(field::action).values;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.comment_without_change, required_skip_value(t, field::comment, "without_change"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.experiment_key, t.limit("experiment_key"));
    return out;
  }
};

class LaunchDarklyAdapter final : public ResolvedAdapter<LaunchDarklyTable, LaunchDarklyOptions> {
  // The base's constructor, as public as it is there (an inherited constructor keeps its access).
  using ResolvedAdapter::ResolvedAdapter;

  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto opened = open_binding(settings, path, {"experiment"}, "experiment", *t_.experiment_key,
                               &LaunchDarklyBinding::experiment);
    if (!opened) return std::unexpected(std::move(opened).error());
    return std::unique_ptr<const Binding>(std::move(opened->binding));
  }

  Result<BackendPlan> do_plan(const Update& u, const Binding& b, const PlanContext&) const override {
    const auto& binding = static_cast<const LaunchDarklyBinding&>(b);
    BackendPlan out;
    boost::json::array instructions;
    if (u.name) {
      instructions.push_back(boost::json::object{{"kind", t_.update_name}, {"value", *u.name}});
      carry(out, field::name);
    }
    if (u.description) {
      instructions.push_back(boost::json::object{{"kind", t_.update_description}, {"value", *u.description}});
      carry(out, field::description);
    }

    skip_present(u, out, {field::hypothesis, field::launch_criteria, field::audience_rule, field::audience_description,
                          field::variations, field::exposure, field::overrides});

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

    if (u.action) {
      std::string_view action = to_string(*u.action);
      if (auto it = t_.action_instructions.find(action); it != t_.action_instructions.end()) {
        instructions.push_back(boost::json::object{{"kind", it->second}});
        carry(out, field::action);
      } else {
        skip_value(out, field::action, action, "LaunchDarkly has no operation for action '" + std::string(action) + "'");
      }
    }
    skip_if(u.result.has_value(), field::result, out);

    if (instructions.empty()) {
      if (u.comment) out.skipped.push_back(Skip{field::comment, t_.comment_without_change});
      return out;
    }
    RequestDraft patch(*t_.patch_experiment);
    patch.body()["instructions"] = std::move(instructions);
    if (u.comment) {
      patch.body()[t_.comment_member] = *u.comment;
      carry(out, field::comment);
    }
    EXPBRIDGE_RETURN_IF_ERROR(patch.add_to(out, options_.base_url,
                                           {{"project", options_.project},
                                            {"environment", options_.environment},
                                            {"experiment", binding.experiment}},
                                           t_.content_type));
    return out;
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
