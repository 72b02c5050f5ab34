// `--backend NAME`, repeatable, as plan, apply, get and diff parse it: one name an occurrence, so
// what follows it (`-`, an update, an experiment) stays the positional argument it is.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include <boost/json/parse.hpp>

#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

using test::CliRun;

constexpr const char* kUpdate = R"({"experiment": "checkout-redesign", "description": "Only where asked"})";

class BackendOption : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_.write("config.yaml", vendors_.config());
    sandbox_.write("update.json", kUpdate);
  }
  CliRun run(const std::string& args, const std::string& stdin_text = "") {
    return sandbox_.run(args, stdin_text, env_);
  }
  /// The backends that received any request (reads included).
  std::set<std::string> reached() const {
    std::set<std::string> out;
    for (const auto& backend : test::kApplyBackends)
      if (!vendors_.all_requests(backend).empty()) out.insert(backend);
    return out;
  }
  /// The `backend` members of a JSON report's `backends`.
  static std::set<std::string> backends_of(const std::string& json) {
    std::set<std::string> out;
    const boost::json::value report = boost::json::parse(json);
    for (const auto& b : report.at("backends").as_array())
      out.insert(std::string(b.at("backend").as_string()));
    return out;
  }

  test::EmulatedVendors vendors_;

 private:
  std::map<std::string, std::string> env_ = test::apply_test_environment();
  test::CliSandbox sandbox_{"backend-option"};
};

TEST_F(BackendOption, ApplyBackendThenAStreamReadsTheStreamAndAppliesOnlyThatBackend) {
  const CliRun r = run("apply --no-state --config config.yaml --backend a0 -", std::string(kUpdate) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("1 update(s): 1 ok"), std::string::npos) << r.out;
  EXPECT_EQ(vendors_.api_requests("a0").size(), 1u);
  EXPECT_EQ(reached(), std::set<std::string>{"a0"});
}

TEST_F(BackendOption, TwoBackendOptionsApplyBothAndAFileAfterThemIsTheUpdate) {
  const CliRun r = run("apply --no-state --config config.yaml --backend a0 --backend ld update.json");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(vendors_.api_requests("a0").size(), 1u);
  EXPECT_EQ(vendors_.api_requests("ld").size(), 1u);
  EXPECT_EQ(reached(), (std::set<std::string>{"a0", "ld"}));
}

TEST_F(BackendOption, PlanGetAndDiffKeepTheirPositionalArgumentAfterIt) {
  const CliRun plan = run("plan --config config.yaml --backend ev update.json --format json");
  ASSERT_EQ(plan.exit_code, 0) << plan.err << plan.out;
  EXPECT_EQ(backends_of(plan.out), std::set<std::string>{"ev"});
  EXPECT_EQ(vendors_.total_requests(), 0u) << "plan sent something";

  const CliRun get = run("get --config config.yaml --backend ld --backend aws checkout-redesign --format json");
  ASSERT_EQ(get.exit_code, 0) << get.err << get.out;
  EXPECT_EQ(backends_of(get.out), (std::set<std::string>{"aws", "ld"}));
  EXPECT_EQ(reached(), (std::set<std::string>{"aws", "ld"}));

  const CliRun diff = run("diff --config config.yaml --backend ev checkout-redesign --format json");
  EXPECT_EQ(diff.exit_code, 0) << "one backend agrees with itself: " << diff.err << diff.out;
  EXPECT_EQ(boost::json::parse(diff.out).at("experiments").as_array().size(), 1u) << diff.out;
  EXPECT_EQ(reached(), (std::set<std::string>{"aws", "ld", "ev"}));
}

TEST_F(BackendOption, ABackendOptionWithoutANameIsRefused) {
  const CliRun r = run("apply --no-state --config config.yaml update.json --backend");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("--backend"), std::string::npos) << r.err;
  EXPECT_EQ(vendors_.total_requests(), 0u);
}

}  // namespace
}  // namespace expbridge
