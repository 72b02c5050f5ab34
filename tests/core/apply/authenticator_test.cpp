// Tests for the request authenticators: SigV4 (recomputed independently with the
// signer), a raw token header, and OAuth client credentials against a loopback token
// endpoint. Everything runs on 127.0.0.1, bounded to a few seconds; the AWS keys are the
// documentation's examples.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "apply/authenticator.hpp"
#include "auth/sigv4.hpp"
#include "http/beast_http_client.hpp"
#include "support/test_resources.hpp"

namespace expbridge::apply {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::LoopbackServer;
using test::ServerReply;
using test::ServerRequest;
using Clock = std::chrono::steady_clock;

constexpr std::string_view k_key_id = "AKIDEXAMPLE";
constexpr std::string_view k_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view k_session_token = "EXAMPLE-SESSION-TOKEN/abc+def==";
constexpr std::string_view k_ld_token = "api-00000000-example-token";
constexpr std::string_view k_client_id = "client-123";
// Characters that form encoding must escape: + / = & and a space.
constexpr std::string_view k_client_secret = "s3cr3t+/=& value";
constexpr std::string_view k_audience = "https://tenant.example.com/api/v2/";

struct FakeEnvironment {
  std::map<std::string, std::string, std::less<>> vars;
  EnvironmentLookup lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      const auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

std::chrono::system_clock::time_point fixed_time(int second) {
  using namespace std::chrono;
  return sys_days{year{2024} / January / 2} + 3h + 4min + seconds(second);
}

std::vector<std::string> header_values(const http::Request& request, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& h : request.headers) {
    if (h.name.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(h.name[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) out.push_back(h.value);
  }
  return out;
}

std::string single_header(const http::Request& request, std::string_view name) {
  const auto values = header_values(request, name);
  EXPECT_EQ(values.size(), 1u) << "header " << name;
  return values.empty() ? std::string() : values.front();
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_.client = client_.get();
    context_.tokens = &cache_;
    context_.env = env_.lookup();
    context_.token_timeout = 2s;
    context_.now = [this] { return now_; };
  }

  Result<std::unique_ptr<Authenticator>> make(const AuthSpec& spec) { return make_authenticator(spec, context_); }

  std::unique_ptr<Authenticator> make_ok(const AuthSpec& spec) {
    auto made = make(spec);
    EXPECT_TRUE(made.has_value()) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }

  /// Runs the io_context until `done` holds or `limit` passes.
  void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    const auto deadline = Clock::now() + limit;
    io_.restart();
    while (!done() && Clock::now() < deadline) {
      if (io_.run_one_for(20ms) == 0 && io_.stopped()) io_.restart();
    }
  }

  /// Starts authorize(); the result lands in the returned slot.
  std::shared_ptr<std::optional<Status>> spawn(Authenticator& authenticator, http::Request& request) {
    auto out = std::make_shared<std::optional<Status>>();
    asio::co_spawn(io_, authenticator.authorize(request), [out](std::exception_ptr e, Status status) {
      if (e)
        *out = std::unexpected(make_error(ErrorCode::internal, "authorize threw"));
      else
        *out = std::move(status);
    });
    return out;
  }

  Status authorize(Authenticator& authenticator, http::Request& request) {
    auto out = spawn(authenticator, request);
    run_until([&] { return out->has_value(); });
    if (!out->has_value()) {
      ADD_FAILURE() << "authorize did not complete in time";
      return std::unexpected(make_error(ErrorCode::internal, "did not complete"));
    }
    return **out;
  }

  Result<http::Response> send(http::Request request) {
    auto out = std::make_shared<std::optional<Result<http::Response>>>();
    asio::co_spawn(io_, client_->send(std::move(request)), [out](std::exception_ptr, Result<http::Response> r) {
      *out = std::move(r);
    });
    run_until([&] { return out->has_value(); });
    if (!out->has_value()) return std::unexpected(make_error(ErrorCode::internal, "did not complete"));
    return std::move(**out);
  }

