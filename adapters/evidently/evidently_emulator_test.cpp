// The Evidently emulator, driven through handle() with SigV4-signed requests.
#include "evidently/evidently_emulator.hpp"

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "auth/sigv4.hpp"
#include "document.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;

struct SignAs {
  std::string service = "evidently";
  std::string region = "us-east-1";
  std::string secret = make_evidently_emulator()->credential("AWS_SECRET_ACCESS_KEY").value();
  std::string host = "evidently.us-east-1.amazonaws.com";
};

ServerRequest signed_request(std::string method, std::string target, std::string body, const SignAs& as = {},
                             std::vector<std::pair<std::string, std::string>> content_headers = {{"content-type", "application/json"}}) {
  ServerRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.body = std::move(body);
  std::string date = auth::format_amz_date(std::chrono::system_clock::now());
  request.headers.emplace_back("host", as.host);
  for (auto& h : content_headers) request.headers.push_back(h);
  request.headers.emplace_back("x-amz-date", date);
  auth::SigningRequest signing;
  signing.method = request.method;
  auto q = request.target.find('?');
  signing.path = request.target.substr(0, q);
  signing.query = q == std::string::npos ? "" : request.target.substr(q + 1);
  signing.headers = request.headers;
  signing.body = request.body;
  auth::AwsCredentials credentials{make_evidently_emulator()->credential("AWS_ACCESS_KEY_ID").value(), as.secret, ""};
  auth::SigV4Options options;
  options.region = as.region;
  options.service = as.service;
  auto parts = auth::sign_v4(signing, credentials, options, date);
  EXPECT_TRUE(parts.has_value());
  if (parts)
    for (const auto& h : parts->headers_to_add)
      if (h.first != "x-amz-date") request.headers.push_back(h);
  return request;
}

json::value fixture_section() {
  std::ifstream in(std::string(EXPBRIDGE_SOURCE_DIR) + "/adapters/evidently/evidently_emulator_fixture.yaml");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = parse_document(text.str(), "evidently_emulator_fixture.yaml");
  EXPECT_TRUE(doc.has_value());
  return doc ? doc->root.at("evidently") : json::value();
}

class EvidentlyEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator = make_evidently_emulator();
    auto seeded = emulator->seed(fixture_section());
    ASSERT_TRUE(seeded.has_value()) << seeded.error().describe();
  }

  ServerReply call(std::string method, std::string target, const json::value& body = nullptr) {
    auto request = signed_request(std::move(method), std::move(target), body.is_null() ? "" : write_json(body));
    EXPECT_TRUE(emulator->serves(request));
    return emulator->handle(request);
  }
  ServerReply patch_feature(const json::value& body) { return call("PATCH", "/projects/checkout/features/checkout-redesign", body); }
  ServerReply patch_experiment(const json::value& body) { return call("PATCH", "/projects/checkout/experiments/checkout-redesign-exp", body); }
  ServerReply start(double in_seconds = 7 * 24 * 3600) {
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    return call("POST", "/projects/checkout/experiments/checkout-redesign-exp/start", json::object{{"analysisCompleteTime", now + in_seconds}});
  }

  json::value feature_state() { return emulator->state().at("projects").at("checkout").at("features").at("checkout-redesign"); }
  json::value experiment_state() { return emulator->state().at("projects").at("checkout").at("experiments").at("checkout-redesign-exp"); }

  std::unique_ptr<VendorEmulator> emulator;
};

json::value body_of(const ServerReply& reply) { return json::parse(reply.body); }

std::string error_type(const ServerReply& reply) {
  for (const auto& [name, value] : reply.headers)
    if (name == "x-amzn-ErrorType") return value;
  return {};
}

/// Asserts a vendor-shaped error: status, x-amzn-ErrorType, lower-case message.
#define EXPECT_AWS_ERROR(reply, want_status, want_code)                                  \
  do {                                                                                   \
    const auto& r_ = (reply);                                                            \
    EXPECT_EQ(r_.status, want_status) << r_.body;                                        \
    EXPECT_EQ(error_type(r_), want_code) << r_.body;                                     \
    EXPECT_TRUE(body_of(r_).as_object().contains("message")) << r_.body;                 \
  } while (false)

