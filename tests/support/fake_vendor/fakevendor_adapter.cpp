#include "support/fake_vendor/fakevendor_adapter.hpp"

#include <boost/json/object.hpp>

#include "adapter_support.hpp"
#include "json_reader.hpp"
#include "support/fake_vendor/fakevendor_vendor.hpp"

namespace expbridge::test {
namespace {

struct FakevendorBinding final : Binding {
  std::string experiment;
};

class FakevendorAdapter final : public Adapter {
 public:
  FakevendorAdapter(const BackendContext& context, const OperationSpec* update, const LimitSpec* experiment,
                    BackendSettings settings)
      : Adapter(context, std::string(kFakeVendor)), update_(update), experiment_(experiment),
        settings_(std::move(settings)),
        base_url_(context.endpoint.empty() ? context.table->base_url() : context.endpoint) {}

 protected:
  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& settings, const std::string& path) const override {
    auto reader = ObjectReader::open(settings, path);
    EXPBRIDGE_RETURN_IF_ERROR(reader.known({"experiment"}));
    auto binding = std::make_unique<FakevendorBinding>();
    EXPBRIDGE_ASSIGN_OR_RETURN(binding->experiment, reader.required_string("experiment"));
    EXPBRIDGE_RETURN_IF_ERROR(check_string(*experiment_, binding->experiment, reader.member_path("experiment")));
    EXPBRIDGE_RETURN_IF_ERROR(reader.finish());
    return std::unique_ptr<const Binding>(std::move(binding));
  }

  Result<BackendPlan> do_plan(const Update& u, const Binding& b, const PlanContext&) const override {
    BackendPlan out;
    boost::json::object body;
    // Wire names come from the table: the adapter holds the sequencing only.
    auto put = [&](std::string_view neutral, boost::json::value value) -> Status {
      std::string wire;
      EXPBRIDGE_ASSIGN_OR_RETURN(wire, table().wire(neutral));
      body[wire] = std::move(value);
      carry(out, neutral);
      return {};
    };
    if (u.name) EXPBRIDGE_RETURN_IF_ERROR(put(field::name, boost::json::value(*u.name)));
    if (u.description) EXPBRIDGE_RETURN_IF_ERROR(put(field::description, boost::json::value(*u.description)));
    if (u.exposure) EXPBRIDGE_RETURN_IF_ERROR(put(field::exposure, boost::json::value(*u.exposure)));
    skip_present(u, out, {field::hypothesis, field::launch_criteria, field::audience_rule, field::audience_description,
                          field::variations, field::overrides, field::action, field::result, field::comment,
                          field::vendor});
    if (body.empty()) return out;
    PlannedRequest request;
    EXPBRIDGE_ASSIGN_OR_RETURN(request, make_request(*update_, base_url_,
                                                     {{"experiment", static_cast<const FakevendorBinding&>(b).experiment}},
                                                     table().content_type(), boost::json::value(std::move(body))));
    out.requests.push_back(std::move(request));
    return out;
  }

  Result<AuthSpec> do_auth() const override {
    return auth_from_table(table(), {{"env", settings_.value("token_env"), settings_.setting("token_env")}});
  }

 private:
  const OperationSpec* update_;
  const LimitSpec* experiment_;
  BackendSettings settings_;
  std::string base_url_;
};

}  // namespace

Result<std::unique_ptr<Adapter>> make_fakevendor_adapter(const BackendContext& context) {
  const OperationSpec* update = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(update, context.table->operation("UpdateExperiment"));
  const LimitSpec* experiment = nullptr;
  EXPBRIDGE_ASSIGN_OR_RETURN(experiment, context.table->limit("experiment"));
  BackendSettings settings;
  EXPBRIDGE_ASSIGN_OR_RETURN(settings, read_settings(context, {{"token_env", "token_env"}}));
  return std::unique_ptr<Adapter>(std::make_unique<FakevendorAdapter>(context, update, experiment, std::move(settings)));
}

}  // namespace expbridge::test
