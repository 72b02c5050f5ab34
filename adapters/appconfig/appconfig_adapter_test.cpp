// The AppConfig adapter: the translation rules the table's examples do not express well —
// every local refusal, path encoding, auth, configuration errors and request metadata.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <boost/json/object.hpp>

#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

constexpr const char* kBase = "https://appconfig.us-east-1.amazonaws.com";
constexpr const char* kRunPath = "/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns/1";

std::string config(std::string_view backend = "region: us-east-1, application: abc1234",
                   std::string_view binding = "definition: bsxyd7k, run: 1, treatments: {control: c, two-step: t1}") {
  return "backends:\n  aws: {vendor: appconfig, " + std::string(backend) + "}\nexperiments:\n  checkout-redesign:\n    aws: {" +
         std::string(binding) + "}\n";
}

Bridge bridge(const std::string& text = config()) {
  auto b = Bridge::from_text(text, "c.yaml");
  EXPECT_TRUE(b) << b.error().describe();
  if (!b) std::abort();
  return std::move(*b);
}

Error config_error(const std::string& text) {
  auto b = Bridge::from_text(text, "c.yaml");
  EXPECT_FALSE(b) << "the config was accepted";
  return b ? Error{} : b.error();
}

Update update(std::string_view body) {
  auto u = parse_update("experiment: checkout-redesign\n" + std::string(body), "u.yaml");
  EXPECT_TRUE(u) << u.error().describe();
  return u ? *u : Update{};
}

BackendPlan plan_of(std::string_view body, const Experiment* current = nullptr, const std::string& text = config()) {
  PlanOptions options;
  if (current) options.current.emplace_back("aws", current);
  auto p = bridge(text).plan(update(body), options);
  EXPECT_TRUE(p) << p.error().describe();
  if (!p || p->backends.empty()) return {};
  return p->backends[0];
}

Error plan_error(std::string_view body, const Experiment* current = nullptr, const std::string& text = config()) {
  PlanOptions options;
  if (current) options.current.emplace_back("aws", current);
  auto p = bridge(text).plan(update(body), options);
  EXPECT_FALSE(p) << "planned: " << (p ? write_json(plan_to_json(*p)) : "");
  if (p) return {};
  EXPECT_EQ(p.error().code, ErrorCode::invalid_input) << p.error().describe();
  EXPECT_EQ(p.error().backend, "aws");
  return p.error();
}

/// Plans through the adapter directly, bypassing the neutral checks, for vendor rules the
/// neutral model would already refuse (a negative weight).
Result<BackendPlan> adapter_plan(const Update& u) {
  static Bridge b = bridge();
  const Adapter* adapter = b.backends()[0].adapter;
  boost::json::object settings{{"definition", "bsxyd7k"}, {"run", 1}, {"treatments", boost::json::object{{"control", "c"}}}};
  auto binding = adapter->bind(settings, "experiments.x.aws");
  EXPECT_TRUE(binding) << binding.error().describe();
  return adapter->plan(u, **binding, PlanContext{});
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

std::string two_variations(const std::string& treatment_value) {
  return "variations:\n  - {key: control, control: true, weight: 50, value: {enabled: false}}\n"
         "  - {key: two-step, weight: 50, value: " + treatment_value + "}\n";
}

void expect_refused(const Error& e, const std::string& field, const std::string& rule) {
  EXPECT_EQ(e.field, field) << e.describe();
  EXPECT_NE(e.message.find(rule), std::string::npos) << "message lacks '" << rule << "': " << e.describe();
}

// --- the only-increase rule ---------------------------------------------------------------

TEST(AppConfigExposure, ALowerExposureIsRefusedNamingTheRuleAndBothNumbers) {
  Experiment current;
  current.exposure = 80;
  Error e = plan_error("exposure: 62.5\n", &current);
  expect_refused(e, "exposure", "AppConfig exposure may only increase");
  EXPECT_NE(e.message.find("62.5"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("80"), std::string::npos) << e.message;
}

TEST(AppConfigExposure, AnEqualOrHigherExposureIsSent) {
  Experiment current;
  current.exposure = 80;
  for (const char* body : {"exposure: 80\n", "exposure: 80.5\n"}) {
    auto p = plan_of(body, &current);
    ASSERT_EQ(p.requests.size(), 1u) << body;
    EXPECT_EQ(p.requests[0].operation, "UpdateExperimentRun");
  }
}

TEST(AppConfigExposure, UnknownStateIsNotChecked) {
  Experiment current;  // no exposure known
  EXPECT_EQ(plan_of("exposure: 1\n", &current).requests.size(), 1u);
  EXPECT_EQ(plan_of("exposure: 1\n").requests.size(), 1u);
}

TEST(AppConfigExposure, ANewRunMayStartLower) {
  Experiment current;
  current.exposure = 80;
  auto p = plan_of("action: start\nexposure: 5\n", &current);
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].operation, "StartExperimentRun");
}

