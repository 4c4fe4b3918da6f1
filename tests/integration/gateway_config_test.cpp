// xrm-gatewayd's command line and configuration errors (contract: exit 2 for a configuration
// error, one stderr line per problem naming FILE:LINE:section.key). No brokers needed.
#include <CppUTest/TestHarness.h>

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/process.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using xrm::testing::guarded;
using xrm::testing::Process;
using xrm::testing::TempDir;

constexpr auto kWait = 5s;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line_starting(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines) {
    if (l.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_GROUP(GatewayConfig) {
  std::unique_ptr<TempDir> dir;

  void setup() override {
    guarded([&] { dir = std::make_unique<TempDir>("xrm-config"); });
  }
  void teardown() override { dir.reset(); }

  // Runs xrm-gatewayd with args to completion; its exit code (fails the test if it runs longer
  // than kWait). stdout and stderr go to separate files of the temp dir.
  int run_daemon(const std::vector<std::string>& args, const std::string& tag) {
    std::vector<std::string> argv = {XRM_GATEWAYD_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p({.argv = argv,
               .stdout_path = dir->file(tag + ".out"),
               .stderr_path = dir->file(tag + ".err"),
               .unset_env = {"JOURNAL_STREAM", "NOTIFY_SOCKET"}});
    const auto rc = p.wait_exit(kWait);
    if (!rc) FAIL(("xrm-gatewayd " + tag + " still running after 5 s; stderr:\n" + err(tag)).c_str());
    return *rc;
  }
  std::string out(const std::string& tag) const { return xrm::testing::read_file(dir->file(tag + ".out")); }
  std::string err(const std::string& tag) const { return xrm::testing::read_file(dir->file(tag + ".err")); }
};

TEST(GatewayConfig, BadConfigExitsTwoWithFileLineKey) {
  guarded([&] {
    const std::string file = dir->file("bad.toml");
    const std::string data_dir = dir->file("data");
    // One entry per line, so the line numbers below are plain to see.
    const std::vector<std::string> toml = {
        "[gateway]",                                         // 1
        "id = \"gw-bad\"",                                   // 2
        "data_dir = " + xrm::testing::toml_quote(data_dir),  // 3
        "colour = \"blue\"",                                 // 4: unknown key
        "",                                                  // 5
        "[upstream]",                                        // 6
        "url = \"tcp://127.0.0.1:1\"",                       // 7
        "keepalive = \"5 parsecs\"",                         // 8: bad value
    };
    std::string text;
    for (const auto& line : toml) text += line + "\n";
    xrm::testing::write_file(file, text);

    for (const char* mode_name : {"run", "check"}) {
      const std::string mode = mode_name;
      std::vector<std::string> args = {"--config", file};
      if (mode == "check") args.push_back("--check-config");
      const int rc = run_daemon(args, mode);
      const std::string stderr_text = err(mode);
      LONGS_EQUAL_TEXT(2, rc, (mode + ": stderr:\n" + stderr_text).c_str());
      const auto lines = lines_of(stderr_text);
      for (const std::string& prefix : {file + ":4:gateway.colour:", file + ":8:upstream.keepalive:"}) {
        CHECK_TEXT(has_line_starting(lines, prefix),
                   (mode + ": no stderr line starts with \"" + prefix + "\"; stderr:\n" + stderr_text).c_str());
      }
      // A configuration error is found before anything is touched.
      CHECK_FALSE_TEXT(exists(data_dir), (mode + ": data_dir created despite the bad configuration").c_str());
    }
  });
}

TEST(GatewayConfig, CheckConfigAcceptsGoodConfig) {
  guarded([&] {
    xrm::testing::GatewaySettings s;
    s.gateway_id = "gw-good";
    s.local_url = "tcp://127.0.0.1:1";  // never connected to: --check-config only validates
    s.local_username = "xrm-admin";
    s.local_password = "secret";
    s.upstream_url = "tcp://127.0.0.1:2";
    xrm::testing::GatewayUnderTest gw(XRM_GATEWAYD_PATH, s);

    const int rc = run_daemon({"--config", gw.config_path(), "--check-config"}, "good");
    LONGS_EQUAL_TEXT(0, rc, ("stderr:\n" + err("good")).c_str());
    STRCMP_EQUAL((gw.config_path() + ": ok\n").c_str(), out("good").c_str());
    STRCMP_EQUAL("", err("good").c_str());
    CHECK_FALSE_TEXT(exists(gw.data_dir()), "--check-config created the data_dir");
  });
}

// A broken health.profiles file at start: exit 2 with every error as FILE:LINE:KEY, for a run and
// for --check-config alike, before the data_dir is touched.
TEST(GatewayConfig, BadProfilesFileExitsTwoWithFileLineKey) {
  guarded([&] {
    xrm::testing::GatewaySettings s;
    s.gateway_id = "gw-profiles";
    s.local_url = "tcp://127.0.0.1:1";
    s.local_username = "xrm-admin";
    s.local_password = "secret";
    s.upstream_url = "tcp://127.0.0.1:2";
    s.profiles_toml =
        "[[profile]]\n"                       // 1
        "class = \"chiller\"\n"               // 2
        "expected_interval = \"10 fortnights\"\n"  // 3: bad duration
        "\n"                                  // 4
        "[[profile.rule]]\n"                  // 5
        "name = \"hot\"\n"                    // 6
        "when = \"avg(temp_c, 5m) >>> 8\"\n"  // 7: bad expression
        "penalty = 10\n";                     // 8
    xrm::testing::GatewayUnderTest gw(XRM_GATEWAYD_PATH, s);
    for (const char* mode_name : {"run", "check"}) {
      const std::string mode = mode_name;
      std::vector<std::string> args = {"--config", gw.config_path()};
      if (mode == "check") args.push_back("--check-config");
      const int rc = run_daemon(args, mode);
      const std::string stderr_text = err(mode);
      LONGS_EQUAL_TEXT(2, rc, (mode + ": stderr:\n" + stderr_text).c_str());
      const auto lines = lines_of(stderr_text);
      for (const std::string& prefix : {gw.profiles_file() + ":3:profile[chiller].expected_interval:",
                                        gw.profiles_file() + ":7:profile[chiller].rule[hot].when:"}) {
        CHECK_TEXT(has_line_starting(lines, prefix),
                   (mode + ": no stderr line starts with \"" + prefix + "\"; stderr:\n" + stderr_text).c_str());
      }
      CHECK_FALSE_TEXT(exists(gw.data_dir()), (mode + ": data_dir created despite the bad profiles").c_str());
    }
  });
}
