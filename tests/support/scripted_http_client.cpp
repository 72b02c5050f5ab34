// expbridge tests — the scripted HTTP client (see scripted_http_client.hpp).
#include "support/scripted_http_client.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace expbridge::test {
namespace asio = boost::asio;

namespace {

bool method_matches(std::string_view pattern, std::string_view method) { return pattern == "*" || pattern == method; }

class ScriptedHttpClient final : public http::HttpClient {
 public:
  ScriptedHttpClient(asio::io_context& io, std::shared_ptr<HttpScript> script) : io_(io), script_(std::move(script)) {}

  asio::awaitable<Result<http::Response>> send(http::Request request) override {
    std::size_t index = 0;
    const ScriptedReply reply = script_->answer(request, index);
    // Like a real client, the request's own timeout bounds the wait for the answer.
    const bool times_out = reply.delay > request.timeout;
    const auto wait = times_out ? request.timeout : reply.delay;
    if (wait > std::chrono::milliseconds::zero()) {
      asio::steady_timer timer(io_, wait);
      // Nothing cancels this timer; its error code carries nothing to act on.
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (times_out) {
      if (request.write_count) ++*request.write_count;
      script_->mark_timed_out(index);
      Error e = make_error(ErrorCode::unavailable, "timed out after " + std::to_string(request.timeout.count()) +
                                                       " ms waiting for " + request.method + " " + request.url);
      e.request_sent = true;
      co_return std::unexpected(std::move(e));
    }
    switch (reply.kind) {
      case ScriptedReply::Kind::throw_exception:
        throw std::runtime_error(reply.what);
      case ScriptedReply::Kind::transport_error:
        if (reply.error.request_sent && request.write_count) ++*request.write_count;
        co_return std::unexpected(reply.error);
      case ScriptedReply::Kind::respond:
        break;
    }
    if (request.write_count) ++*request.write_count;
    http::Response response;
    response.status = reply.status;
    response.headers = reply.headers;
    response.body = reply.body;
    co_return response;
  }

 private:
  asio::io_context& io_;
  std::shared_ptr<HttpScript> script_;
};

}  // namespace

ScriptedReply ScriptedReply::json(int status, std::string body, std::vector<http::Header> headers) {
  ScriptedReply reply;
  reply.status = status;
  reply.body = std::move(body);
  reply.headers.push_back({"Content-Type", "application/json"});
  for (auto& h : headers) reply.headers.push_back(std::move(h));
  return reply;
}

ScriptedReply ScriptedReply::fail(ErrorCode code, std::string message, bool request_sent) {
  ScriptedReply reply;
  reply.kind = Kind::transport_error;
  reply.error = make_error(code, std::move(message));
  reply.error.request_sent = request_sent;
  return reply;
}

ScriptedReply ScriptedReply::throws(std::string what) {
  ScriptedReply reply;
  reply.kind = Kind::throw_exception;
  reply.what = std::move(what);
  return reply;
}

ScriptedReply ScriptedReply::after(std::chrono::milliseconds wait) const {
  ScriptedReply reply = *this;
  reply.delay = wait;
  return reply;
}

std::shared_ptr<HttpScript> HttpScript::make() { return std::make_shared<HttpScript>(); }

HttpScript& HttpScript::on(std::string method, std::string url_part, std::vector<ScriptedReply> replies) {
  if (replies.empty()) throw std::invalid_argument("HttpScript::on needs at least one reply");
  rules_.push_back(Rule{std::move(method), std::move(url_part), std::move(replies), 0});
  return *this;
}

HttpScript& HttpScript::otherwise(ScriptedReply reply) {
  otherwise_ = std::move(reply);
  return *this;
}

std::size_t HttpScript::count(std::string_view method, std::string_view url_part) const {
  std::size_t n = 0;
  for (const auto& exchange : received_)
    if (method_matches(method, exchange.request.method) && exchange.request.url.find(url_part) != std::string::npos) ++n;
  return n;
}

std::size_t HttpScript::unmatched() const {
  std::size_t n = 0;
  for (const auto& exchange : received_)
    if (exchange.rule.empty()) ++n;
  return n;
}

ApplyOptions::HttpClientFactory HttpScript::factory() {
  return [self = shared_from_this()](asio::io_context& io) {
    ++self->clients_made_;
    return make_scripted_client(io, self);
  };
}

ScriptedReply HttpScript::answer(const http::Request& request, std::size_t& exchange_index) {
  ScriptedExchange exchange{request, {}, false};
  exchange.request.write_count = nullptr;  // points into the caller's frame: not for later reading
  ScriptedReply reply;
  bool matched = false;
  for (auto rule = rules_.rbegin(); rule != rules_.rend() && !matched; ++rule) {
    if (!method_matches(rule->method, request.method) || request.url.find(rule->url_part) == std::string::npos) continue;
    const std::size_t at = std::min(rule->used, rule->replies.size() - 1);
    ++rule->used;
    reply = rule->replies[at];
    exchange.rule = rule->method + " " + rule->url_part;
    matched = true;
  }
  if (!matched) {
    reply = otherwise_ ? *otherwise_
                       : ScriptedReply::fail(ErrorCode::internal,
                                             "scripted client: no reply scripted for " + request.method + " " + request.url,
                                             false);
  }
  exchange_index = received_.size();
  received_.push_back(std::move(exchange));
  return reply;
}

std::unique_ptr<http::HttpClient> make_scripted_client(asio::io_context& io, std::shared_ptr<HttpScript> script) {
  return std::make_unique<ScriptedHttpClient>(io, std::move(script));
}

}  // namespace expbridge::test
