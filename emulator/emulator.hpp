// Vendor emulators: loopback stand-ins that speak each vendor's wire protocol for the
// experiment APIs, keep state, check auth, validate and fail like the vendor does
// (facts: ../shared/vendors/<vendor>.md). Used by the end-to-end tests, `expbridge demo`
// and `expbridge emulate` (users' own CI).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "expbridge/error.hpp"
#include "emulator/loopback_server.hpp"

namespace expbridge::emulator {




/// The credentials every emulator accepts. They are the documented example values, not secrets.
struct TestCredentials {
  static constexpr const char* aws_access_key_id = "AKIDEXAMPLE";
  static constexpr const char* aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  static constexpr const char* launchdarkly_token = "api-emulator-token";
  static constexpr const char* auth0_client_id = "emulator-client-id";
  static constexpr const char* auth0_client_secret = "emulator-client-secret";
};

/// One vendor's emulator. Implementations keep their own state; the host serialises
/// calls (one at a time), so an emulator needs no locking of its own.
class VendorEmulator {
 public:
  virtual ~VendorEmulator() = default;
  /// The vendor name, as in the registry (`appconfig`, ...).
  virtual std::string_view vendor() const = 0;
  /// True when this emulator serves `request` (decided by path, and for AWS by the
  /// SigV4 credential scope's service when paths could collide).
  virtual bool serves(const ServerRequest& request) const = 0;
  /// Answers a request it serves: auth checked first, then the operation, with the
  /// vendor's status codes and error bodies.
  virtual ServerReply handle(const ServerRequest& request) = 0;
  /// Replaces the state with the fixture's `<vendor>:` section (defaults: adapters/<vendor>/<vendor>_emulator_fixture.yaml).
  /// Unknown keys are errors.
  virtual Status seed(const boost::json::value& fixture) = 0;
  /// The whole state as JSON (what tests assert on, and `GET /_emulator/state`).
  virtual boost::json::value state() const = 0;
};

/// The built-in emulators, one per vendor (the one list a new vendor's emulator is added to).
std::vector<std::unique_ptr<VendorEmulator>> make_builtin_emulators();

/// A fault to inject on matching requests (fixture `faults:` or `POST /_emulator/faults`).
struct Fault {
  std::string vendor;       ///< empty = any
  std::string method;       ///< empty = any
  std::string path_prefix;  ///< empty = any
  int times = -1;           ///< how many matching requests it applies to; -1 = always
  std::chrono::milliseconds latency{0};
  int status = 0;           ///< answer with this status (and a vendor-shaped error body) instead
  int retry_after_s = -1;   ///< with status 429: the Retry-After header
  bool drop_connection = false;  ///< close without answering
  /// With `status`: answer like a hostile vendor, proxy or firewall that echoes the request
  /// back — every request header (`Name: value` lines) in the error message, as a JSON
  /// member `request_headers`, and the Authorization value as the request id.
  bool echo_headers = false;
  /// With `status`: answer exactly this body (JSON) instead of the vendor-shaped error; then
  /// `status` may be any of 200-599 (an answer the emulator itself would not give).
  std::optional<std::string> body;
  /// Added to the answer (the fault's, or the emulator's when the fault has no status).
  std::vector<std::pair<std::string, std::string>> headers;
  /// Send the answer's header and half its body, then reset the connection (RST).
  bool reset_mid_body = false;
  /// Answer with `Connection: close` and close afterwards (a server without keep-alive).
  bool close_connection = false;
};

/// All emulators behind one loopback server, routing by path.
/// Control endpoints (no auth): `GET /_emulator/state`, `POST /_emulator/reset` (re-seed),
/// `POST /_emulator/faults` (body: a list of faults, replacing the current ones).
class EmulatorHost {
 public:
  struct Options {
    std::uint16_t port = 0;          ///< 0 = an ephemeral port
    boost::json::value fixture;      ///< null = the embedded default fixture
  };
  static Result<std::unique_ptr<EmulatorHost>> start(Options options);
  ~EmulatorHost();

  std::uint16_t port() const;
  std::string base_url() const;  ///< `http://127.0.0.1:PORT`
  /// Every emulator's state, `{vendor: state}`.
  boost::json::value state() const;
  Status set_faults(std::vector<Fault> faults);
  Status reset();  ///< back to the fixture
  /// Requests answered so far, per vendor (including refused ones).
  std::map<std::string, std::size_t> request_counts() const;

  /// A request routed to an emulator (faulted or not), as it arrived on the wire.
  struct Received {
    std::string vendor;
    ServerRequest request;
    std::chrono::steady_clock::time_point arrived;
    int status = 0;  ///< the status answered; 0 = no answer (a dropped connection)
  };
  /// The journal holds at most this many requests (the oldest go first), so a long-running
  /// `expbridge emulate` does not grow without bound.
  static constexpr std::size_t kJournalLimit = 20'000;
  /// The requests routed to an emulator since start or reset(), in arrival order (control
  /// endpoints and unrouted requests excluded): what tests count on the wire.
  std::vector<Received> received_requests() const;
  /// Connections the server accepted so far (keep-alive checks).
  std::size_t connections_accepted() const;

 private:
  EmulatorHost() = default;
  ServerReply dispatch(const ServerRequest& request);
  void record(const std::string& vendor, const ServerRequest& request);  ///< mutex_ held

  mutable std::mutex mutex_;
  boost::json::value fixture_;
  std::vector<std::unique_ptr<VendorEmulator>> emulators_;
  std::vector<Fault> faults_;
  std::map<std::string, std::size_t> counts_;
  std::deque<Received> journal_;
  std::unique_ptr<LoopbackServer> server_;
};

/// Helpers every emulator uses.
/// Percent-decoding; with `plus_is_space`, `+` is a space (application/x-www-form-urlencoded).
std::string percent_decode(std::string_view text, bool plus_is_space = false);
/// The standard reason phrase of an HTTP status ("Conflict"), or "Error".
std::string_view reason_phrase(int status);
/// The environment a client of the emulators needs: the test credentials under the variable
/// names the sample config uses (AWS_ACCESS_KEY_ID, LD_API_TOKEN, AUTH0_CLIENT_ID, ...).
std::optional<std::string> test_environment(std::string_view name);
/// A JSON reply with the given status.
ServerReply json_reply(int status, const boost::json::value& body, std::vector<std::pair<std::string, std::string>> headers = {});
/// The path part of a request target (before `?`), and its decoded segments.
std::string_view path_of(const ServerRequest& request);
std::vector<std::string> path_segments(const ServerRequest& request);  ///< percent-decoded
/// Query parameters, percent-decoded, in order.
std::vector<std::pair<std::string, std::string>> query_of(const ServerRequest& request);
/// Checks a SigV4-signed request against the test credentials for `service` (region: any
/// region in the scope, returned): signature recomputed with the project's signer,
/// x-amz-date within 15 minutes of now. On failure, the AWS-shaped error reply to send.
struct SigV4Check {
  bool ok = false;
  std::string region;
  ServerReply refusal;
};
SigV4Check check_sigv4(const ServerRequest& request, std::string_view service);
/// An AWS restJson1 error reply: x-amzn-ErrorType, x-amzn-RequestId, body {message_member: message}.
ServerReply aws_error(int status, std::string_view code, std::string_view message, std::string_view message_member = "message");

}  // namespace expbridge::emulator
