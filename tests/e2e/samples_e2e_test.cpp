// End to end: the real apply path (plan, auth, HTTP, retries) against the vendor emulators,
// then the emulators' state read back to check that the neutral effect happened everywhere.
#include <gtest/gtest.h>

#include <boost/json/object.hpp>

#include "document.hpp"
#include "emulator/emulator.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

using emulator::EmulatorHost;

const std::string kSamples = std::string(EXPBRIDGE_SOURCE_DIR) + "/samples";


/// The sample config with every backend on the emulators (or one of them elsewhere).
std::string sample_config(const std::string& endpoint, const std::map<std::string, std::string>& overrides = {},
                          const std::map<std::string, std::string>& extra = {}) {
  auto doc = load_document(kSamples + "/backends.yaml");
  EXPECT_TRUE(doc) << doc.error().describe();
  for (auto& backend : doc->root.as_object()["backends"].as_object()) {
    auto& settings = backend.value().as_object();
    auto it = overrides.find(std::string(backend.key()));
    settings["endpoint"] = it == overrides.end() ? endpoint : it->second;
    for (const auto& [key, value] : extra) settings[key] = std::stoll(value);
  }
  return write_json(doc->root);
}

const boost::json::value& at(const boost::json::value& v, std::initializer_list<std::string_view> path) {
  const boost::json::value* node = &v;
  for (auto key : path) {
    const auto* next = node->is_object() ? node->as_object().if_contains(key) : nullptr;
    if (!next) {
      ADD_FAILURE() << "no '" << key << "' in " << write_json(*node).substr(0, 400);
      static const boost::json::value null;
      return null;
    }
    node = next;
  }
  return *node;
}

std::string describe(const UpdateReport& r) { return write_json(report_to_json(r), 2); }

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto host = EmulatorHost::start({});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
  }

  void connect(const std::string& config, ApplyOptions options = {}) {
    auto bridge = Bridge::from_text(config, "e2e-config.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    options.environment = emulator::test_environment(host_->credentials());
    auto applier = Applier::create(*bridge_, options);
    ASSERT_TRUE(applier) << applier.error().describe();
    applier_ = std::make_unique<Applier>(std::move(*applier));
  }

  /// Requests that change something (not the reads or token fetches) the emulators received so far.
  std::size_t changes() const {
    const auto received = host_->received_requests();
    return static_cast<std::size_t>(std::count_if(received.begin(), received.end(), [](const auto& r) {
      return r.request.method != "GET" && r.request.target.find("/oauth/token") == std::string::npos;
    }));
  }

  UpdateReport apply_sample(const std::string& name) {
    auto update = load_update(kSamples + "/updates/" + name);
    EXPECT_TRUE(update) << update.error().describe();
    return applier_->apply(*update);
  }

  UpdateReport apply_text(const std::string& text) {
    auto update = parse_update(text, "e2e");
    EXPECT_TRUE(update) << update.error().describe();
    return applier_->apply(*update);
  }

  const BackendReport& backend(const UpdateReport& r, std::string_view name) {
    for (const auto& b : r.backends)
      if (b.backend == name) return b;
    ADD_FAILURE() << "no backend " << name;
    static const BackendReport none;
    return none;
  }

  std::unique_ptr<EmulatorHost> host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Applier> applier_;
};

