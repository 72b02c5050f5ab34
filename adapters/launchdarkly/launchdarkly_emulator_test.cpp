// The LaunchDarkly emulator, driven through handle() directly (no sockets).
#include "launchdarkly/launchdarkly_emulator.hpp"

#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "document.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;

const std::string kSource = EXPBRIDGE_SOURCE_DIR;
constexpr const char* kSemantic = "application/json; domain-model=launchdarkly.semanticpatch";
constexpr const char* kExperiment = "/api/v2/projects/default/environments/production/experiments/checkout-redesign";
constexpr const char* kCollection = "/api/v2/projects/default/environments/production/experiments";
constexpr const char* kControl = "6a1f0e2c-0c4b-4a8e-9d51-0000000000c0";
constexpr const char* kTwoStep = "6a1f0e2c-0c4b-4a8e-9d51-0000000000t1";

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json::value default_section() {
  auto doc = parse_document(read_text_file(kSource + "/adapters/launchdarkly/launchdarkly_emulator_fixture.yaml"), "launchdarkly_emulator_fixture.yaml");
  EXPECT_TRUE(doc) << doc.error().describe();
  return doc->root.at("launchdarkly");
}

/// The API token the emulator accepts, from the emulator itself.
std::string token() {
  auto value = make_launchdarkly_emulator()->credential("LD_API_TOKEN");
  EXPECT_TRUE(value);
  return value.value_or("");
}

json::value body_of(const ServerReply& reply) { return json::parse(reply.body); }

class LaunchDarklyEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu_ = make_launchdarkly_emulator();
    auto seeded = emu_->seed(default_section());
    ASSERT_TRUE(seeded) << seeded.error().describe();
  }

  ServerReply send(std::string method, std::string target, std::string body = "",
                   std::vector<std::pair<std::string, std::string>> headers = {
                       {"Authorization", token()}, {"Content-Type", kSemantic}}) {
    ServerRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.headers = std::move(headers);
    request.body = std::move(body);
    EXPECT_TRUE(emu_->serves(request));
    return emu_->handle(request);
  }
  ServerReply patch(const json::value& body) { return send("PATCH", kExperiment, write_json(body)); }
  ServerReply instructions(std::string_view instructions_json) {
    return send("PATCH", kExperiment, "{\"instructions\": " + std::string(instructions_json) + "}");
  }
  json::value experiment() const {
    return emu_->state().at("projects").at("default").at("environments").at("production").at("experiments").at("checkout-redesign");
  }
  /// Reseeds with the default fixture after `edit` changes it.
  template <class Edit>
  void reseed(Edit edit) {
    json::value section = default_section();
    edit(section.at("projects").at("default").at("environments").at("production").as_object());
    auto seeded = emu_->seed(section);
    ASSERT_TRUE(seeded) << seeded.error().describe();
  }
  static json::object& fixture_experiment(json::object& env) {
    return env.at("experiments").at("checkout-redesign").as_object();
  }
  static json::object& fixture_flag(json::value& section) {
    return section.at("projects").at("default").at("environments").at("production").at("flags").at("checkout-redesign").as_object();
  }
  static json::object& fixture_draft(json::object& env) {
    return fixture_experiment(env).at("iterations").as_array().at(0).as_object();
  }
  static void expect_error(const ServerReply& reply, int status, std::string_view code, std::string_view message_part = "") {
    EXPECT_EQ(reply.status, status) << reply.body;
    auto body = body_of(reply);
    ASSERT_TRUE(body.is_object()) << reply.body;
    EXPECT_EQ(body.at("code").as_string(), code) << reply.body;
    EXPECT_TRUE(body.at("id").is_string());
    EXPECT_NE(std::string(body.at("message").as_string()).find(message_part), std::string::npos) << reply.body;
  }
  std::string new_iteration_body(std::string_view control = "50", std::string_view two_step = "50") const {
    return std::string(R"({"hypothesis": "Two steps beat one", "metrics": [{"key": "checkout-conversion"}],
      "primarySingleMetricKey": "checkout-conversion", "randomizationUnit": "user",
      "flags": {"checkout-redesign": {"ruleId": "fallthrough", "flagConfigVersion": 7}},
      "treatments": [
        {"name": "control", "baseline": true, "allocationPercent": ")") + std::string(control) + R"(",
         "parameters": [{"flagKey": "checkout-redesign", "variationId": ")" + kControl + R"("}]},
        {"name": "two-step", "baseline": false, "allocationPercent": ")" + std::string(two_step) + R"(",
         "parameters": [{"flagKey": "checkout-redesign", "variationId": ")" + kTwoStep + R"("}]}]})";
  }

  std::unique_ptr<VendorEmulator> emu_;
};

TEST_F(LaunchDarklyEmulatorTest, DefaultFixtureHoldsTheSampleIdsAndADraftReadyToStart) {
  EXPECT_EQ(emu_->vendor(), "launchdarkly");
  auto x = experiment();
  EXPECT_EQ(x.at("name").as_string(), "Checkout redesign (draft)");
  EXPECT_FALSE(x.at("archived").as_bool());
  ASSERT_EQ(x.at("iterations").as_array().size(), 1u);
  EXPECT_EQ(x.at("iterations").at(0).at("status").as_string(), "not_started");
  EXPECT_TRUE(emu_->state().at("projects").at("default").at("environments").at("production").at("flags").at("checkout-redesign").at("on").as_bool());
}

TEST_F(LaunchDarklyEmulatorTest, ServesOnlyLaunchDarklyPaths) {
  ServerRequest r;
  r.method = "GET";
  r.target = "/api/v2/experimentation/experiments/exp_1";  // Auth0's Management API
  EXPECT_FALSE(emu_->serves(r));
  r.target = "/applications/abc/experimentdefinitions/x";
  EXPECT_FALSE(emu_->serves(r));
  r.target = std::string(kExperiment) + "?expand=treatments";
  EXPECT_TRUE(emu_->serves(r));
}