TEST_F(EvidentlyEmulatorTest, FixtureStateShape) {
  auto feature = feature_state();
  EXPECT_EQ(feature.at("defaultVariation"), "control");
  EXPECT_EQ(feature.at("evaluationStrategy"), "ALL_RULES");
  EXPECT_EQ(feature.at("valueType"), "BOOLEAN");
  EXPECT_EQ(write_json(feature.at("variations")),
            R"([{"name":"control","value":{"boolValue":false}},{"name":"two-step","value":{"boolValue":true}}])");
  EXPECT_TRUE(feature.at("entityOverrides").as_object().empty());
  auto experiment = experiment_state();
  EXPECT_EQ(experiment.at("status"), "CREATED");
  EXPECT_EQ(experiment.at("samplingRate"), 10000);
  EXPECT_EQ(experiment.at("onlineAbDefinition").at("controlTreatmentName"), "control");
  EXPECT_EQ(emulator->state().at("region"), "us-east-1");
}

TEST_F(EvidentlyEmulatorTest, SeedRefusesUnknownKeysAndBrokenRules) {
  auto bad = fixture_section();
  bad.as_object()["projectz"] = json::object{};
  EXPECT_FALSE(emulator->seed(bad).has_value());
  bad = fixture_section();
  bad.at("projects").at("checkout").at("features").at("checkout-redesign").as_object()["defaultVariation"] = "nope";
  EXPECT_FALSE(emulator->seed(bad).has_value());
  bad = fixture_section();
  bad.at("projects").at("checkout").at("experiments").at("checkout-redesign-exp").as_object()["samplingRate"] = 100001;
  EXPECT_FALSE(emulator->seed(bad).has_value());
  // A refused seed leaves the state as it was.
  EXPECT_EQ(feature_state().at("defaultVariation"), "control");
  EXPECT_TRUE(emulator->seed(nullptr).has_value());
  EXPECT_TRUE(emulator->state().at("projects").as_object().empty());
}

TEST_F(EvidentlyEmulatorTest, GetFeatureResponseShape) {
  auto reply = call("GET", "/projects/checkout/features/checkout-redesign");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto f = body_of(reply).at("feature");
  EXPECT_EQ(f.at("arn"), "arn:aws:evidently:us-east-1:123456789012:project/checkout/feature/checkout-redesign");
  EXPECT_EQ(f.at("project"), "arn:aws:evidently:us-east-1:123456789012:project/checkout");
  EXPECT_EQ(f.at("status"), "AVAILABLE");
  EXPECT_TRUE(f.at("createdTime").is_number());  // epoch seconds, not ISO strings
  EXPECT_TRUE(f.at("lastUpdatedTime").is_number());
  EXPECT_EQ(f.at("valueType"), "BOOLEAN");
  EXPECT_TRUE(f.at("evaluationRules").as_array().empty());
  EXPECT_AWS_ERROR(call("GET", "/projects/checkout/features/nope"), 404, "ResourceNotFoundException");
  auto missing = body_of(call("GET", "/projects/checkout/features/nope"));
  EXPECT_EQ(missing.at("resourceType"), "Feature");
  EXPECT_EQ(missing.at("resourceId"), "nope");
  EXPECT_AWS_ERROR(call("GET", "/projects/other/features/checkout-redesign"), 404, "ResourceNotFoundException");
  EXPECT_AWS_ERROR(call("GET", "/projects/checkout/features/bad%20name"), 400, "ValidationException");
}

TEST_F(EvidentlyEmulatorTest, GetFeatureAnswersTypedValuesAndEntityOverrides) {
  auto section = fixture_section();
  auto& features = section.at("projects").at("checkout").at("features").as_object();
  features["steps"] = json::parse(R"({"variations": [{"name": "one", "value": {"longValue": 1}}, {"name": "two", "value": {"longValue": 2}}],
    "defaultVariation": "one", "entityOverrides": {"qa-user": "two", "ops-user": "one"}})");
  features["layout"] = json::parse(R"({"variations": [{"name": "page", "value": {"stringValue": "one-page"}},
    {"name": "wizard", "value": {"stringValue": "two-step"}}]})");
  features["ratio"] = json::parse(R"({"variations": [{"name": "low", "value": {"doubleValue": 0.25}}, {"name": "high", "value": {"doubleValue": 0.75}}],
    "evaluationStrategy": "DEFAULT_VARIATION"})");
  ASSERT_TRUE(emulator->seed(section).has_value());

  auto steps = body_of(call("GET", "/projects/checkout/features/steps")).at("feature");
  EXPECT_EQ(steps.at("valueType"), "LONG");
  EXPECT_EQ(write_json(steps.at("variations")), R"([{"name":"one","value":{"longValue":1}},{"name":"two","value":{"longValue":2}}])");
  EXPECT_EQ(steps.at("entityOverrides").at("qa-user"), "two");
  EXPECT_EQ(steps.at("entityOverrides").at("ops-user"), "one");
  EXPECT_EQ(steps.at("defaultVariation"), "one");
  auto layout = body_of(call("GET", "/projects/checkout/features/layout")).at("feature");
  EXPECT_EQ(layout.at("valueType"), "STRING");
  EXPECT_EQ(layout.at("variations").at(1).at("value").at("stringValue"), "two-step");
  EXPECT_EQ(layout.at("defaultVariation"), "page");  // the first listed, when not given
  EXPECT_TRUE(layout.at("entityOverrides").as_object().empty());
  auto ratio = body_of(call("GET", "/projects/checkout/features/ratio")).at("feature");
  EXPECT_EQ(ratio.at("valueType"), "DOUBLE");
  EXPECT_EQ(ratio.at("variations").at(0).at("value").at("doubleValue").as_double(), 0.25);
  EXPECT_EQ(ratio.at("evaluationStrategy"), "DEFAULT_VARIATION");
}

