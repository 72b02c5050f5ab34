// AppConfig's read (GetExperimentDefinition, ListExperimentRuns, GetExperimentRun) against the
// AppConfig emulator, and the plans a read makes possible: a binding without `run` follows the
// current run.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "convergence.hpp"
#include "emulator/emulator.hpp"
#include "emulator/fixtures.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "support/emulated_read.hpp"

namespace expbridge {
namespace {

namespace json = boost::json;
using emulator::EmulatorHost;

// The sample binding (samples/backends.yaml) with `run` as each test wants it.
constexpr std::string_view kTreatments = "treatments: {control: c, two-step: t1}";

// Everything AppConfig holds of an experiment: the definition's fields, then the run's.
constexpr std::string_view kDefinitionFields = R"(
hypothesis: Fewer steps raise conversion
launch_criteria: +2% conversion at 95% confidence
audience: {rule: '(eq $country "US")', description: US web users}
variations:
  - {key: control, control: true, weight: 40, description: today, value: {enabled: false}}
  - key: two-step
    weight: 60
    description: new flow
    value: {enabled: true, attributes: {label: Go, steps: 2, fast: true, flags: [a, b], sizes: [1, 2.5]}}
)";
constexpr std::string_view kRunFields = R"(
description: First run, 25% of US web users
exposure: 25
overrides: {qa-tester-1: two-step, user-9: control}
)";
const std::string kExperiment = "experiment: checkout-redesign\n";

class AppConfigRead : public ::testing::Test {
 protected:
  void SetUp() override { start_host(json::value()); }

  void start_host(json::value fixture) {
    host_.reset();
    auto host = EmulatorHost::start({0, std::move(fixture)});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
  }