// --- overrides ------------------------------------------------------------------------------

TEST(AppConfigOverrides, MoreThan32EntitiesAreRefused) {
  std::string body = "overrides:\n";
  for (int i = 0; i < 33; ++i) body += "  user-" + std::to_string(i) + ": two-step\n";
  expect_refused(plan_error(body), "overrides", "at most 32 entities");
  body = "overrides:\n";
  for (int i = 0; i < 32; ++i) body += "  user-" + std::to_string(i) + ": two-step\n";
  EXPECT_EQ(plan_of(body).requests.size(), 1u);
}

TEST(AppConfigOverrides, AnEntityIdLongerThan2048IsRefused) {
  std::string entity = repeat('e', 2049);
  // An explicit YAML key: plain keys stop at 1024 characters.
  expect_refused(plan_error("overrides:\n  ? " + entity + "\n  : control\n"), "overrides." + entity,
                 "override entity id is 1-2048 characters");
}

TEST(AppConfigOverrides, AVariationWithoutATreatmentKeyIsRefusedNamingTheBindingMap) {
  Error e = plan_error("overrides: {user-1: control, user-2: one-step}\n");
  expect_refused(e, "overrides.user-2", "no AppConfig treatment key for variation 'one-step'");
  EXPECT_NE(e.message.find("experiments.checkout-redesign.aws.treatments"), std::string::npos) << e.message;
}

TEST(AppConfigOverrides, AreTranslatedThroughTheBinding) {
  auto p = plan_of("overrides: {user-1: control, user-2: two-step}\n");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(write_json(*p.requests[0].body), R"({"TreatmentOverrides":{"Inline":{"user-1":"c","user-2":"t1"}}})");
}

// --- definition: variations -------------------------------------------------------------------

TEST(AppConfigVariations, OnlyAControlIsRefused) {
  expect_refused(plan_error("variations:\n  - {key: control, control: true, weight: 100, value: {enabled: false}}\n"),
                 "variations", "AppConfig takes 1-5 Treatments besides the Control");
}

TEST(AppConfigVariations, SixTreatmentsAreRefusedFiveAreSent) {
  auto body = [](int treatments) {
    std::string out = "variations:\n  - {key: control, control: true, weight: 40, value: {enabled: false}}\n";
    for (int i = 0; i < treatments; ++i)
      out += "  - {key: v" + std::to_string(i) + ", weight: " + std::to_string(60 / treatments) +
             ", value: {enabled: true}}\n";
    return out;
  };
  expect_refused(plan_error(body(6)), "variations", "1-5 Treatments");
  auto p = plan_of(body(5));
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].body->at("Treatments").as_array().size(), 5u);
}

TEST(AppConfigVariations, ANegativeWeightIsRefusedByTheVendorRule) {
  Update u;
  u.experiment = "x";
  u.variations = std::vector<Variation>{{"control", true, 50, {}, VariationValue{}}, {"b", false, -1, {}, VariationValue{}}};
  auto p = adapter_plan(u);
  ASSERT_FALSE(p);
  expect_refused(p.error(), "variations[1].weight", "AppConfig Weight is a float of at least 0");
}

TEST(AppConfigVariations, AVariationWithoutAValueIsRefused) {
  expect_refused(plan_error("variations:\n  - {key: control, control: true, weight: 50}\n"
                            "  - {key: two-step, weight: 50, value: {enabled: true}}\n"),
                 "variations[0].value", "requires a FlagValue");
}

