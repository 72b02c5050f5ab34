// `expbridge import evidently` as a user runs it, on each kind of saved file and on broken ones.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "document.hpp"
#include "expbridge/update.hpp"
#include "support/cli_sandbox.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(EXPBRIDGE_SOURCE_DIR) + "/tests/data/import/evidently/";

class ImportCli : public ::testing::Test {
 protected:
  test::CliRun run_import(const std::string& files, const std::string& extra = "") {
    std::string args = "import evidently";
    std::string rest = files;
    for (std::size_t at = 0; at < rest.size();) {
      auto space = rest.find(' ', at);
      std::string name = rest.substr(at, space == std::string::npos ? std::string::npos : space - at);
      args += " '" + kData + name + "'";
      if (space == std::string::npos) break;
      at = space + 1;
    }
    return sandbox_.run(args + " --out out " + extra);
  }
  /// Every document of the folder read as `validate` reads an update.
  std::vector<Update> documents() {
    std::vector<Update> out;
    for (const auto& e : fs::directory_iterator(sandbox_.path("out"))) {
      const auto name = e.path().filename().string();
      if (e.path().extension() != ".yaml" || name == "bindings.yaml") continue;
      auto u = load_update(e.path().string());
      EXPECT_TRUE(u) << (u ? "" : u.error().describe());
      if (u) out.push_back(*u);
    }
    return out;
  }

  test::CliSandbox sandbox_{"import-cli"};
};

TEST_F(ImportCli, TerraformStateBecomesAFolderOfDocumentsBindingsAndTheLossReport) {
  const auto r = run_import("terraform.tfstate");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("search-ranking-test: 4 carried, 5 converted, 5 lost\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  converted  variations.weight  33334/33333/33333 thousandths → 33.334/33.333/33.333 % "
                       "(evidently.weights_thousandths)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("2 experiment(s) written to out\n"), std::string::npos);
  EXPECT_NE(r.err.find("1 resource(s) of other types skipped"), std::string::npos) << r.err;
  EXPECT_EQ(documents().size(), 2u);
  EXPECT_EQ(test::CliSandbox::slurp(sandbox_.path("out/loss-report.txt")),
            r.out.substr(0, r.out.find("2 experiment(s) written")));
  auto bindings = load_document(sandbox_.path("out/bindings.yaml").string());
  ASSERT_TRUE(bindings);
  const auto& ranking = bindings->root.at("experiments").at("search-ranking-test");
  EXPECT_EQ(ranking.at("create").at("flag").as_string(), "search-ranking");
  EXPECT_EQ(ranking.at("source").at("treatments").at("ranker-a").as_string(), "baseline");
}

TEST_F(ImportCli, JsonFormatPrintsTheReportOfTheFolder) {
  const auto r = run_import("get-feature.json get-experiment.json", "--format json");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(boost::json::parse(r.out), boost::json::parse(test::CliSandbox::slurp(sandbox_.path("out/loss-report.json"))));
  const auto report = boost::json::parse(r.out);
  bool exposure = false;
  for (const auto& f : report.at("fields").as_array())
    if (f.at("field") == "exposure") {
      exposure = true;
      EXPECT_EQ(f.at("from"), "10000 thousandths");
      EXPECT_EQ(f.at("to"), "10 %");
      EXPECT_EQ(f.at("rule"), "evidently.sampling_rate_thousandths");
    }
  EXPECT_TRUE(exposure);
}

TEST_F(ImportCli, EveryKindOfFileTogether) {
  const auto r = run_import("terraform.tfstate get-feature.json get-experiment.json list-features.json list-experiments.json "
                        "get-launch.json sdk-experiment.json list-projects.json stack.yaml stack.json");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::vector<std::string> keys;
  for (const auto& u : documents()) keys.push_back(u.experiment);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"autoplay-test", "checkout-button", "checkout-redesign", "dark-mode",
                                            "onboarding-length", "price-badge", "search-box", "search-ranking-test"}));
}

TEST_F(ImportCli, RunAgainReplacesTheEarlierImport) {
  ASSERT_EQ(run_import("terraform.tfstate").exit_code, 0);
  const auto again = run_import("stack.yaml");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_FALSE(fs::exists(sandbox_.path("out/search-ranking-test.yaml")));
  EXPECT_TRUE(fs::exists(sandbox_.path("out/onboarding-length.yaml")));
}

TEST_F(ImportCli, AForeignFolderIsRefused) {
  fs::create_directories(sandbox_.path("out"));
  sandbox_.write("out/keep.txt", "mine");
  const auto r = run_import("terraform.tfstate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not empty and not an earlier import folder: keep.txt"), std::string::npos) << r.err;
  EXPECT_EQ(test::CliSandbox::slurp(sandbox_.path("out/keep.txt")), "mine");
}

TEST_F(ImportCli, BrokenFilesAreClearErrorsAndNothingIsWritten) {
  struct Case {
    const char* file;
    const char* expected;
  };
  for (const Case& c : {Case{"truncated.json", "truncated.json:9:"},
                        Case{"state-v3.tfstate", "state-v3.tfstate:2:5: version: is Terraform state version 3"},
                        Case{"cycle.yaml", "the template's references form a cycle: First → Second → Third → First"},
                        Case{"unrelated.json", "unrelated.json: is no file expbridge imports from Evidently"}}) {
    const auto r = run_import(std::string("terraform.tfstate ") + c.file);
    EXPECT_EQ(r.exit_code, 2) << c.file << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.file << ": " << r.err;
    EXPECT_NE(r.err.find("nothing was written"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(sandbox_.path("out"))) << c.file;
  }
}

TEST_F(ImportCli, AVendorWithoutAnImporterIsRefusedNamingThoseWithOne) {
  const auto r = sandbox_.run("import appconfig '" + kData + "terraform.tfstate' --out out");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'appconfig' has no importer; vendors with one: evidently"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace expbridge
