// expbridge tests — `fakevendor`, a vendor that exists only in the tests, registered through the
// same path as the built-in ones (`Registry::add(fakevendor_vendor())`, one line) to prove that a
// vendor is one folder, one table and one registration line for plan, apply and emulate.
//
// The vendor: experiments under `PATCH /experiments/{experiment}` (name, description and exposure
// as `name`, `description`, `exposure_percent`), `GET` of the same path, a token in the
// `X-Fakevendor-Token` header. Config: `backends.NAME: {vendor: fakevendor, token_env: VARIABLE}`;
// binding: `experiments.KEY.NAME: {experiment: ID}`.
#pragma once

#include <string_view>

#include "expbridge/adapter.hpp"

namespace expbridge::test {

/// The vendor's name.
inline constexpr std::string_view kFakeVendor = "fakevendor";

/// The descriptor: the adapter (fakevendor_adapter.hpp), the emulator (fakevendor_emulator.hpp)
/// and the vendor's own mapping table, given as text since it is not embedded from mappings/.
Vendor fakevendor_vendor();

}  // namespace expbridge::test
