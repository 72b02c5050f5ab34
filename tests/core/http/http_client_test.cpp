// Tests for the Beast HTTP client against the in-process loopback server.
// Everything runs on 127.0.0.1 and is bounded to a few seconds per test.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "http/beast_http_client.hpp"
#include "http/http_client.hpp"
#include "support/test_resources.hpp"

namespace expbridge::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::LoopbackServer;
using test::ServerReply;
using test::ServerRequest;
using Clock = std::chrono::steady_clock;

class HttpClientTest : public ::testing::Test {
 protected:
  /// Runs one `send` to completion on `io_`, within `limit`.
  Result<Response> run(HttpClient& client, Request request, std::chrono::milliseconds limit = 5s) {
    // Shared with the completion handler: if the limit is hit, the handler may
    // still run during a later `run` call of the same test.
    auto out = std::make_shared<std::optional<Result<Response>>>();
    asio::co_spawn(io_, client.send(std::move(request)), [out](std::exception_ptr e, Result<Response> result) {
      if (e) {
        Error error;
        error.message = "send threw";
        *out = std::unexpected(error);
      } else {
        *out = std::move(result);
      }
    });
    io_.restart();
    io_.run_for(limit);
    if (!out->has_value()) {
      ADD_FAILURE() << "send did not complete within " << limit.count() << " ms";
      Error error;
      error.message = "did not complete";
      return std::unexpected(error);
    }
    return std::move(**out);
  }

  static Request get(std::string url) {
    Request request;
    request.method = "GET";
    request.url = std::move(url);
    request.timeout = 3s;
    return request;
  }

  // Declared first: clients made in a test body are destroyed before it.
  asio::io_context io_;
};

// ---------------------------------------------------------------------------
// Plain HTTP over loopback

TEST_F(HttpClientTest, GetRoundTripCarriesHeadersBothWays) {
  LoopbackServer server([](const ServerRequest&) {
    auto reply = ServerReply::text(200, "hello");
    reply.headers.emplace_back("X-Reply", "yes");
    return reply;
  });
  auto client = make_beast_client(io_);

  auto request = get(server.base_url() + "/v1/items?limit=2&q=a%20b");
  request.headers.push_back({"X-Test", "abc"});
  auto response = run(*client, std::move(request));

  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->header("x-reply"), "yes");
  EXPECT_EQ(response->header("CONTENT-TYPE"), "text/plain");
  EXPECT_FALSE(response->header("X-Missing").has_value());
  EXPECT_FALSE(response->reused_connection);

  const auto received = server.received_requests();
  ASSERT_EQ(received.size(), 1u);
  const ServerRequest* seen = &received.front();
  EXPECT_EQ(seen->method, "GET");
  EXPECT_EQ(seen->target, "/v1/items?limit=2&q=a%20b");
  EXPECT_EQ(seen->header("X-Test"), "abc");
  EXPECT_EQ(seen->header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen->header("User-Agent"), "expbridge/0.1");
  EXPECT_FALSE(seen->header("Content-Length").has_value());
  EXPECT_TRUE(seen->body.empty());
}

TEST_F(HttpClientTest, PatchRoundTripSendsBodyAndGetsBodyBack) {
  LoopbackServer server([](const ServerRequest& request) {
    ServerReply reply;
    reply.status = 202;
    reply.headers.emplace_back("Content-Type", "application/json");
    reply.body = R"({"echo":)" + request.body + "}";
    return reply;
  });
  ClientOptions options;
  options.user_agent = "custom-agent/2";
  auto client = make_beast_client(io_, options);

  Request request;
  request.method = "PATCH";
  request.url = server.base_url() + "/experiments/42";
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer s3cret"}};
  request.body = R"({"weight":50})";
  request.timeout = 3s;
  auto response = run(*client, std::move(request));

  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 202);
  EXPECT_EQ(response->body, R"({"echo":{"weight":50}})");
  EXPECT_EQ(response->header("content-type"), "application/json");

  const auto received = server.received_requests();
  ASSERT_EQ(received.size(), 1u);
  const ServerRequest* seen = &received.front();
  EXPECT_EQ(seen->method, "PATCH");
  EXPECT_EQ(seen->target, "/experiments/42");
  EXPECT_EQ(seen->body, R"({"weight":50})");
  EXPECT_EQ(seen->header("Content-Length"), "13");
  EXPECT_EQ(seen->header("Authorization"), "Bearer s3cret");
  EXPECT_EQ(seen->header("User-Agent"), "custom-agent/2");
}

