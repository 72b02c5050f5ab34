// Loading a config and planning through it: the checks that belong to the core.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"

namespace expbridge {
namespace {

constexpr const char* kConfig = R"(backends:
  ld: {vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN}
  ld2: {vendor: launchdarkly, project: other, environment: staging, token_env: LD_OTHER, strict: true}
experiments:
  checkout-redesign:
    ld2: {experiment: checkout-redesign-b}
    ld: {experiment: checkout-redesign}
  solo:
    ld: {experiment: solo}
)";

Error load_error(std::string_view config) {
  auto b = Bridge::from_text(config, "c.yaml");
  EXPECT_FALSE(b);
  return b ? Error{} : b.error();
}

Update update(std::string_view text) {
  auto u = parse_update(text, "u.yaml");
  EXPECT_TRUE(u) << u.error().describe();
  return u ? *u : Update{};
}

TEST(Bridge, LoadsBackendsInConfigOrder) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  ASSERT_TRUE(b) << b.error().describe();
  ASSERT_EQ(b->backends().size(), 2u);
  EXPECT_EQ(b->backends()[0].name, "ld");
  EXPECT_EQ(b->backends()[1].name, "ld2");
  EXPECT_TRUE(b->backends()[1].strict);
  EXPECT_EQ(b->experiments(), (std::vector<std::string>{"checkout-redesign", "solo"}));
}

TEST(Bridge, PlansBackendsInConfigOrderWhateverTheBindingOrder) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  ASSERT_TRUE(b);
  auto plan = b->plan(update("experiment: checkout-redesign\nname: N\n"));
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->backends.size(), 2u);
  EXPECT_EQ(plan->backends[0].backend, "ld");
  EXPECT_EQ(plan->backends[1].backend, "ld2");
  EXPECT_NE(plan->backends[1].requests[0].url.find("/projects/other/environments/staging/experiments/checkout-redesign-b"),
            std::string::npos);
}

TEST(Bridge, OnlyBoundBackendsArePlanned) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  auto plan = b->plan(update("experiment: solo\nname: N\n"));
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->backends.size(), 1u);
  EXPECT_EQ(plan->backends[0].backend, "ld");
}

TEST(Bridge, BackendSelection) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  PlanOptions options;
  options.backends = {"ld2"};
  auto plan = b->plan(update("experiment: checkout-redesign\nname: N\n"), options);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->backends.size(), 1u);
  EXPECT_EQ(plan->backends[0].backend, "ld2");
  options.backends = {"nope"};
  EXPECT_FALSE(b->plan(update("experiment: checkout-redesign\nname: N\n"), options));
  options.backends = {"ld2"};
  auto unbound = b->plan(update("experiment: solo\nname: N\n"), options);
  ASSERT_FALSE(unbound);
  EXPECT_NE(unbound.error().message.find("no binding"), std::string::npos);
}

TEST(Bridge, UnknownExperimentIsRefused) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  auto plan = b->plan(update("experiment: checkout-redesing\nname: N\n"));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::invalid_input);
  EXPECT_EQ(plan.error().field, "experiment");
  EXPECT_EQ(plan.error().file, "u.yaml");
  EXPECT_NE(plan.error().message.find("did you mean 'checkout-redesign'"), std::string::npos);
}

TEST(Bridge, StrictBackendRefusesSkips) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  auto plan = b->plan(update("experiment: checkout-redesign\nexposure: 10\n"));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::unsupported);
  EXPECT_EQ(plan.error().backend, "ld2");
  EXPECT_EQ(plan.error().field, "exposure");
  EXPECT_NE(plan.error().message.find("strict"), std::string::npos);
  // Without skips a strict backend plans normally.
  EXPECT_TRUE(b->plan(update("experiment: checkout-redesign\nname: x\n")));
}

TEST(Bridge, StrictOptionRefusesSkipsAnywhere) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  PlanOptions options;
  options.strict = true;
  auto plan = b->plan(update("experiment: solo\naction: pause\n"), options);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().field, "action.pause");
  auto relaxed = b->plan(update("experiment: solo\naction: pause\n"));
  ASSERT_TRUE(relaxed);
  EXPECT_EQ(relaxed->backends[0].skipped[0].field, "action.pause");
}

