#!/usr/bin/env python3
"""Writes the seed corpus tests/fuzz/corpus/<harness>/ from the repository's own inputs.

Run from anywhere after changing samples/, mappings/ or a harness's input layout; the output is
committed (CI does not run this; it needs python3-yaml, which the build does not).

- update_document_fuzzer: samples/updates/*, every mapping-table example's update (YAML flow and
  JSON), edge cases of the schema and of YAML itself.
- config_fuzzer: samples/backends.yaml, a config per mapping-table example's backend + binding,
  edge cases of the settings.
- import_fuzzer: the Evidently import's test files (tests/data/import/evidently/).
- vendor_response_fuzzer, retry_signal_fuzzer: FuzzedDataProvider inputs (see the layout notes
  at the top of each harness) built from the vendors' documented error bodies, state-read
  answers and retry signals (/work/shared/vendors/*.md, tests/emulators).
"""
import hashlib
import json
import pathlib
import shutil

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"

# Registry::builtin().vendors() order (a std::map: sorted).
VENDORS = ["appconfig", "auth0", "evidently", "launchdarkly"]
# fuzz_support.hpp signal_header_names(): the fixed names plus the tables' header sources,
# sorted bytewise. Index len(HEADER_NAMES) means "a name of the input's own".
HEADER_NAMES = sorted({"Retry-After", "X-Ratelimit-Reset", "X-RateLimit-Reset", "x-amzn-ErrorType",
                       "x-amzn-RequestId", "x-request-id", "Content-Type"})
NOW = 1796115600  # retry_signal_fuzzer's fixed now: 2026-12-01T09:00:00Z


