#include "demo.hpp"

#include <iostream>
#include <memory>
#include <optional>

#include <boost/json/object.hpp>

#include "document.hpp"
#include "emulator/emulator.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "samples.hpp"

namespace expbridge::cli {
namespace {

// The order a real rollout takes: change the variations while nothing runs, start,
// widen the exposure, stop with the result.
constexpr const char* kSteps[] = {"redesign-variations.yaml", "start.yaml", "raise-exposure.yaml",
                                  "stop-with-result.yaml"};


/// Requests the emulators received that change something: not the reads, not the token fetches.
std::size_t changes_received(const emulator::EmulatorHost& host) {
  std::size_t n = 0;
  for (const auto& r : host.received_requests())
    n += r.request.method != "GET" && r.request.target.find("/oauth/token") == std::string::npos;
  return n;
}

int fail(const Error& e) {
  std::cerr << "expbridge: error: " << e.describe() << "\n";
  return 2;
}

/// A sample's text and the name errors give it: from `--samples DIR`, else the embedded copy.
Result<std::pair<std::string, std::string>> sample_text(const std::string& folder, const std::string& name) {
  if (!folder.empty()) {
    const std::string path = folder + "/" + name;
    auto text = read_text(path);
    if (!text) return std::unexpected(std::move(text).error());
    return std::pair{std::move(*text), path};
  }
  auto text = embedded_sample(name);
  if (!text) return std::unexpected(make_error(ErrorCode::internal, "no embedded sample " + name));
  return std::pair{std::string(*text), "samples/" + name + " (embedded)"};
}

}  // namespace

int DemoCommand::run(const Registry& registry) const {
  struct {
    const std::string& samples;
    const std::string& format;
  } args{samples_, format_};
  emulator::EmulatorHost::Options host_options;
  host_options.registry = &registry;
  auto host = emulator::EmulatorHost::start(std::move(host_options));
  if (!host) return fail(host.error());
  auto config_text = sample_text(args.samples, "backends.yaml");
  if (!config_text) return fail(config_text.error());
  const std::string& config_path = config_text->second;
  auto config = parse_document(config_text->first, config_path);
  if (!config) return fail(config.error());
  // Every backend of the sample config talks to the emulators instead of the vendor.
  for (auto& backend : config->root.as_object()["backends"].as_object())
    backend.value().as_object()["endpoint"] = (*host)->base_url();
  BridgeOptions bridge_options;
  bridge_options.registry = &registry;
  auto bridge = Bridge::from_text(write_json(config->root), config_path + " (endpoints on the emulators)", bridge_options);
  if (!bridge) return fail(bridge.error());
  ApplyOptions options;
  // The emulators take the documented example credentials; the demo never reads the real environment.
  options.environment = emulator::test_environment((*host)->credentials());
  auto applier = Applier::create(*bridge, options);
  if (!applier) return fail(applier.error());

  std::string vendors;
  for (const auto& vendor : (*host)->vendors()) vendors += (vendors.empty() ? "" : ", ") + vendor;
  std::cout << "expbridge demo: vendor emulators on " << (*host)->base_url() << " (" << vendors << "); applying "
            << std::size(kSteps) << " sample updates, then the last one again, from "
            << (args.samples.empty() ? std::string("the embedded samples/") : args.samples) << "\n\n";
  bool all_ok = true;
  SkipReasonIndex reasons;  // each skip reason printed once for the whole demo
  std::optional<Update> last;
  auto apply_and_print = [&](const Update& update) {
    auto report = applier->apply(update);
    all_ok = all_ok && report.ok();
    if (args.format == "json")
      std::cout << write_json(report_to_json(report), 2) << "\n";
    else
      std::cout << report_to_text(report, &reasons) << "\n";
  };
  for (const char* step : kSteps) {
    auto text = sample_text(args.samples, std::string("updates/") + step);
    if (!text) return fail(text.error());
    auto update = parse_update(text->first, text->second);
    if (!update) return fail(update.error());
    apply_and_print(*update);
    last = std::move(*update);
  }
  // apply reads every backend first and sends only what differs: the same update again
  // finds it all in effect (LaunchDarkly's stopped iteration and its winner included).
  const std::size_t changes_before = changes_received(**host);
  if (args.format != "json")
    std::cout << "the last update again: every backend is read first, and what it holds already is not sent\n";
  apply_and_print(*last);
  const std::size_t resent = changes_received(**host) - changes_before;
  all_ok = all_ok && resent == 0;
  const ReadReport held = applier->read(last->experiment);
  all_ok = all_ok && held.ok();
  if (args.format == "json") {
    std::cout << write_json(read_report_to_json(held), 2) << "\n";
  } else {
    std::cout << "changes the emulators received for it: " << resent << "\n\n"
              << "what every backend holds now (expbridge get " << last->experiment << "):\n"
              << read_report_to_text(held) << "\n";
  }
  if (show_state_) {
    std::cout << "emulator state after the demo:\n" << write_json((*host)->state(), 2) << "\n";
  } else {
    std::cout << "requests the emulators answered:";
    for (const auto& [vendor, count] : (*host)->request_counts()) std::cout << " " << vendor << " " << count << ";";
    std::cout << " (--show-state prints what each emulator now holds)\n";
  }
  std::cout << (all_ok ? "demo: every backend applied every update it could express, and the second time sent nothing\n"
                       : "demo: some requests failed, or the second apply changed something (see above)\n");
  return all_ok ? 0 : 1;
}

DemoCommand::DemoCommand(CLI::App& app) {
  command_ = app.add_subcommand("demo", "Apply the sample updates to in-process vendor emulators and show the reports");
  command_->add_option("--samples", samples_, "Folder holding backends.yaml and updates/ (default: the embedded samples)");
  command_->add_option("--format", format_, "text or json")->check(CLI::IsMember({"text", "json"}));
  command_->add_flag("--show-state", show_state_, "Print every emulator's state at the end");
}

}  // namespace expbridge::cli
