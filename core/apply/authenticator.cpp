// Authenticating vendor requests (see authenticator.hpp): SigV4, a raw token header,
// or an OAuth client-credentials bearer token shared through a TokenCache.
//
// Secrets (AWS keys, tokens, client secrets) live only in these objects and in the
// headers they add; no message built here contains one.
#include "apply/authenticator.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "auth/sigv4.hpp"
#include "secrets.hpp"

namespace expbridge::apply {

namespace asio = boost::asio;

/// One token fetch under way. Waiters sleep on timers in their own coroutine frames
/// (armed with a deadline, so a lost fetch cannot hang them) and register them here;
/// finish() stores the outcome and cancels those timers to wake them. Holding no Asio
/// object itself, it may outlive the io_context in either destruction order.
struct TokenCache::PendingFetch {
  std::optional<Result<std::string>> outcome;  // the access token (a secret) or why there is none
  std::vector<asio::steady_timer*> waiters;

  void finish(Result<std::string> result) {
    if (outcome) return;
    outcome = std::move(result);
    for (auto* timer : waiters) timer->cancel();
  }
};

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

void remove_header(http::Request& request, std::string_view name) {
  std::erase_if(request.headers, [&](const http::Header& h) { return iequals(h.name, name); });
}

bool has_header(const http::Request& request, std::string_view name) {
  return std::any_of(request.headers.begin(), request.headers.end(),
                     [&](const http::Header& h) { return iequals(h.name, name); });
}

/// Sets `name` to `value`, replacing any earlier value: authorize() runs again on the
/// same request for every retry, and a header sent twice is a different request.
void set_header(http::Request& request, const std::string& name, std::string value) {
  remove_header(request, name);
  request.headers.push_back({name, std::move(value)});
}

/// The base of every authenticator: the spec's fixed, non-secret headers.
class BaseAuthenticator : public Authenticator {
 public:
  explicit BaseAuthenticator(std::vector<std::pair<std::string, std::string>> fixed) : fixed_(std::move(fixed)) {}

 protected:
  void add_fixed_headers(http::Request& request) const {
    for (const auto& [name, value] : fixed_) set_header(request, name, value);
  }

 private:
  std::vector<std::pair<std::string, std::string>> fixed_;
};

// ---------------------------------------------------------------------------
// none

class NoAuthenticator final : public BaseAuthenticator {
 public:
  using BaseAuthenticator::BaseAuthenticator;

  asio::awaitable<Status> authorize(http::Request& request) override {
    add_fixed_headers(request);
    co_return Status{};
  }
};

// ---------------------------------------------------------------------------
// header_token (LaunchDarkly: the raw token in Authorization, no "Bearer ")

class HeaderTokenAuthenticator final : public BaseAuthenticator {
 public:
  HeaderTokenAuthenticator(std::vector<std::pair<std::string, std::string>> fixed, std::string header,
                           std::string token)
      : BaseAuthenticator(std::move(fixed)), header_(std::move(header)), token_(std::move(token)) {}

  asio::awaitable<Status> authorize(http::Request& request) override {
    add_fixed_headers(request);
    set_header(request, header_, token_);
    co_return Status{};
  }

 private:
  std::string header_;
  std::string token_;  // a secret
};

// ---------------------------------------------------------------------------
// sigv4 (AppConfig, Evidently)

class SigV4Authenticator final : public BaseAuthenticator {
 public:
  SigV4Authenticator(std::vector<std::pair<std::string, std::string>> fixed, auth::AwsCredentials credentials,
                     auth::SigV4Options options, std::function<std::chrono::system_clock::time_point()> now)
      : BaseAuthenticator(std::move(fixed)),
        credentials_(std::move(credentials)),
        options_(std::move(options)),
        now_(std::move(now)) {}

  asio::awaitable<Status> authorize(http::Request& request) override { co_return sign(request); }

 private:
  Status sign(http::Request& request) const {
    // A retry re-signs the same request at a new time: what the last signature added
    // must go first, or the signer would see (and reject) the old x-amz-date.
    for (std::string_view name : {"authorization", "x-amz-date", "x-amz-security-token"}) remove_header(request, name);
    add_fixed_headers(request);  // before signing, so they are covered by the signature

    auto parsed = boost::urls::parse_uri(request.url);
    // The URL is not quoted back: some vendors accept keys in the query.
    if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty())
      return std::unexpected(make_error(ErrorCode::invalid_input, "cannot sign a request without a valid absolute URL"));
    const boost::urls::url_view url = *parsed;

