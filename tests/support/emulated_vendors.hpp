// expbridge tests — the four vendor emulators behind one EmulatorHost, and a config whose
// backends point at it: the one set of fake vendors the apply, CLI and network tests share.
//
// Backends (config order): aws (appconfig), ld (launchdarkly), a0 (auth0), ev (evidently).
// The emulators check real authentication, so the environment is the emulators' own
// credentials (emulator::test_environment). Behaviour a test needs beyond the emulators'
// is injected as faults (emulator/fixtures.hpp), and what reached the wire is read from the
// host's journal: requests are counted at the server, never at the client.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "emulator/emulator.hpp"

namespace expbridge::test {

/// The most extra experiments (`exp-1` ... `exp-49`) a fixture and a config can hold.
inline constexpr int kMaxExtraExperiments = 49;

/// The ids extra experiment `exp-N` has in the fixture: its Auth0 experiment (Auth0's ids use
/// no `0`, so a `z` stands for it) and its AppConfig definition.
std::string auth0_experiment_id(int n);
std::string appconfig_definition_id(int n);

/// The four backends' config names, in config order.
inline const std::vector<std::string> kApplyBackends = {"aws", "ld", "a0", "ev"};

/// An STS-style session token for the AWS backends. The emulators take any session token (they
/// re-sign with the one that arrived, as AWS checks it against the key); a distinctive one
/// makes a leak into logs or reports easy to spot.
inline constexpr std::string_view kTestAwsSessionToken = "FQoGZXIvYXdzEXAMPLE-session-token-q7Rz";

/// The variables a complete run needs, by name: the emulators' credentials
/// (emulator::test_environment), plus AWS_SESSION_TOKEN.
std::map<std::string, std::string> apply_test_environment();

/// What the written config says besides the endpoints.
struct ApplyConfigOptions {
  /// Settings added to every backend (`retry_base_ms: 5`, ...); values are YAML scalars.
  std::map<std::string, std::string> common = {
      {"retry_base_ms", "5"}, {"retry_cap_ms", "3000"}, {"timeout_ms", "3000"}, {"deadline_ms", "8000"}};
  /// Per backend name: settings added to (or replacing) `common` for that backend.
  std::map<std::string, std::map<std::string, std::string>> per_backend;
  /// Extra experiments bound at all four backends, named `exp-1` ... `exp-N`
  /// (N ≤ kMaxExtraExperiments); `checkout-redesign` (the sample's bindings) is always there.
  /// The default fixture holds nine; `fixture(run, N)` more.
  int extra_experiments = 0;
  /// Bind AppConfig run 1 (true), or no run: apply follows the current run a read finds, so an
  /// update that starts a new run is followed by the next.
  bool pin_run = true;
};

class EmulatedVendors {
 public:
  using Clock = std::chrono::steady_clock;

  /// Starts the host on `fixture()`; throws when it cannot start.
  EmulatedVendors();
  ~EmulatedVendors();
  EmulatedVendors(const EmulatedVendors&) = delete;
  EmulatedVendors& operator=(const EmulatedVendors&) = delete;

  /// What run 1 of each AppConfig definition is in the fixture.
  enum class Run { running, done };
  /// The default fixture, plus what the tests' config binds: run 1 of each definition (RUNNING:
  /// its description and exposure can change; DONE: the definition can), and experiments
  /// exp-1 ... exp-N (`extra_experiments`, at most kMaxExtraExperiments) at every vendor.
  static boost::json::value fixture(Run run = Run::running, int extra_experiments = 9);
  /// Starts a new host on `fixture` (a new port: write the config afterwards), its journal
  /// keeping `journal_limit` requests.
  void restart(boost::json::value fixture,
               std::size_t journal_limit = emulator::EmulatorHost::kJournalLimit);
  /// The emulator vendor behind a backend name (`aws` -> `appconfig`).
  static std::string vendor_of(std::string_view backend);

  emulator::EmulatorHost& host() { return *host_; }
  std::string base_url() const;
  /// A config whose four backends point `endpoint:` at the host.
  std::string config(const ApplyConfigOptions& options = {}) const;

  /// Replaces the faults with a JSON list in the grammar of emulator/fixtures.hpp; throws on a
  /// bad list (a test bug).
  void set_faults(std::string_view json_list);

  /// The changes a backend received: not the GETs that read the current state first, nor
  /// (for `a0`) token requests. Faulted requests included: they reached the wire.
  std::vector<emulator::ServerRequest> api_requests(std::string_view backend) const;
  /// When each of `api_requests(backend)` arrived.
  std::vector<Clock::time_point> api_arrivals(std::string_view backend) const;
  /// The state reads (GETs) a backend received.
  std::vector<emulator::ServerRequest> state_reads(std::string_view backend) const;
  /// Every request a backend received (state reads, changes, tokens).
  std::vector<emulator::ServerRequest> all_requests(std::string_view backend) const;
  /// Requests the Auth0 token endpoint received.
  std::vector<emulator::ServerRequest> token_requests() const;
  /// Distinct connections a backend's requests arrived on (keep-alive checks).
  std::size_t connections_used(std::string_view backend) const;
  /// Access tokens the Auth0 emulator issued (its state's `tokens_issued`).
  std::size_t tokens_issued() const;
  /// Requests received by all four emulators together (token requests included).
  std::size_t total_requests() const;
  /// Every secret a run knew or produced, as it could appear in output: the credentials (and
  /// their form-encoded forms), every Auth0 access token sent back to the emulator, every AWS
  /// signature that arrived.
  std::vector<std::string> secrets() const;
  /// Faults (a JSON list) making every vendor API answer `status` with every request header
  /// echoed (fixtures.hpp `echo_headers`: a hostile vendor, proxy or firewall). Auth0's token
  /// endpoint keeps answering, so the API requests carry a bearer token to echo.
  static std::string echo_faults(int status);
  /// Waits (bounded, 3 s) until `backend` received at least `count` requests.
  void wait_for_requests(std::string_view backend, std::size_t count) const;

 private:
  std::vector<emulator::EmulatorHost::Received> journal_of(std::string_view backend) const;
  std::unique_ptr<emulator::EmulatorHost> host_;
};

}  // namespace expbridge::test