TEST_F(LaunchDarklyEmulatorTest, AuthNeedsTheRawTokenExactly) {
  expect_error(send("GET", kExperiment, "", {}), 401, "unauthorized");
  expect_error(send("GET", kExperiment, "", {{"Authorization", std::string("Bearer ") + token()}}), 401,
               "unauthorized");
  expect_error(send("GET", kExperiment, "", {{"Authorization", "api-other"}}), 401, "unauthorized");
  // Auth comes before routing: an unknown project without a token is still 401.
  expect_error(send("GET", "/api/v2/projects/nope/environments/production/experiments", "", {}), 401, "unauthorized");
  EXPECT_EQ(send("GET", kExperiment, "", {{"authorization", token()}}).status, 200);
}

TEST_F(LaunchDarklyEmulatorTest, FixtureTokenReplacesTheDefault) {
  json::value section = default_section();
  section.as_object()["token"] = "api-custom";
  ASSERT_TRUE(emu_->seed(section));
  expect_error(send("GET", kExperiment, "", {{"Authorization", token()}}), 401, "unauthorized");
  EXPECT_EQ(send("GET", kExperiment, "", {{"Authorization", "api-custom"}}).status, 200);
}

TEST_F(LaunchDarklyEmulatorTest, ApiVersionHeaderIsRecordedAndChecked) {
  auto auth = std::pair<std::string, std::string>{"Authorization", token()};
  EXPECT_EQ(send("GET", kExperiment, "", {auth, {"LD-API-Version", "20240415"}}).status, 200);
  EXPECT_EQ(send("GET", kExperiment, "", {auth, {"LD-API-Version", "20240415"}}).status, 200);
  EXPECT_EQ(send("GET", kExperiment, "", {auth, {"LD-API-Version", "beta"}}).status, 200);
  expect_error(send("GET", kExperiment, "", {auth, {"LD-API-Version", "2024-04-15"}}), 400, "invalid_request", "LD-API-Version");
  EXPECT_EQ(json::serialize(emu_->state().at("ld_api_versions")), R"(["20240415","beta"])");
}

TEST_F(LaunchDarklyEmulatorTest, UnknownProjectEnvironmentExperimentAre404) {
  expect_error(send("GET", "/api/v2/projects/nope/environments/production/experiments/checkout-redesign"), 404, "not_found", "project");
  expect_error(send("GET", "/api/v2/projects/default/environments/staging/experiments/checkout-redesign"), 404, "not_found", "environment");
  expect_error(send("GET", std::string(kCollection) + "/nope"), 404, "not_found", "experiment");
  expect_error(send("PATCH", std::string(kCollection) + "/nope", R"({"instructions":[{"kind":"archiveExperiment"}]})"), 404, "not_found");
  expect_error(send("GET", "/api/v2/flags/default/no-such-flag"), 404, "not_found", "flag");
  expect_error(send("GET", "/api/v2/flags/nope/checkout-redesign"), 404, "not_found", "project");
  expect_error(send("PATCH", "/api/v2/flags/default/checkout-redesign", "{}"), 404, "not_found");  // not emulated
  expect_error(send("DELETE", kExperiment), 405, "method_not_allowed");
}

TEST_F(LaunchDarklyEmulatorTest, GetExperimentHidesTreatmentsAndDraftUnlessExpanded) {
  auto plain = send("GET", kExperiment);
  ASSERT_EQ(plain.status, 200) << plain.body;
  auto body = body_of(plain).as_object();
  EXPECT_EQ(body.at("key").as_string(), "checkout-redesign");
  EXPECT_EQ(body.at("environmentKey").as_string(), "production");
  EXPECT_EQ(body.at("_creationDate").as_int64(), 1767225600000);  // epoch ms
  EXPECT_FALSE(body.contains("draftIteration"));
  EXPECT_FALSE(body.contains("previousIterations"));
  ASSERT_TRUE(body.contains("currentIteration"));  // the only iteration, still a draft
  EXPECT_FALSE(body.at("currentIteration").as_object().contains("treatments"));

  auto expanded = body_of(send("GET", std::string(kExperiment) + "?expand=treatments,draftIteration,previousIterations")).as_object();
  const auto& treatments = expanded.at("draftIteration").at("treatments").as_array();
  ASSERT_EQ(treatments.size(), 2u);
  EXPECT_EQ(treatments[1].at("_id").as_string(), kTwoStep);
  EXPECT_EQ(treatments[1].at("allocationPercent").as_string(), "50");
  EXPECT_FALSE(expanded.contains("previousIterations"));  // empty expansions are left out

  expect_error(send("GET", std::string(kExperiment) + "?expand=everything"), 400, "invalid_request", "everything");
}

TEST_F(LaunchDarklyEmulatorTest, PreviousIterationsAppearAfterASecondStart) {
  ASSERT_EQ(instructions(R"([{"kind":"startIteration"}])").status, 200);
  ASSERT_EQ(send("POST", std::string(kExperiment) + "/iterations", new_iteration_body()).status, 200);
  ASSERT_EQ(instructions(R"([{"kind":"startIteration","changeJustification":"new hypothesis"}])").status, 200);
  auto body = body_of(send("GET", std::string(kExperiment) + "?expand=previousIterations")).as_object();
  EXPECT_EQ(body.at("currentIteration").at("hypothesis").as_string(), "Two steps beat one");
  ASSERT_EQ(body.at("previousIterations").as_array().size(), 1u);
  EXPECT_EQ(body.at("previousIterations").at(0).at("status").as_string(), "stopped");
}

