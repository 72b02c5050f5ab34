#include "log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "secrets.hpp"

namespace expbridge {
namespace {

// Formats with the wrapped pattern, then masks secrets in the finished line: every log
// line leaves through a formatter, whatever a message's arguments held.
class ScrubbingFormatter final : public spdlog::formatter {
 public:
  explicit ScrubbingFormatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t formatted;
    inner_->format(msg, formatted);
    const std::string scrubbed = secrets::scrub(std::string_view(formatted.data(), formatted.size()));
    dest.append(scrubbed.data(), scrubbed.data() + scrubbed.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<ScrubbingFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

}  // namespace

std::shared_ptr<spdlog::logger> logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto existing = spdlog::get("expbridge");
    if (!existing) {
      existing = spdlog::stderr_color_mt("expbridge");
      existing->set_level(spdlog::level::warn);
    }
    // Also on a logger the application registered under our name: its lines carry our
    // messages, so they get the same guarantee. (Its pattern is replaced by ours.)
    existing->set_formatter(std::make_unique<ScrubbingFormatter>(std::make_unique<spdlog::pattern_formatter>("%^%l%$ %v")));
    return existing;
  }();
  return instance;
}

}  // namespace expbridge
