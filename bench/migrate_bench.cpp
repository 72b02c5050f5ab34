// The migration benchmark (`apply_bench --only migrate`), for each size N (1,000, 5,000, 10,000):
//
//   1. writes what an Evidently user saved before the end of support, as the AWS CLI prints it:
//      `aws evidently list-experiments --project shop` (one auto-paginated answer: every
//      experiment, GetExperiment shape) and `aws evidently get-feature` for each feature (one
//      file each); a mix of running and draft experiments, 2 or 3 treatments, weights and
//      sampling rates in thousandths of a percent, a few entity overrides;
//   2. imports it with the real `expbridge import evidently ... --out DIR` (a child: wall time
//      and peak RSS), then does to the folder what its loss report asks of a user by hand: an
//      audience rule and a hypothesis in each document (Evidently has neither; AppConfig and
//      LaunchDarkly require them to create). LaunchDarkly's `metric` goes in the config's
//      `backends.ld.create:` where the CLI reads it (probed with `validate`); else in each
//      experiment's `create:` of a copy of bindings.yaml that only LaunchDarkly's migration reads;
//   3. migrates the folder with `expbridge migrate --apply --format json` to the AppConfig and
//      LaunchDarkly emulators (in this process, on 127.0.0.1) throttling in each one's dialect:
//      AppConfig a token bucket (ThrottlingException; AWS sends no budget, so the config's
//      `rate_limit: N/s` paces it at the quota, as a user sets it from AWS's documented quotas),
//      LaunchDarkly per-route fixed windows with X-Ratelimit-* headers. A CLI that takes several
//      targets and `--parallel` (engineer P's pipeline) runs as one child; the one on main
//      today takes one `--to` and migrates one experiment after another, so it runs as one child
//      per target, all at once, each with its own state store;
//   4. counts on the emulators' wire (EmulatorHost::received_requests): every experiment created
//      exactly once at each target and every running one started exactly once (a request counts
//      as done when the emulator handled it with a 2xx; a throttled one was refused before it
//      was handled), and computes the floor the limits impose on the requests handled:
//      AppConfig (n − burst) / rate; LaunchDarkly, per route, (n − per-window) / per-window
//      windows; the targets proceed at once, so the floor is the slowest backend's.
//
// Memory flat means the child's peak RSS barely moves from 1,000 to 10,000 experiments. The
// emulators' CPU per request (this process, during the migration) shows whether they stay fast
// with 10,000 experiments created.
#include "migrate_bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "bench_support.hpp"
#include "child_process.hpp"
#include "emulator/emulator.hpp"

