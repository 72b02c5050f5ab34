// The import folder (write_import_folder) and the lookup of a vendor's importer: vendor-neutral,
// tested with a hand-made ImportResult and an importer of the test's own.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include <gtest/gtest.h>

#include "document.hpp"
#include "expbridge/import.hpp"
#include "expbridge/update.hpp"
#include "expbridge/mapping.hpp"
#include "import_rules.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("expbridge-import-folder-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(counter++));
  TempDir() { fs::remove_all(path); }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  static inline int counter = 0;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

ImportResult two_experiments() {
  ImportResult r;
  ImportedExperiment a;
  a.key = "checkout";
  a.experiment.name = "checkout";
  a.experiment.description = "Two \"steps\"\nand a newline";
  a.experiment.variations = std::vector<Variation>{
      Variation{"old", true, 33.334, std::nullopt, VariationValue{false, {}}},
      Variation{"new", false, 66.666, std::string("the new one"), VariationValue{true, {{"value", std::string("blue")}}}}};
  a.experiment.exposure = 12.5;
  a.experiment.overrides = std::vector<std::pair<std::string, std::string>>{{"user: 1", "new"}};
  a.experiment.status = ExperimentStatus::stopped;
  a.experiment.result = ExperimentResult{std::nullopt, std::string("new won"), std::nullopt, std::nullopt};
  a.source = {{"vendor", "somevendor"}, {"feature", "checkout"}};
  a.create = {{"flag", "checkout"}};
  ImportedExperiment b;
  b.key = "banner";
  b.experiment.status = ExperimentStatus::draft;
  b.source = {{"vendor", "somevendor"}};
  b.create = {{"flag", "banner"}};
  r.experiments = {a, b};
  r.losses.fields.push_back(FieldCarriage{"checkout", "exposure", Carriage::converted, "somevendor.scale", "12500", "12.5 %", "", "f:1"});
  r.losses.fields.push_back(FieldCarriage{"checkout", "somevendor.tags", Carriage::lost, "somevendor.tags", "", "", "no tags", "f:2"});
  return r;
}

TEST(ImportFolder, WritesOneUpdateDocumentPerExperimentThatParsesBackToTheSameUpdate) {
  TempDir dir;
  const ImportResult r = two_experiments();
  ASSERT_TRUE(write_import_folder(dir.path.string(), r));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"banner.yaml", "bindings.yaml", "checkout.yaml", "loss-report.json",
                                             "loss-report.txt"}));
  auto u = load_update((dir.path / "checkout.yaml").string());
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(u->experiment, "checkout");
  EXPECT_EQ(u->description, "Two \"steps\"\nand a newline");
  ASSERT_EQ(u->variations->size(), 2u);
  EXPECT_TRUE((*u->variations)[0].control);
  EXPECT_DOUBLE_EQ((*u->variations)[1].weight, 66.666);
  EXPECT_EQ((*u->variations)[1].description, "the new one");
  EXPECT_EQ(std::get<std::string>((*u->variations)[1].value->attributes.front().second), "blue");
  EXPECT_DOUBLE_EQ(*u->exposure, 12.5);
  EXPECT_EQ(u->overrides->front().first, "user: 1");
  EXPECT_EQ(u->action, Action::stop);
  EXPECT_EQ(u->result->summary, "new won");
  auto draft = load_update((dir.path / "banner.yaml").string());
  ASSERT_TRUE(draft) << draft.error().describe();
  EXPECT_FALSE(draft->action);

  auto bindings = load_document((dir.path / "bindings.yaml").string());
  ASSERT_TRUE(bindings) << bindings.error().describe();
  EXPECT_EQ(bindings->root.at("experiments").at("checkout").at("create").at("flag").as_string(), "checkout");
  EXPECT_EQ(bindings->root.at("experiments").at("checkout").at("source").at("feature").as_string(), "checkout");
  EXPECT_EQ(slurp(dir.path / "loss-report.txt"), loss_report_to_text(r.losses));
  auto json = load_document((dir.path / "loss-report.json").string());
  ASSERT_TRUE(json);
  EXPECT_EQ(json->root, loss_report_to_json(r.losses));
}

