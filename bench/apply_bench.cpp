// apply_bench — what `apply` costs on the wire, measured against the four vendor emulators
// (AWS AppConfig, LaunchDarkly, Auth0, AWS Evidently) behind one in-process EmulatorHost:
// they check the credentials (SigV4, LD token, Auth0 client credentials then Bearer token),
// keep state and answer like the vendors; delays and `Connection: close` are emulator
// faults (emulator/fixtures.hpp). A program, not a
// timed test: it measures, prints a summary and a Markdown table for the README
// (`--markdown` prints only the table and the commands; `--help` lists the options).
//
//   1. fan-out latency: one update to the four backends, each answering after 50 ms,
//      through `Applier::apply` in this process (sequentially it would take 200 ms);
//      then the same description update blind (`read_first = false`: one round trip per
//      backend), converging (`read_first = true`: every backend read, the four at once, then
//      written) and converging again with nothing left to change (reads only), each with
//      the requests of its last run on a timeline — where the time goes;
//   2. throughput: 2,000 updates streamed through ONE `expbridge apply --format json -`
//      child process (the real CLI) to backends answering at once — with keep-alive,
//      with `Connection: close`, and with `--parallel 8` over 8 experiments; plus a
//      `--format text` run that shows how much of the child's peak RSS is the JSON
//      report the CLI keeps until the end. Each is run 3 times; the median counts.
//
// The config is samples/backends.yaml with endpoint overrides (Evidently bound to a
// feature only), and each update carries a description and a rising exposure: 4 changes
// per update, one per backend (LaunchDarkly, Auth0 and a feature-only Evidently binding
// skip the exposure), plus AppConfig's state read. The host listens on 127.0.0.1 only;
// every loop is bounded (a child that outlives its time limit is killed). Build and run:
//   cmake --build build-bench -j2 --target expbridge_cli apply_bench && build-bench/bench/apply_bench
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <charconv>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "expbridge/apply.hpp"
#include "expbridge/store.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "expbridge/adapter.hpp"
#include "bench_support.hpp"
#include "child_process.hpp"
#include "emulator/emulator.hpp"
#include "emulator/fixtures.hpp"
#include "migrate_bench.hpp"

#ifndef EXPBRIDGE_CLI
#error "EXPBRIDGE_CLI must name the expbridge binary (bench/CMakeLists.txt sets it)"
#endif

namespace {

using namespace std::chrono_literals;
using namespace expbridge::bench;
namespace json = boost::json;

// ---------------------------------------------------------------------------
// The backends: the vendor emulators behind one EmulatorHost

/// How every answer of a scenario comes (emulator faults, emulator/fixtures.hpp).
struct Behaviour {
  std::chrono::milliseconds delay{0};
  bool keep_alive = true;
};

// `--no-read-state`: the AppConfig backend skips the state read before an exposure change,
// so the fan-out shows one round trip per backend (the rule is then left to the vendor).
bool g_read_state = true;

std::string experiment_key(int index, int experiments) {
  return experiments == 1 ? std::string("checkout-redesign") : "checkout-redesign-" + std::to_string(index);
}

/// Auth0 ids are Base58 after `exp_` (no `l`), AppConfig's lower-case: a letter per experiment.
std::string id_suffix(int index, int experiments) {
  static constexpr std::string_view letters = "abcdefghijkmnopqrstuvwxyz";
  return experiments == 1 ? "" : std::string(1, letters[static_cast<std::size_t>(index) % letters.size()]);
}

/// Copies the element of `list` whose `member` is `value` once per experiment, with `member`
/// (and, when given, `unique`) suffixed by the experiment's letter.
void copy_per_experiment(json::array& list, std::string_view member, std::string_view unique, int experiments) {
  const json::value base = list.at(0);
  list.clear();
  for (int i = 0; i < experiments; ++i) {
    json::value copy = base;
    auto& o = copy.as_object();
    o[member] = std::string(o.at(member).as_string()) + id_suffix(i, experiments);
    if (!unique.empty()) o[unique] = std::string(o.at(unique).as_string()) + id_suffix(i, experiments);
    list.push_back(std::move(copy));
  }
}

/// Copies `map[key]` once per experiment, under experiment_key(i); the original stays (others
/// may refer to it).
void copy_keyed(json::object& map, std::string_view key, int experiments) {
  const json::value base = map.at(key);
  for (int i = 0; i < experiments; ++i) map[experiment_key(i, experiments)] = base;
}

/// The emulators' default fixture with `experiments` experiments bound at each of them, and
/// run 1 of every AppConfig definition RUNNING at exposure 0 (updates raise it).
json::value bench_fixture(int experiments) {
  auto merged = expbridge::emulator::default_fixture(expbridge::Registry::builtin());
  if (!merged) die("emulator fixture: " + merged.error().describe());
  auto& f = merged->as_object();
  auto& definitions =
      f.at("appconfig").at("applications").as_array().at(0).as_object().at("experiment_definitions").as_array();
  definitions.at(0).as_object()["runs"] = json::parse(R"([{"status":"RUNNING","start":{"ExposurePercentage":0}}])");
  copy_per_experiment(definitions, "id", "", experiments);
  for (int i = 0; i < experiments; ++i)  // definition names are unique too
    definitions.at(static_cast<std::size_t>(i)).at("definition").as_object()["Name"] = "Bench-Definition-" + std::to_string(i);
  copy_per_experiment(f.at("auth0").as_object().at("experiments").as_array(), "id", "name", experiments);
  auto& ld = f.at("launchdarkly").at("projects").at("default").at("environments").at("production").at("experiments").as_object();
  copy_keyed(ld, "checkout-redesign", experiments);
  for (int i = 0; i < experiments && experiments > 1; ++i) {  // LaunchDarkly ids: 24 hex digits, unique
    auto& copy = ld.at(experiment_key(i, experiments)).as_object();
    copy["_id"] = strf("65f0c0de00000000000000%02x", i + 0xb1);
    copy["iterations"].as_array().at(0).as_object()["_id"] = strf("65f0c0de00000000000000%02x", i + 0xc1);
  }
  copy_keyed(f.at("evidently").at("projects").at("checkout").at("features").as_object(), "checkout-redesign", experiments);
  return std::move(*merged);
}

class Backends {
 public:
  /// `rate_limits`: the fixture's `rate_limits:` section (null: none); `journal_limit`: requests
  /// the journal keeps (the counts of request_counts() are never cut).
  Backends(Behaviour behaviour, int experiments, json::value rate_limits = nullptr,
           std::size_t journal_limit = expbridge::emulator::EmulatorHost::kJournalLimit) {
    json::value fixture = bench_fixture(experiments);
    if (!rate_limits.is_null()) fixture.as_object()["rate_limits"] = std::move(rate_limits);
    auto host = expbridge::emulator::EmulatorHost::start({0, std::move(fixture), nullptr, journal_limit});
    if (!host) die("emulator host: " + host.error().describe());
    host_ = std::move(*host);
    if (behaviour.delay.count() > 0 || !behaviour.keep_alive) {
      expbridge::emulator::Fault every;  // every request, always
      every.latency = behaviour.delay;
      every.close_connection = !behaviour.keep_alive;
      if (auto set = host_->set_faults({every}); !set) die("faults: " + set.error().describe());
    }
  }

