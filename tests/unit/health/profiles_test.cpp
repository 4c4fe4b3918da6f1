#include <CppUTest/TestHarness.h>

#include <filesystem>
#include <string>
#include <vector>

#include "xrm/health/profiles.hpp"

using namespace std::chrono_literals;
using xrm::config::ConfigError;
using xrm::health::Escalation;
using xrm::health::RuleFunc;
using xrm::health::RuleOp;

namespace {

// The contract's example (docs/contract.md, "Configuration").
constexpr const char* kContractExample = R"([[profile]]
class = "chiller"
expected_interval = "10s"         # how often a healthy device reports
offline_after = "60s"
bands = { healthy = 80, critical = 50 }      # score >= 80 healthy, < 50 critical, else degraded
escalate = { degraded = "alert", critical = "service_request" }

[[profile.rule]]
name = "overheat"
when = "avg(temp_c, 1m) > 8"      # FUNC(METRIC, WINDOW) OP NUMBER
for = "30s"                       # must hold this long before it counts
penalty = 40
)";

std::string joined(const std::vector<ConfigError>& errors) {
  std::string s;
  for (const auto& e : errors) s += e.to_string() + "\n";
  return s;
}

bool has_error(const std::vector<ConfigError>& errors, const std::string& prefix) {
  for (const auto& e : errors) {
    if (e.to_string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_GROUP(ProfilesLoad) {
  std::vector<ConfigError> errors;

  xrm::health::Profiles load(const std::string& text) {
    return xrm::health::load_profiles_string(text, "p.toml", errors);
  }
  // Loads text and checks it gives exactly one error, starting with prefix.
  void expect_one_error(const std::string& text, const std::string& prefix) {
    auto profiles = load(text);
    CHECK_TEXT(has_error(errors, prefix), ("want " + prefix + "\ngot:\n" + joined(errors)).c_str());
    CHECK_EQUAL_TEXT(1U, errors.size(), joined(errors).c_str());
    CHECK_TRUE(profiles.profiles.empty());
  }
};

TEST(ProfilesLoad, ContractExampleParsesToExpectedValues) {
  auto profiles = load(kContractExample);
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  STRCMP_EQUAL("p.toml", profiles.source_file.c_str());
  CHECK_EQUAL(1U, profiles.profiles.size());
  const auto& p = profiles.profiles[0];
  STRCMP_EQUAL("chiller", p.class_name.c_str());
  CHECK_EQUAL(1, p.line);
  CHECK(p.expected_interval == 10s);
  CHECK(p.offline_after == 60s);
  DOUBLES_EQUAL(80, p.healthy_band, 0);
  DOUBLES_EQUAL(50, p.critical_band, 0);
  CHECK(p.on_degraded == Escalation::kAlert);
  CHECK(p.on_critical == Escalation::kServiceRequest);
  CHECK_EQUAL(1U, p.rules.size());
  const auto& r = p.rules[0];
  STRCMP_EQUAL("overheat", r.name.c_str());
  STRCMP_EQUAL("avg(temp_c, 1m) > 8", r.when.c_str());
  CHECK_EQUAL(8, r.line);
  CHECK(r.condition.func == RuleFunc::kAvg);
  STRCMP_EQUAL("temp_c", r.condition.metric.c_str());
  CHECK(r.condition.window == 1min);
  CHECK(r.condition.op == RuleOp::kGt);
  DOUBLES_EQUAL(8, r.condition.threshold, 0);
  CHECK(r.hold == 30s);
  DOUBLES_EQUAL(40, r.penalty, 0);
}

TEST(ProfilesLoad, DocumentedDefaultsApply) {
  auto profiles = load("[[profile]]\nclass = \"meter\"\n[[profile.rule]]\nname = \"r\"\nwhen = \"last(v, 5m) < 0\"\n");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  const auto& p = profiles.profiles.at(0);
  CHECK(p.expected_interval == 60s);
  CHECK(p.offline_after == 6min);
  DOUBLES_EQUAL(80, p.healthy_band, 0);
  DOUBLES_EQUAL(50, p.critical_band, 0);
  DOUBLES_EQUAL(5, p.hysteresis, 0);
  CHECK(p.on_degraded == Escalation::kNone);
  CHECK(p.on_critical == Escalation::kAlert);
  DOUBLES_EQUAL(30, p.weights.silence, 0);
  DOUBLES_EQUAL(20, p.weights.gaps, 0);
  DOUBLES_EQUAL(10, p.weights.response, 0);
  DOUBLES_EQUAL(20, p.weights.recurrence, 0);
  DOUBLES_EQUAL(20, p.weights.satisfaction, 0);
  const auto& r = p.rules.at(0);
  CHECK(r.hold == 0s);
  DOUBLES_EQUAL(20, r.penalty, 0);
}

TEST(ProfilesLoad, OfflineAfterDefaultsToSixExpectedIntervals) {
  auto profiles = load("[[profile]]\nclass = \"meter\"\nexpected_interval = \"15m\"\n");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  CHECK(profiles.profiles.at(0).offline_after == 90min);
}

TEST(ProfilesLoad, EveryKeySetIsRead) {
  auto profiles = load(R"([[profile]]
class = "pump"
hysteresis = 2.5
weights = { silence = 1, gaps = 2, response = 3, recurrence = 4, satisfaction = 5.5 }
escalate = { degraded = "none", critical = "none" }
bands = { healthy = 70, critical = 70 }
)");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  const auto& p = profiles.profiles.at(0);
  DOUBLES_EQUAL(2.5, p.hysteresis, 0);
  DOUBLES_EQUAL(1, p.weights.silence, 0);
  DOUBLES_EQUAL(2, p.weights.gaps, 0);
  DOUBLES_EQUAL(3, p.weights.response, 0);
  DOUBLES_EQUAL(4, p.weights.recurrence, 0);
  DOUBLES_EQUAL(5.5, p.weights.satisfaction, 0);
  CHECK(p.on_degraded == Escalation::kNone);
  CHECK(p.on_critical == Escalation::kNone);
  DOUBLES_EQUAL(70, p.healthy_band, 0);
  DOUBLES_EQUAL(70, p.critical_band, 0);
}

TEST(ProfilesLoad, EmptyFileAndFileWithoutProfilesAreValid) {
  for (const char* text : {"", "# nothing here yet\n"}) {
    auto profiles = load(text);
    CHECK_TEXT(errors.empty(), joined(errors).c_str());
    CHECK_TRUE(profiles.profiles.empty());
    CHECK_TRUE(profiles.class_names().empty());
  }
}

TEST(ProfilesLoad, FindAndClassNamesKeepFileOrder) {
  auto profiles = load("[[profile]]\nclass = \"pump\"\n[[profile]]\nclass = \"chiller\"\n");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  const auto names = profiles.class_names();
  CHECK_EQUAL(2U, names.size());
  STRCMP_EQUAL("pump", names[0].c_str());
  STRCMP_EQUAL("chiller", names[1].c_str());
  POINTERS_EQUAL(&profiles.profiles[1], profiles.find("chiller"));
  CHECK_EQUAL(3, profiles.find("chiller")->line);
  POINTERS_EQUAL(nullptr, profiles.find("meter"));
}

TEST(ProfilesLoad, UnknownKeysAnywhereNameTheirLine) {
  load(R"(colour = "red"
[[profile]]
class = "chiller"
expected_intervall = "10s"
bands = { healthy = 80, warning = 60 }
escalate = { offline = "alert" }
weights = { silence = 10, noise = 5 }
[[profile.rule]]
name = "overheat"
when = "avg(temp_c, 1m) > 8"
hold = "30s"
)");
  CHECK_TEXT(has_error(errors, "p.toml:1:colour: unknown key"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "p.toml:4:profile[chiller].expected_intervall: unknown key"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "p.toml:5:profile[chiller].bands.warning: unknown key"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "p.toml:6:profile[chiller].escalate.offline: unknown key"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "p.toml:7:profile[chiller].weights.noise: unknown key"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "p.toml:11:profile[chiller].rule[overheat].hold: unknown key"), joined(errors).c_str());
  CHECK_EQUAL(6U, errors.size());
}

TEST(ProfilesLoad, ProfileAndRuleMustBeArraysOfTables) {
  expect_one_error("[profile]\nclass = \"chiller\"\n", "p.toml:1:profile: expected [[profile]] tables, found a table");
  expect_one_error("[[profile]]\nclass = \"chiller\"\nrule = \"overheat\"\n",
                   "p.toml:3:profile[chiller].rule: expected [[profile.rule]] tables, found a string");
  expect_one_error("[[profile]]\nclass = \"chiller\"\nbands = 80\n",
                   "p.toml:3:profile[chiller].bands: expected a table, found an integer");
}

TEST(ProfilesLoad, BadDurationsAreNamed) {
  expect_one_error("[[profile]]\nclass = \"c\"\nexpected_interval = \"10 seconds\"\n",
                   "p.toml:3:profile[c].expected_interval: bad duration \"10 seconds\"");
  expect_one_error("[[profile]]\nclass = \"c\"\noffline_after = \"0s\"\n",
                   "p.toml:3:profile[c].offline_after: duration must be greater than zero");
  expect_one_error("[[profile]]\nclass = \"c\"\nexpected_interval = 10\n",
                   "p.toml:3:profile[c].expected_interval: expected a string (duration), found an integer");
  expect_one_error(
      "[[profile]]\nclass = \"c\"\n[[profile.rule]]\nname = \"r\"\nwhen = \"avg(t, 1m) > 1\"\nfor = \"1x\"\n",
      "p.toml:6:profile[c].rule[r].for: bad duration \"1x\"");
}

TEST(ProfilesLoad, OfflineAfterShorterThanExpectedIntervalIsRefused) {
  expect_one_error("[[profile]]\nclass = \"c\"\nexpected_interval = \"1m\"\noffline_after = \"30s\"\n",
                   "p.toml:4:profile[c].offline_after: 30s is shorter than expected_interval (1m)");
}

TEST(ProfilesLoad, BandsMustBeOrderedWithinZeroToHundred) {
  expect_one_error("[[profile]]\nclass = \"c\"\nbands = { healthy = 40, critical = 60 }\n",
                   "p.toml:3:profile[c].bands: critical (60) is above healthy (40)");
  // A partial table is checked against the other band's default (critical 50).
  expect_one_error("[[profile]]\nclass = \"c\"\nbands = { healthy = 40 }\n",
                   "p.toml:3:profile[c].bands: critical (50) is above healthy (40)");
  expect_one_error("[[profile]]\nclass = \"c\"\nbands = { healthy = 120 }\n",
                   "p.toml:3:profile[c].bands.healthy: 120 is not between 0 and 100");
  expect_one_error("[[profile]]\nclass = \"c\"\nbands = { critical = -1.5 }\n",
                   "p.toml:3:profile[c].bands.critical: -1.5 is not between 0 and 100");
  expect_one_error("[[profile]]\nclass = \"c\"\nbands = { critical = \"50\" }\n",
                   "p.toml:3:profile[c].bands.critical: expected a number, found a string");
}

TEST(ProfilesLoad, NumbersOutOfRangeAreRefused) {
  expect_one_error("[[profile]]\nclass = \"c\"\nhysteresis = 101\n",
                   "p.toml:3:profile[c].hysteresis: 101 is not between 0 and 100");
  expect_one_error("[[profile]]\nclass = \"c\"\nweights = { gaps = nan }\n",
                   "p.toml:3:profile[c].weights.gaps: nan is not between 0 and 100");
  expect_one_error(
      "[[profile]]\nclass = \"c\"\n[[profile.rule]]\nname = \"r\"\nwhen = \"avg(t, 1m) > 1\"\npenalty = -5\n",
      "p.toml:6:profile[c].rule[r].penalty: -5 is not between 0 and 100");
}

TEST(ProfilesLoad, EscalationMustBeAKnownAction) {
  expect_one_error("[[profile]]\nclass = \"c\"\nescalate = { critical = \"page\" }\n",
                   "p.toml:3:profile[c].escalate.critical: \"page\" is not one of "
                   "none|alert|service_request|command:NAME");
  expect_one_error("[[profile]]\nclass = \"c\"\nescalate = { degraded = true }\n",
                   "p.toml:3:profile[c].escalate.degraded: expected a string (none, alert, service_request or "
                   "command:NAME), found a boolean");
  expect_one_error("[[profile]]\nclass = \"c\"\nescalate = { critical = \"command:re boot\" }\n",
                   "p.toml:3:profile[c].escalate.critical: command name \"re boot\" has character 0x20");
  expect_one_error("[[profile]]\nclass = \"c\"\nescalate = { critical = \"command\" }\n",
                   "p.toml:3:profile[c].escalate.critical: \"command\" is not one of");
}

TEST(ProfilesLoad, CommandEscalationDwellAndKpiTargets) {
  const auto p = xrm::health::load_profiles_string(
      "[[profile]]\nclass = \"c\"\nexpected_interval = \"30s\"\ndwell = \"5s\"\n"
      "escalate = { degraded = \"command:defrost\", critical = \"service_request\" }\n"
      "kpi = { gaps_full = 10, response_target = \"2s\", recurrence_window = \"14d\", satisfaction_min = 8, "
      "sla = \"24h\", period = \"90d\" }\n",
      "p.toml", errors);
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  const auto& c = p.profiles.at(0);
  CHECK(c.on_degraded == Escalation::kCommand);
  STRCMP_EQUAL("defrost", c.degraded_command.c_str());
  CHECK(c.on_critical == Escalation::kServiceRequest);
  CHECK(c.dwell == 5s);
  CHECK(c.kpi.gaps_window == 300s);  // 10 x expected_interval
  DOUBLES_EQUAL(10, c.kpi.gaps_full, 1e-9);
  CHECK(c.kpi.response_target == 2s);
  CHECK(c.kpi.recurrence_window == std::chrono::hours(14 * 24));
  DOUBLES_EQUAL(8, c.kpi.satisfaction_min, 1e-9);
  CHECK(c.kpi.sla == 24h);
  CHECK(c.kpi.period == std::chrono::hours(90 * 24));
  // Defaults: dwell 30s, gaps window at least 1m.
  const auto d = xrm::health::load_profiles_string("[[profile]]\nclass = \"d\"\nexpected_interval = \"1s\"\n",
                                                   "p.toml", errors);
  CHECK(d.profiles.at(0).dwell == 30s);
  CHECK(d.profiles.at(0).kpi.gaps_window == 60s);
  expect_one_error("[[profile]]\nclass = \"c\"\nkpi = { gaps_full = 0 }\n",
                   "p.toml:1:profile[c].kpi.gaps_full: must be greater than 0");
  expect_one_error("[[profile]]\nclass = \"c\"\nkpi = { sla = \"0s\" }\n",
                   "p.toml:3:profile[c].kpi.sla: duration must be greater than zero");
  expect_one_error("[[profile]]\nclass = \"c\"\nkpi = { sla_hours = 3 }\n", "p.toml:3:profile[c].kpi.sla_hours: unknown key");
}

TEST(ProfilesLoad, DuplicateClassNamesBothLines) {
  expect_one_error(
      "[[profile]]\nclass = \"chiller\"\n[[profile]]\nclass = \"pump\"\n[[profile]]\nclass = \"chiller\"\n",
      "p.toml:6:profile[chiller].class: duplicate class \"chiller\"; first defined at line 2");
}

TEST(ProfilesLoad, ClassIsARequiredId) {
  expect_one_error("[[profile]]\nclass = \"cold room\"\n",
                   "p.toml:2:profile[#1].class: id \"cold room\" has character 0x20");
  expect_one_error("[[profile]]\nclass = \"a\"\n[[profile]]\nexpected_interval = \"1m\"\n",
                   "p.toml:3:profile[#2].class: required key is missing");
  expect_one_error("[[profile]]\nclass = 7\n", "p.toml:2:profile[#1].class: expected a string (id), found an integer");
}

TEST(ProfilesLoad, RuleNamesAreRequiredUniqueIds) {
  const std::string head = "[[profile]]\nclass = \"c\"\n";
  expect_one_error(head +
                       "[[profile.rule]]\nname = \"hot\"\nwhen = \"avg(t, 1m) > 1\"\n"
                       "[[profile.rule]]\nname = \"hot\"\nwhen = \"max(t, 1m) > 2\"\n",
                   "p.toml:7:profile[c].rule[hot].name: duplicate name \"hot\"; first defined at line 4");
  expect_one_error(head + "[[profile.rule]]\nwhen = \"avg(t, 1m) > 1\"\n",
                   "p.toml:3:profile[c].rule[#1].name: required key is missing");
  expect_one_error(head + "[[profile.rule]]\nname = \"too hot\"\nwhen = \"avg(t, 1m) > 1\"\n",
                   "p.toml:4:profile[c].rule[#1].name: id \"too hot\"");
  expect_one_error(head + "[[profile.rule]]\nname = \"hot\"\n",
                   "p.toml:3:profile[c].rule[hot].when: required key is missing");
}

TEST(ProfilesLoad, SameRuleNameInTwoProfilesIsFine) {
  load(
      "[[profile]]\nclass = \"a\"\n[[profile.rule]]\nname = \"hot\"\nwhen = \"avg(t, 1m) > 1\"\n"
      "[[profile]]\nclass = \"b\"\n[[profile.rule]]\nname = \"hot\"\nwhen = \"avg(t, 1m) > 1\"\n");
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
}

TEST(ProfilesLoad, MalformedWhenNamesRuleAndColumn) {
  const std::string head = "[[profile]]\nclass = \"chiller\"\n[[profile.rule]]\nname = \"overheat\"\n";
  expect_one_error(head + "when = \"agv(temp_c, 1m) > 8\"\n",
                   "p.toml:5:profile[chiller].rule[overheat].when: column 1: unknown function \"agv\"");
  expect_one_error(head + "when = \"avg(temp_c, 1m) > hot\"\n",
                   "p.toml:5:profile[chiller].rule[overheat].when: column 19: \"hot\" is not a number");
  expect_one_error(head + "when = 8\n",
                   "p.toml:5:profile[chiller].rule[overheat].when: expected a string (FUNC(METRIC, WINDOW) OP NUMBER)");
}

// The example of docs/rules.md, "Errors".
TEST(ProfilesLoad, SeveralErrorsAreCollectedInLineOrder) {
  load(R"([[profile]]
class = "chiller"
offline_after = "soon"
bands = { healthy = 80, critical = 500 }
[[profile.rule]]
name = "overheat"
when = "avg(temp_c 1m) > 8"
[[profile]]
class = "chiller"
escalate = { critical = "panic" }
[[profile]]
class = "pump"
wheights = { silence = 10 }
)");
  const char* want[] = {
      ("p.toml:3:profile[chiller].offline_after: bad duration \"soon\"; expected NUMBER UNIT parts such as \"30s\" or "
       "\"1h30m\""),
      "p.toml:4:profile[chiller].bands.critical: 500 is not between 0 and 100",
      "p.toml:7:profile[chiller].rule[overheat].when: column 12: expected \",\" after the metric name, found \"1\"",
      "p.toml:9:profile[chiller].class: duplicate class \"chiller\"; first defined at line 2",
      "p.toml:10:profile[chiller].escalate.critical: \"panic\" is not one of none|alert|service_request|command:NAME",
      "p.toml:13:profile[pump].wheights: unknown key",
  };
  CHECK_EQUAL_TEXT(std::size(want), errors.size(), joined(errors).c_str());
  for (std::size_t i = 0; i < std::size(want); ++i) STRCMP_EQUAL(want[i], errors[i].to_string().c_str());
}

TEST(ProfilesLoad, OneMistakeGivesOneError) {
  // A refused value is not cross-checked: no "shorter than expected_interval" on top.
  expect_one_error("[[profile]]\nclass = \"c\"\nexpected_interval = \"2 m\"\noffline_after = \"30s\"\n",
                   "p.toml:3:profile[c].expected_interval: bad duration");
  expect_one_error("[[profile]]\nclass = \"c\"\nbands = { healthy = \"high\", critical = 60 }\n",
                   "p.toml:3:profile[c].bands.healthy: expected a number, found a string");
}

TEST(ProfilesLoad, TomlSyntaxErrorHasItsLine) {
  auto profiles = load("[[profile]]\nclass = \"chiller\"\nbands = { healthy = 80\n");
  CHECK_EQUAL_TEXT(1U, errors.size(), joined(errors).c_str());
  CHECK_EQUAL(3, errors[0].line);
  STRCMP_EQUAL("p.toml", errors[0].file.c_str());
  CHECK_TRUE(profiles.profiles.empty());
}

TEST(ProfilesLoad, MissingOrUnreadableFileNamesThePath) {
  auto profiles = xrm::health::load_profiles_file("/nonexistent/profiles.toml", errors);
  CHECK_EQUAL(1U, errors.size());
  STRCMP_EQUAL("/nonexistent/profiles.toml: cannot read: No such file or directory", errors[0].to_string().c_str());
  STRCMP_EQUAL("/nonexistent/profiles.toml", profiles.source_file.c_str());

  const std::string dir = std::filesystem::temp_directory_path().string();
  xrm::health::load_profiles_file(dir, errors);
  CHECK_EQUAL(1U, errors.size());
  STRCMP_EQUAL((dir + ": cannot read: Is a directory").c_str(), errors[0].to_string().c_str());
}

TEST(ProfilesLoad, DocsExampleLoadsCleanly) {
  auto profiles = xrm::health::load_profiles_file(XRM_DOCS_PROFILES_EXAMPLE, errors);
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  CHECK_EQUAL(3U, profiles.profiles.size());
  for (const auto* name : {"chiller", "meter", "pump"}) CHECK_TEXT(profiles.find(name) != nullptr, name);
  CHECK_FALSE(profiles.find("chiller")->rules.empty());
}

TEST_GROUP(ConditionParse){};

TEST(ConditionParse, EveryFunction) {
  const std::pair<const char*, RuleFunc> cases[] = {{"avg", RuleFunc::kAvg},     {"min", RuleFunc::kMin},
                                                    {"max", RuleFunc::kMax},     {"last", RuleFunc::kLast},
                                                    {"count", RuleFunc::kCount}, {"rate", RuleFunc::kRate}};
  for (const auto& [name, func] : cases) {
    auto c = xrm::health::parse_condition(std::string(name) + "(m, 1m) > 1");
    CHECK_TEXT(c.is_ok(), c.status().to_string().c_str());
    CHECK_TEXT(c->func == func, name);
    STRCMP_EQUAL(name, std::string(xrm::health::to_string(func)).c_str());
  }
}

TEST(ConditionParse, EveryOperator) {
  const std::pair<const char*, RuleOp> cases[] = {{">", RuleOp::kGt},  {">=", RuleOp::kGe}, {"<", RuleOp::kLt},
                                                  {"<=", RuleOp::kLe}, {"==", RuleOp::kEq}, {"!=", RuleOp::kNe}};
  for (const auto& [spelling, op] : cases) {
    auto c = xrm::health::parse_condition(std::string("avg(m, 1m) ") + spelling + " 1");
    CHECK_TEXT(c.is_ok(), c.status().to_string().c_str());
    CHECK_TEXT(c->op == op, spelling);
    STRCMP_EQUAL(spelling, std::string(xrm::health::to_string(op)).c_str());
  }
}

TEST(ConditionParse, EscalationSpellings) {
  STRCMP_EQUAL("none", std::string(xrm::health::to_string(Escalation::kNone)).c_str());
  STRCMP_EQUAL("alert", std::string(xrm::health::to_string(Escalation::kAlert)).c_str());
  STRCMP_EQUAL("service_request", std::string(xrm::health::to_string(Escalation::kServiceRequest)).c_str());
}

TEST(ConditionParse, WhitespaceIsOptionalAndTolerated) {
  for (const char* text : {"max(pump.p-1_x,1h30m)>=-2.5e3", "  max ( pump.p-1_x , 1h30m ) >= -2.5e3  ",
                           "max(\tpump.p-1_x,\t1h30m)\t>=\t-2.5e3"}) {
    auto c = xrm::health::parse_condition(text);
    CHECK_TEXT(c.is_ok(), (std::string(text) + ": " + c.status().to_string()).c_str());
    CHECK(c->func == RuleFunc::kMax);
    STRCMP_EQUAL("pump.p-1_x", c->metric.c_str());
    CHECK(c->window == 90min);
    CHECK(c->op == RuleOp::kGe);
    DOUBLES_EQUAL(-2500, c->threshold, 0);
  }
}

TEST(ConditionParse, NumberSpellings) {
  const std::pair<const char*, double> cases[] = {{"8", 8},    {"-8", -8},    {"8.25", 8.25},
                                                  {".5", 0.5}, {"1e3", 1000}, {"-1.5E-2", -0.015}};
  for (const auto& [spelling, value] : cases) {
    auto c = xrm::health::parse_condition(std::string("last(m, 1s) == ") + spelling);
    CHECK_TEXT(c.is_ok(), spelling);
    DOUBLES_EQUAL(value, c->threshold, 1e-12);
  }
}

TEST(ConditionParse, MetricNameUpToSixtyFourCharacters) {
  const std::string longest(64, 'm');
  auto c = xrm::health::parse_condition("avg(" + longest + ", 1m) > 1");
  CHECK_TEXT(c.is_ok(), c.status().to_string().c_str());
  STRCMP_EQUAL(longest.c_str(), c->metric.c_str());
  auto too_long = xrm::health::parse_condition("avg(" + longest + "m, 1m) > 1");
  CHECK_FALSE(too_long.is_ok());
  STRCMP_EQUAL("column 5: metric name is longer than 64 characters", too_long.status().message().c_str());
}

TEST(ConditionParse, MalformedShapesSayWhatAndWhere) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty condition; expected FUNC(METRIC, WINDOW) OP NUMBER"},
      {"   ", "empty condition; expected FUNC(METRIC, WINDOW) OP NUMBER"},
      {"agv(temp_c, 1m) > 8", "column 1: unknown function \"agv\"; expected avg min max last count rate"},
      {"AVG(temp_c, 1m) > 8", "column 1: unknown function \"AVG\""},
      {"(temp_c, 1m) > 8", "column 1: expected a function (avg min max last count rate), found \"(\""},
      {"avg temp_c, 1m) > 8", "column 5: expected \"(\" after avg, found \"t\""},
      {"avg(, 1m) > 8", "column 5: expected a metric name (A-Z a-z 0-9 _ . -), found \",\""},
      {"avg(temp c, 1m) > 8", "column 10: expected \",\" after the metric name, found \"c\""},
      {"avg(temp_c) > 8", "column 11: expected \",\" after the metric name, found \")\""},
      {"avg(temp_c, ) > 8", "column 13: expected a window such as 1m, found \")\""},
      {"avg(temp_c, 1x) > 8", "column 13: bad window: bad duration \"1x\""},
      {"avg(temp_c, 60) > 8", "column 13: bad window: bad duration \"60\""},
      {"avg(temp_c, 0s) > 8", "column 13: window must be greater than zero"},
      {"avg(temp_c, 1m > 8", "column 16: expected \")\" after the window, found \">\""},
      {"avg(temp_c, 1m", "column 15: expected \")\" after the window, found the end"},
      {"avg(temp_c, 1m) 8", "column 17: expected an operator (> >= < <= == !=), found \"8\""},
      {"avg(temp_c, 1m) => 8", "column 17: unknown operator \"=>\"; expected > >= < <= == !="},
      {"avg(temp_c, 1m) = 8", "column 17: unknown operator \"=\""},
      {"avg(temp_c, 1m) <> 8", "column 17: unknown operator \"<>\""},
      {"avg(temp_c, 1m) >", "column 18: expected a number after >, found the end"},
      {"avg(temp_c, 1m) > hot", "column 19: \"hot\" is not a number"},
      {"avg(temp_c, 1m) > 8.5.1", "column 19: \"8.5.1\" is not a number"},
      {"avg(temp_c, 1m) > 0x10", "column 19: \"0x10\" is not a number"},
      {"avg(temp_c, 1m) > nan", "column 19: \"nan\" is not a finite number"},
      {"avg(temp_c, 1m) > inf", "column 19: \"inf\" is not a finite number"},
      {"avg(temp_c, 1m) > -infinity", "column 19: \"-infinity\" is not a finite number"},
      {"avg(temp_c, 1m) > 1e999", "column 19: \"1e999\" is not a finite number"},
      {"avg(temp_c, 1m) > 8 and more", "column 21: unexpected \"and more\" after the number"},
      {"avg(temp_c, 1m) > 8)", "column 20: unexpected \")\" after the number"},
  };
  for (const auto& [text, want] : cases) {
    auto c = xrm::health::parse_condition(text);
    CHECK_FALSE_TEXT(c.is_ok(), text);
    const std::string got = c.status().message();
    CHECK_TEXT(got.rfind(want, 0) == 0, (std::string(text) + "\n  want: " + want + "\n  got:  " + got).c_str());
  }
}
