// Auth0's read (GetExperiment, GetFeatureFlag, ListFeatureFlagVariations) against the emulator:
// what an apply sent reads back equal in neutral terms, statuses follow the transitions, and a
// missing or garbled resource is a clear error.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/convergence.hpp"
#include "support/emulated_read.hpp"

namespace expbridge {
namespace {

using test::has;

constexpr std::string_view kBinding = "{id: exp_4fG7hJk, variations: {control: var_2xQa, two-step: var_9bZk}}";

class Auth0Read : public test::EmulatedRead {
 protected:
  Auth0Read() { backend_ = "a0"; }
  /// Backend `a0` (the emulator's tenant), the experiment `checkout-redesign` bound as `binding`.
  void connect(std::string_view binding = kBinding) {
    connect_backend("vendor: auth0, domain: example.us.auth0.com, client_id_env: AUTH0_CLIENT_ID, "
                    "client_secret_env: AUTH0_CLIENT_SECRET",
                    binding);
  }
};

TEST_F(Auth0Read, WhatAnApplySentReadsBackEqual) {
  connect();
  // The values are the flag's: the baseline parameters, and two-step's overrides on top.
  const Update u = update(R"(experiment: checkout-redesign
name: Checkout redesign
description: Two-step checkout against one page
variations:
  - {key: control, control: true, weight: 30, value: {enabled: true, attributes: {checkout_layout: one-page, steps: 1}}}
  - {key: two-step, weight: 70, value: {enabled: true, attributes: {checkout_layout: two-step, steps: 2}}}
)");
  apply(u);
  const VendorState state = read();
  const Experiment& e = state.experiment;
  EXPECT_EQ(e.name, "Checkout redesign");
  EXPECT_EQ(e.description, "Two-step checkout against one page");
  EXPECT_EQ(e.status, ExperimentStatus::draft);
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  EXPECT_EQ((*e.variations)[1].key, "two-step") << "var_9bZk through the binding's reverse map";
  EXPECT_DOUBLE_EQ((*e.variations)[1].weight, 70);
  ASSERT_TRUE((*e.variations)[1].value);
  EXPECT_EQ((*e.variations)[1].value->attributes.size(), 2u);

  auto converged = converge(u, e);
  ASSERT_TRUE(converged) << converged.error().describe();
  for (const char* f : {field::name, field::description, field::variations})
    EXPECT_TRUE(has(converged->unchanged, f)) << f;
  EXPECT_TRUE(converged->nothing_to_send());

  EXPECT_EQ(e.vendor_ids, (std::map<std::string, std::string>{{"experiment", "exp_4fG7hJk"}, {"feature_flag", "flg_8kTz3Wq"}}));
  for (const char* f : {field::hypothesis, field::launch_criteria, field::audience_rule, field::audience_description,
                        field::exposure, field::overrides, field::result})
    EXPECT_TRUE(has(state.not_expressible, f)) << f;
  for (const char* f : {field::name, field::description, field::variations})
    EXPECT_FALSE(has(state.not_expressible, f)) << f;
}

TEST_F(Auth0Read, StatusFollowsTheTransitionsAndTheReadRefusesWhatAuth0Would) {
  connect();
  apply(update("experiment: checkout-redesign\naction: start\n"));
  EXPECT_EQ(read().experiment.status, ExperimentStatus::running);
  apply(update("experiment: checkout-redesign\naction: stop\n"));
  const VendorState state = read();
  EXPECT_EQ(state.experiment.status, ExperimentStatus::stopped);

  // A plan on that read: completed -> active is refused before anything is sent, naming the state and the rule.
  auto plan = plan_on(state, "experiment: checkout-redesign\naction: start\n");
  ASSERT_FALSE(plan) << "a completed experiment cannot be started";
  EXPECT_EQ(plan.error().field, "action") << plan.error().describe();
  EXPECT_NE(plan.error().message.find("completed"), std::string::npos) << plan.error().describe();
  EXPECT_NE(plan.error().message.find("create a new experiment"), std::string::npos) << plan.error().describe();
}

TEST_F(Auth0Read, AVariationTheBindingDoesNotNameKeepsItsFlagName) {
  connect("{id: exp_4fG7hJk, variations: {control: var_2xQa}}");
  const Experiment e = read().experiment;
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  EXPECT_EQ((*e.variations)[0].key, "control");
  EXPECT_EQ((*e.variations)[1].key, "two-step") << "the flag variation's name";
  EXPECT_TRUE((*e.variations)[0].control);
}

TEST_F(Auth0Read, VariationsArePagedThroughTheCheckpoints) {
  // 60 variations on the flag: ListFeatureFlagVariations answers 50 and a `next`, then the rest.
  boost::json::array variations;
  const std::string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789";
  for (std::size_t i = 0; i < 60; ++i)
    variations.push_back(boost::json::object{{"id", "var_" + std::string(1, alphabet[i % alphabet.size()]) +
                                                        std::string(1, alphabet[i / alphabet.size()])},
                                             {"name", "v" + std::to_string(i)}});
  boost::json::object fixture = boost::json::parse(R"({"auth0": {"domain": "example.us.auth0.com",
      "feature_flags": [{"id": "flg_8kTz3Wq", "name": "checkout-flow", "status": "active", "parameters": {"steps": 1}}],
      "experiments": [{"id": "exp_4fG7hJk", "name": "Paged", "feature_flag_id": "flg_8kTz3Wq", "status": "draft",
                       "allocations": []}]}})").as_object();
  auto& flag = fixture["auth0"].as_object()["feature_flags"].as_array()[0].as_object();
  flag["variations"] = variations;
  auto& experiment = fixture["auth0"].as_object()["experiments"].as_array()[0].as_object();
  const std::string last_id(variations.back().as_object().at("id").as_string());
  experiment["allocations"] = boost::json::array{
      boost::json::object{{"variation_id", variations[0].as_object().at("id")}, {"is_control", true}, {"weight", 50}},
      boost::json::object{{"variation_id", last_id}, {"is_control", false}, {"weight", 50}}};
  start_host(fixture);
  connect("{id: exp_4fG7hJk}");
  const Experiment e = read().experiment;
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  EXPECT_EQ((*e.variations)[1].key, "v59") << "found on the second page";
  std::size_t pages = 0;
  for (const auto& r : host_->received_requests())
    if (r.request.target.find("/variations") != std::string::npos) ++pages;
  EXPECT_EQ(pages, 2u);

