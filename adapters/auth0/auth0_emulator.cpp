// The Auth0 emulator: a tenant's `/oauth/token` (client credentials) and the Management API v2
// Experiment Center (beta): experiments, and the reads of their feature flags and variations.
// Facts: Auth0 Management API v2 reference (OpenAPI document, `experimentation` operations:
// experiments, experiment status and validate, feature flags, feature flag variations), the
// Experiment Center guides, and the Authentication API's client-credentials token endpoint.
//
// This emulator is a second witness of Auth0's rules: it never includes the Auth0 adapter nor
// reads the mapping tables (mappings/*.yaml).
//
// Where the reference leaves a behaviour open, the choice made here is commented with
// "unverified" so it can be corrected in one place.
//
// Routes (every /api/v2 route needs a live Bearer token issued by /oauth/token, else 401; an
// id that does not match its pattern is 400 invalid_uri; an unknown one is 404 {statusCode,
// error, message}):
//   POST   /oauth/token                                             client credentials (200)
//   GET    /api/v2/experimentation/experiments                      list (take/from checkpoints,
//                                                                   status, authentication_flow, feature_flag_id)
//   POST   /api/v2/experimentation/experiments                      create (201 Experiment, draft; 404 for
//                                                                   an unknown flag, 409 for a name in use)
//   GET    /api/v2/experimentation/experiments/{exp_id}             get (200 Experiment)
//   PATCH  /api/v2/experimentation/experiments/{exp_id}             update (200)
//   DELETE /api/v2/experimentation/experiments/{exp_id}             delete (204, idempotent)
//   POST   /api/v2/experimentation/experiments/{exp_id}/status      transition (200)
//   POST   /api/v2/experimentation/experiments/{exp_id}/validate    readiness (200 {is_valid, errors})
//   GET    /api/v2/experimentation/feature-flags/{flg_id}           get flag (200 {id, name, description?,
//                                                                   status, parameters, created_at, updated_at})
//   GET    /api/v2/experimentation/feature-flags/{flg_id}/variations          list ({variations, next?})
//   GET    /api/v2/experimentation/feature-flags/{flg_id}/variations/{var_id} get (200 {id, feature_flag_id,
//                                                                   name, description?, overrides, created_at, updated_at})
// A variation's value is the flag's baseline `parameters` with its `overrides` applied. Other
// Management API paths (creating flags, segments, …) are not emulated.
//
// state() shape (what tests assert on):
//   {
//     "domain": "example.us.auth0.com",
//     "tokens_issued": 1,                      // successful POST /oauth/token answers
//     "feature_flags": {"flg_…": {"name", "status", "variations": ["var_…", …]}},
//     "experiments": {
//       "exp_…": {"name", "description" (string|null), "feature_flag_id", "authentication_flow",
//                 "allocation_strategy", "status", "is_valid",
//                 "allocations": [{"variation_id", "is_control", "weight"?, "segment_id"?,
//                                  "priority"?, "is_fallback"?}],
//                 "started_at" (string|null), "ended_at" (string|null)}
//     }
//   }
//
// Fixture section (`auth0:`), strict:
//   domain: tenant host name (the token audience is https://<domain>/api/v2/)
//   token_lifetime_s: optional, default 86400 (lets a CI exercise token refresh)
//   feature_flags: [{id: flg_…, name, description?, status: draft|active|archived,
//                    parameters?: {NAME: typed value},           # the baseline
//                    variations: [{id: var_…, name (default: the id), description?,
//                                  overrides?: {NAME: value of the parameter's type}}]}]
//   experiments: [{id: exp_…, name, description?, feature_flag_id, authentication_flow?,
//                  allocation_strategy?: percentage|segment, status?, allocations: [...],
//                  started_at?, ended_at?}]
#include "auth0_emulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <expected>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "json_reader.hpp"
#include "emulator/fixtures.hpp"
#include "emulator/rate_limits.hpp"
#include "json_writer.hpp"

