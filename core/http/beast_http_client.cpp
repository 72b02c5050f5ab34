// expbridge — HTTP/1.1 client on Boost.Beast, Asio C++20 coroutines and OpenSSL.
//
// Shape of one `send`:
//   parse + validate (no I/O) -> take an idle pooled connection or resolve,
//   connect, TLS handshake -> write request -> read response -> pool the
//   connection again if the server allows it.
// Every I/O step runs under one deadline computed from `Request::timeout`.
// Failures are values (`as_tuple`), never exceptions.

#include "http/beast_http_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>
#include <boost/version.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

// Boost.URL first shipped in 1.81; older Beast also lacks pieces used here.
static_assert(BOOST_VERSION >= 108100, "expbridge's HTTP client needs Boost 1.81 or later");

namespace expbridge::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Larger bodies are refused both ways: no vendor call we make needs them and
/// the cap bounds memory per in-flight request.
constexpr std::size_t max_body_bytes = 8 * 1024 * 1024;
/// Beast's default (8 KiB) is too tight for some vendors' cookie/trace headers.
constexpr std::uint32_t max_header_bytes = 64 * 1024;
/// A server may send a few `100 Continue`-style interim answers; more is abuse.
constexpr int max_interim_responses = 4;

Error make_failure(ErrorCode code, std::string message) {
  Error error;
  error.code = code;
  error.message = std::move(message);
  return error;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

/// RFC 9110 `token`: method names and header field names.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

/// A value that would split the header block (CR/LF) or truncate it (NUL).
bool is_safe_header_value(std::string_view s) {
  return s.find_first_of(std::string_view{"\r\n\0", 3}) == std::string_view::npos;
}

const Header* find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

/// Where a request goes, derived from its URL.
struct Target {
  bool tls = true;
  std::string host;           ///< for resolve, SNI and verification: lower case, IPv6 without brackets
  std::uint16_t port = 0;
  bool host_is_address = false;
  bool loopback_name = false;  ///< `localhost` over http: only loopback addresses may be used
  std::string host_header;    ///< as the URL spells it: `host[:port]`, IPv6 in brackets
  std::string path;           ///< origin-form request target
  std::string endpoint;       ///< `host:port` for messages
  std::string pool_key;       ///< scheme + endpoint
};

Result<Target> parse_target(std::string_view url) {
  // The URL is never echoed back: vendors sometimes put keys in the query.
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed)
    return std::unexpected(make_failure(ErrorCode::invalid_input,
                                        "request URL is not a valid absolute URL (" + parsed.error().message() + ")"));
  const boost::urls::url_view u = *parsed;

  Target t;
  if (u.scheme_id() == boost::urls::scheme::https) {
    t.tls = true;
  } else if (u.scheme_id() == boost::urls::scheme::http) {
    t.tls = false;
  } else {
    return std::unexpected(make_failure(ErrorCode::invalid_input, "unsupported URL scheme '" + std::string(u.scheme()) +
                                                                      "' (only https, or http to a loopback host)"));
  }
  if (!u.has_authority() || u.encoded_host().empty())
    return std::unexpected(make_failure(ErrorCode::invalid_input, "request URL has no host"));
  if (u.has_userinfo())
    return std::unexpected(make_failure(ErrorCode::invalid_input,
                                        "credentials in the request URL are not supported; send them in a header"));

  bool loopback = false;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6: {
      t.host = std::string(u.encoded_host_address());
      error_code ec;
      auto address = asio::ip::make_address(t.host, ec);
      if (ec) return std::unexpected(make_failure(ErrorCode::invalid_input, "request URL has an invalid IP address"));
      if (address.is_v6() && address.to_v6().is_v4_mapped())
        loopback = address.to_v6().to_v4().is_loopback();
      else
        loopback = address.is_loopback();
      t.host = address.to_string();
      t.host_is_address = true;
      break;
    }
    case boost::urls::host_type::name: {
      t.host = u.host_address();
      for (char& c : t.host) c = ascii_lower(c);
      const bool valid = std::all_of(t.host.begin(), t.host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
      });
      if (!valid)
        return std::unexpected(make_failure(ErrorCode::invalid_input, "request URL has an invalid host name"));
      loopback = t.host == "localhost" || t.host == "localhost.";
      t.loopback_name = loopback;
      break;
    }
    default:
      return std::unexpected(make_failure(ErrorCode::invalid_input, "request URL has an unsupported host form"));
  }

  if (u.has_port()) {
    // Parsed here rather than with port_number(), which wraps values > 65535.
    const std::string_view digits = u.port();
    unsigned long value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535)
      return std::unexpected(make_failure(ErrorCode::invalid_input, "request URL has an invalid port"));
    t.port = static_cast<std::uint16_t>(value);
  } else {
    t.port = t.tls ? 443 : 80;
  }

  t.endpoint = (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) + ":" + std::to_string(t.port);
  if (!t.tls && !loopback)
    return std::unexpected(make_failure(
        ErrorCode::invalid_input,
        "refusing plain http:// to " + t.endpoint + ": only https is allowed except for loopback hosts"));

  t.host_header = std::string(u.encoded_host_and_port());
  t.path = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (u.has_query()) t.path += "?" + std::string(u.encoded_query());
  t.pool_key = std::string(t.tls ? "https://" : "http://") + t.endpoint;
  return t;
}

