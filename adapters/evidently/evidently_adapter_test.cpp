// The Evidently adapter: the rules the table's worked examples do not show well — every local
// refusal, ids that would change a URL, rounding of thousandths, secrets, auth and config errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>

#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"

namespace expbridge {
namespace {

constexpr std::string_view kBackend = "region: us-east-1, project: checkout";
constexpr std::string_view kBinding = "feature: checkout-redesign";
constexpr std::string_view kFeatureUrl =
    "https://evidently.us-east-1.amazonaws.com/projects/checkout/features/checkout-redesign";

std::string config_text(std::string_view backend, std::string_view binding) {
  return "backends:\n  ev: {vendor: evidently, " + std::string(backend) +
         "}\nexperiments:\n  checkout-redesign:\n    ev: {" + std::string(binding) + "}\n";
}

Result<Bridge> bridge_for(std::string_view backend = kBackend, std::string_view binding = kBinding) {
  return Bridge::from_text(config_text(backend, binding), "<evidently test>");
}

/// Plans `update` (YAML or JSON text, `experiment:` added) against one Evidently backend.
Result<BackendPlan> plan_for(std::string_view update, std::string_view backend = kBackend,
                             std::string_view binding = kBinding) {
  auto bridge = bridge_for(backend, binding);
  if (!bridge) return std::unexpected(std::move(bridge).error());
  auto parsed = parse_update("experiment: checkout-redesign\n" + std::string(update), "<update>");
  if (!parsed) return std::unexpected(std::move(parsed).error());
  auto plan = bridge->plan(*parsed);
  if (!plan) return std::unexpected(std::move(plan).error());
  return std::move(plan->backends.at(0));
}

template <class T>
void expect_refused(const Result<T>& result, std::string_view field, std::string_view rule) {
  ASSERT_FALSE(result) << "expected a refusal on " << field;
  EXPECT_EQ(result.error().code, ErrorCode::invalid_input) << result.error().describe();
  EXPECT_EQ(result.error().field, field) << result.error().describe();
  EXPECT_NE(result.error().message.find(rule), std::string::npos)
      << "message lacks '" << rule << "': " << result.error().describe();
}

std::string two_variations(std::string_view second_key = "two-step") {
  return "variations:\n"
         "  - {key: control, control: true, weight: 50, value: {enabled: false}}\n"
         "  - {key: '" +
         std::string(second_key) + "', weight: 50, value: {enabled: true}}\n";
}

/// `n` overrides as a JSON object member: entity ids `<prefix><i>` padded to `entity_length`.
std::string overrides_json(std::size_t n, std::size_t entity_length, std::string_view variation = "a") {
  std::string out = "{\"experiment\": \"checkout-redesign\", \"overrides\": {";
  for (std::size_t i = 0; i < n; ++i) {
    std::string entity = "u" + std::to_string(i);
    entity.resize(std::max(entity_length, entity.size()), 'x');
    out += (i ? ", \"" : "\"") + entity + "\": \"" + std::string(variation) + "\"";
  }
  return out + "}}";
}

Result<BackendPlan> plan_json(const std::string& update_json) {
  auto bridge = bridge_for();
  if (!bridge) return std::unexpected(std::move(bridge).error());
  auto parsed = parse_update(update_json, "<update>");
  if (!parsed) return std::unexpected(std::move(parsed).error());
  auto plan = bridge->plan(*parsed);
  if (!plan) return std::unexpected(std::move(plan).error());
  return std::move(plan->backends.at(0));
}

const boost::json::object& body(const PlannedRequest& r) { return r.body.value().as_object(); }

// ---------------------------------------------------------------------------------------------
// Local refusals: one rule each, the field named, the message naming the rule.

/// `count` variations `a`, `b`, ... (`a` the control), each with a value, weights summing to 100.
std::string variations_of(int count) {
  std::string out = "variations:\n";
  for (int i = 0; i < count; ++i) {
    const int weight = i + 1 < count ? 100 / count : 100 - (count - 1) * (100 / count);
    out += "  - {key: " + std::string(1, static_cast<char>('a' + i)) + (i == 0 ? ", control: true" : "") +
           ", weight: " + std::to_string(weight) + ", value: {enabled: " + (i == 0 ? "false" : "true") + "}}\n";
  }
  return out;
}

TEST(EvidentlyRefusals, SixthVariation) {
  expect_refused(plan_for(variations_of(6)), "variations", "an Evidently feature holds at most 5 variations");
}

TEST(EvidentlyRefusals, FiveVariationsAreFine) {
  auto plan = plan_for(variations_of(5));
  ASSERT_TRUE(plan) << plan.error().describe();
  EXPECT_EQ(body(plan->requests.at(0)).at("addOrUpdateVariations").as_array().size(), 5u);
}

TEST(EvidentlyRefusals, VariationKeyPattern) {
  expect_refused(plan_for(two_variations("two step")), "variations[1].key", "Evidently variation name");
}

TEST(EvidentlyRefusals, VariationKeyLength) {
  expect_refused(plan_for(two_variations(std::string(128, 'k'))), "variations[1].key", "1..127");
}

TEST(EvidentlyRefusals, DescriptionLength) {
  auto refused = plan_for("description: '" + std::string(161, 'd') + "'");
  expect_refused(refused, "description", "160 characters");
  EXPECT_EQ(refused.error().operation, "UpdateFeature");
  EXPECT_TRUE(plan_for("description: '" + std::string(160, 'd') + "'"));
}

TEST(EvidentlyRefusals, OverrideCount) {
  expect_refused(plan_json(overrides_json(2501, 1)), "overrides", "2500 entries");
  EXPECT_TRUE(plan_json(overrides_json(2500, 1)));
}

TEST(EvidentlyRefusals, OverrideBytesCountSixPerEntry) {
  // 505-character ids + 1-character variation + 6 bytes overhead = 512 bytes an entry; 80 entries = 40 KB exactly.
  auto at_limit = plan_json(overrides_json(80, 505));
  ASSERT_TRUE(at_limit) << at_limit.error().describe();
  expect_refused(plan_json(overrides_json(81, 505)), "overrides", "40 KB");
}

TEST(EvidentlyRefusals, OverrideEntityLength) {
  std::string entity(513, 'e');
  expect_refused(plan_for("overrides: {" + entity + ": a}"), "overrides." + entity, "1..512");
  EXPECT_TRUE(plan_for("overrides: {" + std::string(512, 'e') + ": a}"));
}

TEST(EvidentlyRefusals, OverrideVariationPattern) {
  expect_refused(plan_for("overrides: {user-1: 'two/step'}"), "overrides.user-1", "Evidently variation name");
}

TEST(EvidentlyRefusals, RemoveVariationsCount) {
  expect_refused(plan_for("vendor: {evidently: {removeVariations: [a, b, c, d, e, f]}}"),
                 "vendor.evidently.removeVariations", "at most 5 names");
}

TEST(EvidentlyRefusals, RemoveVariationsMustBeAList) {
  expect_refused(plan_for("vendor: {evidently: {removeVariations: legacy}}"), "vendor.evidently.removeVariations",
                 "list of variation names");
}

TEST(EvidentlyRefusals, RemoveVariationsNamePattern) {
  expect_refused(plan_for("vendor: {evidently: {removeVariations: ['old one']}}"),
                 "vendor.evidently.removeVariations[0]", "Evidently variation name");
  expect_refused(plan_for("vendor: {evidently: {removeVariations: [legacy, 3]}}"),
                 "vendor.evidently.removeVariations[1]", "a string");
}

TEST(EvidentlyRefusals, RemovingAVariationThisUpdateSets) {
  expect_refused(plan_for(two_variations() + "vendor: {evidently: {removeVariations: [legacy, control]}}"),
                 "vendor.evidently.removeVariations[1]", "also in this update's variations");
}

TEST(EvidentlyRefusals, RemovingAVariationAnOverrideServes) {
  expect_refused(plan_for("overrides: {qa-1: legacy}\nvendor: {evidently: {removeVariations: [legacy]}}"),
                 "vendor.evidently.removeVariations[0]", "served to override 'qa-1'");
}

TEST(EvidentlyRefusals, DefaultedTreatmentNameMustBeValid) {
  // The variation itself is skipped (attributes), but its key still names a treatment in the weights.
  auto plan = plan_for(
      "variations:\n"
      "  - {key: control, control: true, weight: 50, value: {enabled: false}}\n"
      "  - {key: 'two step', weight: 50, value: {enabled: true, attributes: {steps: 2}}}\n",
      kBackend, "feature: checkout-redesign, experiment: checkout-ab");
  expect_refused(plan, "variations[1].key", "Evidently treatment name");
  EXPECT_EQ(plan.error().operation, "UpdateExperiment") << "treatment names go with the weights";
}

TEST(EvidentlyRefusals, TwoVariationsOnOneTreatment) {
  auto plan = plan_for(two_variations(), kBackend,
                       "feature: checkout-redesign, experiment: checkout-ab, treatments: {control: two-step}");
  expect_refused(plan, "variations[1].key", "another variation already uses");
  EXPECT_EQ(plan.error().operation, "UpdateExperiment");
}

TEST(EvidentlyRefusals, NothingIsPlannedWhenOneRuleBreaks) {
  // The refusal is the whole answer: no partial plan with the valid description.
  auto plan = plan_for("description: fine\noverrides: {user-1: 'not valid'}");
  ASSERT_FALSE(plan);
}

// ---------------------------------------------------------------------------------------------
// Ids in URL paths.

TEST(EvidentlyIds, FeatureWithPathCharactersIsRefused) {
  for (std::string_view feature : {"a/b", "a?b", "a#b", "a%2Fb", "a b"}) {
    auto bridge = bridge_for(kBackend, "feature: '" + std::string(feature) + "'");
    expect_refused(bridge, "experiments.checkout-redesign.ev.feature", "Evidently feature name");
  }
}

TEST(EvidentlyIds, DotSegmentsAreRefusedThoughTheyMatchThePattern) {
  for (std::string_view feature : {".", ".."}) {
    auto bridge = bridge_for(kBackend, "feature: '" + std::string(feature) + "'");
    expect_refused(bridge, "experiments.checkout-redesign.ev.feature", "would change the path");
  }
  expect_refused(bridge_for(kBackend, "feature: f, experiment: '..'"), "experiments.checkout-redesign.ev.experiment",
                 "would change the path");
  expect_refused(bridge_for("region: us-east-1, project: '..'"), "backends.ev.project", "would change the path");
}

TEST(EvidentlyIds, ExperimentWithPathCharactersIsRefused) {
  expect_refused(bridge_for(kBackend, "feature: f, experiment: 'x/../y'"),
                 "experiments.checkout-redesign.ev.experiment", "Evidently experiment name");
  expect_refused(bridge_for(kBackend, "feature: f, experiment: 'x?y'"), "experiments.checkout-redesign.ev.experiment",
                 "Evidently experiment name");
}

TEST(EvidentlyIds, ProjectNameWithPathCharactersIsRefused) {
  for (std::string_view project : {"shop/x", "shop?x", "shop#x", "arn:aws:evidently:us-east-1:1:feature/x"})
    expect_refused(bridge_for("region: us-east-1, project: '" + std::string(project) + "'"), "backends.ev.project",
                   "name or a project ARN");
}

TEST(EvidentlyIds, ProjectArnIsOneEncodedSegment) {
  auto plan = plan_for("description: D", "region: us-east-1, project: 'arn:aws:evidently:us-east-1:123456789012:project/shop'",
                       "feature: checkout-redesign, experiment: ab-1");
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->requests.size(), 1u);
  EXPECT_EQ(plan->requests[0].url,
            "https://evidently.us-east-1.amazonaws.com/projects/"
            "arn%3Aaws%3Aevidently%3Aus-east-1%3A123456789012%3Aproject%2Fshop/features/checkout-redesign");

