#include <CppUTest/TestHarness.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "xrm/devsim/scenario.hpp"

using xrm::devsim::BehaviourKind;
using xrm::devsim::Scenario;
using xrm::devsim::ScenarioError;

namespace {

std::string joined(const std::vector<ScenarioError>& errors) {
  std::string s;
  for (const auto& e : errors) s += e.to_string() + "\n";
  return s;
}

// True when some error reads exactly `prefix...` (file:line:key: start of the message).
bool has_error(const std::vector<ScenarioError>& errors, const std::string& prefix) {
  for (const auto& e : errors) {
    if (e.to_string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

Scenario load(const std::string& text, std::vector<ScenarioError>& errors) {
  return xrm::devsim::load_scenario_string(text, "s.toml", errors);
}

constexpr const char* kGood = R"(seed = 42
duration = "2m"

[[group]]
devices = ["chiller-1", "chiller-2"]
class = "chiller"
interval = "5s"
metrics = { temp_c = { base = 4.5, noise = 0.3 }, power_kw = 12 }
owner = "acme"
site = "plant-a"
technician = "tech-ann"
supplier = "coolco"
model = "CX-200"

[[group.behaviour]]
kind = "drift"
metric = "temp_c"
target = 9.5
after = "10s"
over = "20s"

[[group.behaviour]]
kind = "fault"
at = "30s"
code = "E42"
request_after = "5s"

[[group.behaviour]]
kind = "service"
at = "50s"
takes = "10s"
score = 5

[[group.behaviour]]
kind = "recurring_fault"
after = "15s"

[[group]]
count = 3
prefix = "meter-"
class = "meter"
metrics = { kwh = { base = 100 } }
behaviour = [ { kind = "flaky", share = 0.25 }, { kind = "silent", after = "1m", for = "30s" }, { kind = "normal", at = "1m40s" } ]
)";

}  // namespace

TEST_GROUP(DevsimScenario){};

TEST(DevsimScenario, GoodFileIsReadWithEveryField) {
  std::vector<ScenarioError> errors;
  const Scenario s = load(kGood, errors);
  CHECK_TRUE_TEXT(errors.empty(), joined(errors).c_str());
  CHECK_EQUAL(42U, s.seed);
  CHECK_EQUAL(120'000, s.duration_ms);
  LONGS_EQUAL(2, s.groups.size());
  CHECK_EQUAL(5U, s.device_count());

  const auto& chillers = s.groups[0];
  LONGS_EQUAL(4, chillers.line);
  STRCMP_EQUAL("chiller-2", chillers.devices[1].c_str());
  STRCMP_EQUAL("chiller", chillers.device_class.c_str());
  CHECK_EQUAL(5'000, chillers.interval_ms);
  LONGS_EQUAL(2, chillers.metrics.size());
  STRCMP_EQUAL("temp_c", chillers.metrics[0].name.c_str());
  DOUBLES_EQUAL(4.5, chillers.metrics[0].base, 0);
  DOUBLES_EQUAL(0.3, chillers.metrics[0].noise, 0);
  STRCMP_EQUAL("power_kw", chillers.metrics[1].name.c_str());
  DOUBLES_EQUAL(12, chillers.metrics[1].base, 0);
  DOUBLES_EQUAL(0, chillers.metrics[1].noise, 0);
  STRCMP_EQUAL("acme", chillers.owner.c_str());
  STRCMP_EQUAL("plant-a", chillers.site.c_str());
  STRCMP_EQUAL("tech-ann", chillers.technician.c_str());
  STRCMP_EQUAL("coolco", chillers.supplier.c_str());
  STRCMP_EQUAL("CX-200", chillers.model.c_str());

  LONGS_EQUAL(4, chillers.behaviours.size());
  const auto& drift = chillers.behaviours[0];
  CHECK(drift.kind == BehaviourKind::kDrift);
  LONGS_EQUAL(15, drift.line);
  STRCMP_EQUAL("temp_c", drift.metric.c_str());
  DOUBLES_EQUAL(9.5, drift.target, 0);
  CHECK_EQUAL(10'000, drift.after_ms);
  CHECK_EQUAL(20'000, drift.over_ms);
  const auto& fault = chillers.behaviours[1];
  CHECK(fault.kind == BehaviourKind::kFault);
  CHECK_EQUAL(30'000, fault.at_ms);
  STRCMP_EQUAL("E42", fault.code.c_str());
  CHECK_EQUAL(5'000, fault.request_after_ms);
  const auto& service = chillers.behaviours[2];
  CHECK(service.kind == BehaviourKind::kService);
  CHECK_EQUAL(10'000, service.takes_ms);
  STRCMP_EQUAL("tech-ann", service.technician.c_str());  // the group's, by default
  CHECK_TRUE(service.score.has_value());
  DOUBLES_EQUAL(5, *service.score, 0);
  const auto& recurring = chillers.behaviours[3];
  CHECK(recurring.kind == BehaviourKind::kRecurringFault);
  STRCMP_EQUAL("E42", recurring.code.c_str());  // the group's fault code, by default
  CHECK_EQUAL(-1, recurring.request_after_ms);
  LONGS_EQUAL(1, recurring.times);

  const auto& meters = s.groups[1];
  LONGS_EQUAL(3, meters.devices.size());
  STRCMP_EQUAL("meter-1", meters.devices[0].c_str());
  STRCMP_EQUAL("meter-3", meters.devices[2].c_str());
  CHECK_EQUAL(10'000, meters.interval_ms);  // default
  LONGS_EQUAL(3, meters.behaviours.size());
  CHECK(meters.behaviours[0].kind == BehaviourKind::kFlaky);
  DOUBLES_EQUAL(0.25, meters.behaviours[0].share, 0);
  CHECK(meters.behaviours[1].kind == BehaviourKind::kSilent);
  CHECK_EQUAL(60'000, meters.behaviours[1].after_ms);
  CHECK_EQUAL(30'000, meters.behaviours[1].for_ms);
  CHECK(meters.behaviours[2].kind == BehaviourKind::kNormal);
  CHECK_EQUAL(100'000, meters.behaviours[2].at_ms);
}

TEST(DevsimScenario, DefaultsWhenLeftOut) {
  std::vector<ScenarioError> errors;
  const Scenario s = load("[[group]]\ncount = 2\nclass = \"pump\"\n", errors);
  CHECK_TRUE_TEXT(errors.empty(), joined(errors).c_str());
  CHECK_EQUAL(1U, s.seed);
  CHECK_EQUAL(60'000, s.duration_ms);
  STRCMP_EQUAL("pump-1", s.groups[0].devices[0].c_str());  // prefix defaults to CLASS-
  CHECK_EQUAL(10'000, s.groups[0].interval_ms);
  CHECK_TRUE(s.groups[0].metrics.empty());
}

TEST(DevsimScenario, EveryProblemIsReportedWithFileLineAndKey) {
  std::vector<ScenarioError> errors;
  const Scenario s = load(R"(seed = -3
duration = "10 parsecs"
colour = "blue"

[[group]]
devices = ["ok-1", "bad id"]
count = 2
class = "chiller"
interval = "0s"
metrics = { temp_c = { base = "warm", noise = -1 }, x = { noise = 1 } }
hue = 3

[[group.behaviour]]
kind = "drift"
metric = "pressure"
target = 3

[[group.behaviour]]
kind = "flaky"
share = 1.5
at = "3s"

[[group.behaviour]]
kind = "teleport"

[[group.behaviour]]
kind = "fault"
at = "3s"

[[group.behaviour]]
kind = "recurring_fault"
after = "1s"
times = 0

[[group]]
devices = ["ok-1"]
)",
                          errors);
  const std::string all = joined(errors);
  CHECK_TRUE_TEXT(s.groups.empty(), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:1:seed: -3 is negative"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:2:duration: bad duration \"10 parsecs\""), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:3:colour: unknown key"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:6:group[1].devices: device id \"bad id\""), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:7:group[1].count: give either devices or count"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:9:group[1].interval: duration must be greater than zero"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:10:group[1].metrics.temp_c.base: expected a number, found a string"),
                  all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:10:group[1].metrics.temp_c.noise: -1 is negative"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:10:group[1].metrics.x.base: required key is missing"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:11:group[1].hue: unknown key"), all.c_str());
  CHECK_TRUE_TEXT(
      has_error(errors, "s.toml:15:group[1].behaviour[1].metric: \"pressure\" is not one of the group's metrics"),
      all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:20:group[1].behaviour[2].share: 1.5 is not between 0 and 1"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:21:group[1].behaviour[2].at: unknown key for kind flaky"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:24:group[1].behaviour[3].kind: \"teleport\" is not one of"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:26:group[1].behaviour[4].code: required key is missing"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:33:group[1].behaviour[5].times: 0 is not between 1 and 1000"), all.c_str());
  // the failed fault is not there to lend its code to the recurring fault
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:30:group[1].behaviour[5].code: required key is missing"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:35:group[2].class: required key is missing"), all.c_str());
  CHECK_TRUE_TEXT(has_error(errors, "s.toml:36:group[2].devices: device \"ok-1\" is already defined at line 6"),
                  all.c_str());
  // Sorted by line.
  for (std::size_t i = 1; i < errors.size(); ++i) CHECK_TRUE_TEXT(errors[i - 1].line <= errors[i].line, all.c_str());
}

TEST(DevsimScenario, SyntaxErrorNamesItsLine) {
  std::vector<ScenarioError> errors;
  load("seed = 1\n[[group]\n", errors);
  LONGS_EQUAL(1, errors.size());
  CHECK_TRUE_TEXT(errors[0].to_string().rfind("s.toml:2: ", 0) == 0, errors[0].to_string().c_str());
}

TEST(DevsimScenario, NoGroupsIsAnError) {
  std::vector<ScenarioError> errors;
  load("seed = 1\n", errors);
  LONGS_EQUAL(1, errors.size());
  STRCMP_EQUAL("s.toml:group: no [[group]] tables; a scenario needs at least one device",
               errors[0].to_string().c_str());
}

TEST(DevsimScenario, MissingFileIsReported) {
  std::vector<ScenarioError> errors;
  xrm::devsim::load_scenario_file("/nonexistent/devsim.toml", errors);
  LONGS_EQUAL(1, errors.size());
  STRCMP_EQUAL("/nonexistent/devsim.toml: cannot read: No such file or directory", errors[0].to_string().c_str());
}

TEST(DevsimScenario, DemoScenarioLoads) {
  std::vector<ScenarioError> errors;
  const Scenario s = xrm::devsim::load_scenario_file(XRM_DEVSIM_SCENARIOS_DIR "/demo.toml", errors);
  CHECK_TRUE_TEXT(errors.empty(), joined(errors).c_str());
  CHECK_TRUE(s.device_count() >= 15 && s.device_count() <= 30);
  CHECK_TRUE(s.duration_ms <= 90'000);
}

TEST(DevsimScenario, DocsExampleLoads) {
  std::ifstream in(XRM_DEVSIM_SCENARIOS_DIR "/../../../docs/devsim.md");
  CHECK_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto start = doc.find("```toml\n");
  CHECK_TRUE(start != std::string::npos);
  const auto end = doc.find("```", start + 8);
  std::vector<ScenarioError> errors;
  const Scenario s = load(doc.substr(start + 8, end - start - 8), errors);
  CHECK_TRUE_TEXT(errors.empty(), joined(errors).c_str());
  CHECK_EQUAL(5U, s.device_count());
  LONGS_EQUAL(4, s.groups[0].behaviours.size());
  LONGS_EQUAL(1, s.groups[1].behaviours.size());
}
