// The `live` table of a profile: its keys, defaults, both TOML spellings, and every mistake named
// as FILE:LINE:profile[CLASS].live.KEY with all problems reported at once.
#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "xrm/health/profiles.hpp"

using namespace std::chrono_literals;
using xrm::config::ConfigError;

namespace {

std::string joined(const std::vector<ConfigError>& errors) {
  std::string s;
  for (const auto& e : errors) s += e.to_string() + "\n";
  return s;
}

}  // namespace

TEST_GROUP(LiveProfile) {
  std::vector<ConfigError> errors;

  xrm::health::Profiles load(const std::string& text) {
    return xrm::health::load_profiles_string(text, "p.toml", errors);
  }

  // Loads text and checks the errors are exactly `want` (one per line, in order).
  void expect_errors(const std::string& text, const std::string& want) {
    auto profiles = load(text);
    STRCMP_EQUAL(want.c_str(), joined(errors).c_str());
    CHECK_TRUE(profiles.profiles.empty());
  }
};

TEST(LiveProfile, AbsentMeansOff) {
  auto p = load("[[profile]]\nclass = \"chiller\"\n");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  const auto& live = p.profiles.at(0).live;
  CHECK_FALSE(live.enabled());
  CHECK(live.interval == 0ms);
  CHECK(live.max_interval == 0ms);
  DOUBLES_EQUAL(0, live.default_deadband, 0);
  CHECK_TRUE(live.metrics.empty());
  CHECK_TRUE(live.selects("anything"));
  CHECK_EQUAL(0, live.line);
}

TEST(LiveProfile, InlineTableIsRead) {
  auto p = load(R"([[profile]]
class = "chiller"
live = { interval = "5s", max_interval = "1m", deadband = { temp_c = 0.5, default = 0.1 }, metrics = ["temp_c", "door_open"] }
)");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  const auto& live = p.profiles.at(0).live;
  CHECK_TRUE(live.enabled());
  CHECK(live.interval == 5s);
  CHECK(live.max_interval == 60s);
  DOUBLES_EQUAL(0.5, live.deadband_of("temp_c"), 0);
  DOUBLES_EQUAL(0.1, live.deadband_of("door_open"), 0);
  DOUBLES_EQUAL(0.1, live.default_deadband, 0);
  CHECK_EQUAL(2U, live.metrics.size());
  CHECK_TRUE(live.selects("door_open"));
  CHECK_FALSE(live.selects("rpm"));
  CHECK_EQUAL(3, live.line);
}

TEST(LiveProfile, SubTableIsRead) {
  auto p = load(R"([[profile]]
class = "pump"
expected_interval = "1s"

[profile.live]
interval = "2s"
deadband = { pressure_bar = 0.2 }

[[profile.rule]]
name = "low"
when = "min(pressure_bar, 1m) < 1"
)");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  const auto& pr = p.profiles.at(0);
  CHECK(pr.live.interval == 2s);
  DOUBLES_EQUAL(0.2, pr.live.deadband_of("pressure_bar"), 0);
  DOUBLES_EQUAL(0, pr.live.deadband_of("rpm"), 0);
  CHECK_EQUAL(1U, pr.rules.size());
}

TEST(LiveProfile, IntervalIsRequiredAndPositive) {
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { deadband = { default = 1 } }\n",
                "p.toml:3:profile[chiller].live.interval: required key is missing (live telemetry needs the shortest "
                "time between two messages, e.g. \"5s\")\n");
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"soon\" }\n",
                "p.toml:3:profile[chiller].live.interval: bad duration \"soon\"; expected NUMBER UNIT parts such as "
                "\"30s\" or \"1h30m\"\n");
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"0s\" }\n",
                "p.toml:3:profile[chiller].live.interval: duration must be greater than zero\n");
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = 5 }\n",
                "p.toml:3:profile[chiller].live.interval: expected a string (duration), found an integer\n");
}

