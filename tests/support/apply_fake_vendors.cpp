// expbridge tests — four fake vendor APIs for `apply` tests (see apply_fake_vendors.hpp).
#include "support/apply_fake_vendors.hpp"

#include <stdexcept>

namespace expbridge::test {

std::map<std::string, std::string> apply_test_environment() {
  return {
      {"AWS_ACCESS_KEY_ID", std::string(kApplyAwsAccessKeyId)},
      {"AWS_SECRET_ACCESS_KEY", std::string(kApplyAwsSecretKey)},
      {"AWS_SESSION_TOKEN", std::string(kApplyAwsSessionToken)},
      {"LD_API_TOKEN", std::string(kApplyLdToken)},
      {"AUTH0_CLIENT_ID", std::string(kApplyAuth0ClientId)},
      {"AUTH0_CLIENT_SECRET", std::string(kApplyAuth0ClientSecret)},
  };
}

struct FakeVendors::Impl {
  // Declared before the servers: the servers (destroyed first) stop calling them.
  mutable std::mutex mutex;
  std::map<std::string, Handler, std::less<>> api_handlers;
  Handler token_handler;
  std::vector<std::string> issued;
  int token_counter = 0;

  std::map<std::string, std::unique_ptr<LoopbackServer>, std::less<>> servers;

  static bool is_token_request(const ServerRequest& request) {
    return request.target == "/oauth/token" || request.target.starts_with("/oauth/token?");
  }

  ServerReply issue_token() {
    std::string token;
    {
      std::lock_guard lock(mutex);
      token = std::string(kApplyAuth0TokenPrefix) + std::to_string(++token_counter);
      issued.push_back(token);
    }
    return ok_json(R"({"access_token":")" + token +
                   R"(","token_type":"Bearer","expires_in":86400,"scope":"update:experimentation"})");
  }

  ServerReply dispatch(const std::string& backend, const ServerRequest& request) {
    Handler handler;
    bool token = backend == "a0" && is_token_request(request);
    {
      std::lock_guard lock(mutex);
      if (token) {
        handler = token_handler;
      } else if (auto it = api_handlers.find(backend); it != api_handlers.end()) {
        handler = it->second;
      }
    }
    if (handler) return handler(request);
    if (token) return issue_token();
    return ok_json();
  }
};

FakeVendors::FakeVendors() : impl_(std::make_unique<Impl>()) {
  for (const auto& name : kApplyBackends) {
    Impl* impl = impl_.get();
    impl_->servers[name] =
        std::make_unique<LoopbackServer>([impl, name](const ServerRequest& request) { return impl->dispatch(name, request); });
  }
}

FakeVendors::~FakeVendors() = default;

LoopbackServer& FakeVendors::server(std::string_view backend) {
  auto it = impl_->servers.find(backend);
  if (it == impl_->servers.end()) throw std::invalid_argument("no fake vendor for backend " + std::string(backend));
  return *it->second;
}

void FakeVendors::set_api_handler(std::string_view backend, Handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->api_handlers[std::string(backend)] = std::move(handler);
}

void FakeVendors::set_token_handler(Handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->token_handler = std::move(handler);
}

std::vector<ServerRequest> FakeVendors::api_requests(std::string_view backend) const {
  auto it = impl_->servers.find(backend);
  if (it == impl_->servers.end()) return {};
  auto all = it->second->received_requests();
  if (backend == "a0") std::erase_if(all, [](const ServerRequest& r) { return Impl::is_token_request(r); });
  std::erase_if(all, [](const ServerRequest& r) { return r.method == "GET"; });
  return all;
}

std::vector<ServerRequest> FakeVendors::state_reads(std::string_view backend) const {
  auto it = impl_->servers.find(backend);
  if (it == impl_->servers.end()) return {};
  auto all = it->second->received_requests();
  std::erase_if(all, [](const ServerRequest& r) { return r.method != "GET"; });
  return all;
}

std::vector<ServerRequest> FakeVendors::token_requests() const {
  auto all = impl_->servers.at("a0")->received_requests();
  std::erase_if(all, [](const ServerRequest& r) { return !Impl::is_token_request(r); });
  return all;
}

std::vector<std::string> FakeVendors::issued_tokens() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->issued;
}

std::size_t FakeVendors::total_requests() const {
  std::size_t total = 0;
  for (const auto& [name, server] : impl_->servers) total += server->requests_received();
  return total;
}

std::string FakeVendors::config(const ApplyConfigOptions& options) const {
  const std::map<std::string, std::string> vendor_settings = {
      {"aws", "vendor: appconfig, region: us-east-1, application: abc1234"},
      {"ld", "vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN"},
      {"a0", "vendor: auth0, domain: " + std::string(kApplyAuth0Domain) +
                 ", client_id_env: AUTH0_CLIENT_ID, client_secret_env: AUTH0_CLIENT_SECRET"},
      {"ev", "vendor: evidently, region: us-east-1, project: checkout"},
  };
  std::string out = "backends:\n";
  for (const auto& name : kApplyBackends) {
    std::map<std::string, std::string> settings = options.common;
    if (auto it = options.per_backend.find(name); it != options.per_backend.end())
      for (const auto& [key, value] : it->second) settings[key] = value;
    out += "  " + name + ": {" + vendor_settings.at(name) + ", endpoint: \"" + impl_->servers.at(name)->base_url() + "\"";
    for (const auto& [key, value] : settings) out += ", " + key + ": " + value;
    out += "}\n";
  }
  out +=
      "experiments:\n"
      "  checkout-redesign:\n"
      "    aws: {definition: bsxyd7k, run: 1, treatments: {control: c, two-step: t1}}\n"
      "    ld:  {experiment: checkout-redesign}\n"
      "    a0:  {id: exp_4fG7hJk, variations: {control: var_2xQa, two-step: var_9bZk}}\n"
      "    ev:  {feature: checkout-redesign}\n";
  for (int i = 1; i <= options.extra_experiments; ++i) {
    const std::string n = std::to_string(i);
    out += "  exp-" + n + ":\n";
    out += "    aws: {definition: def000" + n + ", run: 1}\n";
    out += "    ld:  {experiment: exp-" + n + "}\n";
    out += "    a0:  {id: exp_Xp" + n + "}\n";
    out += "    ev:  {feature: exp-" + n + "}\n";
  }
  return out;
}

ServerReply FakeVendors::ok_json(std::string body) {
  ServerReply reply;
  reply.status = 200;
  reply.body = std::move(body);
  reply.headers.emplace_back("Content-Type", "application/json");
  return reply;
}

}  // namespace expbridge::test
