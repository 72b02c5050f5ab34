// Settling a run's inputs (ApplyOptions::store): a request whose answer never came (the vendor
// applied it, the connection dropped before the answer) stays pending in the journal, its input
// unsettled and the experiment's later inputs held back, so the run stays unfinished; a resumed
// run reads the vendor, finds the effect, does not send it again, applies what was held back in
// input order, and finishes the run. A refusal is `failed`, not pending.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include <boost/json/parse.hpp>

#include "emulator/emulator.hpp"
#include "emulator/fixtures.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/store.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

class ApplySettle : public ::testing::Test {
 protected:
  void SetUp() override {
    // No run is active, so a start sends StartExperimentRun; the binding follows the run it starts.
    vendors_.restart(test::EmulatedVendors::fixture(test::EmulatedVendors::Run::done));
    test::ApplyConfigOptions config;
    config.pin_run = false;
    sandbox_.write("config.yaml", vendors_.config(config));
    auto bridge = Bridge::load(sandbox_.path("config.yaml").string());
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    auto store = Store::open(StoreOptions{sandbox_.path("state.db").string()});
    ASSERT_TRUE(store) << store.error().describe();
    store_ = std::move(*store);
  }

  void fault_the_start(const std::string& how) {
    auto faults = emulator::parse_faults(
        boost::json::parse(R"([{"vendor": "appconfig", "method": "POST", "path_prefix": "/applications/", "times": 1, )" +
                           how + "}]"),
        "faults");
    ASSERT_TRUE(faults) << faults.error().describe();
    ASSERT_TRUE(vendors_.host().set_faults(std::move(*faults)));
  }

  std::unique_ptr<Applier> make_applier(const std::string& resumed_run = {}) {
    ApplyOptions options;
    options.environment = emulator::test_environment(vendors_.host().credentials());
    options.store = store_.get();
    options.run_id = resumed_run;
    options.resume = !resumed_run.empty();
    auto applier = Applier::create(*bridge_, options);
    EXPECT_TRUE(applier) << applier.error().describe();
    return applier ? std::make_unique<Applier>(std::move(*applier)) : nullptr;
  }

  /// The start, then a description change of the same experiment.
  std::vector<UpdateReport> apply_both(Applier& applier) {
    std::deque<std::pair<std::string, std::string>> texts = {
        {"start.json", R"({"experiment": "checkout-redesign", "action": "start", "exposure": 25})"},
        {"later.json", R"({"experiment": "checkout-redesign", "description": "after the start"})"}};
    std::vector<UpdateReport> reports;
    const Applier::InputSource source = [&texts]() -> std::optional<Applier::Input> {
      if (texts.empty()) return std::nullopt;
      auto [name, text] = std::move(texts.front());
      texts.pop_front();
      return Applier::Input{name, parse_update(text, name), store_digest(text)};
    };
    applier.apply_inputs(source, [&](UpdateReport r) { reports.push_back(std::move(r)); });
    return reports;
  }

  /// A first run of both inputs, AppConfig's start faulted `how`: its applier, and its reports.
  std::unique_ptr<Applier> first_run(const std::string& how, std::vector<UpdateReport>& reports) {
    fault_the_start(how);
    auto applier = make_applier();
    EXPECT_TRUE(applier);
    if (applier) reports = apply_both(*applier);
    EXPECT_EQ(reports.size(), 2u);
    return reports.size() == 2 ? std::move(applier) : nullptr;
  }

