// The generic adapter conformance suite: every registered vendor runs it, configured
// from its own table's `example_defaults`. No vendor is named here; a new vendor is
// covered the moment it is registered. Bindings must map the variation keys
// `control` and `two-step` where the vendor needs a map.
#include <gtest/gtest.h>

#include <cstdlib>

#include <boost/json/object.hpp>

#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

constexpr const char* kExperiment = "conformance";
constexpr const char* kSecretMarker = "s3cr3t-MARKER";

struct FieldCase {
  std::string field;     ///< neutral field as reported in `skipped`
  std::string base;      ///< YAML lines the comparison plan already has
  std::string fragment;  ///< YAML lines that add the field
};

const std::vector<FieldCase>& field_cases() {
  static const std::vector<FieldCase> cases = {
      {"name", "", "name: Conformance name\n"},
      {"description", "", "description: Conformance description\n"},
      {"hypothesis", "", "hypothesis: Fewer steps raise conversion\n"},
      {"launch_criteria", "", "launch_criteria: +2% conversion\n"},
      {"audience.rule", "", "audience: {rule: '(eq $country \"US\")'}\n"},
      {"audience.description", "", "audience: {description: US web users}\n"},
      {"variations", "",
       "variations:\n  - {key: control, control: true, weight: 50, value: {enabled: false}}\n"
       "  - {key: two-step, weight: 50, value: {enabled: true}}\n"},
      {"exposure", "", "exposure: 30\n"},
      {"overrides", "", "overrides: {user-1: two-step}\n"},
      {"action.start", "", "action: start\n"},
      {"action.pause", "", "action: pause\n"},
      {"action.stop", "", "action: stop\n"},
      {"action.archive", "", "action: archive\n"},
      {"action.restore", "", "action: restore\n"},
      {"result", "action: stop\n", "result: {summary: it won, reasons_to_launch: more, reasons_not_to_launch: none}\n"},
      {"comment", "name: Conformance name\n", "comment: audit note\n"},
  };
  return cases;
}

boost::json::object defaults_of(const MappingTable& table, const char* key) {
  const auto* v = table.example_defaults().if_contains(key);
  return v && v->is_object() ? v->get_object() : boost::json::object();
}

std::string config_text(const MappingTable& table, const boost::json::object& binding) {
  boost::json::object backend = defaults_of(table, "backend");
  backend.erase("endpoint");
  backend["vendor"] = table.vendor();
  boost::json::object config{{"backends", boost::json::object{{"b", backend}}},
                             {"experiments", boost::json::object{{kExperiment, boost::json::object{{"b", binding}}}}}};
  return write_json(config);
}

class AdapterConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto table = load_mapping_table(GetParam());
    ASSERT_TRUE(table) << table.error().describe();
    table_ = *table;
    auto bridge = Bridge::from_text(config_text(*table_, defaults_of(*table_, "binding")), "conformance.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_.emplace(std::move(*bridge));
  }

  Result<Plan> plan(const std::string& body, PlanOptions options = {}) {
    auto update = parse_update(std::string("experiment: ") + kExperiment + "\n" + body, "u.yaml");
    EXPECT_TRUE(update) << update.error().describe();
    if (!update) return std::unexpected(update.error());
    return bridge_->plan(*update, options);
  }

  std::shared_ptr<const MappingTable> table_;
  std::optional<Bridge> bridge_;
};

TEST_P(AdapterConformance, AnUpdateWithNoFieldsSendsNothingAndSkipsNothing) {
  auto p = plan("");
  ASSERT_TRUE(p) << p.error().describe();
  ASSERT_EQ(p->backends.size(), 1u);
  EXPECT_TRUE(p->backends[0].requests.empty()) << write_json(plan_to_json(*p));
  EXPECT_TRUE(p->backends[0].skipped.empty()) << write_json(plan_to_json(*p));
  EXPECT_EQ(p->backends[0].vendor, GetParam());
}

