// Coordination between coroutines on one single-threaded io_context.
#pragma once

#include <deque>
#include <memory>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace expbridge::apply {

/// A counting semaphore for coroutines; waiters are served first come, first served,
/// so tasks that queue in input order also run in input order.
class AsyncSemaphore {
 public:
  AsyncSemaphore(boost::asio::any_io_executor executor, int permits)
      : executor_(std::move(executor)), permits_(permits), initial_permits_(permits) {}

  /// No permit held and nobody waiting: the semaphore may be dropped.
  bool idle() const noexcept { return waiters_.empty() && permits_ == initial_permits_; }

  /// One permit held: given back when the `Permit` is destroyed (or by `release()`, for
  /// code that must let go before its scope ends), on every path — a `co_return`, an early
  /// return, an exception. Move-only; the semaphore must outlive it.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept : semaphore_(std::exchange(other.semaphore_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        release();
        semaphore_ = std::exchange(other.semaphore_, nullptr);
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { release(); }

    /// Gives the permit back now; later calls (and the destructor) do nothing.
    void release() noexcept {
      if (auto* semaphore = std::exchange(semaphore_, nullptr)) semaphore->release();
    }
    bool held() const noexcept { return semaphore_ != nullptr; }

   private:
    friend class AsyncSemaphore;
    explicit Permit(AsyncSemaphore* semaphore) noexcept : semaphore_(semaphore) {}
    AsyncSemaphore* semaphore_ = nullptr;
  };

  /// Waits for a permit (first come, first served) and returns it as a guard.
  boost::asio::awaitable<Permit> scoped_acquire() {
    co_await acquire();
    co_return Permit(this);
  }

  boost::asio::awaitable<void> acquire() {
    if (permits_ > 0 && waiters_.empty()) {
      --permits_;
      co_return;
    }
    auto timer = std::make_shared<boost::asio::steady_timer>(executor_, boost::asio::steady_timer::time_point::max());
    waiters_.push_back(timer);
    // release() cancels the timer to hand over its permit; the "operation aborted" is the signal.
    co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  // Prefer `scoped_acquire`: a bare acquire() must be paired with release() on every path.
  void release() noexcept {
    if (waiters_.empty()) {
      ++permits_;
      return;
    }
    auto next = std::move(waiters_.front());
    waiters_.pop_front();
    // noexcept because Permit's destructor calls it: cancel() reports failures of the timer
    // service only, which a steady_timer's does not have.
    next->cancel();
  }

 private:
  boost::asio::any_io_executor executor_;
  int permits_;
  int initial_permits_ = 0;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

/// Waits for a number of spawned tasks to finish (one waiter).
class WaitGroup {
 public:
  explicit WaitGroup(boost::asio::any_io_executor executor)
      : timer_(std::make_shared<boost::asio::steady_timer>(executor, boost::asio::steady_timer::time_point::max())) {}

  void add(int n = 1) { count_ += n; }
  void done() {
    if (--count_ == 0) timer_->cancel();
  }
  boost::asio::awaitable<void> wait() {
    while (count_ > 0) co_await timer_->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

 private:
  int count_ = 0;
  std::shared_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace expbridge::apply
