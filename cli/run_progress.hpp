// Progress of a long `apply` on standard error: a live line on a terminal, plain lines every
// few seconds otherwise. Updated as reports come in; what it prints is what the run knows.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "expbridge/apply.hpp"

namespace expbridge::cli {

/// "1200/10000 updates (12%), 3 failed, 240.0/s, ETA 36 s; rate-limit waits: ld 1.2 s (4 pauses)".
/// Without a total: "1200 updates, ..." and no ETA. Backends that never paused are left out.
/// `unit`: what is counted ("updates"; migrate counts "entries").
std::string progress_text(std::size_t done, std::optional<std::size_t> total, std::size_t failed, double elapsed_s,
                          const std::vector<BackendPacing>& pacing, std::string_view unit = "updates");

/// The rate-limit waits of a run, for its summary: "rate-limit waits: ld paused 1.2 s in 4
/// pauses (9 throttled answers)", or empty when no backend paused or was throttled.
std::string rate_limit_summary(const std::vector<BackendPacing>& pacing);

class RunProgress {
 public:
  using Clock = std::chrono::steady_clock;
  /// `live`: one line redrawn in place (a terminal), at most every `live_every`; else a plain
  /// line every `plain_every` (zero: none).
  RunProgress(std::ostream& out, bool live, std::chrono::milliseconds plain_every, std::optional<std::size_t> total,
              std::string unit = "updates");

  /// A report came in; prints when it is time to.
  void update(std::size_t done, std::size_t failed, const std::vector<BackendPacing>& pacing);
  /// Takes the live line off the screen (before other output on the same terminal); it comes
  /// back with the next update that is due.
  void clear();
  /// Ends the live line (the last state stays on screen), or prints nothing more when plain.
  void finish(std::size_t done, std::size_t failed, const std::vector<BackendPacing>& pacing);

 private:
  static constexpr std::chrono::milliseconds live_every{250};
  std::ostream& out_;
  bool live_;
  std::chrono::milliseconds plain_every_;
  std::optional<std::size_t> total_;
  std::string unit_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_{};
  bool drawn_ = false;
};

}  // namespace expbridge::cli
