// The neutral update document: parsing, typing and every neutral rule.
#include <gtest/gtest.h>

#include <cmath>

#include "document.hpp"
#include "expbridge/update.hpp"

namespace expbridge {
namespace {

constexpr const char* kFull = R"(experiment: checkout-redesign
name: Checkout redesign
description: Two-step checkout
hypothesis: Fewer steps raise conversion
launch_criteria: +2% conversion at 95% confidence
audience:
  rule: '(eq $country "US")'
  description: US web users
variations:
  - key: control
    control: true
    weight: 50
    value: {enabled: false}
  - key: two-step
    weight: 50
    description: new flow
    value: {enabled: true, attributes: {steps: 2, theme: "blue", flags: [a, b], sizes: [1, 2.5], beta: true}}
exposure: 75
overrides:
  user-123: two-step
  user-456: control
action: stop
result:
  winner: two-step
  summary: Two-step won
  reasons_to_launch: +3.1% conversion
  reasons_not_to_launch: none
comment: raise exposure after review
vendor:
  appconfig: {DeploymentParameters: {Tags: {team: checkout}}}
)";

Error parse_error(std::string_view text) {
  auto u = parse_update(text, "u.yaml");
  EXPECT_FALSE(u) << "expected a refusal";
  return u ? Error{} : u.error();
}

TEST(Update, ParsesEveryFieldOfTheSchema) {
  auto u = parse_update(kFull, "u.yaml");
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(u->experiment, "checkout-redesign");
  EXPECT_EQ(u->name, "Checkout redesign");
  EXPECT_EQ(u->description, "Two-step checkout");
  EXPECT_EQ(u->hypothesis, "Fewer steps raise conversion");
  EXPECT_EQ(u->launch_criteria, "+2% conversion at 95% confidence");
  ASSERT_TRUE(u->audience);
  EXPECT_EQ(u->audience->rule, R"((eq $country "US"))");
  EXPECT_EQ(u->audience->description, "US web users");
  ASSERT_TRUE(u->variations);
  ASSERT_EQ(u->variations->size(), 2u);
  const auto& control = (*u->variations)[0];
  EXPECT_EQ(control.key, "control");
  EXPECT_TRUE(control.control);
  EXPECT_EQ(control.weight, 50);
  ASSERT_TRUE(control.value);
  EXPECT_FALSE(control.value->enabled);
  const auto& two = (*u->variations)[1];
  EXPECT_FALSE(two.control);
  EXPECT_EQ(two.description, "new flow");
  ASSERT_TRUE(two.value);
  ASSERT_EQ(two.value->attributes.size(), 5u);
  EXPECT_EQ(two.value->attributes[0].first, "steps");
  EXPECT_EQ(std::get<double>(two.value->attributes[0].second), 2);
  EXPECT_EQ(std::get<std::string>(two.value->attributes[1].second), "blue");
  EXPECT_EQ(std::get<std::vector<std::string>>(two.value->attributes[2].second), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(std::get<std::vector<double>>(two.value->attributes[3].second), (std::vector<double>{1, 2.5}));
  EXPECT_EQ(std::get<bool>(two.value->attributes[4].second), true);
  EXPECT_EQ(u->exposure, 75);
  ASSERT_TRUE(u->overrides);
  EXPECT_EQ(u->overrides->size(), 2u);
  EXPECT_EQ((*u->overrides)[0], (std::pair<std::string, std::string>{"user-123", "two-step"}));
  EXPECT_EQ(u->action, Action::stop);
  ASSERT_TRUE(u->result);
  EXPECT_EQ(u->result->winner, "two-step");
  EXPECT_EQ(u->result->reasons_not_to_launch, "none");
  EXPECT_EQ(u->comment, "raise exposure after review");
  EXPECT_TRUE(u->vendor.contains("appconfig"));
  EXPECT_EQ(u->source, "u.yaml");
}

TEST(Update, JsonAndYamlReadTheSame) {
  auto y = parse_update("experiment: e\nexposure: 12.5\noverrides: {u1: a}\n", "u.yaml");
  auto j = parse_update(R"({"experiment": "e", "exposure": 12.5, "overrides": {"u1": "a"}})", "u.json");
  ASSERT_TRUE(y && j);
  EXPECT_EQ(y->exposure, j->exposure);
  EXPECT_EQ(*y->overrides, *j->overrides);
}

TEST(Update, AbsentFieldsStayAbsent) {
  auto u = parse_update("experiment: e\n", "u.yaml");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->name || u->description || u->variations || u->exposure || u->overrides || u->action || u->result);
}

TEST(Update, QuotedNumbersAreStrings) {
  auto u = parse_update("experiment: e\nname: '123'\n", "u.yaml");
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(u->name, "123");
  Error e = parse_error("experiment: e\nname: 123\n");
  EXPECT_EQ(e.field, "name");
  EXPECT_NE(e.message.find("must be a string"), std::string::npos);
}

TEST(Update, ExperimentIsRequired) {
  Error e = parse_error("name: x\n");
  EXPECT_EQ(e.field, "experiment");
  EXPECT_NE(e.message.find("required"), std::string::npos);
}

TEST(Update, UnknownFieldIsRefusedWithASuggestion) {
  Error e = parse_error("experiment: e\nexposre: 10\n");
  EXPECT_EQ(e.code, ErrorCode::invalid_input);
  EXPECT_EQ(e.field, "exposre");
  EXPECT_NE(e.message.find("unknown field 'exposre'"), std::string::npos);
  EXPECT_NE(e.message.find("did you mean 'exposure'"), std::string::npos);
  EXPECT_EQ(e.file, "u.yaml");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 1);
}

