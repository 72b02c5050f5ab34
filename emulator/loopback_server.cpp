// An in-process HTTP/1.1 (optionally TLS) server on 127.0.0.1: under the emulators, and the tests' servers.

#include "emulator/loopback_server.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace expbridge::emulator {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Bounds every server-side wait on a client, so a forgotten connection cannot
/// keep a session coroutine alive for long (the destructor does not need it).
constexpr std::chrono::seconds io_timeout{10};
/// How long the client gets to read a partial body before the reset, so that
/// the reset really happens mid-response rather than before it.
constexpr std::chrono::milliseconds reset_grace{50};

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

/// Abortive close: with SO_LINGER 0, close() sends RST instead of FIN.
void reset_socket(tcp::socket& socket) {
  error_code ignored;  // the socket is going away whatever happens
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

/// Graceful close: FIN after everything written.
void close_socket(tcp::socket& socket) {
  error_code ignored;  // the peer may already be gone; nothing to report to
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

std::string raw_head(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                     std::size_t content_length) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)))) + "\r\n";
  for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
  head += "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
  return head;
}

}  // namespace

namespace {

std::optional<std::string> find_header(const std::vector<std::pair<std::string, std::string>>& headers,
                                       std::string_view name) {
  for (const auto& [key, value] : headers)
    if (iequals(key, name)) return value;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ServerRequest::header(std::string_view name) const { return find_header(headers, name); }

std::optional<std::string> ServerReply::header(std::string_view name) const { return find_header(headers, name); }

struct LoopbackServer::Impl {
  /// A live connection, as seen by `close_idle_connections`. Server thread only.
  struct Session {
    beast::tcp_stream* tcp = nullptr;
    bool idle = false;             ///< waiting for a request, nothing of it received
    bool close_when_idle = false;  ///< close_idle_connections() came while busy
  };

  /// Removes a session from the registry when its coroutine frame goes away,
  /// including when the io_context is destroyed with the frame suspended.
  struct Registration {
    Impl* server;
    std::size_t number;
    ~Registration() {
      auto it = server->sessions.find(number);
      if (it == server->sessions.end()) return;
      const bool awaited = it->second.close_when_idle;
      server->sessions.erase(it);
      if (awaited) server->one_close_done();
    }
  };

  Impl(Handler h, std::optional<TlsIdentity> identity, std::uint16_t requested_port) : handler(std::move(h)) {
    if (identity) {
      tls.emplace(ssl::context::tls_server);
      tls->use_certificate_chain(asio::buffer(identity->certificate_chain_pem));
      tls->use_private_key(asio::buffer(identity->private_key_pem), ssl::context::pem);
    }
    const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), requested_port);
    acceptor.open(endpoint.protocol());
    // A fixed port (`expbridge emulate --port 8080`) must be reusable right after a
    // previous run, whose connections may linger in TIME_WAIT; on Linux this does not
    // let two listeners share the port.
    if (requested_port != 0) acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    asio::co_spawn(io, accept_loop(), [](const std::exception_ptr&) {
      // The loop only ends on close (or an accept error); nothing to report.
    });
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    io.stop();
    if (thread.joinable()) thread.join();
  }

  ServerReply call_handler(const ServerRequest& request) {
    Handler current;
    {
      std::lock_guard lock(handler_mutex);
      current = handler;
    }
    if (!current) return ServerReply::text(200, "ok");
    try {
      return current(request);
    } catch (const std::exception& e) {
      return ServerReply::text(500, std::string("test handler threw: ") + e.what());
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      // Any accept error (closed acceptor, fd exhaustion) ends the loop: a test
      // server that stops accepting is better than one spinning.
      if (ec) co_return;
      const std::size_t number = ++connections;
      asio::co_spawn(io, run_session(std::move(socket), number), [](const std::exception_ptr&) {
        // A session that throws only loses its own connection; the client side
        // of the test sees that and reports it.
      });
    }
  }

