// The built-in emulators: one line a vendor.
#include "appconfig/appconfig_emulator.hpp"
#include "auth0/auth0_emulator.hpp"
#include "emulator/emulator.hpp"
#include "launchdarkly/launchdarkly_emulator.hpp"
#include "evidently/evidently_emulator.hpp"

namespace expbridge::emulator {

std::vector<std::unique_ptr<VendorEmulator>> make_builtin_emulators() {
  std::vector<std::unique_ptr<VendorEmulator>> out;
  out.push_back(make_appconfig_emulator());
  out.push_back(make_evidently_emulator());
  out.push_back(make_auth0_emulator());
  out.push_back(make_launchdarkly_emulator());
  return out;
}

}  // namespace expbridge::emulator
