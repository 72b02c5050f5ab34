// A YAML or JSON document as a JSON tree, with the source position of every node.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/json/value.hpp>

#include "expbridge/error.hpp"

namespace expbridge {

/// 1-based line and column of a node in its source text.
struct Mark {
  int line = 0;
  int column = 0;
};

/// A parsed document. Plain YAML scalars are typed by the YAML 1.2 core schema
/// (`1` is an integer, `true` a bool, `~` null); quoted scalars are strings.
struct Document {
  boost::json::value root;
  std::string source;  ///< a path, `-`, or a name such as `<embedded appconfig table>`
  /// Node path (`variations[1].weight`, `backends.aws`) -> where it starts.
  std::unordered_map<std::string, Mark> marks;

  /// The position of `path`, or of its closest ancestor that has one.
  Mark mark_of(std::string_view path) const;
  /// An invalid_input error at `path`, naming the file, line and column.
  Error error_at(std::string_view path, std::string message) const;
};

/// Parses YAML (JSON is a subset). Errors carry the line and column. Duplicate
/// keys, several documents in one stream and unsupported tags are errors.
Result<Document> parse_document(std::string_view text, std::string source);

/// Reads a file (or standard input for `-`) and parses it.
Result<Document> load_document(const std::string& path);

/// Reads a whole file (or standard input for `-`).
Result<std::string> read_text(const std::string& path);

/// Joins a path and a member name: `join_path("a", "b")` = `a.b`.
std::string join_path(std::string_view parent, std::string_view member);
/// Joins a path and an index: `index_path("a", 2)` = `a[2]`.
std::string index_path(std::string_view parent, std::size_t index);

}  // namespace expbridge
