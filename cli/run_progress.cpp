#include "run_progress.hpp"

#include <cmath>
#include <cstdio>

namespace expbridge::cli {
namespace {

std::string seconds_text(double s) {
  char text[32];
  if (s < 100) std::snprintf(text, sizeof text, "%.1f s", s);
  else std::snprintf(text, sizeof text, "%.0f s", s);
  return text;
}

}  // namespace

std::string progress_text(std::size_t done, std::optional<std::size_t> total, std::size_t failed, double elapsed_s,
                          const std::vector<BackendPacing>& pacing, std::string_view unit) {
  std::string out = std::to_string(done);
  if (total) {
    out += "/" + std::to_string(*total) + " " + std::string(unit);
    if (*total > 0) out += " (" + std::to_string(done * 100 / *total) + "%)";
  } else {
    out += " " + std::string(unit);
  }
  out += ", " + std::to_string(failed) + " failed";
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0;
  char text[32];
  std::snprintf(text, sizeof text, ", %.1f/s", rate);
  out += text;
  if (total && rate > 0 && done <= *total) out += ", ETA " + seconds_text(static_cast<double>(*total - done) / rate);
  std::string waits;
  for (const auto& b : pacing) {
    if (b.paused_ms <= 0) continue;
    waits += (waits.empty() ? "" : ", ") + b.backend + " " + seconds_text(b.paused_ms / 1000) + " (" +
             std::to_string(b.pauses) + (b.pauses == 1 ? " pause)" : " pauses)");
  }
  if (!waits.empty()) out += "; rate-limit waits: " + waits;
  return out;
}

std::string rate_limit_summary(const std::vector<BackendPacing>& pacing) {
  std::string out;
  for (const auto& b : pacing) {
    if (b.paused_ms <= 0 && b.throttled == 0) continue;
    out += (out.empty() ? "rate-limit waits: " : "; ") + b.backend + " paused " + seconds_text(b.paused_ms / 1000) +
           " in " + std::to_string(b.pauses) + (b.pauses == 1 ? " pause" : " pauses") + " (" +
           std::to_string(b.throttled) + (b.throttled == 1 ? " throttled answer)" : " throttled answers)");
  }
  return out;
}

RunProgress::RunProgress(std::ostream& out, bool live, std::chrono::milliseconds plain_every,
                         std::optional<std::size_t> total, std::string unit)
    : out_(out), live_(live), plain_every_(plain_every), total_(total), unit_(std::move(unit)), last_(started_) {}

void RunProgress::update(std::size_t done, std::size_t failed, const std::vector<BackendPacing>& pacing) {
  const auto now = Clock::now();
  const auto every = live_ ? live_every : plain_every_;
  if (!live_ && plain_every_.count() <= 0) return;
  if (now - last_ < every) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  const std::string text = "progress: " + progress_text(done, total_, failed, elapsed, pacing, unit_);
  if (live_) {
    // Back to the line's start and clear it: the line is redrawn in place.
    out_ << "\r\x1b[K" << text << std::flush;
    drawn_ = true;
  } else {
    out_ << "expbridge: " << text << "\n" << std::flush;
  }
}

void RunProgress::clear() {
  if (!live_ || !drawn_) return;
  out_ << "\r\x1b[K" << std::flush;
  drawn_ = false;
}

void RunProgress::finish(std::size_t done, std::size_t failed, const std::vector<BackendPacing>& pacing) {
  if (!live_) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
  out_ << "\r\x1b[K" << "progress: " << progress_text(done, total_, failed, elapsed, pacing, unit_) << "\n" << std::flush;
  drawn_ = false;
}

}  // namespace expbridge::cli