  // Destroyed last to first: the client before the io_context, the cache after both
  // (a coroutine frame destroyed with the io_context may still touch it).
  TokenCache cache_;
  FakeEnvironment env_;
  asio::io_context io_;
  std::unique_ptr<http::HttpClient> client_ = http::make_beast_client(io_);
  std::chrono::system_clock::time_point now_ = fixed_time(5);
  AuthContext context_;
};

// ---------------------------------------------------------------------------
// sigv4

AuthSpec sigv4_spec(std::string service = "appconfig") {
  AuthSpec spec;
  spec.method = SigV4Auth{std::move(service), "us-east-1", std::nullopt};
  return spec;
}

/// The signature the signer gives for these inputs, computed without the authenticator.
std::string expected_authorization(const std::string& method, const std::string& host, const std::string& path,
                                   const std::string& query,
                                   std::vector<std::pair<std::string, std::string>> headers,
                                   const std::string& body, std::chrono::system_clock::time_point when,
                                   const std::string& session_token = "", const std::string& service = "appconfig") {
  auth::SigningRequest request;
  request.method = method;
  request.path = path;
  request.query = query;
  request.headers = std::move(headers);
  request.headers.emplace_back("host", host);
  request.body = body;
  auth::SigV4Options options;
  options.region = "us-east-1";
  options.service = service;
  const auth::AwsCredentials credentials{std::string(k_key_id), std::string(k_secret), session_token};
  auto parts = auth::sign_v4(request, credentials, options, auth::format_amz_date(when));
  EXPECT_TRUE(parts.has_value()) << parts.error().message;
  return parts ? parts->authorization : std::string();
}

class SigV4AuthenticatorTest : public AuthenticatorTest {
 protected:
  void SetUp() override {
    env_.vars = {{"AWS_ACCESS_KEY_ID", std::string(k_key_id)}, {"AWS_SECRET_ACCESS_KEY", std::string(k_secret)}};
    AuthenticatorTest::SetUp();
  }
};

TEST_F(SigV4AuthenticatorTest, SignsWhatTheSignerSignsForTheSameInputs) {
  auto authenticator = make_ok(sigv4_spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "PATCH";
  request.url = "https://appconfig.us-east-1.amazonaws.com/applications/abc/experimentdefinitions/x%2Fy?b=c%20d&a=1";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = R"({"Name":"exp"})";

  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  EXPECT_EQ(single_header(request, "x-amz-date"), "20240102T030405Z");
  EXPECT_TRUE(header_values(request, "x-amz-security-token").empty());
  const std::string authorization = single_header(request, "authorization");
  EXPECT_EQ(authorization,
            expected_authorization("PATCH", "appconfig.us-east-1.amazonaws.com",
                                   "/applications/abc/experimentdefinitions/x%2Fy", "b=c%20d&a=1",
                                   {{"Content-Type", "application/json"}}, request.body, fixed_time(5)));
  EXPECT_NE(authorization.find("Credential=AKIDEXAMPLE/20240102/us-east-1/appconfig/aws4_request"),
            std::string::npos);
  EXPECT_NE(authorization.find("SignedHeaders=content-type;host;x-amz-date,"), std::string::npos) << authorization;
  // The client adds Host itself; the authenticator only signs it.
  EXPECT_TRUE(header_values(request, "host").empty());
}

TEST_F(SigV4AuthenticatorTest, SessionTokenIsSentAndSigned) {
  env_.vars["AWS_SESSION_TOKEN"] = std::string(k_session_token);
  auto authenticator = make_ok(sigv4_spec("evidently"));
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "GET";
  request.url = "https://evidently.us-east-1.amazonaws.com/projects/p/features";

  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  EXPECT_EQ(single_header(request, "x-amz-security-token"), k_session_token);
  const std::string authorization = single_header(request, "authorization");
  EXPECT_NE(authorization.find("SignedHeaders=host;x-amz-date;x-amz-security-token,"), std::string::npos);
  EXPECT_EQ(authorization, expected_authorization("GET", "evidently.us-east-1.amazonaws.com", "/projects/p/features",
                                                  "", {}, "", fixed_time(5), std::string(k_session_token),
                                                  "evidently"));
}

TEST_F(SigV4AuthenticatorTest, ResigningReplacesTheHeaders) {
  env_.vars["AWS_SESSION_TOKEN"] = std::string(k_session_token);
  AuthSpec spec = sigv4_spec();
  spec.headers = {{"X-Fixed", "1"}};
  auto authenticator = make_ok(spec);
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "POST";
  request.url = "https://appconfig.us-east-1.amazonaws.com/applications/abc/experiments";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = "{}";

  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  const std::string first = single_header(request, "authorization");
  now_ = fixed_time(47);  // the retry happens later
  ASSERT_TRUE(authorize(*authenticator, request).has_value());

  EXPECT_EQ(request.headers.size(), 5u);  // content-type, x-fixed, date, token, authorization
  EXPECT_EQ(single_header(request, "x-amz-date"), "20240102T030447Z");
  EXPECT_EQ(single_header(request, "x-amz-security-token"), k_session_token);
  EXPECT_EQ(single_header(request, "x-fixed"), "1");
  const std::string second = single_header(request, "authorization");
  EXPECT_NE(first, second);
  EXPECT_EQ(second, expected_authorization("POST", "appconfig.us-east-1.amazonaws.com",
                                           "/applications/abc/experiments", "",
                                           {{"Content-Type", "application/json"}, {"X-Fixed", "1"}}, "{}",
                                           fixed_time(47), std::string(k_session_token)));
}

TEST_F(SigV4AuthenticatorTest, HostIncludesANonDefaultPort) {
  auto authenticator = make_ok(sigv4_spec());
  ASSERT_TRUE(authenticator);
  for (const auto& [url, host] : std::vector<std::pair<std::string, std::string>>{
           {"https://appconfig.example.com:8443/applications", "appconfig.example.com:8443"},
           {"https://appconfig.example.com/applications", "appconfig.example.com"},
           {"http://127.0.0.1:4566/applications", "127.0.0.1:4566"}}) {
    http::Request request;
    request.method = "GET";
    request.url = url;
    ASSERT_TRUE(authorize(*authenticator, request).has_value()) << url;
    EXPECT_EQ(single_header(request, "authorization"),
              expected_authorization("GET", host, "/applications", "", {}, "", fixed_time(5)))
        << url;
  }
}

TEST_F(SigV4AuthenticatorTest, SignatureMatchesTheRequestAsReceived) {
  // End to end: what the server receives (Host as the client wrote it, the wire path)
  // must verify against the Authorization it carries.
  env_.vars["AWS_SESSION_TOKEN"] = std::string(k_session_token);
  LoopbackServer server;
  auto authenticator = make_ok(sigv4_spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "PATCH";
  request.url = server.base_url() + "/applications/abc/experimentdefinitions/x%2Fy?maxResults=5&next=a%2Bb";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = R"({"Description":"d"})";
  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  const auto response = send(request);
  ASSERT_TRUE(response.has_value()) << response.error().message;

  const auto received = server.received_requests();
  ASSERT_EQ(received.size(), 1u);
  const ServerRequest& seen = received.front();
  const std::string authorization = seen.header("authorization").value_or("");
  const auto signed_at = authorization.find("SignedHeaders=");
  ASSERT_NE(signed_at, std::string::npos);
  const auto list_start = signed_at + std::string_view("SignedHeaders=").size();
  const std::string signed_list = authorization.substr(list_start, authorization.find(',', list_start) - list_start);
  EXPECT_EQ(signed_list, "content-type;host;x-amz-date;x-amz-security-token");

  auth::SigningRequest again;
  again.method = seen.method;
  const auto question = seen.target.find('?');
  again.path = seen.target.substr(0, question);
  if (question != std::string::npos) again.query = seen.target.substr(question + 1);
  for (const auto& [name, value] : seen.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((";" + signed_list + ";").find(";" + lower + ";") != std::string::npos) again.headers.emplace_back(name, value);
  }
  again.body = seen.body;
  auth::SigV4Options options;
  options.region = "us-east-1";
  options.service = "appconfig";
  const auth::AwsCredentials credentials{std::string(k_key_id), std::string(k_secret), std::string(k_session_token)};
  const auto parts = auth::sign_v4(again, credentials, options, seen.header("x-amz-date").value_or(""));
  ASSERT_TRUE(parts.has_value()) << parts.error().message;
  EXPECT_EQ(parts->authorization, authorization);
  EXPECT_EQ(seen.header("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST_F(SigV4AuthenticatorTest, ProfileParameterSelectsTheProfile) {
  test::TempFile file("[staging]\naws_access_key_id = AKIDEXAMPLESTAGING\naws_secret_access_key = " +
                          std::string(k_secret) + "\n",
                      ".ini");
  env_.vars["AWS_SHARED_CREDENTIALS_FILE"] = file.path().string();
  AuthSpec spec = sigv4_spec();
  std::get<SigV4Auth>(spec.method).profile = "staging";
  auto authenticator = make_ok(spec);
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "GET";
  request.url = "https://appconfig.us-east-1.amazonaws.com/applications";
  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  EXPECT_NE(single_header(request, "authorization").find("Credential=AKIDEXAMPLESTAGING/"), std::string::npos);
}

TEST_F(AuthenticatorTest, SigV4WithoutCredentialsFailsAtConstruction) {
  env_.vars = {{"HOME", "/nonexistent/expbridge-test-home"}};
  context_.env = env_.lookup();
  auto made = make(sigv4_spec());
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::unauthorized);
  EXPECT_NE(made.error().message.find("AWS_ACCESS_KEY_ID"), std::string::npos) << made.error().message;
  EXPECT_NE(made.error().message.find("'default'"), std::string::npos) << made.error().message;
}

TEST_F(SigV4AuthenticatorTest, MissingRegionIsAnInternalError) {
  AuthSpec spec = sigv4_spec();
  std::get<SigV4Auth>(spec.method).region.clear();
  auto made = make(spec);
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::internal);
  EXPECT_NE(made.error().message.find("region"), std::string::npos);
}

// ---------------------------------------------------------------------------
// header_token, none, unknown

AuthSpec launchdarkly_spec() {
  AuthSpec spec;
  spec.method = HeaderTokenAuth{"Authorization", "LD_API_TOKEN", std::nullopt};
  spec.headers = {{"LD-API-Version", "20240415"}};
  return spec;
}

TEST_F(AuthenticatorTest, HeaderTokenSendsTheRawTokenAndFixedHeaders) {
  env_.vars = {{"LD_API_TOKEN", std::string(k_ld_token)}};
  context_.env = env_.lookup();
  auto authenticator = make_ok(launchdarkly_spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "PATCH";
  request.url = "https://app.launchdarkly.com/api/v2/flags/p/f";
  request.headers = {{"Content-Type", "application/json"}};
  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  ASSERT_TRUE(authorize(*authenticator, request).has_value());  // a retry: no duplicates
  EXPECT_EQ(single_header(request, "Authorization"), k_ld_token);  // no "Bearer "
  EXPECT_EQ(single_header(request, "LD-API-Version"), "20240415");
  EXPECT_EQ(request.headers.size(), 3u);
  EXPECT_FALSE(authenticator->forget_credentials());
}

TEST_F(AuthenticatorTest, HeaderTokenWithoutTheVariableNamesIt) {
  auto made = make(launchdarkly_spec());
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::unauthorized);
  EXPECT_NE(made.error().message.find("LD_API_TOKEN"), std::string::npos) << made.error().message;
}

TEST_F(AuthenticatorTest, NoneAddsOnlyFixedHeaders) {
  AuthSpec spec;
  spec.method = NoAuth{};
  spec.headers = {{"X-Api-Version", "3"}};
  auto authenticator = make_ok(spec);
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "GET";
  request.url = "https://example.com/";
  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  ASSERT_EQ(request.headers.size(), 1u);
  EXPECT_EQ(single_header(request, "x-api-version"), "3");
}

TEST_F(AuthenticatorTest, HeaderTokenPrefixGoesBeforeTheToken) {
  env_.vars = {{"LD_API_TOKEN", std::string(k_ld_token)}};
  context_.env = env_.lookup();
  AuthSpec spec = launchdarkly_spec();
  std::get<HeaderTokenAuth>(spec.method).prefix = "Bearer ";
  auto authenticator = make_ok(spec);
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "GET";
  request.url = "https://app.launchdarkly.com/api/v2/flags/p";
  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  EXPECT_EQ(single_header(request, "Authorization"), "Bearer " + std::string(k_ld_token));
}

TEST_F(AuthenticatorTest, ASpecThatFailsItsCheckIsInternal) {
  // Specs from adapters were checked at load time; a hand-built bad one is a caller's bug.
  AuthSpec spec = launchdarkly_spec();
  std::get<HeaderTokenAuth>(spec.method).env = "LD API TOKEN";
  auto made = make(spec);
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::internal);
  EXPECT_NE(made.error().message.find("auth.env"), std::string::npos) << made.error().message;
}

// ---------------------------------------------------------------------------
// oauth_client_credentials

/// A loopback token endpoint handing out tok-1, tok-2, ... (expires_in configurable).
class OAuthTokenTest : public AuthenticatorTest {
 protected:
  void SetUp() override {
    env_.vars = {{"AUTH0_CLIENT_ID", std::string(k_client_id)},
                 {"AUTH0_CLIENT_SECRET", std::string(k_client_secret)}};
    AuthenticatorTest::SetUp();
  }

  /// Token answers after `delay`, living `expires_in` seconds.
  void serve_tokens(std::chrono::milliseconds delay = 0ms) {
    server_.set_handler([this, delay](const ServerRequest&) {
      const int n = ++issued_;
      ServerReply reply;
      reply.headers.emplace_back("Content-Type", "application/json");
      reply.body = R"({"access_token":"tok-)" + std::to_string(n) + R"(","token_type":"Bearer","expires_in":)" +
                   std::to_string(expires_in_.load()) + R"(,"scope":"read:experimentation"})";
      reply.delay = delay;
      return reply;
    });
  }

  AuthSpec spec(std::string audience = std::string(k_audience)) const {
    AuthSpec s;
    s.method = OAuthClientCredentialsAuth{server_.base_url() + "/oauth/token", std::move(audience), "AUTH0_CLIENT_ID",
                                          "AUTH0_CLIENT_SECRET"};
    return s;
  }

  std::string bearer_after_authorize(Authenticator& authenticator) {
    http::Request request;
    request.method = "GET";
    request.url = "https://tenant.example.com/api/v2/experimentation/experiments";
    const auto status = authorize(authenticator, request);
    if (!status) return "error: " + status.error().message;
    return single_header(request, "Authorization");
  }

  void expect_no_secret(const Error& error) const {
    EXPECT_EQ(error.message.find(k_client_secret), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find(auth::uri_encode(k_client_secret)), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find("s3cr3t"), std::string::npos) << error.message;
  }

  std::atomic<int> issued_{0};
  std::atomic<int> expires_in_{86400};
  LoopbackServer server_;
};

TEST_F(OAuthTokenTest, PostsTheFormAndSetsABearerToken) {
  serve_tokens();
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-1");

  const auto received = server_.received_requests();
  ASSERT_EQ(received.size(), 1u);
  const ServerRequest& token_request = received.front();
  EXPECT_EQ(token_request.method, "POST");
  EXPECT_EQ(token_request.target, "/oauth/token");
  EXPECT_EQ(token_request.header("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(token_request.body,
            "grant_type=client_credentials&client_id=client-123&client_secret=s3cr3t%2B%2F%3D%26%20value"
            "&audience=https%3A%2F%2Ftenant.example.com%2Fapi%2Fv2%2F");
  EXPECT_EQ(cache_.fetches, 1);
}

TEST_F(OAuthTokenTest, OneFetchServesEveryBackendAndCall) {
  serve_tokens();
  auto first = make_ok(spec());
  auto second = make_ok(spec());
  ASSERT_TRUE(first && second);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(bearer_after_authorize(*first), "Bearer tok-1");
    EXPECT_EQ(bearer_after_authorize(*second), "Bearer tok-1");
  }
  EXPECT_EQ(cache_.fetches, 1);
  EXPECT_EQ(server_.requests_received(), 1u);
}

TEST_F(OAuthTokenTest, AnotherAudienceIsAnotherToken) {
  serve_tokens();
  auto first = make_ok(spec());
  auto other = make_ok(spec("https://other.example.com/api/v2/"));
  ASSERT_TRUE(first && other);
  EXPECT_EQ(bearer_after_authorize(*first), "Bearer tok-1");
  EXPECT_EQ(bearer_after_authorize(*other), "Bearer tok-2");
  EXPECT_EQ(bearer_after_authorize(*first), "Bearer tok-1");
  EXPECT_EQ(cache_.fetches, 2);
}

TEST_F(OAuthTokenTest, RetryingReplacesTheAuthorizationHeader) {
  serve_tokens();
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.method = "GET";
  request.url = "https://tenant.example.com/api/v2/experimentation/experiments";
  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  ASSERT_TRUE(authenticator->forget_credentials());
  ASSERT_TRUE(authorize(*authenticator, request).has_value());
  EXPECT_EQ(single_header(request, "Authorization"), "Bearer tok-2");
}

TEST_F(OAuthTokenTest, ExpiredTokenIsFetchedAgain) {
  serve_tokens();
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-1");
  ASSERT_EQ(cache_.entries.size(), 1u);
  // 86400 s: refreshed 10 % early, i.e. after 77760 s.
  const auto lifetime = cache_.entries.begin()->second.refresh_at - Clock::now();
  EXPECT_GT(lifetime, std::chrono::seconds(77700));
  EXPECT_LE(lifetime, std::chrono::seconds(77760));

  cache_.entries.begin()->second.refresh_at = Clock::now() - 1s;  // time passes
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-2");
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-2");
  EXPECT_EQ(cache_.fetches, 2);
}

TEST_F(OAuthTokenTest, ShortLivedTokenIsNotReused) {
  // 8 s minus the 10 s minimum margin: stale at once, so every call fetches.
  expires_in_ = 8;
  serve_tokens();
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-1");
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-2");
  EXPECT_EQ(cache_.fetches, 2);
}

TEST_F(OAuthTokenTest, ForgetCredentialsFetchesAgain) {
  serve_tokens();
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-1");
  EXPECT_TRUE(authenticator->forget_credentials());
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-2");
  EXPECT_EQ(cache_.fetches, 2);
}

TEST_F(OAuthTokenTest, ForgettingKeepsATokenAnotherBackendAlreadyRenewed) {
  // Both backends were refused tok-1; the first renews it, the second must not throw
  // the renewed token away.
  serve_tokens();
  auto first = make_ok(spec());
  auto second = make_ok(spec());
  ASSERT_TRUE(first && second);
  EXPECT_EQ(bearer_after_authorize(*first), "Bearer tok-1");
  EXPECT_EQ(bearer_after_authorize(*second), "Bearer tok-1");
  EXPECT_TRUE(first->forget_credentials());
  EXPECT_EQ(bearer_after_authorize(*first), "Bearer tok-2");
  EXPECT_TRUE(second->forget_credentials());
  EXPECT_EQ(bearer_after_authorize(*second), "Bearer tok-2");
  EXPECT_EQ(cache_.fetches, 2);
}

TEST_F(OAuthTokenTest, ConcurrentAuthorizeFetchesOnce) {
  serve_tokens(200ms);  // slow enough for every caller to arrive during the fetch
  auto first = make_ok(spec());
  auto second = make_ok(spec());
  ASSERT_TRUE(first && second);
  std::vector<http::Request> requests(4);
  std::vector<std::shared_ptr<std::optional<Status>>> results;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    requests[i].method = "GET";
    requests[i].url = "https://tenant.example.com/api/v2/experimentation/experiments";
    results.push_back(spawn(i % 2 == 0 ? *first : *second, requests[i]));
  }
  run_until([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r->has_value(); });
  });
  for (std::size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(results[i]->has_value()) << "authorize " << i << " did not complete";
    ASSERT_TRUE(results[i]->value().has_value()) << results[i]->value().error().message;
    EXPECT_EQ(single_header(requests[i], "Authorization"), "Bearer tok-1");
  }
  EXPECT_EQ(cache_.fetches, 1);
  EXPECT_EQ(server_.requests_received(), 1u);
  EXPECT_TRUE(cache_.in_progress.empty());
}