using BeastRequest = bhttp::request<bhttp::string_body>;

/// Checks what the caller gave and builds the wire request. Messages name
/// headers but never their values (Authorization and friends are secrets).
Result<BeastRequest> build_request(Request& request, const Target& target, const std::string& user_agent) {
  if (!is_token(request.method))
    return std::unexpected(make_failure(ErrorCode::invalid_input, "invalid HTTP method '" + request.method + "'"));
  if (request.body.size() > max_body_bytes)
    return std::unexpected(make_failure(ErrorCode::invalid_input,
                                        "request body of " + std::to_string(request.body.size()) +
                                            " bytes exceeds the limit of " + std::to_string(max_body_bytes)));
  for (const auto& h : request.headers) {
    if (!is_token(h.name))
      return std::unexpected(make_failure(ErrorCode::invalid_input, "invalid request header name"));
    if (!is_safe_header_value(h.value))
      return std::unexpected(
          make_failure(ErrorCode::invalid_input, "request header '" + h.name + "' has a CR, LF or NUL in its value"));
  }
  if (const Header* cl = find_header(request.headers, "Content-Length");
      cl != nullptr && cl->value != std::to_string(request.body.size()))
    return std::unexpected(
        make_failure(ErrorCode::invalid_input, "request Content-Length header does not match the body size"));

  BeastRequest req;
  if (const auto verb = bhttp::string_to_verb(request.method); verb != bhttp::verb::unknown)
    req.method(verb);
  else
    req.method_string(request.method);
  req.target(target.path);
  req.version(11);
  for (const auto& h : request.headers) req.insert(h.name, h.value);
  if (find_header(request.headers, "Host") == nullptr) req.set(bhttp::field::host, target.host_header);
  if (find_header(request.headers, "User-Agent") == nullptr && !user_agent.empty())
    req.set(bhttp::field::user_agent, user_agent);
  const bool body_expected = !request.body.empty() || request.method == "POST" || request.method == "PUT" ||
                             request.method == "PATCH";
  if (body_expected && find_header(request.headers, "Content-Length") == nullptr &&
      find_header(request.headers, "Transfer-Encoding") == nullptr)
    req.content_length(request.body.size());
  req.body() = std::move(request.body);
  return req;
}

/// One transport connection plus its read buffer (which must live as long as
/// the connection: bytes past one message belong to the next).
struct Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

