// The generic adapter conformance suite: every registered vendor runs it, configured
// from its own table's `example_defaults`. No vendor is named here; a new vendor is
// covered the moment it is registered. Bindings must map the variation keys
// `control` and `two-step` where the vendor needs a map.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <boost/json/object.hpp>

#include "expbridge/bridge.hpp"
#include "expbridge/read.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "mapping_examples.hpp"

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
    bool requests_changed = write_json(plan_to_json(Plan{"", {BackendPlan{"", "", w.requests, {}, {}, {}}}})) !=
                            write_json(plan_to_json(Plan{"", {BackendPlan{"", "", o.requests, {}, {}, {}}}}));
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
    const AuthMethod& method = backend.adapter->auth().method;
    if (const auto* token = std::get_if<HeaderTokenAuth>(&method)) variables.push_back(token->env);
    if (const auto* oauth = std::get_if<OAuthClientCredentialsAuth>(&method)) {
      variables.push_back(oauth->client_id_env);
      variables.push_back(oauth->client_secret_env);
    }
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

TEST_P(AdapterConformance, ANearMissOfAPassThroughMemberOrASettingSaysWhatWasMeant) {
  for (const auto& [member, operation] : table_->passthrough()) {
    const std::string typo = member.substr(0, member.size() - 1);
    auto p = plan("vendor: {" + GetParam() + ": {" + typo + ": 1}}\n");
    ASSERT_FALSE(p) << typo;
    EXPECT_EQ(p.error().field, "vendor." + GetParam() + "." + typo);
    EXPECT_NE(p.error().message.find("did you mean '" + member + "'"), std::string::npos) << p.error().describe();
  }
  const boost::json::object defaults = defaults_of(*table_, "backend");
  for (const auto& setting : defaults) {
    const std::string key(setting.key());
    if (key == "endpoint") continue;
    const std::string typo = key.substr(0, key.size() - 1);
    boost::json::object backend = defaults;
    backend.erase("endpoint");
    backend.erase(key);
    backend[typo] = setting.value();
    backend["vendor"] = table_->vendor();
    auto bridge = Bridge::from_text(write_json(boost::json::object{{"backends", boost::json::object{{"b", backend}}}}),
                                    "conformance.yaml");
    ASSERT_FALSE(bridge) << typo;
    EXPECT_EQ(bridge.error().field, "backends.b." + typo);
    EXPECT_NE(bridge.error().message.find("did you mean '" + key + "'"), std::string::npos) << bridge.error().describe();
  }
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

TEST_P(AdapterConformance, AnAwsBackendSignsForTheTablesServiceInItsRegionWithItsProfile) {
  const auto* scheme = table_->auth().if_contains("scheme");
  if (!scheme || !scheme->is_string() || scheme->get_string() != "sigv4") GTEST_SKIP() << "not signed with SigV4";
  const auto* service = table_->auth().if_contains("service");
  ASSERT_TRUE(service && service->is_string());
  boost::json::object backend = defaults_of(*table_, "backend");
  backend.erase("endpoint");
  backend["vendor"] = table_->vendor();
  for (const bool with_profile : {true, false}) {
    SCOPED_TRACE(with_profile ? "with a profile" : "without one");
    backend["region"] = "eu-west-1";
    if (with_profile) backend["profile"] = "staging";
    else backend.erase("profile");
    auto bridge = Bridge::from_text(write_json(boost::json::object{{"backends", boost::json::object{{"b", backend}}}}),
                                    "conformance.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    const AuthSpec& auth = bridge->backends().at(0).adapter->auth();
    const auto* sigv4 = std::get_if<SigV4Auth>(&auth.method);
    ASSERT_NE(sigv4, nullptr);
    EXPECT_EQ(sigv4->service, service->get_string());
    EXPECT_EQ(sigv4->region, "eu-west-1");
    // None: the default credential chain signs.
    EXPECT_EQ(sigv4->profile, with_profile ? std::optional<std::string>("staging") : std::nullopt);
    EXPECT_TRUE(auth.headers.empty());
  }
}

TEST_P(AdapterConformance, TableCoversEveryNeutralFieldWithAReasonOrATarget) {
  for (const auto& neutral : MappingTable::neutral_fields()) {
    const auto& f = table_->field(neutral);
    EXPECT_EQ(f.neutral, neutral);
    EXPECT_TRUE(!f.skip.empty() || !f.operation.empty() || !f.values.empty() || !f.wire.empty()) << neutral;
  }
}

// ---- the adapter base's guarantees, for every registered vendor ---------------------------

/// What the test adapter does wrong.
enum class Fault {
  none,
  throw_in_bind,
  throw_in_plan,
  throw_in_state_requests,
  throw_in_read_state,
  drop_field,
  create_when_finding,  ///< a create told to find first asks for a POST first
};

/// A registered vendor's adapter with one fault added: the base around it must turn the fault
/// into an error on its backend. It forwards to the real adapter through its public methods.
class FaultyAdapter final : public Adapter {
 public:
  FaultyAdapter(const BackendContext& context, std::string vendor, std::unique_ptr<Adapter> real, Fault fault,
                std::string dropped)
      : Adapter(context, std::move(vendor)), real_(std::move(real)), fault_(fault), dropped_(std::move(dropped)) {}

 protected:
  Result<std::unique_ptr<const Binding>> do_bind(const boost::json::object& binding, const std::string& path) const override {
    if (fault_ == Fault::throw_in_bind) throw std::runtime_error("bind exploded");
    return real_->bind(binding, path);
  }
  Result<BackendPlan> do_plan(const Update& update, const Binding& binding, const PlanContext& context) const override {
    if (fault_ == Fault::throw_in_plan) throw std::logic_error("plan exploded");
    auto p = real_->plan(update, binding, context);
    if (p && fault_ == Fault::drop_field) {
      // Forget the field as a buggy adapter would: neither carried nor skipped.
      std::erase(p->carried, dropped_);
      std::erase_if(p->skipped, [&](const Skip& s) {
        return s.field == dropped_ || s.field.starts_with(dropped_ + ".") || s.field.starts_with(dropped_ + "[");
      });
    }
    return p;
  }
  Result<AuthSpec> do_auth() const override { return real_->auth(); }
  Result<std::vector<PlannedRequest>> do_state_requests(const Update& update, const Binding& binding) const override {
    if (fault_ == Fault::throw_in_state_requests) throw 42;  // not even a std::exception
    return real_->state_requests(update, binding);
  }
  Result<Experiment> do_read_state(const Binding& binding, const std::vector<ReadResponse>& responses) const override {
    if (fault_ == Fault::throw_in_read_state) throw std::runtime_error("read_state exploded");
    return real_->read_state(binding, responses);
  }
  bool do_finds_existing() const override { return real_->finds_existing(); }
  Result<CreateStep> do_create(const CreateSpec& spec, const std::vector<ReadResponse>& answers) const override {
    auto step = real_->create(spec, answers);
    if (step && fault_ == Fault::create_when_finding && spec.find_existing && answers.empty() && !step->requests.empty())
      step->requests.front().method = "POST";
    return step;
  }

 private:
  std::unique_ptr<Adapter> real_;
  Fault fault_;
  std::string dropped_;
};

/// A registry holding only `vendor`, whose adapters carry `fault`.
std::unique_ptr<Registry> faulty_registry(const std::string& vendor, Fault fault, std::string dropped = {}) {
  auto registry = std::make_unique<Registry>();
  const AdapterFactory* real = Registry::builtin().find(vendor);
  EXPECT_TRUE(registry
                  ->add(vendor,
                        [real, vendor, fault, dropped](const BackendContext& context) -> Result<std::unique_ptr<Adapter>> {
                          auto adapter = (*real)(context);
                          if (!adapter) return std::unexpected(std::move(adapter).error());
                          return std::unique_ptr<Adapter>(
                              std::make_unique<FaultyAdapter>(context, vendor, std::move(*adapter), fault, dropped));
                        })
                  .has_value());
  return registry;
}

TEST_P(AdapterConformance, EveryErrorNamesTheBackendAndTheVendor) {
  // From bind (at load time), from plan, and from a state read the vendor answered with garbage.
  boost::json::object binding = defaults_of(*table_, "binding");
  binding["definitely_not_a_setting"] = "x";
  auto bad_binding = Bridge::from_text(config_text(*table_, binding), "conformance.yaml");
  ASSERT_FALSE(bad_binding);
  EXPECT_EQ(bad_binding.error().backend, "b");
  EXPECT_EQ(bad_binding.error().vendor, GetParam());
  EXPECT_EQ(bad_binding.error().operation, "") << "a binding concerns no vendor operation";

  auto refused = plan("vendor: {" + GetParam() + ": {definitely_not_a_member: 1}}\n");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().backend, "b");
  EXPECT_EQ(refused.error().vendor, GetParam());

  auto update = parse_update(std::string("experiment: ") + kExperiment + "\n" + field_cases()[6].fragment +
                                 "exposure: 30\naction: start\n",
                             "u.yaml");
  ASSERT_TRUE(update);
  auto reads = bridge_->state_reads(*update);
  ASSERT_TRUE(reads) << reads.error().describe();
  for (const auto& r : *reads) {
    auto state = bridge_->read_state(r.backend, *update, std::vector<ReadResponse>(r.requests.size(), {200, "{not json"}));
    if (state) continue;  // an adapter may ignore what it cannot use
    EXPECT_EQ(state.error().backend, "b") << state.error().describe();
    EXPECT_EQ(state.error().vendor, GetParam());
    const bool names_a_read = std::any_of(r.requests.begin(), r.requests.end(), [&](const PlannedRequest& read) {
      return read.operation == state.error().operation;
    });
    EXPECT_TRUE(names_a_read) << "a state error names the read it could not use: " << state.error().describe();
  }
}

/// Drives a read of the conformance experiment at `b`, answering every request with `answer`,
/// until it ends or `kMaxReadSteps` are taken; `asked` collects every request.
Result<ReadStep> read_answering(const Bridge& bridge, const ReadResponse& answer, std::vector<PlannedRequest>& asked) {
  std::vector<ReadResponse> answers;
  Result<ReadStep> step = bridge.read_step("b", kExperiment, answers);
  for (int i = 1; i < kMaxReadSteps && step && !step->state; ++i) {
    if (step->requests.empty()) break;  // neither a state nor requests: reported by the caller
    for (auto& r : step->requests) {
      asked.push_back(r);
      answers.push_back(answer);
    }
    step = bridge.read_step("b", kExperiment, answers);
  }
  return step;
}

TEST_P(AdapterConformance, AReadSendsOnlyGetsAndNamesWhatWasMissingOrUnreadable) {
  std::vector<PlannedRequest> asked;
  auto first = bridge_->read_step("b", kExperiment, {});
  // Only adapters that read (Adapter::do_read) are checked; the others answer `unsupported`.
  if (!first && first.error().code == ErrorCode::unsupported) return;
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_FALSE(first->state) << "a read asks the vendor before it holds a state";
  ASSERT_FALSE(first->requests.empty());

  // Every resource missing: not_found, on this backend.
  auto missing = read_answering(*bridge_, {404, R"({"message": "not found"})"}, asked);
  ASSERT_FALSE(missing) << "a read answered 404 everywhere gave a state";
  EXPECT_EQ(missing.error().code, ErrorCode::not_found) << missing.error().describe();
  EXPECT_EQ(missing.error().backend, "b");
  EXPECT_EQ(missing.error().vendor, GetParam());

  // Answers that do not parse: an error naming one of the reads asked.
  auto garbage = read_answering(*bridge_, {200, "{not json"}, asked);
  ASSERT_FALSE(garbage) << "a read of answers that do not parse gave a state";
  EXPECT_EQ(garbage.error().backend, "b");
  const bool names_a_read = std::any_of(asked.begin(), asked.end(), [&](const PlannedRequest& read) {
    return read.operation == garbage.error().operation;
  });
  EXPECT_TRUE(names_a_read) << garbage.error().describe();

  for (const auto& r : asked) {
    EXPECT_EQ(r.method, "GET") << r.operation;
    EXPECT_TRUE(r.idempotent) << r.operation;
    EXPECT_FALSE(r.body) << r.operation;
    EXPECT_TRUE(r.url.starts_with("https://")) << r.url;
  }
}

/// The first create example of the table (`create: {desired, binding}`), as the experiment and
/// partial binding a conformance create starts from; none when the table has no create example.
struct CreateCase {
  Experiment desired;
  boost::json::object binding;
};
std::optional<CreateCase> first_create_example(const MappingTable& table) {
  for (const auto& example : table.examples()) {
    const auto* create = example.is_object() ? example.get_object().if_contains("create") : nullptr;
    if (!create || !create->is_object()) continue;
    auto update = parse_update(write_json(create->get_object().at("desired")), "create example");
    if (!update) return std::nullopt;
    CreateCase out;
    out.desired.experiment = update->experiment;
    out.desired.name = update->name;
    out.desired.hypothesis = update->hypothesis;
    out.desired.audience = update->audience;
    out.desired.variations = update->variations;
    out.desired.status = ExperimentStatus::running;
    if (const auto* b = create->get_object().if_contains("binding"); b && b->is_object()) out.binding = b->get_object();
    return out;
  }
  return std::nullopt;
}

/// Drives a create to its end, answering every request with `answer`.
Result<CreateStep> create_answering(const Adapter& adapter, const CreateSpec& spec, const ReadResponse& answer,
                                    std::vector<PlannedRequest>& asked) {
  std::vector<ReadResponse> answers;
  Result<CreateStep> step = adapter.create(spec, answers);
  for (int i = 1; i < 16 && step && !step->binding; ++i) {
    for (auto& r : step->requests) {
      asked.push_back(r);
      answers.push_back(answer);
    }
    step = adapter.create(spec, answers);
  }
  return step;
}

TEST_P(AdapterConformance, ACreateMeetingOnlyMissingResourcesEndsNotFoundAfterOneCreatingRequestAtMost) {
  auto example = first_create_example(*table_);
  if (!example) return;  // the vendor creates nothing (Adapter::do_create answers unsupported)
  const Adapter& adapter = *bridge_->backends().front().adapter;
  const CreateSpec spec{example->desired.experiment, &example->desired, &example->binding};
  for (const ReadResponse& answer : {ReadResponse{404, R"({"message": "not found"})"}, ReadResponse{200, "{not json"}}) {
    std::vector<PlannedRequest> asked;
    auto step = create_answering(adapter, spec, answer, asked);
    ASSERT_FALSE(step) << "a create answered " << answer.status << " everywhere gave a binding";
    EXPECT_EQ(step.error().backend, "b");
    EXPECT_EQ(step.error().vendor, GetParam());
    if (answer.status == 404) {
      EXPECT_EQ(step.error().code, ErrorCode::not_found) << step.error().describe();
    }
    // What creates is asked for once at most, and never as a request safe to resend.
    const auto creating = std::count_if(asked.begin(), asked.end(), [](const PlannedRequest& r) { return r.method == "POST"; });
    EXPECT_LE(creating, 1) << step.error().describe();
    for (const auto& r : asked) {
      if (r.method == "POST") {
        EXPECT_FALSE(r.idempotent) << r.operation;
      }
    }
  }
}

TEST_P(AdapterConformance, ACreateThatFindsFirstAsksOnlyGetsFirstAndMeetingNothingUsableCreatesOnceAtMost) {
  auto example = first_create_example(*table_);
  if (!example) return;  // the vendor creates nothing (Adapter::do_create answers unsupported)
  const Adapter& adapter = *bridge_->backends().front().adapter;
  CreateSpec spec{example->desired.experiment, &example->desired, &example->binding};
  spec.find_existing = true;
  auto first = adapter.create(spec, {});
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_FALSE(first->requests.empty());
  for (const auto& r : first->requests) EXPECT_EQ(r.method, "GET") << r.operation;
  EXPECT_FALSE(first->carriage.empty());
  for (const ReadResponse& answer : {ReadResponse{404, R"({"message": "not found"})"}, ReadResponse{200, "{not json"}}) {
    std::vector<PlannedRequest> asked;
    auto step = create_answering(adapter, spec, answer, asked);
    ASSERT_FALSE(step) << "a create that finds first, answered " << answer.status << " everywhere, gave a binding";
    EXPECT_EQ(step.error().backend, "b");
    EXPECT_EQ(step.error().vendor, GetParam());
    const auto creating = std::count_if(asked.begin(), asked.end(), [](const PlannedRequest& r) { return r.method != "GET"; });
    EXPECT_LE(creating, 1) << step.error().describe();
  }
}

TEST_P(AdapterConformance, ACreateThatFindsFirstButAsksForMoreThanGetsFirstIsABugTheBaseStops) {
  auto example = first_create_example(*table_);
  if (!example) return;  // the vendor creates nothing (Adapter::do_create answers unsupported)
  auto registry = faulty_registry(GetParam(), Fault::create_when_finding);
  BridgeOptions options;
  options.registry = registry.get();
  auto bridge = Bridge::from_text(config_text(*table_, defaults_of(*table_, "binding")), "conformance.yaml", options);
  ASSERT_TRUE(bridge) << bridge.error().describe();
  CreateSpec spec{example->desired.experiment, &example->desired, &example->binding};
  const Adapter& adapter = *bridge->backends().front().adapter;
  ASSERT_TRUE(adapter.create(spec, {})) << "without find_existing the fault is not there";
  spec.find_existing = true;
  auto step = adapter.create(spec, {});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ErrorCode::internal);
  EXPECT_EQ(step.error().backend, "b");
  EXPECT_NE(step.error().message.find("a create that finds first asks only GETs first"), std::string::npos)
      << step.error().describe();
}

