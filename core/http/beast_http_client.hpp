// expbridge — the Boost.Beast implementation of `HttpClient`.
//
// Beast/Asio/OpenSSL stay behind a pimpl so that including this header costs no
// more than http_client.hpp. Most code should use `make_beast_client` and hold
// an `HttpClient`; the concrete type is here for code that wants to name it.
#pragma once

#include <memory>

#include "http/http_client.hpp"

namespace expbridge::http {

/// HTTP/1.1 over TCP or TLS (OpenSSL), with a per-(scheme, host, port) pool of
/// kept-alive connections. Single-threaded: see `HttpClient`.
class BeastHttpClient final : public HttpClient {
 public:
  /// Builds the TLS context (system trust store + `options.extra_ca_file`).
  BeastHttpClient(boost::asio::io_context& io, ClientOptions options);
  /// Closes idle connections. Must not run while a `send` is in flight.
  ~BeastHttpClient() override;

  BeastHttpClient(const BeastHttpClient&) = delete;
  BeastHttpClient& operator=(const BeastHttpClient&) = delete;

  boost::asio::awaitable<Result<Response>> send(Request request) override;

  /// Idle connections currently pooled, over all hosts (for tests).
  std::size_t idle_connections() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace expbridge::http
