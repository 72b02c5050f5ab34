// Coordination between coroutines on one single-threaded io_context.
#pragma once

#include <deque>
#include <memory>

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
  AsyncSemaphore(boost::asio::any_io_executor executor, int permits) : executor_(std::move(executor)), permits_(permits) {}

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

  void release() {
    if (waiters_.empty()) {
      ++permits_;
      return;
    }
    auto next = std::move(waiters_.front());
    waiters_.pop_front();
    next->cancel();
  }

 private:
  boost::asio::any_io_executor executor_;
  int permits_;
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
