// Creating an experiment at AppConfig (`Adapter::create`): CreateExperimentDefinition, then
// StartExperimentRun for a running experiment — the requests, the carriage of each field, the
// errors before anything is created, and the round trip through the emulator.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include <boost/json/parse.hpp>

#include "emulator/emulator.hpp"
#include "experiment_codec.hpp"
#include "json_writer.hpp"
#include "mapping_examples.hpp"
#include "support/emulated_create.hpp"

namespace expbridge {
namespace {

namespace json = boost::json;
using emulator::EmulatorHost;
using test::EmulatedBackend;

constexpr std::string_view kSettings = "vendor: appconfig, region: us-east-1, application: abc1234";

/// The experiment as an import of Evidently would give it, running.
Experiment desired_experiment() {
  Experiment e;
  e.experiment = "checkout-redesign";
  e.name = "Checkout redesign";
  e.description = "First run, 25% of US web users";
  e.hypothesis = "Fewer steps raise conversion";
  e.launch_criteria = "+2% conversion at 95% confidence";
  e.audience = Audience{"(eq $country \"US\")", "US web users"};
  e.variations = std::vector<Variation>{
      {"control", true, 40, "today", VariationValue{false, {}}},
      {"two-step", false, 60, "new flow",
       VariationValue{true, {{"steps", AttributeValue{2.0}}, {"label", AttributeValue{std::string("Go")}}}}}};
  e.exposure = 25;
  e.overrides = std::vector<std::pair<std::string, std::string>>{{"qa-tester-1", "two-step"}};
  e.status = ExperimentStatus::running;
  return e;
}

class AppConfigCreate : public test::EmulatedCreate {
 protected:
  void SetUp() override {
    partial_ = json::object{{"flag", "checkout-redesign"}};
    start("aws", std::string(kSettings) + ", configuration_profile: prf5678, environment: production");
  }
  void connect(const std::string& settings) {
    auto backend = EmulatedBackend::connect(*host_, "aws", settings);
    ASSERT_TRUE(backend) << backend.error().describe();
    backend_ = std::move(*backend);
  }
  std::size_t definitions_created() const { return received("POST", "/applications/abc1234/experimentdefinitions"); }
  std::size_t runs_started(const std::string& definition) const {
    return received("POST", "/applications/abc1234/experimentdefinitions/" + definition + "/experimentruns");
  }
  json::object definitions() const {
    return host_->state().at("appconfig").at("applications").at("abc1234").at("ExperimentDefinitions").as_object();
  }
};

TEST_F(AppConfigCreate, FirstStepIsTheDefinitionWithEveryMemberAndSaysTheRunFollows) {
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_TRUE(step) << step.error().describe();
  ASSERT_EQ(step->requests.size(), 1u);
  const PlannedRequest& r = step->requests[0];
  EXPECT_EQ(r.operation, "CreateExperimentDefinition");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, host_->base_url() + "/applications/abc1234/experimentdefinitions");
  EXPECT_FALSE(r.idempotent);
  EXPECT_EQ(r.success_status, 201);
  const json::value want = json::parse(R"json({
    "Name": "Checkout redesign", "ConfigurationProfileIdentifier": "prf5678", "EnvironmentIdentifier": "production",
    "FlagKey": "checkout-redesign",
    "Control": {"Weight": 40, "Description": "today", "FlagValue": {"Enabled": false}},
    "Treatments": [{"Weight": 60, "Description": "new flow",
                    "FlagValue": {"Enabled": true, "AttributeValues": {"steps": {"NumberValue": 2}, "label": {"StringValue": "Go"}}}}],
    "AudienceRule": "(eq $country \"US\")", "AudienceDescription": "US web users",
    "Hypothesis": "Fewer steps raise conversion", "LaunchCriteria": "+2% conversion at 95% confidence"})json");
  ASSERT_TRUE(r.body);
  EXPECT_TRUE(json_equal(*r.body, want)) << write_json(*r.body);
  ASSERT_EQ(step->then.size(), 1u);
  EXPECT_EQ(step->then[0], "StartExperimentRun ExposurePercentage 25, Description, TreatmentOverrides.Inline (1)");
  EXPECT_FALSE(step->binding);
  for (const char* f : {"name", "description", "hypothesis", "launch_criteria", "audience.rule", "audience.description",
                        "variations", "exposure", "overrides", "status"}) {
    const FieldCarriage* c = test::carriage_of(step->carriage, f);
    ASSERT_TRUE(c) << f;
    EXPECT_EQ(c->carriage, Carriage::carried) << f;
    EXPECT_EQ(c->experiment, "checkout-redesign");
  }
}