  /// A config with one AppConfig backend, `aws`, and `binding` for checkout-redesign.
  void connect(std::string_view binding, ApplyOptions options = {}) {
    std::string config = "backends:\n  aws: {vendor: appconfig, region: us-east-1, application: abc1234, endpoint: \"" +
                         host_->base_url() + "\", retry_base_ms: 5, timeout_ms: 3000, deadline_ms: 8000}\n" +
                         "experiments:\n  checkout-redesign:\n    aws: {" + std::string(binding) + "}\n";
    auto bridge = Bridge::from_text(config, "appconfig-read.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    reconnect(std::move(options));
  }
  void reconnect(ApplyOptions options = {}) {
    applier_.reset();
    options.environment = emulator::test_environment(host_->credentials());
    auto applier = Applier::create(*bridge_, std::move(options));
    ASSERT_TRUE(applier) << applier.error().describe();
    applier_ = std::make_unique<Applier>(std::move(*applier));
  }

  static Update update(std::string_view text) {
    auto u = parse_update(text, "test");
    EXPECT_TRUE(u) << u.error().describe();
    return u ? *u : Update{};
  }

  /// Applies `text` and expects every backend to succeed.
  void apply_ok(std::string_view text) {
    UpdateReport report = applier_->apply(update(text));
    EXPECT_TRUE(report.ok()) << text << "\n" << write_json(report_to_json(report), 2);
  }

  /// Applies `text` the default way: read the backend first, plan on what it holds.
  UpdateReport apply_on_read(std::string_view text) { return applier_->apply(update(text)); }

  /// Applies `text` in one blind round trip (`apply --no-read`).
  UpdateReport apply_blind(std::string_view text) {
    ApplyOptions blind;
    blind.read_first = false;
    reconnect(std::move(blind));
    UpdateReport report = applier_->apply(update(text));
    reconnect();
    return report;
  }

  BackendRead read_backend() {
    ReadReport report = applier_->read("checkout-redesign");
    EXPECT_EQ(report.backends.size(), 1u);
    if (report.backends.empty()) return {};
    return report.backends.front();
  }
  VendorState read_ok() {
    BackendRead read = read_backend();
    EXPECT_TRUE(read.state) << (read.error ? read.error->describe() : "no state");
    return read.state ? *read.state : VendorState{};
  }

  json::value run_json(int run) const {
    return host_->state().at("appconfig").at("applications").at("abc1234").at("ExperimentDefinitions").at("bsxyd7k")
        .at("Runs").at(std::to_string(run));
  }

  std::unique_ptr<EmulatorHost> host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Applier> applier_;
};

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

TEST_F(AppConfigRead, RoundTripReadsBackEveryFieldOfTheUpdate) {
  connect(std::string("definition: bsxyd7k, ") + std::string(kTreatments));
  // The definition first (no run is active), then a run that starts with the run fields.
  apply_ok(kExperiment + std::string(kDefinitionFields));
  apply_ok(kExperiment + "action: start\n" + std::string(kRunFields));
  VendorState state = read_ok();
  const Update everything = update(kExperiment + std::string(kDefinitionFields) + std::string(kRunFields));
  auto converged = converge(everything, state.experiment);
  ASSERT_TRUE(converged) << converged.error().describe();
  for (const char* f : {field::description, field::hypothesis, field::launch_criteria, field::audience_rule,
                        field::audience_description, field::variations, field::exposure, field::overrides})
    EXPECT_TRUE(contains(converged->unchanged, f)) << f;
  EXPECT_TRUE(converged->nothing_to_send());

  EXPECT_EQ(state.experiment.status, ExperimentStatus::running);
  EXPECT_EQ(state.experiment.vendor_ids,
            (std::map<std::string, std::string>{{"application", "abc1234"}, {"definition", "bsxyd7k"}, {"run", "1"}}));
  EXPECT_EQ(state.detail.at("run").as_int64(), 1);
  EXPECT_EQ(state.not_expressible, std::vector<std::string>{field::name});
  EXPECT_FALSE(state.experiment.name);  // the definition's Name is fixed, not the neutral name
  ASSERT_TRUE(state.experiment.variations);
  EXPECT_TRUE(state.experiment.variations->front().control);
  EXPECT_EQ(state.experiment.variations->front().key, "control");

  // A different exposure is left to send, the rest is unchanged.
  auto raised = converge(update("{experiment: checkout-redesign, exposure: 50, hypothesis: Fewer steps raise conversion}"),
                         state.experiment);
  ASSERT_TRUE(raised);
  EXPECT_TRUE(raised->remaining.exposure);
  EXPECT_FALSE(raised->remaining.hypothesis);
}

TEST_F(AppConfigRead, StatusFollowsTheDefinitionAndItsCurrentRun) {
  connect(std::string("definition: bsxyd7k, run: 1, ") + std::string(kTreatments));
  VendorState before = read_ok();
  EXPECT_EQ(before.experiment.status, ExperimentStatus::draft);
  EXPECT_FALSE(before.detail.contains("run"));
  EXPECT_FALSE(before.experiment.vendor_ids.contains("run"));
  EXPECT_FALSE(before.experiment.exposure);  // no run holds one yet
  ASSERT_TRUE(before.experiment.audience);
  EXPECT_EQ(before.experiment.audience->rule, "(eq $country \"US\")");
  EXPECT_EQ(before.experiment.hypothesis, "");  // held, and empty

  apply_ok("{experiment: checkout-redesign, action: start, exposure: 10}");
  EXPECT_EQ(read_ok().experiment.status, ExperimentStatus::running);

  apply_ok("{experiment: checkout-redesign, action: stop, result: {summary: Two-step won, reasons_to_launch: +3%}}");
  VendorState stopped = read_ok();
  EXPECT_EQ(stopped.experiment.status, ExperimentStatus::stopped);
  ASSERT_TRUE(stopped.experiment.result);
  EXPECT_EQ(stopped.experiment.result->summary, "Two-step won");
  EXPECT_EQ(stopped.experiment.result->reasons_to_launch, "+3%");
  EXPECT_EQ(stopped.experiment.result->reasons_not_to_launch, "");
  EXPECT_FALSE(stopped.experiment.result->winner);
  // The same stop again is already in effect (a result member not given is an empty one).
  auto again = converge(update("{experiment: checkout-redesign, action: stop, result: {summary: Two-step won, "
                               "reasons_to_launch: +3%}}"),
                        stopped.experiment);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_TRUE(again->nothing_to_send());

  apply_ok("{experiment: checkout-redesign, action: archive}");
  EXPECT_EQ(read_ok().experiment.status, ExperimentStatus::archived);
}

TEST_F(AppConfigRead, ABindingWithoutRunFollowsEachNewRun) {
  connect(std::string("definition: bsxyd7k, ") + std::string(kTreatments));
  apply_ok("{experiment: checkout-redesign, action: start, exposure: 10}");

  // Without a read, a run operation cannot name its run: refused, nothing sent.
  UpdateReport blind = apply_blind("{experiment: checkout-redesign, action: stop}");
  ASSERT_TRUE(blind.error);
  EXPECT_EQ(blind.error->code, ErrorCode::invalid_input);
  EXPECT_EQ(blind.error->field, "experiments.checkout-redesign.aws.run");
  EXPECT_EQ(blind.error->operation, "StopExperimentRun");
  EXPECT_NE(blind.error->message.find("`apply` reads the current run"), std::string::npos) << blind.error->message;
  EXPECT_NE(blind.error->message.find("`plan` and `apply --no-read` do not"), std::string::npos);
  EXPECT_EQ(run_json(1).at("Status").as_string(), "RUNNING");

  UpdateReport stop = apply_on_read("{experiment: checkout-redesign, action: stop}");
  EXPECT_TRUE(stop.ok()) << write_json(report_to_json(stop), 2);
  EXPECT_EQ(run_json(1).at("Status").as_string(), "DONE");

  apply_ok("{experiment: checkout-redesign, action: start, exposure: 5}");  // run 2
  EXPECT_EQ(read_ok().detail.at("run").as_int64(), 2);
  UpdateReport raise = apply_on_read("{experiment: checkout-redesign, exposure: 40}");
  ASSERT_TRUE(raise.ok()) << write_json(report_to_json(raise), 2);
  ASSERT_EQ(raise.backends.size(), 1u);
  ASSERT_EQ(raise.backends[0].requests.size(), 1u);
  EXPECT_NE(raise.backends[0].requests[0].request.url.find("/experimentruns/2/update"), std::string::npos);
  EXPECT_EQ(run_json(2).at("ExposurePercentage").to_number<double>(), 40);
  EXPECT_EQ(run_json(1).at("ExposurePercentage").to_number<double>(), 10);
}

TEST_F(AppConfigRead, APinnedRunWinsOverTheReadsCurrentRun) {
  connect(std::string("definition: bsxyd7k, run: 1, ") + std::string(kTreatments));
  VendorState read;
  read.detail["run"] = 2;
  PlanOptions options;
  options.reads = {{"aws", &read}};
  auto plan = bridge_->plan(update("{experiment: checkout-redesign, exposure: 40}"), options);
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->backends.at(0).requests.size(), 1u);
  EXPECT_NE(plan->backends[0].requests[0].url.find("/experimentruns/1/update"), std::string::npos);
}

