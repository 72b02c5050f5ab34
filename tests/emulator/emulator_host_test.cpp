// EmulatorHost on fake emulators of its own, registered in a registry of its own: routing,
// control endpoints over real HTTP, fault injection, reset, fixture checks, the merge of the
// emulators' default fixtures and credentials; and the built-in emulators' embedded defaults.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "document.hpp"
#include "support/blocking_http.hpp"
#include "support/test_resources.hpp"
#include "emulator/emulator.hpp"
#include "expbridge/adapter.hpp"
#include "emulator/fixtures.hpp"
#include "json_reader.hpp"

namespace expbridge::emulator {
namespace {

namespace json = boost::json;
using testing::blocking_request;

constexpr const char* kToken = "Bearer fake-token";

/// Serves `/<vendor>/...`: GET/POST `items`, `boom` throws. Bearer auth like a SaaS API.
/// State: {"items": [names], "handled": n}. Fixture section: {"items": [names]}.
class FakeEmulator final : public VendorEmulator {
 public:
  explicit FakeEmulator(std::string vendor, bool greedy = false)
      : vendor_(std::move(vendor)), prefix_("/" + vendor_ + "/"), greedy_(greedy) {}
  std::string_view vendor() const override { return vendor_; }
  bool serves(const ServerRequest& request) const override {
    return greedy_ || path_of(request).starts_with(prefix_);
  }
  ServerReply handle(const ServerRequest& request) override {
    if (request.header("authorization") != kToken) return json_reply(401, json::object{{"message", "unauthorized"}});
    ++handled_;
    const auto path = path_of(request);
    if (path == prefix_ + "boom") throw std::runtime_error("kaboom");
    if (path == prefix_ + "items" && request.method == "GET")
      return json_reply(200, json::object{{"vendor", vendor_}, {"items", items_}});
    if (path == prefix_ + "items" && request.method == "POST") {
      auto body = json::parse(request.body);
      items_.push_back(body.at("name"));
      return json_reply(201, json::object{{"name", body.at("name")}});
    }
    return json_reply(404, json::object{{"message", "no such thing"}, {"vendor", vendor_}});
  }
  Status seed(const json::value& fixture) override {
    auto reader = ObjectReader::open(fixture, vendor_);
    if (!reader) return std::unexpected(std::move(reader).error());
    json::array items;
    if (const auto* list = reader->optional_value("items")) {
      if (!list->is_array()) return std::unexpected(reader->error("items", "expected a list"));
      items = list->get_array();
    }
    EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
    items_ = std::move(items);
    handled_ = 0;
    return {};
  }
  json::value state() const override { return json::object{{"items", items_}, {"handled", handled_}}; }

  std::vector<Credential> credentials() const override { return credentials_; }
  // A shape no real vendor has, so a test sees that the host used the emulator's.
  ServerReply injected_error(const InjectedError& error) const override {
    return json_reply(error.status, json::object{{"fake_error", error.message},
                                                 {"fake_request_id", error.echoed_request_id.value_or("none")}});
  }
  Result<std::string_view> default_fixture() const override { return default_fixture_; }
  std::optional<SampleBackend> sample_backend() const override { return sample_; }

  std::vector<Credential> credentials_;
  std::optional<SampleBackend> sample_;
  std::string default_fixture_;

