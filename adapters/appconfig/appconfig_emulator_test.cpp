// The AppConfig emulator, driven through handle() with requests signed like the adapter signs them.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include <boost/json/parse.hpp>

#include "auth/sigv4.hpp"
#include "document.hpp"
#include "appconfig/appconfig_emulator.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace {

using namespace expbridge;
using namespace expbridge::emulator;
namespace json = boost::json;
using namespace std::chrono_literals;

struct Signing {
  std::string service = "appconfig";
  std::string region = "us-east-1";
  std::chrono::system_clock::duration age{0};  ///< how long ago the request was signed
};

/// Adds SigV4 headers (test keys) to a request whose host, content headers and body are final.
void sign(ServerRequest& r, const Signing& signing = {}) {
  auth::SigningRequest s;
  s.method = r.method;
  auto q = r.target.find('?');
  s.path = r.target.substr(0, q);
  s.query = q == std::string::npos ? "" : r.target.substr(q + 1);
  s.headers = r.headers;
  s.body = r.body;
  const auto emulator = make_appconfig_emulator();  // the keys it accepts
  auth::AwsCredentials credentials{emulator->credential("AWS_ACCESS_KEY_ID").value(),
                                   emulator->credential("AWS_SECRET_ACCESS_KEY").value(), ""};
  auth::SigV4Options options;
  options.region = signing.region;
  options.service = signing.service;
  auto parts = auth::sign_v4(s, credentials, options, auth::format_amz_date(std::chrono::system_clock::now() - signing.age));
  ASSERT_TRUE(parts.has_value()) << parts.error().describe();
  for (const auto& h : parts->headers_to_add) r.headers.push_back(h);
}

/// A request as the adapter would send it to http://127.0.0.1:1, SigV4-signed with the test keys.
ServerRequest make_request(std::string method, std::string target, std::optional<std::string> body = std::nullopt,
                           const Signing& signing = {}) {
  ServerRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = {{"host", "127.0.0.1:1"}};
  if (body) {
    r.headers.emplace_back("content-type", "application/json");
    r.body = *body;
  }
  sign(r, signing);
  return r;
}

std::string header(const ServerReply& reply, std::string_view name) {
  for (const auto& [k, v] : reply.headers) {
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name) return v;
  }
  return {};
}

json::value body_of(const ServerReply& reply) {
  if (reply.body.empty()) return nullptr;
  return json::parse(reply.body);
}

boost::json::value load_fixture() {
  auto doc = load_document(std::string(EXPBRIDGE_SOURCE_DIR) + "/adapters/appconfig/appconfig_emulator_fixture.yaml");
  EXPECT_TRUE(doc.has_value()) << (doc ? "" : doc.error().describe());
  return doc->root.as_object().at("appconfig");
}

constexpr const char* kDef = "/applications/abc1234/experimentdefinitions/bsxyd7k";
constexpr const char* kRuns = "/applications/abc1234/experimentdefinitions/bsxyd7k/experimentruns";

class AppConfigEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator = make_appconfig_emulator();
    auto seeded = emulator->seed(load_fixture());
    ASSERT_TRUE(seeded.has_value()) << seeded.error().describe();
  }

  ServerReply call(std::string method, std::string target, std::optional<std::string> body = std::nullopt) {
    auto request = make_request(std::move(method), std::move(target), std::move(body));
    EXPECT_TRUE(emulator->serves(request)) << request.target;
    return emulator->handle(request);
  }
  ServerReply call(std::string method, std::string target, const json::value& body) {
    return call(std::move(method), std::move(target), write_json(body));
  }
  /// Expects a refusal with this status and x-amzn-ErrorType, and a `Message`.
  void expect_error(const ServerReply& reply, int status, std::string_view code) {
    EXPECT_EQ(reply.status, status) << reply.body;
    EXPECT_EQ(header(reply, "x-amzn-errortype"), code) << reply.body;
    auto body = body_of(reply);
    ASSERT_TRUE(body.is_object());
    EXPECT_TRUE(body.as_object().contains("Message")) << reply.body;
  }
  void expect_bad_request(std::string method, std::string target, std::string body) {
    SCOPED_TRACE(body);
    expect_error(call(std::move(method), std::move(target), std::move(body)), 400, "BadRequestException");
  }
  json::value state() const { return emulator->state(); }
  json::value definition_state(std::string id = "bsxyd7k") const {
    return state().at("applications").at("abc1234").at("ExperimentDefinitions").at(id);
  }
  json::value run_state(int n) const { return definition_state().at("Runs").at(std::to_string(n)); }

  std::unique_ptr<VendorEmulator> emulator;
};

const char* kCreateBody = R"js({"Name":"Second","ConfigurationProfileIdentifier":"checkout-flags","EnvironmentIdentifier":"production",
  "FlagKey":"checkout-redesign","AudienceRule":"(eq $plan 'pro')","Hypothesis":"H",
  "Control":{"Weight":34,"FlagValue":{"Enabled":false}},
  "Treatments":[{"Weight":33,"FlagValue":{"Enabled":true}},{"Weight":33,"Description":"b","FlagValue":{"Enabled":true,"AttributeValues":{"steps":{"NumberValue":2}}}}],
  "Tags":{"team":"checkout"}})js";

// ---------------------------------------------------------------------------------------------