TEST(Bridge, UnknownVendorIsRefusedWithTheKnownOnes) {
  Error e = load_error("backends:\n  x: {vendor: launchdarkley, project: p, environment: e, token_env: T}\n");
  EXPECT_EQ(e.field, "backends.x.vendor");
  EXPECT_EQ(e.file, "c.yaml");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("did you mean 'launchdarkly'"), std::string::npos);
  EXPECT_NE(e.message.find("known vendors"), std::string::npos);
}

TEST(Bridge, MissingRequiredSettingIsRefused) {
  Error e = load_error("backends:\n  x: {vendor: launchdarkly, project: p, token_env: T}\n");
  EXPECT_EQ(e.field, "backends.x.environment");
  EXPECT_EQ(e.backend, "x");
  EXPECT_EQ(e.vendor, "launchdarkly");
  EXPECT_NE(e.message.find("required"), std::string::npos);
}

// `rate_limit: N/s | N/min` and `concurrency: adaptive | fixed`, checked when the config loads.
TEST(Bridge, RateLimitAndConcurrencyAreReadAndChecked) {
  auto config = [](std::string_view extra) {
    return "backends:\n  x: {vendor: launchdarkly, project: p, environment: e, token_env: T, " + std::string(extra) + "}\n";
  };
  auto b = Bridge::from_text(config("rate_limit: 600/min"), "c.yaml");
  ASSERT_TRUE(b) << b.error().describe();
  const SendOptions& send = b->backends().at(0).send;
  EXPECT_DOUBLE_EQ(send.rate_limit_per_s, 10.0);
  EXPECT_TRUE(send.adaptive);
  EXPECT_EQ(send.start_in_flight, 2) << "LaunchDarkly's table starts at 2";
  EXPECT_EQ(send.max_in_flight, 16) << "and grows to its table's grow_to";
  b = Bridge::from_text(config("rate_limit: 2.5/s, max_in_flight: 1"), "c.yaml");
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_DOUBLE_EQ(b->backends().at(0).send.rate_limit_per_s, 2.5);
  EXPECT_EQ(b->backends().at(0).send.start_in_flight, 1);
  EXPECT_EQ(b->backends().at(0).send.max_in_flight, 1);
  b = Bridge::from_text(config("concurrency: fixed"), "c.yaml");
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_FALSE(b->backends().at(0).send.adaptive);
  EXPECT_EQ(b->backends().at(0).send.max_in_flight, 2) << "fixed: the vendor's default throughout";
  EXPECT_EQ(b->backends().at(0).send.start_in_flight, 2);

  for (const char* bad : {"rate_limit: 10", "rate_limit: 10/h", "rate_limit: 0/s", "rate_limit: -1/s", "rate_limit: x/s",
                          "rate_limit: 1.2.3/s", "rate_limit: 20000/s", "rate_limit: 1/s/s", "rate_limit: 5"}) {
    Error e = load_error(config(bad));
    EXPECT_EQ(e.field, "backends.x.rate_limit") << bad << ": " << e.describe();
    EXPECT_EQ(e.line, 2) << bad;
  }
  Error e = load_error(config("concurrency: lots"));
  EXPECT_EQ(e.field, "backends.x.concurrency") << e.describe();
  EXPECT_NE(e.message.find("adaptive or fixed"), std::string::npos) << e.message;
}

TEST(Bridge, UnknownSettingIsRefused) {
  Error e = load_error("backends:\n  x: {vendor: launchdarkly, project: p, environment: e, token_env: T, tokn: 1}\n");
  EXPECT_EQ(e.field, "backends.x.tokn");
  EXPECT_NE(e.message.find("unknown field"), std::string::npos);
}

TEST(Bridge, SecretsAreNotSettings) {
  // A token pasted into the config instead of an env-var name is not a valid variable name.
  Error e = load_error("backends:\n  x: {vendor: launchdarkly, project: p, environment: e, token_env: 'api-1234-abcd'}\n");
  EXPECT_EQ(e.field, "backends.x.token_env");
  EXPECT_EQ(e.message.find("api-1234-abcd"), std::string::npos) << "a refused secret-like value must not be echoed";
}

