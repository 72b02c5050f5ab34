// The Auth0 emulator, driven through handle(): the token flow, bearer checks, the experiment
// lifecycle and validation rules, and the samples' plans applied in demo order.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/json/parse.hpp>

#include "document.hpp"
#include "auth0/auth0_emulator.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;

const std::string kSource = EXPBRIDGE_SOURCE_DIR;
constexpr const char* kExp = "/api/v2/experimentation/experiments/exp_4fG7hJk";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The `auth0:` section of a YAML fixture text.
json::value section(std::string_view yaml) {
  auto doc = parse_document(yaml, "fixture.yaml");
  EXPECT_TRUE(doc) << doc.error().describe();
  return doc ? doc->root.as_object().at("auth0") : json::value();
}

ServerRequest make_request(std::string method, std::string target, std::string body = {},
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  ServerRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

json::value body_of(const ServerReply& reply) {
  boost::system::error_code ec;
  auto v = json::parse(reply.body, ec);
  return ec ? json::value() : v;
}

std::string message_of(const ServerReply& reply) {
  auto v = body_of(reply);
  if (!v.is_object() || !v.as_object().contains("message")) return "";
  return std::string(v.as_object().at("message").as_string());
}

constexpr const char* kForm =
    "grant_type=client_credentials&client_id=emulator-client-id&client_secret=emulator-client-secret"
    "&audience=https%3A%2F%2Fexample.us.auth0.com%2Fapi%2Fv2%2F";

class Auth0Emulator : public ::testing::Test {
 protected:
  void SetUp() override { seed(read_file(kSource + "/adapters/auth0/auth0_emulator_fixture.yaml")); }

  void seed(std::string_view yaml) {
    auto status = emulator_->seed(section(yaml));
    ASSERT_TRUE(status) << status.error().describe();
  }

  ServerReply token_request(std::string body, std::string content_type = "application/x-www-form-urlencoded") {
    return emulator_->handle(make_request("POST", "/oauth/token", std::move(body), {{"Content-Type", content_type}}));
  }

  std::string token() {
    if (!token_.empty()) return token_;
    auto reply = token_request(kForm);
    EXPECT_EQ(reply.status, 200) << reply.body;
    token_ = std::string(body_of(reply).at("access_token").as_string());
    return token_;
  }

  ServerReply call(std::string method, std::string target, std::string body = {}) {
    std::vector<std::pair<std::string, std::string>> headers{{"Authorization", "Bearer " + token()}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return emulator_->handle(make_request(std::move(method), std::move(target), std::move(body), std::move(headers)));
  }
  ServerReply patch(std::string body, std::string target = kExp) { return call("PATCH", std::move(target), std::move(body)); }
  ServerReply set_status(std::string status, std::string target = kExp) {
    return call("POST", std::move(target) + "/status", R"({"status":")" + status + R"("})");
  }

  json::object experiment(std::string id = "exp_4fG7hJk") const {
    return emulator_->state().at("experiments").at(id).as_object();
  }

  std::unique_ptr<VendorEmulator> emulator_ = make_auth0_emulator();
  std::string token_;
};

// ---- token endpoint ---------------------------------------------------------------------------

TEST_F(Auth0Emulator, IssuesATokenForFormEncodedClientCredentials) {
  auto reply = token_request(kForm);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = body_of(reply).as_object();
  EXPECT_EQ(body.at("token_type"), "Bearer");
  EXPECT_EQ(body.at("expires_in"), 86400);
  EXPECT_FALSE(body.at("access_token").as_string().empty());
  EXPECT_EQ(emulator_->state().at("tokens_issued"), 1);
  // Each request gets a new random token.
  auto second = body_of(token_request(kForm)).at("access_token");
  EXPECT_NE(second, body.at("access_token"));
  EXPECT_EQ(emulator_->state().at("tokens_issued"), 2);
}

TEST_F(Auth0Emulator, AcceptsAJsonTokenRequest) {
  auto reply = token_request(R"({"grant_type":"client_credentials","client_id":"emulator-client-id",)"
                             R"("client_secret":"emulator-client-secret","audience":"https://example.us.auth0.com/api/v2/"})",
                             "application/json; charset=utf-8");
  EXPECT_EQ(reply.status, 200) << reply.body;
}

TEST_F(Auth0Emulator, RefusesWrongClientCredentials) {
  for (std::string form : {"grant_type=client_credentials&client_id=emulator-client-id&client_secret=wrong"
                           "&audience=https%3A%2F%2Fexample.us.auth0.com%2Fapi%2Fv2%2F",
                           "grant_type=client_credentials&client_id=other&client_secret=emulator-client-secret"
                           "&audience=https%3A%2F%2Fexample.us.auth0.com%2Fapi%2Fv2%2F",
                           "grant_type=client_credentials&client_id=emulator-client-id"
                           "&audience=https%3A%2F%2Fexample.us.auth0.com%2Fapi%2Fv2%2F"}) {
    auto reply = token_request(form);
    EXPECT_EQ(reply.status, 401) << form;
    EXPECT_EQ(body_of(reply), json::parse(R"({"error":"access_denied","error_description":"Unauthorized"})"));
  }
  EXPECT_EQ(emulator_->state().at("tokens_issued"), 0);
}

TEST_F(Auth0Emulator, RefusesAWrongAudienceOrGrant) {
  const std::string credentials = "&client_id=emulator-client-id&client_secret=emulator-client-secret";
  // No trailing slash: a different API identifier.
  auto reply = token_request("grant_type=client_credentials" + credentials + "&audience=https%3A%2F%2Fexample.us.auth0.com%2Fapi%2Fv2");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(body_of(reply).at("error"), "access_denied");
  EXPECT_EQ(token_request("grant_type=client_credentials" + credentials).status, 403);
  reply = token_request("grant_type=password" + credentials + "&audience=https%3A%2F%2Fexample.us.auth0.com%2Fapi%2Fv2%2F");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(body_of(reply).at("error"), "unauthorized_client");
  reply = token_request(credentials.substr(1));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(body_of(reply).at("error"), "invalid_request");
  EXPECT_EQ(token_request(kForm, "text/plain").status, 400);
}

// ---- bearer checks ----------------------------------------------------------------------------

TEST_F(Auth0Emulator, ApiNeedsABearerTokenItIssued) {
  auto missing = emulator_->handle(make_request("GET", kExp));
  EXPECT_EQ(missing.status, 401);
  auto body = body_of(missing).as_object();
  EXPECT_EQ(body.at("statusCode"), 401);
  EXPECT_EQ(body.at("error"), "Unauthorized");
  EXPECT_TRUE(body.contains("message"));
  EXPECT_EQ(emulator_->handle(make_request("GET", kExp, {}, {{"Authorization", "Bearer not-issued"}})).status, 401);
  EXPECT_EQ(emulator_->handle(make_request("GET", kExp, {}, {{"Authorization", token()}})).status, 401);
  EXPECT_EQ(emulator_->handle(make_request("GET", kExp, {}, {{"Authorization", "Basic " + token()}})).status, 401);
  EXPECT_EQ(emulator_->handle(make_request("GET", kExp, {}, {{"authorization", "bearer " + token()}})).status, 200);
  // Nothing changed on a refused write.
  auto refused = emulator_->handle(make_request("PATCH", kExp, R"({"name":"Sneaky"})", {{"Authorization", "Bearer nope"}}));
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(experiment().at("name"), "Checkout redesign draft");
}

TEST_F(Auth0Emulator, ExpiredTokensAreRefused) {
  seed(read_file(kSource + "/adapters/auth0/auth0_emulator_fixture.yaml") + "  token_lifetime_s: 1\n");
  auto reply = token_request(kForm);
  EXPECT_EQ(body_of(reply).at("expires_in"), 1);
  token_ = std::string(body_of(reply).at("access_token").as_string());
  EXPECT_EQ(call("GET", kExp).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto expired = call("GET", kExp);
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(message_of(expired).find("Expired"), std::string::npos);
}

TEST_F(Auth0Emulator, ServesOnlyItsPaths) {
  EXPECT_TRUE(emulator_->serves(make_request("POST", "/oauth/token")));
  EXPECT_TRUE(emulator_->serves(make_request("GET", "/api/v2/experimentation/experiments?take=2")));
  EXPECT_TRUE(emulator_->serves(make_request("PATCH", kExp)));
  // LaunchDarkly's API shares the /api/v2 prefix.
  EXPECT_FALSE(emulator_->serves(make_request("GET", "/api/v2/projects/default/flags/x")));
  EXPECT_FALSE(emulator_->serves(make_request("GET", "/experiments")));
}

// The host adds what the limiter says to every answer (tests/emulator/rate_limits_test.cpp
// checks a limited bucket through the host); without limits the bucket stays nearly full.
TEST_F(Auth0Emulator, AnswersCarryRateLimitHeaders) {
  const auto now = std::chrono::system_clock::now();
  auto verdict = emulator_->rate_limit(make_request("GET", kExp), now);
  EXPECT_FALSE(verdict.refusal);
  auto has = [&](std::string_view name) {
    return std::any_of(verdict.headers.begin(), verdict.headers.end(), [&](const auto& h) { return h.first == name; });
  };
  EXPECT_TRUE(has("X-RateLimit-Limit"));
  EXPECT_TRUE(has("X-RateLimit-Remaining"));
  EXPECT_TRUE(has("X-RateLimit-Reset"));
  EXPECT_TRUE(emulator_->rate_limit(make_request("POST", "/oauth/token"), now).headers.empty())
      << "the token endpoint is the Authentication API's, limited apart";
}

// ---- reads ------------------------------------------------------------------------------------

TEST_F(Auth0Emulator, GetsTheSeededExperiment) {
  auto reply = call("GET", kExp);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = body_of(reply).as_object();
  EXPECT_EQ(body.at("id"), "exp_4fG7hJk");
  EXPECT_EQ(body.at("status"), "draft");
  EXPECT_EQ(body.at("is_valid"), true);
  EXPECT_EQ(body.at("allocation_strategy"), "percentage");
  EXPECT_EQ(body.at("allocations"), json::parse(R"([{"variation_id":"var_2xQa","weight":50,"is_control":true},)"
                                                R"({"variation_id":"var_9bZk","weight":50,"is_control":false}])"));
  EXPECT_FALSE(body.contains("started_at"));
  auto missing = call("GET", "/api/v2/experimentation/experiments/exp_9zz");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(body_of(missing).at("statusCode"), 404);
  auto bad = call("GET", "/api/v2/experimentation/experiments/exp_0OIl");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_of(bad).at("errorCode"), "invalid_uri");
  EXPECT_EQ(call("PUT", kExp).status, 404);
}

constexpr const char* kFlag = "/api/v2/experimentation/feature-flags/flg_8kTz3Wq";

TEST_F(Auth0Emulator, GetsTheExperimentsFeatureFlagWithItsBaselineParameters) {
  auto reply = call("GET", kFlag);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = body_of(reply).as_object();
  EXPECT_EQ(body.at("id"), "flg_8kTz3Wq");
  EXPECT_EQ(body.at("name"), "checkout-flow");
  EXPECT_EQ(body.at("description"), "Which checkout the login flow leads to");
  EXPECT_EQ(body.at("status"), "active");
  EXPECT_EQ(body.at("parameters"), json::parse(R"({"checkout_layout":"one-page","steps":1})"));
  EXPECT_TRUE(body.at("created_at").is_string());
  // The experiment's feature_flag_id is the path to its flag.
  auto experiment_body = body_of(call("GET", kExp));
  EXPECT_EQ(call("GET", "/api/v2/experimentation/feature-flags/" + std::string(experiment_body.at("feature_flag_id").as_string())).status, 200);

  auto missing = call("GET", "/api/v2/experimentation/feature-flags/flg_9zz");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(body_of(missing).at("statusCode"), 404);
  EXPECT_EQ(body_of(missing).at("error"), "Not Found");
  auto bad = call("GET", "/api/v2/experimentation/feature-flags/flg_0OIl");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_of(bad).at("errorCode"), "invalid_uri");
  EXPECT_EQ(call("PATCH", kFlag, R"({"name":"x"})").status, 404);  // flag writes are not emulated
  // Reads need the bearer token like writes.
  EXPECT_EQ(emulator_->handle(make_request("GET", kFlag)).status, 401);
  EXPECT_EQ(emulator_->handle(make_request("GET", std::string(kFlag) + "/variations", {}, {{"Authorization", "Bearer nope"}})).status, 401);
}

TEST_F(Auth0Emulator, ListsAndGetsTheFlagsVariationsWithNamesAndOverrides) {
  auto reply = call("GET", std::string(kFlag) + "/variations");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = body_of(reply).as_object();
  EXPECT_FALSE(body.contains("next"));
  const auto& variations = body.at("variations").as_array();
  ASSERT_EQ(variations.size(), 2u);
  EXPECT_EQ(variations[0].at("id"), "var_2xQa");
  EXPECT_EQ(variations[0].at("name"), "control");
  EXPECT_EQ(variations[0].at("feature_flag_id"), "flg_8kTz3Wq");
  EXPECT_EQ(variations[0].at("overrides"), json::object{});  // the control: the baseline as is
  EXPECT_EQ(variations[1].at("name"), "two-step");
  EXPECT_EQ(variations[1].at("overrides"), json::parse(R"({"checkout_layout":"two-step","steps":2})"));

  auto first = body_of(call("GET", std::string(kFlag) + "/variations?take=1")).as_object();
  ASSERT_EQ(first.at("variations").as_array().size(), 1u);
  ASSERT_EQ(first.at("next"), "var_9bZk");
  auto second = body_of(call("GET", std::string(kFlag) + "/variations?take=1&from=var_9bZk")).as_object();
  ASSERT_EQ(second.at("variations").as_array().size(), 1u);
  EXPECT_EQ(second.at("variations").at(0).at("id"), "var_9bZk");
  EXPECT_FALSE(second.contains("next"));
  EXPECT_EQ(call("GET", std::string(kFlag) + "/variations?take=51").status, 400);
  EXPECT_EQ(call("GET", std::string(kFlag) + "/variations?colour=red").status, 400);

  auto one = call("GET", std::string(kFlag) + "/variations/var_9bZk");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(body_of(one).at("name"), "two-step");
  EXPECT_EQ(call("GET", std::string(kFlag) + "/variations/var_7zz").status, 404);
  EXPECT_EQ(call("GET", std::string(kFlag) + "/variations/nope").status, 400);
  EXPECT_EQ(call("GET", "/api/v2/experimentation/feature-flags/flg_9zz/variations").status, 404);
}

TEST_F(Auth0Emulator, VariationOverridesMustNameBaselineParametersOfTheirType) {
  auto refused = [&](std::string_view variations) {
    std::string yaml = "auth0:\n  feature_flags: [{id: flg_8kTz3Wq, name: f, parameters: {steps: 1}, variations: [" +
                       std::string(variations) + "]}]\n";
    return !emulator_->seed(section(yaml));
  };
  EXPECT_TRUE(refused("{id: var_2xQa}, {id: var_9bZk, overrides: {colour: red}}"));
  EXPECT_TRUE(refused("{id: var_2xQa}, {id: var_9bZk, overrides: {steps: two}}"));
  EXPECT_TRUE(refused("{id: var_2xQa}, {id: var_2xQa}"));
  EXPECT_FALSE(refused("{id: var_2xQa}, {id: var_9bZk, overrides: {steps: 2}}"));
}

constexpr const char* kThree = R"(auth0:
  domain: example.us.auth0.com
  feature_flags:
    - id: flg_8kTz3Wq
      name: checkout-flow
      status: active
      variations: [{id: var_2xQa}, {id: var_9bZk}]
  experiments:
    - {id: exp_A1, name: First, feature_flag_id: flg_8kTz3Wq, status: completed,
       allocations: [{variation_id: var_2xQa, is_control: true, weight: 100}]}
    - {id: exp_B2, name: Second, feature_flag_id: flg_8kTz3Wq, status: archived,
       allocations: [{variation_id: var_2xQa, is_control: true, weight: 100}]}
    - {id: exp_C3, name: Third, feature_flag_id: flg_8kTz3Wq,
       allocations: [{variation_id: var_2xQa, is_control: true, weight: 50}, {variation_id: var_9bZk, is_control: false, weight: 50}]}
    - {id: exp_D4, name: Fourth, feature_flag_id: flg_8kTz3Wq,
       allocations: [{variation_id: var_2xQa, is_control: true, weight: 50}, {variation_id: var_9bZk, is_control: false, weight: 50}]}
)";