namespace expbridge::emulator {
namespace json = boost::json;
namespace {

// The Machine-to-Machine application the emulator knows: example values, not secrets.
constexpr const char* kExampleClientId = "emulator-client-id";
constexpr const char* kExampleClientSecret = "emulator-client-secret";

using Clock = std::chrono::system_clock;

constexpr std::string_view kApiPrefix = "/api/v2/experimentation/";
constexpr std::string_view kTextPattern = "^(?!.*\\x00)\\S(.*\\S)?$";
// Every Management API token this tenant issues carries all experimentation scopes: the
// emulator has one M2M application and does not model missing-scope 403s.
constexpr std::string_view kScopes =
    "read:experimentation create:experimentation update:experimentation delete:experimentation";

// ---------------------------------------------------------------------------------------------
// Small text helpers

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  auto end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

/// The media type of a Content-Type header, lower-cased, without parameters.
std::string media_type(const ServerRequest& request) {
  auto header = request.header("content-type");
  if (!header) return {};
  return lower(trim(std::string_view(*header).substr(0, header->find(';'))));
}

/// application/x-www-form-urlencoded decoding: `+` is a space, then percent escapes.

/// Decodes UTF-8 into code points (Boost.JSON has already rejected invalid UTF-8; a stray
/// byte in a fixture is taken as its own code point).
std::vector<char32_t> code_points(std::string_view text) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t extra = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : 0;
    if (i + extra >= text.size()) extra = 0;  // truncated sequence: the byte alone
    char32_t cp = extra == 0 ? byte : extra == 1 ? (byte & 0x1F) : extra == 2 ? (byte & 0x0F) : (byte & 0x07);
    for (std::size_t k = 1; k <= extra; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    out.push_back(cp);
    i += 1 + extra;
  }
  return out;
}

/// ECMAScript `\s` (the schema pattern is an ECMA-262 regular expression).
bool js_whitespace(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

/// ECMAScript line terminators: `.` does not match them, so `^\S(.*\S)?$` (no `s` flag)
/// refuses a name with a line break anywhere, not only at the ends.
bool js_line_terminator(char32_t c) { return c == 0x0A || c == 0x0D || c == 0x2028 || c == 0x2029; }

bool matches_text_pattern(const std::vector<char32_t>& cps) {
  if (cps.empty() || js_whitespace(cps.front()) || js_whitespace(cps.back())) return false;
  return std::none_of(cps.begin(), cps.end(), [](char32_t c) { return c == 0 || js_line_terminator(c); });
}

/// `^<prefix>_[A-HJ-NP-Za-km-z1-9]+$` (Base58 ids).
bool is_base58_id(std::string_view id, std::string_view prefix) {
  if (id.size() <= prefix.size() + 1 || id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_') return false;
  static constexpr std::string_view alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()) + 1, id.end(),
                     [](char c) { return alphabet.find(c) != std::string_view::npos; });
}

std::string id_pattern(std::string_view prefix) { return "^" + std::string(prefix) + "_[A-HJ-NP-Za-km-z1-9]+$"; }

std::string rfc3339(Clock::time_point when) {
  auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(when);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(when - seconds).count();
  std::time_t t = Clock::to_time_t(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

/// The JSON Schema type name of a value, as the Management API's validator words it.
std::string schema_type(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return std::trunc(v.get_double()) == v.get_double() ? "integer" : "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "unknown";
}

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Replies


/// A Management API error: {statusCode, error, message, errorCode?}. errorCode is only set
/// where the Management API's generic codes are known (invalid_body, invalid_query_string,
/// invalid_uri); the experimentation-specific codes are unverified, so none are invented.
ServerReply api_error(int status, std::string_view message, std::string_view error_code = {}) {
  json::object body;
  body["statusCode"] = status;
  body["error"] = reason_phrase(status);
  body["message"] = message;
  if (!error_code.empty()) body["errorCode"] = error_code;
  return json_reply(status, body);
}

/// The message of a payload (schema) violation, worded like the Management API's validator.
std::string payload_message(std::string_view problem, std::string_view property = {}) {
  std::string out = "Payload validation error: '" + std::string(problem) + "'";
  if (!property.empty()) out += " on property " + std::string(property);
  return out + ".";
}

ServerReply payload_error(std::string message) { return api_error(400, message, "invalid_body"); }

ServerReply query_error(std::string_view problem, std::string_view property = {}) {
  std::string message = "Query validation error: '" + std::string(problem) + "'";
  if (!property.empty()) message += " on property " + std::string(property);
  return api_error(400, message + ".", "invalid_query_string");
}

/// An OAuth token endpoint error: {error, error_description}.
ServerReply oauth_error(int status, std::string_view error, std::string_view description) {
  json::object body;
  body["error"] = error;
  body["error_description"] = description;
  return json_reply(status, body, {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}});
}

// ---------------------------------------------------------------------------------------------
// Model

struct Allocation {
  std::string variation_id;
  bool is_control = false;
  std::optional<json::value> weight;  // kept as sent, so 50 stays 50 (not 5E1) in answers
  std::optional<std::string> segment_id;
  std::optional<std::int64_t> priority;
  std::optional<bool> is_fallback;

  double weight_value() const { return weight ? as_number(*weight).value_or(0) : 0; }
};

struct Variation {
  std::string id;
  std::string name;
  std::optional<std::string> description;
  json::object overrides;  ///< only the parameters that differ from the flag's baseline
};

struct FeatureFlag {
  std::string id;
  std::string name;
  std::optional<std::string> description;
  std::string status = "active";
  json::object parameters;  ///< the baseline: parameter name -> typed value
  std::vector<Variation> variations;
  std::string created_at, updated_at;

  const Variation* variation(std::string_view id_) const {
    for (const auto& v : variations)
      if (v.id == id_) return &v;
    return nullptr;
  }
  bool has_variation(std::string_view id_) const { return variation(id_) != nullptr; }
};

struct Experiment {
  std::string id;
  std::string name;
  std::optional<std::string> description;
  std::string feature_flag_id;
  std::string authentication_flow = "authentication";
  std::string allocation_strategy = "percentage";
  json::object assignment_config{{"subject", "device"}};
  std::string status = "draft";
  std::vector<Allocation> allocations;
  std::string created_at, updated_at;
  std::optional<std::string> started_at, ended_at;
};

struct ReadinessError {
  std::string code;  // unverified: the validate endpoint's codes are not documented
  std::string message;
};

/// Checks a name or description: type, length in characters, the no-NUL/no-outer-space pattern.
std::optional<std::string> check_text(const json::value& v, std::string_view property, std::size_t min, std::size_t max) {
  if (!v.is_string()) return payload_message("Expected type string but found type " + schema_type(v), property);
  auto cps = code_points(v.get_string());
  if (cps.size() < min)
    return payload_message("String is too short (" + std::to_string(cps.size()) + " chars), minimum " + std::to_string(min), property);
  if (cps.size() > max)
    return payload_message("String is too long (" + std::to_string(cps.size()) + " chars), maximum " + std::to_string(max), property);
  if (!matches_text_pattern(cps))
    return payload_message("String does not match pattern " + std::string(kTextPattern) + ": " + std::string(v.get_string()),
                           property);
  return std::nullopt;
}

std::optional<std::string> unknown_member(const json::object& object, std::initializer_list<std::string_view> known,
                                          std::string_view property) {
  for (const auto& member : object)
    if (std::find(known.begin(), known.end(), member.key()) == known.end())
      return payload_message("Additional properties not allowed: " + std::string(member.key()), property);
  return std::nullopt;
}

std::string item_path(std::string_view parent, std::size_t index, std::string_view member = {}) {
  std::string out = std::string(parent) + "[" + std::to_string(index) + "]";
  if (!member.empty()) out += "." + std::string(member);
  return out;
}

/// One allocation item against the request schema (strategy rules come later, with the experiment).
std::expected<Allocation, std::string> parse_allocation(const json::value& v, std::size_t index) {
  std::string at = item_path("allocations", index);
  if (!v.is_object()) return std::unexpected(payload_message("Expected type object but found type " + schema_type(v), at));
  const auto& o = v.get_object();
  if (auto e = unknown_member(o, {"variation_id", "is_control", "weight", "segment_id", "priority", "is_fallback"}, at))
    return std::unexpected(*e);
  for (std::string_view required : {"variation_id", "is_control"})
    if (!o.contains(required)) return std::unexpected(payload_message("Missing required property: " + std::string(required), at));
  Allocation a;
  const auto& variation = o.at("variation_id");
  if (!variation.is_string())
    return std::unexpected(payload_message("Expected type string but found type " + schema_type(variation), item_path("allocations", index, "variation_id")));
  if (!is_base58_id(variation.get_string(), "var"))
    return std::unexpected(payload_message("String does not match pattern " + id_pattern("var") + ": " + std::string(variation.get_string()),
                                           item_path("allocations", index, "variation_id")));
  a.variation_id = variation.get_string();
  const auto& control = o.at("is_control");
  if (!control.is_bool())
    return std::unexpected(payload_message("Expected type boolean but found type " + schema_type(control), item_path("allocations", index, "is_control")));
  a.is_control = control.get_bool();
  if (const auto* w = o.if_contains("weight")) {
    auto n = as_number(*w);
    if (!n) return std::unexpected(payload_message("Expected type number but found type " + schema_type(*w), item_path("allocations", index, "weight")));
    if (*n < 0) return std::unexpected(payload_message("Value " + number_text(*n) + " is less than minimum 0", item_path("allocations", index, "weight")));
    if (*n > 100) return std::unexpected(payload_message("Value " + number_text(*n) + " is greater than maximum 100", item_path("allocations", index, "weight")));
    a.weight = *w;
  }
  if (const auto* s = o.if_contains("segment_id")) {
    if (!s->is_string())
      return std::unexpected(payload_message("Expected type string but found type " + schema_type(*s), item_path("allocations", index, "segment_id")));
    if (!is_base58_id(s->get_string(), "seg"))
      return std::unexpected(payload_message("String does not match pattern " + id_pattern("seg") + ": " + std::string(s->get_string()),
                                             item_path("allocations", index, "segment_id")));
    a.segment_id = std::string(s->get_string());
  }
  if (const auto* p = o.if_contains("priority")) {
    auto n = as_number(*p);
    if (!n || std::trunc(*n) != *n)
      return std::unexpected(payload_message("Expected type integer but found type " + schema_type(*p), item_path("allocations", index, "priority")));
    if (*n < 1) return std::unexpected(payload_message("Value " + number_text(*n) + " is less than minimum 1", item_path("allocations", index, "priority")));
    a.priority = static_cast<std::int64_t>(*n);
  }
  if (const auto* f = o.if_contains("is_fallback")) {
    if (!f->is_bool())
      return std::unexpected(payload_message("Expected type boolean but found type " + schema_type(*f), item_path("allocations", index, "is_fallback")));
    a.is_fallback = f->get_bool();
  }
  return a;
}

std::expected<std::vector<Allocation>, std::string> parse_allocations(const json::value& v) {
  if (!v.is_array()) return std::unexpected(payload_message("Expected type array but found type " + schema_type(v), "allocations"));
  const auto& array = v.get_array();
  if (array.empty()) return std::unexpected(payload_message("Array is too short (0), minimum 1", "allocations"));
  std::vector<Allocation> out;
  for (std::size_t i = 0; i < array.size(); ++i) {
    auto a = parse_allocation(array[i], i);
    if (!a) return std::unexpected(a.error());
    out.push_back(std::move(*a));
  }
  return out;
}

std::optional<std::string> check_assignment_config(const json::value& v) {
  if (!v.is_object()) return payload_message("Expected type object but found type " + schema_type(v), "assignment_config");
  const auto& o = v.get_object();
  if (auto e = unknown_member(o, {"subject"}, "assignment_config")) return e;
  const auto* subject = o.if_contains("subject");
  if (!subject) return payload_message("Missing required property: subject", "assignment_config");
  if (!subject->is_string() || subject->get_string() != "device")
    return payload_message("No enum match for: " + write_json(*subject), "assignment_config.subject");
  return std::nullopt;
}

/// The members every Experiment Center resource answer starts with: id, name, description if set.
json::object named_resource(std::string_view id, std::string_view name, const std::optional<std::string>& description) {
  json::object o;
  o["id"] = id;
  o["name"] = name;
  if (description) o["description"] = *description;
  return o;
}

json::object allocation_json(const Allocation& a) {
  json::object o;
  o["variation_id"] = a.variation_id;
  if (a.segment_id) o["segment_id"] = *a.segment_id;
  if (a.weight) o["weight"] = *a.weight;
  if (a.priority) o["priority"] = *a.priority;
  o["is_control"] = a.is_control;
  if (a.is_fallback) o["is_fallback"] = *a.is_fallback;
  return o;
}

// ---------------------------------------------------------------------------------------------
// The emulator

class Auth0Emulator final : public VendorEmulator {
 public:
  Auth0Emulator() : random_(std::random_device{}()) {}

  std::string_view vendor() const override { return "auth0"; }

  // What the host asks of every emulator: defined apart, at the end of this file.
  std::vector<Credential> credentials() const override;
  ServerReply injected_error(const InjectedError& error) const override;
  Result<std::string_view> default_fixture() const override;
  std::optional<SampleBackend> sample_backend() const override;

  bool serves(const ServerRequest& request) const override {
    std::string_view path = path_of(request);
    // Only the experimentation subtree: LaunchDarkly's API also lives under /api/v2.
    return path == "/oauth/token" || path.substr(0, kApiPrefix.size()) == kApiPrefix ||
           path == kApiPrefix.substr(0, kApiPrefix.size() - 1);
  }

  ServerReply handle(const ServerRequest& request) override {
    if (path_of(request) == "/oauth/token") return token(request);
    return api(request);
  }

  // `rate_limits.auth0: {per_second, burst}`: the tenant's token bucket.
  Status limit_rate(const json::value& section, WallClock::time_point now) override {
    auto bucket = parse_token_bucket(section, "rate_limits.auth0", now);
    if (!bucket) return std::unexpected(std::move(bucket).error());
    bucket_ = std::move(*bucket);
    return {};
  }

  // Every Management API answer carries the bucket's X-RateLimit-Limit, -Remaining and -Reset
  // (epoch seconds, rounded up: when the next token is there once none is left, else when the
  // bucket is full again); one over it gets 429 with Retry-After (whole seconds). Without a
  // limit the bucket is always nearly full and refills within a second.
  RateVerdict rate_limit(const ServerRequest& request, WallClock::time_point now) override {
    RateVerdict verdict;
    if (path_of(request) == "/oauth/token") return verdict;  // the Authentication API's own limits
    auto epoch_s_up = [](WallClock::time_point t) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
      return (ms + 999) / 1000;
    };
    if (!bucket_) {
      verdict.headers = {{"X-RateLimit-Limit", "50"},
                         {"X-RateLimit-Remaining", "49"},
                         {"X-RateLimit-Reset", std::to_string(epoch_s_up(now) + 1)}};
      return verdict;
    }
    const bool allowed = bucket_->take(now);
    const auto left = bucket_->remaining(now);
    WallClock::time_point reset = bucket_->next_token(now);
    if (left > 0) {
      const double missing = bucket_->burst() - static_cast<double>(left);
      reset = now + std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(missing / bucket_->per_second()));
    }
    if (!allowed) {
      verdict.refusal = api_error(429, "Global limit has been reached", "too_many_requests");
      const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(reset - now).count();
      verdict.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, (wait_ms + 999) / 1000)));
    }
    verdict.headers.emplace_back("X-RateLimit-Limit", std::to_string(static_cast<std::int64_t>(bucket_->burst())));
    verdict.headers.emplace_back("X-RateLimit-Remaining", std::to_string(left));
    verdict.headers.emplace_back("X-RateLimit-Reset", std::to_string(epoch_s_up(reset)));
    return verdict;
  }

  Status seed(const json::value& fixture) override;
  json::value state() const override;

 private:
  std::optional<TokenBucket> bucket_;

  // ---- token endpoint ------------------------------------------------------------------------
  ServerReply token(const ServerRequest& request) {
    if (request.method != "POST") return api_error(404, "Not Found");
    std::vector<std::pair<std::string, std::string>> fields;
    std::string type = media_type(request);
    if (type == "application/x-www-form-urlencoded") {
      std::string_view body = request.body;
      while (!body.empty()) {
        auto amp = body.find('&');
        std::string_view pair = body.substr(0, amp);
        auto eq = pair.find('=');
        if (!pair.empty())
          fields.emplace_back(percent_decode(pair.substr(0, eq), true), eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true));
        if (amp == std::string_view::npos) break;
        body.remove_prefix(amp + 1);
      }
    } else if (type == "application/json") {
      boost::system::error_code ec;
      json::value parsed = json::parse(request.body, ec);
      if (ec || !parsed.is_object()) return oauth_error(400, "invalid_request", "Invalid request body");
      for (const auto& member : parsed.get_object())
        if (member.value().is_string()) fields.emplace_back(member.key(), member.value().get_string());
    } else {
      // unverified: the exact answer to another content type.
      return oauth_error(400, "invalid_request", "Unsupported content type: use application/x-www-form-urlencoded or application/json");
    }
    auto field = [&](std::string_view name) -> std::optional<std::string> {
      for (const auto& [k, v] : fields)
        if (k == name) return v;
      return std::nullopt;
    };
    auto grant = field("grant_type");
    if (!grant || grant->empty()) return oauth_error(400, "invalid_request", "Missing required parameter: grant_type");
    auto client_id = field("client_id");
    auto secret = field("client_secret");
    // One M2M application; a wrong id or secret (or a private-key assertion, not emulated) is
    // the same 401, so a caller cannot probe which part was wrong.
    if (client_id != kExampleClientId || secret != kExampleClientSecret)
      return oauth_error(401, "access_denied", "Unauthorized");
    // unverified status: an M2M application is only granted client_credentials.
    if (*grant != "client_credentials")
      return oauth_error(403, "unauthorized_client", "Grant type '" + *grant + "' not allowed for the client.");
    auto audience = field("audience");
    if (!audience || audience->empty())
      return oauth_error(403, "access_denied", "No audience parameter was provided, and no default audience has been configured");
    if (*audience != "https://" + domain_ + "/api/v2/") return oauth_error(403, "access_denied", "Service not found: " + *audience);

    static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string access_token = "eyJ";  // looks like a JWT to a human; opaque to everyone
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    for (int i = 0; i < 64; ++i) access_token.push_back(alphabet[pick(random_)]);
    tokens_[access_token] = Clock::now() + std::chrono::seconds(token_lifetime_s_);
    ++tokens_issued_;
    json::object body;
    body["access_token"] = access_token;
    body["token_type"] = "Bearer";
    body["expires_in"] = token_lifetime_s_;
    body["scope"] = kScopes;
    return json_reply(200, body, {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}});
  }

  /// The 401 to send, or nothing when the bearer token is one this tenant issued and it is live.
  std::optional<ServerReply> check_bearer(const ServerRequest& request) const {
    auto header = request.header("authorization");
    if (!header) return api_error(401, "Missing authentication");
    std::string value = trim(*header);
    if (value.size() < 7 || lower(value.substr(0, 7)) != "bearer ") return api_error(401, "Bad HTTP authentication header format");
    std::string presented = trim(std::string_view(value).substr(7));
    auto it = tokens_.find(presented);
    if (it == tokens_.end()) return api_error(401, "Invalid token");
    if (Clock::now() >= it->second) return api_error(401, "Expired token received for JSON Web Token validation");
    return std::nullopt;
  }

  // ---- Management API ------------------------------------------------------------------------
  ServerReply api(const ServerRequest& request) {
    if (auto refusal = check_bearer(request)) return *refusal;
    auto segments = path_segments(request);  // api v2 experimentation experiments [id] [action]
    if (segments.size() >= 5 && segments[3] == "feature-flags") return flag_api(request, segments);
    if (segments.size() < 4 || segments[3] != "experiments" || segments.size() > 6) return api_error(404, "Not Found");
    const std::string& method = request.method;
    if (segments.size() == 4) {
      if (method == "GET") return list(request);
      if (method == "POST") return create(request);
      return api_error(404, "Not Found");
    }
    const std::string& id = segments[4];
    std::string action = segments.size() == 6 ? segments[5] : "";
    bool known_route = (action.empty() && (method == "GET" || method == "PATCH" || method == "DELETE")) ||
                       ((action == "status" || action == "validate") && method == "POST");
    if (!known_route) return api_error(404, "Not Found");
    if (auto refusal = check_path_id(id, "exp")) return *refusal;
    if (action == "status") return transition(request, id);
    if (action == "validate") return validate(id);
    if (method == "GET") {
      auto* e = find(id);
      if (!e) return not_found();
      return json_reply(200, experiment_json(*e));
    }
    if (method == "DELETE") return remove(id);
    return update(request, id);
  }

  static ServerReply not_found() { return api_error(404, "The experiment does not exist."); }  // unverified wording

  /// The reads of a feature flag: GET feature-flags/{id}, …/{id}/variations, …/{id}/variations/{vid}.
  /// Writes to flags and variations exist at Auth0 but are not emulated (404 like any unknown path).
  ServerReply flag_api(const ServerRequest& request, const std::vector<std::string>& segments) const {
    // api v2 experimentation feature-flags ID [variations [VID]]
    bool known_route = request.method == "GET" &&
                       (segments.size() == 5 || (segments.size() <= 7 && segments[5] == "variations"));
    if (!known_route) return api_error(404, "Not Found");
    if (auto refusal = check_path_id(segments[4], "flg")) return *refusal;
    const FeatureFlag* flag = find_flag(segments[4]);
    if (!flag) return api_error(404, "The feature flag does not exist.");  // unverified wording
    if (segments.size() == 5) return json_reply(200, flag_json(*flag));
    if (segments.size() == 6) return list_variations(request, *flag);
    if (auto refusal = check_path_id(segments[6], "var")) return *refusal;
    const Variation* variation = flag->variation(segments[6]);
    if (!variation) return api_error(404, "The variation does not exist.");  // unverified wording
    return json_reply(200, variation_json(*flag, *variation));
  }

  /// A path id that does not match its pattern is a 400 before any lookup.
  static std::optional<ServerReply> check_path_id(const std::string& id, std::string_view prefix) {
    if (is_base58_id(id, prefix)) return std::nullopt;
    return api_error(400, "Path validation error: 'String does not match pattern " + id_pattern(prefix) + ": " + id + "' on property id.",
                     "invalid_uri");
  }

  /// The take/from checkpoint query of every list operation: the page start and size, or the 400.
  template <class Item, class IdOf>
  static std::expected<std::pair<std::size_t, std::size_t>, ServerReply> checkpoint(
      const std::vector<std::pair<std::string, std::string>>& query, const std::vector<Item>& items, IdOf id_of) {
    std::size_t take = 25;
    std::optional<std::string> from;
    for (const auto& [key, value] : query) {
      if (key == "take") {
        char* end = nullptr;
        long n = std::strtol(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0') return std::unexpected(query_error("Expected type integer but found type string", "take"));
        if (n < 1) return std::unexpected(query_error("Value " + value + " is less than minimum 1", "take"));
        if (n > 50) return std::unexpected(query_error("Value " + value + " is greater than maximum 50", "take"));
        take = static_cast<std::size_t>(n);
      } else if (key == "from") {
        from = value;
      }
    }
    // The checkpoint is the id of the first item of the page (opaque to callers).
    std::size_t start = 0;
    if (from) {
      auto it = std::find_if(items.begin(), items.end(), [&](const Item& item) { return id_of(item) == *from; });
      if (it == items.end()) return std::unexpected(query_error("Invalid checkpoint: " + *from, "from"));  // unverified
      start = static_cast<std::size_t>(it - items.begin());
    }
    return std::make_pair(start, take);
  }

  /// List variations: `{variations: [...], next?}` (the shape of the experiments list; the
  /// variations list body is unverified).
  static ServerReply list_variations(const ServerRequest& request, const FeatureFlag& flag) {
    auto query = query_of(request);
    for (const auto& [key, value] : query)
      if (key != "take" && key != "from") return query_error("Additional properties not allowed: " + key);
    auto page = checkpoint(query, flag.variations, [](const Variation& v) { return v.id; });
    if (!page) return page.error();
    auto [start, take] = *page;
    json::array out;
    for (std::size_t i = start; i < flag.variations.size() && i < start + take; ++i) out.push_back(variation_json(flag, flag.variations[i]));
    json::object body;
    body["variations"] = std::move(out);
    if (start + take < flag.variations.size()) body["next"] = flag.variations[start + take].id;
    return json_reply(200, body);
  }

  /// A feature flag as the API answers it: the baseline parameters (members beyond the create
  /// body's name/description/parameters — id, status, timestamps — follow the experiment's shape).
  static json::object flag_json(const FeatureFlag& f) {
    json::object o = named_resource(f.id, f.name, f.description);
    o["status"] = f.status;
    o["parameters"] = f.parameters;
    o["created_at"] = f.created_at;
    o["updated_at"] = f.updated_at;
    return o;
  }

  /// A variation: `{id, feature_flag_id, name, description, overrides, created_at, updated_at}`.
  static json::object variation_json(const FeatureFlag& f, const Variation& v) {
    json::object o = named_resource(v.id, v.name, v.description);
    o["feature_flag_id"] = f.id;
    o["overrides"] = v.overrides;
    o["created_at"] = f.created_at;
    o["updated_at"] = f.updated_at;
    return o;
  }

  /// The request body as JSON, or the 400/415 to send. hapi (under the Management API) takes a
  /// body without Content-Type as JSON.
  static std::expected<json::value, ServerReply> json_body(const ServerRequest& request) {
    std::string type = media_type(request);
    if (!type.empty() && type != "application/json") return std::unexpected(api_error(415, "Unsupported Media Type"));
    if (request.body.empty()) return json::value(nullptr);
    boost::system::error_code ec;
    json::value v = json::parse(request.body, ec);
    if (ec) return std::unexpected(api_error(400, "Invalid request payload JSON format", "invalid_body"));
    return v;
  }

  ServerReply list(const ServerRequest& request) const {
    std::optional<std::string> status, flow, flag;
    auto query = query_of(request);
    for (const auto& [key, value] : query) {
      if (key == "take" || key == "from") {
        continue;  // read by checkpoint()
      } else if (key == "status") {
        static const std::vector<std::string> statuses{"draft", "active", "paused", "completed", "archived"};
        if (std::find(statuses.begin(), statuses.end(), value) == statuses.end())
          return query_error("No enum match for: \"" + value + "\"", "status");
        status = value;
      } else if (key == "authentication_flow") {
        flow = value;
      } else if (key == "feature_flag_id") {
        flag = value;
      } else {
        return query_error("Additional properties not allowed: " + key);
      }
    }
    std::vector<const Experiment*> matching;
    for (const auto& e : experiments_) {
      // Archived is the soft delete: hidden unless asked for by status.
      if (status ? e.status != *status : e.status == "archived") continue;
      if (flow && e.authentication_flow != *flow) continue;
      if (flag && e.feature_flag_id != *flag) continue;
      matching.push_back(&e);
    }
    auto checkpoint_or = checkpoint(query, matching, [](const Experiment* e) { return e->id; });
    if (!checkpoint_or) return checkpoint_or.error();
    auto [start, take] = *checkpoint_or;
    json::array page;
    for (std::size_t i = start; i < matching.size() && i < start + take; ++i) page.push_back(experiment_json(*matching[i]));
    json::object body;
    body["experiments"] = std::move(page);
    if (start + take < matching.size()) body["next"] = matching[start + take]->id;
    return json_reply(200, body);
  }

  /// CreateExperiment: the schema first (additionalProperties: false, every required member), then
  /// the flag, the name's uniqueness and the allocations against the flag's variations. A new
  /// experiment is a draft; its readiness is only checked on activation.
  ServerReply create(const ServerRequest& request) {
    auto parsed = json_body(request);
    if (!parsed) return parsed.error();
    const json::value& body = *parsed;
    if (!body.is_object()) return payload_error(payload_message("Expected type object but found type " + schema_type(body)));
    const auto& o = body.get_object();
    if (auto e = unknown_member(o, {"name", "description", "feature_flag_id", "authentication_flow", "allocation_strategy",
                                    "assignment_config", "allocations"}, {}))
      return payload_error(*e);
    for (std::string_view required :
         {"name", "feature_flag_id", "authentication_flow", "allocation_strategy", "assignment_config", "allocations"})
      if (!o.contains(required)) return payload_error(payload_message("Missing required property: " + std::string(required)));
    if (auto e = check_text(o.at("name"), "name", 3, 255)) return payload_error(*e);
    if (const auto* description = o.if_contains("description"))
      if (auto e = check_text(*description, "description", 3, 1024)) return payload_error(*e);
    const auto& flag_id = o.at("feature_flag_id");
    if (!flag_id.is_string())
      return payload_error(payload_message("Expected type string but found type " + schema_type(flag_id), "feature_flag_id"));
    if (!is_base58_id(flag_id.get_string(), "flg"))
      return payload_error(payload_message("String does not match pattern " + id_pattern("flg") + ": " +
                                               std::string(flag_id.get_string()), "feature_flag_id"));
    const auto& flow = o.at("authentication_flow");
    if (!flow.is_string())
      return payload_error(payload_message("Expected type string but found type " + schema_type(flow), "authentication_flow"));
    const auto& strategy = o.at("allocation_strategy");
    if (!strategy.is_string() || (strategy.get_string() != "percentage" && strategy.get_string() != "segment"))
      return payload_error(payload_message("No enum match for: " + write_json(strategy), "allocation_strategy"));
    if (auto e = check_assignment_config(o.at("assignment_config"))) return payload_error(*e);
    auto allocations = parse_allocations(o.at("allocations"));
    if (!allocations) return payload_error(allocations.error());

    if (!find_flag(flag_id.get_string())) return api_error(404, "The feature flag does not exist.");  // unverified wording
    const std::string name(o.at("name").get_string());
    for (const auto& other : experiments_)
      if (other.name == name) return api_error(409, "An experiment with the name '" + name + "' already exists.");  // unverified wording
    Experiment e;
    e.name = name;
    if (const auto* description = o.if_contains("description")) e.description = std::string(description->get_string());
    e.feature_flag_id = flag_id.get_string();
    e.authentication_flow = flow.get_string();
    e.allocation_strategy = strategy.get_string();
    e.assignment_config = o.at("assignment_config").get_object();
    if (auto refusal = check_allocations_for(e, *allocations)) return *refusal;
    e.allocations = std::move(*allocations);
    e.id = new_experiment_id();
    e.created_at = e.updated_at = rfc3339(Clock::now());
    experiments_.push_back(std::move(e));
    return json_reply(201, experiment_json(experiments_.back()));
  }

  /// `exp_` + 14 Base58 characters, unused in this tenant.
  std::string new_experiment_id() {
    static constexpr std::string_view alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    for (;;) {
      std::string id = "exp_";
      for (int i = 0; i < 14; ++i) id.push_back(alphabet[pick(random_)]);
      if (!find(id)) return id;
    }
  }

  ServerReply update(const ServerRequest& request, const std::string& id) {
    auto parsed = json_body(request);
    if (!parsed) return parsed.error();
    const json::value& body = *parsed;
    // Schema first (the validator runs before the handler looks anything up).
    if (!body.is_object()) return payload_error(payload_message("Expected type object but found type " + schema_type(body)));
    const auto& o = body.get_object();
    if (auto e = unknown_member(o, {"name", "description", "assignment_config", "allocations"}, {})) return payload_error(*e);
    if (o.empty()) return payload_error(payload_message("Too few properties defined (0), minimum 1"));
    if (const auto* name = o.if_contains("name"))
      if (auto e = check_text(*name, "name", 3, 255)) return payload_error(*e);
    if (const auto* description = o.if_contains("description"); description && !description->is_null())
      if (auto e = check_text(*description, "description", 3, 1024)) return payload_error(*e);
    if (const auto* config = o.if_contains("assignment_config"))
      if (auto e = check_assignment_config(*config)) return payload_error(*e);
    std::optional<std::vector<Allocation>> allocations;
    if (const auto* a = o.if_contains("allocations")) {
      auto parsed_allocations = parse_allocations(*a);
      if (!parsed_allocations) return payload_error(parsed_allocations.error());
      allocations = std::move(*parsed_allocations);
    }

    Experiment* e = find(id);
    if (!e) return not_found();
    if (allocations) {
      if (e->status == "active") return api_error(400, "Allocations cannot be modified while the experiment is active");
      if (auto refusal = check_allocations_for(*e, *allocations)) return *refusal;
    }
    if (const auto* name = o.if_contains("name")) {
      for (const auto& other : experiments_)
        if (other.id != e->id && other.name == name->get_string())
          return api_error(409, "An experiment with the name '" + std::string(name->get_string()) + "' already exists.");  // unverified wording
    }

    if (const auto* name = o.if_contains("name")) e->name = name->get_string();
    if (const auto* description = o.if_contains("description")) {
      // unverified: null is taken to clear the description.
      if (description->is_null()) e->description.reset();
      else e->description = std::string(description->get_string());
    }
    if (const auto* config = o.if_contains("assignment_config")) e->assignment_config = config->get_object();
    if (allocations) e->allocations = std::move(*allocations);
    e->updated_at = rfc3339(Clock::now());
    return json_reply(200, experiment_json(*e));
  }

  /// Rules an allocation set must meet for this experiment before it is stored. The strategy
  /// member rules and "exactly one control" being write-time (not only readiness) refusals is
  /// unverified; a dangling variation id is refused on write as the flag's variations are known.
  std::optional<ServerReply> check_allocations_for(const Experiment& e, const std::vector<Allocation>& allocations) const {
    const FeatureFlag* flag = find_flag(e.feature_flag_id);
    int controls = 0;
    for (std::size_t i = 0; i < allocations.size(); ++i) {
      const auto& a = allocations[i];
      if (!flag || !flag->has_variation(a.variation_id))
        return api_error(400, "Variation " + a.variation_id + " does not belong to feature flag " + e.feature_flag_id);
      if (e.allocation_strategy == "percentage" && (a.segment_id || a.priority || a.is_fallback))
        return api_error(400, item_path("allocations", i) + ": segment_id, priority and is_fallback apply only to the segment allocation strategy");
      if (e.allocation_strategy == "segment" && a.weight)
        return api_error(400, item_path("allocations", i) + ": weight applies only to the percentage allocation strategy");
      if (a.is_control) ++controls;
    }
    if (controls != 1)
      return api_error(400, "Exactly one allocation must have is_control set to true (found " + std::to_string(controls) + ")");
    return std::nullopt;
  }

  /// The readiness check (is_valid): every rule broken, in the documented order.
  std::vector<ReadinessError> readiness(const Experiment& e) const {
    std::vector<ReadinessError> errors;
    const FeatureFlag* flag = find_flag(e.feature_flag_id);
    if (!flag || flag->status != "active")
      errors.push_back({"feature_flag_not_active", "The feature flag " + e.feature_flag_id + " is not active"});
    if (e.allocations.empty()) errors.push_back({"no_allocations", "The experiment has no allocations"});
    for (const auto& a : e.allocations)
      if (!flag || !flag->has_variation(a.variation_id))
        errors.push_back({"unknown_variation", "Variation " + a.variation_id + " does not belong to feature flag " + e.feature_flag_id});
    auto controls = std::count_if(e.allocations.begin(), e.allocations.end(), [](const Allocation& a) { return a.is_control; });
    if (controls != 1) errors.push_back({"control_count", "Exactly one allocation must have is_control set to true"});
    if (e.allocation_strategy == "percentage") {
      double sum = 0;
      for (const auto& a : e.allocations) sum += a.weight_value();
      if (std::fabs(sum - 100) > 1e-6)  // fractional weights: tolerate rounding
        errors.push_back({"weights_sum", "Allocation weights must total 100 (found " + number_text(sum) + ")"});
    } else {
      auto fallbacks = std::count_if(e.allocations.begin(), e.allocations.end(), [](const Allocation& a) { return a.is_fallback.value_or(false); });
      if (fallbacks != 1) errors.push_back({"fallback_count", "Exactly one allocation must have is_fallback set to true"});
    }
    for (const auto& other : experiments_)
      if (other.id != e.id && other.status == "active")
        errors.push_back({"active_experiment_exists", "Another experiment (" + other.id + ") is already active in this tenant"});
    return errors;
  }

  ServerReply validate(const std::string& id) const {
    const Experiment* e = find(id);
    if (!e) return not_found();
    json::array errors;
    for (const auto& r : readiness(*e)) errors.push_back(json::object{{"code", r.code}, {"message", r.message}});
    json::object body;
    body["is_valid"] = errors.empty();
    body["errors"] = std::move(errors);
    return json_reply(200, body);
  }

  static bool transition_allowed(std::string_view from, std::string_view to) {
    if (to == "active") return from == "draft" || from == "paused";
    if (to == "paused") return from == "active";
    if (to == "completed") return from == "active" || from == "paused";
    // unverified source states: archiving (the soft delete) is refused while active, like
    // DELETE ("pause or complete first"); archived itself is terminal.
    if (to == "archived") return from == "draft" || from == "paused" || from == "completed";
    return false;
  }

  ServerReply transition(const ServerRequest& request, const std::string& id) {
    auto parsed = json_body(request);
    if (!parsed) return parsed.error();
    const json::value& body = *parsed;
    if (!body.is_object()) return payload_error(payload_message("Expected type object but found type " + schema_type(body)));
    const auto& o = body.get_object();
    if (auto e = unknown_member(o, {"status"}, {})) return payload_error(*e);
    const auto* status = o.if_contains("status");
    if (!status) return payload_error(payload_message("Missing required property: status"));
    if (!status->is_string()) return payload_error(payload_message("Expected type string but found type " + schema_type(*status), "status"));
    std::string target(status->get_string());
    if (target != "active" && target != "paused" && target != "completed" && target != "archived")
      return payload_error(payload_message("No enum match for: \"" + target + "\"", "status"));

    Experiment* e = find(id);
    if (!e) return not_found();
    if (!transition_allowed(e->status, target)) return api_error(400, "Status transition is not allowed");
    if (target == "active") {
      // Readiness runs on every move to active (a paused experiment may have new allocations).
      auto errors = readiness(*e);
      if (!errors.empty()) {
        std::string message = "Experiment is not valid for activation: ";  // unverified wording
        for (std::size_t i = 0; i < errors.size(); ++i) message += (i ? "; " : "") + errors[i].message;
        return api_error(400, message);
      }
    }
    auto now = rfc3339(Clock::now());
    if (target == "active" && !e->started_at) e->started_at = now;
    if (target == "completed") e->ended_at = now;
    e->status = target;
    e->updated_at = now;
    return json_reply(200, experiment_json(*e));
  }

  ServerReply remove(const std::string& id) {
    auto it = std::find_if(experiments_.begin(), experiments_.end(), [&](const Experiment& e) { return e.id == id; });
    if (it != experiments_.end()) {
      if (it->status == "active") return api_error(400, "Active experiments cannot be deleted");
      experiments_.erase(it);
    }
    ServerReply reply;
    reply.status = 204;  // also for an unknown id: deletion is idempotent
    return reply;
  }

  json::object experiment_json(const Experiment& e) const {
    json::object o = named_resource(e.id, e.name, e.description);
    o["feature_flag_id"] = e.feature_flag_id;
    o["authentication_flow"] = e.authentication_flow;
    o["allocation_strategy"] = e.allocation_strategy;
    o["assignment_config"] = e.assignment_config;
    o["status"] = e.status;
    o["is_valid"] = readiness(e).empty();
    json::array allocations;
    for (const auto& a : e.allocations) allocations.push_back(allocation_json(a));
    o["allocations"] = std::move(allocations);
    o["created_at"] = e.created_at;
    o["updated_at"] = e.updated_at;
    if (e.started_at) o["started_at"] = *e.started_at;
    if (e.ended_at) o["ended_at"] = *e.ended_at;
    return o;
  }

  Experiment* find(std::string_view id) {
    for (auto& e : experiments_)
      if (e.id == id) return &e;
    return nullptr;
  }
  const Experiment* find(std::string_view id) const {
    for (const auto& e : experiments_)
      if (e.id == id) return &e;
    return nullptr;
  }
  const FeatureFlag* find_flag(std::string_view id) const {
    for (const auto& f : flags_)
      if (f.id == id) return &f;
    return nullptr;
  }

  std::string domain_ = "example.us.auth0.com";
  std::int64_t token_lifetime_s_ = 86400;
  std::vector<FeatureFlag> flags_;
  std::vector<Experiment> experiments_;  // creation order = list order
  std::map<std::string, Clock::time_point> tokens_;  // issued access token -> expiry
  std::size_t tokens_issued_ = 0;
  std::mt19937_64 random_;
};

