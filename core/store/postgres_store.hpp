// expbridge — the PostgreSQL state store (libpq), selected by a `postgresql://` or `postgres://`
// URL. Same schema and behaviour as the SQLite store; what several processes (and, later,
// several `serve` replicas) share. Built only when libpq is found (EXPBRIDGE_HAVE_POSTGRES_STORE).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "expbridge/error.hpp"
#include "expbridge/store.hpp"

namespace expbridge {

/// Connects to the database named by `options.location` (libpq's URI form) and creates or
/// migrates its schema. A refused connection is `unavailable`, failed authentication
/// `unauthorized`, a newer schema `invalid_input`; each names the URL without its password.
/// The store holds one connection and is used from one thread; each `lock_experiment` opens a
/// connection of its own.
Result<std::unique_ptr<Store>> open_postgres_store(const StoreOptions& options);

/// True for the URLs the PostgreSQL store takes (`postgresql://`, `postgres://`).
bool is_postgres_location(std::string_view location) noexcept;

/// `url` without its password (in the user info, or a `password=` query parameter): what
/// messages name.
std::string postgres_location_without_password(std::string_view url);

}  // namespace expbridge
