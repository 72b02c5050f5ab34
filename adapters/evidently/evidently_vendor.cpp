#include "evidently/evidently_vendor.hpp"

#include "evidently/evidently_adapter.hpp"
#include "evidently/evidently_emulator.hpp"
#include "emulator/emulator.hpp"

namespace expbridge {

Vendor evidently_vendor() { return Vendor{"evidently", make_evidently_adapter, emulator::make_evidently_emulator, {}}; }

}  // namespace expbridge
