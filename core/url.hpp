// URLs built from vendor ids: an id can never rewrite a path.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "expbridge/error.hpp"

namespace expbridge {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

/// RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - . _ ~ becomes %XX.
std::string percent_encode(std::string_view text);

/// Fills each `{label}` of a path template with its value encoded as ONE path
/// segment (`/`, `?`, `#` become %2F, %3F, %23). Refuses empty, `.` and `..`
/// values, which no encoding keeps from changing the path, and unknown labels.
Result<std::string> expand_path(std::string_view path_template, const Labels& labels);

/// Fills `{label}`s of a base-URL template (host names): values must be host-safe
/// (letters, digits, `-`, `.`), else invalid_input naming `field`.
Result<std::string> expand_host_template(std::string_view url_template, const Labels& labels, std::string_view field);

/// Checks an endpoint override: `https://host[:port][/prefix]`, or `http://` for a
/// loopback host only; no user info, query or fragment. Returns it without a trailing `/`.
Result<std::string> check_endpoint(std::string_view endpoint);

/// True for `localhost`, 127.0.0.0/8 and `::1` (with or without brackets).
bool is_loopback_host(std::string_view host);

/// `base` + `path` + `?k=v&...` (keys and values percent-encoded).
std::string join_url(std::string_view base, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& query = {});

}  // namespace expbridge