 private:
  std::string vendor_, prefix_;
  bool greedy_;
  json::array items_;
  std::size_t handled_ = 0;
};

/// A fault built by assignments (designated initializers would trip GCC 12's
/// -Wmissing-field-initializers on the string members).
template <class Setter>
Fault make_fault(Setter set) {
  Fault f;
  set(f);
  return f;
}

std::vector<std::pair<std::string, std::string>> auth() { return {{"Authorization", kToken}}; }

json::value yaml(std::string_view text) {
  auto doc = parse_document(text, "<test fixture>");
  EXPECT_TRUE(doc) << doc.error().describe();
  return doc ? doc->root : json::value();
}

/// A vendor that has an emulator and nothing else of use: the host needs no adapter.
Vendor emulated_vendor(std::string name, std::function<void(FakeEmulator&)> adjust = {}, bool greedy = false) {
  AdapterFactory no_adapter = [](const BackendContext&) -> Result<std::unique_ptr<Adapter>> {
    return std::unexpected(make_error(ErrorCode::unsupported, "an emulator-only test vendor"));
  };
  EmulatorFactory emulator = [name, adjust, greedy]() -> std::unique_ptr<VendorEmulator> {
    auto fake = std::make_unique<FakeEmulator>(name, greedy);
    if (adjust) adjust(*fake);
    return fake;
  };
  return Vendor{std::move(name), std::move(no_adapter), std::move(emulator), {}};
}

Registry registry_of(std::vector<Vendor> vendors) {
  Registry registry;
  for (auto& vendor : vendors) EXPECT_TRUE(registry.add(std::move(vendor)));
  return registry;
}

EmulatorHost::Options options_with(const Registry& registry, json::value fixture, std::uint16_t port = 0) {
  EmulatorHost::Options options;
  options.port = port;
  options.fixture = std::move(fixture);
  options.registry = &registry;
  return options;
}

class EmulatorHostTest : public ::testing::Test {
 protected:
  /// Starts a host on fakes `alpha` and `beta` (and a catch-all `greedy`, last in name order, when asked).
  std::unique_ptr<EmulatorHost> start(json::value fixture, bool with_greedy = false) {
    registry_ = registry_of({emulated_vendor("alpha"), emulated_vendor("beta")});
    if (with_greedy) {
      EXPECT_TRUE(registry_.add(emulated_vendor("greedy", {}, true)));
    }
    auto host = EmulatorHost::start(options_with(registry_, std::move(fixture)));
    EXPECT_TRUE(host) << host.error().describe();
    return host ? std::move(*host) : nullptr;
  }
  Result<std::unique_ptr<EmulatorHost>> try_start(json::value fixture) {
    registry_ = registry_of({emulated_vendor("alpha"), emulated_vendor("beta")});
    return EmulatorHost::start(options_with(registry_, std::move(fixture)));
  }
  static json::value fixture() { return yaml("alpha: {items: [a1, a2]}\nbeta: {items: [b1]}\n"); }

  Registry registry_;  // outlives the hosts a test starts
};

TEST_F(EmulatorHostTest, RoutesToTheEmulatorThatServesAndCounts) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  EXPECT_EQ(host->base_url(), "http://127.0.0.1:" + std::to_string(host->port()));
  auto a = blocking_request(host->port(), "GET", "/alpha/items", "", auth());
  ASSERT_TRUE(a.answered);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(json::parse(a.body).at("vendor"), "alpha");
  EXPECT_EQ(json::parse(a.body).at("items"), json::parse(R"(["a1","a2"])"));
  auto b = blocking_request(host->port(), "GET", "/beta/items", "", auth());
  EXPECT_EQ(json::parse(b.body).at("vendor"), "beta");
  // Refused by the emulator (no auth): still counted.
  EXPECT_EQ(blocking_request(host->port(), "GET", "/beta/items").status, 401);
  auto none = blocking_request(host->port(), "GET", "/gamma/items", "", auth());
  EXPECT_EQ(none.status, 404);
  EXPECT_NE(json::parse(none.body).at("message").as_string().find("no emulator serves GET /gamma/items"),
            std::string::npos);
  const std::map<std::string, std::size_t> expected{{"alpha", 1}, {"beta", 2}};
  EXPECT_EQ(host->request_counts(), expected);
}

TEST_F(EmulatorHostTest, FirstServingEmulatorWins) {
  auto host = start(fixture(), /*with_greedy=*/true);
  ASSERT_TRUE(host);
  EXPECT_EQ(json::parse(blocking_request(host->port(), "GET", "/alpha/items", "", auth()).body).at("vendor"), "alpha");
  auto other = blocking_request(host->port(), "GET", "/gamma/anything", "", auth());
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(json::parse(other.body).at("vendor"), "greedy");
}

TEST_F(EmulatorHostTest, EmulatorExceptionIsA500NamingIt) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  auto r = blocking_request(host->port(), "GET", "/alpha/boom", "", auth());
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("emulator alpha threw: kaboom"), std::string::npos);
}

TEST_F(EmulatorHostTest, StateEndpointMatchesStateAndNeedsNoAuth) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  auto r = blocking_request(host->port(), "GET", "/_emulator/state");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), host->state());
  EXPECT_EQ(host->state(), json::parse(R"({"alpha":{"items":["a1","a2"],"handled":0},"beta":{"items":["b1"],"handled":0}})"));
  // Control requests are not vendor requests.
  EXPECT_TRUE(host->request_counts().empty());
  EXPECT_EQ(blocking_request(host->port(), "POST", "/_emulator/state").status, 405);
  EXPECT_EQ(blocking_request(host->port(), "GET", "/_emulator/reset").status, 405);
  EXPECT_EQ(blocking_request(host->port(), "GET", "/_emulator/nothing").status, 404);
  auto counts = blocking_request(host->port(), "GET", "/_emulator/requests");
  EXPECT_EQ(counts.status, 200);
  EXPECT_EQ(json::parse(counts.body), json::object{});
}

