// expbridge — a vendor's mapping table (mappings/<vendor>.yaml): the data half of an adapter.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "expbridge/error.hpp"

namespace expbridge {

class CompiledPattern;  // RE2, kept out of the public headers
struct Document;        // core's parsed document

/// One vendor operation: how to call it.
struct OperationSpec {
  std::string name;
  std::string method;
  std::string path;  ///< template with `{label}` placeholders, e.g. `/projects/{project}/features/{feature}`
  std::vector<std::pair<std::string, std::string>> query;  ///< fixed query parameters, in order
  int success = 200;
  bool idempotent = false;
  bool has_body = true;
};

/// Where one neutral field goes at this vendor, or why it cannot.
struct FieldSpec {
  std::string neutral;    ///< `exposure`, `audience.rule`, `action`, ...
  std::string operation;  ///< the operation that carries it; empty when skipped or when per value
  /// Wire names: `_` is the member itself; other keys name parts (`weight`, `control`, ...).
  std::map<std::string, std::string, std::less<>> wire;
  std::string skip;  ///< non-empty: the field cannot be expressed, and this is why
  /// For enumerated fields (`action`): neutral value -> operation or wire value.
  std::map<std::string, std::string, std::less<>> values;
  /// Neutral value -> why that value cannot be expressed.
  std::map<std::string, std::string, std::less<>> skip_values;
  std::string summary;  ///< optional text for the matrix; generated when empty
};

/// A vendor limit. Absent members do not apply.
struct LimitSpec {
  std::string name;
  std::optional<double> min, max;
  std::optional<std::size_t> min_length, max_length;  ///< in characters (UTF-8 code points)
  std::optional<std::size_t> min_count, max_count;
  std::optional<std::size_t> max_bytes;
  std::string pattern;      ///< RE2 regular expression the whole value must match
  std::string not_pattern;  ///< RE2 regular expression the whole value must NOT match (RE2 has no lookahead)
  std::shared_ptr<const CompiledPattern> compiled, compiled_not;
  bool only_increase = false;
  bool hide_value = false;  ///< never quote the value in errors (names of secrets' homes, where a pasted secret may land)
  std::string rule;  ///< optional wording for errors, e.g. "AppConfig exposure may only rise"
};

/// Where a vendor's error response keeps its code, message and request id.
/// Each source is `header:<name>` or `body:<member>` (member names matched case-insensitively),
/// tried in order; the first non-empty wins.
struct ErrorFormatSpec {
  std::vector<std::string> code;
  std::vector<std::string> message;
  std::vector<std::string> request_id;
  /// `aws`: keep the part before the first ',' then ':', then after '#' (restJson1 codes).
  std::string sanitize_code;
};

/// What a vendor signals when a request should be tried again.
struct RetrySpec {
  std::vector<int> statuses;       ///< statuses worth retrying (429, 5xx, ...)
  std::vector<std::string> codes;  ///< error codes worth retrying whatever the status (AWS throttling)
  bool retry_after = true;         ///< honour `Retry-After` (seconds or an HTTP date)
  std::string reset_header;        ///< a header naming when the rate window resets, if any
  std::string reset_unit;          ///< `epoch_ms` or `epoch_s`
  // When an answer carries both `Retry-After` and `reset_header`, the more precise one
  // counts: a reset in `epoch_ms` beats Retry-After's whole seconds; of equal precision
  // (`epoch_s`), Retry-After.
};

/// The rate budget a vendor announces on its answers (`http.budget:`, optional): what the
/// client reads to size its concurrency and to pause before the vendor has to refuse.
/// When the budget reads 0 the backend waits for `retry.reset_header` (the window's reset).
struct BudgetSpec {
  /// Headers counting the calls left in the current window or bucket; the smallest present counts.
  std::vector<std::string> remaining;
  std::string limit;  ///< a header naming the window's (bucket's) size, if any
};

/// How a vendor's HTTP API behaves, for sending (`http:` in the table).
struct HttpSpec {
  ErrorFormatSpec errors;
  RetrySpec retry;
  BudgetSpec budget;
  /// Requests in flight to one backend at first (`max_in_flight`); adaptive concurrency
  /// grows from here while the vendor shows room, up to `grow_to`, and shrinks on throttling.
  int max_in_flight = 4;
  int grow_to = 16;  ///< `grow_to`: the most requests in flight adaptive concurrency reaches (≥ max_in_flight)
};

/// A parsed, validated mapping table. Cheap to look things up in; adapters
/// resolve what they need once, at construction.
class MappingTable {
 public:
  const std::string& vendor() const { return vendor_; }
  const std::string& title() const { return title_; }
  const std::string& source() const { return source_; }
  const std::string& base_url() const { return base_url_; }
  const std::string& content_type() const { return content_type_; }
  const boost::json::object& auth() const { return auth_; }
  const HttpSpec& http() const { return http_; }

