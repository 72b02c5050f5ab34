#include <algorithm>
#include <cstdio>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "experiment_codec.hpp"
#include "expbridge/apply.hpp"
#include "message_text.hpp"
#include "secrets.hpp"

namespace expbridge {
namespace {

boost::json::object error_json(const Error& e) {
  // Vendor text reaches a report only through errors; masked here, before JSON escaping
  // could turn a secret into a form the scrubber would not recognise.
  boost::json::object out{{"code", to_string(e.code)}, {"message", secrets::scrub(e.message)}};
  if (!e.request_id.empty()) out["request_id"] = secrets::scrub(e.request_id);
  if (!e.field.empty()) out["field"] = e.field;
  if (!e.file.empty()) out["file"] = e.file;
  if (e.line > 0) out["line"] = e.line;
  return out;
}

double rounded(double ms) { return static_cast<double>(static_cast<long long>(ms * 10 + 0.5)) / 10; }

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

boost::json::value report_to_json(const UpdateReport& report) {
  boost::json::object out;
  out["source"] = report.source;
  out["experiment"] = report.experiment;
  out["ok"] = report.ok();
  if (report.error) out["error"] = error_json(*report.error);
  out["duration_ms"] = rounded(report.duration_ms);
  if (report.done_earlier) out["done_earlier"] = true;
  if (report.unsettled) out["unsettled"] = true;
  boost::json::array backends;
  for (const auto& b : report.backends) {
    boost::json::object bo;
    bo["backend"] = b.backend;
    bo["vendor"] = b.vendor;
    bo["result"] = to_string(b.result);
    boost::json::array requests;
    for (const auto& r : b.requests) {
      boost::json::object ro = request_to_json(r.request);
      ro["sent"] = r.sent;
      ro["status"] = r.status;
      ro["attempts"] = r.attempts;
      ro["duration_ms"] = rounded(r.duration_ms);
      if (r.throttled > 0) ro["throttled"] = r.throttled;
      if (r.rate_limit_wait_ms > 0) ro["rate_limit_wait_ms"] = rounded(r.rate_limit_wait_ms);
      if (r.error) ro["error"] = error_json(*r.error);
      requests.push_back(std::move(ro));
    }
    bo["requests"] = std::move(requests);
    append_skips_json(bo, b.skipped, b.notes);
    boost::json::array unchanged;
    for (const auto& f : b.unchanged) unchanged.emplace_back(f);
    bo["unchanged"] = std::move(unchanged);
    if (!b.journal.empty()) {
      boost::json::array journal;
      for (const auto& j : b.journal) journal.push_back(boost::json::object{{"operation", j.operation}, {"status", j.status}});
      bo["journal"] = std::move(journal);
    }
    if (b.error) bo["error"] = error_json(*b.error);
    bo["duration_ms"] = rounded(b.duration_ms);
    backends.push_back(std::move(bo));
  }
  out["backends"] = std::move(backends);
  return out;
}

std::string report_to_text(const UpdateReport& report, SkipReasonIndex* reasons) {
  SkipReasonIndex own;
  if (reasons == nullptr) reasons = &own;
  std::string out = "update " + report.source;
  if (!report.experiment.empty()) out += " (experiment " + report.experiment + ")";
  out += "\n";
  if (report.error) {
    out += "  refused, nothing sent: " + report.error->describe() + "\n";
    if (report.unsettled) out += "  unsettled: the run stays unfinished; `expbridge apply --resume` settles it\n";
    return out;
  }
  if (report.done_earlier) {
    // A resumed run: the run it continues finished this input; its requests, as journalled.
    out += "  done earlier by the resumed run, nothing sent now\n";
    for (const auto& b : report.backends)
      for (const auto& j : b.journal) out += "  " + pad(b.backend, 10) + pad(b.vendor, 14) + j.operation + ": " + j.status + "\n";
    return secrets::scrub(out);
  }
  out += "  " + pad("backend", 10) + pad("vendor", 14) + pad("result", 10) + pad("status", 8) + pad("attempts", 10) +
         pad("ms", 9) + "request\n";
  for (const auto& b : report.backends) {
    if (b.requests.empty()) {
      out += "  " + pad(b.backend, 10) + pad(b.vendor, 14) + pad(std::string(to_string(b.result)), 10) + pad("-", 8) +
             pad("-", 10) + pad("-", 9) +
             (b.result == BackendOutcome::failed ? "(nothing sent)\n" : "(nothing to send)\n");
    }
    for (const auto& r : b.requests) {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.1f", r.duration_ms);
      std::string result = r.error ? "failed" : (r.attempts == 0 ? "not sent" : "ok");
      out += "  " + pad(b.backend, 10) + pad(b.vendor, 14) + pad(result, 10) +
             pad(r.status ? std::to_string(r.status) : "-", 8) + pad(r.attempts ? std::to_string(r.attempts) : "-", 10) +
             pad(r.attempts ? ms : "-", 9) + r.request.operation + "\n";
      if (r.error) out += "      error: " + std::string(to_string(r.error->code)) + ": " + secrets::scrub(r.error->message) + "\n";
    }
    bool error_shown = std::any_of(b.requests.begin(), b.requests.end(), [](const RequestReport& r) { return r.error.has_value(); });
    if (b.error && !error_shown)
      out += "      error: " + std::string(to_string(b.error->code)) + ": " + secrets::scrub(b.error->message) + "\n";
    // What only a resumed run says: a request it did not send again, or sent after reconciling.
    for (const auto& j : b.journal)
      if (j.status != "sent now") out += "      journal: " + j.operation + ": " + j.status + "\n";
    // Under the backend's rows: what its read showed was already as asked, so nothing was sent for it.
    if (!b.unchanged.empty()) {
      out += "      already as asked:";
      for (const auto& f : b.unchanged) out += " " + f;
      out += "\n";
    }
  }
  // Skipped fields after the table, a line per backend; each reason once per run.
  std::vector<std::string> reason_lines;
  for (const auto& b : report.backends)
    if (!b.skipped.empty()) out += "  " + pad(b.backend, 10) + "skips " + reasons->fields(b.skipped, reason_lines) + "\n";
  for (const auto& line : reason_lines) out += "    " + line + "\n";
  if (report.unsettled) out += "  unsettled: the run stays unfinished; `expbridge apply --resume` settles it\n";
  return secrets::scrub(out);
}

bool ReadReport::ok() const {
  return !error && std::none_of(backends.begin(), backends.end(), [](const BackendRead& b) { return b.error.has_value(); });
}

boost::json::value read_report_to_json(const ReadReport& report) {
  boost::json::object out;
  out["experiment"] = report.experiment;
  if (report.error) out["error"] = error_json(*report.error);
  boost::json::array backends;
  for (const auto& b : report.backends) {
    // Round trips, failed reads too: what a hint saved, or where a failing read gave up.
    boost::json::object bo{{"backend", b.backend}, {"vendor", b.vendor}, {"round_trips", b.round_trips}};
    if (b.state) {
      const Experiment& e = b.state->experiment;
      // A read always yields a status; "draft" stands for a vendor answer that has none.
      bo["status"] = to_string(e.status.value_or(ExperimentStatus::draft));
      bo["state"] = experiment_state_json(e, b.state->not_expressible);
      boost::json::object ids;
      for (const auto& [name, id] : e.vendor_ids) ids[name] = id;
      bo["vendor_ids"] = std::move(ids);
      boost::json::array missing;
      for (const auto& f : b.state->not_expressible) missing.emplace_back(f);
      bo["not_expressible"] = std::move(missing);
    } else {
      bo["error"] = error_json(b.error.value_or(make_error(ErrorCode::internal, "no state and no error")));
    }
    backends.push_back(std::move(bo));
  }
  out["backends"] = std::move(backends);
  return out;
}

std::string read_report_to_text(const ReadReport& report) {
  std::string out = report.experiment + "\n";
  if (report.error) return out + "  error: " + report.error->describe() + "\n";
  for (const auto& b : report.backends) {
    out += "  " + b.backend + " (" + b.vendor + "): ";
    if (!b.state) {
      out += "read failed: " + b.error.value_or(make_error(ErrorCode::internal, "no state")).describe() + "\n";
      continue;
    }
    const Experiment& e = b.state->experiment;
    out += std::string(to_string(e.status.value_or(ExperimentStatus::draft)));
    for (const auto& [name, id] : e.vendor_ids) out += "  " + name + "=" + printable_text(id);
    out += "\n";
    const auto state = experiment_state_json(e, b.state->not_expressible);
    if (!state.empty()) {
      // The fields as an update document would set them, indented under the backend.
      const std::string yaml = write_yaml(state);
      std::size_t start = 0;
      while (start < yaml.size()) {
        const std::size_t end = yaml.find('\n', start);
        out += "    " + yaml.substr(start, end - start) + "\n";
        start = end == std::string::npos ? yaml.size() : end + 1;
      }
    }
    if (!b.state->not_expressible.empty()) {
      out += "    # not expressible here:";
      for (const auto& f : b.state->not_expressible) out += " " + f;
      out += "\n";
    }
  }
  return secrets::scrub(out);
}

}  // namespace expbridge