TEST_F(Auth0Emulator, ListsWithCheckpointPaging) {
  seed(kThree);
  auto ids = [](const json::value& body) {
    std::vector<std::string> out;
    for (const auto& e : body.at("experiments").as_array()) out.emplace_back(e.at("id").as_string());
    return out;
  };
  auto first = call("GET", "/api/v2/experimentation/experiments?take=2");
  ASSERT_EQ(first.status, 200) << first.body;
  // Archived experiments are hidden from the default list.
  EXPECT_EQ(ids(body_of(first)), (std::vector<std::string>{"exp_A1", "exp_C3"}));
  std::string next(body_of(first).at("next").as_string());
  auto second = call("GET", "/api/v2/experimentation/experiments?take=2&from=" + next);
  EXPECT_EQ(ids(body_of(second)), (std::vector<std::string>{"exp_D4"}));
  EXPECT_FALSE(body_of(second).as_object().contains("next"));
  EXPECT_EQ(ids(body_of(call("GET", "/api/v2/experimentation/experiments?status=archived"))), (std::vector<std::string>{"exp_B2"}));
  EXPECT_EQ(ids(body_of(call("GET", "/api/v2/experimentation/experiments"))).size(), 3u);
  for (std::string query : {"take=0", "take=51", "take=x", "status=running", "limit=2", "from=exp_nope"}) {
    auto reply = call("GET", "/api/v2/experimentation/experiments?" + query);
    EXPECT_EQ(reply.status, 400) << query;
    EXPECT_EQ(body_of(reply).at("errorCode"), "invalid_query_string") << query;
  }
}

