// RuleSet (a profile's rules compiled to window slots) and RuleState (one device's windows and
// `for` timers).
//
// Evaluation of rule i at time now (add() at the value's time, evaluate() at the tick's):
//   value     = FUNC(METRIC, WINDOW) at now (Window::value)
//   condition = value is set && value OP NUMBER; == and != compare the doubles exactly (no
//               tolerance: `last(door_open, 30s) == 1` is meant for values sent as exact numbers)
//   holding_since_ms = now when the condition turns true, kept while it stays true, 0 when false
//   counting  = condition && now - holding_since_ms >= `for` (a `for` of 0s counts at once)
// A value of a metric re-evaluates only the rules reading that metric, at the value's time; the
// rules' conditions change otherwise only as windows age, which the periodic evaluate() sees.
// Times are ms since the Unix epoch (> 0: holding_since_ms 0 means "not holding").
#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "xrm/common/units.hpp"
#include "xrm/health/proto/rules_state.pb.h"
#include "xrm/health/rules.hpp"

namespace xrm::health {

namespace {

bool holds(double value, RuleOp op, double threshold) {
  switch (op) {
    case RuleOp::kGt: return value > threshold;
    case RuleOp::kGe: return value >= threshold;
    case RuleOp::kLt: return value < threshold;
    case RuleOp::kLe: return value <= threshold;
    case RuleOp::kEq: return value == threshold;
    case RuleOp::kNe: return value != threshold;
  }
  return false;
}

// The shortest text that reads back as exactly v.
std::string shortest(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// v for a person: integers in full, others to 6 significant digits, unless the rounding would
// make the sentence contradict itself (9.9999999 shown as "10" next to "< 10", or 8.0000001 as
// "8" next to "> 8"); then the shortest exact text.
std::string readable(double v, RuleOp op, double threshold) {
  char buf[32];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v == 0 ? 0.0 : v);  // no "-0"
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.6g", v);
  const double shown = std::strtod(buf, nullptr);
  if (holds(shown, op, threshold) == holds(v, op, threshold) && (shown == threshold) == (v == threshold)) return buf;
  return shortest(v);
}

// How long a condition has held: whole seconds from 1s on ("42s", "1m", "1h30m"), else ms.
std::string held_for(std::int64_t ms) {
  if (ms >= 1000) ms -= ms % 1000;
  return format_duration(std::chrono::milliseconds(std::max<std::int64_t>(ms, 0)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RuleSet

RuleSet::RuleSet(const Profile& profile) : profile_(profile) {
  const std::vector<Rule>& rules = profile_.rules;
  rule_slot_.reserve(rules.size());
  for (const Rule& r : rules) {
    const RuleCondition& c = r.condition;
    auto it = std::find_if(slots_.begin(), slots_.end(),
                           [&](const Slot& s) { return s.metric == c.metric && s.span == c.window; });
    if (it == slots_.end()) it = slots_.insert(slots_.end(), Slot{c.metric, c.window, false});
    if (c.func != RuleFunc::kLast) it->needs_buckets = true;
    rule_slot_.push_back(static_cast<std::uint32_t>(it - slots_.begin()));
  }
  // Per metric, in order of first appearance: its slots, then the rules on them.
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    const std::string& metric = slots_[k].metric;
    if (by_metric_.find(metric) != by_metric_.end()) continue;
    MetricEntry e{};
    e.slots_begin = static_cast<std::uint32_t>(slot_list_.size());
    for (std::size_t j = k; j < slots_.size(); ++j) {
      if (slots_[j].metric == metric) slot_list_.push_back(static_cast<std::uint32_t>(j));
    }
    e.slots_end = static_cast<std::uint32_t>(slot_list_.size());
    e.rules_begin = static_cast<std::uint32_t>(rule_list_.size());
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].condition.metric == metric) rule_list_.push_back(static_cast<std::uint32_t>(i));
    }
    e.rules_end = static_cast<std::uint32_t>(rule_list_.size());
    by_metric_.emplace(metric, e);
  }
}

const RuleSet::MetricEntry* RuleSet::find(std::string_view metric) const {
  const auto it = by_metric_.find(metric);
  return it == by_metric_.end() ? nullptr : &it->second;
}

bool RuleSet::reads(std::string_view metric) const { return find(metric) != nullptr; }

// ---------------------------------------------------------------------------------------------
// RuleState

RuleState::RuleState(const RuleSet& set) : set_(&set) { reset(set); }

void RuleState::reset(const RuleSet& set) {
  set_ = &set;
  windows_.clear();
  windows_.reserve(set.slots_.size());
  for (const RuleSet::Slot& s : set.slots_) windows_.emplace_back(s.span, s.needs_buckets);
  status_.assign(set.size(), RuleStatus{});
}

void RuleState::add(const RuleSet& set, std::string_view metric, std::int64_t at_ms, double value) {
  // Another set than our own is a caller bug (state crosses a reload through save/restore): stop
  // in a debug build; in a release build start over for that set rather than index past windows_.
  assert(&set == set_);
  if (&set != set_) reset(set);
  const RuleSet::MetricEntry* e = set.find(metric);
  if (e == nullptr) return;
  for (std::uint32_t k = e->slots_begin; k < e->slots_end; ++k) windows_[set.slot_list_[k]].add(at_ms, value);
  for (std::uint32_t k = e->rules_begin; k < e->rules_end; ++k) evaluate_rule(set, set.rule_list_[k], at_ms);
}

void RuleState::evaluate(const RuleSet& set, std::int64_t now_ms) {
  assert(&set == set_);  // as in add()
  if (&set != set_) reset(set);
  for (Window& w : windows_) w.advance(now_ms);
  for (std::size_t i = 0; i < status_.size(); ++i) evaluate_rule(set, i, now_ms);
}

const std::vector<RuleStatus>& RuleState::status() const { return status_; }

RuleStatus RuleState::evaluated(const Rule& rule, const Window& window, const RuleStatus& previous,
                                std::int64_t now_ms) {
  const RuleCondition& c = rule.condition;
  RuleStatus s;
  s.value = window.value(c.func, now_ms);
  s.condition = s.value.has_value() && holds(*s.value, c.op, c.threshold);
  if (s.condition) {
    // A timer from the future (restored from before a wall clock step back) starts again now.
    const bool keep = previous.holding_since_ms != 0 && previous.holding_since_ms <= now_ms;
    s.holding_since_ms = keep ? previous.holding_since_ms : now_ms;
    s.counting = now_ms - s.holding_since_ms >= rule.hold.count();
  }
  return s;
}

void RuleState::evaluate_rule(const RuleSet& set, std::size_t i, std::int64_t now_ms) {
  status_[i] = evaluated(set.rule(i), windows_[set.rule_slot_[i]], status_[i], now_ms);
}

// Describes the rule as evaluate(now_ms) would leave it, without changing anything. One of:
//   counting:   "avg(temp_c, 1m) = 9.25 > 8 for 42s (for 30s)"  ("(for ...)" only with a `for`)
//   holding:    "avg(temp_c, 1m) = 9.25 > 8 since 12s, counts after 30s"
//   false:      "avg(temp_c, 1m) = 7.5, not > 8"
//   no value:   "no temp_c values in the last 1m"
//   rate, one time only: "rate(energy_kwh, 6h): needs energy_kwh values at two different times in
//               the last 6h"
// The head is canonical (FUNC(METRIC, WINDOW) with the window as format_duration spells it), not
// `when` as typed. The threshold is printed exactly (shortest round trip), the value readably
// (see readable()), elapsed time in whole seconds from 1s on.
std::string RuleState::explain(const RuleSet& set, std::size_t i, std::int64_t now_ms) const {
  assert(&set == set_ && i < status_.size());
  if (&set != set_ || i >= status_.size()) return {};
  const Rule& rule = set.rule(i);
  const RuleCondition& c = rule.condition;
  const Window& window = windows_[set.rule_slot_[i]];
  const RuleStatus s = evaluated(rule, window, status_[i], now_ms);
  const std::string span = format_duration(c.window);
  const std::string head = std::string(to_string(c.func)) + "(" + c.metric + ", " + span + ")";
  if (!s.value) {
    if (c.func == RuleFunc::kRate && window.value(RuleFunc::kCount, now_ms).value_or(0) > 0) {
      return head + ": needs " + c.metric + " values at two different times in the last " + span;
    }
    return "no " + c.metric + " values in the last " + span;
  }
  std::string text = head + " = " + readable(*s.value, c.op, c.threshold);
  const std::string op_threshold = std::string(to_string(c.op)) + " " + shortest(c.threshold);
  if (!s.condition) return text + ", not " + op_threshold;
  text += " " + op_threshold;
  const std::string held = held_for(now_ms - s.holding_since_ms);
  if (!s.counting) return text + " since " + held + ", counts after " + format_duration(rule.hold);
  text += " for " + held;
  if (rule.hold.count() > 0) text += " (for " + format_duration(rule.hold) + ")";
  return text;
}

void RuleState::save(v1::RuleStateData& out) const {
  out.Clear();
  for (std::size_t k = 0; k < windows_.size(); ++k) {
    if (!windows_[k].has_newest_) continue;
    v1::RuleStateData_Window* w = out.add_windows();
    w->set_metric(set_->slots_[k].metric);
    windows_[k].save(*w);
  }
  for (std::size_t i = 0; i < status_.size(); ++i) {
    if (status_[i].holding_since_ms == 0) continue;
    const Rule& rule = set_->rule(i);
    v1::RuleStateData_Rule* r = out.add_rules();
    r->set_name(rule.name);
    r->set_when(rule.when);
    r->set_holding_since_ms(status_[i].holding_since_ms);
  }
}

// Until the next add() or evaluate(), status() then holds only the restored timers (value
// nullopt, condition and counting false): restore() does not know the time. A restored timer
// carries on if the condition still holds at that next evaluation.
void RuleState::restore(const RuleSet& set, const v1::RuleStateData& data) {
  reset(set);
  for (std::size_t k = 0; k < windows_.size(); ++k) {
    const RuleSet::Slot& slot = set.slots_[k];
    for (const auto& w : data.windows()) {
      if (w.metric() == slot.metric && w.span_ms() == slot.span.count()) {
        windows_[k].restore(w);
        break;  // a duplicate key: the first one wins
      }
    }
  }
  for (std::size_t i = 0; i < status_.size(); ++i) {
    const Rule& rule = set.rule(i);
    for (const auto& r : data.rules()) {
      if (r.name() == rule.name && r.when() == rule.when) {
        if (r.holding_since_ms() > 0) status_[i].holding_since_ms = r.holding_since_ms();
        break;
      }
    }
  }
}

std::size_t RuleState::heap_bytes() const {
  std::size_t n = windows_.capacity() * sizeof(Window) + status_.capacity() * sizeof(RuleStatus);
  for (const Window& w : windows_) n += w.heap_bytes();
  return n;
}

}  // namespace xrm::health
