// The read side of the generic adapter conformance suite: every registered vendor whose adapter
// reads and whose emulator prints a sample backend applies one neutral sequence (definition,
// start, stop) with a converging apply, and what each step sent reads back equal; the same
// step applied again sends nothing. No vendor is named here: the update is built from the
// sample fixture's own read (its variation keys and values), and a field the vendor cannot hold
// is one its plan skips or its read lists as not expressible, never one this file knows about.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convergence.hpp"
#include "emulator/emulator.hpp"
#include "experiment_codec.hpp"
#include "expbridge/adapter.hpp"
#include "expbridge/apply.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/update.hpp"
#include "json_writer.hpp"
#include "support/emulated_read.hpp"

namespace expbridge {
namespace {

using test::has;

/// The experiment every emulator's sample binding binds (samples/backends.yaml).
constexpr const char* kExperiment = "checkout-redesign";

std::string describe(const UpdateReport& r) { return write_json(report_to_json(r), 2); }
std::string describe(const ReadReport& r) { return write_json(read_report_to_json(r), 2); }

/// The neutral names of what `u` sets, as `unchanged` and `skipped` name them.
std::vector<std::string> fields_of(const Update& u) {
  std::vector<std::string> out;
  auto add_if = [&](bool present, const char* name) {
    if (present) out.emplace_back(name);
  };
  add_if(u.name.has_value(), field::name);
  add_if(u.description.has_value(), field::description);
  add_if(u.hypothesis.has_value(), field::hypothesis);
  add_if(u.launch_criteria.has_value(), field::launch_criteria);
  add_if(u.audience && u.audience->rule, field::audience_rule);
  add_if(u.audience && u.audience->description, field::audience_description);
  add_if(u.variations.has_value(), field::variations);
  add_if(u.exposure.has_value(), field::exposure);
  add_if(u.overrides.has_value(), field::overrides);
  if (u.action) out.push_back(std::string(field::action) + "." + std::string(to_string(*u.action)));
  add_if(u.result.has_value(), field::result);
  return out;
}

/// The skip of the whole of `field`, if any.
const Skip* skip_of(const std::vector<Skip>& skipped, const std::string& field) {
  for (const auto& s : skipped)
    if (s.field == field) return &s;
  return nullptr;
}

/// The skips of parts of `field` (`variations[two-step].value`, `result.winner`), one a line.
std::string part_skips(const std::vector<Skip>& skipped, const std::string& field) {
  std::string out;
  for (const auto& s : skipped)
    if (s.field.starts_with(field + ".") || s.field.starts_with(field + "[")) out += "\n  " + s.field + ": " + s.reason;
  return out;
}

class ReadConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const Vendor* vendor = Registry::builtin().vendor(GetParam());
    ASSERT_NE(vendor, nullptr);
    if (!vendor->emulator) GTEST_SKIP() << GetParam() << " has no emulator";
    const auto sample = vendor->emulator()->sample_backend();
    if (!sample) GTEST_SKIP() << GetParam() << "'s emulator prints no sample backend";
    backend_ = sample->name;

    auto host = emulator::EmulatorHost::start({});
    ASSERT_TRUE(host) << host.error().describe();
    host_ = std::move(*host);
    const std::string config = "backends:\n  " + backend_ + ": {" + sample->settings + ", endpoint: \"" +
                               host_->base_url() +
                               "\", retry_base_ms: 1, retry_cap_ms: 5, timeout_ms: 3000, deadline_ms: 8000}\n"
                               "experiments:\n  " + kExperiment + ":\n    " + backend_ + ": " + sample->binding + "\n";
    auto bridge = Bridge::from_text(config, "read-conformance.yaml");
    ASSERT_TRUE(bridge) << bridge.error().describe();
    bridge_ = std::make_unique<Bridge>(std::move(*bridge));
    ApplyOptions options;
    options.read_first = true;  // the converging apply, whatever the default is
    options.environment = emulator::test_environment(host_->credentials());
    auto applier = Applier::create(*bridge_, std::move(options));
    ASSERT_TRUE(applier) << applier.error().describe();
    applier_ = std::make_unique<Applier>(std::move(*applier));

    ReadReport first = applier_->read(kExperiment);
    ASSERT_EQ(first.backends.size(), 1u) << describe(first);
    const BackendRead& read = first.backends[0];
    if (read.error && read.error->code == ErrorCode::unsupported)
      GTEST_SKIP() << GetParam() << "'s adapter has no read: " << read.error->describe();
    ASSERT_TRUE(read.state) << describe(first);
    fixture_ = *read.state;
  }

