// Planning cost: one full update (every neutral field) for the four sample backends.
// Run: build/bench/expbridge_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>

#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"

namespace {

constexpr const char* kFullUpdate = R"(experiment: checkout-redesign
name: Checkout redesign
description: Two-step checkout
hypothesis: Fewer steps raise conversion
launch_criteria: +2% conversion at 95% confidence
audience:
  rule: '(eq $country "US")'
  description: US web users
variations:
  - key: control
    control: true
    weight: 50
    value: {enabled: false}
  - key: two-step
    weight: 50
    description: new flow
    value: {enabled: true, attributes: {steps: 2, theme: "blue"}}
exposure: 75
overrides:
  user-123: two-step
action: stop
result:
  winner: two-step
  summary: Two-step won
  reasons_to_launch: +3.1% conversion
  reasons_not_to_launch: none
comment: raise exposure after review
)";

const expbridge::Bridge& bridge() {
  static const expbridge::Bridge b = [] {
    auto loaded = expbridge::Bridge::load(std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/backends.yaml");
    if (!loaded) {
      std::cerr << loaded.error().describe() << "\n";
      std::exit(1);
    }
    return std::move(*loaded);
  }();
  return b;
}

const expbridge::Update& full_update() {
  static const expbridge::Update u = [] {
    auto parsed = expbridge::parse_update(kFullUpdate, "bench");
    if (!parsed) {
      std::cerr << parsed.error().describe() << "\n";
      std::exit(1);
    }
    return std::move(*parsed);
  }();
  return u;
}

// The figure the README quotes: adapters only, four backends, one full update.
void BM_PlanFullUpdateFourBackends(benchmark::State& state) {
  const auto& b = bridge();
  const auto& u = full_update();
  std::size_t requests = 0;
  for (auto _ : state) {
    auto plan = b.plan(u);
    if (!plan) state.SkipWithError(plan.error().describe().c_str());
    requests = 0;
    for (const auto& backend : plan->backends) requests += backend.requests.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["requests"] = static_cast<double>(requests);
}
BENCHMARK(BM_PlanFullUpdateFourBackends);

// Plan plus serialising every request body, as apply does before sending.
void BM_PlanAndSerialiseBodies(benchmark::State& state) {
  const auto& b = bridge();
  const auto& u = full_update();
  for (auto _ : state) {
    auto plan = b.plan(u);
    std::size_t bytes = 0;
    for (const auto& backend : plan->backends)
      for (const auto& r : backend.requests)
        if (r.body) bytes += expbridge::write_json(*r.body).size();
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_PlanAndSerialiseBodies);

// Reading the update document itself (YAML), for scale.
void BM_ParseFullUpdateYaml(benchmark::State& state) {
  for (auto _ : state) {
    auto u = expbridge::parse_update(kFullUpdate, "bench");
    benchmark::DoNotOptimize(u);
  }
}
BENCHMARK(BM_ParseFullUpdateYaml);

}  // namespace

BENCHMARK_MAIN();
