// EmulatorHost: every vendor emulator behind one loopback server on 127.0.0.1.
//
// Order of a request: control endpoints (`/_emulator/...`, no auth), then routing to the
// first emulator that serves it (none: 404), then the first matching fault, then the
// emulator's rate limiter (a refusal is not handled; its budget headers go on every answer), then the
// emulator (and, after it, an apply_then_drop fault: its answer thrown away). One mutex serialises requests and the public calls, so emulators need no
// locking and tests may read state() while a client runs.
//
// The host names no vendor: it runs the emulators of the vendors of a `Registry`, and asks
// each emulator for what differs between vendors (credentials, the shape of an injected
// error, its default fixture, its sample backend).
//
// Fixture rules (see fixtures.hpp): sections are named by the emulators' vendor() plus
// `faults` and `rate_limits` (a member per vendor, each read by its emulator's limit_rate());
// any other key is an error. A vendor without a section, or with an empty (null)
// one, is seeded with an empty mapping `{}` — "no resources" — so an emulator's seed()
// only ever sees a mapping. The default fixture is the merge of each emulator's own
// default, which may hold its own section only.
//
// Control endpoints:
//   GET  /_emulator/state     200 {vendor: state}
//   GET  /_emulator/requests  200 {vendor: requests answered}
//   GET  /_emulator/faults    200 [fault] (what is left of them)
//   POST /_emulator/faults    body [fault], replaces the current ones; 200 {"faults": n}, 400 on a bad list
//   POST /_emulator/reset     back to the fixture (state, its faults, zero counts); 200 {"reset": true}
#include <algorithm>
#include <cctype>
#include <exception>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>

#include "emulator/emulator.hpp"
#include "expbridge/adapter.hpp"
#include "document.hpp"
#include "emulator/fixtures.hpp"
#include "json_reader.hpp"