/// Whether an idle pooled connection can still carry a request: the peer has
/// not closed it and has not sent anything unsolicited (a TLS close_notify, a
/// 408, ...). A non-blocking peek at the socket answers without consuming.
bool looks_alive(Connection& c) {
  if (c.buffer.size() != 0) return false;
  auto& socket = c.tcp().socket();
  if (!socket.is_open()) return false;
  error_code ec;
  socket.non_blocking(true, ec);
  if (ec) return false;
  char byte = 0;
  socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
  const bool alive = ec == asio::error::would_block;
  // Restoring blocking mode only matters for synchronous use, which we never do;
  // a failure here does not affect the async operations that follow.
  socket.non_blocking(false, ec);
  return alive;
}

/// Verifies the chain (OpenSSL) and then the host name (Asio). Marks a name
/// mismatch as such so that the error message can say so.
class PeerVerifier {
 public:
  explicit PeerVerifier(std::string host) : check_(std::move(host)) {}
  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    const bool ok = check_(preverified, ctx);
    if (preverified && !ok) X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
    return ok;
  }

 private:
  ssl::host_name_verification check_;
};

/// An exchange failure, and whether re-sending on a fresh connection is safe.
struct ExchangeFailure {
  Error error;
  bool nothing_received = false;
};

/// What came back, plus whether the connection may carry another request.
struct ExchangeResult {
  Response response;
  bool keep_alive = false;
};

bool is_timeout(const error_code& ec) { return ec == beast::error::timeout; }

std::string timed_out(std::chrono::milliseconds budget, std::string_view during) {
  return "timed out after " + std::to_string(budget.count()) + " ms " + std::string(during);
}

/// Shared by a resolve and its waiter so that giving up at the deadline does
/// not leave the completion handler pointing at a dead coroutine frame
/// (getaddrinfo cannot be interrupted; the handler runs whenever it returns).
struct ResolveState {
  explicit ResolveState(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
  tcp::resolver resolver;
  asio::steady_timer timer;
  error_code ec;
  std::vector<tcp::endpoint> endpoints;
  bool done = false;
};

}  // namespace

struct BeastHttpClient::Impl {
  // Nothing about TLS happens here: a run that only talks plain http to loopback emulators,
  // or that fails before its first request, never pays for OpenSSL or the trust store.
  Impl(asio::io_context& io, ClientOptions opts) : io_(io), options_(std::move(opts)) {}

  /// The TLS context, made on the first https connection and kept for the client's life.
  Result<ssl::context*> tls_context();

  asio::awaitable<Result<Response>> send(Request request);

  asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve(const Target& target, Clock::time_point deadline,
                                                              std::chrono::milliseconds budget);
  asio::awaitable<Result<std::unique_ptr<Connection>>> connect(const Target& target, Clock::time_point deadline,
                                                               std::chrono::milliseconds budget);
  template <class Stream>
  asio::awaitable<std::expected<ExchangeResult, ExchangeFailure>> exchange(Stream& stream, Connection& connection,
                                                                           const BeastRequest& request,
                                                                           const Target& target,
                                                                           Clock::time_point deadline,
                                                                           std::chrono::milliseconds budget);

  std::unique_ptr<Connection> take_idle(const std::string& key);
  void put_idle(const std::string& key, std::unique_ptr<Connection> connection);

  asio::io_context& io_;
  ClientOptions options_;
  std::optional<ssl::context> tls_;
  std::optional<Error> tls_error_;  ///< why the context could not be made; reported by every https send
  // Declared after `tls_`: pooled SSL streams refer to the context.
  std::unordered_map<std::string, std::deque<std::unique_ptr<Connection>>> idle_;