TEST_F(EvidentlyEmulatorTest, ReadsFollowTheExperimentLifecycle) {
  ASSERT_EQ(patch_experiment(json::parse(R"({"samplingRate": 25000,
    "onlineAbConfig": {"treatmentWeights": {"control": 40000, "two-step": 60000}}})")).status, 200);
  ASSERT_EQ(start().status, 200);
  auto running = body_of(call("GET", "/projects/checkout/experiments/checkout-redesign-exp")).at("experiment");
  EXPECT_EQ(running.at("status"), "RUNNING");
  EXPECT_EQ(running.at("samplingRate"), 25000);  // thousandths of a percent: 25 %
  EXPECT_EQ(running.at("onlineAbDefinition").at("treatmentWeights").at("two-step"), 60000);
  EXPECT_EQ(running.at("onlineAbDefinition").at("controlTreatmentName"), "control");
  EXPECT_TRUE(running.at("execution").at("startedTime").is_number());
  EXPECT_FALSE(running.at("execution").as_object().contains("endedTime"));
  // The feature names the experiment that splits its traffic.
  auto feature = body_of(call("GET", "/projects/checkout/features/checkout-redesign")).at("feature");
  ASSERT_EQ(feature.at("evaluationRules").as_array().size(), 1u);
  EXPECT_EQ(feature.at("evaluationRules").at(0).at("name"), "checkout-redesign-exp");
  EXPECT_EQ(feature.at("evaluationRules").at(0).at("type"), "aws.evidently.onlineab");

  ASSERT_EQ(call("POST", "/projects/checkout/experiments/checkout-redesign-exp/cancel",
                 json::object{{"desiredState", "COMPLETED"}, {"reason", "two-step wins"}}).status, 200);
  auto done = body_of(call("GET", "/projects/checkout/experiments/checkout-redesign-exp")).at("experiment");
  EXPECT_EQ(done.at("status"), "COMPLETED");
  EXPECT_EQ(done.at("statusReason"), "two-step wins");
  EXPECT_TRUE(body_of(call("GET", "/projects/checkout/features/checkout-redesign")).at("feature").at("evaluationRules").as_array().empty());
  // Missing resources: the vendor's not-found shape; reads are signed like writes.
  auto missing = call("GET", "/projects/checkout/experiments/nope");
  EXPECT_AWS_ERROR(missing, 404, "ResourceNotFoundException");
  EXPECT_EQ(body_of(missing).at("resourceType"), "Experiment");
  EXPECT_EQ(body_of(missing).at("resourceId"), "nope");
  ServerRequest anonymous;
  anonymous.method = "GET";
  anonymous.target = "/projects/checkout/experiments/checkout-redesign-exp";
  anonymous.headers = {{"host", "127.0.0.1:1"}};
  EXPECT_EQ(emulator->handle(anonymous).status, 403);
}

TEST_F(EvidentlyEmulatorTest, ProjectByArn) {
  auto reply = call("PATCH", "/projects/arn%3Aaws%3Aevidently%3Aus-east-1%3A123456789012%3Aproject%2Fcheckout/features/checkout-redesign",
                    json::object{{"description", "via ARN"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(feature_state().at("description"), "via ARN");
  // Another account's or region's project is not here.
  EXPECT_AWS_ERROR(call("GET", "/projects/arn%3Aaws%3Aevidently%3Aus-east-1%3A999999999999%3Aproject%2Fcheckout/features/checkout-redesign"),
                   404, "ResourceNotFoundException");
  EXPECT_AWS_ERROR(call("GET", "/projects/arn%3Aaws%3Aevidently%3Aus-east-1%3A123456789012%3Aapp%2Fcheckout/features/checkout-redesign"), 400,
                   "ValidationException");
}

TEST_F(EvidentlyEmulatorTest, SignatureIsChecked) {
  auto unsigned_request = signed_request("GET", "/projects/checkout/features/checkout-redesign", "");
  std::erase_if(unsigned_request.headers, [](const auto& h) { return h.first == "authorization"; });
  EXPECT_AWS_ERROR(emulator->handle(unsigned_request), 403, "MissingAuthenticationTokenException");

  SignAs wrong_secret;
  wrong_secret.secret = "not-the-secret";
  EXPECT_AWS_ERROR(emulator->handle(signed_request("GET", "/projects/checkout/features/checkout-redesign", "", wrong_secret)), 403,
                   "InvalidSignatureException");

  SignAs wrong_service;
  wrong_service.service = "appconfig";
  auto reply = emulator->handle(signed_request("GET", "/projects/checkout/features/checkout-redesign", "", wrong_service));
  EXPECT_AWS_ERROR(reply, 403, "InvalidSignatureException");
  EXPECT_NE(reply.body.find("evidently"), std::string::npos);

  // The body is signed: changing it after signing is refused, and nothing changes.
  auto tampered = signed_request("PATCH", "/projects/checkout/features/checkout-redesign", R"({"description":"a"})");
  tampered.body = R"({"description":"b"})";
  EXPECT_AWS_ERROR(emulator->handle(tampered), 403, "InvalidSignatureException");
  EXPECT_EQ(feature_state().at("description"), "Checkout flow redesign");

  // Resources are regional: signed for another region, the project is not found.
  SignAs other_region;
  other_region.region = "eu-west-1";
  EXPECT_AWS_ERROR(emulator->handle(signed_request("GET", "/projects/checkout/features/checkout-redesign", "", other_region)), 404,
                   "ResourceNotFoundException");
}

TEST_F(EvidentlyEmulatorTest, ServesOnlyProjectPaths) {
  ServerRequest other;
  other.method = "GET";
  other.target = "/applications/abc/environments";
  EXPECT_FALSE(emulator->serves(other));
  other.target = "/projects/checkout/features?maxResults=2";
  EXPECT_TRUE(emulator->serves(other));
}

TEST_F(EvidentlyEmulatorTest, UpdateFeatureAddsUpdatesAndRemoves) {
  auto reply = patch_feature(json::parse(R"({
      "addOrUpdateVariations": [{"name": "two-step", "value": {"boolValue": false}}, {"name": "three-step", "value": {"boolValue": true}}],
      "defaultVariation": "three-step", "description": "more", "evaluationStrategy": "DEFAULT_VARIATION",
      "entityOverrides": {"u1": "three-step"}})"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto f = body_of(reply).at("feature");
  EXPECT_EQ(f.at("variations").as_array().size(), 3u);
  EXPECT_EQ(f.at("defaultVariation"), "three-step");
  EXPECT_EQ(f.at("evaluationStrategy"), "DEFAULT_VARIATION");
  EXPECT_EQ(write_json(f.at("entityOverrides")), R"({"u1":"three-step"})");
  EXPECT_EQ(feature_state().at("variations").at(1).at("value").at("boolValue"), false);

  // Unknown names in removeVariations are ignored; known ones go.
  reply = patch_feature(json::parse(R"({"removeVariations": ["legacy", "two-step"]})"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(feature_state().at("variations").as_array().size(), 2u);
  // entityOverrides replace the whole map.
  ASSERT_EQ(patch_feature(json::parse(R"({"entityOverrides": {"u2": "control"}})")).status, 200);
  EXPECT_EQ(write_json(feature_state().at("entityOverrides")), R"({"u2":"control"})");
  ASSERT_EQ(patch_feature(json::parse(R"({"entityOverrides": {}})")).status, 200);
  EXPECT_TRUE(feature_state().at("entityOverrides").as_object().empty());
  // An empty update is a no-op.
  EXPECT_EQ(patch_feature(json::object{}).status, 200);
}

TEST_F(EvidentlyEmulatorTest, UpdateFeatureValidation) {
  auto expect_invalid = [&](std::string_view body, std::string_view field) {
    auto reply = patch_feature(json::parse(body));
    EXPECT_AWS_ERROR(reply, 400, "ValidationException");
    auto b = body_of(reply);
    EXPECT_TRUE(b.as_object().contains("reason")) << reply.body;
    if (!field.empty()) {
      ASSERT_TRUE(b.as_object().contains("fieldList")) << reply.body;
      EXPECT_EQ(b.at("fieldList").at(0).at("name"), json::value(field)) << reply.body;
    }
  };
  expect_invalid(R"({"description": ")" + std::string(161, 'x') + R"("})", "description");
  expect_invalid(R"({"defaultVariation": "nope"})", "defaultVariation");
  expect_invalid(R"({"defaultVariation": "bad name"})", "defaultVariation");
  expect_invalid(R"({"evaluationStrategy": "SOME_RULES"})", "evaluationStrategy");
  expect_invalid(R"({"addOrUpdateVariations": []})", "addOrUpdateVariations");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"a","value":{"boolValue":true}},{"name":"b","value":{"boolValue":true}},
      {"name":"c","value":{"boolValue":true}},{"name":"d","value":{"boolValue":true}},{"name":"e","value":{"boolValue":true}},
      {"name":"f","value":{"boolValue":true}}]})",
                 "addOrUpdateVariations");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":")" + std::string(128, 'a') + R"(","value":{"boolValue":true}}]})",
                 "addOrUpdateVariations[0].name");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"two step","value":{"boolValue":true}}]})", "addOrUpdateVariations[0].name");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"x","value":{"boolValue":true,"longValue":1}}]})", "addOrUpdateVariations[0].value");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"x","value":{}}]})", "addOrUpdateVariations[0].value");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"x","value":{"boolValue":"yes"}}]})", "addOrUpdateVariations[0].value.boolValue");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"x","value":{"longValue":1.5}}]})", "addOrUpdateVariations[0].value.longValue");
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"x"}]})", "addOrUpdateVariations[0].value");
  // Mixed value types cannot share one valueType.
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"x","value":{"stringValue":"s"}}]})", "variations");
  expect_invalid(R"({"removeVariations": ["a","b","c","d","e","f"]})", "removeVariations");
  expect_invalid(R"({"removeVariations": ["control"]})", "defaultVariation");  // the default would go
  expect_invalid(R"({"addOrUpdateVariations": [{"name":"x","value":{"boolValue":true}}], "removeVariations": ["x"]})", "removeVariations");
  expect_invalid(R"({"entityOverrides": {"u1": "nope"}})", "entityOverrides.u1");
  expect_invalid(R"({"entityOverrides": {"u1": "bad name"}})", "entityOverrides.u1");
  expect_invalid(R"({"entityOverrides": {"u1": 3}})", "entityOverrides.u1");
  expect_invalid(R"({"unknownMember": 1})", "unknownMember");
  {
    json::object many;
    for (int i = 0; i < 2501; ++i) many["u" + std::to_string(i)] = "control";
    expect_invalid(write_json(json::object{{"entityOverrides", many}}), "entityOverrides");
  }
  {
    // 100 entries of 400+7+6 bytes: under 2500 entries but over 40 KB.
    json::object big;
    for (int i = 0; i < 100; ++i) big[std::string(400, 'k') + std::to_string(1000 + i)] = "control";
    expect_invalid(write_json(json::object{{"entityOverrides", big}}), "entityOverrides");
  }
  // Not JSON at all.
  auto garbled = emulator->handle(signed_request("PATCH", "/projects/checkout/features/checkout-redesign", "{not json"));
  EXPECT_AWS_ERROR(garbled, 400, "ValidationException");
  EXPECT_EQ(body_of(garbled).at("reason"), "cannotParse");
  // Nothing of that changed the feature.
  auto f = feature_state();
  EXPECT_EQ(f.at("description"), "Checkout flow redesign");
  EXPECT_EQ(f.at("variations").as_array().size(), 2u);
  EXPECT_EQ(f.at("defaultVariation"), "control");
}