TEST_F(LaunchDarklyEmulatorTest, ListPagesFiltersAndLifecycle) {
  // A second and third experiment, created through the API.
  for (const char* key : {"a-second", "b-third"}) {
    std::string body = std::string(R"({"name": "X", "key": ")") + key + R"(", "iteration": )" + new_iteration_body() + "}";
    auto created = send("POST", kCollection, body);
    ASSERT_EQ(created.status, 201) << created.body;
  }
  ASSERT_EQ(send("PATCH", std::string(kCollection) + "/b-third", R"({"instructions":[{"kind":"archiveExperiment"}]})").status, 200);
  ASSERT_EQ(instructions(R"([{"kind":"startIteration"}])").status, 200);

  auto all = body_of(send("GET", kCollection)).as_object();
  EXPECT_EQ(all.at("total_count").as_int64(), 2);  // archived ones are hidden by default
  auto page = body_of(send("GET", std::string(kCollection) + "?limit=1&offset=1")).as_object();
  ASSERT_EQ(page.at("items").as_array().size(), 1u);
  EXPECT_EQ(page.at("items").at(0).at("key").as_string(), "checkout-redesign");
  EXPECT_FALSE(page.at("_links").as_object().contains("next"));
  EXPECT_TRUE(page.at("_links").as_object().contains("prev"));
  auto first = body_of(send("GET", std::string(kCollection) + "?limit=1")).as_object();
  EXPECT_TRUE(first.at("_links").as_object().contains("next"));

  auto running = body_of(send("GET", std::string(kCollection) + "?filter=status:running")).as_object();
  ASSERT_EQ(running.at("total_count").as_int64(), 1);
  EXPECT_EQ(running.at("items").at(0).at("key").as_string(), "checkout-redesign");
  auto by_flag = body_of(send("GET", std::string(kCollection) + "?filter=flagKey:checkout-redesign,metricKey:nope")).as_object();
  EXPECT_EQ(by_flag.at("total_count").as_int64(), 0);
  auto archived = body_of(send("GET", std::string(kCollection) + "?lifecycleState=archived")).as_object();
  ASSERT_EQ(archived.at("total_count").as_int64(), 1);
  EXPECT_EQ(archived.at("items").at(0).at("key").as_string(), "b-third");
  EXPECT_EQ(body_of(send("GET", std::string(kCollection) + "?lifecycleState=active,archived")).at("total_count").as_int64(), 3);

  expect_error(send("GET", std::string(kCollection) + "?limit=0"), 400, "invalid_request", "limit");
  expect_error(send("GET", std::string(kCollection) + "?offset=-1"), 400, "invalid_request", "offset");
  expect_error(send("GET", std::string(kCollection) + "?filter=owner:me"), 400, "invalid_request", "filter");
  expect_error(send("GET", std::string(kCollection) + "?lifecycleState=deleted"), 400, "invalid_request", "lifecycleState");
}

TEST_F(LaunchDarklyEmulatorTest, CreateExperimentRefusesADuplicateKeyAndBadIterations) {
  std::string body = R"({"name": "X", "key": "checkout-redesign", "iteration": )" + new_iteration_body() + "}";
  expect_error(send("POST", kCollection, body), 409, "conflict");
  expect_error(send("POST", kCollection, R"({"name": "X", "key": "k"})"), 400, "invalid_request", "iteration");
}

// With the project's metrics in the fixture, an iteration names only those; without, any key.
TEST_F(LaunchDarklyEmulatorTest, ProjectMetricsBoundWhatAnIterationMeasures) {
  const std::string body = R"({"name": "X", "key": "measured", "iteration": )" + new_iteration_body() + "}";
  std::string other_metric = body;
  for (std::size_t at; (at = other_metric.find("checkout-conversion")) != std::string::npos;)
    other_metric.replace(at, std::string_view("checkout-conversion").size(), "made-up-metric");
  ASSERT_EQ(send("POST", kCollection, other_metric).status, 201);  // no metrics in the fixture: not checked

  json::value section = default_section();
  section.at("projects").at("default").as_object()["metrics"] = json::array{"checkout-conversion", "revenue"};
  auto seeded = emu_->seed(section);
  ASSERT_TRUE(seeded) << seeded.error().describe();
  expect_error(send("POST", kCollection, other_metric), 400, "invalid_request", "metric 'made-up-metric' does not exist");
  EXPECT_EQ(send("POST", kCollection, body).status, 201);
  expect_error(send("POST", std::string(kExperiment) + "/iterations", other_metric.substr(other_metric.find("{\"hypothesis"),
                                                                                         other_metric.size() - other_metric.find("{\"hypothesis") - 1)),
               400, "invalid_request", "does not exist in this project");

  section.at("projects").at("default").as_object()["metrics"] = json::array{"revenue"};  // the fixture's draft measures another
  EXPECT_FALSE(emu_->seed(section).has_value());
  section.at("projects").at("default").as_object()["metrics"] = json::array{"not a key"};
  EXPECT_FALSE(emu_->seed(section).has_value());
}

TEST_F(LaunchDarklyEmulatorTest, PatchNeedsTheSemanticPatchContentType) {
  auto auth = std::pair<std::string, std::string>{"Authorization", token()};
  std::string body = R"({"instructions":[{"kind":"updateName","value":"N"}]})";
  expect_error(send("PATCH", kExperiment, body, {auth, {"Content-Type", "application/json"}}), 400, "invalid_request", "semanticpatch");
  expect_error(send("PATCH", kExperiment, body, {auth}), 400, "invalid_request");
  expect_error(send("PATCH", kExperiment, R"([{"op":"replace","path":"/name","value":"N"}])", {auth, {"Content-Type", "application/json"}}),
               400, "invalid_request");
  EXPECT_EQ(experiment().at("name").as_string(), "Checkout redesign (draft)");
  EXPECT_EQ(send("PATCH", kExperiment, body, {auth, {"Content-Type", "application/json;domain-model=launchdarkly.semanticpatch"}}).status, 200);
  EXPECT_EQ(experiment().at("name").as_string(), "N");
}

TEST_F(LaunchDarklyEmulatorTest, PostWithMethodOverrideIsAPatch) {
  auto reply = send("POST", kExperiment, R"({"instructions":[{"kind":"updateName","value":"Via override"}]})",
                    {{"Authorization", token()}, {"Content-Type", kSemantic}, {"X-HTTP-Method-Override", "PATCH"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(experiment().at("name").as_string(), "Via override");
}

TEST_F(LaunchDarklyEmulatorTest, UpdateNameAndDescriptionWithACommentAreRecorded) {
  auto reply = send("PATCH", kExperiment,
                    R"({"comment": "after review", "instructions": [{"kind":"updateName","value":"Checkout redesign v2"},
                        {"kind":"updateDescription","value":"Two-step checkout"}]})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = body_of(reply).as_object();
  EXPECT_EQ(body.at("name").as_string(), "Checkout redesign v2");
  EXPECT_EQ(body.at("description").as_string(), "Two-step checkout");
  auto x = experiment();
  EXPECT_EQ(x.at("description").as_string(), "Two-step checkout");
  EXPECT_EQ(json::serialize(x.at("comments")), R"(["after review"])");
  ASSERT_EQ(x.at("instructions").as_array().size(), 2u);
  EXPECT_EQ(x.at("instructions").at(1).at("kind").as_string(), "updateDescription");
  // An empty description is a description.
  ASSERT_EQ(instructions(R"([{"kind":"updateDescription","value":""}])").status, 200);
  EXPECT_EQ(experiment().at("description").as_string(), "");
}

TEST_F(LaunchDarklyEmulatorTest, MalformedPatchesAreRefused) {
  expect_error(send("PATCH", kExperiment, "not json"), 400, "invalid_request");
  expect_error(send("PATCH", kExperiment, R"({"instructions": []})"), 400, "invalid_request", "at least one");
  expect_error(send("PATCH", kExperiment, R"({"comment": "x"})"), 400, "invalid_request", "instructions");
  expect_error(send("PATCH", kExperiment, R"({"instructions": [{"kind":"updateName","value":"N"}], "environmentKey": "production"})"),
               400, "invalid_request", "environmentKey");
  expect_error(instructions(R"([{"kind":"updateName"}])"), 400, "invalid_request", "value");
  expect_error(instructions(R"([{"kind":"updateName","value":""}])"), 400, "invalid_request", "value");
  expect_error(instructions(R"([{"kind":"updateName","value":7}])"), 400, "invalid_request", "value");
  expect_error(instructions(R"([{"kind":"updateDescription"}])"), 400, "invalid_request", "value");
  expect_error(instructions(R"([{"kind":"updateName","value":"N","extra":1}])"), 400, "invalid_request", "extra");
  expect_error(instructions(R"([{"value":"N"}])"), 400, "invalid_request", "kind");
  expect_error(instructions(R"(["updateName"])"), 400, "invalid_request");
  expect_error(instructions(R"([{"kind":"pauseIteration"}])"), 400, "invalid_request", "unknown instruction kind");
  expect_error(instructions(R"([{"kind":"archiveExperment"}])"), 400, "invalid_request", "did you mean 'archiveExperiment'");
  EXPECT_EQ(experiment().at("instructions").as_array().size(), 0u);
}

TEST_F(LaunchDarklyEmulatorTest, PatchIsAllOrNothing) {
  auto reply = send("PATCH", kExperiment,
                    R"({"comment": "c", "instructions": [{"kind":"updateName","value":"Changed"},{"kind":"archiveExperiment"},
                        {"kind":"unknownKind"}]})");
  expect_error(reply, 400, "invalid_request", "instructions[2]");
  auto x = experiment();
  EXPECT_EQ(x.at("name").as_string(), "Checkout redesign (draft)");
  EXPECT_FALSE(x.at("archived").as_bool());
  EXPECT_TRUE(x.at("comments").as_array().empty());
  EXPECT_TRUE(x.at("instructions").as_array().empty());
}