  /// StartExperimentRun requests AppConfig handled (applied or refused), and how many it applied.
  std::pair<std::size_t, std::size_t> starts() {
    std::size_t handled = 0, applied = 0;
    for (const auto& r : vendors_.host().received_requests()) {
      if (r.vendor != "appconfig" || r.request.method != "POST" || r.handled_status == 0) continue;
      ++handled;
      applied += r.handled_status == 201 ? 1 : 0;
    }
    return {handled, applied};
  }
  /// Requests that carried the later update's description, at any backend.
  std::size_t descriptions_sent() {
    const auto all = vendors_.host().received_requests();
    return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [](const auto& r) {
      return r.request.body.find("after the start") != std::string::npos;
    }));
  }
  std::optional<Intent> start_intent(const std::string& run) const {
    auto journal = store_->journal(run);
    EXPECT_TRUE(journal) << journal.error().describe();
    if (!journal) return std::nullopt;
    for (const auto& i : *journal)
      if (i.operation == "StartExperimentRun" && i.outcome != IntentOutcome::reconciled_absent) return i;
    return std::nullopt;
  }
  bool unfinished() const {
    auto run = store_->last_unfinished_run(bridge_->source());
    EXPECT_TRUE(run) << run.error().describe();
    return run && run->has_value();
  }
  static std::string journal_status(const UpdateReport& r, const std::string& backend, const std::string& operation) {
    for (const auto& b : r.backends)
      if (b.backend == backend)
        for (const auto& j : b.journal)
          if (j.operation == operation) return j.status;
    return "(not in the journal)";
  }

  test::EmulatedVendors vendors_;
  test::CliSandbox sandbox_{"apply-settle"};
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Store> store_;
};

TEST_F(ApplySettle, AnAnswerThatNeverCameLeavesTheRunOpenAndResumeFindsItApplied) {
  std::vector<UpdateReport> reports;
  auto first = first_run(R"("apply_then_drop": true)", reports);
  ASSERT_TRUE(first);
  EXPECT_FALSE(reports[0].ok());
  EXPECT_TRUE(reports[0].unsettled) << write_json(report_to_json(reports[0]));
  EXPECT_EQ(starts(), std::make_pair(std::size_t{1}, std::size_t{1})) << "AppConfig started the run";
  const std::string run = first->run_id();
  auto pending = start_intent(run);
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->outcome, IntentOutcome::pending) << "the answer never came: its outcome is unknown";
  // The later update of the experiment waits for the unsettled one: sent in input order or not at all.
  EXPECT_TRUE(reports[1].unsettled);
  ASSERT_TRUE(reports[1].error);
  EXPECT_NE(reports[1].error->message.find("held back"), std::string::npos) << reports[1].error->message;
  EXPECT_EQ(descriptions_sent(), 0u);
  EXPECT_EQ(first->unsettled_inputs(), 2);
  EXPECT_NE(report_to_text(reports[0]).find("apply --resume"), std::string::npos) << report_to_text(reports[0]);
  EXPECT_TRUE(report_to_json(reports[1]).as_object().at("unsettled").as_bool());
  ASSERT_TRUE(first->finish_run());
  EXPECT_TRUE(unfinished()) << "an unsettled run is left for --resume";

  auto resumed = make_applier(run);
  ASSERT_TRUE(resumed);
  const auto again = apply_both(*resumed);
  ASSERT_EQ(again.size(), 2u);
  ASSERT_TRUE(again[0].ok()) << write_json(report_to_json(again[0]));
  EXPECT_EQ(journal_status(again[0], "aws", "StartExperimentRun"), "reconciled: found applied");
  EXPECT_EQ(starts(), std::make_pair(std::size_t{1}, std::size_t{1})) << "the start was sent again";
  ASSERT_TRUE(again[1].ok()) << write_json(report_to_json(again[1]));
  EXPECT_FALSE(again[1].unsettled);
  EXPECT_GE(descriptions_sent(), 1u) << "the held-back update was applied";
  auto settled = start_intent(run);
  ASSERT_TRUE(settled);
  EXPECT_EQ(settled->outcome, IntentOutcome::reconciled_applied);
  EXPECT_EQ(resumed->unsettled_inputs(), 0);
  EXPECT_FALSE(unfinished()) << "every input settled: the run is finished";
}

TEST_F(ApplySettle, ARefusalIsFailedNotPendingAndStillLeavesTheRunOpen) {
  std::vector<UpdateReport> reports;
  auto applier = first_run(R"("status": 400)", reports);
  ASSERT_TRUE(applier);
  EXPECT_TRUE(reports[0].unsettled);
  EXPECT_EQ(starts(), std::make_pair(std::size_t{0}, std::size_t{0})) << "the fault answered: AppConfig never saw it";
  auto refused = start_intent(applier->run_id());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->outcome, IntentOutcome::failed);
  EXPECT_EQ(refused->http_status, 400);
  EXPECT_TRUE(unfinished()) << "a failed input is resumable";
}

}  // namespace
}  // namespace expbridge