TEST_F(EvidentlyEmulatorTest, MoreThanFiveVariationsIsAQuota) {
  auto reply = patch_feature(json::parse(R"({"addOrUpdateVariations": [{"name":"a","value":{"boolValue":true}},
      {"name":"b","value":{"boolValue":true}},{"name":"c","value":{"boolValue":true}},{"name":"d","value":{"boolValue":true}}]})"));
  EXPECT_AWS_ERROR(reply, 402, "ServiceQuotaExceededException");
  EXPECT_EQ(body_of(reply).at("serviceCode"), "evidently");
  EXPECT_EQ(body_of(reply).at("resourceType"), "Feature");
  EXPECT_EQ(feature_state().at("variations").as_array().size(), 2u);
  // Exactly five is fine, and so is replacing one while adding one when at five.
  ASSERT_EQ(patch_feature(json::parse(R"({"addOrUpdateVariations": [{"name":"a","value":{"boolValue":true}},
      {"name":"b","value":{"boolValue":true}},{"name":"c","value":{"boolValue":true}}]})"))
                .status,
            200);
  EXPECT_EQ(patch_feature(json::parse(R"({"addOrUpdateVariations": [{"name":"d","value":{"boolValue":true}}], "removeVariations": ["c"]})"))
                .status,
            200);
}