TEST_F(HttpClientTest, NonSuccessStatusIsAResponseNotAnError) {
  LoopbackServer server([](const ServerRequest&) { return ServerReply::text(503, "busy"); });
  auto client = make_beast_client(io_);
  auto response = run(*client, get(server.base_url() + "/"));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "busy");
}

TEST_F(HttpClientTest, HeadResponseHasNoBodyAndKeepsTheConnection) {
  LoopbackServer server([](const ServerRequest&) { return ServerReply::text(200, "twelve bytes"); });
  auto client = make_beast_client(io_);
  auto head = get(server.base_url() + "/");
  head.method = "HEAD";
  auto response = run(*client, std::move(head));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->header("Content-Length"), "12");
  EXPECT_TRUE(response->body.empty());

  auto after = run(*client, get(server.base_url() + "/"));
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->body, "twelve bytes");
  EXPECT_TRUE(after->reused_connection);
}

TEST_F(HttpClientTest, LocalhostByNameIsAllowedOverHttp) {
  LoopbackServer server;
  auto client = make_beast_client(io_);
  auto response = run(*client, get(server.url_for_host("localhost") + "/"));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

// ---------------------------------------------------------------------------
// Keep-alive

TEST_F(HttpClientTest, KeepAliveReusesOneConnectionForSequentialRequests) {
  LoopbackServer server;
  auto client = make_beast_client(io_);
  for (int i = 0; i < 10; ++i) {
    auto response = run(*client, get(server.base_url() + "/n/" + std::to_string(i)));
    ASSERT_TRUE(response.has_value()) << i << ": " << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->reused_connection, i > 0) << i;
  }
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(server.requests_received(), 10u);
}

TEST_F(HttpClientTest, ConnectionCloseResponsesAreNotReused) {
  LoopbackServer server([](const ServerRequest&) {
    auto reply = ServerReply::text(200, "bye");
    reply.close_connection = true;
    return reply;
  });
  BeastHttpClient client(io_, {});
  for (int i = 0; i < 3; ++i) {
    auto response = run(client, get(server.base_url() + "/"));
    ASSERT_TRUE(response.has_value()) << i << ": " << response.error().message;
    EXPECT_EQ(response->header("Connection"), "close");
    EXPECT_FALSE(response->reused_connection) << i;
    EXPECT_EQ(client.idle_connections(), 0u);
  }
  EXPECT_EQ(server.connections_accepted(), 3u);
}

TEST_F(HttpClientTest, ZeroIdlePerHostDisablesReuse) {
  LoopbackServer server;
  ClientOptions options;
  options.max_idle_per_host = 0;
  auto client = make_beast_client(io_, options);
  for (int i = 0; i < 3; ++i) {
    auto response = run(*client, get(server.base_url() + "/"));
    ASSERT_TRUE(response.has_value()) << response.error().message;
    EXPECT_FALSE(response->reused_connection);
  }
  EXPECT_EQ(server.connections_accepted(), 3u);
}

namespace {

/// `count` GETs of `base_url` sent at once; their results once all have answered (or 5 s passed).
std::vector<std::optional<Result<Response>>> send_at_once(asio::io_context& io, HttpClient& client,
                                                          const std::string& base_url, int count) {
  auto results = std::make_shared<std::vector<std::optional<Result<Response>>>>(count);
  for (int i = 0; i < count; ++i) {
    Request request;
    request.method = "GET";
    request.url = base_url + "/c/" + std::to_string(i);
    request.timeout = 3s;
    asio::co_spawn(io, client.send(std::move(request)),
                   [results, i](std::exception_ptr, Result<Response> result) { (*results)[i] = std::move(result); });
  }
  io.restart();
  io.run_for(5s);
  return std::move(*results);
}

LoopbackServer::Handler answer_late() {
  return [](const ServerRequest& request) {
    auto reply = ServerReply::text(200, request.target);
    reply.delay = 50ms;  // keeps all of them in flight at once
    return reply;
  };
}

}  // namespace

