// What the vendor-facing harnesses share: every registered vendor's table, and the header
// names those tables read. Built once per process from `Registry::builtin()`, so a new
// vendor is fuzzed as soon as it is registered.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "expbridge/adapter.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/mapping.hpp"

namespace expbridge::fuzz {

// samples/backends.yaml: one backend of each vendor, all bound to one experiment.
inline constexpr std::string_view k_config = R"(backends:
  aws: {vendor: appconfig, region: us-east-1, application: abc1234}
  ld:  {vendor: launchdarkly, project: default, environment: production, token_env: LD_API_TOKEN}
  a0:  {vendor: auth0, domain: example.us.auth0.com, client_id_env: AUTH0_CLIENT_ID, client_secret_env: AUTH0_CLIENT_SECRET}
  ev:  {vendor: evidently, region: us-east-1, project: checkout}
experiments:
  checkout-redesign:
    aws: {definition: bsxyd7k, run: 1, treatments: {control: c, two-step: t1}}
    ld:  {experiment: checkout-redesign}
    a0:  {id: exp_4fG7hJk, variations: {control: var_2xQa, two-step: var_9bZk}}
    ev:  {feature: checkout-redesign}
)";

struct VendorTable {
  std::string vendor;
  std::shared_ptr<const MappingTable> table;
};

/// Setup that cannot work is a broken harness, not a finding: say so once and stop.
[[noreturn]] inline void setup_failed(const std::string& what) {
  std::fprintf(stderr, "fuzz harness setup failed: %s\n", what.c_str());
  std::abort();
}

inline const std::vector<VendorTable>& vendor_tables() {
  static const std::vector<VendorTable> tables = [] {
    std::vector<VendorTable> out;
    for (const auto& vendor : Registry::builtin().vendors()) {
      auto table = load_mapping_table(vendor);
      if (!table) setup_failed("mapping table of " + vendor + ": " + table.error().message);
      out.push_back({vendor, *table});
    }
    if (out.empty()) setup_failed("no vendor registered");
    return out;
  }();
  return tables;
}

/// Headers the tables name (`header:<name>` error sources, rate-window reset headers) plus
/// the retry signals in the spellings vendors use, sorted so an input means the same
/// thing in every run.
inline const std::vector<std::string>& signal_header_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = {"Retry-After", "X-Ratelimit-Reset", "X-RateLimit-Reset", "x-amzn-ErrorType",
                                    "x-amzn-RequestId", "x-request-id", "Content-Type"};
    for (const auto& [vendor, table] : vendor_tables()) {
      const auto& http = table->http();
      for (const auto* sources : {&http.errors.code, &http.errors.message, &http.errors.request_id})
        for (const auto& source : *sources)
          if (source.starts_with("header:")) out.push_back(source.substr(7));
      if (!http.retry.reset_header.empty()) out.push_back(http.retry.reset_header);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }();
  return names;
}

}  // namespace expbridge::fuzz
