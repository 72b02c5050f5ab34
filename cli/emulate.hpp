// `expbridge emulate`: the vendor emulators on 127.0.0.1, for trying expbridge and for
// users' own CI, without any vendor account.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "expbridge/adapter.hpp"

namespace expbridge::cli {

/// Registers the `emulate` subcommand on `app`. Lives as long as `app` (CLI11 writes
/// the options into it while parsing); not movable for that reason.
class EmulateCommand {
 public:
  explicit EmulateCommand(CLI::App& app);
  EmulateCommand(const EmulateCommand&) = delete;
  EmulateCommand& operator=(const EmulateCommand&) = delete;

  /// True when the command line chose `emulate`.
  bool selected() const { return command_ != nullptr && command_->parsed(); }
  /// Serves the emulators of `registry`'s vendors until SIGINT/SIGTERM or `--duration-s`.
  /// Exit code: 0 stopped, 1 cannot listen, 2 invalid fixture.
  int run(const Registry& registry) const;

 private:
  CLI::App* command_ = nullptr;
  int port_ = 8080;
  std::string fixture_;
  double duration_s_ = 0;  ///< 0 = until a signal
  std::string write_config_;
};

}  // namespace expbridge::cli