TEST_F(HttpClientTest, ConcurrentRequestsUseSeparateConnectionsAndPoolUpToTheCeiling) {
  LoopbackServer server(answer_late());
  ClientOptions options;
  options.max_idle_per_host = 3;
  options.idle_ceiling_per_host = 3;
  BeastHttpClient client(io_, options);

  constexpr int count = 5;
  auto results = send_at_once(io_, client, server.base_url(), count);
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    ASSERT_TRUE(results[i]->has_value()) << results[i]->error().message;
    EXPECT_EQ((*results[i])->body, "/c/" + std::to_string(i));
  }
  EXPECT_EQ(server.connections_accepted(), 5u);
  EXPECT_EQ(client.idle_connections(), 3u);
}

// `--parallel 8` over four backends on one host put up to 56 requests in flight at once; with
// eight kept idle, every wave after the first closed most of its connections and opened new
// ones (10,600 connections for 2,000 updates). As many as were in flight at once are kept.
TEST_F(HttpClientTest, AsManyConnectionsAsWereInFlightAtOnceAreKeptForTheNextWave) {
  LoopbackServer server(answer_late());
  ClientOptions options;
  options.max_idle_per_host = 2;
  BeastHttpClient client(io_, options);

  constexpr int count = 6;
  for (int wave = 0; wave < 3; ++wave) {
    auto results = send_at_once(io_, client, server.base_url(), count);
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(results[i].has_value()) << "wave " << wave << ", request " << i;
      ASSERT_TRUE(results[i]->has_value()) << results[i]->error().message;
      EXPECT_EQ((*results[i])->reused_connection, wave > 0) << "wave " << wave << ", request " << i;
    }
    EXPECT_EQ(client.idle_connections(), static_cast<std::size_t>(count)) << "after wave " << wave;
  }
  EXPECT_EQ(server.connections_accepted(), static_cast<std::size_t>(count));
}

TEST_F(HttpClientTest, ConnectionIdleLongerThanIdleTimeoutIsNotReused) {
  LoopbackServer server;
  ClientOptions options;
  options.idle_timeout = 50ms;
  auto client = make_beast_client(io_, options);
  ASSERT_TRUE(run(*client, get(server.base_url() + "/")).has_value());
  std::this_thread::sleep_for(120ms);
  auto second = run(*client, get(server.base_url() + "/"));
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_FALSE(second->reused_connection);
  EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST_F(HttpClientTest, ServerClosingAnIdleConnectionIsTransparent) {
  LoopbackServer server;
  auto client = make_beast_client(io_);
  auto first = run(*client, get(server.base_url() + "/"));
  ASSERT_TRUE(first.has_value()) << first.error().message;

  server.close_idle_connections();
  auto second = run(*client, get(server.base_url() + "/"));
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->status, 200);
  EXPECT_FALSE(second->reused_connection);
  EXPECT_EQ(server.connections_accepted(), 2u);
}

// The race the retry exists for: the server drops a kept-alive connection
// right as the request arrives, without answering anything. Only an idempotent
// request is resent (the server did read it: see the request count).
TEST_F(HttpClientTest, ReusedConnectionDroppedBeforeAnswerIsRetriedOnceOnAFreshOne) {
  LoopbackServer server([](const ServerRequest& request) {
    if (request.request_number == 2) {
      ServerReply reply;
      reply.action = ServerReply::Action::close_without_reply;
      return reply;
    }
    return ServerReply::text(200, "n" + std::to_string(request.request_number));
  });
  auto client = make_beast_client(io_);
  auto first = run(*client, get(server.base_url() + "/"));
  ASSERT_TRUE(first.has_value()) << first.error().message;

  Request patch;
  patch.method = "PATCH";
  patch.url = server.base_url() + "/x";
  patch.body = "{}";
  patch.timeout = 3s;
  patch.idempotent = true;  // as the mapping tables say of most PATCHes
  int writes = 0;
  patch.write_count = &writes;
  auto second = run(*client, std::move(patch));
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->body, "n3");
  EXPECT_FALSE(second->reused_connection);
  EXPECT_EQ(server.requests_received(), 3u);
  EXPECT_EQ(server.connections_accepted(), 2u);
  EXPECT_EQ(writes, 2) << "the transparent resend is a second write";
}

