// Evidently's read (GetFeature, GetExperiment) against the emulator: what an apply sent reads
// back equal in neutral terms, and a missing or garbled resource is a clear error.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "core/convergence.hpp"
#include "support/emulated_read.hpp"

namespace expbridge {
namespace {

using test::has;

class EvidentlyRead : public test::EmulatedRead {
 protected:
  EvidentlyRead() { backend_ = "ev"; }
  /// Backend `ev` (project checkout), the experiment `checkout-redesign` bound as `binding`.
  void connect(const std::string& binding) {
    connect_backend("vendor: evidently, region: us-east-1, project: checkout", binding);
  }
};

constexpr std::string_view kBound = "{feature: checkout-redesign, experiment: checkout-redesign-exp}";

TEST_F(EvidentlyRead, WhatAnApplySentReadsBackEqual) {
  connect(std::string(kBound));
  const Update u = update(R"(experiment: checkout-redesign
description: Two-step checkout, round two
variations:
  - {key: control, control: true, weight: 25, value: {enabled: false}}
  - {key: two-step, weight: 75, value: {enabled: true}}
exposure: 33.333
overrides: {qa-tester-1: two-step, qa-tester-2: control}
)");
  apply(u);
  const VendorState state = read();
  const Experiment& e = state.experiment;
  EXPECT_EQ(e.description, "Two-step checkout, round two");
  ASSERT_TRUE(e.exposure);
  EXPECT_DOUBLE_EQ(*e.exposure, 33.333) << "samplingRate 33333 thousandths of a percent";
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  EXPECT_DOUBLE_EQ((*e.variations)[1].weight, 75);
  EXPECT_TRUE((*e.variations)[0].control);

  auto converged = converge(u, e);
  ASSERT_TRUE(converged) << converged.error().describe();
  for (const char* f : {field::description, field::variations, field::exposure, field::overrides})
    EXPECT_TRUE(has(converged->unchanged, f)) << f;
  EXPECT_TRUE(converged->nothing_to_send());

  EXPECT_EQ(e.vendor_ids, (std::map<std::string, std::string>{
                              {"project", "checkout"}, {"feature", "checkout-redesign"}, {"experiment", "checkout-redesign-exp"}}));
  for (const char* f : {field::name, field::hypothesis, field::launch_criteria, field::audience_rule,
                        field::audience_description})
    EXPECT_TRUE(has(state.not_expressible, f)) << f;
  for (const char* f : {field::description, field::variations, field::exposure, field::overrides, field::result})
    EXPECT_FALSE(has(state.not_expressible, f)) << f;
}

TEST_F(EvidentlyRead, TreatmentNamesTranslateBackToNeutralKeys) {
  // Treatments named apart from the variations: the weights come back under the neutral keys.
  auto fixture = boost::json::parse(R"({"evidently": {"projects": {"checkout": {
      "features": {"checkout-redesign": {"variations": [{"name": "control", "value": {"boolValue": false}},
                                                        {"name": "two-step", "value": {"boolValue": true}}],
                                         "defaultVariation": "control", "evaluationStrategy": "ALL_RULES"}},
      "experiments": {"ab": {"status": "CREATED", "samplingRate": 10000,
                             "treatments": [{"name": "Control", "feature": "checkout-redesign", "variation": "control"},
                                            {"name": "TwoStep", "feature": "checkout-redesign", "variation": "two-step"}],
                             "metricGoals": [{"metricDefinition": {"name": "conv", "entityIdKey": "userDetails.userId",
                                                                   "valueKey": "details.converted"}}],
                             "onlineAbConfig": {"controlTreatmentName": "Control",
                                                "treatmentWeights": {"Control": 50000, "TwoStep": 50000}}}}}}}})");
  start_host(fixture);
  connect("{feature: checkout-redesign, experiment: ab, treatments: {control: Control, two-step: TwoStep}}");
  const Update u = update(R"(experiment: checkout-redesign
variations:
  - {key: control, control: true, weight: 40, value: {enabled: false}}
  - {key: two-step, weight: 60, value: {enabled: true}}
)");
  apply(u);
  const Experiment e = read().experiment;
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  for (const auto& v : *e.variations) {
    EXPECT_DOUBLE_EQ(v.weight, v.key == "control" ? 40 : 60) << v.key;
    EXPECT_EQ(v.control, v.key == "control") << "controlTreatmentName Control is variation control";
  }
  EXPECT_DOUBLE_EQ(e.exposure.value_or(-1), 10);
  auto converged = converge(u, e);
  ASSERT_TRUE(converged);
  EXPECT_TRUE(converged->nothing_to_send());
}

