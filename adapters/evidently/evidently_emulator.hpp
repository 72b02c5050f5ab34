// Amazon CloudWatch Evidently emulator: features and experiments of the control plane
// (restJson1, SigV4 signing name `evidently`). Facts: Amazon CloudWatch Evidently API Reference.
//
// A second witness of the vendor's rules: written from the vendor's documentation and checked
// against its official SDK (tests/sdk), it never includes the evidently adapter nor reads
// mappings/evidently.yaml, so a rule the adapter gets wrong is caught rather than echoed.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// A fresh Evidently emulator with no projects (seed it with the fixture's `evidently:` section).
std::unique_ptr<VendorEmulator> make_evidently_emulator();

}  // namespace expbridge::emulator
