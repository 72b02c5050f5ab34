// expbridge tests — a command run in the background as a CI job runs it (`expbridge emulate`):
// output to files in a folder of its own, its URL read from its output, stopped by the test.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace expbridge::test {

/// One background run of `program`, in a temporary folder removed with the object.
class BackgroundCli {
 public:
  explicit BackgroundCli(std::string program) : program_(std::move(program)) {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("expbridge-background-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  ~BackgroundCli() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);  // only our own child, if a test left it running
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;  // a leftover temp dir is harmless
    std::filesystem::remove_all(dir_, ignored);
  }
  BackgroundCli(const BackgroundCli&) = delete;
  BackgroundCli& operator=(const BackgroundCli&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  std::string out() const { return slurp(dir_ / "out"); }
  std::string err() const { return slurp(dir_ / "err"); }

  /// Starts `program <args>` with this process's environment, stdout and stderr to files.
  void spawn(std::vector<std::string> args) {
    args.insert(args.begin(), program_);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, (dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, (dir_ / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int spawned = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) pid_ = -1;
    EXPECT_EQ(spawned, 0) << "cannot start " << program_;
  }

  /// The URL the command printed (`listening on http://127.0.0.1:PORT`), waiting up to 10 s.
  std::string wait_for_url() {
    const std::regex url(R"(listening on (http://127\.0\.0\.1:([0-9]+)))");
    for (int i = 0; i < 200; ++i) {
      std::smatch m;
      const std::string printed = out();
      if (std::regex_search(printed, m, url)) {
        port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
        return m[1];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no URL printed; stderr: " << err();
    return "";
  }

  /// The exit status once the child is gone, or -1 if still running after `limit`.
  int wait_exit(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

  static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string program_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace expbridge::test
