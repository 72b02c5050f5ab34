// expbridge — reading and checking neutral update documents.
#pragma once

#include <string>
#include <string_view>

#include "expbridge/error.hpp"
#include "expbridge/model.hpp"

namespace expbridge {

/// How a document's text is read.
enum class DocumentFormat {
  detect,  ///< JSON for a `.json` source or text that is valid JSON; YAML otherwise
  yaml,
  json,    ///< JSON only (a line of an update stream)
};

/// Parses an update document (YAML or JSON, same schema) and checks the neutral
/// rules (see `validate_update`). `source` names the document in errors.
/// Unknown fields are errors; malformed text reports the line and column.
Result<Update> parse_update(std::string_view text, std::string source, DocumentFormat format = DocumentFormat::detect);

/// Reads and parses an update file; `-` reads standard input.
Result<Update> load_update(const std::string& path);

/// The neutral rules, independent of any vendor:
/// exposure and weights finite and within 0..100; weights sum to 100 (±0.001);
/// exactly one control; unique variation keys; overrides name known variations
/// (when the update carries variations); `result` only with `action: stop`,
/// and its winner a known variation. Vendor limits are the adapters' business.
Status validate_update(const Update& update);

}  // namespace expbridge