  auto exposure = plan_for("exposure: 10", "region: us-east-1, project: 'arn:aws:evidently:us-east-1:1:project/shop'",
                           "feature: checkout-redesign, experiment: ab-1");
  ASSERT_TRUE(exposure) << exposure.error().describe();
  EXPECT_EQ(exposure->requests.at(0).url,
            "https://evidently.us-east-1.amazonaws.com/projects/arn%3Aaws%3Aevidently%3Aus-east-1%3A1%3Aproject%2Fshop/"
            "experiments/ab-1");
}

// ---------------------------------------------------------------------------------------------
// Translation details.

TEST(EvidentlyPlan, OnlyFieldsThatMapMakeARequest) {
  auto plan = plan_for("name: N\nhypothesis: H\nlaunch_criteria: L\naudience: {rule: r, description: d}\ncomment: c");
  ASSERT_TRUE(plan) << plan.error().describe();
  EXPECT_TRUE(plan->requests.empty());
  EXPECT_EQ(plan->skipped.size(), 6u);
}

TEST(EvidentlyPlan, FeatureThenExperimentBothIdempotentThenTheStart) {
  auto plan = plan_for(two_variations() + "exposure: 40\naction: start", kBackend,
                       "feature: checkout-redesign, experiment: checkout-ab");
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->requests.size(), 3u);
  // StartExperiment last, once the weights and the rate are in place; a second start is a conflict.
  const auto start = plan->requests.back();
  plan->requests.pop_back();
  EXPECT_EQ(start.operation, "StartExperiment");
  EXPECT_EQ(start.method, "POST");
  EXPECT_FALSE(start.idempotent);
  EXPECT_GT(body(start).at("analysisCompleteTime").as_int64(), 0);
  EXPECT_EQ(plan->requests[0].operation, "UpdateFeature");
  EXPECT_EQ(plan->requests[0].method, "PATCH");
  EXPECT_EQ(plan->requests[0].url, kFeatureUrl);
  EXPECT_EQ(body(plan->requests[0]).at("evaluationStrategy"), "ALL_RULES");
  EXPECT_EQ(plan->requests[1].operation, "UpdateExperiment");
  EXPECT_EQ(plan->requests[1].url,
            "https://evidently.us-east-1.amazonaws.com/projects/checkout/experiments/checkout-ab");
  EXPECT_EQ(body(plan->requests[1]).at("samplingRate").as_int64(), 40000);
  for (const auto& r : plan->requests) {
    EXPECT_TRUE(r.idempotent) << r.operation;
    EXPECT_EQ(r.success_status, 200) << r.operation;
  }
}

