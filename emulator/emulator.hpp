// Vendor emulators: loopback stand-ins that speak each vendor's wire protocol for the
// experiment APIs, keep state, check auth, validate and fail like the vendor does
// (facts: each vendor's public API reference). Used by the end-to-end tests, `expbridge demo`
// and `expbridge emulate` (users' own CI).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <initializer_list>
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

namespace expbridge {
class Registry;  // expbridge/adapter.hpp; declared only, so an emulator never sees the adapter interface
}  // namespace expbridge

namespace expbridge::emulator {

/// An environment variable a client of an emulator needs, with the value the emulator
/// accepts: a documented example value, never a secret.
struct Credential {
  std::string variable;  ///< e.g. `AWS_ACCESS_KEY_ID`
  std::string value;
};

/// An error the host injects (a fault with a `status`), for the emulator to answer in its
/// vendor's own error shape (status, error code, message, request id where the vendor puts
/// them), so the adapter under test parses it the way it parses the real thing.
struct InjectedError {
  int status = 0;
  std::string message;  ///< what goes where the vendor puts its error message
  /// Set for a fault with `echo_headers`: the request's Authorization value, to put where
  /// the vendor puts its request id (header or body) — a hostile vendor echoing the request.
  /// Unset: the emulator's usual request id.
  std::optional<std::string> echoed_request_id;
  /// Set for a fault with `reset_ms` (a 429): answer as the vendor's rate limiter does, its
  /// window (or bucket) refilling at this time, with whatever headers the vendor sends then.
  std::optional<std::chrono::system_clock::time_point> rate_reset;
};

/// What a vendor's rate limiter makes of one request (VendorEmulator::rate_limit).
struct RateVerdict {
  std::optional<ServerReply> refusal;  ///< over the limit: this answer, and the request is not handled
  /// The budget headers the vendor puts on its answer (the refusal's included).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// How `expbridge emulate` points a config at one emulator: a backend of the samples'
/// config (samples/backends.yaml), whose ids the emulator's default fixture holds.
struct SampleBackend {
  std::string name;      ///< the backend's name in the config, e.g. `aws`
  std::string settings;  ///< its settings as YAML flow-mapping members, without `endpoint`
  std::string binding;   ///< its binding of the `checkout-redesign` experiment, a YAML flow mapping
};

/// One vendor's emulator. Implementations keep their own state; the host serialises
/// calls (one at a time), so an emulator needs no locking of its own.
///
/// An emulator is a second witness of its vendor's rules: it is written from the vendor's
/// documentation (and checked against the official SDKs), never from its adapter. It never
/// includes the adapter nor reads the mapping tables.
class VendorEmulator {
 public:
  virtual ~VendorEmulator() = default;
  /// The vendor name, as in the registry (`Vendor::name`).
  virtual std::string_view vendor() const = 0;
  /// True when this emulator serves `request` (decided by path, and for AWS by the
  /// SigV4 credential scope's service when paths could collide).
  virtual bool serves(const ServerRequest& request) const = 0;
  /// Answers a request it serves: auth checked first, then the operation, with the
  /// vendor's status codes and error bodies.
  virtual ServerReply handle(const ServerRequest& request) = 0;
  /// Replaces the state with the fixture's `<vendor>:` section (`{}` when it has none).
  /// Unknown keys are errors.
  virtual Status seed(const boost::json::value& fixture) = 0;
  /// The whole state as JSON (what tests assert on, and `GET /_emulator/state`).
  virtual boost::json::value state() const = 0;

  // What the host asks of every emulator, so that the host names no vendor.

  /// The environment variables a client needs to be accepted, with their values. Two
  /// emulators may name one variable (AWS vendors share the AWS key pair) only with one value.
  virtual std::vector<Credential> credentials() const = 0;
  /// The vendor-shaped answer to an injected fault. The host adds what every vendor shares
  /// (Retry-After, the echoed headers, X-Emulator-Fault).
  virtual ServerReply injected_error(const InjectedError& error) const = 0;
  /// The default fixture's text (YAML): a mapping with at most the `<vendor>:` section
  /// (adapters/<vendor>/<vendor>_emulator_fixture.yaml, embedded at build time).
  virtual Result<std::string_view> default_fixture() const = 0;
  /// The backend `expbridge emulate` prints for this vendor; none = it prints none.
  virtual std::optional<SampleBackend> sample_backend() const = 0;

  /// Replaces the rate limits with the fixture's `rate_limits.<vendor>` section (null: none),
  /// their windows and buckets starting at `now`. Unknown members are errors. The default
  /// emulates no rate limiting and accepts only null.
  virtual Status limit_rate(const boost::json::value& section, std::chrono::system_clock::time_point now);
  /// Counts a request it serves against the limits at `now` (the host's clock), before it is
  /// handled; called for every request no fault answered. The default limits nothing.
  virtual RateVerdict rate_limit(const ServerRequest& request, std::chrono::system_clock::time_point now);

