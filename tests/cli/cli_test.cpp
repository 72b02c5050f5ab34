// The expbridge command as a user runs it: exit codes, stdout/stderr, the JSON contract.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <boost/json/parse.hpp>

namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

const std::string kSource = EXPBRIDGE_SOURCE_DIR;

CliRun run(const std::string& args, const std::string& stdin_text = "") {
  auto dir = std::filesystem::temp_directory_path() / ("expbridge-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto out_file = dir / "out", err_file = dir / "err", in_file = dir / "in";
  std::ofstream(in_file) << stdin_text;
  std::string command = "cd '" + kSource + "' && '" + std::string(EXPBRIDGE_CLI) + "' " + args + " <'" +
                        in_file.string() + "' >'" + out_file.string() + "' 2>'" + err_file.string() + "'";
  int status = std::system(command.c_str());
  CliRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  std::filesystem::remove_all(dir);
  return r;
}

TEST(Cli, PlanJsonFollowsTheContract) {
  CliRun r = run("plan --config samples/backends.yaml samples/updates/raise-exposure.yaml --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = boost::json::parse(r.out);  // exactly one JSON object, or this throws
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("experiment").as_string(), "checkout-redesign");
  const auto& backends = o.at("backends").as_array();
  ASSERT_EQ(backends.size(), 4u);
  const char* order[] = {"aws", "ld", "a0", "ev"};
  const char* vendors[] = {"appconfig", "launchdarkly", "auth0", "evidently"};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& b = backends[i].as_object();
    EXPECT_EQ(b.at("backend").as_string(), order[i]);
    EXPECT_EQ(b.at("vendor").as_string(), vendors[i]);
    for (const auto& req : b.at("requests").as_array()) {
      const auto& q = req.as_object();
      EXPECT_TRUE(q.at("method").is_string());
      EXPECT_TRUE(q.at("url").as_string().starts_with("https://"));
      EXPECT_TRUE(q.at("headers").is_object());
      EXPECT_TRUE(q.contains("body"));
    }
    for (const auto& s : b.at("skipped").as_array()) {
      EXPECT_TRUE(s.as_object().at("field").is_string());
      EXPECT_FALSE(s.as_object().at("reason").as_string().empty());
    }
  }
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Cli, PlanTextIsReadable) {
  CliRun r = run("plan --config samples/backends.yaml samples/updates/raise-exposure.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("backend aws (appconfig)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped:"), std::string::npos) << r.out;
}

TEST(Cli, PlanReadsStdin) {
  CliRun r = run("plan --config samples/backends.yaml - --format json", "{\"experiment\": \"checkout-redesign\", \"exposure\": 60}");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ExposurePercentage"), std::string::npos);
}

TEST(Cli, InvalidInputExitsTwoWithNothingOnStdout) {
  CliRun r = run("plan --config samples/backends.yaml - --format json", "experiment: checkout-redesign\nexposre: 10\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("-:2:1: exposre: unknown field 'exposre' (did you mean 'exposure'?)"), std::string::npos) << r.err;
}

TEST(Cli, VendorRuleErrorNamesFileFieldBackendAndRule) {
  CliRun r = run("plan --config samples/backends.yaml - ", "experiment: checkout-redesign\nname: ab\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("backend a0 (auth0)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("name:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3..255"), std::string::npos) << r.err;
}

TEST(Cli, MissingConfigFileIsInvalidInput) {
  CliRun r = run("plan --config nope.yaml samples/updates/raise-exposure.yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nope.yaml"), std::string::npos);
}

TEST(Cli, StrictTurnsSkipsIntoExitTwo) {
  CliRun r = run("plan --strict --config samples/backends.yaml samples/updates/raise-exposure.yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("strict"), std::string::npos) << r.err;
}

TEST(Cli, BackendSelection) {
  CliRun r = run("plan --config samples/backends.yaml samples/updates/raise-exposure.yaml --format json --backend ld --backend ev");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto report = boost::json::parse(r.out);
  const auto& backends = report.as_object().at("backends").as_array();
  ASSERT_EQ(backends.size(), 2u);
  EXPECT_EQ(backends[0].as_object().at("backend").as_string(), "ld");
}

TEST(Cli, ValidateChecksEverySample) {
  std::string files;
  for (const auto& entry : std::filesystem::directory_iterator(kSource + "/samples/updates"))
    files += " '" + entry.path().string() + "'";
  CliRun r = run("validate --config samples/backends.yaml" + files);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("ok: "), std::string::npos);
}

TEST(Cli, ValidateReportsEveryBadFile) {
  CliRun r = run("validate --config samples/backends.yaml samples/updates/raise-exposure.yaml missing-1.yaml missing-2.yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing-1.yaml"), std::string::npos);
  EXPECT_NE(r.err.find("missing-2.yaml"), std::string::npos);
  EXPECT_NE(r.out.find("ok: samples/updates/raise-exposure.yaml"), std::string::npos);
}

TEST(Cli, MappingsPrintsTheMatrixFromTheTables) {
  CliRun r = run("mappings");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* vendor : {"appconfig", "auth0", "evidently", "launchdarkly"})
    EXPECT_NE(r.out.find(vendor), std::string::npos) << vendor;
  EXPECT_NE(r.out.find("exposure"), std::string::npos);
  CliRun json = run("mappings --format json");
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_EQ(boost::json::parse(json.out).as_object().at("fields").as_array().size(), 17u);
  CliRun md = run("mappings --format markdown");
  EXPECT_EQ(md.out.rfind("| neutral |", 0), 0u);
}

TEST(Cli, MappingsCheckRunsEveryExample) {
  CliRun r = run("mappings --check");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("plan").exit_code, 2);
  EXPECT_EQ(run("frobnicate").exit_code, 2);
  EXPECT_EQ(run("plan --config samples/backends.yaml x.yaml --format xml").exit_code, 2);
}

}  // namespace

namespace {
TEST(Docs, ReadmeMatrixIsTheOneTheTablesGenerate) {
  CliRun r = run("mappings --format markdown");
  ASSERT_EQ(r.exit_code, 0);
  std::ifstream in(kSource + "/README.md");
  std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(readme.find(r.out), std::string::npos)
      << "README.md's mapping matrix is stale: paste `expbridge mappings --format markdown` into it";
}
}  // namespace

namespace {
TEST(Cli, DemoAppliesTheSamplesToTheEmulators) {
  CliRun r = run("demo");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("demo: every backend applied every update it could express, and the second time sent nothing"),
            std::string::npos)
      << r.out;
  for (const char* sample : {"redesign-variations.yaml", "start.yaml", "raise-exposure.yaml", "stop-with-result.yaml"})
    EXPECT_NE(r.out.find(sample), std::string::npos) << sample;
  EXPECT_EQ(r.out.find("failed"), std::string::npos) << r.out;
  // The same stop again: read first, nothing sent.
  EXPECT_NE(r.out.find("changes the emulators received for it: 0"), std::string::npos) << r.out;
  // LaunchDarkly's whole lifecycle: its iteration started, then stopped with the winner.
  const auto ld = r.out.find("  ld (launchdarkly): stopped");
  ASSERT_NE(ld, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("winner: \"two-step\"", ld), std::string::npos) << r.out;
}
}  // namespace
