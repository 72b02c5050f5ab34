// PLACEHOLDER for the PostgreSQL branch (s4-store-postgres) only, so that its backend builds and
// runs before the real core/store/store.cpp lands from s4-store-sqlite: at merge, take theirs.
// Just enough of the base class: forwarding to the hooks, errors stamped with the location.
#include "expbridge/store.hpp"

#include <openssl/evp.h>

#include <array>

#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
#include "store/postgres_store.hpp"
#endif

namespace expbridge {

std::string store_digest(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &size, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

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

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
#ifdef EXPBRIDGE_HAVE_POSTGRES_STORE
  if (is_postgres_location(options.location)) return open_postgres_store(options);
#endif
  Error e = make_error(ErrorCode::unsupported, "only the PostgreSQL store is in this build");
  e.file = options.location;
  return std::unexpected(std::move(e));
}

Store::Store(std::string location, StoreOptions options) : location_(std::move(location)), options_(std::move(options)) {}
Store::~Store() = default;

Error Store::located(Error e) const {
  if (e.message.find(location_) == std::string::npos) e.message = "state store " + location_ + ": " + e.message;
  return e;
}

#define EXPBRIDGE_LOCATED(call)                                     \
  do {                                                              \
    auto r = (call);                                                \
    if (!r) return std::unexpected(located(std::move(r).error()));  \
    return r;                                                       \
  } while (false)

int Store::schema_version() const { return do_schema_version(); }
Result<Run> Store::begin_run(const RunStart& start) { EXPBRIDGE_LOCATED(do_begin_run(start)); }
Status Store::finish_run(const std::string& run_id) { EXPBRIDGE_LOCATED(do_finish_run(run_id)); }
Result<std::optional<Run>> Store::last_unfinished_run(const std::string& config_path) {
  EXPBRIDGE_LOCATED(do_last_unfinished_run(config_path));
}
Status Store::record_input(const InputRecord& input) { EXPBRIDGE_LOCATED(do_record_input(input)); }
Status Store::mark_input_done(const std::string& run_id, std::int64_t position) {
  EXPBRIDGE_LOCATED(do_mark_input_done(run_id, position));
}
Result<std::vector<InputRecord>> Store::inputs(const std::string& run_id) { EXPBRIDGE_LOCATED(do_inputs(run_id)); }
Result<std::int64_t> Store::record_intent(const Intent& intent) { EXPBRIDGE_LOCATED(do_record_intent(intent)); }
Status Store::record_outcome(std::int64_t intent_id, IntentOutcome outcome, int http_status, std::string_view error) {
  EXPBRIDGE_LOCATED(do_record_outcome(intent_id, outcome, http_status, error));
}
Result<std::vector<Intent>> Store::journal(const std::string& run_id) { EXPBRIDGE_LOCATED(do_journal(run_id)); }
Status Store::save_backend(const BackendRecord& record) { EXPBRIDGE_LOCATED(do_save_backend(record)); }
Result<std::optional<BackendRecord>> Store::backend(const std::string& experiment, const std::string& backend) {
  EXPBRIDGE_LOCATED(do_backend(experiment, backend));
}
Result<std::vector<BackendRecord>> Store::backends(const std::optional<std::string>& experiment) {
  EXPBRIDGE_LOCATED(do_backends(experiment));
}
Status Store::add_history(const HistoryEntry& entry) { EXPBRIDGE_LOCATED(do_add_history(entry)); }
Result<std::vector<HistoryEntry>> Store::history(const std::string& experiment) {
  EXPBRIDGE_LOCATED(do_history(experiment));
}
Result<Store::ExperimentLock> Store::lock_experiment(const std::string& experiment) {
  EXPBRIDGE_LOCATED(do_lock_experiment(experiment));
}

}  // namespace expbridge