TEST(AppConfigVariations, ATreatmentDescriptionOver1024IsRefused) {
  expect_refused(plan_error("variations:\n  - {key: control, control: true, weight: 50, value: {enabled: false}}\n"
                            "  - {key: two-step, weight: 50, description: " + repeat('d', 1025) +
                            ", value: {enabled: true}}\n"),
                 "variations[1].description", "treatment Description is at most 1024");
}

TEST(AppConfigVariations, MoreThan25AttributesAreRefused) {
  std::string attributes = "{enabled: true, attributes: {";
  for (int i = 0; i < 26; ++i) attributes += (i ? ", a" : "a") + std::to_string(i) + ": 1";
  expect_refused(plan_error(two_variations(attributes + "}}")), "variations[1].value.attributes",
                 "at most 25 AttributeValues");
}

TEST(AppConfigVariations, AttributeNamesFollowThePattern) {
  for (const std::string& name : {std::string("enabled"), std::string("Theme"), std::string("9lives"), "a" + repeat('b', 64)}) {
    SCOPED_TRACE(name);
    expect_refused(plan_error(two_variations("{enabled: true, attributes: {" + name + ": x}}")),
                   "variations[1].value.attributes." + name, "AppConfig attribute name");
  }
  for (const std::string& name : {std::string("enabledx"), std::string("a"), std::string("theme_Color-2"), "a" + repeat('b', 63)}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(plan_of(two_variations("{enabled: true, attributes: {" + name + ": x}}")).requests.size(), 1u);
  }
}

TEST(AppConfigVariations, AttributeStringsAndArraysHaveLimits) {
  expect_refused(plan_error(two_variations("{enabled: true, attributes: {theme: " + repeat('s', 1025) + "}}")),
                 "variations[1].value.attributes.theme", "StringValue is at most 1024");
  expect_refused(plan_error(two_variations("{enabled: true, attributes: {names: [a, " + repeat('s', 1025) + "]}}")),
                 "variations[1].value.attributes.names[1]", "StringValue is at most 1024");
  std::string numbers = "[";
  for (int i = 0; i < 26; ++i) numbers += (i ? ", " : "") + std::to_string(i);
  expect_refused(plan_error(two_variations("{enabled: true, attributes: {sizes: " + numbers + "]}}")),
                 "variations[1].value.attributes.sizes", "at most 25 items");
}

TEST(AppConfigVariations, AttributeTypesUseTheUnionMembers) {
  auto p = plan_of(two_variations("{enabled: true, attributes: {s: x, n: 1.5, b: false, sl: [x, y], nl: [1, 2]}}"));
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(write_json(p.requests[0].body->at("Treatments").at(0).at("FlagValue")),
            R"({"Enabled":true,"AttributeValues":{"s":{"StringValue":"x"},"n":{"NumberValue":1.5},)"
            R"("b":{"BooleanValue":false},"sl":{"StringArray":["x","y"]},"nl":{"NumberArray":[1,2]}}})");
}

// --- definition: text fields -------------------------------------------------------------------

TEST(AppConfigDefinition, TextLimitsNameTheirMember) {
  expect_refused(plan_error("hypothesis: " + repeat('h', 1025) + "\n"), "hypothesis", "Hypothesis is at most 1024");
  expect_refused(plan_error("launch_criteria: " + repeat('l', 1025) + "\n"), "launch_criteria",
                 "LaunchCriteria is at most 1024");
  expect_refused(plan_error("audience: {rule: ''}\n"), "audience.rule", "AudienceRule is 1-16384");
  expect_refused(plan_error("audience: {rule: " + repeat('r', 16385) + "}\n"), "audience.rule", "AudienceRule is 1-16384");
  expect_refused(plan_error("audience: {description: " + repeat('a', 1025) + "}\n"), "audience.description",
                 "AudienceDescription is at most 1024");
  EXPECT_EQ(plan_of("audience: {rule: " + repeat('r', 16384) + "}\n").requests.size(), 1u);
}

