// The Auth0 adapter: local refusals, ids in paths, auth, config errors — what the table's
// examples do not express well.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace expbridge {
namespace {

constexpr const char* kBase = "https://example.us.auth0.com/api/v2/experimentation/experiments/exp_4fG7hJk";

std::string config_with(std::string_view backend_settings, std::string_view binding) {
  return "backends:\n  a0: {vendor: auth0, " + std::string(backend_settings) +
         "}\nexperiments:\n  checkout-redesign:\n    a0: " + std::string(binding) + "\n";
}

constexpr const char* kSettings =
    "domain: example.us.auth0.com, client_id_env: AUTH0_CLIENT_ID, client_secret_env: AUTH0_CLIENT_SECRET";
constexpr const char* kBinding = "{id: exp_4fG7hJk, variations: {control: var_2xQa, two-step: var_9bZk}}";

Bridge bridge(std::string_view settings = kSettings, std::string_view binding = kBinding) {
  auto b = Bridge::from_text(config_with(settings, binding), "c.yaml");
  EXPECT_TRUE(b) << b.error().describe();
  if (!b) std::abort();
  return std::move(*b);
}

Error config_error(std::string_view settings, std::string_view binding = kBinding) {
  auto b = Bridge::from_text(config_with(settings, binding), "c.yaml");
  EXPECT_FALSE(b) << "the config loaded";
  return b ? Error{} : b.error();
}

Update update(std::string_view text) {
  auto u = parse_update(text, "u.yaml");
  EXPECT_TRUE(u) << u.error().describe();
  return u ? *u : Update{};
}

Result<Plan> plan(std::string_view update_text, std::optional<ExperimentStatus> status = std::nullopt) {
  static const Bridge b = bridge();
  Experiment current;
  PlanOptions options;
  if (status) {
    current.status = status;
    options.current.emplace_back("a0", &current);
  }
  return b.plan(update(update_text), options);
}

Error plan_error(std::string_view update_text, std::optional<ExperimentStatus> status = std::nullopt) {
  auto p = plan(update_text, status);
  EXPECT_FALSE(p) << "planned: " << (p ? plan_to_text(*p) : "");
  return p ? Error{} : p.error();
}

BackendPlan only_backend(const Result<Plan>& p) {
  EXPECT_TRUE(p) << p.error().describe();
  if (!p || p->backends.size() != 1) std::abort();
  return p->backends.front();
}

constexpr const char* kTwoVariations = R"(variations:
  - {key: control, control: true, weight: 50}
  - {key: two-step, weight: 50}
)";

// The adapter of a loaded bridge, for the rules the neutral validation already covers (an update
// built in code reaches the adapter as is when a library user calls it directly).
struct Direct {
  Bridge b = bridge();
  const Adapter& adapter = *b.backends().front().adapter;
  std::unique_ptr<const Binding> binding = [this] {
    auto r = adapter.bind(boost::json::object{{"id", "exp_4fG7hJk"},
                                              {"variations", boost::json::object{{"control", "var_2xQa"}, {"two-step", "var_9bZk"}}}},
                          "experiments.x.a0");
    EXPECT_TRUE(r) << r.error().describe();
    return r ? std::move(*r) : nullptr;
  }();
  Result<BackendPlan> plan(const Update& u) const { return adapter.plan(u, *binding, PlanContext{}); }
  /// What planning an update of `checkout-redesign` that `set` fills in is refused with.
  template <class Set>
  Error refusal(Set set) const {
    Update u;
    u.experiment = "checkout-redesign";
    set(u);
    auto p = plan(u);
    EXPECT_FALSE(p) << "planned";
    return p ? Error{} : p.error();
  }
};

// ---------------------------------------------------------------------------------------------
// Local refusals: one rule each, naming the field and the rule.

