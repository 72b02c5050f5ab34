#include "filtered_json.hpp"

#include <fstream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "message_text.hpp"

namespace expbridge {
namespace {

/// The file's bytes one at a time, through a fixed buffer, with the position of the next one.
class ByteSource {
 public:
  explicit ByteSource(std::ifstream& in) : in_(in) {}

  /// The next byte, or -1 at the end.
  int peek() {
    if (at_ == size_) {
      in_.read(buffer_, sizeof buffer_);
      size_ = static_cast<std::size_t>(in_.gcount());
      at_ = 0;
      if (size_ == 0) return -1;
    }
    return static_cast<unsigned char>(buffer_[at_]);
  }
  int get() {
    const int c = peek();
    if (c < 0) return c;
    ++at_;
    if (c == '\n') {
      ++mark_.line;
      mark_.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++mark_.column;
    }
    return c;
  }
  void skip_space() {
    for (int c = peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek()) get();
  }
  Mark mark() const { return mark_; }

 private:
  std::ifstream& in_;
  char buffer_[64 * 1024];
  std::size_t size_ = 0, at_ = 0;
  Mark mark_{1, 1};
};

class FilteredReader {
 public:
  FilteredReader(const std::string& path, std::ifstream& in, const KeepItem& keep) : src_(in), keep_(keep) {
    doc_.source = path;
    doc_.root = boost::json::object();
  }

  Result<Document> read() {
    src_.skip_space();
    if (src_.peek() == 0xEF) {  // a UTF-8 byte-order mark
      for (int i = 0; i < 3; ++i) src_.get();
    }
    if (src_.get() != '{') return fail("malformed JSON: expected '{' (a JSON object) at the start");
    doc_.marks.emplace("", Mark{1, 1});
    src_.skip_space();
    if (src_.peek() == '}') {
      src_.get();
      return finish();
    }
    while (true) {
      src_.skip_space();
      const Mark key_mark = src_.mark();
      std::string key;
      EXPBRIDGE_ASSIGN_OR_RETURN(key, member_key());
      if (doc_.root.get_object().contains(key))
        return std::unexpected(error_at(key_mark, "duplicate key " + quote_value(key)));
      doc_.marks.emplace(key, key_mark);
      src_.skip_space();
      if (src_.get() != ':') return fail("malformed JSON: expected ':' after the key " + quote_value(key));
      src_.skip_space();
      if (src_.peek() == '[') {
        EXPBRIDGE_RETURN_IF_ERROR(array_member(key));
      } else {
        const Mark at = src_.mark();
        std::string text;
        EXPBRIDGE_ASSIGN_OR_RETURN(text, capture(key));
        boost::json::value value;
        EXPBRIDGE_ASSIGN_OR_RETURN(value, parse_part(text, at, key));
        doc_.root.get_object()[key] = std::move(value);
      }
      src_.skip_space();
      const int c = src_.get();
      if (c == '}') return finish();
      if (c != ',') return fail(c < 0 ? "malformed JSON: the file ends inside the object (truncated?)"
                                      : "malformed JSON: expected ',' or '}' after the member " + quote_value(key));
    }
  }

 private:
  Result<Document> finish() {
    src_.skip_space();
    if (src_.peek() >= 0) return fail("malformed JSON: unexpected text after the JSON value (one document holds one value)");
    return std::move(doc_);
  }

  Result<std::string> member_key() {
    if (src_.peek() != '"') return fail("malformed JSON: expected a member name in double quotes");
    std::string raw;
    EXPBRIDGE_ASSIGN_OR_RETURN(raw, capture("a member name"));
    boost::system::error_code ec;
    auto decoded = boost::json::parse(raw, ec);
    if (ec || !decoded.is_string()) return fail("malformed JSON: a member name that is not a JSON string");
    return std::string(decoded.get_string());
  }