  // Read again, hinted: the flag and the first page go with the experiment, the second page
  // still needs the first's checkpoint.
  test::ObservedRead hinted = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(hinted.read.state);
  EXPECT_EQ(hinted.read.round_trips, 2);
  EXPECT_EQ(test::operations(hinted.read), (std::vector<std::string>{"GetExperiment", "GetFeatureFlag",
                                                                     "ListFeatureFlagVariations", "ListFeatureFlagVariations"}));
  EXPECT_EQ(hinted.read.state->experiment.variations->at(1).key, "v59");
}

TEST_F(Auth0Read, AMissingExperimentIsNotFoundNamingIt) {
  connect("{id: exp_NoSuch1}");
  const Error e = read_error();
  EXPECT_EQ(e.code, ErrorCode::not_found) << e.describe();
  EXPECT_NE(e.message.find("exp_NoSuch1"), std::string::npos) << e.describe();
  EXPECT_EQ(e.backend, "a0");
  EXPECT_EQ(e.operation, "GetExperiment");
}

TEST_F(Auth0Read, AnAnswerThatDoesNotParseNamesTheOperation) {
  connect();
  for (const auto& [prefix, operation, body] :
       {std::tuple{"/api/v2/experimentation/experiments/", "GetExperiment", R"("just a string")"},
        std::tuple{"/api/v2/experimentation/feature-flags/flg_8kTz3Wq/variations", "ListFeatureFlagVariations",
                   R"({"variations": 3})"},
        std::tuple{"/api/v2/experimentation/experiments/", "GetExperiment",
                   R"({"name": "x", "feature_flag_id": "flg_8kTz3Wq", "status": "running-ish", "allocations": []})"}}) {
    answer_gets_with("auth0", prefix, body);
    const Error e = read_error();
    EXPECT_EQ(e.code, ErrorCode::internal) << e.describe();
    EXPECT_EQ(e.operation, operation) << e.describe();
    EXPECT_NE(e.message.find(operation), std::string::npos) << e.describe();
  }
}

// Read hints (read.hpp): the feature flag an earlier read found is asked with the experiment.

const std::vector<std::string> kExperimentAndFlag{"GetExperiment", "GetFeatureFlag", "ListFeatureFlagVariations"};