TEST_F(AppConfigEmulatorTest, DefaultFixtureHoldsTheSampleDefinitionWithoutARun) {
  auto d = definition_state();
  EXPECT_EQ(d.at("Name"), "Example-Experiment-Definition");
  EXPECT_EQ(d.at("Status"), "IDLE");
  EXPECT_EQ(d.at("Control").at("Key"), "c");
  EXPECT_EQ(d.at("Control").at("FlagValue").at("Enabled"), false);
  EXPECT_EQ(d.at("Control").at("Weight").to_number<double>(), 50.0);
  ASSERT_EQ(d.at("Treatments").as_array().size(), 1u);
  EXPECT_EQ(d.at("Treatments").at(0).at("Key"), "t1");
  EXPECT_EQ(d.at("Treatments").at(0).at("FlagValue").at("Enabled"), true);
  EXPECT_EQ(d.at("FlagKey"), "checkout-redesign");
  EXPECT_TRUE(d.as_object().contains("AudienceRule"));
  EXPECT_TRUE(d.at("Runs").as_object().empty());
}

TEST_F(AppConfigEmulatorTest, GetDefinitionByIdOrName) {
  auto by_id = call("GET", kDef);
  ASSERT_EQ(by_id.status, 200) << by_id.body;
  auto by_name = call("GET", "/applications/checkout/experimentdefinitions/Example-Experiment-Definition");
  ASSERT_EQ(by_name.status, 200) << by_name.body;
  EXPECT_EQ(body_of(by_id), body_of(by_name));
  EXPECT_EQ(body_of(by_id).at("ApplicationId"), "abc1234");
  EXPECT_EQ(body_of(by_id).at("ConfigurationProfileId"), "prf5678");

  auto missing = call("GET", "/applications/abc1234/experimentdefinitions/nope123");
  expect_error(missing, 404, "ResourceNotFoundException");
  EXPECT_EQ(body_of(missing).at("ResourceName"), "nope123");
  auto no_app = call("GET", "/applications/zzz9999/experimentdefinitions/bsxyd7k");
  expect_error(no_app, 404, "ResourceNotFoundException");
  EXPECT_EQ(body_of(no_app).at("ResourceName"), "zzz9999");
  expect_error(call("PUT", kDef, std::string("{}")), 404, "UnknownOperationException");
}

TEST_F(AppConfigEmulatorTest, CreateDefinitionAssignsIdAndTreatmentKeys) {
  auto created = call("POST", "/applications/abc1234/experimentdefinitions", std::string(kCreateBody));
  ASSERT_EQ(created.status, 201) << created.body;
  auto b = body_of(created);
  std::string id(b.at("Id").as_string());
  EXPECT_TRUE(id.size() >= 4 && id.size() <= 7);
  EXPECT_EQ(b.at("Status"), "IDLE");
  EXPECT_EQ(b.at("EnvironmentId"), "env9012");
  EXPECT_EQ(b.at("Control").at("Key"), "c");
  EXPECT_EQ(b.at("Treatments").at(0).at("Key"), "t1");
  EXPECT_EQ(b.at("Treatments").at(1).at("Key"), "t2");
  EXPECT_EQ(b.at("Treatments").at(1).at("FlagValue").at("AttributeValues").at("steps").at("NumberValue").to_number<double>(), 2.0);
  EXPECT_EQ(call("GET", "/applications/abc1234/experimentdefinitions/Second").status, 200);
  EXPECT_EQ(definition_state(id).at("Tags").at("team"), "checkout");

  expect_error(call("POST", "/applications/abc1234/experimentdefinitions", std::string(kCreateBody)), 409, "ConflictException");
  expect_error(call("POST", "/applications/nope/experimentdefinitions", std::string(kCreateBody)), 404, "ResourceNotFoundException");
  auto other = json::parse(kCreateBody).as_object();
  other["Name"] = "Third";
  other["FlagKey"] = "no-such-flag";
  auto no_flag = call("POST", "/applications/abc1234/experimentdefinitions", json::value(other));
  expect_error(no_flag, 404, "ResourceNotFoundException");
  EXPECT_EQ(body_of(no_flag).at("ResourceName"), "no-such-flag");
  other["FlagKey"] = "checkout-redesign";
  other["EnvironmentIdentifier"] = "staging";
  expect_error(call("POST", "/applications/abc1234/experimentdefinitions", json::value(other)), 404, "ResourceNotFoundException");
}