TEST_F(EvidentlyEmulatorTest, RemovingAVariationOfARunningExperimentConflicts) {
  // Not running yet: removal is allowed (only "ongoing" experiments hold variations).
  ASSERT_EQ(patch_feature(json::parse(R"({"addOrUpdateVariations": [{"name":"spare","value":{"boolValue":true}}]})")).status, 200);
  ASSERT_EQ(start().status, 200);
  auto reply = patch_feature(json::parse(R"({"removeVariations": ["two-step"]})"));
  EXPECT_AWS_ERROR(reply, 409, "ConflictException");
  EXPECT_EQ(body_of(reply).at("resourceId"), "checkout-redesign-exp");
  EXPECT_EQ(feature_state().at("variations").as_array().size(), 3u);
  // A variation no treatment uses can go.
  EXPECT_EQ(patch_feature(json::parse(R"({"removeVariations": ["spare"]})")).status, 200);
  // The running experiment shows up in the feature's evaluation rules.
  auto rules = body_of(call("GET", "/projects/checkout/features/checkout-redesign")).at("feature").at("evaluationRules");
  ASSERT_EQ(rules.as_array().size(), 1u);
  EXPECT_EQ(rules.at(0).at("type"), "aws.evidently.onlineab");
}

TEST_F(EvidentlyEmulatorTest, CreateAndListFeatures) {
  auto reply = call("POST", "/projects/checkout/features", json::parse(R"({"name": "banner", "variations": [
      {"name": "off", "value": {"stringValue": ""}}, {"name": "on", "value": {"stringValue": "Free shipping"}}],
      "tags": {"team": "growth"}})"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto f = body_of(reply).at("feature");
  EXPECT_EQ(f.at("defaultVariation"), "off");  // the first listed
  EXPECT_EQ(f.at("evaluationStrategy"), "ALL_RULES");
  EXPECT_EQ(f.at("valueType"), "STRING");
  EXPECT_AWS_ERROR(call("POST", "/projects/checkout/features", json::parse(R"({"name": "banner", "variations": [
      {"name": "off", "value": {"longValue": 1}}]})")),
                   409, "ConflictException");
  EXPECT_AWS_ERROR(call("POST", "/projects/checkout/features", json::parse(R"({"name": "x"})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(call("POST", "/projects/checkout/features", json::parse(R"({"name": "y", "variations": [
      {"name": "a", "value": {"longValue": 1}}, {"name": "b", "value": {"doubleValue": 1.5}}]})")),
                   400, "ValidationException");

  auto page = body_of(call("GET", "/projects/checkout/features?maxResults=1"));
  ASSERT_EQ(page.at("features").as_array().size(), 1u);
  EXPECT_EQ(page.at("features").at(0).at("name"), "banner");
  EXPECT_FALSE(page.at("features").at(0).as_object().contains("variations"));  // a summary
  auto token = std::string(page.at("nextToken").as_string());
  auto rest = body_of(call("GET", "/projects/checkout/features?maxResults=1&nextToken=" + token));
  ASSERT_EQ(rest.at("features").as_array().size(), 1u);
  EXPECT_EQ(rest.at("features").at(0).at("name"), "checkout-redesign");
  EXPECT_FALSE(rest.as_object().contains("nextToken"));
  EXPECT_AWS_ERROR(call("GET", "/projects/checkout/features?maxResults=101"), 400, "ValidationException");
}

TEST_F(EvidentlyEmulatorTest, GetExperimentResponseShape) {
  auto reply = call("GET", "/projects/checkout/experiments/checkout-redesign-exp");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto e = body_of(reply).at("experiment");
  EXPECT_EQ(e.at("arn"), "arn:aws:evidently:us-east-1:123456789012:project/checkout/experiment/checkout-redesign-exp");
  EXPECT_EQ(e.at("type"), "aws.evidently.onlineab");
  EXPECT_EQ(e.at("status"), "CREATED");
  EXPECT_EQ(write_json(e.at("treatments").at(1)), R"({"name":"two-step","featureVariations":{"checkout-redesign":"two-step"}})");
  EXPECT_EQ(e.at("onlineAbDefinition").at("treatmentWeights").at("control"), 50000);
  EXPECT_FALSE(e.as_object().contains("execution"));
  EXPECT_AWS_ERROR(call("GET", "/projects/checkout/experiments/nope"), 404, "ResourceNotFoundException");
}

TEST_F(EvidentlyEmulatorTest, UpdateExperiment) {
  auto reply = patch_experiment(json::parse(R"({"samplingRate": 25000, "description": "quarter",
      "onlineAbConfig": {"controlTreatmentName": "control", "treatmentWeights": {"control": 25000, "two-step": 75000}}})"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto e = experiment_state();
  EXPECT_EQ(e.at("samplingRate"), 25000);
  EXPECT_EQ(e.at("description"), "quarter");
  EXPECT_EQ(e.at("onlineAbDefinition").at("treatmentWeights").at("two-step"), 75000);

  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"samplingRate": 100001})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"samplingRate": -1})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"samplingRate": 2.5})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"description": ")" + std::string(161, 'd') + R"("})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"onlineAbConfig": {"controlTreatmentName": "nobody"}})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"onlineAbConfig": {"treatmentWeights": {"nobody": 1}}})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"onlineAbConfig": {"treatmentWeights": {"control": 100001}}})")), 400,
                   "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"onlineAbConfig": {"weights": {}}})")), 400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"treatments": [{"name": "solo", "feature": "checkout-redesign", "variation": "control"}]})")),
                   400, "ValidationException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"treatments": [{"name": "a", "feature": "checkout-redesign", "variation": "nope"},
      {"name": "b", "feature": "checkout-redesign", "variation": "control"}]})")),
                   400, "ValidationException");
  EXPECT_EQ(experiment_state().at("samplingRate"), 25000);
  // Changing the segment is fine before the start, refused while running.
  EXPECT_EQ(patch_experiment(json::parse(R"({"segment": "us-web"})")).status, 200);
  ASSERT_EQ(start().status, 200);
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"segment": "eu-web"})")), 409, "ConflictException");
  EXPECT_AWS_ERROR(patch_experiment(json::parse(R"({"removeSegment": true})")), 409, "ConflictException");
  EXPECT_EQ(experiment_state().at("segment"), "us-web");
  // Other members may still change while running (AWS's rule there is unverified).
  EXPECT_EQ(patch_experiment(json::parse(R"({"samplingRate": 75000})")).status, 200);
}

