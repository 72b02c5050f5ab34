#include "log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace expbridge {

std::shared_ptr<spdlog::logger> logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    if (auto existing = spdlog::get("expbridge")) return existing;
    auto created = spdlog::stderr_color_mt("expbridge");
    created->set_level(spdlog::level::warn);
    created->set_pattern("%^%l%$ %v");
    return created;
  }();
  return instance;
}

}  // namespace expbridge
