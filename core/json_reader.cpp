#include "json_reader.hpp"

#include <algorithm>
#include <cmath>

#include "document.hpp"
#include "message_text.hpp"

namespace expbridge {

std::string_view json_kind(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "a list";
    case boost::json::kind::object: return "a mapping";
  }
  return "a value";
}

std::optional<double> as_number(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::int64: return static_cast<double>(value.get_int64());
    case boost::json::kind::uint64: return static_cast<double>(value.get_uint64());
    case boost::json::kind::double_: return value.get_double();
    default: return std::nullopt;
  }
}

Status check_exact_number(const boost::json::value& value) {
  const bool exact = value.is_int64()    ? value.get_int64() >= -kMaxExactInteger && value.get_int64() <= kMaxExactInteger
                     : value.is_uint64() ? value.get_uint64() <= static_cast<std::uint64_t>(kMaxExactInteger)
                                         : true;
  if (exact) return {};
  const std::string text = value.is_int64() ? std::to_string(value.get_int64()) : std::to_string(value.get_uint64());
  return std::unexpected(make_error(ErrorCode::invalid_input,
                                    "the number " + text + " is beyond ±2^53 and would change when used as a number "
                                    "(write it as a string if it is an identifier)"));
}

namespace {
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string closest_name(std::string_view unknown, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& k : known) {
    // The distance is at least the difference in length: skip the quadratic work for long keys.
    const std::size_t gap = unknown.size() > k.size() ? unknown.size() - k.size() : k.size() - unknown.size();
    if (gap >= best_distance) continue;
    std::size_t d = edit_distance(unknown, k);
    if (d < best_distance) best_distance = d, best = k;
  }
  return best;
}

Result<ObjectReader> ObjectReader::open(const boost::json::value& value, std::string path) {
  if (!value.is_object()) {
    Error e = make_error(ErrorCode::invalid_input,
                         "expected a mapping, found " + std::string(json_kind(value)));
    e.field = path;
    return std::unexpected(std::move(e));
  }
  return ObjectReader(value.get_object(), std::move(path));
}

std::string ObjectReader::member_path(std::string_view key) const { return join_path(path_, key); }

Error ObjectReader::error(std::string_view key, std::string message) const {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = member_path(key);
  return e;
}

const boost::json::value* ObjectReader::find(std::string_view key) {
  read_.emplace_back(key);
  return object_->if_contains(key);
}

const boost::json::value* ObjectReader::optional_value(std::string_view key) { return find(key); }

Result<std::optional<std::string>> ObjectReader::optional_string(std::string_view key) {
  const auto* v = find(key);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return std::unexpected(error(key, "must be a string, found " + std::string(json_kind(*v))));
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::string> ObjectReader::required_string(std::string_view key) {
  auto s = optional_string(key);
  if (!s) return std::unexpected(std::move(s).error());
  if (!*s) return std::unexpected(missing(key));
  if ((*s)->empty()) return std::unexpected(error(key, "must not be empty"));
  return std::move(**s);
}

Result<std::optional<double>> ObjectReader::optional_number(std::string_view key) {
  const auto* v = find(key);
  if (!v) return std::optional<double>();
  auto n = as_number(*v);
  if (!n) return std::unexpected(error(key, "must be a number, found " + std::string(json_kind(*v))));
  if (auto exact = check_exact_number(*v); !exact) return std::unexpected(error(key, std::move(exact.error().message)));
  if (!std::isfinite(*n)) return std::unexpected(error(key, "must be a finite number (NaN and infinity are refused)"));
  return std::optional<double>(*n);
}

Result<std::optional<std::int64_t>> ObjectReader::optional_integer(std::string_view key) {
  const auto* v = find(key);
  if (!v) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->get_int64());
  return std::unexpected(error(key, "must be an integer, found " + std::string(json_kind(*v))));
}

Result<std::optional<bool>> ObjectReader::optional_bool(std::string_view key) {
  const auto* v = find(key);
  if (!v) return std::optional<bool>();
  if (!v->is_bool()) return std::unexpected(error(key, "must be true or false, found " + std::string(json_kind(*v))));
  return std::optional<bool>(v->get_bool());
}

Result<const boost::json::object*> ObjectReader::optional_object(std::string_view key) {
  const auto* v = find(key);
  if (!v) return static_cast<const boost::json::object*>(nullptr);
  if (!v->is_object()) return std::unexpected(error(key, "must be a mapping, found " + std::string(json_kind(*v))));
  return &v->get_object();
}

Result<const boost::json::object*> ObjectReader::required_object(std::string_view key) {
  auto o = optional_object(key);
  if (o && !*o) return std::unexpected(missing(key));
  return o;
}

Error ObjectReader::unknown_member(std::string_view key, std::vector<std::string> known) const {
  std::string message = "unknown field " + quote_value(key);
  if (auto guess = closest_name(key, known); !guess.empty()) message += " (did you mean '" + guess + "'?)";
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  message += "; known fields here:";
  for (const auto& k : known) message += " " + k;
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = member_path(key);
  return e;
}

Error ObjectReader::missing(std::string_view key, std::string message) const {
  for (const auto& member : *object_) {
    std::string_view other = member.key();
    if (std::find(read_.begin(), read_.end(), other) != read_.end()) continue;
    if (!closest_name(other, {std::string(key)}).empty()) {
      std::vector<std::string> known = read_;
      known.emplace_back(key);
      return unknown_member(other, std::move(known));
    }
  }
  return error(key, std::move(message));
}

Status ObjectReader::known(std::initializer_list<std::string_view> names) {
  for (const auto& member : *object_) {
    std::string_view key = member.key();
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    return std::unexpected(unknown_member(key, std::vector<std::string>(names.begin(), names.end())));
  }
  return {};
}

Status ObjectReader::finish() const {
  for (const auto& member : *object_) {
    std::string_view key = member.key();
    if (std::find(read_.begin(), read_.end(), key) != read_.end()) continue;
    return std::unexpected(unknown_member(key, read_));
  }
  return {};
}

}  // namespace expbridge