/// The pass-through member `field` (`vendor.<vendor>.<member>...`) is about, or empty.
std::string passthrough_member(const std::string& vendor, const std::string& field) {
  const std::string prefix = "vendor." + vendor + ".";
  if (!field.starts_with(prefix)) return {};
  std::string member = field.substr(prefix.size());
  return member.substr(0, member.find_first_of(".["));
}

TEST_P(AdapterConformance, EveryPlanErrorNamesTheBackendTheVendorAndTheOperation) {
  // A pass-through member of the wrong type: refused, naming the operation the table passes it to.
  for (const auto& [member, operation] : table_->passthrough()) {
    SCOPED_TRACE(member);
    auto refused = plan("vendor: {" + GetParam() + ": {" + member + ": 12345}}\n");
    ASSERT_FALSE(refused) << write_json(plan_to_json(*refused));
    EXPECT_EQ(refused.error().code, ErrorCode::invalid_input) << refused.error().describe();
    EXPECT_EQ(refused.error().backend, "b");
    EXPECT_EQ(refused.error().vendor, GetParam());
    EXPECT_EQ(refused.error().operation, operation) << refused.error().describe();
  }

  // Every refusal the table documents: a value the vendor would reject names the request it was for.
  auto examples = run_mapping_examples(GetParam());
  ASSERT_TRUE(examples) << examples.error().describe();
  for (const auto& example : *examples) {
    if (!example.plan_error) continue;
    SCOPED_TRACE(example.name);
    const Error& e = *example.plan_error;
    EXPECT_EQ(e.backend, "ex") << e.describe();
    EXPECT_EQ(e.vendor, GetParam()) << e.describe();
    const std::string member = passthrough_member(GetParam(), e.field);
    if (!member.empty() && !table_->passthrough().contains(member)) {
      EXPECT_EQ(e.operation, "") << "a member the table routes nowhere concerns no operation: " << e.describe();
    } else {
      EXPECT_TRUE(table_->operation(e.operation)) << "names no operation of the table: " << e.describe();
    }
  }
}