namespace expbridge::bench {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Options {
  std::vector<std::size_t> sizes{1000, 5000, 10000};
  std::vector<std::string> targets{"aws", "ld"};
  int parallel = 16;
  int running_percent = 60;
  std::string cli;
  bool limits = true;
  double aws_per_second = 100, aws_burst = 100;
  long ld_route_per_window = 100, ld_window_ms = 1000;
  std::size_t batch = 0;  ///< experiments per import folder; 0 = all in one
  bool markdown_only = false, keep_files = false;
  long time_limit_s = 3600;
};

// ---------------------------------------------------------------------------
// 1. The Evidently export

constexpr const char* kProjectArn = "arn:aws:evidently:us-east-1:123456789012:project/shop";
constexpr const char* kMetric = "bench-conversion";
constexpr const char* kAudienceRule = R"((eq $country "US"))";

std::string experiment_name(std::size_t i) { return strf("bench-exp-%05zu", i); }
std::string feature_name(std::size_t i) { return strf("bench-flag-%05zu", i); }
bool is_running(std::size_t i, int running_percent) { return static_cast<int>((i * 37) % 100) < running_percent; }
/// Every third experiment has three treatments (string values), the others two (booleans).
std::size_t treatments_of(std::size_t i) { return i % 3 == 2 ? 3 : 2; }

/// The feature's variations: (name, VariableValue).
std::vector<std::pair<std::string, json::object>> variations_of(std::size_t i) {
  if (treatments_of(i) == 2) return {{"off", {{"boolValue", false}}}, {"on", {{"boolValue", true}}}};
  return {{"arm-a", {{"stringValue", "ranker-a"}}}, {"arm-b", {{"stringValue", "ranker-b"}}}, {"arm-c", {{"stringValue", "ranker-c"}}}};
}

std::vector<std::int64_t> weights_of(std::size_t i) {
  if (treatments_of(i) == 3) return {33334, 33333, 33333};
  return i % 2 == 0 ? std::vector<std::int64_t>{50000, 50000} : std::vector<std::int64_t>{40000, 60000};
}

/// An Experiment as GetExperiment / ListExperiments answer it (evidently.md §6).
json::object experiment_json(std::size_t i, int running_percent) {
  const std::string name = experiment_name(i), feature = feature_name(i);
  const bool running = is_running(i, running_percent);
  const double created = 1740906000.0 + static_cast<double>(i);
  const auto variations = variations_of(i);
  const auto weights = weights_of(i);
  json::array treatments;
  json::object treatment_weights;
  for (std::size_t t = 0; t < variations.size(); ++t) {
    const std::string treatment = t == 0 ? "control" : "treatment-" + std::to_string(t);
    treatments.push_back(json::object{{"name", treatment},
                                      {"description", "Serves " + variations[t].first},
                                      {"featureVariations", json::object{{feature, variations[t].first}}}});
    treatment_weights[treatment] = weights[t];
  }
  json::object o{
      {"arn", std::string(kProjectArn) + "/experiment/" + name},
      {"createdTime", created},
      {"description", strf("Bench experiment %zu: %zu treatments", i, variations.size())},
      {"lastUpdatedTime", created + 3600},
      {"metricGoals", json::array{json::object{{"desiredChange", "INCREASE"},
                                               {"metricDefinition", json::object{{"entityIdKey", "userDetails.userId"},
                                                                                 {"name", "checkout-done"},
                                                                                 {"valueKey", "details.count"}}}}}},
      {"name", name},
      {"onlineAbDefinition", json::object{{"controlTreatmentName", "control"}, {"treatmentWeights", std::move(treatment_weights)}}},
      {"project", kProjectArn},
      {"randomizationSalt", name},
      {"samplingRate", static_cast<std::int64_t>(10000 + (i % 9) * 10000)},
      {"status", running ? "RUNNING" : "CREATED"},
      {"treatments", std::move(treatments)},
      {"type", "aws.evidently.onlineab"}};
  if (running) {
    o["execution"] = json::object{{"startedTime", created + 7200}};
    o["schedule"] = json::object{{"analysisCompleteTime", created + 7200 + 30 * 86400.0 - 1}};
  }
  return o;
}

/// A Feature as GetFeature answers it (evidently.md §5), under its `feature` envelope.
json::object feature_json(std::size_t i, int running_percent) {
  const std::string feature = feature_name(i);
  const auto variations = variations_of(i);
  json::array list;
  for (const auto& [name, value] : variations) list.push_back(json::object{{"name", name}, {"value", value}});
  const double created = 1740800000.0 + static_cast<double>(i);
  json::object f{{"arn", std::string(kProjectArn) + "/feature/" + feature},
                 {"createdTime", created},
                 {"defaultVariation", variations.front().first},
                 {"evaluationRules", json::array{json::object{{"name", experiment_name(i)}, {"type", "aws.evidently.onlineab"}}}},
                 // A draft's feature serves its default to everyone until the experiment starts.
                 {"evaluationStrategy", is_running(i, running_percent) ? "ALL_RULES" : "DEFAULT_VARIATION"},
                 {"lastUpdatedTime", created + 60},
                 {"name", feature},
                 {"project", kProjectArn},
                 {"status", "AVAILABLE"},
                 {"valueType", treatments_of(i) == 2 ? "BOOLEAN" : "STRING"},
                 {"variations", std::move(list)}};
  if (i % 10 == 0) f["entityOverrides"] = json::object{{strf("qa-user-%zu", i), variations.back().first}};
  return json::object{{"feature", std::move(f)}};
}

/// Writes the export under `dir`, the experiments in pages of `page` (all of them in one when
/// `page` is `n`: the CLI's auto-paginated answer; else `--max-items`-style pages, each with the
/// `nextToken` of the next). Returns the files of each page: the page first, then its features.
std::vector<std::vector<std::string>> write_export(const fs::path& dir, std::size_t n, std::size_t page, int running_percent) {
  fs::create_directories(dir / "features");
  std::vector<std::vector<std::string>> pages;
  for (std::size_t first = 0; first < n; first += page) {
    const std::size_t last = std::min(n, first + page);
    std::vector<std::string>& files = pages.emplace_back();
    const fs::path path = dir / (page >= n ? std::string("list-experiments.json") : strf("list-experiments-%zu.json", pages.size()));
    std::ofstream out(path);
    out << "{\n    \"experiments\": [\n";
    for (std::size_t i = first; i < last; ++i)
      out << (i > first ? ",\n        " : "        ") << json::serialize(experiment_json(i, running_percent));
    out << "\n    ]";
    if (last < n) out << ",\n    \"nextToken\": \"" << strf("bench-page-%zu", pages.size() + 1) << "\"";
    out << "\n}\n";
    if (!out) die("cannot write " + path.string());
    files.push_back(path.string());
    for (std::size_t i = first; i < last; ++i) {
      const fs::path feature = dir / "features" / (feature_name(i) + ".json");
      std::ofstream f(feature);
      f << json::serialize(feature_json(i, running_percent)) << "\n";
      if (!f) die("cannot write " + feature.string());
      files.push_back(feature.string());
    }
  }
  return pages;
}

// ---------------------------------------------------------------------------
// 2. The import folder, completed as its loss report asks

/// Appends what AppConfig's and LaunchDarkly's creates need and Evidently never held to each
/// imported document. Returns the documents changed.
std::size_t complete_documents(const fs::path& folder) {
  std::size_t documents = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml" || name == "bindings.yaml") continue;
    std::ofstream out(entry.path(), std::ios::app);
    out << "# Added as the loss report asks (evidently.segment lost: write the audience rule for the target;\n"
           "# LaunchDarkly requires a hypothesis to create):\n"
           "hypothesis: \"The treatment raises conversion\"\n"
           "audience:\n"
           "  rule: '" << kAudienceRule << "'\n";
    if (!out) die("cannot append to " + entry.path().string());
    ++documents;
  }
  return documents;
}

