// expbridge tests — an `HttpClient` that answers from a script, with no sockets.
//
// A test writes an `HttpScript` (rules: method + URL pattern -> replies in order), injects
// it through `ApplyOptions::http_client = script->factory()`, runs the Applier, then asks
// the script what it received. The script is shared with the client the Applier made, so
// it outlives that client and stays readable after the Applier is gone.
//
// Single-threaded, like the Applier's loop: configure it before a run, read it after.
// No Asio in this header beyond `awaitable` (the client's timers live in the .cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "expbridge/apply.hpp"
#include "expbridge/error.hpp"
#include "expbridge/http_client.hpp"

namespace expbridge::test {

/// One scripted answer.
struct ScriptedReply {
  enum class Kind {
    respond,          ///< `status`, `headers`, `body`
    transport_error,  ///< `send` returns `error` (a value, as a real client does)
    throw_exception,  ///< `send` throws std::runtime_error(`what`) — what no client should do
  };
  Kind kind = Kind::respond;
  int status = 200;
  std::vector<http::Header> headers;
  std::string body;
  Error error;       ///< for transport_error; its `request_sent` says whether the request left
  std::string what;  ///< for throw_exception
  /// Time before acting. Longer than the request's `timeout`: the client gives up at the
  /// timeout with `unavailable` "timed out after N ms" (request_sent: true), as Beast does.
  std::chrono::milliseconds delay{0};

  /// `status` with a JSON body and `Content-Type: application/json`, plus `headers`.
  static ScriptedReply json(int status, std::string body = "{}", std::vector<http::Header> headers = {});
  /// A failure to get an answer: `code` (usually unavailable) with `message`.
  static ScriptedReply fail(ErrorCode code, std::string message, bool request_sent);
  /// `send` throws std::runtime_error(what).
  static ScriptedReply throws(std::string what);
  /// This reply after `wait`; never answering in time is `json(200).after(hours)`.
  ScriptedReply after(std::chrono::milliseconds wait) const;
};

/// A request as the scripted client received it, with what it did.
struct ScriptedExchange {
  http::Request request;  ///< as sent (write_count cleared)
  std::string rule;       ///< the pattern that answered it; empty when none matched
  bool timed_out = false; ///< the reply's delay passed the request's timeout
};

/// What the scripted client answers, and what it received.
class HttpScript : public std::enable_shared_from_this<HttpScript> {
 public:
  static std::shared_ptr<HttpScript> make();

  /// Answers requests whose method is `method` ("*": any) and whose URL contains
  /// `url_part`: `replies` in turn, the last one repeated after the others are used.
  /// The most recently added matching rule wins, so a test can override a default.
  HttpScript& on(std::string method, std::string url_part, std::vector<ScriptedReply> replies);
  /// What a request no rule matches gets. Default: an `internal` transport error naming
  /// the request, so an unscripted request shows in the report (and `unmatched()` counts it).
  HttpScript& otherwise(ScriptedReply reply);

  /// Every request received, in arrival order (token requests included).
  const std::vector<ScriptedExchange>& received() const { return received_; }
  /// Requests received whose method is `method` ("*": any) and whose URL contains `url_part`.
  std::size_t count(std::string_view method, std::string_view url_part = "") const;
  std::size_t total() const { return received_.size(); }
  std::size_t unmatched() const;
  /// How many clients the factory made (the Applier makes one per run).
  int clients_made() const { return clients_made_; }

  /// For `ApplyOptions::http_client`: each call makes a client on that loop, answering from
  /// this script (which it keeps alive).
  ApplyOptions::HttpClientFactory factory();

  /// Used by the client: picks the reply for `request` and records it.
  ScriptedReply answer(const http::Request& request, std::size_t& exchange_index);
  void mark_timed_out(std::size_t exchange_index) { received_.at(exchange_index).timed_out = true; }

 private:
  struct Rule {
    std::string method;
    std::string url_part;
    std::vector<ScriptedReply> replies;
    std::size_t used = 0;
  };
  std::vector<Rule> rules_;
  std::optional<ScriptedReply> otherwise_;
  std::vector<ScriptedExchange> received_;
  int clients_made_ = 0;
};

/// Makes a scripted client on `io` (what `HttpScript::factory` does).
std::unique_ptr<http::HttpClient> make_scripted_client(boost::asio::io_context& io, std::shared_ptr<HttpScript> script);

}  // namespace expbridge::test
