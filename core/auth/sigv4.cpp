// expbridge — AWS Signature Version 4 signing (see sigv4.hpp).
#include "sigv4.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <optional>

namespace expbridge::auth {
namespace {

constexpr std::string_view k_algorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view k_hex_digits = "0123456789abcdef";
constexpr std::string_view k_upper_hex_digits = "0123456789ABCDEF";

// Proxies, load balancers and SDKs add or rewrite these in transit, so signing them
// would make valid requests fail (the SDKs' "always unsignable" list, see appconfig.md §1).
constexpr std::array<std::string_view, 6> k_unsignable_headers = {
    "user-agent", "authorization", "connection", "transfer-encoding", "expect",
    "x-amzn-trace-id"};

Error invalid(std::string message) {
  // Built directly rather than through make_error so this file has no link dependency.
  Error error;
  error.code = ErrorCode::invalid_input;
  error.message = std::move(message);
  return error;
}

Error internal(std::string message) {
  Error error;
  error.code = ErrorCode::internal;
  error.message = std::move(message);
  return error;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += k_hex_digits[c >> 4];
    out += k_hex_digits[c & 0x0f];
  }
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Decodes %XX escapes; a '%' not followed by two hex digits stays literal, so a sloppy
// query still signs the way it is sent rather than failing.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Trims the value and collapses whitespace runs to one space. A value folded over several
// lines (obsolete HTTP line folding) becomes its lines joined with ',', which is what the
// 2015 AWS suite expects (get-header-value-multiline: "value1,value2,value3").
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool first_line = true;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t end = value.find('\n', start);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view line = trim(value.substr(start, end - start));
    if (!line.empty() || (first_line && end == value.size())) {
      if (!first_line) out += ',';
      first_line = false;
      bool in_space = false;
      for (char c : line) {
        if (is_space(c)) {
          in_space = true;
          continue;
        }
        if (in_space) out += ' ';
        in_space = false;
        out += c;
      }
    }
    start = end + 1;
  }
  return out;
}

// Removes empty, "." and ".." segments like the AWS SDKs do for non-S3 services; a
// trailing slash survives unless nothing is left ("//example//" -> "/example/").
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out += '/';
    out += segments[i];
  }
  if (!segments.empty() && path.ends_with('/')) out += '/';
  return out;
}

std::string canonical_uri(std::string_view path, const SigV4Options& options) {
  std::string uri = options.normalize_path ? normalize_path(path) : std::string(path);
  if (uri.empty()) uri = "/";
  // Non-S3 services encode the already-encoded wire path once more ('%' -> "%25").
  return options.double_encode_path ? uri_encode(uri, /*encode_slash=*/false) : uri;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      const std::string_view key = pair.substr(0, eq);
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      // Decode first so input that is already encoded is not encoded twice.
      params.emplace_back(uri_encode(percent_decode(key)), uri_encode(percent_decode(value)));
    }
    start = end + 1;
  }
  // AWS sorts by the encoded key, then the encoded value, in byte order.
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

bool is_valid_amz_date(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return false;
  for (std::size_t i = 0; i < 15; ++i) {
    if (i == 8) continue;
    if (d[i] < '0' || d[i] > '9') return false;
  }
  return true;
}

// Wipes key material on scope exit; the derived keys are as good as the secret for a day.
struct KeyWiper {
  std::string& key_;
  ~KeyWiper() {
    if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
  }
};

}  // namespace

