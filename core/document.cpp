// YAML (libyaml's event parser) and JSON (Boost.JSON) documents as one JSON tree with marks.
//
// Why libyaml and not yaml-cpp: yaml-cpp 0.7 loops forever allocating on a stray leading comma,
// recurses once per nesting level (a deep document overflows the stack), and expands aliases
// without bound. libyaml's parser is an explicit state machine (no recursion), reports where a
// construct opened and where it failed, and hands us events one at a time, so depth, size and
// aliases are checked here before any of it is built.
#include "document.hpp"

#include <yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <unordered_set>

#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>

#include "message_text.hpp"
#include "tagged_document.hpp"

namespace expbridge {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), s) != options.end();
}

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

/// 1-based line and column (in characters) of a byte offset.
Mark mark_at_offset(std::string_view text, std::size_t offset) {
  Mark m{1, 1};
  offset = std::min(offset, text.size());
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++m.line;
      m.column = 1;
    } else if (!is_utf8_continuation(text[i])) {
      ++m.column;
    }
  }
  return m;
}

Error error_at_mark(const std::string& source, Mark mark, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.file = source;
  e.line = mark.line;
  e.column = mark.column;
  return e;
}

std::string position_text(Mark m) { return "line " + std::to_string(m.line) + ", column " + std::to_string(m.column); }

// ---- scalars (YAML 1.2 core schema) ----------------------------------------------------------

/// Digits of an integer literal as the core schema writes them: `[-+]?[0-9]+`, `0x[0-9a-fA-F]+`, `0o[0-7]+`.
struct IntegerLiteral {
  bool negative = false;
  int base = 10;
  std::string_view digits;
};

std::optional<IntegerLiteral> integer_literal(std::string_view s) {
  IntegerLiteral lit;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    lit.negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.starts_with("0x")) {
    lit.base = 16;
    s.remove_prefix(2);
  } else if (s.starts_with("0o")) {
    lit.base = 8;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    const bool ok = lit.base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0 : (c >= '0' && c < '0' + lit.base);
    if (!ok) return std::nullopt;
  }
  lit.digits = s;
  return lit;
}

/// The literal's value, or nothing when it does not fit a signed 64-bit integer.
std::optional<std::int64_t> integer_value(const IntegerLiteral& lit) {
  std::uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(lit.digits.data(), lit.digits.data() + lit.digits.size(), magnitude, lit.base);
  if (ec != std::errc{} || end != lit.digits.data() + lit.digits.size()) return std::nullopt;
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (lit.negative) {
    if (magnitude > max + 1) return std::nullopt;
    return static_cast<std::int64_t>(0 - magnitude);
  }
  if (magnitude > max) return std::nullopt;
  return static_cast<std::int64_t>(magnitude);
}

bool looks_like_float(std::string_view s) {
  // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

std::string too_large_integer(std::string_view text) {
  return "the integer " + quote_value(text) +
         " does not fit in 64 bits; write it as a string (quoted) if it is an identifier";
}

/// A plain (unquoted, untagged) scalar typed by the core schema.
std::expected<boost::json::value, std::string> plain_scalar(std::string_view text) {
  if (is_one_of(text, {"", "~", "null", "Null", "NULL"})) return boost::json::value(nullptr);
  if (is_one_of(text, {"true", "True", "TRUE"})) return boost::json::value(true);
  if (is_one_of(text, {"false", "False", "FALSE"})) return boost::json::value(false);
  if (is_one_of(text, {".nan", ".NaN", ".NAN"})) return boost::json::value(std::numeric_limits<double>::quiet_NaN());
  if (is_one_of(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}))
    return boost::json::value(std::numeric_limits<double>::infinity());
  if (is_one_of(text, {"-.inf", "-.Inf", "-.INF"})) return boost::json::value(-std::numeric_limits<double>::infinity());
  const char first = text[0];
  if (std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' || first == '.') {
    if (auto lit = integer_literal(text)) {
      if (auto i = integer_value(*lit)) return boost::json::value(*i);
      // Rounding it to a double would change the number the user wrote.
      return std::unexpected(too_large_integer(text));
    }
    if (looks_like_float(text)) {
      std::string_view s = text;
      if (s[0] == '+') s.remove_prefix(1);
      double d = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec == std::errc::result_out_of_range) {
        // Underflow is a number near zero; overflow is refused later as not finite.
        const auto exponent = s.find_first_of("eE");
        if (exponent != std::string_view::npos && exponent + 1 < s.size() && s[exponent + 1] == '-')
          return boost::json::value(0.0);
        return boost::json::value(s[0] == '-' ? -std::numeric_limits<double>::infinity()
                                              : std::numeric_limits<double>::infinity());
      }
      if (ec == std::errc{} && end == s.data() + s.size()) return boost::json::value(d);
    }
  }
  return boost::json::value(boost::json::string(text));
}