TEST_P(AdapterConformance, AThrowingHookBecomesAnInternalErrorOnItsBackend) {
  auto load = [&](Fault fault, std::unique_ptr<Registry>& registry) {
    registry = faulty_registry(GetParam(), fault);
    BridgeOptions options;
    options.registry = registry.get();
    return Bridge::from_text(config_text(*table_, defaults_of(*table_, "binding")), "conformance.yaml", options);
  };
  auto expect_internal = [&](const Error& e, std::string_view hook) {
    EXPECT_EQ(e.code, ErrorCode::internal) << e.describe();
    EXPECT_EQ(e.backend, "b");
    EXPECT_EQ(e.vendor, GetParam());
    EXPECT_NE(e.message.find(hook), std::string::npos) << e.describe();
  };
  std::unique_ptr<Registry> registry;

  auto bind_throws = load(Fault::throw_in_bind, registry);
  ASSERT_FALSE(bind_throws);
  expect_internal(bind_throws.error(), "do_bind");
  EXPECT_NE(bind_throws.error().message.find("bind exploded"), std::string::npos);

  auto update = parse_update(std::string("experiment: ") + kExperiment + "\n" + field_cases()[6].fragment +
                                 "exposure: 30\naction: start\n",
                             "u.yaml");
  ASSERT_TRUE(update);
  auto plan_throws = load(Fault::throw_in_plan, registry);
  ASSERT_TRUE(plan_throws) << plan_throws.error().describe();
  auto p = plan_throws->plan(*update);
  ASSERT_FALSE(p);
  expect_internal(p.error(), "do_plan");

  auto reads_throw = load(Fault::throw_in_state_requests, registry);
  ASSERT_TRUE(reads_throw);
  auto reads = reads_throw->state_reads(*update);
  ASSERT_FALSE(reads) << "a failed state read must not look like one that is not needed";
  expect_internal(reads.error(), "do_state_requests");

  auto state_throws = load(Fault::throw_in_read_state, registry);
  ASSERT_TRUE(state_throws);
  auto state = state_throws->read_state("b", *update, {});
  ASSERT_FALSE(state);
  expect_internal(state.error(), "do_read_state");
}