TEST(Auth0Adapter, NameOfTwoCharactersIsRefused) {
  Error e = plan_error("experiment: checkout-redesign\nname: Go\n");
  EXPECT_EQ(e.code, ErrorCode::invalid_input);
  EXPECT_EQ(e.field, "name");
  EXPECT_EQ(e.backend, "a0");
  EXPECT_NE(e.message.find("Auth0 experiment name"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("got 2"), std::string::npos) << e.message;
}

TEST(Auth0Adapter, NameLengthCountsCharactersNotBytes) {
  std::string accented;
  for (int i = 0; i < 255; ++i) accented += "é";
  EXPECT_TRUE(plan("experiment: checkout-redesign\nname: " + accented + "\n"));
  Error e = plan_error("experiment: checkout-redesign\nname: " + accented + "é\n");
  EXPECT_EQ(e.field, "name");
  EXPECT_NE(e.message.find("3..255"), std::string::npos) << e.message;
}

TEST(Auth0Adapter, NameWithLeadingOrTrailingWhitespaceIsRefused) {
  for (const char* name : {"' Checkout'", "'Checkout '", "\"Checkout\\t\""}) {
    Error e = plan_error(std::string("experiment: checkout-redesign\nname: ") + name + "\n");
    EXPECT_EQ(e.field, "name") << name;
    EXPECT_NE(e.message.find("no leading or trailing whitespace"), std::string::npos) << e.message;
  }
}

// What the neutral validation already refuses reaches the adapter as is from a library user
// who builds an update in code: the adapter refuses it too, naming the request it was for.
TEST(Auth0Adapter, ValuesBuiltInCodeAreRefusedByTheAdapterToo) {
  struct Case {
    const char* what;
    std::function<void(Update&)> set;
    std::string field, rule;
  };
  const Case cases[] = {
      {"a name with a NUL", [](Update& u) { u.name = std::string("Check\0out", 9); }, "name", "no NUL"},
      {"weights outside Auth0's range",
       [](Update& u) {
         u.variations = std::vector<Variation>{{"control", true, 120, {}, {}}, {"two-step", false, -20, {}, {}}};
       },
       "variations[0].weight", "Auth0 allocation weight"},
      {"no allocations", [](Update& u) { u.variations = std::vector<Variation>{}; }, "variations",
       "Auth0 experiment allocations"},
  };
  const Direct d;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Error e = d.refusal(c.set);
    EXPECT_EQ(e.field, c.field);
    EXPECT_NE(e.message.find(c.rule), std::string::npos) << e.message;
    EXPECT_EQ(e.operation, "UpdateExperiment") << "the PATCH the value was for";
  }
}

TEST(Auth0Adapter, DescriptionLimitsAreAuth0s) {
  Error short_one = plan_error("experiment: checkout-redesign\ndescription: ab\n");
  EXPECT_EQ(short_one.field, "description");
  EXPECT_NE(short_one.message.find("Auth0 experiment description"), std::string::npos) << short_one.message;
  Error long_one = plan_error("experiment: checkout-redesign\ndescription: " + std::string(1025, 'd') + "\n");
  EXPECT_EQ(long_one.field, "description");
  EXPECT_NE(long_one.message.find("3..1024"), std::string::npos) << long_one.message;
  EXPECT_TRUE(plan("experiment: checkout-redesign\ndescription: " + std::string(1024, 'd') + "\n"));
  Error spaced = plan_error("experiment: checkout-redesign\ndescription: ' Two-step'\n");
  EXPECT_EQ(spaced.field, "description");
}