TEST_F(EvidentlyRead, StatusFollowsTheExperimentWhenBoundAndTheStrategyOtherwise) {
  connect(std::string(kBound));
  EXPECT_EQ(read().experiment.status, ExperimentStatus::draft) << "the fixture's experiment is CREATED";

  connect("{feature: checkout-redesign}");
  VendorState state = read();
  EXPECT_EQ(state.experiment.status, ExperimentStatus::running) << "the fixture's feature is ALL_RULES";
  EXPECT_FALSE(state.experiment.exposure) << "a feature alone has no samplingRate";
  EXPECT_FALSE(state.experiment.vendor_ids.contains("experiment"));
  EXPECT_TRUE(has(state.not_expressible, field::exposure)) << "no experiment, no samplingRate";
  EXPECT_TRUE(has(state.not_expressible, field::result));
  apply(update("experiment: checkout-redesign\naction: stop\n"));
  EXPECT_EQ(read().experiment.status, ExperimentStatus::stopped) << "DEFAULT_VARIATION";
  apply(update("experiment: checkout-redesign\naction: start\n"));
  EXPECT_EQ(read().experiment.status, ExperimentStatus::running);
}

TEST_F(EvidentlyRead, StartAndStopDriveTheBoundExperiment) {
  connect(std::string(kBound));
  // No analysisCompleteTime passed: scales.analysis_days from now, which the emulator accepts (at most 30).
  apply(update("experiment: checkout-redesign\naction: start\n"));
  VendorState state = read();
  EXPECT_EQ(state.experiment.status, ExperimentStatus::running) << "StartExperiment reached the experiment";
  EXPECT_FALSE(state.experiment.result);
  auto again = converge(update("experiment: checkout-redesign\naction: start\n"), state.experiment);
  ASSERT_TRUE(again);
  EXPECT_TRUE(has(again->unchanged, "action.start"));

  const Update stop = update(R"(experiment: checkout-redesign
action: stop
result: {winner: two-step, summary: Two-step won}
)");
  apply(stop);
  state = read();
  EXPECT_EQ(state.experiment.status, ExperimentStatus::stopped);
  ASSERT_TRUE(state.experiment.result);
  EXPECT_EQ(state.experiment.result->summary, "Two-step won") << "StopExperiment's reason, read as statusReason";
  EXPECT_EQ(host_->state().at("evidently").at("projects").at("checkout").at("experiments").at("checkout-redesign-exp").at("status"),
            "COMPLETED");

  // A plan on that read refuses to start the stopped experiment, naming its state and the rule.
  auto plan = plan_on(state, "experiment: checkout-redesign\naction: start\n");
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().field, "action");
  EXPECT_NE(plan.error().message.find("COMPLETED"), std::string::npos) << plan.error().describe();
  EXPECT_NE(plan.error().message.find("cannot be started again"), std::string::npos) << plan.error().describe();
}

TEST_F(EvidentlyRead, APlanOnTheReadRemovesTheVariationsTheUpdateLacks) {
  connect("{feature: checkout-redesign}");
  const VendorState state = read();  // the fixture's feature: control and two-step
  auto plan = plan_on(state, R"(experiment: checkout-redesign
variations:
  - {key: control, control: true, weight: 50, value: {enabled: false}}
  - {key: three-step, weight: 50, value: {enabled: true}}
)");
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->backends.size(), 1u);
  ASSERT_EQ(plan->backends[0].requests.size(), 1u);
  const auto& body = plan->backends[0].requests[0].body->as_object();
  EXPECT_EQ(body.at("removeVariations"), boost::json::array{"two-step"});

  // Sent (apply does not read first yet, so the removal is passed through), the feature holds the update's set.
  apply(update(R"(experiment: checkout-redesign
variations:
  - {key: control, control: true, weight: 50, value: {enabled: false}}
  - {key: three-step, weight: 50, value: {enabled: true}}
vendor: {evidently: {removeVariations: [two-step]}}
)"));
  const Experiment after = read().experiment;
  ASSERT_TRUE(after.variations);
  ASSERT_EQ(after.variations->size(), 2u);
  EXPECT_EQ((*after.variations)[1].key, "three-step");
}