  asio::awaitable<void> run_session(tcp::socket socket, std::size_t number) {
    Registration registration{this, number};
    if (!tls) {
      beast::tcp_stream stream(std::move(socket));
      sessions[number] = Session{&stream, false};
      co_await serve(stream, number);
      close_socket(stream.socket());
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    auto& lowest = beast::get_lowest_layer(stream);
    sessions[number] = Session{&lowest, false};
    lowest.expires_after(io_timeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (!ec) co_await serve(stream, number);
    close_socket(lowest.socket());
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, std::size_t number) {
    auto& lowest = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      if (auto it = sessions.find(number); it != sessions.end()) {
        // Between two requests: the point a keep-alive timeout would close at.
        if (it->second.close_when_idle) co_return;
        it->second.idle = buffer.size() == 0;
      }
      lowest.expires_after(io_timeout);
      auto [read_ec, read_bytes] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
      (void)read_bytes;
      if (auto it = sessions.find(number); it != sessions.end()) it->second.idle = false;
      if (read_ec) co_return;

      const auto& message = parser.get();
      ServerRequest request;
      request.method = std::string(message.method_string());
      request.target = std::string(message.target());
      for (const auto& field : message) request.headers.emplace_back(field.name_string(), field.value());
      request.body = message.body();
      request.connection_number = number;
      request.request_number = ++requests;
      {
        std::lock_guard lock(log_mutex);
        log.push_back(request);
      }
      const bool client_keep_alive = message.keep_alive();
      const bool head = message.method() == bhttp::verb::head;

      ServerReply reply = call_handler(request);
      if (reply.delay.count() > 0) {
        asio::steady_timer timer(io);
        timer.expires_after(reply.delay);
        co_await timer.async_wait(use_tuple);
      }

      lowest.expires_after(io_timeout);
      switch (reply.action) {
        case ServerReply::Action::close_without_reply:
          close_socket(lowest.socket());
          co_return;
        case ServerReply::Action::reset_mid_body: {
          std::string partial = raw_head(reply.status, reply.headers, reply.body.size());
          partial += reply.body.substr(0, reply.body.size() / 2);
          auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(partial), use_tuple);
          (void)write_ec;  // the reset follows regardless
          (void)written;
          asio::steady_timer timer(io);
          timer.expires_after(reset_grace);
          co_await timer.async_wait(use_tuple);
          reset_socket(lowest.socket());
          co_return;
        }
        case ServerReply::Action::respond:
          break;
      }

      bhttp::response<bhttp::string_body> response;
      response.version(11);
      response.result(static_cast<unsigned>(reply.status));
      for (const auto& [name, value] : reply.headers) response.insert(name, value);
      response.keep_alive(client_keep_alive && !reply.close_connection);
      if (head) {
        // Announce the length a GET would get, send no body (RFC 9110 9.3.2).
        response.content_length(reply.body.size());
      } else {
        response.body() = std::move(reply.body);
        response.prepare_payload();
      }
      auto [write_ec, written] = co_await bhttp::async_write(stream, response, use_tuple);
      (void)written;
      if (write_ec || !response.keep_alive()) co_return;
    }
  }

  /// Closes idle sessions now and flags busy ones to close once their current
  /// exchange is over; `done` is fulfilled when none is left to close.
  void close_idle(std::shared_ptr<std::promise<void>> done) {
    for (auto& [number, session] : sessions) {
      if (session.idle) {
        session.tcp->close();
      } else if (!session.close_when_idle) {
        // A session is still "busy" for a moment after the client has read
        // the whole response (its coroutine has not resumed yet): without this,
        // a test calling us right after a request would race it.
        session.close_when_idle = true;
        ++closes_pending;
      }
    }
    close_waiters.push_back(std::move(done));
    if (closes_pending == 0) release_close_waiters();
  }

  void one_close_done() {
    if (closes_pending > 0 && --closes_pending == 0) release_close_waiters();
  }

  void release_close_waiters() {
    for (auto& waiter : close_waiters) waiter->set_value();
    close_waiters.clear();
  }

  // Declaration order matters for destruction: sessions and the TLS context
  // must outlive the io_context, whose destructor destroys suspended session
  // frames (which deregister themselves and own SSL streams).
  std::mutex handler_mutex;
  Handler handler;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> requests{0};
  mutable std::mutex log_mutex;
  std::vector<ServerRequest> log;
  std::map<std::size_t, Session> sessions;
  std::size_t closes_pending = 0;
  std::vector<std::shared_ptr<std::promise<void>>> close_waiters;
  std::optional<ssl::context> tls;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::uint16_t port = 0;
  std::thread thread;
};

LoopbackServer::LoopbackServer(Handler handler, std::optional<TlsIdentity> tls, std::uint16_t port)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(tls), port)) {}

LoopbackServer::~LoopbackServer() = default;

std::uint16_t LoopbackServer::port() const noexcept { return impl_->port; }

std::string LoopbackServer::base_url() const { return url_for_host(impl_->tls ? "localhost" : "127.0.0.1"); }

std::string LoopbackServer::url_for_host(std::string_view host) const {
  return std::string(impl_->tls ? "https://" : "http://") + std::string(host) + ":" + std::to_string(impl_->port);
}

void LoopbackServer::set_handler(Handler handler) {
  std::lock_guard lock(impl_->handler_mutex);
  impl_->handler = std::move(handler);
}

std::size_t LoopbackServer::connections_accepted() const noexcept { return impl_->connections.load(); }

std::size_t LoopbackServer::requests_received() const noexcept { return impl_->requests.load(); }

std::vector<ServerRequest> LoopbackServer::received_requests() const {
  std::lock_guard lock(impl_->log_mutex);
  return impl_->log;
}

void LoopbackServer::close_idle_connections() {
  // Shared: if the wait below gives up, the posted job may still run later.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(impl_->io, [impl = impl_.get(), done] { impl->close_idle(done); });
  // Bounded: busy sessions finish their exchange within their reply delay and
  // the server's I/O timeout; a test should not call this with replies pending.
  if (finished.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    throw std::runtime_error("LoopbackServer::close_idle_connections: connections did not close within 5 s");
}

}  // namespace expbridge::emulator
