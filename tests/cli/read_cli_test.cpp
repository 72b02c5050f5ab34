// `expbridge get` and `expbridge diff` against the in-process vendor emulators.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "document.hpp"
#include "emulator/emulator.hpp"
#include "json_writer.hpp"
#include "support/cli_sandbox.hpp"

namespace expbridge {
namespace {

class ReadCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto host = emulator::EmulatorHost::start({});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
    auto doc = load_document(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/backends.yaml");
    ASSERT_TRUE(doc);
    for (auto& backend : doc->root.as_object()["backends"].as_object())
      backend.value().as_object()["endpoint"] = host_->base_url();
    sandbox_.write("config.yaml", write_json(doc->root));
    for (const auto& c : host_->credentials()) env_[c.variable] = c.value;
  }
  test::CliRun run(const std::string& args) { return sandbox_.run(args, "", env_); }

  std::unique_ptr<emulator::EmulatorHost> host_;
  test::CliSandbox sandbox_{"read-cli"};
  std::map<std::string, std::string> env_;
};

TEST_F(ReadCli, GetPrintsEveryBackendInTheContractsShape) {
  const auto r = run("get -c config.yaml checkout-redesign --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto json = boost::json::parse(r.out);
  EXPECT_EQ(json.at("experiment"), "checkout-redesign");
  const auto& backends = json.at("backends").as_array();
  ASSERT_EQ(backends.size(), 4u);
  EXPECT_EQ(backends[0].at("backend"), "aws") << "config order";
  for (const auto& b : backends) {
    EXPECT_TRUE(b.as_object().contains("status")) << r.out;
    EXPECT_TRUE(b.at("state").is_object());
    EXPECT_TRUE(b.at("vendor_ids").is_object());
    EXPECT_TRUE(b.at("not_expressible").is_array());
  }
  for (const auto& c : host_->credentials()) {
    if (c.variable.find("SECRET") != std::string::npos || c.variable.find("TOKEN") != std::string::npos) {
      EXPECT_EQ(r.out.find(c.value), std::string::npos) << c.variable;
    }
  }
}

TEST_F(ReadCli, GetYamlIsAnUpdateThatRecreatesTheState) {
  const auto r = run("get -c config.yaml checkout-redesign --backend aws --format yaml");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  sandbox_.write("current.yaml", r.out);
  EXPECT_EQ(run("validate -c config.yaml current.yaml").exit_code, 0) << r.out;
  const auto all = run("get -c config.yaml checkout-redesign --format yaml");
  EXPECT_EQ(all.exit_code, 2) << "yaml is one backend's document";
}

TEST_F(ReadCli, DiffExitCodesFollowTerraformsDetailedExitcode) {
  sandbox_.write("same.yaml", "experiment: checkout-redesign\naction: start\n");
  sandbox_.write("wider.yaml", "experiment: checkout-redesign\nexposure: 75\n");
  // Evidently's default fixture holds the feature running; the others are draft: they differ.
  const auto between = run("diff -c config.yaml checkout-redesign --format json");
  EXPECT_EQ(between.exit_code, 2) << between.err << between.out;
  const auto json = boost::json::parse(between.out);
  const auto& fields = json.at("experiments").as_array()[0].at("fields").as_array();
  EXPECT_FALSE(fields.empty());
  EXPECT_TRUE(fields[0].at("backends").as_object().contains("aws"));

  const auto drift = run("diff -c config.yaml wider.yaml");
  EXPECT_EQ(drift.exit_code, 2) << drift.out;
  EXPECT_NE(drift.out.find("exposure"), std::string::npos) << drift.out;

  const auto only_ev = run("diff -c config.yaml --backend ev same.yaml");
  EXPECT_EQ(only_ev.exit_code, 0) << only_ev.out << only_ev.err;

  const auto unknown = run("diff -c config.yaml no-such-experiment");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  EXPECT_NE(unknown.err.find("no-such-experiment"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace expbridge