// ---- PATCH validation -------------------------------------------------------------------------

TEST_F(Auth0Emulator, PatchChangesOnlyTheMembersSent) {
  auto reply = patch(R"({"name":"Checkout redesign v2"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(body_of(reply).at("name"), "Checkout redesign v2");
  auto e = experiment();
  EXPECT_EQ(e.at("name"), "Checkout redesign v2");
  EXPECT_EQ(e.at("description"), "One-page checkout against the current flow");
  EXPECT_EQ(e.at("allocations").as_array().size(), 2u);
  // null clears the description (unverified vendor behaviour, see the emulator).
  EXPECT_EQ(patch(R"({"description":null})").status, 200);
  EXPECT_TRUE(experiment().at("description").is_null());
  EXPECT_EQ(patch(R"({"assignment_config":{"subject":"device"}})").status, 200);
}

TEST_F(Auth0Emulator, PatchRefusesWhatTheSchemaRefuses) {
  const std::string long_name(256, 'n'), long_description(1025, 'd');
  const std::vector<std::string> bodies = {
      R"({})",
      R"({"name":"Fine","hypothesis":"x"})",
      R"({"feature_flag_id":"flg_8kTz3Wq"})",
      R"({"name":"Go"})",
      R"({"name":")" + long_name + R"("})",
      R"({"name":"Trailing "})",
      R"({"name":" Leading"})",
      R"({"name":"Line\nbreak"})",
      R"({"name":"Nul\u0000byte"})",
      R"({"name":42})",
      R"({"description":"ab"})",
      R"({"description":")" + long_description + R"("})",
      R"({"description":"tab at end\t"})",
      R"({"assignment_config":{"subject":"user"}})",
      R"({"assignment_config":{}})",
      R"({"allocations":[]})",
      R"({"allocations":{}})",
      R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":101}]})",
      R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":-1}]})",
      R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":"50"}]})",
      R"({"allocations":[{"variation_id":"var_2xQa","weight":100}]})",
      R"({"allocations":[{"variation_id":"var_0bad","is_control":true,"weight":100}]})",
      R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":100,"key":"control"}]})",
      R"({"allocations":[{"variation_id":"var_2xQa","is_control":"yes","weight":100}]})",
      R"([{"name":"Array"}])",
  };
  for (const auto& body : bodies) {
    auto reply = patch(body);
    EXPECT_EQ(reply.status, 400) << body;
    auto b = body_of(reply);
    ASSERT_TRUE(b.is_object()) << body;
    EXPECT_EQ(b.at("statusCode"), 400) << body;
    EXPECT_EQ(b.at("error"), "Bad Request") << body;
    EXPECT_EQ(b.at("errorCode"), "invalid_body") << body;
  }
  EXPECT_EQ(patch("{not json").status, 400);
  EXPECT_EQ(call("PATCH", kExp, "").status, 400);  // an empty body is no object
  EXPECT_EQ(experiment().at("name"), "Checkout redesign draft");
  // The limits themselves are allowed.
  EXPECT_EQ(patch(R"({"name":"Abc"})").status, 200);
  EXPECT_EQ(patch(R"({"name":")" + std::string(255, 'n') + R"("})").status, 200);
  EXPECT_EQ(patch(R"({"description":")" + std::string(1024, 'd') + R"("})").status, 200);
  EXPECT_EQ(patch(R"({"name":"Inner  spaces ok"})").status, 200);
}

TEST_F(Auth0Emulator, PatchRefusesAllocationsThatDoNotFitTheExperiment) {
  // A variation of another flag (or none).
  auto reply = patch(R"({"allocations":[{"variation_id":"var_7nope","is_control":true,"weight":100}]})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(message_of(reply).find("var_7nope"), std::string::npos);
  // Exactly one control.
  reply = patch(R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":50},)"
                R"({"variation_id":"var_9bZk","is_control":true,"weight":50}]})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(message_of(reply).find("is_control"), std::string::npos);
  EXPECT_EQ(patch(R"({"allocations":[{"variation_id":"var_2xQa","is_control":false,"weight":100}]})").status, 400);
  // Segment members on a percentage experiment.
  EXPECT_EQ(patch(R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":100,"priority":1}]})").status, 400);
  // Weights are a readiness rule, not a write rule: stored, but the experiment is not valid.
  reply = patch(R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":40},)"
                R"({"variation_id":"var_9bZk","is_control":false,"weight":50}]})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(body_of(reply).at("is_valid"), false);
  // Weight 0 is allowed.
  reply = patch(R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":100},)"
                R"({"variation_id":"var_9bZk","is_control":false,"weight":0}]})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(body_of(reply).at("is_valid"), true);
}

TEST_F(Auth0Emulator, PatchRefusesADuplicateNameInTheTenant) {
  seed(kThree);
  auto reply = patch(R"({"name":"Second"})", "/api/v2/experimentation/experiments/exp_C3");
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(body_of(reply).at("error"), "Conflict");
  EXPECT_EQ(patch(R"({"name":"Third"})", "/api/v2/experimentation/experiments/exp_C3").status, 200);  // its own name
  EXPECT_EQ(patch(R"({"name":"Anything"})", "/api/v2/experimentation/experiments/exp_Zz9").status, 404);
}

TEST_F(Auth0Emulator, AllocationsAreFrozenWhileActive) {
  ASSERT_EQ(set_status("active").status, 200);
  const std::string allocations = R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":20},)"
                                  R"({"variation_id":"var_9bZk","is_control":false,"weight":80}]})";
  auto reply = patch(allocations);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(message_of(reply), "Allocations cannot be modified while the experiment is active");
  EXPECT_EQ(experiment().at("allocations").as_array()[0].at("weight"), 50);
  EXPECT_EQ(patch(R"({"name":"Renamed while active"})").status, 200);
  ASSERT_EQ(set_status("paused").status, 200);
  EXPECT_EQ(patch(allocations).status, 200);
  EXPECT_EQ(set_status("active").status, 200);
  EXPECT_EQ(experiment().at("allocations").as_array()[1].at("weight"), 80);
}

// ---- status transitions -----------------------------------------------------------------------

std::string fixture_with_status(std::string_view status) {
  return R"(auth0:
  domain: example.us.auth0.com
  feature_flags:
    - {id: flg_8kTz3Wq, name: f, status: active, variations: [{id: var_2xQa}, {id: var_9bZk}]}
  experiments:
    - {id: exp_4fG7hJk, name: Checkout, feature_flag_id: flg_8kTz3Wq, status: )" +
         std::string(status) + R"(,
       allocations: [{variation_id: var_2xQa, is_control: true, weight: 50}, {variation_id: var_9bZk, is_control: false, weight: 50}]}
)";
}

TEST_F(Auth0Emulator, EveryTransitionIsAllowedOrRefusedAsDocumented) {
  struct Case {
    const char* from;
    const char* to;
    bool allowed;
  };
  const Case cases[] = {
      {"draft", "active", true},       {"draft", "paused", false},      {"draft", "completed", false},
      {"draft", "archived", true},     {"active", "active", false},     {"active", "paused", true},
      {"active", "completed", true},   {"active", "archived", false},   {"paused", "active", true},
      {"paused", "paused", false},     {"paused", "completed", true},   {"paused", "archived", true},
      {"completed", "active", false},  {"completed", "paused", false},  {"completed", "completed", false},
      {"completed", "archived", true}, {"archived", "active", false},   {"archived", "paused", false},
      {"archived", "completed", false}, {"archived", "archived", false},
  };
  for (const auto& c : cases) {
    seed(fixture_with_status(c.from));
    auto reply = set_status(c.to);
    if (c.allowed) {
      EXPECT_EQ(reply.status, 200) << c.from << " -> " << c.to << ": " << reply.body;
      EXPECT_EQ(experiment().at("status"), c.to);
    } else {
      EXPECT_EQ(reply.status, 400) << c.from << " -> " << c.to;
      EXPECT_EQ(message_of(reply), "Status transition is not allowed") << c.from << " -> " << c.to;
      EXPECT_EQ(experiment().at("status"), c.from);
    }
  }
}

TEST_F(Auth0Emulator, StatusBodyIsCheckedAndUnknownExperimentsAre404) {
  for (std::string body : {R"({"status":"draft"})", R"({"status":"running"})", R"({})", R"({"status":"active","x":1})",
                           R"({"status":true})"}) {
    auto reply = call("POST", std::string(kExp) + "/status", body);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_EQ(body_of(reply).at("errorCode"), "invalid_body") << body;
  }
  auto missing = set_status("active", "/api/v2/experimentation/experiments/exp_Nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(experiment().at("status"), "draft");
}

TEST_F(Auth0Emulator, TimestampsFollowTheLifecycle) {
  EXPECT_TRUE(experiment().at("started_at").is_null());
  ASSERT_EQ(set_status("active").status, 200);
  auto started = experiment().at("started_at");
  EXPECT_TRUE(started.is_string());
  EXPECT_TRUE(experiment().at("ended_at").is_null());
  ASSERT_EQ(set_status("paused").status, 200);
  ASSERT_EQ(set_status("active").status, 200);
  EXPECT_EQ(experiment().at("started_at"), started);  // resuming keeps the first start
  auto reply = set_status("completed");
  ASSERT_EQ(reply.status, 200);
  EXPECT_TRUE(experiment().at("ended_at").is_string());
  EXPECT_EQ(body_of(reply).at("ended_at"), experiment().at("ended_at"));
}

TEST_F(Auth0Emulator, ActivationRunsTheReadinessCheck) {
  ASSERT_EQ(patch(R"({"allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":40},)"
                  R"({"variation_id":"var_9bZk","is_control":false,"weight":50}]})").status, 200);
  auto reply = set_status("active");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(message_of(reply).find("total 100"), std::string::npos) << reply.body;
  auto validation = body_of(call("POST", std::string(kExp) + "/validate"));
  EXPECT_EQ(validation.at("is_valid"), false);
  EXPECT_EQ(validation.at("errors").as_array().size(), 1u);
  EXPECT_EQ(experiment().at("status"), "draft");

  // A flag that is not active blocks activation too.
  std::string yaml = fixture_with_status("draft");
  yaml.replace(yaml.find("status: active"), 14, "status: draft");
  seed(yaml);
  reply = set_status("active");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(message_of(reply).find("not active"), std::string::npos) << reply.body;
}

TEST_F(Auth0Emulator, OnlyOneExperimentIsActiveInATenant) {
  seed(kThree);
  const std::string c3 = "/api/v2/experimentation/experiments/exp_C3", d4 = "/api/v2/experimentation/experiments/exp_D4";
  ASSERT_EQ(set_status("active", c3).status, 200);
  auto reply = set_status("active", d4);
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(message_of(reply).find("already active"), std::string::npos) << reply.body;
  EXPECT_EQ(body_of(call("GET", d4)).at("is_valid"), false);
  // Pausing the first frees the tenant; the first cannot resume while the second runs.
  ASSERT_EQ(set_status("paused", c3).status, 200);
  EXPECT_EQ(set_status("active", d4).status, 200);
  EXPECT_EQ(set_status("active", c3).status, 400);
  EXPECT_EQ(experiment("exp_C3").at("status"), "paused");
}

TEST_F(Auth0Emulator, DeleteIsIdempotentAndRefusedWhileActive) {
  ASSERT_EQ(set_status("active").status, 200);
  auto reply = call("DELETE", kExp);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(message_of(reply), "Active experiments cannot be deleted");
  ASSERT_EQ(set_status("completed").status, 200);
  EXPECT_EQ(call("DELETE", kExp).status, 204);
  EXPECT_EQ(call("DELETE", kExp).status, 204);
  EXPECT_EQ(call("GET", kExp).status, 404);
}

// ---- fixture ----------------------------------------------------------------------------------

TEST_F(Auth0Emulator, SeedIsStrict) {
  auto refuse = [&](std::string yaml) {
    auto status = emulator_->seed(section(yaml));
    EXPECT_FALSE(status) << yaml;
  };
  refuse("auth0: {domain: example.us.auth0.com, tenant: x}\n");
  refuse("auth0:\n  feature_flags: [{id: flg_8kTz3Wq, name: f, status: active, variations: [{id: var_2xQa}]}]\n");
  refuse("auth0:\n  feature_flags: [{id: flg_8kTz3Wq, name: f, variations: [{id: var_2xQa}, {id: var_9bZk, colour: red}]}]\n");
  refuse("auth0:\n  feature_flags: [{id: flg_8kTz3Wq, name: f, variations: [{id: var_2xQa}, {id: var_9bZk}]}]\n"
         "  experiments: [{id: exp_A1, name: One, feature_flag_id: flg_8kTz3Wq,"
         " allocations: [{variation_id: var_7other, is_control: true, weight: 100}]}]\n");
  refuse("auth0:\n  experiments: [{id: exp_A1, name: One, feature_flag_id: flg_missing}]\n");
  std::string two_active = fixture_with_status("active");
  two_active += "    - {id: exp_B2, name: Other, feature_flag_id: flg_8kTz3Wq, status: active}\n";
  refuse(two_active);
  // A refused seed leaves the state as it was.
  EXPECT_EQ(experiment().at("name"), "Checkout redesign draft");
}

TEST_F(Auth0Emulator, DefaultFixtureHoldsTheSampleIds) {
  auto state = emulator_->state();
  EXPECT_EQ(state.at("domain"), "example.us.auth0.com");
  auto e = experiment();
  EXPECT_EQ(e.at("status"), "draft");
  EXPECT_EQ(e.at("is_valid"), true);
  std::string flag(e.at("feature_flag_id").as_string());
  EXPECT_EQ(state.at("feature_flags").at(flag).at("status"), "active");
  EXPECT_EQ(state.at("feature_flags").at(flag).at("variations"), json::parse(R"(["var_2xQa","var_9bZk"])"));
}

// ---- the samples, in demo order ---------------------------------------------------------------

TEST_F(Auth0Emulator, AppliesTheSamplePlansInDemoOrder) {
  std::string config = read_file(kSource + "/samples/backends.yaml");
  const std::string marker = "{vendor: auth0, ";
  auto at = config.find(marker);
  ASSERT_NE(at, std::string::npos);
  config.insert(at + marker.size(), "endpoint: \"http://127.0.0.1:1\", ");
  auto bridge = Bridge::from_text(config, "backends.yaml");
  ASSERT_TRUE(bridge) << bridge.error().describe();
  PlanOptions options;
  options.backends = {"a0"};

  auto apply = [&](const std::string& sample) {
    auto update = load_update(kSource + "/samples/updates/" + sample);
    ASSERT_TRUE(update) << update.error().describe();
    auto plan = bridge->plan(*update, options);
    ASSERT_TRUE(plan) << plan.error().describe();
    ASSERT_EQ(plan->backends.size(), 1u);
    for (const auto& planned : plan->backends[0].requests) {
      const std::string base = "http://127.0.0.1:1";
      ASSERT_EQ(planned.url.substr(0, base.size()), base);
      auto request = make_request(planned.method, planned.url.substr(base.size()),
                                  planned.body ? write_json(*planned.body) : "", planned.headers);
      request.headers.emplace_back("Authorization", "Bearer " + token());
      ASSERT_TRUE(emulator_->serves(request)) << planned.url;
      auto reply = emulator_->handle(request);
      EXPECT_EQ(reply.status, planned.success_status) << sample << ": " << planned.method << " " << planned.url << " -> " << reply.body;
    }
  };

  apply("redesign-variations.yaml");
  auto e = experiment();
  EXPECT_EQ(e.at("name"), "Checkout redesign");
  // The sample may or may not carry a description; without one the fixture's stays.
  auto redesign = load_update(kSource + "/samples/updates/redesign-variations.yaml");
  ASSERT_TRUE(redesign);
  EXPECT_EQ(e.at("description"), json::value(redesign->description.value_or("One-page checkout against the current flow")));
  EXPECT_EQ(e.at("allocations"), json::parse(R"([{"variation_id":"var_2xQa","weight":50,"is_control":true},)"
                                             R"({"variation_id":"var_9bZk","weight":50,"is_control":false}])"));
  EXPECT_EQ(e.at("status"), "draft");

  apply("start.yaml");
  e = experiment();
  EXPECT_EQ(e.at("status"), "active");
  EXPECT_EQ(e.at("description"), "First run, 25% of US web users");
  EXPECT_TRUE(e.at("started_at").is_string());

  apply("raise-exposure.yaml");  // nothing Auth0 can express: no request
  EXPECT_EQ(experiment().at("status"), "active");

  apply("stop-with-result.yaml");
  e = experiment();
  EXPECT_EQ(e.at("status"), "completed");
  EXPECT_TRUE(e.at("ended_at").is_string());
  EXPECT_EQ(emulator_->state().at("tokens_issued"), 1);
}

// An injected fault answers as the Management API does: {statusCode, error, message}, the
// echoed Authorization as x-request-id when the fault echoes.
TEST(Auth0EmulatorFaults, InjectedErrorsTakeTheManagementApiShape) {
  const auto emulator = make_auth0_emulator();
  auto reply = emulator->injected_error({429, "injected", std::nullopt, std::nullopt});
  auto body = json::parse(reply.body);
  EXPECT_EQ(body.at("statusCode"), 429);
  EXPECT_EQ(body.at("error"), "Too Many Requests");
  EXPECT_EQ(body.at("message"), "injected");
  EXPECT_FALSE(reply.header("x-request-id"));
  EXPECT_EQ(emulator->injected_error({502, "m", "Bearer echoed", std::nullopt}).header("x-request-id"), "Bearer echoed");
}


// ---- CreateExperiment -------------------------------------------------------------------------

namespace create_experiment {

constexpr const char* kExperiments = "/api/v2/experimentation/experiments";

std::string body(std::string_view name, std::string_view extra = {}) {
  return R"({"name":")" + std::string(name) + R"(","feature_flag_id":"flg_8kTz3Wq","authentication_flow":"authentication",)"
         R"("allocation_strategy":"percentage","assignment_config":{"subject":"device"},)"
         R"("allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":40},)"
         R"({"variation_id":"var_9bZk","is_control":false,"weight":60}])" + std::string(extra) + "}";
}

}  // namespace create_experiment

TEST_F(Auth0Emulator, CreatesADraftExperimentWithAnIdOfItsOwn) {
  auto reply = call("POST", create_experiment::kExperiments, create_experiment::body("Checkout migrated"));
  ASSERT_EQ(reply.status, 201) << reply.body;
  const json::object created = body_of(reply).as_object();
  const std::string id(created.at("id").as_string());
  EXPECT_TRUE(id.starts_with("exp_") && id.size() > 4) << id;
  EXPECT_EQ(id.find_first_of("0OIl", 4), std::string::npos) << id;  // Base58
  EXPECT_EQ(created.at("status").as_string(), "draft");
  EXPECT_EQ(experiment(id).at("allocations").as_array().size(), 2u);
  // A second one: another id; the same name again: 409.
  auto second = call("POST", create_experiment::kExperiments, create_experiment::body("Checkout migrated 2"));
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_NE(body_of(second).at("id").as_string(), id);
  EXPECT_EQ(call("POST", create_experiment::kExperiments, create_experiment::body("Checkout migrated")).status, 409);
  // It can be activated like any draft.
  EXPECT_EQ(set_status("active", std::string(create_experiment::kExperiments) + "/" + id).status, 200);
}

TEST_F(Auth0Emulator, CreateRefusesWhatTheSchemaRefusesAndAnUnknownFlag) {
  const std::size_t before = emulator_->state().at("experiments").as_object().size();
  auto unknown = call("POST", create_experiment::kExperiments, create_experiment::body("Checkout migrated", R"(,"hypothesis":"x")"));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(message_of(unknown).find("Additional properties not allowed: hypothesis"), std::string::npos) << unknown.body;
  EXPECT_EQ(call("POST", create_experiment::kExperiments, create_experiment::body("ab")).status, 400);  // name < 3
  auto missing = call("POST", create_experiment::kExperiments, R"({"name":"Checkout migrated"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(message_of(missing).find("Missing required property"), std::string::npos) << missing.body;
  std::string other_flag = create_experiment::body("Checkout migrated");
  other_flag.replace(other_flag.find("flg_8kTz3Wq"), 11, "flg_NoSuch");
  EXPECT_EQ(call("POST", create_experiment::kExperiments, other_flag).status, 404);
  std::string two_controls = create_experiment::body("Checkout migrated");
  two_controls.replace(two_controls.find("\"is_control\":false"), 18, "\"is_control\":true");
  EXPECT_EQ(call("POST", create_experiment::kExperiments, two_controls).status, 400);
  EXPECT_EQ(emulator_->state().at("experiments").as_object().size(), before);
}

}  // namespace
}  // namespace expbridge::emulator
