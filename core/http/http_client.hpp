// expbridge — the Beast client's options and helpers; the interface itself is public
// (expbridge/http_client.hpp), so that it can be injected.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "expbridge/error.hpp"
#include "expbridge/http_client.hpp"

namespace expbridge::http {

/// Tuning for `make_beast_client`.
struct ClientOptions {
  /// Idle kept-alive connections kept per (scheme, host, port): this many, or as many as were
  /// once in flight to that host at the same time if that is more (never more than
  /// `idle_ceiling_per_host`), so that the next wave of as many requests reuses them instead of
  /// opening (and, with TLS, handshaking) new ones. 0 disables reuse.
  std::size_t max_idle_per_host = 8;
  /// The most idle connections kept per host, however many were once in flight.
  std::size_t idle_ceiling_per_host = 256;
  /// An idle connection older than this is closed instead of reused.
  std::chrono::milliseconds idle_timeout{30000};
  /// PEM file of extra trusted CA certificates, added to the system trust store
  /// (tests, private CAs). Empty: system store only. If it cannot be loaded,
  /// every `send` fails with `invalid_input` naming the file (check it up front
  /// with `check_ca_file`).
  std::string extra_ca_file;
  /// Sent as `User-Agent` unless the request sets one.
  std::string user_agent = "expbridge/0.1";
};

/// Checks that `path` is a readable PEM file holding at least one certificate, as
/// `ClientOptions::extra_ca_file` needs. `invalid_input` naming the file and what is wrong.
Status check_ca_file(const std::string& path);

/// True when `method` is idempotent by RFC 9110 §9.2.2 (case-sensitive, as methods are).
bool idempotent_method(std::string_view method);

/// Makes the Boost.Beast implementation (HTTP/1.1, TLS 1.2+ with peer and host
/// name verification that cannot be turned off). Use one client per
/// `io_context`; it must outlive the client.
std::unique_ptr<HttpClient> make_beast_client(boost::asio::io_context& io, ClientOptions options = {});

}  // namespace expbridge::http