TEST_F(HttpClientTest, NonIdempotentRequestGoesOnAFreshConnectionAndIsNeverResent) {
  LoopbackServer server([](const ServerRequest& request) {
    if (request.method == "POST") {
      ServerReply reply;  // the server has read the request, then the connection dies
      reply.action = ServerReply::Action::close_without_reply;
      return reply;
    }
    return ServerReply::text(200, "ok");
  });
  auto client = make_beast_client(io_);
  ASSERT_TRUE(run(*client, get(server.base_url() + "/")).has_value());  // leaves a pooled connection

  Request post;
  post.method = "POST";
  post.url = server.base_url() + "/status";
  post.body = R"({"status":"active"})";
  post.timeout = 3s;
  int writes = 0;
  post.write_count = &writes;
  auto result = run(*client, std::move(post));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::unavailable);
  EXPECT_TRUE(result.error().request_sent) << "the caller must know it may have arrived";
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(server.requests_received(), 2u) << "the GET, and the POST exactly once";
  EXPECT_EQ(server.connections_accepted(), 2u) << "the POST did not take the pooled connection";
}

TEST_F(HttpClientTest, ATableSaysNotIdempotentEvenForAMethodThatIs) {
  LoopbackServer server;
  auto client = make_beast_client(io_);
  ASSERT_TRUE(run(*client, get(server.base_url() + "/")).has_value());
  Request del = get(server.base_url() + "/x");
  del.method = "DELETE";
  del.idempotent = false;
  auto response = run(*client, std::move(del));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_FALSE(response->reused_connection);
  EXPECT_EQ(server.connections_accepted(), 2u);
  // By method, with nothing said: PUT/DELETE/GET are idempotent, POST/PATCH are not.
  EXPECT_TRUE(idempotent_method("DELETE"));
  EXPECT_TRUE(idempotent_method("PUT"));
  EXPECT_FALSE(idempotent_method("POST"));
  EXPECT_FALSE(idempotent_method("PATCH"));
}

TEST_F(HttpClientTest, RetryHappensAtMostOnce) {
  LoopbackServer server([](const ServerRequest& request) {
    if (request.request_number == 1) return ServerReply::text(200, "ok");
    ServerReply reply;
    reply.action = ServerReply::Action::close_without_reply;
    return reply;
  });
  auto client = make_beast_client(io_);
  ASSERT_TRUE(run(*client, get(server.base_url() + "/")).has_value());

  auto second = run(*client, get(server.base_url() + "/"));
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::unavailable);
  EXPECT_NE(second.error().message.find("closed the connection"), std::string::npos) << second.error().message;
  EXPECT_EQ(server.requests_received(), 3u);  // the first, then the second twice
}

TEST_F(HttpClientTest, FreshConnectionDroppedBeforeAnswerIsNotRetried) {
  LoopbackServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.action = ServerReply::Action::close_without_reply;
    return reply;
  });
  auto client = make_beast_client(io_);
  auto request = get(server.base_url() + "/");
  int writes = 0;
  request.write_count = &writes;
  auto response = run(*client, std::move(request));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::unavailable);
  EXPECT_EQ(server.requests_received(), 1u);
  EXPECT_EQ(writes, 1);
}

// ---------------------------------------------------------------------------
// Failures

TEST_F(HttpClientTest, SlowServerTimesOutWithinTheBudget) {
  LoopbackServer server([](const ServerRequest&) {
    auto reply = ServerReply::text(200, "late");
    reply.delay = 3s;
    return reply;
  });
  auto client = make_beast_client(io_);
  auto request = get(server.base_url() + "/slow");
  request.timeout = 300ms;

  const auto start = Clock::now();
  auto response = run(*client, std::move(request));
  const auto elapsed = Clock::now() - start;

  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::unavailable);
  EXPECT_EQ(response.error().message.rfind("timed out after 300 ms", 0), 0u) << response.error().message;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailableAndNamesTheEndpoint) {
  const auto port = test::unused_loopback_port();
  auto client = make_beast_client(io_);
  auto request = get("http://127.0.0.1:" + std::to_string(port) + "/");
  request.headers.push_back({"Authorization", "Bearer top-secret-token"});
  auto response = run(*client, std::move(request));

  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::unavailable);
  const auto& message = response.error().message;
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << message;
  EXPECT_NE(message.find("refused"), std::string::npos) << message;
  EXPECT_EQ(message.find("top-secret-token"), std::string::npos) << message;
}

