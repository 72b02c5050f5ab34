// libFuzzer harness: a config (backends + experiment bindings) through `Bridge::from_text`,
// which parses the document and has every vendor's factory and `bind` check its part;
// a config that loads is then planned for each of its experiments, so what `bind`
// accepted is what the adapters are handed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "expbridge/bridge.hpp"
#include "expbridge/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto bridge = expbridge::Bridge::from_text(text, "fuzz");
  if (!bridge) return 0;

  // Every config setting shapes requests: one update touching each kind of field, with
  // no variations so it holds for any binding.
  for (const auto& experiment : bridge->experiments()) {
    expbridge::Update update;
    update.experiment = experiment;
    update.name = "Checkout redesign";
    update.description = "Two-step checkout";
    update.exposure = 75;
    update.action = expbridge::Action::start;
    update.source = "fuzz update";
    (void)bridge->state_reads(update);
    (void)bridge->plan(update);
  }
  return 0;
}
