// `expbridge emulate`: starts every registered vendor emulator behind one loopback server,
// prints how to point expbridge (or anything else) at it, and serves until stopped.
#include "emulate.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <signal.h>
#include <fstream>
#include <iostream>
#include <thread>

#include "emulator/emulator.hpp"
#include "emulator/fixtures.hpp"

namespace expbridge::cli {
namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int) { stop_requested = 1; }

/// The emulators' sample backends, each bound to the samples' experiment, so the samples apply
/// as they are: `expbridge apply -c <this> samples/updates/start.yaml`.
std::string backends_config(const std::string& base_url, const std::vector<emulator::SampleBackend>& samples) {
  std::string backends, bindings;
  for (const auto& s : samples) {
    backends += "  " + s.name + ": {" + s.settings + ", endpoint: " + base_url + "}\n";
    bindings += "    " + s.name + ": " + s.binding + "\n";
  }
  if (backends.empty()) return "";
  return "backends:\n" + backends + "experiments:\n  checkout-redesign:\n" + bindings;
}

}  // namespace

EmulateCommand::EmulateCommand(CLI::App& app) {
  command_ = app.add_subcommand("emulate", "Serve every vendor emulator on 127.0.0.1, for tries and CI");
  command_->add_option("--port", port_, "Port on 127.0.0.1 (0: any free port)")->check(CLI::Range(0, 65535));
  command_->add_option("--fixture", fixture_, "Initial state and faults (YAML), instead of the built-in samples state");
  command_->add_option("--duration-s", duration_s_, "Stop after this many seconds (default: until SIGINT/SIGTERM)")
      ->check(CLI::Range(0.0, 31'536'000.0));
  command_->add_option("--write-config", write_config_, "Also write the backends config for the emulators to this file");
}

int EmulateCommand::run(const Registry& registry) const {
  namespace emu = expbridge::emulator;
  emu::EmulatorHost::Options options;
  options.port = static_cast<std::uint16_t>(port_);
  options.registry = &registry;
  if (!fixture_.empty()) {
    auto fixture = emu::load_fixture(fixture_);
    if (!fixture) {
      std::cerr << "expbridge: error: " << fixture.error().describe() << "\n";
      return 2;
    }
    options.fixture = std::move(*fixture);
  }
  auto host = emu::EmulatorHost::start(std::move(options));
  if (!host) {
    Error e = std::move(host).error();
    if (e.file.empty() && !fixture_.empty() && e.code == ErrorCode::invalid_input) e.file = fixture_;
    std::cerr << "expbridge: error: " << e.describe() << "\n";
    return e.code == ErrorCode::invalid_input ? 2 : 1;
  }
  const std::string url = (*host)->base_url();
  std::string vendors;
  for (const auto& vendor : (*host)->vendors()) vendors += (vendors.empty() ? "" : ", ") + vendor;
  const std::string config = backends_config(url, (*host)->sample_backends());

  // The URL line comes first and alone: scripts read it.
  std::cout << "emulators listening on " << url << "\n"
            << "vendors: " << (vendors.empty() ? "(none registered)" : vendors) << "\n\n";
  if (!(*host)->credentials().empty()) {
    std::cout << "# Credentials the emulators accept (documented example values, not secrets):\n";
    for (const auto& c : (*host)->credentials()) std::cout << "export " << c.variable << "=" << c.value << "\n";
    std::cout << "\n";
  }
  if (!config.empty()) std::cout << "# Backends config (the samples' ids, pointed at the emulators):\n" << config << "\n";
  std::cout << "# Control: GET " << url << "/_emulator/state | GET " << url << "/_emulator/requests | POST " << url
            << "/_emulator/reset | POST " << url << "/_emulator/faults (body: a JSON list of faults)\n";
  std::cout << std::flush;
  if (!write_config_.empty()) {
    std::ofstream out(write_config_);
    out << config;
    if (!out) {
      std::cerr << "expbridge: error: cannot write " << write_config_ << "\n";
      return 1;
    }
  }

  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // Polled rather than waited on: the server runs on its own thread, and a short sleep
  // keeps a signal's latency low without any signal-safe plumbing.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration_s_);
  while (stop_requested == 0 && (duration_s_ <= 0 || std::chrono::steady_clock::now() < deadline))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::cerr << "expbridge emulate: stopping (" << (stop_requested != 0 ? "signal" : "duration elapsed") << ")\n";
  return 0;
}

}  // namespace expbridge::cli