namespace expbridge::emulator {
namespace {

using Emulators = std::vector<std::unique_ptr<VendorEmulator>>;

constexpr std::string_view kControlPrefix = "/_emulator";
constexpr std::string_view kFaultsKey = "faults";
constexpr std::string_view kRateLimitsKey = "rate_limits";

Error invalid(std::string field, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.field = std::move(field);
  return e;
}

bool has_vendor(const Emulators& emulators, std::string_view vendor) {
  return std::any_of(emulators.begin(), emulators.end(), [&](const auto& e) { return e->vendor() == vendor; });
}

std::string vendor_list(const Emulators& emulators) {
  std::string out;
  for (const auto& e : emulators) out += (out.empty() ? "" : ", ") + std::string(e->vendor());
  return out.empty() ? "(none registered)" : out;
}

Status check_fault_vendors(const std::vector<Fault>& faults, const Emulators& emulators, const std::string& path) {
  for (std::size_t i = 0; i < faults.size(); ++i)
    if (!faults[i].vendor.empty() && !has_vendor(emulators, faults[i].vendor))
      return std::unexpected(invalid(path + "[" + std::to_string(i) + "].vendor",
                                     "no emulator for vendor '" + faults[i].vendor + "' (emulators: " +
                                         vendor_list(emulators) + ")"));
  return {};
}

/// Checks the whole fixture before touching any emulator, so a bad fixture leaves the
/// state as it was. Returns the fixture's faults.
Result<std::vector<Fault>> check_fixture(const boost::json::value& fixture, const Emulators& emulators) {
  if (!fixture.is_object())
    return std::unexpected(invalid("", "a fixture must be a mapping of sections, found " + std::string(json_kind(fixture))));
  std::vector<std::string> known;
  for (const auto& e : emulators) known.emplace_back(e->vendor());
  known.emplace_back(kFaultsKey);
  known.emplace_back(kRateLimitsKey);
  for (const auto& [key, section] : fixture.get_object()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string message = "unknown section '" + std::string(key) + "'";
    if (auto close = closest_name(key, known); !close.empty()) message += " (did you mean '" + close + "'?)";
    message += "; sections: " + vendor_list(emulators) + ", faults, rate_limits";
    return std::unexpected(invalid(std::string(key), std::move(message)));
  }
  if (const auto* limits = fixture.get_object().if_contains(kRateLimitsKey); limits && !limits->is_null()) {
    if (!limits->is_object())
      return std::unexpected(invalid(std::string(kRateLimitsKey), "must map vendors to their rate limits"));
    for (const auto& [vendor, section] : limits->get_object())
      if (!has_vendor(emulators, vendor))
        return std::unexpected(invalid(std::string(kRateLimitsKey) + "." + std::string(vendor),
                                       "no emulator for vendor '" + std::string(vendor) + "' (emulators: " +
                                           vendor_list(emulators) + ")"));
  }
  std::vector<Fault> faults;
  if (const auto* list = fixture.get_object().if_contains(kFaultsKey); list && !list->is_null()) {
    auto parsed = parse_faults(*list, std::string(kFaultsKey));
    if (!parsed) return std::unexpected(std::move(parsed).error());
    EXPBRIDGE_RETURN_IF_ERROR(check_fault_vendors(*parsed, emulators, std::string(kFaultsKey)));
    faults = std::move(*parsed);
  }
  return faults;
}

Status seed_all(const boost::json::value& fixture, Emulators& emulators, std::chrono::system_clock::time_point now) {
  const auto* limits = fixture.get_object().if_contains(kRateLimitsKey);
  for (auto& emulator : emulators) {
    const boost::json::value* limit = nullptr;
    if (limits != nullptr && limits->is_object()) limit = limits->get_object().if_contains(emulator->vendor());
    if (auto limited = emulator->limit_rate(limit != nullptr ? *limit : boost::json::value(), now); !limited) {
      Error e = std::move(limited).error();
      if (e.vendor.empty()) e.vendor = emulator->vendor();
      return std::unexpected(std::move(e));
    }
    const auto* section = fixture.get_object().if_contains(emulator->vendor());
    const boost::json::value empty = boost::json::object{};
    auto seeded = emulator->seed(section != nullptr && !section->is_null() ? *section : empty);
    if (!seeded) {
      Error e = std::move(seeded).error();
      if (e.vendor.empty()) e.vendor = emulator->vendor();
      if (e.field.empty()) e.field = emulator->vendor();
      return std::unexpected(std::move(e));
    }
  }
  return {};
}

boost::json::value collect_state(const Emulators& emulators) {
  boost::json::object out;
  for (const auto& e : emulators) out[e->vendor()] = e->state();
  return out;
}


/// An injected error: the emulator gives its vendor's shape (as its API reference documents errors); the
/// host adds what every vendor shares. With `echo_headers` it answers like a hostile vendor,
/// proxy or firewall that echoes the request back, secrets included, so tests prove that
/// expbridge redacts whatever a vendor sends back.
ServerReply fault_reply(const VendorEmulator& emulator, const Fault& fault, const ServerRequest& request,
                        std::chrono::system_clock::time_point now) {
  InjectedError error;
  error.status = fault.status;
  if (fault.reset_in) error.rate_reset = now + *fault.reset_in;
  error.message = "injected fault (status " + std::to_string(fault.status) + ")";
  boost::json::object echoed;
  std::string authorization;
  if (fault.echo_headers) {
    error.message += "; the request was:";
    for (const auto& [name, value] : request.headers) {
      error.message += "\r\n" + name + ": " + value;
      echoed[name] = value;
      std::string lower_name = name;
      for (char& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower_name == "authorization") authorization = value;
    }
    error.echoed_request_id = authorization;
  }
  ServerReply reply = emulator.injected_error(error);
  if (fault.status == 429 && fault.retry_after_s >= 0)
    reply.headers.emplace_back("Retry-After", std::to_string(fault.retry_after_s));
  if (fault.echo_headers) {
    boost::system::error_code ec;
    auto body = boost::json::parse(reply.body, ec);
    // A body that is not a JSON object (a vendor answering in text) keeps its shape: the
    // message and the X-Echo-Authorization header still carry the echo.
    if (!ec && body.is_object()) {
      body.as_object()["request_headers"] = echoed;
      reply.body = boost::json::serialize(body);
    }
    reply.headers.emplace_back("X-Echo-Authorization", authorization);
  }
  return reply;
}

Result<boost::json::value> merged_default_fixture(const Emulators& emulators) {
  boost::json::object merged;
  for (const auto& emulator : emulators) {
    const std::string vendor(emulator->vendor());
    auto text = emulator->default_fixture();
    if (!text) return std::unexpected(std::move(text).error());
    if (text->find_first_not_of(" \t\r\n") == std::string_view::npos) continue;  // no resources
    auto doc = parse_document(*text, "<the " + vendor + " emulator's default fixture>");
    if (!doc) return std::unexpected(std::move(doc).error());
    if (doc->root.is_null()) continue;  // only comments: no resources either
    if (!doc->root.is_object()) return std::unexpected(doc->error_at("", "a fixture must be a mapping of sections"));
    for (const auto& [key, section] : doc->root.get_object()) {
      // Only its own section: so two emulators' defaults can never clash.
      if (key != vendor)
        return std::unexpected(doc->error_at(std::string(key), "an emulator's default fixture holds only its own '" +
                                                                   vendor + ":' section"));
      merged[key] = section;
    }
  }
  return boost::json::value(std::move(merged));
}

bool fault_matches(const Fault& fault, std::string_view vendor, const ServerRequest& request) {
  if (!fault.vendor.empty() && fault.vendor != vendor) return false;
  if (!fault.method.empty()) {
    if (fault.method.size() != request.method.size()) return false;
    for (std::size_t i = 0; i < fault.method.size(); ++i)
      if (fault.method[i] != std::toupper(static_cast<unsigned char>(request.method[i]))) return false;
  }
  return fault.path_prefix.empty() || path_of(request).starts_with(fault.path_prefix);
}

/// A fault's `body`, answered as given (see fixtures.hpp).
ServerReply literal_reply(const Fault& fault) {
  ServerReply reply;
  reply.status = fault.status;
  reply.body = fault.body.value_or("");
  reply.headers.emplace_back("Content-Type", "application/json");
  return reply;
}

/// What a fault changes in an answer, whoever made it: extra headers, a reset mid-body, no
/// keep-alive.
void shape_answer(ServerReply& reply, const Fault& fault) {
  for (const auto& header : fault.headers) reply.headers.push_back(header);
  if (fault.reset_mid_body) reply.action = ServerReply::Action::reset_mid_body;
  if (fault.close_connection) reply.close_connection = true;
}

ServerReply message_reply(int status, std::string message) {
  return json_reply(status, boost::json::object{{"message", std::move(message)}});
}

boost::json::value counts_to_json(const std::map<std::string, std::size_t>& counts) {
  boost::json::object out;
  for (const auto& [vendor, n] : counts) out[vendor] = n;
  return out;
}

}  // namespace

Result<std::unique_ptr<EmulatorHost>> EmulatorHost::start(Options options) {
  std::unique_ptr<EmulatorHost> host(new EmulatorHost());
  if (options.journal_limit < 1)
    return std::unexpected(invalid("journal_limit", "the journal keeps at least one request"));
  host->journal_limit_ = options.journal_limit;
  host->clock_ = options.clock ? std::move(options.clock) : [] { return std::chrono::system_clock::now(); };
  auto emulators = make_emulators(options.registry != nullptr ? *options.registry : Registry::builtin());
  if (!emulators) return std::unexpected(std::move(emulators).error());
  host->emulators_ = std::move(*emulators);
  auto credentials = merge_credentials(host->emulators_);
  if (!credentials) return std::unexpected(std::move(credentials).error());
  host->credentials_ = std::move(*credentials);
  // The printed config holds every sample backend under its name: two of one name would make it
  // a document with a duplicate key.
  std::vector<std::pair<std::string, std::string_view>> sample_names;  // name -> vendor
  for (const auto& emulator : host->emulators_) {
    auto sample = emulator->sample_backend();
    if (!sample) continue;
    auto same = std::find_if(sample_names.begin(), sample_names.end(), [&](const auto& n) { return n.first == sample->name; });
    if (same != sample_names.end())
      return std::unexpected(make_error(ErrorCode::internal, "the " + std::string(same->second) + " and " +
                                                                 std::string(emulator->vendor()) +
                                                                 " emulators both name their sample backend '" +
                                                                 sample->name + "'"));
    sample_names.emplace_back(sample->name, emulator->vendor());
  }

  if (options.fixture.is_null()) {
    auto merged = merged_default_fixture(host->emulators_);
    if (!merged) return std::unexpected(std::move(merged).error());
    host->fixture_ = std::move(*merged);
  } else {
    host->fixture_ = std::move(options.fixture);
  }
  auto faults = check_fixture(host->fixture_, host->emulators_);
  if (!faults) return std::unexpected(std::move(faults).error());
  EXPBRIDGE_RETURN_IF_ERROR(seed_all(host->fixture_, host->emulators_, host->clock_()));
  host->faults_ = std::move(*faults);

  try {
    EmulatorHost* self = host.get();
    host->server_ = std::make_unique<LoopbackServer>(
        [self](const ServerRequest& request) { return self->dispatch(request); }, std::nullopt, options.port);
  } catch (const boost::system::system_error& e) {
    // code().message() alone: what() appends Asio's source location, noise for a user.
    return std::unexpected(make_error(ErrorCode::unavailable, "cannot listen on 127.0.0.1:" +
                                                                  std::to_string(options.port) + ": " +
                                                                  e.code().message()));
  } catch (const std::exception& e) {
    return std::unexpected(make_error(ErrorCode::unavailable, "cannot listen on 127.0.0.1:" +
                                                                  std::to_string(options.port) + ": " + e.what()));
  }
  return host;
}

EmulatorHost::~EmulatorHost() {
  // Stop serving before the emulators go: the server thread calls into them.
  server_.reset();
}

std::uint16_t EmulatorHost::port() const { return server_->port(); }

std::string EmulatorHost::base_url() const { return server_->base_url(); }

boost::json::value EmulatorHost::state() const {
  std::lock_guard lock(mutex_);
  return collect_state(emulators_);
}

Status EmulatorHost::set_faults(std::vector<Fault> faults) {
  std::lock_guard lock(mutex_);
  EXPBRIDGE_RETURN_IF_ERROR(check_fault_vendors(faults, emulators_, "faults"));
  faults_ = std::move(faults);
  return {};
}

Status EmulatorHost::reset() {
  std::lock_guard lock(mutex_);
  auto faults = check_fixture(fixture_, emulators_);  // checked at start: cannot fail, but cheap
  if (!faults) return std::unexpected(std::move(faults).error());
  EXPBRIDGE_RETURN_IF_ERROR(seed_all(fixture_, emulators_, clock_()));
  faults_ = std::move(*faults);
  counts_.clear();
  journal_.clear();
  return {};
}

std::vector<std::string> EmulatorHost::vendors() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& emulator : emulators_) out.emplace_back(emulator->vendor());
  return out;
}

