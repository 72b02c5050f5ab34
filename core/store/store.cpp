#include "expbridge/store.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <random>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/sigv4.hpp"
#include "store/store_backends.hpp"

namespace expbridge {
namespace {

Error invalid(std::string message) { return make_error(ErrorCode::invalid_input, std::move(message)); }

Status first_failure(std::initializer_list<Status> checks) {
  for (const Status& check : checks)
    if (!check) return check;
  return {};
}

Status not_empty(std::string_view value, std::string_view what) {
  if (value.empty()) return std::unexpected(invalid(std::string(what) + " is empty"));
  return {};
}

Status not_negative(std::int64_t value, std::string_view what) {
  if (value < 0) return std::unexpected(invalid(std::string(what) + " is negative (" + std::to_string(value) + ")"));
  return {};
}

/// The operation, then the store: `state store PATH: record_intent: ...`. A backend's own error
/// that already names the store (one raised while opening it) is left as it is.
template <class Locate>
Error stamp(Error e, std::string_view operation, std::string_view location, const Locate& locate) {
  if (e.message.find(location) == std::string::npos) e.message = std::string(operation) + ": " + e.message;
  return locate(std::move(e));
}

/// Runs `call` once `checks` pass; either's error stamped with the operation and the store.
template <class Call, class Locate>
auto checked(std::string_view operation, const Status& checks, std::string_view location, const Locate& locate,
             Call&& call) -> decltype(call()) {
  if (!checks) return std::unexpected(stamp(checks.error(), operation, location, locate));
  auto result = call();
  if (!result) return std::unexpected(stamp(std::move(result).error(), operation, location, locate));
  return result;
}

bool is_postgres_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

struct UtcParts {
  std::tm tm{};
  int millis = 0;
};

std::string format_utc(const UtcParts& p, const char* format) {
  std::array<char, 48> out{};
  const int n = std::snprintf(out.data(), out.size(), format, p.tm.tm_year + 1900, p.tm.tm_mon + 1, p.tm.tm_mday,
                              p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.millis);
  return std::string(out.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string random_hex64() {
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // OpenSSL's generator failing is unheard of; uniqueness then rests on the OS's source.
    std::random_device device;
    for (auto& b : bytes) b = static_cast<unsigned char>(device());
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

template <class T>
Result<T> column_error(std::string_view column, std::string_view why) {
  return std::unexpected(make_error(ErrorCode::internal, "the stored " + std::string(column) + " is not " +
                                                             std::string(why) + " (was the store edited by hand?)"));
}

Result<boost::json::value> parse_json_column(std::string_view text, std::string_view column) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) return column_error<boost::json::value>(column, "valid JSON");
  return value;
}

Status check_input(const InputRecord& input) {
  return first_failure({not_empty(input.run_id, "the input's run id"), not_negative(input.position, "the input's position"),
                        not_empty(input.digest, "the input's digest")});
}

Status check_input_done(const InputDone& done) {
  return first_failure({not_empty(done.run_id, "the run id"), not_negative(done.position, "the input's position")});
}

Status check_intent(const Intent& intent) {
  Status pending = intent.outcome == IntentOutcome::pending
                       ? Status{}
                       : Status{std::unexpected(invalid("an intent is recorded pending, before its request is sent; "
                                                        "its outcome comes with record_outcome"))};
  return first_failure({not_empty(intent.run_id, "the intent's run id"),
                        not_negative(intent.input_position, "the intent's input position"),
                        not_empty(intent.experiment, "the intent's experiment"),
                        not_empty(intent.backend, "the intent's backend"),
                        not_empty(intent.operation, "the intent's operation"),
                        not_negative(intent.sequence, "the intent's sequence"),
                        not_empty(intent.request_digest, "the intent's request digest"), pending});
}

Status check_outcome(const OutcomeRecord& outcome) {
  Status known = outcome.intent_id > 0
                     ? Status{}
                     : Status{std::unexpected(invalid("no intent has id " + std::to_string(outcome.intent_id)))};
  Status answered = outcome.outcome != IntentOutcome::pending
                        ? Status{}
                        : Status{std::unexpected(invalid("pending is not an outcome: an intent starts pending"))};
  Status status = outcome.http_status >= 0 && outcome.http_status <= 999
                      ? Status{}
                      : Status{std::unexpected(
                            invalid("HTTP status " + std::to_string(outcome.http_status) + " is not one"))};
  return first_failure({known, answered, status});
}

Status check_record(const BackendRecord& record) {
  return first_failure(
      {not_empty(record.experiment, "the record's experiment"), not_empty(record.backend, "the record's backend")});
}

Status check_history(const HistoryEntry& entry) { return not_empty(entry.experiment, "the history entry's experiment"); }

/// Both backends then agree on one clock format; a caller replaying history keeps its times.
HistoryEntry stamped(HistoryEntry entry) {
  if (entry.at.empty()) entry.at = store_detail::now_utc();
  return entry;
}

/// `writes`, or a copy of them whose history entries all have their time.
const StoreWrites& with_times(const StoreWrites& writes, std::optional<StoreWrites>& copy) {
  if (std::all_of(writes.history.begin(), writes.history.end(), [](const HistoryEntry& e) { return !e.at.empty(); }))
    return writes;
  copy = writes;
  for (auto& entry : copy->history) entry = stamped(std::move(entry));
  return *copy;
}

/// Every write checked as its own call checks it: the first failure.
Status check_writes(const StoreWrites& writes) {
  for (const auto& input : writes.inputs) EXPBRIDGE_RETURN_IF_ERROR(check_input(input));
  for (const auto& outcome : writes.outcomes) EXPBRIDGE_RETURN_IF_ERROR(check_outcome(outcome));
  for (const auto& done : writes.inputs_done) EXPBRIDGE_RETURN_IF_ERROR(check_input_done(done));
  for (const auto& record : writes.backends) EXPBRIDGE_RETURN_IF_ERROR(check_record(record));
  for (const auto& state : writes.applied)
    EXPBRIDGE_RETURN_IF_ERROR(first_failure({not_empty(state.experiment, "the applied state's experiment"),
                                             not_empty(state.backend, "the applied state's backend")}));
  for (const auto& entry : writes.history) EXPBRIDGE_RETURN_IF_ERROR(check_history(entry));
  return {};
}

}  // namespace

bool StoreWrites::empty() const noexcept {
  return inputs.empty() && outcomes.empty() && inputs_done.empty() && backends.empty() && applied.empty() &&
         history.empty();
}

std::string store_digest(std::string_view bytes) { return auth::sha256_hex(bytes); }

std::string_view to_string(IntentOutcome outcome) noexcept {
  switch (outcome) {
    case IntentOutcome::pending: return "pending";
    case IntentOutcome::succeeded: return "succeeded";
    case IntentOutcome::failed: return "failed";
    case IntentOutcome::reconciled_applied: return "reconciled_applied";
    case IntentOutcome::reconciled_absent: return "reconciled_absent";
  }
  return "pending";
}

namespace store_detail {

std::string now_utc() {
  // Every journal row carries a time, several per update: the date and time of day are
  // formatted once a second, the milliseconds by hand.
  thread_local std::int64_t formatted_second = -1;
  thread_local std::string second_text;  // `YYYY-MM-DDTHH:MM:SS`
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::int64_t second = millis >= 0 ? millis / 1000 : (millis - 999) / 1000;
  if (second != formatted_second) {
    UtcParts parts;
    const auto seconds = static_cast<std::time_t>(second);
    gmtime_r(&seconds, &parts.tm);
    second_text = format_utc(parts, "%04d-%02d-%02dT%02d:%02d:%02d");
    formatted_second = second;
  }
  const auto ms = static_cast<int>(millis - second * 1000);
  std::string out;
  out.reserve(second_text.size() + 5);
  out += second_text;
  out += '.';
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + ms / 10 % 10);
  out += static_cast<char>('0' + ms % 10);
  out += 'Z';
  return out;
}

std::string new_run_id(std::string_view started_at) {
  std::string id;
  for (char c : started_at)
    if (c != '-' && c != ':') id += c;
  return id + "-" + random_hex64();
}

Error name_store(std::string_view location, Error e) {
  if (e.message.find(location) == std::string::npos)
    e.message = "state store " + std::string(location) + ": " + e.message;
  return e;
}

std::optional<IntentOutcome> parse_intent_outcome(std::string_view text) {
  for (IntentOutcome outcome : {IntentOutcome::pending, IntentOutcome::succeeded, IntentOutcome::failed,
                                IntentOutcome::reconciled_applied, IntentOutcome::reconciled_absent})
    if (to_string(outcome) == text) return outcome;
  return std::nullopt;
}

std::string to_json_text(const boost::json::object& value) { return boost::json::serialize(value); }

std::string to_json_text(const std::map<std::string, std::string>& value) {
  boost::json::object object;
  for (const auto& [key, text] : value) object[key] = text;
  return boost::json::serialize(object);
}

std::string to_json_text(const std::vector<std::string>& value) {
  boost::json::array array;
  for (const auto& text : value) array.emplace_back(text);
  return boost::json::serialize(array);
}

Result<boost::json::object> object_from_json_text(std::string_view text, std::string_view column) {
  auto value = parse_json_column(text, column);
  if (!value) return std::unexpected(value.error());
  if (!value->is_object()) return column_error<boost::json::object>(column, "a JSON object");
  return std::move(value->as_object());
}

Result<std::map<std::string, std::string>> string_map_from_json_text(std::string_view text, std::string_view column) {
  auto object = object_from_json_text(text, column);
  if (!object) return std::unexpected(object.error());
  std::map<std::string, std::string> out;
  for (const auto& entry : *object) {
    if (!entry.value().is_string()) return column_error<std::map<std::string, std::string>>(column, "a map of strings");
    out.emplace(std::string(entry.key()), std::string(entry.value().as_string()));
  }
  return out;
}

Result<std::vector<std::string>> strings_from_json_text(std::string_view text, std::string_view column) {
  auto value = parse_json_column(text, column);
  if (!value) return std::unexpected(value.error());
  if (!value->is_array()) return column_error<std::vector<std::string>>(column, "a JSON array");
  std::vector<std::string> out;
  for (const auto& item : value->as_array()) {
    if (!item.is_string()) return column_error<std::vector<std::string>>(column, "an array of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

}  // namespace store_detail

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  if (options.location.empty())
    return std::unexpected(invalid("state store: no location given (a file path or a postgresql:// URL)"));
  if (options.busy_timeout.count() < 0)
    return std::unexpected(invalid("state store: the busy timeout is negative (" +
                                   std::to_string(options.busy_timeout.count()) + " ms)"));
  if (is_postgres_url(options.location)) {
#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
    return open_postgres_store(options);
#else
    // Not named: the URL may hold a password, and only the PostgreSQL backend knows to strip it.
    return std::unexpected(make_error(ErrorCode::unsupported,
                                      "state store: this build of expbridge has no PostgreSQL store"));
#endif
  }
  return open_sqlite_store(options);
}

Store::Store(std::string location, StoreOptions options)
    : location_(std::move(location)), options_(std::move(options)) {}

Store::~Store() = default;

Error Store::located(Error e) const { return store_detail::name_store(location_, std::move(e)); }

int Store::schema_version() const { return do_schema_version(); }

// A database operation holds `calls_`: the applier's store writer commits on its own thread
// while its event loop reads, and a backend's connection is used by one thread at a time.
#define EXPBRIDGE_STORE_CALL(operation, checks, call)                                                   \
  checked(operation, checks, location_, [this](Error e) { return located(std::move(e)); }, [&] { \
    std::lock_guard one_call_at_a_time(calls_);                                                    \
    return call;                                                                                   \
  })
// The experiment locks take no connection of the store's own (a file's flock, a pooled
// session), and a wait for one must not hold up the other thread's commits.
#define EXPBRIDGE_STORE_LOCK_CALL(operation, checks, call) \
  checked(operation, checks, location_, [this](Error e) { return located(std::move(e)); }, [&] { return call; })

Result<Run> Store::begin_run(const RunStart& start) {
  return EXPBRIDGE_STORE_CALL("begin_run",
                              first_failure({not_empty(start.command, "the run's command"),
                                             not_empty(start.config_path, "the run's config path")}),
                              do_begin_run(start));
}

Status Store::finish_run(const std::string& run_id) {
  return EXPBRIDGE_STORE_CALL("finish_run", not_empty(run_id, "the run id"), do_finish_run(run_id));
}

Result<std::optional<Run>> Store::last_unfinished_run(const std::string& config_path) {
  return EXPBRIDGE_STORE_CALL("last_unfinished_run", not_empty(config_path, "the config path"),
                              do_last_unfinished_run(config_path));
}

Status Store::record_input(const InputRecord& input) {
  return EXPBRIDGE_STORE_CALL("record_input", check_input(input), do_record_input(input));
}

Status Store::mark_input_done(const std::string& run_id, std::int64_t position) {
  return EXPBRIDGE_STORE_CALL("mark_input_done", check_input_done(InputDone{run_id, position}),
                              do_mark_input_done(run_id, position));
}

Result<std::vector<InputRecord>> Store::inputs(const std::string& run_id) {
  return EXPBRIDGE_STORE_CALL("inputs", not_empty(run_id, "the run id"), do_inputs(run_id));
}

Result<std::int64_t> Store::record_intent(const Intent& intent) {
  return EXPBRIDGE_STORE_CALL("record_intent", check_intent(intent), do_record_intent(intent));
}

Result<std::vector<std::int64_t>> Store::record_intents(std::span<const Intent> intents, const StoreWrites& with) {
  Status checks = check_writes(with);
  for (const Intent& intent : intents)
    if (checks) checks = check_intent(intent);
  std::optional<StoreWrites> copy;
  return EXPBRIDGE_STORE_CALL("record_intents", checks, do_commit(intents, with_times(with, copy)));
}

Status Store::record_outcome(std::int64_t intent_id, IntentOutcome outcome, int http_status, std::string_view error) {
  return EXPBRIDGE_STORE_CALL("record_outcome",
                              check_outcome(OutcomeRecord{intent_id, outcome, http_status, std::string(error)}),
                              do_record_outcome(intent_id, outcome, http_status, error));
}

Status Store::write(const StoreWrites& writes) {
  if (writes.empty()) return {};
  return EXPBRIDGE_STORE_CALL("write", check_writes(writes), [&]() -> Status {
    std::optional<StoreWrites> copy;
    auto committed = do_commit({}, with_times(writes, copy));
    if (!committed) return std::unexpected(std::move(committed).error());
    return {};
  }());
}

Result<std::vector<Intent>> Store::journal(const std::string& run_id) {
  return EXPBRIDGE_STORE_CALL("journal", not_empty(run_id, "the run id"), do_journal(run_id));
}

Status Store::save_backend(const BackendRecord& record) {
  return EXPBRIDGE_STORE_CALL("save_backend", check_record(record), do_save_backend(record));
}

Result<std::optional<BackendRecord>> Store::backend(const std::string& experiment, const std::string& backend) {
  return EXPBRIDGE_STORE_CALL(
      "backend", first_failure({not_empty(experiment, "the experiment"), not_empty(backend, "the backend")}),
      do_backend(experiment, backend));
}

Result<std::vector<BackendRecord>> Store::backends(const std::optional<std::string>& experiment) {
  return EXPBRIDGE_STORE_CALL("backends", experiment ? not_empty(*experiment, "the experiment") : Status{},
                              do_backends(experiment));
}

Status Store::add_history(const HistoryEntry& entry) {
  return EXPBRIDGE_STORE_CALL("add_history", check_history(entry), do_add_history(stamped(entry)));
}

Result<std::vector<HistoryEntry>> Store::history(const std::string& experiment) {
  return EXPBRIDGE_STORE_CALL("history", not_empty(experiment, "the experiment"), do_history(experiment));
}

Result<Store::ExperimentLock> Store::lock_experiment(const std::string& experiment) {
  return EXPBRIDGE_STORE_LOCK_CALL("lock_experiment", not_empty(experiment, "the experiment"),
                              do_lock_experiment(experiment));
}

Result<std::optional<Store::ExperimentLock>> Store::try_lock_experiment(const std::string& experiment) {
  return EXPBRIDGE_STORE_LOCK_CALL("try_lock_experiment", not_empty(experiment, "the experiment"),
                              do_try_lock_experiment(experiment));
}

#undef EXPBRIDGE_STORE_CALL

}  // namespace expbridge