  /// The backend's read now; fails the test when it does not read.
  VendorState read() {
    ReadReport report = applier_->read(kExperiment);
    EXPECT_TRUE(report.ok()) << describe(report);
    if (!report.ok() || report.backends.empty() || !report.backends[0].state) return {};
    return *report.backends[0].state;
  }

  /// Requests that change something (neither reads nor token requests) the emulators received so far.
  std::size_t changes() const {
    const auto received = host_->received_requests();
    return static_cast<std::size_t>(std::count_if(received.begin(), received.end(), [](const auto& r) {
      return r.request.method != "GET" && r.request.target.find("/oauth/token") == std::string::npos;
    }));
  }

  /// The fixture's variations with new weights (control 40, the rest sharing 60), keys and
  /// values as the vendor holds them, so that only the weights change.
  std::optional<std::vector<Variation>> reweighted() const {
    if (!fixture_.experiment.variations || fixture_.experiment.variations->size() < 2) return std::nullopt;
    std::vector<Variation> out = *fixture_.experiment.variations;
    const double others = static_cast<double>(out.size() - 1);
    double left = 100;
    for (std::size_t i = 0; i < out.size(); ++i) {
      const bool last = i + 1 == out.size();
      out[i].weight = last ? left : out[i].control ? 40.0 : 60.0 / others;
      left -= out[i].weight;
    }
    return out;
  }

  /// A key of the fixture's variations that is not the control: the override and the winner.
  std::string treatment_key() const {
    for (const auto& v : fixture_.experiment.variations.value_or(std::vector<Variation>{}))
      if (!v.control) return v.key;
    return {};
  }

  /// Applies the update document that brings the experiment to `desired` (its fields, and the
  /// action its status implies) twice, and reads back. The first apply succeeds; every field its
  /// plan did not skip and the read does not list as not expressible converges (`unchanged`); the
  /// second apply changes nothing at the vendor and reports those fields unchanged.
  VendorState apply_and_read_back(Experiment desired) {
    desired.experiment = kExperiment;
    const std::string asked = write_json(experiment_update_document(desired));
    SCOPED_TRACE(asked);
    auto parsed = parse_update(asked, "read-conformance-step");
    EXPECT_TRUE(parsed) << parsed.error().describe();
    if (!parsed) return {};
    const Update& u = *parsed;
    const UpdateReport first = applier_->apply(u);
    EXPECT_TRUE(first.ok()) << describe(first);
    if (!first.ok() || first.backends.size() != 1) return {};
    const BackendReport& sent = first.backends[0];

    const VendorState state = read();
    // Compared after the vendor's documented conversions: what it cannot hold of a field (a
    // variation value its plan skips, weights its read lists as not expressible) is no difference.
    std::vector<std::string> unheld = state.not_expressible;
    for (const auto& skip : sent.skipped) unheld.push_back(skip.field);
    auto converged = converge(u, state.experiment, unheld);
    EXPECT_TRUE(converged) << converged.error().describe();
    if (!converged) return state;
    std::vector<std::string> checked;
    const Update& repeat = u;  // applied again as it is
    for (const auto& f : fields_of(u)) {
      SCOPED_TRACE(f);
      if (const Skip* s = skip_of(sent.skipped, f)) {
        EXPECT_FALSE(s->reason.empty());
        continue;
      }
      // A field skipped in part (a variation's value, the result's winner) still converges: the
      // read holds nothing of the part it could not be sent, and converge compares only what it holds.
      // `action.start` is held or not as `action` is.
      const std::string neutral = f.starts_with("action.") ? std::string(field::action) : f;
      if (has(state.not_expressible, f) || has(state.not_expressible, neutral)) {
        ADD_FAILURE() << "the read says " << GetParam() << " cannot hold " << f << ", but the plan sent it: "
                      << describe(first);
        continue;
      }
      checked.push_back(f);
      EXPECT_TRUE(has(converged->unchanged, f))
          << f << " does not read back as sent\nheld: " << write_json(experiment_state_json(state.experiment))
          << part_skips(sent.skipped, f);
    }
    steps_.push_back(Step{u, checked, unheld});

    const std::size_t before = changes();
    const UpdateReport again = applier_->apply(repeat);
    EXPECT_TRUE(again.ok()) << describe(again);
    EXPECT_EQ(changes(), before) << "the second apply changed something:\n" << describe(again);
    if (again.backends.size() == 1) {
      const BackendReport& b = again.backends[0];
      EXPECT_TRUE(b.result == BackendOutcome::unchanged || b.result == BackendOutcome::skipped)
          << to_string(b.result) << "\n" << describe(again);
      for (const auto& r : b.requests) EXPECT_EQ(r.attempts, 0) << r.request.operation;
      for (const auto& f : checked) EXPECT_TRUE(has(b.unchanged, f)) << f << " not reported unchanged\n" << describe(again);
    }
    return state;
  }

