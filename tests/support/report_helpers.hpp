// expbridge tests — reading an UpdateReport in assertions and failure messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "expbridge/apply.hpp"

namespace expbridge::test {

/// An error for a failure message, or "(no error)".
inline std::string error_text(const std::optional<Error>& e) { return e ? e->describe() : std::string("(no error)"); }

/// The report of backend `name`; a test failure (and an empty report) when there is none.
inline const BackendReport& backend_of(const UpdateReport& report, std::string_view name) {
  for (const auto& b : report.backends)
    if (b.backend == name) return b;
  static const BackendReport none{};
  ADD_FAILURE() << "no report for backend " << name;
  return none;
}

/// Everything about a report, for failure messages.
inline std::string dump(const UpdateReport& report) { return boost::json::serialize(report_to_json(report)); }

}  // namespace expbridge::test