TEST(Update, UnknownNestedFieldsAreRefused) {
  EXPECT_EQ(parse_error("experiment: e\naudience: {rul: x}\n").field, "audience.rul");
  EXPECT_EQ(parse_error("experiment: e\nresult: {winer: a}\naction: stop\n").field, "result.winer");
  Error v = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, colour: red}\n");
  EXPECT_EQ(v.field, "variations[0].colour");
  EXPECT_EQ(v.line, 3);
  EXPECT_EQ(parse_error("experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {enabled: true, attrs: {}}}\n").field,
            "variations[0].value.attrs");
}

TEST(Update, MalformedYamlNamesLineAndColumn) {
  Error e = parse_error("experiment: e\nvariations: [\n  {key: a\n");
  EXPECT_EQ(e.file, "u.yaml");
  EXPECT_GT(e.line, 0);
  EXPECT_GT(e.column, 0);
  EXPECT_NE(e.message.find("malformed"), std::string::npos);
}

TEST(Update, MalformedJsonNamesLineAndColumn) {
  Error e = parse_error("{\"experiment\": \"e\",\n \"exposure\": 10,,\n}");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 17);
  EXPECT_NE(e.message.find("malformed JSON"), std::string::npos);
  Error missing_comma = parse_error("{\"experiment\": \"e\",\n \"exposure\": 10\n \"name\": \"x\"}");
  EXPECT_EQ(missing_comma.line, 3);
}

TEST(Update, FlowStyleYamlIsNotMistakenForJson) {
  auto u = parse_update("{experiment: e, exposure: 5}", "u.yaml");
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_EQ(u->exposure, 5);
}

TEST(Update, DuplicateKeysAreRefused) {
  Error e = parse_error("experiment: e\nexposure: 10\nexposure: 20\n");
  EXPECT_NE(e.message.find("duplicate key"), std::string::npos);
  EXPECT_EQ(e.line, 3);
}

TEST(Update, SeveralDocumentsAreRefused) {
  Error e = parse_error("experiment: a\n---\nexperiment: b\n");
  EXPECT_NE(e.message.find("one document"), std::string::npos);
}

TEST(Update, ExposureOutOfRangeIsRefused) {
  for (const char* value : {"-1", "100.5", "1000"}) {
    Error e = parse_error(std::string("experiment: e\nexposure: ") + value + "\n");
    EXPECT_EQ(e.field, "exposure") << value;
    EXPECT_NE(e.message.find("0..100"), std::string::npos) << value;
    EXPECT_EQ(e.line, 2) << value;
  }
}

