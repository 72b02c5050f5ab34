// Values quoted into error messages: shortened and with control characters escaped, so that a
// hostile document can neither flood a terminal nor rewrite it (ANSI escapes, CR, NUL).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace expbridge {

/// Longest part of a value shown in a message, in bytes (cut on a UTF-8 boundary).
inline constexpr std::size_t kMessageValueBytes = 64;

/// `'value'` for a message: control characters (C0, DEL, C1) as `\n`, `\t`, `\xNN` or `\u{NN}`,
/// bytes that are not UTF-8 as `\xNN`, and a value longer than `max_bytes` cut with
/// `…' (N bytes)` so that the reader knows it was shortened.
std::string quote_value(std::string_view value, std::size_t max_bytes = kMessageValueBytes);

/// The same escaping and shortening without the quotes (for text that is already labelled).
std::string printable_text(std::string_view value, std::size_t max_bytes = kMessageValueBytes);

/// Length of the well-formed UTF-8 sequence starting at `text[i]` (1 for ASCII), or 0 when
/// the bytes there are not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept;

/// The offset of the first byte that does not belong to well-formed UTF-8 (RFC 3629: no
/// overlong forms, no surrogates, nothing above U+10FFFF), or `npos` when `text` is UTF-8.
std::size_t invalid_utf8_offset(std::string_view text) noexcept;

}  // namespace expbridge
