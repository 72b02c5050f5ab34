#include "auth0/auth0_vendor.hpp"

#include "auth0/auth0_adapter.hpp"
#include "auth0/auth0_emulator.hpp"
#include "emulator/emulator.hpp"

namespace expbridge {

Vendor auth0_vendor() { return Vendor{"auth0", make_auth0_adapter, emulator::make_auth0_emulator, {}}; }

}  // namespace expbridge
