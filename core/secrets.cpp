// See secrets.hpp. Over-masking is the safe failure here: a masked word costs a reader a
// little context, an unmasked token costs the account.

#include "secrets.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "url.hpp"

namespace expbridge::secrets {
namespace {

struct Registry {
  std::shared_mutex mutex;
  // Longest first, so a secret that contains another is masked whole.
  std::vector<std::string> values;
  std::deque<std::string> recent;  // oldest first, at most recent_secret_limit
};

Registry& registry() {
  static Registry instance;  // never destroyed before the last log line: function-local static
  return instance;
}

void add_value(Registry& r, std::string value) {
  if (value.size() < min_registered_length) return;
  if (std::ranges::find(r.values, value) != r.values.end()) return;
  r.values.push_back(std::move(value));
  std::ranges::stable_sort(r.values, [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

// The forms a secret can take in text that reached us: as sent, percent-encoded (form
// bodies, query strings), and JSON-escaped (`/` may come back as `\/`).
std::vector<std::string> forms_of(std::string_view value) {
  std::vector<std::string> forms{std::string(value), percent_encode(value)};
  std::string json_escaped;
  for (char c : value) {
    if (c == '/') json_escaped += "\\/";
    else if (c == '"') json_escaped += "\\\"";
    else if (c == '\\') json_escaped += "\\\\";
    else json_escaped += c;
  }
  forms.push_back(std::move(json_escaped));
  return forms;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Names whose value is a credential, wherever they appear (header line, query, JSON member).
constexpr std::array<std::string_view, 13> credential_names = {
    "authorization", "x-amz-security-token", "signature", "access_token", "refresh_token",
    "id_token",      "client_secret",        "aws_secret_access_key", "aws_session_token", "secretaccesskey",
    "sessiontoken",  "api_key",              "x-api-key"};

constexpr std::size_t min_bearer_token_length = 8;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("-._~+/=").find(c) != std::string_view::npos;
}

using Range = std::pair<std::size_t, std::size_t>;  // [begin, end) of text to mask

// The value after `name` at [begin, end) when a separator follows, else nothing.
void mask_named_value(std::string_view text, std::size_t name_end, std::vector<Range>& out) {
  std::size_t i = name_end;
  while (i < text.size() && (text[i] == '"' || text[i] == '\'' || text[i] == '\\')) ++i;  // closing quote of a key
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i >= text.size() || (text[i] != ':' && text[i] != '=')) return;
  const char separator = text[i++];
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i >= text.size()) return;
  // A quoted value: up to the matching quote (JSON `"…"`, or `\"…\"` inside a JSON string).
  std::string_view close;
  if (text.substr(i).starts_with("\\\"")) close = "\\\"", i += 2;
  else if (text[i] == '"') close = "\"", i += 1;
  else if (text[i] == '\'') close = "'", i += 1;
  std::size_t end = i;
  if (!close.empty()) {
    while (end < text.size() && !(text.substr(end).starts_with(close) && (close != "\"" || text[end - 1] != '\\')))
      ++end;
  } else {
    // Unquoted: a header value runs to the end of its line (SigV4's has spaces and commas);
    // a query or form value to the next `&`. Markup and quotes end either.
    const std::string_view stops = separator == ':' ? std::string_view("\r\n\"'<}]\\") : std::string_view("&\r\n\"'< ;,\\");
    while (end < text.size() && stops.find(text[end]) == std::string_view::npos) ++end;
  }
  if (end > i) out.emplace_back(i, end);
}

void find_shapes(std::string_view text, std::vector<Range>& out) {
  std::string folded(text);
  for (char& c : folded) c = lower(c);
  const std::string_view f = folded;

  for (std::string_view name : credential_names)
    for (std::size_t at = f.find(name); at != std::string_view::npos; at = f.find(name, at + name.size()))
      mask_named_value(text, at + name.size(), out);

  for (std::size_t at = f.find("bearer"); at != std::string_view::npos; at = f.find("bearer", at + 6)) {
    std::size_t i = at + 6;
    if (i >= f.size() || (f[i] != ' ' && f[i] != '\t')) continue;
    while (i < f.size() && (f[i] == ' ' || f[i] == '\t')) ++i;
    std::size_t end = i;
    while (end < f.size() && is_token_char(f[end])) ++end;
    // Tokens are long; a short word after "bearer" is prose ("bearer of bad news").
    if (end - i >= min_bearer_token_length) out.emplace_back(i, end);
  }
  for (std::size_t at = f.find("signature="); at != std::string_view::npos; at = f.find("signature=", at + 10)) {
    std::size_t end = at + 10;
    while (end < f.size() && is_hex(f[end])) ++end;
    if (end > at + 10) out.emplace_back(at + 10, end);
  }
  constexpr std::string_view sigv4 = "aws4-hmac-sha256 credential=";
  for (std::size_t at = f.find(sigv4); at != std::string_view::npos; at = f.find(sigv4, at + sigv4.size())) {
    const std::size_t begin = at + std::string_view("aws4-hmac-sha256 ").size();
    std::size_t end = begin;
    while (end < f.size() && std::string_view("\r\n\"'<\\").find(f[end]) == std::string_view::npos) ++end;
    out.emplace_back(begin, end);
  }
}

std::string apply_masks(std::string_view text, std::vector<Range> ranges) {
  if (ranges.empty()) return std::string(text);
  std::ranges::sort(ranges);
  std::string out;
  out.reserve(text.size());
  std::size_t copied = 0;
  for (auto [begin, end] : ranges) {
    if (end <= copied) continue;  // inside a range already masked
    if (begin < copied) begin = copied;
    else {
      out.append(text.substr(copied, begin - copied));
      out += mask;
    }
    copied = end;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace

void register_secret(std::string_view value) {
  if (value.size() < min_registered_length) return;
  auto& r = registry();
  std::unique_lock lock(r.mutex);
  for (auto& form : forms_of(value)) add_value(r, std::move(form));
}

void register_recent_secret(std::string_view value) {
  if (value.size() < min_registered_length) return;
  auto& r = registry();
  std::unique_lock lock(r.mutex);
  if (std::ranges::find(r.recent, value) != r.recent.end()) return;
  r.recent.emplace_back(value);
  while (r.recent.size() > recent_secret_limit) r.recent.pop_front();
}

std::string scrub(std::string_view text) {
  std::vector<Range> ranges;
  {
    auto& r = registry();
    std::shared_lock lock(r.mutex);
    auto mask_all = [&](const std::string& value) {
      for (std::size_t at = text.find(value); at != std::string_view::npos; at = text.find(value, at + value.size()))
        ranges.emplace_back(at, at + value.size());
    };
    for (const auto& value : r.values) mask_all(value);
    for (const auto& value : r.recent) mask_all(value);
  }
  find_shapes(text, ranges);
  return apply_masks(text, std::move(ranges));
}

bool holds_registered_secret(std::string_view text) {
  auto& r = registry();
  std::shared_lock lock(r.mutex);
  const auto in_text = [&](const std::string& v) { return text.find(v) != std::string_view::npos; };
  return std::ranges::any_of(r.values, in_text) || std::ranges::any_of(r.recent, in_text);
}

}  // namespace expbridge::secrets