// ---- YAML ----------------------------------------------------------------------------------

Mark to_mark(const yaml_mark_t& m) { return Mark{static_cast<int>(m.line) + 1, static_cast<int>(m.column) + 1}; }

std::string_view tag_of(const yaml_char_t* tag) {
  return tag == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(tag));
}

/// Owns a libyaml parser and the event in hand, so every exit path frees both.
class YamlEvents {
 public:
  explicit YamlEvents(std::string_view text) {
    ok_ = yaml_parser_initialize(&parser_) == 1;
    if (!ok_) return;
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    // Refuse UTF-16 and UTF-32 rather than guess from a byte-order mark: expbridge reads UTF-8.
    yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
  }
  ~YamlEvents() {
    if (have_event_) yaml_event_delete(&event_);
    if (ok_) yaml_parser_delete(&parser_);
  }
  YamlEvents(const YamlEvents&) = delete;
  YamlEvents& operator=(const YamlEvents&) = delete;

  bool initialized() const { return ok_; }
  /// The next event, or nothing when the text is not YAML (see `parser()` for why).
  const yaml_event_t* next() {
    if (have_event_) yaml_event_delete(&event_);
    have_event_ = yaml_parser_parse(&parser_, &event_) == 1;
    return have_event_ ? &event_ : nullptr;
  }
  const yaml_parser_t& parser() const { return parser_; }

 private:
  yaml_parser_t parser_{};
  yaml_event_t event_{};
  bool ok_ = false;
  bool have_event_ = false;
};

/// Where parsing stopped and why, with the construct it was in (libyaml's context).
struct SyntaxError {
  Error error;
  std::size_t offset = 0;  ///< how far the parser got, to pick between YAML and JSON readings
};

SyntaxError yaml_syntax_error(const yaml_parser_t& p, std::string_view text, const std::string& source) {
  const std::string problem = p.problem ? p.problem : "unreadable text";
  if (p.error == YAML_MEMORY_ERROR)
    return {error_at_mark(source, {}, "the YAML parser ran out of memory"), text.size()};
  if (p.error == YAML_READER_ERROR) {
    // Invalid UTF-8 was refused before libyaml ran, so this is a character YAML forbids.
    std::string message = "malformed YAML: " + problem;
    if (p.problem_value >= 0) {
      char hex[16];
      auto [end, ec] = std::to_chars(hex, hex + sizeof hex, p.problem_value, 16);
      (void)ec;  // 16 bytes hold any int in hex
      message += " (U+" + std::string(hex, end) + ")";
    }
    message += "; write such characters as escapes (\\t, \\x01) inside a double-quoted string";
    return {error_at_mark(source, mark_at_offset(text, p.problem_offset), std::move(message)), p.problem_offset};
  }
  std::string message = "malformed YAML: " + problem;
  if (p.context != nullptr) {
    const Mark opened = to_mark(p.context_mark);
    message += ", " + std::string(p.context) + " that opened at " + position_text(opened);
  }
  return {error_at_mark(source, to_mark(p.problem_mark), std::move(message)), p.problem_mark.index};
}

/// Builds the tree from libyaml's events with an explicit stack (no recursion), checking the
/// limits as it goes.
class YamlTreeBuilder {
 public:
  YamlTreeBuilder(Document& doc, std::string_view text, bool local_tags = false)
      : doc_(doc), text_(text), local_tags_(local_tags) {}

