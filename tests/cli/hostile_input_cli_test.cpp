// The hostile documents of hostile_input_test.cpp fed to the `expbridge` binary: exit 2, the
// message on stderr names file and line, nothing on stdout, and nothing reaches any vendor
// (the vendor emulators count at the server). A bad line of an update stream is reported and
// the lines after it are still applied.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "document.hpp"
#include "support/emulated_vendors.hpp"
#include "support/cli_sandbox.hpp"

namespace expbridge {
namespace {

using test::CliRun;

class HostileInputCli : public ::testing::Test {
 protected:
  void SetUp() override { sandbox.write("config.yaml", vendors.config()); }

  /// `plan`, `validate` and `apply` of one document: all refuse it the same way.
  void expect_refused(const std::string& name, const std::string& text, const std::string& message) {
    sandbox.write(name, text);
    for (const std::string command : {"plan", "validate", "apply"}) {
      const CliRun r = sandbox.run(command + " --config config.yaml " + name, "", env);
      EXPECT_EQ(r.exit_code, 2) << command << " " << name << ": " << r.err.substr(0, 500);
      EXPECT_EQ(r.err.rfind("expbridge: error: " + name + ":", 0), 0u) << command << ": " << r.err.substr(0, 500);
      EXPECT_NE(r.err.find(message), std::string::npos) << command << " " << name << ": " << r.err.substr(0, 500);
      EXPECT_LT(r.err.size(), 2000u) << command << " " << name;
      // plan prints nothing; apply's report says the update was refused before anything left.
      if (command == "plan") {
        EXPECT_TRUE(r.out.empty()) << r.out.substr(0, 500);
      } else if (command == "apply") {
        EXPECT_NE(r.out.find("refused, nothing sent"), std::string::npos) << r.out.substr(0, 500);
      }
    }
    EXPECT_EQ(vendors.total_requests(), 0u) << name;
  }