    auth::SigningRequest signing;
    signing.method = request.method;
    signing.path = std::string(url.encoded_path());
    if (url.has_query()) signing.query = std::string(url.encoded_query());
    signing.headers.reserve(request.headers.size() + 1);
    for (const auto& h : request.headers) signing.headers.emplace_back(h.name, h.value);
    // The HTTP client sends `Host` as the URL spells it (encoded host and port, the
    // port only when the URL names one); signing that exact string is what makes the
    // signature match what AWS receives. A caller-set Host is sent, so it is signed instead.
    if (!has_header(request, "host")) signing.headers.emplace_back("host", std::string(url.encoded_host_and_port()));
    signing.body = request.body;

    const auto now = now_ ? now_() : std::chrono::system_clock::now();
    auto parts = auth::sign_v4(signing, credentials_, options_, auth::format_amz_date(now));
    if (!parts) return std::unexpected(std::move(parts).error());
    // A signature is a credential for its request (replayable until x-amz-date is stale).
    secrets::register_recent_secret(parts->signature);
    for (auto& [name, value] : parts->headers_to_add) request.headers.push_back({name, std::move(value)});
    return {};
  }

  auth::AwsCredentials credentials_;  // secrets
  auth::SigV4Options options_;
  std::function<std::chrono::system_clock::time_point()> now_;
};

// ---------------------------------------------------------------------------
// oauth_client_credentials (Auth0)

/// application/x-www-form-urlencoded with RFC 3986 escaping: every byte outside the
/// unreserved set is %XX, so `+`, `&`, `=` and spaces in a secret survive intact.
std::string form_encode(const std::vector<std::pair<std::string_view, std::string_view>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += auth::uri_encode(name);
    out += '=';
    out += auth::uri_encode(value);
  }
  return out;
}

/// A vendor-supplied text made safe to show: `secret` (raw or form-encoded, in case the
/// endpoint echoes the request) replaced, control characters blanked, length bounded.
std::string sanitize_vendor_text(std::string text, const std::string& secret) {
  if (!secret.empty()) {
    for (const std::string& needle : {secret, auth::uri_encode(secret)}) {
      for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at))
        text.replace(at, needle.size(), "[redacted]");
    }
  }
  text = secrets::scrub(text);
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  constexpr std::size_t limit = 300;
  if (text.size() > limit) text = text.substr(0, limit) + "...";
  return text;
}

/// `error: error_description` from an OAuth error body (RFC 6749 §5.2), or "".
std::string oauth_error_text(const std::string& body) {
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(body, ec);
  if (ec || !json.is_object()) return {};
  const auto& object = json.get_object();
  std::string out;
  for (std::string_view key : {"error", "error_description"}) {
    const auto* field = object.if_contains(key);
    if (field == nullptr || !field->is_string() || field->get_string().empty()) continue;
    if (!out.empty()) out += ": ";
    out += std::string(field->get_string());
  }
  return out;
}

struct FetchedToken {
  std::string access_token;  // a secret
  Clock::time_point refresh_at;
};

class OAuthClientCredentialsAuthenticator final : public BaseAuthenticator {
 public:
  OAuthClientCredentialsAuthenticator(std::vector<std::pair<std::string, std::string>> fixed, AuthContext context,
                                      std::string token_url, std::string audience, std::string client_id,
                                      std::string client_secret, std::string client_id_env)
      : BaseAuthenticator(std::move(fixed)),
        context_(std::move(context)),
        token_url_(std::move(token_url)),
        audience_(std::move(audience)),
        client_id_(std::move(client_id)),
        client_secret_(std::move(client_secret)),
        client_id_env_(std::move(client_id_env)) {
    // The unit separator cannot appear in a URL or a client id, so keys cannot collide.
    key_ = token_url_ + '\x1f' + client_id_ + '\x1f' + audience_;
  }

  asio::awaitable<Status> authorize(http::Request& request) override {
    // The fetch shares the attempt's budget: a hanging token endpoint must not hold a
    // request (a state read above all) past its backend's deadline.
    auto token = co_await current_token(request.timeout);
    if (!token) co_return std::unexpected(std::move(token).error());
    add_fixed_headers(request);
    set_header(request, "Authorization", "Bearer " + *token);
    last_token_ = std::move(*token);
    co_return Status{};
  }

  bool forget_credentials() override {
    // Drop the token only if it is the one this backend was refused with: another
    // backend of the tenant may already have replaced it, and that one is fresh.
    auto& entries = context_.tokens->entries;
    if (const auto it = entries.find(key_);
        it != entries.end() && (last_token_.empty() || it->second.access_token == last_token_))
      entries.erase(it);
    last_token_.clear();
    return true;
  }

