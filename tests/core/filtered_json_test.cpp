// load_filtered_json: a JSON file read a member and an item at a time, keeping what is wanted,
// with the file's own positions.
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "filtered_json.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;

class FilteredJson : public ::testing::Test {
 protected:
  ~FilteredJson() override {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  Result<Document> load(const std::string& text) {
    std::ofstream(path_, std::ios::binary) << text;
    return load_filtered_json(path_.string(), [this](std::string_view member, const boost::json::value& item) {
      ++seen_;
      return member != "items" || (item.is_object() && item.get_object().contains("keep"));
    });
  }
  fs::path path_ = fs::temp_directory_path() / ("expbridge-filtered-" + std::to_string(::getpid()) + ".json");
  int seen_ = 0;
};

TEST_F(FilteredJson, KeepsWhatIsWantedWithTheFilesPositions) {
  auto doc = load("{\n  \"version\": 4,\n  \"items\": [\n    {\"drop\": 1},\n    {\"keep\": {\"a\": [1, 2]}},\n"
                  "    {\"drop\": 2}, {\"keep\": \"x\"}\n  ],\n  \"other\": [\"all\", \"kept\"]\n}\n");
  ASSERT_TRUE(doc) << doc.error().describe();
  EXPECT_EQ(write_json(doc->root), R"({"version":4,"items":[{"keep":{"a":[1,2]}},{"keep":"x"}],"other":["all","kept"]})");
  EXPECT_EQ(seen_, 6);
  // Paths count kept items; lines and columns are the file's.
  EXPECT_EQ(doc->mark_of("items[0].keep.a[1]").line, 5);
  EXPECT_EQ(doc->mark_of("items[0].keep.a[1]").column, 24);
  EXPECT_EQ(doc->mark_of("items[1].keep").line, 6);
  EXPECT_EQ(doc->mark_of("items[1].keep").column, 19);
  EXPECT_EQ(doc->mark_of("version").line, 2);
}

TEST_F(FilteredJson, MalformedOrTruncatedTextIsAnErrorWithItsPosition) {
  auto truncated = load("{\"items\": [{\"keep\": 1},\n {\"keep\": [1, 2");
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().file, path_.string());
  EXPECT_EQ(truncated.error().message, "malformed JSON: the file ends inside items[1] (truncated?)");
  EXPECT_EQ(truncated.error().line, 2);

  auto inside = load("{\"items\": [\n  {\"keep\": tru}\n]}");
  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error().line, 2);
  EXPECT_NE(inside.error().message.find("malformed JSON"), std::string::npos) << inside.error().describe();

  auto duplicate = load("{\"a\": 1, \"a\": 2}");
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().message, "duplicate key 'a'");
  EXPECT_EQ(duplicate.error().column, 10);

  auto trailing = load("{\"items\": [{\"keep\": 1},]}");
  ASSERT_FALSE(trailing);
  EXPECT_NE(trailing.error().message.find("expected a value"), std::string::npos) << trailing.error().describe();

  EXPECT_FALSE(load("[1, 2]"));
  EXPECT_FALSE(load("{\"a\": 1} {\"b\": 2}"));
  std::string deep = "{\"items\": [";
  for (int i = 0; i < 100; ++i) deep += "[";
  auto nested = load(deep);
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.error().message.find("deeper than 64"), std::string::npos) << nested.error().describe();
}

}  // namespace
}  // namespace expbridge
