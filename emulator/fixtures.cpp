// Emulator fixtures: reading them, and strict fault parsing.
#include "emulator/fixtures.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "document.hpp"
#include "json_reader.hpp"

namespace expbridge::emulator {
namespace {

/// Generous but bounded: a latency past a minute is a typo, and it would hold a server
/// coroutine (not the thread) that long.
constexpr std::int64_t kMaxLatencyMs = 60'000;

Error field_error(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}

/// `body` (kept as given; needs `status`), `headers` (a mapping of names to strings),
/// `reset_mid_body` and `close_connection`: the members that shape the answer rather than choose it.
Status parse_answer_extras(ObjectReader& reader, Fault& fault, const std::optional<std::string>& body) {
  if (body) {
    if (fault.status == 0) return std::unexpected(reader.error("body", "only goes with status"));
    fault.body = *body;
  }
  auto headers = reader.optional_object("headers");
  if (!headers) return std::unexpected(std::move(headers).error());
  if (*headers) {
    for (const auto& [name, value] : **headers) {
      const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
      if (!token) return std::unexpected(reader.error("headers", "'" + std::string(name) + "' is not a header name"));
      if (!value.is_string())
        return std::unexpected(reader.error("headers", "the value of '" + std::string(name) + "' must be a string"));
      const std::string text(value.get_string());
      if (text.find_first_of("\r\n") != std::string::npos)
        return std::unexpected(reader.error("headers", "the value of '" + std::string(name) + "' holds a line break"));
      fault.headers.emplace_back(std::string(name), text);
    }
  }
  auto reset = reader.optional_bool("reset_mid_body");
  if (!reset) return std::unexpected(std::move(reset).error());
  if (*reset) fault.reset_mid_body = **reset;
  auto close = reader.optional_bool("close_connection");
  if (!close) return std::unexpected(std::move(close).error());
  if (*close) fault.close_connection = **close;
  return {};
}

Result<Fault> parse_fault(const boost::json::value& value, const std::string& path) {
  auto reader = ObjectReader::open(value, path);
  if (!reader) return std::unexpected(std::move(reader).error());
  Fault fault;
  auto vendor = reader->optional_string("vendor");
  if (!vendor) return std::unexpected(std::move(vendor).error());
  if (*vendor) fault.vendor = **vendor;
  auto method = reader->optional_string("method");
  if (!method) return std::unexpected(std::move(method).error());
  if (*method) {
    fault.method = **method;
    for (auto& c : fault.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (fault.method.empty() || !std::all_of(fault.method.begin(), fault.method.end(),
                                             [](char c) { return c >= 'A' && c <= 'Z'; }))
      return std::unexpected(reader->error("method", "must be an HTTP method such as GET or PATCH"));
  }
  auto prefix = reader->optional_string("path_prefix");
  if (!prefix) return std::unexpected(std::move(prefix).error());
  if (*prefix) {
    if (!(*prefix)->starts_with('/'))
      return std::unexpected(reader->error("path_prefix", "must start with '/'"));
    fault.path_prefix = **prefix;
  }
  auto times = reader->optional_integer("times");
  if (!times) return std::unexpected(std::move(times).error());
  if (*times) {
    if (**times < 1 && **times != -1)
      return std::unexpected(reader->error("times", "must be at least 1 (or -1: always)"));
    fault.times = static_cast<int>(std::min<std::int64_t>(**times, 1'000'000'000));
  }
  auto latency = reader->optional_integer("latency_ms");
  if (!latency) return std::unexpected(std::move(latency).error());
  if (*latency) {
    if (**latency < 0 || **latency > kMaxLatencyMs)
      return std::unexpected(reader->error("latency_ms", "must be between 0 and " + std::to_string(kMaxLatencyMs)));
    fault.latency = std::chrono::milliseconds(**latency);
  }
  auto body = reader->optional_string("body");
  if (!body) return std::unexpected(std::move(body).error());
  auto status = reader->optional_integer("status");
  if (!status) return std::unexpected(std::move(status).error());
  if (*status) {
    const std::int64_t low = *body ? 200 : 400;
    if (**status < low || **status > 599)
      return std::unexpected(reader->error("status", *body ? "must be a status from 200 to 599"
                                                           : "must be an error status, 400 to 599 (200 and up with body)"));
    fault.status = static_cast<int>(**status);
  }
  EXPBRIDGE_RETURN_IF_ERROR(parse_answer_extras(*reader, fault, *body));
  auto retry_after = reader->optional_integer("retry_after_s");
  if (!retry_after) return std::unexpected(std::move(retry_after).error());
  if (*retry_after) {
    if (fault.status != 429)
      return std::unexpected(reader->error("retry_after_s", "only goes with status: 429"));
    if (**retry_after < 0 || **retry_after > 86'400)
      return std::unexpected(reader->error("retry_after_s", "must be between 0 and 86400"));
    fault.retry_after_s = static_cast<int>(**retry_after);
  }
  auto reset = reader->optional_integer("reset_ms");
  if (!reset) return std::unexpected(std::move(reset).error());
  if (*reset) {
    if (fault.status != 429) return std::unexpected(reader->error("reset_ms", "only goes with status: 429"));
    if (fault.body) return std::unexpected(reader->error("reset_ms", "cannot go with body: the body is answered as given"));
    if (**reset < 0 || **reset > 86'400'000)
      return std::unexpected(reader->error("reset_ms", "must be between 0 and 86400000"));
    fault.reset_in = std::chrono::milliseconds(**reset);
  }
  auto drop = reader->optional_bool("drop_connection");
  if (!drop) return std::unexpected(std::move(drop).error());
  if (*drop) fault.drop_connection = **drop;
  auto apply_drop = reader->optional_bool("apply_then_drop");
  if (!apply_drop) return std::unexpected(std::move(apply_drop).error());
  if (*apply_drop) fault.apply_then_drop = **apply_drop;
  auto echo = reader->optional_bool("echo_headers");
  if (!echo) return std::unexpected(std::move(echo).error());
  if (*echo) fault.echo_headers = **echo;
  if (fault.echo_headers && fault.status == 0)
    return std::unexpected(reader->error("echo_headers", "only goes with status: the headers are echoed in an error answer"));
  if (fault.drop_connection && fault.status != 0)
    return std::unexpected(reader->error("drop_connection", "cannot go with status: a dropped connection has no answer"));
  if (fault.echo_headers && fault.body)
    return std::unexpected(reader->error("echo_headers", "cannot go with body: the body is answered as given"));
  const bool shapes = !fault.headers.empty() || fault.reset_mid_body || fault.close_connection;
  if (fault.drop_connection && shapes)
    return std::unexpected(reader->error(
        "drop_connection", "cannot go with headers, reset_mid_body or close_connection: a dropped connection has no answer"));
  if (fault.apply_then_drop) {
    if (fault.drop_connection)
      return std::unexpected(reader->error("apply_then_drop", "cannot go with drop_connection: one drops the request "
                                                              "before the emulator sees it, the other after"));
    if (fault.status != 0 || shapes)
      return std::unexpected(reader->error("apply_then_drop", "cannot go with status, headers, reset_mid_body or "
                                                              "close_connection: the emulator's answer is never sent"));
  }
  if (!fault.drop_connection && !fault.apply_then_drop && fault.status == 0 && fault.latency.count() == 0 && !shapes)
    return std::unexpected(field_error(path, "the fault does nothing: give latency_ms, status, headers, reset_mid_body, "
                                             "close_connection, drop_connection or apply_then_drop"));
  EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
  return fault;
}

}  // namespace

Result<boost::json::value> load_fixture(const std::string& path) {
  auto doc = load_document(path);
  if (!doc) return std::unexpected(std::move(doc).error());
  if (!doc->root.is_object() && !doc->root.is_null())
    return std::unexpected(doc->error_at("", "a fixture must be a mapping of sections"));
  if (doc->root.is_null()) return boost::json::value(boost::json::object{});
  return std::move(doc->root);
}

Result<std::vector<Fault>> parse_faults(const boost::json::value& list, const std::string& path) {
  if (!list.is_array())
    return std::unexpected(field_error(path, "expected a list of faults, found " + std::string(json_kind(list))));
  std::vector<Fault> out;
  const auto& array = list.get_array();
  for (std::size_t i = 0; i < array.size(); ++i) {
    auto fault = parse_fault(array[i], index_path(path, i));
    if (!fault) return std::unexpected(std::move(fault).error());
    out.push_back(std::move(*fault));
  }
  return out;
}

boost::json::value faults_to_json(const std::vector<Fault>& faults) {
  boost::json::array out;
  for (const auto& f : faults) {
    boost::json::object o;
    if (!f.vendor.empty()) o["vendor"] = f.vendor;
    if (!f.method.empty()) o["method"] = f.method;
    if (!f.path_prefix.empty()) o["path_prefix"] = f.path_prefix;
    if (f.times != -1) o["times"] = f.times;
    if (f.latency.count() > 0) o["latency_ms"] = f.latency.count();
    if (f.status != 0) o["status"] = f.status;
    if (f.retry_after_s >= 0) o["retry_after_s"] = f.retry_after_s;
    if (f.reset_in) o["reset_ms"] = f.reset_in->count();
    if (f.drop_connection) o["drop_connection"] = true;
    if (f.apply_then_drop) o["apply_then_drop"] = true;
    if (f.echo_headers) o["echo_headers"] = true;
    if (f.body) o["body"] = *f.body;
    if (!f.headers.empty()) {
      boost::json::object headers;
      for (const auto& [name, value] : f.headers) headers[name] = value;
      o["headers"] = std::move(headers);
    }
    if (f.reset_mid_body) o["reset_mid_body"] = true;
    if (f.close_connection) o["close_connection"] = true;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace expbridge::emulator