TEST_P(AdapterConformance, NoNeutralFieldIsDroppedSilently) {
  for (const auto& c : field_cases()) {
    SCOPED_TRACE(c.field);
    auto without = plan(c.base);
    auto with = plan(c.base + c.fragment);
    if (!with) {
      // A refusal is not a silent drop, but a valid sample value should not be refused.
      ADD_FAILURE() << "refused: " << with.error().describe();
      continue;
    }
    ASSERT_TRUE(without) << without.error().describe();
    const auto& w = with->backends[0];
    const auto& o = without->backends[0];
    bool requests_changed = write_json(plan_to_json(Plan{"", {BackendPlan{"", "", w.requests, {}, {}}}})) !=
                            write_json(plan_to_json(Plan{"", {BackendPlan{"", "", o.requests, {}, {}}}}));
    bool reported = false;
    for (const auto& s : w.skipped) {
      if (s.field == c.field || s.field.starts_with(c.field + "[") || s.field.starts_with(c.field + ".")) {
        reported = true;
        EXPECT_FALSE(s.reason.empty()) << "a skip needs a reason";
      }
    }
    EXPECT_TRUE(requests_changed || reported) << "the field changed no request and was not reported as skipped: "
                                              << write_json(plan_to_json(*with));
  }
}

TEST_P(AdapterConformance, EverySkipHasAReasonAndEveryRequestIsWellFormed) {
  std::string all;
  for (const auto& c : field_cases())
    if (c.field != "result" && !c.field.starts_with("action") && c.field != "comment" && !c.field.starts_with("audience"))
      all += c.fragment;
  all += "audience: {rule: '(eq $country \"US\")', description: US web users}\ncomment: note\naction: stop\n"
         "result: {summary: s}\n";
  auto p = plan(all);
  ASSERT_TRUE(p) << p.error().describe();
  for (const auto& s : p->backends[0].skipped) EXPECT_FALSE(s.reason.empty()) << s.field;
  for (const auto& r : p->backends[0].requests) {
    EXPECT_TRUE(r.url.starts_with("https://")) << r.url;
    EXPECT_FALSE(r.operation.empty());
    EXPECT_TRUE(r.method == "GET" || r.method == "POST" || r.method == "PATCH" || r.method == "PUT" ||
                r.method == "DELETE")
        << r.method;
    bool has_content_type = false;
    for (const auto& [name, value] : r.headers) has_content_type = has_content_type || name == "content-type";
    EXPECT_EQ(has_content_type, r.body.has_value()) << r.operation;
    EXPECT_GE(r.success_status, 200);
    EXPECT_LT(r.success_status, 300);
  }
}

TEST_P(AdapterConformance, PlansAreDeterministic) {
  const std::string body = "name: Conformance name\ndescription: Conformance description\nexposure: 40\naction: start\n";
  auto a = plan(body), b = plan(body);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(write_json(plan_to_json(*a)), write_json(plan_to_json(*b)));
}

TEST_P(AdapterConformance, StrictRefusesExactlyWhenSomethingIsSkipped) {
  PlanOptions strict;
  strict.strict = true;
  for (const auto& c : field_cases()) {
    SCOPED_TRACE(c.field);
    auto relaxed = plan(c.base + c.fragment);
    ASSERT_TRUE(relaxed) << relaxed.error().describe();
    auto refused = plan(c.base + c.fragment, strict);
    if (relaxed->backends[0].skipped.empty()) {
      EXPECT_TRUE(refused) << refused.error().describe();
    } else {
      ASSERT_FALSE(refused);
      EXPECT_EQ(refused.error().code, ErrorCode::unsupported);
      EXPECT_EQ(refused.error().backend, "b");
    }
  }
}

TEST_P(AdapterConformance, NoSecretReachesAPlan) {
  // Put marker secrets wherever this backend says its secrets live, and in the AWS variables.
  std::vector<std::string> variables = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
  for (const auto& backend : bridge_->backends()) {
    AuthSpec auth = backend.adapter->auth();
    EXPECT_FALSE(auth.scheme.empty());
    for (const auto& [key, value] : auth.params)
      if (key.ends_with("env")) variables.push_back(value);
  }
  for (const auto& v : variables) ::setenv(v.c_str(), (std::string(kSecretMarker) + "-" + v).c_str(), 1);
  auto p = plan("name: Conformance name\ndescription: Conformance description\nexposure: 40\noverrides: {user-1: two-step}\naction: start\ncomment: c\n");
  ASSERT_TRUE(p) << p.error().describe();
  std::string text = write_json(plan_to_json(*p)) + plan_to_text(*p);
  EXPECT_EQ(text.find(kSecretMarker), std::string::npos);
  for (const auto& v : variables) ::unsetenv(v.c_str());
}