TEST_F(EndToEnd, EverySampleReachesEveryVendorAndTheStateFollows) {
  connect(sample_config(host_->base_url()));
  for (const char* step : {"redesign-variations.yaml", "start.yaml", "raise-exposure.yaml", "stop-with-result.yaml"}) {
    auto report = apply_sample(step);
    EXPECT_TRUE(report.ok()) << step << "\n" << describe(report);
  }
  const auto state = host_->state();

  // AppConfig: the definition took the variations, run 1 started at 25, rose to 75, stopped with the result.
  const auto& appconfig = at(state, {"appconfig"});
  EXPECT_NE(write_json(appconfig).find("\"ExposurePercentage\":75"), std::string::npos) << write_json(appconfig);
  EXPECT_NE(write_json(appconfig).find("\"qa-tester-1\":\"t1\""), std::string::npos) << write_json(appconfig);
  EXPECT_NE(write_json(appconfig).find("\"ExecutiveSummary\":\"Two-step won\""), std::string::npos);
  EXPECT_NE(write_json(appconfig).find("\"DONE\""), std::string::npos);
  EXPECT_NE(write_json(appconfig).find("\"StringValue\":\"blue\""), std::string::npos)
      << "the two-step treatment's typed attributes reached the definition";

  // LaunchDarkly: renamed; the description came with start (start itself needs reads, skipped).
  const auto& ld = at(state, {"launchdarkly", "projects", "default", "environments", "production", "experiments",
                              "checkout-redesign"});
  EXPECT_EQ(at(ld, {"name"}).as_string(), "Checkout redesign");
  EXPECT_EQ(at(ld, {"description"}).as_string(), "First run, 25% of US web users");

  // Auth0: renamed, allocations 50/50 with the control, started, then completed.
  const auto& a0 = at(state, {"auth0", "experiments", "exp_4fG7hJk"});
  EXPECT_EQ(at(a0, {"name"}).as_string(), "Checkout redesign");
  EXPECT_EQ(at(a0, {"status"}).as_string(), "completed");
  EXPECT_EQ(at(a0, {"description"}).as_string(), "First run, 25% of US web users");
  ASSERT_EQ(at(a0, {"allocations"}).as_array().size(), 2u);
  EXPECT_FALSE(at(a0, {"started_at"}).is_null());

  // Evidently: overrides and description set, the default variation served after the stop.
  const auto& feature = at(state, {"evidently", "projects", "checkout", "features", "checkout-redesign"});
  EXPECT_EQ(at(feature, {"description"}).as_string(), "First run, 25% of US web users");
  EXPECT_EQ(at(feature, {"defaultVariation"}).as_string(), "control");
  EXPECT_EQ(at(feature, {"entityOverrides", "qa-tester-1"}).as_string(), "two-step");
  EXPECT_EQ(at(feature, {"evaluationStrategy"}).as_string(), "DEFAULT_VARIATION");
}

TEST_F(EndToEnd, RetriesRecoverFromInjectedFaults) {
  connect(sample_config(host_->base_url(), {}, {{"retry_base_ms", "5"}}));
  // Aimed at the writes (the reads before them are retried the same way: read_core_test).
  emulator::Fault unavailable;
  unavailable.vendor = "launchdarkly";
  unavailable.method = "PATCH";
  unavailable.status = 503;
  unavailable.times = 2;
  emulator::Fault throttled;
  throttled.vendor = "appconfig";
  throttled.method = "PATCH";
  throttled.status = 429;
  throttled.retry_after_s = 0;
  throttled.times = 1;
  ASSERT_TRUE(host_->set_faults({unavailable, throttled}));
  auto report = apply_sample("redesign-variations.yaml");
  EXPECT_TRUE(report.ok()) << describe(report);
  EXPECT_EQ(backend(report, "ld").requests.at(0).attempts, 3);
  EXPECT_EQ(backend(report, "aws").requests.at(0).attempts, 2);
  EXPECT_EQ(backend(report, "a0").requests.at(0).attempts, 1);
  // The emulator's feature already serves what Evidently can hold of these variations.
  EXPECT_EQ(backend(report, "ev").result, BackendOutcome::unchanged) << describe(report);
}

TEST_F(EndToEnd, ABackendThatIsDownFailsAloneAndTheOthersApply) {
  // Nothing listens on port 1 of the loopback address.
  connect(sample_config(host_->base_url(), {{"a0", "http://127.0.0.1:1"}}, {{"attempts", "1"}}));
  auto report = apply_sample("redesign-variations.yaml");
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(backend(report, "a0").result, BackendOutcome::failed) << describe(report);
  ASSERT_TRUE(backend(report, "a0").error);
  EXPECT_EQ(backend(report, "a0").error->code, ErrorCode::unavailable);
  for (const char* ok : {"aws", "ld"}) EXPECT_EQ(backend(report, ok).result, BackendOutcome::ok) << ok;
  EXPECT_EQ(backend(report, "ev").result, BackendOutcome::unchanged) << "its feature holds these already";
  const auto state = host_->state();
  EXPECT_EQ(at(state, {"launchdarkly", "projects", "default", "environments", "production", "experiments",
                       "checkout-redesign", "name"})
                .as_string(),
            "Checkout redesign");
}

TEST_F(EndToEnd, LoweringAppConfigExposureIsRefusedLocallyBeforeAnyChangeIsSent) {
  connect(sample_config(host_->base_url()));
  ASSERT_TRUE(apply_sample("start.yaml").ok());           // run 1 at 25 %
  ASSERT_TRUE(apply_sample("raise-exposure.yaml").ok());  // 75 %
  const std::size_t before = changes();
  auto report = apply_text("experiment: checkout-redesign\nexposure: 50\ndescription: narrower\n");
  ASSERT_TRUE(report.error) << describe(report);
  EXPECT_EQ(report.error->code, ErrorCode::invalid_input);
  EXPECT_EQ(report.error->backend, "aws");
  EXPECT_EQ(report.error->field, "exposure");
  EXPECT_NE(report.error->message.find("75"), std::string::npos) << report.error->describe();
  // Only the reads went out: no vendor received a change, not even the description.
  EXPECT_EQ(changes(), before);
  EXPECT_NE(write_json(host_->state()).find("\"ExposurePercentage\":75"), std::string::npos);
}

