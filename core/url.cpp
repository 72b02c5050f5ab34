#include "url.hpp"

#include <charconv>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace expbridge {
namespace {
bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
Error url_error(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}
}  // namespace

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (is_unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  return out;
}

Result<std::string> expand_path(std::string_view tmpl, const Labels& labels) {
  std::string out;
  out.reserve(tmpl.size() + 32);
  std::size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] != '{') {
      out.push_back(tmpl[i++]);
      continue;
    }
    auto close = tmpl.find('}', i);
    if (close == std::string_view::npos) return std::unexpected(url_error("", "unclosed '{' in path template"));
    std::string_view name = tmpl.substr(i + 1, close - i - 1);
    const std::pair<std::string_view, std::string_view>* found = nullptr;
    for (const auto& label : labels)
      if (label.first == name) found = &label;
    if (!found)
      return std::unexpected(url_error("", "path template names '{" + std::string(name) + "}', which has no value"));
    std::string_view value = found->second;
    if (value.empty() || value == "." || value == "..")
      return std::unexpected(url_error(std::string(name), "'" + std::string(value) +
                                                              "' cannot be used in a URL path (it would change the path)"));
    out += percent_encode(value);
    i = close + 1;
  }
  return out;
}

Result<std::string> expand_host_template(std::string_view tmpl, const Labels& labels, std::string_view field) {
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] != '{') {
      out.push_back(tmpl[i++]);
      continue;
    }
    auto close = tmpl.find('}', i);
    if (close == std::string_view::npos) return std::unexpected(url_error(std::string(field), "unclosed '{' in base_url"));
    std::string_view name = tmpl.substr(i + 1, close - i - 1);
    std::string_view value;
    bool found = false;
    for (const auto& label : labels)
      if (label.first == name) value = label.second, found = true;
    if (!found) return std::unexpected(url_error(std::string(field), "base_url names '{" + std::string(name) + "}', which has no value"));
    bool host_safe = !value.empty() && value.front() != '.' && value.front() != '-' && value.back() != '.';
    for (unsigned char c : value)
      host_safe = host_safe && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
    if (!host_safe || value.find("..") != std::string_view::npos)
      return std::unexpected(url_error(std::string(field), "'" + std::string(value) + "' is not a valid host name part"));
    out += value;
    i = close + 1;
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

Result<std::string> check_endpoint(std::string_view endpoint) {
  auto parsed = boost::urls::parse_absolute_uri(endpoint);
  if (!parsed) return std::unexpected(url_error("endpoint", "'" + std::string(endpoint) + "' is not an absolute URL"));
  const auto& u = *parsed;
  std::string scheme(u.scheme());
  if (scheme != "https" && scheme != "http")
    return std::unexpected(url_error("endpoint", "must use https:// (or http:// for a loopback host), got " + scheme + "://"));
  if (u.host().empty()) return std::unexpected(url_error("endpoint", "has no host"));
  // Boost.URL 1.81 reads "http://127.0.0.1.evil.com" as host 127.0.0.1 + path ".evil.com";
  // a path that does not start with '/' means the host was not what it seemed.
  if (!u.encoded_path().empty() && !u.encoded_path().starts_with("/"))
    return std::unexpected(url_error("endpoint", "'" + std::string(endpoint) + "' has an unusable host"));
  if (scheme == "http" && !is_loopback_host(u.host()))
    return std::unexpected(url_error("endpoint", "plain http:// is accepted only for loopback hosts (127.0.0.1, ::1, "
                                                 "localhost); use https:// for " + std::string(u.host())));
  if (u.has_userinfo()) return std::unexpected(url_error("endpoint", "must not carry user info (credentials belong in the environment)"));
  if (u.has_port()) {
    // Boost.URL accepts any digits here (and port_number() wraps above 65535).
    const std::string_view digits = u.port();
    unsigned long port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port == 0 || port > 65535)
      return std::unexpected(url_error("endpoint", "has an invalid port '" + std::string(digits) + "' (1..65535)"));
  }
  if (u.has_query() || u.has_fragment()) return std::unexpected(url_error("endpoint", "must not have a query or fragment"));
  std::string out(endpoint);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

std::string join_url(std::string_view base, std::string_view path, const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out;
  out.reserve(base.size() + path.size() + 32);
  out.append(base).append(path);
  char sep = '?';
  for (const auto& [k, v] : query) {
    out.push_back(sep);
    sep = '&';
    out += percent_encode(k);
    out.push_back('=');
    out += percent_encode(v);
  }
  return out;
}

}  // namespace expbridge