TEST_F(LaunchDarklyEmulatorTest, StartIterationRunsTheDraft) {
  auto reply = instructions(R"([{"kind":"startIteration"}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(body_of(reply).at("currentIteration").at("status").as_string(), "running");
  auto it = experiment().at("iterations").at(0);
  EXPECT_EQ(it.at("status").as_string(), "running");
  EXPECT_GT(it.at("startedAt").as_int64(), 1767225600000);
  // Nothing left to start.
  expect_error(instructions(R"([{"kind":"startIteration","changeJustification":"again"}])"), 400, "invalid_request", "draft");
}

TEST_F(LaunchDarklyEmulatorTest, StartWhileRunningNeedsAJustificationAndReplacesTheRunningIteration) {
  ASSERT_EQ(instructions(R"([{"kind":"startIteration"}])").status, 200);
  auto created = send("POST", std::string(kExperiment) + "/iterations", new_iteration_body("20", "80"));
  ASSERT_EQ(created.status, 200) << created.body;  // 200, not 201
  auto iteration = body_of(created).as_object();
  EXPECT_EQ(iteration.at("status").as_string(), "not_started");
  EXPECT_EQ(iteration.at("treatments").at(1).at("_id").as_string(), kTwoStep);  // the flag's variation id

  expect_error(instructions(R"([{"kind":"startIteration"}])"), 400, "invalid_request", "changeJustification");
  expect_error(instructions(R"([{"kind":"startIteration","changeJustification":""}])"), 400, "invalid_request", "changeJustification");
  ASSERT_EQ(instructions(R"([{"kind":"startIteration","changeJustification":"80/20 now"}])").status, 200);
  auto iterations = experiment().at("iterations").as_array();
  ASSERT_EQ(iterations.size(), 2u);
  EXPECT_EQ(iterations[0].at("status").as_string(), "stopped");
  EXPECT_FALSE(iterations[0].as_object().contains("winningTreatmentId"));
  EXPECT_EQ(iterations[1].at("status").as_string(), "running");
  EXPECT_EQ(iterations[1].at("changeJustification").as_string(), "80/20 now");
  EXPECT_EQ(iterations[1].at("treatments").at(1).at("allocationPercent").as_string(), "80");
}

TEST_F(LaunchDarklyEmulatorTest, StartPreconditionFlagOffOrArchived) {
  reseed([](json::object& env) { env.at("flags").at("checkout-redesign").as_object()["on"] = false; });
  expect_error(instructions(R"([{"kind":"startIteration"}])"), 400, "invalid_request", "is off");
  reseed([](json::object& env) { env.at("flags").at("checkout-redesign").as_object()["archived"] = true; });
  expect_error(instructions(R"([{"kind":"startIteration"}])"), 400, "invalid_request", "archived");
  EXPECT_EQ(experiment().at("iterations").at(0).at("status").as_string(), "not_started");
}

TEST_F(LaunchDarklyEmulatorTest, StartPreconditionRandomizationUnitAndAllocation) {
  reseed([](json::object& env) { fixture_draft(env).erase("randomizationUnit"); });
  expect_error(instructions(R"([{"kind":"startIteration"}])"), 400, "invalid_request", "randomizationUnit");
  reseed([](json::object& env) {
    for (auto& t : fixture_draft(env).at("treatments").as_array()) t.as_object()["allocationPercent"] = "0";
  });
  expect_error(instructions(R"([{"kind":"startIteration"}])"), 400, "invalid_request", "non-zero allocationPercent");
  // One non-zero treatment is enough.
  reseed([](json::object& env) { fixture_draft(env).at("treatments").at(0).as_object()["allocationPercent"] = "0"; });
  EXPECT_EQ(instructions(R"([{"kind":"startIteration"}])").status, 200);
}

TEST_F(LaunchDarklyEmulatorTest, StartPreconditionNoDraft) {
  reseed([](json::object& env) { fixture_experiment(env).erase("iterations"); });
  expect_error(instructions(R"([{"kind":"startIteration"}])"), 400, "invalid_request", "no draft iteration");
}

TEST_F(LaunchDarklyEmulatorTest, ArchivedExperimentCannotStartOrGetIterationsUntilRestored) {
  ASSERT_EQ(instructions(R"([{"kind":"archiveExperiment"}])").status, 200);
  auto archived_at = experiment().at("archivedDate").as_int64();
  EXPECT_TRUE(experiment().at("archived").as_bool());
  // Archiving again asks for the current state: success without change.
  ASSERT_EQ(instructions(R"([{"kind":"archiveExperiment"}])").status, 200);
  EXPECT_EQ(experiment().at("archivedDate").as_int64(), archived_at);
  EXPECT_TRUE(body_of(send("GET", kExperiment)).as_object().contains("archivedDate"));

  expect_error(instructions(R"([{"kind":"startIteration"}])"), 400, "invalid_request", "archived");
  expect_error(send("POST", std::string(kExperiment) + "/iterations", new_iteration_body()), 400, "invalid_request", "archived");
  // Restore and start in one patch: instructions apply in order.
  ASSERT_EQ(instructions(R"([{"kind":"restoreExperiment"},{"kind":"startIteration"}])").status, 200);
  EXPECT_FALSE(experiment().at("archived").as_bool());
  EXPECT_EQ(experiment().at("iterations").at(0).at("status").as_string(), "running");
  ASSERT_EQ(instructions(R"([{"kind":"restoreExperiment"}])").status, 200);  // already active: no change
  expect_error(instructions(R"([{"kind":"restoreExperiment","value":1}])"), 400, "invalid_request", "value");
}

TEST_F(LaunchDarklyEmulatorTest, StopIterationRecordsTheWinner) {
  expect_error(instructions(std::string(R"([{"kind":"stopIteration","winningTreatmentId":")") + kTwoStep +
                            R"(","winningReason":"won"}])"),
               400, "invalid_request", "no running iteration");
  ASSERT_EQ(instructions(R"([{"kind":"startIteration"}])").status, 200);
  // The treatment ids, as a client reads them.
  auto current = body_of(send("GET", std::string(kExperiment) + "?expand=treatments")).at("currentIteration");
  std::string winner(current.at("treatments").at(1).at("_id").as_string());
  EXPECT_EQ(current.at("treatments").at(1).at("name").as_string(), "two-step");

  expect_error(instructions(R"([{"kind":"stopIteration","winningTreatmentId":"nope","winningReason":"won"}])"), 400,
               "invalid_request", "not a treatment _id");
  expect_error(instructions(R"([{"kind":"stopIteration","winningTreatmentId":"two-step","winningReason":"won"}])"), 400,
               "invalid_request", "not a treatment _id");  // the name is not the id
  expect_error(instructions(R"([{"kind":"stopIteration","winningReason":"won"}])"), 400, "invalid_request", "winningTreatmentId");
  expect_error(instructions(R"([{"kind":"stopIteration","winningTreatmentId":")" + winner + R"("}])"), 400, "invalid_request",
               "winningReason");
  auto stopped = instructions(R"([{"kind":"stopIteration","winningTreatmentId":")" + winner + R"(","winningReason":"+3.1% conversion"}])");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  auto it = experiment().at("iterations").at(0);
  EXPECT_EQ(it.at("status").as_string(), "stopped");
  EXPECT_EQ(it.at("winner").as_string(), "two-step");
  EXPECT_EQ(it.at("winningTreatmentId").as_string(), kTwoStep);
  EXPECT_EQ(it.at("winningReason").as_string(), "+3.1% conversion");
  EXPECT_TRUE(it.as_object().contains("endedAt"));
  auto rep = body_of(send("GET", kExperiment)).at("currentIteration");
  EXPECT_EQ(rep.at("winningTreatmentId").as_string(), kTwoStep);
}

