// Hooks around EmulatorHost (declared in emulator.hpp) that the header cannot hold.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

using EmulatorFactory = std::function<std::vector<std::unique_ptr<VendorEmulator>>()>;

/// While alive, `EmulatorHost::start` builds its emulators with `factory` instead of
/// `make_builtin_emulators()` — so the host's own tests run on a fake emulator, whatever
/// vendors are registered. Not nestable; for tests only.
class ScopedEmulatorFactory {
 public:
  explicit ScopedEmulatorFactory(EmulatorFactory factory);
  ~ScopedEmulatorFactory();
  ScopedEmulatorFactory(const ScopedEmulatorFactory&) = delete;
  ScopedEmulatorFactory& operator=(const ScopedEmulatorFactory&) = delete;
};

}  // namespace expbridge::emulator
