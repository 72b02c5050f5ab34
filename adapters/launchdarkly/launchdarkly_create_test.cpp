// Creating an experiment at LaunchDarkly (`Adapter::create`): Get feature flag, Create experiment
// with its first iteration, then startIteration for a running experiment — the requests, the
// carriage of each field, the errors before anything is created, and the round trip through the
// emulator.
#include <gtest/gtest.h>

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

constexpr std::string_view kSettings = "vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN";
constexpr std::string_view kControlId = "6a1f0e2c-0c4b-4a8e-9d51-0000000000c0";
constexpr std::string_view kTwoStepId = "6a1f0e2c-0c4b-4a8e-9d51-0000000000t1";

/// A running experiment on the fixture's flag, as an AppConfig read would give it.
Experiment desired_experiment() {
  Experiment e;
  e.experiment = "checkout-migrated";
  e.name = "Checkout redesign";
  e.description = "Two-step checkout";
  e.hypothesis = "Fewer steps raise conversion";
  e.variations = std::vector<Variation>{
      {"control", true, 40, std::nullopt, VariationValue{false, {}}},
      {"two-step", false, 60, std::nullopt,
       VariationValue{true, {{"steps", AttributeValue{2.0}}, {"theme", AttributeValue{std::string("blue")}}}}}};
  e.status = ExperimentStatus::running;
  return e;
}

constexpr std::string_view kExperiments = "/api/v2/projects/default/environments/production/experiments";

class LaunchDarklyCreate : public test::EmulatedCreate {
 protected:
  void SetUp() override {
    partial_ = json::object{{"flag", "checkout-redesign"}, {"metric", "checkout-conversion"}};
    start("ld", kSettings);
  }
  json::object experiments() const {
    return host_->state().at("launchdarkly").at("projects").at("default").at("environments").at("production")
        .at("experiments").as_object();
  }
};

TEST_F(LaunchDarklyCreate, FirstStepReadsTheFlagAndTheReportSaysWhatBecomesOfEachField) {
  Experiment e = desired_experiment();
  e.launch_criteria = "+2%";
  e.audience = Audience{"(eq $country \"US\")", std::nullopt};
  e.exposure = 25;
  (*e.variations)[1].description = "new flow";
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_TRUE(step) << step.error().describe();
  ASSERT_EQ(step->requests.size(), 1u);
  EXPECT_EQ(step->requests[0].operation, "GetFeatureFlag");
  EXPECT_EQ(step->requests[0].method, "GET");
  EXPECT_EQ(step->requests[0].url, host_->base_url() + "/api/v2/flags/default/checkout-redesign");
  ASSERT_EQ(step->then.size(), 2u);
  EXPECT_EQ(step->then[0], "CreateExperiment checkout-migrated with its first iteration (2 treatments on flag checkout-redesign)");
  EXPECT_EQ(step->then[1], "PatchExperiment startIteration");
  for (const char* f : {"name", "description", "hypothesis", "status"})
    EXPECT_EQ(test::carriage_of(step->carriage, f)->carriage, Carriage::carried) << f;
  const FieldCarriage* weights = test::carriage_of(step->carriage, "variations");
  ASSERT_TRUE(weights);
  EXPECT_EQ(weights->carriage, Carriage::converted);
  EXPECT_EQ(weights->rule, "launchdarkly.fields.variations.wire.weight");
  EXPECT_EQ(weights->from, "40/60 %");
  EXPECT_EQ(weights->to, "\"40\"/\"60\" allocationPercent strings");
  for (const char* f : {"launch_criteria", "audience.rule", "exposure", "variations[1].description"}) {
    const FieldCarriage* c = test::carriage_of(step->carriage, f);
    ASSERT_TRUE(c) << f;
    EXPECT_EQ(c->carriage, Carriage::lost) << f;
    EXPECT_FALSE(c->reason.empty()) << f;
  }
  EXPECT_EQ(test::carriage_of(step->carriage, "exposure")->rule, "launchdarkly.fields.exposure.skip");
}