TEST_F(LaunchDarklyEmulatorTest, CreateIterationValidatesLikeTheApi) {
  std::string path = std::string(kExperiment) + "/iterations";
  expect_error(send("POST", path, new_iteration_body("50", "abc")), 400, "invalid_request", "allocationPercent");
  expect_error(send("POST", path, new_iteration_body("50", "150")), 400, "invalid_request", "allocationPercent");
  std::string unknown_flag = new_iteration_body();
  unknown_flag.replace(unknown_flag.find("\"checkout-redesign\": {"), 19, "\"other-flag\"");
  expect_error(send("POST", path, unknown_flag), 400, "invalid_request", "does not exist");
  std::string bad_variation = new_iteration_body();
  bad_variation.replace(bad_variation.find(kTwoStep), std::string(kTwoStep).size(), "not-a-variation");
  expect_error(send("POST", path, bad_variation), 400, "invalid_request", "not a variation");
  expect_error(send("POST", path, R"({"hypothesis": "h"})"), 400, "invalid_request", "metrics");
  std::string extra = new_iteration_body();
  extra.insert(1, R"("colour": "blue", )");
  expect_error(send("POST", path, extra), 400, "invalid_request", "colour");
  std::string number_percent = new_iteration_body();
  number_percent.replace(number_percent.find("\"50\""), 4, "50");
  expect_error(send("POST", path, number_percent), 400, "invalid_request", "allocationPercent");
  // A valid one without randomizationUnit gets the API default, `user`.
  std::string no_unit = new_iteration_body();
  no_unit.erase(no_unit.find("\"randomizationUnit\": \"user\","), 28);
  auto created = send("POST", path, no_unit);
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(body_of(created).at("randomizationUnit").as_string(), "user");
  // The new draft replaced the fixture's draft.
  ASSERT_EQ(experiment().at("iterations").as_array().size(), 1u);
  EXPECT_EQ(experiment().at("iterations").at(0).at("hypothesis").as_string(), "Two steps beat one");
}

