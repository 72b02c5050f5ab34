#include "support/emulated_create.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "apply/authenticator.hpp"
#include "http/http_client.hpp"
#include "json_writer.hpp"

namespace expbridge::test {

struct EmulatedBackend::Impl {
  std::unique_ptr<Bridge> bridge;
  const Adapter* adapter = nullptr;
  boost::asio::io_context io;
  std::unique_ptr<http::HttpClient> client;
  apply::TokenCache tokens;
  apply::AuthContext auth_context;
  std::unique_ptr<apply::Authenticator> authenticator;
};

EmulatedBackend::EmulatedBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmulatedBackend::~EmulatedBackend() = default;

Result<std::unique_ptr<EmulatedBackend>> EmulatedBackend::connect(const emulator::EmulatorHost& host,
                                                                  std::string_view name, std::string_view settings) {
  auto impl = std::make_unique<Impl>();
  const std::string config = "backends:\n  " + std::string(name) + ": {" + std::string(settings) + ", endpoint: \"" +
                             host.base_url() + "\"}\n";
  auto bridge = Bridge::from_text(config, "create-test.yaml");
  if (!bridge) return std::unexpected(std::move(bridge).error());
  impl->bridge = std::make_unique<Bridge>(std::move(*bridge));
  impl->adapter = impl->bridge->backends().front().adapter;
  impl->client = http::make_beast_client(impl->io);
  impl->auth_context.client = impl->client.get();
  impl->auth_context.tokens = &impl->tokens;
  impl->auth_context.env = emulator::test_environment(host.credentials());
  auto authenticator = apply::make_authenticator(impl->adapter->auth(), impl->auth_context);
  if (!authenticator) return std::unexpected(std::move(authenticator).error());
  impl->authenticator = std::move(*authenticator);
  return std::unique_ptr<EmulatedBackend>(new EmulatedBackend(std::move(impl)));
}

const Adapter& EmulatedBackend::adapter() const { return *impl_->adapter; }

Result<ReadResponse> EmulatedBackend::send(const PlannedRequest& planned) {
  http::Request request;
  request.method = planned.method;
  request.url = planned.url;
  for (const auto& [header, value] : planned.headers) request.headers.push_back({header, value});
  if (planned.body) request.body = write_json(*planned.body);
  request.idempotent = planned.idempotent;
  request.timeout = std::chrono::milliseconds(5000);
  std::optional<Result<ReadResponse>> outcome;
  auto exchange = [&]() -> boost::asio::awaitable<void> {
    if (auto ok = co_await impl_->authenticator->authorize(request); !ok) {
      outcome = std::unexpected(std::move(ok).error());
      co_return;
    }
    auto response = co_await impl_->client->send(request);
    if (!response) {
      outcome = std::unexpected(std::move(response).error());
      co_return;
    }
    outcome = ReadResponse{response->status, response->body};
  };
  boost::asio::co_spawn(impl_->io, exchange(), boost::asio::detached);
  impl_->io.restart();
  impl_->io.run();
  if (!outcome) return std::unexpected(make_error(ErrorCode::internal, "the exchange did not finish"));
  return std::move(*outcome);
}

EmulatedBackend::CreateRun EmulatedBackend::create(const CreateSpec& spec, int max_steps) {
  CreateRun run;
  for (int i = 0; i < max_steps; ++i) {
    run.last = impl_->adapter->create(spec, run.answers);
    if (i == 0) run.first = run.last;
    if (!run.last || run.last->binding) return run;
    for (const auto& request : run.last->requests) {
      auto answer = send(request);
      if (!answer) {
        run.last = std::unexpected(std::move(answer).error());
        return run;
      }
      run.sent.push_back(request);
      run.answers.push_back(std::move(*answer));
    }
  }
  run.last = std::unexpected(make_error(ErrorCode::internal, "the create did not end within the steps allowed"));
  return run;
}

Result<VendorState> EmulatedBackend::read(const boost::json::object& binding, int max_steps) {
  auto bound = impl_->adapter->bind(binding, "experiments.created." + impl_->adapter->backend());
  if (!bound) return std::unexpected(std::move(bound).error());
  std::vector<ReadResponse> answers;
  for (int i = 0; i < max_steps; ++i) {
    auto step = impl_->adapter->read(**bound, answers);
    if (!step) return std::unexpected(std::move(step).error());
    if (step->state) return std::move(*step->state);
    for (const auto& request : step->requests) {
      auto answer = send(request);
      if (!answer) return std::unexpected(std::move(answer).error());
      answers.push_back(std::move(*answer));
    }
  }
  return std::unexpected(make_error(ErrorCode::internal, "the read did not end within the steps allowed"));
}

const FieldCarriage* carriage_of(const std::vector<FieldCarriage>& carriage, std::string_view field) {
  for (const auto& c : carriage)
    if (c.field == field) return &c;
  return nullptr;
}

void EmulatedCreate::start(std::string_view name, std::string_view settings) {
  auto host = emulator::EmulatorHost::start({});
  ASSERT_TRUE(host) << host.error().describe();
  host_ = std::move(*host);
  auto backend = EmulatedBackend::connect(*host_, name, settings);
  ASSERT_TRUE(backend) << backend.error().describe();
  backend_ = std::move(*backend);
}

std::size_t EmulatedCreate::received(std::string_view method, std::string_view target) const {
  std::size_t n = 0;
  for (const auto& r : host_->received_requests())
    if (r.request.method == method && r.request.target == target) ++n;
  return n;
}

}  // namespace expbridge::test