TEST(EvidentlyPlan, WeightsAlwaysSumToExactlyOneHundredThousand) {
  struct Case {
    std::string variations;
    std::vector<std::int64_t> want;
  };
  const std::vector<Case> cases = {
      // Equal thirds (within the neutral tolerance): the first variation takes the missing unit.
      {"  - {key: a, control: true, weight: 33.3333, value: {enabled: false}}\n"
       "  - {key: b, weight: 33.3333, value: {enabled: true}}\n"
       "  - {key: c, weight: 33.3333, value: {enabled: true}}\n",
       {33334, 33333, 33333}},
      {"  - {key: a, control: true, weight: 100, value: {enabled: false}}\n"
       "  - {key: b, weight: 0, value: {enabled: true}}\n",
       {100000, 0}},
      // Fractions .9/.6/.5 lose 2 units: the two largest fractions get them.
      {"  - {key: a, control: true, weight: 12.3456, value: {enabled: false}}\n"
       "  - {key: b, weight: 45.6789, value: {enabled: true}}\n"
       "  - {key: c, weight: 41.9755, value: {enabled: true}}\n",
       {12346, 45679, 41975}},
      {"  - {key: a, control: true, weight: 19.9999, value: {enabled: false}}\n"
       "  - {key: b, weight: 20.0001, value: {enabled: true}}\n"
       "  - {key: c, weight: 20.00005, value: {enabled: true}}\n"
       "  - {key: d, weight: 19.99995, value: {enabled: true}}\n"
       "  - {key: e, weight: 20, value: {enabled: true}}\n",
       {20000, 20000, 20000, 20000, 20000}},
  };
  for (const auto& c : cases) {
    auto plan = plan_for("variations:\n" + c.variations, kBackend, "feature: f, experiment: x");
    ASSERT_TRUE(plan) << plan.error().describe();
    const auto& config = body(plan->requests.at(1)).at("onlineAbConfig").as_object();
    EXPECT_EQ(config.at("controlTreatmentName"), "a");
    const auto& weights = config.at("treatmentWeights").as_object();
    ASSERT_EQ(weights.size(), c.want.size());
    std::int64_t sum = 0;
    std::size_t i = 0;
    for (const auto& [name, value] : weights) {
      EXPECT_EQ(value.as_int64(), c.want[i]) << c.variations << " treatment " << name;
      sum += value.as_int64();
      ++i;
    }
    EXPECT_EQ(sum, 100000) << c.variations;
  }
}

