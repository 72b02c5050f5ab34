#include "convergence.hpp"

#include <gtest/gtest.h>

#include "expbridge/update.hpp"

namespace expbridge {
namespace {

Update update_from(std::string_view yaml) {
  auto u = parse_update(yaml, "test.yaml");
  if (!u) ADD_FAILURE() << u.error().describe();
  return u ? *u : Update{};
}

// What a vendor holding the sample experiment, running, reads back as.
Experiment running_sample() {
  Experiment e;
  e.experiment = "checkout-redesign";
  e.name = "Checkout redesign";
  e.description = "First run";
  e.audience = Audience{"(eq $country \"US\")", std::nullopt};
  e.variations = std::vector<Variation>{
      {"two-step", false, 50, "new flow", VariationValue{true, {{"steps", 2.0}, {"theme", std::string("blue")}}}},
      {"control", true, 50, std::nullopt, VariationValue{false, {}}}};
  e.exposure = 25;
  e.overrides = std::vector<std::pair<std::string, std::string>>{{"qa-2", "control"}, {"qa-1", "two-step"}};
  e.status = ExperimentStatus::running;
  return e;
}

constexpr std::string_view kSameAsHeld = R"(experiment: checkout-redesign
name: Checkout redesign
description: First run
audience: {rule: '(eq $country "US")'}
variations:
  - {key: control, control: true, weight: 50, description: baseline, value: {enabled: false}}
  - key: two-step
    weight: 50
    description: new flow
    value: {enabled: true, attributes: {theme: blue, steps: 2}}
exposure: 25
overrides: {qa-1: two-step, qa-2: control}
action: start
comment: nothing new
)";

TEST(Convergence, EverythingAlreadyHeldLeavesNothingToSend) {
  auto c = converge(update_from(kSameAsHeld), running_sample());
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_TRUE(c->nothing_to_send());
  EXPECT_FALSE(c->remaining.comment) << "a comment alone is no change";
  // Schema order; a control's description the vendor does not hold is not compared.
  EXPECT_EQ(c->unchanged, (std::vector<std::string>{"name", "description", "audience.rule", "variations", "exposure",
                                                    "overrides", "action.start"}));
}

TEST(Convergence, OnlyWhatDiffersRemains) {
  auto c = converge(update_from("experiment: checkout-redesign\nexposure: 40\ndescription: First run\ncomment: wider\n"),
                    running_sample());
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_FALSE(c->nothing_to_send());
  EXPECT_EQ(c->remaining.exposure, 40);
  EXPECT_FALSE(c->remaining.description);
  EXPECT_EQ(c->remaining.comment, "wider") << "the comment goes with what is sent";
  EXPECT_EQ(c->unchanged, std::vector<std::string>{"description"});
}

TEST(Convergence, AVariationDifferenceResendsTheWholeSet) {
  auto held = running_sample();
  for (const char* changed : {"weight: 50 -> 60", "attribute", "control", "extra variation", "key"}) {
    std::string doc = std::string(kSameAsHeld);
    const std::string_view what = changed;
    if (what.starts_with("weight")) {
      doc.replace(doc.find("weight: 50, description: baseline"), 10, "weight: 40");
      doc.replace(doc.find("    weight: 50"), 14, "    weight: 60");
    } else if (what == "attribute") {
      doc.replace(doc.find("steps: 2"), 8, "steps: 3");
    } else if (what == "control") {
      doc.replace(doc.find("control: true, "), 15, "");
      doc.replace(doc.find("    weight: 50\n"), 0, "    control: true\n");
    } else if (what == "extra variation") {
      doc.replace(doc.find("exposure:"), 0, "  - {key: three, weight: 0}\n");
    } else {
      doc.replace(doc.find("key: control"), 12, "key: baseline");
      doc.replace(doc.find("qa-2: control"), 13, "qa-2: baseline");
    }
    auto c = converge(update_from(doc), held);
    ASSERT_TRUE(c) << changed << ": " << c.error().describe();
    EXPECT_TRUE(c->remaining.variations) << changed;
  }
}

TEST(Convergence, AFieldTheVendorDoesNotHoldStaysForTheAdapter) {
  auto c = converge(update_from("experiment: checkout-redesign\nhypothesis: h\nlaunch_criteria: l\n"), running_sample());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->remaining.hypothesis, "h");
  EXPECT_EQ(c->remaining.launch_criteria, "l");
  EXPECT_TRUE(c->unchanged.empty());
}

