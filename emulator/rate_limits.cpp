#include "emulator/rate_limits.hpp"

#include <algorithm>
#include <cmath>

#include "json_reader.hpp"

namespace expbridge::emulator {

TokenBucket::TokenBucket(double per_second, double burst, WallClock::time_point now)
    : per_second_(per_second), burst_(burst), tokens_(burst), last_(now) {}

void TokenBucket::refill(WallClock::time_point now) {
  if (now <= last_) return;  // a clock that steps back refills nothing
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * per_second_);
  last_ = now;
}

bool TokenBucket::take(WallClock::time_point now) {
  refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

std::int64_t TokenBucket::remaining(WallClock::time_point now) {
  refill(now);
  return static_cast<std::int64_t>(std::floor(tokens_));
}

WallClock::time_point TokenBucket::next_token(WallClock::time_point now) {
  refill(now);
  if (tokens_ >= 1) return now;
  const double seconds = (1 - tokens_) / per_second_;
  return now + std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(seconds));
}

std::int64_t FixedWindows::window_index(WallClock::time_point now) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return ms / window_.count();
}

FixedWindows::Use FixedWindows::peek(const std::string& key, WallClock::time_point now) const {
  const auto index = window_index(now);
  Use use;
  use.reset = WallClock::time_point(std::chrono::milliseconds((index + 1) * window_.count()));
  std::int64_t used = 0;
  if (auto it = used_.find(key); it != used_.end() && it->second.first == index) used = it->second.second;
  use.remaining = std::max<std::int64_t>(0, limit_ - used);
  use.allowed = use.remaining > 0;
  return use;
}

FixedWindows::Use FixedWindows::take(const std::string& key, WallClock::time_point now) {
  Use use = peek(key, now);
  if (!use.allowed) return use;
  auto& [window, count] = used_[key];
  const auto index = window_index(now);
  if (window != index) {
    window = index;
    count = 0;
  }
  ++count;
  use.remaining = limit_ - count;
  return use;
}

Result<std::optional<TokenBucket>> parse_token_bucket(const boost::json::value& section, const std::string& path,
                                                      WallClock::time_point now) {
  if (section.is_null()) return std::optional<TokenBucket>{};
  auto reader = ObjectReader::open(section, path);
  if (!reader) return std::unexpected(std::move(reader).error());
  EXPBRIDGE_RETURN_IF_ERROR(reader->known({"per_second", "burst"}));
  std::optional<double> per_second, burst;
  EXPBRIDGE_ASSIGN_OR_RETURN(per_second, reader->optional_number("per_second"));
  EXPBRIDGE_ASSIGN_OR_RETURN(burst, reader->optional_number("burst"));
  if (!per_second) return std::unexpected(reader->missing("per_second", "is required: the requests a second the bucket refills"));
  if (!(*per_second > 0) || *per_second > 100000)
    return std::unexpected(reader->error("per_second", "must be above 0 and at most 100000"));
  if (burst && (!(*burst >= 1) || *burst > 1000000))
    return std::unexpected(reader->error("burst", "must be 1..1000000"));
  EXPBRIDGE_RETURN_IF_ERROR(reader->finish());
  return std::optional<TokenBucket>(TokenBucket(*per_second, burst.value_or(std::max(1.0, *per_second)), now));
}

Status AwsThrottling::configure(const boost::json::value& section, std::string_view vendor, WallClock::time_point now) {
  auto bucket = parse_token_bucket(section, "rate_limits." + std::string(vendor), now);
  if (!bucket) return std::unexpected(std::move(bucket).error());
  bucket_ = std::move(*bucket);
  return {};
}

RateVerdict AwsThrottling::admit(WallClock::time_point now) {
  RateVerdict verdict;
  if (bucket_ && !bucket_->take(now)) verdict.refusal = aws_error(status_, "ThrottlingException", "Rate exceeded");
  return verdict;
}

}  // namespace expbridge::emulator
