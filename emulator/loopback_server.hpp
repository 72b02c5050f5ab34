// An in-process HTTP/1.1 (optionally TLS) server on 127.0.0.1 — the transport under the vendor
// emulators (`expbridge emulate`, `demo`) and the tests' own servers.
//
// Its user installs a handler that sees the parsed request and says what to
// answer, or how to misbehave (delay, close without answering, reset mid-body).
// The server runs on its own thread and io_context; handlers run on that
// thread, so a handler must not block (use `ServerReply::delay` instead).
//
// No Asio/Beast in this header: including it is cheap.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace expbridge::emulator {

/// A request as the server received it.
struct ServerRequest {
  std::string method;
  std::string target;  ///< origin-form: `/path?query`
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::size_t connection_number = 0;  ///< 1-based, in accept order
  std::size_t request_number = 0;     ///< 1-based, over the server's lifetime

  /// First header with that name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
};

/// What the server does with a request.
struct ServerReply {
  enum class Action {
    respond,               ///< send the response below
    close_without_reply,   ///< close the connection (FIN) without a byte of response
    reset_mid_body,        ///< send the header and half the body, then reset (RST)
  };

  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  ///< Content-Length is added
  std::string body;
  std::chrono::milliseconds delay{0};  ///< wait this long before acting
  Action action = Action::respond;
  bool close_connection = false;  ///< answer with `Connection: close` and close afterwards

  /// First header with that name (case-insensitive), as a client would read it.
  std::optional<std::string> header(std::string_view name) const;

  static ServerReply text(int status, std::string body) {
    ServerReply reply;
    reply.status = status;
    reply.body = std::move(body);
    reply.headers.emplace_back("Content-Type", "text/plain");
    return reply;
  }
};

/// PEM-encoded certificate chain (leaf first) and private key for a TLS server.
struct TlsIdentity {
  std::string certificate_chain_pem;
  std::string private_key_pem;
};

class LoopbackServer {
 public:
  using Handler = std::function<ServerReply(const ServerRequest&)>;

  /// Starts listening on 127.0.0.1 (never any other address) at `port`, or at an
  /// ephemeral port for 0. Without a handler, every request gets `200 ok`. With
  /// `tls`, speaks HTTPS only. Answers HTTP/1.1 with keep-alive unless the client
  /// or the reply asks to close; a HEAD gets the reply's headers and
  /// Content-Length without the body. Throws `boost::system::system_error` when
  /// the port cannot be bound (already in use, privileged).
  explicit LoopbackServer(Handler handler = {}, std::optional<TlsIdentity> tls = std::nullopt,
                          std::uint16_t port = 0);
  /// Stops the server thread and closes every connection (bounded: does not
  /// wait for delayed replies or idle clients).
  ~LoopbackServer();

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  std::uint16_t port() const noexcept;
  /// `http://127.0.0.1:PORT` or `https://localhost:PORT` (TLS identities are
  /// usually issued for `localhost`). No trailing slash.
  std::string base_url() const;
  /// `scheme://HOST:PORT` with a host of the caller's choice.
  std::string url_for_host(std::string_view host) const;

  /// Replaces the handler; takes effect for the next request. Thread-safe.
  void set_handler(Handler handler);

  /// Connections accepted so far (TLS: counted before the handshake).
  std::size_t connections_accepted() const noexcept;
  /// Requests fully read so far (counted before the handler runs).
  std::size_t requests_received() const noexcept;
  /// Copies of every request received so far, in arrival order. Prefer this to
  /// capturing from inside a handler, which runs on the server thread.
  std::vector<ServerRequest> received_requests() const;

  /// Closes every connection between two requests, like a server's keep-alive
  /// timeout (FIN, no TLS close_notify). A connection in the middle of an
  /// exchange is closed as soon as that exchange is over. Returns once all of
  /// them are closed (throws after 5 s). Not callable from a handler.
  void close_idle_connections();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace expbridge::emulator