TEST(ImportFolder, ReplacesAnEarlierImportLeavingNoneOfItsExperiments) {
  TempDir dir;
  ASSERT_TRUE(write_import_folder(dir.path.string(), two_experiments()));
  ImportResult second = two_experiments();
  second.experiments.pop_back();  // banner is gone at the source
  ASSERT_TRUE(write_import_folder(dir.path.string(), second));
  EXPECT_FALSE(fs::exists(dir.path / "banner.yaml"));
  EXPECT_TRUE(fs::exists(dir.path / "checkout.yaml"));
}

TEST(ImportFolder, RefusesAFolderThatIsNotAnEarlierImportAndWritesNothing) {
  TempDir dir;
  fs::create_directories(dir.path);
  std::ofstream(dir.path / "notes.md") << "mine";
  auto written = write_import_folder(dir.path.string(), two_experiments());
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().file, dir.path.string());
  EXPECT_NE(written.error().message.find("notes.md is not a file import writes"), std::string::npos) << written.error().message;
  EXPECT_FALSE(fs::exists(dir.path / "checkout.yaml"));

  TempDir yaml_only;
  fs::create_directories(yaml_only.path);
  std::ofstream(yaml_only.path / "config.yaml") << "backends: {}\n";
  auto refused = write_import_folder(yaml_only.path.string(), two_experiments());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not an earlier import folder"), std::string::npos);
  EXPECT_EQ(slurp(yaml_only.path / "config.yaml"), "backends: {}\n");
}

TEST(ImportFolder, RefusesAKeyThatIsNoFileOfTheFolder) {
  for (const char* key : {"../escape", "bindings", "", "a/b"}) {
    TempDir dir;
    ImportResult r = two_experiments();
    r.experiments.front().key = key;
    auto written = write_import_folder(dir.path.string(), r);
    ASSERT_FALSE(written) << key;
    EXPECT_FALSE(fs::exists(dir.path / "bindings.yaml")) << key;
  }
}

TEST(ImportLookup, AVendorWithoutAnImporterIsRefusedListingThoseWithOne) {
  int calls = 0;
  std::vector<VendorImporter> importers = {{"somevendor", [&](const std::vector<ImportFile>&, const ImportOptions&) {
                                              ++calls;
                                              return Result<ImportResult>(ImportResult{});
                                            }}};
  auto r = import_vendor_files("appconfig", {}, importers);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::invalid_input);
  EXPECT_EQ(r.error().message, "'appconfig' has no importer; vendors with one: somevendor");
  EXPECT_EQ(calls, 0);
  // The built-in list holds evidently's.
  ASSERT_EQ(builtin_importers().size(), 1u);
  EXPECT_EQ(builtin_importers().front().vendor, "evidently");
}

TEST(ImportRules, ATableRuleMissingWhatTheReportNeedsIsRefused) {
  auto doc = parse_document(R"(
rules:
  tags:
    field: x.tags
    carriage: lost
    what: tags are lost
    why: no field
    example: {files: []}
)", "t.yaml");
  ASSERT_TRUE(doc);
  auto rules = parse_import_rules(doc->root);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().field, "import.rules.tags.reason");
  auto carried = parse_document("rules: {a: {field: f, carriage: carried, what: w, why: y, example: {}}}", "t.yaml");
  ASSERT_TRUE(carried);
  auto refused = parse_import_rules(carried->root);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "import.rules.a.carriage");
}

TEST(ImportRules, ATableWithABrokenImportSectionDoesNotLoad) {
  std::ifstream in(std::string(EXPBRIDGE_SOURCE_DIR) + "/mappings/evidently.yaml", std::ios::binary);
  std::string table((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(MappingTable::parse(table, "evidently.yaml"));
  const std::string rule = "    weights_thousandths:\n      field: variations.weight\n      carriage: converted\n";
  ASSERT_NE(table.find(rule), std::string::npos);
  table.replace(table.find(rule), rule.size(), "    weights_thousandths:\n      field: variations.weight\n      carriage: kept\n");
  auto refused = MappingTable::parse(table, "evidently.yaml");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "import.rules.weights_thousandths.carriage");
  EXPECT_GT(refused.error().line, 0);
}

}  // namespace
}  // namespace expbridge
