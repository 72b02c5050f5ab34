// EmulatorHost on fake emulators of its own: routing, control endpoints over real HTTP,
// fault injection, reset, fixture checks, and the merge of the embedded default fixtures.
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
#include "emulator/emulator_host.hpp"
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

class EmulatorHostTest : public ::testing::Test {
 protected:
  /// Starts a host on fakes `alpha` and `beta` (and a catch-all `greedy` when asked).
  std::unique_ptr<EmulatorHost> start(json::value fixture, bool with_greedy = false) {
    ScopedEmulatorFactory factory([with_greedy] {
      std::vector<std::unique_ptr<VendorEmulator>> out;
      out.push_back(std::make_unique<FakeEmulator>("alpha"));
      out.push_back(std::make_unique<FakeEmulator>("beta"));
      if (with_greedy) out.push_back(std::make_unique<FakeEmulator>("greedy", true));
      return out;
    });
    auto host = EmulatorHost::start({0, std::move(fixture)});
    EXPECT_TRUE(host) << host.error().describe();
    return host ? std::move(*host) : nullptr;
  }
  Result<std::unique_ptr<EmulatorHost>> try_start(json::value fixture) {
    ScopedEmulatorFactory factory([] {
      std::vector<std::unique_ptr<VendorEmulator>> out;
      out.push_back(std::make_unique<FakeEmulator>("alpha"));
      out.push_back(std::make_unique<FakeEmulator>("beta"));
      return out;
    });
    return EmulatorHost::start({0, std::move(fixture)});
  }
  static json::value fixture() { return yaml("alpha: {items: [a1, a2]}\nbeta: {items: [b1]}\n"); }
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
    EXPECT_TRUE(json::parse(r.body).as_object().contains("message"));
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
  auto next = blocking_request(host->port(), "POST", "/beta/items", R"({"name":"b2"})", auth());
  EXPECT_EQ(next.status, 201);
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
                                          "status":429,"retry_after_s":2},{"drop_connection":true}])"),
                         "faults");
  ASSERT_TRUE(ok) << ok.error().describe();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].method, "PATCH");
  EXPECT_EQ((*ok)[0].times, 3);
  EXPECT_EQ((*ok)[0].latency, std::chrono::milliseconds(10));
  EXPECT_EQ((*ok)[0].retry_after_s, 2);
  EXPECT_EQ((*ok)[1].times, -1);
  EXPECT_TRUE((*ok)[1].drop_connection);
  EXPECT_EQ(faults_to_json(*ok), json::parse(R"([{"vendor":"x","method":"PATCH","path_prefix":"/a","times":3,
      "latency_ms":10,"status":429,"retry_after_s":2},{"drop_connection":true}])"));

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
  ScopedEmulatorFactory factory([] {
    std::vector<std::unique_ptr<VendorEmulator>> out;
    out.push_back(std::make_unique<FakeEmulator>("alpha"));
    return out;
  });
  auto host = EmulatorHost::start({port, json::object{}});
  ASSERT_TRUE(host) << host.error().describe();
  EXPECT_EQ((*host)->port(), port);
  EXPECT_EQ((*host)->base_url(), "http://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(blocking_request(port, "GET", "/_emulator/state").status, 200);
  auto clash = EmulatorHost::start({port, json::object{}});
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::unavailable);
  EXPECT_NE(clash.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST_F(EmulatorHostTest, InjectedErrorsTakeTheVendorsShape) {
  ScopedEmulatorFactory factory([] {
    std::vector<std::unique_ptr<VendorEmulator>> out;
    for (const char* v : {"appconfig", "launchdarkly", "auth0"}) out.push_back(std::make_unique<FakeEmulator>(v));
    return out;
  });
  auto host = EmulatorHost::start({0, json::object{}});
  ASSERT_TRUE(host) << host.error().describe();
  ASSERT_TRUE((*host)->set_faults({make_fault([](Fault& f) { f.status = 429, f.retry_after_s = 1; })}));
  auto aws = blocking_request((*host)->port(), "GET", "/appconfig/items");
  EXPECT_EQ(aws.status, 429);
  EXPECT_EQ(aws.header("x-amzn-ErrorType"), "ThrottlingException");
  EXPECT_TRUE(aws.header("x-amzn-RequestId"));
  auto ld = blocking_request((*host)->port(), "GET", "/launchdarkly/items");
  EXPECT_EQ(json::parse(ld.body).at("code"), "rate_limited");
  auto a0 = blocking_request((*host)->port(), "GET", "/auth0/items");
  EXPECT_EQ(json::parse(a0.body).at("statusCode"), 429);
  EXPECT_EQ(json::parse(a0.body).at("error"), "Too Many Requests");
  EXPECT_EQ(a0.header("Retry-After"), "1");
}

// Every adapters/*/*_emulator_fixture.yaml in the source tree is compiled in, and each one's sections are in
// the merged default fixture unchanged.
TEST(EmulatorFixtures, EmbeddedDefaultsAreEveryFileMerged) {
  const std::filesystem::path dir = std::filesystem::path(EXPBRIDGE_SOURCE_DIR) / "adapters";
  std::set<std::string> on_disk, embedded;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (name.ends_with("_emulator_fixture.yaml")) on_disk.insert(name);
  }
  for (const auto& f : embedded_fixture_files()) embedded.insert(std::string(f.name));
  EXPECT_EQ(embedded, on_disk) << "rebuild: the fixtures are embedded at build time";

  auto merged = default_fixture();
  ASSERT_TRUE(merged) << merged.error().describe();
  ASSERT_TRUE(merged->is_object());
  std::size_t sections = 0;
  for (const auto& f : embedded_fixture_files()) {
    auto doc = parse_document(f.text, std::string(f.name));
    ASSERT_TRUE(doc) << doc.error().describe();
    if (doc->root.is_null()) continue;
    ASSERT_TRUE(doc->root.is_object()) << f.name;
    for (const auto& [key, section] : doc->root.get_object()) {
      ++sections;
      ASSERT_TRUE(merged->as_object().contains(key)) << f.name << ": " << key;
      EXPECT_EQ(merged->at(key), section) << f.name << ": " << key;
    }
    // By convention <vendor>_emulator_fixture.yaml holds the `<vendor>:` section.
    const std::string suffix = "_emulator_fixture.yaml";
    const std::string vendor = std::string(f.name).substr(0, f.name.size() - suffix.size());
    EXPECT_TRUE(doc->root.as_object().contains(vendor)) << f.name << " has no '" << vendor << ":' section";
  }
  EXPECT_EQ(merged->as_object().size(), sections);
}

// The real emulators accept their own default sections (whatever is registered).
TEST(EmulatorFixtures, DefaultFixtureSeedsTheBuiltinEmulators) {
  auto host = EmulatorHost::start({});
  ASSERT_TRUE(host) << host.error().describe();
  auto state = (*host)->state();
  ASSERT_TRUE(state.is_object());
  EXPECT_EQ(state.as_object().size(), make_builtin_emulators().size());
  auto r = blocking_request((*host)->port(), "GET", "/_emulator/state");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), state);
}

}  // namespace
}  // namespace expbridge::emulator
