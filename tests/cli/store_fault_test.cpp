// `expbridge apply -` under faults, against the vendor emulators, through a SQLite file and
// through PostgreSQL, with the real CLI binary:
//   - a stream of 1,000 updates over 50 experiments, each bound at AppConfig, LaunchDarkly, Auth0
//     and Evidently, every update a status change (Auth0 status transitions and AppConfig
//     StartExperimentRun: requests that are not idempotent); the CLI is killed with SIGKILL at 5
//     seeded moments, the emulators apply a bounded number of non-idempotent requests and then
//     drop the connection before answering, and the run is resumed each time until it finishes.
//     The emulators' wire journal then shows every effect exactly once (none twice, none lost),
//     in update order, and each experiment ends as its last update says;
//   - two processes applying updates of one experiment at once through one store: serialised
//     (one's requests all before the other's), both complete, the later one's state holds.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>

#include "emulator/emulator.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/model.hpp"
#include "expbridge/store.hpp"
#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"
#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
#include "support/postgres_server.hpp"
#endif

namespace expbridge {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// One `expbridge` child: stdin from a file, output to files, the environment given.
class Child {
 public:
  Child(const fs::path& dir, const std::string& name, const std::vector<std::string>& args, const fs::path& input,
        const std::map<std::string, std::string>& env)
      : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
    std::vector<std::string> argv_text{EXPBRIDGE_CLI};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text{"PATH=/usr/bin:/bin", "HOME=" + dir.string()};
    for (const auto& [k, v] : env) env_text.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, input.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    // The config's folder, for the default store and relative paths.
    posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);  // only this test's own child
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }

  /// Waits up to `limit`: the exit code, 128+signal, or -1 when still running.
  int wait(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(5ms);
    }
    return code_;
  }
  /// SIGKILL now, if still running: true when it was killed.
  bool kill_now() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    code_ = 128 + SIGKILL;
    return true;
  }
  std::string err() const { return test::CliSandbox::slurp(err_); }
  std::string out() const { return test::CliSandbox::slurp(out_); }

 private:
  fs::path out_, err_;
  pid_t pid_ = -1;
  int code_ = -1;
};

/// Where the store of a fault test lives: a file in the sandbox, or a PostgreSQL database.
struct StoreKind {
  std::string name;
};
/// A failing test (and ctest's list) names the store, not the parameter's bytes.
inline void PrintTo(const StoreKind& kind, std::ostream* out) { *out << kind.name; }

class StoreFault : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (GetParam().name == "postgresql") {
#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
      auto& server = test::PostgresServer::shared();
      if (!server.skip_reason().empty()) GTEST_SKIP() << server.skip_reason();
      auto url = server.create_database(::testing::UnitTest::GetInstance()->current_test_info()->name());
      ASSERT_TRUE(url) << url.error().describe();
      state_ = *url;
#else
      GTEST_SKIP() << "this build has no PostgreSQL store (libpq was not found at configure time)";
#endif
    } else {
      state_ = sandbox_.path("state.db").string();
    }
  }

  static std::vector<std::string> experiments(int extra) {
    std::vector<std::string> out{"checkout-redesign"};
    for (int i = 1; i <= extra; ++i) out.push_back("exp-" + std::to_string(i));
    return out;
  }
  /// The Auth0 experiment id and the AppConfig definition id of an experiment (the fixture's).
  static std::string auth0_id(const std::string& experiment) {
    return experiment == "checkout-redesign" ? "exp_4fG7hJk" : test::auth0_experiment_id(std::stoi(experiment.substr(4)));
  }
  static std::string definition_id(const std::string& experiment) {
    return experiment == "checkout-redesign" ? "bsxyd7k" : test::appconfig_definition_id(std::stoi(experiment.substr(4)));
  }

  std::vector<std::string> apply_args(bool resume) const {
    std::vector<std::string> args{"apply", "--config", "config.yaml", "--state", state_, "--busy-timeout", "20000"};
    if (resume) args.push_back("--resume");
    args.push_back("-");
    return args;
  }

  /// Requests the emulators received so far (cheap: counted, not copied).
  std::size_t requests_so_far() {
    std::size_t n = 0;
    for (const auto& [vendor, count] : vendors_.host().request_counts()) n += count;
    return n;
  }

  /// Each backend's change requests that carry a step of `tag`, by the step they carry.
  std::map<std::string, std::map<std::string, int>> changes_by_step(const std::string& tag) const {
    std::map<std::string, std::map<std::string, int>> out;
    const std::regex step(tag + " step [0-9]+ of [a-z0-9-]+");
    for (const auto& backend : test::kApplyBackends)
      for (const auto& r : vendors_.api_requests(backend)) {
        std::smatch m;
        if (std::regex_search(r.body, m, step)) ++out[backend][m.str()];
      }
    return out;
  }

  /// What each backend holds of each experiment (description, status), read in this process.
  struct Held {
    std::optional<std::string> description;
    std::optional<ExperimentStatus> status;
  };
  std::map<std::pair<std::string, std::string>, Held> held(const std::vector<std::string>& names) {
    std::map<std::pair<std::string, std::string>, Held> out;
    auto bridge = Bridge::load(sandbox_.path("config.yaml").string());
    EXPECT_TRUE(bridge) << bridge.error().describe();
    if (!bridge) return out;
    ApplyOptions options;
    const auto env = test::apply_test_environment();
    options.environment = [env](std::string_view name) -> std::optional<std::string> {
      if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
      return std::nullopt;
    };
    auto applier = Applier::create(*bridge, options);
    EXPECT_TRUE(applier);
    if (!applier) return out;
    for (const auto& e : names) {
      const auto read = applier->read(e);
      for (const auto& b : read.backends) {
        EXPECT_TRUE(b.state) << e << " at " << b.backend << ": " << (b.error ? b.error->describe() : "");
        if (b.state) out[{e, b.backend}] = Held{b.state->experiment.description, b.state->experiment.status};
      }
    }
    return out;
  }

  test::EmulatedVendors vendors_;
  test::CliSandbox sandbox_{"store-fault"};
  std::string state_;
};