TEST_F(EvidentlyEmulatorTest, StartAndStopLifecycle) {
  EXPECT_AWS_ERROR(call("POST", "/projects/checkout/experiments/checkout-redesign-exp/start", json::object{}), 400, "ValidationException");
  EXPECT_AWS_ERROR(start(-60), 400, "ValidationException");
  EXPECT_AWS_ERROR(start(31 * 24 * 3600), 400, "ValidationException");
  EXPECT_AWS_ERROR(call("POST", "/projects/checkout/experiments/checkout-redesign-exp/cancel", json::object{}), 409, "ConflictException");
  auto started = start();
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_TRUE(body_of(started).at("startedTime").is_number());
  EXPECT_AWS_ERROR(start(), 409, "ConflictException");
  auto listed = body_of(call("GET", "/projects/checkout/experiments?status=RUNNING"));
  EXPECT_EQ(listed.at("experiments").as_array().size(), 1u);
  EXPECT_EQ(body_of(call("GET", "/projects/checkout/experiments?status=CREATED")).at("experiments").as_array().size(), 0u);

  EXPECT_AWS_ERROR(call("POST", "/projects/checkout/experiments/checkout-redesign-exp/cancel", json::object{{"desiredState", "PAUSED"}}), 400,
                   "ValidationException");
  auto stopped = call("POST", "/projects/checkout/experiments/checkout-redesign-exp/cancel",
                      json::object{{"desiredState", "CANCELLED"}, {"reason", "two-step won"}});
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_TRUE(body_of(stopped).at("endedTime").is_number());
  auto e = experiment_state();
  EXPECT_EQ(e.at("status"), "CANCELLED");
  EXPECT_EQ(e.at("statusReason"), "two-step won");
  // No restart, no second stop.
  EXPECT_AWS_ERROR(start(), 409, "ConflictException");
  EXPECT_AWS_ERROR(call("POST", "/projects/checkout/experiments/checkout-redesign-exp/cancel", json::object{}), 409, "ConflictException");
  auto got = body_of(call("GET", "/projects/checkout/experiments/checkout-redesign-exp")).at("experiment");
  EXPECT_TRUE(got.at("execution").at("endedTime").is_number());
  EXPECT_TRUE(got.at("schedule").at("analysisCompleteTime").is_number());
}