/// LaunchDarkly's metric in each experiment's `create:` of the folder's bindings.yaml, by hand,
/// where the CLI has no backend-level `create:` defaults in the config. That partial binding is
/// every target's, and AppConfig refuses a `metric` member: such a folder is LaunchDarkly's only.
void add_metric_to_bindings(const fs::path& folder, std::size_t documents) {
  const fs::path bindings = folder / "bindings.yaml";
  std::ifstream in(bindings);
  std::string text, line, previous;
  std::size_t added = 0;
  while (std::getline(in, line)) {
    text += line + "\n";
    if (previous == "    create:" && line.starts_with("      flag: ")) {
      text += std::string("      metric: \"") + kMetric + "\"\n";
      ++added;
    }
    previous = line;
  }
  if (added != documents)
    die(strf("%s: %zu create: blocks with a flag for %zu documents (the import's layout changed?)", bindings.c_str(), added,
             documents));
  std::ofstream(bindings, std::ios::trunc) << text;
}

// ---------------------------------------------------------------------------
// 3. The targets: the AppConfig and LaunchDarkly emulators, throttling

json::value migrate_fixture(std::size_t n, const Options& o) {
  json::array flags;
  json::object ld_flags;
  for (std::size_t i = 0; i < n; ++i) {
    flags.emplace_back(feature_name(i));
    json::array variations;
    std::size_t v = 0;
    for (const auto& [name, value] : variations_of(i)) {
      // A boolean flag serves true/false; a JSON flag the object the neutral value maps to.
      json::value served = value.contains("boolValue") ? value.at("boolValue")
                                                       : json::value(json::object{{"enabled", true}, {"value", value.at("stringValue")}});
      variations.push_back(json::object{{"_id", strf("6a1f0e2c-0000-4000-8000-%07zx%05zu", i, v++)}, {"value", served}, {"name", name}});
    }
    ld_flags[feature_name(i)] = json::object{{"name", "Bench flag " + std::to_string(i)}, {"on", true}, {"version", 3},
                                             {"variations", std::move(variations)}};
  }
  json::object application{
      {"id", "abc1234"},
      {"name", "shop"},
      {"configuration_profiles", json::array{json::object{{"id", "prf5678"}, {"name", "bench-flags"}, {"flags", std::move(flags)}}}},
      {"environments", json::array{json::object{{"id", "env9012"}, {"name", "production"}}}}};
  json::object ld_project{{"metrics", json::array{kMetric}},  // the one every create must name
                          {"environments", json::object{{"production", json::object{{"flags", std::move(ld_flags)}}}}}};
  json::object fixture{{"appconfig", json::object{{"applications", json::array{std::move(application)}}}},
                       {"launchdarkly", json::object{{"projects", json::object{{"default", std::move(ld_project)}}}}}};
  if (o.limits)
    fixture["rate_limits"] = json::object{
        {"appconfig", json::object{{"per_second", o.aws_per_second}, {"burst", o.aws_burst}}},
        {"launchdarkly", json::object{{"route_per_10s", o.ld_route_per_window}, {"window_ms", o.ld_window_ms}}}};
  return fixture;
}

/// `metric_in_config`: LaunchDarkly's metric as the backend's `create:` default (the config's
/// backend-level `create:` section, where the CLI has it).
std::string config_text(const std::string& url, const Options& o, bool metric_in_config) {
  std::string out = "# Written by apply_bench --only migrate: the AppConfig and LaunchDarkly emulators.\nbackends:\n";
  out += "  aws: {vendor: appconfig, region: us-east-1, application: abc1234, configuration_profile: bench-flags, "
         "environment: production, endpoint: \"" + url + "\"";
  // AWS answers a throttle with no budget and no wait: the client paces itself at the quota.
  if (o.limits) out += strf(", rate_limit: \"%g/s\"", o.aws_per_second);
  out += "}\n";
  out += "  ld: {vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN, endpoint: \"" + url + "\"";
  if (metric_in_config) out += std::string(", create: {metric: ") + kMetric + "}";
  out += "}\n";
  return out;
}

// ---------------------------------------------------------------------------
// 4. Counting on the wire

struct OperationCount {
  std::size_t sent = 0, done = 0, throttled = 0, failed = 0;
};

struct WireAudit {
  std::map<std::string, OperationCount> operations;  ///< "<vendor> <operation>"
  std::map<std::string, std::size_t> aws_created, aws_started, ld_created, ld_started;  ///< id -> done
  std::map<std::string, std::size_t> ld_routes;  ///< route -> done (the limits count per route)
  std::size_t aws_done = 0, journal = 0, answered = 0;
};

std::string method_of(const emulator::ServerRequest& r) {
  if (r.method == "POST")
    if (auto m = r.header("x-http-method-override")) return *m;
  return r.method;
}

std::vector<std::string> segments_of(const std::string& target) {
  std::vector<std::string> out;
  const std::string path = target.substr(0, target.find('?'));
  std::istringstream in(path);
  for (std::string s; std::getline(in, s, '/');)
    if (!s.empty()) out.push_back(emulator::percent_decode(s));
  return out;
}

std::string string_member(const std::string& body, const char* member) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* m = v.get_object().if_contains(member);
  return m && m->is_string() ? std::string(m->get_string()) : std::string();
}