TEST_P(AdapterConformance, IdsCannotRewriteAPath) {
  const std::string hostile = "x/../y?z#w";
  boost::json::object binding = defaults_of(*table_, "binding");
  for (const auto& member : binding) {
    if (!member.value().is_string()) continue;
    SCOPED_TRACE(std::string(member.key()));
    boost::json::object bad = binding;
    bad[member.key()] = hostile;
    auto bridge = Bridge::from_text(config_text(*table_, bad), "conformance.yaml");
    if (!bridge) {
      EXPECT_EQ(bridge.error().code, ErrorCode::invalid_input);
      EXPECT_TRUE(bridge.error().field.ends_with(std::string(member.key()))) << bridge.error().describe();
      continue;
    }
    auto update = parse_update(std::string("experiment: ") + kExperiment +
                                   "\nname: Conformance name\ndescription: D\nexposure: 30\naction: archive\n",
                               "u.yaml");
    ASSERT_TRUE(update);
    auto p = bridge->plan(*update);
    if (!p) continue;  // refused at plan time: also safe
    for (const auto& r : p->backends[0].requests) {
      EXPECT_EQ(r.url.find("/../"), std::string::npos) << r.url;
      EXPECT_EQ(r.url.find("?z"), std::string::npos) << r.url;
      EXPECT_EQ(r.url.find('#'), std::string::npos) << r.url;
    }
  }
}

TEST_P(AdapterConformance, UnknownBindingKeyIsRefused) {
  boost::json::object binding = defaults_of(*table_, "binding");
  binding["definitely_not_a_setting"] = "x";
  auto bridge = Bridge::from_text(config_text(*table_, binding), "conformance.yaml");
  ASSERT_FALSE(bridge);
  EXPECT_EQ(bridge.error().field, std::string("experiments.") + kExperiment + ".b.definitely_not_a_setting");
  EXPECT_EQ(bridge.error().backend, "b");
}

TEST_P(AdapterConformance, UnknownBackendSettingIsRefused) {
  boost::json::object backend = defaults_of(*table_, "backend");
  backend.erase("endpoint");
  backend["vendor"] = table_->vendor();
  backend["definitely_not_a_setting"] = 1;
  boost::json::object config{{"backends", boost::json::object{{"b", backend}}}};
  auto bridge = Bridge::from_text(write_json(config), "conformance.yaml");
  ASSERT_FALSE(bridge);
  EXPECT_EQ(bridge.error().field, "backends.b.definitely_not_a_setting");
}

TEST_P(AdapterConformance, UnknownPassThroughMemberIsRefused) {
  auto p = plan("vendor: {" + GetParam() + ": {definitely_not_a_member: 1}}\n");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().field, "vendor." + GetParam() + ".definitely_not_a_member");
}

TEST_P(AdapterConformance, EndpointOverrideReplacesTheBaseUrl) {
  boost::json::object backend = defaults_of(*table_, "backend");
  backend["vendor"] = table_->vendor();
  backend["endpoint"] = "http://127.0.0.1:18080";
  boost::json::object config{
      {"backends", boost::json::object{{"b", backend}}},
      {"experiments", boost::json::object{{kExperiment, boost::json::object{{"b", defaults_of(*table_, "binding")}}}}}};
  auto bridge = Bridge::from_text(write_json(config), "conformance.yaml");
  ASSERT_TRUE(bridge) << bridge.error().describe();
  auto update = parse_update(std::string("experiment: ") + kExperiment + "\ndescription: Conformance description\nexposure: 30\naction: stop\n",
                             "u.yaml");
  auto p = bridge->plan(*update);
  ASSERT_TRUE(p) << p.error().describe();
  ASSERT_FALSE(p->backends[0].requests.empty());
  for (const auto& r : p->backends[0].requests) EXPECT_TRUE(r.url.starts_with("http://127.0.0.1:18080/")) << r.url;
}

TEST_P(AdapterConformance, TableCoversEveryNeutralFieldWithAReasonOrATarget) {
  for (const auto& neutral : MappingTable::neutral_fields()) {
    const auto& f = table_->field(neutral);
    EXPECT_EQ(f.neutral, neutral);
    EXPECT_TRUE(!f.skip.empty() || !f.operation.empty() || !f.values.empty() || !f.wire.empty()) << neutral;
  }
}

INSTANTIATE_TEST_SUITE_P(Registered, AdapterConformance, ::testing::ValuesIn(Registry::builtin().vendors()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace expbridge
