// A vendor that is not built in, end to end: the test-only fakevendor, added to the built-in
// vendors with one registration line (tests/cli/fake_vendor_cli.cpp), runs `emulate`, `plan`,
// `apply` and `mappings --check` as a user runs them, and nothing else in expbridge knows it.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <boost/json/parse.hpp>

#include "support/background_cli.hpp"
#include "support/blocking_http.hpp"
#include "support/cli_sandbox.hpp"
#include "support/fake_vendor/fakevendor_emulator.hpp"

namespace expbridge::test {
namespace {

namespace json = boost::json;
using emulator::testing::blocking_request;

constexpr const char* kUpdate =
    "experiment: checkout-redesign\ndescription: Two-step checkout\nexposure: 40\ncomment: after review\n";

class FakeVendorCli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = emulate_.dir() / "backends.yaml";
    emulate_.spawn({"emulate", "--port", "0", "--duration-s", "60", "--write-config", config_.string()});
    url_ = emulate_.wait_for_url();
    ASSERT_FALSE(url_.empty());
    sandbox_.write("update.yaml", kUpdate);
  }

  /// The fake-vendor command on the config `emulate` wrote, with `variables` as its whole environment.
  CliRun run(const std::string& args, const std::map<std::string, std::string>& variables = {}) const {
    return sandbox_.run_program(EXPBRIDGE_FAKE_VENDOR_CLI, args + " -c '" + config_.string() + "' update.yaml", "",
                                variables);
  }

  json::value experiment_state() const {
    auto r = blocking_request(emulate_.port(), "GET", "/_emulator/state");
    EXPECT_EQ(r.status, 200);
    return json::parse(r.body).at("fakevendor").at("experiments").at("checkout-redesign");
  }

  /// What a client of the fake emulator needs, from the emulator.
  static std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> out;
    for (const auto& c : emulator::make_fakevendor_emulator()->credentials()) out[c.variable] = c.value;
    return out;
  }

  BackgroundCli emulate_{EXPBRIDGE_FAKE_VENDOR_CLI};
  CliSandbox sandbox_{"fake-vendor-cli"};
  std::filesystem::path config_;
  std::string url_;
};

TEST_F(FakeVendorCli, EmulatePrintsTheFakeVendorsCredentialsAndBackend) {
  const std::string out = emulate_.out();
  EXPECT_NE(out.find("vendors: appconfig, auth0, evidently, fakevendor, launchdarkly\n"), std::string::npos) << out;
  for (const auto& [variable, value] : environment())
    EXPECT_NE(out.find("export " + variable + "=" + value + "\n"), std::string::npos) << out;
  const std::string written = BackgroundCli::slurp(config_);
  EXPECT_NE(written.find("  fake: {vendor: fakevendor, token_env: FAKEVENDOR_TOKEN, endpoint: " + url_ + "}\n"),
            std::string::npos)
      << written;
  EXPECT_NE(written.find("    fake: {experiment: checkout-redesign}\n"), std::string::npos) << written;
  // The emulator starts from its own default fixture.
  EXPECT_EQ(experiment_state(), json::parse(R"({"name": "Checkout redesign", "exposure_percent": 10})"));
}

TEST_F(FakeVendorCli, PlanBuildsTheRequestFromTheRegisteredTable) {
  auto r = run("plan --backend fake --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto plan = json::parse(r.out);
  const auto& backend = plan.at("backends").at(0);
  EXPECT_EQ(backend.at("vendor"), "fakevendor");
  ASSERT_EQ(backend.at("requests").as_array().size(), 1u) << r.out;
  const auto& request = backend.at("requests").at(0);
  EXPECT_EQ(request.at("operation"), "UpdateExperiment");
  EXPECT_EQ(request.at("method"), "PATCH");
  EXPECT_EQ(request.at("url").as_string(), url_ + "/experiments/checkout-redesign");
  EXPECT_EQ(request.at("body"), json::parse(R"({"description": "Two-step checkout", "exposure_percent": 40})"));
  EXPECT_EQ(backend.at("skipped").at(0).at("field"), "comment");
  EXPECT_EQ(backend.at("skipped").at(0).at("reason"), "fakevendor keeps no comment");
}

TEST_F(FakeVendorCli, ApplyChangesTheFakeEmulatorsState) {
  auto r = run("apply --backend fake", environment());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(experiment_state(),
            json::parse(R"({"name": "Checkout redesign", "exposure_percent": 40, "description": "Two-step checkout"})"));
}

TEST_F(FakeVendorCli, ApplyWithAWrongTokenIsRefusedByTheEmulator) {
  auto r = run("apply --backend fake", {{"FAKEVENDOR_TOKEN", "not-the-token"}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("401"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("not-the-token"), std::string::npos) << "a secret in the report:\n" << r.out;
  EXPECT_EQ(experiment_state().at("exposure_percent"), 10);
}

TEST_F(FakeVendorCli, MappingsCheckRunsTheRegisteredTablesExample) {
  auto r = sandbox_.run_program(EXPBRIDGE_FAKE_VENDOR_CLI, "mappings --check");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto builtin = sandbox_.run("mappings --check");
  ASSERT_EQ(builtin.exit_code, 0) << builtin.err;
  // One more example passed: the fake table's, through the same path as the built-in ones.
  auto passed = [](const std::string& out) { return std::stoi(out.substr(out.find(": ") + 2)); };
  EXPECT_EQ(passed(r.out), passed(builtin.out) + 1) << r.out << builtin.out;
}

TEST_F(FakeVendorCli, TheShippedCommandDoesNotKnowTheFakeVendor) {
  auto r = sandbox_.run("plan -c '" + config_.string() + "' update.yaml");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown vendor"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace expbridge::test