TEST(AppConfigDefinition, IsRefusedWhileARunIsActive) {
  Experiment current;
  current.status = ExperimentStatus::running;
  expect_refused(plan_error("launch_criteria: x\naudience: {description: d}\n", &current),
                 "launch_criteria", "refuses UpdateExperimentDefinition while a run is active");
  // Run fields still go while the run is active.
  EXPECT_EQ(plan_of("exposure: 90\n", &current).requests.size(), 1u);
  current.status = ExperimentStatus::stopped;
  EXPECT_EQ(plan_of("launch_criteria: x\n", &current).requests.size(), 1u);
}

// --- runs and results ---------------------------------------------------------------------------

TEST(AppConfigRun, DescriptionAndResultTextsHaveLimits) {
  expect_refused(plan_error("description: " + repeat('d', 1025) + "\n"), "description",
                 "run Description is at most 1024");
  expect_refused(plan_error("action: start\ndescription: " + repeat('d', 1025) + "\n"), "description",
                 "run Description is at most 1024");
  for (const char* member : {"summary", "reasons_to_launch", "reasons_not_to_launch"}) {
    SCOPED_TRACE(member);
    expect_refused(plan_error("action: stop\nresult: {" + std::string(member) + ": " + repeat('x', 1025) + "}\n"),
                   "result." + std::string(member), "at most 1024 characters each");
  }
}

TEST(AppConfigRun, RequestsCarryTheirSuccessCodeAndIdempotence) {
  auto p = plan_of("hypothesis: H\nexposure: 50\naction: stop\n");
  ASSERT_EQ(p.requests.size(), 3u);
  EXPECT_EQ(p.requests[0].operation, "UpdateExperimentDefinition");
  EXPECT_EQ(p.requests[1].operation, "UpdateExperimentRun");
  EXPECT_EQ(p.requests[2].operation, "StopExperimentRun");
  EXPECT_EQ(p.requests[2].url, std::string(kBase) + kRunPath + "/stop");
  for (const auto& r : p.requests) {
    EXPECT_EQ(r.success_status, 200) << r.operation;
    EXPECT_TRUE(r.idempotent) << r.operation;
  }

  auto start = plan_of("action: start\n");
  ASSERT_EQ(start.requests.size(), 1u);
  EXPECT_EQ(start.requests[0].method, "POST");
  EXPECT_EQ(start.requests[0].success_status, 201);
  EXPECT_FALSE(start.requests[0].idempotent) << "a retried StartExperimentRun could start a second run";
  EXPECT_EQ(write_json(*start.requests[0].body), "{}");
  ASSERT_EQ(start.notes.size(), 1u);
  EXPECT_NE(start.notes[0].find("not idempotent"), std::string::npos);

  auto archive = plan_of("action: archive\n");
  ASSERT_EQ(archive.requests.size(), 1u);
  EXPECT_EQ(archive.requests[0].method, "DELETE");
  EXPECT_EQ(archive.requests[0].url,
            std::string(kBase) + "/applications/abc1234/experimentdefinitions/bsxyd7k?delete_type=ARCHIVE");
  EXPECT_EQ(archive.requests[0].success_status, 204);
  EXPECT_FALSE(archive.requests[0].body.has_value());
  EXPECT_TRUE(archive.requests[0].headers.empty());
}

TEST(AppConfigRun, StartReplacesTheUpdateAndNeverTouchesTheBoundRun) {
  auto p = plan_of("action: start\nexposure: 20\ndescription: D\n");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].url, std::string(kBase) + "/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns");
  EXPECT_EQ(write_json(*p.requests[0].body), R"({"Description":"D","ExposurePercentage":20})");
}

// --- pass-through -----------------------------------------------------------------------------

