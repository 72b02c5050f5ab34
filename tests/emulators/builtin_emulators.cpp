// The built-in emulators: one line a vendor.
#include "emulator.hpp"

namespace expbridge::emulator {

std::vector<std::unique_ptr<VendorEmulator>> make_builtin_emulators() {
  std::vector<std::unique_ptr<VendorEmulator>> out;
  return out;
}

}  // namespace expbridge::emulator