TEST_F(EvidentlyEmulatorTest, UnknownRoutesAreRefused) {
  auto reply = call("DELETE", "/projects/checkout/features/checkout-redesign");
  EXPECT_AWS_ERROR(reply, 400, "ValidationException");
  EXPECT_EQ(body_of(reply).at("reason"), "unknownOperation");
  EXPECT_AWS_ERROR(call("GET", "/projects/checkout/launches"), 400, "ValidationException");
}

// The four sample updates, planned by the bridge for backend `ev` and sent here in demo order.
TEST_F(EvidentlyEmulatorTest, SamplesApplyInDemoOrder) {
  std::ifstream in(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/backends.yaml");
  std::stringstream config_text;
  config_text << in.rdbuf();
  std::string config = config_text.str();
  const std::string ev_line = "{vendor: evidently, region: us-east-1, project: checkout}";
  auto at_ev = config.find(ev_line);
  ASSERT_NE(at_ev, std::string::npos);
  config.replace(at_ev, ev_line.size(), "{vendor: evidently, region: us-east-1, project: checkout, endpoint: \"http://127.0.0.1:1\"}");
  auto bridge = Bridge::from_text(config, "samples/backends.yaml");
  ASSERT_TRUE(bridge.has_value()) << bridge.error().describe();

  std::size_t sent = 0;
  for (std::string sample : {"redesign-variations", "start", "raise-exposure", "stop-with-result"}) {
    auto update = load_update(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/updates/" + sample + ".yaml");
    ASSERT_TRUE(update.has_value()) << update.error().describe();
    PlanOptions options;
    options.backends = {"ev"};
    auto plan = bridge->plan(*update, options);
    ASSERT_TRUE(plan.has_value()) << plan.error().describe();
    ASSERT_EQ(plan->backends.size(), 1u);
    for (const auto& planned : plan->backends[0].requests) {
      const std::string prefix = "http://127.0.0.1:1";
      ASSERT_TRUE(planned.url.starts_with(prefix)) << planned.url;
      SignAs as;
      as.host = "127.0.0.1:1";
      auto request = signed_request(planned.method, planned.url.substr(prefix.size()), planned.body ? write_json(*planned.body) : "", as,
                                    planned.headers);
      ASSERT_TRUE(emulator->serves(request));
      auto reply = emulator->handle(request);
      EXPECT_EQ(reply.status, planned.success_status) << sample << ": " << planned.operation << " " << reply.body;
      ++sent;
    }
  }
  EXPECT_EQ(sent, 3u);  // raise-exposure has nothing for a feature-only binding
  auto f = feature_state();
  EXPECT_EQ(f.at("description"), "First run, 25% of US web users");
  EXPECT_EQ(f.at("defaultVariation"), "control");
  EXPECT_EQ(write_json(f.at("entityOverrides")), R"({"qa-tester-1":"two-step"})");
  EXPECT_EQ(f.at("evaluationStrategy"), "DEFAULT_VARIATION");
  EXPECT_EQ(write_json(f.at("variations")),
            R"([{"name":"control","value":{"boolValue":false}},{"name":"two-step","value":{"boolValue":true}}])");
}

TEST(EvidentlyEmulatorFaults, InjectedErrorsTakeTheAwsShape) {
  const auto emulator = make_evidently_emulator();
  auto reply = emulator->injected_error({404, "injected", std::nullopt, std::nullopt});
  EXPECT_EQ(reply.header("x-amzn-ErrorType"), "ResourceNotFoundException");
  EXPECT_EQ(json::parse(reply.body).at("message"), "injected");
  EXPECT_EQ(emulator->injected_error({500, "m", "AWS4 echoed", std::nullopt}).header("x-amzn-RequestId"), "AWS4 echoed");
}

}  // namespace
}  // namespace expbridge::emulator
