// A read hint the state store kept from an earlier process, gone stale because the vendor changed
// behind expbridge's back: a new `apply` process reads with it (the hinted resource is asked), yet
// reads the truth, converges on it, and the store keeps the new hint. For each vendor whose read
// takes a hint: AppConfig's current run, LaunchDarkly's iteration flag, Auth0's experiment flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "emulator/emulator.hpp"
#include "expbridge/store.hpp"
#include "json_writer.hpp"
#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

namespace json = boost::json;
using test::CliRun;

// The backends with a hint, and where each vendor answers what the hint names.
const std::map<std::string, std::string> kHintedPaths = {
    {"aws", "/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns/"},
    {"ld", "/api/v2/flags/default/"},
    {"a0", "/api/v2/experimentation/feature-flags/"},
};
// Not prefixed by the old flag's key, so a fault on the old flag's path misses it.
constexpr const char* kNewFlagLd = "two-step-checkout";
constexpr const char* kNewFlagAuth0 = "flg_Nw2Yq7Lm";

/// The fixture after the vendors moved on: AppConfig's run 1 is done and run 2 runs (at another
/// exposure); LaunchDarkly's iteration runs on a new flag; Auth0's experiment on a new flag. The
/// new flags' variations hold other values, so a read of the old flag would show.
json::value moved_on_fixture() {
  json::value fixture = test::EmulatedVendors::fixture();
  json::object& f = fixture.as_object();

  auto& definition = f.at("appconfig").at("applications").as_array().at(0).at("experiment_definitions").as_array().at(0);
  definition.as_object()["runs"] = json::parse(
      R"([{"status":"DONE","start":{"ExposurePercentage":5}},{"status":"RUNNING","start":{"ExposurePercentage":20}}])");

  auto& production = f.at("launchdarkly").at("projects").at("default").at("environments").at("production").as_object();
  auto& flags = production.at("flags").as_object();
  json::value v2 = flags.at("checkout-redesign");
  v2.as_object()["name"] = "Checkout redesign, second flag";
  v2.as_object()["version"] = 3;
  for (auto& variation : v2.as_object()["variations"].as_array())
    if (variation.at("name") == "two-step") variation.as_object()["value"] = json::parse(R"({"enabled": true, "steps": 3})");
  flags[kNewFlagLd] = std::move(v2);
  auto& iteration = production.at("experiments").at("checkout-redesign").at("iterations").as_array().at(0).as_object();
  iteration["flags"] = json::object{{kNewFlagLd, json::parse(R"({"ruleId": "fallthrough", "flagConfigVersion": 3})")}};
  for (auto& treatment : iteration["treatments"].as_array())
    for (auto& parameter : treatment.as_object()["parameters"].as_array()) parameter.as_object()["flagKey"] = kNewFlagLd;

  auto& auth0 = f.at("auth0").as_object();
  json::value flag = auth0.at("feature_flags").as_array().at(0);
  flag.as_object()["id"] = kNewFlagAuth0;
  flag.as_object()["name"] = "checkout-flow-v2";
  flag.as_object()["parameters"] = json::parse(R"({"checkout_layout": "one-page", "steps": 3})");
  auth0.at("feature_flags").as_array().push_back(std::move(flag));
  auth0.at("experiments").as_array().at(0).as_object()["feature_flag_id"] = kNewFlagAuth0;
  return fixture;
}