TEST_F(AppConfigEmulatorTest, CreateDefinitionValidatesLikeTheModel) {
  const std::string path = "/applications/abc1234/experimentdefinitions";
  auto with = [&](std::string_view member, json::value v) {
    auto o = json::parse(kCreateBody).as_object();
    if (v.is_null()) o.erase(member);
    else o[member] = std::move(v);
    return write_json(o);
  };
  auto arm = json::parse(R"({"Weight":10,"FlagValue":{"Enabled":true}})");
  expect_bad_request("POST", path, with("Name", nullptr));
  expect_bad_request("POST", path, with("Name", "AWS.reserved"));
  expect_bad_request("POST", path, with("Name", json::value(std::string(65, 'n'))));
  expect_bad_request("POST", path, with("AudienceRule", ""));
  expect_bad_request("POST", path, with("FlagKey", "Upper"));
  expect_bad_request("POST", path, with("Hypothesis", json::value(std::string(1025, 'h'))));
  expect_bad_request("POST", path, with("Treatments", json::array{}));
  expect_bad_request("POST", path, with("Treatments", json::array{arm, arm, arm, arm, arm, arm}));
  expect_bad_request("POST", path, with("Control", nullptr));
  expect_bad_request("POST", path, with("Control", json::parse(R"({"Weight":-1,"FlagValue":{"Enabled":true}})")));
  expect_bad_request("POST", path, with("Control", json::parse(R"({"Weight":1,"FlagValue":{"Enabled":"yes"}})")));
  expect_bad_request("POST", path, with("Control", json::parse(R"({"Key":"c","Weight":1,"FlagValue":{"Enabled":true}})")));
  expect_bad_request("POST", path, with("Control", json::parse(R"({"Weight":1,"FlagValue":{"Enabled":true,"AttributeValues":{"enabled":{"BooleanValue":true}}}})")));
  expect_bad_request("POST", path, with("Control", json::parse(R"({"Weight":1,"FlagValue":{"Enabled":true,"AttributeValues":{"Steps":{"NumberValue":1}}}})")));
  expect_bad_request("POST", path, with("Control", json::parse(R"({"Weight":1,"FlagValue":{"Enabled":true,"AttributeValues":{"a":{"NumberValue":1,"StringValue":"x"}}}})")));
  expect_bad_request("POST", path, with("Control", json::parse(R"({"Weight":1,"FlagValue":{"Enabled":true,"AttributeValues":{"a":{}}}})")));
  json::object many;
  for (int i = 0; i < 26; ++i) many["a" + std::to_string(i)] = json::object{{"BooleanValue", true}};
  expect_bad_request("POST", path, with("Control", json::object{{"Weight", 1}, {"FlagValue", json::object{{"Enabled", true}, {"AttributeValues", many}}}}));
  many.erase("a25");
  auto ok = call("POST", path, with("Control", json::object{{"Weight", 1}, {"FlagValue", json::object{{"Enabled", true}, {"AttributeValues", many}}}}));
  EXPECT_EQ(ok.status, 201) << ok.body;  // 25 attributes are allowed
  json::object long_string{{"StringValue", std::string(1025, 's')}};
  expect_bad_request("POST", path, with("Control", json::object{{"Weight", 1}, {"FlagValue", json::object{{"Enabled", true}, {"AttributeValues", json::object{{"s", long_string}}}}}}));
  json::array long_list(26, json::value("x"));
  expect_bad_request("POST", path, with("Control", json::object{{"Weight", 1}, {"FlagValue", json::object{{"Enabled", true}, {"AttributeValues", json::object{{"s", json::object{{"StringArray", long_list}}}}}}}}));
  json::object tags;
  for (int i = 0; i < 51; ++i) tags["k" + std::to_string(i)] = "v";
  expect_bad_request("POST", path, with("Tags", tags));
  expect_bad_request("POST", path, with("Extra", 1));
  expect_bad_request("POST", path, "not json");
}

TEST_F(AppConfigEmulatorTest, UpdateDefinitionReplacesAndRekeysTreatments) {
  auto updated = call("PATCH", kDef, std::string(R"({"Hypothesis":"More","Treatments":[
      {"Weight":20,"FlagValue":{"Enabled":true}},{"Weight":20,"FlagValue":{"Enabled":true}},{"Weight":10,"FlagValue":{"Enabled":true}}]})"));
  ASSERT_EQ(updated.status, 200) << updated.body;
  auto b = body_of(updated);
  EXPECT_EQ(b.at("Hypothesis"), "More");
  ASSERT_EQ(b.at("Treatments").as_array().size(), 3u);
  EXPECT_EQ(b.at("Treatments").at(2).at("Key"), "t3");
  EXPECT_EQ(b.at("Control").at("Key"), "c");
  EXPECT_EQ(b.at("Name"), "Example-Experiment-Definition");
  expect_bad_request("PATCH", kDef, R"({"Name":"x"})");  // Name is fixed at creation
  expect_bad_request("PATCH", kDef, R"({"AudienceRule":""})");
  expect_bad_request("PATCH", kDef, R"({"Treatments":[]})");
}

TEST_F(AppConfigEmulatorTest, DefinitionCannotChangeWhileARunIsRunning) {
  ASSERT_EQ(call("POST", kRuns, std::string("{}")).status, 201);
  EXPECT_EQ(definition_state().at("Status"), "ACTIVE");
  expect_error(call("PATCH", kDef, std::string(R"({"Hypothesis":"x"})")), 409, "ConflictException");
  expect_error(call("DELETE", std::string(kDef) + "?delete_type=ARCHIVE"), 409, "ConflictException");
  ASSERT_EQ(call("PATCH", std::string(kRuns) + "/1/stop", std::string("{}")).status, 200);
  EXPECT_EQ(definition_state().at("Status"), "IDLE");
  EXPECT_EQ(call("PATCH", kDef, std::string(R"({"Hypothesis":"x"})")).status, 200);
}

TEST_F(AppConfigEmulatorTest, DeleteArchivesOrDestroys) {
  expect_bad_request("DELETE", std::string(kDef) + "?delete_type=SOFT", "");
  auto archived = call("DELETE", std::string(kDef) + "?delete_type=ARCHIVE");
  EXPECT_EQ(archived.status, 204);
  EXPECT_TRUE(archived.body.empty());
  EXPECT_EQ(body_of(call("GET", kDef)).at("Status"), "ARCHIVED");
  EXPECT_EQ(call("DELETE", std::string(kDef) + "?delete_type=ARCHIVE").status, 204);  // idempotent
  EXPECT_TRUE(body_of(call("GET", "/experimentdefinitions?application_identifier=abc1234")).at("Items").as_array().empty());
  EXPECT_EQ(body_of(call("GET", "/experimentdefinitions?status=ARCHIVED")).at("Items").as_array().size(), 1u);
  expect_error(call("POST", kRuns, std::string("{}")), 409, "ConflictException");
  expect_error(call("PATCH", kDef, std::string(R"({"Hypothesis":"x"})")), 409, "ConflictException");
  EXPECT_EQ(call("DELETE", std::string(kDef) + "?delete_type=DESTROY").status, 204);
  expect_error(call("GET", kDef), 404, "ResourceNotFoundException");
  expect_error(call("DELETE", std::string(kDef) + "?delete_type=DESTROY"), 404, "ResourceNotFoundException");
}