  /// The value of `variable` among `credentials()`, if it is one.
  std::optional<std::string> credential(std::string_view variable) const;
};

/// A fault to inject on matching requests (fixture `faults:` or `POST /_emulator/faults`).
struct Fault {
  std::string vendor;       ///< empty = any
  std::string method;       ///< empty = any
  std::string path_prefix;  ///< empty = any
  int times = -1;           ///< how many matching requests it applies to; -1 = always
  std::chrono::milliseconds latency{0};
  int status = 0;           ///< answer with this status (and a vendor-shaped error body) instead
  int retry_after_s = -1;   ///< with status 429: the Retry-After header
  /// With status 429: the answer of the vendor's rate limiter, its window resetting this long
  /// after the answer (InjectedError::rate_reset), in the vendor's headers and units.
  std::optional<std::chrono::milliseconds> reset_in;
  bool drop_connection = false;  ///< close without answering; the emulator never sees the request
  /// Let the emulator handle the request (its effect applies), then close without a byte of its
  /// answer: what a client cannot tell from a lost request, yet the vendor did it.
  bool apply_then_drop = false;
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
  /// The journal holds at most this many requests by default (the oldest go first), so a
  /// long-running `expbridge emulate` does not grow without bound.
  static constexpr std::size_t kJournalLimit = 20'000;
  struct Options {
    std::uint16_t port = 0;          ///< 0 = an ephemeral port
    boost::json::value fixture;      ///< null = the emulators' default fixtures, merged
    /// The vendors whose emulators to run (those that have one); nullptr = `Registry::builtin()`.
    /// Must outlive `start`.
    const Registry* registry = nullptr;
    /// How many requests the journal keeps (received_requests); at least 1. A test that counts
    /// every request of a long run raises it.
    std::size_t journal_limit = kJournalLimit;
    /// The clock the rate limits (fixture `rate_limits:`) and their headers run on; empty =
    /// the system clock. Tests pass their own to step time without sleeping.
    std::function<std::chrono::system_clock::time_point()> clock = {};
  };
  static Result<std::unique_ptr<EmulatorHost>> start(Options options);
  ~EmulatorHost();

  std::uint16_t port() const;
  std::string base_url() const;  ///< `http://127.0.0.1:PORT`
  /// The vendors of the emulators it runs, in registry order.
  std::vector<std::string> vendors() const;
  /// Every emulator's state, `{vendor: state}`.
  boost::json::value state() const;
  Status set_faults(std::vector<Fault> faults);
  Status reset();  ///< back to the fixture
  /// What a client needs in its environment: every emulator's credentials (see
  /// `merge_credentials`), fixed at start.
  const std::vector<Credential>& credentials() const { return credentials_; }
  /// The backends `expbridge emulate` prints, one per emulator that has a sample, in registry order.
  std::vector<SampleBackend> sample_backends() const;
  /// Requests answered so far, per vendor (including refused ones).
  std::map<std::string, std::size_t> request_counts() const;

  /// A request routed to an emulator (faulted or not), as it arrived on the wire.
  struct Received {
    std::string vendor;
    ServerRequest request;
    std::chrono::steady_clock::time_point arrived;
    int status = 0;  ///< the status answered; 0 = no answer (a dropped connection)
    /// The status the emulator's handler gave: its effect applied when 2xx. 0 = the emulator
    /// never saw it (a fault answered or dropped it first). With apply_then_drop it is set while
    /// `status` is 0: done at the vendor, never answered.
    int handled_status = 0;
  };
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
  std::vector<Credential> credentials_;
  std::vector<Fault> faults_;
  std::map<std::string, std::size_t> counts_;
  std::deque<Received> journal_;
  std::size_t journal_limit_ = kJournalLimit;
  std::function<std::chrono::system_clock::time_point()> clock_;
  std::unique_ptr<LoopbackServer> server_;
};

/// Helpers every emulator uses.
/// Percent-decoding; with `plus_is_space`, `+` is a space (application/x-www-form-urlencoded).
std::string percent_decode(std::string_view text, bool plus_is_space = false);
/// The standard reason phrase of an HTTP status ("Conflict"), or "Error".
std::string_view reason_phrase(int status);
/// A fresh emulator of each of `registry`'s vendors that has one, in registry order; an
/// internal error when one's `vendor()` is not the name it is registered under.
Result<std::vector<std::unique_ptr<VendorEmulator>>> make_emulators(const Registry& registry);
/// The credentials of all `emulators`, by variable name (one entry a variable); an internal
/// error when two emulators give one variable different values.
Result<std::vector<Credential>> merge_credentials(const std::vector<std::unique_ptr<VendorEmulator>>& emulators);
/// The same for the emulators of `registry`'s vendors: what a client of `expbridge emulate`
/// or `demo` needs in its environment.
Result<std::vector<Credential>> test_credentials(const Registry& registry);
/// The fixture the host starts from when given none: every emulator's `default_fixture()`
/// of `registry`'s vendors, merged (each holds only its own section).
Result<boost::json::value> default_fixture(const Registry& registry);
/// `credentials` as an environment lookup (for `ApplyOptions::environment`): nothing else is
/// in it, so a test or the demo never reads the real environment.
std::function<std::optional<std::string>(std::string_view)> test_environment(std::vector<Credential> credentials);
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

/// A vendor's error code for an injected `status`: the one `codes` lists for it, else
/// `client_error` below 500, else `server_error`.
std::string_view error_code_for(int status, std::initializer_list<std::pair<int, std::string_view>> codes,
                                std::string_view client_error, std::string_view server_error);

/// The key pair `check_sigv4` accepts: AWS's documented example credentials, not a secret.
std::vector<Credential> aws_example_credentials();
/// An injected error as an AWS restJson1 service answers: the error type its SDKs expect for
/// the status, and the echoed request id (if any) as x-amzn-RequestId.
ServerReply aws_injected_error(const InjectedError& error);

}  // namespace expbridge::emulator