TEST_F(OAuthTokenTest, ConcurrentCallersShareAFailure) {
  server_.set_handler([](const ServerRequest&) {
    ServerReply reply = ServerReply::text(401, R"({"error":"access_denied","error_description":"Unauthorized"})");
    reply.delay = 150ms;
    return reply;
  });
  auto first = make_ok(spec());
  auto second = make_ok(spec());
  ASSERT_TRUE(first && second);
  http::Request a, b;
  a.url = b.url = "https://tenant.example.com/api/v2/x";
  auto ra = spawn(*first, a);
  auto rb = spawn(*second, b);
  run_until([&] { return ra->has_value() && rb->has_value(); });
  ASSERT_TRUE(ra->has_value() && rb->has_value());
  ASSERT_FALSE(ra->value().has_value());
  ASSERT_FALSE(rb->value().has_value());
  EXPECT_EQ(ra->value().error().code, ErrorCode::unauthorized);
  EXPECT_EQ(rb->value().error().code, ErrorCode::unauthorized);
  EXPECT_EQ(server_.requests_received(), 1u);
  EXPECT_TRUE(header_values(a, "Authorization").empty());
}

TEST_F(OAuthTokenTest, RefusedCredentialsAreUnauthorizedWithoutTheSecret) {
  server_.set_handler([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 401;
    reply.headers.emplace_back("Content-Type", "application/json");
    reply.body = R"({"error":"access_denied","error_description":"Unauthorized"})";
    return reply;
  });
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.url = "https://tenant.example.com/api/v2/x";
  const auto status = authorize(*authenticator, request);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::unauthorized);
  EXPECT_EQ(status.error().http_status, 401);
  EXPECT_NE(status.error().message.find("access_denied: Unauthorized"), std::string::npos) << status.error().message;
  EXPECT_NE(status.error().message.find("AUTH0_CLIENT_ID"), std::string::npos) << status.error().message;
  expect_no_secret(status.error());
  EXPECT_TRUE(cache_.entries.empty());
}