constexpr const char* kFlag = "/api/v2/flags/default/checkout-redesign";
constexpr const char* kRule = "5c9e2d1a-7b3f-4e8a-9c6d-00000000r001";

TEST_F(LaunchDarklyEmulatorTest, GetFeatureFlagAnswersVariationsVersionAndRulesPerEnvironment) {
  auto reply = send("GET", kFlag);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto flag = body_of(reply).as_object();
  EXPECT_EQ(flag.at("key").as_string(), "checkout-redesign");
  EXPECT_EQ(flag.at("name").as_string(), "Checkout redesign");
  EXPECT_EQ(flag.at("kind").as_string(), "multivariate");  // JSON values, not booleans
  EXPECT_EQ(flag.at("_version").as_int64(), 7);
  EXPECT_FALSE(flag.at("archived").as_bool());
  EXPECT_EQ(flag.at("_links").at("self").at("href").as_string(), kFlag);
  const auto& variations = flag.at("variations").as_array();
  ASSERT_EQ(variations.size(), 3u);
  EXPECT_EQ(variations[0].at("_id").as_string(), kControl);
  EXPECT_EQ(variations[0].at("value"), (json::object{{"enabled", false}}));
  EXPECT_EQ(variations[0].at("name").as_string(), "control");
  EXPECT_EQ(variations[1].at("_id").as_string(), kTwoStep);
  EXPECT_EQ(variations[1].at("value"), (json::object{{"enabled", true}, {"steps", 2}, {"theme", "blue"}}));
  const auto& production = flag.at("environments").at("production").as_object();
  EXPECT_TRUE(production.at("on").as_bool());
  EXPECT_EQ(production.at("version").as_int64(), 7);  // the flagConfigVersion of an IterationInput
  EXPECT_EQ(production.at("_environmentName").as_string(), "production");
  ASSERT_EQ(production.at("rules").as_array().size(), 1u);
  EXPECT_EQ(production.at("rules").at(0).at("_id").as_string(), kRule);
  EXPECT_EQ(production.at("rules").at(0).at("description").as_string(), "Internal testers");

  // `env` limits the configurations to one environment; auth as on every route.
  json::value section = default_section();
  auto& environments = section.at("projects").at("default").at("environments").as_object();
  json::object staging = environments.at("production").as_object();
  staging.at("flags").at("checkout-redesign").as_object()["version"] = 3;
  staging.at("flags").at("checkout-redesign").as_object()["on"] = false;
  staging.at("flags").at("checkout-redesign").as_object().erase("rules");
  staging.erase("experiments");
  environments["staging"] = staging;
  ASSERT_TRUE(emu_->seed(section));
  auto both = body_of(send("GET", kFlag)).as_object();
  EXPECT_EQ(both.at("environments").as_object().size(), 2u);
  EXPECT_FALSE(both.at("environments").at("staging").at("on").as_bool());
  EXPECT_TRUE(both.at("environments").at("staging").at("rules").as_array().empty());
  EXPECT_EQ(both.at("_version").as_int64(), 7);  // default: the largest config version
  auto one = body_of(send("GET", std::string(kFlag) + "?env=staging")).as_object();
  ASSERT_EQ(one.at("environments").as_object().size(), 1u);
  EXPECT_EQ(one.at("environments").at("staging").at("version").as_int64(), 3);
  EXPECT_EQ(one.at("variations").as_array().size(), 3u);
  expect_error(send("GET", kFlag, "", {}), 401, "unauthorized");
  expect_error(send("GET", kFlag, "", {{"Authorization", "api-other"}}), 401, "unauthorized");
}

TEST_F(LaunchDarklyEmulatorTest, FlagLevelMembersMustAgreeAcrossEnvironments) {
  json::value section = default_section();
  auto& environments = section.at("projects").at("default").at("environments").as_object();
  json::object staging = environments.at("production").as_object();
  staging.erase("experiments");
  staging.at("flags").at("checkout-redesign").as_object()["variations"] = json::array{"only-one"};
  environments["staging"] = staging;
  auto seeded = emu_->seed(section);
  ASSERT_FALSE(seeded);
  EXPECT_NE(seeded.error().describe().find("flag-level"), std::string::npos) << seeded.error().describe();
  // A variation object needs its value; the shorthand string is an _id whose value is itself.
  section = default_section();
  fixture_flag(section).at("variations").at(0).as_object().erase("value");
  seeded = emu_->seed(section);
  ASSERT_FALSE(seeded);
  EXPECT_NE(seeded.error().describe().find("value"), std::string::npos) << seeded.error().describe();
  section = default_section();
  fixture_flag(section)["variations"] = json::array{kControl, kTwoStep};
  ASSERT_TRUE(emu_->seed(section));
  auto flag = body_of(send("GET", kFlag)).as_object();
  EXPECT_EQ(flag.at("kind").as_string(), "multivariate");
  EXPECT_EQ(flag.at("variations").at(1).at("value").as_string(), kTwoStep);
  EXPECT_FALSE(flag.at("variations").at(1).as_object().contains("name"));
}