TEST_F(AppConfigRead, ARunLevelChangeBeforeAnyRunIsRefusedOnARead) {
  connect(std::string("definition: bsxyd7k, ") + std::string(kTreatments));
  UpdateReport report = apply_on_read("{experiment: checkout-redesign, description: too early}");
  ASSERT_TRUE(report.error);
  EXPECT_EQ(report.error->field, "experiments.checkout-redesign.aws.run");
  EXPECT_NE(report.error->message.find("has no run yet"), std::string::npos) << report.error->message;
}

TEST_F(AppConfigRead, ReadsEveryPageOfRunsAndTakesTheLatestWhenNoneRuns) {
  auto fixture = emulator::default_fixture(Registry::builtin());
  ASSERT_TRUE(fixture) << fixture.error().describe();
  json::array runs;
  for (int i = 0; i < 55; ++i)
    runs.push_back(json::object{{"status", "DONE"}, {"start", json::object{{"ExposurePercentage", i}}}});
  (*fixture).at("appconfig").at("applications").at(0).at("experiment_definitions").at(0).as_object()["runs"] = runs;
  start_host(std::move(*fixture));
  connect(std::string("definition: bsxyd7k, ") + std::string(kTreatments));
  BackendRead read = read_backend();
  ASSERT_TRUE(read.state) << (read.error ? read.error->describe() : "");
  EXPECT_EQ(read.state->detail.at("run").as_int64(), 55);
  EXPECT_EQ(read.state->experiment.exposure, 54);
  EXPECT_EQ(read.state->experiment.status, ExperimentStatus::stopped);
  std::vector<std::string> operations;
  for (const auto& r : read.requests) operations.push_back(r.request.operation);
  EXPECT_EQ(operations, (std::vector<std::string>{"GetExperimentDefinition", "ListExperimentRuns", "ListExperimentRuns",
                                                  "GetExperimentRun"}));
  EXPECT_NE(read.requests[2].request.url.find("next_token="), std::string::npos);

  // Hinted: run 55 goes with the first page, and still holds once the second page is read.
  test::ObservedRead hinted = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(hinted.read.state);
  EXPECT_EQ(hinted.read.round_trips, 2) << "the second page needs the first's token";
  EXPECT_EQ(test::operations(hinted.read), (std::vector<std::string>{"GetExperimentDefinition", "ListExperimentRuns",
                                                                     "GetExperimentRun", "ListExperimentRuns"}));
  test::expect_same_state(*hinted.read.state, *read.state);

  // Run 56 starts: the hinted 55 is no longer current, and 56 is asked after the pages.
  apply_ok("{experiment: checkout-redesign, action: start, exposure: 60}");
  test::ObservedRead stale = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(stale.read.state);
  EXPECT_EQ(test::operations(stale.read), (std::vector<std::string>{"GetExperimentDefinition", "ListExperimentRuns",
                                                                    "GetExperimentRun", "ListExperimentRuns",
                                                                    "GetExperimentRun"}));
  EXPECT_NE(stale.read.requests.at(4).request.url.find("/experimentruns/56"), std::string::npos);
  EXPECT_EQ(stale.read.state->detail.at("run").as_int64(), 56);
  EXPECT_EQ(stale.read.state->experiment.exposure, 60);
  EXPECT_EQ(stale.read.state->experiment.status, ExperimentStatus::running);
}