TEST_F(LaunchDarklyCreate, RunningExperimentIsCreatedOnTheFlagStartedAndReadsBackAsDesired) {
  const Experiment e = desired_experiment();
  auto run = backend_->create(spec(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  ASSERT_TRUE(run.last->binding);
  ASSERT_EQ(run.sent.size(), 3u);
  EXPECT_EQ(run.sent[1].operation, "CreateExperiment");
  EXPECT_EQ(run.sent[1].url, host_->base_url() + "/api/v2/projects/default/environments/production/experiments");
  EXPECT_FALSE(run.sent[1].idempotent);
  const json::value want = json::parse(R"({"name": "Checkout redesign", "key": "checkout-migrated",
    "description": "Two-step checkout",
    "iteration": {"hypothesis": "Fewer steps raise conversion",
      "metrics": [{"key": "checkout-conversion", "isGroup": false}], "primarySingleMetricKey": "checkout-conversion",
      "treatments": [
        {"name": "control", "baseline": true, "allocationPercent": "40",
         "parameters": [{"flagKey": "checkout-redesign", "variationId": ")" + std::string(kControlId) + R"("}]},
        {"name": "two-step", "baseline": false, "allocationPercent": "60",
         "parameters": [{"flagKey": "checkout-redesign", "variationId": ")" + std::string(kTwoStepId) + R"("}]}],
      "flags": {"checkout-redesign": {"ruleId": "fallthrough", "flagConfigVersion": 7}},
      "randomizationUnit": "user"}})");
  EXPECT_TRUE(json_equal(*run.sent[1].body, want)) << write_json(*run.sent[1].body);
  EXPECT_EQ(run.sent[2].operation, "PatchExperiment");
  EXPECT_TRUE(json_equal(*run.sent[2].body, json::parse(R"({"instructions": [{"kind": "startIteration"}]})")));
  EXPECT_TRUE(json_equal(json::value(*run.last->binding),
                         json::parse(R"({"experiment": "checkout-migrated", "flag": "checkout-redesign"})")));
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("PATCH", std::string(kExperiments) + "/checkout-migrated"), 1u);

  auto state = backend_->read(*run.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  EXPECT_EQ(write_json(experiment_state_json(state->experiment)), write_json(experiment_state_json(e)));
  EXPECT_EQ(state->experiment.status, ExperimentStatus::running);
}

TEST_F(LaunchDarklyCreate, AStoppedExperimentIsCreatedAsADraftIteration) {
  Experiment e = desired_experiment();
  e.status = ExperimentStatus::stopped;
  auto run = backend_->create(spec(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  ASSERT_EQ(run.sent.size(), 2u);
  EXPECT_EQ(test::carriage_of(run.first->carriage, "status")->carriage, Carriage::lost);
  EXPECT_EQ(received("PATCH", std::string(kExperiments) + "/checkout-migrated"), 0u);
  auto state = backend_->read(*run.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  EXPECT_EQ(state->experiment.status, ExperimentStatus::draft);
}

TEST_F(LaunchDarklyCreate, AMissingFlagIsNotFoundAndNothingIsCreated) {
  partial_["flag"] = "no-such-flag";
  const Experiment e = desired_experiment();
  const std::size_t before = experiments().size();
  auto run = backend_->create(spec(e));
  ASSERT_FALSE(run.last);
  EXPECT_EQ(run.last.error().code, ErrorCode::not_found);
  EXPECT_NE(run.last.error().message.find("no flag 'no-such-flag' in project 'default'"), std::string::npos)
      << run.last.error().describe();
  EXPECT_EQ(run.sent.size(), 1u);
  EXPECT_EQ(received("POST", kExperiments), 0u);
  EXPECT_EQ(experiments().size(), before);
}

TEST_F(LaunchDarklyCreate, AMetricIsRequiredAndAValueTheFlagLacksIsRefusedBeforeTheCreate) {
  partial_.erase("metric");
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().field, "experiments.checkout-migrated.ld.create.metric");
  EXPECT_NE(step.error().message.find("at least one metric"), std::string::npos);

  partial_["metric"] = "checkout-conversion";
  Experiment odd = desired_experiment();
  (*odd.variations)[1].value = VariationValue{true, {{"steps", AttributeValue{3.0}}}};
  auto run = backend_->create(spec(odd));
  ASSERT_FALSE(run.last);
  EXPECT_EQ(run.last.error().field, "variations[1].value");
  EXPECT_EQ(run.last.error().operation, "CreateExperiment");
  EXPECT_EQ(run.sent.size(), 1u);  // the flag only
  EXPECT_EQ(received("POST", kExperiments), 0u);
}

TEST_F(LaunchDarklyCreate, TheBindingsOwnKeyTreatmentNamesAndRuleAreUsed) {
  partial_["experiment"] = "checkout-v3";
  partial_["rule"] = "5c9e2d1a-7b3f-4e8a-9c6d-00000000r001";
  partial_["treatments"] = json::object{{"two-step", "two-step"}, {"control", "control"}};
  Experiment e = desired_experiment();
  e.status = ExperimentStatus::draft;
  auto run = backend_->create(spec(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  EXPECT_EQ(run.sent[1].body->at("key").as_string(), "checkout-v3");
  EXPECT_EQ(run.sent[1].body->at("iteration").at("flags").at("checkout-redesign").at("ruleId").as_string(),
            "5c9e2d1a-7b3f-4e8a-9c6d-00000000r001");
  EXPECT_EQ(run.last->binding->at("experiment").as_string(), "checkout-v3");
  EXPECT_TRUE(run.last->binding->contains("treatments"));
  EXPECT_TRUE(experiments().contains("checkout-v3"));
}

// Finding first (`find_existing`): what a create does when an earlier one may have been applied
// without its answer arriving.

TEST_F(LaunchDarklyCreate, FindingFirstAsksOnlyForTheExperimentByItsKey) {
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(finding(e), {});
  ASSERT_TRUE(step) << step.error().describe();
  ASSERT_EQ(step->requests.size(), 1u);
  EXPECT_EQ(step->requests[0].operation, "GetExperiment");
  EXPECT_EQ(step->requests[0].method, "GET");
  EXPECT_EQ(step->requests[0].url,
            host_->base_url() + std::string(kExperiments) + "/checkout-migrated?expand=draftIteration%2Ctreatments");
  EXPECT_EQ(step->then.at(0), "when GetExperiment finds no experiment checkout-migrated: GetFeatureFlag checkout-redesign, "
                              "CreateExperiment");
  EXPECT_EQ(test::carriage_of(step->carriage, "variations")->carriage, Carriage::converted);
}

TEST_F(LaunchDarklyCreate, FindingFirstWhereNothingWasCreatedCreatesOnce) {
  const Experiment e = desired_experiment();
  auto run = backend_->create(finding(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  EXPECT_EQ(operations(run), "GetExperiment GetFeatureFlag CreateExperiment PatchExperiment");
  EXPECT_EQ(run.answers[0].status, 404);
  EXPECT_TRUE(json_equal(json::value(*run.last->binding),
                         json::parse(R"({"experiment": "checkout-migrated", "flag": "checkout-redesign"})")));
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("PATCH", std::string(kExperiments) + "/checkout-migrated"), 1u);
  EXPECT_TRUE(experiments().contains("checkout-migrated"));
}

TEST_F(LaunchDarklyCreate, FindingFirstAfterACreateAndStartWhoseAnswersWereLostSendsNeitherAgain) {
  const Experiment e = desired_experiment();
  const json::object first = create_first(e);
  ASSERT_FALSE(first.empty());
  auto again = backend_->create(finding(e));
  ASSERT_TRUE(again.last) << again.last.error().describe();
  EXPECT_EQ(operations(again), "GetExperiment");
  EXPECT_TRUE(json_equal(json::value(*again.last->binding), json::value(first)))
      << write_json(*again.last->binding);
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("PATCH", std::string(kExperiments) + "/checkout-migrated"), 1u);
}

TEST_F(LaunchDarklyCreate, FindingFirstAnExperimentCreatedButNotStartedSendsOnlyTheStart) {
  const json::object first = create_first(desired_experiment(), true);
  ASSERT_FALSE(first.empty());
  const Experiment e = desired_experiment();
  auto again = backend_->create(finding(e));
  ASSERT_TRUE(again.last) << again.last.error().describe();
  EXPECT_EQ(operations(again), "GetExperiment PatchExperiment");
  EXPECT_TRUE(json_equal(json::value(*again.last->binding), json::value(first)));
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("PATCH", std::string(kExperiments) + "/checkout-migrated"), 1u);
  auto state = backend_->read(*again.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  EXPECT_EQ(state->experiment.status, ExperimentStatus::running);
}

TEST_F(LaunchDarklyCreate, FindingFirstAnExperimentWithOtherTreatmentsIsAConflictAndSendsNothing) {
  ASSERT_FALSE(create_first(desired_experiment(), true).empty());
  partial_["treatments"] = json::object{{"two-step", "fast-checkout"}};
  const Experiment e = desired_experiment();
  auto again = backend_->create(finding(e));
  ASSERT_FALSE(again.last);
  EXPECT_EQ(again.last.error().code, ErrorCode::conflict);
  EXPECT_EQ(again.last.error().operation, "GetExperiment");
  EXPECT_NE(again.last.error().message.find("LaunchDarkly experiment 'checkout-migrated' in project 'default'"),
            std::string::npos)
      << again.last.error().describe();
  EXPECT_NE(again.last.error().message.find("its treatments are 'control', 'two-step' with baseline 'control', the "
                                            "create's 'control', 'fast-checkout'"),
            std::string::npos)
      << again.last.error().describe();
  EXPECT_EQ(operations(again), "GetExperiment");
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("PATCH", std::string(kExperiments) + "/checkout-migrated"), 0u);
}

}  // namespace
}  // namespace expbridge