TEST_F(EmulatorHostTest, ResetEndpointRestoresTheFixtureAndZeroesCounts) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  EXPECT_EQ(blocking_request(host->port(), "POST", "/alpha/items", R"({"name":"a3"})", auth()).status, 201);
  EXPECT_EQ(host->state().at("alpha").at("items").as_array().size(), 3u);
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.vendor = "beta", f.status = 503; })}));
  auto r = blocking_request(host->port(), "POST", "/_emulator/reset");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(host->state().at("alpha").at("items"), json::parse(R"(["a1","a2"])"));
  EXPECT_TRUE(host->request_counts().empty());
  // The fixture has no faults: reset cleared the injected one.
  EXPECT_EQ(blocking_request(host->port(), "GET", "/beta/items", "", auth()).status, 200);
}

TEST_F(EmulatorHostTest, ResetRestoresTheFixtureFaults) {
  auto host = start(yaml("alpha: {items: []}\nfaults: [{vendor: alpha, status: 500, times: 1}]\n"));
  ASSERT_TRUE(host);
  EXPECT_EQ(blocking_request(host->port(), "GET", "/alpha/items", "", auth()).status, 500);
  EXPECT_EQ(blocking_request(host->port(), "GET", "/alpha/items", "", auth()).status, 200);
  ASSERT_TRUE(host->reset());
  EXPECT_EQ(blocking_request(host->port(), "GET", "/alpha/items", "", auth()).status, 500);
}

TEST_F(EmulatorHostTest, StatusFaultWithRetryAfterAndTimesCountdown) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  auto set = blocking_request(host->port(), "POST", "/_emulator/faults",
                              R"([{"vendor":"alpha","method":"get","path_prefix":"/alpha/it","times":2,"status":429,"retry_after_s":7}])");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(json::parse(set.body), json::parse(R"({"faults":1})"));
  // Not matching: other vendor, other method.
  EXPECT_EQ(blocking_request(host->port(), "GET", "/beta/items", "", auth()).status, 200);
  EXPECT_EQ(blocking_request(host->port(), "POST", "/alpha/items", R"({"name":"x"})", auth()).status, 201);
  for (int i = 0; i < 2; ++i) {
    auto r = blocking_request(host->port(), "GET", "/alpha/items", "", auth());
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("Retry-After"), "7");
    EXPECT_EQ(r.header("X-Emulator-Fault"), "injected");
    EXPECT_TRUE(json::parse(r.body).as_object().contains("fake_error"));  // the emulator's shape
    if (i == 0) {
      auto left = blocking_request(host->port(), "GET", "/_emulator/faults");
      EXPECT_EQ(json::parse(left.body), json::parse(
          R"([{"vendor":"alpha","method":"GET","path_prefix":"/alpha/it","times":1,"status":429,"retry_after_s":7}])"));
    }
  }
  EXPECT_EQ(blocking_request(host->port(), "GET", "/alpha/items", "", auth()).status, 200);
  EXPECT_EQ(json::parse(blocking_request(host->port(), "GET", "/_emulator/faults").body), json::array{});
  // Faulted requests count as the vendor's, and never reached the emulator.
  EXPECT_EQ(host->request_counts().at("alpha"), 4u);
  EXPECT_EQ(host->state().at("alpha").at("handled"), 2);
}

TEST_F(EmulatorHostTest, LatencyFaultDelaysTheEmulatorsAnswer) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.vendor = "alpha", f.times = 1, f.latency = std::chrono::milliseconds(400); })}));
  auto slow = blocking_request(host->port(), "GET", "/alpha/items", "", auth());
  EXPECT_EQ(slow.status, 200);
  EXPECT_GE(slow.elapsed, std::chrono::milliseconds(400));
  auto fast = blocking_request(host->port(), "GET", "/alpha/items", "", auth());
  EXPECT_EQ(fast.status, 200);
  EXPECT_LT(fast.elapsed, std::chrono::milliseconds(400));
  EXPECT_EQ(host->state().at("alpha").at("handled"), 2);
}

TEST_F(EmulatorHostTest, DropConnectionFaultAnswersNothing) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  auto set = blocking_request(host->port(), "POST", "/_emulator/faults", R"([{"method":"POST","drop_connection":true,"times":1}])");
  ASSERT_EQ(set.status, 200) << set.body;
  auto dropped = blocking_request(host->port(), "POST", "/beta/items", R"({"name":"b2"})", auth());
  EXPECT_FALSE(dropped.answered);
  EXPECT_EQ(host->state().at("beta").at("items").as_array().size(), 1u);  // never applied
  const auto journal = host->received_requests();
  ASSERT_EQ(journal.size(), 1u);
  EXPECT_EQ(journal[0].status, 0) << "no answer";
  EXPECT_EQ(journal[0].handled_status, 0) << "the emulator never saw it";
  auto next = blocking_request(host->port(), "POST", "/beta/items", R"({"name":"b2"})", auth());
  EXPECT_EQ(next.status, 201);
}

