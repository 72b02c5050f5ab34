// LaunchDarkly reads (Get experiment with expand=draftIteration,treatments, then Get feature flag)
// and the plans built on them (Create iteration, startIteration, stopIteration), against the
// LaunchDarkly emulator: what is applied reads back equal, and the emulator holds what was asked.
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>

#include "convergence.hpp"
#include "emulator/emulator.hpp"
#include "emulator/fixtures.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/update.hpp"
#include "support/blocking_http.hpp"
#include "support/emulated_read.hpp"

namespace expbridge {
namespace {

namespace json = boost::json;

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string describe(const UpdateReport& r) { return json::serialize(report_to_json(r)); }
std::string describe(const ReadReport& r) { return json::serialize(read_report_to_json(r)); }

class LaunchDarklyRead : public ::testing::Test {
 protected:
  /// Starts the emulator on the default fixture, plus `faults` (a JSON list, fixtures.hpp).
  void start(json::array faults = {}) {
    auto fixture = emulator::default_fixture(Registry::builtin());
    ASSERT_TRUE(fixture) << fixture.error().describe();
    if (!faults.empty()) fixture->as_object()["faults"] = std::move(faults);
    auto host = emulator::EmulatorHost::start({.fixture = std::move(*fixture)});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
  }

  void SetUp() override { start(); }