TEST(AppConfigPassThrough, DeploymentParametersAreChecked) {
  const std::string prefix = "vendor:\n  appconfig:\n    DeploymentParameters: ";
  expect_refused(plan_error(prefix + "{DynamicExtensionParameters: {}}\n"),
                 "vendor.appconfig.DeploymentParameters.DynamicExtensionParameters", "1-10 entries");
  std::string eleven = "{";
  for (int i = 0; i < 11; ++i) eleven += (i ? ", \"e#p" : "\"e#p") + std::to_string(i) + "\": v";
  expect_refused(plan_error(prefix + "{DynamicExtensionParameters: " + eleven + "}}\n"),
                 "vendor.appconfig.DeploymentParameters.DynamicExtensionParameters", "1-10 entries");
  expect_refused(plan_error(prefix + "{DynamicExtensionParameters: {nohash: v}}\n"),
                 "vendor.appconfig.DeploymentParameters.DynamicExtensionParameters.nohash", "'extension#parameter'");
  expect_refused(plan_error(prefix + "{DynamicExtensionParameters: {\"e#p\": ''}}\n"),
                 "vendor.appconfig.DeploymentParameters.DynamicExtensionParameters.e#p", "1-2048 characters");
  expect_refused(plan_error(prefix + "{DynamicExtensionParameters: {\"e#p\": 3}}\n"),
                 "vendor.appconfig.DeploymentParameters.DynamicExtensionParameters.e#p", "must be a string");
  expect_refused(plan_error(prefix + "{Tags: {team: 3}}\n"), "vendor.appconfig.DeploymentParameters.Tags.team",
                 "must be a string");
  expect_refused(plan_error(prefix + "{Tags: {team: " + repeat('v', 257) + "}}\n"),
                 "vendor.appconfig.DeploymentParameters.Tags.team", "tag value is at most 256");
  expect_refused(plan_error(prefix + "{Tagz: {}}\n"), "vendor.appconfig.DeploymentParameters.Tagz", "Tags");
  expect_refused(plan_error(prefix + "[1]\n"), "vendor.appconfig.DeploymentParameters", "");
}

TEST(AppConfigPassThrough, RunTagsAreCheckedAndOnlyGoWithAStart) {
  std::string tags = "{";
  for (int i = 0; i < 51; ++i) tags += (i ? ", t" : "t") + std::to_string(i) + ": v";
  expect_refused(plan_error("action: start\nvendor: {appconfig: {Tags: " + tags + "}}}\n"), "vendor.appconfig.Tags",
                 "at most 50 entries");
  expect_refused(plan_error("action: start\nvendor: {appconfig: {Tags: {" + repeat('k', 129) + ": v}}}\n"),
                 "vendor.appconfig.Tags." + repeat('k', 129), "tag key is 1-128");
  expect_refused(plan_error("action: stop\nvendor: {appconfig: {Tags: {a: b}}}\n"), "vendor.appconfig.Tags",
                 "StartExperimentRun only");
}

TEST(AppConfigPassThrough, DeploymentParametersGoToTheStopAlone) {
  auto p = plan_of("action: stop\nvendor: {appconfig: {DeploymentParameters: {Tags: {a: b}}}}\n");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(write_json(*p.requests[0].body), R"({"DeploymentParameters":{"Tags":{"a":"b"}}})");
}

// --- ids in paths -------------------------------------------------------------------------------

// A refused value names the request it was to be sent with: the same field can go with either run
// operation, and a pass-through member with whichever run operation the update sends.
TEST(AppConfigErrors, NameTheOperationOfTheRequestTheValueWasFor) {
  Experiment running;
  running.status = ExperimentStatus::running;
  const std::string too_long = repeat('d', 1025);
  const struct {
    std::string body;
    const Experiment* current;
    std::string operation;
  } cases[] = {
      {"description: " + too_long + "\n", nullptr, "UpdateExperimentRun"},
      {"description: " + too_long + "\naction: start\n", nullptr, "StartExperimentRun"},
      {"hypothesis: " + too_long + "\n", nullptr, "UpdateExperimentDefinition"},
      {"hypothesis: H\n", &running, "UpdateExperimentDefinition"},
      {"action: stop\nresult: {summary: " + too_long + "}\n", nullptr, "StopExperimentRun"},
      {"vendor: {appconfig: {DeploymentParameters: {Tags: 1}}}\n", nullptr, "UpdateExperimentRun"},
      {"action: start\nvendor: {appconfig: {DeploymentParameters: {Tags: 1}}}\n", nullptr, "StartExperimentRun"},
      {"action: stop\nvendor: {appconfig: {DeploymentParameters: {Tags: 1}}}\n", nullptr, "StopExperimentRun"},
      {"vendor: {appconfig: {Tags: {a: b}}}\n", nullptr, "StartExperimentRun"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 60));
    Error e = plan_error(c.body, c.current);
    EXPECT_EQ(e.operation, c.operation) << e.describe();
    EXPECT_EQ(e.backend, "aws");
    EXPECT_EQ(e.vendor, "appconfig");
  }
}