TEST_F(EmulatorHostTest, ApplyThenDropFaultAppliesTheRequestAndAnswersNothing) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  auto set = blocking_request(host->port(), "POST", "/_emulator/faults",
                              R"([{"vendor":"beta","method":"POST","path_prefix":"/beta/","apply_then_drop":true,"times":1}])");
  ASSERT_EQ(set.status, 200) << set.body;
  // A GET under the prefix is not the selected method: answered as usual.
  EXPECT_EQ(blocking_request(host->port(), "GET", "/beta/items", "", auth()).status, 200);
  auto dropped = blocking_request(host->port(), "POST", "/beta/items", R"({"name":"b2"})", auth());
  EXPECT_FALSE(dropped.answered);
  // The vendor did it: the client never learnt.
  EXPECT_EQ(host->state().at("beta").at("items").as_array().size(), 2u);
  const auto journal = host->received_requests();
  ASSERT_EQ(journal.size(), 2u);
  EXPECT_EQ(journal[1].status, 0) << "no answer was sent";
  EXPECT_EQ(journal[1].handled_status, 201) << "the emulator handled it";
  EXPECT_EQ(journal[0].handled_status, journal[0].status);
  // Bounded by times: the next one is answered.
  auto next = blocking_request(host->port(), "POST", "/beta/items", R"({"name":"b3"})", auth());
  EXPECT_EQ(next.status, 201);
  EXPECT_EQ(host->state().at("beta").at("items").as_array().size(), 3u);
  EXPECT_EQ(json::parse(blocking_request(host->port(), "GET", "/_emulator/faults").body), json::array{});
}

TEST_F(EmulatorHostTest, JournalLimitIsTheOptionsAndKeepsTheNewest) {
  registry_ = registry_of({emulated_vendor("alpha"), emulated_vendor("beta")});
  auto options = options_with(registry_, fixture());
  options.journal_limit = 0;
  auto refused = EmulatorHost::start(options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "journal_limit");
  options.journal_limit = 2;
  auto host = EmulatorHost::start(options);
  ASSERT_TRUE(host) << host.error().describe();
  for (const char* name : {"b2", "b3", "b4"})
    EXPECT_EQ(blocking_request((*host)->port(), "POST", "/beta/items", std::string(R"({"name":")") + name + "\"}", auth()).status,
              201);
  const auto journal = (*host)->received_requests();
  ASSERT_EQ(journal.size(), 2u);
  EXPECT_NE(journal[0].request.body.find("b3"), std::string::npos);
  EXPECT_NE(journal[1].request.body.find("b4"), std::string::npos);
}

TEST_F(EmulatorHostTest, FaultsEndpointRefusesBadLists) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  for (const char* body : {"not json", R"({"status":500})", R"([{"statuss":500}])", R"([{"vendor":"gamma","status":500}])",
                           R"([{"status":200}])", R"([{"vendor":"alpha"}])"}) {
    auto r = blocking_request(host->port(), "POST", "/_emulator/faults", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(json::parse(r.body).as_object().contains("message")) << body;
  }
  EXPECT_FALSE(host->set_faults({make_fault([](Fault& f) { f.vendor = "gamma", f.status = 500; })}));
}

