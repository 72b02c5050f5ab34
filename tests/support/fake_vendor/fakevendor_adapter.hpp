// expbridge tests — the fakevendor adapter (see fakevendor_vendor.hpp).
#pragma once

#include "expbridge/adapter.hpp"

namespace expbridge::test {

/// Builds a fakevendor backend: settings `{token_env: VARIABLE}`, binding `{experiment: ID}`.
Result<std::unique_ptr<Adapter>> make_fakevendor_adapter(const BackendContext& context);

}  // namespace expbridge::test