TEST(AppConfigIds, SlashQuestionMarkAndHashAreEncodedAsOneSegment) {
  auto p = plan_of("exposure: 5\n", nullptr,
                   config("region: us-east-1, application: 'apps/a?b#c'", "definition: 'x/../y?z#w', run: 12"));
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].url, std::string(kBase) +
                                   "/applications/apps%2Fa%3Fb%23c/experimentdefinitions/x%2F..%2Fy%3Fz%23w/experimentruns/12/update");
}

TEST(AppConfigIds, DotSegmentsAndControlCharactersAreRefused) {
  for (const char* id : {"'.'", "'..'", "\"a\\nb\"", "''"}) {
    SCOPED_TRACE(id);
    Error e = config_error(config("region: us-east-1, application: abc1234", std::string("definition: ") + id + ", run: 1"));
    EXPECT_EQ(e.field, "experiments.checkout-redesign.aws.definition") << e.describe();
    e = config_error(config(std::string("region: us-east-1, application: ") + id));
    EXPECT_EQ(e.field, "backends.aws.application") << e.describe();
  }
  Error e = config_error(config("region: us-east-1, application: abc1234", "definition: " + repeat('d', 2049) + ", run: 1"));
  EXPECT_NE(e.message.find("1-2048"), std::string::npos) << e.describe();
}

// --- configuration ------------------------------------------------------------------------------

TEST(AppConfigConfig, MissingAndUnknownSettingsAreErrors) {
  Error e = config_error(config("application: abc1234"));
  EXPECT_EQ(e.field, "backends.aws.region");
  EXPECT_NE(e.message.find("required"), std::string::npos);
  e = config_error(config("region: us-east-1"));
  EXPECT_EQ(e.field, "backends.aws.application");
  e = config_error(config("region: us-east-1, application: abc1234, regoin: x"));
  EXPECT_EQ(e.field, "backends.aws.regoin");
  EXPECT_NE(e.message.find("region"), std::string::npos) << e.describe();
  e = config_error(config("region: us-east-1, application: abc1234, access_key: AKIAIOSFODNN7EXAMPLE"));
  EXPECT_EQ(e.field, "backends.aws.access_key");
}

TEST(AppConfigConfig, RegionAndProfileAreChecked) {
  for (const char* region : {"US-EAST-1", "us-east", "us-east-1.evil.com", "us-east-1/x", "useast1"}) {
    SCOPED_TRACE(region);
    Error e = config_error(config(std::string("region: '") + region + "', application: abc1234"));
    EXPECT_EQ(e.field, "backends.aws.region") << e.describe();
    EXPECT_NE(e.message.find("AWS region name"), std::string::npos) << e.describe();
  }
  for (const char* region : {"eu-central-2", "us-gov-west-1", "ap-southeast-7"}) {
    SCOPED_TRACE(region);
    auto p = plan_of("exposure: 5\n", nullptr, config(std::string("region: ") + region + ", application: abc1234"));
    ASSERT_EQ(p.requests.size(), 1u);
    EXPECT_TRUE(p.requests[0].url.starts_with(std::string("https://appconfig.") + region + ".amazonaws.com/"));
  }
  Error e = config_error(config("region: us-east-1, application: abc1234, profile: 'a b'"));
  EXPECT_EQ(e.field, "backends.aws.profile");
  EXPECT_NE(e.message.find("AWS profile name"), std::string::npos) << e.describe();
}

TEST(AppConfigConfig, ChinaRegionsUseTheirPartitionsEndpoint) {
  auto p = plan_of("exposure: 5\n", nullptr, config("region: cn-northwest-1, application: abc1234"));
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_TRUE(p.requests[0].url.starts_with("https://appconfig.cn-northwest-1.amazonaws.com.cn/")) << p.requests[0].url;
}