  test::EmulatedVendors vendors;  // the vendor emulators: they count what reached the wire
  test::CliSandbox sandbox{"hostile-cli"};
  std::map<std::string, std::string> env = test::apply_test_environment();
};

TEST_F(HostileInputCli, StrayCommasAreRefusedAndNothingIsSent) {
  expect_refused("comma.yaml", ",\n", "malformed YAML");
  expect_refused("quoted.yaml", "\"x\",\n", "malformed YAML");
  expect_refused("csv.json", "\"experiment\",\"checkout-redesign\"\n", "malformed JSON");
}

TEST_F(HostileInputCli, AliasesDeepNestingAndBadBytesAreRefusedAndNothingIsSent) {
  expect_refused("alias.yaml", "experiment: checkout-redesign\nvendor: &v {appconfig: *v}\n", "aliases (*v)");
  expect_refused("deep.yaml", "experiment: checkout-redesign\nvendor: " + std::string(100'000, '['),
                 "deeper than 64");
  expect_refused("utf8.yaml", "experiment: checkout-redesign\nname: \"a\xff\"\n", "name: is not valid UTF-8");
  expect_refused("hex.json", R"({"experiment": "checkout-redesign", "exposure": 0x10})", "malformed JSON");
  expect_refused("typo.yaml",
                 "experiment: checkout-redesign\nvariations:\n  - {key: control, control: true, weigth: 100}\n",
                 "unknown field 'weigth' (did you mean 'weight'?)");
  expect_refused("precision.json",
                 R"({"experiment": "checkout-redesign", "variations": [{"key": "control", "control": true, "weight": 100,)"
                 R"( "value": {"enabled": true, "attributes": {"n": 9007199254740993}}}]})",
                 "beyond ±2^53");
}

TEST_F(HostileInputCli, AnOversizedDocumentIsRefusedUnread) {
  expect_refused("big.yaml", "experiment: checkout-redesign\nname: '" + std::string(kMaxDocumentBytes, 'n') + "'\n",
                 "larger than 16777216 bytes");
}

TEST_F(HostileInputCli, HostileConfigsAreRefusedBeforeAnythingIsSent) {
  sandbox.write("update.json", R"({"experiment": "checkout-redesign", "description": "x"})");
  for (const auto& [name, text, message] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"alias-config.yaml", "backends: &b {aws: *b}\n", "aliases (*b)"},
           {"comma-config.yaml", ",\n", "malformed YAML"},
           {"typo-config.yaml", "backends:\n  aws: {vendor: appconfig, regoin: us-east-1, application: abc1234}\n",
            "did you mean 'region'"}}) {
    sandbox.write(name, text);
    const CliRun r = sandbox.run("apply --config " + name + " update.json", "", env);
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("expbridge: error: " + name + ":", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << name << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_EQ(vendors.total_requests(), 0u);
}

TEST_F(HostileInputCli, BadStreamLinesAreReportedAndTheLinesAfterThemApplied) {
  const std::string good1 = R"({"experiment": "checkout-redesign", "description": "Stream good 1"})";
  const std::string good2 = R"({"experiment": "checkout-redesign", "description": "Stream good 2"})";
  const std::string input = good1 + "\n" +
                            "\"experiment\",\"checkout-redesign\"\n" +                       // 2: CSV-like
                            ",\n" +                                                          // 3: a comma
                            "{\"experiment\": \"checkout-redesign\", \"name\": \"\xfe\"}\n" +  // 4: not UTF-8
                            std::string(kMaxStreamLineBytes + 10, ' ') + "x\n" +               // 5: too long
                            "experiment: checkout-redesign\n" +                                // 6: YAML, not JSON
                            good2 + "\n";
  const CliRun r = sandbox.run("apply --config config.yaml - --format json", input, env);
  EXPECT_EQ(r.exit_code, 1) << r.err.substr(0, 2000);
  boost::system::error_code ec;
  const auto report = boost::json::parse(r.out, ec);
  ASSERT_FALSE(ec) << r.out.substr(0, 2000);
  const auto& updates = report.at("updates").as_array();
  ASSERT_EQ(updates.size(), 7u);
  for (std::size_t i : {1u, 2u, 3u, 4u, 5u}) {
    EXPECT_EQ(updates[i].at("source").as_string(), "-:" + std::to_string(i + 1));
    EXPECT_EQ(updates[i].at("error").at("code").as_string(), "invalid_input") << i;
  }
  EXPECT_NE(updates[4].at("error").at("message").as_string().find("more than the 1048576 bytes expbridge reads from one stream line"), std::string::npos);
  EXPECT_EQ(updates[0].at("ok").as_bool(), true);
  EXPECT_EQ(updates[6].at("ok").as_bool(), true);
  const auto& summary = report.at("summary").as_object();
  EXPECT_EQ(summary.at("ok").as_int64(), 2);
  EXPECT_EQ(summary.at("invalid").as_int64(), 5);
  for (const auto& backend : test::kApplyBackends) {
    const auto received = vendors.api_requests(backend);
    ASSERT_EQ(received.size(), 2u) << backend;
    EXPECT_NE(received[0].body.find("Stream good 1"), std::string::npos);
    EXPECT_NE(received[1].body.find("Stream good 2"), std::string::npos);
  }
  // Each bad line is named on stderr, and no part of the long one is echoed.
  for (int line = 2; line <= 6; ++line) EXPECT_NE(r.err.find("-:" + std::to_string(line)), std::string::npos) << line;
  EXPECT_LT(r.err.size(), 4000u);
}

TEST_F(HostileInputCli, PlanFromStandardInputIsBoundedToo) {
  const CliRun r = sandbox.run("plan --config config.yaml -", std::string(kMaxDocumentBytes + 1, '#'), env);
  EXPECT_EQ(r.exit_code, 2) << r.err.substr(0, 300);
  EXPECT_NE(r.err.find("larger than 16777216 bytes"), std::string::npos) << r.err.substr(0, 300);
}

}  // namespace
}  // namespace expbridge