// Definitions are looked up by ID or name through indexes (a migration creates thousands): each
// is still found by either, a destroyed one by neither, and its name is free again afterwards.
TEST_F(AppConfigEmulatorTest, ManyDefinitionsAreFoundByIdOrNameAfterADestroy) {
  auto fixture = load_fixture();
  json::array flags{"checkout-redesign"};
  for (int i = 0; i < 2000; ++i) flags.emplace_back("flag-" + std::to_string(i));
  fixture.at("applications").at(0).at("configuration_profiles").at(0).as_object()["flags"] = flags;
  auto seeded = emulator->seed(fixture);
  ASSERT_TRUE(seeded.has_value()) << seeded.error().describe();
  const std::string path = "/applications/abc1234/experimentdefinitions";
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {
    auto o = json::parse(kCreateBody).as_object();
    o["Name"] = "Many-" + std::to_string(i);
    o["FlagKey"] = "flag-" + std::to_string(i * 6);
    auto created = call("POST", path, json::value(o));
    ASSERT_EQ(created.status, 201) << created.body;
    ids.emplace_back(body_of(created).at("Id").as_string());
  }
  auto unknown_flag = json::parse(kCreateBody).as_object();
  unknown_flag["Name"] = "Unknown-Flag";
  unknown_flag["FlagKey"] = "flag-2000";
  expect_error(call("POST", path, json::value(unknown_flag)), 404, "ResourceNotFoundException");

  auto member = [&](const std::string& target, const char* name) {
    return std::string(body_of(call("GET", target)).at(name).as_string());
  };
  ASSERT_EQ(call("DELETE", path + "/" + ids[150] + "?delete_type=DESTROY").status, 204);
  for (int i = 0; i < 300; i += 7) {
    if (i == 150) continue;
    SCOPED_TRACE(i);
    EXPECT_EQ(member(path + "/" + ids[static_cast<std::size_t>(i)], "Name"), "Many-" + std::to_string(i));
    EXPECT_EQ(member(path + "/Many-" + std::to_string(i), "Id"), ids[static_cast<std::size_t>(i)]);
  }
  EXPECT_EQ(member(path + "/Many-299", "Id"), ids.back());  // after the destroyed one
  EXPECT_EQ(member(path + "/bsxyd7k", "Name"), "Example-Experiment-Definition");
  expect_error(call("GET", path + "/" + ids[150]), 404, "ResourceNotFoundException");
  expect_error(call("GET", path + "/Many-150"), 404, "ResourceNotFoundException");

  auto again = json::parse(kCreateBody).as_object();
  again["Name"] = "Many-150";
  auto recreated = call("POST", path, json::value(again));
  ASSERT_EQ(recreated.status, 201) << recreated.body;
  const std::string recreated_id(body_of(recreated).at("Id").as_string());
  EXPECT_NE(recreated_id, ids[150]);
  EXPECT_EQ(member(path + "/Many-150", "Id"), recreated_id);
  again["Name"] = "Many-151";
  expect_error(call("POST", path, json::value(again)), 409, "ConflictException");
}

TEST_F(AppConfigEmulatorTest, ListDefinitionsFiltersAndPages) {
  for (const char* name : {"A", "B", "C"}) {
    auto o = json::parse(kCreateBody).as_object();
    o["Name"] = name;
    ASSERT_EQ(call("POST", "/applications/abc1234/experimentdefinitions", json::value(o)).status, 201);
  }
  auto first = body_of(call("GET", "/experimentdefinitions?application_identifier=checkout&max_results=3"));
  ASSERT_EQ(first.at("Items").as_array().size(), 3u);
  EXPECT_EQ(first.at("Items").at(0).at("Id"), "bsxyd7k");
  EXPECT_FALSE(first.at("Items").at(0).as_object().contains("Treatments"));  // a summary
  std::string token(first.at("NextToken").as_string());
  auto second = body_of(call("GET", "/experimentdefinitions?application_identifier=abc1234&max_results=3&next_token=" + token));
  ASSERT_EQ(second.at("Items").as_array().size(), 1u);
  EXPECT_FALSE(second.as_object().contains("NextToken"));
  EXPECT_EQ(body_of(call("GET", "/experimentdefinitions")).at("Items").as_array().size(), 4u);
  EXPECT_EQ(body_of(call("GET", "/experimentdefinitions?status=IDLE&environment_identifier=env9012&configuration_profile_identifier=prf5678"))
                .at("Items").as_array().size(), 4u);
  EXPECT_EQ(body_of(call("GET", "/experimentdefinitions?status=ACTIVE")).at("Items").as_array().size(), 0u);
  expect_error(call("GET", "/experimentdefinitions?application_identifier=nope"), 404, "ResourceNotFoundException");
  expect_error(call("GET", "/experimentdefinitions?max_results=0"), 400, "BadRequestException");
  expect_error(call("GET", "/experimentdefinitions?max_results=51"), 400, "BadRequestException");
  expect_error(call("GET", "/experimentdefinitions?next_token=forged"), 400, "BadRequestException");
  expect_error(call("GET", "/experimentdefinitions?status=DONE"), 400, "BadRequestException");
}

