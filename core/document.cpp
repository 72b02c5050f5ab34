#include "document.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>

#include <boost/json/stream_parser.hpp>
#include <yaml-cpp/yaml.h>

namespace expbridge {
namespace {

Mark to_mark(const YAML::Mark& m) { return Mark{m.line + 1, m.column + 1}; }

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options)
    if (s == o) return true;
  return false;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  int base = 10;
  bool negative = false;
  std::string_view digits = s;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.starts_with("0x")) {
    base = 16;
    digits.remove_prefix(2);
  } else if (digits.starts_with("0o")) {
    base = 8;
    digits.remove_prefix(2);
  }
  if (digits.empty()) return std::nullopt;
  for (char c : digits) {
    bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) : (c >= '0' && c < '0' + base);
    if (!ok) return std::nullopt;
  }
  std::uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  if (negative) {
    if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1) return std::nullopt;
    return static_cast<std::int64_t>(0 - magnitude);
  }
  if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  return static_cast<std::int64_t>(magnitude);
}

bool looks_like_float(std::string_view s) {
  // YAML 1.2 core schema: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
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

class Converter {
 public:
  explicit Converter(Document& doc) : doc_(doc) {}

  Result<boost::json::value> convert(const YAML::Node& node, const std::string& path) {
    doc_.marks.emplace(path, to_mark(node.Mark()));
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return boost::json::value(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(node, path);
      case YAML::NodeType::Sequence: {
        boost::json::array out;
        out.reserve(node.size());
        std::size_t i = 0;
        for (const auto& item : node) {
          auto v = convert(item, index_path(path, i++));
          if (!v) return v;
          out.push_back(std::move(*v));
        }
        return boost::json::value(std::move(out));
      }
      case YAML::NodeType::Map: {
        boost::json::object out;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            Error e = doc_.error_at(path, "a mapping key must be a plain string");
            e.line = to_mark(kv.first.Mark()).line;
            e.column = to_mark(kv.first.Mark()).column;
            return std::unexpected(std::move(e));
          }
          const std::string& key = kv.first.Scalar();
          std::string child = join_path(path, key);
          if (out.contains(key)) {
            doc_.marks[child] = to_mark(kv.first.Mark());
            return std::unexpected(doc_.error_at(child, "duplicate key '" + key + "'"));
          }
          // A member's position is its key's: where a person looks for a field.
          doc_.marks.emplace(child, to_mark(kv.first.Mark()));
          auto v = convert(kv.second, child);
          if (!v) return v;
          out.emplace(key, std::move(*v));
        }
        return boost::json::value(std::move(out));
      }
    }
    return std::unexpected(doc_.error_at(path, "unsupported YAML node"));
  }

 private:
  Result<boost::json::value> scalar(const YAML::Node& node, const std::string& path) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return boost::json::value(boost::json::string(text));
    if (tag == "?") return plain(text);
    if (tag == "tag:yaml.org,2002:int") {
      if (auto i = parse_int(text)) return boost::json::value(*i);
      return std::unexpected(doc_.error_at(path, "'" + text + "' is not an integer"));
    }
    if (tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null")
      return plain(text);
    return std::unexpected(doc_.error_at(path, "unsupported YAML tag '" + tag + "'"));
  }

  Result<boost::json::value> plain(const std::string& text) {
    if (is_one_of(text, {"", "~", "null", "Null", "NULL"})) return boost::json::value(nullptr);
    if (is_one_of(text, {"true", "True", "TRUE"})) return boost::json::value(true);
    if (is_one_of(text, {"false", "False", "FALSE"})) return boost::json::value(false);
    if (is_one_of(text, {".nan", ".NaN", ".NAN"})) return boost::json::value(std::numeric_limits<double>::quiet_NaN());
    if (is_one_of(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}))
      return boost::json::value(std::numeric_limits<double>::infinity());
    if (is_one_of(text, {"-.inf", "-.Inf", "-.INF"})) return boost::json::value(-std::numeric_limits<double>::infinity());
    const char first = text[0];
    if (std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' || first == '.') {
      if (auto i = parse_int(text)) return boost::json::value(*i);
      if (looks_like_float(text)) {
        std::string_view s = text;
        if (s[0] == '+') s.remove_prefix(1);
        double d = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec == std::errc::result_out_of_range)
          return boost::json::value(s[0] == '-' ? -std::numeric_limits<double>::infinity()
                                                : std::numeric_limits<double>::infinity());
        if (ec == std::errc{} && end == s.data() + s.size()) return boost::json::value(d);
      }
    }
    return boost::json::value(boost::json::string(text));
  }

  Document& doc_;
};

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
// yaml-cpp places errors in flow collections at the collection's start; for a JSON
// document the JSON parser knows the exact byte, which we turn into line:column.
std::optional<Error> json_error_position(std::string_view text, const std::string& source) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (text[first] != '{' && text[first] != '[')) return std::nullopt;
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (!ec) return std::nullopt;
  Mark m{1, 1};
  for (std::size_t i = 0; i < consumed && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++m.line;
      m.column = 1;
    } else {
      ++m.column;
    }
  }
  Error e = make_error(ErrorCode::invalid_input, "malformed JSON: " + ec.message());
  e.file = source;
  e.line = m.line;
  e.column = m.column;
  return e;
}
}  // namespace

Result<Document> parse_document(std::string_view text, std::string source) {
  Document doc;
  doc.source = std::move(source);
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& ex) {
    if (auto json = json_error_position(text, doc.source)) return std::unexpected(std::move(*json));
    Error e = make_error(ErrorCode::invalid_input, "malformed YAML: " + ex.msg);
    e.file = doc.source;
    e.line = ex.mark.line + 1;
    e.column = ex.mark.column + 1;
    return std::unexpected(std::move(e));
  }
  if (nodes.empty()) return std::unexpected(doc.error_at("", "the document is empty"));
  if (nodes.size() > 1) {
    Error e = doc.error_at("", "expected one document, found " + std::to_string(nodes.size()));
    Mark m = to_mark(nodes[1].Mark());
    e.line = m.line;
    e.column = m.column;
    return std::unexpected(std::move(e));
  }
  Converter converter(doc);
  try {
    auto root = converter.convert(nodes[0], "");
    if (!root) {
      // YAML accepts some broken JSON (`{"a": 1,,}` has a null key); the JSON parser says where it broke.
      if (auto json = json_error_position(text, doc.source)) return std::unexpected(std::move(*json));
      return std::unexpected(std::move(root).error());
    }
    doc.root = std::move(*root);
  } catch (const YAML::Exception& ex) {
    Error e = make_error(ErrorCode::invalid_input, "malformed YAML/JSON: " + ex.msg);
    e.file = doc.source;
    e.line = ex.mark.line + 1;
    e.column = ex.mark.column + 1;
    return std::unexpected(std::move(e));
  }
  return doc;
}

Result<std::string> read_text(const std::string& path) {
  if (path == "-") {
    std::ostringstream out;
    out << std::cin.rdbuf();
    return out.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error e = make_error(ErrorCode::invalid_input, "cannot read the file");
    e.file = path;
    return std::unexpected(std::move(e));
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
