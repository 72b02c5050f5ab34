#include "support/fake_vendor/fakevendor_vendor.hpp"

#include "emulator/emulator.hpp"
#include "support/fake_vendor/fakevendor_adapter.hpp"
#include "support/fake_vendor/fakevendor_emulator.hpp"

namespace expbridge::test {
namespace {

constexpr const char* kTable = R"(# The fakevendor test vendor: the least a table holds, and one worked example.
vendor: fakevendor
title: Fake vendor (tests only)
base_url: https://fakevendor.example.test
auth: {scheme: header_token, header: X-Fakevendor-Token}
http:
  errors:
    code: ["body:code"]
    message: ["body:message"]
    request_id: ["header:x-fakevendor-request-id"]
  retry:
    statuses: [429, 500, 502, 503]
  max_in_flight: 2
operations:
  UpdateExperiment: {method: PATCH, path: "/experiments/{experiment}", success: 200, idempotent: true}
fields:
  name: {operation: UpdateExperiment, wire: name}
  description: {operation: UpdateExperiment, wire: description}
  hypothesis: {skip: fakevendor has no hypothesis}
  launch_criteria: {skip: fakevendor has no launch criteria}
  audience.rule: {skip: fakevendor has no audience}
  audience.description: {skip: fakevendor has no audience}
  variations: {skip: fakevendor has no variations}
  exposure: {operation: UpdateExperiment, wire: exposure_percent}
  overrides: {skip: fakevendor has no overrides}
  action: {skip: fakevendor experiments have no life cycle}
  result: {skip: fakevendor keeps no result}
  comment: {skip: fakevendor keeps no comment}
  vendor: {skip: fakevendor takes no pass-through}
limits:
  experiment: {min_length: 1, max_length: 64, pattern: '^[a-z0-9-]+$', rule: "a fakevendor experiment id is lower-case letters, digits and '-'"}
  token_env: {min_length: 1, max_length: 256, pattern: '^[A-Za-z_][A-Za-z0-9_]*$', rule: "an environment variable name", hide_value: true}
example_defaults:
  backend: {token_env: FAKEVENDOR_TOKEN}
  binding: {experiment: checkout-redesign}
examples:
  - name: description and exposure in one request, the rest skipped
    update: {experiment: checkout-redesign, description: Two-step checkout, exposure: 40, comment: c}
    requests:
      - method: PATCH
        url: https://fakevendor.example.test/experiments/checkout-redesign
        body: {description: Two-step checkout, exposure_percent: 40}
    skipped: [comment]
)";

}  // namespace

Vendor fakevendor_vendor() {
  return Vendor{std::string(kFakeVendor), make_fakevendor_adapter, emulator::make_fakevendor_emulator, kTable};
}

}  // namespace expbridge::test