class StoredHint : public ::testing::Test {
 protected:
  void SetUp() override { write_config(); }
  /// The test config, AppConfig's run left out so that reading finds the current one.
  void write_config() {
    std::string config = vendors_.config();
    const std::string pinned = "definition: bsxyd7k, run: 1, ";
    const auto at = config.find(pinned);
    ASSERT_NE(at, std::string::npos) << config;
    config.replace(at, pinned.size(), "definition: bsxyd7k, ");
    sandbox_.write("config.yaml", config);
  }
  CliRun run(const std::string& args) { return sandbox_.run(args, "", env_); }
  CliRun apply(const std::string& description) {
    sandbox_.write("update.json",
                   R"({"experiment": "checkout-redesign", "description": ")" + description + R"("})");
    return run("apply --config config.yaml update.json --format json");
  }
  /// What the store keeps of checkout-redesign at `backend`.
  BackendRecord stored(const std::string& backend) {
    auto store = Store::open(StoreOptions{sandbox_.path(".expbridge/state.db").string()});
    EXPECT_TRUE(store) << store.error().describe();
    if (!store) return {};
    auto record = (*store)->backend("checkout-redesign", backend);
    EXPECT_TRUE(record && *record) << "nothing stored for " << backend;
    return record && *record ? **record : BackendRecord{};
  }
  /// The paths of the GETs `backend` received under its hinted resource's folder.
  std::vector<std::string> hinted_reads(const std::string& backend) const {
    std::vector<std::string> out;
    for (const auto& r : vendors_.state_reads(backend)) {
      const std::string path(emulator::path_of(r));
      if (path.starts_with(kHintedPaths.at(backend))) out.push_back(path);
    }
    return out;
  }
  static bool has(const std::vector<std::string>& paths, const std::string& path) {
    return std::find(paths.begin(), paths.end(), path) != paths.end();
  }

  test::EmulatedVendors vendors_;

 private:
  std::map<std::string, std::string> env_ = test::apply_test_environment();
  test::CliSandbox sandbox_{"stored-hint"};
};

TEST_F(StoredHint, ANewProcessWithAStaleStoredHintReadsTheTruthConvergesAndKeepsTheNewHint) {
  const CliRun first = apply("First week");
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  EXPECT_EQ(stored("aws").read_hint, json::parse(R"({"run": 1})"));
  EXPECT_EQ(stored("ld").read_hint, json::parse(R"({"flag": "checkout-redesign"})"));
  EXPECT_EQ(stored("a0").read_hint, json::parse(R"({"feature_flag_id": "flg_8kTz3Wq"})"));

  // The vendors move on while no expbridge runs (the host comes back on another port).
  vendors_.restart(moved_on_fixture());
  ASSERT_NO_FATAL_FAILURE(write_config());

  // The truth, read by a process with no hint at all: `get` keeps no store.
  const CliRun got = run("get --config config.yaml checkout-redesign --format json");
  ASSERT_EQ(got.exit_code, 0) << got.err << got.out;
  const json::value truth_report = json::parse(got.out);
  std::map<std::string, json::object> truth;
  for (const auto& b : truth_report.at("backends").as_array()) truth[std::string(b.at("backend").as_string())] = b.as_object();
  EXPECT_EQ(truth.at("aws").at("vendor_ids").at("run"), "2");
  EXPECT_EQ(truth.at("aws").at("state").at("exposure").to_number<double>(), 20);
  EXPECT_EQ(truth.at("a0").at("vendor_ids").at("feature_flag"), kNewFlagAuth0);
  const std::size_t reads_by_get = vendors_.host().received_requests().size();

  // A new apply process: the store's hints name what no longer is the experiment's.
  const CliRun second = apply("Second week");
  ASSERT_EQ(second.exit_code, 0) << second.err << second.out;
  const json::value report = json::parse(second.out);
  for (const auto& b : report.at("backends").as_array()) EXPECT_EQ(b.at("result"), "ok") << json::serialize(b);

  // It read with the stale hints (their resources were asked), then the right resources.
  const auto aws = hinted_reads("aws"), ld = hinted_reads("ld"), a0 = hinted_reads("a0");
  const std::string runs = kHintedPaths.at("aws"), ld_flags = kHintedPaths.at("ld"), a0_flags = kHintedPaths.at("a0");
  EXPECT_TRUE(has(aws, runs + "1")) << "the stored hint was not used: the test shows nothing";
  EXPECT_TRUE(has(aws, runs + "2"));
  EXPECT_TRUE(has(ld, ld_flags + "checkout-redesign")) << "the stored hint was not used";
  EXPECT_TRUE(has(ld, ld_flags + kNewFlagLd));
  EXPECT_TRUE(has(a0, a0_flags + "flg_8kTz3Wq")) << "the stored hint was not used";
  EXPECT_TRUE(has(a0, a0_flags + kNewFlagAuth0));

  // What it read is what the hintless `get` read, and the change went where the truth says.
  for (const char* backend : {"aws", "ld", "a0"}) {
    SCOPED_TRACE(backend);
    const BackendRecord record = stored(backend);
    json::object read_state = record.last_read;
    json::object got_state = truth.at(backend).at("state").as_object();
    read_state.erase("status");
    got_state.erase("status");
    // As written out: the store gives numbers back as doubles, the command prints 50.0 as 50.
    EXPECT_EQ(write_json(read_state), write_json(got_state)) << "the stale hint changed the answer";
  }
  const auto changes = vendors_.api_requests("aws");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(emulator::path_of(changes[0]), runs + "2/update") << "the change went to the run the stale hint named";
  const auto appconfig = vendors_.host().state().at("appconfig");
  EXPECT_NE(json::serialize(appconfig).find("Second week"), std::string::npos);

  // The store keeps the new hints, and a third process finds nothing left to send.
  EXPECT_EQ(stored("aws").read_hint, json::parse(R"({"run": 2})"));
  EXPECT_EQ(stored("ld").read_hint, json::parse(R"({"flag": "two-step-checkout"})"));
  EXPECT_EQ(stored("a0").read_hint, json::parse(R"({"feature_flag_id": "flg_Nw2Yq7Lm"})"));
  EXPECT_EQ(stored("aws").vendor_ids.at("run"), "2");
  const std::size_t before_third = vendors_.host().received_requests().size();
  ASSERT_GT(before_third, reads_by_get);
  const CliRun third = apply("Second week");
  ASSERT_EQ(third.exit_code, 0) << third.err << third.out;
  const json::value third_report = json::parse(third.out);
  for (const auto& b : third_report.at("backends").as_array())
    EXPECT_EQ(b.at("result"), "unchanged") << json::serialize(b);
  for (const char* backend : {"aws", "ld", "a0"}) {
    SCOPED_TRACE(backend);
    EXPECT_EQ(vendors_.api_requests(backend).size(), 1u) << "a converged update sent a change";
  }
}