TEST(EmulatorFaults, ParseStrictly) {
  auto ok = parse_faults(json::parse(R"([{"vendor":"x","method":"patch","path_prefix":"/a","times":3,"latency_ms":10,
                                          "status":429,"retry_after_s":2},{"drop_connection":true},
                                          {"method":"POST","apply_then_drop":true,"times":2}])"),
                         "faults");
  ASSERT_TRUE(ok) << ok.error().describe();
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_TRUE((*ok)[2].apply_then_drop);
  EXPECT_FALSE((*ok)[1].apply_then_drop);
  EXPECT_EQ((*ok)[0].method, "PATCH");
  EXPECT_EQ((*ok)[0].times, 3);
  EXPECT_EQ((*ok)[0].latency, std::chrono::milliseconds(10));
  EXPECT_EQ((*ok)[0].retry_after_s, 2);
  EXPECT_EQ((*ok)[1].times, -1);
  EXPECT_TRUE((*ok)[1].drop_connection);
  EXPECT_EQ(faults_to_json(*ok), json::parse(R"([{"vendor":"x","method":"PATCH","path_prefix":"/a","times":3,
      "latency_ms":10,"status":429,"retry_after_s":2},{"drop_connection":true},
      {"method":"POST","apply_then_drop":true,"times":2}])"));

  const std::pair<const char*, const char*> bad[] = {
      {R"([{"status":500,"times":0}])", "faults[0].times"},
      {R"([{"status":500,"retry_after_s":1}])", "faults[0].retry_after_s"},
      {R"([{"status":500,"drop_connection":true}])", "faults[0].drop_connection"},
      {R"([{"status":500,"path_prefix":"alpha"}])", "faults[0].path_prefix"},
      {R"([{"status":500,"latency_ms":-1}])", "faults[0].latency_ms"},
      {R"([{"status":"500"}])", "faults[0].status"},
      {R"([{"status":500,"method":"GE T"}])", "faults[0].method"},
      {R"([{"status":500},{"times":2}])", "faults[1]"},
      {R"([{"status":500,"extra":1}])", "faults[0].extra"},
      {R"([{"body":"{}"}])", "faults[0].body"},
      {R"([{"status":200,"body":"{}","echo_headers":true}])", "faults[0].echo_headers"},
      {R"([{"status":199,"body":"{}"}])", "faults[0].status"},
      {R"([{"headers":{"X-A":1}}])", "faults[0].headers"},
      {R"([{"headers":{"X A":"1"}}])", "faults[0].headers"},
      {R"([{"headers":{"X-A":"1\r\nX-B: 2"}}])", "faults[0].headers"},
      {R"([{"headers":["X-A"]}])", "faults[0].headers"},
      {R"([{"drop_connection":true,"reset_mid_body":true}])", "faults[0].drop_connection"},
      {R"([{"reset_mid_body":"yes"}])", "faults[0].reset_mid_body"},
      {R"([{"drop_connection":true,"close_connection":true}])", "faults[0].drop_connection"},
      {R"([{"apply_then_drop":true,"drop_connection":true}])", "faults[0].apply_then_drop"},
      {R"([{"apply_then_drop":true,"status":500}])", "faults[0].apply_then_drop"},
      {R"([{"apply_then_drop":true,"headers":{"X-A":"1"}}])", "faults[0].apply_then_drop"},
      {R"([{"apply_then_drop":true,"close_connection":true}])", "faults[0].apply_then_drop"},
      {R"([{"apply_then_drop":"yes"}])", "faults[0].apply_then_drop"},
      {R"([{"apply_then_drop":false}])", "faults[0]"},
  };
  for (const auto& [text, field] : bad) {
    auto r = parse_faults(json::parse(text), "faults");
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().field, field) << text << ": " << r.error().describe();
  }
}

TEST(EmulatorFaults, BodyHeadersAndResetRoundTrip) {
  const auto text = json::parse(R"([{"vendor":"x","times":1,"status":200,"body":"{\"id\":1}","headers":{"X-A":"1","Location":"http://x/"}},
                                    {"headers":{"Retry-After":"2"}},{"reset_mid_body":true},{"close_connection":true}])");
  auto faults = parse_faults(text, "faults");
  ASSERT_TRUE(faults) << faults.error().describe();
  ASSERT_EQ(faults->size(), 4u);
  EXPECT_TRUE((*faults)[3].close_connection);
  EXPECT_EQ((*faults)[0].body, R"({"id":1})");
  ASSERT_EQ((*faults)[0].headers.size(), 2u);
  EXPECT_EQ((*faults)[0].headers[1], (std::pair<std::string, std::string>{"Location", "http://x/"}));
  EXPECT_TRUE((*faults)[2].reset_mid_body);
  EXPECT_EQ(faults_to_json(*faults), text);
}

TEST_F(EmulatorHostTest, BodyFaultAnswersAsGivenThenTheEmulatorAnswersAgain) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  auto set = blocking_request(host->port(), "POST", "/_emulator/faults",
                              R"([{"vendor":"alpha","times":1,"status":201,"body":"{\"made\":\"up\"}","headers":{"X-Ratelimit-Reset":"5"}}])");
  ASSERT_EQ(set.status, 200) << set.body;
  auto faulted = blocking_request(host->port(), "GET", "/alpha/items", "", auth());
  ASSERT_TRUE(faulted.answered);
  EXPECT_EQ(faulted.status, 201);
  EXPECT_EQ(faulted.body, R"({"made":"up"})");
  EXPECT_EQ(faulted.header("X-Ratelimit-Reset"), "5");
  EXPECT_EQ(faulted.header("Content-Type"), "application/json");
  auto next = blocking_request(host->port(), "GET", "/alpha/items", "", auth());
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(json::parse(next.body).at("vendor"), "alpha");
  EXPECT_FALSE(next.header("X-Ratelimit-Reset"));
  EXPECT_EQ(host->state().at("alpha").at("handled"), 1);  // the faulted one never reached it
}