  /// A later step leaves alone what an earlier one set: each field compared then (actions aside,
  /// which later steps replace) still reads back as that step sent it. Returns how many were compared.
  std::size_t expect_earlier_steps_still_held() {
    const VendorState last = read();
    std::size_t compared = 0;
    for (const auto& [u, fields, unheld] : steps_) {
      auto converged = converge(u, last.experiment, unheld);
      EXPECT_TRUE(converged) << converged.error().describe();
      for (const auto& f : fields) {
        if (!converged || f.starts_with("action.")) continue;
        ++compared;
        EXPECT_TRUE(has(converged->unchanged, f))
            << f << " no longer reads back after the later steps\nheld: "
            << write_json(experiment_state_json(last.experiment));
      }
    }
    return compared;
  }

  std::string backend_;
  std::unique_ptr<emulator::EmulatorHost> host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Applier> applier_;
  VendorState fixture_;        ///< the sample fixture's read, before anything is applied
  /// Each step applied so far, with the fields its read-back compared.
  struct Step {
    Update update;
    std::vector<std::string> checked;  ///< the fields that read back as sent
    std::vector<std::string> unheld;   ///< what the vendor could not hold of them
  };
  std::vector<Step> steps_;
};

TEST_P(ReadConformance, EachStepReadsBackAsSentAndASecondApplySendsNothing) {
  auto variations = reweighted();
  ASSERT_TRUE(variations) << "a generic update needs the sample fixture to hold a control and a treatment: "
                          << write_json(experiment_state_json(fixture_.experiment));
  const std::string treatment = treatment_key();
  ASSERT_FALSE(treatment.empty()) << "the sample fixture has no variation that is not the control";

  {
    SCOPED_TRACE("the definition, before any start");
    Experiment draft;
    draft.name = "Read conformance";
    draft.hypothesis = "What was sent reads back equal";
    draft.variations = variations;
    apply_and_read_back(draft);
  }
  {
    SCOPED_TRACE("start, with exposure and an override");
    Experiment running;
    running.status = ExperimentStatus::running;
    running.description = "Read conformance, first run";
    running.exposure = 30;
    running.overrides = std::vector<std::pair<std::string, std::string>>{{"qa-tester-1", treatment}};
    EXPECT_EQ(apply_and_read_back(running).experiment.status, ExperimentStatus::running);
  }
  {
    SCOPED_TRACE("stop, with a winner");
    Experiment stopped;
    stopped.status = ExperimentStatus::stopped;
    stopped.result = ExperimentResult{treatment, "The treatment won", std::nullopt, std::nullopt};
    EXPECT_EQ(apply_and_read_back(stopped).experiment.status, ExperimentStatus::stopped);
  }
  const std::size_t compared = expect_earlier_steps_still_held();
  EXPECT_GT(compared, 0u) << "nothing of the sequence was read back and compared at " << GetParam();
}

TEST_P(ReadConformance, ASteadyStateReadIsOneRoundTripToTheSameState) {
  // SetUp read once: whatever that read had to learn from an answer, it handed on as its hint.
  test::ObservedRead again = test::observed_read(*applier_, *host_, kExperiment);
  ASSERT_TRUE(again.read.state);
  EXPECT_EQ(again.read.round_trips, 1) << "every request of a hinted read of the sample fixture goes out at once";
  test::expect_same_state(*again.read.state, fixture_);
}

TEST_P(ReadConformance, AHintTheAdapterCannotUseIsNoHint) {
  // The first step's URLs, given `hint`.
  auto first_step = [&](const ReadHint* hint) {
    std::vector<std::string> out;
    auto step = bridge_->read_step(backend_, kExperiment, {}, hint);
    EXPECT_TRUE(step) << step.error().describe();
    if (step)
      for (const auto& r : step->requests) out.push_back(r.url);
    return out;
  };
  const std::vector<std::string> unhinted = first_step(nullptr);
  EXPECT_GE(first_step(&fixture_.hint).size(), unhinted.size()) << "a hint only adds requests";
  // Each member the adapter hints, of another type or naming no resource a path can hold (as
  // a state store's stale or damaged copy might): the read starts as if it had no hint.
  for (const auto& member : fixture_.hint) {
    SCOPED_TRACE(std::string(member.key()));
    for (const boost::json::value& garbage : {boost::json::value(nullptr), boost::json::value(true),
                                              boost::json::value(-1), boost::json::value(""), boost::json::value("..")}) {
      ReadHint damaged = fixture_.hint;
      damaged[member.key()] = garbage;
      EXPECT_EQ(first_step(&damaged), unhinted) << write_json(damaged);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Registered, ReadConformance, ::testing::ValuesIn(Registry::builtin().vendors()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace expbridge
