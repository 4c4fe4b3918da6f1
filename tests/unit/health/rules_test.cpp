#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "xrm/health/proto/rules_state.pb.h"
#include "xrm/health/rules.hpp"

using namespace std::chrono_literals;
using xrm::health::Profile;
using xrm::health::Rule;
using xrm::health::RuleSet;
using xrm::health::RuleState;
using xrm::health::RuleStatus;
using xrm::health::v1::RuleStateData;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kMin = 60 * kSec;

Rule make_rule(const std::string& name, const std::string& when, std::chrono::milliseconds hold = 0ms) {
  Rule r;
  r.name = name;
  r.when = when;
  auto c = xrm::health::parse_condition(when);
  CHECK_TEXT(c.is_ok(), when.c_str());
  r.condition = *c;
  r.hold = hold;
  return r;
}

Profile make_profile(std::vector<Rule> rules) {
  Profile p;
  p.class_name = "chiller";
  p.rules = std::move(rules);
  return p;
}

// A profile, its RuleSet and one device's state, in the order they must be built.
struct Device {
  explicit Device(std::vector<Rule> rules) : profile(make_profile(std::move(rules))), set(profile), state(set) {}
  void add(std::string_view metric, std::int64_t at, double v) { state.add(set, metric, at, v); }
  void evaluate(std::int64_t now) { state.evaluate(set, now); }
  const RuleStatus& status(std::size_t i) const { return state.status().at(i); }
  std::string explain(std::size_t i, std::int64_t now) const { return state.explain(set, i, now); }

  Profile profile;
  RuleSet set;
  RuleState state;
};

void check_value(double want, const std::optional<double>& got) {
  CHECK_TRUE(got.has_value());
  DOUBLES_EQUAL(want, got.value_or(-12345), 1e-12);
}

}  // namespace

TEST_GROUP(RuleSet){};

TEST(RuleSet, ReadsTheMetricsOfItsRules) {
  Device d({make_rule("overheat", "avg(temp_c, 1m) > 8"), make_rule("faults", "count(event.fault, 1h) >= 3")});
  CHECK_TRUE(d.set.reads("temp_c"));
  CHECK_TRUE(d.set.reads("event.fault"));
  CHECK_FALSE(d.set.reads("humidity"));
  CHECK_FALSE(d.set.reads("temp"));
  CHECK_EQUAL(2U, d.set.size());
  STRCMP_EQUAL("faults", d.set.rule(1).name.c_str());
}

TEST_GROUP(RuleState){};

TEST(RuleState, EachOperatorIsTrueOrFalseAsItSays) {
  struct Case {
    const char* op;
    bool below, equal, above;  // the condition for 4, 5 and 6 against 5
  };
  const Case cases[] = {{">", false, false, true}, {">=", false, true, true},  {"<", true, false, false},
                        {"<=", true, true, false}, {"==", false, true, false}, {"!=", true, false, true}};
  for (const Case& c : cases) {
    Device d({make_rule("r", std::string("last(x, 1m) ") + c.op + " 5")});
    const double values[] = {4, 5, 6};
    const bool want[] = {c.below, c.equal, c.above};
    for (int i = 0; i < 3; ++i) {
      d.add("x", kT0 + i * kSec, values[i]);
      const std::string what = std::string(c.op) + " with " + std::to_string(values[i]);
      CHECK_EQUAL_TEXT(want[i], d.status(0).condition, what.c_str());
      CHECK_EQUAL_TEXT(want[i], d.status(0).counting, what.c_str());  // no `for`: counts at once
    }
  }
}

TEST(RuleState, EqualityIsExact) {
  Device d({make_rule("r", "avg(x, 1m) == 0.15"), make_rule("s", "last(x, 1m) == 0.2")});
  d.add("x", kT0, 0.1);
  d.add("x", kT0, 0.2);
  CHECK_FALSE(d.status(0).condition);  // (0.1 + 0.2) / 2 is 0.15000000000000002
  CHECK_TRUE(d.status(1).condition);
}

TEST(RuleState, NoDataMeansNoValueAndNoCondition) {
  Device d({make_rule("low", "min(p, 1m) < 1.5"), make_rule("quiet", "count(p, 1m) < 1")});
  d.evaluate(kT0);
  CHECK_FALSE(d.status(0).value);
  CHECK_FALSE(d.status(0).condition);
  CHECK_EQUAL(0, d.status(0).holding_since_ms);
  check_value(0, d.status(1).value);  // count is never nullopt
  CHECK_TRUE(d.status(1).counting);
}