TEST_F(EmulatorHostTest, HeadersAloneAreAddedToTheEmulatorsOwnAnswer) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.vendor = "beta", f.headers = {{"X-Extra", "yes"}}; })}));
  auto r = blocking_request(host->port(), "GET", "/beta/items", "", auth());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).at("vendor"), "beta");
  EXPECT_EQ(r.header("X-Extra"), "yes");
  EXPECT_FALSE(blocking_request(host->port(), "GET", "/alpha/items", "", auth()).header("X-Extra"));
}

TEST_F(EmulatorHostTest, ResetMidBodyFaultCutsTheAnswerAfterTheEmulatorApplied) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.method = "POST", f.times = 1, f.reset_mid_body = true; })}));
  auto cut = blocking_request(host->port(), "POST", "/beta/items", R"({"name":"b2"})", auth());
  EXPECT_FALSE(cut.answered);
  EXPECT_EQ(host->state().at("beta").at("items").as_array().size(), 2u);  // applied, answer lost
  EXPECT_EQ(blocking_request(host->port(), "POST", "/beta/items", R"({"name":"b3"})", auth()).status, 201);
}

TEST_F(EmulatorHostTest, CloseConnectionFaultEndsAKeptAliveConnectionAfterTheAnswer) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.vendor = "alpha", f.close_connection = true; })}));
  namespace bhttp = boost::beast::http;
  for (const bool faulted : {true, false}) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address_v4("127.0.0.1"), host->port()});
    bhttp::request<bhttp::string_body> request(bhttp::verb::get, faulted ? "/alpha/items" : "/beta/items", 11);
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::authorization, kToken);  // keep-alive: HTTP/1.1's default
    bhttp::write(socket, request);
    boost::beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(socket, buffer, response);
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.keep_alive(), !faulted) << faulted;
  }
}

TEST_F(EmulatorHostTest, TheJournalHoldsEveryRoutedRequestInOrderUntilReset) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.vendor = "alpha", f.times = 1, f.status = 503; })}));
  blocking_request(host->port(), "POST", "/alpha/items", R"({"name":"a3"})", auth());
  blocking_request(host->port(), "GET", "/_emulator/state");  // control: not journaled
  blocking_request(host->port(), "GET", "/nobody/serves/this");  // unrouted: not journaled
  blocking_request(host->port(), "GET", "/beta/items");           // refused by the emulator: journaled
  const auto received = host->received_requests();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].vendor, "alpha");
  EXPECT_EQ(received[0].request.method, "POST");
  EXPECT_EQ(received[0].request.body, R"({"name":"a3"})");
  EXPECT_EQ(received[0].request.header("authorization"), kToken);
  EXPECT_EQ(received[1].vendor, "beta");
  EXPECT_EQ(received[1].request.target, "/beta/items");
  EXPECT_LE(received[0].arrived, received[1].arrived);
  EXPECT_EQ(received[0].status, 503);  // what was answered: the fault's
  EXPECT_EQ(received[1].status, 401);  // the emulator's refusal
  EXPECT_EQ(host->connections_accepted(), 4u);  // one per request: blocking_request closes each
  ASSERT_TRUE(host->reset());
  EXPECT_TRUE(host->received_requests().empty());
}

TEST_F(EmulatorHostTest, VendorWithoutSectionIsSeededEmpty) {
  auto host = start(yaml("alpha: {items: [a1]}\nbeta:\n"));
  ASSERT_TRUE(host);
  EXPECT_EQ(host->state().at("beta"), json::parse(R"({"items":[],"handled":0})"));
  auto empty = start(json::object{});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->state().at("alpha"), json::parse(R"({"items":[],"handled":0})"));
}

TEST_F(EmulatorHostTest, FixtureIsCheckedStrictly) {
  auto typo = try_start(yaml("alpah: {items: []}\n"));
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().field, "alpah");
  EXPECT_NE(typo.error().message.find("did you mean 'alpha'"), std::string::npos) << typo.error().message;

  auto seed = try_start(yaml("alpha: {itemz: []}\n"));
  ASSERT_FALSE(seed);
  EXPECT_EQ(seed.error().vendor, "alpha");

  auto fault = try_start(yaml("faults: [{vendor: gamma, status: 500}]\n"));
  ASSERT_FALSE(fault);
  EXPECT_EQ(fault.error().field, "faults[0].vendor");

  auto not_list = try_start(yaml("faults: {status: 500}\n"));
  ASSERT_FALSE(not_list);
  EXPECT_EQ(not_list.error().field, "faults");

  EXPECT_FALSE(try_start(json::array{}));
}

