// expbridge tests — the four vendor emulators for apply tests (see emulated_vendors.hpp).
#include "support/emulated_vendors.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <thread>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "auth/sigv4.hpp"
#include "expbridge/adapter.hpp"
#include "emulator/fixtures.hpp"

namespace expbridge::test {
namespace {

namespace json = boost::json;
using emulator::ServerRequest;

/// `n` zero-padded to `width` digits: ids of one length for every extra experiment.
std::string padded(int n, std::size_t width) {
  std::string digits = std::to_string(n);
  return std::string(width > digits.size() ? width - digits.size() : 0, '0') + digits;
}

bool is_token_request(const ServerRequest& request) { return emulator::path_of(request) == "/oauth/token"; }

/// Copies `from` under `key` of `into`, after `edit` changed the copy.
template <class Edit>
void add_copy(json::object& into, std::string_view key, const json::value& from, Edit edit) {
  json::value copy = from;
  edit(copy.as_object());
  into[key] = std::move(copy);
}

void add_appconfig(json::object& section, EmulatedVendors::Run run, int extra) {
  auto& definitions = section.at("applications").as_array().at(0).as_object().at("experiment_definitions").as_array();
  json::object& sample = definitions.at(0).as_object();
  // Run 1 exists, so the updates the tests send (run description, exposure) have a target.
  sample["runs"] = json::parse(run == EmulatedVendors::Run::running
                                   ? R"([{"status":"RUNNING","start":{"ExposurePercentage":5}}])"
                                   : R"([{"status":"DONE","start":{"ExposurePercentage":5}}])");
  const json::value base = sample;
  for (int i = 1; i <= extra; ++i) {
    json::value copy = base;
    copy.as_object()["id"] = appconfig_definition_id(i);
    copy.as_object()["definition"].as_object()["Name"] = "Experiment-Definition-" + std::to_string(i);
    definitions.push_back(std::move(copy));
  }
}

void add_launchdarkly(json::object& section, int extra) {
  auto& experiments =
      section.at("projects").at("default").at("environments").at("production").at("experiments").as_object();
  const json::value base = experiments.at("checkout-redesign");
  for (int i = 1; i <= extra; ++i)
    add_copy(experiments, "exp-" + std::to_string(i), base, [i](json::object& e) {
      e["_id"] = "65f0c0de00000000000be" + padded(i, 3);
      e["name"] = "Experiment " + std::to_string(i);
      e["iterations"].as_array().at(0).as_object()["_id"] = "65f0c0de00000000000ce" + padded(i, 3);
    });
}

void add_auth0(json::object& section, int extra) {
  auto& experiments = section.at("experiments").as_array();
  const json::value base = experiments.at(0);
  for (int i = 1; i <= extra; ++i) {
    json::value copy = base;
    copy.as_object()["id"] = auth0_experiment_id(i);
    copy.as_object()["name"] = "Experiment " + std::to_string(i);
    experiments.push_back(std::move(copy));
  }
}

void add_evidently(json::object& section, int extra) {
  auto& features = section.at("projects").at("checkout").at("features").as_object();
  const json::value base = features.at("checkout-redesign");
  for (int i = 1; i <= extra; ++i)
    add_copy(features, "exp-" + std::to_string(i), base, [](json::object&) {});
}

}  // namespace

std::string auth0_experiment_id(int n) {
  std::string digits = std::to_string(n);
  std::replace(digits.begin(), digits.end(), '0', 'z');
  return "exp_Xp" + digits;
}

std::string appconfig_definition_id(int n) { return "def" + padded(n, 4); }

std::map<std::string, std::string> apply_test_environment() {
  std::map<std::string, std::string> out;
  auto credentials = emulator::test_credentials(Registry::builtin());
  if (!credentials) throw std::runtime_error("emulator credentials: " + credentials.error().describe());
  for (const auto& c : *credentials) out[c.variable] = c.value;
  out.emplace("AWS_SESSION_TOKEN", kTestAwsSessionToken);
  return out;
}

json::value EmulatedVendors::fixture(Run run, int extra_experiments) {
  if (extra_experiments < 0 || extra_experiments > kMaxExtraExperiments)
    throw std::invalid_argument("extra experiments: 0 to " + std::to_string(kMaxExtraExperiments));
  auto merged = emulator::default_fixture(expbridge::Registry::builtin());
  if (!merged) throw std::runtime_error("default fixture: " + merged.error().describe());
  json::object& f = merged->as_object();
  add_appconfig(f.at("appconfig").as_object(), run, extra_experiments);
  add_launchdarkly(f.at("launchdarkly").as_object(), extra_experiments);
  add_auth0(f.at("auth0").as_object(), extra_experiments);
  add_evidently(f.at("evidently").as_object(), extra_experiments);
  return std::move(*merged);
}

std::string EmulatedVendors::vendor_of(std::string_view backend) {
  if (backend == "aws") return "appconfig";
  if (backend == "ld") return "launchdarkly";
  if (backend == "a0") return "auth0";
  if (backend == "ev") return "evidently";
  throw std::invalid_argument("no emulated vendor for backend " + std::string(backend));
}

EmulatedVendors::EmulatedVendors() { restart(fixture()); }

void EmulatedVendors::restart(json::value fixture, std::size_t journal_limit) {
  host_.reset();
  emulator::EmulatorHost::Options options;
  options.fixture = std::move(fixture);
  options.journal_limit = journal_limit;
  auto host = emulator::EmulatorHost::start(std::move(options));
  if (!host) throw std::runtime_error("emulator host: " + host.error().describe());
  host_ = std::move(*host);
}

EmulatedVendors::~EmulatedVendors() = default;

std::string EmulatedVendors::base_url() const { return host_->base_url(); }

void EmulatedVendors::set_faults(std::string_view json_list) {
  auto faults = emulator::parse_faults(json::parse(json_list), "faults");
  if (!faults) throw std::invalid_argument("faults: " + faults.error().describe());
  if (auto set = host_->set_faults(std::move(*faults)); !set) throw std::invalid_argument(set.error().describe());
}

std::vector<emulator::EmulatorHost::Received> EmulatedVendors::journal_of(std::string_view backend) const {
  const std::string vendor = vendor_of(backend);
  auto all = host_->received_requests();
  std::erase_if(all, [&](const auto& r) { return r.vendor != vendor; });
  return all;
}

std::vector<ServerRequest> EmulatedVendors::all_requests(std::string_view backend) const {
  std::vector<ServerRequest> out;
  for (auto& r : journal_of(backend)) out.push_back(std::move(r.request));
  return out;
}

std::vector<ServerRequest> EmulatedVendors::api_requests(std::string_view backend) const {
  auto all = all_requests(backend);
  std::erase_if(all, [](const ServerRequest& r) { return r.method == "GET" || is_token_request(r); });
  return all;
}

std::vector<EmulatedVendors::Clock::time_point> EmulatedVendors::api_arrivals(std::string_view backend) const {
  std::vector<Clock::time_point> out;
  for (const auto& r : journal_of(backend))
    if (r.request.method != "GET" && !is_token_request(r.request)) out.push_back(r.arrived);
  return out;
}

std::vector<ServerRequest> EmulatedVendors::state_reads(std::string_view backend) const {
  auto all = all_requests(backend);
  std::erase_if(all, [](const ServerRequest& r) { return r.method != "GET"; });
  return all;
}

std::vector<ServerRequest> EmulatedVendors::token_requests() const {
  auto all = all_requests("a0");
  std::erase_if(all, [](const ServerRequest& r) { return !is_token_request(r); });
  return all;
}

std::size_t EmulatedVendors::connections_used(std::string_view backend) const {
  std::set<std::size_t> connections;
  for (const auto& r : journal_of(backend)) connections.insert(r.request.connection_number);
  return connections.size();
}

std::size_t EmulatedVendors::tokens_issued() const {
  return host_->state().at("auth0").at("tokens_issued").to_number<std::size_t>();
}

std::vector<std::string> EmulatedVendors::secrets() const {
  const auto env = apply_test_environment();
  std::vector<std::string> out;
  for (const char* name : {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LD_API_TOKEN", "AUTH0_CLIENT_SECRET"}) {
    out.push_back(env.at(name));
    if (auto encoded = auth::uri_encode(env.at(name)); encoded != out.back()) out.push_back(std::move(encoded));
  }
  std::set<std::string> tokens;
  for (const auto& r : api_requests("a0"))
    if (auto bearer = r.header("authorization"); bearer && bearer->starts_with("Bearer ")) tokens.insert(bearer->substr(7));
  out.insert(out.end(), tokens.begin(), tokens.end());
  for (const char* backend : {"aws", "ev"}) {
    for (const auto& r : all_requests(backend)) {
      const auto authorization = r.header("authorization").value_or("");
      if (const auto at = authorization.find("Signature="); at != std::string::npos)
        out.push_back(authorization.substr(at + 10));
    }
  }
  return out;
}

std::string EmulatedVendors::echo_faults(int status) {
  const std::string fault = R"("status": )" + std::to_string(status) + R"(, "echo_headers": true})";
  return R"([{"vendor": "appconfig", )" + fault + R"(, {"vendor": "launchdarkly", )" + fault +
         R"(, {"vendor": "evidently", )" + fault + R"(, {"vendor": "auth0", "path_prefix": "/api/v2/experimentation/", )" +
         fault + "]";
}

std::size_t EmulatedVendors::total_requests() const { return host_->received_requests().size(); }

void EmulatedVendors::wait_for_requests(std::string_view backend, std::size_t count) const {
  const auto until = Clock::now() + std::chrono::seconds(3);
  while (journal_of(backend).size() < count && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

std::string EmulatedVendors::config(const ApplyConfigOptions& options) const {
  const std::map<std::string, std::string> vendor_settings = {
      {"aws", "vendor: appconfig, region: us-east-1, application: abc1234"},
      {"ld", "vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN"},
      {"a0", "vendor: auth0, domain: example.us.auth0.com, client_id_env: AUTH0_CLIENT_ID, "
             "client_secret_env: AUTH0_CLIENT_SECRET"},
      {"ev", "vendor: evidently, region: us-east-1, project: checkout"},
  };
  std::string out = "backends:\n";
  for (const auto& name : kApplyBackends) {
    std::map<std::string, std::string> settings = options.common;
    if (auto it = options.per_backend.find(name); it != options.per_backend.end())
      for (const auto& [key, value] : it->second) settings[key] = value;
    out += "  " + name + ": {" + vendor_settings.at(name) + ", endpoint: \"" + base_url() + "\"";
    for (const auto& [key, value] : settings) out += ", " + key + ": " + value;
    out += "}\n";
  }
  // One experiment's bindings at the four backends.
  auto bind = [&out](const std::string& key, const std::string& aws, const std::string& a0) {
    out += "  " + key + ":\n    aws: {" + aws + "}\n    ld:  {experiment: " + key + "}\n    a0:  {" + a0 +
           "}\n    ev:  {feature: " + key + "}\n";
  };
  out += "experiments:\n";
  const std::string run = options.pin_run ? ", run: 1" : "";
  bind("checkout-redesign", "definition: bsxyd7k" + run + ", treatments: {control: c, two-step: t1}",
       "id: exp_4fG7hJk, variations: {control: var_2xQa, two-step: var_9bZk}");
  for (int i = 1; i <= std::min(options.extra_experiments, kMaxExtraExperiments); ++i) {
    const std::string n = std::to_string(i);
    bind("exp-" + n, "definition: " + appconfig_definition_id(i) + run, "id: " + auth0_experiment_id(i));
  }
  return out;
}

}  // namespace expbridge::test