  /// A config with the one LaunchDarkly backend `ld` on the emulator, `checkout-redesign` bound to `binding`.
  void bind(json::object binding = {{"experiment", "checkout-redesign"}}) {
    json::object ld{{"vendor", "launchdarkly"}, {"project", "default"},     {"environment", "production"},
                    {"token_env", "LD_API_TOKEN"}, {"endpoint", host_->base_url()}, {"retry_base_ms", 5},
                    {"timeout_ms", 3000},          {"deadline_ms", 8000}};
    json::object config{{"backends", json::object{{"ld", ld}}},
                        {"experiments", json::object{{"checkout-redesign", json::object{{"ld", binding}}}}}};
    auto bridge = Bridge::from_text(json::serialize(config), "ld-read-config.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
  }

  Applier applier() {
    ApplyOptions options;
    options.environment = emulator::test_environment(host_->credentials());
    auto made = Applier::create(*bridge_, std::move(options));
    EXPECT_TRUE(made) << made.error().describe();
    return std::move(*made);
  }

  ReadReport read() { return applier().read("checkout-redesign"); }

  /// The state `ld` reads, failing the test when it does not read.
  VendorState state() {
    ReadReport report = read();
    EXPECT_TRUE(report.ok()) << describe(report);
    if (!report.ok() || report.backends.empty() || !report.backends[0].state) return {};
    return *report.backends[0].state;
  }

  static Update update(std::string_view yaml) {
    auto u = parse_update(yaml, "ld-read-test");
    EXPECT_TRUE(u) << u.error().describe();
    return u ? *u : Update{};
  }

  /// Applies `u` the default way: `ld` is read first and sent only what differs.
  UpdateReport apply_on_read(const Update& u) { return applier().apply(u); }

  /// The emulator's experiment `checkout-redesign` (state() shape in launchdarkly_emulator.cpp).
  json::object emulated() const {
    auto s = host_->state();
    return s.at("launchdarkly").at("projects").at("default").at("environments").at("production").at("experiments")
        .at("checkout-redesign").as_object();
  }

  std::unique_ptr<emulator::EmulatorHost> host_;
  std::unique_ptr<Bridge> bridge_;
};

constexpr const char* kFixtureTwoStep = "6a1f0e2c-0c4b-4a8e-9d51-0000000000t1";

TEST_F(LaunchDarklyRead, ReadsTheFixtureIntoTheNeutralModel) {
  bind();
  VendorState s = state();
  const Experiment& e = s.experiment;
  EXPECT_EQ(e.name, "Checkout redesign (draft)");
  EXPECT_EQ(e.description, "One-page versus two-step checkout");
  EXPECT_EQ(e.hypothesis, "Fewer steps raise conversion");
  EXPECT_EQ(e.status, ExperimentStatus::draft);
  ASSERT_TRUE(e.variations);
  ASSERT_EQ(e.variations->size(), 2u);
  const Variation& control = (*e.variations)[0];
  const Variation& two_step = (*e.variations)[1];
  EXPECT_EQ(control.key, "control");
  EXPECT_TRUE(control.control);
  EXPECT_EQ(control.weight, 50);
  ASSERT_TRUE(control.value);
  EXPECT_FALSE(control.value->enabled);
  EXPECT_EQ(two_step.key, "two-step");
  EXPECT_FALSE(two_step.control);
  ASSERT_TRUE(two_step.value);
  EXPECT_TRUE(two_step.value->enabled);
  EXPECT_FALSE(e.result);

  EXPECT_EQ(e.vendor_ids.at("experiment"), "checkout-redesign");
  EXPECT_EQ(e.vendor_ids.at("experiment_id"), "65f0c0de00000000000000a1");
  EXPECT_EQ(e.vendor_ids.at("iteration"), "65f0c0de00000000000000i1");

  // What LaunchDarkly cannot hold at all; iteration fields and the lifecycle it can.
  for (const char* f : {field::launch_criteria, field::audience_rule, field::audience_description, field::exposure,
                        field::overrides})
    EXPECT_TRUE(contains(s.not_expressible, f)) << f;
  for (const char* f : {field::name, field::description, field::hypothesis, field::variations, field::result})
    EXPECT_FALSE(contains(s.not_expressible, f)) << f;

  // What plan needs: the iteration, the draft, treatment ids by name, the flag's variations and version.
  EXPECT_EQ(s.detail.at("iteration").at("_id"), "65f0c0de00000000000000i1");
  EXPECT_EQ(s.detail.at("iteration").at("status"), "not_started");
  EXPECT_EQ(s.detail.at("draft"), "65f0c0de00000000000000i1");
  EXPECT_EQ(s.detail.at("treatments").at("two-step"), kFixtureTwoStep);
  EXPECT_EQ(s.detail.at("flag"), "checkout-redesign");
  EXPECT_EQ(s.detail.at("iterationInput").at("flags").at("checkout-redesign").at("flagConfigVersion"), 7);
  EXPECT_EQ(s.detail.at("iterationInput").at("flags").at("checkout-redesign").at("ruleId"), "fallthrough");
  EXPECT_EQ(s.detail.at("iterationInput").at("randomizationUnit"), "user");
  EXPECT_EQ(s.detail.at("iterationInput").at("primarySingleMetricKey"), "checkout-conversion");
}

TEST_F(LaunchDarklyRead, ReadsOnlyGetsWithTheExpansionsTreatmentIdsNeed) {
  bind();
  ReadReport report = read();
  ASSERT_TRUE(report.ok()) << describe(report);
  const auto& requests = report.backends[0].requests;
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].request.operation, "GetExperiment");
  EXPECT_NE(requests[0].request.url.find("expand=draftIteration%2Ctreatments"), std::string::npos) << requests[0].request.url;
  EXPECT_EQ(requests[1].request.operation, "GetFeatureFlag");
  EXPECT_NE(requests[1].request.url.find("/api/v2/flags/default/checkout-redesign"), std::string::npos);
}

TEST_F(LaunchDarklyRead, TreatmentNamesTranslateBackThroughTheBinding) {
  bind({{"experiment", "checkout-redesign"}, {"treatments", json::object{{"baseline", "control"}, {"new", "two-step"}}}});
  VendorState s = state();
  ASSERT_TRUE(s.experiment.variations);
  EXPECT_EQ((*s.experiment.variations)[0].key, "baseline");
  EXPECT_EQ((*s.experiment.variations)[1].key, "new");
}

TEST_F(LaunchDarklyRead, AnUpdateAppliedOnAReadReadsBackEqual) {
  bind();
  const Update u = update(R"(
experiment: checkout-redesign
name: Checkout redesign
description: Two-step checkout
hypothesis: Two steps raise conversion
variations:
  - {key: control, control: true, weight: 30, value: {enabled: false}}
  - {key: two-step, weight: 70, value: {enabled: true}}
action: start
comment: rebalance
)");
  UpdateReport applied = apply_on_read(u);
  ASSERT_TRUE(applied.ok()) << describe(applied);
  ASSERT_EQ(applied.backends[0].requests.size(), 2u) << describe(applied);
  EXPECT_EQ(applied.backends[0].requests[0].request.operation, "CreateIteration");
  EXPECT_TRUE(applied.backends[0].skipped.empty()) << describe(applied);

  VendorState s = state();
  EXPECT_EQ(s.experiment.status, ExperimentStatus::running);
  auto c = converge(u, s.experiment);
  ASSERT_TRUE(c) << c.error().describe();
  for (std::string_view f : {"name", "description", "hypothesis", "variations", "action.start"})
    EXPECT_TRUE(contains(c->unchanged, f)) << f;
  EXPECT_TRUE(c->nothing_to_send());

  // The emulator's own record: a running iteration with the new shares, started with a justification.
  const json::object held = emulated();
  const auto& last = held.at("iterations").as_array().back().as_object();
  EXPECT_EQ(last.at("status"), "running");
  EXPECT_EQ(last.at("hypothesis"), "Two steps raise conversion");
  EXPECT_EQ(last.at("treatments").as_array()[0].at("allocationPercent"), "30");
  EXPECT_EQ(last.at("treatments").as_array()[1].at("allocationPercent"), "70");
  EXPECT_EQ(last.at("changeJustification"), "rebalance");
}

TEST_F(LaunchDarklyRead, StartThenStopWithTheWinner) {
  bind();
  UpdateReport started = apply_on_read(update("{experiment: checkout-redesign, action: start}"));
  ASSERT_TRUE(started.ok()) << describe(started);
  {
    const json::object held = emulated();
    const auto& iteration = held.at("iterations").as_array().back().as_object();
    EXPECT_EQ(iteration.at("_id"), "65f0c0de00000000000000i1");
    EXPECT_EQ(iteration.at("status"), "running");
  }
  EXPECT_EQ(state().experiment.status, ExperimentStatus::running);

  const Update stop = update("{experiment: checkout-redesign, action: stop, result: {winner: two-step, summary: Two-step won}}");
  UpdateReport stopped = apply_on_read(stop);
  ASSERT_TRUE(stopped.ok()) << describe(stopped);
  ASSERT_EQ(stopped.backends[0].requests.size(), 1u);  // ONE semantic patch
  const auto& instructions = stopped.backends[0].requests[0].request.body->at("instructions").as_array();
  EXPECT_EQ(instructions.back().at("kind"), "stopIteration");

  const json::object held = emulated();
  const auto& iteration = held.at("iterations").as_array().back().as_object();
  EXPECT_EQ(iteration.at("status"), "stopped");
  EXPECT_EQ(iteration.at("winningTreatmentId"), kFixtureTwoStep);
  EXPECT_EQ(iteration.at("winner"), "two-step");
  EXPECT_EQ(iteration.at("winningReason"), "Two-step won");

  VendorState s = state();
  EXPECT_EQ(s.experiment.status, ExperimentStatus::stopped);
  ASSERT_TRUE(s.experiment.result);
  EXPECT_EQ(s.experiment.result->winner, "two-step");
  EXPECT_EQ(s.experiment.result->summary, "Two-step won");
  auto c = converge(stop, s.experiment);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_TRUE(contains(c->unchanged, "action.stop"));
}

TEST_F(LaunchDarklyRead, AStartAfterAStopRunsANewIterationLikeTheStoppedOne) {
  bind();
  ASSERT_TRUE(apply_on_read(update("{experiment: checkout-redesign, action: start}")).ok());
  ASSERT_TRUE(apply_on_read(update("{experiment: checkout-redesign, action: stop, result: {winner: control}}")).ok());
  // No draft is left, so the start builds one from the stopped iteration first.
  UpdateReport again = apply_on_read(update("{experiment: checkout-redesign, action: start}"));
  ASSERT_TRUE(again.ok()) << describe(again);
  ASSERT_EQ(again.backends[0].requests.size(), 2u) << describe(again);
  EXPECT_EQ(again.backends[0].requests[0].request.operation, "CreateIteration");

  const json::object held = emulated();
  const auto& iterations = held.at("iterations").as_array();
  ASSERT_EQ(iterations.size(), 2u);
  EXPECT_EQ(iterations[0].at("status"), "stopped");
  EXPECT_EQ(iterations[1].at("status"), "running");
  EXPECT_EQ(iterations[1].at("hypothesis"), "Fewer steps raise conversion");
  EXPECT_EQ(iterations[1].at("treatments").as_array().size(), 2u);
  VendorState s = state();
  EXPECT_EQ(s.experiment.status, ExperimentStatus::running);
  EXPECT_FALSE(s.experiment.result);  // the new iteration has no winner yet
}

TEST_F(LaunchDarklyRead, AStartWhileRunningThatChangesNothingElseIsUnchanged) {
  bind();
  const Update start = update("{experiment: checkout-redesign, action: start}");
  ASSERT_TRUE(apply_on_read(start).ok());
  auto c = converge(start, state().experiment);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_TRUE(contains(c->unchanged, "action.start"));
  EXPECT_TRUE(c->nothing_to_send());
}

TEST_F(LaunchDarklyRead, AWinnerWithoutATreatmentIsRefusedBeforeAnythingIsSent) {
  bind();
  ASSERT_TRUE(apply_on_read(update("{experiment: checkout-redesign, action: start}")).ok());
  const std::size_t before = host_->received_requests().size();
  UpdateReport refused = apply_on_read(update("{experiment: checkout-redesign, action: stop, result: {winner: three-step}}"));
  EXPECT_FALSE(refused.ok());
  const Error* error = refused.error ? &*refused.error : (refused.backends.empty() ? nullptr : refused.backends[0].error ? &*refused.backends[0].error : nullptr);
  ASSERT_NE(error, nullptr) << describe(refused);
  EXPECT_EQ(error->field, "result.winner");
  EXPECT_EQ(error->backend, "ld");
  EXPECT_NE(error->message.find("three-step"), std::string::npos) << error->message;
  // Only the read's two GETs reached the emulator.
  EXPECT_EQ(host_->received_requests().size(), before + 2);
  EXPECT_EQ(emulated().at("iterations").as_array().back().at("status"), "running");
}

TEST_F(LaunchDarklyRead, ArchivedReadsAsArchived) {
  bind();
  ASSERT_TRUE(applier().apply(update("{experiment: checkout-redesign, action: archive}")).ok());
  EXPECT_EQ(state().experiment.status, ExperimentStatus::archived);
}

TEST_F(LaunchDarklyRead, AnUnknownExperimentIsNotFoundNamingItsKey) {
  bind({{"experiment", "no-such-experiment"}});
  ReadReport report = read();
  ASSERT_EQ(report.backends.size(), 1u);
  ASSERT_TRUE(report.backends[0].error) << describe(report);
  EXPECT_EQ(report.backends[0].error->code, ErrorCode::not_found);
  EXPECT_EQ(report.backends[0].error->backend, "ld");
  EXPECT_NE(report.backends[0].error->message.find("no-such-experiment"), std::string::npos);
}

TEST_F(LaunchDarklyRead, AFlagTheIterationDoesNotRunOnIsRefused) {
  bind({{"experiment", "checkout-redesign"}, {"flag", "other-flag"}});
  ReadReport report = read();
  ASSERT_TRUE(report.backends[0].error) << describe(report);
  EXPECT_EQ(report.backends[0].error->code, ErrorCode::invalid_input);
  EXPECT_EQ(report.backends[0].error->field, "experiments.checkout-redesign.ld.flag");
  EXPECT_NE(report.backends[0].error->message.find("other-flag"), std::string::npos);
}

TEST_F(LaunchDarklyRead, AnAnswerThatIsNotAnExperimentIsAClearError) {
  start(json::array{json::object{{"vendor", "launchdarkly"}, {"method", "GET"}, {"path_prefix", "/api/v2/projects/"},
                                 {"status", 200}, {"body", "[1, 2]"}}});
  bind();
  ReadReport report = read();
  ASSERT_TRUE(report.backends[0].error) << describe(report);
  EXPECT_EQ(report.backends[0].error->code, ErrorCode::internal);
  EXPECT_NE(report.backends[0].error->message.find("GetExperiment"), std::string::npos) << report.backends[0].error->message;
  for (const auto& credential : host_->credentials())
    EXPECT_EQ(report.backends[0].error->message.find(credential.value), std::string::npos) << credential.variable;
}

TEST_F(LaunchDarklyRead, AMissingFlagIsNotFoundNamingTheFlag) {
  start(json::array{json::object{{"vendor", "launchdarkly"}, {"method", "GET"}, {"path_prefix", "/api/v2/flags/"},
                                 {"status", 404}}});
  bind();
  ReadReport report = read();
  ASSERT_TRUE(report.backends[0].error) << describe(report);
  EXPECT_EQ(report.backends[0].error->code, ErrorCode::not_found);
  EXPECT_NE(report.backends[0].error->message.find("flag 'checkout-redesign'"), std::string::npos)
      << report.backends[0].error->message;
}

TEST_F(LaunchDarklyRead, ABindingGivingOneTreatmentToTwoVariationsIsRefused) {
  json::object config{
      {"backends", json::object{{"ld", json::object{{"vendor", "launchdarkly"}, {"project", "default"},
                                                    {"environment", "production"}, {"token_env", "LD_API_TOKEN"}}}}},
      {"experiments",
       json::object{{"checkout-redesign",
                     json::object{{"ld", json::object{{"experiment", "checkout-redesign"},
                                                      {"treatments", json::object{{"a", "same"}, {"b", "same"}}}}}}}}}};
  auto bridge = Bridge::from_text(json::serialize(config), "ld-binding.yaml");
  ASSERT_FALSE(bridge);
  EXPECT_EQ(bridge.error().field, "experiments.checkout-redesign.ld.treatments.b");
  EXPECT_NE(bridge.error().message.find("already the treatment of 'a'"), std::string::npos) << bridge.error().message;
}


// Read hints (read.hpp): the flag an earlier read found is asked with the experiment.

using test::observed_read;
using test::operations;

const std::vector<std::string> kExperimentAndFlag{"GetExperiment", "GetFeatureFlag"};

TEST_F(LaunchDarklyRead, ASecondReadAsksTheFlagWithTheExperiment) {
  bind();
  Applier kept = applier();
  test::ObservedRead first = observed_read(kept, *host_);
  ASSERT_TRUE(first.read.state);
  EXPECT_EQ(first.read.round_trips, 2) << "the flag is known only from the experiment's answer";
  EXPECT_EQ(operations(first.read), kExperimentAndFlag);
  EXPECT_EQ(first.read.state->hint, (json::object{{"flag", "checkout-redesign"}}));

  test::ObservedRead second = observed_read(kept, *host_);
  ASSERT_TRUE(second.read.state);
  EXPECT_EQ(second.read.round_trips, 1);
  EXPECT_EQ(operations(second.read), kExperimentAndFlag);
  test::expect_same_state(*second.read.state, *first.read.state);

  // A fresh Applier knows no hint: two round trips again.
  Applier fresh = applier();
  EXPECT_EQ(observed_read(fresh, *host_).read.round_trips, 2);
}

TEST_F(LaunchDarklyRead, ABindingsFlagIsAskedWithTheExperimentFromTheFirstRead) {
  bind({{"experiment", "checkout-redesign"}, {"flag", "checkout-redesign"}});
  Applier kept = applier();
  test::ObservedRead first = observed_read(kept, *host_);
  EXPECT_EQ(first.read.round_trips, 1);
  EXPECT_EQ(operations(first.read), kExperimentAndFlag);
}

TEST_F(LaunchDarklyRead, AConvergingApplyReadsInOneRoundTripOnceHinted) {
  bind();
  Applier kept = applier();
  ASSERT_TRUE(kept.apply(update("{experiment: checkout-redesign, description: first}")).ok());
  // Every answer late: a GET sent only after another's answer would arrive that much later.
  constexpr int kLatencyMs = 200;
  auto slow = emulator::parse_faults(json::array{json::object{{"vendor", "launchdarkly"}, {"latency_ms", kLatencyMs}}}, "faults");
  ASSERT_TRUE(slow) << slow.error().describe();
  ASSERT_TRUE(host_->set_faults(std::move(*slow)));
  const std::size_t before = host_->received_requests().size();
  UpdateReport report = kept.apply(update("{experiment: checkout-redesign, description: second}"));
  ASSERT_TRUE(report.ok()) << describe(report);
  auto received = host_->received_requests();
  std::vector<std::string> gets;
  std::vector<std::chrono::steady_clock::time_point> arrived;
  for (std::size_t i = before; i < received.size(); ++i)
    if (received[i].request.method == "GET") {
      gets.push_back(received[i].request.target.substr(0, received[i].request.target.find('?')));
      arrived.push_back(received[i].arrived);
    }
  ASSERT_EQ(gets, (std::vector<std::string>{"/api/v2/projects/default/environments/production/experiments/checkout-redesign",
                                            "/api/v2/flags/default/checkout-redesign"}));
  EXPECT_LT(arrived[1] - arrived[0], std::chrono::milliseconds(kLatencyMs)) << "the flag waited for the experiment's answer";
  EXPECT_EQ(json::value_to<std::string>(emulated().at("description")), "second");
}

TEST_F(LaunchDarklyRead, AStaleFlagHintCostsOneMoreRoundTripNotAWrongState) {
  // A second flag the experiment's iteration moves to between two reads.
  auto fixture = emulator::default_fixture(Registry::builtin());
  ASSERT_TRUE(fixture) << fixture.error().describe();
  json::object& flags = fixture->at("launchdarkly").at("projects").at("default").at("environments").at("production")
                            .at("flags").as_object();
  json::object moved = flags.at("checkout-redesign").as_object();
  moved["version"] = 9;
  moved["variations"] = json::array{
      json::object{{"_id", "v2-control"}, {"value", json::object{{"enabled", false}, {"generation", 2}}}, {"name", "control"}},
      json::object{{"_id", "v2-two-step"}, {"value", json::object{{"enabled", true}, {"generation", 2}}}, {"name", "two-step"}}};
  flags["checkout-redesign-v2"] = std::move(moved);
  auto host = emulator::EmulatorHost::start({.fixture = std::move(*fixture)});
  ASSERT_TRUE(host) << host.error().describe();
  host_ = std::move(*host);
  bind();
  Applier kept = applier();
  test::ObservedRead first = observed_read(kept, *host_);
  ASSERT_TRUE(first.read.state);
  ASSERT_EQ(first.read.state->detail.at("flag"), "checkout-redesign");

  // The experiment as LaunchDarkly now answers it: its iteration on the second flag.
  const std::string& url = first.read.requests.at(0).request.url;
  const std::string target = url.substr(host_->base_url().size());
  auto reply = emulator::testing::blocking_request(host_->port(), "GET", target, "",
                                                   {{"Authorization", "api-emulator-token"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  json::value experiment = json::parse(reply.body);
  json::object& iteration = experiment.at("draftIteration").is_object() ? experiment.at("draftIteration").as_object()
                                                                         : experiment.at("currentIteration").as_object();
  iteration["flags"] = json::object{{"checkout-redesign-v2", iteration.at("flags").at("checkout-redesign")}};
  for (auto& treatment : iteration.at("treatments").as_array())
    for (auto& parameter : treatment.at("parameters").as_array()) {
      json::object& p = parameter.as_object();
      p["flagKey"] = "checkout-redesign-v2";
      p["variationId"] = p.at("variationId") == "6a1f0e2c-0c4b-4a8e-9d51-0000000000c0" ? "v2-control" : "v2-two-step";
    }
  json::array faults{json::object{{"vendor", "launchdarkly"}, {"method", "GET"}, {"path_prefix", target.substr(0, target.find('?'))},
                                  {"status", 200}, {"body", json::serialize(experiment)}}};
  auto parsed = emulator::parse_faults(faults, "faults");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  ASSERT_TRUE(host_->set_faults(std::move(*parsed)));

  test::ObservedRead stale = observed_read(kept, *host_);
  ASSERT_TRUE(stale.read.state);
  EXPECT_EQ(stale.read.round_trips, 2) << "the hinted flag is not the iteration's: the right one is asked next";
  EXPECT_EQ(operations(stale.read), (std::vector<std::string>{"GetExperiment", "GetFeatureFlag", "GetFeatureFlag"}));
  EXPECT_NE(stale.read.requests.at(2).request.url.find("/flags/default/checkout-redesign-v2"), std::string::npos);
  EXPECT_EQ(stale.read.state->detail.at("flag"), "checkout-redesign-v2");
  ASSERT_TRUE(stale.read.state->experiment.variations);
  for (const Variation& v : *stale.read.state->experiment.variations) {
    ASSERT_TRUE(v.value) << v.key;
    ASSERT_EQ(v.value->attributes.size(), 1u) << v.key << ": the second flag's values, not the first's";
    EXPECT_EQ(v.value->attributes[0].first, "generation");
  }

  // The read after is hinted right again.
  test::ObservedRead after = observed_read(kept, *host_);
  ASSERT_TRUE(after.read.state);
  EXPECT_EQ(after.read.round_trips, 1);
  test::expect_same_state(*after.read.state, *stale.read.state);
}

}  // namespace
}  // namespace expbridge