  std::size_t connections() const { return host_->connections_accepted(); }
  /// Requests the emulators received (the journal holds the last 20,000: more than a run sends).
  std::size_t requests() const { return host_->received_requests().size(); }
  /// Requests the emulators refused or did not answer: wrong credentials, unknown paths, bad bodies.
  std::size_t refused() const {
    const auto all = host_->received_requests();
    return static_cast<std::size_t>(
        std::count_if(all.begin(), all.end(), [](const auto& r) { return r.status == 0 || r.status >= 400; }));
  }
  std::size_t tokens() const { return host_->state().at("auth0").at("tokens_issued").to_number<std::size_t>(); }
  std::vector<expbridge::emulator::EmulatorHost::Received> journal() const { return host_->received_requests(); }
  std::map<std::string, std::size_t> counts() const { return host_->request_counts(); }
  void set_faults(std::string_view json_list) {
    auto faults = expbridge::emulator::parse_faults(json::parse(json_list), "faults");
    if (!faults) die("faults: " + faults.error().describe());
    if (auto set = host_->set_faults(std::move(*faults)); !set) die("faults: " + set.error().describe());
  }

  /// The config: the four backends of samples/backends.yaml pointed at the emulators, and
  /// `experiments` experiments bound at each (1 = the sample's checkout-redesign binding).
  /// `extra`: settings added to every backend (", concurrency: fixed").
  std::string config(int experiments, bool read_state = g_read_state, const std::string& extra = "") const {
    const std::string url = host_->base_url();
    std::string out = "# Written by apply_bench: samples/backends.yaml pointed at the vendor emulators.\nbackends:\n";
    out += "  aws: {vendor: appconfig, region: us-east-1, application: abc1234, endpoint: \"" + url + "\"" +
           std::string(read_state ? "" : ", read_state: false") + extra + "}\n";
    out += "  ld:  {vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN, endpoint: \"" +
           url + "\"" + extra + "}\n";
    out += "  a0:  {vendor: auth0, domain: example.us.auth0.com, client_id_env: AUTH0_CLIENT_ID, "
           "client_secret_env: AUTH0_CLIENT_SECRET, endpoint: \"" + url + "\"" + extra + "}\n";
    out += "  ev:  {vendor: evidently, region: us-east-1, project: checkout, endpoint: \"" + url + "\"" + extra + "}\n";
    out += "experiments:\n";
    for (int i = 0; i < experiments; ++i) {
      const std::string key = experiment_key(i, experiments);
      const std::string suffix = id_suffix(i, experiments);
      out += "  " + key + ":\n";
      out += "    aws: {definition: bsxyd7k" + suffix + ", run: 1, treatments: {control: c, two-step: t1}}\n";
      out += "    ld:  {experiment: " + key + "}\n";
      out += "    a0:  {id: exp_4fG7hJk" + suffix + ", variations: {control: var_2xQa, two-step: var_9bZk}}\n";
      out += "    ev:  {feature: " + key + "}\n";
    }
    return out;
  }

 private:
  std::unique_ptr<expbridge::emulator::EmulatorHost> host_;
};

/// Update `index` of `total` as one line of JSON: valid for every vendor (description +
/// exposure). The exposure rises with the index (AppConfig's may only increase), from 5 %.
std::string update_line(std::size_t index, std::size_t total, int experiments) {
  const int experiment = static_cast<int>(index % static_cast<std::size_t>(experiments));
  const double exposure = 5.0 + 90.0 * static_cast<double>(index + 1) / static_cast<double>(std::max<std::size_t>(total, 1));
  return strf(R"({"experiment": "%s", "description": "bench update %zu: exposure %.0f%% of US web users", "exposure": %.3f})",
              experiment_key(experiment, experiments).c_str(), index, exposure, exposure);
}

// ---------------------------------------------------------------------------
// 1. Fan-out latency, in process

struct LatencyResult {
  int runs = 0;
  std::chrono::milliseconds delay{};
  double cold_ms = 0;              ///< the first update: connects and the OAuth token fetch included
  std::vector<double> wall_ms;     ///< around Applier::apply, warm
  std::vector<double> reported_ms; ///< UpdateReport::duration_ms, warm
  std::size_t failed = 0;
  std::size_t requests = 0, connections = 0, refused = 0, tokens = 0;
  std::string first_error;
};

/// An Applier and the Bridge it points into (it keeps a pointer: they live together).
struct InProcess {
  std::unique_ptr<expbridge::Bridge> bridge;
  std::optional<expbridge::Applier> applier;
  expbridge::Applier* operator->() { return &*applier; }
};

/// An Applier for `config_text`, with the emulators' credentials; `read_first` is always
/// set here, whatever ApplyOptions defaults to.
InProcess in_process_applier(const std::string& config_text, bool read_first) {
  auto parsed = expbridge::Bridge::from_text(config_text, "apply_bench config");
  if (!parsed) die("config: " + parsed.error().describe());
  InProcess out;
  out.bridge = std::make_unique<expbridge::Bridge>(std::move(*parsed));
  expbridge::ApplyOptions options;
  options.read_first = read_first;
  options.environment = [env = secret_environment()](std::string_view name) -> std::optional<std::string> {
    for (const auto& [key, value] : env)
      if (key == name) return value;
    return std::nullopt;
  };
  auto applier = expbridge::Applier::create(*out.bridge, options);
  if (!applier) die("Applier::create: " + applier.error().describe());
  out.applier.emplace(std::move(*applier));
  return out;
}

LatencyResult run_latency(int runs, std::chrono::milliseconds delay) {
  LatencyResult result;
  result.runs = runs;
  result.delay = delay;
  Backends backends(Behaviour{delay, true}, 1);
  // The fan-out as it has always been measured: planned blind, with only the state reads its
  // rules need (AppConfig's run, for the exposure).
  auto applier = in_process_applier(backends.config(1), false);

  for (int i = 0; i <= runs; ++i) {  // run 0 is the cold one
    auto update = expbridge::parse_update(update_line(static_cast<std::size_t>(i), static_cast<std::size_t>(runs) + 1, 1), "bench:" + std::to_string(i));
    if (!update) die("update: " + update.error().describe());
    const auto started = Clock::now();
    const expbridge::UpdateReport report = applier->apply(*update);
    const double wall = ms_since(started);
    if (!report.ok()) {
      ++result.failed;
      if (result.first_error.empty()) result.first_error = expbridge::report_to_text(report);
    }
    if (i == 0) {
      result.cold_ms = wall;
    } else {
      result.wall_ms.push_back(wall);
      result.reported_ms.push_back(report.duration_ms);
    }
  }
  result.requests = backends.requests();
  result.connections = backends.connections();
  result.refused = backends.refused();
  result.tokens = backends.tokens();
  return result;
}

// ---------------------------------------------------------------------------
// 1b. Blind against converging, in process
//
// The same kind of update both ways: a new description at every backend, which no vendor's
// rules need a state read for, so blind (`read_first = false`) it is one round trip per
// backend. Converging (`read_first = true`) reads every backend whole first, the four at
// once, and sends what differs; the same update sent again finds nothing to change, so only
// the reads go out. The delay fault holds every request, reads and writes alike, as a
// vendor 50 ms away would: a read that takes dependent GETs pays 50 ms for each.

struct ConvergeResult {
  std::string id;                ///< blind, converging, unchanged
  double target_ms = 0;          ///< the issue's bound for it; 0 = none
  std::chrono::milliseconds delay{};
  double cold_ms = 0;            ///< the first update: connects and the OAuth token fetch included
  std::vector<double> wall_ms;   ///< around Applier::apply, warm
  std::size_t failed = 0;
  std::size_t wrong_outcome = 0; ///< wrote when nothing differed, or sent nothing when something did
  std::size_t reads = 0, writes = 0;  ///< on the wire, over the warm updates
  std::string timeline;          ///< the last warm update's requests, per vendor, by arrival
  std::string first_error;

