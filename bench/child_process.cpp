#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <tuple>

#include "bench_support.hpp"

namespace expbridge::bench {

using namespace std::chrono_literals;

// Peak RSS of a CLI child, measured apart from the benchmark process.
//
// Why a measurer: Linux keeps a process's ru_maxrss across exec and seeds it, at exec, with the
// high-water RSS of the address space being replaced — for a child started by fork or
// posix_spawn from this bench, that is the BENCH's peak (servers, request logs, parsed
// reports: 50+ MiB), not the CLI's. So the CLI is started by a freshly exec'd copy of
// this program (`--spawn-and-measure`, a few MiB), which wait4()s for it and reports its
// rusage on fd 3, as /usr/bin/time does. The floor that measurer could pass on is
// reported too.

namespace {

void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die(std::string("fcntl: ") + std::strerror(errno));
}

double cpu_seconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

volatile sig_atomic_t g_measured_pid = 0;

extern "C" void kill_measured(int) {
  if (g_measured_pid > 0) kill(static_cast<pid_t>(g_measured_pid), SIGKILL);
}

}  // namespace

/// `apply_bench --spawn-and-measure LIMIT_S -- PROGRAM ARGS...`: runs PROGRAM with this
/// process's stdin, stdout, stderr and environment, kills it after LIMIT_S seconds, and
/// writes one line to fd 3: `exit E signal S maxrss KIB floor KIB utime S stime S`.
int spawn_and_measure(int argc, char** argv) {
  constexpr int report_fd = 3;
  if (argc < 5 || std::string_view(argv[3]) != "--") return 125;
  if (fcntl(report_fd, F_SETFD, FD_CLOEXEC) != 0) return 125;  // not for the measured program
  const long limit = std::strtol(argv[2], nullptr, 10);
  // What the measured program could inherit at exec: this address space's high-water
  // RSS (VmHWM). Not our own ru_maxrss, which posix_spawn seeded with the bench's peak.
  long floor_kib = -1;
  if (std::FILE* status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, status))
      if (std::sscanf(line, "VmHWM: %ld kB", &floor_kib) == 1) break;
    std::fclose(status);
  }

  struct sigaction on_alarm {};
  on_alarm.sa_handler = kill_measured;
  sigaction(SIGALRM, &on_alarm, nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[4], nullptr, nullptr, argv + 4, environ);
  if (spawned != 0) {
    dprintf(report_fd, "spawn_error %d\n", spawned);
    return 1;
  }
  g_measured_pid = pid;
  alarm(static_cast<unsigned>(std::clamp(limit, 1L, 3600L)));
  // Drop our copies of the pipes: the bench sees EOF when the measured program exits.
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2 && null_fd >= 0; ++fd) dup2(null_fd, fd);

  int status = 0;
  rusage usage{};
  pid_t waited = -1;
  do {
    waited = wait4(pid, &status, 0, &usage);
  } while (waited < 0 && errno == EINTR);
  alarm(0);
  const int exit_code = waited == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const int signal_number = waited == pid && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  dprintf(report_fd, "exit %d signal %d maxrss %ld floor %ld utime %ld.%06ld stime %ld.%06ld\n", exit_code, signal_number,
          usage.ru_maxrss, floor_kib, static_cast<long>(usage.ru_utime.tv_sec),
          static_cast<long>(usage.ru_utime.tv_usec), static_cast<long>(usage.ru_stime.tv_sec),
          static_cast<long>(usage.ru_stime.tv_usec));
  return 0;
}

ChildRun run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& input,
                   std::chrono::seconds limit) {
  int in_pipe[2], out_pipe[2], err_pipe[2], report_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(report_pipe, O_CLOEXEC) != 0)
    die(std::string("pipe2: ") + std::strerror(errno));

  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) die("cannot find this program: " + ec.message());
  std::vector<std::string> full = {self, "--spawn-and-measure", std::to_string(limit.count()), "--"};
  full.insert(full.end(), argv.begin(), argv.end());

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&actions, report_pipe[1], 3);
  std::vector<char*> c_argv, c_env;
  for (const auto& a : full) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : env) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  ChildRun run;
  rusage bench_before{}, bench_after{};
  getrusage(RUSAGE_SELF, &bench_before);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  for (int fd : {in_pipe[0], out_pipe[1], err_pipe[1], report_pipe[1]}) close(fd);
  if (spawned != 0) die("cannot start " + self + ": " + std::strerror(spawned));

  int in_fd = in_pipe[1], out_fd = out_pipe[0], err_fd = err_pipe[0], report_fd = report_pipe[0];
  set_nonblocking(in_fd);
  std::size_t written = 0;
  std::optional<Clock::time_point> first_byte;
  if (input.empty()) {
    first_byte = Clock::now();  // nothing to write: the run starts now
    close(in_fd);
    in_fd = -1;
  }
  // The measurer enforces `limit`; this one only guards against the measurer itself hanging.
  const auto deadline = Clock::now() + limit + 10s;
  char buffer[65536];
  while (out_fd >= 0 || err_fd >= 0 || report_fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) {
      kill(pid, SIGKILL);  // our own child, by its id
      run.killed = true;
      break;
    }
    pollfd fds[4];
    nfds_t n = 0;
    auto watch = [&](int fd, short events) {
      if (fd < 0) return -1;
      fds[n] = pollfd{fd, events, 0};
      return static_cast<int>(n++);
    };
    const int in_index = watch(in_fd, POLLOUT);
    const int out_index = watch(out_fd, POLLIN), err_index = watch(err_fd, POLLIN), report_index = watch(report_fd, POLLIN);
    const int ready = poll(fds, n, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) die(std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) continue;
    if (in_index >= 0 && fds[in_index].revents != 0) {
      if (!first_byte) first_byte = Clock::now();
      const std::size_t chunk = std::min<std::size_t>(input.size() - written, sizeof buffer);
      const ssize_t w = write(in_fd, input.data() + written, chunk);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        close(in_fd);  // EOF: the child finishes what it has and exits
        in_fd = -1;
      }
    }
    for (auto [index, fd, sink] : {std::tuple{out_index, &out_fd, &run.out}, std::tuple{err_index, &err_fd, &run.err},
                                   std::tuple{report_index, &report_fd, &run.report}}) {
      if (index < 0 || fds[index].revents == 0) continue;
      const ssize_t r = read(*fd, buffer, sizeof buffer);
      if (r > 0) {
        sink->append(buffer, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(*fd);
        *fd = -1;
      }
    }
  }
  // The report is written right after the measured program's wait4() returned.
  run.wall_ms = ms_since(first_byte.value_or(Clock::now()));
  getrusage(RUSAGE_SELF, &bench_after);
  run.bench_cpu_s = cpu_seconds(bench_after) - cpu_seconds(bench_before);
  for (int fd : {in_fd, out_fd, err_fd, report_fd})
    if (fd >= 0) close(fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  double user = 0, sys = 0;
  if (std::sscanf(run.report.c_str(), "exit %d signal %d maxrss %ld floor %ld utime %lf stime %lf", &run.exit_code,
                  &run.signal, &run.max_rss_kib, &run.floor_kib, &user, &sys) == 6) {
    run.user_s = user;
    run.system_s = sys;
    run.killed = run.killed || run.signal == SIGKILL;
  } else {
    run.exit_code = -1;
  }
  return run;
}
}  // namespace expbridge::bench