 private:
  /// A fresh cached token, the result of a fetch already under way, or a new fetch.
  asio::awaitable<Result<std::string>> current_token(std::chrono::milliseconds budget) {
    TokenCache& cache = *context_.tokens;
    if (const auto it = cache.entries.find(key_); it != cache.entries.end() && Clock::now() < it->second.refresh_at)
      co_return it->second.access_token;

    if (const auto it = cache.in_progress.find(key_); it != cache.in_progress.end() && !it->second->outcome) {
      const std::shared_ptr<TokenCache::PendingFetch> pending = it->second;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      // The fetch itself is bounded by token_timeout; the margin covers its bookkeeping.
      timer.expires_after(std::min<std::chrono::milliseconds>(context_.token_timeout + 1s, budget));
      pending->waiters.push_back(&timer);
      struct Deregister {  // declared after the timer: runs before it is destroyed
        TokenCache::PendingFetch& pending;
        asio::steady_timer* timer;
        ~Deregister() { std::erase(pending.waiters, timer); }
      } deregister{*pending, &timer};
      // Woken by finish() when the fetch ends, or by the deadline if it never does.
      co_await timer.async_wait(use_tuple);
      if (pending->outcome) co_return *pending->outcome;
      co_return std::unexpected(make_error(
          ErrorCode::unavailable, "timed out waiting for another request's token fetch from " + token_url_));
    }

    auto pending = std::make_shared<TokenCache::PendingFetch>();
    cache.in_progress[key_] = pending;  // replaces an abandoned one, if any
    // Wakes the waiters even when this coroutine is destroyed mid-fetch (io_context torn
    // down). Touches only `pending`: the cache may already be gone by then. The entry
    // left in `in_progress` is then finished, and the next caller fetches anew.
    struct Abandon {
      std::shared_ptr<TokenCache::PendingFetch> pending;
      ~Abandon() {
        pending->finish(std::unexpected(make_error(ErrorCode::unavailable, "the token fetch was abandoned")));
      }
    } abandon{pending};

    ++cache.fetches;
    auto fetched = co_await fetch(budget);
    if (const auto it = cache.in_progress.find(key_); it != cache.in_progress.end() && it->second == pending)
      cache.in_progress.erase(it);
    if (!fetched) {
      pending->finish(std::unexpected(fetched.error()));
      co_return std::unexpected(std::move(fetched).error());
    }
    cache.entries[key_] = TokenCache::Entry{fetched->access_token, fetched->refresh_at};
    pending->finish(fetched->access_token);
    co_return std::move(fetched->access_token);
  }

  Error token_error(ErrorCode code, std::string message, int status = 0) const {
    Error error = make_error(code, "OAuth token request to " + token_url_ + " (client id from " + client_id_env_ +
                                       ") " + std::move(message));
    error.http_status = status;
    return error;
  }

