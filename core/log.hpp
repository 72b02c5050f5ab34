// The library's logger: spdlog logger "expbridge" on stderr, warnings and up unless the
// application changes its level (the CLI's -v sets debug). Never give it a secret.
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace expbridge {

std::shared_ptr<spdlog::logger> logger();

}  // namespace expbridge
