// A mapping table's `import:` section: the rules of a vendor's importer.
#pragma once

#include <vector>

#include <boost/json/value.hpp>

#include "expbridge/import.hpp"

namespace expbridge {

/// `import: {rules: {<id>: {field, carriage (converted | lost), what, why, reason (lost), example}}}`.
/// Errors are invalid_input with `field` the member at fault (`import.rules.<id>.carriage`).
Result<std::vector<ImportRuleSpec>> parse_import_rules(const boost::json::value& section);

}  // namespace expbridge