TEST_F(EndToEnd, WithoutStateReadsTheVendorEnforcesTheRuleItself) {
  connect(sample_config(host_->base_url(), {}, {{"attempts", "1"}}));
  ASSERT_TRUE(apply_sample("start.yaml").ok());
  ASSERT_TRUE(apply_sample("raise-exposure.yaml").ok());
  auto doc = load_document(kSamples + "/backends.yaml");
  ASSERT_TRUE(doc);
  for (auto& backend : doc->root.as_object()["backends"].as_object())
    backend.value().as_object()["endpoint"] = host_->base_url();
  doc->root.as_object()["backends"].as_object()["aws"].as_object()["read_state"] = false;
  doc->root.as_object()["backends"].as_object()["aws"].as_object()["attempts"] = 1;
  connect(write_json(doc->root));
  auto report = apply_text("experiment: checkout-redesign\nexposure: 50\n");
  EXPECT_FALSE(report.error) << "nothing is known locally, so nothing is refused locally";
  const auto& aws = backend(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed) << describe(report);
  ASSERT_TRUE(aws.error);
  EXPECT_EQ(aws.error->http_status, 400) << aws.error->describe();
  EXPECT_NE(aws.error->message.find("BadRequestException"), std::string::npos) << aws.error->describe();
}

TEST_F(EndToEnd, StateDependentRulesOfAuth0AreCheckedBeforeSending) {
  ApplyOptions only_auth0;
  only_auth0.plan.backends = {"a0"};  // AppConfig would refuse the same update for its own rule
  connect(sample_config(host_->base_url()), only_auth0);
  ASSERT_TRUE(apply_sample("redesign-variations.yaml").ok());
  ASSERT_TRUE(apply_sample("start.yaml").ok());  // the Auth0 experiment is active now
  auto report = apply_sample("redesign-variations.yaml");
  ASSERT_TRUE(report.error) << describe(report);
  EXPECT_EQ(report.error->backend, "a0");
  EXPECT_EQ(report.error->field, "variations") << report.error->describe();
}

TEST_F(EndToEnd, TheVendorsRulesComeBackAsClearErrors) {
  // Blind (`apply --no-read`): a converging apply would find the run started and send nothing.
  ApplyOptions blind;
  blind.read_first = false;
  connect(sample_config(host_->base_url(), {}, {{"attempts", "1"}}), blind);
  ASSERT_TRUE(apply_sample("start.yaml").ok());
  // A second start at AppConfig: the emulator refuses a second run while one is RUNNING.
  auto report = apply_sample("start.yaml");
  const auto& aws = backend(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed) << describe(report);
  ASSERT_TRUE(aws.error);
  EXPECT_EQ(aws.error->code, ErrorCode::conflict) << aws.error->describe();
  EXPECT_EQ(aws.requests.at(0).attempts, 1) << "a 409 is not retried";
  EXPECT_FALSE(aws.error->request_id.empty());
}

TEST_F(EndToEnd, AWrongSignatureIsRefusedLikeAws) {
  auto wrong_secret = [environment = emulator::test_environment(host_->credentials())](
                          std::string_view name) -> std::optional<std::string> {
    if (name == "AWS_SECRET_ACCESS_KEY") return std::string("not-the-secret");
    return environment(name);
  };
  auto bridge = Bridge::from_text(sample_config(host_->base_url()), "e2e-config.yaml");
  ASSERT_TRUE(bridge);
  ApplyOptions options;
  options.environment = wrong_secret;
  auto applier = Applier::create(*bridge, options);
  ASSERT_TRUE(applier);
  auto update = load_update(kSamples + "/updates/raise-exposure.yaml");
  auto report = applier->apply(*update);
  const auto& aws = backend(report, "aws");
  EXPECT_EQ(aws.result, BackendOutcome::failed);
  ASSERT_TRUE(aws.error);
  EXPECT_EQ(aws.error->code, ErrorCode::unauthorized) << aws.error->describe();
  EXPECT_EQ(aws.error->message.find("not-the-secret"), std::string::npos);
}

}  // namespace
}  // namespace expbridge
