#include "migrate_command.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <unistd.h>

#include "document.hpp"
#include "expbridge/migrate.hpp"
#include "expbridge/store.hpp"
#include "json_writer.hpp"
#include "run_progress.hpp"
#include "store_commands.hpp"

namespace expbridge::cli {
namespace {

int fail(const Error& e) {
  std::cerr << "expbridge: error: " << e.describe() << "\n";
  return e.code == ErrorCode::invalid_input || e.code == ErrorCode::unsupported || e.code == ErrorCode::not_found ? 2
                                                                                                                  : 1;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::weakly_canonical(a, ec) == std::filesystem::weakly_canonical(b, ec);
}

}  // namespace

MigrateCommand::MigrateCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "migrate", "Move experiments to other backends: create them there, or converge them (a plan unless --apply)");
  command_->add_option("-c,--config", config_, "Backends and experiment bindings (YAML)")->required();
  command_->add_option("--from", from_, "A backend of the config, or an import folder (expbridge import --out)")
      ->required();
  command_->add_option("--to", to_, "The backend(s) to migrate to (comma-separated or repeated): each experiment goes to each")
      ->required()
      ->delimiter(',')
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command_->add_option("experiments", experiments_, "The experiments' keys (or --all)");
  command_->add_flag("--all", all_, "Every experiment the source holds");
  command_->add_flag("--apply", apply_, "Send: create or converge at each target (default: a plan, reads only)");
  // Not range-checked here: migrate refuses it with the rule, before anything is read.
  command_->add_option("--parallel", parallel_,
                       "Experiments in flight at once, 1..256 (default 1): their reads and writes overlap, so each "
                       "backend's pacing can fill its rate limit");
  command_->add_option("--progress-every", progress_every_s_,
                       "Seconds between progress lines on standard error when it is not a terminal (0: none; "
                       "a terminal gets one live line; --format json gets none)")
      ->check(CLI::Range(0.0, 86400.0));
  command_->add_option("--accept-loss", accept_loss_,
                       "Lost fields to migrate without (comma-separated; a name accepts every path under it)")
      ->delimiter(',')
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command_->add_option("--write-config", write_config_,
                       "Write the config with the bindings created, as YAML (a new file: comments are not kept)");
  command_->add_option("--format", format_, "text or json")->check(CLI::IsMember({"text", "json"}));
  command_->add_option("--mappings", mappings_dir_, "Folder of <vendor>.yaml tables replacing the embedded ones");
  command_->add_option("--ca-file", ca_file_, "Extra trusted CA certificates (PEM)");
  auto* state = command_->add_option(
      "--state", state_, "The state store (default: .expbridge/state.db beside the config), or a postgresql:// URL");
  command_->add_flag("--no-state", no_state_,
                     "Run without a state store: no journal, created bindings not recorded (use --write-config)")
      ->excludes(state);
  command_->add_option("--busy-timeout", busy_timeout_ms_,
                       "How long to wait (ms) for another process holding the store or the experiment")
      ->check(CLI::Range(0, 600'000));
}

int MigrateCommand::run(const Registry& registry) const {
  if (!write_config_.empty() && same_file(write_config_, config_))
    return fail(invalid_field("--write-config", "is the input config: the written config keeps no comments, so "
                                                "expbridge writes a new file; name another one"));
  auto text = read_text(config_);
  if (!text) return fail(text.error());
  BridgeOptions bridge_options;
  bridge_options.mappings_dir = mappings_dir_;
  bridge_options.registry = &registry;
  auto bridge = Bridge::from_text(*text, config_, bridge_options);
  if (!bridge) return fail(bridge.error());

  MigrateOptions options;
  options.from = from_;
  options.to = to_;
  options.experiments = experiments_;
  options.all = all_;
  options.apply = apply_;
  options.accept_loss = accept_loss_;
  options.bridge_options = bridge_options;
  options.config_text = *text;
  options.apply_options.extra_ca_file = ca_file_;
  std::unique_ptr<Store> store;
  if (!no_state_) {
    auto opened = Store::open(StoreOptions{state_location(config_, state_), std::chrono::milliseconds(busy_timeout_ms_)});
    if (!opened) {
      std::cerr << "expbridge: error: " << opened.error().describe() << "; nothing was sent\n";
      return 2;
    }
    store = std::move(*opened);
    std::error_code ignored;
    const auto absolute = std::filesystem::weakly_canonical(config_, ignored);
    // Recorded under its own name: `apply --resume` continues the last unfinished run of a config
    // path, and an interrupted migration is not one it can continue (a migration is run again,
    // converging, instead).
    options.apply_options.run =
        RunStart{"migrate", "migrate " + (absolute.empty() ? config_ : absolute.string()), store_digest(*text)};
  }
  options.apply_options.store = store.get();

  // Entries are written as they finish, so a long migration holds none of them: text per entry,
  // or one JSON document whose `experiments` array is streamed, its summary closing it.
  const bool json = format_ == "json";
  const bool live = isatty(2) != 0;
  std::optional<RunProgress> progress;  // made with the first entry, when the total is known
  const bool entries_on_terminal = isatty(1) != 0;
  SkipReasonIndex reasons;  // each skip reason printed once for the whole run
  bool started = false;
  const auto begin = [&](const MigrationReport& so_far) {
    if (started) return;
    started = true;
    if (!json)
      progress.emplace(std::cerr, live, std::chrono::milliseconds(static_cast<std::int64_t>(progress_every_s_ * 1000)),
                       static_cast<std::size_t>(so_far.entries_expected), "entries");
    if (json) {
      boost::json::array to;
      for (const auto& t : so_far.to) to.emplace_back(t);
      std::cout << "{\"from\": " << write_json(boost::json::value(so_far.from)) << ", \"to\": " << write_json(to)
                << ", \"applied\": " << (so_far.applied ? "true" : "false") << ", \"experiments\": [";
    } else {
      std::cout << migration_heading_text(so_far);
    }
  };
  options.parallel = parallel_;
  options.keep_created_bindings = !write_config_.empty();
  options.started = begin;
  options.sink = [&](ExperimentMigration entry, const MigrationReport& so_far) {
    if (progress && entries_on_terminal) progress->clear();
    if (json)
      std::cout << (so_far.summary.entries > 1 ? ",\n" : "\n") << write_json(migration_entry_to_json(entry));
    else
      std::cout << migration_entry_to_text(entry, so_far.applied, &reasons) << std::flush;
    if (progress)
      progress->update(static_cast<std::size_t>(so_far.summary.entries),
                       static_cast<std::size_t>(so_far.summary.failed + so_far.summary.refused), so_far.pacing);
  };
  auto report = migrate(*bridge, options);
  if (!report) return fail(report.error());
  if (progress)
    progress->finish(static_cast<std::size_t>(report->summary.entries),
                     static_cast<std::size_t>(report->summary.failed + report->summary.refused), report->pacing);
  if (json) {
    std::cout << (report->summary.entries > 0 ? "\n" : "") << "], \"summary\": "
              << write_json(migration_summary_to_json(*report)) << ", \"ok\": " << (report->ok() ? "true" : "false")
              << "}\n";
  } else {
    std::cout << migration_summary_text(*report);
    if (const std::string waits = rate_limit_summary(report->pacing); !waits.empty()) std::cout << waits << "\n";
  }
  for (const auto& run : report->finished_earlier_runs)
    std::cerr << "expbridge: run " << run << ", an earlier migration cut short, is finished: this one settled what it left\n";

  if (!write_config_.empty()) {
    std::string written_text = *text;
    std::size_t created = 0;
    for (const auto& to : to_) {
      const auto bindings = report->created_bindings(to);
      created += bindings.size();
      auto written = config_with_bindings(written_text, config_, to, bindings);
      if (!written) return fail(written.error());
      written_text = std::move(*written);
    }
    std::string targets;
    for (const auto& to : to_) targets += (targets.empty() ? "" : ", ") + to;
    std::ofstream out(write_config_, std::ios::binary | std::ios::trunc);
    out << "# " << config_ << " with the bindings `expbridge migrate` created at " << targets
        << " (written by expbridge: the input's comments are not kept)\n"
        << written_text;
    out.close();
    if (!out) return fail(make_error(ErrorCode::unavailable, "cannot write " + write_config_));
    std::cerr << "expbridge: wrote " << write_config_ << ": " << config_ << " with " << created
              << " binding(s) created at " << targets << " (the input's comments are not kept)\n";
  }
  return report->ok() ? 0 : 1;
}

}  // namespace expbridge::cli
