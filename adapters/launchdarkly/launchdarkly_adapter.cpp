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
  const LimitSpec* experiment_key = nullptr;

  static Result<LaunchDarklyTable> resolve(const MappingTable& t) {
    LaunchDarklyTable out;
    EXPBRIDGE_ASSIGN_OR_RETURN(out.patch_experiment, t.operation(t.field("name").operation));
    out.content_type = t.content_type();
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_name, t.wire("name"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.update_description, t.wire("description"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.comment_member, t.wire("comment"));
    out.action_instructions = t.field("action").values;
    if (!t.field("comment").skip_values.contains("without_change"))
      return std::unexpected(table_error(t, "fields.comment.skip_values.without_change is missing"));
    EXPBRIDGE_ASSIGN_OR_RETURN(out.experiment_key, t.limit("experiment_key"));
    return out;
  }
};

class LaunchDarklyAdapter final : public Adapter {
 public:
  LaunchDarklyAdapter(const BackendContext& context, LaunchDarklyTable resolved, LaunchDarklyOptions options,
                      std::string base_url)
      : Adapter(context, std::string(kVendor)), t_(std::move(resolved)), options_(std::move(options)),
        base_url_(std::move(base_url)) {
    comment_without_change_ = table().field(field::comment).skip_values.at("without_change");
  }

 protected:
  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto reader = ObjectReader::open(settings, path);
    EXPBRIDGE_RETURN_IF_ERROR(reader.known({"experiment"}));
    auto binding = std::make_unique<LaunchDarklyBinding>();
    EXPBRIDGE_ASSIGN_OR_RETURN(binding->experiment, reader.required_string("experiment"));
    EXPBRIDGE_RETURN_IF_ERROR(check_string(*t_.experiment_key, binding->experiment, reader.member_path("experiment")));
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    return std::unique_ptr<const Binding>(std::move(binding));
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
    EXPBRIDGE_ASSIGN_OR_RETURN(members, passthrough(u));
    for (const auto& member : members) {
      // Extra semantic-patch instructions go after the field updates and before the action.
      const std::string path = join_path(join_path(field::vendor, kVendor), member.member);
      if (!member.value->is_array()) return std::unexpected(invalid_field(path, "must be a list of instructions"));
      for (const auto& instruction : member.value->get_array()) {
        if (!instruction.is_object() || !instruction.get_object().contains("kind"))
          return std::unexpected(invalid_field(path, "each instruction is a mapping with a 'kind'"));
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
      if (u.comment) out.skipped.push_back(Skip{field::comment, comment_without_change_});
      return out;
    }
    boost::json::object body;
    body["instructions"] = std::move(instructions);
    if (u.comment) {
      body[t_.comment_member] = *u.comment;
      carry(out, field::comment);
    }
    PlannedRequest request;
    EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*t_.patch_experiment, base_url_,
                                 {{"project", options_.project},
                                  {"environment", options_.environment},
                                  {"experiment", binding.experiment}},
                                 t_.content_type, boost::json::value(std::move(body))));
    out.requests.push_back(std::move(request));
    return out;
  }

  Result<AuthSpec> do_auth() const override {
    return auth_from_table(table(), {{"env", options_.token_env, options_.token_env_setting}});
  }

 private:
  LaunchDarklyTable t_;
  LaunchDarklyOptions options_;
  std::string base_url_;
  std::string comment_without_change_;
};

Result<std::unique_ptr<Adapter>> make_launchdarkly(const BackendContext& context) {
  LaunchDarklyTable resolved;
  EXPBRIDGE_ASSIGN_OR_RETURN(resolved, LaunchDarklyTable::resolve(*context.table));
  BackendSettings settings;
  EXPBRIDGE_ASSIGN_OR_RETURN(settings, read_settings(context, {{"project", "project_key"},
                                                               {"environment", "project_key"},
                                                               {"token_env", "token_env"}}));
  LaunchDarklyOptions options{settings.value("project"), settings.value("environment"), settings.value("token_env"),
                              settings.setting("token_env")};
  std::string base_url = context.endpoint.empty() ? context.table->base_url() : context.endpoint;
  return std::unique_ptr<Adapter>(
      std::make_unique<LaunchDarklyAdapter>(context, std::move(resolved), std::move(options), std::move(base_url)));
}

}  // namespace

Result<std::unique_ptr<Adapter>> make_launchdarkly_adapter(const BackendContext& context) { return make_launchdarkly(context); }

}  // namespace expbridge
