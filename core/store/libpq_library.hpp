// expbridge — libpq, loaded the first time a PostgreSQL store is opened instead of linked: a
// linked libpq brings its twenty-odd shared libraries (Kerberos, LDAP, GSSAPI, …) into every
// process, PostgreSQL or not, and tripled `expbridge --version` (README, Start-up).
// <libpq-fe.h> gives the types, and the declarations the table's member types are taken from;
// nothing calls them directly, so nothing links libpq.
#pragma once

#include <libpq-fe.h>

#include <string>

#include "expbridge/error.hpp"

namespace expbridge {

/// The file loaded: libpq's soname, the ABI `<libpq-fe.h>` describes (Debian package libpq5).
inline constexpr const char* kLibpqFile = "libpq.so.5";

/// Every libpq function the PostgreSQL store calls, resolved from the loaded library. Each member
/// is named as its function, so that a call site reads `libpq().PQexecParams(…)`.
struct LibpqLibrary {
  decltype(&::PQconnectdbParams) PQconnectdbParams;
  decltype(&::PQstatus) PQstatus;
  decltype(&::PQerrorMessage) PQerrorMessage;
  decltype(&::PQconnectionNeedsPassword) PQconnectionNeedsPassword;
  decltype(&::PQsetNoticeProcessor) PQsetNoticeProcessor;
  decltype(&::PQfinish) PQfinish;
  decltype(&::PQexecParams) PQexecParams;
  decltype(&::PQresultStatus) PQresultStatus;
  decltype(&::PQresultErrorField) PQresultErrorField;
  decltype(&::PQntuples) PQntuples;
  decltype(&::PQgetvalue) PQgetvalue;
  decltype(&::PQcmdTuples) PQcmdTuples;
  decltype(&::PQclear) PQclear;
};

/// Loads the library and resolves the table on the first call (thread-safe); later calls return
/// the same table, and it is never unloaded. A missing library or function is `unavailable`,
/// naming the file, what is missing and the package to install; nothing stays loaded then, and
/// the next call tries again.
Result<const LibpqLibrary*> load_libpq();

/// The table the last successful `load_libpq` returned. Only for code that holds a PGconn or a
/// PGresult: one exists only once a load has succeeded.
const LibpqLibrary& libpq();

/// Test-only: the file later loads open instead of `kLibpqFile` (a path, or a name the dynamic
/// loader searches for); an empty `file` restores `kLibpqFile`. A table already loaded stays
/// valid for what was made with it.
void set_libpq_file_for_testing(std::string file);

}  // namespace expbridge