TEST_F(LaunchDarklyEmulatorTest, CreateIterationNeedsARuleAndTheCurrentConfigVersionOfTheFlag) {
  std::string path = std::string(kExperiment) + "/iterations";
  std::string stale = new_iteration_body();
  stale.replace(stale.find("\"flagConfigVersion\": 7"), 22, "\"flagConfigVersion\": 6");
  expect_error(send("POST", path, stale), 400, "invalid_request", "not the current version (7)");
  std::string unknown_rule = new_iteration_body();
  unknown_rule.replace(unknown_rule.find("fallthrough"), 11, "no-such-rule");
  expect_error(send("POST", path, unknown_rule), 400, "invalid_request", "ruleId");
  std::string on_rule = new_iteration_body();
  on_rule.replace(on_rule.find("fallthrough"), 11, kRule);
  auto created = send("POST", path, on_rule);
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(body_of(created).at("flags").at("checkout-redesign").at("targetingRule").as_string(), kRule);
  EXPECT_EQ(body_of(created).at("flags").at("checkout-redesign").at("flagConfigVersion").as_int64(), 7);
}

TEST_F(LaunchDarklyEmulatorTest, AnIterationBuiltFromTheReadsRunsAndStopsWithAWinner) {
  ASSERT_EQ(instructions(R"([{"kind":"startIteration"}])").status, 200);
  // What a client knows after the two reads: the running iteration (treatments expanded) and the flag.
  auto current = body_of(send("GET", std::string(kExperiment) + "?expand=draftIteration,treatments")).at("currentIteration");
  auto flag = body_of(send("GET", std::string(kFlag) + "?env=production"));
  json::array treatments;
  for (const auto& v : flag.at("variations").as_array()) {
    std::string name(v.at("name").as_string());
    treatments.push_back(json::object{{"name", name},
                                      {"baseline", name == "control"},
                                      {"allocationPercent", name == "control" ? "30" : "70"},
                                      {"parameters", json::array{json::object{{"flagKey", "checkout-redesign"}, {"variationId", v.at("_id")}}}}});
  }
  json::array metrics;
  for (const auto& m : current.at("metrics").as_array()) metrics.push_back(json::object{{"key", m.at("key")}, {"isGroup", m.at("isGroup")}});
  json::object input{{"hypothesis", "Two steps win at 70%"},
                     {"metrics", std::move(metrics)},
                     {"primarySingleMetricKey", current.at("primarySingleMetric").at("key")},
                     {"randomizationUnit", current.at("randomizationUnit")},
                     {"treatments", std::move(treatments)},
                     {"flags", json::object{{"checkout-redesign", json::object{{"ruleId", "fallthrough"},
                                                                               {"flagConfigVersion", flag.at("environments").at("production").at("version")}}}}}};
  auto created = send("POST", std::string(kExperiment) + "/iterations", write_json(input));
  ASSERT_EQ(created.status, 200) << created.body;
  // The draft shows next to the running iteration only with expand=draftIteration.
  auto expanded = body_of(send("GET", std::string(kExperiment) + "?expand=draftIteration")).as_object();
  EXPECT_EQ(expanded.at("draftIteration").at("hypothesis").as_string(), "Two steps win at 70%");
  EXPECT_FALSE(expanded.at("draftIteration").as_object().contains("treatments"));
  EXPECT_EQ(expanded.at("currentIteration").at("status").as_string(), "running");

  ServerReply started = patch(json::object{
      {"comment", "new split"},
      {"instructions", json::array{json::object{{"kind", "startIteration"}, {"changeJustification", "70/30 split"}}}}});
  ASSERT_EQ(started.status, 200) << started.body;
  auto running = body_of(send("GET", std::string(kExperiment) + "?expand=treatments")).at("currentIteration");
  EXPECT_EQ(running.at("hypothesis").as_string(), "Two steps win at 70%");
  EXPECT_EQ(running.at("treatments").at(1).at("allocationPercent").as_string(), "70");
  std::string winner(running.at("treatments").at(1).at("_id").as_string());
  auto stopped = instructions(R"([{"kind":"stopIteration","winningTreatmentId":")" + winner + R"(","winningReason":"two-step converts better"}])");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  auto last = experiment().at("iterations").as_array().back();
  EXPECT_EQ(last.at("status").as_string(), "stopped");
  EXPECT_EQ(last.at("winner").as_string(), "two-step");
  EXPECT_EQ(last.at("changeJustification").as_string(), "70/30 split");
  EXPECT_EQ(experiment().at("comments").at(0).as_string(), "new split");
}

TEST_F(LaunchDarklyEmulatorTest, SeedIsStrictAndKeepsTheOldStateOnError) {
  json::value typo = default_section();
  typo.as_object()["projets"] = json::object{};
  auto seeded = emu_->seed(typo);
  ASSERT_FALSE(seeded);
  EXPECT_NE(seeded.error().describe().find("projets"), std::string::npos);

  json::value bad_status = default_section();
  reseed([](json::object&) {});
  bad_status.at("projects").at("default").at("environments").at("production").at("experiments").at("checkout-redesign")
      .at("iterations").at(0).as_object()["status"] = "paused";
  EXPECT_FALSE(emu_->seed(bad_status));
  json::value bad_flag = default_section();
  bad_flag.at("projects").at("default").at("environments").at("production").at("flags").at("checkout-redesign").as_object()["colour"] = 1;
  EXPECT_FALSE(emu_->seed(bad_flag));
  EXPECT_EQ(experiment().at("name").as_string(), "Checkout redesign (draft)");
}

