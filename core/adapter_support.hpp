// What every adapter needs: checking values against its table's limits, and
// turning a table operation into a planned request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "expbridge/adapter.hpp"
#include "expbridge/mapping.hpp"
#include "expbridge/plan.hpp"
#include "url.hpp"

namespace expbridge {

/// Length in characters (UTF-8 code points), as vendors count them.
std::size_t utf8_length(std::string_view text);

/// Checks a string against a limit's length range and pattern.
/// Errors are invalid_input naming `field`, the limit's rule and the value's length.
Status check_string(const LimitSpec& limit, std::string_view value, std::string_view field);
/// Checks a number against a limit's min/max.
Status check_number(const LimitSpec& limit, double value, std::string_view field);
/// Checks a count (items in a list or map) against min_count/max_count.
Status check_count(const LimitSpec& limit, std::size_t count, std::string_view field);
/// Checks a byte size against max_bytes.
Status check_bytes(const LimitSpec& limit, std::size_t bytes, std::string_view field);

/// Builds the request for `operation`: base URL + expanded path + the table's fixed
/// query, the table's content type when the operation has a body.
Result<PlannedRequest> make_request(const OperationSpec& operation, std::string_view base_url, const Labels& labels,
                                    std::string_view content_type, std::optional<boost::json::value> body);

/// The number in its shortest exact text (`50`, `33.5`), as people and some wire formats want it.
std::string format_number(double value);

/// Turns `vendor.<vendor>` pass-through members into (operation, member, value) triples,
/// refusing members the table does not list (`passthrough:`). Errors name `vendor.<vendor>.<member>`.
Result<std::vector<PassThrough>> read_passthrough(const MappingTable& table, const boost::json::object& vendor_block);

}  // namespace expbridge
