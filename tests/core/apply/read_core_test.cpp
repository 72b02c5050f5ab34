// `Applier::read` — every bound backend read at once, step by step as its adapter asks —
// tested without vendors and without sockets: the counting test vendor and a scripted client.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "secrets.hpp"
#include "support/counting_adapter.hpp"
#include "support/scripted_http_client.hpp"

namespace expbridge {
namespace {

using test::CountingVendor;
using test::HttpScript;
using test::ScriptedReply;

std::string host(std::string_view backend) { return "https://" + std::string(backend) + ".example.test"; }

class ReadCore : public ::testing::Test {
 protected:
  void start(ApplyOptions options = {}) {
    std::string config = "backends:\n";
    for (const char* name : {"one", "two"})
      config += "  " + std::string(name) + ": {vendor: counting, endpoint: \"" + host(name) +
                "\", retry_base_ms: 1, retry_cap_ms: 5, timeout_ms: 500, deadline_ms: 5000}\n";
    config += "experiments:\n  exp:\n    one: {id: e1}\n    two: {id: e2}\n  other:\n    two: {id: e3}\n";
    auto bridge = Bridge::from_text(config, "read.yaml", vendor_->bridge_options());
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    options.http_client = script_->factory();
    auto applier = Applier::create(*bridge_, std::move(options));
    ASSERT_TRUE(applier) << applier.error().describe();
    applier_ = std::make_unique<Applier>(std::move(*applier));
  }