TEST_F(OAuthTokenTest, AnEchoedSecretIsRedacted) {
  server_.set_handler([](const ServerRequest& request) {
    ServerReply reply;
    reply.status = 403;
    reply.body = R"({"error":"invalid_client","error_description":"bad )" + request.body + R"( / s3cr3t+/=& value"})";
    return reply;
  });
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.url = "https://tenant.example.com/api/v2/x";
  const auto status = authorize(*authenticator, request);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::unauthorized);
  EXPECT_NE(status.error().message.find("[redacted]"), std::string::npos) << status.error().message;
  expect_no_secret(status.error());
}

TEST_F(OAuthTokenTest, ServerErrorsAndThrottlingAreTransient) {
  std::atomic<int> status{503};
  server_.set_handler([&status](const ServerRequest&) { return ServerReply::text(status.load(), "busy"); });
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.url = "https://tenant.example.com/api/v2/x";
  auto result = authorize(*authenticator, request);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::unavailable);
  status = 429;
  result = authorize(*authenticator, request);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::rate_limited);
}

TEST_F(OAuthTokenTest, UnusableAnswerIsInternalAndNotQuoted) {
  server_.set_handler([](const ServerRequest&) {
    return ServerReply::text(200, R"({"token":"tok-not-where-expected","expires_in":3600})");
  });
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.url = "https://tenant.example.com/api/v2/x";
  const auto status = authorize(*authenticator, request);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::internal);
  EXPECT_EQ(status.error().message.find("tok-not-where-expected"), std::string::npos);
}