TEST_F(AppConfigEmulatorTest, RunLifecycle) {
  auto started = call("POST", kRuns, std::string(R"({"Description":"first","ExposurePercentage":25,
      "TreatmentOverrides":{"Inline":{"u1":"t1"}},"Tags":{"k":"v"},"DeploymentParameters":{"DynamicExtensionParameters":{"ext#p":"v"}}})"));
  ASSERT_EQ(started.status, 201) << started.body;
  auto run = body_of(started);
  EXPECT_EQ(run.at("Run"), 1);
  EXPECT_EQ(run.at("Status"), "RUNNING");
  EXPECT_EQ(run.at("ExposurePercentage").to_number<double>(), 25.0);
  EXPECT_EQ(run.at("ExperimentDefinitionSnapshot").at("Treatments").at(0).at("Key"), "t1");
  EXPECT_FALSE(run.at("ExperimentDefinitionSnapshot").as_object().contains("Status"));
  EXPECT_EQ(definition_state().at("Status"), "ACTIVE");
  expect_error(call("POST", kRuns, std::string("{}")), 409, "ConflictException");  // one RUNNING run

  auto got = call("GET", std::string(kRuns) + "/1");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(body_of(got).at("Description"), "first");

  const std::string update = std::string(kRuns) + "/1/update";
  auto raised = call("PATCH", update, std::string(R"({"ExposurePercentage":50})"));
  ASSERT_EQ(raised.status, 200) << raised.body;
  EXPECT_EQ(body_of(raised).at("ExposurePercentage").to_number<double>(), 50.0);
  EXPECT_EQ(call("PATCH", update, std::string(R"({"ExposurePercentage":50})")).status, 200);  // equal: accepted
  expect_bad_request("PATCH", update, R"({"ExposurePercentage":40})");                      // lower: 400
  expect_bad_request("PATCH", update, R"({"ExposurePercentage":100.5})");
  expect_bad_request("PATCH", update, R"({"TreatmentOverrides":{"Inline":{"u1":"t9"}}})");   // not a key
  expect_bad_request("PATCH", update, R"({"TreatmentOverrides":{"Inline":{"u1":"t-1"}}})");  // pattern
  expect_bad_request("PATCH", update, R"({"TreatmentOverrides":{}})");                       // union: one member
  expect_bad_request("PATCH", update, R"({"TreatmentOverrides":{"Inline":{"":"c"}}})");
  expect_bad_request("PATCH", update, R"({"Description":")" + std::string(1025, 'd') + "\"}");
  expect_bad_request("PATCH", update, R"({"Tags":{}})");  // run tags only on StartExperimentRun
  expect_bad_request("PATCH", update, R"({"DeploymentParameters":{"DynamicExtensionParameters":{}}})");
  expect_bad_request("PATCH", update, R"({"DeploymentParameters":{"DynamicExtensionParameters":{"no-hash":"v"}}})");
  json::object inline_map;
  for (int i = 0; i < 33; ++i) inline_map["user-" + std::to_string(i)] = "c";
  expect_error(call("PATCH", update, json::value(json::object{{"TreatmentOverrides", json::object{{"Inline", inline_map}}}})), 400,
               "BadRequestException");
  inline_map.erase("user-32");
  EXPECT_EQ(call("PATCH", update, json::value(json::object{{"TreatmentOverrides", json::object{{"Inline", inline_map}}}})).status, 200);
  auto replaced = call("PATCH", update, std::string(R"({"TreatmentOverrides":{"Inline":{"qa":"c"}},"Description":"second"})"));
  ASSERT_EQ(replaced.status, 200);
  EXPECT_EQ(body_of(replaced).at("TreatmentOverrides"), json::parse(R"({"Inline":{"qa":"c"}})"));  // whole map replaced
  EXPECT_EQ(body_of(replaced).at("Description"), "second");

  const std::string stop = std::string(kRuns) + "/1/stop";
  expect_bad_request("PATCH", stop, R"({"Result":{"Winner":"t1"}})");
  expect_bad_request("PATCH", stop, R"({"ExposurePercentage":60})");
  auto stopped = call("PATCH", stop, std::string(R"({"Result":{"ExecutiveSummary":"t1 wins","ReasonsToLaunch":"+3%"}})"));
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(body_of(stopped).at("Status"), "DONE");
  EXPECT_EQ(body_of(stopped).at("Result").at("ExecutiveSummary"), "t1 wins");
  EXPECT_TRUE(body_of(stopped).as_object().contains("EndedAt"));
  EXPECT_EQ(definition_state().at("Status"), "IDLE");
  expect_error(call("PATCH", update, std::string(R"({"ExposurePercentage":90})")), 409, "ConflictException");
  expect_error(call("PATCH", stop, std::string("{}")), 409, "ConflictException");

  // A new run gets the next number and may start lower (the only-increase rule is per run).
  auto second = call("POST", kRuns, std::string(R"({"ExposurePercentage":5})"));
  ASSERT_EQ(second.status, 201);
  EXPECT_EQ(body_of(second).at("Run"), 2);

  auto runs = body_of(call("GET", std::string(kRuns) + "?max_results=1"));
  ASSERT_EQ(runs.at("Items").as_array().size(), 1u);
  EXPECT_EQ(runs.at("Items").at(0).at("Run"), 1);
  EXPECT_TRUE(runs.as_object().contains("NextToken"));
  auto running = body_of(call("GET", std::string(kRuns) + "?status=RUNNING"));
  ASSERT_EQ(running.at("Items").as_array().size(), 1u);
  EXPECT_EQ(running.at("Items").at(0).at("Run"), 2);
  expect_error(call("GET", std::string(kRuns) + "?status=STOPPED"), 400, "BadRequestException");

  auto events = body_of(call("GET", std::string(kRuns) + "/1/events"));
  std::vector<std::string> types;
  for (const auto& e : events.at("Items").as_array()) types.emplace_back(e.at("EventType").as_string());
  EXPECT_EQ(types, (std::vector<std::string>{"RUN_STOPPED", "OVERRIDES_UPDATED", "OVERRIDES_UPDATED", "EXPOSURE_UPDATED",
                                             "EXPOSURE_UPDATED", "RUN_STARTED"}));
  EXPECT_EQ(events.at("Items").at(0).at("TriggeredBy"), "USER");
  EXPECT_TRUE(events.at("Items").at(0).at("AssociatedDeployment").as_string().starts_with("arn:aws:appconfig:us-east-1:"));
  auto paged = body_of(call("GET", std::string(kRuns) + "/1/events?max_results=2&next_token=" +
                                      std::string(body_of(call("GET", std::string(kRuns) + "/1/events?max_results=2")).at("NextToken").as_string())));
  EXPECT_EQ(paged.at("Items").at(0).at("EventType"), "OVERRIDES_UPDATED");
}