// ---------------------------------------------------------------------------------------------
// Fixture and state

Error fixture_error(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}

Status Auth0Emulator::seed(const json::value& fixture) {
  std::string domain = "example.us.auth0.com";
  std::int64_t lifetime = 86400;
  std::vector<FeatureFlag> flags;
  std::vector<Experiment> experiments;
  const std::string root = "auth0";

  auto reader = ObjectReader::open(fixture, root);
  if (!reader) return std::unexpected(reader.error());
  auto d = reader->optional_string("domain");
  if (!d) return std::unexpected(d.error());
  if (*d) domain = **d;
  auto l = reader->optional_integer("token_lifetime_s");
  if (!l) return std::unexpected(l.error());
  if (*l) {
    if (**l < 1) return std::unexpected(reader->error("token_lifetime_s", "must be at least 1"));
    lifetime = **l;
  }

  if (const auto* list = reader->optional_value("feature_flags"); list && !list->is_null()) {
    if (!list->is_array()) return std::unexpected(reader->error("feature_flags", "expected a list"));
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      std::string at = root + ".feature_flags[" + std::to_string(i) + "]";
      auto r = ObjectReader::open(list->get_array()[i], at);
      if (!r) return std::unexpected(r.error());
      FeatureFlag flag;
      auto id = r->required_string("id");
      if (!id) return std::unexpected(id.error());
      if (!is_base58_id(*id, "flg")) return std::unexpected(r->error("id", "must match " + id_pattern("flg")));
      if (std::find_if(flags.begin(), flags.end(), [&](const FeatureFlag& f) { return f.id == *id; }) != flags.end())
        return std::unexpected(r->error("id", "duplicate feature flag id " + *id));
      flag.id = *id;
      auto name = r->required_string("name");
      if (!name) return std::unexpected(name.error());
      flag.name = *name;
      auto status = r->optional_string("status");
      if (!status) return std::unexpected(status.error());
      if (*status) {
        if (**status != "draft" && **status != "active" && **status != "archived")
          return std::unexpected(r->error("status", "must be draft, active or archived"));
        flag.status = **status;
      }
      EXPBRIDGE_ASSIGN_OR_RETURN(flag.description, r->optional_string("description"));
      const json::object* parameters = nullptr;
      EXPBRIDGE_ASSIGN_OR_RETURN(parameters, r->optional_object("parameters"));
      if (parameters) flag.parameters = *parameters;
      flag.created_at = flag.updated_at = rfc3339(Clock::now());
      const auto* variations = r->optional_value("variations");
      if (!variations || !variations->is_array()) return std::unexpected(r->error("variations", "expected a list of variations"));
      for (std::size_t k = 0; k < variations->get_array().size(); ++k) {
        auto vr = ObjectReader::open(variations->get_array()[k], at + ".variations[" + std::to_string(k) + "]");
        if (!vr) return std::unexpected(vr.error());
        Variation variation;
        EXPBRIDGE_ASSIGN_OR_RETURN(variation.id, vr->required_string("id"));
        if (!is_base58_id(variation.id, "var")) return std::unexpected(vr->error("id", "must match " + id_pattern("var")));
        if (flag.has_variation(variation.id)) return std::unexpected(vr->error("id", "duplicate variation id " + variation.id));
        std::optional<std::string> vname;
        EXPBRIDGE_ASSIGN_OR_RETURN(vname, vr->optional_string("name"));
        variation.name = vname.value_or(variation.id);
        EXPBRIDGE_ASSIGN_OR_RETURN(variation.description, vr->optional_string("description"));
        const json::object* overrides = nullptr;
        EXPBRIDGE_ASSIGN_OR_RETURN(overrides, vr->optional_object("overrides"));
        if (overrides) variation.overrides = *overrides;
        EXPBRIDGE_RETURN_IF_ERROR(vr->finish());
        // Overrides name baseline parameters and keep their type (typed parameters; unverified
        // whether the API also refuses a type change: refused here).
        for (const auto& [key, value] : variation.overrides) {
          const auto* baseline = flag.parameters.if_contains(key);
          if (!baseline)
            return std::unexpected(vr->error("overrides", "'" + std::string(key) + "' is not a parameter of feature flag " + flag.id));
          if (schema_type(*baseline) != schema_type(value))
            return std::unexpected(vr->error("overrides", "'" + std::string(key) + "' is a " + schema_type(*baseline) +
                                                              " parameter, the override is a " + schema_type(value)));
        }
        flag.variations.push_back(std::move(variation));
      }
      if (flag.status == "active" && flag.variations.size() < 2)
        return std::unexpected(r->error("variations", "an active feature flag has at least 2 variations"));
      EXPBRIDGE_RETURN_IF_ERROR(r->finish());
      flags.push_back(std::move(flag));
    }
  }

  auto now = rfc3339(Clock::now());
  if (const auto* list = reader->optional_value("experiments"); list && !list->is_null()) {
    if (!list->is_array()) return std::unexpected(reader->error("experiments", "expected a list"));
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      std::string at = root + ".experiments[" + std::to_string(i) + "]";
      auto r = ObjectReader::open(list->get_array()[i], at);
      if (!r) return std::unexpected(r.error());
      Experiment e;
      e.created_at = e.updated_at = now;
      auto id = r->required_string("id");
      if (!id) return std::unexpected(id.error());
      if (!is_base58_id(*id, "exp")) return std::unexpected(r->error("id", "must match " + id_pattern("exp")));
      e.id = *id;
      if (const auto* name = r->optional_value("name"); name) {
        if (auto problem = check_text(*name, "", 3, 255)) return std::unexpected(fixture_error(r->member_path("name"), *problem));
        e.name = name->get_string();
      } else {
        return std::unexpected(r->error("name", "required"));
      }
      if (const auto* description = r->optional_value("description"); description && !description->is_null()) {
        if (auto problem = check_text(*description, "", 3, 1024))
          return std::unexpected(fixture_error(r->member_path("description"), *problem));
        e.description = std::string(description->get_string());
      }
      auto flag_id = r->required_string("feature_flag_id");
      if (!flag_id) return std::unexpected(flag_id.error());
      if (std::none_of(flags.begin(), flags.end(), [&](const FeatureFlag& f) { return f.id == *flag_id; }))
        return std::unexpected(r->error("feature_flag_id", "no feature flag " + *flag_id + " in the fixture"));
      e.feature_flag_id = *flag_id;
      auto flow = r->optional_string("authentication_flow");
      if (!flow) return std::unexpected(flow.error());
      if (*flow) e.authentication_flow = **flow;
      auto strategy = r->optional_string("allocation_strategy");
      if (!strategy) return std::unexpected(strategy.error());
      if (*strategy) {
        if (**strategy != "percentage" && **strategy != "segment")
          return std::unexpected(r->error("allocation_strategy", "must be percentage or segment"));
        e.allocation_strategy = **strategy;
      }
      if (const auto* config = r->optional_value("assignment_config")) {
        if (auto problem = check_assignment_config(*config))
          return std::unexpected(fixture_error(r->member_path("assignment_config"), *problem));
        e.assignment_config = config->get_object();
      }
      auto status = r->optional_string("status");
      if (!status) return std::unexpected(status.error());
      if (*status) {
        static const std::vector<std::string> statuses{"draft", "active", "paused", "completed", "archived"};
        if (std::find(statuses.begin(), statuses.end(), **status) == statuses.end())
          return std::unexpected(r->error("status", "must be one of draft, active, paused, completed, archived"));
        e.status = **status;
      }
      if (const auto* allocations = r->optional_value("allocations"); allocations && !allocations->is_null()) {
        auto parsed = parse_allocations(*allocations);
        if (!parsed) return std::unexpected(fixture_error(r->member_path("allocations"), parsed.error()));
        e.allocations = std::move(*parsed);
      }
      for (std::string_view key : {"started_at", "ended_at"}) {
        auto stamp = r->optional_string(key);
        if (!stamp) return std::unexpected(stamp.error());
        if (*stamp) (key == "started_at" ? e.started_at : e.ended_at) = **stamp;
      }
      EXPBRIDGE_RETURN_IF_ERROR(r->finish());
      if (std::any_of(experiments.begin(), experiments.end(), [&](const Experiment& x) { return x.id == e.id; }))
        return std::unexpected(fixture_error(at + ".id", "duplicate experiment id " + e.id));
      if (std::any_of(experiments.begin(), experiments.end(), [&](const Experiment& x) { return x.name == e.name; }))
        return std::unexpected(fixture_error(at + ".name", "duplicate experiment name (names are unique in a tenant)"));
      if (e.status == "active" &&
          std::any_of(experiments.begin(), experiments.end(), [](const Experiment& x) { return x.status == "active"; }))
        return std::unexpected(fixture_error(at + ".status", "only one experiment can be active in a tenant"));
      experiments.push_back(std::move(e));
    }
  }
  EXPBRIDGE_RETURN_IF_ERROR(reader->finish());

  // Allocations must name the flag's variations, as on a write.
  for (std::size_t i = 0; i < experiments.size(); ++i) {
    const auto& e = experiments[i];
    const auto& flag = *std::find_if(flags.begin(), flags.end(), [&](const FeatureFlag& f) { return f.id == e.feature_flag_id; });
    for (std::size_t k = 0; k < e.allocations.size(); ++k)
      if (!flag.has_variation(e.allocations[k].variation_id))
        return std::unexpected(fixture_error(root + ".experiments[" + std::to_string(i) + "].allocations[" + std::to_string(k) + "].variation_id",
                                             e.allocations[k].variation_id + " is not a variation of " + flag.id));
  }

  domain_ = std::move(domain);
  token_lifetime_s_ = lifetime;
  flags_ = std::move(flags);
  experiments_ = std::move(experiments);
  // Tokens issued before a re-seed stay valid (Auth0 tokens cannot be revoked, and a client's
  // cached token should survive `POST /_emulator/reset`); the count starts again.
  tokens_issued_ = 0;
  return {};
}

