// `expbridge apply -` killed with SIGKILL at random moments (seeded, bounded) and resumed each
// time, against the vendor emulators, through a SQLite file and through PostgreSQL: every
// change reaches each backend exactly once (none lost, none twice), and each experiment ends as
// its last update says. And two processes applying one experiment through one store at once
// both complete.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
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
    test::ApplyConfigOptions config;
    config.extra_experiments = 9;
    sandbox_.write("config.yaml", vendors_.config(config));
  }

  static std::vector<std::string> experiments() {
    std::vector<std::string> out{"checkout-redesign"};
    for (int i = 1; i <= 9; ++i) out.push_back("exp-" + std::to_string(i));
    return out;
  }

  /// `count` updates round-robin over the experiments, each a description naming its step.
  /// checkout-redesign's k-th update also starts it (k even) or pauses it (k odd): at Auth0 each
  /// is a status transition, a request that is not idempotent (Auth0 refuses a transition to the
  /// status it holds), so a repeated one would show in the emulator's journal or fail the run.
  std::string stream(int count, const std::string& tag) {
    std::string out;
    const auto names = experiments();
    for (int i = 0; i < count; ++i) {
      const auto& e = names[static_cast<std::size_t>(i) % names.size()];
      const int k = i / static_cast<int>(names.size());
      std::string action;
      if (e == "checkout-redesign") action = std::string(R"(, "action": ")") + (k % 2 == 0 ? "start" : "pause") + "\"";
      out += R"({"experiment": ")" + e + R"(", "description": ")" + tag + " step " + std::to_string(i) + " of " + e +
             "\"" + action + "}\n";
    }
    return out;
  }

  std::vector<std::string> apply_args(bool resume) const {
    std::vector<std::string> args{"apply", "--config", "config.yaml", "--state", state_, "--busy-timeout", "20000"};
    if (resume) args.push_back("--resume");
    args.push_back("-");
    return args;
  }

  /// Each backend's description change requests, by the step they carry.
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

  /// What each backend holds of each experiment's description, read in this process.
  std::map<std::pair<std::string, std::string>, std::string> descriptions() {
    std::map<std::pair<std::string, std::string>, std::string> out;
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
    for (const auto& e : experiments()) {
      const auto read = applier->read(e);
      for (const auto& b : read.backends)
        if (b.state && b.state->experiment.description) out[{e, b.backend}] = *b.state->experiment.description;
    }
    return out;
  }

  test::EmulatedVendors vendors_;
  test::CliSandbox sandbox_{"store-fault"};
  std::string state_;
};

TEST_P(StoreFault, KilledAtRandomAndResumedEveryChangeArrivesExactlyOnce) {
  constexpr int kUpdates = 200;
  constexpr int kKills = 3;
  const std::string tag = "fault";
  sandbox_.write("stream.jsonl", stream(kUpdates, tag));
  const auto env = test::apply_test_environment();
  std::mt19937 random(20261201);  // seeded: a failure replays the same kill moments
  // A whole run of the stream takes about a second here: every kill lands inside one. The first
  // waits for the run to begin (a kill before `begin_run` leaves nothing to resume).
  std::uniform_int_distribution<int> first_moment_ms(100, 300), moment_ms(40, 300);

  int kills = 0, attempt = 0;
  bool finished = false;
  std::string resumed_output;  // what the resumed runs reported
  for (; attempt < kKills + 5 && !finished; ++attempt) {
    Child child(sandbox_.dir(), "run" + std::to_string(attempt), apply_args(attempt > 0), sandbox_.path("stream.jsonl"),
                env);
    ASSERT_TRUE(child.started());
    struct Collect {
      Child& child;
      std::string& into;
      ~Collect() { into += child.out(); }
    } collect{child, resumed_output};
    if (kills < kKills) {
      const int code =
          child.wait(std::chrono::milliseconds(attempt == 0 ? first_moment_ms(random) : moment_ms(random)));
      if (code == -1 && child.kill_now()) {
        ++kills;
        continue;
      }
      ASSERT_EQ(code, 0) << "attempt " << attempt << ": " << child.err();
      finished = true;
    } else {
      const int code = child.wait(60s);
      ASSERT_EQ(code, 0) << "attempt " << attempt << ": " << child.err();
      finished = true;
    }
  }
  ASSERT_TRUE(finished) << "no attempt ran to its end";
  EXPECT_EQ(kills, kKills) << "the run ended before every kill: the kill moments are too late for this machine";
  // The resumed runs skipped what the killed ones had finished: the journal, not luck, kept it once.
  EXPECT_NE(resumed_output.find("done earlier by the resumed run"), std::string::npos) << resumed_output.substr(0, 2000);

  // Nothing twice, nothing lost: a backend that takes descriptions got every step exactly once.
  const auto received = changes_by_step(tag);
  ASSERT_FALSE(received.empty()) << "no backend took a description";
  for (const auto& [backend, steps] : received) {
    SCOPED_TRACE(backend);
    EXPECT_EQ(steps.size(), static_cast<std::size_t>(kUpdates)) << "changes lost";
    for (const auto& [step, count] : steps) EXPECT_EQ(count, 1) << step << " arrived " << count << " times";
  }
  // Every status transition exactly once: one start or pause per round of checkout-redesign.
  std::size_t transitions = 0;
  for (const auto& r : vendors_.api_requests("a0"))
    if (r.method == "POST" && r.target.find("/exp_4fG7hJk/status") != std::string::npos) ++transitions;
  EXPECT_EQ(transitions, static_cast<std::size_t>(kUpdates) / experiments().size());
  // And every experiment ends as its last update says, wherever a description is held.
  const auto held = descriptions();
  const auto names = experiments();
  for (std::size_t k = 0; k < names.size(); ++k) {
    const int last = kUpdates - static_cast<int>(names.size()) + static_cast<int>(k);
    const std::string want = tag + " step " + std::to_string(last) + " of " + names[k];
    for (const auto& backend : test::kApplyBackends) {
      if (auto it = held.find({names[k], backend}); it != held.end()) {
        EXPECT_EQ(it->second, want) << names[k] << " at " << backend;
      }
    }
  }
}

TEST_P(StoreFault, TwoProcessesApplyingOneExperimentAtOnceBothComplete) {
  constexpr int kUpdates = 20;
  std::string first, second;
  for (int i = 0; i < kUpdates; ++i) {
    first += R"({"experiment": "checkout-redesign", "description": "first step )" + std::to_string(i) + "\"}\n";
    second += R"({"experiment": "checkout-redesign", "description": "second step )" + std::to_string(i) + "\"}\n";
  }
  sandbox_.write("first.jsonl", first);
  sandbox_.write("second.jsonl", second);
  const auto env = test::apply_test_environment();
  Child a(sandbox_.dir(), "a", apply_args(false), sandbox_.path("first.jsonl"), env);
  Child b(sandbox_.dir(), "b", apply_args(false), sandbox_.path("second.jsonl"), env);
  ASSERT_TRUE(a.started() && b.started());
  EXPECT_EQ(a.wait(60s), 0) << a.err();
  EXPECT_EQ(b.wait(60s), 0) << b.err();
  const auto held = descriptions();
  for (const auto& backend : test::kApplyBackends) {
    if (auto it = held.find({"checkout-redesign", backend}); it != held.end()) {
      EXPECT_TRUE(it->second == "first step 19" || it->second == "second step 19") << backend << ": " << it->second;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreFault, ::testing::Values(StoreKind{"sqlite"}, StoreKind{"postgresql"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace expbridge