/// A stream of updates in pairs, each pair to a seeded random experiment: a start, then a pause,
/// each with a description naming its step. Every update is a status change: an Auth0 transition
/// (paused or draft to active, active to paused), and each experiment's first start an AppConfig
/// StartExperimentRun. Auth0 keeps one experiment active per tenant: a pair leaves none active.
struct FaultStream {
  std::string text;
  std::map<std::string, std::vector<std::string>> actions;  ///< per experiment, in stream order
  std::map<std::string, std::string> last_description;
};

FaultStream make_stream(const std::vector<std::string>& names, int count, const std::string& tag, std::uint32_t seed) {
  FaultStream out;
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> pick(0, names.size() - 1);
  std::string e;
  for (int i = 0; i < count; ++i) {
    if (i % 2 == 0) e = names[pick(random)];
    auto& actions = out.actions[e];
    const std::string action = actions.size() % 2 == 0 ? "start" : "pause";
    actions.push_back(action);
    const std::string description = tag + " step " + std::to_string(i) + " of " + e;
    out.last_description[e] = description;
    out.text += R"({"experiment": ")" + e + R"(", "description": ")" + description + R"(", "action": ")" + action +
                "\"}\n";
  }
  return out;
}

/// `count` seeded moments, in requests the emulators received, from `low` to `high`, ascending.
std::vector<std::size_t> moments(std::mt19937& random, int count, std::size_t low, std::size_t high) {
  std::uniform_int_distribution<std::size_t> at(low, high);
  std::vector<std::size_t> out;
  for (int i = 0; i < count; ++i) out.push_back(at(random));
  std::sort(out.begin(), out.end());
  return out;
}

