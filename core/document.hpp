// A YAML or JSON document as a JSON tree, with the source position of every node.
#pragma once

#include <istream>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/json/value.hpp>

#include "expbridge/error.hpp"
#include "expbridge/update.hpp"

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

/// The limits every document is held to, whatever reads it (updates, configs, tables, fixtures).
/// They bound time and memory on hostile input; real documents are far below them.
inline constexpr std::size_t kMaxDocumentBytes = 16 * 1024 * 1024;  ///< per file or standard input
inline constexpr std::size_t kMaxDocumentDepth = 64;                ///< nested mappings and lists
inline constexpr std::size_t kMaxDocumentNodes = 1'000'000;         ///< values, keys not counted
inline constexpr std::size_t kMaxStreamLineBytes = 1024 * 1024;      ///< one line of an update stream

/// Parses a YAML or JSON document into a JSON tree with the position of every node.
///
/// JSON is parsed as JSON (RFC 8259, Boost.JSON): `0x10`, comments and trailing commas are errors,
/// keys may be of any length. YAML (libyaml) is read by the YAML 1.2 core schema. JSON is chosen
/// for `DocumentFormat::json`, for a source ending in `.json`, and for text that starts with `{`
/// or `[` and is valid JSON; such text that is valid YAML flow style (`{a: 1}`) is YAML, and when
/// it is neither, the parser that read further reports the error.
///
/// Refused, with file, line and column: invalid UTF-8 (naming the field it is in), control
/// characters outside quoted escapes, YAML aliases (`*name`: expansion is where "billion laughs"
/// documents hide, and no expbridge document needs them), duplicate keys, several documents,
/// unsupported tags, integers that do not fit 64 bits, and anything beyond the limits above.
/// A YAML syntax error names where parsing failed and where the construct it was in opened.
Result<Document> parse_document(std::string_view text, std::string source,
                                DocumentFormat format = DocumentFormat::detect);

/// Reads a file (or standard input for `-`) and parses it.
Result<Document> load_document(const std::string& path);

/// Reads a whole file (or standard input for `-`), refusing more than `kMaxDocumentBytes`.
Result<std::string> read_text(const std::string& path);

/// One line of a stream (the newline dropped). A line longer than `kMaxStreamLineBytes` is read to
/// its end without being kept: `line` is then empty and `length` tells how long it was.
enum class StreamLine { line, too_long, end };
StreamLine read_stream_line(std::istream& in, std::string& line, std::size_t& length);

/// Joins a path and a member name: `join_path("a", "b")` = `a.b`.
std::string join_path(std::string_view parent, std::string_view member);
/// Joins a path and an index: `index_path("a", 2)` = `a[2]`.
std::string index_path(std::string_view parent, std::size_t index);

}  // namespace expbridge
