#include "expbridge/plan.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "json_writer.hpp"

namespace expbridge {

bool Plan::has_skips() const {
  for (const auto& b : backends)
    if (!b.skipped.empty()) return true;
  return false;
}

boost::json::object request_to_json(const PlannedRequest& r) {
  boost::json::object ro;
  ro["operation"] = r.operation;
  ro["method"] = r.method;
  ro["url"] = r.url;
  boost::json::object headers;
  for (const auto& [name, value] : r.headers) headers[name] = value;
  ro["headers"] = std::move(headers);
  ro["body"] = r.body ? *r.body : boost::json::value(nullptr);
  ro["success_status"] = r.success_status;
  ro["idempotent"] = r.idempotent;
  return ro;
}

void append_skips_json(boost::json::object& backend, const std::vector<Skip>& skipped,
                       const std::vector<std::string>& notes) {
  boost::json::array skips;
  for (const auto& s : skipped) skips.push_back(boost::json::object{{"field", s.field}, {"reason", s.reason}});
  backend["skipped"] = std::move(skips);
  if (!notes.empty()) {
    boost::json::array list;
    for (const auto& n : notes) list.push_back(boost::json::value(n));
    backend["notes"] = std::move(list);
  }
}

boost::json::value plan_to_json(const Plan& plan) {
  boost::json::object out;
  out["experiment"] = plan.experiment;
  boost::json::array backends;
  for (const auto& b : plan.backends) {
    boost::json::object bo;
    bo["backend"] = b.backend;
    bo["vendor"] = b.vendor;
    boost::json::array requests;
    for (const auto& r : b.requests) requests.push_back(request_to_json(r));
    bo["requests"] = std::move(requests);
    append_skips_json(bo, b.skipped, b.notes);
    backends.push_back(std::move(bo));
  }
  out["backends"] = std::move(backends);
  return out;
}

std::string SkipReasonIndex::fields(const std::vector<Skip>& skipped, std::vector<std::string>& new_reason_lines) {
  std::string out;
  for (const auto& s : skipped) {
    auto it = std::find(reasons_.begin(), reasons_.end(), s.reason);
    const std::size_t number = static_cast<std::size_t>(it - reasons_.begin()) + 1;
    if (it == reasons_.end()) {
      reasons_.push_back(s.reason);
      new_reason_lines.push_back("[" + std::to_string(number) + "] " + s.reason);
    }
    out += (out.empty() ? "" : ", ") + s.field + " [" + std::to_string(number) + "]";
  }
  return out;
}

std::string plan_to_text(const Plan& plan, SkipReasonIndex* reasons) {
  SkipReasonIndex own;
  if (reasons == nullptr) reasons = &own;
  std::vector<std::string> reason_lines;
  std::string out = "experiment " + plan.experiment + "\n";
  if (plan.backends.empty()) out += "\n(no backend is bound to this experiment)\n";
  for (const auto& b : plan.backends) {
    out += "\nbackend " + b.backend + " (" + b.vendor + ")\n";
    if (b.requests.empty()) out += "  no request: nothing in the update maps to this backend\n";
    int n = 0;
    for (const auto& r : b.requests) {
      out += "  " + std::to_string(++n) + ". " + r.operation + "\n";
      out += "     " + r.method + " " + r.url + "\n";
      for (const auto& [name, value] : r.headers) out += "     " + name + ": " + value + "\n";
      if (r.body) {
        std::string body = write_json(*r.body, 2);
        std::string indented = "     ";
        for (char c : body) {
          indented.push_back(c);
          if (c == '\n') indented += "     ";
        }
        out += indented + "\n";
      }
    }
    if (!b.skipped.empty()) out += "  skipped: " + reasons->fields(b.skipped, reason_lines) + "\n";
    if (!b.notes.empty()) {
      out += "  notes:\n";
      for (const auto& note : b.notes) out += "    - " + note + "\n";
    }
  }
  if (!reason_lines.empty()) {
    out += "\nwhy fields are skipped:\n";
    for (const auto& line : reason_lines) out += "  " + line + "\n";
  }
  return out;
}

}  // namespace expbridge
