#include "appconfig/appconfig_vendor.hpp"

#include "appconfig/appconfig_adapter.hpp"
#include "appconfig/appconfig_emulator.hpp"
#include "emulator/emulator.hpp"

namespace expbridge {

Vendor appconfig_vendor() { return Vendor{"appconfig", make_appconfig_adapter, emulator::make_appconfig_emulator, {}}; }

}  // namespace expbridge