TEST_F(EmulatorHostTest, ListensOnAGivenPortOnly127001) {
  const auto port = test::unused_loopback_port();
  const Registry registry = registry_of({emulated_vendor("alpha")});
  auto host = EmulatorHost::start(options_with(registry, json::object{}, port));
  ASSERT_TRUE(host) << host.error().describe();
  EXPECT_EQ((*host)->port(), port);
  EXPECT_EQ((*host)->base_url(), "http://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(blocking_request(port, "GET", "/_emulator/state").status, 200);
  auto clash = EmulatorHost::start(options_with(registry, json::object{}, port));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::unavailable);
  EXPECT_NE(clash.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST_F(EmulatorHostTest, InjectedErrorsTakeTheEmulatorsShape) {
  auto host = start(fixture());
  ASSERT_TRUE(host);
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.status = 429, f.retry_after_s = 1; })}));
  auto r = blocking_request(host->port(), "GET", "/alpha/items");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(json::parse(r.body).at("fake_error"), "injected fault (status 429)");
  EXPECT_EQ(json::parse(r.body).at("fake_request_id"), "none");
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_EQ(r.header("X-Emulator-Fault"), "injected");

  // Echoing: the emulator gets the Authorization value as its request id, the host adds the
  // headers to the body and the X-Echo-Authorization header.
  ASSERT_TRUE(host->set_faults({make_fault([](Fault& f) { f.status = 502, f.echo_headers = true; })}));
  auto echoed = blocking_request(host->port(), "GET", "/beta/items", "", auth());
  EXPECT_EQ(echoed.status, 502);
  const auto body = json::parse(echoed.body);
  EXPECT_EQ(body.at("fake_request_id"), kToken);
  EXPECT_NE(body.at("fake_error").as_string().find(std::string("Authorization: ") + kToken), std::string::npos);
  EXPECT_EQ(body.at("request_headers").at("Authorization"), kToken);
  EXPECT_EQ(echoed.header("X-Echo-Authorization"), kToken);
}

TEST(EmulatorHostCredentials, MergedAcrossEmulatorsAndCheckedForAgreement) {
  auto gives = [](std::vector<Credential> credentials) {
    return [credentials](FakeEmulator& e) { e.credentials_ = credentials; };
  };
  const Registry agreeing = registry_of({emulated_vendor("alpha", gives({{"SHARED_KEY", "k"}, {"ALPHA_TOKEN", "a"}})),
                                         emulated_vendor("beta", gives({{"SHARED_KEY", "k"}}))});
  auto host = EmulatorHost::start(options_with(agreeing, json::object{}));
  ASSERT_TRUE(host) << host.error().describe();
  ASSERT_EQ((*host)->credentials().size(), 2u);
  auto environment = test_environment((*host)->credentials());
  EXPECT_EQ(environment("SHARED_KEY"), "k");
  EXPECT_EQ(environment("ALPHA_TOKEN"), "a");
  EXPECT_EQ(environment("HOME"), std::nullopt);  // nothing of the real environment

  const Registry disagreeing = registry_of({emulated_vendor("alpha", gives({{"SHARED_KEY", "k1"}})),
                                            emulated_vendor("beta", gives({{"SHARED_KEY", "k2"}}))});
  auto refused = EmulatorHost::start(options_with(disagreeing, json::object{}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::internal);
  EXPECT_NE(refused.error().message.find("SHARED_KEY"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().message.find("k1"), std::string::npos) << "values are not printed";
  EXPECT_FALSE(test_credentials(disagreeing));
}

TEST(EmulatorHostDefaults, EachEmulatorsDefaultFixtureIsMergedAndHoldsOnlyItsSection) {
  auto fixture_of = [](std::string text) { return [text](FakeEmulator& e) { e.default_fixture_ = text; }; };
  const Registry registry = registry_of({emulated_vendor("alpha", fixture_of("alpha: {items: [a0]}\n")),
                                         emulated_vendor("beta", fixture_of(""))});
  auto host = EmulatorHost::start(options_with(registry, json::value()));
  ASSERT_TRUE(host) << host.error().describe();
  EXPECT_EQ((*host)->state().at("alpha").at("items"), json::parse(R"(["a0"])"));
  EXPECT_EQ((*host)->state().at("beta").at("items"), json::array{});

  const Registry trespassing = registry_of({emulated_vendor("alpha", fixture_of("beta: {items: [b0]}\n")),
                                            emulated_vendor("beta")});
  auto refused = EmulatorHost::start(options_with(trespassing, json::value()));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "beta");
}

TEST(EmulatorHostSamples, SampleBackendsInRegistryOrderWithDistinctNames) {
  auto sample = [](std::string name) {
    return [name](FakeEmulator& e) { e.sample_ = SampleBackend{name, "vendor: x", "{id: 1}"}; };
  };
  const Registry registry = registry_of({emulated_vendor("beta", sample("b")), emulated_vendor("alpha", sample("a")),
                                         emulated_vendor("gamma")});
  auto host = EmulatorHost::start(options_with(registry, json::object{}));
  ASSERT_TRUE(host) << host.error().describe();
  auto samples = (*host)->sample_backends();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].name, "a");
  EXPECT_EQ(samples[1].name, "b");
  EXPECT_EQ((*host)->vendors(), (std::vector<std::string>{"alpha", "beta", "gamma"}));

  const Registry clashing = registry_of({emulated_vendor("alpha", sample("same")), emulated_vendor("beta", sample("same"))});
  auto refused = EmulatorHost::start(options_with(clashing, json::object{}));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("'same'"), std::string::npos) << refused.error().message;
}