json::value Auth0Emulator::state() const {
  json::object flags;
  for (const auto& f : flags_) {
    json::array variations;
    for (const auto& v : f.variations) variations.push_back(json::value(v.id));
    flags[f.id] = json::object{{"name", f.name}, {"status", f.status}, {"variations", std::move(variations)}};
  }
  json::object experiments;
  for (const auto& e : experiments_) {
    json::array allocations;
    for (const auto& a : e.allocations) allocations.push_back(allocation_json(a));
    json::object o;
    o["name"] = e.name;
    o["description"] = e.description ? json::value(*e.description) : json::value(nullptr);
    o["feature_flag_id"] = e.feature_flag_id;
    o["authentication_flow"] = e.authentication_flow;
    o["allocation_strategy"] = e.allocation_strategy;
    o["status"] = e.status;
    o["is_valid"] = readiness(e).empty();
    o["allocations"] = std::move(allocations);
    o["started_at"] = e.started_at ? json::value(*e.started_at) : json::value(nullptr);
    o["ended_at"] = e.ended_at ? json::value(*e.ended_at) : json::value(nullptr);
    experiments[e.id] = std::move(o);
  }
  json::object out;
  out["domain"] = domain_;
  out["tokens_issued"] = tokens_issued_;
  out["feature_flags"] = std::move(flags);
  out["experiments"] = std::move(experiments);
  return out;
}