std::string uri_encode(std::string_view data, bool encode_slash) {
  std::string out;
  out.reserve(data.size());
  for (unsigned char c : data) {
    if (is_unreserved(c) || (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += k_upper_hex_digits[c >> 4];
      out += k_upper_hex_digits[c & 0x0f];
    }
  }
  return out;
}

namespace {

/// SHA-256 fetched from OpenSSL's provider once: EVP_sha256() makes every EVP_Digest fetch it
/// again, which costs more than hashing a request body.
const EVP_MD* fetched_sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

}  // namespace

namespace {

/// One digest context per thread, reused: EVP_Digest allocates and frees one per call.
EVP_MD_CTX* digest_context() {
  struct Owned {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Owned() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Owned owned;
  return owned.ctx;
}

/// SHA-256 of the concatenation of `parts` into `out` (32 bytes); false if OpenSSL fails.
bool sha256_of(std::initializer_list<std::string_view> parts, unsigned char* out) {
  EVP_MD_CTX* ctx = digest_context();
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx, fetched_sha256(), nullptr) != 1) return false;
  for (auto part : parts)
    if (EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) return false;
  unsigned int length = 0;
  return EVP_DigestFinal_ex(ctx, out, &length) == 1 && length == 32;
}

std::string_view bytes(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  if (!sha256_of({data}, digest.data())) return {};
  return to_hex(bytes(digest.data(), digest.size()));
}

// HMAC (RFC 2104) written out over the SHA-256 fetched once: OpenSSL 3's one-shot HMAC()
// fetches the MAC and its digest again on every call, which cost more than the hashing itself
// (a signature takes five).
std::string hmac_sha256(std::string_view key, std::string_view data) {
  constexpr std::size_t kBlock = 64;  // SHA-256's block size
  std::array<unsigned char, kBlock> pad{};
  std::array<unsigned char, 32> inner{};
  std::string out;
  if (key.size() > kBlock) {
    if (!sha256_of({key}, pad.data())) return {};
  } else {
    std::copy(key.begin(), key.end(), pad.begin());
  }
  for (auto& b : pad) b ^= 0x36;
  bool ok = sha256_of({bytes(pad.data(), pad.size()), data}, inner.data());
  for (auto& b : pad) b ^= 0x36 ^ 0x5c;
  std::array<unsigned char, 32> mac{};
  ok = ok && sha256_of({bytes(pad.data(), pad.size()), bytes(inner.data(), inner.size())}, mac.data());
  if (ok) out.assign(bytes(mac.data(), mac.size()));
  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(inner.data(), inner.size());
  OPENSSL_cleanse(mac.data(), mac.size());
  return out;
}

std::string format_amz_date(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto seconds = floor<std::chrono::seconds>(time);
  const auto day = floor<days>(seconds);
  const year_month_day ymd{day};
  const hh_mm_ss hms{seconds - day};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buffer;
}

namespace {

/// The derived signing keys of the scopes this thread signed for last. A key depends only on
/// the secret, the day, the region and the service, and AWS's SDKs keep it the same way:
/// deriving it is four HMACs, signing with it one. A run signs for a few scopes at most (one per
/// AWS backend), so a few entries suffice. Key material, so wiped when replaced and at exit.
struct SigningKeyCache {
  struct Entry {
    std::string secret, date, region, service, key;
    void wipe() {
      for (std::string* s : {&secret, &key})
        if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
      secret.clear();
      key.clear();
    }
  };
  static constexpr std::size_t kScopes = 8;
  std::array<Entry, kScopes> entries;
  std::size_t next = 0;  // the entry a new scope replaces, round robin
  ~SigningKeyCache() {
    for (auto& e : entries) e.wipe();
  }
};

/// The signing key for the scope, derived once per thread and scope; nullptr if OpenSSL fails.
const std::string* signing_key(std::string_view secret, std::string_view date, std::string_view region,
                               std::string_view service) {
  thread_local SigningKeyCache cache;
  for (const auto& e : cache.entries)
    if (!e.key.empty() && e.secret == secret && e.date == date && e.region == region && e.service == service)
      return &e.key;
  std::string key = "AWS4" + std::string(secret);
  KeyWiper wipe_key{key};
  for (std::string_view part : {date, region, service, std::string_view("aws4_request")}) {
    std::string next = hmac_sha256(key, part);
    OPENSSL_cleanse(key.data(), key.size());
    key = std::move(next);
    if (key.empty()) return nullptr;
  }
  auto& entry = cache.entries[cache.next];
  cache.next = (cache.next + 1) % SigningKeyCache::kScopes;
  entry.wipe();
  entry.secret = secret;
  entry.date = date;
  entry.region = region;
  entry.service = service;
  entry.key = key;
  return &entry.key;
}

}  // namespace

Result<SigV4Parts> sign_v4(const SigningRequest& request, const AwsCredentials& credentials,
                           const SigV4Options& options, std::string_view amz_date) {
  if (!is_valid_amz_date(amz_date)) {
    return std::unexpected(invalid("SigV4: signing time must look like YYYYMMDDTHHMMSSZ"));
  }
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return std::unexpected(invalid("SigV4: access key id or secret access key is empty"));
  }
  if (options.region.empty() || options.service.empty()) {
    return std::unexpected(invalid("SigV4: signing region or service is empty"));
  }
  if (request.method.empty()) return std::unexpected(invalid("SigV4: HTTP method is empty"));

  const bool has_token = !credentials.session_token.empty();

  // One signed header: lowercased name, canonical value.
  struct Entry {
    std::string name;
    std::string value;
  };
  std::vector<Entry> entries;
  entries.reserve(request.headers.size() + 3);
  bool has_host = false;
  bool has_date = false;
  bool has_token_header = false;
  std::optional<std::string> content_sha256;
  for (const auto& [raw_name, raw_value] : request.headers) {
    std::string name = to_lower(trim(raw_name));
    if (name.empty()) return std::unexpected(invalid("SigV4: header with an empty name"));
    std::string value = canonical_header_value(raw_value);
    if (name == "host") has_host = true;
    if (name == "x-amz-date") {
      if (value != amz_date) {
        return std::unexpected(
            invalid("SigV4: the request's x-amz-date header differs from the signing time"));
      }
      has_date = true;
    }
    if (name == "x-amz-security-token") {
      has_token_header = true;
      if (!options.sign_session_token) continue;
    }
    if (name == "x-amz-content-sha256") content_sha256 = value;
    if (std::ranges::find(k_unsignable_headers, name) != k_unsignable_headers.end()) continue;
    entries.push_back({std::move(name), std::move(value)});
  }
  if (!has_host) return std::unexpected(invalid("SigV4: the request has no host header"));

  SigV4Parts parts;
  if (!has_date) {
    parts.headers_to_add.emplace_back("x-amz-date", std::string(amz_date));
    entries.push_back({"x-amz-date", std::string(amz_date)});
  }
  if (has_token && !has_token_header) {
    parts.headers_to_add.emplace_back("x-amz-security-token", credentials.session_token);
    if (options.sign_session_token) {
      entries.push_back({"x-amz-security-token", canonical_header_value(credentials.session_token)});
    }
  }
  // A caller-supplied x-amz-content-sha256 (e.g. UNSIGNED-PAYLOAD) is what the service
  // checks the payload against, so it is also what goes into the canonical request.
  std::string payload_hash;
  if (content_sha256) {
    payload_hash = *content_sha256;
  } else {
    payload_hash = sha256_hex(request.body);
    if (payload_hash.empty()) return std::unexpected(internal("SigV4: SHA-256 failed"));
    if (options.add_content_sha256) {
      parts.headers_to_add.emplace_back("x-amz-content-sha256", payload_hash);
      entries.push_back({"x-amz-content-sha256", payload_hash});
    }
  }

  // Stable so repeated names keep their send order when joined below.
  std::ranges::stable_sort(entries, {}, &Entry::name);
  std::string canonical_headers;
  std::string signed_headers;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const bool repeat = i > 0 && entries[i].name == entries[i - 1].name;
    if (repeat) {
      canonical_headers += ',';
    } else {
      if (i > 0) {
        canonical_headers += '\n';
        signed_headers += ';';
      }
      canonical_headers += entries[i].name;
      canonical_headers += ':';
      signed_headers += entries[i].name;
    }
    canonical_headers += entries[i].value;
  }
  canonical_headers += '\n';

  parts.canonical_request = request.method;
  parts.canonical_request += '\n';
  parts.canonical_request += canonical_uri(request.path, options);
  parts.canonical_request += '\n';
  parts.canonical_request += canonical_query(request.query);
  parts.canonical_request += '\n';
  parts.canonical_request += canonical_headers;
  parts.canonical_request += '\n';
  parts.canonical_request += signed_headers;
  parts.canonical_request += '\n';
  parts.canonical_request += payload_hash;

  const std::string_view date = amz_date.substr(0, 8);
  std::string scope(date);
  scope += '/';
  scope += options.region;
  scope += '/';
  scope += options.service;
  scope += "/aws4_request";

  const std::string request_hash = sha256_hex(parts.canonical_request);
  if (request_hash.empty()) return std::unexpected(internal("SigV4: SHA-256 failed"));
  parts.string_to_sign = std::string(k_algorithm) + '\n' + std::string(amz_date) + '\n' + scope +
                         '\n' + request_hash;

  const std::string* key = signing_key(credentials.secret_access_key, date, options.region, options.service);
  if (key == nullptr) return std::unexpected(internal("SigV4: HMAC-SHA256 failed"));
  const std::string signature = hmac_sha256(*key, parts.string_to_sign);
  if (signature.empty()) return std::unexpected(internal("SigV4: HMAC-SHA256 failed"));
  parts.signature = to_hex(signature);

  parts.authorization = std::string(k_algorithm) + " Credential=" + credentials.access_key_id +
                        '/' + scope + ", SignedHeaders=" + signed_headers +
                        ", Signature=" + parts.signature;
  parts.headers_to_add.emplace_back("authorization", parts.authorization);
  return parts;
}

}  // namespace expbridge::auth