TEST_P(AdapterConformance, AFieldNeitherCarriedNorSkippedIsRefused) {
  for (const auto& c : field_cases()) {
    // The field as the base tracks it: `action.pause` is the `action` field.
    const std::string neutral = c.field.starts_with("action.") ? "action" : c.field;
    SCOPED_TRACE(c.field);
    auto registry = faulty_registry(GetParam(), Fault::drop_field, neutral);
    BridgeOptions options;
    options.registry = registry.get();
    auto bridge = Bridge::from_text(config_text(*table_, defaults_of(*table_, "binding")), "conformance.yaml", options);
    ASSERT_TRUE(bridge) << bridge.error().describe();
    auto update = parse_update(std::string("experiment: ") + kExperiment + "\n" + c.base + c.fragment, "u.yaml");
    ASSERT_TRUE(update);
    auto p = bridge->plan(*update);
    ASSERT_FALSE(p) << write_json(plan_to_json(*p));
    EXPECT_EQ(p.error().code, ErrorCode::internal);
    EXPECT_EQ(p.error().backend, "b");
    EXPECT_EQ(p.error().field, neutral);
    EXPECT_NE(p.error().message.find(neutral), std::string::npos) << p.error().describe();
    // Without the fault the same update plans: the guard fires on the dropped field only.
    EXPECT_TRUE(bridge_->plan(*update));
  }
}

