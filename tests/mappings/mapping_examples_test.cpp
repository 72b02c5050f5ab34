// Every worked example of every mapping table must still hold.
#include <gtest/gtest.h>

#include "mapping_examples.hpp"

namespace expbridge {
namespace {

struct ExampleCase {
  ExampleOutcome outcome;
};

std::vector<ExampleCase> all_examples() {
  std::vector<ExampleCase> out;
  for (const auto& vendor : Registry::builtin().vendors()) {
    auto outcomes = run_mapping_examples(vendor);
    if (!outcomes) {
      out.push_back({ExampleOutcome{vendor, "table loads", false, outcomes.error().describe(), std::nullopt}});
      continue;
    }
    for (auto& o : *outcomes) out.push_back({std::move(o)});
  }
  return out;
}

class MappingExample : public ::testing::TestWithParam<ExampleCase> {};

TEST_P(MappingExample, Holds) {
  const auto& o = GetParam().outcome;
  EXPECT_TRUE(o.passed) << o.vendor << ": " << o.name << ": " << o.detail;
}

std::string example_name(const ::testing::TestParamInfo<ExampleCase>& info) {
  std::string name = info.param.outcome.vendor + "_" + std::to_string(info.index);
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllTables, MappingExample, ::testing::ValuesIn(all_examples()), example_name);

TEST(MappingTables, EveryVendorHasAtLeastEightExamples) {
  for (const auto& vendor : Registry::builtin().vendors()) {
    auto outcomes = run_mapping_examples(vendor);
    ASSERT_TRUE(outcomes) << outcomes.error().describe();
    EXPECT_GE(outcomes->size(), 8u) << vendor;
  }
}

TEST(MappingTables, EveryRegisteredVendorHasAnEmbeddedTable) {
  auto embedded = embedded_mapping_vendors();
  for (const auto& vendor : Registry::builtin().vendors())
    EXPECT_NE(std::find(embedded.begin(), embedded.end(), vendor), embedded.end()) << vendor;
}

}  // namespace
}  // namespace expbridge