  asio::awaitable<Result<FetchedToken>> fetch(std::chrono::milliseconds budget) {
    std::vector<std::pair<std::string_view, std::string_view>> fields = {
        {"grant_type", "client_credentials"}, {"client_id", client_id_}, {"client_secret", client_secret_}};
    if (!audience_.empty()) fields.emplace_back("audience", audience_);

    http::Request request;
    request.method = "POST";
    request.url = token_url_;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    request.body = form_encode(fields);
    request.timeout = std::min(context_.token_timeout, budget);
    // A second client-credentials grant only issues another token: safe to resend.
    request.idempotent = true;

    // Measured before sending, so the lifetime the server grants is never overestimated.
    const auto requested_at = Clock::now();
    auto response = co_await context_.client->send(std::move(request));
    if (!response) {
      // The client's messages never contain the body (where the secret is).
      // Its codes fit as they are: unavailable (unreachable, timed out), invalid_input
      // (a token URL the client refuses), internal (an unreadable answer).
      const Error& failure = response.error();
      co_return std::unexpected(token_error(failure.code, "failed: " + failure.message));
    }

    const int status = response->status;
    if (status < 200 || status >= 300) {
      std::string detail = sanitize_vendor_text(oauth_error_text(response->body), client_secret_);
      std::string message = "was refused with HTTP " + std::to_string(status);
      if (!detail.empty()) message += " (" + detail + ")";
      ErrorCode code = ErrorCode::internal;
      if (status == 429) {
        code = ErrorCode::rate_limited;
      } else if (status == 408 || status >= 500) {
        code = ErrorCode::unavailable;
      } else if (status >= 400) {
        code = ErrorCode::unauthorized;
        message += "; check the client id, secret and audience";
      }
      co_return std::unexpected(token_error(code, std::move(message), status));
    }

    // The body holds the token: never quote it.
    boost::system::error_code ec;
    const boost::json::value json = boost::json::parse(response->body, ec);
    if (ec || !json.is_object())
      co_return std::unexpected(token_error(ErrorCode::internal, "returned a body that is not a JSON object", status));
    const auto& object = json.get_object();
    const auto* access_token = object.if_contains("access_token");
    if (access_token == nullptr || !access_token->is_string() || access_token->get_string().empty())
      co_return std::unexpected(token_error(ErrorCode::internal, "returned no access_token", status));
    if (const auto* type = object.if_contains("token_type");
        type != nullptr && !(type->is_string() && iequals(type->get_string(), "bearer")))
      co_return std::unexpected(token_error(ErrorCode::internal, "returned a token_type other than Bearer", status));

    // RFC 6749 makes expires_in optional; without it, assume a short life and let a
    // 401 (forget_credentials) catch an earlier expiry.
    double lifetime_s = 300;
    if (const auto* expires_in = object.if_contains("expires_in"); expires_in != nullptr) {
      if (expires_in->is_int64())
        lifetime_s = static_cast<double>(expires_in->get_int64());
      else if (expires_in->is_uint64())
        lifetime_s = static_cast<double>(expires_in->get_uint64());
      else if (expires_in->is_double())
        lifetime_s = expires_in->get_double();
      else
        co_return std::unexpected(token_error(ErrorCode::internal, "returned a non-numeric expires_in", status));
    }
    lifetime_s = std::clamp(lifetime_s, 0.0, 10.0 * 365 * 24 * 3600);
    // Refresh early enough that a token never expires between authorize() and the
    // vendor checking it (clock skew, slow requests): 10 % of its life, at least 10 s.
    const double margin_s = std::max(10.0, lifetime_s / 10);
    const auto usable = std::chrono::milliseconds(static_cast<std::int64_t>((lifetime_s - margin_s) * 1000));

    FetchedToken token;
    token.access_token = std::string(access_token->get_string());
    secrets::register_secret(token.access_token);
    token.refresh_at = requested_at + usable;
    co_return token;
  }

  AuthContext context_;
  std::string token_url_;
  std::string audience_;
  std::string client_id_;
  std::string client_secret_;  // a secret
  std::string client_id_env_;
  std::string key_;
  std::string last_token_;  // the token this backend last sent (a secret)
};

}  // namespace

Result<std::unique_ptr<Authenticator>> make_authenticator(const AuthSpec& spec, AuthContext& context) {
  // The adapter's spec was checked when the config was loaded; one built by other code is
  // checked here, and what fails is that code's bug, not the user's.
  if (auto ok = check_auth(spec); !ok)
    return std::unexpected(make_error(ErrorCode::internal, "auth." + ok.error().field + ": " + ok.error().message));
  using Made = Result<std::unique_ptr<Authenticator>>;
  struct Maker {
    const AuthSpec& spec;
    AuthContext& context;

    Made operator()(const NoAuth&) const { return std::make_unique<NoAuthenticator>(spec.headers); }

    Made operator()(const HeaderTokenAuth& a) const {
      std::string token;
      EXPBRIDGE_ASSIGN_OR_RETURN(token, secret_from_environment(a.env, context.env));
      return std::make_unique<HeaderTokenAuthenticator>(spec.headers, a.header, a.prefix.value_or("") + token);
    }

    Made operator()(const SigV4Auth& a) const {
      auth::SigV4Options options;
      options.service = a.service;
      options.region = a.region;
      // Resolved now so a backend without credentials fails before anything is sent.
      auth::AwsCredentials credentials;
      EXPBRIDGE_ASSIGN_OR_RETURN(credentials, resolve_aws_credentials(a.profile.value_or(""), context.env));
      return std::make_unique<SigV4Authenticator>(spec.headers, std::move(credentials), std::move(options),
                                                  context.now);
    }

    Made operator()(const OAuthClientCredentialsAuth& a) const {
      if (context.client == nullptr || context.tokens == nullptr)
        return std::unexpected(
            make_error(ErrorCode::internal, "oauth_client_credentials needs an HTTP client and a token cache"));
      std::string client_id, client_secret;
      EXPBRIDGE_ASSIGN_OR_RETURN(client_id, secret_from_environment(a.client_id_env, context.env));
      EXPBRIDGE_ASSIGN_OR_RETURN(client_secret, secret_from_environment(a.client_secret_env, context.env));
      return std::make_unique<OAuthClientCredentialsAuthenticator>(spec.headers, context, a.token_url, a.audience,
                                                                   std::move(client_id), std::move(client_secret),
                                                                   a.client_id_env);
    }
  };
  return std::visit(Maker{spec, context}, spec.method);
}

}  // namespace expbridge::apply
