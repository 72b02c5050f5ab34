// expbridge tests — the one suite every state store backend passes (SQLite, PostgreSQL). The
// TEST_Ps are in store_conformance_test.cpp; each backend instantiates the suite in its own test
// file with a factory (sqlite_store_test.cpp, postgres_store_test.cpp).
#pragma once

#include <cctype>
#include <functional>
#include <ostream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "expbridge/store.hpp"

namespace expbridge::test {

/// How a test gets a fresh, empty store of one backend.
struct StoreFactory {
  std::string name;  ///< the instantiation's name: "sqlite", "postgresql"
  /// Options for a new empty store; `unique` differs per test (a file name, a database name).
  /// Empty `location` in the result: the backend cannot run here, and `skip_reason` says why.
  std::function<StoreOptions(const std::string& unique)> options;
  std::function<std::string()> skip_reason = [] { return std::string(); };
};

/// A failing test names its backend, not the factory's bytes.
inline void PrintTo(const StoreFactory& factory, std::ostream* out) { *out << factory.name; }

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    if (auto why = GetParam().skip_reason(); !why.empty()) GTEST_SKIP() << why;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string unique = std::string(info->name());
    for (char& c : unique)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    options_ = GetParam().options(unique);
    auto opened = Store::open(options_);
    ASSERT_TRUE(opened) << opened.error().describe();
    store_ = std::move(*opened);
  }

  /// A second handle on the same store, as another process would open it.
  std::unique_ptr<Store> reopen() const {
    auto opened = Store::open(options_);
    EXPECT_TRUE(opened) << opened.error().describe();
    return opened ? std::move(*opened) : nullptr;
  }

  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

}  // namespace expbridge::test
