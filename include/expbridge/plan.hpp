// expbridge — what would be sent: the ordered vendor requests per backend, and what is skipped.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace expbridge {

/// One vendor request, ready to authenticate and send. Holds no credentials.
struct PlannedRequest {
  std::string operation;  ///< the vendor's operation name, e.g. `UpdateExperimentRun`
  std::string method;     ///< `GET`, `POST`, `PATCH`, `DELETE`
  std::string url;        ///< absolute; path labels percent-encoded
  /// Content headers only (`content-type`); auth headers are added when sending.
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<boost::json::value> body;  ///< nothing for a request without a body
  int success_status = 200;                ///< the vendor's documented success code
  bool idempotent = false;                 ///< safe to send twice (retries)
};

/// A neutral field (or field value) a backend cannot express, and why.
struct Skip {
  std::string field;   ///< e.g. `exposure`, `action.pause`, `variations[two-step]`
  std::string reason;
};

/// Everything one backend would receive for one update.
struct BackendPlan {
  std::string backend;  ///< the configured name, e.g. `aws`
  std::string vendor;   ///< `appconfig`, `launchdarkly`, ...
  std::vector<PlannedRequest> requests;  ///< in the order they must be sent
  std::vector<Skip> skipped;
  std::vector<std::string> notes;  ///< what a person should know that is not a skip
  /// The neutral fields (`field::` names) the requests carry: what lets the adapter base
  /// check that every present field is carried or skipped. Not part of the JSON or text plan.
  std::vector<std::string> carried;
};

/// One update planned for every selected backend, in config order.
struct Plan {
  std::string experiment;
  std::vector<BackendPlan> backends;

  /// True when any backend skips a field (a strict run refuses such a plan).
  bool has_skips() const;
};

/// One request as it appears in plans and reports.
boost::json::object request_to_json(const PlannedRequest& request);
/// Adds a backend's `skipped` (and `notes`, when there are any) to its JSON object.
void append_skips_json(boost::json::object& backend, const std::vector<Skip>& skipped,
                       const std::vector<std::string>& notes);

/// The plan as the JSON object `plan --format json` prints.
boost::json::value plan_to_json(const Plan& plan);
/// Skip reasons a run has already printed. A text report lists a backend's skipped fields on one
/// line with a number per reason (`name [1], comment [2]`) and prints each reason once, the first
/// time it appears; a later report of the same run only refers to its number. JSON output always
/// carries every reason in full.
class SkipReasonIndex {
 public:
  /// `field [n]` for each skip, and the lines `[n] reason` of the reasons not printed before.
  std::string fields(const std::vector<Skip>& skipped, std::vector<std::string>& new_reason_lines);

 private:
  std::vector<std::string> reasons_;  // reason n is reasons_[n - 1]; a run has a few dozen at most
};

/// The plan as readable text (what `plan` prints by default). `reasons`: the run's index of skip
/// reasons printed so far; nullptr = this plan alone (every reason printed).
std::string plan_to_text(const Plan& plan, SkipReasonIndex* reasons = nullptr);

}  // namespace expbridge
