// JSON text for people and for the wire: numbers in their shortest round-trip form.
#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace expbridge {

/// Serialises `value`. Doubles are written in the shortest form that reads back
/// exactly (`75`, `0.1`), members in insertion order. `indent` > 0 pretty-prints.
std::string write_json(const boost::json::value& value, int indent = 0);

/// Appends the JSON string literal for `text` (quotes and escapes) to `out`.
void append_json_string(std::string& out, std::string_view text);

}  // namespace expbridge
