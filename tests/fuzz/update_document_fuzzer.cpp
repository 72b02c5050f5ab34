// libFuzzer harness: an update document (YAML or JSON) through the document parser and
// the update codec + neutral checks, and a valid update on through every adapter's plan
// (the sample config binds one backend of each vendor), the path `expbridge plan` takes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "document.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "fuzz_support.hpp"

namespace {

using expbridge::fuzz::k_config;

const expbridge::Bridge& bridge() {
  static const expbridge::Bridge b = [] {
    auto loaded = expbridge::Bridge::from_text(k_config, "sample config");
    if (!loaded) expbridge::fuzz::setup_failed(loaded.error().describe());
    return std::move(*loaded);
  }();
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bridge();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto document = expbridge::parse_document(text, "fuzz")) {
    // Error positions are looked up by path on every refusal: walk that too.
    (void)document->mark_of("variations[0].weight");
    (void)document->error_at("experiment", "x");
  }

  auto update = expbridge::parse_update(text, "fuzz");
  if (!update) return 0;
  // Point the update at the bound experiment so every adapter plans it; the rules then
  // run on values no hand-written test thought of.
  update->experiment = "checkout-redesign";
  (void)bridge().state_reads(*update);
  (void)bridge().plan(*update);
  expbridge::PlanOptions strict;
  strict.strict = true;
  (void)bridge().plan(*update, strict);
  return 0;
}