TEST_F(OAuthTokenTest, UnreachableEndpointIsUnavailable) {
  AuthSpec s = spec();
  std::get<OAuthClientCredentialsAuth>(s.method).token_url = "http://127.0.0.1:" + std::to_string(test::unused_loopback_port()) + "/oauth/token";
  auto authenticator = make_ok(s);
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.url = "https://tenant.example.com/api/v2/x";
  const auto status = authorize(*authenticator, request);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::unavailable);
  expect_no_secret(status.error());
  EXPECT_TRUE(cache_.in_progress.empty());
}

TEST_F(OAuthTokenTest, SlowEndpointTimesOut) {
  serve_tokens(3s);
  context_.token_timeout = 300ms;
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  http::Request request;
  request.url = "https://tenant.example.com/api/v2/x";
  const auto started = Clock::now();
  const auto status = authorize(*authenticator, request);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::unavailable);
  EXPECT_LT(Clock::now() - started, 2s);
}

/// A client whose answers never come (until its io_context is torn down).
class StuckClient final : public http::HttpClient {
 public:
  asio::awaitable<Result<http::Response>> send(http::Request) override {
    ++sends;
    asio::steady_timer never(co_await asio::this_coro::executor);
    never.expires_after(1h);
    co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return std::unexpected(make_error(ErrorCode::unavailable, "stuck"));
  }
  int sends = 0;
};