TEST(EvidentlyPlan, ExposureIsRoundedToThousandths) {
  for (auto [percent, want] : std::vector<std::pair<std::string, std::int64_t>>{
           {"0", 0}, {"0.0004", 0}, {"0.0006", 1}, {"12.3456", 12346}, {"99.9996", 100000}, {"100", 100000}}) {
    auto plan = plan_for("exposure: " + percent, kBackend, "feature: f, experiment: x");
    ASSERT_TRUE(plan) << plan.error().describe();
    ASSERT_EQ(plan->requests.size(), 1u);
    EXPECT_EQ(body(plan->requests[0]).at("samplingRate").as_int64(), want) << percent;
  }
}

TEST(EvidentlyPlan, TreatmentNamesComeFromTheBindingElseTheKey) {
  auto plan = plan_for(two_variations(), kBackend, "feature: f, experiment: x, treatments: {two-step: T1, unused: U}");
  ASSERT_TRUE(plan) << plan.error().describe();
  const auto& config = body(plan->requests.at(1)).at("onlineAbConfig").as_object();
  EXPECT_EQ(config.at("controlTreatmentName"), "control");
  EXPECT_EQ(config.at("treatmentWeights").as_object().at("T1").as_int64(), 50000);
  EXPECT_EQ(config.at("treatmentWeights").as_object().at("control").as_int64(), 50000);
}

