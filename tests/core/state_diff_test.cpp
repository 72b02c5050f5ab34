#include "state_diff.hpp"

#include <gtest/gtest.h>

#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

Experiment held(double exposure, ExperimentStatus status) {
  Experiment e;
  e.experiment = "checkout-redesign";
  e.description = "First run";
  e.variations = std::vector<Variation>{{"control", true, 50, std::nullopt, VariationValue{false, {}}},
                                        {"two-step", false, 50, std::nullopt, VariationValue{true, {}}}};
  e.exposure = exposure;
  e.status = status;
  return e;
}

std::vector<BackendState> three_backends() {
  BackendState aws{"aws", "appconfig", held(25, ExperimentStatus::running), {}};
  BackendState ev{"ev", "evidently", held(25, ExperimentStatus::running), {"description"}};
  // Same set, listed in the vendor's own order.
  BackendState ld{"ld", "launchdarkly", held(25, ExperimentStatus::running), {"exposure"}};
  std::reverse(ld.state.variations->begin(), ld.state.variations->end());
  return {aws, ev, ld};
}

const FieldDiff* row(const ExperimentDiff& d, std::string_view name) {
  for (const auto& f : d.fields)
    if (f.field == name) return &f;
  return nullptr;
}

TEST(StateDiff, BackendsThatAgreeShowNoDifference) {
  const auto d = diff_states("checkout-redesign", three_backends());
  EXPECT_FALSE(d.differs()) << diff_to_text(d);
  ASSERT_NE(row(d, "exposure"), nullptr);
  EXPECT_EQ(row(d, "exposure")->backends[2].status, FieldStatus::not_expressible);
  EXPECT_EQ(row(d, "description")->backends[1].status, FieldStatus::not_expressible);
  EXPECT_EQ(row(d, "hypothesis"), nullptr) << "a field nobody holds is left out";
}

TEST(StateDiff, ADisagreementMarksEveryHolder) {
  auto states = three_backends();
  states[1].state.exposure = 40;  // someone widened it in Evidently's console
  const auto d = diff_states("checkout-redesign", states);
  EXPECT_TRUE(d.differs());
  const auto* exposure = row(d, "exposure");
  ASSERT_NE(exposure, nullptr);
  EXPECT_EQ(exposure->backends[0].status, FieldStatus::differs);
  EXPECT_EQ(exposure->backends[1].status, FieldStatus::differs);
  EXPECT_EQ(exposure->backends[1].value, 40.0);
  EXPECT_EQ(exposure->backends[2].status, FieldStatus::not_expressible);
  EXPECT_EQ(row(d, "variations")->backends[2].status, FieldStatus::equal);

  EXPECT_EQ(write_json(diff_to_json(d).at("fields").as_array()[2]),
            R"({"field":"exposure","backends":{"aws":{"value":25,"status":"differs"},"ev":{"value":40,"status":"differs"},)"
            R"("ld":{"value":null,"status":"not_expressible"}}})");
  const std::string text = diff_to_text(d);
  EXPECT_NE(text.find("checkout-redesign: differences"), std::string::npos) << text;
  EXPECT_NE(text.find("≠ 40"), std::string::npos) << text;
  EXPECT_NE(text.find("— not expressible"), std::string::npos) << text;
}

TEST(StateDiff, ADesiredDocumentComparesOnlyWhatItSets) {
  auto desired = parse_update("experiment: checkout-redesign\nexposure: 25\naction: stop\n", "desired.yaml");
  ASSERT_TRUE(desired);
  auto states = three_backends();
  states[0].state.status = ExperimentStatus::stopped;
  const auto d = diff_states("checkout-redesign", states, &*desired);
  ASSERT_EQ(d.fields.size(), 2u) << diff_to_text(d);
  EXPECT_EQ(d.fields[0].field, "exposure");
  EXPECT_EQ(*d.fields[0].desired, 25.0);
  EXPECT_EQ(d.fields[0].backends[0].status, FieldStatus::equal);
  EXPECT_EQ(d.fields[1].field, "status");
  EXPECT_EQ(*d.fields[1].desired, "stopped");
  EXPECT_EQ(d.fields[1].backends[0].status, FieldStatus::equal);
  EXPECT_EQ(d.fields[1].backends[1].status, FieldStatus::differs);
  EXPECT_EQ(d.fields[1].backends[1].value, "running");
  EXPECT_TRUE(d.differs());
  EXPECT_NE(diff_to_text(d).find("desired"), std::string::npos);
}

TEST(StateDiff, AFieldAbsentAtOneHolderDiffers) {
  auto states = three_backends();
  states[0].state.description.reset();  // expressible but nothing read
  states[2].state.description = "First run";
  const auto d = diff_states("checkout-redesign", states);
  const auto* description = row(d, "description");
  ASSERT_NE(description, nullptr);
  EXPECT_EQ(description->backends[0].status, FieldStatus::differs);
  EXPECT_TRUE(description->backends[0].value.is_null());
}

TEST(StateDiff, TextIsEscaped) {
  auto states = three_backends();
  states[0].state.description = "\x1b[2Jcleared";
  const auto text = diff_to_text(diff_states("checkout-redesign", states));
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
}

}  // namespace
}  // namespace expbridge
