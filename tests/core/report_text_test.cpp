// Text reports for people: one line per request, one line per backend for its skipped fields,
// and each skip reason printed once per run (JSON keeps every reason in every report).
#include <gtest/gtest.h>

#include <string>

#include "expbridge/apply.hpp"
#include "expbridge/plan.hpp"

#include <boost/json/serialize.hpp>

namespace expbridge {
namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

UpdateReport report_with_skips(std::string source) {
  UpdateReport r;
  r.source = std::move(source);
  r.experiment = "checkout-redesign";
  for (const char* name : {"ld", "ld2"}) {
    BackendReport b;
    b.backend = name;
    b.vendor = "fake";
    b.result = BackendOutcome::skipped;
    b.skipped = {{"exposure", "no exposure at this vendor"}, {"comment", "no audit note"}};
    r.backends.push_back(std::move(b));
  }
  return r;
}

TEST(ReportText, SkipsAreOneLinePerBackendAndEachReasonIsPrintedOncePerRun) {
  SkipReasonIndex reasons;
  const std::string first = report_to_text(report_with_skips("u1.yaml"), &reasons);
  EXPECT_NE(first.find("  ld        skips exposure [1], comment [2]\n"), std::string::npos) << first;
  EXPECT_NE(first.find("  ld2       skips exposure [1], comment [2]\n"), std::string::npos) << first;
  EXPECT_EQ(count(first, "no exposure at this vendor"), 1u) << first;
  EXPECT_NE(first.find("[1] no exposure at this vendor"), std::string::npos) << first;

  const std::string second = report_to_text(report_with_skips("u2.yaml"), &reasons);
  EXPECT_NE(second.find("skips exposure [1], comment [2]"), std::string::npos) << second;
  EXPECT_EQ(second.find("no exposure at this vendor"), std::string::npos) << "printed again:\n" << second;

  // Without a run's index, a report stands alone and prints its reasons.
  EXPECT_EQ(count(report_to_text(report_with_skips("u3.yaml")), "no audit note"), 1u);
  // JSON keeps every reason with every backend.
  const std::string json = boost::json::serialize(report_to_json(report_with_skips("u4.yaml")));
  EXPECT_EQ(count(json, "no exposure at this vendor"), 2u) << json;
}

TEST(ReportText, PlanTextListsSkipsOnOneLineAndTheReasonsAfter) {
  Plan plan;
  plan.experiment = "checkout-redesign";
  BackendPlan b;
  b.backend = "aws";
  b.vendor = "fake";
  b.skipped = {{"name", "the name is fixed"}, {"comment", "no audit note"}};
  plan.backends.push_back(b);
  b.backend = "ev";
  b.skipped = {{"comment", "no audit note"}};
  plan.backends.push_back(b);
  const std::string text = plan_to_text(plan);
  EXPECT_NE(text.find("  skipped: name [1], comment [2]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  skipped: comment [2]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("why fields are skipped:\n  [1] the name is fixed\n  [2] no audit note\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace expbridge