TEST(EmulatorHostRegistry, RefusesAnEmulatorOfAnotherVendor) {
  Vendor mislabelled = emulated_vendor("alpha");
  mislabelled.emulator = [] { return std::unique_ptr<VendorEmulator>(std::make_unique<FakeEmulator>("beta")); };
  const Registry registry = registry_of({std::move(mislabelled)});
  auto host = EmulatorHost::start(options_with(registry, json::object{}));
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().code, ErrorCode::internal);
}

// Every adapters/*/*_emulator_fixture.yaml in the source tree is compiled in, and each built-in
// emulator's default fixture is its own file, holding its own section.
TEST(EmulatorFixtures, EveryFileIsEmbeddedAndIsItsEmulatorsDefault) {
  const std::filesystem::path dir = std::filesystem::path(EXPBRIDGE_SOURCE_DIR) / "adapters";
  std::set<std::string> on_disk, embedded, defaults;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (name.ends_with("_emulator_fixture.yaml")) on_disk.insert(name);
  }
  for (auto name : embedded_fixture_names()) embedded.insert(std::string(name));
  EXPECT_EQ(embedded, on_disk) << "rebuild: the fixtures are embedded at build time";

  auto emulators = make_emulators(Registry::builtin());
  ASSERT_TRUE(emulators) << emulators.error().describe();
  for (const auto& emulator : *emulators) {
    const std::string file = std::string(emulator->vendor()) + "_emulator_fixture.yaml";
    auto text = emulator->default_fixture();
    ASSERT_TRUE(text) << text.error().describe();
    auto file_text = embedded_fixture(file);
    ASSERT_TRUE(file_text) << file_text.error().describe();
    EXPECT_EQ(*text, *file_text) << emulator->vendor();
    defaults.insert(file);
    auto doc = parse_document(*text, file);
    ASSERT_TRUE(doc) << doc.error().describe();
    ASSERT_TRUE(doc->root.is_object()) << file;
    EXPECT_TRUE(doc->root.as_object().contains(emulator->vendor())) << file;
  }
  EXPECT_EQ(defaults, on_disk) << "a fixture file that no emulator uses";
}

// The real emulators accept their own default sections (whatever is registered).
TEST(EmulatorFixtures, DefaultFixtureSeedsTheBuiltinEmulators) {
  auto host = EmulatorHost::start({});
  ASSERT_TRUE(host) << host.error().describe();
  auto state = (*host)->state();
  ASSERT_TRUE(state.is_object());
  auto emulators = make_emulators(Registry::builtin());
  ASSERT_TRUE(emulators);
  EXPECT_EQ(state.as_object().size(), emulators->size());
  for (const auto& emulator : *emulators) EXPECT_TRUE(state.as_object().contains(emulator->vendor()));
  auto r = blocking_request((*host)->port(), "GET", "/_emulator/state");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), state);
}

// The built-in emulators agree on every variable they share, and each has a sample backend
// that `expbridge emulate` prints.
TEST(EmulatorFixtures, BuiltinEmulatorsGiveCredentialsAndSamples) {
  auto credentials = test_credentials(Registry::builtin());
  ASSERT_TRUE(credentials) << credentials.error().describe();
  auto emulators = make_emulators(Registry::builtin());
  ASSERT_TRUE(emulators);
  for (const auto& emulator : *emulators) {
    EXPECT_FALSE(emulator->credentials().empty()) << emulator->vendor();
    auto sample = emulator->sample_backend();
    ASSERT_TRUE(sample) << emulator->vendor();
    EXPECT_NE(sample->settings.find("vendor: " + std::string(emulator->vendor())), std::string::npos) << sample->settings;
  }
}

}  // namespace
}  // namespace expbridge::emulator