  Status array_member(const std::string& key) {
    src_.get();  // '['
    boost::json::array kept;
    doc_.root.get_object()[key] = boost::json::array();
    for (std::size_t index = 0;; ++index) {
      src_.skip_space();
      if (src_.peek() == ']' && index == 0) {
        src_.get();
        break;
      }
      const Mark at = src_.mark();
      const std::string where = index_path(key, index);
      std::string text;
      EXPBRIDGE_ASSIGN_OR_RETURN(text, capture(where));
      Document item;
      EXPBRIDGE_ASSIGN_OR_RETURN(item, parse_item(text, at));
      if (keep_(key, item.root)) {
        kept_bytes_ += text.size();
        if (kept_bytes_ > kMaxDocumentBytes)
          return std::unexpected(error_at(at, "more than " + std::to_string(kMaxDocumentBytes) +
                                                  " bytes of what is wanted in one file, the most expbridge keeps; split it"));
        move_marks(item, index_path(key, kept.size()), at);
        kept.push_back(std::move(item.root));
      }
      src_.skip_space();
      const int c = src_.get();
      if (c == ']') break;
      if (c != ',')
        return fail(c < 0 ? "malformed JSON: the file ends inside " + where + " (truncated?)"
                          : "malformed JSON: expected ',' or ']' after " + where);
    }
    doc_.root.get_object()[key] = std::move(kept);
    return {};
  }

  /// The text of one JSON value, from its first byte to its last, never more than the limit.
  Result<std::string> capture(const std::string& what) {
    std::string out;
    int depth = 0;
    bool in_string = false, escaped = false;
    while (true) {
      const int c = src_.peek();
      if (c < 0) {
        if (depth == 0 && !in_string && !out.empty()) return out;
        return fail("malformed JSON: the file ends inside " + what + " (truncated?)");
      }
      const bool delimiter = c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':';
      if (!in_string && depth == 0 && delimiter) {
        if (out.empty()) return fail("malformed JSON: expected a value for " + what);
        return out;
      }
      src_.get();
      out.push_back(static_cast<char>(c));
      if (out.size() > kMaxDocumentBytes)
        return fail(what + " is larger than " + std::to_string(kMaxDocumentBytes) +
                    " bytes, the most expbridge reads as one value");
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = false;
          if (depth == 0) return out;
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        if (++depth > static_cast<int>(kMaxDocumentDepth))
          return fail("malformed JSON: nested deeper than " + std::to_string(kMaxDocumentDepth) +
                      " levels, the most expbridge reads");
      } else if (c == '}' || c == ']') {
        if (--depth < 0) return fail("malformed JSON: an unexpected '" + std::string(1, static_cast<char>(c)) + "'");
        if (depth == 0) return out;
      }
    }
  }

  /// One part of the file read as a document of its own, its positions moved to the file's.
  Result<Document> parse_item(const std::string& text, Mark at) {
    auto item = parse_document(text, doc_.source, DocumentFormat::json);
    if (!item) {
      Error e = std::move(item).error();
      if (e.line > 0) {
        const Mark moved = moved_mark(Mark{e.line, e.column}, at);
        e.line = moved.line;
        e.column = moved.column;
      }
      return std::unexpected(std::move(e));
    }
    return item;
  }

  Result<boost::json::value> parse_part(const std::string& text, Mark at, const std::string& key) {
    Document part;
    EXPBRIDGE_ASSIGN_OR_RETURN(part, parse_item(text, at));
    move_marks(part, key, at);
    return std::move(part.root);
  }

  static Mark moved_mark(Mark m, Mark at) {
    return m.line == 1 ? Mark{at.line, at.column + m.column - 1} : Mark{at.line + m.line - 1, m.column};
  }

  void move_marks(const Document& part, const std::string& base, Mark at) {
    for (const auto& [path, mark] : part.marks) {
      std::string full = path.empty() ? base : path.front() == '[' ? base + path : base + "." + path;
      doc_.marks.emplace(std::move(full), moved_mark(mark, at));
    }
  }

  Error error_at(Mark m, std::string message) const {
    Error e = make_error(ErrorCode::invalid_input, std::move(message));
    e.file = doc_.source;
    e.line = m.line;
    e.column = m.column;
    return e;
  }
  std::unexpected<Error> fail(std::string message) const { return std::unexpected(error_at(src_.mark(), std::move(message))); }

  ByteSource src_;
  const KeepItem& keep_;
  Document doc_;
  std::size_t kept_bytes_ = 0;
};

}  // namespace

Result<Document> load_filtered_json(const std::string& path, const KeepItem& keep) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error e = make_error(ErrorCode::invalid_input, "cannot read the file");
    e.file = path;
    return std::unexpected(std::move(e));
  }
  FilteredReader reader(path, in, keep);
  return reader.read();
}

}  // namespace expbridge