  /// The tree, or the error; `syntax_offset` is set when the error is a YAML syntax error.
  Result<boost::json::value> build(std::optional<std::size_t>& syntax_offset) {
    YamlEvents events(text_);
    if (!events.initialized()) return std::unexpected(error_at_mark(doc_.source, {}, "cannot start the YAML parser"));
    int documents = 0;
    while (true) {
      const yaml_event_t* event = events.next();
      if (event == nullptr) {
        SyntaxError s = yaml_syntax_error(events.parser(), text_, doc_.source);
        syntax_offset = s.offset;
        return std::unexpected(std::move(s.error));
      }
      const Mark mark = to_mark(event->start_mark);
      switch (event->type) {
        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
          break;
        case YAML_STREAM_END_EVENT:
          if (!root_) return std::unexpected(doc_.error_at("", "the document is empty"));
          return std::move(*root_);
        case YAML_DOCUMENT_START_EVENT:
          if (++documents > 1)
            return std::unexpected(error_at_mark(doc_.source, mark, "expected one document, found a second one here"));
          break;
        case YAML_ALIAS_EVENT: {
          std::string name(tag_of(event->data.alias.anchor));
          return std::unexpected(fail_at(mark, "YAML aliases (*" + printable_text(name) +
                                                   ") are not accepted: write the value out (expbridge refuses "
                                                   "aliases, merge keys included, so that no document expands "
                                                   "beyond its own size)"));
        }
        case YAML_SCALAR_EVENT: {
          std::string_view value(reinterpret_cast<const char*>(event->data.scalar.value), event->data.scalar.length);
          if (expecting_key()) {
            EXPBRIDGE_RETURN_IF_ERROR(key(value, mark));
            break;
          }
          if (std::string_view tag = tag_of(event->data.scalar.tag); is_local_tag(tag)) {
            EXPBRIDGE_RETURN_IF_ERROR(open_tag_wrapper(tag, mark));
            EXPBRIDGE_RETURN_IF_ERROR(add(boost::json::value(boost::json::string(value)), mark));
            EXPBRIDGE_RETURN_IF_ERROR(close_frame());
            break;
          }
          auto converted = scalar(*event, value, mark);
          if (!converted) return std::unexpected(std::move(converted).error());
          EXPBRIDGE_RETURN_IF_ERROR(add(std::move(*converted), mark));
          break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
          const bool is_map = event->type == YAML_MAPPING_START_EVENT;
          if (expecting_key()) return std::unexpected(fail_at(mark, "a mapping key must be a plain string"));
          std::string_view tag =
              tag_of(is_map ? event->data.mapping_start.tag : event->data.sequence_start.tag);
          if (is_local_tag(tag)) {
            EXPBRIDGE_RETURN_IF_ERROR(open_tag_wrapper(tag, mark));
          } else if (!tag.empty() && tag != "!" && tag != (is_map ? "tag:yaml.org,2002:map" : "tag:yaml.org,2002:seq")) {
            return std::unexpected(fail_at(mark, "unsupported YAML tag " + quote_value(tag)));
          }
          EXPBRIDGE_RETURN_IF_ERROR(open(is_map, mark));
          break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
          EXPBRIDGE_RETURN_IF_ERROR(close_frame());
          break;
      }
    }
  }

 private:
  struct Frame {
    boost::json::value value;  ///< an object or an array
    std::string path;
    std::size_t index = 0;     ///< next item of an array
    bool have_key = false;     ///< an object's key was read, its value is next
    std::string key;
    std::string member_path;
    bool tag_wrapper = false;  ///< `{tag: node}` around a locally tagged node: closes with it
  };

  /// `!Name` (a local tag), when the reader asked for them; `!` alone is the non-specific tag.
  bool is_local_tag(std::string_view tag) const { return local_tags_ && tag.size() > 1 && tag[0] == '!'; }

  /// Opens `{tag: ...}`, whose one member is the tagged node that follows.
  Status open_tag_wrapper(std::string_view tag, Mark mark) {
    EXPBRIDGE_RETURN_IF_ERROR(open(true, mark));
    EXPBRIDGE_RETURN_IF_ERROR(key(tag, mark));
    stack_.back().tag_wrapper = true;
    return {};
  }

  /// Ends the container on top, and the tag wrapper around it if there is one.
  Status close_frame() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    EXPBRIDGE_RETURN_IF_ERROR(attach(std::move(frame.value)));
    if (!stack_.empty() && stack_.back().tag_wrapper && !stack_.back().have_key) {
      Frame wrapper = std::move(stack_.back());
      stack_.pop_back();
      return attach(std::move(wrapper.value));
    }
    return {};
  }

  bool expecting_key() const { return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().have_key; }

