// expbridge tests — the fakevendor emulator (see fakevendor_vendor.hpp).
//
// A second witness of the vendor's rules: written from the description in fakevendor_vendor.hpp,
// it never includes the fakevendor adapter nor reads its table.
//
// Serves `GET` and `PATCH /experiments/{id}` (members `name`, `description`, `exposure_percent`,
// merged), after checking `X-Fakevendor-Token`. State and fixture section (`fakevendor:`):
// `{experiments: {ID: {name?, description?, exposure_percent?}}}`.
#pragma once

#include <memory>

#include "emulator/emulator.hpp"

namespace expbridge::emulator {

/// A fakevendor emulator with no experiments.
std::unique_ptr<VendorEmulator> make_fakevendor_emulator();

}  // namespace expbridge::emulator
