// Creating an experiment at Auth0 (`Adapter::create`): the flag and its variations read first,
// CreateExperiment, then the status active for a running experiment — the requests, the
// carriage of each field, the errors before anything is created, and the round trip through the
// emulator (which serves CreateExperiment for this).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <boost/json/parse.hpp>

#include "emulator/emulator.hpp"
#include "json_writer.hpp"
#include "mapping_examples.hpp"
#include "support/emulated_create.hpp"

namespace expbridge {
namespace {

namespace json = boost::json;
using emulator::EmulatorHost;
using test::EmulatedBackend;

constexpr std::string_view kSettings =
    "vendor: auth0, domain: example.us.auth0.com, client_id_env: AUTH0_CLIENT_ID, client_secret_env: AUTH0_CLIENT_SECRET";

/// A running experiment, as a LaunchDarkly read would give it.
Experiment desired_experiment() {
  Experiment e;
  e.experiment = "checkout-migrated";
  e.name = "Checkout migrated";
  e.description = "Two-step checkout";
  e.hypothesis = "Fewer steps raise conversion";
  e.variations = std::vector<Variation>{{"control", true, 40, std::nullopt, std::nullopt},
                                        {"two-step", false, 60, std::nullopt, VariationValue{true, {{"steps", AttributeValue{2.0}}}}}};
  e.status = ExperimentStatus::running;
  return e;
}

constexpr std::string_view kExperiments = "/api/v2/experimentation/experiments";

class Auth0Create : public test::EmulatedCreate {
 protected:
  void SetUp() override {
    partial_ = json::object{{"flag", "flg_8kTz3Wq"},
                            {"variations", json::object{{"control", "var_2xQa"}, {"two-step", "var_9bZk"}}}};
    start("a0", kSettings);
  }
  json::object experiments() const { return host_->state().at("auth0").at("experiments").as_object(); }
};

TEST_F(Auth0Create, FirstStepReadsTheFlagAndItsVariationsAndSaysWhatIsLost) {
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_TRUE(step) << step.error().describe();
  ASSERT_EQ(step->requests.size(), 2u);
  EXPECT_EQ(step->requests[0].operation, "GetFeatureFlag");
  EXPECT_EQ(step->requests[1].operation, "ListFeatureFlagVariations");
  ASSERT_EQ(step->then.size(), 2u);
  EXPECT_EQ(step->then[0], "CreateExperiment 'Checkout migrated' on flg_8kTz3Wq (2 allocations)");
  EXPECT_EQ(step->then[1], "TransitionExperimentStatus active");
  for (const char* f : {"name", "description", "variations", "status"})
    EXPECT_EQ(test::carriage_of(step->carriage, f)->carriage, Carriage::carried) << f;
  const FieldCarriage* hypothesis = test::carriage_of(step->carriage, "hypothesis");
  ASSERT_TRUE(hypothesis);
  EXPECT_EQ(hypothesis->carriage, Carriage::lost);
  EXPECT_EQ(hypothesis->rule, "auth0.fields.hypothesis.skip");
  const FieldCarriage* value = test::carriage_of(step->carriage, "variations[1].value");
  ASSERT_TRUE(value);
  EXPECT_EQ(value->carriage, Carriage::lost);
  EXPECT_NE(value->reason.find("feature flag's variation overrides"), std::string::npos) << value->reason;
}

TEST_F(Auth0Create, RunningExperimentIsCreatedActivatedAndReadsBack) {
  const Experiment e = desired_experiment();
  auto run = backend_->create(spec(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  ASSERT_TRUE(run.last->binding);
  ASSERT_EQ(run.sent.size(), 4u);
  EXPECT_EQ(run.sent[2].operation, "CreateExperiment");
  EXPECT_EQ(run.sent[2].url, host_->base_url() + "/api/v2/experimentation/experiments");
  EXPECT_TRUE(json_equal(*run.sent[2].body, json::parse(R"({"name": "Checkout migrated", "description": "Two-step checkout",
      "feature_flag_id": "flg_8kTz3Wq", "authentication_flow": "authentication", "allocation_strategy": "percentage",
      "assignment_config": {"subject": "device"},
      "allocations": [{"variation_id": "var_2xQa", "is_control": true, "weight": 40},
                      {"variation_id": "var_9bZk", "is_control": false, "weight": 60}]})")))
      << write_json(*run.sent[2].body);
  const std::string id(run.last->binding->at("id").as_string());
  EXPECT_TRUE(id.starts_with("exp_"));
  EXPECT_EQ(run.sent[3].url, host_->base_url() + "/api/v2/experimentation/experiments/" + id + "/status");
  EXPECT_TRUE(json_equal(*run.sent[3].body, json::parse(R"({"status": "active"})")));
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("POST", std::string(kExperiments) + "/" + id + "/status"), 1u);

  auto state = backend_->read(*run.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  const Experiment& read = state->experiment;
  EXPECT_EQ(read.name, e.name);
  EXPECT_EQ(read.description, e.description);
  EXPECT_EQ(read.status, ExperimentStatus::running);
  ASSERT_TRUE(read.variations);
  ASSERT_EQ(read.variations->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*read.variations)[i].key, (*e.variations)[i].key);
    EXPECT_EQ((*read.variations)[i].weight, (*e.variations)[i].weight);
    EXPECT_EQ((*read.variations)[i].control, (*e.variations)[i].control);
  }
}

TEST_F(Auth0Create, AVariationTheFlagLacksIsNotFoundAndNothingIsCreated) {
  partial_["variations"].as_object()["two-step"] = "var_NoSuch";
  const Experiment e = desired_experiment();
  const std::size_t before = experiments().size();
  auto run = backend_->create(spec(e));
  ASSERT_FALSE(run.last);
  EXPECT_EQ(run.last.error().code, ErrorCode::not_found);
  EXPECT_NE(run.last.error().message.find("has no variation 'var_NoSuch'"), std::string::npos) << run.last.error().describe();
  EXPECT_EQ(received("POST", kExperiments), 0u);
  EXPECT_EQ(experiments().size(), before);
}

TEST_F(Auth0Create, AMissingFlagIsNotFoundAndNothingIsCreated) {
  partial_["flag"] = "flg_NoSuch";
  const Experiment e = desired_experiment();
  auto run = backend_->create(spec(e));
  ASSERT_FALSE(run.last);
  EXPECT_EQ(run.last.error().code, ErrorCode::not_found);
  EXPECT_NE(run.last.error().message.find("flg_NoSuch"), std::string::npos);
  EXPECT_EQ(received("POST", kExperiments), 0u);
}

TEST_F(Auth0Create, EveryVariationNeedsAVariationIdBeforeAnythingIsAsked) {
  partial_["variations"].as_object().erase("two-step");
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(spec(e), {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().field, "experiments.checkout-migrated.a0.create.variations.two-step");
  EXPECT_TRUE(host_->received_requests().empty());
}

TEST_F(Auth0Create, WhenActivationIsRefusedTheErrorGivesTheBindingOfWhatWasCreated) {
  const Experiment first = desired_experiment();
  ASSERT_TRUE(backend_->create(spec(first)).last);
  // Auth0 keeps one active experiment per tenant: the second is created, then refused activation.
  Experiment second = desired_experiment();
  second.name = "Checkout migrated again";
  auto run = backend_->create(spec(second));
  ASSERT_FALSE(run.last);
  EXPECT_EQ(run.last.error().code, ErrorCode::invalid_input);
  EXPECT_EQ(run.last.error().operation, "TransitionExperimentStatus");
  ASSERT_EQ(run.sent.size(), 4u);
  const json::value created = json::parse(run.answers[2].body);
  const std::string id(created.at("id").as_string());
  EXPECT_NE(run.last.error().message.find("the experiment itself was created, with the binding {\"id\":\"" + id + "\""),
            std::string::npos)
      << run.last.error().describe();
  EXPECT_EQ(received("POST", std::string(kExperiments) + "/" + id + "/status"), 1u);  // not resent
  EXPECT_EQ(experiments().at(id).at("status").as_string(), "draft");
}

TEST_F(Auth0Create, AStoppedExperimentIsCreatedAsADraft) {
  Experiment e = desired_experiment();
  e.status = ExperimentStatus::stopped;
  auto run = backend_->create(spec(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  ASSERT_EQ(run.sent.size(), 3u);
  EXPECT_EQ(test::carriage_of(run.first->carriage, "status")->carriage, Carriage::lost);
  auto state = backend_->read(*run.last->binding);
  ASSERT_TRUE(state) << state.error().describe();
  EXPECT_EQ(state->experiment.status, ExperimentStatus::draft);
}

// Finding first (`find_existing`): what a create does when an earlier one may have been applied
// without its answer arriving. Auth0 finds the experiment by its name, unique in the tenant.

TEST_F(Auth0Create, FindingFirstListsTheExperimentsAndWhereNoneHasTheNameCreatesOnce) {
  const Experiment e = desired_experiment();
  auto step = backend_->adapter().create(finding(e), {});
  ASSERT_TRUE(step) << step.error().describe();
  ASSERT_EQ(step->requests.size(), 1u);
  EXPECT_EQ(step->requests[0].operation, "ListExperiments");
  EXPECT_EQ(step->requests[0].url, host_->base_url() + std::string(kExperiments) + "?take=50");
  EXPECT_EQ(step->then.at(0), "when ListExperiments finds no experiment named 'Checkout migrated': GetFeatureFlag "
                              "flg_8kTz3Wq, CreateExperiment");
  auto run = backend_->create(finding(e));
  ASSERT_TRUE(run.last) << run.last.error().describe();
  EXPECT_EQ(operations(run),
            "ListExperiments GetFeatureFlag ListFeatureFlagVariations CreateExperiment TransitionExperimentStatus");
  const std::string id(run.last->binding->at("id").as_string());
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("POST", std::string(kExperiments) + "/" + id + "/status"), 1u);
  EXPECT_EQ(experiments().at(id).at("status").as_string(), "active");
}

TEST_F(Auth0Create, FindingFirstAfterACreateAndActivationWhoseAnswersWereLostSendsNeitherAgain) {
  const Experiment e = desired_experiment();
  const json::object first = create_first(e);
  ASSERT_FALSE(first.empty());
  const std::string id(first.at("id").as_string());
  auto again = backend_->create(finding(e));
  ASSERT_TRUE(again.last) << again.last.error().describe();
  EXPECT_EQ(operations(again), "ListExperiments");
  EXPECT_TRUE(json_equal(json::value(*again.last->binding), json::value(first)))
      << write_json(*again.last->binding);
  EXPECT_EQ(received("POST", kExperiments), 1u);
  // A second status POST to active would be refused: an active experiment is not activated again.
  EXPECT_EQ(received("POST", std::string(kExperiments) + "/" + id + "/status"), 1u);
}

TEST_F(Auth0Create, FindingFirstADraftThatShouldRunSendsOnlyTheActivation) {
  const json::object first = create_first(desired_experiment(), true);
  ASSERT_FALSE(first.empty());
  const std::string id(first.at("id").as_string());
  const Experiment e = desired_experiment();
  auto again = backend_->create(finding(e));
  ASSERT_TRUE(again.last) << again.last.error().describe();
  EXPECT_EQ(operations(again), "ListExperiments TransitionExperimentStatus");
  EXPECT_TRUE(json_equal(json::value(*again.last->binding), json::value(first)));
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("POST", std::string(kExperiments) + "/" + id + "/status"), 1u);
  EXPECT_EQ(experiments().at(id).at("status").as_string(), "active");
}

TEST_F(Auth0Create, FindingFirstAnExperimentOfTheNameOnOtherVariationsIsAConflictAndSendsNothing) {
  const json::object first = create_first(desired_experiment(), true);
  ASSERT_FALSE(first.empty());
  const std::string id(first.at("id").as_string());
  partial_["variations"] = json::object{{"control", "var_9bZk"}, {"two-step", "var_2xQa"}};
  const Experiment e = desired_experiment();
  auto again = backend_->create(finding(e));
  ASSERT_FALSE(again.last);
  EXPECT_EQ(again.last.error().code, ErrorCode::conflict);
  EXPECT_EQ(again.last.error().operation, "ListExperiments");
  EXPECT_NE(again.last.error().message.find("Auth0 experiment '" + id + "' named 'Checkout migrated' already exists"),
            std::string::npos)
      << again.last.error().describe();
  EXPECT_NE(again.last.error().message.find("its allocations are of variations 'var_2xQa (control)', 'var_9bZk', the "
                                            "create's of 'var_2xQa', 'var_9bZk (control)'"),
            std::string::npos)
      << again.last.error().describe();
  EXPECT_EQ(operations(again), "ListExperiments");
  EXPECT_EQ(received("POST", kExperiments), 1u);
  EXPECT_EQ(received("POST", std::string(kExperiments) + "/" + id + "/status"), 0u);
}

}  // namespace
}  // namespace expbridge