TEST_F(AppConfigCreate, RunningExperimentIsCreatedStartedAndReadsBackAsDesired) {
  const Experiment e = desired_experiment();
  auto run = backend_->create(spec(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  ASSERT_TRUE(run.last->binding);
  ASSERT_EQ(run.sent.size(), 2u);
  EXPECT_EQ(run.sent[0].operation, "CreateExperimentDefinition");
  EXPECT_EQ(run.sent[1].operation, "StartExperimentRun");
  const std::string id(run.last->binding->at("definition").as_string());
  EXPECT_EQ(run.sent[1].url, host_->base_url() + "/applications/abc1234/experimentdefinitions/" + id + "/experimentruns");
  // The override names the treatment key AppConfig assigned to two-step.
  EXPECT_TRUE(json_equal(*run.sent[1].body, json::parse(R"({"Description": "First run, 25% of US web users",
      "ExposurePercentage": 25, "TreatmentOverrides": {"Inline": {"qa-tester-1": "t1"}}})")))
      << write_json(*run.sent[1].body);
  EXPECT_TRUE(json_equal(json::value(*run.last->binding),
                         json::parse(R"({"definition": ")" + id + R"(", "treatments": {"control": "c", "two-step": "t1"}})")))
      << write_json(*run.last->binding);
  // Each creating request reached AppConfig once.
  EXPECT_EQ(definitions_created(), 1u);
  EXPECT_EQ(runs_started(id), 1u);

  auto state = backend_->read(*run.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  Experiment expected = e;
  expected.name.reset();  // AppConfig's read does not read Name back (fields.name.skip)
  EXPECT_EQ(write_json(experiment_state_json(state->experiment)), write_json(experiment_state_json(expected)));
  EXPECT_EQ(state->experiment.status, ExperimentStatus::running);
  EXPECT_EQ(definitions().at(id).at("Name").as_string(), "Checkout redesign");
}

TEST_F(AppConfigCreate, StoppedExperimentBecomesAnIdleDefinitionAndTheReportSaysWhatIsLost) {
  Experiment e = desired_experiment();
  e.status = ExperimentStatus::stopped;
  e.result = ExperimentResult{std::string("two-step"), std::string("Two-step won"), std::nullopt, std::nullopt};
  auto run = backend_->create(spec(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  ASSERT_TRUE(run.last->binding);
  ASSERT_EQ(run.sent.size(), 1u);  // no run is started (and so none stopped)
  EXPECT_TRUE(run.first->then.empty());
  EXPECT_EQ(runs_started(std::string(run.last->binding->at("definition").as_string())), 0u);
  const auto& carriage = run.first->carriage;
  for (const char* f : {"description", "exposure", "overrides", "result", "status"}) {
    const FieldCarriage* c = test::carriage_of(carriage, f);
    ASSERT_TRUE(c) << f;
    EXPECT_EQ(c->carriage, Carriage::lost) << f;
    EXPECT_FALSE(c->reason.empty()) << f;
    EXPECT_TRUE(c->rule.starts_with("appconfig.create_lost.")) << c->rule;
  }
  EXPECT_NE(test::carriage_of(carriage, "status")->reason.find("IDLE definition"), std::string::npos);
  auto state = backend_->read(*run.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  EXPECT_EQ(state->experiment.status, ExperimentStatus::draft);
  EXPECT_FALSE(state->experiment.exposure);
}

TEST_F(AppConfigCreate, WithoutAFlagNothingIsAskedFor) {
  partial_ = json::object{};
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::invalid_input);
  EXPECT_EQ(step.error().field, "experiments.checkout-redesign.aws.create.flag");
  EXPECT_EQ(step.error().backend, "aws");
}

TEST_F(AppConfigCreate, AnUnknownPartialBindingMemberIsRefused) {
  partial_["enviroment"] = "production";
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::invalid_input);
  EXPECT_NE(step.error().describe().find("enviroment"), std::string::npos) << step.error().describe();
}

TEST_F(AppConfigCreate, TheBindingsProfileAndEnvironmentWinOverTheSettingsAndAreRequiredWithoutThem) {
  connect(std::string(kSettings));
  const Experiment e = desired_experiment();
  auto missing = backend_->adapter().create(spec(e), {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().field, "experiments.checkout-redesign.aws.create.configuration_profile");
  EXPECT_NE(missing.error().message.find("backends.aws.configuration_profile"), std::string::npos);
  partial_["configuration_profile"] = "checkout-flags";
  partial_["environment"] = "env9012";
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_TRUE(step) << step.error().describe();
  EXPECT_EQ(step->requests[0].body->at("ConfigurationProfileIdentifier").as_string(), "checkout-flags");
  EXPECT_EQ(step->requests[0].body->at("EnvironmentIdentifier").as_string(), "env9012");
}

TEST_F(AppConfigCreate, AMissingProfileAtAppConfigIsNotFoundAndNothingIsCreated) {
  partial_["configuration_profile"] = "no-such-profile";
  const Experiment e = desired_experiment();
  const std::size_t before = definitions().size();
  auto run = backend_->create(spec(e));
  ASSERT_FALSE(run.last);
  EXPECT_EQ(run.last.error().code, ErrorCode::not_found);
  EXPECT_EQ(run.last.error().operation, "CreateExperimentDefinition");
  EXPECT_NE(run.last.error().message.find("no-such-profile"), std::string::npos) << run.last.error().describe();
  EXPECT_EQ(run.sent.size(), 1u);
  EXPECT_EQ(definitions_created(), 1u);  // asked once, refused
  EXPECT_EQ(definitions().size(), before);
}

TEST_F(AppConfigCreate, CreatingTheSameExperimentTwiceMeetsTheTakenNameAndCreatesNothingMore) {
  const Experiment e = desired_experiment();
  auto first = backend_->create(spec(e));
  ASSERT_TRUE(first.last) << first.last.error().describe();
  const std::size_t after_first = definitions().size();
  auto second = backend_->create(spec(e));
  ASSERT_FALSE(second.last);
  EXPECT_EQ(second.last.error().code, ErrorCode::conflict);
  EXPECT_EQ(second.last.error().http_status, 409);
  EXPECT_EQ(second.sent.size(), 1u);  // no run is started for a definition that was not created
  EXPECT_EQ(definitions().size(), after_first);
  EXPECT_EQ(definitions_created(), 2u);
}

TEST_F(AppConfigCreate, AVendorMessageThatEchoesCredentialsIsScrubbed) {
  const Experiment e = desired_experiment();
  const std::string echoed =
      R"({"Message": "denied: Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/appconfig/aws4_request, )"
      R"(SignedHeaders=host;x-amz-date, Signature=0123456789abcdef0123456789abcdef"})";
  auto step = backend_->adapter().create(spec(e), {ReadResponse{403, echoed}});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::unauthorized);
  EXPECT_EQ(step.error().describe().find("0123456789abcdef"), std::string::npos) << step.error().describe();
  EXPECT_EQ(step.error().describe().find("AKIDEXAMPLE"), std::string::npos) << step.error().describe();
}

TEST_F(AppConfigCreate, WhatAppConfigCannotCreateIsRefusedBeforeAnyRequest) {
  Experiment no_audience = desired_experiment();
  no_audience.audience.reset();
  auto step = backend_->adapter().create(spec(no_audience), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().field, "audience.rule");
  EXPECT_EQ(step.error().operation, "CreateExperimentDefinition");

  Experiment bad_override = desired_experiment();
  bad_override.overrides = std::vector<std::pair<std::string, std::string>>{{"qa-1", "three-step"}};
  step = backend_->adapter().create(spec(bad_override), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().field, "overrides.qa-1");
  EXPECT_EQ(step.error().operation, "StartExperimentRun");

  Experiment no_control = desired_experiment();
  (*no_control.variations)[0].control = false;
  step = backend_->adapter().create(spec(no_control), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().field, "variations");
  EXPECT_NE(step.error().message.find("one of them the control"), std::string::npos);

  Experiment too_long = desired_experiment();
  too_long.name = "AWS.reserved";
  step = backend_->adapter().create(spec(too_long), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().field, "name");
  EXPECT_TRUE(host_->received_requests().empty());
}

// Finding first (`find_existing`): what a create does when an earlier one may have been applied
// without its answer arriving. AppConfig finds the definition by its Name in the application.

TEST_F(AppConfigCreate, FindingFirstListsTheApplicationsDefinitionsAndWhereNoneHasTheNameCreatesOnce) {
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(finding(e), {});
  ASSERT_TRUE(step) << step.error().describe();
  ASSERT_EQ(step->requests.size(), 1u);
  EXPECT_EQ(step->requests[0].operation, "ListExperimentDefinitions");
  EXPECT_EQ(step->requests[0].url, host_->base_url() + "/experimentdefinitions?max_results=50&application_identifier=abc1234");
  EXPECT_EQ(step->then.at(0), "when ListExperimentDefinitions finds no definition named 'Checkout redesign': "
                              "CreateExperimentDefinition");
  auto run = backend_->create(finding(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  EXPECT_EQ(operations(run), "ListExperimentDefinitions CreateExperimentDefinition StartExperimentRun");
  const std::string id(run.last->binding->at("definition").as_string());
  EXPECT_EQ(definitions_created(), 1u);
  EXPECT_EQ(runs_started(id), 1u);
}

TEST_F(AppConfigCreate, FindingFirstAfterACreateAndStartWhoseAnswersWereLostSendsNeitherAgain) {
  const Experiment e = desired_experiment();
  const json::object first = create_first(e);
  ASSERT_FALSE(first.empty());
  const std::string id(first.at("definition").as_string());
  auto again = backend_->create(finding(e));
  ASSERT_TRUE(again.last) << again.last.error().describe();
  EXPECT_EQ(operations(again), "ListExperimentDefinitions GetExperimentDefinition ListExperimentRuns");
  EXPECT_TRUE(json_equal(json::value(*again.last->binding), json::value(first)))
      << write_json(*again.last->binding);
  EXPECT_EQ(definitions_created(), 1u);
  EXPECT_EQ(runs_started(id), 1u);
}

TEST_F(AppConfigCreate, FindingFirstADefinitionWithoutARunThatShouldRunSendsOnlyTheStart) {
  const json::object first = create_first(desired_experiment(), true);
  ASSERT_FALSE(first.empty());
  const std::string id(first.at("definition").as_string());
  const Experiment e = desired_experiment();
  auto again = backend_->create(finding(e));
  ASSERT_TRUE(again.last) << again.last.error().describe();
  EXPECT_EQ(operations(again), "ListExperimentDefinitions GetExperimentDefinition ListExperimentRuns StartExperimentRun");
  EXPECT_TRUE(json_equal(*again.sent.back().body, json::parse(R"({"Description": "First run, 25% of US web users",
      "ExposurePercentage": 25, "TreatmentOverrides": {"Inline": {"qa-tester-1": "t1"}}})")))
      << write_json(*again.sent.back().body);
  EXPECT_TRUE(json_equal(json::value(*again.last->binding), json::value(first)));
  EXPECT_EQ(definitions_created(), 1u);
  EXPECT_EQ(runs_started(id), 1u);
  auto state = backend_->read(*again.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  EXPECT_EQ(state->experiment.status, ExperimentStatus::running);
}

TEST_F(AppConfigCreate, FindingFirstADefinitionOfTheNameServingOtherValuesIsAConflictAndSendsNothing) {
  const json::object first = create_first(desired_experiment(), true);
  ASSERT_FALSE(first.empty());
  const std::string id(first.at("definition").as_string());
  Experiment e = desired_experiment();
  (*e.variations)[1].value = VariationValue{true, {{"steps", AttributeValue{3.0}}, {"label", AttributeValue{std::string("Go")}}}};
  auto again = backend_->create(finding(e));
  ASSERT_FALSE(again.last);
  EXPECT_EQ(again.last.error().code, ErrorCode::conflict);
  EXPECT_EQ(again.last.error().operation, "GetExperimentDefinition");
  EXPECT_NE(again.last.error().message.find("AppConfig experiment definition '" + id +
                                            "' named 'Checkout redesign' already exists"),
            std::string::npos)
      << again.last.error().describe();
  EXPECT_NE(again.last.error().message.find("its treatment 1 serves another flag value"), std::string::npos)
      << again.last.error().describe();
  EXPECT_EQ(operations(again), "ListExperimentDefinitions GetExperimentDefinition ListExperimentRuns");
  EXPECT_EQ(definitions_created(), 1u);
  EXPECT_EQ(runs_started(id), 0u);
}

}  // namespace
}  // namespace expbridge