TEST_F(StoredHint, AHintedResourceTheVendorNowRefusesFailsOneProcessesReadNotEveryOnesAfter) {
  const CliRun first = apply("First week");
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  // The vendors move on, and what the stored hints name is now refused (a resource no longer
  // shared with these credentials): not a 404 the adapter could pass over.
  vendors_.restart(moved_on_fixture());
  ASSERT_NO_FATAL_FAILURE(write_config());
  vendors_.set_faults(R"([
      {"vendor": "appconfig", "method": "GET", "status": 403,
       "path_prefix": "/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns/1"},
      {"vendor": "launchdarkly", "method": "GET", "status": 403, "path_prefix": "/api/v2/flags/default/checkout-redesign"},
      {"vendor": "auth0", "method": "GET", "status": 403,
       "path_prefix": "/api/v2/experimentation/feature-flags/flg_8kTz3Wq"}])");

  // A process reading with the stored hints fails those reads, and sends them nothing...
  const CliRun refused = apply("Second week");
  EXPECT_EQ(refused.exit_code, 1) << refused.err << refused.out;
  for (const char* backend : {"aws", "ld", "a0"}) EXPECT_TRUE(vendors_.api_requests(backend).empty()) << backend;

  // ...but the hints go with the failure: the next process reads without them and applies.
  const CliRun next = apply("Second week");
  ASSERT_EQ(next.exit_code, 0) << "the stored hint keeps failing every new process's read: " << next.err << next.out;
  const json::value report = json::parse(next.out);
  for (const auto& b : report.at("backends").as_array())  // ev took the change in the failed run
    EXPECT_EQ(b.at("result"), b.at("backend") == "ev" ? "unchanged" : "ok") << json::serialize(b);
  const auto changes = vendors_.api_requests("aws");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(emulator::path_of(changes[0]), kHintedPaths.at("aws") + "2/update");
  EXPECT_EQ(stored("aws").read_hint, json::parse(R"({"run": 2})"));
  EXPECT_EQ(stored("ld").read_hint, json::parse(R"({"flag": "two-step-checkout"})"));
  EXPECT_EQ(stored("a0").read_hint, json::parse(R"({"feature_flag_id": "flg_Nw2Yq7Lm"})"));
}

}  // namespace
}  // namespace expbridge
