// `expbridge demo`: the sample updates applied to in-process vendor emulators.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "expbridge/adapter.hpp"

namespace expbridge::cli {

/// Registers the `demo` subcommand on `app`; lives as long as `app` (CLI11 writes the
/// options into it while parsing).
class DemoCommand {
 public:
  explicit DemoCommand(CLI::App& app);
  DemoCommand(const DemoCommand&) = delete;
  DemoCommand& operator=(const DemoCommand&) = delete;

  /// True when the command line chose `demo`.
  bool selected() const { return command_ != nullptr && command_->parsed(); }
  /// Starts the emulators of `registry`'s vendors, applies the samples in rollout order, prints
  /// each report and the emulators' final state. Exit code: 0 every request succeeded, 1 one
  /// failed, 2 bad samples.
  int run(const Registry& registry) const;

 private:
  CLI::App* command_ = nullptr;
  std::string samples_;  ///< a folder replacing the embedded samples; empty = embedded
  std::string format_ = "text";
  bool show_state_ = false;
};

}  // namespace expbridge::cli