  std::shared_ptr<CountingVendor> vendor_ = CountingVendor::make();
  std::shared_ptr<HttpScript> script_ = HttpScript::make();
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Applier> applier_;
};

TEST_F(ReadCore, ReadsEveryBoundBackendIntoTheNeutralModel) {
  script_->on("GET", host("one") + "/experiments/e1",
              {ScriptedReply::json(200, R"({"exposure": 25, "description": "First run", "status": "running"})")});
  script_->on("GET", host("two") + "/experiments/e2", {ScriptedReply::json(200, R"({"exposure": 40, "status": "paused"})")});
  start();
  const ReadReport report = applier_->read("exp");
  ASSERT_TRUE(report.ok()) << boost::json::serialize(read_report_to_json(report));
  ASSERT_EQ(report.backends.size(), 2u);
  EXPECT_EQ(report.backends[0].backend, "one");
  EXPECT_EQ(report.backends[0].state->experiment.experiment, "exp");
  EXPECT_EQ(report.backends[0].state->experiment.exposure, 25);
  EXPECT_EQ(report.backends[1].state->experiment.status, ExperimentStatus::paused);
  EXPECT_EQ(script_->count("*"), 2u) << "one GET each, nothing else";

  // The `get --format json` contract.
  const auto json = read_report_to_json(report);
  const auto& one = json.at("backends").as_array()[0].as_object();
  EXPECT_EQ(one.at("vendor"), "counting");
  EXPECT_EQ(one.at("status"), "running");
  EXPECT_EQ(boost::json::serialize(one.at("state")), R"({"description":"First run","exposure":2.5E1})");
  EXPECT_EQ(boost::json::serialize(one.at("vendor_ids")), R"({"id":"e1"})");
  ASSERT_TRUE(one.at("not_expressible").is_array());
  EXPECT_FALSE(one.at("not_expressible").as_array().empty()) << "the table skips most fields";
  EXPECT_FALSE(one.contains("error"));
  const std::string text = read_report_to_text(report);
  EXPECT_NE(text.find("one (counting): running  id=e1"), std::string::npos) << text;
  EXPECT_NE(text.find("    exposure: 25"), std::string::npos) << text;
}

TEST_F(ReadCore, AVendorEchoingCredentialsIntoAFieldPrintsNone) {
  secrets::register_secret("read-core-secret-7Qx9");
  script_->on("GET", "/experiments/e1",
              {ScriptedReply::json(200, R"({"description": "echo read-core-secret-7Qx9 and Bearer abcdefghijkl"})")});
  script_->on("GET", "/experiments/e2", {ScriptedReply::json(200, "{}")});
  start();
  const ReadReport report = applier_->read("exp");
  ASSERT_TRUE(report.ok());
  const std::string description = *report.backends[0].state->experiment.description;
  EXPECT_EQ(description.find("read-core-secret-7Qx9"), std::string::npos) << description;
  EXPECT_EQ(description.find("abcdefghijkl"), std::string::npos) << description;
  EXPECT_NE(description.find("echo ***"), std::string::npos) << description;
}

TEST_F(ReadCore, FollowsTheAdaptersStepsPageByPage) {
  script_->on("GET", "/experiments/e1", {ScriptedReply::json(200, R"({"exposure": 1, "next": "p2"})")});
  script_->on("GET", "/experiments/e1?page=p2", {ScriptedReply::json(200, R"({"description": "two", "next": "p3"})")});
  script_->on("GET", "/experiments/e1?page=p3", {ScriptedReply::json(200, R"({"status": "stopped"})")});
  script_->on("GET", "/experiments/e2", {ScriptedReply::json(200, "{}")});
  start();
  const ReadReport report = applier_->read("exp");
  ASSERT_TRUE(report.ok()) << boost::json::serialize(read_report_to_json(report));
  const auto& state = report.backends[0].state->experiment;
  EXPECT_EQ(state.exposure, 1);
  EXPECT_EQ(state.description, "two");
  EXPECT_EQ(state.status, ExperimentStatus::stopped);
  EXPECT_EQ(report.backends[0].requests.size(), 3u);
  EXPECT_EQ(vendor_->calls("one").read, 4) << "the first step, then one per answer";
}

TEST_F(ReadCore, AMissingResourceFailsThatBackendAloneNamingIt) {
  script_->on("GET", "/experiments/e1", {ScriptedReply::json(404, R"({"message": "no such experiment"})")});
  script_->on("GET", "/experiments/e2", {ScriptedReply::json(200, R"({"exposure": 3})")});
  start();
  const ReadReport report = applier_->read("exp");
  EXPECT_FALSE(report.ok());
  ASSERT_TRUE(report.backends[0].error);
  EXPECT_EQ(report.backends[0].error->code, ErrorCode::not_found);
  EXPECT_EQ(report.backends[0].error->backend, "one");
  EXPECT_EQ(report.backends[0].error->vendor, "counting");
  EXPECT_NE(report.backends[0].error->message.find("e1"), std::string::npos);
  EXPECT_EQ(script_->count("GET", "/experiments/e1"), 1u) << "a 404 is an answer, not retried";
  ASSERT_TRUE(report.backends[1].state);
  const auto json = read_report_to_json(report);
  const auto& failed = json.at("backends").as_array()[0].as_object();
  EXPECT_FALSE(failed.contains("state"));
  EXPECT_EQ(failed.at("error").at("code"), "not_found");
}

TEST_F(ReadCore, ReadsAreRetriedLikeAnyIdempotentRequest) {
  script_->on("GET", "/experiments/e1", {ScriptedReply::json(503), ScriptedReply::json(200, R"({"exposure": 5})")});
  script_->on("GET", "/experiments/e2", {ScriptedReply::json(500, R"({"message": "boom"})")});
  start();
  const ReadReport report = applier_->read("exp");
  ASSERT_TRUE(report.backends[0].state) << report.backends[0].error->describe();
  EXPECT_EQ(report.backends[0].requests[0].attempts, 2);
  ASSERT_TRUE(report.backends[1].error);
  EXPECT_EQ(report.backends[1].error->operation, "GetExperiment");
  EXPECT_EQ(script_->count("GET", "/experiments/e2"), 3u) << "attempts: 3 by default";
}

TEST_F(ReadCore, AnAdapterThatThrowsOrNeverEndsFailsItsBackendOnly) {
  script_->on("GET", "/experiments/e1", {ScriptedReply::json(200, R"({"throw": true})")});
  // Always another page: the core cuts it off.
  script_->on("GET", "/experiments/e2", {ScriptedReply::json(200, R"({"next": "again"})")});
  start();
  const ReadReport report = applier_->read("exp");
  ASSERT_TRUE(report.backends[0].error);
  EXPECT_EQ(report.backends[0].error->code, ErrorCode::internal);
  EXPECT_NE(report.backends[0].error->message.find("injected failure in read"), std::string::npos)
      << report.backends[0].error->message;
  EXPECT_EQ(report.backends[0].error->backend, "one");
  ASSERT_TRUE(report.backends[1].error);
  EXPECT_NE(report.backends[1].error->message.find("did not end within 64 steps"), std::string::npos);
  EXPECT_EQ(script_->count("GET", "/experiments/e2"), 64u);
}

TEST_F(ReadCore, UnknownExperimentsAndBackendsAreRefusedBeforeAnyRead) {
  start();
  const ReadReport unknown = applier_->read("nope");
  ASSERT_TRUE(unknown.error);
  EXPECT_EQ(unknown.error->code, ErrorCode::not_found);
  EXPECT_NE(unknown.error->message.find("read.yaml"), std::string::npos);

  ApplyOptions only_one;
  only_one.plan.backends = {"one"};
  start(only_one);
  const ReadReport other = applier_->read("other");
  ASSERT_TRUE(other.error);
  EXPECT_NE(other.error->message.find("'one' is not bound"), std::string::npos) << other.error->message;
  EXPECT_EQ(script_->total(), 0u);
}

TEST_F(ReadCore, OnlyTheChosenBackendsAreRead) {
  script_->on("GET", "/experiments/", {ScriptedReply::json(200, "{}")});
  ApplyOptions options;
  options.plan.backends = {"two"};
  start(options);
  const ReadReport report = applier_->read("exp");
  ASSERT_EQ(report.backends.size(), 1u);
  EXPECT_EQ(report.backends[0].backend, "two");
  EXPECT_EQ(script_->count("GET", "/experiments/e1"), 0u);
}

}  // namespace
}  // namespace expbridge
