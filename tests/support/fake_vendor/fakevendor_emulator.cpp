#include "support/fake_vendor/fakevendor_emulator.hpp"

#include <boost/json/parse.hpp>

#include "json_reader.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;

constexpr std::string_view kPrefix = "/experiments/";
constexpr const char* kTokenVariable = "FAKEVENDOR_TOKEN";
constexpr const char* kExampleToken = "fakevendor-emulator-token";  // an example value, not a secret

ServerReply error_reply(int status, std::string_view code, std::string_view message, std::string request_id) {
  return json_reply(status, json::object{{"code", code}, {"message", message}},
                    {{"x-fakevendor-request-id", std::move(request_id)}});
}

class FakevendorEmulator final : public VendorEmulator {
 public:
  std::string_view vendor() const override { return "fakevendor"; }
  bool serves(const ServerRequest& request) const override { return path_of(request).starts_with(kPrefix); }

  ServerReply handle(const ServerRequest& request) override {
    if (request.header("x-fakevendor-token") != kExampleToken)
      return error_reply(401, "unauthorized", "X-Fakevendor-Token is missing or wrong", next_id());
    const std::string id = percent_decode(path_of(request).substr(kPrefix.size()));
    auto* experiment = experiments_.if_contains(id);
    if (experiment == nullptr) return error_reply(404, "not_found", "no experiment " + id, next_id());
    if (request.method == "GET") return json_reply(200, *experiment);
    if (request.method != "PATCH") return error_reply(405, "method_not_allowed", "GET or PATCH", next_id());
    boost::system::error_code ec;
    auto body = json::parse(request.body, ec);
    if (ec || !body.is_object()) return error_reply(400, "invalid_request", "the body is not a JSON object", next_id());
    for (const auto& [member, value] : body.get_object()) {
      const bool text = member == "name" || member == "description";
      if (!(text && value.is_string()) && !(member == "exposure_percent" && value.is_number()))
        return error_reply(400, "invalid_request", "unknown or mistyped member " + std::string(member), next_id());
    }
    for (const auto& [member, value] : body.get_object()) experiment->as_object()[member] = value;
    return json_reply(200, *experiment);
  }

  Status seed(const json::value& fixture) override {
    auto reader = ObjectReader::open(fixture, "fakevendor");
    if (!reader) return std::unexpected(std::move(reader).error());
    json::object experiments;
    if (const auto* given = reader->optional_value("experiments")) {
      if (!given->is_object()) return std::unexpected(reader->error("experiments", "expected a mapping of ids"));
      experiments = given->get_object();
    }
    EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
    experiments_ = std::move(experiments);
    return {};
  }

  json::value state() const override { return json::object{{"experiments", experiments_}}; }

  // What the host asks of every emulator.
  std::vector<Credential> credentials() const override { return {{kTokenVariable, kExampleToken}}; }
  ServerReply injected_error(const InjectedError& error) const override {
    return error_reply(error.status, "injected", error.message, error.echoed_request_id.value_or("fakevendor-fault"));
  }
  Result<std::string_view> default_fixture() const override {
    return std::string_view("fakevendor:\n  experiments:\n    checkout-redesign: {name: Checkout redesign, exposure_percent: 10}\n");
  }
  std::optional<SampleBackend> sample_backend() const override {
    return SampleBackend{"fake", "vendor: fakevendor, token_env: FAKEVENDOR_TOKEN", "{experiment: checkout-redesign}"};
  }

 private:
  std::string next_id() { return "fakevendor-" + std::to_string(++requests_); }

  json::object experiments_;
  std::uint64_t requests_ = 0;
};

}  // namespace

std::unique_ptr<VendorEmulator> make_fakevendor_emulator() { return std::make_unique<FakevendorEmulator>(); }

}  // namespace expbridge::emulator
