// expbridge — internal: what the store's backends share. `Store::open` picks one by location;
// each backend builds its runs, ids, times and JSON columns with these helpers, so that SQLite
// and PostgreSQL write the same values and pass the same conformance suite.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "expbridge/store.hpp"

namespace expbridge {

/// A file path: the embedded store (core/store/sqlite_store.cpp).
Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options);
/// A `postgresql://` URL: the shared store (core/store/postgres_store.cpp). Only called when the
/// build defines EXPBRIDGE_HAVE_POSTGRES_STORE.
Result<std::unique_ptr<Store>> open_postgres_store(const StoreOptions& options);

namespace store_detail {

/// Now, RFC 3339 UTC with milliseconds: `2026-12-01T15:14:19.123Z`.
std::string now_utc();

/// A new run id for a run started at `started_at` (a `now_utc()` value): that time then 64
/// random bits, so ids sort by start time (made from the same reading of the clock as the
/// run's `started_at`, never a second one) and two processes starting in the same millisecond
/// still differ: `20261201T151419.123Z-9f86d081884c7d65`.
std::string new_run_id(std::string_view started_at);

/// `e` with its message prefixed `state store LOCATION: `, unless it already names `location`.
Error name_store(std::string_view location, Error e);

/// The inverse of `to_string(IntentOutcome)`; nullopt for anything else.
std::optional<IntentOutcome> parse_intent_outcome(std::string_view text);

/// JSON columns, as text (SQLite TEXT, PostgreSQL jsonb input).
std::string to_json_text(const boost::json::object& value);
std::string to_json_text(const std::map<std::string, std::string>& value);
std::string to_json_text(const std::vector<std::string>& value);

/// Parsed back; `column` names what is read for the error (a store edited by hand, say).
Result<boost::json::object> object_from_json_text(std::string_view text, std::string_view column);
Result<std::map<std::string, std::string>> string_map_from_json_text(std::string_view text, std::string_view column);
Result<std::vector<std::string>> strings_from_json_text(std::string_view text, std::string_view column);

}  // namespace store_detail
}  // namespace expbridge