  /// Requests under way to one host, and the most there have been at once: how many idle
  /// connections are worth keeping for it (ClientOptions::max_idle_per_host). Shared with the
  /// sends counting themselves, whose frames an io_context being torn down may destroy after
  /// this client.
  struct HostLoad {
    std::size_t in_flight = 0;
    std::size_t peak = 0;
  };
  std::unordered_map<std::string, std::shared_ptr<HostLoad>> load_;
  class InFlight {
   public:
    explicit InFlight(std::shared_ptr<HostLoad> load) : load_(std::move(load)) {
      load_->peak = std::max(load_->peak, ++load_->in_flight);
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    ~InFlight() { --load_->in_flight; }

   private:
    std::shared_ptr<HostLoad> load_;
  };
  InFlight count_in_flight(const std::string& key) {
    auto& load = load_[key];
    if (!load) load = std::make_shared<HostLoad>();
    return InFlight(load);
  }
};

namespace {

/// Whether `dir` holds OpenSSL's hashed names (`5ad8a5d6.0`, made by c_rehash or
/// update-ca-certificates): then OpenSSL can read just the certificate a peer's chain needs.
bool has_hashed_certificates(const char* dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto dot = name.find('.');
    if (dot == 8 && name.size() > 9 &&
        std::all_of(name.begin(), name.begin() + 8, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      return true;
  }
  return false;  // a missing or unreadable folder, or one without hashed names
}

}  // namespace

// Loading the whole bundle (SSL_CTX_set_default_verify_paths reads every certificate of
// ca-certificates.crt, 144 of them) was half of a command's start-up. The hashed folder is
// looked up lazily, per issuer, during each handshake; the bundle stays the fallback, and
// SSL_CERT_FILE / SSL_CERT_DIR, when set, are honoured as OpenSSL documents them.
Result<ssl::context*> BeastHttpClient::Impl::tls_context() {
  if (tls_) return &*tls_;
  if (tls_error_) return std::unexpected(*tls_error_);
  ssl::context context(ssl::context::tls_client);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  if (SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION) != 1) {
    tls_error_ = make_failure(ErrorCode::internal, "cannot restrict TLS to version 1.2 or later");
    return std::unexpected(*tls_error_);
  }
  context.set_verify_mode(ssl::verify_peer);
  const bool overridden = std::getenv(X509_get_default_cert_file_env()) != nullptr ||
                          std::getenv(X509_get_default_cert_dir_env()) != nullptr;
  const char* dir = X509_get_default_cert_dir();
  error_code ec;
  if (!overridden && has_hashed_certificates(dir)) {
    context.add_verify_path(dir, ec);
  } else {
    // A system without a default store is not an error by itself: with no trusted CA,
    // every handshake fails verification and says so.
    context.set_default_verify_paths(ec);
  }
  if (!options_.extra_ca_file.empty()) {
    context.load_verify_file(options_.extra_ca_file, ec);
    if (ec) {
      tls_error_ = make_failure(ErrorCode::invalid_input,
                                "cannot load extra_ca_file '" + options_.extra_ca_file + "': " + ec.message());
      return std::unexpected(*tls_error_);
    }
  }
  tls_.emplace(std::move(context));
  return &*tls_;
}

std::unique_ptr<Connection> BeastHttpClient::Impl::take_idle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& bucket = it->second;
  const auto now = Clock::now();
  // Most recently used first: the likeliest to still be open on the server.
  while (!bucket.empty()) {
    auto connection = std::move(bucket.back());
    bucket.pop_back();
    if (now - connection->idle_since < options_.idle_timeout && looks_alive(*connection)) return connection;
  }
  return nullptr;
}

void BeastHttpClient::Impl::put_idle(const std::string& key, std::unique_ptr<Connection> connection) {
  if (options_.max_idle_per_host == 0) return;
  connection->tcp().expires_never();
  connection->idle_since = Clock::now();
  auto& bucket = idle_[key];
  while (!bucket.empty() && connection->idle_since - bucket.front()->idle_since >= options_.idle_timeout)
    bucket.pop_front();
  const auto load = load_.find(key);
  const std::size_t peak = load == load_.end() ? 0 : load->second->peak;
  const std::size_t keep = std::min(options_.idle_ceiling_per_host, std::max(options_.max_idle_per_host, peak));
  while (!bucket.empty() && bucket.size() >= keep) bucket.pop_front();
  if (keep == 0) return;
  bucket.push_back(std::move(connection));
}

