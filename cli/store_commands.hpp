// `expbridge history` and `expbridge state`: what the state store recorded, and where it lives.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "expbridge/store.hpp"

namespace expbridge::cli {

/// Where a command's store is: `--state` when given, else `.expbridge/state.db` in the folder of
/// the config (so every command run with one config finds the same store).
std::string state_location(const std::string& config, const std::string& state_option);

/// Opens the store a command names, for commands that only read it: a SQLite file that does not
/// exist yet is `not_found` (nothing recorded), never created by reading.
Result<std::unique_ptr<Store>> open_existing_store(const StoreOptions& options);

/// `history -c CONFIG EXPERIMENT [--state S] [--format text|json]`: every change recorded for the
/// experiment, oldest first: when, which run, which backend, the operation, fields and outcome.
class HistoryCommand {
 public:
  explicit HistoryCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string config_, experiment_, state_, format_ = "text";
};

/// `state -c CONFIG [EXPERIMENT] [--state S] [--format text|json]`: what the store knows per
/// experiment and backend: vendor ids learnt, the last applied state (when, by which run), the
/// last read.
class StateCommand {
 public:
  explicit StateCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string config_, experiment_, state_, format_ = "text";
};

}  // namespace expbridge::cli
