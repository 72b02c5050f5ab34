// The built-in vendors. Adding a vendor adds its folder under adapters/, its table
// under mappings/, and one line here.
#include <cstdio>
#include <cstdlib>

#include "appconfig/appconfig_adapter.hpp"
#include "auth0/auth0_adapter.hpp"
#include "expbridge/adapter.hpp"
#include "evidently/evidently_adapter.hpp"
#include "launchdarkly/launchdarkly_adapter.hpp"

namespace expbridge {

void register_builtin_adapters(Registry& registry) {
  for (auto registration : {register_appconfig, register_auth0, register_evidently, register_launchdarkly}) {
    if (auto ok = registration(registry); !ok) {
      // Two built-in vendors with one name is a build mistake, not a user error.
      std::fprintf(stderr, "expbridge: %s\n", ok.error().message.c_str());
      std::abort();
    }
  }
}

}  // namespace expbridge