TEST(Update, ExposureMustBeANumber) {
  Error e = parse_error("experiment: e\nexposure: lots\n");
  EXPECT_EQ(e.field, "exposure");
  EXPECT_NE(e.message.find("must be a number"), std::string::npos);
  EXPECT_EQ(parse_error("experiment: e\nexposure: '50'\n").field, "exposure");
}

TEST(Update, NaNAndInfinityAreRefused) {
  for (const char* value : {".nan", ".inf", "-.inf", "1e999"}) {
    Error e = parse_error(std::string("experiment: e\nexposure: ") + value + "\n");
    EXPECT_EQ(e.field, "exposure") << value;
    EXPECT_NE(e.message.find("finite"), std::string::npos) << value << ": " << e.message;
  }
  Error w = parse_error("experiment: e\nvariations:\n  - {key: a, control: true, weight: .nan}\n");
  EXPECT_EQ(w.field, "variations[0].weight");
  Error a = parse_error("experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {enabled: true, attributes: {x: .inf}}}\n");
  EXPECT_EQ(a.field, "variations[0].value.attributes.x");
}

TEST(Update, WeightsMustSumToOneHundred) {
  Error e = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 50}\n  - {key: b, weight: 40}\n");
  EXPECT_EQ(e.field, "variations");
  EXPECT_NE(e.message.find("sum to 100"), std::string::npos);
  EXPECT_NE(e.message.find("90"), std::string::npos);
  EXPECT_EQ(e.line, 2);
}

TEST(Update, WeightsWithinTheToleranceAreAccepted) {
  auto u = parse_update(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 33.3333}\n  - {key: b, weight: 33.3333}\n"
      "  - {key: c, weight: 33.3334}\n",
      "u.yaml");
  ASSERT_TRUE(u) << u.error().describe();
  EXPECT_FALSE(parse_update(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 50}\n  - {key: b, weight: 50.01}\n", "u.yaml"));
}

TEST(Update, WeightOutsideZeroToHundredIsRefused) {
  Error e = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 150}\n  - {key: b, weight: -50}\n");
  EXPECT_EQ(e.field, "variations[0].weight");
}

TEST(Update, ExactlyOneControl) {
  Error none = parse_error("experiment: e\nvariations:\n  - {key: a, weight: 50}\n  - {key: b, weight: 50}\n");
  EXPECT_NE(none.message.find("exactly one variation must be the control"), std::string::npos);
  EXPECT_NE(none.message.find("found 0"), std::string::npos);
  Error two = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 50}\n  - {key: b, control: true, weight: 50}\n");
  EXPECT_NE(two.message.find("found 2"), std::string::npos);
}

TEST(Update, DuplicateVariationKeysAreRefused) {
  Error e = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 50}\n  - {key: a, weight: 50}\n");
  EXPECT_EQ(e.field, "variations[1].key");
  EXPECT_NE(e.message.find("duplicate variation key 'a'"), std::string::npos);
  EXPECT_EQ(e.line, 4);
}

TEST(Update, WeightIsRequired) {
  Error e = parse_error("experiment: e\nvariations:\n  - {key: a, control: true}\n");
  EXPECT_EQ(e.field, "variations[0].weight");
}

TEST(Update, OverrideNamingAnUnknownVariationIsRefused) {
  Error e = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 50}\n  - {key: b, weight: 50}\n"
      "overrides:\n  user-1: c\n");
  EXPECT_EQ(e.field, "overrides.user-1");
  EXPECT_NE(e.message.find("'c'"), std::string::npos);
  EXPECT_EQ(e.line, 6);
}

TEST(Update, OverrideValuesMustBeStrings) {
  EXPECT_EQ(parse_error("experiment: e\noverrides:\n  user-1: 3\n").field, "overrides.user-1");
}

TEST(Update, UnknownActionIsRefused) {
  Error e = parse_error("experiment: e\naction: launch\n");
  EXPECT_EQ(e.field, "action");
  EXPECT_NE(e.message.find("start, pause, stop, archive or restore"), std::string::npos);
}

