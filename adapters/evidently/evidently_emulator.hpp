// Amazon CloudWatch Evidently emulator: features and experiments of the control plane
// (restJson1, SigV4 signing name `evidently`). Facts: Amazon CloudWatch Evidently API Reference;
// it never includes the Evidently adapter nor reads the mapping tables.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// A fresh Evidently emulator with no projects (seed it with the fixture's `evidently:` section).
std::unique_ptr<VendorEmulator> make_evidently_emulator();

}  // namespace expbridge::emulator