TEST(EvidentlyPlan, SkipReasonsComeFromTheTable) {
  auto table = load_mapping_table("evidently");
  ASSERT_TRUE(table) << table.error().describe();
  auto plan = plan_for(
      "variations:\n"
      "  - {key: control, control: true, weight: 50}\n"
      "  - {key: two-step, weight: 50, value: {enabled: true, attributes: {theme: blue}}}\n"
      "exposure: 10\naction: pause");
  ASSERT_TRUE(plan) << plan.error().describe();
  const auto& variations = (*table)->field("variations").skip_values;
  ASSERT_EQ(plan->skipped.size(), 4u);
  EXPECT_EQ(plan->skipped[0].field, "variations[control]");
  EXPECT_EQ(plan->skipped[0].reason, variations.at("no_value") + "; " + variations.at("control"));
  EXPECT_EQ(plan->skipped[1].field, "variations[two-step]");
  EXPECT_EQ(plan->skipped[1].reason, variations.at("attributes"));
  EXPECT_EQ(plan->skipped[2].field, "exposure");
  EXPECT_EQ(plan->skipped[2].reason, (*table)->field("exposure").skip_values.at("no_experiment"));
  EXPECT_EQ(plan->skipped[3].field, "action.pause");
  EXPECT_EQ(plan->skipped[3].reason, (*table)->field("action").skip_values.at("pause"));
  // Nothing expressible: no addOrUpdateVariations (it takes 1..5 items), no defaultVariation, no request.
  EXPECT_TRUE(plan->requests.empty());
}

TEST(EvidentlyPlan, NotesExplainWeightsAndRemoval) {
  auto plan = plan_for(two_variations());
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->notes.size(), 2u);
  EXPECT_NE(plan->notes[0].find("weights are not sent"), std::string::npos) << plan->notes[0];
  EXPECT_NE(plan->notes[1].find("vendor.evidently.removeVariations"), std::string::npos) << plan->notes[1];

  auto removing = plan_for(two_variations() + "vendor: {evidently: {removeVariations: [legacy]}}", kBackend,
                           "feature: f, experiment: x");
  ASSERT_TRUE(removing) << removing.error().describe();
  ASSERT_EQ(removing->notes.size(), 1u);
  EXPECT_NE(removing->notes[0].find("sent as given"), std::string::npos) << removing->notes[0];
}

TEST(EvidentlyPlan, StrictRunRefusesAnExposureWithoutExperiment) {
  auto bridge = bridge_for();
  ASSERT_TRUE(bridge) << bridge.error().describe();
  auto update = parse_update("experiment: checkout-redesign\nexposure: 50", "<update>");
  ASSERT_TRUE(update);
  PlanOptions options;
  options.strict = true;
  auto plan = bridge->plan(*update, options);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::unsupported);
  EXPECT_EQ(plan.error().field, "exposure");
}

// ---------------------------------------------------------------------------------------------
// Secrets and auth.