  Error fail_at(Mark mark, std::string message) const { return error_at_mark(doc_.source, mark, std::move(message)); }

  std::string next_path() const {
    if (stack_.empty()) return std::string();
    const Frame& top = stack_.back();
    return top.value.is_array() ? index_path(top.path, top.index) : top.member_path;
  }

  Status count_node(Mark mark) {
    if (++nodes_ > kMaxDocumentNodes)
      return std::unexpected(fail_at(mark, "the document holds more than " + std::to_string(kMaxDocumentNodes) +
                                               " values, the most expbridge reads from one document"));
    return {};
  }

  Status key(std::string_view text, Mark mark) {
    Frame& top = stack_.back();
    top.key.assign(text);
    top.member_path = join_path(top.path, text);
    if (top.value.get_object().contains(top.key)) {
      doc_.marks[top.member_path] = mark;
      return std::unexpected(doc_.error_at(top.member_path, "duplicate key " + quote_value(text)));
    }
    // A member's position is its key's: where a person looks for a field.
    doc_.marks.emplace(top.member_path, mark);
    top.have_key = true;
    return {};
  }

  Result<boost::json::value> scalar(const yaml_event_t& event, std::string_view text, Mark mark) {
    const std::string_view tag = tag_of(event.data.scalar.tag);
    auto typed = [&](std::expected<boost::json::value, std::string> v) -> Result<boost::json::value> {
      if (!v) return std::unexpected(fail_at(mark, std::move(v).error()));
      return std::move(*v);
    };
    if (tag.empty()) {
      if (event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return typed(plain_scalar(text));
      return boost::json::value(boost::json::string(text));
    }
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return boost::json::value(boost::json::string(text));
    if (tag == "tag:yaml.org,2002:int") {
      auto lit = integer_literal(text);
      if (!lit) return std::unexpected(fail_at(mark, quote_value(text) + " is not an integer"));
      auto i = integer_value(*lit);
      if (!i) return std::unexpected(fail_at(mark, too_large_integer(text)));
      return boost::json::value(*i);
    }
    if (tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null")
      return typed(plain_scalar(text));
    return std::unexpected(fail_at(mark, "unsupported YAML tag " + quote_value(tag)));
  }

  Status open(bool is_map, Mark mark) {
    if (stack_.size() >= kMaxDocumentDepth)
      return std::unexpected(fail_at(mark, "the document nests deeper than " + std::to_string(kMaxDocumentDepth) +
                                               " levels, the most expbridge reads"));
    EXPBRIDGE_RETURN_IF_ERROR(count_node(mark));
    Frame frame;
    frame.path = next_path();
    doc_.marks.emplace(frame.path, mark);
    frame.value = is_map ? boost::json::value(boost::json::object()) : boost::json::value(boost::json::array());
    stack_.push_back(std::move(frame));
    return {};
  }

  Status add(boost::json::value value, Mark mark) {
    EXPBRIDGE_RETURN_IF_ERROR(count_node(mark));
    doc_.marks.emplace(next_path(), mark);
    return attach(std::move(value));
  }

  Status attach(boost::json::value value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return {};
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.get_array().push_back(std::move(value));
      ++top.index;
    } else {
      top.value.get_object().emplace(top.key, std::move(value));
      top.have_key = false;
    }
    return {};
  }

  Document& doc_;
  std::string_view text_;
  std::vector<Frame> stack_;
  std::optional<boost::json::value> root_;
  std::size_t nodes_ = 0;
  bool local_tags_ = false;
};

// ---- JSON ----------------------------------------------------------------------------------

/// A JSON syntax error at the byte where Boost.JSON stopped.
SyntaxError json_syntax_error(std::string_view text, std::size_t offset, const boost::system::error_code& ec,
                              const std::string& source) {
  std::string why = ec == boost::json::error::too_deep
                        ? "nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels, the most expbridge reads"
                        : ec.message();
  return {error_at_mark(source, mark_at_offset(text, offset), "malformed JSON: " + why), offset};
}

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// Parses JSON text strictly; on a syntax error, says where.
std::expected<boost::json::value, SyntaxError> parse_json_value(std::string_view text, const std::string& source) {
  boost::json::parse_options options;
  options.max_depth = kMaxDocumentDepth;
  boost::json::stream_parser parser({}, options);
  boost::system::error_code ec;
  std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (ec) return std::unexpected(json_syntax_error(text, consumed, ec, source));
  // write_some stops after one complete value: anything but spaces after it is a second value.
  std::size_t rest = consumed;
  while (rest < text.size() && is_json_space(text[rest])) ++rest;
  if (rest < text.size())
    return std::unexpected(
        SyntaxError{error_at_mark(source, mark_at_offset(text, rest),
                                  "malformed JSON: unexpected text after the JSON value (one document holds one value)"),
                    rest});
  // A number at the very end is complete only once the parser knows no digit follows.
  if (!parser.done()) parser.finish(ec);
  if (ec) return std::unexpected(json_syntax_error(text, text.size(), ec, source));
  return parser.release();
}

/// Walks JSON text that Boost.JSON accepted, alongside the tree it built, to record where each
/// node starts and to refuse what Boost.JSON lets through: duplicate keys (1.81 keeps the last)
/// and integers beyond 64 bits (which it turns into doubles).
class JsonLocator {
 public:
  JsonLocator(Document& doc, std::string_view text) : doc_(doc), text_(text) {}