// ---------------------------------------------------------------------------------------------
// What the host asks of every emulator (credentials, injected errors, default fixture, sample)

std::vector<Credential> Auth0Emulator::credentials() const {
  return {{"AUTH0_CLIENT_ID", kExampleClientId}, {"AUTH0_CLIENT_SECRET", kExampleClientSecret}};
}

// The Management API's error body: {statusCode, error, message}; its request id is a header.
ServerReply Auth0Emulator::injected_error(const InjectedError& error) const {
  ServerReply reply = json_reply(error.status, boost::json::object{{"statusCode", error.status},
                                                                   {"error", reason_phrase(error.status)},
                                                                   {"message", error.message}});
  if (error.echoed_request_id) reply.headers.emplace_back("x-request-id", *error.echoed_request_id);
  if (error.rate_reset) {
    // The bucket is empty until the reset, in epoch seconds (rounded up).
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(error.rate_reset->time_since_epoch()).count();
    reply.headers.emplace_back("X-RateLimit-Limit", "50");
    reply.headers.emplace_back("X-RateLimit-Remaining", "0");
    reply.headers.emplace_back("X-RateLimit-Reset", std::to_string((ms + 999) / 1000));
  }
  return reply;
}

Result<std::string_view> Auth0Emulator::default_fixture() const { return embedded_fixture("auth0_emulator_fixture.yaml"); }

std::optional<SampleBackend> Auth0Emulator::sample_backend() const {
  return SampleBackend{"a0", "vendor: auth0, domain: example.us.auth0.com, client_id_env: AUTH0_CLIENT_ID, client_secret_env: AUTH0_CLIENT_SECRET",
                       "{id: exp_4fG7hJk, variations: {control: var_2xQa, two-step: var_9bZk}}"};
}

}  // namespace

std::unique_ptr<VendorEmulator> make_auth0_emulator() { return std::make_unique<Auth0Emulator>(); }

}  // namespace expbridge::emulator
