// BackendPacer on its own event loop: concurrency grows while answers succeed (at once while
// the budget shows room), falls to what the budget shows, halves on a throttle; a throttle or
// a spent budget pauses every waiter until the wait is over; the deadline frees a waiter; the
// rate cap spaces grants. Timing: lower bounds only.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "apply/backend_pacer.hpp"

namespace expbridge::apply {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = BackendPacer::Clock;

double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

/// Runs `count` acquisitions at once; each holds its permit for `hold`, and records when it got it
/// (nothing when the deadline came first).
std::vector<std::optional<Clock::time_point>> acquire_all(asio::io_context& io, BackendPacer& pacer, int count,
                                                          std::chrono::milliseconds deadline_in = 5s,
                                                          std::chrono::milliseconds hold = 0ms) {
  std::vector<std::optional<Clock::time_point>> granted(static_cast<std::size_t>(count));
  const auto deadline = Clock::now() + deadline_in;
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          auto permit = co_await pacer.acquire(deadline);
          if (!permit) co_return;
          granted[static_cast<std::size_t>(i)] = Clock::now();
          if (hold.count() > 0) {
            asio::steady_timer timer(io, hold);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          }
        },
        asio::detached);
  }
  io.restart();
  io.run_for(10s);  // bounded: every waiter has a deadline
  return granted;
}

TEST(BackendPacer, GrowsWhileAnswersSucceedUpToItsCeiling) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {1, 4, true, 0});
  EXPECT_EQ(pacer.figures().concurrency, 1);
  for (int i = 0; i < 20; ++i) pacer.succeeded(std::nullopt, std::nullopt);
  EXPECT_EQ(pacer.figures().concurrency, 4);
  EXPECT_EQ(pacer.figures().most_concurrency, 4);
  // Four at once, holding their permits: all four are granted without waiting for the others.
  const auto granted = acquire_all(io, pacer, 4, 5s, 100ms);
  for (const auto& g : granted) ASSERT_TRUE(g.has_value());
  for (const auto& g : granted) EXPECT_LT(ms_between(*granted[0], *g), 90.0) << "a permit waited for another";
}

TEST(BackendPacer, FollowsTheBudgetTheVendorShows) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {2, 16, true, 0});
  pacer.succeeded(100, std::nullopt);  // plenty of room: grow at once
  pacer.succeeded(100, std::nullopt);
  EXPECT_EQ(pacer.figures().concurrency, 4);
  pacer.succeeded(1, std::nullopt);  // one call left in the window
  EXPECT_EQ(pacer.figures().concurrency, 1);
  pacer.succeeded(2, std::nullopt);  // room for what is in flight, not more: stays
  EXPECT_EQ(pacer.figures().concurrency, 1);
  EXPECT_EQ(pacer.figures().pauses, 0);
}

TEST(BackendPacer, AThrottleNamingAWaitPausesWithoutHalving) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {8, 8, true, 0});
  pacer.throttled(50ms, true);
  EXPECT_EQ(pacer.figures().concurrency, 8) << "the vendor said when: the pause is the remedy";
  EXPECT_EQ(pacer.figures().pauses, 1);
}

TEST(BackendPacer, AThrottleWithoutAWaitHalvesConcurrencyAndPausesEveryWaiter) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {8, 8, true, 0});
  const auto throttled_at = Clock::now();
  pacer.throttled(200ms, false);
  pacer.throttled(200ms, false);  // an in-flight request meeting the same refusal: halves once
  EXPECT_EQ(pacer.figures().concurrency, 4);
  EXPECT_EQ(pacer.figures().throttled, 2);
  EXPECT_EQ(pacer.figures().pauses, 1);
  EXPECT_EQ(pacer.throttle_streak(), 2);
  const auto granted = acquire_all(io, pacer, 3);
  for (const auto& g : granted) {
    ASSERT_TRUE(g.has_value());
    EXPECT_GE(ms_between(throttled_at, *g), 195.0) << "a permit was granted during the pause";
  }
  EXPECT_GE(pacer.figures().paused_ms, 195.0);
  pacer.succeeded(std::nullopt, std::nullopt);
  EXPECT_EQ(pacer.throttle_streak(), 0);
}

TEST(BackendPacer, ASpentBudgetPausesUntilTheWindowResets) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {2, 16, true, 0});
  const auto spent_at = Clock::now();
  pacer.succeeded(0, 150ms);
  EXPECT_EQ(pacer.figures().pauses, 1);
  const auto granted = acquire_all(io, pacer, 1);
  ASSERT_TRUE(granted[0].has_value());
  EXPECT_GE(ms_between(spent_at, *granted[0]), 145.0);
}

TEST(BackendPacer, TheDeadlineFreesAWaiterBeforeThePauseEnds) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {1, 1, true, 0});
  pacer.throttled(5s, true);
  const auto granted = acquire_all(io, pacer, 2, 100ms);
  EXPECT_FALSE(granted[0].has_value());
  EXPECT_FALSE(granted[1].has_value());
}

TEST(BackendPacer, FixedConcurrencyNeverPausesNorChanges) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {2, 2, false, 0});
  pacer.throttled(5s, false);
  for (int i = 0; i < 10; ++i) pacer.succeeded(100, std::nullopt);
  pacer.succeeded(0, 5s);
  EXPECT_EQ(pacer.figures().concurrency, 2);
  EXPECT_EQ(pacer.figures().throttled, 1);
  EXPECT_EQ(pacer.figures().pauses, 0);
  const auto granted = acquire_all(io, pacer, 2, 1s);
  EXPECT_TRUE(granted[0].has_value() && granted[1].has_value());
}

TEST(BackendPacer, ConcurrencyBoundsThePermitsOut) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {2, 2, true, 0});
  const auto granted = acquire_all(io, pacer, 3, 5s, 100ms);
  for (const auto& g : granted) ASSERT_TRUE(g.has_value());
  EXPECT_GE(ms_between(*granted[0], *granted[2]), 95.0) << "the third was granted while two were out";
}

TEST(BackendPacer, TheRateCapSpacesGrants) {
  asio::io_context io;
  BackendPacer pacer(io.get_executor(), {8, 8, true, 50});  // 50/s: one every 20 ms
  const auto granted = acquire_all(io, pacer, 6);
  for (const auto& g : granted) ASSERT_TRUE(g.has_value());
  EXPECT_GE(ms_between(*granted[0], *granted[5]), 5 * 20.0 - 2);
}

}  // namespace
}  // namespace expbridge::apply
