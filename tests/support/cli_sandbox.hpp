// expbridge tests — the `expbridge` binary run as a user runs it, in a temporary folder of its own.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>

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

  /// `run`, with standard error on a pseudo-terminal of its own (standard input and output stay
  /// files): `err` is what that terminal was sent, byte for byte (no newline translation).
  CliRun run_on_terminal(const std::string& args, const std::map<std::string, std::string>& variables = {},
                         int seconds = 60) const {
    CliRun r;
    int terminal = -1, child_side = -1;
    if (::openpty(&terminal, &child_side, nullptr, nullptr, nullptr) != 0) {
      r.err = "openpty failed";
      return r;
    }
    termios raw{};
    ::tcgetattr(child_side, &raw);
    raw.c_oflag &= ~static_cast<tcflag_t>(OPOST);  // the bytes as written: no \n -> \r\n
    ::tcsetattr(child_side, TCSANOW, &raw);
    std::atomic<bool> ended{false};
    std::string seen;
    // Read while the command runs, so a full terminal buffer never blocks it; bounded by `ended`.
    std::thread reader([&] {
      char buffer[4096];
      while (true) {
        pollfd p{terminal, POLLIN, 0};
        const int ready = ::poll(&p, 1, 50);
        if (ready > 0 && (p.revents & POLLIN)) {
          const ssize_t n = ::read(terminal, buffer, sizeof buffer);
          if (n > 0) {
            seen.append(buffer, static_cast<std::size_t>(n));
            continue;
          }
        }
        if (ended) break;
      }
    });
    const auto in = dir_ / ".stdin", out = dir_ / ".stdout";
    std::ofstream(in, std::ios::binary) << "";
    std::string command = "cd '" + dir_.string() + "' && env -i PATH=/usr/bin:/bin HOME='" + dir_.string() + "'";
    for (const auto& [name, value] : variables) command += " " + name + "='" + value + "'";
    command += " timeout -s KILL " + std::to_string(seconds) + " '" + std::string(EXPBRIDGE_CLI) + "' " + args + " <'" +
               in.string() + "' >'" + out.string() + "' 2>&" + std::to_string(child_side);
    const int status = std::system(command.c_str());
    ::close(child_side);
    ended = true;
    reader.join();
    ::close(terminal);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = std::move(seen);
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