WireAudit audit(const emulator::EmulatorHost& host) {
  WireAudit w;
  const auto journal = host.received_requests();
  w.journal = journal.size();
  for (const auto& [vendor, count] : host.request_counts()) w.answered += count;
  for (const auto& r : journal) {
    const auto seg = segments_of(r.request.target);
    const std::string method = method_of(r.request);
    std::string operation = method + " " + r.request.target.substr(0, r.request.target.find('?'));
    std::map<std::string, std::size_t>* created = nullptr;
    std::map<std::string, std::size_t>* started = nullptr;
    std::string id;
    if (r.vendor == "appconfig" && seg.size() == 3 && method == "POST") {
      operation = "CreateExperimentDefinition", created = &w.aws_created, id = string_member(r.request.body, "Name");
    } else if (r.vendor == "appconfig" && seg.size() == 5 && seg[4] == "experimentruns" && method == "POST") {
      operation = "StartExperimentRun", started = &w.aws_started, id = seg[3];
    } else if (r.vendor == "launchdarkly" && seg.size() == 5 && seg[2] == "flags" && method == "GET") {
      operation = "GetFeatureFlag";
    } else if (r.vendor == "launchdarkly" && seg.size() == 7 && method == "POST") {
      operation = "CreateExperiment", created = &w.ld_created, id = string_member(r.request.body, "key");
    } else if (r.vendor == "launchdarkly" && seg.size() == 8 && method == "PATCH") {
      const bool start = r.request.body.find("\"startIteration\"") != std::string::npos;
      operation = start ? "PatchExperiment startIteration" : "PatchExperiment";
      if (start) started = &w.ld_started, id = seg[7];
    }
    OperationCount& count = w.operations[r.vendor + " " + operation];
    ++count.sent;
    const bool done = r.handled_status >= 200 && r.handled_status < 300;
    if (done) {
      ++count.done;
      if (created) ++(*created)[id];
      if (started) ++(*started)[id];
      if (r.vendor == "appconfig") ++w.aws_done;
      if (r.vendor == "launchdarkly") {
        // The route as LaunchDarkly limits it: the URL pattern and verb, keys left out.
        std::string route = method;
        for (std::size_t i = 0; i < seg.size(); ++i) {
          const bool variable = seg.size() > 2 && ((seg[2] == "flags" && i >= 3) || (seg[2] == "projects" && (i == 3 || i == 5 || i == 7)));
          route += "/" + (variable ? std::string("*") : seg[i]);
        }
        ++w.ld_routes[route];
      }
    } else if (r.handled_status == 0 && r.status != 0) {
      ++count.throttled;  // answered before the emulator handled it: its rate limiter refused it
    } else {
      ++count.failed;
    }
  }
  return w;
}

/// How many of `expected` ids were made exactly once, and a description of the first that was not.
std::size_t exactly_once(const std::map<std::string, std::size_t>& made, const std::set<std::string>* expected,
                         std::size_t expected_count, std::string& problem, const char* what) {
  std::size_t once = 0;
  for (const auto& [id, n] : made) {
    if (expected && !expected->contains(id)) {
      if (problem.empty()) problem = strf("%s: '%s' was not asked for", what, id.c_str());
      continue;
    }
    if (n == 1) ++once;
    else if (problem.empty()) problem = strf("%s: '%s' done %zu times", what, id.c_str(), n);
  }
  if (once != expected_count && problem.empty()) problem = strf("%s: %zu done once, %zu expected", what, once, expected_count);
  return once;
}

// ---------------------------------------------------------------------------
// The run at one size

struct MigrateOutcome {
  std::size_t entries = 0, ok = 0, failed = 0, refused = 0;
  std::optional<json::object> summary;  ///< the streamed report's (P's pipeline)
  std::vector<std::string> first_failures;  ///< each child's first
};

struct SizeResult {
  std::size_t experiments = 0, running = 0;
  ChildRun import;
  std::string import_command;
  std::vector<ChildRun> migrations;  ///< one child, or one per target
  std::vector<std::string> commands;
  double wall_ms = 0, floor_ms = 0, aws_floor_ms = 0, ld_floor_ms = 0;
  MigrateOutcome outcome;
  WireAudit wire;
  std::size_t aws_created_once = 0, aws_started_once = 0, ld_created_once = 0, ld_started_once = 0;
  double emulator_cpu_s = 0;
  long peak_rss_kib = 0;
  std::size_t batches = 1;  ///< import folders, migrated one after another
  std::size_t batch_size = 0;  ///< experiments in each (the last may hold fewer)
  bool pipeline = false;
  bool metric_in_config = false;
  std::string problem;
};

void read_report(const std::string& out, MigrateOutcome& outcome, std::string& problem) {
  boost::system::error_code ec;
  const json::value report = json::parse(out, ec);
  if (ec || !report.is_object() || !report.get_object().contains("experiments")) {
    if (problem.empty()) problem = "the output is not the --format json migration report";
    return;
  }
  bool first = true;
  for (const auto& e : report.at("experiments").as_array()) {
    const auto& o = e.as_object();
    ++outcome.entries;
    const auto* ok = o.if_contains("ok");
    if (ok && ok->is_bool() && ok->get_bool()) {
      ++outcome.ok;
      continue;
    }
    const auto* refused = o.if_contains("refused");
    ++(refused && refused->is_bool() && refused->get_bool() ? outcome.refused : outcome.failed);
    if (first) outcome.first_failures.push_back(json::serialize(e).substr(0, 1500));
    first = false;
  }
  if (const auto* summary = report.get_object().if_contains("summary"); summary && summary->is_object())
    outcome.summary = summary->get_object();
}

double cpu_now_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string joined(const std::vector<std::string>& list, const char* separator) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : separator) + s;
  return out;
}

/// Whether `cli migrate` runs several targets at once (`--parallel` in its help).
bool cli_has_pipeline(const std::string& cli, const std::vector<std::string>& env) {
  const ChildRun help = run_child({cli, "migrate", "--help"}, env, "", 30s);
  return help.out.find("--parallel") != std::string::npos;
}