TEST(EvidentlySecrets, PlanHoldsNothingSecretLike) {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
  ::setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLESESSIONTOKEN", 1);
  auto bridge = bridge_for("region: us-east-1, project: checkout, profile: migration",
                           "feature: checkout-redesign, experiment: checkout-ab");
  ASSERT_TRUE(bridge) << bridge.error().describe();
  auto update = parse_update(
      "experiment: checkout-redesign\ndescription: D\nexposure: 5\noverrides: {u1: control}\naction: start\n" +
          two_variations(),
      "<update>");
  ASSERT_TRUE(update) << update.error().describe();
  auto plan = bridge->plan(*update);
  ASSERT_TRUE(plan) << plan.error().describe();
  std::string text = plan_to_text(*plan);
  std::string json = boost::json::serialize(plan_to_json(*plan));
  for (const auto& r : plan->backends.at(0).requests)
    for (const auto& [name, value] : r.headers) EXPECT_EQ(name, "content-type");
  for (std::string_view secret : {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "FQoGZXIvYXdz", "Authorization",
                                  "authorization", "X-Amz-", "x-amz-", "Signature", "Credential="}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    EXPECT_EQ(json.find(secret), std::string::npos) << secret;
  }
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_SESSION_TOKEN");
}

TEST(EvidentlySecrets, APastedSecretInProfileIsNotEchoed) {
  auto bridge = bridge_for("region: us-east-1, project: checkout, profile: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'");
  expect_refused(bridge, "backends.ev.profile", "AWS profile name");
  EXPECT_EQ(bridge.error().describe().find("wJalrXUtnFEMI"), std::string::npos) << bridge.error().describe();
}

// ---------------------------------------------------------------------------------------------
// Config errors.

TEST(EvidentlyConfig, MissingSettings) {
  expect_refused(bridge_for("project: checkout"), "backends.ev.region", "is required");
  expect_refused(bridge_for("region: us-east-1"), "backends.ev.project", "is required");
}

TEST(EvidentlyConfig, BadRegion) {
  for (std::string_view region : {"US-EAST-1", "us-east-1.evil.com", "us-east", "us-east-1/x", "useast1", ""}) {
    auto bridge = bridge_for("region: '" + std::string(region) + "', project: checkout");
    ASSERT_FALSE(bridge) << region;
    EXPECT_EQ(bridge.error().field, "backends.ev.region") << region;
  }
  expect_refused(bridge_for("region: us-east-1.evil.com, project: checkout"), "backends.ev.region", "AWS region name");
}

TEST(EvidentlyConfig, BadProfile) {
  expect_refused(bridge_for("region: us-east-1, project: checkout, profile: 'my profile'"), "backends.ev.profile",
                 "AWS profile name");
}

TEST(EvidentlyConfig, BindingErrors) {
  expect_refused(bridge_for(kBackend, "experiment: x"), "experiments.checkout-redesign.ev.feature", "is required");
  expect_refused(bridge_for(kBackend, "feature: f, feture: g"), "experiments.checkout-redesign.ev.feture",
                 "unknown field");
  expect_refused(bridge_for(kBackend, "feature: f, treatments: {control: C}"),
                 "experiments.checkout-redesign.ev.treatments", "only with `experiment`");
  expect_refused(bridge_for(kBackend, "feature: f, experiment: x, treatments: {control: 3}"),
                 "experiments.checkout-redesign.ev.treatments.control", "a string");
  expect_refused(bridge_for(kBackend, "feature: f, experiment: x, treatments: {control: 'C/1'}"),
                 "experiments.checkout-redesign.ev.treatments.control", "Evidently treatment name");
  expect_refused(bridge_for(kBackend, "feature: f, experiment: x, treatments: {control: C, two-step: C}"),
                 "experiments.checkout-redesign.ev.treatments.two-step", "already bound");
  expect_refused(bridge_for(kBackend, "feature: '" + std::string(128, 'f') + "'"),
                 "experiments.checkout-redesign.ev.feature", "1..127");
}

TEST(EvidentlyConfig, EndpointOverride) {
  auto plan = plan_for("description: D", "region: us-east-1, project: checkout, endpoint: 'http://127.0.0.1:4566'");
  ASSERT_TRUE(plan) << plan.error().describe();
  EXPECT_EQ(plan->requests.at(0).url, "http://127.0.0.1:4566/projects/checkout/features/checkout-redesign");

  auto prefixed = plan_for("exposure: 1", "region: us-east-1, project: checkout, endpoint: 'https://proxy.example.com/evidently/'",
                           "feature: f, experiment: x");
  ASSERT_TRUE(prefixed) << prefixed.error().describe();
  EXPECT_EQ(prefixed->requests.at(0).url, "https://proxy.example.com/evidently/projects/checkout/experiments/x");

  // The region still signs the requests, so it is still required and checked.
  expect_refused(bridge_for("project: checkout, endpoint: 'http://127.0.0.1:4566'"), "backends.ev.region", "is required");
}

}  // namespace
}  // namespace expbridge