TEST_F(EvidentlyRead, TypedValuesReadBackAsOneAttribute) {
  auto fixture = boost::json::parse(R"({"evidently": {"projects": {"checkout": {"features": {
      "checkout-redesign": {"variations": [{"name": "small", "value": {"longValue": 3}},
                                           {"name": "large", "value": {"longValue": 12}}],
                            "defaultVariation": "large", "evaluationStrategy": "DEFAULT_VARIATION"}}}}}})");
  start_host(fixture);
  connect("{feature: checkout-redesign}");
  const Experiment e = read().experiment;
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  const Variation& large = (*e.variations)[1];
  EXPECT_EQ(large.key, "large");
  EXPECT_TRUE(large.control) << "the defaultVariation";
  ASSERT_TRUE(large.value);
  ASSERT_EQ(large.value->attributes.size(), 1u);
  EXPECT_EQ(large.value->attributes[0].first, "value");
  EXPECT_EQ(large.value->attributes[0].second, AttributeValue(12.0));
  EXPECT_EQ(e.description, "") << "a feature without a description holds an empty one";
  EXPECT_EQ(e.status, ExperimentStatus::stopped);

  // A boolean update differs from what is served: the typed value is compared, not ignored.
  auto converged = converge(update(R"(experiment: checkout-redesign
variations:
  - {key: small, weight: 50, value: {enabled: true}}
  - {key: large, control: true, weight: 50, value: {enabled: true}}
)"),
                            e);
  ASSERT_TRUE(converged);
  EXPECT_FALSE(has(converged->unchanged, field::variations));
}

TEST_F(EvidentlyRead, AMissingFeatureOrExperimentIsNotFoundNamingIt) {
  connect("{feature: no-such-feature}");
  Error e = read_error();
  EXPECT_EQ(e.code, ErrorCode::not_found) << e.describe();
  EXPECT_NE(e.message.find("no-such-feature"), std::string::npos) << e.describe();
  EXPECT_EQ(e.backend, "ev");
  EXPECT_EQ(e.operation, "GetFeature");

  connect("{feature: checkout-redesign, experiment: no-such-exp}");
  e = read_error();
  EXPECT_EQ(e.code, ErrorCode::not_found) << e.describe();
  EXPECT_NE(e.message.find("no-such-exp"), std::string::npos) << e.describe();
  EXPECT_EQ(e.operation, "GetExperiment");
}

TEST_F(EvidentlyRead, AnAnswerThatDoesNotParseNamesTheOperation) {
  connect(std::string(kBound));
  for (const auto& [prefix, operation, body] :
       {std::tuple{"/projects/checkout/features/", "GetFeature", R"({"feature": "not an object"})"},
        std::tuple{"/projects/checkout/experiments/", "GetExperiment", R"([1, 2, 3])"},
        std::tuple{"/projects/checkout/features/", "GetFeature",
                   R"({"feature": {"variations": [{"name": "a", "value": {"boolValue": true, "longValue": 1}}]}})"}}) {
    answer_gets_with("evidently", prefix, body);
    Error e = read_error();
    EXPECT_EQ(e.code, ErrorCode::internal) << e.describe();
    EXPECT_EQ(e.operation, operation) << e.describe();
    EXPECT_NE(e.message.find(operation), std::string::npos) << e.describe();
    EXPECT_EQ(e.message.find("not an object"), std::string::npos) << "the answer itself is not dumped: " << e.describe();
  }
}

}  // namespace
}  // namespace expbridge