std::vector<SampleBackend> EmulatorHost::sample_backends() const {
  std::lock_guard lock(mutex_);
  std::vector<SampleBackend> out;
  for (const auto& emulator : emulators_)
    if (auto sample = emulator->sample_backend()) out.push_back(std::move(*sample));
  return out;
}

std::map<std::string, std::size_t> EmulatorHost::request_counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

ServerReply EmulatorHost::dispatch(const ServerRequest& request) {
  std::lock_guard lock(mutex_);
  const std::string_view path = path_of(request);

  if (path == kControlPrefix || path.starts_with(std::string(kControlPrefix) + "/")) {
    const std::string_view what = path.substr(std::min(path.size(), kControlPrefix.size() + 1));
    const bool get = request.method == "GET", post = request.method == "POST";
    auto wrong_method = [&](std::string_view allowed) {
      ServerReply reply = message_reply(405, std::string(path) + " takes " + std::string(allowed));
      reply.headers.emplace_back("Allow", std::string(allowed));
      return reply;
    };
    if (what == "state") return get ? json_reply(200, collect_state(emulators_)) : wrong_method("GET");
    if (what == "requests") return get ? json_reply(200, counts_to_json(counts_)) : wrong_method("GET");
    if (what == "reset") {
      if (!post) return wrong_method("POST");
      auto faults = check_fixture(fixture_, emulators_);
      if (!faults) return message_reply(500, "cannot reset: " + faults.error().describe());
      if (auto seeded = seed_all(fixture_, emulators_, clock_()); !seeded)
        return message_reply(500, "cannot reset: " + seeded.error().describe());
      faults_ = std::move(*faults);
      counts_.clear();
      journal_.clear();
      return json_reply(200, boost::json::object{{"reset", true}});
    }
    if (what == "faults") {
      if (get) return json_reply(200, faults_to_json(faults_));
      if (!post) return wrong_method("GET, POST");
      boost::system::error_code ec;
      auto body = boost::json::parse(request.body, ec);
      if (ec) return message_reply(400, "the body is not JSON: " + ec.message());
      auto faults = parse_faults(body, "faults");
      if (!faults) return message_reply(400, faults.error().describe());
      if (auto ok = check_fault_vendors(*faults, emulators_, "faults"); !ok)
        return message_reply(400, ok.error().describe());
      faults_ = std::move(*faults);
      return json_reply(200, boost::json::object{{"faults", faults_.size()}});
    }
    return message_reply(404, "no control endpoint " + std::string(path) +
                                  " (state, requests, faults, reset under /_emulator/)");
  }

  VendorEmulator* target = nullptr;
  for (auto& emulator : emulators_) {
    if (emulator->serves(request)) {
      target = emulator.get();
      break;
    }
  }
  if (target == nullptr)
    return message_reply(404, "no emulator serves " + request.method + " " + std::string(path) +
                                  " (emulators: " + vendor_list(emulators_) + ")");
  const std::string vendor(target->vendor());
  ++counts_[vendor];
  record(vendor, request);

  std::chrono::milliseconds latency{0};
  std::optional<Fault> shaping;
  auto fault = std::find_if(faults_.begin(), faults_.end(),
                            [&](const Fault& f) { return fault_matches(f, vendor, request); });
  if (fault != faults_.end()) {
    const Fault applied = *fault;
    if (fault->times > 0 && --fault->times == 0) faults_.erase(fault);
    latency = applied.latency;
    if (applied.drop_connection) {
      ServerReply reply;
      reply.action = ServerReply::Action::close_without_reply;
      reply.delay = latency;
      return reply;
    }
    if (applied.status != 0) {
      ServerReply reply = applied.body ? literal_reply(applied) : fault_reply(*target, applied, request, clock_());
      reply.headers.emplace_back("X-Emulator-Fault", "injected");
      reply.delay = latency;
      shape_answer(reply, applied);
      journal_.back().status = reply.status;
      return reply;
    }
    shaping = applied;
  }

  // The vendor's limiter sees what no fault answered; a refused request is not handled.
  RateVerdict verdict = target->rate_limit(request, clock_());
  if (verdict.refusal) {
    ServerReply refusal = std::move(*verdict.refusal);
    for (auto& header : verdict.headers) refusal.headers.push_back(std::move(header));
    refusal.delay += latency;
    if (shaping) shape_answer(refusal, *shaping);
    journal_.back().status = refusal.status;
    return refusal;
  }
  ServerReply reply;
  try {
    reply = target->handle(request);
  } catch (const std::exception& e) {
    // An emulator bug must show as such, not as a vendor answer.
    reply = message_reply(500, "emulator " + vendor + " threw: " + e.what());
  }
  for (auto& header : verdict.headers) reply.headers.push_back(std::move(header));
  reply.delay += latency;
  // Still the last: the mutex is held since record().
  journal_.back().handled_status = reply.status;
  if (shaping && shaping->apply_then_drop) {
    // Done at the vendor; the answer is lost on the way back.
    ServerReply dropped;
    dropped.action = ServerReply::Action::close_without_reply;
    dropped.delay = reply.delay;
    return dropped;
  }
  if (shaping) shape_answer(reply, *shaping);
  journal_.back().status = reply.status;
  return reply;
}

void EmulatorHost::record(const std::string& vendor, const ServerRequest& request) {
  if (journal_.size() >= journal_limit_) journal_.pop_front();
  journal_.push_back(Received{vendor, request, std::chrono::steady_clock::now(), 0, 0});
}

std::vector<EmulatorHost::Received> EmulatorHost::received_requests() const {
  std::lock_guard lock(mutex_);
  return {journal_.begin(), journal_.end()};
}

std::size_t EmulatorHost::connections_accepted() const { return server_->connections_accepted(); }

Result<boost::json::value> default_fixture(const Registry& registry) {
  auto emulators = make_emulators(registry);
  if (!emulators) return std::unexpected(std::move(emulators).error());
  return merged_default_fixture(*emulators);
}

}  // namespace expbridge::emulator