  Status run(const boost::json::value& root) {
    skip_space();
    return value(&root, "");
  }

 private:
  // Recursive, but Boost.JSON refused anything nested deeper than kMaxDocumentDepth already.
  // `v` is the node Boost.JSON built for this text, or null where a duplicate key makes the two
  // disagree (the duplicate is reported when the walk reaches it).
  Status value(const boost::json::value* v, const std::string& path) {
    if (++nodes_ > kMaxDocumentNodes)
      return std::unexpected(fail("the document holds more than " + std::to_string(kMaxDocumentNodes) +
                                  " values, the most expbridge reads from one document"));
    doc_.marks.emplace(path, mark_);
    const char c = text_[pos_];
    if (c == '{') {
      advance(1);
      skip_space();
      std::unordered_set<std::string> seen;
      const boost::json::object* object = v != nullptr && v->is_object() ? &v->get_object() : nullptr;
      while (text_[pos_] != '}') {
        const Mark key_mark = mark_;
        std::string key = read_string();
        std::string member = join_path(path, key);
        if (!seen.insert(key).second) {
          doc_.marks[member] = key_mark;
          return std::unexpected(doc_.error_at(member, "duplicate key " + quote_value(key)));
        }
        doc_.marks.emplace(member, key_mark);
        skip_space();
        advance(1);  // ':'
        skip_space();
        EXPBRIDGE_RETURN_IF_ERROR(value(object != nullptr ? object->if_contains(key) : nullptr, member));
        skip_comma();
      }
      advance(1);
      return {};
    }
    if (c == '[') {
      advance(1);
      skip_space();
      const boost::json::array* array = v != nullptr && v->is_array() ? &v->get_array() : nullptr;
      std::size_t index = 0;
      while (text_[pos_] != ']') {
        const boost::json::value* item = array != nullptr && index < array->size() ? &(*array)[index] : nullptr;
        EXPBRIDGE_RETURN_IF_ERROR(value(item, index_path(path, index)));
        ++index;
        skip_comma();
      }
      advance(1);
      return {};
    }
    if (c == '"') {
      skip_string();
      return {};
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() && !is_json_space(text_[pos_]) && text_[pos_] != ',' && text_[pos_] != '}' &&
           text_[pos_] != ']')
      advance(1);
    const std::string_view token = text_.substr(start, pos_ - start);
    if (v != nullptr && v->is_double() && token.find_first_of(".eE") == std::string_view::npos)
      return std::unexpected(doc_.error_at(path, too_large_integer(token)));
    return {};
  }

  void advance(std::size_t n) {
    for (std::size_t i = 0; i < n && pos_ < text_.size(); ++i, ++pos_) {
      if (text_[pos_] == '\n') {
        ++mark_.line;
        mark_.column = 1;
      } else if (!is_utf8_continuation(text_[pos_])) {
        ++mark_.column;
      }
    }
  }

  void skip_space() {
    while (pos_ < text_.size() && is_json_space(text_[pos_])) advance(1);
  }

  /// After a member or an item: spaces, the ',' if one follows, spaces.
  void skip_comma() {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ',') {
      advance(1);
      skip_space();
    }
  }