TEST(Convergence, HeldEmptyTextDiffersFromText) {
  auto held = running_sample();
  held.description = "";
  auto c = converge(update_from("experiment: checkout-redesign\ndescription: now set\n"), held);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->remaining.description, "now set");
}

TEST(Convergence, ActionsInEffectAreUnchanged) {
  struct Case {
    ExperimentStatus status;
    const char* action;
  };
  for (const auto& [status, action] : {Case{ExperimentStatus::running, "start"}, Case{ExperimentStatus::paused, "pause"},
                                       Case{ExperimentStatus::stopped, "stop"}, Case{ExperimentStatus::archived, "archive"},
                                       Case{ExperimentStatus::draft, "restore"}}) {
    Experiment held;
    held.status = status;
    auto c = converge(update_from("experiment: x\naction: " + std::string(action) + "\n"), held);
    ASSERT_TRUE(c) << action << ": " << c.error().describe();
    EXPECT_TRUE(c->nothing_to_send()) << action;
    EXPECT_EQ(c->unchanged, std::vector<std::string>{"action." + std::string(action)});
  }
}

TEST(Convergence, ActionsThatChangeTheStatusRemain) {
  for (const auto& [status, action] :
       std::vector<std::pair<ExperimentStatus, std::string>>{{ExperimentStatus::draft, "start"},
                                                             {ExperimentStatus::stopped, "start"},
                                                             {ExperimentStatus::running, "stop"},
                                                             {ExperimentStatus::running, "pause"},
                                                             {ExperimentStatus::stopped, "archive"},
                                                             {ExperimentStatus::archived, "restore"}}) {
    Experiment held;
    held.status = status;
    auto c = converge(update_from("experiment: x\naction: " + action + "\n"), held);
    ASSERT_TRUE(c) << action;
    EXPECT_EQ(c->remaining.action, parse_action(action)) << action << " while " << to_string(status);
  }
  // Status unknown: the action is the adapter's (and the vendor's) to judge.
  auto c = converge(update_from("experiment: x\naction: start\n"), Experiment{});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->remaining.action, Action::start);
}

TEST(Convergence, ForbiddenTransitionsAreRefusedNamingStateAndRule) {
  Experiment draft;
  draft.status = ExperimentStatus::draft;
  auto stop = converge(update_from("experiment: x\naction: stop\n"), draft);
  ASSERT_FALSE(stop);
  EXPECT_EQ(stop.error().code, ErrorCode::invalid_input);
  EXPECT_EQ(stop.error().field, "action");
  EXPECT_NE(stop.error().message.find("before any start"), std::string::npos) << stop.error().message;
  EXPECT_NE(stop.error().message.find("draft"), std::string::npos);

  Experiment archived;
  archived.status = ExperimentStatus::archived;
  for (const char* action : {"start", "stop"}) {
    auto c = converge(update_from("experiment: x\naction: " + std::string(action) + "\n"), archived);
    ASSERT_FALSE(c) << action;
    EXPECT_NE(c.error().message.find("archived"), std::string::npos);
  }
}

TEST(Convergence, AStoppedResultIsUnchangedOrRefused) {
  Experiment stopped;
  stopped.status = ExperimentStatus::stopped;
  stopped.result = ExperimentResult{"two-step", "Two-step won", std::nullopt, std::nullopt};
  auto same = converge(update_from("experiment: x\naction: stop\nresult: {winner: two-step, summary: Two-step won, "
                                   "reasons_to_launch: not kept by this vendor}\n"),
                       stopped);
  ASSERT_TRUE(same) << same.error().describe();
  EXPECT_TRUE(same->nothing_to_send());
  EXPECT_EQ(same->unchanged, (std::vector<std::string>{"action.stop", "result"}));

  auto other = converge(update_from("experiment: x\naction: stop\nresult: {winner: control}\n"), stopped);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().field, "result");
  EXPECT_NE(other.error().message.find("two-step"), std::string::npos);
}

TEST(Convergence, PassThroughIsAlwaysSent) {
  auto c = converge(update_from("experiment: checkout-redesign\ndescription: First run\nvendor: {appconfig: {X: 1}}\n"),
                    running_sample());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->nothing_to_send());
  EXPECT_TRUE(c->remaining.vendor.contains("appconfig"));
}

}  // namespace
}  // namespace expbridge