TEST_F(AppConfigEmulatorTest, RunLabelsAndUnknownRuns) {
  expect_error(call("GET", std::string(kRuns) + "/1"), 404, "ResourceNotFoundException");
  auto missing = call("PATCH", std::string(kRuns) + "/9/update", std::string("{}"));
  expect_error(missing, 404, "ResourceNotFoundException");
  EXPECT_EQ(body_of(missing).at("ResourceName"), "9");
  expect_error(call("GET", std::string(kRuns) + "/0"), 400, "BadRequestException");
  expect_error(call("GET", std::string(kRuns) + "/one"), 400, "BadRequestException");
  expect_error(call("POST", "/applications/abc1234/experimentdefinitions/nope/experimentruns", std::string("{}")), 404,
               "ResourceNotFoundException");
  expect_error(call("POST", std::string(kRuns) + "/1/update", std::string("{}")), 404, "UnknownOperationException");
  // The overrides name keys of the definition the run starts from.
  expect_bad_request("POST", kRuns, R"({"TreatmentOverrides":{"Inline":{"u":"t2"}}})");
  expect_bad_request("POST", kRuns, R"({"ExposurePercentage":-1})");
  expect_bad_request("POST", kRuns, R"({"Result":{}})");
  auto started = call("POST", kRuns, std::string());  // no body: every member is optional
  ASSERT_EQ(started.status, 201);
  EXPECT_EQ(body_of(started).at("ExposurePercentage").to_number<double>(), 0.0);  // chosen default
}

TEST_F(AppConfigEmulatorTest, ReadsFindTheCurrentRunThroughEveryPage) {
  // Runs 1 and 2 done, run 3 running: what a reader walks to find the current run.
  for (int n = 1; n <= 3; ++n) {
    ASSERT_EQ(call("POST", kRuns, std::string(R"({"ExposurePercentage":)") + std::to_string(10 * n) + "}").status, 201);
    if (n < 3) {
      ASSERT_EQ(call("PATCH", std::string(kRuns) + "/" + std::to_string(n) + "/stop", std::string("{}")).status, 200);
    }
  }
  std::vector<std::int64_t> numbers;
  std::optional<std::int64_t> running;
  std::string token;
  for (int page = 0; page < 10; ++page) {  // bounded: three pages expected
    auto reply = call("GET", std::string(kRuns) + "?max_results=1" + (token.empty() ? "" : "&next_token=" + token));
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto body = body_of(reply).as_object();
    for (const auto& item : body.at("Items").as_array()) {
      numbers.push_back(item.at("Run").as_int64());
      EXPECT_EQ(item.at("ExperimentDefinitionId"), "bsxyd7k");
      EXPECT_FALSE(item.as_object().contains("ExperimentDefinitionSnapshot"));  // a summary
      if (item.at("Status") == "RUNNING") running = item.at("Run").as_int64();
    }
    if (!body.contains("NextToken")) break;
    token = std::string(body.at("NextToken").as_string());
  }
  EXPECT_EQ(numbers, (std::vector<std::int64_t>{1, 2, 3}));
  ASSERT_EQ(running, 3);

  auto run = call("GET", std::string(kRuns) + "/3");
  ASSERT_EQ(run.status, 200) << run.body;
  auto body = body_of(run).as_object();
  EXPECT_EQ(body.at("Status"), "RUNNING");
  EXPECT_EQ(body.at("ExposurePercentage").to_number<double>(), 30.0);
  EXPECT_EQ(body.at("ExperimentDefinitionSnapshot").at("Control").at("Key"), "c");
  EXPECT_FALSE(body.contains("EndedAt"));
  auto done = body_of(call("GET", std::string(kRuns) + "/1")).as_object();
  EXPECT_EQ(done.at("Status"), "DONE");
  EXPECT_TRUE(done.contains("EndedAt"));
  // The definition, read by name, is ACTIVE while run 3 runs.
  auto definition = call("GET", "/applications/abc1234/experimentdefinitions/Example-Experiment-Definition");
  ASSERT_EQ(definition.status, 200) << definition.body;
  EXPECT_EQ(body_of(definition).at("Status"), "ACTIVE");
  EXPECT_EQ(body_of(definition).at("Id"), "bsxyd7k");

  // Missing resources answer ResourceNotFoundException naming them; tokens are checked.
  auto unknown = call("GET", "/applications/abc1234/experimentdefinitions/nope/experimentruns");
  expect_error(unknown, 404, "ResourceNotFoundException");
  EXPECT_EQ(body_of(unknown).at("ResourceName"), "nope");
  expect_error(call("GET", "/applications/nope/experimentdefinitions/bsxyd7k"), 404, "ResourceNotFoundException");
  expect_error(call("GET", std::string(kRuns) + "/4"), 404, "ResourceNotFoundException");
  expect_error(call("GET", std::string(kRuns) + "?next_token=" + std::string(2049, 'x')), 400, "BadRequestException");
  expect_error(call("GET", std::string(kRuns) + "?max_results=51"), 400, "BadRequestException");
  // Reads are signed like writes.
  ServerRequest anonymous;
  anonymous.method = "GET";
  anonymous.target = std::string(kRuns) + "/3";
  anonymous.headers = {{"host", "127.0.0.1:1"}};
  EXPECT_EQ(emulator->handle(anonymous).status, 403);
}