TEST(RuleState, ForCountsOnlyAfterTheConditionHeldThatLong) {
  Device d({make_rule("overheat", "avg(temp_c, 1m) > 8", 30s)});
  d.add("temp_c", kT0, 9);
  CHECK_TRUE(d.status(0).condition);
  CHECK_EQUAL(kT0, d.status(0).holding_since_ms);
  CHECK_FALSE(d.status(0).counting);
  d.evaluate(kT0 + 29'999);
  CHECK_FALSE(d.status(0).counting);
  d.evaluate(kT0 + 30'000);
  CHECK_TRUE(d.status(0).counting);
  CHECK_EQUAL(kT0, d.status(0).holding_since_ms);
  // The condition breaks: the timer resets...
  d.add("temp_c", kT0 + 31 * kSec, 0);  // avg 4.5
  CHECK_FALSE(d.status(0).condition);
  CHECK_FALSE(d.status(0).counting);
  CHECK_EQUAL(0, d.status(0).holding_since_ms);
  // ...and starts again when it holds again.
  d.add("temp_c", kT0 + 32 * kSec, 20);  // avg 29 / 3
  CHECK_TRUE(d.status(0).condition);
  CHECK_EQUAL(kT0 + 32 * kSec, d.status(0).holding_since_ms);
  CHECK_FALSE(d.status(0).counting);
  d.evaluate(kT0 + 62 * kSec);
  CHECK_TRUE(d.status(0).counting);
}

TEST(RuleState, ConditionEndsWhenTheWindowAgesOut) {
  Device d({make_rule("overheat", "max(temp_c, 80s) > 8")});
  d.add("temp_c", kT0, 9);  // 80s window: 10s buckets, kT0 starts one
  d.evaluate(kT0 + 89'999);
  CHECK_TRUE(d.status(0).counting);
  d.evaluate(kT0 + 90'000);
  CHECK_FALSE(d.status(0).value);
  CHECK_FALSE(d.status(0).condition);
  CHECK_EQUAL(0, d.status(0).holding_since_ms);
}

TEST(RuleState, EventMetricsCountEvents) {
  Device d({make_rule("faults", "count(event.fault, 1h) >= 3")});
  d.add("event.fault", kT0, 1);
  d.add("event.fault", kT0 + 10 * kMin, 1);
  CHECK_FALSE(d.status(0).condition);
  d.add("event.fault", kT0 + 20 * kMin, 1);
  check_value(3, d.status(0).value);
  CHECK_TRUE(d.status(0).counting);
  d.evaluate(kT0 + 60 * kMin);  // the first fault counts for at least the hour...
  CHECK_TRUE(d.status(0).counting);
  d.evaluate(kT0 + 60 * kMin + 450 * kSec);  // ...and at most an hour and a bucket (450s)
  check_value(2, d.status(0).value);
  CHECK_FALSE(d.status(0).counting);
}

TEST(RuleState, TwoRulesShareOneWindow) {
  Device d({make_rule("warm", "avg(temp_c, 1m) > 8"), make_rule("peak", "max(temp_c, 1m) >= 10"),
            make_rule("now", "last(temp_c, 5m) > 100")});
  const std::size_t before = d.state.heap_bytes();
  d.add("temp_c", kT0, 6);
  d.add("temp_c", kT0 + kSec, 10);
  check_value(8, d.status(0).value);
  CHECK_FALSE(d.status(0).condition);
  check_value(10, d.status(1).value);
  CHECK_TRUE(d.status(1).condition);
  check_value(10, d.status(2).value);
  // One bucket array for (temp_c, 1m); the `last` window keeps no buckets.
  CHECK_EQUAL(before + (xrm::health::Window::kBuckets + 1) * 40U, d.state.heap_bytes());
}

TEST(RuleState, MetricsNoRuleReadsAreIgnored) {
  Device d({make_rule("warm", "avg(temp_c, 1m) > 8")});
  d.add("temp_c", kT0, 9);
  const std::size_t bytes = d.state.heap_bytes();
  d.add("humidity", kT0 + kSec, 50);
  d.add("temp_c_2", kT0 + kSec, 0);
  CHECK_EQUAL(bytes, d.state.heap_bytes());
  check_value(9, d.status(0).value);
  CHECK_EQUAL(kT0, d.status(0).holding_since_ms);
}

TEST(RuleState, AddReevaluatesOnlyTheRulesOfItsMetric) {
  Device d({make_rule("faults", "count(event.fault, 1h) >= 1"), make_rule("warm", "avg(temp_c, 1m) > 8")});
  d.add("event.fault", kT0, 1);
  CHECK_TRUE(d.status(0).counting);
  d.add("temp_c", kT0 + 3 * 60 * kMin, 9);  // the fault has aged out, but only evaluate() says so
  CHECK_TRUE(d.status(0).counting);
  CHECK_TRUE(d.status(1).counting);
  d.evaluate(kT0 + 3 * 60 * kMin);
  check_value(0, d.status(0).value);
  CHECK_FALSE(d.status(0).counting);
}

TEST(RuleState, ExplainSaysWhatHoldsWithTheNumbers) {
  Device d({make_rule("overheat", "avg(temp_c, 1m) > 8", 30s), make_rule("door", "last(door_open,30s)==1"),
            make_rule("energy", "rate(energy_kwh, 6h) <= 0"), make_rule("low", "min(p, 1m) < 1.5")});
  STRCMP_EQUAL("no temp_c values in the last 1m", d.explain(0, kT0).c_str());
  d.add("temp_c", kT0, 9);
  d.add("temp_c", kT0 + kSec, 9.5);
  STRCMP_EQUAL("avg(temp_c, 1m) = 9.25 > 8 since 12s, counts after 30s", d.explain(0, kT0 + 12 * kSec).c_str());
  STRCMP_EQUAL("avg(temp_c, 1m) = 9.25 > 8 for 42s (for 30s)", d.explain(0, kT0 + 42'700).c_str());
  d.add("temp_c", kT0 + 2 * kSec, 4.25);
  STRCMP_EQUAL("avg(temp_c, 1m) = 7.58333, not > 8", d.explain(0, kT0 + 2 * kSec).c_str());
  d.add("door_open", kT0, 1);
  STRCMP_EQUAL("last(door_open, 30s) = 1 == 1 for 25s", d.explain(1, kT0 + 25 * kSec).c_str());
  d.add("energy_kwh", kT0, 120.5);
  STRCMP_EQUAL("rate(energy_kwh, 6h): needs energy_kwh values at two different times in the last 6h",
               d.explain(2, kT0).c_str());
  // Six digits would print 1.5 next to "< 1.5": the exact value is shown instead.
  d.add("p", kT0, 1.4999999);
  STRCMP_EQUAL("min(p, 1m) = 1.4999999 < 1.5 for 0s", d.explain(3, kT0).c_str());
}

TEST(RuleState, SaveAndRestoreKeepWindowsAndTimers) {
  std::vector<Rule> rules = {
      make_rule("overheat", "avg(temp_c, 1m) > 8", 30s), make_rule("peak", "max(temp_c, 1m) > 9"),
      make_rule("door", "last(door_open, 5m) == 1", 1min), make_rule("energy", "rate(energy_kwh, 1h) > 0.001")};
  Device a(rules);
  for (int i = 0; i < 20; ++i) a.add("temp_c", kT0 + i * 5 * kSec, 8 + (i % 4));
  a.add("door_open", kT0 + 50 * kSec, 1);
  a.add("energy_kwh", kT0, 100);
  a.add("energy_kwh", kT0 + 90 * kSec, 101);
  a.evaluate(kT0 + 100 * kSec);

  RuleStateData saved;
  a.state.save(saved);
  RuleStateData parsed;
  CHECK_TRUE(parsed.ParseFromString(saved.SerializeAsString()));
  Device b(rules);
  b.state.restore(b.set, parsed);
  CHECK_EQUAL(a.status(0).holding_since_ms, b.status(0).holding_since_ms);  // before any evaluate

  for (std::int64_t later : {100 * kSec, 101 * kSec, 130 * kSec, 170 * kSec}) {
    a.evaluate(kT0 + later);
    b.evaluate(kT0 + later);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::string what = rules[i].name + " at +" + std::to_string(later) + "ms";
      CHECK_EQUAL_TEXT(a.status(i).value.has_value(), b.status(i).value.has_value(), what.c_str());
      DOUBLES_EQUAL(a.status(i).value.value_or(0), b.status(i).value.value_or(0), 0);
      CHECK_EQUAL_TEXT(a.status(i).holding_since_ms, b.status(i).holding_since_ms, what.c_str());
      CHECK_EQUAL_TEXT(a.status(i).counting, b.status(i).counting, what.c_str());
      STRCMP_EQUAL(a.explain(i, kT0 + later).c_str(), b.explain(i, kT0 + later).c_str());
    }
  }
  CHECK_TRUE(a.status(2).counting);  // the door timer came across and ran out in b too
  RuleStateData again;
  b.state.save(again);
  a.state.save(saved);
  CHECK_TRUE(saved.SerializeAsString() == again.SerializeAsString());
}

TEST(RuleState, RestoreIntoAChangedRuleSetKeepsOnlyWhatMatches) {
  Device old_device({make_rule("overheat", "avg(temp_c, 1m) > 8", 30s),
                     make_rule("door", "last(door_open, 30s) == 1", 1min),
                     make_rule("hot", "max(temp_c, 5m) > 20", 5min)});
  old_device.add("temp_c", kT0, 25);
  old_device.add("door_open", kT0, 1);
  old_device.evaluate(kT0 + 10 * kSec);
  RuleStateData saved;
  old_device.state.save(saved);
  CHECK_EQUAL(3, saved.windows_size());
  CHECK_EQUAL(3, saved.rules_size());

  Device d({make_rule("overheat", "avg(temp_c, 1m) > 8", 30s),
            make_rule("door_open_long", "last(door_open, 30s) == 1", 1min),  // renamed
            make_rule("hot", "max(temp_c, 10m) > 20", 5min)});               // new window
  d.state.restore(d.set, saved);
  const std::int64_t now = kT0 + 20 * kSec;
  d.evaluate(now);
  check_value(25, d.status(0).value);
  CHECK_EQUAL(kT0, d.status(0).holding_since_ms);  // same rule, same window: all kept
  check_value(1, d.status(1).value);               // the (door_open, 30s) window is kept...
  CHECK_EQUAL(now, d.status(1).holding_since_ms);  // ...but not the old rule's timer
  CHECK_FALSE(d.status(2).value);                  // (temp_c, 10m) never had a value
  CHECK_EQUAL(0, d.status(2).holding_since_ms);
}

TEST(RuleState, RestoreSkipsDamagedEntries) {
  Device d({make_rule("avg", "avg(t, 1m) > 100"), make_rule("last", "last(u, 1m) > 100"),
            make_rule("other", "count(v, 1m) > 100")});
  constexpr std::int64_t kWidth = 7'500;  // 1m / 8
  const std::int64_t newest = kT0 + 3'000;
  const std::int64_t cur = newest / kWidth;
  RuleStateData data;
  auto* w = data.add_windows();
  w->set_metric("t");
  w->set_span_ms(60'000);
  w->set_bucket_ms(kWidth);
  w->set_newest_at_ms(newest);
  w->set_newest_value(5);
  auto bucket = [&](std::int64_t index, std::uint32_t count, double sum, std::int64_t first_at) {
    auto* b = w->add_buckets();
    b->set_index(index);
    b->set_count(count);
    b->set_sum(sum);
    b->set_min(sum / count);
    b->set_max(sum / count);
    b->set_first_value(sum / count);
    b->set_first_at_ms(first_at);
  };
  bucket(cur - 9, 1, 1000, (cur - 9) * kWidth);   // outside the window (the ring slot of cur)
  bucket(cur, 2, 10, cur * kWidth);               // kept
  bucket(cur - 8, 1, 5, (cur - 8) * kWidth + 1);  // kept: the oldest bucket inside
  bucket(cur, 100, 100, cur * kWidth);            // a duplicate index
  bucket(cur + 1, 1, 1000, (cur + 1) * kWidth);   // after the newest value
  bucket(cur - 1, 1, 1000, cur * kWidth);         // first value outside its bucket
  bucket(cur - 2, 0, 1000, (cur - 2) * kWidth);   // empty
  bucket(cur - 3, 1, std::numeric_limits<double>::quiet_NaN(), (cur - 3) * kWidth);
  for (int i = 0; i < 50; ++i) bucket(cur - 4, 1, 1000 + i, (cur - 4) * kWidth + i);  // only the first counts
  // A window whose span differs, one with another bucket width, one with no newest time, and one
  // for a metric nobody reads.
  auto* other_span = data.add_windows();
  *other_span = *w;
  other_span->set_metric("v");
  other_span->set_span_ms(120'000);
  auto* other_width = data.add_windows();
  *other_width = *w;
  other_width->set_metric("u");
  other_width->set_bucket_ms(1234);
  auto* no_time = data.add_windows();
  no_time->set_metric("v");
  no_time->set_span_ms(60'000);
  no_time->set_newest_at_ms(-5);
  auto* unknown = data.add_windows();
  *unknown = *w;
  unknown->set_metric("gone");
  auto* timer = data.add_rules();
  timer->set_name("avg");
  timer->set_when("avg(t, 1m) > 100");
  timer->set_holding_since_ms(-7);

  d.state.restore(d.set, data);
  d.evaluate(newest);
  check_value((10.0 + 5 + 1000) / 4, d.status(0).value);
  check_value(5, d.status(1).value);  // the newest value of a `last` window, whatever its buckets
  check_value(0, d.status(2).value);
  CHECK_EQUAL(newest, d.status(0).holding_since_ms);  // the restored timer was not a time
}