asio::awaitable<Result<std::vector<tcp::endpoint>>> BeastHttpClient::Impl::resolve(const Target& target,
                                                                                   Clock::time_point deadline,
                                                                                   std::chrono::milliseconds budget) {
  if (target.host_is_address)
    co_return std::vector<tcp::endpoint>{tcp::endpoint(asio::ip::make_address(target.host), target.port)};

  auto state = std::make_shared<ResolveState>(io_.get_executor());
  state->timer.expires_at(deadline);
  state->resolver.async_resolve(target.host, std::to_string(target.port),
                                [state](error_code ec, const tcp::resolver::results_type& results) {
                                  state->ec = ec;
                                  for (const auto& entry : results) state->endpoints.push_back(entry.endpoint());
                                  state->done = true;
                                  state->timer.cancel();
                                });
  // Either the resolve cancels this wait, or the deadline ends it.
  co_await state->timer.async_wait(use_tuple);
  if (!state->done) {
    state->resolver.cancel();
    co_return std::unexpected(make_failure(ErrorCode::unavailable, timed_out(budget, "resolving " + target.endpoint)));
  }
  if (state->ec)
    co_return std::unexpected(
        make_failure(ErrorCode::unavailable, "cannot resolve " + target.endpoint + ": " + state->ec.message()));

  auto endpoints = std::move(state->endpoints);
  if (target.loopback_name) {
    // http:// was allowed only because the host is loopback; a resolver that
    // maps `localhost` elsewhere must not turn that into cleartext on the wire.
    std::erase_if(endpoints, [](const tcp::endpoint& e) { return !e.address().is_loopback(); });
  }
  if (endpoints.empty())
    co_return std::unexpected(
        make_failure(ErrorCode::unavailable, "cannot resolve " + target.endpoint + ": no usable address"));
  co_return endpoints;
}

asio::awaitable<Result<std::unique_ptr<Connection>>> BeastHttpClient::Impl::connect(const Target& target,
                                                                                    Clock::time_point deadline,
                                                                                    std::chrono::milliseconds budget) {
  auto endpoints = co_await resolve(target, deadline, budget);
  if (!endpoints) co_return std::unexpected(std::move(endpoints).error());

  auto connection = std::make_unique<Connection>();
  if (target.tls) {
    auto context = tls_context();
    if (!context) co_return std::unexpected(std::move(context).error());
    connection->secure.emplace(io_.get_executor(), **context);
  } else {
    connection->plain.emplace(io_.get_executor());
  }

  auto& tcp_layer = connection->tcp();
  tcp_layer.expires_at(deadline);
  auto [connect_ec, endpoint] = co_await tcp_layer.async_connect(*endpoints, use_tuple);
  if (connect_ec) {
    if (is_timeout(connect_ec))
      co_return std::unexpected(make_failure(ErrorCode::unavailable, timed_out(budget, "connecting to " + target.endpoint)));
    co_return std::unexpected(
        make_failure(ErrorCode::unavailable, "cannot connect to " + target.endpoint + ": " + connect_ec.message()));
  }
  error_code ignored;
  // Requests are written in one go; Nagle would only add latency. Failure to
  // set it changes nothing functionally.
  tcp_layer.socket().set_option(tcp::no_delay(true), ignored);

  if (!target.tls) co_return connection;

  auto& stream = *connection->secure;
  // SNI carries names only (RFC 6066): never an IP literal.
  if (!target.host_is_address && SSL_set_tlsext_host_name(stream.native_handle(), target.host.c_str()) != 1)
    co_return std::unexpected(make_failure(ErrorCode::internal, "cannot set TLS SNI for " + target.endpoint));
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(PeerVerifier(target.host));

  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (handshake_ec) {
    if (is_timeout(handshake_ec))
      co_return std::unexpected(
          make_failure(ErrorCode::unavailable, timed_out(budget, "during the TLS handshake with " + target.endpoint)));
    const long verify = SSL_get_verify_result(stream.native_handle());
    const bool verify_failed =
        verify != X509_V_OK || (handshake_ec.category() == asio::error::get_ssl_category() &&
                                ERR_GET_REASON(static_cast<unsigned long>(handshake_ec.value())) ==
                                    SSL_R_CERTIFICATE_VERIFY_FAILED);
    if (verify_failed) {
      std::string detail = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : handshake_ec.message();
      co_return std::unexpected(make_failure(
          ErrorCode::unavailable, "TLS certificate verification failed for " + target.endpoint + ": " + detail));
    }
    co_return std::unexpected(
        make_failure(ErrorCode::unavailable, "TLS handshake with " + target.endpoint + " failed: " + handshake_ec.message()));
  }
  co_return connection;
}