// ---------------------------------------------------------------------------------------------
// SigV4

TEST_F(AppConfigEmulatorTest, RefusesBadSignatureStaleDateAndWrongScope) {
  auto tampered = make_request("PATCH", kDef, std::string(R"({"Hypothesis":"signed"})"));
  tampered.body = R"({"Hypothesis":"changed"})";
  auto reply = emulator->handle(tampered);
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(header(reply, "x-amzn-errortype"), "InvalidSignatureException");

  Signing stale;
  stale.age = 20min;
  reply = emulator->handle(make_request("GET", kDef, std::nullopt, stale));
  EXPECT_EQ(reply.status, 403);
  EXPECT_NE(reply.body.find("Signature expired"), std::string::npos) << reply.body;

  Signing evidently;
  evidently.service = "evidently";
  reply = emulator->handle(make_request("GET", kDef, std::nullopt, evidently));
  EXPECT_EQ(reply.status, 403);
  EXPECT_NE(reply.body.find("appconfig"), std::string::npos) << reply.body;

  ServerRequest anonymous;
  anonymous.method = "GET";
  anonymous.target = kDef;
  anonymous.headers = {{"host", "127.0.0.1:1"}};
  reply = emulator->handle(anonymous);
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(header(reply, "x-amzn-errortype"), "MissingAuthenticationTokenException");

  Signing other_region;  // any region is accepted, and a fresh signature works
  other_region.region = "eu-west-1";
  EXPECT_EQ(emulator->handle(make_request("GET", kDef, std::nullopt, other_region)).status, 200);
  EXPECT_FALSE(definition_state().as_object().contains("Hypothesis"));  // the refused PATCH changed nothing
}

TEST_F(AppConfigEmulatorTest, ServesOnlyAppConfigPaths) {
  EXPECT_TRUE(emulator->serves(make_request("GET", "/experimentdefinitions")));
  EXPECT_TRUE(emulator->serves(make_request("GET", kDef)));
  EXPECT_FALSE(emulator->serves(make_request("GET", "/projects/checkout/features")));
  EXPECT_FALSE(emulator->serves(make_request("GET", "/api/v2/flags/default")));
}

TEST_F(AppConfigEmulatorTest, SeedIsStrict) {
  auto fresh = make_appconfig_emulator();
  EXPECT_FALSE(fresh->seed(json::parse(R"({"applicatons":[]})")).has_value());
  auto fixture = load_fixture();
  fixture.at("applications").at(0).as_object()["colour"] = "blue";
  EXPECT_FALSE(fresh->seed(fixture).has_value());
  fixture = load_fixture();
  fixture.at("applications").at(0).at("experiment_definitions").at(0).at("definition").as_object()["Treatments"] = json::array{};
  auto bad = fresh->seed(fixture);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("Treatments"), std::string::npos) << bad.error().message;
  // Runs can be seeded: replayed through StartExperimentRun / StopExperimentRun.
  fixture = load_fixture();
  fixture.at("applications").at(0).at("experiment_definitions").at(0).as_object()["runs"] = json::parse(
      R"([{"status":"DONE","start":{"ExposurePercentage":10},"stop":{"Result":{"ExecutiveSummary":"s"}}},
          {"status":"RUNNING","start":{"ExposurePercentage":30,"TreatmentOverrides":{"Inline":{"a":"t1"}}}}])");
  auto seeded = fresh->seed(fixture);
  ASSERT_TRUE(seeded.has_value()) << seeded.error().describe();
  auto def = fresh->state().at("applications").at("abc1234").at("ExperimentDefinitions").at("bsxyd7k");
  EXPECT_EQ(def.at("Status"), "ACTIVE");
  EXPECT_EQ(def.at("Runs").at("1").at("Status"), "DONE");
  EXPECT_EQ(def.at("Runs").at("2").at("ExposurePercentage").to_number<double>(), 30.0);
}

// ---------------------------------------------------------------------------------------------
// The demo: the four sample updates, planned by the real adapter, applied in demo order.

struct Sent {
  std::string operation;
  ServerReply reply;
};

