#include "apply/backend_pacer.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace expbridge::apply {
namespace asio = boost::asio;

BackendPacer::BackendPacer(asio::any_io_executor executor, Settings settings)
    : executor_(executor),
      settings_(settings),
      concurrency_(std::max(1, settings.start)),
      most_concurrency_(concurrency_),
      wake_(executor) {
  settings_.ceiling = std::max(settings_.ceiling, concurrency_);
  if (settings_.per_second > 0)
    slot_ = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / settings_.per_second));
}

asio::awaitable<std::optional<BackendPacer::Permit>> BackendPacer::acquire(Clock::time_point deadline) {
  auto waiter = std::make_shared<Waiter>(executor_);
  waiters_.push_back(waiter);
  pump();
  if (!waiter->granted) {
    // pump() cancels the timer to grant; running out is the deadline.
    waiter->timer.expires_at(deadline);
    co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!waiter->granted) {
    std::erase(waiters_, waiter);
    co_return std::nullopt;
  }
  co_return Permit(this);
}

void BackendPacer::release() noexcept {
  --out_;
  pump();
}

void BackendPacer::pump() noexcept {
  // Timer calls only fail when the timer service does, which a steady_timer's does not: a
  // permit's destructor calls this, so nothing may escape.
  try {
    while (!waiters_.empty() && out_ < concurrency_) {
      const auto now = Clock::now();
      const auto ready = std::max(paused_until_, next_slot_);
      if (now < ready) {
        if (ready < wake_at_) {
          wake_at_ = ready;
          wake_.expires_at(ready);
          wake_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;  // re-armed earlier or the pacer is going: the new wait pumps
            wake_at_ = Clock::time_point::max();
            pump();
          });
        }
        return;
      }
      auto next = std::move(waiters_.front());
      waiters_.pop_front();
      ++out_;
      // Idle time does not bank slots: the cap holds over any stretch, not just on average.
      if (slot_.count() > 0) next_slot_ = std::max(now, next_slot_) + slot_;
      next->granted = true;
      next->timer.cancel();
    }
  } catch (...) {
  }
}

void BackendPacer::pause_until(Clock::time_point until) {
  const auto now = Clock::now();
  if (until <= now) return;
  if (until > paused_until_) {
    const auto from = std::max(now, paused_until_);
    paused_ms_ += std::chrono::duration<double, std::milli>(until - from).count();
    if (paused_until_ <= now) ++pauses_;
    paused_until_ = until;
  }
  pump();
}

void BackendPacer::succeeded(std::optional<std::int64_t> remaining, std::optional<std::chrono::milliseconds> reset_in) {
  streak_ = 0;
  if (!settings_.adaptive) return;
  auto grow = [this] {
    if (concurrency_ >= settings_.ceiling) return;
    ++concurrency_;
    most_concurrency_ = std::max(most_concurrency_, concurrency_);
    successes_ = 0;
    pump();
  };
  if (remaining) {
    // The window is spent: wait for its reset rather than meet a 429.
    if (*remaining == 0 && reset_in) {
      pause_until(Clock::now() + *reset_in);
      return;
    }
    if (*remaining < concurrency_) {
      concurrency_ = std::max<int>(1, static_cast<int>(*remaining));
      successes_ = 0;
      return;
    }
    if (*remaining > 2 * static_cast<std::int64_t>(concurrency_)) {
      grow();
      return;
    }
    return;  // room for what is in flight, not much more
  }
  if (++successes_ >= concurrency_) grow();
}

void BackendPacer::throttled(std::chrono::milliseconds wait, bool vendor_signal) {
  ++throttled_;
  ++streak_;
  if (!settings_.adaptive) return;
  // Requests already in flight meet the same refusal: only the first of a pause halves.
  if (!vendor_signal && paused_until_ <= Clock::now()) {
    concurrency_ = std::max(1, concurrency_ / 2);
    successes_ = 0;
  }
  pause_until(Clock::now() + wait);
}

PacingFigures BackendPacer::figures() const {
  return PacingFigures{paused_ms_, pauses_, throttled_, concurrency_, most_concurrency_};
}

}  // namespace expbridge::apply