TEST(Bridge, UnknownTopLevelKeyIsRefused) {
  Error e = load_error("backend: {}\n");
  EXPECT_EQ(e.field, "backend");
}

TEST(Bridge, NoBackendsIsRefused) { EXPECT_EQ(load_error("backends: {}\n").field, "backends"); }

TEST(Bridge, BindingToUnknownBackendIsRefused) {
  Error e = load_error(
      "backends:\n  ld: {vendor: launchdarkly, project: p, environment: e, token_env: T}\nexperiments:\n  x:\n    lld: {experiment: x}\n");
  EXPECT_EQ(e.field, "experiments.x.lld");
  EXPECT_NE(e.message.find("did you mean 'ld'"), std::string::npos);
  EXPECT_EQ(e.line, 5);
}

TEST(Bridge, PlainHttpEndpointOnlyForLoopback) {
  Error e = load_error(
      "backends:\n  ld: {vendor: launchdarkly, project: p, environment: e, token_env: T, endpoint: 'http://example.com'}\n");
  EXPECT_EQ(e.field, "backends.ld.endpoint");
  EXPECT_NE(e.message.find("loopback"), std::string::npos);
  EXPECT_TRUE(Bridge::from_text(
      "backends:\n  ld: {vendor: launchdarkly, project: p, environment: e, token_env: T, endpoint: 'http://127.0.0.1:9'}\n",
      "c.yaml"));
}

TEST(Bridge, BadBackendNameIsRefused) {
  EXPECT_EQ(load_error("backends:\n  'a b': {vendor: launchdarkly}\n").field, "backends.a b");
}

TEST(Bridge, UnknownVendorPassThroughIsRefused) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  auto plan = b->plan(update("experiment: solo\nvendor: {apconfig: {}}\n"));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().field, "vendor.apconfig");
}

TEST(Bridge, AdapterErrorsNameTheBackendAndFile) {
  auto b = Bridge::from_text(kConfig, "c.yaml");
  auto plan = b->plan(update("experiment: solo\nvendor: {launchdarkly: {bogus: 1}}\n"));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().backend, "ld");
  EXPECT_EQ(plan.error().vendor, "launchdarkly");
  EXPECT_EQ(plan.error().file, "u.yaml");
  EXPECT_EQ(plan.error().field, "vendor.launchdarkly.bogus");
}

TEST(Bridge, MappingOverridesReplaceTheEmbeddedTable) {
  auto dir = std::filesystem::temp_directory_path() / "expbridge-mappings-test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "launchdarkly.yaml");
    out << "vendor: launchdarkly\ntitle: broken\n";
  }
  BridgeOptions options;
  options.mappings_dir = dir.string();
  auto b = Bridge::from_text(kConfig, "c.yaml", options);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().file.find("launchdarkly.yaml"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// ---- authentication is built and checked when the config is loaded -------------------------

TEST(BridgeAuth, ABadAuthSettingFailsAtLoadWithItsFileLineAndSetting) {
  auto e = load_error("backends:\n"
                      "  ld: {vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN}\n"
                      "  ldx: {vendor: launchdarkly, project: default, environment: production, token_env: 'LD TOKEN'}\n");
  EXPECT_EQ(e.file, "c.yaml");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.field, "backends.ldx.token_env");
  EXPECT_EQ(e.backend, "ldx");
  EXPECT_EQ(e.vendor, "launchdarkly");
}

TEST(BridgeAuth, AnOAuthSecretVariableNameIsCheckedAtLoad) {
  auto e = load_error("backends:\n"
                      "  a0: {vendor: auth0, domain: example.us.auth0.com, client_id_env: AUTH0_ID,\n"
                      "       client_secret_env: 'AUTH0-SECRET'}\n");
  EXPECT_EQ(e.file, "c.yaml");
  EXPECT_GT(e.line, 0);
  EXPECT_EQ(e.field, "backends.a0.client_secret_env");
}