template <class Stream>
asio::awaitable<std::expected<ExchangeResult, ExchangeFailure>> BeastHttpClient::Impl::exchange(
    Stream& stream, Connection& connection, const BeastRequest& request, const Target& target,
    Clock::time_point deadline, std::chrono::milliseconds budget) {
  auto fail = [](ErrorCode code, std::string message, bool nothing_received) {
    return std::unexpected(ExchangeFailure{make_failure(code, std::move(message)), nothing_received});
  };

  connection.tcp().expires_at(deadline);
  auto [write_ec, written] = co_await bhttp::async_write(stream, request, use_tuple);
  (void)written;
  if (write_ec) {
    if (is_timeout(write_ec))
      co_return fail(ErrorCode::unavailable, timed_out(budget, "sending the request to " + target.endpoint), false);
    co_return fail(ErrorCode::unavailable, "sending the request to " + target.endpoint + " failed: " + write_ec.message(),
                   true);
  }

  const bool head = request.method() == bhttp::verb::head;
  bool received_any = false;
  for (int interim = 0;; ++interim) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_body_bytes);
    parser.header_limit(max_header_bytes);
    if (head) parser.skip(true);

    auto [read_ec, read_bytes] = co_await bhttp::async_read(stream, connection.buffer, parser, use_tuple);
    (void)read_bytes;
    received_any = received_any || parser.got_some() || connection.buffer.size() != 0;
    if (read_ec) {
      if (is_timeout(read_ec))
        co_return fail(ErrorCode::unavailable,
                       timed_out(budget, "waiting for the response from " + target.endpoint), false);
      if (read_ec == bhttp::error::body_limit)
        co_return fail(ErrorCode::internal,
                       "response body from " + target.endpoint + " exceeds the limit of " +
                           std::to_string(max_body_bytes) + " bytes",
                       false);
      if (read_ec == bhttp::error::header_limit)
        co_return fail(ErrorCode::internal, "response header from " + target.endpoint + " is too large", false);
      if (read_ec == bhttp::error::end_of_stream)
        co_return fail(ErrorCode::unavailable, target.endpoint + " closed the connection without responding",
                       !received_any);
      if (read_ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() && read_ec != bhttp::error::partial_message)
        co_return fail(ErrorCode::internal,
                       "malformed HTTP response from " + target.endpoint + ": " + read_ec.message(), false);
      co_return fail(ErrorCode::unavailable,
                     "connection to " + target.endpoint + " failed while reading the response: " + read_ec.message(),
                     !received_any);
    }

    auto& message = parser.get();
    const int status = static_cast<int>(message.result_int());
    if (status >= 100 && status < 200 && status != 101) {
      if (interim < max_interim_responses) continue;
      co_return fail(ErrorCode::internal, "too many interim responses from " + target.endpoint, false);
    }

    ExchangeResult result;
    result.response.status = status;
    for (const auto& field : message)
      result.response.headers.push_back(Header{std::string(field.name_string()), std::string(field.value())});
    result.response.body = std::move(message.body());
    // Leftover bytes would be an unrequested answer: such a connection is not
    // in a state we understand, so it is not reused.
    result.keep_alive = message.keep_alive() && status != 101 && connection.buffer.size() == 0;
    co_return result;
  }
}

