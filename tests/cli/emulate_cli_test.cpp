// `expbridge emulate` as a CI job runs it: in the background, its URL read from its output,
// stopped by --duration-s or by SIGTERM.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <boost/json/parse.hpp>

#include "emulator/emulator.hpp"
#include "expbridge/adapter.hpp"
#include "support/background_cli.hpp"
#include "support/blocking_http.hpp"

namespace expbridge::emulator {
namespace {

using testing::blocking_request;

class EmulateCli : public ::testing::Test {
 protected:
  void spawn(std::vector<std::string> args) { cli_.spawn(std::move(args)); }
  std::string wait_for_url() {
    std::string url = cli_.wait_for_url();
    port_ = cli_.port();
    return url;
  }
  int wait_exit(std::chrono::seconds limit) { return cli_.wait_exit(limit); }
  static std::string slurp(const std::filesystem::path& p) { return test::BackgroundCli::slurp(p); }

  test::BackgroundCli cli_{EXPBRIDGE_CLI};
  const std::filesystem::path& dir_ = cli_.dir();
  std::uint16_t port_ = 0;
};

TEST_F(EmulateCli, ServesStateAndStopsAfterDuration) {
  const auto config = dir_ / "backends.yaml";
  spawn({"emulate", "--port", "0", "--duration-s", "3", "--write-config", config.string()});
  const auto started = std::chrono::steady_clock::now();
  const std::string url = wait_for_url();
  ASSERT_FALSE(url.empty());
  auto state = blocking_request(port_, "GET", "/_emulator/state");
  ASSERT_TRUE(state.answered);
  EXPECT_EQ(state.status, 200);
  auto emulators = make_emulators(Registry::builtin());
  ASSERT_TRUE(emulators) << emulators.error().describe();
  EXPECT_EQ(boost::json::parse(state.body).as_object().size(), emulators->size());

  // Every emulator's credentials, as lines a shell reads.
  const std::string out = slurp(dir_ / "out");
  auto credentials = test_credentials(Registry::builtin());
  ASSERT_TRUE(credentials) << credentials.error().describe();
  for (const auto& c : *credentials)
    EXPECT_NE(out.find("export " + c.variable + "=" + c.value + "\n"), std::string::npos) << c.variable;
  EXPECT_NE(out.find(url + "/_emulator/reset"), std::string::npos);

  // The backends config points every registered vendor at the emulators and passes `validate`.
  const std::string written = slurp(config);
  if (!emulators->empty()) {
    EXPECT_NE(written.find("endpoint: " + url), std::string::npos) << written;
    EXPECT_NE(out.find(written), std::string::npos);
    const std::string command = "'" + std::string(EXPBRIDGE_CLI) + "' validate -c '" + config.string() + "' '" +
                                std::string(EXPBRIDGE_SOURCE_DIR) + "/samples/updates/start.yaml' >/dev/null 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << written;
  }

  EXPECT_EQ(wait_exit(std::chrono::seconds(15)), 0) << slurp(dir_ / "err");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
  EXPECT_NE(slurp(dir_ / "err").find("duration elapsed"), std::string::npos);
}

TEST_F(EmulateCli, StopsOnSigterm) {
  spawn({"emulate", "--port", "0", "--duration-s", "60"});
  ASSERT_FALSE(wait_for_url().empty());
  ASSERT_EQ(::kill(cli_.pid(), SIGTERM), 0);
  EXPECT_EQ(wait_exit(std::chrono::seconds(10)), 0);
  EXPECT_NE(slurp(dir_ / "err").find("signal"), std::string::npos);
}

TEST_F(EmulateCli, RefusesABadFixture) {
  std::ofstream(dir_ / "fixture.yaml") << "no_such_vendor: {}\n";
  spawn({"emulate", "--port", "0", "--duration-s", "1", "--fixture", (dir_ / "fixture.yaml").string()});
  EXPECT_EQ(wait_exit(std::chrono::seconds(10)), 2);
  EXPECT_NE(slurp(dir_ / "err").find("unknown section 'no_such_vendor'"), std::string::npos) << slurp(dir_ / "err");
}

}  // namespace
}  // namespace expbridge::emulator
