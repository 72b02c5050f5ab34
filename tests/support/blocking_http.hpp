// A tiny blocking HTTP/1.1 client for the emulator host's own tests: one request per
// connection, and it tells a dropped connection (no answer at all) from an answer.
// Tests only; header-only so that it stays out of the emulators library.
#pragma once

#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace expbridge::emulator::testing {

struct BlockingReply {
  bool answered = false;  ///< false: the server closed without a response
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds elapsed{0};

  std::optional<std::string> header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() != name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < n.size(); ++i) same = same && std::tolower(n[i]) == std::tolower(name[i]);
      if (same) return v;
    }
    return std::nullopt;
  }
};

inline BlockingReply blocking_request(std::uint16_t port, const std::string& method, const std::string& target,
                                      const std::string& body = "",
                                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  namespace asio = boost::asio;
  namespace bhttp = boost::beast::http;
  const auto started = std::chrono::steady_clock::now();
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  bhttp::request<bhttp::string_body> request(bhttp::string_to_verb(method), target, 11);
  request.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
  request.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  bhttp::write(socket, request);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  boost::system::error_code ec;
  bhttp::read(socket, buffer, response, ec);
  BlockingReply reply;
  reply.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (ec) return reply;
  reply.answered = true;
  reply.status = static_cast<int>(response.result_int());
  for (const auto& field : response) reply.headers.emplace_back(field.name_string(), field.value());
  reply.body = response.body();
  return reply;
}

}  // namespace expbridge::emulator::testing
