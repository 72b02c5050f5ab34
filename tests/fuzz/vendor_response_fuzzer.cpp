// libFuzzer harness: what vendors answer, through the code that reads it — the error
// decoder every failed request goes through (`apply::vendor_error`, per the vendor's
// table) and each adapter's state-read parsing (`Bridge::read_state`), whose result then
// feeds the state-dependent rules of a plan. One backend of each registered vendor.
//
// Input (FuzzedDataProvider): from the end, the vendor, status, update, number of
// responses, number of headers and each header's name; from the front, each header's
// value (a string ended by `\` + any other byte), then the body (the rest).
// tests/fuzz/make_corpus.py writes seeds in this layout.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "apply/retry_policy.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "fuzz_support.hpp"
#include "http/http_client.hpp"

namespace {

using expbridge::fuzz::setup_failed;

using expbridge::fuzz::k_config;

// Updates whose rules depend on the vendor's state (AppConfig exposure may only rise,
// Auth0 allocations are frozen while active, transitions depend on the status).
constexpr std::string_view k_updates[] = {
    "experiment: checkout-redesign\nexposure: 60\n"
    "variations:\n  - {key: control, control: true, weight: 50}\n  - {key: two-step, weight: 50}\n",
    "experiment: checkout-redesign\naction: start\nexposure: 10\n",
    "experiment: checkout-redesign\naction: stop\nresult: {winner: two-step, summary: won}\n"
    "variations:\n  - {key: control, control: true, weight: 100}\n  - {key: two-step, weight: 0}\n",
    "experiment: checkout-redesign\naction: pause\n",
};

struct Setup {
  expbridge::Bridge bridge;
  std::vector<expbridge::Update> updates;
  // Per registered vendor (vendor_tables() order): the backend of that vendor.
  std::vector<std::string> backend_of_vendor;
};

const Setup& setup() {
  static const Setup s = [] {
    auto bridge = expbridge::Bridge::from_text(k_config, "harness config");
    if (!bridge) setup_failed(bridge.error().describe());
    Setup out{std::move(*bridge), {}, {}};
    for (const auto text : k_updates) {
      auto update = expbridge::parse_update(text, "harness update");
      if (!update) setup_failed(update.error().describe());
      out.updates.push_back(std::move(*update));
    }
    for (const auto& [vendor, table] : expbridge::fuzz::vendor_tables()) {
      std::string name;
      for (const auto& backend : out.bridge.backends())
        if (backend.vendor == vendor) name = backend.name;
      // A vendor registered since this harness was written: give it a backend above.
      if (name.empty()) setup_failed("no backend of vendor " + vendor + " in the harness config");
      out.backend_of_vendor.push_back(name);
    }
    return out;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setup();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Setup& s = setup();
  const auto& tables = expbridge::fuzz::vendor_tables();
  const auto& names = expbridge::fuzz::signal_header_names();
  FuzzedDataProvider in(data, size);

  const std::size_t vendor = in.ConsumeIntegralInRange<std::size_t>(0, tables.size() - 1);
  expbridge::http::Response response;
  response.status = in.ConsumeIntegralInRange<int>(0, 999);
  const auto& update = s.updates[in.ConsumeIntegralInRange<std::size_t>(0, std::size(k_updates) - 1)];
  const int responses = in.ConsumeIntegralInRange<int>(0, 2);
  const int headers = in.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < headers; ++i) {
    const std::size_t pick = in.ConsumeIntegralInRange<std::size_t>(0, names.size());
    // One past the known names: a name of the input's own (odd case, junk).
    std::string name = pick < names.size() ? names[pick] : in.ConsumeRandomLengthString(32);
    response.headers.push_back({std::move(name), in.ConsumeRandomLengthString(256)});
  }
  response.body = in.ConsumeRemainingBytesAsString();

  const auto error = expbridge::apply::vendor_error(tables[vendor].table->http(), response);
  // The contract reports carry: the status as received, and always something to read.
  if (error.http_status != response.status || error.message.empty()) __builtin_trap();

  std::vector<expbridge::ReadResponse> reads;
  for (int i = 0; i < responses; ++i) reads.push_back({response.status, response.body});
  const std::string& backend = s.backend_of_vendor[vendor];
  auto state = s.bridge.read_state(backend, update, reads);
  if (!state) return 0;
  expbridge::PlanOptions options;
  options.backends = {backend};
  options.current = {{backend, &*state}};
  (void)s.bridge.plan(update, options);
  return 0;
}