TEST_F(AppConfigEmulatorTest, SampleUpdatesInDemoOrder) {
  auto config = read_text(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/backends.yaml");
  ASSERT_TRUE(config.has_value());
  const std::string aws_line = "aws: {vendor: appconfig, region: us-east-1, application: abc1234}";
  auto at = config->find(aws_line);
  ASSERT_NE(at, std::string::npos) << "samples/backends.yaml changed";
  config->replace(at, aws_line.size(),
                  "aws: {vendor: appconfig, region: us-east-1, application: abc1234, endpoint: \"http://127.0.0.1:1\"}");
  auto bridge = Bridge::from_text(*config, "backends.yaml");
  ASSERT_TRUE(bridge.has_value()) << bridge.error().describe();

  auto apply = [&](std::string_view sample) {
    std::vector<Sent> sent;
    auto update = load_update(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/updates/" + std::string(sample));
    EXPECT_TRUE(update.has_value()) << sample;
    if (!update) return sent;
    PlanOptions options;
    options.backends = {"aws"};
    auto plan = bridge->plan(*update, options);
    EXPECT_TRUE(plan.has_value()) << (plan ? "" : plan.error().describe());
    if (!plan) return sent;
    EXPECT_EQ(plan->backends.size(), 1u);
    for (const auto& planned : plan->backends.at(0).requests) {
      const std::string prefix = "http://127.0.0.1:1";
      EXPECT_TRUE(planned.url.starts_with(prefix)) << planned.url;
      std::optional<std::string> body;
      if (planned.body) body = write_json(*planned.body);
      // What the applier sends: host, the plan's content headers, the serialised body, SigV4.
      ServerRequest request;
      request.method = planned.method;
      request.target = planned.url.substr(prefix.size());
      request.headers = {{"host", "127.0.0.1:1"}};
      for (const auto& h : planned.headers) request.headers.push_back(h);
      if (body) request.body = *body;
      sign(request);
      EXPECT_TRUE(emulator->serves(request));
      ServerReply reply = emulator->handle(request);
      EXPECT_EQ(header(reply, "x-amzn-errortype").empty(), reply.status == planned.success_status) << planned.operation << " " << reply.body;
      sent.push_back({planned.operation, reply});
      if (reply.status != planned.success_status) break;  // the applier stops a backend at its first failure
    }
    return sent;
  };

  // redesign-variations changes only the definition (no run exists yet, none is running).
  auto redesign = apply("redesign-variations.yaml");
  ASSERT_EQ(redesign.size(), 1u);
  EXPECT_EQ(redesign[0].operation, "UpdateExperimentDefinition");
  EXPECT_EQ(redesign[0].reply.status, 200) << redesign[0].reply.body;

  auto start = apply("start.yaml");
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start[0].operation, "StartExperimentRun");
  ASSERT_EQ(start[0].reply.status, 201) << start[0].reply.body;
  EXPECT_EQ(body_of(start[0].reply).at("Run"), 1);  // the run the sample binding names

  auto raise = apply("raise-exposure.yaml");
  ASSERT_EQ(raise.size(), 1u);
  EXPECT_EQ(raise[0].reply.status, 200) << raise[0].reply.body;

  auto stop = apply("stop-with-result.yaml");
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(stop[0].operation, "StopExperimentRun");
  EXPECT_EQ(stop[0].reply.status, 200) << stop[0].reply.body;

  auto def = definition_state();
  EXPECT_EQ(def.at("Status"), "IDLE");
  EXPECT_EQ(def.at("Hypothesis"), "Fewer steps raise conversion");
  EXPECT_EQ(def.at("AudienceRule"), "(eq $country \"US\")");
  EXPECT_EQ(def.at("AudienceDescription"), "US web users");
  EXPECT_EQ(def.at("LaunchCriteria"), "+2% conversion at 95% confidence");
  EXPECT_EQ(def.at("Treatments").at(0).at("Key"), "t1");
  EXPECT_EQ(def.at("Treatments").at(0).at("Description"), "new flow");
  EXPECT_EQ(def.at("Treatments").at(0).at("FlagValue").at("AttributeValues").at("theme").at("StringValue"), "blue");

  auto run = run_state(1);
  EXPECT_EQ(run.at("Status"), "DONE");
  EXPECT_EQ(run.at("ExposurePercentage").to_number<double>(), 75.0);
  EXPECT_EQ(run.at("TreatmentOverrides"), json::parse(R"({"Inline":{"qa-tester-1":"t1"}})"));
  EXPECT_EQ(run.at("Description"), "First run, 25% of US web users");
  EXPECT_EQ(run.at("Result"),
            json::parse(R"({"ExecutiveSummary":"Two-step won","ReasonsToLaunch":"+3.1% conversion","ReasonsNotToLaunch":"none"})"));
  EXPECT_TRUE(run.as_object().contains("EndedAt"));
  EXPECT_EQ(run.at("ExperimentDefinitionSnapshot").at("Hypothesis"), "Fewer steps raise conversion");
  std::vector<std::string> types;
  for (const auto& e : run.at("Events").as_array()) types.emplace_back(e.at("EventType").as_string());
  EXPECT_EQ(types, (std::vector<std::string>{"RUN_STOPPED", "EXPOSURE_UPDATED", "RUN_STARTED"}));
  EXPECT_EQ(run.at("Events").at(2).at("ExposurePercentage").to_number<double>(), 25.0);
  EXPECT_EQ(run.at("Events").at(1).at("ExposurePercentage").to_number<double>(), 75.0);
}

// An injected fault answers as AWS does: the error type for the status, a request id, and the
// echoed Authorization as that id when the fault echoes.
TEST(AppConfigEmulatorFaults, InjectedErrorsTakeTheAwsShape) {
  const auto emulator = make_appconfig_emulator();
  auto reply = emulator->injected_error({429, "injected", std::nullopt, std::nullopt});
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(reply.header("x-amzn-ErrorType"), "ThrottlingException");
  EXPECT_TRUE(reply.header("x-amzn-RequestId"));
  EXPECT_EQ(json::parse(reply.body).at("message"), "injected");
  EXPECT_EQ(emulator->injected_error({503, "m", "AWS4 echoed", std::nullopt}).header("x-amzn-RequestId"), "AWS4 echoed");
}

}  // namespace
