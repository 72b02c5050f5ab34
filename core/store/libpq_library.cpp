#include "store/libpq_library.hpp"

#include <dlfcn.h>

#include <atomic>
#include <mutex>

namespace expbridge {

namespace {

constexpr const char* kInstall = "install the PostgreSQL client library (Debian: apt-get install libpq5)";

struct LoaderState {
  std::mutex mutex;
  std::string file = kLibpqFile;
  std::string loaded_file;
  const LibpqLibrary* loaded = nullptr;
};

LoaderState& state() {
  static LoaderState s;
  return s;
}

// Read by `libpq()` on every call through the table, without the mutex.
std::atomic<const LibpqLibrary*> current{nullptr};

template <class Function>
bool resolve(void* handle, const char* name, Function& slot) {
  slot = reinterpret_cast<Function>(::dlsym(handle, name));
  return slot != nullptr;
}

Result<LibpqLibrary> open_library(const std::string& file) {
  // RTLD_LOCAL: libpq's symbols (and those of its dependencies) stay out of the global scope,
  // where they could bind another library's lookups. RTLD_NOW: a library missing a dependency
  // fails here, not at some later call.
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return std::unexpected(make_error(ErrorCode::unavailable,
                                      "cannot load the PostgreSQL client library " + file + " (" +
                                          (why != nullptr ? why : "no reason given") + "): " + kInstall));
  }
  LibpqLibrary table{};
  const char* missing = nullptr;
  const auto need = [&](const char* name, auto& slot) {
    if (missing == nullptr && !resolve(handle, name, slot)) missing = name;
  };
  // The name is the member's, spelled once.
#define EXPBRIDGE_LIBPQ_NEED(function) need(#function, table.function)
  EXPBRIDGE_LIBPQ_NEED(PQconnectdbParams);
  EXPBRIDGE_LIBPQ_NEED(PQstatus);
  EXPBRIDGE_LIBPQ_NEED(PQerrorMessage);
  EXPBRIDGE_LIBPQ_NEED(PQconnectionNeedsPassword);
  EXPBRIDGE_LIBPQ_NEED(PQsetNoticeProcessor);
  EXPBRIDGE_LIBPQ_NEED(PQfinish);
  EXPBRIDGE_LIBPQ_NEED(PQexecParams);
  EXPBRIDGE_LIBPQ_NEED(PQresultStatus);
  EXPBRIDGE_LIBPQ_NEED(PQresultErrorField);
  EXPBRIDGE_LIBPQ_NEED(PQntuples);
  EXPBRIDGE_LIBPQ_NEED(PQgetvalue);
  EXPBRIDGE_LIBPQ_NEED(PQcmdTuples);
  EXPBRIDGE_LIBPQ_NEED(PQclear);
#undef EXPBRIDGE_LIBPQ_NEED
  if (missing != nullptr) {
    ::dlclose(handle);
    return std::unexpected(make_error(ErrorCode::unavailable, "the PostgreSQL client library " + file + " has no " +
                                                                  missing + ", so it is not libpq 5 or too old: " +
                                                                  kInstall));
  }
  return table;
}

}  // namespace

Result<const LibpqLibrary*> load_libpq() {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (s.loaded != nullptr && s.loaded_file == s.file) return s.loaded;
  LibpqLibrary table{};
  EXPBRIDGE_ASSIGN_OR_RETURN(table, open_library(s.file));
  // Never freed, as the library is never unloaded: connections and results made through a
  // table may be closed at any time up to the process's exit.
  s.loaded = new LibpqLibrary(table);
  s.loaded_file = s.file;
  current.store(s.loaded, std::memory_order_release);
  return s.loaded;
}

const LibpqLibrary& libpq() { return *current.load(std::memory_order_acquire); }

void set_libpq_file_for_testing(std::string file) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.file = file.empty() ? std::string(kLibpqFile) : std::move(file);
}

}  // namespace expbridge
