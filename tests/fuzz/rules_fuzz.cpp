// The profiles file and its rules (gateway/health: load_profiles_string, parse_condition in
// profiles.cpp; RuleSet/RuleState in rules.cpp). An input is a profiles file, optionally followed
// by a line "#--" and a feed: bytes read as (metric, time step, value) triples that drive a
// RuleState of every loaded profile. Checked:
// - errors or profiles, never both; every error has a line-tagged message;
// - each rule's `when` parses again to its condition, and the condition written back out in
//   canonical form ("avg(m, 60000ms) > 8") parses to the same condition;
// - the first line of the input, read as a `when`, either fails with "column N:" or round-trips;
// - feeding values never crashes, rule statuses are consistent (counting implies condition,
//   condition implies a value), explain() says something, and save -> restore -> save of the
//   state gives the same bytes and the same evaluation.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "xrm/health/profiles.hpp"
#include "xrm/health/proto/rules_state.pb.h"
#include "xrm/health/rules.hpp"

namespace {

namespace health = xrm::health;

std::string canonical(const health::RuleCondition& c) {
  char number[40];
  std::snprintf(number, sizeof number, "%.17g", c.threshold);
  return std::string(health::to_string(c.func)) + "(" + c.metric + ", " + std::to_string(c.window.count()) + "ms) " +
         std::string(health::to_string(c.op)) + " " + number;
}

bool same(const health::RuleCondition& a, const health::RuleCondition& b) {
  return a.func == b.func && a.metric == b.metric && a.window == b.window && a.op == b.op &&
         std::memcmp(&a.threshold, &b.threshold, sizeof a.threshold) == 0;
}

void check_condition(std::string_view when) {
  auto c = health::parse_condition(when);
  if (!c.is_ok()) {
    XRM_FUZZ_CHECK(c.status().code() == xrm::Status::Code::kInvalidArgument, c.status().to_string().c_str());
    return;
  }
  XRM_FUZZ_CHECK(!c->metric.empty() && c->metric.size() <= 64, c->metric.c_str());
  XRM_FUZZ_CHECK(c->window.count() > 0, "window not positive");
  XRM_FUZZ_CHECK(std::isfinite(c->threshold), "threshold not finite");
  const std::string text = canonical(*c);
  auto back = health::parse_condition(text);
  XRM_FUZZ_CHECK(back.is_ok(), (text + ": " + back.status().to_string()).c_str());
  XRM_FUZZ_CHECK(same(*back, *c), text.c_str());
}

void check_status(const health::RuleState& state) {
  for (const auto& s : state.status()) {
    XRM_FUZZ_CHECK(!s.counting || s.condition, "counting without its condition");
    XRM_FUZZ_CHECK(!s.condition || s.value.has_value(), "condition true without a value");
    XRM_FUZZ_CHECK(!s.value || !std::isnan(*s.value), "NaN rule value");
  }
}

bool same_status(const health::RuleState& a, const health::RuleState& b) {
  if (a.status().size() != b.status().size()) return false;
  for (std::size_t i = 0; i < a.status().size(); ++i) {
    const auto& x = a.status()[i];
    const auto& y = b.status()[i];
    if (x.condition != y.condition || x.counting != y.counting || x.holding_since_ms != y.holding_since_ms ||
        x.value.has_value() != y.value.has_value()) {
      return false;
    }
    if (x.value && std::memcmp(&*x.value, &*y.value, sizeof(double)) != 0) return false;
  }
  return true;
}

void feed(const health::Profile& profile, std::string_view bytes) {
  const health::RuleSet set(profile);
  health::RuleState state(set);
  std::vector<std::string> metrics;
  for (const auto& r : profile.rules) metrics.push_back(r.condition.metric);
  metrics.push_back("unread_metric");
  std::int64_t now = 1'800'000'000'000;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size() && i < 3 * 512; i += 3) {
    const auto m = static_cast<unsigned char>(bytes[i]);
    const auto step = static_cast<unsigned char>(bytes[i + 1]);
    const auto v = static_cast<signed char>(bytes[i + 2]);
    // Steps from 0 ms to about 4 days, growing: small ones exercise buckets, large ones expiry.
    now += static_cast<std::int64_t>(step) * step * step * 20;
    if (m == 0xFF) {
      state.evaluate(set, now);
    } else {
      state.add(set, metrics[m % metrics.size()], now, v / 4.0);
    }
    check_status(state);
  }
  state.evaluate(set, now);
  check_status(state);
  for (std::size_t r = 0; r < set.size(); ++r) {
    XRM_FUZZ_CHECK(!state.explain(set, r, now).empty(), "empty explanation");
  }
  xrm::health::v1::RuleStateData saved;
  state.save(saved);
  health::RuleState restored(set);
  restored.restore(set, saved);
  xrm::health::v1::RuleStateData saved2;
  restored.save(saved2);
  XRM_FUZZ_CHECK(saved.SerializeAsString() == saved2.SerializeAsString(), "save/restore/save differs");
  const std::int64_t later = now + 1000;
  state.evaluate(set, later);
  restored.evaluate(set, later);
  XRM_FUZZ_CHECK(same_status(state, restored), "restored state evaluates differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto marker = input.find("\n#--\n");
  const std::string text(input.substr(0, marker));
  const std::string_view feed_bytes = marker == std::string_view::npos ? std::string_view() : input.substr(marker + 5);

  check_condition(input.substr(0, input.find('\n')));

  std::vector<xrm::config::ConfigError> errors;
  const health::Profiles profiles = health::load_profiles_string(text, "fuzz.toml", errors);
  if (!errors.empty()) {
    XRM_FUZZ_CHECK(profiles.profiles.empty(), "errors and profiles");
    for (const auto& e : errors) XRM_FUZZ_CHECK(!e.message.empty(), e.to_string().c_str());
    return 0;
  }
  for (const auto& p : profiles.profiles) {
    XRM_FUZZ_CHECK(!p.class_name.empty(), "profile without a class");
    XRM_FUZZ_CHECK(profiles.find(p.class_name) == &p, "class not unique");
    XRM_FUZZ_CHECK(p.critical_band <= p.healthy_band, "critical band above healthy");
    XRM_FUZZ_CHECK(p.offline_after >= p.expected_interval, "offline_after shorter than expected_interval");
    XRM_FUZZ_CHECK(!p.live.enabled() || p.live.max_interval.count() == 0 || p.live.max_interval >= p.live.interval,
                   "live heartbeat shorter than interval");
    for (const auto& r : p.rules) {
      XRM_FUZZ_CHECK(!r.name.empty(), "rule without a name");
      XRM_FUZZ_CHECK(r.penalty >= 0 && r.penalty <= 100, "penalty out of range");
      auto c = health::parse_condition(r.when);
      XRM_FUZZ_CHECK(c.is_ok() && same(*c, r.condition), r.when.c_str());
      check_condition(r.when);
    }
    feed(p, feed_bytes);
  }
  return 0;
}
