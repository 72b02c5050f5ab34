// What an internal experiments service does with expbridge: build an update in
// code (no YAML), plan it for every configured vendor, and act on the result.
// Usage: plan_in_code <backends.yaml>
#include <expbridge/bridge.hpp>
#include <expbridge/update.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: plan_in_code <backends.yaml>\n";
    return 2;
  }
  auto bridge = expbridge::Bridge::load(argv[1]);
  if (!bridge) {
    std::cerr << bridge.error().describe() << "\n";
    return 2;
  }

  expbridge::Update update;
  update.experiment = "checkout-redesign";
  update.source = "plan_in_code";
  update.description = "Raised by the experiments service";
  update.exposure = 60;
  update.overrides = {{{"qa-tester-1", "two-step"}}};

  auto plan = bridge->plan(update);
  if (!plan) {
    std::cerr << plan.error().describe() << "\n";
    return 2;
  }
  for (const auto& backend : plan->backends) {
    std::cout << backend.backend << " (" << backend.vendor << "): " << backend.requests.size() << " request(s)";
    for (const auto& request : backend.requests) std::cout << "; " << request.method << " " << request.url;
    for (const auto& skip : backend.skipped) std::cout << "; skips " << skip.field;
    std::cout << "\n";
  }
  return 0;
}
