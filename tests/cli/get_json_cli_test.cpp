// `expbridge get --format json`: each backend's read says how many round trips it took, the figure
// a read hint shortens, for a failed read too.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "support/cli_sandbox.hpp"
#include "support/emulated_vendors.hpp"

namespace expbridge {
namespace {

class GetJson : public ::testing::Test {
 protected:
  void SetUp() override { sandbox_.write("config.yaml", vendors_.config()); }
  /// `get` of checkout-redesign as JSON: its backends by name.
  std::map<std::string, boost::json::object> get(int expected_exit) {
    const test::CliRun r = sandbox_.run("get --config config.yaml checkout-redesign --format json", "", env_);
    EXPECT_EQ(r.exit_code, expected_exit) << r.err << r.out;
    std::map<std::string, boost::json::object> out;
    const boost::json::value report = boost::json::parse(r.out);
    for (const auto& b : report.at("backends").as_array())
      out[std::string(b.at("backend").as_string())] = b.as_object();
    return out;
  }

  test::EmulatedVendors vendors_;

 private:
  std::map<std::string, std::string> env_ = test::apply_test_environment();
  test::CliSandbox sandbox_{"get-json"};
};

TEST_F(GetJson, EachBackendsReadSaysItsRoundTrips) {
  const auto backends = get(0);
  ASSERT_EQ(backends.size(), test::kApplyBackends.size());
  // A new process has no hint: where one answer names the next resource, that is a second trip.
  const std::map<std::string, std::int64_t> expected = {
      {"aws", 1},  // the pinned run is asked with its definition
      {"ld", 2},   // the experiment, then the flag its iteration runs on
      {"a0", 2},   // the experiment, then its flag and the flag's variations
      {"ev", 1},   // the feature names its experiment in the same answer
  };
  for (const auto& [backend, trips] : expected) {
    SCOPED_TRACE(backend);
    ASSERT_TRUE(backends.at(backend).contains("round_trips")) << boost::json::serialize(backends.at(backend));
    EXPECT_EQ(backends.at(backend).at("round_trips").as_int64(), trips);
    EXPECT_LE(static_cast<std::size_t>(trips), vendors_.state_reads(backend).size()) << "more trips than GETs";
  }
}

TEST_F(GetJson, AFailedReadSaysTheRoundTripsItTookBeforeItFailed) {
  // A 403 is no transient failure: the first step's answer ends the read.
  vendors_.set_faults(R"([{"vendor": "launchdarkly", "status": 403}])");
  const auto backends = get(1);
  const auto& ld = backends.at("ld");
  ASSERT_TRUE(ld.contains("error")) << boost::json::serialize(ld);
  ASSERT_TRUE(ld.contains("round_trips")) << boost::json::serialize(ld);
  EXPECT_EQ(ld.at("round_trips").as_int64(), 1);
  EXPECT_EQ(backends.at("ev").at("round_trips").as_int64(), 1) << "the other backends are read as ever";
}

}  // namespace
}  // namespace expbridge
