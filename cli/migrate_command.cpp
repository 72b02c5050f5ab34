#include "migrate_command.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "document.hpp"
#include "expbridge/migrate.hpp"
#include "expbridge/store.hpp"
#include "json_writer.hpp"
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
      "migrate", "Move experiments to another backend: create them there, or converge them (a plan unless --apply)");
  command_->add_option("-c,--config", config_, "Backends and experiment bindings (YAML)")->required();
  command_->add_option("--from", from_, "A backend of the config, or an import folder (expbridge import --out)")
      ->required();
  command_->add_option("--to", to_, "The backend to migrate to")->required();
  command_->add_option("experiments", experiments_, "The experiments' keys (or --all)");
  command_->add_flag("--all", all_, "Every experiment the source holds");
  command_->add_flag("--apply", apply_, "Send: create or converge at the target (default: a plan, reads only)");
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

  auto report = migrate(*bridge, options);
  if (!report) return fail(report.error());
  if (format_ == "json")
    std::cout << write_json(migration_report_to_json(*report), 2) << "\n";
  else
    std::cout << migration_report_to_text(*report);

  if (!write_config_.empty()) {
    auto written = config_with_bindings(*text, config_, to_, report->created_bindings());
    if (!written) return fail(written.error());
    std::ofstream out(write_config_, std::ios::binary | std::ios::trunc);
    out << "# " << config_ << " with the bindings `expbridge migrate` created at " << to_
        << " (written by expbridge: the input's comments are not kept)\n"
        << *written;
    out.close();
    if (!out) return fail(make_error(ErrorCode::unavailable, "cannot write " + write_config_));
    std::cerr << "expbridge: wrote " << write_config_ << ": " << config_ << " with "
              << report->created_bindings().size() << " binding(s) created at " << to_
              << " (the input's comments are not kept)\n";
  }
  return report->ok() ? 0 : 1;
}

}  // namespace expbridge::cli