TEST_F(AppConfigRead, AnUnknownDefinitionIsNotFoundNamingItsId) {
  connect(std::string("definition: nosuchdef, ") + std::string(kTreatments));
  BackendRead read = read_backend();
  ASSERT_TRUE(read.error);
  EXPECT_EQ(read.error->code, ErrorCode::not_found);
  EXPECT_NE(read.error->message.find("'nosuchdef'"), std::string::npos) << read.error->message;
  EXPECT_EQ(read.error->backend, "aws");
  EXPECT_EQ(read.error->vendor, "appconfig");
}

TEST_F(AppConfigRead, AnAnswerThatDoesNotParseNamesTheOperation) {
  connect(std::string("definition: bsxyd7k, ") + std::string(kTreatments));
  auto faults = emulator::parse_faults(json::parse(R"([{"vendor": "appconfig", "method": "GET", "status": 200,
      "path_prefix": "/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns", "body": "[1, 2]"}])"),
                                       "faults");
  ASSERT_TRUE(faults) << faults.error().describe();
  ASSERT_TRUE(host_->set_faults(std::move(*faults)));
  BackendRead read = read_backend();
  ASSERT_TRUE(read.error);
  EXPECT_EQ(read.error->operation, "ListExperimentRuns");
  EXPECT_NE(read.error->message.find("ListExperimentRuns answered something that is not"), std::string::npos)
      << read.error->message;
}

TEST_F(AppConfigRead, ATreatmentKeyTheBindingDoesNotMapReadsAsItself) {
  connect("definition: bsxyd7k, treatments: {control: c}");
  VendorState state = read_ok();
  ASSERT_TRUE(state.experiment.variations);
  ASSERT_EQ(state.experiment.variations->size(), 2u);
  EXPECT_EQ((*state.experiment.variations)[0].key, "control");
  EXPECT_EQ((*state.experiment.variations)[1].key, "t1");
}

TEST_F(AppConfigRead, AnUnmappedKeyThatNamesAnotherTreatmentsVariationIsRefused) {
  // t1 is unmapped and would read as `t1`, which the binding already gives to treatment c.
  connect("definition: bsxyd7k, treatments: {t1: c}");
  BackendRead read = read_backend();
  ASSERT_TRUE(read.error);
  EXPECT_EQ(read.error->field, "experiments.checkout-redesign.aws.treatments");
  EXPECT_NE(read.error->message.find("'t1'"), std::string::npos) << read.error->message;
}

// Read hints (read.hpp) and pinned runs: one round trip where the run is known up front.

const std::vector<std::string> kDefinitionListRun{"GetExperimentDefinition", "ListExperimentRuns", "GetExperimentRun"};

TEST_F(AppConfigRead, ASecondReadAsksTheCurrentRunWithTheDefinition) {
  connect(std::string("definition: bsxyd7k, ") + std::string(kTreatments));
  apply_ok("{experiment: checkout-redesign, action: start, exposure: 10}");
  reconnect();  // no hint from the apply's own read
  test::ObservedRead first = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(first.read.state);
  EXPECT_EQ(first.read.round_trips, 2) << "the current run is known only from the list";
  EXPECT_EQ(test::operations(first.read), kDefinitionListRun);
  EXPECT_EQ(first.read.state->hint, (json::object{{"run", 1}}));

  test::ObservedRead second = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(second.read.state);
  EXPECT_EQ(second.read.round_trips, 1);
  EXPECT_EQ(test::operations(second.read), kDefinitionListRun);
  test::expect_same_state(*second.read.state, *first.read.state);

  // A new run: the hinted run 1 is asked for nothing, run 2 in one more round trip.
  apply_ok("{experiment: checkout-redesign, action: stop}");
  apply_ok("{experiment: checkout-redesign, action: start, exposure: 5}");
  test::ObservedRead stale = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(stale.read.state);
  EXPECT_EQ(stale.read.round_trips, 2);
  EXPECT_EQ(test::operations(stale.read), (std::vector<std::string>{"GetExperimentDefinition", "ListExperimentRuns",
                                                                    "GetExperimentRun", "GetExperimentRun"}));
  EXPECT_NE(stale.read.requests.at(2).request.url.find("/experimentruns/1"), std::string::npos);
  EXPECT_NE(stale.read.requests.at(3).request.url.find("/experimentruns/2"), std::string::npos);
  EXPECT_EQ(stale.read.state->detail.at("run").as_int64(), 2);
  EXPECT_EQ(stale.read.state->experiment.vendor_ids.at("run"), "2");
  EXPECT_EQ(stale.read.state->experiment.exposure, 5);
  EXPECT_EQ(stale.read.state->experiment.status, ExperimentStatus::running);

  test::ObservedRead after = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(after.read.state);
  EXPECT_EQ(after.read.round_trips, 1);
  test::expect_same_state(*after.read.state, *stale.read.state);
}