TEST(Auth0Adapter, VariationWithoutBindingEntryIsRefusedByIndex) {
  Error e = plan_error(R"(experiment: checkout-redesign
variations:
  - {key: control, control: true, weight: 50}
  - {key: one-step, weight: 50}
)");
  EXPECT_EQ(e.field, "variations[1]");
  EXPECT_NE(e.message.find("'one-step'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("no Auth0 variation id"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("experiments.checkout-redesign.a0.variations"), std::string::npos) << e.message;
}

TEST(Auth0Adapter, AllocationsAreFrozenWhileRunning) {
  std::string text = std::string("experiment: checkout-redesign\n") + kTwoVariations;
  Error e = plan_error(text, ExperimentStatus::running);
  EXPECT_EQ(e.field, "variations");
  EXPECT_NE(e.message.find("pause it first"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("active"), std::string::npos) << e.message;
  EXPECT_EQ(e.operation, "UpdateExperiment");
  // Even with a pause in the same update: field updates go first, and Auth0 would refuse them.
  EXPECT_EQ(plan_error(text + "action: pause\n", ExperimentStatus::running).field, "variations");
  // Other states, and an unknown state, let the PATCH through.
  for (auto status : {ExperimentStatus::draft, ExperimentStatus::paused})
    EXPECT_EQ(only_backend(plan(text, status)).requests.size(), 1u);
  EXPECT_EQ(only_backend(plan(text)).requests.size(), 1u);
}

TEST(Auth0Adapter, CompletedExperimentCannotStartAgain) {
  Error e = plan_error("experiment: checkout-redesign\naction: start\n", ExperimentStatus::stopped);
  EXPECT_EQ(e.field, "action");
  EXPECT_NE(e.message.find("completed"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("create a new experiment"), std::string::npos) << e.message;
  EXPECT_EQ(e.operation, "TransitionExperimentStatus") << "the status POST the action was for, not the PATCH";
  // Archiving a completed experiment is a real transition.
  EXPECT_EQ(only_backend(plan("experiment: checkout-redesign\naction: archive\n", ExperimentStatus::stopped)).requests.size(), 1u);
}

TEST(Auth0Adapter, PassThroughOtherThanAssignmentConfigIsRefused) {
  Error unknown = plan_error("experiment: checkout-redesign\nvendor: {auth0: {allocation_strategy: segment}}\n");
  EXPECT_EQ(unknown.field, "vendor.auth0.allocation_strategy");
  EXPECT_NE(unknown.message.find("assignment_config"), std::string::npos) << unknown.message;
  Error not_object = plan_error("experiment: checkout-redesign\nvendor: {auth0: {assignment_config: device}}\n");
  EXPECT_EQ(not_object.field, "vendor.auth0.assignment_config");
  EXPECT_NE(not_object.message.find("mapping"), std::string::npos) << not_object.message;
}

// ---------------------------------------------------------------------------------------------
// Translation details.

TEST(Auth0Adapter, PatchThenStatusWithTheTablesSuccessAndIdempotence) {
  const auto& b = only_backend(plan(std::string("experiment: checkout-redesign\nname: Checkout\naction: start\n") + kTwoVariations));
  ASSERT_EQ(b.requests.size(), 2u);
  const auto& patch = b.requests[0];
  EXPECT_EQ(patch.operation, "UpdateExperiment");
  EXPECT_EQ(patch.method, "PATCH");
  EXPECT_EQ(patch.url, kBase);
  EXPECT_EQ(patch.success_status, 200);
  EXPECT_TRUE(patch.idempotent);
  ASSERT_EQ(patch.headers.size(), 1u);
  EXPECT_EQ(patch.headers[0], (std::pair<std::string, std::string>{"content-type", "application/json"}));
  EXPECT_EQ(write_json(*patch.body),
            R"({"name":"Checkout","allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":50},)"
            R"({"variation_id":"var_9bZk","is_control":false,"weight":50}]})");
  const auto& status = b.requests[1];
  EXPECT_EQ(status.operation, "TransitionExperimentStatus");
  EXPECT_EQ(status.method, "POST");
  EXPECT_EQ(status.url, std::string(kBase) + "/status");
  EXPECT_EQ(status.success_status, 200);
  EXPECT_FALSE(status.idempotent) << "a repeated transition may be refused as not allowed";
  EXPECT_EQ(write_json(*status.body), R"({"status":"active"})");
}

TEST(Auth0Adapter, RepeatedTransitionIsLeftOutWithANote) {
  const auto& b = only_backend(plan("experiment: checkout-redesign\naction: pause\nname: Checkout\n", ExperimentStatus::paused));
  ASSERT_EQ(b.requests.size(), 1u);
  EXPECT_EQ(b.requests[0].method, "PATCH");
  EXPECT_TRUE(b.skipped.empty());
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_NE(b.notes[0].find("already paused"), std::string::npos) << b.notes[0];
}

TEST(Auth0Adapter, RestoreIsSkippedWithTheTablesReason) {
  const auto& b = only_backend(plan("experiment: checkout-redesign\naction: restore\n"));
  EXPECT_TRUE(b.requests.empty());
  ASSERT_EQ(b.skipped.size(), 1u);
  EXPECT_EQ(b.skipped[0].field, "action.restore");
  EXPECT_NE(b.skipped[0].reason.find("archived"), std::string::npos) << b.skipped[0].reason;
}

TEST(Auth0Adapter, NoFieldNoRequest) {
  const auto& b = only_backend(plan("experiment: checkout-redesign\ncomment: just a note\nexposure: 10\n"));
  EXPECT_TRUE(b.requests.empty());
  ASSERT_EQ(b.skipped.size(), 2u);
  for (const auto& s : b.skipped) EXPECT_FALSE(s.reason.empty()) << s.field;
}

// ---------------------------------------------------------------------------------------------
// Ids in paths: refused by the id patterns before any URL is built.

TEST(Auth0Adapter, ExperimentIdsThatWouldChangeThePathAreRefused) {
  for (const char* id : {"exp_4fG7/x", "exp_4fG7?x=1", "exp_4fG7#x", "exp_..", "..", "exp_4fG7%2Fx", "exp_0OIl", "4fG7hJk"}) {
    Error e = config_error(kSettings, std::string("{id: '") + id + "'}");
    EXPECT_EQ(e.field, "experiments.checkout-redesign.a0.id") << id;
    EXPECT_NE(e.message.find("Auth0 experiment id"), std::string::npos) << id << ": " << e.message;
    EXPECT_EQ(e.backend, "a0");
  }
}

TEST(Auth0Adapter, VariationIdsAreCheckedToo) {
  for (const char* id : {"var_2x/Qa", "var_2x?Qa", "var_2x#Qa", "exp_2xQa"}) {
    Error e = config_error(kSettings, std::string("{id: exp_4fG7hJk, variations: {control: '") + id + "'}}");
    EXPECT_EQ(e.field, "experiments.checkout-redesign.a0.variations.control") << id;
    EXPECT_NE(e.message.find("Auth0 variation id"), std::string::npos) << e.message;
  }
  EXPECT_EQ(config_error(kSettings, "{id: exp_4fG7hJk, variations: {control: 7}}").field,
            "experiments.checkout-redesign.a0.variations.control");
  Error twice = config_error(kSettings, "{id: exp_4fG7hJk, variations: {control: var_2xQa, two-step: var_2xQa}}");
  EXPECT_EQ(twice.field, "experiments.checkout-redesign.a0.variations.two-step");
  EXPECT_NE(twice.message.find("already bound to variation 'control'"), std::string::npos) << twice.message;
}

TEST(Auth0Adapter, BindingKeysAreStrict) {
  Error unknown = config_error(kSettings, "{id: exp_4fG7hJk, experiment: exp_4fG7hJk}");
  EXPECT_EQ(unknown.field, "experiments.checkout-redesign.a0.experiment");
  Error missing = config_error(kSettings, "{variations: {control: var_2xQa}}");
  EXPECT_EQ(missing.field, "experiments.checkout-redesign.a0.id");
  Error typo = config_error(kSettings, "{idd: exp_4fG7hJk}");
  EXPECT_EQ(typo.field, "experiments.checkout-redesign.a0.idd");
  EXPECT_NE(typo.message.find("'id'"), std::string::npos) << typo.message;
  // A binding for name/description/action only needs no variations.
  auto b = Bridge::from_text(config_with(kSettings, "{id: exp_4fG7hJk}"), "c.yaml");
  ASSERT_TRUE(b) << b.error().describe();
  auto p = b->plan(update("experiment: checkout-redesign\nname: Checkout\n"));
  EXPECT_EQ(only_backend(p).requests.at(0).url, kBase);
}

// ---------------------------------------------------------------------------------------------
// Secrets, auth, settings.

TEST(Auth0Adapter, PlanHoldsNothingSecretLike) {
  ::setenv("AUTH0_CLIENT_ID", "client-id-value-1234", 1);
  ::setenv("AUTH0_CLIENT_SECRET", "super-secret-value-5678", 1);
  auto p = plan(std::string(R"(experiment: checkout-redesign
name: Checkout redesign
description: Two-step checkout
action: start
comment: note
vendor: {auth0: {assignment_config: {subject: device}}}
)") + kTwoVariations);
  ASSERT_TRUE(p) << p.error().describe();
  for (const std::string& text : {plan_to_text(*p), write_json(plan_to_json(*p))}) {
    for (const char* needle : {"client-id-value-1234", "super-secret-value-5678", "AUTH0_CLIENT", "Bearer", "authorization",
                               "Authorization", "client_secret", "access_token"})
      EXPECT_EQ(text.find(needle), std::string::npos) << needle << " in\n" << text;
  }
  for (const auto& r : p->backends.front().requests)
    for (const auto& [name, value] : r.headers) EXPECT_EQ(name, "content-type");
  const auto oauth = std::get<OAuthClientCredentialsAuth>(bridge().backends().front().adapter->auth().method);
  for (const std::string* value : {&oauth.token_url, &oauth.audience, &oauth.client_id_env, &oauth.client_secret_env}) {
    EXPECT_EQ(value->find("client-id-value-1234"), std::string::npos) << *value;
    EXPECT_EQ(value->find("super-secret-value-5678"), std::string::npos) << *value;
  }
  ::unsetenv("AUTH0_CLIENT_ID");
  ::unsetenv("AUTH0_CLIENT_SECRET");
}

TEST(Auth0Adapter, AuthIsClientCredentialsAgainstTheTenant) {
  const AuthSpec auth = bridge().backends().front().adapter->auth();  // a copy: bridge() is a temporary
  const auto* oauth = std::get_if<OAuthClientCredentialsAuth>(&auth.method);
  ASSERT_NE(oauth, nullptr);
  EXPECT_EQ(oauth->token_url, "https://example.us.auth0.com/oauth/token");
  EXPECT_EQ(oauth->audience, "https://example.us.auth0.com/api/v2/");
  EXPECT_EQ(oauth->client_id_env, "AUTH0_CLIENT_ID");
  EXPECT_EQ(oauth->client_secret_env, "AUTH0_CLIENT_SECRET");
  EXPECT_TRUE(auth.headers.empty());
}

TEST(Auth0Adapter, EndpointOverrideMovesRequestsAndTokenButNotTheAudience) {
  Bridge b = bridge(std::string(kSettings) + ", endpoint: 'http://127.0.0.1:8443/tenant/'");
  const auto& oauth = std::get<OAuthClientCredentialsAuth>(b.backends().front().adapter->auth().method);
  EXPECT_EQ(oauth.token_url, "http://127.0.0.1:8443/tenant/oauth/token");
  EXPECT_EQ(oauth.audience, "https://example.us.auth0.com/api/v2/");
  auto p = b.plan(update("experiment: checkout-redesign\nname: Checkout\naction: stop\n"));
  const auto& backend = only_backend(p);
  ASSERT_EQ(backend.requests.size(), 2u);
  EXPECT_EQ(backend.requests[0].url, "http://127.0.0.1:8443/tenant/api/v2/experimentation/experiments/exp_4fG7hJk");
  EXPECT_EQ(backend.requests[1].url, "http://127.0.0.1:8443/tenant/api/v2/experimentation/experiments/exp_4fG7hJk/status");
  EXPECT_EQ(write_json(*backend.requests[1].body), R"({"status":"completed"})");
}

TEST(Auth0Adapter, MissingSettingIsNamed) {
  for (const char* key : {"domain", "client_id_env", "client_secret_env"}) {
    std::string settings;
    for (const char* k : {"domain", "client_id_env", "client_secret_env"}) {
      if (std::string_view(k) == key) continue;
      settings += std::string(settings.empty() ? "" : ", ") + k +
                  (std::string_view(k) == "domain" ? ": example.us.auth0.com" : ": SOME_VAR");
    }
    Error e = config_error(settings);
    EXPECT_EQ(e.field, std::string("backends.a0.") + key);
    EXPECT_EQ(e.backend, "a0");
    EXPECT_EQ(e.vendor, "auth0");
  }
}

TEST(Auth0Adapter, UnknownSettingIsRefusedWithoutEchoingIt) {
  Error e = config_error(std::string(kSettings) + ", client_secret: abcdefSECRETvalue");
  EXPECT_EQ(e.field, "backends.a0.client_secret");
  EXPECT_EQ(e.describe().find("abcdefSECRETvalue"), std::string::npos) << e.describe();
  Error typo = config_error("domian: example.us.auth0.com, client_id_env: A, client_secret_env: B");
  EXPECT_EQ(typo.field, "backends.a0.domian");
}

TEST(Auth0Adapter, BadDomainIsRefused) {
  for (const char* domain : {"https://example.us.auth0.com", "example.us.auth0.com/api", "example.us.auth0.com:443",
                             "-example.auth0.com", "example..auth0.com", "example.auth0.com.", "localhost",
                             "exa mple.auth0.com", "user@example.auth0.com", "example.auth0.com?x"}) {
    Error e = config_error(std::string("domain: '") + domain + "', client_id_env: A, client_secret_env: B");
    EXPECT_EQ(e.field, "backends.a0.domain") << domain;
    EXPECT_NE(e.message.find("Auth0 tenant domain"), std::string::npos) << domain << ": " << e.message;
  }
  for (const char* domain : {"example.auth0.com", "example.eu.auth0.com", "dev-a1b2c3.us.auth0.com"})
    EXPECT_TRUE(Bridge::from_text(config_with(std::string("domain: ") + domain + ", client_id_env: A, client_secret_env: B",
                                              kBinding),
                                  "c.yaml"))
        << domain;
}

TEST(Auth0Adapter, BadEnvironmentVariableNameIsRefusedWithoutEchoingIt) {
  for (const char* name : {"1ABC", "MY-VAR", "my secret value", "$AUTH0"}) {
    Error e = config_error(std::string("domain: example.us.auth0.com, client_id_env: OK_NAME, client_secret_env: '") + name + "'");
    EXPECT_EQ(e.field, "backends.a0.client_secret_env") << name;
    EXPECT_NE(e.message.find("environment variable name"), std::string::npos) << e.message;
    EXPECT_EQ(e.describe().find(name), std::string::npos) << e.describe();
  }
  EXPECT_EQ(config_error("domain: example.us.auth0.com, client_id_env: '', client_secret_env: B").field,
            "backends.a0.client_id_env");
}

}  // namespace
}  // namespace expbridge
