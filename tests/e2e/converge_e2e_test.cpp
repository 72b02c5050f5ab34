// End to end, converging (the default `apply`) against the vendor emulators: it reads every backend,
// sends only what differs, and a second identical apply sends no change at all.
#include <gtest/gtest.h>

#include <algorithm>

#include "document.hpp"
#include "emulator/emulator.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "support/sample_config.hpp"

namespace expbridge {
namespace {

const std::string kSamples = std::string(EXPBRIDGE_SOURCE_DIR) + "/samples";

std::string describe(const UpdateReport& r) { return write_json(report_to_json(r), 2); }

class ConvergingApply : public ::testing::Test {
 protected:
  void SetUp() override {
    auto host = emulator::EmulatorHost::start({});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
    // The sample pins AppConfig's run 1; converging finds the current run by itself.
    auto bridge = test::sample_bridge(host_->base_url(), "converge.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    ApplyOptions options;  // read_first: the default
    options.environment = emulator::test_environment(host_->credentials());
    auto applier = Applier::create(*bridge_, options);
    ASSERT_TRUE(applier) << applier.error().describe();
    applier_ = std::make_unique<Applier>(std::move(*applier));
  }

  UpdateReport apply(const std::string& sample) {
    auto update = load_update(kSamples + "/updates/" + sample);
    EXPECT_TRUE(update) << update.error().describe();
    return applier_->apply(*update);
  }

  /// Requests that change something (not the reads) the emulators received so far.
  std::size_t changes() const {
    const auto received = host_->received_requests();
    return static_cast<std::size_t>(std::count_if(received.begin(), received.end(), [](const auto& r) {
      return r.request.method != "GET" && r.request.target.find("/oauth/token") == std::string::npos;
    }));
  }

  std::unique_ptr<emulator::EmulatorHost> host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Applier> applier_;
};

TEST_F(ConvergingApply, EverySampleAppliedTwiceSendsNothingTheSecondTime) {
  for (const char* step : {"redesign-variations.yaml", "start.yaml", "raise-exposure.yaml", "stop-with-result.yaml"}) {
    SCOPED_TRACE(step);
    const auto first = apply(step);
    ASSERT_TRUE(first.ok()) << describe(first);
    const std::size_t after_first = changes();
    const auto second = apply(step);
    ASSERT_TRUE(second.ok()) << describe(second);
    EXPECT_EQ(changes(), after_first) << "the second apply changed something:\n" << describe(second);
    for (const auto& b : second.backends) {
      EXPECT_TRUE(b.result == BackendOutcome::unchanged || b.result == BackendOutcome::skipped)
          << b.backend << ": " << to_string(b.result) << "\n" << describe(second);
      for (const auto& r : b.requests) EXPECT_EQ(r.attempts, 0) << b.backend << " " << r.request.operation;
    }
  }
}

TEST_F(ConvergingApply, OnlyWhatDiffersIsSentAndTheRestIsReportedUnchanged) {
  ASSERT_TRUE(apply("start.yaml").ok());
  auto update = parse_update("experiment: checkout-redesign\nexposure: 25\ndescription: Second week\n", "u.yaml");
  ASSERT_TRUE(update);
  const auto report = applier_->apply(*update);
  ASSERT_TRUE(report.ok()) << describe(report);
  for (const auto& b : report.backends) {
    if (b.backend != "aws") continue;
    EXPECT_EQ(b.unchanged, std::vector<std::string>{"exposure"}) << describe(report);
    ASSERT_EQ(b.requests.size(), 1u);
    EXPECT_EQ(b.requests[0].request.operation, "UpdateExperimentRun");
    EXPECT_EQ(b.requests[0].request.body->at("Description"), "Second week");
    EXPECT_FALSE(b.requests[0].request.body->as_object().contains("ExposurePercentage"));
  }
  const auto json = report_to_json(report);
  EXPECT_TRUE(json.at("backends").as_array()[0].as_object().contains("unchanged"));
}

TEST_F(ConvergingApply, AnActionTheStateForbidsSendsNothingAnywhere) {
  const std::size_t before = changes();
  const auto report = apply("stop-with-result.yaml");  // nothing was ever started
  ASSERT_TRUE(report.error) << describe(report);
  EXPECT_NE(report.error->message.find("before any start"), std::string::npos) << report.error->message;
  EXPECT_FALSE(report.error->backend.empty());
  EXPECT_EQ(changes(), before);
}

}  // namespace
}  // namespace expbridge