TEST(LiveProfile, NegativeOrNonNumericDeadbandIsRefused) {
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"5s\", deadband = { temp_c = -0.5 } }\n",
                "p.toml:3:profile[chiller].live.deadband.temp_c: -0.5 is negative; a deadband is 0 (any change) or "
                "more\n");
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"5s\", deadband = { default = \"1\" } }\n",
                "p.toml:3:profile[chiller].live.deadband.default: expected a number (deadband), found a string\n");
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"5s\", deadband = { temp_c = inf } }\n",
                "p.toml:3:profile[chiller].live.deadband.temp_c: inf is not a finite number\n");
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"5s\", deadband = 0.5 }\n",
                "p.toml:3:profile[chiller].live.deadband: expected a table, found a number\n");
}

TEST(LiveProfile, UnknownKeyIsNamed) {
  expect_errors("[[profile]]\nclass = \"chiller\"\n\n[profile.live]\ninterval = \"5s\"\nrate = \"1s\"\n",
                "p.toml:6:profile[chiller].live.rate: unknown key\n");
}

TEST(LiveProfile, MaxIntervalNotShorterThanInterval) {
  expect_errors("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"10s\", max_interval = \"5s\" }\n",
                "p.toml:3:profile[chiller].live.max_interval: 5s is shorter than interval (10s)\n");
  auto p = load("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"10s\", max_interval = \"10s\" }\n");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
}

TEST(LiveProfile, MetricListMistakes) {
  expect_errors("[[profile]]\nclass = \"c\"\nlive = { interval = \"5s\", metrics = \"temp_c\" }\n",
                "p.toml:3:profile[c].live.metrics: expected an array of metric names, found a string\n");
  expect_errors("[[profile]]\nclass = \"c\"\nlive = { interval = \"5s\", metrics = [] }\n",
                "p.toml:3:profile[c].live.metrics: empty list; leave metrics out to forward every metric\n");
  expect_errors("[[profile]]\nclass = \"c\"\nlive = { interval = \"5s\", metrics = [\"a\", 2, \"a b\", \"a\"] }\n",
                "p.toml:3:profile[c].live.metrics: element 2: expected a string (metric name), found an integer\n"
                "p.toml:3:profile[c].live.metrics: metric name \"a b\" is not 1 to 64 characters of A-Z a-z 0-9 _ . -\n"
                "p.toml:3:profile[c].live.metrics: \"a\" is listed twice\n");
}

TEST(LiveProfile, DeadbandForAMetricThatIsNeverSentIsRefused) {
  expect_errors(R"([[profile]]
class = "c"
[profile.live]
interval = "5s"
metrics = ["temp_c"]
deadband = { temp_c = 1, tmep_c = 1 }
)",
                "p.toml:6:profile[c].live.deadband.tmep_c: \"tmep_c\" is not in live.metrics, so it is never sent\n");
}

TEST(LiveProfile, EveryProblemAtOnceInLineOrder) {
  expect_errors(R"([[profile]]
class = "chiller"
[profile.live]
interval = "never"
deadband = { temp_c = -1, "bad name" = 1 }
burst = 3

[[profile]]
class = "pump"
live = "on"
)",
                "p.toml:4:profile[chiller].live.interval: bad duration \"never\"; expected NUMBER UNIT parts such as "
                "\"30s\" or \"1h30m\"\n"
                "p.toml:5:profile[chiller].live.deadband.bad name: metric name \"bad name\" is not 1 to 64 characters "
                "of A-Z a-z 0-9 _ . -\n"
                "p.toml:5:profile[chiller].live.deadband.temp_c: -1 is negative; a deadband is 0 (any change) or more\n"
                "p.toml:6:profile[chiller].live.burst: unknown key\n"
                "p.toml:10:profile[pump].live: expected a table, found a string\n");
}

TEST(LiveProfile, DocsExampleEnablesLiveTelemetry) {
  // docs/examples/profiles.toml is loaded by the health tests; the rules reference's live example
  // is this one.
  auto p = load(R"([[profile]]
class = "chiller"
expected_interval = "10s"

[profile.live]
interval = "5s"                   # at most one message per device every 5 s
max_interval = "1m"               # and at least one a minute, even when nothing moved
metrics = ["temp_c", "door_open"] # only these; leave out to forward every metric
deadband = { temp_c = 0.5, default = 0 }
)");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  CHECK_TRUE(p.profiles.at(0).live.enabled());
}
