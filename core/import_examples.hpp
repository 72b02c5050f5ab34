// Runs the worked examples of a mapping table's `import:` rules through the vendor's importer:
// each example's files must give its experiment an entry of that rule, with the values it says.
#pragma once

#include <string>
#include <vector>

#include "expbridge/import.hpp"
#include "mapping_examples.hpp"

namespace expbridge {

/// One outcome per `import.rules.<id>` of `vendor`'s table (none when it has no `import:`).
/// A table with import rules whose vendor has no importer in `importers` fails every example.
Result<std::vector<ExampleOutcome>> run_import_examples(const std::string& vendor, const std::string& mappings_dir,
                                                        const Registry* registry,
                                                        const std::vector<VendorImporter>& importers = builtin_importers());

}  // namespace expbridge
