#include "launchdarkly/launchdarkly_vendor.hpp"

#include "launchdarkly/launchdarkly_adapter.hpp"
#include "launchdarkly/launchdarkly_emulator.hpp"
#include "emulator/emulator.hpp"

namespace expbridge {

Vendor launchdarkly_vendor() { return Vendor{"launchdarkly", make_launchdarkly_adapter, emulator::make_launchdarkly_emulator, {}}; }

}  // namespace expbridge
