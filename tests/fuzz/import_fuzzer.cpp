// libFuzzer harness: one saved file (CLI JSON, Terraform state, CloudFormation JSON or YAML, or
// anything else) through the Evidently importer, the path `expbridge import evidently` takes,
// without writing the folder. Whatever it imports must come out as update documents that
// `parse_update` accepts: an importer that writes a document `validate` refuses is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "expbridge/import.hpp"
#include "expbridge/update.hpp"
#include "fuzz_support.hpp"
#include "json_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto result = expbridge::import_vendor_files("evidently", {expbridge::ImportFile{"fuzz", text}},
                                               expbridge::builtin_importers());
  if (!result) return 0;
  (void)expbridge::loss_report_to_text(result->losses);
  for (const auto& imported : result->experiments) {
    const auto document = expbridge::write_json(expbridge::imported_update_document(imported));
    auto update = expbridge::parse_update(document, imported.key + ".yaml", expbridge::DocumentFormat::json);
    if (!update) {
      std::fprintf(stderr, "imported document refused: %s\n%s\n", update.error().describe().c_str(), document.c_str());
      std::abort();
    }
  }
  return 0;
}