  double per_update(std::size_t n) const {
    return wall_ms.empty() ? 0 : static_cast<double>(n) / static_cast<double>(wall_ms.size());
  }
};

/// `{"experiment": ..., "description": ...}`: a field every vendor holds, and one whose
/// change no vendor's rules need a state read for.
std::string description_update(std::size_t index) {
  return strf(R"({"experiment": "checkout-redesign", "description": "bench convergence %zu: the two-step checkout"})",
              index);
}

/// The requests of one update (those that arrived since `started`), vendor by vendor, each
/// with its arrival after `started`; a request arriving at least half a delay after the one
/// before it of that vendor waited for that one's answer: it opens a new round trip.
std::string timeline(const std::vector<expbridge::emulator::EmulatorHost::Received>& sent, Clock::time_point started,
                     std::chrono::milliseconds delay) {
  std::vector<std::string> vendors;
  for (const auto& r : sent)
    if (r.arrived >= started && std::find(vendors.begin(), vendors.end(), r.vendor) == vendors.end())
      vendors.push_back(r.vendor);
  std::string out, slowest;
  int most = 0;
  for (const auto& vendor : vendors) {
    std::string lines;
    int round_trips = 0;
    std::optional<double> previous;
    for (const auto& r : sent) {
      if (r.arrived < started || r.vendor != vendor) continue;
      const double at = std::chrono::duration<double, std::milli>(r.arrived - started).count();
      if (!previous || at - *previous >= static_cast<double>(delay.count()) / 2) ++round_trips;
      previous = at;
      const std::string& target = r.request.target;
      lines += strf("      +%6.1f ms  %-6s %s\n", at, r.request.method.c_str(),
                    target.substr(0, target.find('?')).c_str());
    }
    out += strf("    %s: %d round trip(s)\n", vendor.c_str(), round_trips) + lines;
    if (round_trips > most) most = round_trips, slowest.clear();
    if (round_trips == most) slowest += (slowest.empty() ? "" : ", ") + vendor;
  }
  // The update cannot end before its slowest backend's last answer: the rest is this process.
  out += strf("    longest: %s with %d round trip(s) = %lld ms of answer delay\n", slowest.c_str(), most,
              static_cast<long long>(most * delay.count()));
  return out;
}

/// Sends `text` through `applier` and books it in `result` (run 0 is the cold one); `writes`:
/// whether something should differ, so be written.
void measure_update(InProcess& applier, const Backends& backends, const std::string& text, int run, bool writes,
                    ConvergeResult& result) {
  auto update = expbridge::parse_update(text, "bench:" + result.id + ":" + std::to_string(run));
  if (!update) die("update: " + update.error().describe());
  const auto started = Clock::now();
  const expbridge::UpdateReport report = applier->apply(*update);
  const double wall = ms_since(started);
  const auto sent = backends.journal();
  std::size_t reads = 0, written = 0;
  for (const auto& r : sent)
    if (r.arrived >= started) ++(r.request.method == "GET" ? reads : written);
  if (!report.ok()) {
    ++result.failed;
    if (result.first_error.empty()) result.first_error = expbridge::report_to_text(report);
  }
  const bool unchanged_everywhere = std::all_of(report.backends.begin(), report.backends.end(), [](const auto& b) {
    return b.result == expbridge::BackendOutcome::unchanged;
  });
  if (writes ? written == 0 || unchanged_everywhere : written > 0 || !unchanged_everywhere) ++result.wrong_outcome;
  if (run == 0) {
    result.cold_ms = wall;
    return;
  }
  result.wall_ms.push_back(wall);
  result.reads += reads;
  result.writes += written;
  result.timeline = timeline(sent, started, result.delay);
}

/// (a) blind, (b) converging, (c) converging with nothing left to change, `runs` warm
/// updates each after a cold one.
std::vector<ConvergeResult> run_converge(int runs, std::chrono::milliseconds delay) {
  auto result = [delay](std::string id, double target_ms) {
    ConvergeResult r;
    r.id = std::move(id);
    r.target_ms = target_ms;
    r.delay = delay;
    return r;
  };
  ConvergeResult blind = result("blind", 55), converging = result("converging", 110), unchanged = result("unchanged", 0);
  {
    Backends backends(Behaviour{delay, true}, 1);
    auto applier = in_process_applier(backends.config(1, true), false);
    for (int i = 0; i <= runs; ++i)
      measure_update(applier, backends, description_update(static_cast<std::size_t>(i)), i, true, blind);
  }
  {
    // AppConfig's `read_state` stays on here whatever --no-read-state says: off, it would not be read.
    Backends backends(Behaviour{delay, true}, 1);
    auto applier = in_process_applier(backends.config(1, true), true);
    for (int i = 0; i <= runs; ++i) {
      const std::string text = description_update(static_cast<std::size_t>(i));
      measure_update(applier, backends, text, i, true, converging);
      measure_update(applier, backends, text, i, false, unchanged);
    }
  }
  return {std::move(blind), std::move(converging), std::move(unchanged)};
}

// ---------------------------------------------------------------------------
// 2. Throughput through the real CLI (child_process.hpp: how a child is run and measured)

struct StreamScenario {
  std::string name;
  bool keep_alive = true;
  int parallel = 1;
  int experiments = 1;
  std::string format = "json";
  bool diagnostic = false;  ///< not one of the figures with a target
  std::string id;           ///< for --scenario
  bool no_read = false;     ///< `apply --no-read`: blind, no read before the writes
  bool no_state = false;    ///< `apply --no-state`: no store, no journal (the journal's cost is the difference)
};

struct StreamResult {
  StreamScenario scenario;
  std::size_t updates = 0;
  std::size_t reported = 0, ok = 0;
  double wall_ms = 0;
  std::vector<double> update_ms;  ///< each update's duration_ms (json format only)
  ChildRun child;
  std::size_t requests = 0, connections = 0, refused = 0, tokens = 0;
  std::string command;
  std::string problem;  ///< why the run does not count, if it does not
  // Over the repeats of the scenario (this result is the median one by updates/s).
  int tries = 1;
  double rate_min = 0, rate_max = 0;
  std::vector<double> round_rates;  ///< updates/s of each round's run, in round order
  long rss_max_kib = 0;
  double rate() const { return wall_ms > 0 ? static_cast<double>(updates) / (wall_ms / 1000.0) : 0; }
};

/// What one durable commit costs at least in `dir` (where the store is): a 4 KiB overwrite of
/// an allocated page and its fdatasync, the least a synced SQLite commit does there. An update
/// that waits for its own intent's sync waits this long at least.
struct SyncFloor {
  double p50_ms = 0, p90_ms = 0;
  int syncs = 0;
};

SyncFloor measure_sync(const std::filesystem::path& dir) {
  SyncFloor floor;
  const auto path = dir / "sync-probe";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return floor;
  constexpr int kPages = 64;
  std::string page(4096, 'x');
  bool ok = true;
  for (int i = 0; i < kPages && ok; ++i)
    ok = ::pwrite(fd, page.data(), page.size(), static_cast<off_t>(i) * 4096) == static_cast<ssize_t>(page.size());
  ok = ok && ::fsync(fd) == 0;
  std::vector<double> took;
  for (int i = 0; i < 200 && ok; ++i) {
    page[0] = static_cast<char>('a' + i % 26);
    const auto started = std::chrono::steady_clock::now();
    ok = ::pwrite(fd, page.data(), page.size(), static_cast<off_t>(i % kPages) * 4096) ==
             static_cast<ssize_t>(page.size()) &&
         ::fdatasync(fd) == 0;
    took.push_back(ms_since(started));
  }
  ::close(fd);
  std::error_code ignored;  // a probe file left in the scratch folder goes with it
  std::filesystem::remove(path, ignored);
  if (!ok || took.empty()) return floor;
  floor.p50_ms = percentile(took, 50);
  floor.p90_ms = percentile(took, 90);
  floor.syncs = static_cast<int>(took.size());
  return floor;
}

/// What a one-at-a-time update of the streams waits for before its requests leave: the store's
/// own synced commit of its four intents and its input, measured on a store in the bench's
/// folder. The part beyond one bare sync (`measure_sync`) is SQLite's: its locks, pages and
/// frames. A failure says why instead of a figure.
struct CommitFloor {
  double p50_ms = 0, p90_ms = 0;
  int commits = 0;
  std::string failure;
};

CommitFloor measure_intent_commit(const std::filesystem::path& dir) {
  CommitFloor floor;
  const auto path = dir / "commit-probe" / "state.db";
  auto store = expbridge::Store::open(expbridge::StoreOptions{path.string()});
  if (!store) {
    floor.failure = store.error().describe();
    return floor;
  }
  auto run = (*store)->begin_run(expbridge::RunStart{"apply", "bench.yaml", "bench"});
  if (!run) {
    floor.failure = run.error().describe();
    return floor;
  }
  const std::string digest(64, 'd');
  std::vector<double> took;
  // The first thousand or so WAL frames of a connection grow the file, and a sync that also
  // records a new size costs more; a stream is past them after its first hundred updates or
  // so, once a checkpoint lets the WAL be written again from its start. Those are not counted.
  constexpr int kWarmup = 400, kCounted = 200;
  for (int position = 0; position < kWarmup + kCounted; ++position) {
    expbridge::StoreWrites with;
    with.inputs.push_back(expbridge::InputRecord{run->id, position, strf("-:%d", position + 1), digest, "checkout-redesign", false});
    std::vector<expbridge::Intent> intents;
    for (const char* backend : {"aws", "ld", "a0", "ev"}) {
      expbridge::Intent intent;
      intent.run_id = run->id;
      intent.input_position = position;
      intent.input_digest = digest;
      intent.experiment = "checkout-redesign";
      intent.backend = backend;
      intent.operation = "UpdateExperiment";
      intent.request_digest = digest;
      intent.idempotent = true;
      intents.push_back(std::move(intent));
    }
    const auto started = std::chrono::steady_clock::now();
    auto ids = (*store)->record_intents(intents, with);
    if (position >= kWarmup) took.push_back(ms_since(started));
    if (!ids) {
      floor.failure = ids.error().describe();
      return floor;
    }
  }
  store->reset();
  std::error_code ignored;  // a probe store left in the scratch folder goes with it
  std::filesystem::remove_all(path.parent_path(), ignored);
  floor.p50_ms = percentile(took, 50);
  floor.p90_ms = percentile(took, 90);
  floor.commits = static_cast<int>(took.size());
  return floor;
}

/// Each stream measured with and without the store in this run: the journal's cost, and the
/// least that cost can be for a stream whose updates each wait for one sync of their own, or
/// for one commit of the store's own.
std::string journal_cost_markdown(const std::vector<StreamResult>& streams, const SyncFloor& sync,
                                  const CommitFloor& commit) {
  auto find = [&](const std::string& id) -> const StreamResult* {
    for (const auto& r : streams)
      if (r.scenario.id == id) return &r;
    return nullptr;
  };
  std::string out =
      "| stream | with the store | without | the journal's cost (median of the rounds' pairs; range) | "
      "one sync per update would cost at least | "
      "one intent commit per update would cost at least |\n"
      "|---|---:|---:|---:|---:|---:|\n";
  bool any = false;
  for (const auto& [with, without, label] :
       {std::tuple<const char*, const char*, const char*>{"keepalive", "keepalive-nostate", "reading first (the default)"},
        {"blind", "blind-nostate", "blind (`--no-read`)"},
        {"parallel", "parallel-nostate", "`--parallel 8`, 8 experiments"}}) {
    const StreamResult* a = find(with);
    const StreamResult* b = find(without);
    if (!a || !b || b->rate() <= 0) continue;
    any = true;
    // Each round's pair, then their median: the two medians of the rows above may come from
    // rounds under different loads.
    std::vector<double> costs;
    for (std::size_t r = 0; r < a->round_rates.size() && r < b->round_rates.size(); ++r)
      if (b->round_rates[r] > 0) costs.push_back(100.0 * (1.0 - a->round_rates[r] / b->round_rates[r]));
    std::sort(costs.begin(), costs.end());
    const double cost = costs.empty() ? 100.0 * (1.0 - a->rate() / b->rate()) : costs[costs.size() / 2];
    const std::string cost_range =
        costs.size() > 1 ? strf(" (%.0f–%.0f)", costs.front(), costs.back()) : std::string();
    // An update waiting for one sync: per_update + sync instead of per_update.
    const double per_update_ms = 1000.0 / b->rate() * b->scenario.parallel;
    auto floor = [&](double wait_ms) {
      if (b->scenario.parallel != 1) return std::string("— (the updates in flight share their syncs)");
      if (wait_ms <= 0) return std::string("—");
      return strf("%.0f %%", 100.0 * (1.0 - per_update_ms / (per_update_ms + wait_ms)));
    };
    out += strf("| %s | %.0f updates/s | %.0f | **%.0f %%**%s | %s | %s |\n", label, a->rate(), b->rate(), cost,
                cost_range.c_str(), floor(sync.p50_ms).c_str(), floor(commit.p50_ms).c_str());
  }
  if (!any) return {};
  out += strf("\nOne synced 4 KiB overwrite in the bench's folder, where the store is: p50 %.3f ms, p90 %.3f ms (%d "
              "syncs). An update that waits for its own intent's sync before its requests leave pays that at least.\n",
              sync.p50_ms, sync.p90_ms, sync.syncs);
  if (commit.failure.empty())
    out += strf("\nThe store's own synced commit of one update's four intents and its input, on a store in the same "
                "folder: p50 %.3f ms, p90 %.3f ms (%d commits). What it takes beyond the bare sync is SQLite's (locks, "
                "pages, WAL frames).\n",
                commit.p50_ms, commit.p90_ms, commit.commits);
  else
    out += "\nThe store's own commit could not be measured: " + commit.failure + "\n";
  return out;
}

StreamResult run_stream(const StreamScenario& scenario, std::size_t updates, const std::string& cli,
                        const std::vector<std::string>& wrapper, const std::filesystem::path& dir) {
  StreamResult result;
  result.scenario = scenario;
  result.updates = updates;
  Backends backends(Behaviour{0ms, scenario.keep_alive}, scenario.experiments);

  const auto config_path = dir / strf("config-%d-experiments-%d.yaml", scenario.experiments, scenario.keep_alive ? 1 : 0);
  std::ofstream(config_path) << backends.config(scenario.experiments);
  std::string input;
  input.reserve(updates * 120);
  for (std::size_t i = 0; i < updates; ++i) input += update_line(i, updates, scenario.experiments) + "\n";
  std::ofstream(dir / strf("updates-%d-experiments.jsonl", scenario.experiments)) << input;

  std::vector<std::string> argv = wrapper;
  for (const char* arg : {cli.c_str(), "apply", "--config", config_path.c_str(), "--format", scenario.format.c_str()})
    argv.emplace_back(arg);
  if (scenario.no_read) argv.push_back("--no-read");
  if (scenario.no_state) argv.push_back("--no-state");
  if (scenario.parallel != 1) {
    argv.push_back("--parallel");
    argv.push_back(std::to_string(scenario.parallel));
  }
  argv.push_back("-");
  std::vector<std::string> env;
  for (const auto& [key, value] : secret_environment()) env.push_back(key + "=" + value);
  env.push_back("HOME=" + dir.string());  // no ~/.aws of the machine's user
  for (std::size_t i = 0; i < argv.size(); ++i) result.command += (i ? " " : "") + argv[i];

  result.child = run_child(argv, env, input, 90s);
  result.wall_ms = result.child.wall_ms;
  result.requests = backends.requests();
  result.connections = backends.connections();
  result.refused = backends.refused();
  result.tokens = backends.tokens();

  if (result.child.killed) result.problem = "killed after 90 s";
  else if (result.child.signal != 0) result.problem = strf("ended by signal %d", result.child.signal);
  else if (result.child.exit_code != 0) result.problem = strf("exit code %d", result.child.exit_code);

  if (scenario.format == "json") {
    boost::system::error_code ec;
    const json::value out = json::parse(result.child.out, ec);
    const json::array* list = nullptr;
    if (!ec && out.is_object())
      if (const auto* u = out.get_object().if_contains("updates"); u && u->is_array()) list = &u->get_array();
    if (list == nullptr) {
      if (result.problem.empty()) result.problem = "the output is not the --format json report";
    } else {
      for (const auto& report : *list) {
        if (!report.is_object()) continue;
        const auto& o = report.get_object();
        ++result.reported;
        if (const auto* okv = o.if_contains("ok"); okv && okv->is_bool() && okv->get_bool()) ++result.ok;
        if (const auto* d = o.if_contains("duration_ms"); d && d->is_number()) result.update_ms.push_back(d->to_number<double>());
      }
    }
  } else {
    // Text: one summary line at the end, "N update(s): A ok, B failed, C invalid".
    const auto at = result.child.out.rfind(" update(s): ");
    if (at != std::string::npos) {
      const auto line_start = result.child.out.rfind('\n', at);
      const std::string line = result.child.out.substr(line_start == std::string::npos ? 0 : line_start + 1);
      std::size_t total = 0, ok = 0;
      if (std::sscanf(line.c_str(), "%zu update(s): %zu ok", &total, &ok) == 2) result.reported = total, result.ok = ok;
    }
  }
  if (result.problem.empty() && (result.reported != updates || result.ok != updates))
    result.problem = strf("%zu of %zu updates reported, %zu ok", result.reported, updates, result.ok);
  return result;
}

// ---------------------------------------------------------------------------
// 3. At the vendors' rate limits (`--only ratelimits`): a stream through the CLI against
// emulators that throttle in each vendor's dialect (emulator/rate_limits.hpp, fault reset_ms).

struct RateScenario {
  std::string id, name;
  std::size_t updates = 0;
  int parallel = 16, experiments = 16;
  bool no_read = false;
  std::string faults;          ///< a JSON list, or empty
  std::string rate_limits;     ///< the fixture's `rate_limits:` (JSON), or empty
  std::string backend_extra;   ///< settings added to every backend
  /// The limits' own floor: LaunchDarkly `route` calls per `window_ms` (fixed windows) and
  /// Auth0 `per_second` after a `burst`; 0 = not limited.
  int ld_route = 0, ld_window_ms = 0;
  double a0_per_second = 0, a0_burst = 0;
};

struct RateResult {
  RateScenario scenario;
  double wall_ms = 0;
  std::size_t reported = 0, ok = 0;
  std::int64_t throttled = 0;   ///< throttled answers the client met (the summary's)
  std::string waits;            ///< per backend: paused s, pauses, most in flight
  double imposed_ms = 0;        ///< what the limits alone impose on the requests sent
  long rss_kib = 0;
  std::string command, problem;
};

// The least time the calls sent take through the limits: past what the first window (or the
// bucket's burst) holds, one window per `route` calls, one call per 1/per_second.
double imposed_ms(const RateScenario& s, const std::map<std::string, std::size_t>& counts, std::size_t tokens) {
  double floor_ms = 0;
  auto count = [&](const char* vendor) {
    const auto it = counts.find(vendor);
    return it == counts.end() ? 0.0 : static_cast<double>(it->second);
  };
  if (s.ld_route > 0) {
    const double n = count("launchdarkly");
    floor_ms = std::max(floor_ms, std::max(0.0, n - s.ld_route) / s.ld_route * s.ld_window_ms);
  }
  if (s.a0_per_second > 0) {
    const double n = count("auth0") - static_cast<double>(tokens);  // the token endpoint is limited apart
    floor_ms = std::max(floor_ms, std::max(0.0, n - s.a0_burst) / s.a0_per_second * 1000.0);
  }
  return floor_ms;
}

RateResult run_rate_limited(const RateScenario& scenario, const std::string& cli, const std::filesystem::path& dir) {
  RateResult result;
  result.scenario = scenario;
  Backends backends(Behaviour{}, scenario.experiments,
                    scenario.rate_limits.empty() ? json::value() : json::parse(scenario.rate_limits));
  if (!scenario.faults.empty()) backends.set_faults(scenario.faults);
  const auto config_path = dir / ("config-" + scenario.id + ".yaml");
  std::ofstream(config_path) << backends.config(scenario.experiments, true, scenario.backend_extra);
  std::string input;
  input.reserve(scenario.updates * 120);
  for (std::size_t i = 0; i < scenario.updates; ++i) input += update_line(i, scenario.updates, scenario.experiments) + "\n";
  std::ofstream(dir / ("updates-" + scenario.id + ".jsonl")) << input;

  std::vector<std::string> argv = {cli, "apply", "--config", config_path.string(), "--format", "json", "--parallel",
                                   std::to_string(scenario.parallel)};
  if (scenario.no_read) argv.emplace_back("--no-read");
  argv.emplace_back("-");
  std::vector<std::string> env;
  for (const auto& [key, value] : secret_environment()) env.push_back(key + "=" + value);
  env.push_back("HOME=" + dir.string());
  for (std::size_t i = 0; i < argv.size(); ++i) result.command += (i ? " " : "") + argv[i];

  const ChildRun child = run_child(argv, env, input, 900s);
  result.wall_ms = child.wall_ms;
  result.rss_kib = child.max_rss_kib;
  if (child.killed) result.problem = "killed after 900 s";
  else if (child.signal != 0) result.problem = strf("ended by signal %d", child.signal);

  boost::system::error_code ec;
  const json::value out = json::parse(child.out, ec);
  if (ec || !out.is_object() || !out.get_object().contains("updates")) {
    if (result.problem.empty()) result.problem = "the output is not the --format json report";
    return result;
  }
  for (const auto& report : out.at("updates").as_array()) {
    ++result.reported;
    if (report.as_object().at("ok").as_bool()) ++result.ok;
  }
  for (const auto& b : out.at("summary").at("backends").as_array()) {
    result.throttled += b.at("throttled").as_int64();
    result.waits += strf("%s%s %.1f/%lld/%lld", result.waits.empty() ? "" : ", ",
                         std::string(b.at("backend").as_string()).c_str(),
                         b.at("rate_limit_paused_ms").to_number<double>() / 1000.0,
                         static_cast<long long>(b.at("pauses").as_int64()),
                         static_cast<long long>(b.at("most_concurrency").as_int64()));
  }
  result.imposed_ms = imposed_ms(scenario, backends.counts(), backends.tokens());
  return result;
}

std::string rate_markdown(const std::vector<RateResult>& results) {
  std::string out =
      "| scenario | updates | wall | failed | throttled answers | per backend: paused s / pauses / most in flight | "
      "the limits' floor | wall ÷ floor | child peak RSS |\n";
  out += "|---|---:|---:|---:|---:|---|---:|---:|---:|\n";
  for (const auto& r : results) {
    const std::string floor = r.imposed_ms > 0 ? strf("%.1f s", r.imposed_ms / 1000.0) : std::string("—");
    const std::string ratio = r.imposed_ms > 0 ? strf("**%.2f×**", r.wall_ms / r.imposed_ms) : std::string("—");
    out += strf("| %s | %s | %.1f s | **%zu** | %lld | %s | %s | %s | %.1f MiB |\n", r.scenario.name.c_str(),
                thousands(r.scenario.updates).c_str(), r.wall_ms / 1000.0, r.scenario.updates - r.ok,
                static_cast<long long>(r.throttled), r.waits.c_str(), floor.c_str(), ratio.c_str(),
                static_cast<double>(r.rss_kib) / 1024.0);
    if (!r.problem.empty()) out += "| (does not count: " + r.problem + ") ||||||||\n";
  }
  return out;
}

std::vector<RateScenario> rate_scenarios(std::size_t burst_updates, std::size_t sustained_updates) {
  // The issue's burst: 50 LaunchDarkly 429s, each with a 1-s Retry-After and a window reset
  // 300 ms away (in epoch ms), on whatever LaunchDarkly requests come first.
  const std::string burst = R"([{"vendor": "launchdarkly", "times": 50, "status": 429, "retry_after_s": 1, "reset_ms": 300}])";
  RateScenario adaptive;
  adaptive.id = "burst";
  adaptive.name = "`--parallel 16` stream, 16 experiments, a burst of 50 LaunchDarkly 429s (adaptive, the default)";
  adaptive.updates = burst_updates;
  adaptive.faults = burst;
  RateScenario fixed = adaptive;
  fixed.id = "burst-fixed";
  fixed.name = "same, `concurrency: fixed` at every backend (as before: fixed concurrency, each 429 spends an attempt)";
  fixed.backend_extra = ", concurrency: fixed";
  RateScenario sustained;
  sustained.id = "sustained";
  sustained.name = "`--parallel 16 --no-read` stream, 16 experiments; LaunchDarkly 40 calls per route per 1-s window, "
                   "Auth0 bucket 40/s (burst 40)";
  sustained.updates = sustained_updates;
  sustained.no_read = true;
  sustained.rate_limits = R"({"launchdarkly": {"route_per_10s": 40, "window_ms": 1000}, "auth0": {"per_second": 40, "burst": 40}})";
  sustained.ld_route = 40;
  sustained.ld_window_ms = 1000;
  sustained.a0_per_second = 40;
  sustained.a0_burst = 40;
  return {adaptive, fixed, sustained};
}

// ---------------------------------------------------------------------------
// Output

void print_latency(const LatencyResult& r) {
  std::cout << strf("  cold first update (connects + OAuth token):   %.1f ms\n", r.cold_ms);
  std::cout << strf("  wall per update over %d runs:  median %.1f ms, p95 %.1f ms, min %.1f ms, max %.1f ms\n", r.runs,
                      percentile(r.wall_ms, 50), percentile(r.wall_ms, 95),
                      *std::min_element(r.wall_ms.begin(), r.wall_ms.end()),
                      *std::max_element(r.wall_ms.begin(), r.wall_ms.end()));
  std::cout << strf("  UpdateReport::duration_ms:     median %.1f ms, p95 %.1f ms\n", percentile(r.reported_ms, 50),
                      percentile(r.reported_ms, 95));
  std::cout << strf("  servers: %zu requests, %zu connections, %zu OAuth token(s), %zu refused; %zu update(s) failed\n",
                      r.requests, r.connections, r.tokens, r.refused, r.failed);
  if (!r.first_error.empty()) std::cout << "  first failure:\n" << r.first_error;
}

/// How each of blind / converging / unchanged is put, in the summary and the table.
std::string converge_label(const ConvergeResult& r) {
  if (r.id == "blind") return "blind (`read_first = false`): 1 description update, no state read";
  if (r.id == "converging") return "converging (`read_first = true`): the same kind of update, each backend read, then written";
  return "converging, nothing differs (the same update again): reads only";
}

void print_converge(const std::vector<ConvergeResult>& results) {
  for (const auto& r : results) {
    std::cout << "  " << converge_label(r) << "\n";
    std::cout << strf("    cold %.1f ms; warm over %zu runs: median %.1f ms, p95 %.1f ms, min %.1f ms, max %.1f ms\n",
                      r.cold_ms, r.wall_ms.size(), percentile(r.wall_ms, 50), percentile(r.wall_ms, 95),
                      *std::min_element(r.wall_ms.begin(), r.wall_ms.end()),
                      *std::max_element(r.wall_ms.begin(), r.wall_ms.end()));
    std::cout << strf("    on the wire per update: %.1f reads (GET), %.1f writes; %zu update(s) failed, %zu with the "
                      "wrong outcome\n",
                      r.per_update(r.reads), r.per_update(r.writes), r.failed, r.wrong_outcome);
    std::cout << "    the last warm update's requests, by arrival after apply() began:\n" << r.timeline;
    if (!r.first_error.empty()) std::cout << "    first failure:\n" << r.first_error;
  }
}

void print_stream(const StreamResult& r) {
  std::cout << "  child: " << r.command << "\n";
  std::cout << strf("  median of %d: %zu updates in %.0f ms = %.0f updates/s (all runs: %.0f..%.0f/s); child exit %d\n",
                      r.tries, r.updates, r.wall_ms, r.rate(), r.rate_min, r.rate_max, r.child.exit_code);
  std::cout << strf("  child peak RSS %s (highest of the runs %s; measurer floor %s); stdout %.1f MiB\n",
                      mib(r.child.max_rss_kib).c_str(), mib(r.rss_max_kib).c_str(), mib(r.child.floor_kib).c_str(),
                      static_cast<double>(r.child.out.size()) / (1024.0 * 1024.0));
  std::cout << strf("  CPU: child %.2f s user + %.2f s sys; bench process (emulators) %.2f s\n", r.child.user_s,
                      r.child.system_s, r.child.bench_cpu_s);
  if (!r.update_ms.empty())
    std::cout << strf("  per update (duration_ms): p50 %.1f ms, p95 %.1f ms, max %.1f ms\n", percentile(r.update_ms, 50),
                        percentile(r.update_ms, 95), *std::max_element(r.update_ms.begin(), r.update_ms.end()));
  std::cout << strf("  servers: %zu requests, %zu connections, %zu OAuth token(s), %zu refused; %zu/%zu updates ok\n",
                      r.requests, r.connections, r.tokens, r.refused, r.ok, r.updates);
  if (!r.problem.empty()) std::cout << "  PROBLEM: " << r.problem << "\n";
  if (!r.child.err.empty()) {
    std::cout << "  child stderr (first 2000 bytes):\n" << r.child.err.substr(0, 2000) << "\n";
  }
}

struct Targets {
  double latency_ms = 60;
  double rate = 640;
  double rss_mib = 27;
};

std::string verdict(bool met) { return met ? "met" : "**missed**"; }

std::string markdown(const LatencyResult* latency, const std::vector<ConvergeResult>& converge,
                     const std::vector<StreamResult>& streams, const Targets& targets, std::size_t updates) {
  std::string out;
  out += "| scenario | updates | wall | updates/s | p50 per update | p95 per update | child peak RSS | connections | target |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
  if (latency) {
    const double p50 = percentile(latency->wall_ms, 50), p95 = percentile(latency->wall_ms, 95);
    double total = 0;
    for (double w : latency->wall_ms) total += w;
    out += g_read_state ? "| fan-out: " : "| fan-out, `read_state: false` at AppConfig: ";
    out += strf("1 update → 4 backends answering after %lld ms (`Applier::apply` in process; "
                "sequential would be %lld ms) | %d | %.2f s | — | **%.1f ms** | **%.1f ms** | — | %zu | p95 < %.0f ms: %s |\n",
                static_cast<long long>(latency->delay.count()), static_cast<long long>(latency->delay.count() * 4),
                latency->runs, total / 1000.0, p50, p95, latency->connections, targets.latency_ms,
                verdict(p95 < targets.latency_ms && latency->failed == 0).c_str());
  }
  for (const auto& r : converge) {
    const double p50 = percentile(r.wall_ms, 50), p95 = percentile(r.wall_ms, 95);
    double total = 0;
    for (double w : r.wall_ms) total += w;
    std::string target = "(no target)";
    if (r.target_ms > 0)
      target = strf("p95 ≤ %.0f ms: %s", r.target_ms,
                    verdict(p95 <= r.target_ms && r.failed == 0 && r.wrong_outcome == 0).c_str());
    out += strf("| %s → 4 backends answering after %lld ms; %.3g reads + %.3g writes per update | %zu | %.2f s | — | "
                "**%.1f ms** | **%.1f ms** | — | — | %s |\n",
                converge_label(r).c_str(), static_cast<long long>(r.delay.count()), r.per_update(r.reads),
                r.per_update(r.writes), r.wall_ms.size(), total / 1000.0, p50, p95, target.c_str());
  }
  for (const auto& r : streams) {
    const double rss = static_cast<double>(std::max(r.rss_max_kib, r.child.max_rss_kib)) / 1024.0;
    std::string p50 = "—", p95 = "—";
    if (!r.update_ms.empty()) {
      p50 = strf("%.1f ms", percentile(r.update_ms, 50));
      p95 = strf("%.1f ms", percentile(r.update_ms, 95));
    }
    std::string rate = strf("**%.0f**", r.rate());
    if (r.tries > 1) rate += strf(" (%.0f–%.0f)", r.rate_min, r.rate_max);
    std::string target = "(diagnostic)";
    if (!r.scenario.diagnostic)
      target = strf("≥ %.0f/s: %s; ≤ %.0f MiB: %s", targets.rate, verdict(r.rate() >= targets.rate).c_str(),
                    targets.rss_mib, verdict(rss <= targets.rss_mib).c_str());
    if (!r.problem.empty()) target += " (does not count: " + r.problem + ")";
    out += strf("| %s | %s | %.2f s | %s | %s | %s | **%.1f MiB** | %s | %s |\n", r.scenario.name.c_str(),
                thousands(updates).c_str(), r.wall_ms / 1000.0, rate.c_str(), p50.c_str(), p95.c_str(), rss,
                thousands(r.connections).c_str(), target.c_str());
  }
  return out;
}

void usage() {
  std::cout << "usage: apply_bench [--runs N] [--updates N] [--repeat N] [--delay-ms N] [--cli PATH] [--only latency|converge|stream]\n"
               "                   [--scenario ID] [--child-wrapper CMD] [--no-diagnostic] [--markdown] [--keep-files]\n"
               "  --runs N        fan-out runs after the cold one (default 50)\n"
               "  --updates N     updates per streamed run (default 2000)\n"
               "  --repeat N      rounds of streamed runs, every scenario once in each; the median by updates/s\n"
               "                  is reported, the journal's cost is the median of the rounds' pairs (default 3)\n"
               "  --delay-ms N    fan-out backends' answer delay (default 50)\n"
               "  --cli PATH      the expbridge binary (default: the one built with this bench)\n"
               "  --only WHAT     latency: the fan-out and blind/converging updates; converge: only the\n"
               "                  blind/converging ones; stream: only the streamed runs\n"
               "  --no-read-state the fan-out's AppConfig backend skips its state read (not the converging runs)\n"
               "  --scenario ID   only this streamed run: keepalive, keepalive-nostate, blind, blind-nostate,\n"
               "                  close, parallel, parallel-nostate or text (repeatable)\n"
               "  --child-wrapper CMD  run the CLI under CMD (split on spaces), e.g. 'perf record -g -o /tmp/p.data'\n"
               "                  or 'valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out'; RSS is then CMD's\n"
               "  --no-diagnostic skip the --format text run\n"
               "  --markdown      print only the Markdown table and the commands (for the README)\n"
               "  --keep-files    keep the configs and update streams written for the child\n"
               "  --only ratelimits  only the rate-limited streams (not part of the default run): burst, burst-fixed,\n"
               "                  sustained (--scenario picks them); --burst-updates N (default 10000),\n"
               "                  --sustained-updates N (default 2000)\n"
               "  --only migrate  only the 10,000-experiment migration (Evidently export -> import -> AppConfig +\n"
               "                  LaunchDarkly at their rate limits); `--only migrate --help` lists its options\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "--spawn-and-measure") return spawn_and_measure(argc, argv);
  for (int i = 1; i + 1 < argc; ++i)  // a benchmark of its own, with its own options (migrate_bench.hpp)
    if (std::string_view(argv[i]) == "--only" && std::string_view(argv[i + 1]) == "migrate")
      return expbridge::bench::migrate_bench_main(argc, argv, EXPBRIDGE_CLI);
  int runs = 50, repeat = 3;
  std::size_t updates = 2000;
  std::chrono::milliseconds delay{50};
  std::string cli = EXPBRIDGE_CLI;
  std::string only;
  std::vector<std::string> scenario_ids, wrapper;
  bool markdown_only = false, keep_files = false, diagnostic = true;
  std::size_t burst_updates = 10000, sustained_updates = 2000;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--runs") runs = static_cast<int>(parse_number(value(), 1, 10000, "--runs"));
    else if (arg == "--updates") updates = static_cast<std::size_t>(parse_number(value(), 1, 1000000, "--updates"));
    else if (arg == "--delay-ms") delay = std::chrono::milliseconds(parse_number(value(), 0, 10000, "--delay-ms"));
    else if (arg == "--cli") cli = value();
    else if (arg == "--only") only = value();
    else if (arg == "--repeat") repeat = static_cast<int>(parse_number(value(), 1, 20, "--repeat"));
    else if (arg == "--scenario") scenario_ids.emplace_back(value());
    else if (arg == "--child-wrapper") {
      std::istringstream words(value());
      for (std::string word; words >> word;) wrapper.push_back(word);
    }
    else if (arg == "--markdown") markdown_only = true;
    else if (arg == "--keep-files") keep_files = true;
    else if (arg == "--no-read-state") g_read_state = false;
    else if (arg == "--no-diagnostic") diagnostic = false;
    else if (arg == "--burst-updates") burst_updates = static_cast<std::size_t>(parse_number(value(), 1, 1000000, "--burst-updates"));
    else if (arg == "--sustained-updates")
      sustained_updates = static_cast<std::size_t>(parse_number(value(), 1, 1000000, "--sustained-updates"));
    else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (!only.empty() && only != "latency" && only != "converge" && only != "stream" && only != "ratelimits")
    die("--only takes latency, converge, stream or ratelimits");
  signal(SIGPIPE, SIG_IGN);  // a child that dies early must not take the bench with it

  std::string dir_template = (std::filesystem::temp_directory_path() / "expbridge-apply-bench-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) die(std::string("mkdtemp: ") + std::strerror(errno));
  const std::filesystem::path dir = dir_template;
  set_scratch(dir, keep_files);

  std::ostream& log = markdown_only ? std::cerr : std::cout;
  if (only == "ratelimits") {
    // Only on request: the 10,000-update runs take minutes.
    const auto started = Clock::now();
    std::vector<RateResult> results;
    bool ok = true;
    for (const auto& scenario : rate_scenarios(burst_updates, sustained_updates)) {
      if (!scenario_ids.empty() && std::find(scenario_ids.begin(), scenario_ids.end(), scenario.id) == scenario_ids.end())
        continue;
      log << "[ratelimits] " << scenario.name << ": " << scenario.updates << " updates\n";
      results.push_back(run_rate_limited(scenario, cli, dir));
      const RateResult& r = results.back();
      log << strf("  %.1f s, %zu of %zu ok, %lld throttled answers; waits %s; floor %.1f s%s%s\n  child: %s\n",
                  r.wall_ms / 1000.0, r.ok, r.scenario.updates, static_cast<long long>(r.throttled), r.waits.c_str(),
                  r.imposed_ms / 1000.0, r.problem.empty() ? "" : "; PROBLEM: ", r.problem.c_str(), r.command.c_str());
      ok = ok && r.problem.empty() && (r.scenario.id == "burst-fixed" || r.ok == r.scenario.updates);
    }
    std::cout << rate_markdown(results) << "\n";
    std::cout << strf("Measured on %s (%u cores), load average %s after, in %.0f s.\n", cpu_model().c_str(),
                      std::thread::hardware_concurrency(), load_average().c_str(), ms_since(started) / 1000.0);
    remove_scratch();
    return ok ? 0 : 1;
  }
  const auto bench_started = Clock::now();
  const std::string machine = cpu_model(), load_before = load_average();
  const Targets targets;
  bool all_ok = true;

  std::optional<LatencyResult> latency;
  if (only.empty() || only == "latency") {
    log << strf("[fan-out] 1 update -> 4 loopback backends answering after %lld ms, %d runs + 1 cold\n",
                  static_cast<long long>(delay.count()), runs);
    latency = run_latency(runs, delay);
    if (!markdown_only) print_latency(*latency);
    all_ok = all_ok && latency->failed == 0 && latency->refused == 0;
  }

  std::vector<ConvergeResult> converge;
  if (only.empty() || only == "latency" || only == "converge") {
    log << strf("[converge] the same description update blind, converging, and again with nothing to change: 4 "
                "loopback backends answering after %lld ms, %d runs + 1 cold each\n",
                static_cast<long long>(delay.count()), runs);
    converge = run_converge(runs, delay);
    if (!markdown_only) print_converge(converge);
    for (const auto& r : converge) all_ok = all_ok && r.failed == 0 && r.wrong_outcome == 0;
  }

  std::vector<StreamResult> streams;
  if (only.empty() || only == "stream") {
    std::vector<StreamScenario> scenarios = {
        {"stream through one `expbridge apply --format json -`, keep-alive (reads each backend first, the default)", true, 1, 1, "json", false, "keepalive"},
        {"same, `--no-state` (no store, no journal)", true, 1, 1, "json", false, "keepalive-nostate", false, true},
        {"same, `--no-read` (one blind round trip per update)", true, 1, 1, "json", false, "blind", true},
        {"same, `--no-read --no-state`", true, 1, 1, "json", false, "blind-nostate", true, true},
        {"same, servers answer `Connection: close`", false, 1, 1, "json", false, "close"},
        {"same as keep-alive, `--parallel 8`, updates spread over 8 experiments", true, 8, 8, "json", false, "parallel"},
        {"same, `--parallel 8 --no-state`", true, 8, 8, "json", false, "parallel-nostate", false, true},
        {"keep-alive, `--format text` (no report held until exit)", true, 1, 1, "text", true, "text"},
    };
    for (const auto& id : scenario_ids)
      if (std::none_of(scenarios.begin(), scenarios.end(), [&](const StreamScenario& s) { return s.id == id; }))
        die("unknown --scenario " + id + " (keepalive, keepalive-nostate, blind, blind-nostate, close, parallel, parallel-nostate, text)");
    std::erase_if(scenarios, [&](const StreamScenario& s) {
      if (!scenario_ids.empty()) return std::find(scenario_ids.begin(), scenario_ids.end(), s.id) == scenario_ids.end();
      return s.diagnostic && !diagnostic;
    });
    // Round by round, every scenario once in each: this machine's load drifts over minutes, and
    // a stream and its `--no-state` pair run seconds apart within a round, so each round gives a
    // pair measured under the same load (journal_cost_markdown).
    std::vector<std::vector<StreamResult>> tries(scenarios.size());
    for (int t = 0; t < repeat; ++t) {
      for (std::size_t k = 0; k < scenarios.size(); ++k) {
        const StreamScenario& scenario = scenarios[k];
        if (t == 0) log << "[stream] " << scenario.name << ": " << updates << " updates, " << repeat << " run(s)\n";
        tries[k].push_back(run_stream(scenario, updates, cli, wrapper, dir));
        const StreamResult& r = tries[k].back();
        all_ok = all_ok && r.problem.empty() && r.refused == 0;
        log << strf("  %s, run %d: %.0f updates/s, peak RSS %s%s%s\n", scenario.id.c_str(), t + 1, r.rate(),
                    mib(r.child.max_rss_kib).c_str(), r.problem.empty() ? "" : ", PROBLEM: ", r.problem.c_str());
      }
    }
    for (auto& runs : tries) {
      std::vector<double> round_rates;
      for (const auto& r : runs) round_rates.push_back(r.rate());
      std::sort(runs.begin(), runs.end(), [](const StreamResult& a, const StreamResult& b) { return a.rate() < b.rate(); });
      StreamResult chosen = std::move(runs[runs.size() / 2]);
      chosen.tries = repeat;
      chosen.rate_min = runs.front().rate();
      chosen.rate_max = runs.back().rate();
      chosen.round_rates = std::move(round_rates);
      for (const auto& r : runs) {
        chosen.rss_max_kib = std::max({chosen.rss_max_kib, r.child.max_rss_kib, chosen.child.max_rss_kib});
        if (chosen.problem.empty() && !r.problem.empty()) chosen.problem = "another run: " + r.problem;
      }
      streams.push_back(std::move(chosen));
      if (!markdown_only) print_stream(streams.back());
    }
  }
  const SyncFloor sync = streams.empty() ? SyncFloor{} : measure_sync(dir);
  const CommitFloor commit = streams.empty() ? CommitFloor{} : measure_intent_commit(dir);
  log << strf("[done] in %.1f s\n", ms_since(bench_started) / 1000.0);

  const std::string table = markdown(latency ? &*latency : nullptr, converge, streams, targets, updates);
  if (!markdown_only) std::cout << "\n";
  std::cout << table << "\n";
  if (const std::string cost = journal_cost_markdown(streams, sync, commit); !cost.empty()) std::cout << cost << "\n";
  std::cout << strf("Measured on %s (%u cores), load average %s before and %s after; streamed runs: median of %d "
                    "rounds, each running every scenario once in turn (range in brackets), peak RSS the highest of "
                    "them. The backends run in the bench process on the same cores as the CLI.\n\n",
                    machine.c_str(), std::thread::hardware_concurrency(), load_before.c_str(), load_average().c_str(),
                    repeat);
  std::cout << "Reproduce (Release; GCC 12's false -Wrestrict positives in core/ need EXPBRIDGE_WERROR=OFF at -O3):\n\n```sh\n"
               "cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DEXPBRIDGE_WERROR=OFF\n"
               "cmake --build build-bench -j2 --target expbridge_cli apply_bench\n"
               "build-bench/bench/apply_bench            # --markdown: this table alone; --help: options\n```\n";
  if (!streams.empty() && !markdown_only) {
    std::cout << "\nThe child runs, as the bench started them (config and updates in "
              << (keep_files ? dir.string() : std::string("a temp dir; --keep-files keeps them")) << "):\n\n```sh\n";
    for (const auto& r : streams)
      std::cout << "AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… LD_API_TOKEN=… AUTH0_CLIENT_ID=… AUTH0_CLIENT_SECRET=… \\\n  "
                << r.command << " < " << (dir / strf("updates-%d-experiments.jsonl", r.scenario.experiments)).string()
                << "\n";
    std::cout << "```\n";
  }

  remove_scratch();
  if (!all_ok) std::cerr << "apply_bench: some updates failed or were refused; the figures above do not count\n";
  return all_ok ? 0 : 1;
}
