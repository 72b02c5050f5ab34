// How fast one backend is sent to: adaptive concurrency, a backend-wide pause when the vendor
// throttles, and an optional rate cap. One per backend, shared by every update in flight.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace expbridge::apply {

/// What a backend's pacing did over a run (the report's per-backend waits).
struct PacingFigures {
  double paused_ms = 0;         ///< wall time the backend was paused for rate limits (overlaps merged)
  std::int64_t pauses = 0;      ///< pauses begun (a throttled answer, or a budget that ran out)
  std::int64_t throttled = 0;   ///< throttled answers (429, a throttling code)
  int concurrency = 0;          ///< requests allowed in flight now
  int most_concurrency = 0;     ///< the most it allowed at once
};

/// Admission to one backend. A request holds a `Permit` while it is on the wire; a permit is
/// granted (first come, first served) when the backend is not paused, fewer than
/// `concurrency` permits are out, and the rate cap's next slot has come.
///
/// Adaptive (`Settings::adaptive`): concurrency starts at `start`, grows by one each time
/// `concurrency` answers in a row succeed without pressure — at once while the vendor's budget
/// headers show more than twice the room — up to `ceiling`; it falls to what the budget shows
/// left, and halves on a throttled answer that names no wait. A throttled answer pauses the whole backend for the
/// wait given; a budget that reads 0 pauses it until the window's reset, before the vendor has
/// to refuse. Fixed: `start` permits throughout, never paused (the caller spends attempts).
class BackendPacer {
 public:
  using Clock = std::chrono::steady_clock;

  struct Settings {
    int start = 1;
    int ceiling = 1;
    bool adaptive = true;
    double per_second = 0;  ///< the rate cap; 0 = none
  };

  BackendPacer(boost::asio::any_io_executor executor, Settings settings);
  BackendPacer(const BackendPacer&) = delete;
  BackendPacer& operator=(const BackendPacer&) = delete;

  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept : pacer_(std::exchange(other.pacer_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        release();
        pacer_ = std::exchange(other.pacer_, nullptr);
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { release(); }
    void release() noexcept {
      if (auto* pacer = std::exchange(pacer_, nullptr)) pacer->release();
    }

   private:
    friend class BackendPacer;
    explicit Permit(BackendPacer* pacer) noexcept : pacer_(pacer) {}
    BackendPacer* pacer_ = nullptr;
  };

  /// Waits for a permit; nothing when `deadline` comes first (the waiter leaves the queue).
  boost::asio::awaitable<std::optional<Permit>> acquire(Clock::time_point deadline);

  /// A successful answer, with what the vendor's budget headers said (absent: unknown).
  void succeeded(std::optional<std::int64_t> remaining, std::optional<std::chrono::milliseconds> reset_in);
  /// A throttled answer: the whole backend pauses for `wait` (from now). Without the vendor's
  /// word on when (`vendor_signal` false: backoff), the throttle is all there is to go by, and
  /// concurrency halves; with it, the pause is the remedy and concurrency stays (the budget
  /// headers still bound it).
  void throttled(std::chrono::milliseconds wait, bool vendor_signal);

  bool adaptive() const { return settings_.adaptive; }
  /// Throttled answers in a row (reset by a success): the backoff exponent when the vendor names no wait.
  int throttle_streak() const { return streak_; }
  /// When the backend may send again (≤ now when it is not paused).
  Clock::time_point paused_until() const { return paused_until_; }
  PacingFigures figures() const;

 private:
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    bool granted = false;
  };

  void release() noexcept;
  void pause_until(Clock::time_point until);
  /// Grants what can be granted now, and arms the wake-up for the next moment something may be.
  void pump() noexcept;

  boost::asio::any_io_executor executor_;
  Settings settings_;
  int concurrency_;
  int most_concurrency_;
  int out_ = 0;  ///< permits held
  int successes_ = 0;  ///< in a row since concurrency last changed
  int streak_ = 0;
  Clock::time_point paused_until_{};
  Clock::time_point next_slot_{};  ///< the rate cap's next send
  std::chrono::nanoseconds slot_{0};
  std::deque<std::shared_ptr<Waiter>> waiters_;
  boost::asio::steady_timer wake_;
  Clock::time_point wake_at_ = Clock::time_point::max();
  double paused_ms_ = 0;
  std::int64_t pauses_ = 0, throttled_ = 0;
};

}  // namespace expbridge::apply
