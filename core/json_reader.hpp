// Strict, typed reading of a JSON object: every member must be read or it is an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "expbridge/error.hpp"

namespace expbridge {

/// Reads the members of one object by name and type. `finish()` fails on any
/// member that was not read — a typo such as `exposre` is never ignored.
/// Errors are invalid_input with `field` set to the member's path; the caller
/// adds the file and position (see `Document::error_at`).
class ObjectReader {
 public:
  /// Fails unless `value` is an object.
  static Result<ObjectReader> open(const boost::json::value& value, std::string path);
  /// Reads `object`, which must outlive the reader.
  static ObjectReader open(const boost::json::object& object, std::string path) {
    return ObjectReader(object, std::move(path));
  }

  Result<std::optional<std::string>> optional_string(std::string_view key);
  Result<std::string> required_string(std::string_view key);
  Result<std::optional<double>> optional_number(std::string_view key);
  Result<std::optional<std::int64_t>> optional_integer(std::string_view key);
  Result<std::optional<bool>> optional_bool(std::string_view key);
  /// The member's raw value, or null when absent; marks it as read.
  const boost::json::value* optional_value(std::string_view key);
  Result<const boost::json::object*> optional_object(std::string_view key);
  Result<const boost::json::object*> required_object(std::string_view key);

  /// Declares every member this object may have, before any is read: fails on the first other
  /// one, suggesting the closest of `names`. Call it first, so that a typo (`weigth`) is reported
  /// as what it is rather than as the required member it was meant to be.
  Status known(std::initializer_list<std::string_view> names);

  /// Fails on the first member that was not read, suggesting the closest known name.
  Status finish() const;
  /// Marks a member as known without reading it (read elsewhere).
  void accept(std::string_view key) { read_.emplace_back(key); }

  /// The error for a required member that is absent: when a member nobody read is a near miss of
  /// `key` (`weigth`), that typo is reported instead, since it is what the user has to fix.
  Error missing(std::string_view key, std::string message = "is required") const;

  const std::string& path() const { return path_; }
  std::string member_path(std::string_view key) const;
  Error error(std::string_view key, std::string message) const;

 private:
  ObjectReader(const boost::json::object& object, std::string path) : object_(&object), path_(std::move(path)) {}
  const boost::json::value* find(std::string_view key);

  const boost::json::object* object_;
  Error unknown_member(std::string_view key, std::vector<std::string> known) const;

  std::string path_;
  std::vector<std::string> read_;
};

/// The JSON type name people understand: "a string", "a number", ...
std::string_view json_kind(const boost::json::value& value);
/// A number as double, or nothing when `value` is not a number.
std::optional<double> as_number(const boost::json::value& value);
/// Integers beyond ±2^53 change when held as a double (`9007199254740993` becomes `…992`).
inline constexpr std::int64_t kMaxExactInteger = std::int64_t{1} << 53;
/// Whether `value` (a number) converts to a double without changing; the message says why not.
Status check_exact_number(const boost::json::value& value);
/// The known name closest to `unknown` (edit distance ≤ 2), or empty.
std::string closest_name(std::string_view unknown, const std::vector<std::string>& known);

}  // namespace expbridge