/// The embedded table of `vendor` with `from` replaced by `to`, in a mappings folder of its own.
std::filesystem::path table_override(const std::string& vendor, const std::string& from, const std::string& to) {
  std::ifstream in(std::string(EXPBRIDGE_SOURCE_DIR) + "/mappings/" + vendor + ".yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  auto dir = std::filesystem::temp_directory_path() / ("expbridge-auth-" + vendor + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / (vendor + ".yaml")) << text;
  return dir;
}

TEST(BridgeAuth, AnUnknownSchemeInTheTableFailsAtLoadNamingTheTable) {
  auto dir = table_override("launchdarkly", "scheme: header_token", "scheme: kerberos");
  BridgeOptions options;
  options.mappings_dir = dir.string();
  auto b = Bridge::from_text(kConfig, "c.yaml", options);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::internal);
  EXPECT_NE(b.error().file.find("launchdarkly.yaml"), std::string::npos) << b.error().describe();
  EXPECT_EQ(b.error().field, "auth.scheme");
  EXPECT_NE(b.error().message.find("kerberos"), std::string::npos);
  EXPECT_EQ(b.error().backend, "ld");
}

TEST(BridgeAuth, ASigV4TableWithoutItsServiceFailsAtLoad) {
  auto dir = table_override("evidently", "service: evidently", "");
  BridgeOptions options;
  options.mappings_dir = dir.string();
  auto b = Bridge::from_text("backends:\n  ev: {vendor: evidently, region: us-east-1, project: checkout}\n", "c.yaml",
                             options);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().field, "auth.service") << b.error().describe();
  EXPECT_NE(b.error().file.find("evidently.yaml"), std::string::npos);
  EXPECT_EQ(b.error().vendor, "evidently");
}

// `create:`: the partial bindings `migrate` creates with, checked when the config loads.
constexpr const char* kCreateConfig = R"(backends:
  ld: {vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN,
       create: {metric: conversion, rule: fallthrough}}
experiments:
  solo:
    ld: {create: {metric: revenue}}
)";

TEST(Bridge, ACreateBindingOverlaysTheBackendsDefaultsTheImportsAndTheExperimentsOwn) {
  auto b = Bridge::from_text(kCreateConfig, "c.yaml");
  ASSERT_TRUE(b) << b.error().describe();
  // Not bound yet: `create` is what migrate creates it with.
  EXPECT_TRUE(b->bound_backends("solo").empty());
  const boost::json::object imported{{"flag", "solo-flag"}, {"metric", "imported"}, {"rule", "rule-1"}};
  EXPECT_EQ(b->create_binding("solo", "ld", &imported),
            (boost::json::object{{"metric", "revenue"}, {"rule", "rule-1"}, {"flag", "solo-flag"}}));
  EXPECT_EQ(b->create_binding("other", "ld"), (boost::json::object{{"metric", "conversion"}, {"rule", "fallthrough"}}));
  EXPECT_TRUE(b->create_binding("solo", "elsewhere").empty());
}

TEST(Bridge, ACreateBindingIsCheckedAtLoadNamingItsPath) {
  std::string config = kCreateConfig;
  Error e = load_error(std::string(config).replace(config.find("metric: conversion"), 18, "metrc: conversion"));
  EXPECT_EQ(e.field, "backends.ld.create.metrc") << e.describe();
  EXPECT_EQ(e.backend, "ld");
  e = load_error(std::string(config).replace(config.find("metric: revenue"), 15, "metric: 5"));
  EXPECT_EQ(e.field, "experiments.solo.ld.create.metric") << e.describe();
  e = load_error(std::string(config).replace(config.find("{create: {metric: revenue}}"), 27,
                                             "{experiment: solo, create: {metric: revenue}}"));
  EXPECT_EQ(e.field, "experiments.solo.ld") << e.describe();
  EXPECT_NE(e.message.find("bound already"), std::string::npos) << e.message;
  e = load_error(std::string(config).replace(config.find("{metric: conversion, rule: fallthrough}"), 39, "[conversion]"));
  EXPECT_EQ(e.field, "backends.ld.create") << e.describe();
}

TEST(Bridge, ACreateBindingAtABackendThatCreatesNothingIsRefused) {
  Error e = load_error(R"(backends:
  ev: {vendor: evidently, region: us-east-1, project: shop, create: {flag: f}}
)");
  EXPECT_EQ(e.code, ErrorCode::unsupported) << e.describe();
  EXPECT_EQ(e.field, "backends.ev.create") << e.describe();
  EXPECT_EQ(e.backend, "ev");
}

}  // namespace
}  // namespace expbridge
