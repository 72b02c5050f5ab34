// expbridge tests — the `expbridge` binary run as a user runs it, in a temporary folder of its own.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace expbridge::test {

/// What one run of the command left behind.
struct CliRun {
  int exit_code = -1;  ///< -1 when it did not exit normally (a crash, or killed at the time limit)
  std::string out;
  std::string err;
};

/// A temporary folder to run the CLI in; removed with the object.
class CliSandbox {
 public:
  explicit CliSandbox(const std::string& name) {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("expbridge-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~CliSandbox() {
    std::error_code ignored;  // best effort: a leftover temp dir is harmless
    std::filesystem::remove_all(dir_, ignored);
  }
  CliSandbox(const CliSandbox&) = delete;
  CliSandbox& operator=(const CliSandbox&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  /// Runs `expbridge ARGS` in the folder with exactly `variables` (plus PATH, and HOME = the
  /// folder so no ~/.aws is read), standard input from `stdin_text`, killed after `seconds`.
  CliRun run(const std::string& args, const std::string& stdin_text = "",
             const std::map<std::string, std::string>& variables = {}, int seconds = 60) const {
    return run_program(EXPBRIDGE_CLI, args, stdin_text, variables, seconds);
  }

  /// The same with another build of the command (the fake-vendor one).
  CliRun run_program(const std::string& program, const std::string& args, const std::string& stdin_text = "",
                     const std::map<std::string, std::string>& variables = {}, int seconds = 60) const {
    const auto in = dir_ / ".stdin", out = dir_ / ".stdout", err = dir_ / ".stderr";
    std::ofstream(in, std::ios::binary) << stdin_text;
    std::string command = "cd '" + dir_.string() + "' && env -i PATH=/usr/bin:/bin HOME='" + dir_.string() + "'";
    for (const auto& [name, value] : variables) command += " " + name + "='" + value + "'";
    command += " timeout -s KILL " + std::to_string(seconds) + " '" + program + "' " + args + " <'" +
               in.string() + "' >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(command.c_str());
    CliRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace expbridge::test