/// Whether `cli` reads a backend-level `create:` section in the config: `validate` (which sends
/// nothing) either refuses the config naming `create`, or goes on to the update.
bool cli_has_create_defaults(const std::string& cli, const std::vector<std::string>& env, const fs::path& dir) {
  const fs::path config = dir / "probe-backends.yaml", update = dir / "probe-update.yaml";
  std::ofstream(config) << config_text("http://127.0.0.1:9", Options{}, true);
  std::ofstream(update) << "experiment: probe\ndescription: probe\n";
  const ChildRun probe = run_child({cli, "validate", "--config", config.string(), update.string()}, env, "", 30s);
  return probe.err.find("backends.ld.create") == std::string::npos;
}

SizeResult run_size(std::size_t n, const Options& o, const fs::path& scratch, std::ostream& log) {
  SizeResult result;
  result.experiments = n;
  for (std::size_t i = 0; i < n; ++i) result.running += is_running(i, o.running_percent);
  const fs::path dir = scratch / strf("n%zu", n);
  fs::create_directories(dir);
  std::vector<std::string> env;
  for (const auto& [key, value] : secret_environment()) env.push_back(key + "=" + value);
  env.push_back("HOME=" + dir.string());  // no ~/.aws of the machine's user

  // 1. The export: one page, or a page per batch.
  const std::size_t batch = o.batch > 0 ? std::min(o.batch, n) : n;
  const auto pages = write_export(dir / "export", n, batch, o.running_percent);
  result.batches = pages.size();
  result.batch_size = batch;
  auto host = emulator::EmulatorHost::start({0, migrate_fixture(n, o), nullptr, n * 12 + 10000});
  if (!host) die("emulator host: " + host.error().describe());
  result.pipeline = cli_has_pipeline(o.cli, env);
  result.metric_in_config = cli_has_create_defaults(o.cli, env, dir);
  const fs::path config = dir / "backends.yaml";
  std::ofstream(config) << config_text((*host)->base_url(), o, result.metric_in_config);
  const bool to_ld = std::find(o.targets.begin(), o.targets.end(), "ld") != o.targets.end();
  log << strf("  %zu import folder(s); migrate: %s; LaunchDarkly's metric %s\n", pages.size(),
              result.pipeline ? "the CLI takes several targets and --parallel" : "the CLI takes one --to and no --parallel",
              result.metric_in_config ? "in the config's backend-level create:" : "in a copy of each folder's bindings.yaml");

  double cpu_s = 0;
  for (std::size_t k = 0; k < pages.size(); ++k) {
    // 2. The import, and the folder completed.
    const auto& files = pages[k];
    const fs::path folder = dir / (pages.size() == 1 ? std::string("migrated") : strf("migrated-%zu", k + 1));
    std::vector<std::string> import_argv = {o.cli, "import", "evidently"};
    import_argv.insert(import_argv.end(), files.begin(), files.end());
    import_argv.insert(import_argv.end(), {"--out", folder.string()});
    result.import_command = strf("%s import evidently %s <its experiments' %s/features/*.json> --out %s", o.cli.c_str(),
                                 files.front().c_str(), (dir / "export").c_str(), folder.c_str());
    const ChildRun imported = run_child(import_argv, env, "", std::chrono::seconds(o.time_limit_s));
    result.import.wall_ms += imported.wall_ms;
    result.import.max_rss_kib = std::max(result.import.max_rss_kib, imported.max_rss_kib);
    result.import.exit_code = imported.exit_code;
    if (imported.exit_code != 0) {
      result.problem = strf("import exit %d: %s", imported.exit_code, imported.err.substr(0, 900).c_str());
      return result;
    }
    const std::size_t documents = complete_documents(folder);

    // 3. The migration of this folder: which children, from which folders, all at once.
    struct Group {
      std::vector<std::string> targets;
      fs::path folder;
    };
    std::vector<Group> groups;
    if (result.metric_in_config || !to_ld) {
      if (result.pipeline) groups.push_back({o.targets, folder});
      else
        for (const auto& t : o.targets) groups.push_back({{t}, folder});
    } else {
      // The metric goes in a copy of the folder that only LaunchDarkly's migration reads.
      const fs::path ld_folder = folder.string() + "-ld";
      fs::copy(folder, ld_folder, fs::copy_options::recursive);
      add_metric_to_bindings(ld_folder, documents);
      for (const auto& t : o.targets) groups.push_back({{t}, t == "ld" ? ld_folder : folder});
    }
    std::vector<std::vector<std::string>> children;
    for (const auto& g : groups) {
      const std::string name = joined(g.targets, "-");
      std::vector<std::string> argv = {o.cli, "migrate", "--config", config.string(), "--from", g.folder.string(), "--to",
                                       joined(g.targets, ","), "--all", "--apply",
                                       // Evidently's own losses (metric goals, salt, schedule, ...) and what a target
                                       // cannot hold: LaunchDarkly an exposure, overrides, variation descriptions and an
                                       // audience rule; AppConfig a draft's description (it goes on the run a draft has not).
                                       "--accept-loss", "evidently,exposure,overrides,variations,audience,description",
                                       "--format", "json", "--state", (dir / ("state-" + name + ".db")).string()};
      if (result.pipeline) argv.insert(argv.end(), {"--parallel", std::to_string(o.parallel)});
      children.push_back(std::move(argv));
    }
    result.commands.clear();
    for (const auto& argv : children) result.commands.push_back(joined(argv, " "));
    std::vector<ChildRun> runs(children.size());
    const double cpu_before = cpu_now_s();
    const auto started = Clock::now();
    {
      std::vector<std::thread> threads;
      for (std::size_t c = 0; c < children.size(); ++c)
        threads.emplace_back([&, c] { runs[c] = run_child(children[c], env, "", std::chrono::seconds(o.time_limit_s)); });
      for (auto& t : threads) t.join();
    }
    result.wall_ms += ms_since(started);
    cpu_s += cpu_now_s() - cpu_before;
    if (pages.size() > 1) log << strf("  folder %zu of %zu: %.1f s\n", k + 1, pages.size(), ms_since(started) / 1000.0);
    for (auto& child : runs) {
      result.peak_rss_kib = std::max(result.peak_rss_kib, child.max_rss_kib);
      if (child.killed && result.problem.empty()) result.problem = strf("killed after %ld s", o.time_limit_s);
      else if (child.signal != 0 && result.problem.empty()) result.problem = strf("ended by signal %d", child.signal);
      if (child.exit_code == 2 && result.problem.empty()) {
        // Invalid input: nothing was sent; the first line of stderr says why.
        result.problem = "migrate refused its input (exit 2): " + child.err.substr(0, child.err.find('\n'));
      }
      read_report(child.out, result.outcome, result.problem);
      child.out.clear();  // read: only the figures are kept
      result.migrations.push_back(std::move(child));
    }
  }
  result.emulator_cpu_s = cpu_s;
  const std::size_t expected_entries = n * o.targets.size();
  if (result.problem.empty() && (result.outcome.entries != expected_entries || result.outcome.ok != expected_entries))
    result.problem = strf("%zu of %zu entries reported, %zu ok", result.outcome.entries, expected_entries, result.outcome.ok);

  // 4. On the wire.
  result.wire = audit(**host);
  if (result.wire.journal < result.wire.answered && result.problem.empty())
    result.problem = "the journal dropped requests: the counts on the wire are incomplete";
  std::set<std::string> names, running_names;
  for (std::size_t i = 0; i < n; ++i) {
    names.insert(experiment_name(i));
    if (is_running(i, o.running_percent)) running_names.insert(experiment_name(i));
  }
  std::string wire_problem;
  const bool to_aws = std::find(o.targets.begin(), o.targets.end(), "aws") != o.targets.end();
  if (to_aws) {
    result.aws_created_once = exactly_once(result.wire.aws_created, &names, n, wire_problem, "AppConfig CreateExperimentDefinition");
    // A run is started on a definition id AppConfig gave: counted per id, as many as running.
    result.aws_started_once = exactly_once(result.wire.aws_started, nullptr, result.running, wire_problem, "AppConfig StartExperimentRun");
  }
  if (to_ld) {
    result.ld_created_once = exactly_once(result.wire.ld_created, &names, n, wire_problem, "LaunchDarkly CreateExperiment");
    result.ld_started_once = exactly_once(result.wire.ld_started, &running_names, result.running, wire_problem,
                                          "LaunchDarkly startIteration");
  }
  if (result.problem.empty() && !wire_problem.empty()) result.problem = wire_problem;

  // The floor the limits impose on what was handled.
  if (o.limits) {
    if (to_aws)
      result.aws_floor_ms = std::max(0.0, static_cast<double>(result.wire.aws_done) - o.aws_burst) / o.aws_per_second * 1000.0;
    if (to_ld)
      for (const auto& [route, count] : result.wire.ld_routes)
        result.ld_floor_ms = std::max(result.ld_floor_ms, std::max(0.0, static_cast<double>(count) - static_cast<double>(o.ld_route_per_window)) /
                                                              static_cast<double>(o.ld_route_per_window) * static_cast<double>(o.ld_window_ms));
    result.floor_ms = std::max(result.aws_floor_ms, result.ld_floor_ms);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Output

std::string throttled_of(const WireAudit& w) {
  std::map<std::string, std::size_t> per_vendor;
  for (const auto& [operation, count] : w.operations) per_vendor[operation.substr(0, operation.find(' '))] += count.throttled;
  std::string out;
  for (const auto& [vendor, n] : per_vendor) out += strf("%s%s %zu", out.empty() ? "" : ", ", vendor.c_str(), n);
  return out;
}

void print_size(const SizeResult& r, const Options& o, std::ostream& out) {
  out << strf("  import: %.1f s, peak RSS %s, exit %d\n", r.import.wall_ms / 1000.0, mib(r.import.max_rss_kib).c_str(),
              r.import.exit_code);
  for (std::size_t c = 0; c < r.migrations.size(); ++c)
    out << strf("  migrate child %zu: %.1f s, exit %d, peak RSS %s, CPU %.1f s user + %.1f s sys\n", c + 1,
                r.migrations[c].wall_ms / 1000.0, r.migrations[c].exit_code, mib(r.migrations[c].max_rss_kib).c_str(),
                r.migrations[c].user_s, r.migrations[c].system_s);
  for (const auto& command : r.commands) out << "    " << command << "\n";
  out << strf("  wall %.1f s; floor %.1f s (AppConfig %.1f s, LaunchDarkly %.1f s); wall / floor %.2f\n", r.wall_ms / 1000.0,
              r.floor_ms / 1000.0, r.aws_floor_ms / 1000.0, r.ld_floor_ms / 1000.0, r.floor_ms > 0 ? r.wall_ms / r.floor_ms : 0.0);
  out << strf("  report: %zu entries, %zu ok, %zu failed, %zu refused\n", r.outcome.entries, r.outcome.ok, r.outcome.failed,
              r.outcome.refused);
  if (r.outcome.summary) out << "  summary: " << json::serialize(*r.outcome.summary) << "\n";
  for (const auto& failure : r.outcome.first_failures) out << "  first failure of a child: " << failure << "\n";
  out << strf("  on the wire (%zu requests): created once AppConfig %zu, LaunchDarkly %zu of %zu; started once AppConfig %zu, "
              "LaunchDarkly %zu of %zu running\n",
              r.wire.journal, r.aws_created_once, r.ld_created_once, r.experiments, r.aws_started_once, r.ld_started_once, r.running);
  for (const auto& [operation, c] : r.wire.operations)
    out << strf("    %-48s sent %6zu  done %6zu  throttled %5zu  failed %zu\n", operation.c_str(), c.sent, c.done, c.throttled, c.failed);
  out << strf("  emulators' CPU during the migration: %.1f s, %.0f µs a request\n", r.emulator_cpu_s,
              r.wire.journal ? r.emulator_cpu_s * 1e6 / static_cast<double>(r.wire.journal) : 0.0);
  std::size_t shown = 0;
  for (std::size_t c = 0; c < r.migrations.size() && shown < 2; ++c)
    if (!r.migrations[c].err.empty()) {
      out << "  child " << c + 1 << " stderr (first 1500 bytes):\n" << r.migrations[c].err.substr(0, 1500) << "\n";
      ++shown;
    }
  if (!r.problem.empty()) out << "  PROBLEM: " << r.problem << "\n";
  (void)o;
}

std::string markdown(const std::vector<SizeResult>& results, const std::string& targets, int parallel) {
  std::string out =
      "| experiments (running) | CLI | import: wall / peak RSS | migrate: wall | the limits' floor | wall ÷ floor | entries ok / "
      "failed | created once (AppConfig / LaunchDarkly) | started once | throttled answers | migrate child peak RSS |\n"
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n";
  for (const auto& r : results) {
    const std::string floor = r.floor_ms > 0 ? strf("%.1f s", r.floor_ms / 1000.0) : std::string("—");
    const std::string ratio = r.floor_ms > 0 ? strf("**%.2f×**", r.wall_ms / r.floor_ms) : std::string("—");
    out += strf("| %s (%s) | %s | %.1f s / %s | %.1f s | %s | %s | %zu / **%zu** | %s / %s | %s / %s | %s | **%s** |\n",
                thousands(r.experiments).c_str(), thousands(r.running).c_str(),
                (std::string(r.pipeline ? (r.migrations.size() == r.batches ? strf("one child, `--to %s --parallel %d`", targets.c_str(), parallel)
                                                                           : strf("one child per target, `--parallel %d` each", parallel))
                                        : std::string("one child per target, one experiment after another")) +
                 (r.batches > 1 ? strf("; %zu import folders of %s, one after another", r.batches, thousands(r.batch_size).c_str())
                                : std::string()))
                    .c_str(),
                r.import.wall_ms / 1000.0, mib(r.import.max_rss_kib).c_str(), r.wall_ms / 1000.0, floor.c_str(), ratio.c_str(),
                r.outcome.ok, r.outcome.entries - r.outcome.ok, thousands(r.aws_created_once).c_str(),
                thousands(r.ld_created_once).c_str(), thousands(r.aws_started_once).c_str(), thousands(r.ld_started_once).c_str(),
                throttled_of(r.wire).c_str(), mib(r.peak_rss_kib).c_str());
    if (!r.problem.empty()) out += "| (does not count: " + r.problem.substr(0, 300) + ") ||||||||||\n";
  }
  return out;
}

void usage() {
  std::cout << "usage: apply_bench --only migrate [--experiments N[,N...]] [--targets aws,ld] [--parallel N]\n"
               "                   [--running-percent P] [--appconfig-per-second R] [--appconfig-burst B]\n"
               "                   [--ld-route-per-window L] [--ld-window-ms W] [--batch N] [--no-limits] [--cli PATH]\n"
               "                   [--time-limit S] [--markdown] [--keep-files]\n"
               "  --experiments N,...  sizes to run, one after another (default 1000,5000,10000)\n"
               "  --targets LIST       aws (AppConfig), ld (LaunchDarkly) or both (default aws,ld)\n"
               "  --parallel N         experiments in flight, for a CLI that takes --parallel (default 16)\n"
               "  --running-percent P  share of running experiments; the rest are drafts (default 60)\n"
               "  --appconfig-per-second R, --appconfig-burst B  AppConfig's token bucket (default 100, 100);\n"
               "                       the config's `rate_limit` at aws is R/s\n"
               "  --ld-route-per-window L, --ld-window-ms W  LaunchDarkly's per-route fixed windows (default 100\n"
               "                       calls per 1000 ms; LaunchDarkly's real window is 10 s)\n"
               "  --batch N            import and migrate N experiments at a time, one folder after another\n"
               "                       (the export in pages of N); default: one folder of all\n"
               "  --no-limits          no rate limits (what the CPU alone allows; no floor)\n"
               "  --time-limit S       a child running longer is killed (default 3600)\n"
               "  --markdown           print only the table and the commands\n"
               "  --keep-files         keep the export, the import folder, configs and stores\n";
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int migrate_bench_main(int argc, char** argv, const std::string& default_cli) {
  Options o;
  o.cli = default_cli;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--only") {
      if (std::string_view(value()) != "migrate") die("--only migrate runs alone");
    } else if (arg == "--experiments") {
      o.sizes.clear();
      for (const auto& item : split_list(value()))
        o.sizes.push_back(static_cast<std::size_t>(parse_number(item.c_str(), 1, 100000, "--experiments")));
      if (o.sizes.empty()) die("--experiments needs at least one size");
    } else if (arg == "--targets") {
      o.targets = split_list(value());
      for (const auto& t : o.targets)
        if (t != "aws" && t != "ld") die("--targets takes aws and ld, found '" + t + "'");
      if (o.targets.empty()) die("--targets needs aws, ld or both");
    } else if (arg == "--parallel") {
      o.parallel = static_cast<int>(parse_number(value(), 1, 256, "--parallel"));
    } else if (arg == "--running-percent") {
      o.running_percent = static_cast<int>(parse_number(value(), 0, 100, "--running-percent"));
    } else if (arg == "--appconfig-per-second") {
      o.aws_per_second = static_cast<double>(parse_number(value(), 1, 10000, "--appconfig-per-second"));
    } else if (arg == "--appconfig-burst") {
      o.aws_burst = static_cast<double>(parse_number(value(), 1, 10000, "--appconfig-burst"));
    } else if (arg == "--ld-route-per-window") {
      o.ld_route_per_window = parse_number(value(), 1, 1000000, "--ld-route-per-window");
    } else if (arg == "--ld-window-ms") {
      o.ld_window_ms = parse_number(value(), 1, 3600000, "--ld-window-ms");
    } else if (arg == "--batch") {
      o.batch = static_cast<std::size_t>(parse_number(value(), 1, 100000, "--batch"));
    } else if (arg == "--no-limits") {
      o.limits = false;
    } else if (arg == "--cli") {
      o.cli = value();
    } else if (arg == "--time-limit") {
      o.time_limit_s = parse_number(value(), 1, 3600, "--time-limit");
    } else if (arg == "--markdown") {
      o.markdown_only = true;
    } else if (arg == "--keep-files") {
      o.keep_files = true;
    } else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }

  std::string dir_template = (fs::temp_directory_path() / "expbridge-migrate-bench-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) die("mkdtemp failed");
  const fs::path scratch = dir_template;
  set_scratch(scratch, o.keep_files);
  std::ostream& log = o.markdown_only ? std::cerr : std::cout;
  const std::string machine = cpu_model(), load_before = load_average();
  const auto bench_started = Clock::now();

  std::vector<SizeResult> results;
  bool ok = true;
  for (std::size_t n : o.sizes) {
    log << strf("[migrate] %s experiments -> %s%s\n", thousands(n).c_str(), joined(o.targets, " + ").c_str(),
                o.limits ? strf(" (AppConfig bucket %g/s, burst %g; LaunchDarkly %ld calls per route per %ld ms)", o.aws_per_second,
                                o.aws_burst, o.ld_route_per_window, o.ld_window_ms)
                               .c_str()
                         : " (no rate limits)");
    results.push_back(run_size(n, o, scratch, log));
    if (!o.markdown_only) print_size(results.back(), o, std::cout);
    ok = ok && results.back().problem.empty();
  }

  if (!o.markdown_only) std::cout << "\n";
  std::cout << markdown(results, joined(o.targets, ","), o.parallel) << "\n";
  std::cout << strf("Measured on %s (%u cores), load average %s before and %s after, in %.0f s; the emulators run in the "
                    "bench process on the same cores as the CLI. ",
                    machine.c_str(), std::thread::hardware_concurrency(), load_before.c_str(), load_average().c_str(),
                    ms_since(bench_started) / 1000.0);
  if (o.limits)
    std::cout << strf("Limits: AppConfig a token bucket of %g/s (burst %g; the config's `rate_limit: %g/s`), LaunchDarkly %ld calls "
                      "per route per %ld-ms window. ",
                      o.aws_per_second, o.aws_burst, o.aws_per_second, o.ld_route_per_window, o.ld_window_ms);
  const bool in_config = !results.empty() && results.back().metric_in_config;
  std::cout << "An audience rule and a hypothesis were added to each imported document (what the loss report asks of a "
               "user); LaunchDarkly's `metric` "
            << (in_config ? "is the config's `backends.ld.create.metric`.\n"
                          : "was added to each experiment's `create:` in a copy of the folder's bindings.yaml that only the "
                            "LaunchDarkly migration reads (the CLI has no backend-level `create:` defaults, and AppConfig "
                            "refuses a `metric` in the partial binding).\n");
  if (!o.markdown_only && !results.empty()) {
    std::cout << "\nThe children of the last size, as the bench started them (files in "
              << (o.keep_files ? scratch.string() : std::string("a temp dir; --keep-files keeps them")) << "):\n\n```sh\n"
              << results.back().import_command << "\n";
    for (const auto& c : results.back().commands) std::cout << "AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… LD_API_TOKEN=… " << c << "\n";
    std::cout << "```\n";
  }
  remove_scratch();
  if (!ok) std::cerr << "apply_bench --only migrate: a size failed (PROBLEM above); its figures do not count\n";
  return ok ? 0 : 1;
}

}  // namespace expbridge::bench
