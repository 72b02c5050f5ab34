// expbridge tests — an adapter's create (`Adapter::create`) and read (`Adapter::read`) driven step
// by step against the vendor emulators, each request sent once, authenticated as the backend's
// auth spec says: the harness the vendors' create tests (adapters/<vendor>/<vendor>_create_test.cpp)
// share. It stands in for `migrate`, which owns sending in the product.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <boost/json/object.hpp>

#include "emulator/emulator.hpp"
#include "expbridge/adapter.hpp"
#include "expbridge/bridge.hpp"

namespace expbridge::test {

/// One backend of a config on the emulator host, and a client that sends its requests.
class EmulatedBackend {
 public:
  /// Backend `name` = `{<settings>, endpoint: the host}`; no experiment is bound.
  static Result<std::unique_ptr<EmulatedBackend>> connect(const emulator::EmulatorHost& host, std::string_view name,
                                                          std::string_view settings);
  ~EmulatedBackend();

  const Adapter& adapter() const;

  /// Sends `request` once (never retried) and returns the vendor's answer, whatever its status.
  Result<ReadResponse> send(const PlannedRequest& request);

  /// Every step of a create: the steps' requests sent in order; stops at the first error (an
  /// adapter error or a request that could not be sent), or after `max_steps`.
  struct CreateRun {
    Result<CreateStep> first = std::unexpected(Error{});  ///< the first step (its carriage, its `then`)
    Result<CreateStep> last = std::unexpected(Error{});   ///< the last step the adapter gave
    std::vector<PlannedRequest> sent;
    std::vector<ReadResponse> answers;
  };
  CreateRun create(const CreateSpec& spec, int max_steps = 8);

  /// The adapter's read of `binding` (a binding as `experiments.<key>.<backend>` holds it).
  Result<VendorState> read(const boost::json::object& binding, int max_steps = 16);

 private:
  struct Impl;
  explicit EmulatedBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The carriage entry of `field`, or nullptr.
const FieldCarriage* carriage_of(const std::vector<FieldCarriage>& carriage, std::string_view field);

/// A fixture: the emulators on their default fixtures, one backend on them, and the partial
/// binding the tests' creates are given.
class EmulatedCreate : public ::testing::Test {
 protected:
  /// Starts the emulators and connects backend `name` with `settings` (vendor settings, YAML flow members).
  void start(std::string_view name, std::string_view settings);
  CreateSpec spec(const Experiment& e) const { return CreateSpec{e.experiment, &e, &partial_}; }
  /// How many `method` requests to exactly `target` (path and query) the emulators received.
  std::size_t received(std::string_view method, std::string_view target) const;

  std::unique_ptr<emulator::EmulatorHost> host_;
  std::unique_ptr<EmulatedBackend> backend_;
  boost::json::object partial_;
};

}  // namespace expbridge::test