  /// Skips a string token, returning its raw text (quotes included).
  std::string_view skip_string() {
    const std::size_t start = pos_;
    advance(1);
    while (pos_ < text_.size() && text_[pos_] != '"') advance(text_[pos_] == '\\' ? 2 : 1);
    advance(1);
    return text_.substr(start, pos_ - start);
  }

  /// A key's text, escapes decoded (by Boost.JSON, which already accepted them).
  std::string read_string() {
    std::string_view raw = skip_string();
    std::string_view inner = raw.substr(1, raw.size() - 2);
    if (inner.find('\\') == std::string_view::npos) return std::string(inner);
    boost::system::error_code ec;
    auto decoded = boost::json::parse(raw, ec);
    return ec || !decoded.is_string() ? std::string(inner) : std::string(decoded.get_string());
  }

  Error fail(std::string message) const { return error_at_mark(doc_.source, mark_, std::move(message)); }

  Document& doc_;
  std::string_view text_;
  std::size_t pos_ = 0;
  Mark mark_{1, 1};
  std::size_t nodes_ = 0;
};

// ---- choosing the reading ------------------------------------------------------------------

bool looks_like_json(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

bool ends_with_json_extension(std::string_view source) {
  if (source.size() < 5) return false;
  std::string tail(source.substr(source.size() - 5));
  std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
  return tail == ".json";
}

Result<Document> parse_as_json(std::string_view text, std::string source, std::optional<SyntaxError>& syntax) {
  Document doc;
  doc.source = std::move(source);
  auto value = parse_json_value(text, doc.source);
  if (!value) {
    syntax = value.error();
    return std::unexpected(std::move(value.error().error));
  }
  JsonLocator locator(doc, text);
  EXPBRIDGE_RETURN_IF_ERROR(locator.run(*value));
  doc.root = std::move(*value);
  return doc;
}

Result<Document> parse_as_yaml(std::string_view text, std::string source, std::optional<std::size_t>& syntax_offset,
                               bool local_tags) {
  Document doc;
  doc.source = std::move(source);
  YamlTreeBuilder builder(doc, text, local_tags);
  auto root = builder.build(syntax_offset);
  if (!root) return std::unexpected(std::move(root).error());
  doc.root = std::move(*root);
  return doc;
}

Result<Document> parse_utf8(std::string_view text, const std::string& source, DocumentFormat format,
                            bool local_tags) {
  if (format == DocumentFormat::detect && ends_with_json_extension(source)) format = DocumentFormat::json;
  if (format == DocumentFormat::json) {
    std::optional<SyntaxError> syntax;
    return parse_as_json(text, source, syntax);
  }
  std::optional<std::size_t> yaml_offset;
  if (format == DocumentFormat::detect && looks_like_json(text)) {
    std::optional<SyntaxError> json_syntax;
    auto json = parse_as_json(text, source, json_syntax);
    if (json || !json_syntax) return json;  // valid JSON, or JSON whose content is refused
    auto yaml = parse_as_yaml(text, source, yaml_offset, local_tags);
    if (yaml || !yaml_offset) return yaml;
    // Neither reading holds: the one that got further knows better where the text went wrong.
    if (json_syntax->offset >= *yaml_offset) return std::unexpected(std::move(json_syntax->error));
    return yaml;
  }
  return parse_as_yaml(text, source, yaml_offset, local_tags);
}

/// The deepest node that starts at or before `at`: the field a position falls in.
std::string field_at(const Document& doc, Mark at) {
  std::string best;
  Mark best_mark{0, 0};
  auto before = [](Mark a, Mark b) { return a.line < b.line || (a.line == b.line && a.column <= b.column); };
  auto same = [](Mark a, Mark b) { return a.line == b.line && a.column == b.column; };
  for (const auto& [path, mark] : doc.marks) {
    if (!before(mark, at)) continue;
    // Later starts are deeper; at the same start (a member and its value), the longer path.
    if (same(mark, best_mark) ? path.size() > best.size() : before(best_mark, mark)) {
      best_mark = mark;
      best = path;
    }
  }
  return best;
}

}  // namespace

Mark Document::mark_of(std::string_view path) const {
  std::string p(path);
  while (true) {
    if (auto it = marks.find(p); it != marks.end()) return it->second;
    if (p.empty()) return {};
    auto cut = p.find_last_of(".[");
    p = cut == std::string::npos ? std::string() : p.substr(0, cut);
  }
}