  /// The operation, or an internal error naming the table (a table/adapter mismatch).
  Result<const OperationSpec*> operation(std::string_view name) const;
  /// The field entry; every table covers every neutral field (checked at load).
  const FieldSpec& field(std::string_view neutral) const;
  /// `fields.<neutral>.wire.<part>`, or an internal error naming the table.
  Result<std::string> wire(std::string_view neutral, std::string_view part = "_") const;
  Result<const LimitSpec*> limit(std::string_view name) const;
  /// `enums.<name>.<key>`.
  Result<std::string> enum_value(std::string_view name, std::string_view key) const;
  /// `scales.<name>` (e.g. percent -> 1000 for thousandths of a percent).
  Result<double> scale(std::string_view name) const;
  /// `passthrough.<member>`: the operation a `vendor.<vendor>.<member>` value is merged into.
  const std::map<std::string, std::string, std::less<>>& passthrough() const { return passthrough_; }

  const std::vector<FieldSpec>& fields() const { return fields_; }
  const std::vector<OperationSpec>& operations() const { return operations_; }
  /// Worked examples, each `{name, update, backend?, binding?, current?, requests?, skipped?, error?}`.
  /// An embedded table reads them on the first call: only `mappings --check` and tests need them.
  const boost::json::array& examples() const;
  /// Defaults for examples: `{backend: {...}, binding: {...}}`.
  const boost::json::object& example_defaults() const { return example_defaults_; }

  /// Parses a table. Every neutral field must have an entry (mapped or skipped with a reason),
  /// unknown keys are errors, patterns must compile. `source` names the table in errors.
  static Result<MappingTable> parse(std::string_view yaml, std::string source);
  /// A table embedded at build time: the YAML already converted to JSON and checked (patterns
  /// included) by tools/embed_tables.cpp, its examples apart. Patterns compile on first use.
  static Result<MappingTable> parse_embedded(std::string_view json, std::string_view examples_json, std::string source);

  /// The neutral fields every table must cover, in matrix order.
  static const std::vector<std::string>& neutral_fields();

 private:
  std::string vendor_, title_, source_, base_url_, content_type_;
  boost::json::object auth_;
  HttpSpec http_;
  std::vector<OperationSpec> operations_;
  std::vector<FieldSpec> fields_;
  std::vector<LimitSpec> limits_;
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> enums_;
  std::map<std::string, double, std::less<>> scales_;
  std::map<std::string, std::string, std::less<>> passthrough_;
  struct LazyExamples;
  static Result<MappingTable> from_document(const Document& doc, bool compile_patterns);

  boost::json::array examples_;
  std::shared_ptr<LazyExamples> lazy_examples_;  ///< embedded tables: examples parsed when asked for
  boost::json::object example_defaults_;
};

/// A mapping table as the build embedded it: JSON, the examples apart.
struct EmbeddedMappingTable {
  std::string_view json;           ///< the table without `examples`
  std::string_view examples_json;  ///< the `examples` list
};

/// The mapping table embedded at build time for `vendor`, if any.
std::optional<EmbeddedMappingTable> embedded_mapping_table(std::string_view vendor);
/// The vendors that have an embedded table.
std::vector<std::string> embedded_mapping_vendors();

}  // namespace expbridge
