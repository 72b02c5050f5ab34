#include "message_text.hpp"

#include <cstdint>

namespace expbridge {
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  const std::uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint8_t low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;        // overlong
    if (lead == 0xED) high = 0x9F;       // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;        // overlong
    if (lead == 0xF4) high = 0x8F;       // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return length;
}

namespace {

void append_hex_byte(std::string& out, std::uint8_t b) {
  constexpr char digits[] = "0123456789abcdef";
  out += "\\x";
  out.push_back(digits[b >> 4]);
  out.push_back(digits[b & 0xF]);
}

}  // namespace

std::size_t invalid_utf8_offset(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    // ASCII runs are the common case: skip them a byte at a time without the full decode.
    if (static_cast<std::uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

namespace {
/// The escaped, shortened text; `shortened` tells whether some of `value` was left out.
std::string escape_prefix(std::string_view value, std::size_t max_bytes, bool& shortened) {
  std::string out;
  std::size_t i = 0;
  while (i < value.size() && i < max_bytes) {
    const auto b = static_cast<std::uint8_t>(value[i]);
    if (b < 0x80) {
      switch (b) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (b < 0x20 || b == 0x7F)
            append_hex_byte(out, b);
          else
            out.push_back(static_cast<char>(b));
      }
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(value, i);
    if (length == 0) {
      append_hex_byte(out, b);
      ++i;
      continue;
    }
    if (i + length > max_bytes) break;  // never cut a character in two
    // C1 controls (U+0080..U+009F, encoded C2 80..C2 9F) steer terminals as C0 ones do.
    if (b == 0xC2 && static_cast<std::uint8_t>(value[i + 1]) < 0xA0) {
      append_hex_byte(out, b);
      append_hex_byte(out, static_cast<std::uint8_t>(value[i + 1]));
    } else {
      out.append(value.substr(i, length));
    }
    i += length;
  }
  shortened = i < value.size();
  return out;
}

std::string length_note(std::size_t bytes) { return " (" + std::to_string(bytes) + " bytes)"; }
}  // namespace

std::string printable_text(std::string_view value, std::size_t max_bytes) {
  bool shortened = false;
  std::string out = escape_prefix(value, max_bytes, shortened);
  if (shortened) out += "…" + length_note(value.size());
  return out;
}

std::string quote_value(std::string_view value, std::size_t max_bytes) {
  bool shortened = false;
  std::string out = "'" + escape_prefix(value, max_bytes, shortened);
  // The length note goes after the closing quote: it is not part of the value.
  if (shortened) return out + "…'" + length_note(value.size());
  return out + "'";
}

}  // namespace expbridge