Error Document::error_at(std::string_view path, std::string message) const {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.file = source;
  e.field = std::string(path);
  Mark m = mark_of(path);
  e.line = m.line;
  e.column = m.column;
  return e;
}

namespace {

/// `parse_document`, reading local YAML tags as one-member mappings when `local_tags`.
Result<Document> parse_any_document(std::string_view text, std::string source, DocumentFormat format, bool local_tags) {
  if (text.size() > kMaxDocumentBytes)
    return std::unexpected(error_at_mark(source, {}, "the document is " + std::to_string(text.size()) +
                                                         " bytes, more than the " + std::to_string(kMaxDocumentBytes) +
                                                         " bytes expbridge reads from one document"));
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  const std::size_t bad = invalid_utf8_offset(text);
  if (bad == std::string_view::npos) return parse_utf8(text, source, format, local_tags);

  // Name the field the bad byte is in: read a copy with every such byte replaced (offsets and
  // positions stay the same), then find the node there.
  const Mark at = mark_at_offset(text, bad);
  char hex[3];
  std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned>(static_cast<unsigned char>(text[bad])));
  Error e = error_at_mark(source, at, "is not valid UTF-8 (byte 0x" + std::string(hex) + " at " + position_text(at) +
                                          "); expbridge reads UTF-8 documents only");
  std::string repaired(text);
  for (std::size_t i = bad; i != std::string_view::npos;) {
    repaired[i] = '?';
    const std::size_t next = invalid_utf8_offset(std::string_view(repaired).substr(i + 1));
    i = next == std::string_view::npos ? next : i + 1 + next;
  }
  if (auto readable = parse_utf8(repaired, source, format, local_tags)) {
    e.field = field_at(*readable, at);
    if (e.field.empty()) e.message = "the document " + e.message;
  } else {
    e.message = "the document " + e.message;
  }
  return std::unexpected(std::move(e));
}

}  // namespace

Result<Document> parse_document(std::string_view text, std::string source, DocumentFormat format) {
  return parse_any_document(text, std::move(source), format, false);
}

Result<Document> parse_tagged_document(std::string_view text, std::string source) {
  return parse_any_document(text, std::move(source), DocumentFormat::detect, true);
}

Result<std::string> read_text(const std::string& path) {
  auto too_large = [&] {
    Error e = make_error(ErrorCode::invalid_input, "is larger than " + std::to_string(kMaxDocumentBytes) +
                                                       " bytes, the most expbridge reads from one document");
    e.file = path;
    return std::unexpected(std::move(e));
  };
  std::istream* in = &std::cin;
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      Error e = make_error(ErrorCode::invalid_input, "cannot read the file");
      e.file = path;
      return std::unexpected(std::move(e));
    }
    in = &file;
  }
  // Read in chunks up to the limit and one byte past it: never more than the limit in memory.
  std::string text;
  char chunk[64 * 1024];
  while (*in) {
    in->read(chunk, sizeof chunk);
    text.append(chunk, static_cast<std::size_t>(in->gcount()));
    if (text.size() > kMaxDocumentBytes) return too_large();
  }
  if (in->bad()) {
    Error e = make_error(ErrorCode::invalid_input, "cannot read the file");
    e.file = path;
    return std::unexpected(std::move(e));
  }
  return text;
}

StreamLine read_stream_line(std::istream& in, std::string& line, std::size_t& length) {
  line.clear();
  length = 0;
  std::streambuf* buffer = in.rdbuf();
  while (true) {
    const int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      if (length == 0) return StreamLine::end;
      break;
    }
    if (c == '\n') break;
    if (++length <= kMaxStreamLineBytes) line.push_back(static_cast<char>(c));
  }
  if (length <= kMaxStreamLineBytes) return StreamLine::line;
  line.clear();
  line.shrink_to_fit();
  return StreamLine::too_long;
}

Result<Document> load_document(const std::string& path) {
  auto text = read_text(path);
  if (!text) return std::unexpected(std::move(text).error());
  return parse_document(*text, path);
}

std::string join_path(std::string_view parent, std::string_view member) {
  if (parent.empty()) return std::string(member);
  std::string out;
  out.reserve(parent.size() + 1 + member.size());
  out.append(parent).push_back('.');
  out.append(member);
  return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
  std::string out(parent);
  out.push_back('[');
  out += std::to_string(index);
  out.push_back(']');
  return out;
}

}  // namespace expbridge
