// Helpers shared by the vendor emulators: replies, paths, SigV4 verification, AWS errors.
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "auth/sigv4.hpp"
#include "emulator/emulator.hpp"
#include "json_writer.hpp"

namespace expbridge::emulator {
namespace {

// AWS's documented example key pair (the SigV4 documentation's own): what check_sigv4 accepts.
constexpr const char* kAwsExampleAccessKeyId = "AKIDEXAMPLE";
constexpr const char* kAwsExampleSecretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

std::string request_id() {
  static std::atomic<unsigned> counter{0};
  char buf[48];
  std::snprintf(buf, sizeof buf, "emulator-%08x", counter.fetch_add(1) + 1);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return std::nullopt;
  std::tm tm{};
  try {
    tm.tm_year = std::stoi(std::string(d.substr(0, 4))) - 1900;
    tm.tm_mon = std::stoi(std::string(d.substr(4, 2))) - 1;
    tm.tm_mday = std::stoi(std::string(d.substr(6, 2)));
    tm.tm_hour = std::stoi(std::string(d.substr(9, 2)));
    tm.tm_min = std::stoi(std::string(d.substr(11, 2)));
    tm.tm_sec = std::stoi(std::string(d.substr(13, 2)));
  } catch (...) {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (plus_is_space && text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

ServerReply json_reply(int status, const boost::json::value& body, std::vector<std::pair<std::string, std::string>> headers) {
  ServerReply reply;
  reply.status = status;
  reply.body = write_json(body);
  reply.headers = std::move(headers);
  reply.headers.emplace_back("Content-Type", "application/json");
  return reply;
}

std::string_view path_of(const ServerRequest& request) {
  std::string_view target = request.target;
  return target.substr(0, target.find('?'));
}

std::vector<std::string> path_segments(const ServerRequest& request) {
  std::vector<std::string> out;
  std::string_view path = path_of(request);
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.push_back(percent_decode(path.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> query_of(const ServerRequest& request) {
  std::vector<std::pair<std::string, std::string>> out;
  auto q = request.target.find('?');
  if (q == std::string::npos) return out;
  std::string_view query = std::string_view(request.target).substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    out.emplace_back(percent_decode(pair.substr(0, eq)), eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

ServerReply aws_error(int status, std::string_view code, std::string_view message, std::string_view message_member) {
  boost::json::object body;
  body[message_member] = message;
  return json_reply(status, body, {{"x-amzn-ErrorType", std::string(code)}, {"x-amzn-RequestId", request_id()}});
}

std::vector<Credential> aws_example_credentials() {
  return {{"AWS_ACCESS_KEY_ID", kAwsExampleAccessKeyId}, {"AWS_SECRET_ACCESS_KEY", kAwsExampleSecretAccessKey}};
}

std::string_view error_code_for(int status, std::initializer_list<std::pair<int, std::string_view>> codes,
                                std::string_view client_error, std::string_view server_error) {
  for (const auto& [listed, code] : codes)
    if (listed == status) return code;
  return status < 500 ? client_error : server_error;
}

ServerReply aws_injected_error(const InjectedError& error) {
  const int status = error.status;
  const std::string_view code = error_code_for(status,
                                               {{400, "ValidationException"},
                                                {401, "UnrecognizedClientException"},
                                                {403, "AccessDeniedException"},
                                                {404, "ResourceNotFoundException"},
                                                {409, "ConflictException"},
                                                {429, "ThrottlingException"},
                                                {503, "ServiceUnavailableException"}},
                                               "BadRequestException", "InternalServerException");
  ServerReply reply = aws_error(status, code, error.message);
  if (error.echoed_request_id)
    for (auto& [name, value] : reply.headers)
      if (name == "x-amzn-RequestId") value = *error.echoed_request_id;
  return reply;
}

SigV4Check check_sigv4(const ServerRequest& request, std::string_view service) {
  SigV4Check check;
  auto refuse = [&](int status, std::string_view code, std::string message) {
    check.refusal = aws_error(status, code, message);
    return check;
  };
  auto authorization = request.header("authorization");
  auto date = request.header("x-amz-date");
  if (!authorization || !date) return refuse(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
  // Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=a;b, Signature=hex
  auto field = [&](std::string_view name) -> std::string {
    auto at = authorization->find(std::string(name) + "=");
    if (at == std::string::npos) return {};
    auto start = at + name.size() + 1;
    auto end = authorization->find_first_of(", ", start);
    return authorization->substr(start, end == std::string::npos ? std::string::npos : end - start);
  };
  std::string credential = field("Credential"), signed_headers = field("SignedHeaders"), signature = field("Signature");
  std::vector<std::string> scope;
  for (std::size_t start = 0; start <= credential.size();) {
    auto end = credential.find('/', start);
    if (end == std::string::npos) end = credential.size();
    scope.push_back(credential.substr(start, end - start));
    start = end + 1;
  }
  if (scope.size() != 5 || signature.empty() || signed_headers.empty())
    return refuse(400, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature");
  if (scope[0] != kAwsExampleAccessKeyId)
    return refuse(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
  if (scope[3] != service)
    return refuse(403, "InvalidSignatureException", "Credential should be scoped to correct service: '" + std::string(service) + "'.");
  if (scope[4] != "aws4_request" || scope[1] != date->substr(0, 8))
    return refuse(403, "InvalidSignatureException", "Credential should be scoped to a valid date and aws4_request.");
  auto when = parse_amz_date(*date);
  if (!when) return refuse(400, "IncompleteSignatureException", "X-Amz-Date is not in the form YYYYMMDDTHHMMSSZ");
  auto skew = std::chrono::system_clock::now() - *when;
  if (skew > std::chrono::minutes(15) || skew < -std::chrono::minutes(15))
    return refuse(403, "InvalidSignatureException", "Signature expired: " + *date + " is more than 15 minutes from the server time.");

  // Re-sign exactly what arrived, with only the headers the client signed.
  auth::SigningRequest signing;
  signing.method = request.method;
  std::string_view target = request.target;
  auto q = target.find('?');
  signing.path = std::string(target.substr(0, q));
  signing.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  signing.body = request.body;
  for (std::size_t start = 0; start <= signed_headers.size();) {
    auto end = signed_headers.find(';', start);
    if (end == std::string::npos) end = signed_headers.size();
    std::string name = signed_headers.substr(start, end - start);
    for (const auto& [h, v] : request.headers) {
      std::string lower = h;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == name) signing.headers.emplace_back(lower, v);
    }
    start = end + 1;
  }
  auth::AwsCredentials credentials{kAwsExampleAccessKeyId, kAwsExampleSecretAccessKey, ""};
  if (auto token = request.header("x-amz-security-token")) credentials.session_token = *token;
  auth::SigV4Options options;
  options.region = scope[2];
  options.service = std::string(service);
  options.sign_session_token = signed_headers.find("x-amz-security-token") != std::string::npos;
  auto expected = auth::sign_v4(signing, credentials, options, *date);
  if (!expected || expected->signature != signature)
    return refuse(403, "InvalidSignatureException",
                  "The request signature we calculated does not match the signature you provided.");
  check.ok = true;
  check.region = scope[2];
  return check;
}

}  // namespace expbridge::emulator