TEST_F(HttpClientTest, ResetMidResponseIsUnavailableAndTheClientRecovers) {
  LoopbackServer server([](const ServerRequest& request) {
    if (request.target == "/ok") return ServerReply::text(200, "fine");
    ServerReply reply;
    reply.body = std::string(64 * 1024, 'x');
    reply.action = ServerReply::Action::reset_mid_body;
    return reply;
  });
  auto client = make_beast_client(io_);
  auto broken = run(*client, get(server.base_url() + "/reset"));
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(broken.error().code, ErrorCode::unavailable);
  EXPECT_NE(broken.error().message.find("reading the response"), std::string::npos) << broken.error().message;
  EXPECT_EQ(server.requests_received(), 1u);  // partly answered: never re-sent

  auto next = run(*client, get(server.base_url() + "/ok"));
  ASSERT_TRUE(next.has_value()) << next.error().message;
  EXPECT_EQ(next->body, "fine");
  EXPECT_FALSE(next->reused_connection);
}

TEST_F(HttpClientTest, OversizedResponseBodyIsRejected) {
  LoopbackServer server([](const ServerRequest&) { return ServerReply::text(200, std::string(9 * 1024 * 1024, 'y')); });
  auto client = make_beast_client(io_);
  auto response = run(*client, get(server.base_url() + "/big"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::internal);
  EXPECT_NE(response.error().message.find("exceeds"), std::string::npos) << response.error().message;
}

// ---------------------------------------------------------------------------
// Input validation: nothing touches the network

TEST_F(HttpClientTest, PlainHttpToNonLoopbackHostIsRefusedWithoutNetworkActivity) {
  auto client = make_beast_client(io_);
  for (const char* url : {"http://example.com/x", "http://10.1.2.3:8080/", "http://[2001:db8::1]/",
                          "http://localhost.example.com/"}) {
    const auto start = Clock::now();
    auto response = run(*client, get(url));
    ASSERT_FALSE(response.has_value()) << url;
    EXPECT_EQ(response.error().code, ErrorCode::invalid_input) << url;
    EXPECT_NE(response.error().message.find("http://"), std::string::npos) << response.error().message;
    // No resolve, no connect: the answer is immediate.
    EXPECT_LT(Clock::now() - start, 500ms) << url;
  }
}

TEST_F(HttpClientTest, MalformedInputIsInvalidInputAndDoesNotLeakHeaderValues) {
  auto client = make_beast_client(io_);
  for (const char* url : {"not a url", "/relative/path", "ftp://127.0.0.1/", "https://user:pw@127.0.0.1/",
                          "https://127.0.0.1:99999/"}) {
    auto response = run(*client, get(url));
    ASSERT_FALSE(response.has_value()) << url;
    EXPECT_EQ(response.error().code, ErrorCode::invalid_input) << url;
    EXPECT_EQ(response.error().message.find("pw@"), std::string::npos) << response.error().message;
  }

  auto injected = get("https://127.0.0.1/");
  injected.headers.push_back({"Authorization", "secret-value\r\nX-Evil: 1"});
  auto response = run(*client, std::move(injected));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::invalid_input);
  EXPECT_NE(response.error().message.find("Authorization"), std::string::npos) << response.error().message;
  EXPECT_EQ(response.error().message.find("secret-value"), std::string::npos) << response.error().message;

  auto bad_method = get("https://127.0.0.1/");
  bad_method.method = "GE T";
  response = run(*client, std::move(bad_method));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::invalid_input);

  auto big = get("https://127.0.0.1/");
  big.method = "POST";
  big.body = std::string(8 * 1024 * 1024 + 1, 'z');
  response = run(*client, std::move(big));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::invalid_input);
}

// ---------------------------------------------------------------------------
// TLS

/// One CA for the whole suite: its certificate goes to a temp file, as a
/// deployment's private CA would.
const test::TestCertificateAuthority& test_ca() {
  static const test::TestCertificateAuthority ca;
  return ca;
}

class HttpClientTlsTest : public HttpClientTest {
 protected:
  ClientOptions trusting_options() const {
    ClientOptions options;
    options.extra_ca_file = ca_file_.path().string();
    return options;
  }