class Fdp:
    """Builds an input for FuzzedDataProvider: integers are read from the end (first read =
    last bytes, most significant first), strings and the rest from the front."""

    def __init__(self):
        self.front = bytearray()
        self.tail = []  # bytes in the order they are consumed

    def integer(self, lo, hi, value):
        assert lo <= value <= hi
        span, width = hi - lo, 0
        while width < 64 and (span >> width) > 0:
            width += 8
        self.tail.extend((value - lo).to_bytes(width // 8, "big"))

    def boolean(self, value):
        self.tail.append(1 if value else 0)

    def string(self, text):
        raw = text.encode() if isinstance(text, str) else text
        # ConsumeRandomLengthString: `\\` is one backslash, `\` + any other byte ends the string.
        self.front += raw.replace(b"\\", b"\\\\") + b"\\\n"

    def rest(self, text):
        self.front += text.encode() if isinstance(text, str) else text

    def data(self):
        return bytes(self.front) + bytes(reversed(self.tail))


def write(harness, name, data):
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


def flow(value):
    """A value as one line of YAML flow style (what the mapping tables are written in)."""
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 20).strip()


def tables():
    for vendor in VENDORS:
        yield vendor, yaml.safe_load((ROOT / "mappings" / f"{vendor}.yaml").read_text())


def update_corpus():
    h = "update_document_fuzzer"
    for path in sorted((ROOT / "samples" / "updates").glob("*.yaml")):
        write(h, "sample-" + path.stem + ".yaml", path.read_text())
    seen = set()
    for vendor, table in tables():
        for i, example in enumerate(table.get("examples", [])):
            update = example.get("update")
            key = json.dumps(update, sort_keys=True)
            if update is None or key in seen:
                continue
            seen.add(key)
            write(h, f"example-{vendor}-{i}.yaml", flow(update) + "\n")
            write(h, f"example-{vendor}-{i}.json", json.dumps(update) + "\n")
    edge = {
        "minimal.yaml": "experiment: e\n",
        "minimal.json": '{"experiment": "e"}',
        "empty.yaml": "",
        "null.yaml": "~\n",
        "list-root.yaml": "- experiment: e\n",
        "unknown-field.yaml": "experiment: e\nexposur: 5\n",
        "duplicate-key.yaml": "experiment: e\nexperiment: f\n",
        "two-documents.yaml": "experiment: e\n---\nexperiment: f\n",
        "tagged.yaml": "experiment: !!str e\nexposure: !!float 5\n",
        "anchors.yaml": "experiment: &k e\ndescription: *k\n",
        "merge-key.yaml": "base: &b {weight: 50}\nexperiment: e\nvariations:\n  - {<<: *b, key: a, control: true}\n",
        "core-schema.yaml": "experiment: 'yes'\nname: yes\ndescription: '1'\nexposure: 0x1F\n",
        "non-finite.yaml": "experiment: e\nexposure: .nan\n",
        "infinite.json": '{"experiment": "e", "exposure": 1e999}',
        "weights-off.yaml": "experiment: e\nvariations:\n  - {key: a, control: true, weight: 50.0005}\n  - {key: b, weight: 49.999}\n",
        "two-controls.yaml": "experiment: e\nvariations:\n  - {key: a, control: true, weight: 50}\n  - {key: a, control: true, weight: 50}\n",
        "attribute-lists.yaml": "experiment: e\nvariations:\n  - key: a\n    control: true\n    weight: 100\n"
                                "    value: {enabled: true, attributes: {l: [1, 2.5], s: [x, y], m: [1, x], e: []}}\n",
        "result-without-stop.yaml": "experiment: e\nresult: {winner: a}\n",
        "overrides-unknown.yaml": "experiment: e\nvariations: [{key: a, control: true, weight: 100}]\noverrides: {u1: b}\n",
        "vendor-passthrough.json": '{"experiment":"e","vendor":{"launchdarkly":{"instructions":[{"kind":"x"}]},'
                                   '"evidently":{"removeVariations":["a","b","c","d","e","f"]}}}',
        "unicode.yaml": "experiment: e\nname: \"\\u00e9\\U0001F600\\x00\"\ndescription: caf\u00e9\n",
        "block-scalars.yaml": "experiment: e\ndescription: |\n  two\n  lines\nhypothesis: >-\n  folded\n  text\n",
        "deep-nesting.json": '{"experiment":"e","vendor":{"appconfig":' + "[" * 64 + "]" * 64 + "}}",
        "bad-indent.yaml": "experiment: e\n  name: x\n",
        "bad-json.json": '{"experiment": "e",}',
    }
    for name, text in edge.items():
        write(h, name, text)


def config_corpus():
    h = "config_fuzzer"
    write(h, "sample-backends.yaml", (ROOT / "samples" / "backends.yaml").read_text())
    for vendor, table in tables():
        defaults = table.get("example_defaults", {})
        backend = dict(defaults.get("backend", {}))
        binding = dict(defaults.get("binding", {}))
        config = {"backends": {"b": {"vendor": vendor, **backend}}, "experiments": {"checkout-redesign": {"b": binding}}}
        write(h, f"example-{vendor}.yaml", flow(config) + "\n")
        write(h, f"example-{vendor}.json", json.dumps(config) + "\n")
        tuned = {"b": {"vendor": vendor, **backend, "endpoint": "http://127.0.0.1:8080", "strict": True,
                       "timeout_ms": 500, "deadline_ms": 2000, "attempts": 5, "retry_base_ms": 10,
                       "retry_cap_ms": 100, "max_in_flight": 2, "read_state": False}}
        write(h, f"tuned-{vendor}.yaml", flow({"backends": tuned, "experiments": {"e": {"b": binding}}}) + "\n")
    edge = {
        "empty.yaml": "",
        "no-experiments.yaml": "backends: {}\n",
        "unknown-vendor.yaml": "backends:\n  x: {vendor: optimizely}\nexperiments: {}\n",
        "unknown-setting.yaml": "backends:\n  ev: {vendor: evidently, region: us-east-1, project: p, regoin: x}\nexperiments: {}\n",
        "bad-endpoint.yaml": "backends:\n  ld: {vendor: launchdarkly, project: p, environment: e, token_env: T, endpoint: 'http://example.com'}\nexperiments: {}\n",
        "unbound-backend.yaml": "backends:\n  ld: {vendor: launchdarkly, project: p, environment: e, token_env: T}\nexperiments:\n  e: {nope: {experiment: x}}\n",
        "bad-ids.yaml": "backends:\n  a0: {vendor: auth0, domain: 'a..b', client_id_env: 1X, client_secret_env: S}\n"
                        "experiments:\n  e: {a0: {id: exp_0OIl, variations: {a: var_}}}\n",
        "negative-numbers.yaml": "backends:\n  aws: {vendor: appconfig, region: us-east-1, application: a, attempts: -1, timeout_ms: -5, max_in_flight: 0}\n"
                                 "experiments:\n  e: {aws: {definition: d, run: 0}}\n",
        "huge-numbers.yaml": "backends:\n  aws: {vendor: appconfig, region: us-east-1, application: a, deadline_ms: 1e300, retry_cap_ms: 18446744073709551616}\n"
                             "experiments:\n  e: {aws: {definition: d, run: 9223372036854775808}}\n",
    }
    for name, text in edge.items():
        write(h, name, text)


# Vendor answers as documented (vendors/*.md §errors) and as the emulators give them.
ERROR_BODIES = {
    "appconfig": [
        (400, {"x-amzn-ErrorType": "BadRequestException:http://internal.amazon.com/coral/com.amazonaws.appconfig/",
               "x-amzn-RequestId": "2e9f1c4a-0000-4000-8000-000000000001"},
         '{"Message":"ExposurePercentage can only be increased","Reason":"InvalidConfiguration",'
         '"Details":{"InvalidConfiguration":[{"Constraint":"increase","Location":"ExposurePercentage","Reason":"decrease","Type":"x","Value":"10"}]}}'),
        (404, {"x-amzn-RequestId": "r-404"}, '{"__type":"com.amazonaws.appconfig#ResourceNotFoundException","Message":"no run","ResourceName":"1"}'),
        (409, {}, '{"code":"ConflictException","message":"definition has an active run"}'),
        (400, {"x-amzn-ErrorType": "ThrottlingException"}, '{"message":"Rate exceeded"}'),
        (402, {"x-amzn-ErrorType": "ServiceQuotaExceededException,extra"}, '{"Message":"quota"}'),
        (503, {}, "<html><body>Service Unavailable</body></html>"),
    ],
    "auth0": [
        (400, {"x-request-id": "a0-req-1"}, '{"statusCode":400,"error":"Bad Request","message":"Status transition is not allowed","errorCode":"invalid_body"}'),
        (429, {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(NOW + 10), "Retry-After": "10"},
         '{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached"}'),
        (403, {}, '{"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: update:experiments"}'),
        (401, {}, '{"statusCode":401,"error":"Unauthorized","message":"Expired token received for JSON Web Token validation"}'),
    ],
    "evidently": [
        (400, {"x-amzn-ErrorType": "ValidationException"},
         '{"message":"1 validation error","reason":"fieldValidationFailed","fieldList":[{"name":"samplingRate","message":"must be <= 100000"}]}'),
        (429, {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.evidently/"},
         '{"message":"Rate exceeded","quotaCode":"q","serviceCode":"evidently"}'),
        (402, {}, '{"__type":"ServiceQuotaExceededException","message":"too many variations","resourceType":"feature"}'),
        (500, {}, ""),
    ],
    "launchdarkly": [
        (400, {}, '{"code":"invalid_request","message":"Invalid semantic patch: unknown instruction kind","id":"7bd7bd2e-0000-4000-8000-000000000002"}'),
        (429, {"X-Ratelimit-Reset": str(NOW * 1000 + 3000), "X-Ratelimit-Global-Remaining": "0", "Retry-After": "3"},
         '{"code":"rate_limited","message":"You have made too many requests"}'),
        (409, {}, '{"code":"optimistic_locking_error","message":"Conflict","id":"x"}'),
        (405, {}, "Method Not Allowed"),
    ],
}

# State reads: AppConfig GetExperimentRun, Auth0 GET experiment (the others read nothing yet).
STATE_BODIES = {
    "appconfig": [
        (200, '{"ApplicationId":"abc1234","ExperimentDefinitionId":"bsxyd7k","Run":1,"Status":"RUNNING","ExposurePercentage":75.0,'
              '"ExperimentDefinitionSnapshot":{"Control":{"Key":"c"}}}'),
        (200, '{"Status":"DONE","ExposurePercentage":100}'),
        (200, '{"Status":"RUNNING","ExposurePercentage":1e308}'),
        (200, '{"Status":"RUNNING","ExposurePercentage":-0.0}'),
        (200, '{"Status":1,"ExposurePercentage":"75"}'),
        (404, '{"Message":"no such run"}'),
        (200, "[]"),
    ],
    "auth0": [
        (200, '{"id":"exp_4fG7hJk","name":"Checkout redesign","status":"active","allocations":[{"variation_id":"var_2xQa","is_control":true,"weight":50}]}'),
        (200, '{"id":"exp_4fG7hJk","status":"completed"}'),
        (200, '{"status":"paused"}'),
        (200, '{"status":"draft"}'),
        (200, '{"status":"archived"}'),
        (200, "not json"),
        (404, ""),
    ],
}


def vendor_response_input(vendor, status, headers, body, update=0, responses=1):
    f = Fdp()
    f.integer(0, len(VENDORS) - 1, VENDORS.index(vendor))
    f.integer(0, 999, status)
    f.integer(0, 3, update)
    f.integer(0, 2, responses)
    f.integer(0, 8, len(headers))
    for name, value in headers.items():
        if name in HEADER_NAMES:
            f.integer(0, len(HEADER_NAMES), HEADER_NAMES.index(name))
        else:
            f.integer(0, len(HEADER_NAMES), len(HEADER_NAMES))
            f.string(name)
        f.string(value)
    f.rest(body)
    return f.data()


def vendor_response_corpus():
    h = "vendor_response_fuzzer"
    for vendor, cases in ERROR_BODIES.items():
        for i, (status, headers, body) in enumerate(cases):
            write(h, f"error-{vendor}-{i}", vendor_response_input(vendor, status, headers, body))
    for vendor, cases in STATE_BODIES.items():
        for i, (status, body) in enumerate(cases):
            for update in range(4):
                write(h, f"state-{vendor}-{i}-u{update}", vendor_response_input(vendor, status, {}, body, update))
    write(h, "two-responses", vendor_response_input("appconfig", 200, {}, '{"Status":"RUNNING"}', 0, 2))
    write(h, "no-response", vendor_response_input("auth0", 200, {}, "", 1, 0))
    write(h, "odd-header-case", vendor_response_input("appconfig", 400, {"X-AMZN-ERRORTYPE": "#:,"}, '{"CODE":" x ","MESSAGE":7}'))
    write(h, "invalid-utf8", vendor_response_input("launchdarkly", 502, {}, b"\xff\xfe<html>\xc3\x28 gateway\x00".decode("latin-1")))
    write(h, "long-text-body", vendor_response_input("evidently", 500, {}, "\u00e9" * 400))


RETRY_AFTER = [
    "0", "2", "120", "86400", "1.5", "-1", " 7 ", "99999999999999999999999999", "",
    "Tue, 01 Dec 2026 09:00:05 GMT",          # IMF-fixdate, 5 s after now
    "Sun, 06 Nov 1994 08:49:37 GMT",          # in the past
    "Tuesday, 01-Dec-26 09:00:30 GMT",        # RFC 850
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Tue Dec  1 09:01:00 2026",               # asctime, one-digit day
    "Tue Dec 11 09:01:00 2026",
    "Tue, 31 Feb 2026 09:00:00 GMT",          # no such day
    "Tue, 01 Dec 2026 23:59:60 GMT",          # leap second
    "Tue, 01 Dec 2026 24:00:00 GMT",
    "tue, 01 dec 2026 09:00:05 gmt",
    "Tue, 01 Dec 2026 09:00:05 UTC",
]


def retry_input(vendor, status, headers, body="", attempts=3, base=100, cap=20000, attempt=1, idempotent=True,
                now_offset=0, answered=True, transport_code=6, request_sent=False, message="", duplicate=None):
    f = Fdp()
    f.integer(0, len(VENDORS) - 1, VENDORS.index(vendor))
    f.integer(0, 999, status)
    f.integer(-1, 10, attempts)
    f.integer(-1000, 100000, base)
    f.integer(-1000, 10000000, cap)
    f.integer(0, 64, attempt)
    f.boolean(idempotent)
    f.integer(-(1 << 31), (1 << 31) - 1, now_offset)
    f.boolean(answered)
    f.integer(0, 7, transport_code)
    f.boolean(request_sent)
    for name in ["Retry-After", "X-Ratelimit-Reset", "X-RateLimit-Reset", "x-amzn-ErrorType"]:
        f.boolean(name in headers)
        if name in headers:
            f.string(headers[name])
    f.boolean(duplicate is not None)
    if duplicate is not None:
        f.string(duplicate)
    f.string(message)
    f.rest(body)
    return f.data()


def retry_corpus():
    h = "retry_signal_fuzzer"
    for i, value in enumerate(RETRY_AFTER):
        write(h, f"retry-after-{i}", retry_input(VENDORS[i % len(VENDORS)], 429, {"Retry-After": value}))
    write(h, "retry-after-twice", retry_input("auth0", 503, {"Retry-After": "1"}, duplicate="Sun, 06 Nov 1994 08:49:37 GMT"))
    write(h, "ld-reset-ms", retry_input("launchdarkly", 429, {"X-Ratelimit-Reset": str(NOW * 1000 + 3000)}, '{"code":"rate_limited"}'))
    write(h, "ld-reset-past", retry_input("launchdarkly", 429, {"X-Ratelimit-Reset": str(NOW * 1000 - 3000)}))
    write(h, "ld-reset-fraction", retry_input("launchdarkly", 429, {"X-Ratelimit-Reset": str(NOW * 1000) + ".75"}))
    write(h, "a0-reset-s", retry_input("auth0", 429, {"X-RateLimit-Reset": str(NOW + 10)},
                                       '{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached"}'))
    write(h, "a0-reset-beyond-cap", retry_input("auth0", 429, {"X-RateLimit-Reset": str(NOW + 3600)}, cap=20000))
    write(h, "a0-reset-on-200", retry_input("auth0", 200, {"X-RateLimit-Reset": str(NOW + 10)}))
    write(h, "aws-throttling-400", retry_input("appconfig", 400, {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazonaws.appconfig/"},
                                               '{"message":"Rate exceeded"}', idempotent=False))
    write(h, "aws-type-hash", retry_input("evidently", 400, {}, '{"__type":"com.amazonaws.evidently#ThrottlingException","message":"Rate exceeded"}'))
    write(h, "aws-timeout-code", retry_input("appconfig", 400, {"x-amzn-ErrorType": "RequestTimeoutException"}, idempotent=False))
    write(h, "aws-500-not-idempotent", retry_input("appconfig", 500, {}, '{"Message":"internal"}', idempotent=False))
    write(h, "aws-503-not-idempotent", retry_input("evidently", 503, {}, "", idempotent=False))
    write(h, "gave-up", retry_input("launchdarkly", 503, {}, attempts=3, attempt=3))
    write(h, "401", retry_input("auth0", 401, {"Retry-After": "1"}))
    write(h, "big-attempt", retry_input("appconfig", 500, {}, attempts=10, attempt=9, base=100000, cap=10000000))
    write(h, "zero-cap", retry_input("appconfig", 429, {"Retry-After": "5"}, cap=0))
    write(h, "negative-options", retry_input("auth0", 429, {}, attempts=-1, base=-1000, cap=-1000, attempt=0))
    write(h, "now-far-future", retry_input("auth0", 429, {"Retry-After": "Tue, 01 Dec 2026 09:00:05 GMT"}, now_offset=(1 << 31) - 1))
    write(h, "now-far-past", retry_input("auth0", 429, {"Retry-After": "Tue, 01 Dec 2026 09:00:05 GMT"}, now_offset=-(1 << 31)))
    write(h, "transport-timeout-sent", retry_input("appconfig", 0, {}, answered=False, transport_code=6, request_sent=True,
                                                   idempotent=False, message="timed out after 10000 ms"))
    write(h, "transport-connect", retry_input("launchdarkly", 0, {}, answered=False, transport_code=6, message="connection refused"))
    write(h, "transport-invalid", retry_input("auth0", 0, {}, answered=False, transport_code=0, message="bad URL"))


def import_corpus():
    """import_fuzzer: the Evidently import's hand-written test files (CLI JSON, Terraform state,
    CloudFormation JSON and YAML, broken ones), each whole."""
    h = "import_fuzzer"
    for path in sorted((ROOT / "tests" / "data" / "import" / "evidently").iterdir()):
        write(h, path.name, path.read_bytes())


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    update_corpus()
    config_corpus()
    vendor_response_corpus()
    retry_corpus()
    import_corpus()
    for folder in sorted(CORPUS.iterdir()):
        files = list(folder.iterdir())
        digest = hashlib.sha1(b"".join(p.read_bytes() for p in sorted(files))).hexdigest()[:12]
        print(f"{folder.name}: {len(files)} seeds ({digest})")


if __name__ == "__main__":
    main()