TEST_F(Auth0Read, ASecondReadAsksTheFlagWithTheExperiment) {
  connect();
  test::ObservedRead first = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(first.read.state);
  EXPECT_EQ(first.read.round_trips, 2) << "the flag is known only from the experiment's answer";
  EXPECT_EQ(test::operations(first.read), kExperimentAndFlag);
  EXPECT_EQ(first.read.state->hint, (boost::json::object{{"feature_flag_id", "flg_8kTz3Wq"}}));

  test::ObservedRead second = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(second.read.state);
  EXPECT_EQ(second.read.round_trips, 1);
  EXPECT_EQ(test::operations(second.read), kExperimentAndFlag);
  test::expect_same_state(*second.read.state, *first.read.state);
}

TEST_F(Auth0Read, AStaleFlagHintCostsOneMoreRoundTripNotAWrongState) {
  // A second flag with other values, which the experiment moves to between two reads.
  auto fixture = emulator::default_fixture(Registry::builtin());
  ASSERT_TRUE(fixture) << fixture.error().describe();
  boost::json::object& auth0 = fixture->at("auth0").as_object();
  auth0.at("feature_flags").as_array().push_back(boost::json::parse(R"({"id": "flg_9mWx4Rt", "name": "checkout-flow-v2",
      "status": "active", "parameters": {"checkout_layout": "wizard", "steps": 3},
      "variations": [{"id": "var_2xQa", "name": "control"},
                     {"id": "var_9bZk", "name": "two-step", "overrides": {"checkout_layout": "wizard", "steps": 4}}]})"));
  boost::json::object moved = auth0.at("experiments").at(0).as_object();
  moved["feature_flag_id"] = "flg_9mWx4Rt";
  start_host(*fixture);
  connect();
  test::ObservedRead first = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(first.read.state);
  ASSERT_EQ(first.read.state->experiment.vendor_ids.at("feature_flag"), "flg_8kTz3Wq");

  answer_gets_with("auth0", "/api/v2/experimentation/experiments/exp_4fG7hJk", boost::json::serialize(moved));
  test::ObservedRead stale = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(stale.read.state);
  EXPECT_EQ(stale.read.round_trips, 2) << "the hinted flag is not the experiment's: the right one is asked next";
  EXPECT_EQ(test::operations(stale.read), (std::vector<std::string>{"GetExperiment", "GetFeatureFlag",
                                                                    "ListFeatureFlagVariations", "GetFeatureFlag",
                                                                    "ListFeatureFlagVariations"}));
  EXPECT_NE(stale.read.requests.at(3).request.url.find("flg_9mWx4Rt"), std::string::npos);
  const Experiment& e = stale.read.state->experiment;
  EXPECT_EQ(e.vendor_ids.at("feature_flag"), "flg_9mWx4Rt");
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  for (const Variation& v : *e.variations) {
    ASSERT_TRUE(v.value) << v.key;
    bool wizard = false;
    for (const auto& [name, value] : v.value->attributes)
      if (const auto* text = std::get_if<std::string>(&value); name == "checkout_layout" && text) wizard = *text == "wizard";
    EXPECT_TRUE(wizard) << v.key << ": the second flag's values, not the first's";
  }

  test::ObservedRead after = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(after.read.state);
  EXPECT_EQ(after.read.round_trips, 1);
  test::expect_same_state(*after.read.state, *stale.read.state);
}

TEST_F(Auth0Read, AFailedReadDropsItsHint) {
  connect();
  ASSERT_EQ(test::observed_read(*applier_, *host_).read.round_trips, 2);
  // The hinted flag now fails (a resource refused, a vendor error): so does the read...
  auto faults = emulator::parse_faults(boost::json::parse(R"([{"vendor": "auth0", "method": "GET",
      "path_prefix": "/api/v2/experimentation/feature-flags/", "status": 403}])").as_array(), "faults");
  ASSERT_TRUE(faults) << faults.error().describe();
  ASSERT_TRUE(host_->set_faults(std::move(*faults)));
  EXPECT_EQ(read_error().code, ErrorCode::unauthorized);
  // ...and the next read asks without it, so a hint cannot keep failing reads.
  ASSERT_TRUE(host_->set_faults({}));
  test::ObservedRead next = test::observed_read(*applier_, *host_);
  EXPECT_EQ(next.read.round_trips, 2);
  EXPECT_EQ(test::operations(next.read), kExperimentAndFlag);
}

}  // namespace
}  // namespace expbridge