// The one transparent resend: servers close kept-alive connections when they are
// idle, and the close can cross our next request on the wire. That race shows as a
// write error, or as EOF/reset before the first response byte, on a *reused*
// connection. It is not proof that the server never read the request (the
// emulators' drop_connection fault reads it, then closes), so only an idempotent
// request is resent, once, on a newly opened connection. A request that is not
// idempotent never takes a pooled connection, so the race cannot happen to it, and
// it is never written twice: a failure is reported (request_sent) and the caller,
// who knows what the vendor does with a duplicate, decides.
asio::awaitable<Result<Response>> BeastHttpClient::Impl::send(Request request) {
  const auto budget = request.timeout;
  const auto deadline = Clock::now() + budget;

  const bool idempotent = request.idempotent.value_or(idempotent_method(request.method));
  int* const write_count = request.write_count;
  auto target = parse_target(request.url);
  if (!target) co_return std::unexpected(std::move(target).error());
  auto wire_request = build_request(request, *target, options_.user_agent);
  if (!wire_request) co_return std::unexpected(std::move(wire_request).error());
  const InFlight in_flight = count_in_flight(target->pool_key);

  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> connection;
    if (attempt == 0 && idempotent) connection = take_idle(target->pool_key);
    const bool reused = connection != nullptr;
    if (!connection) {
      auto opened = co_await connect(*target, deadline, budget);
      if (!opened) co_return std::unexpected(std::move(opened).error());
      connection = std::move(*opened);
    }

    // Not a conditional expression: GCC 12 miscompiles `c ? co_await a : co_await b`
    // for class types (the result is a bitwise copy of a dead temporary).
    std::expected<ExchangeResult, ExchangeFailure> outcome;
    if (write_count != nullptr) ++*write_count;
    if (connection->secure)
      outcome = co_await exchange(*connection->secure, *connection, *wire_request, *target, deadline, budget);
    else
      outcome = co_await exchange(*connection->plain, *connection, *wire_request, *target, deadline, budget);
    if (outcome) {
      outcome->response.reused_connection = reused;
      if (outcome->keep_alive) put_idle(target->pool_key, std::move(connection));
      co_return std::move(outcome->response);
    }
    if (reused && idempotent && attempt == 0 && outcome.error().nothing_received) continue;
    // Whatever failed after the write began, the vendor may have the request.
    outcome.error().error.request_sent = true;
    co_return std::unexpected(std::move(outcome.error().error));
  }
}

BeastHttpClient::BeastHttpClient(asio::io_context& io, ClientOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

BeastHttpClient::~BeastHttpClient() = default;

asio::awaitable<Result<Response>> BeastHttpClient::send(Request request) {
  std::string what;
  try {
    auto result = co_await impl_->send(std::move(request));
    co_return result;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  // Only resource exhaustion or a bug gets here; the contract is "no throw".
  co_return std::unexpected(make_failure(ErrorCode::internal, "HTTP client failed unexpectedly: " + what));
}

std::size_t BeastHttpClient::idle_connections() const noexcept {
  std::size_t count = 0;
  for (const auto& [key, bucket] : impl_->idle_) count += bucket.size();
  return count;
}

bool idempotent_method(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" ||
         method == "DELETE";
}

Status check_ca_file(const std::string& path) {
  ssl::context probe(ssl::context::tls_client);
  error_code ec;
  probe.load_verify_file(path, ec);
  if (ec) {
    // OpenSSL says "no certificate or crl found" for a file that is not PEM, and the
    // system's reason for one that is missing or unreadable.
    std::string reason = ec.message();
    if (reason.empty() || reason == "system lib") reason = "missing, unreadable or not PEM";
    return std::unexpected(
        make_failure(ErrorCode::invalid_input, "extra CA file '" + path + "' cannot be used: " + reason));
  }
  return {};
}

std::unique_ptr<HttpClient> make_beast_client(asio::io_context& io, ClientOptions options) {
  return std::make_unique<BeastHttpClient>(io, std::move(options));
}

}  // namespace expbridge::http