TEST_P(StoreFault, KilledAndDroppedAtRandomAndResumedEveryEffectArrivesExactlyOnce) {
  constexpr int kExtra = test::kMaxExtraExperiments;  // 50 experiments in all
  constexpr int kUpdates = 1000;
  constexpr int kKills = 5;
  constexpr int kAppConfigDrops = 2, kAuth0Drops = 4;
  // Every request of every attempt stays in the journal: what the assertions count.
  vendors_.restart(test::EmulatedVendors::fixture(test::EmulatedVendors::Run::done, kExtra), 1'000'000);
  test::ApplyConfigOptions config;
  config.extra_experiments = kExtra;
  config.pin_run = false;  // a started run is followed by the next update
  sandbox_.write("config.yaml", vendors_.config(config));
  const auto names = experiments(kExtra);
  const std::string tag = "fault";
  std::mt19937 random(20261201);  // seeded: a failure replays the same stream, drops and kills
  const FaultStream stream = make_stream(names, kUpdates, tag, static_cast<std::uint32_t>(random()));
  sandbox_.write("stream.jsonl", stream.text);
  const auto env = test::apply_test_environment();

  // Moments counted in requests on the wire, not in time: they land inside the runs however
  // fast this machine is. All the attempts together send about 15,000 requests (reads included,
  // measured), and StartExperimentRun goes only with an experiment's first update, so its drops
  // come early.
  const auto kill_at = moments(random, kKills, 300, 9'000);
  struct Drop {
    std::size_t at;
    std::string faults;
  };
  std::vector<Drop> drops;
  for (auto at : moments(random, kAppConfigDrops, 100, 1'500))
    drops.push_back({at, R"([{"vendor": "appconfig", "method": "POST", "path_prefix": "/applications/",
                              "apply_then_drop": true, "times": 1}])"});
  for (auto at : moments(random, kAuth0Drops, 400, 12'000))
    drops.push_back({at, R"([{"vendor": "auth0", "method": "POST", "path_prefix": "/api/v2/experimentation/experiments/",
                              "apply_then_drop": true, "times": 1}])"});
  std::sort(drops.begin(), drops.end(), [](const Drop& a, const Drop& b) { return a.at < b.at; });

  std::size_t next_kill = 0, next_drop = 0;
  int unsettled_ends = 0, attempt = 0;
  bool finished = false;
  std::size_t reconciled_applied = 0, done_earlier = 0;
  std::string run_id;
  const std::regex unsettled_run("run (\\S+) stays unfinished");
  const auto test_started = std::chrono::steady_clock::now();
  // Each kill and each drop ends at most one attempt; a few more settle what is left.
  for (; attempt < kKills + kAppConfigDrops + kAuth0Drops + 4 && !finished; ++attempt) {
    Child child(sandbox_.dir(), "run" + std::to_string(attempt), apply_args(attempt > 0), sandbox_.path("stream.jsonl"),
                env);
    ASSERT_TRUE(child.started());
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    int code = -1;
    bool killed = false;
    while ((code = child.wait(1ms)) == -1) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "attempt " << attempt << " ran past 60 s";
      const std::size_t seen = requests_so_far();
      // One drop armed at a time: a later one replaces an earlier one that found no request.
      if (next_drop < drops.size() && seen >= drops[next_drop].at) vendors_.set_faults(drops[next_drop++].faults);
      if (next_kill < kill_at.size() && seen >= kill_at[next_kill]) {
        killed = child.kill_now();
        ++next_kill;
        break;
      }
    }
    const std::string out = child.out(), err = child.err();
    for (std::size_t at = out.find("reconciled: found applied"); at != std::string::npos;
         at = out.find("reconciled: found applied", at + 1))
      ++reconciled_applied;
    for (std::size_t at = out.find("done earlier by the resumed run"); at != std::string::npos;
         at = out.find("done earlier by the resumed run", at + 1))
      ++done_earlier;
    if (killed) continue;
    if (code == 0) {
      finished = true;
      break;
    }
    // The only other way out: a run that ended with inputs unsettled by a dropped answer.
    ASSERT_EQ(code, 1) << "attempt " << attempt << ": " << err.substr(0, 3000);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(err, m, unsettled_run))
        << "attempt " << attempt << " failed: " << err.substr(0, 1500) << "\n...\n"
        << err.substr(err.size() > 1500 ? err.size() - 1500 : 0);
    run_id = m[1].str();
    ASSERT_NE(err.find("`expbridge apply --resume` settles them"), std::string::npos) << err.substr(0, 3000);
    ASSERT_NE(out.find("input(s) unsettled"), std::string::npos) << "the text summary says it too";
    ++unsettled_ends;
  }
  const auto took = std::chrono::steady_clock::now() - test_started;
  std::cout << "[ measure  ] " << GetParam().name << ": " << kUpdates << " updates over " << names.size()
            << " experiments, " << attempt + (finished ? 1 : 0) << " attempts (" << next_kill << " killed, "
            << unsettled_ends << " ended unsettled), " << requests_so_far() << " requests, "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms; " << reconciled_applied
            << " requests reconciled as found applied, " << done_earlier << " inputs done earlier\n";
  ASSERT_TRUE(finished) << "no attempt ran to its end";
  vendors_.set_faults("[]");
  EXPECT_EQ(next_kill, static_cast<std::size_t>(kKills)) << "the run ended before every kill: the moments are too late";
  EXPECT_GE(unsettled_ends, 1) << "no run ended unsettled by a dropped answer";
  EXPECT_GT(done_earlier, 0u) << "the resumed runs skipped nothing: the journal kept nothing";
  EXPECT_GT(reconciled_applied, 0u) << "no resumed run found a dropped request applied by reading the vendor";

  // The wire journal: every status change the vendors applied, and every one they refused.
  const auto journal = vendors_.host().received_requests();
  ASSERT_LT(journal.size(), std::size_t{1'000'000}) << "the journal overflowed: counts would be wrong";
  std::map<std::string, std::vector<std::string>> transitions;  // Auth0 experiment id -> statuses applied
  std::map<std::string, std::string> auth0_status;              // replayed from the applied transitions
  std::map<std::string, int> runs_started;                      // AppConfig definition -> runs started
  std::vector<std::string> twice;                               // refused because its effect was there
  std::size_t refused_for_another = 0, applied_then_dropped = 0;
  for (const auto& r : journal) {
    if (r.request.method != "POST") continue;
    const auto segments = emulator::path_segments(r.request);
    const bool transition = r.vendor == "auth0" && segments.size() == 6 && segments[3] == "experiments" &&
                            segments[5] == "status";
    const bool start = r.vendor == "appconfig" && segments.size() == 5 && segments[4] == "experimentruns";
    if (!transition && !start) continue;
    if (r.status == 0 && r.handled_status != 0) ++applied_then_dropped;
    const int success = transition ? 200 : 201;
    const std::string what = r.vendor + " " + r.request.target + " " + r.request.body + " -> " +
                             std::to_string(r.handled_status);
    if (!transition) {
      // A second run while one runs (409): a start sent twice.
      if (r.handled_status != success) twice.push_back(what);
      if (r.handled_status == success) ++runs_started[segments[3]];
      continue;
    }
    const std::string id = segments[4];
    const std::string target(boost::json::parse(r.request.body).at("status").as_string());
    auto& status = auth0_status.try_emplace(id, "draft").first->second;
    if (r.handled_status == success) {
      transitions[id].push_back(target);
      status = target;
    } else if (target == status) {
      twice.push_back(what);  // a transition to the status it holds: its effect was there
    } else {
      // The only other refusal the stream meets: a start while another experiment is active
      // (one per tenant), behind an earlier start whose pause is held back until resumed.
      const bool another_active = std::any_of(auth0_status.begin(), auth0_status.end(),
                                              [&](const auto& s) { return s.first != id && s.second == "active"; });
      EXPECT_TRUE(target == "active" && another_active) << "refused, and not for another active experiment: " << what;
      ++refused_for_another;
    }
  }
  EXPECT_TRUE(twice.empty()) << twice.size() << " non-idempotent requests sent twice, the first: " << twice.front();
  EXPECT_GE(applied_then_dropped, 1u) << "no drop fired";
  std::cout << "[ measure  ] " << applied_then_dropped << " non-idempotent requests applied and dropped, "
            << refused_for_another << " Auth0 starts refused while another experiment was active\n";
  for (const auto& e : names) {
    SCOPED_TRACE(e);
    const auto& actions = stream.actions.count(e) ? stream.actions.at(e) : std::vector<std::string>{};
    std::vector<std::string> want;
    for (const auto& a : actions) want.push_back(a == "start" ? "active" : "paused");
    // Exactly once each, in update order: none twice, none lost.
    EXPECT_EQ(transitions[auth0_id(e)], want);
    EXPECT_EQ(runs_started[definition_id(e)], actions.empty() ? 0 : 1) << "StartExperimentRun applied";
  }

  // Every description step reached each backend that takes descriptions exactly once.
  const auto received = changes_by_step(tag);
  ASSERT_EQ(received.size(), test::kApplyBackends.size());
  for (const auto& [backend, steps] : received) {
    SCOPED_TRACE(backend);
    EXPECT_EQ(steps.size(), static_cast<std::size_t>(kUpdates)) << "changes lost";
    for (const auto& [step, count] : steps) EXPECT_EQ(count, 1) << step << " arrived " << count << " times";
  }

  // The run is finished, and no journalled request is left without an outcome.
  auto store = Store::open(StoreOptions{state_});
  ASSERT_TRUE(store) << store.error().describe();
  auto unfinished = (*store)->last_unfinished_run(fs::weakly_canonical(sandbox_.path("config.yaml")).string());
  ASSERT_TRUE(unfinished) << unfinished.error().describe();
  EXPECT_FALSE(unfinished->has_value()) << "the last resumed run settled every input: the run is finished";
  if (!run_id.empty()) {
    auto intents = (*store)->journal(run_id);
    ASSERT_TRUE(intents) << intents.error().describe();
    for (const auto& intent : *intents)
      EXPECT_NE(intent.outcome, IntentOutcome::pending) << intent.backend << " " << intent.operation << " of input "
                                                        << intent.input_position;
  }

  // Each experiment ends as its last update says, at every backend.
  const auto now = held(names);
  for (const auto& e : names) {
    if (!stream.actions.count(e)) continue;
    const bool started = stream.actions.at(e).back() == "start";
    for (const auto& backend : test::kApplyBackends) {
      SCOPED_TRACE(e + " at " + backend);
      auto it = now.find({e, backend});
      if (it == now.end()) continue;  // the read failed: reported above
      EXPECT_EQ(it->second.description, stream.last_description.at(e));
      if (backend == "a0") {
        EXPECT_EQ(it->second.status, started ? ExperimentStatus::running : ExperimentStatus::paused);
      }
      if (backend == "aws") {
        EXPECT_EQ(it->second.status, ExperimentStatus::running);
      }
    }
  }
}

TEST_P(StoreFault, TwoProcessesApplyingOneExperimentAtOnceAreSerialisedAndTheLaterHolds) {
  sandbox_.write("config.yaml", vendors_.config());
  // Every read takes a while, so the two updates overlap in time whatever the start-up costs:
  // only the store's lock keeps them apart.
  vendors_.set_faults(R"([{"method": "GET", "latency_ms": 150}])");
  const std::map<std::string, std::string> tokens = {{"first", "FQoGZXIvYXdzEXAMPLE-first"},
                                                     {"second", "FQoGZXIvYXdzEXAMPLE-second"}};
  std::map<std::string, std::unique_ptr<Child>> children;
  for (const auto& [name, token] : tokens) {
    sandbox_.write(name + ".json", R"({"experiment": "checkout-redesign", "description": "from the )" + name +
                                       R"( process"})");
    auto env = test::apply_test_environment();
    env["AWS_SESSION_TOKEN"] = token;  // the AWS emulators take any session token: it names the process
    std::vector<std::string> args{"apply", "--config", "config.yaml", "--state", state_, "--busy-timeout", "20000",
                                  name + ".json"};
    children[name] = std::make_unique<Child>(sandbox_.dir(), name, args, sandbox_.path("config.yaml"), env);
    ASSERT_TRUE(children[name]->started());
  }
  const auto both_started = std::chrono::steady_clock::now();
  for (auto& [name, child] : children) EXPECT_EQ(child->wait(60s), 0) << name << ": " << child->err();
  vendors_.set_faults("[]");

  // Which process sent each request: by its session token (AWS) or its update's text, then by
  // its connection or (Auth0) its bearer token, when another request on it was told. A lone read
  // on a connection of its own (LaunchDarkly's) may stay untold: every update's first reads
  // (AWS's among them) and its writes are told, and they bound it.
  const auto journal = vendors_.host().received_requests();
  std::map<std::size_t, std::string> by_connection;
  std::map<std::string, std::string> by_bearer;
  for (const auto& r : journal)
    for (const auto& [name, token] : tokens)
      if (r.request.header("x-amz-security-token") == token ||
          r.request.body.find("from the " + name + " process") != std::string::npos)
        by_connection[r.request.connection_number] = name;
  for (const auto& r : journal)
    if (auto bearer = r.request.header("authorization"); bearer && bearer->starts_with("Bearer "))
      if (auto it = by_connection.find(r.request.connection_number); it != by_connection.end())
        by_bearer[*bearer] = it->second;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> order;
  std::map<std::string, std::size_t> told;
  for (const auto& r : journal) {
    std::string process;
    if (auto it = by_connection.find(r.request.connection_number); it != by_connection.end()) process = it->second;
    if (auto bearer = r.request.header("authorization"); process.empty() && bearer)
      if (auto it = by_bearer.find(*bearer); it != by_bearer.end()) process = it->second;
    if (process.empty()) continue;
    ++told[process];
    order.emplace_back(process, r.arrived);
  }
  EXPECT_EQ(told.size(), 2u) << "each process's requests are told apart";
  EXPECT_GE(told["first"] + told["second"], journal.size() * 3 / 4) << "most requests are told apart";
  ASSERT_FALSE(order.empty());
  std::size_t switches = 0;
  for (std::size_t i = 1; i < order.size(); ++i)
    if (order[i].first != order[i - 1].first) ++switches;
  EXPECT_EQ(switches, 1u) << "the two processes' requests interleaved";
  const std::string later = order.back().first;
  const auto last_of_earlier =
      std::find_if(order.rbegin(), order.rend(), [&](const auto& o) { return o.first != later; })->second;
  // Both were running while the earlier one applied: the later one waited for the lock.
  EXPECT_LT(both_started, last_of_earlier) << "the processes did not overlap: nothing was proven";

  const auto now = held({"checkout-redesign"});
  for (const auto& backend : test::kApplyBackends) {
    auto it = now.find({"checkout-redesign", backend});
    ASSERT_NE(it, now.end()) << backend;
    EXPECT_EQ(it->second.description, "from the " + later + " process") << backend;
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreFault, ::testing::Values(StoreKind{"sqlite"}, StoreKind{"postgresql"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace expbridge
