// The built-in vendors. Adding a vendor adds its folder under adapters/ (with its
// <vendor>_vendor.cpp), its table under mappings/, and one line here.
#include <cstdio>
#include <cstdlib>

#include "appconfig/appconfig_vendor.hpp"
#include "auth0/auth0_vendor.hpp"
#include "evidently/evidently_import.hpp"
#include "evidently/evidently_vendor.hpp"
#include "expbridge/adapter.hpp"
#include "expbridge/import.hpp"
#include "launchdarkly/launchdarkly_vendor.hpp"

namespace expbridge {

void register_builtin_vendors(Registry& registry) {
  for (auto vendor : {
           appconfig_vendor,
           auth0_vendor,
           evidently_vendor,
           launchdarkly_vendor,
       }) {
    if (auto ok = registry.add(vendor()); !ok) {
      // Two built-in vendors with one name is a build mistake, not a user error.
      std::fprintf(stderr, "expbridge: %s\n", ok.error().message.c_str());
      std::abort();
    }
  }
}

// The vendors whose saved files `expbridge import` reads. Kept beside the vendor list rather than
// in `Vendor` so that adding the first importer did not change the descriptor every file includes.
const std::vector<VendorImporter>& builtin_importers() {
  static const std::vector<VendorImporter> importers = {
      {"evidently", evidently_import::import_files},
  };
  return importers;
}

}  // namespace expbridge