TEST(AppConfigConfig, BindingErrorsNameTheConfigPath) {
  struct Case {
    const char* binding;
    const char* field;
    const char* says;
  };
  const Case cases[] = {
      {"run: 1", "experiments.checkout-redesign.aws.definition", "required"},
      // `run` is optional (absent or null: the current run, found by the read); given, it is a run number.
      {"definition: d, run: true", "experiments.checkout-redesign.aws.run", "integer"},
      {"definition: d, run: 0", "experiments.checkout-redesign.aws.run", "from 1"},
      {"definition: d, run: 1.5", "experiments.checkout-redesign.aws.run", "integer"},
      {"definition: d, run: '1'", "experiments.checkout-redesign.aws.run", "integer"},
      {"definition: d, run: 1, treatments: {two-step: t-1}", "experiments.checkout-redesign.aws.treatments.two-step",
       "1-8 letters or digits"},
      {"definition: d, run: 1, treatments: {two-step: t123456789}", "experiments.checkout-redesign.aws.treatments.two-step",
       "1-8 letters or digits"},
      {"definition: d, run: 1, treatments: {two-step: 1}", "experiments.checkout-redesign.aws.treatments.two-step",
       "treatment key"},
      {"definition: d, run: 1, treatments: {a: t1, b: t1}", "experiments.checkout-redesign.aws.treatments.b",
       "already bound to variation 'a'"},
      {"definition: d, run: 1, treatments: [c]", "experiments.checkout-redesign.aws.treatments", "mapping"},
      {"definition: d, run: 1, experiment: e", "experiments.checkout-redesign.aws.experiment", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.binding);
    Error e = config_error(config("region: us-east-1, application: abc1234", c.binding));
    EXPECT_EQ(e.field, c.field) << e.describe();
    EXPECT_NE(e.message.find(c.says), std::string::npos) << e.describe();
    EXPECT_EQ(e.backend, "aws");
  }
}

TEST(AppConfigConfig, EndpointOverrideReplacesTheBaseUrl) {
  auto p = plan_of("action: start\n", nullptr,
                   config("region: eu-west-1, application: abc1234, endpoint: 'https://appconfig.internal.example/aws/'"));
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].url,
            "https://appconfig.internal.example/aws/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns");
  Error e = config_error(config("region: us-east-1, application: abc1234, endpoint: 'http://appconfig.example'"));
  EXPECT_EQ(e.field, "backends.aws.endpoint");
}

// --- auth and secrets -----------------------------------------------------------------------------

TEST(AppConfigAuth, EndpointOverrideKeepsTheSigningRegion) {
  Bridge b = bridge(config("region: us-west-2, application: abc1234, endpoint: 'http://127.0.0.1:4566'"));
  EXPECT_EQ(std::get<SigV4Auth>(b.backends()[0].adapter->auth().method).region, "us-west-2");
}

TEST(AppConfigSecrets, NoCredentialReachesAPlan) {
  const char* marker = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", marker, 1);
  ::setenv("AWS_SESSION_TOKEN", marker, 1);
  auto b = bridge(config("region: us-east-1, application: abc1234, profile: staging"));
  auto p = b.plan(update("hypothesis: H\ndescription: D\nexposure: 40\noverrides: {u: two-step}\naction: stop\n"
                         "result: {summary: s}\nvendor: {appconfig: {DeploymentParameters: {Tags: {a: b}}}}\n"));
  ASSERT_TRUE(p) << p.error().describe();
  std::string text = write_json(plan_to_json(*p)) + plan_to_text(*p);
  for (const char* secret : {marker, "AKIAIOSFODNN7EXAMPLE", "Authorization", "authorization", "X-Amz-", "x-amz-",
                             "aws_secret"})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  for (const auto& r : p->backends[0].requests)
    for (const auto& [name, value] : r.headers) EXPECT_EQ(name, "content-type");
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_SESSION_TOKEN");
}

}  // namespace
}  // namespace expbridge
