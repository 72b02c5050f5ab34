// expbridge — the HTTP/1.1 client interface every vendor request goes through.
//
// Public so that an application (or a test) can inject its own client into `Applier`
// (`ApplyOptions::http_client`). Kept tiny on purpose: the core builds a `Request`,
// `co_await send()`, and maps the `Response` (or the `Error`) to the vendor's semantics.
// Only `boost::asio::awaitable` is named here; the Beast implementation stays in core.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "expbridge/error.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace expbridge::http {

/// One header field. Names compare case-insensitively; order is preserved.
struct Header {
  std::string name;
  std::string value;
};

/// One HTTP exchange to perform.
struct Request {
  /// Method token, e.g. `GET`, `PATCH`, `DELETE`.
  std::string method;
  /// Absolute URL: `https://host[:port]/path?query`. `http://` is accepted
  /// only for loopback hosts (127.0.0.0/8, ::1, localhost); a fragment is ignored.
  std::string url;
  /// Sent as given, in order. The client adds `Host`, `Content-Length` and
  /// `User-Agent` when absent. Values never appear in error messages.
  std::vector<Header> headers;
  /// Request body (at most 8 MiB).
  std::string body;
  /// Budget for the whole exchange: resolve + connect + TLS + write + read,
  /// including the one transparent retry on a stale kept-alive connection.
  std::chrono::milliseconds timeout{10000};
  /// May the client write this request more than once? Unset: by method (RFC 9110
  /// §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE are). A request that is not idempotent
  /// goes out on a fresh connection, never a pooled one, and is never resent by the client.
  std::optional<bool> idempotent;
  /// When set, incremented each time the client begins writing the request to a
  /// connection (so a transparent resend counts twice), whatever the outcome. Owned by
  /// the caller; must outlive the `send`.
  int* write_count = nullptr;
};

/// What the server answered. Any status (4xx, 5xx too) is a `Response`;
/// only failures to obtain an answer are `Error`s.
struct Response {
  int status = 0;
  std::vector<Header> headers;
  std::string body;
  /// True when the answer came over a kept-alive connection reused from the
  /// pool (for tests and benchmarks).
  bool reused_connection = false;

  /// The value of the first header named `name` (case-insensitive), if any.
  /// The view points into `headers`: it is valid while this object is unchanged.
  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name.size() != name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < name.size() && same; ++i) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
        same = lower(h.name[i]) == lower(name[i]);
      }
      if (same) return std::string_view{h.value};
    }
    return std::nullopt;
  }
};

/// An asynchronous HTTP/1.1 client.
///
/// `send` never throws: every failure is an `Error` value.
/// - `invalid_input`: bad URL, refused `http://` to a non-loopback host, bad
///   method or header, request body too large — nothing was sent.
/// - `unavailable`: resolve/connect/TLS/IO failure, certificate verification
///   failure, connection reset, or the request's timeout expired (the message
///   then starts with `timed out after N ms`).
/// - `internal`: the server's answer was unusable (malformed, body over 8 MiB).
///
/// An injected implementation (`ApplyOptions::http_client`) must keep the same contract; one
/// that throws anyway costs only the backend whose request it was (reported `internal`, the
/// request never resent), and a non-idempotent request it had counted in `write_count`
/// before throwing is reported as possibly applied.
///
/// Implementations are not thread-safe: run the `io_context` they were made for
/// on one thread. Many `send` coroutines may be in flight at once on that
/// thread. The client must outlive every `send` it started.
class HttpClient {
 public:
  virtual ~HttpClient() = default;

  /// Performs one exchange. An idempotent request (see `Request::idempotent`) that
  /// met a reused kept-alive connection closed before any byte of the response
  /// arrived is re-sent once on a fresh connection; nothing else is ever re-sent.
  virtual boost::asio::awaitable<Result<Response>> send(Request request) = 0;
};

}  // namespace expbridge::http