TEST_F(LaunchDarklyEmulatorTest, AnEmptySectionMeansNoResources) {
  ASSERT_TRUE(emu_->seed(json::object{}));
  expect_error(send("GET", kExperiment), 404, "not_found", "project");
  EXPECT_TRUE(emu_->state().at("projects").as_object().empty());
}

// ---------------------------------------------------------------------------------------------
// The four sample updates, planned by the real bridge and adapter, applied in demo order.

std::vector<ServerRequest> planned_requests(const Bridge& bridge, const std::string& sample) {
  auto update = parse_update(read_text_file(kSource + "/samples/updates/" + sample), sample);
  EXPECT_TRUE(update) << update.error().describe();
  PlanOptions options;
  options.backends = {"ld"};
  auto plan = bridge.plan(*update, options);
  EXPECT_TRUE(plan) << plan.error().describe();
  std::vector<ServerRequest> out;
  const std::string origin = "http://127.0.0.1:1";
  for (const auto& backend : plan->backends) {
    if (backend.vendor != "launchdarkly") continue;
    for (const auto& planned : backend.requests) {
      EXPECT_EQ(planned.url.rfind(origin, 0), 0u) << planned.url;
      ServerRequest request;
      request.method = planned.method;
      request.target = planned.url.substr(origin.size());
      request.headers = planned.headers;
      request.headers.emplace_back("Authorization", token());
      request.headers.emplace_back("LD-API-Version", "20240415");  // what the adapter's auth adds
      if (planned.body) request.body = write_json(*planned.body);
      out.push_back(std::move(request));
    }
  }
  return out;
}

TEST_F(LaunchDarklyEmulatorTest, SampleUpdatesInDemoOrder) {
  std::string config = read_text_file(kSource + "/samples/backends.yaml");
  const std::string ld = "ld:  {vendor: launchdarkly,";
  auto at = config.find(ld);
  ASSERT_NE(at, std::string::npos);
  config.replace(at, ld.size(), "ld:  {vendor: launchdarkly, endpoint: \"http://127.0.0.1:1\",");
  auto bridge = Bridge::from_text(config, "backends.yaml");
  ASSERT_TRUE(bridge) << bridge.error().describe();

  std::vector<std::size_t> sent;
  for (const char* sample : {"redesign-variations.yaml", "start.yaml", "raise-exposure.yaml", "stop-with-result.yaml"}) {
    auto requests = planned_requests(*bridge, sample);
    sent.push_back(requests.size());
    for (const auto& request : requests) {
      ASSERT_TRUE(emu_->serves(request));
      auto reply = emu_->handle(request);
      ASSERT_EQ(reply.status, 200) << sample << ": " << reply.body;
    }
  }
  // Today: start/stop, exposure, overrides and the result are skipped by the adapter, and a lone
  // comment has nothing to travel with.
  EXPECT_EQ(sent, (std::vector<std::size_t>{1, 1, 0, 0}));
  auto x = experiment();
  EXPECT_EQ(x.at("name").as_string(), "Checkout redesign");
  EXPECT_EQ(x.at("description").as_string(), "First run, 25% of US web users");
  EXPECT_FALSE(x.at("archived").as_bool());
  EXPECT_TRUE(x.at("comments").as_array().empty());
  EXPECT_EQ(json::serialize(x.at("instructions")),
            R"([{"kind":"updateName","value":"Checkout redesign"},)"
            R"({"kind":"updateDescription","value":"First run, 25% of US web users"}])");
  EXPECT_EQ(x.at("iterations").at(0).at("status").as_string(), "not_started");
  EXPECT_EQ(json::serialize(emu_->state().at("ld_api_versions")), R"(["20240415"])");
}

// What an adapter with read support would send for start.yaml and stop-with-result.yaml: the
// default fixture lets it run start → stop with the two-step winner.
TEST_F(LaunchDarklyEmulatorTest, DefaultFixtureSupportsStartThenStopWithAWinner) {
  ASSERT_EQ(instructions(R"([{"kind":"updateDescription","value":"First run"},{"kind":"startIteration"}])").status, 200);
  auto treatments = body_of(send("GET", std::string(kExperiment) + "?expand=treatments")).at("currentIteration").at("treatments");
  std::string winner;
  for (const auto& t : treatments.as_array())
    if (t.at("name").as_string() == "two-step") winner = t.at("_id").as_string();
  auto stopped = send("PATCH", kExperiment,
                      R"({"comment":"stopped after four weeks","instructions":[{"kind":"stopIteration","winningTreatmentId":")" +
                          winner + R"(","winningReason":"Two-step won"}]})");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  auto x = experiment();
  EXPECT_EQ(x.at("iterations").at(0).at("winner").as_string(), "two-step");
  EXPECT_EQ(json::serialize(x.at("comments")), R"(["stopped after four weeks"])");
}

// An injected fault answers as LaunchDarkly does: {code, message, id}, the echoed
// Authorization as the id when the fault echoes.
TEST(LaunchDarklyEmulatorFaults, InjectedErrorsTakeTheLaunchDarklyShape) {
  const auto emulator = make_launchdarkly_emulator();
  auto body = json::parse(emulator->injected_error({429, "injected", std::nullopt, std::nullopt}).body);
  EXPECT_EQ(body.at("code"), "rate_limited");
  EXPECT_EQ(body.at("message"), "injected");
  EXPECT_EQ(body.at("id"), "emulator-fault");
  EXPECT_EQ(json::parse(emulator->injected_error({500, "m", "api-echoed", std::nullopt}).body).at("id"), "api-echoed");
}

}  // namespace
}  // namespace expbridge::emulator
