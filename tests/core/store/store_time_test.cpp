// The times every journal row carries: RFC 3339 UTC with milliseconds, from the system clock.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <thread>

#include "store/store_backends.hpp"

namespace expbridge {
namespace {

/// Milliseconds since the epoch of a `now_utc()` text.
std::int64_t epoch_millis(const std::string& text) {
  std::tm tm{};
  EXPECT_NE(strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr) << text;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + std::stoi(text.substr(20, 3));
}

std::int64_t clock_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

TEST(StoreTime, NowIsRfc3339UtcWithMillisecondsAndFollowsTheClockAcrossSeconds) {
  const std::regex shape(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::int64_t previous = 0;
  // Long enough to cross at least one second boundary, where the cached date and time change.
  for (int i = 0; i < 60; ++i) {
    const std::int64_t before = clock_millis();
    const std::string now = store_detail::now_utc();
    const std::int64_t after = clock_millis();
    ASSERT_TRUE(std::regex_match(now, shape)) << now;
    const std::int64_t at = epoch_millis(now);
    EXPECT_LE(before, at) << now;
    EXPECT_LE(at, after) << now;
    EXPECT_LE(previous, at) << now;
    previous = at;
    std::this_thread::sleep_for(std::chrono::milliseconds(23));
  }
}

}  // namespace
}  // namespace expbridge