TEST(Update, ResultOnlyWithStop) {
  Error e = parse_error("experiment: e\naction: start\nresult: {summary: x}\n");
  EXPECT_EQ(e.field, "result");
  EXPECT_NE(e.message.find("only with action: stop"), std::string::npos);
}

TEST(Update, ResultWinnerMustBeAVariation) {
  Error e = parse_error(
      "experiment: e\naction: stop\nvariations:\n  - {key: a, control: true, weight: 100}\nresult: {winner: z}\n");
  EXPECT_EQ(e.field, "result.winner");
}

TEST(Update, AttributeListsHoldOneType) {
  Error e = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {enabled: true, attributes: {x: [1, b]}}}\n");
  EXPECT_EQ(e.field, "variations[0].value.attributes.x");
  Error nested = parse_error(
      "experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {enabled: true, attributes: {x: {y: 1}}}}\n");
  EXPECT_EQ(nested.field, "variations[0].value.attributes.x");
}

TEST(Update, ValueNeedsEnabled) {
  Error e = parse_error("experiment: e\nvariations:\n  - {key: a, control: true, weight: 100, value: {}}\n");
  EXPECT_EQ(e.field, "variations[0].value.enabled");
}

TEST(Update, VendorBlocksAreMappings) {
  EXPECT_EQ(parse_error("experiment: e\nvendor: {appconfig: 3}\n").field, "vendor.appconfig");
}

TEST(Update, ValidateWorksOnUpdatesBuiltInCode) {
  Update u;
  u.experiment = "e";
  u.variations = std::vector<Variation>{{"a", true, 60, {}, {}}, {"b", false, 60, {}, {}}};
  auto ok = validate_update(u);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().field, "variations");
  u.variations->at(1).weight = 40;
  EXPECT_TRUE(validate_update(u));
}

TEST(Document, PlainScalarsFollowTheYaml12CoreSchema) {
  auto d = parse_document("a: 1\nb: 1.5\nc: true\nd: ~\ne: 0x1F\nf: yes\ng: '1'\nh: -7\ni: 1e3\n", "d.yaml");
  ASSERT_TRUE(d) << d.error().describe();
  const auto& o = d->root.as_object();
  EXPECT_TRUE(o.at("a").is_int64());
  EXPECT_TRUE(o.at("b").is_double());
  EXPECT_TRUE(o.at("c").is_bool());
  EXPECT_TRUE(o.at("d").is_null());
  EXPECT_EQ(o.at("e").as_int64(), 31);
  EXPECT_TRUE(o.at("f").is_string());  // YAML 1.1's yes/no are plain strings in 1.2
  EXPECT_TRUE(o.at("g").is_string());
  EXPECT_EQ(o.at("h").as_int64(), -7);
  EXPECT_EQ(o.at("i").as_double(), 1000);
}

TEST(Document, MarksPointAtNodes) {
  auto d = parse_document("a:\n  b:\n    - x\n    - y\n", "d.yaml");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->mark_of("a.b[1]").line, 4);
  EXPECT_EQ(d->mark_of("a.b[1]").column, 7);
  // Unknown paths fall back to the closest ancestor.
  EXPECT_EQ(d->mark_of("a.b[1].zzz").line, 4);
}

TEST(Document, IntegersBeyond64BitsAreRefusedNotRounded) {
  auto d = parse_document("a: 123456789012345678901234567890\n", "d.yaml");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("does not fit in 64 bits"), std::string::npos) << d.error().message;
  EXPECT_EQ(d.error().line, 1);
  auto decimal = parse_document("a: 123456789012345678901234567890.0\n", "d.yaml");
  ASSERT_TRUE(decimal) << decimal.error().describe();
  EXPECT_TRUE(decimal->root.as_object().at("a").is_double());
}

TEST(Document, ErrorDescriptionNamesFileLineField) {
  Error e = parse_error("experiment: e\nexposure: 200\n");
  std::string text = e.describe();
  EXPECT_NE(text.find("u.yaml:2:"), std::string::npos) << text;
  EXPECT_NE(text.find("exposure:"), std::string::npos) << text;
}

}  // namespace
}  // namespace expbridge