  test::TempFile ca_file_{test_ca().certificate_pem()};
};

TEST_F(HttpClientTlsTest, RoundTripWithExtraCaAndKeepAlive) {
  LoopbackServer server([](const ServerRequest& request) { return ServerReply::text(200, "tls " + request.method); },
                        test_ca().issue({"localhost", "127.0.0.1"}));
  auto client = make_beast_client(io_, trusting_options());
  for (int i = 0; i < 3; ++i) {
    auto response = run(*client, get(server.base_url() + "/secure"));
    ASSERT_TRUE(response.has_value()) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "tls GET");
    EXPECT_EQ(response->reused_connection, i > 0);
  }
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST_F(HttpClientTlsTest, IpAddressIsVerifiedAgainstIpSubjectAltName) {
  LoopbackServer server({}, test_ca().issue({"localhost", "127.0.0.1"}));
  auto client = make_beast_client(io_, trusting_options());
  auto response = run(*client, get(server.url_for_host("127.0.0.1") + "/"));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpClientTlsTest, UntrustedCaFailsVerification) {
  LoopbackServer server({}, test_ca().issue({"localhost", "127.0.0.1"}));
  auto client = make_beast_client(io_);  // system store only
  auto response = run(*client, get(server.base_url() + "/"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::unavailable);
  EXPECT_NE(response.error().message.find("certificate verification failed"), std::string::npos)
      << response.error().message;
  EXPECT_EQ(server.requests_received(), 0u);
}

TEST_F(HttpClientTlsTest, WrongHostNameFailsVerification) {
  LoopbackServer server({}, test_ca().issue({"wrong.example.com"}));
  auto client = make_beast_client(io_, trusting_options());
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto response = run(*client, get(server.url_for_host(host) + "/"));
    ASSERT_FALSE(response.has_value()) << host;
    EXPECT_EQ(response.error().code, ErrorCode::unavailable);
    EXPECT_NE(response.error().message.find("certificate verification failed"), std::string::npos)
        << response.error().message;
    EXPECT_NE(response.error().message.find("mismatch"), std::string::npos) << response.error().message;
  }
  EXPECT_EQ(server.requests_received(), 0u);
}

TEST_F(HttpClientTlsTest, PlainHttpToATlsServerFailsCleanly) {
  LoopbackServer server({}, test_ca().issue({"localhost"}));
  auto client = make_beast_client(io_, trusting_options());
  auto response = run(*client, get("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::unavailable);
}

TEST_F(HttpClientTlsTest, CheckCaFileAcceptsPemAndNamesTheFileOtherwise) {
  EXPECT_TRUE(check_ca_file(ca_file_.path().string()).has_value());
  const auto missing = check_ca_file("/nonexistent/expbridge-ca.pem");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::invalid_input);
  EXPECT_NE(missing.error().message.find("/nonexistent/expbridge-ca.pem"), std::string::npos) << missing.error().message;
  test::TempFile not_pem("this is not a certificate\n");
  const auto garbage = check_ca_file(not_pem.path().string());
  ASSERT_FALSE(garbage.has_value());
  EXPECT_NE(garbage.error().message.find(not_pem.path().string()), std::string::npos) << garbage.error().message;
}

TEST_F(HttpClientTest, ConnectionRefusedCountsNoWrite) {
  const auto port = test::unused_loopback_port();
  auto client = make_beast_client(io_);
  auto request = get("http://127.0.0.1:" + std::to_string(port) + "/");
  int writes = 0;
  request.write_count = &writes;
  auto response = run(*client, std::move(request));
  ASSERT_FALSE(response.has_value());
  EXPECT_FALSE(response.error().request_sent);
  EXPECT_EQ(writes, 0);
}

TEST_F(HttpClientTlsTest, UnreadableExtraCaFileFailsEverySend) {
  ClientOptions options;
  options.extra_ca_file = "/nonexistent/expbridge-ca.pem";
  auto client = make_beast_client(io_, options);
  auto response = run(*client, get("https://127.0.0.1:1/"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::invalid_input);
  EXPECT_NE(response.error().message.find("extra_ca_file"), std::string::npos) << response.error().message;
}

}  // namespace
}  // namespace expbridge::http