TEST_P(AdapterConformance, APassThroughBlockLeftUnreadIsRefused) {
  // The table's own examples of a pass-through that plans, run against this suite's backend.
  int checked = 0;
  for (const auto& example : table_->examples()) {
    const auto* update_value = example.as_object().if_contains("update");
    if (!update_value || !example.as_object().contains("requests")) continue;
    const auto* vendor = update_value->as_object().if_contains("vendor");
    if (!vendor || !vendor->as_object().contains(GetParam())) continue;
    boost::json::object text = update_value->as_object();
    text["experiment"] = kExperiment;
    auto update = parse_update(write_json(text), "u.json");
    ASSERT_TRUE(update) << update.error().describe();
    if (!bridge_->plan(*update)) continue;  // needs the example's own binding or state
    auto registry = faulty_registry(GetParam(), Fault::drop_field, "vendor");
    BridgeOptions options;
    options.registry = registry.get();
    auto bridge = Bridge::from_text(config_text(*table_, defaults_of(*table_, "binding")), "conformance.yaml", options);
    ASSERT_TRUE(bridge) << bridge.error().describe();
    auto p = bridge->plan(*update);
    ASSERT_FALSE(p) << write_json(plan_to_json(*p));
    EXPECT_EQ(p.error().code, ErrorCode::internal);
    EXPECT_EQ(p.error().backend, "b");
    EXPECT_EQ(p.error().field, "vendor." + GetParam()) << p.error().describe();
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no example of a pass-through that plans with the default binding";
}

TEST_P(AdapterConformance, WhatIsCarriedStaysOutOfThePrintedPlan) {
  auto p = plan("name: Conformance name\ndescription: Conformance description\nexposure: 40\naction: start\n");
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_FALSE(p->backends[0].carried.empty());
  const std::string json = write_json(plan_to_json(*p));
  EXPECT_EQ(json.find("carried"), std::string::npos) << json;
  EXPECT_EQ(plan_to_text(*p).find("carried"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Registered, AdapterConformance, ::testing::ValuesIn(Registry::builtin().vendors()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace expbridge
