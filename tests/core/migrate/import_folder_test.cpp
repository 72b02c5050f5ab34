// An import folder read for migrate: a loss report larger than any document expbridge holds whole
// is read an entry at a time, and a bad entry is named by file, line and member.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "expbridge/migrate.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;

class ImportFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("expbridge-import-folder-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "checkout-v2.yaml") << "experiment: checkout-v2\ndescription: Two-step\n";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  fs::path dir_;
};

// One loss-report entry as `expbridge import` writes it.
std::string entry(const std::string& experiment, const std::string& field, const std::string& carriage) {
  return R"({"experiment": ")" + experiment + R"(", "field": ")" + field + R"(", "carriage": ")" + carriage +
         R"(", "reason": ")" + std::string(200, 'r') + R"(", "source": "exports/list-experiments.json:12"})";
}

TEST_F(ImportFolderTest, ALossReportLargerThanAnyWholeDocumentIsReadEntryByEntry) {
  {
    std::ofstream out(dir_ / "loss-report.json");
    out << "{\"fields\": [\n";
    // 80,000 entries of about 330 bytes: some 26 MB, above the 16 MiB a document may hold.
    for (int i = 0; i < 80'000; ++i) out << entry("other-" + std::to_string(i), "description", "carried") << ",\n";
    out << entry("checkout-v2", "evidently.metricGoals", "lost") << "\n]}\n";
  }
  ASSERT_GT(fs::file_size(dir_ / "loss-report.json"), 16u << 20);
  auto folder = open_import_folder(dir_.string());
  ASSERT_TRUE(folder) << folder.error().describe();
  auto one = folder->load("checkout-v2");
  ASSERT_TRUE(one) << one.error().describe();
  ASSERT_EQ(one->losses.size(), 1u);
  EXPECT_EQ(one->losses.front().field, "evidently.metricGoals");
  EXPECT_EQ(one->losses.front().carriage, Carriage::lost);
}

TEST_F(ImportFolderTest, EachExperimentGetsItsOwnLossesWhereverItsKeyFallsInTheReportsWindows) {
  // 2,500 documents: three windows of keys; loaded forwards, then backwards.
  {
    std::ofstream out(dir_ / "loss-report.json");
    out << "{\"fields\": [\n";
    for (int i = 0; i < 2500; ++i) {
      const std::string key = "exp-" + std::to_string(10000 + i);
      std::ofstream(dir_ / (key + ".yaml")) << "experiment: " << key << "\n";
      out << entry(key, "description", "carried") << ",\n" << entry(key, "evidently.launch." + key, "lost") << ",\n";
    }
    out << entry("checkout-v2", "description", "carried") << "\n]}\n";
  }
  auto folder = open_import_folder(dir_.string());
  ASSERT_TRUE(folder) << folder.error().describe();
  ASSERT_EQ(folder->keys().size(), 2501u);
  std::vector<std::string> order = folder->keys();
  std::vector<std::string> backwards(order.rbegin(), order.rend());
  order.insert(order.end(), backwards.begin(), backwards.end());
  for (const auto& key : order) {
    auto one = folder->load(key);
    ASSERT_TRUE(one) << one.error().describe();
    if (key == "checkout-v2") {
      EXPECT_EQ(one->losses.size(), 1u);
      continue;
    }
    ASSERT_EQ(one->losses.size(), 2u) << key;
    EXPECT_EQ(one->losses[1].field, "evidently.launch." + key);
  }
}

// `bindings.yaml` in the layout `expbridge import` writes: one entry per experiment.
std::string binding_entry(const std::string& key, const std::string& create = "flag: \"checkout-flow\"") {
  return "  " + key + ":\n    source:\n      vendor: \"evidently\"\n      project: \"web\"\n    create:\n      " + create + "\n";
}

TEST_F(ImportFolderTest, BindingsAreReadEntryByEntryWithTheFilesPositions) {
  std::string bindings = "# Where each experiment came from\nexperiments:\n" + binding_entry("checkout-v2");
  for (int i = 0; i < 1500; ++i) {
    const std::string key = "exp-" + std::to_string(10000 + i);
    std::ofstream(dir_ / (key + ".yaml")) << "experiment: " << key << "\n";
    bindings += binding_entry(key, "flag: \"" + key + "-flag\"");
  }
  std::ofstream(dir_ / "bindings.yaml") << bindings;
  auto folder = open_import_folder(dir_.string());
  ASSERT_TRUE(folder) << folder.error().describe();
  auto one = folder->load("exp-11234");
  ASSERT_TRUE(one) << one.error().describe();
  EXPECT_EQ(one->create, (boost::json::object{{"flag", "exp-11234-flag"}}));

  // A member nobody reads, in the 1,001st entry: named with its line in the file.
  const std::string good = binding_entry("exp-11000", "flag: \"exp-11000-flag\"");
  std::string broken = bindings;
  broken.replace(broken.find(good), good.size(), good + "    origin: \"typo\"\n");
  std::ofstream(dir_ / "bindings.yaml") << broken;
  folder = open_import_folder(dir_.string());
  ASSERT_FALSE(folder);
  EXPECT_EQ(folder.error().field, "experiments.exp-11000.origin") << folder.error().describe();
  // A comment and `experiments:`, six lines per entry: checkout-v2's, then 1,000 before this one.
  EXPECT_EQ(folder.error().line, 2 + 6 * 1001 + 7) << folder.error().describe();
  EXPECT_NE(folder.error().file.find("bindings.yaml"), std::string::npos) << folder.error().describe();

  // One experiment given twice is refused, as a whole parse refuses it.
  std::ofstream(dir_ / "bindings.yaml") << bindings + binding_entry("checkout-v2");
  folder = open_import_folder(dir_.string());
  ASSERT_FALSE(folder);
  EXPECT_NE(folder.error().describe().find("twice"), std::string::npos) << folder.error().describe();
}

TEST_F(ImportFolderTest, BindingsInAnotherLayoutAreReadWhole) {
  std::ofstream(dir_ / "bindings.yaml") << "experiments: {checkout-v2: {source: {vendor: evidently}, create: {flag: f}}}\n";
  auto folder = open_import_folder(dir_.string());
  ASSERT_TRUE(folder) << folder.error().describe();
  auto one = folder->load("checkout-v2");
  ASSERT_TRUE(one) << one.error().describe();
  EXPECT_EQ(one->create, (boost::json::object{{"flag", "f"}}));
  std::ofstream(dir_ / "bindings.yaml") << "experiments:\n  checkout-v2: {create: {flag: g}}\nother: 1\n";
  folder = open_import_folder(dir_.string());
  ASSERT_FALSE(folder);
  EXPECT_EQ(folder.error().field, "other") << folder.error().describe();
}

TEST_F(ImportFolderTest, ABadLossReportEntryIsNamedByFileLineAndMember) {
  std::ofstream(dir_ / "loss-report.json") << "{\"fields\": [\n"
                                           << entry("a", "description", "carried") << ",\n"
                                           << entry("b", "description", "carried") << ",\n"
                                           << entry("checkout-v2", "description", "gone") << "\n]}\n";
  auto folder = open_import_folder(dir_.string());
  ASSERT_FALSE(folder);
  EXPECT_EQ(folder.error().code, ErrorCode::invalid_input);
  EXPECT_NE(folder.error().file.find("loss-report.json"), std::string::npos) << folder.error().describe();
  EXPECT_EQ(folder.error().line, 4) << folder.error().describe();
  EXPECT_EQ(folder.error().field, "fields[2].carriage") << folder.error().describe();
  EXPECT_NE(folder.error().message.find("carried, converted or lost"), std::string::npos) << folder.error().describe();
}

}  // namespace
}  // namespace expbridge