TEST_F(OAuthTokenTest, FetchAbandonedAtTeardownLeavesTheCacheUsable) {
  // A run torn down mid-fetch destroys the suspended coroutines with its io_context,
  // in whatever order; the cache may go first (as in the applier) or last (here).
  StuckClient stuck;
  auto cache = std::make_unique<TokenCache>();
  {
    asio::io_context io;
    AuthContext context = context_;
    context.client = &stuck;
    context.tokens = cache.get();
    auto fetcher = make_authenticator(spec(), context);
    auto waiter = make_authenticator(spec(), context);
    ASSERT_TRUE(fetcher.has_value() && waiter.has_value());
    http::Request a, b;
    asio::co_spawn(io, (*fetcher)->authorize(a), asio::detached);
    asio::co_spawn(io, (*waiter)->authorize(b), asio::detached);
    io.run_for(50ms);
    EXPECT_EQ(stuck.sends, 1);
    EXPECT_EQ(cache->in_progress.size(), 1u);
  }  // io_context destroyed with both coroutines suspended

  // The abandoned entry does not block the next run.
  serve_tokens();
  context_.tokens = cache.get();
  auto authenticator = make_ok(spec());
  ASSERT_TRUE(authenticator);
  EXPECT_EQ(bearer_after_authorize(*authenticator), "Bearer tok-1");
  EXPECT_TRUE(cache->in_progress.empty());

  // And the other order: the cache gone before the io_context.
  {
    asio::io_context io;
    auto early_cache = std::make_unique<TokenCache>();
    AuthContext context = context_;
    context.client = &stuck;
    context.tokens = early_cache.get();
    auto fetcher = make_authenticator(spec(), context);
    auto waiter = make_authenticator(spec(), context);
    ASSERT_TRUE(fetcher.has_value() && waiter.has_value());
    http::Request a, b;
    asio::co_spawn(io, (*fetcher)->authorize(a), asio::detached);
    asio::co_spawn(io, (*waiter)->authorize(b), asio::detached);
    io.run_for(50ms);
    early_cache.reset();
  }
  context_.tokens = &cache_;
}

TEST_F(OAuthTokenTest, MissingClientSecretFailsAtConstruction) {
  env_.vars.erase("AUTH0_CLIENT_SECRET");
  auto made = make(spec());
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::unauthorized);
  EXPECT_NE(made.error().message.find("AUTH0_CLIENT_SECRET"), std::string::npos) << made.error().message;
  expect_no_secret(made.error());
}

}  // namespace
}  // namespace expbridge::apply
