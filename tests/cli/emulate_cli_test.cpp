// `expbridge emulate` as a CI job runs it: in the background, its URL read from its output,
// stopped by --duration-s or by SIGTERM.
#include <gtest/gtest.h>

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <boost/json/parse.hpp>

#include "support/blocking_http.hpp"
#include "emulator/emulator.hpp"

extern char** environ;

namespace expbridge::emulator {
namespace {

using testing::blocking_request;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class EmulateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("expbridge-emulate-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);  // only our own child, if a test left it running
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;  // a leftover temp dir is harmless
    std::filesystem::remove_all(dir_, ignored);
  }

  /// Starts `expbridge <args>` in the background, stdout and stderr to files.
  void spawn(std::vector<std::string> args) {
    args.insert(args.begin(), EXPBRIDGE_CLI);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, (dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, (dir_ / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }

  /// The URL the command printed, waiting up to 10 s for it.
  std::string wait_for_url() {
    const std::regex url(R"(listening on (http://127\.0\.0\.1:([0-9]+)))");
    for (int i = 0; i < 200; ++i) {
      std::smatch m;
      const std::string out = slurp(dir_ / "out");
      if (std::regex_search(out, m, url)) {
        port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
        return m[1];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no URL printed; stderr: " << slurp(dir_ / "err");
    return "";
  }

  /// The exit status once the child is gone, or -1 if still running after `limit`.
  int wait_exit(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

TEST_F(EmulateCli, ServesStateAndStopsAfterDuration) {
  const auto config = dir_ / "backends.yaml";
  spawn({"emulate", "--port", "0", "--duration-s", "3", "--write-config", config.string()});
  const auto started = std::chrono::steady_clock::now();
  const std::string url = wait_for_url();
  ASSERT_FALSE(url.empty());
  auto state = blocking_request(port_, "GET", "/_emulator/state");
  ASSERT_TRUE(state.answered);
  EXPECT_EQ(state.status, 200);
  EXPECT_EQ(boost::json::parse(state.body).as_object().size(), make_builtin_emulators().size());

  const std::string out = slurp(dir_ / "out");
  EXPECT_NE(out.find(std::string("AWS_ACCESS_KEY_ID=") + TestCredentials::aws_access_key_id), std::string::npos);
  EXPECT_NE(out.find(std::string("LD_API_TOKEN=") + TestCredentials::launchdarkly_token), std::string::npos);
  EXPECT_NE(out.find(url + "/_emulator/reset"), std::string::npos);

  // The backends config points every registered vendor at the emulators and passes `validate`.
  const std::string written = slurp(config);
  if (!make_builtin_emulators().empty()) {
    EXPECT_NE(written.find("endpoint: " + url), std::string::npos) << written;
    EXPECT_NE(out.find(written), std::string::npos);
    const std::string command = "'" + std::string(EXPBRIDGE_CLI) + "' validate -c '" + config.string() + "' '" +
                                std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/updates/start.yaml' >/dev/null 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << written;
  }

  EXPECT_EQ(wait_exit(std::chrono::seconds(15)), 0) << slurp(dir_ / "err");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
  EXPECT_NE(slurp(dir_ / "err").find("duration elapsed"), std::string::npos);
}

TEST_F(EmulateCli, StopsOnSigterm) {
  spawn({"emulate", "--port", "0", "--duration-s", "60"});
  ASSERT_FALSE(wait_for_url().empty());
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  EXPECT_EQ(wait_exit(std::chrono::seconds(10)), 0);
  EXPECT_NE(slurp(dir_ / "err").find("signal"), std::string::npos);
}

TEST_F(EmulateCli, RefusesABadFixture) {
  std::ofstream(dir_ / "fixture.yaml") << "no_such_vendor: {}\n";
  spawn({"emulate", "--port", "0", "--duration-s", "1", "--fixture", (dir_ / "fixture.yaml").string()});
  EXPECT_EQ(wait_exit(std::chrono::seconds(10)), 2);
  EXPECT_NE(slurp(dir_ / "err").find("unknown section 'no_such_vendor'"), std::string::npos) << slurp(dir_ / "err");
}

}  // namespace
}  // namespace expbridge::emulator
