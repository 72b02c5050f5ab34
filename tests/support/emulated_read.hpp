// expbridge tests — one backend on the vendor emulators, applied to and read back: the harness the
// vendors' read tests (adapters/<vendor>/<vendor>_read_test.cpp) share.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "emulator/emulator.hpp"
#include "emulator/fixtures.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "experiment_codec.hpp"
#include "json_writer.hpp"

namespace expbridge::test {

inline bool has(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

/// The operations a read sent, in order.
inline std::vector<std::string> operations(const BackendRead& read) {
  std::vector<std::string> out;
  for (const auto& r : read.requests) out.push_back(r.request.operation);
  return out;
}

/// One backend's read of `experiment` through `applier` (kept, so its read hints are), with the
/// requests `host` received meanwhile: what the read says it sent is checked against the wire.
struct ObservedRead {
  BackendRead read;
  std::vector<emulator::EmulatorHost::Received> received;
};
inline ObservedRead observed_read(Applier& applier, const emulator::EmulatorHost& host,
                                  const std::string& experiment = "checkout-redesign") {
  const std::size_t before = host.received_requests().size();
  ReadReport report = applier.read(experiment);
  ObservedRead out;
  EXPECT_EQ(report.backends.size(), 1u) << write_json(read_report_to_json(report), 2);
  if (!report.backends.empty()) out.read = std::move(report.backends.front());
  EXPECT_TRUE(out.read.state) << write_json(read_report_to_json(report), 2);
  auto received = host.received_requests();
  out.received.assign(received.begin() + static_cast<std::ptrdiff_t>(std::min(before, received.size())), received.end());
  // Nothing reached the vendor that the read does not report (an auth token aside).
  std::size_t gets = 0;
  for (const auto& r : out.received) gets += r.request.method == "GET" ? 1 : 0;
  EXPECT_EQ(gets, out.read.requests.size());
  return out;
}

/// Expects `read` to hold what `expected` does: every neutral field, the status, the vendor ids
/// and the adapter's detail (what a plan on it would use).
inline void expect_same_state(const VendorState& read, const VendorState& expected) {
  EXPECT_EQ(write_json(experiment_state_json(read.experiment)), write_json(experiment_state_json(expected.experiment)));
  EXPECT_EQ(read.experiment.status, expected.experiment.status);
  EXPECT_EQ(read.experiment.vendor_ids, expected.experiment.vendor_ids);
  EXPECT_EQ(read.detail, expected.detail);
}

/// A fixture for one backend named `backend_` with experiment `checkout-redesign` bound at it.
class EmulatedRead : public ::testing::Test {
 protected:
  /// Starts the emulators on `fixture` (null: the default fixtures).
  void start_host(boost::json::value fixture = nullptr) {
    auto host = emulator::EmulatorHost::start({.port = 0, .fixture = std::move(fixture)});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
  }

  /// Backend `backend_` = `{<settings>, endpoint: the host}`, the experiment bound as `binding`.
  void connect_backend(std::string_view settings, std::string_view binding) {
    if (!host_) start_host();
    const std::string config = "backends:\n  " + backend_ + ": {" + std::string(settings) + ", endpoint: \"" +
                               host_->base_url() +
                               "\", retry_base_ms: 1, retry_cap_ms: 5, timeout_ms: 3000, deadline_ms: 8000}\n"
                               "experiments:\n  checkout-redesign:\n    " +
                               backend_ + ": " + std::string(binding) + "\n";
    auto bridge = Bridge::from_text(config, "read-test.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    ApplyOptions options;
    options.environment = emulator::test_environment(host_->credentials());
    auto applier = Applier::create(*bridge_, options);
    ASSERT_TRUE(applier) << applier.error().describe();
    applier_ = std::make_unique<Applier>(std::move(*applier));
  }

  Update update(const std::string& text) {
    auto u = parse_update(text, "read-test");
    EXPECT_TRUE(u) << u.error().describe();
    return u ? std::move(*u) : Update{};
  }

  /// Applies `u`; fails the test unless every request succeeded.
  void apply(const Update& u) {
    auto report = applier_->apply(u);
    ASSERT_TRUE(report.ok()) << write_json(report_to_json(report), 2);
  }

  /// The read of the backend; fails the test when it did not succeed.
  VendorState read() {
    ReadReport report = applier_->read("checkout-redesign");
    EXPECT_TRUE(report.ok()) << write_json(read_report_to_json(report), 2);
    if (!report.ok() || report.backends.empty() || !report.backends[0].state) return {};
    return *report.backends[0].state;
  }

  /// The error of a read that must fail.
  Error read_error() {
    ReadReport report = applier_->read("checkout-redesign");
    EXPECT_FALSE(report.ok());
    if (report.backends.empty() || !report.backends[0].error) {
      ADD_FAILURE() << "the read did not fail: " << write_json(read_report_to_json(report), 2);
      return {};
    }
    return *report.backends[0].error;
  }

  /// From now on, `vendor`'s GETs under `path_prefix` answer 200 with exactly `body`.
  void answer_gets_with(std::string_view vendor, std::string_view path_prefix, std::string_view body) {
    boost::json::array list;
    list.push_back(boost::json::object{
        {"vendor", vendor}, {"method", "GET"}, {"path_prefix", path_prefix}, {"status", 200}, {"body", body}});
    auto faults = emulator::parse_faults(list, "faults");
    ASSERT_TRUE(faults) << faults.error().describe();
    ASSERT_TRUE(host_->set_faults(std::move(*faults)));
  }

  /// A plan of `text` built on `state`, the read of this backend.
  Result<Plan> plan_on(const VendorState& state, const std::string& text) {
    PlanOptions options;
    options.reads = {{backend_, &state}};
    return bridge_->plan(update(text), options);
  }

  std::string backend_;
  std::unique_ptr<emulator::EmulatorHost> host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Applier> applier_;
};

}  // namespace expbridge::test