TEST_F(AppConfigRead, APinnedRunIsReadInOneRoundTripEvenWhenAnotherRunIsCurrent) {
  auto fixture = emulator::default_fixture(Registry::builtin());
  ASSERT_TRUE(fixture) << fixture.error().describe();
  (*fixture).at("appconfig").at("applications").at(0).at("experiment_definitions").at(0).as_object()["runs"] = json::parse(R"([
      {"status": "DONE", "start": {"ExposurePercentage": 10, "Description": "first run"}},
      {"status": "RUNNING", "start": {"ExposurePercentage": 30, "Description": "second run"}}])");
  start_host(std::move(*fixture));
  connect(std::string("definition: bsxyd7k, run: 1, ") + std::string(kTreatments));
  test::ObservedRead pinned = test::observed_read(*applier_, *host_);
  ASSERT_TRUE(pinned.read.state);
  EXPECT_EQ(pinned.read.round_trips, 1);
  EXPECT_EQ(test::operations(pinned.read), (std::vector<std::string>{"GetExperimentDefinition", "GetExperimentRun"}));
  EXPECT_NE(pinned.read.requests.at(1).request.url.find("/experimentruns/1"), std::string::npos);
  const Experiment& e = pinned.read.state->experiment;
  EXPECT_EQ(e.vendor_ids.at("run"), "1");
  EXPECT_EQ(e.exposure, 10) << "run 1's, not the current run 2's";
  EXPECT_EQ(e.description, "first run");
  EXPECT_EQ(e.status, ExperimentStatus::stopped);

  // What run 1 holds is no difference; what only run 2 holds is one, sent to run 1 (which,
  // being DONE, AppConfig refuses): compared with the current run, it would be the reverse.
  UpdateReport same = apply_on_read("{experiment: checkout-redesign, description: first run}");
  ASSERT_TRUE(same.ok()) << write_json(report_to_json(same), 2);
  ASSERT_EQ(same.backends.size(), 1u);
  EXPECT_EQ(same.backends[0].result, BackendOutcome::unchanged);
  UpdateReport other = apply_on_read("{experiment: checkout-redesign, description: second run}");
  ASSERT_EQ(other.backends.size(), 1u);
  ASSERT_EQ(other.backends[0].requests.size(), 1u) << write_json(report_to_json(other), 2);
  EXPECT_NE(other.backends[0].requests[0].request.url.find("/experimentruns/1/update"), std::string::npos);
  ASSERT_TRUE(other.backends[0].error);
  EXPECT_EQ(other.backends[0].error->code, ErrorCode::conflict);
  EXPECT_EQ(run_json(2).at("Description").as_string(), "second run");
}

TEST_F(AppConfigRead, OnlyARunNumberIsARunHint) {
  connect(std::string("definition: bsxyd7k, ") + std::string(kTreatments));
  auto first_step = [&](json::value run) {
    ReadHint hint{{"run", std::move(run)}};
    auto step = bridge_->read_step("aws", "checkout-redesign", {}, &hint);
    EXPECT_TRUE(step) << step.error().describe();
    std::vector<std::string> urls;
    if (step)
      for (const auto& r : step->requests) urls.push_back(r.url.substr(host_->base_url().size()));
    return urls;
  };
  const std::string definition = "/applications/abc1234/experimentdefinitions/bsxyd7k";
  EXPECT_EQ(first_step(3), (std::vector<std::string>{definition, definition + "/experimentruns?max_results=50",
                                                     definition + "/experimentruns/3"}));
  for (const json::value& not_a_run : {json::value("3"), json::value(0), json::value(-2), json::value(2.5)})
    EXPECT_EQ(first_step(not_a_run).size(), 2u) << write_json(not_a_run);
}

}  // namespace
}  // namespace expbridge
