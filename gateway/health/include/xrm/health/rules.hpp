#pragma once
// Threshold rules at run time: the `[[profile.rule]]`s of one profile compiled into a RuleSet
// (shared, immutable), and each device's RuleState (its windows and `for` timers).
//
// A Window keeps one metric's values over a sliding span in kBuckets + 1 time buckets of
// span / kBuckets each (aligned to the Unix epoch), so a value counts for at least the span and at
// most span + span / kBuckets. Adding a value and reading any FUNC are constant work (a bucket
// rotation recomputes kBuckets + 1 small aggregates, at most once per bucket width); memory per
// window is fixed, whatever the reading rate. Rules of a profile with the same (metric, span)
// share one window; `last` rules need no buckets.
//
// Service events feed windows too: metric "event.TYPE" (e.g. event.fault) gets value 1 per event of
// that type, or the event's score when it has one (event.satisfaction).
//
// Times are ms since the Unix epoch as the gateway received the value. The caller never passes a
// time older than one it passed before for the same state (the health engine clamps a wall clock
// that stepped back).  Plain values; no threads.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xrm/health/profiles.hpp"

namespace xrm::health::v1 {
class RuleStateData;
class RuleStateData_Window;
}

namespace xrm::health {

class Window {
 public:
  static constexpr int kBuckets = 8;

  explicit Window(std::chrono::milliseconds span, bool needs_buckets = true);

  void add(std::int64_t at_ms, double value);
  // FUNC over the values in the window at now_ms (now_ms >= the newest value's time).
  // avg/min/max: nullopt with no value in the window. last: the newest value if it is inside the
  // window. count: number of values (0 when none, never nullopt). rate: change per second between
  // the oldest and the newest value in the window, nullopt with fewer than two values or when
  // they have the same time.
  std::optional<double> value(RuleFunc func, std::int64_t now_ms) const;

  std::chrono::milliseconds span() const;
  // Bytes this window holds on the heap (for memory figures).
  std::size_t heap_bytes() const;

  // Expires the buckets that are outside the window at now_ms, so that value(func, now_ms) and
  // later reads take the constant-time path. Changes no FUNC result at now_ms or later.
  // RuleState::evaluate calls it.
  void advance(std::int64_t now_ms);

 private:
  friend class RuleState;  // save/restore

  // 40 bytes. Not 32: min, max and first_value as float would round (float(0.1) != 0.1), which
  // breaks `==` rules and flips comparisons near a threshold; exact doubles are worth 8 bytes.
  struct Bucket {
    double sum;
    double min;
    double max;
    double first_value;          // the bucket's oldest value (for rate)
    std::uint32_t count;         // 0: empty; the other fields are then meaningless
    std::uint32_t first_offset;  // first_value's time - the bucket's start, >> offset_shift_
  };
  // Aggregate of a run of buckets, oldest first.
  struct Summary {
    std::int64_t count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    double first_value = 0;  // the oldest value and its time (when count > 0)
    std::int64_t first_at_ms = 0;
  };

  std::size_t slot(std::int64_t index) const;
  std::int64_t index_of(std::int64_t at_ms) const;
  void move_to(std::int64_t index);
  void merge(Summary& into, std::int64_t index) const;
  void rotate(std::int64_t index);
  void recompute_closed();
  Summary summarize(std::int64_t now_ms) const;
  void save(v1::RuleStateData_Window& out) const;
  // Into a window fresh from its constructor; the caller has matched metric and span.
  void restore(const v1::RuleStateData_Window& in);

  std::int64_t span_ms_;
  std::int64_t width_ms_;  // ceil(span / kBuckets), at least 1
  // Empty until the first add (no heap for metrics a device never sends); then kBuckets + 1, a
  // ring indexed by bucket index mod (kBuckets + 1) holding indices cur_index_ - kBuckets ..
  // cur_index_.
  std::vector<Bucket> buckets_;
  // Once a value came: the newest bucket (by add or advance) and its start, cur_index_ *
  // width_ms_. Times in it or the next one find their bucket without a 64-bit division.
  std::int64_t cur_index_ = 0;
  std::int64_t cur_start_ms_ = 0;
  Summary closed_;  // buckets cur_index_ - kBuckets .. cur_index_ - 1 (with buckets_)
  double newest_value_ = 0;
  std::int64_t newest_at_ms_ = 0;
  std::int64_t newest_index_ = 0;  // newest_at_ms_'s bucket
  bool has_newest_ = false;
  bool needs_buckets_;
  // Bucket::first_offset is in units of 2^offset_shift_ ms: 0 unless a bucket is wider than
  // 2^32 ms (a window of more than about 397 days).
  std::uint8_t offset_shift_ = 0;
};

// What one rule says about one device at the time of the last evaluation.
struct RuleStatus {
  std::optional<double> value;  // FUNC(METRIC, WINDOW) now; nullopt: no data in the window
  bool condition = false;       // value OP NUMBER (false when value is nullopt)
  std::int64_t holding_since_ms = 0;  // when the condition became true (0: it is false)
  bool counting = false;        // condition has held for `for`: its penalty applies
};

// The compiled rules of one Profile. Immutable once built; devices of the profile share it.
class RuleSet {
 public:
  // `profile` must outlive the RuleSet (the engine keeps both in one shared object).
  explicit RuleSet(const Profile& profile);

  const Profile& profile() const { return profile_; }
  std::size_t size() const { return profile_.rules.size(); }
  const Rule& rule(std::size_t i) const { return profile_.rules[i]; }
  // Whether any rule reads this metric (a cheap check for the telemetry path).
  bool reads(std::string_view metric) const;

 private:
  friend class RuleState;

  // One window per distinct (metric, span) of the rules.
  struct Slot {
    std::string metric;
    std::chrono::milliseconds span;
    bool needs_buckets;  // false when every rule on it is `last`
  };
  // What a value of one metric touches: slot_list_[slots_begin, slots_end) and
  // rule_list_[rules_begin, rules_end).
  struct MetricEntry {
    std::uint32_t slots_begin, slots_end;
    std::uint32_t rules_begin, rules_end;
  };
  // Transparent, so that find(string_view) does not build a std::string.
  struct MetricHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  const MetricEntry* find(std::string_view metric) const;

  const Profile& profile_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> rule_slot_;  // per rule
  std::vector<std::uint32_t> slot_list_;
  std::vector<std::uint32_t> rule_list_;
  std::unordered_map<std::string, MetricEntry, MetricHash, std::equal_to<>> by_metric_;
};

// One device's rule state for a RuleSet.
class RuleState {
 public:
  explicit RuleState(const RuleSet& set);

  // A value of `metric` received at at_ms: feeds that metric's windows and re-evaluates the rules
  // that read it (constant work per rule). Metrics no rule reads cost one hash lookup.
  void add(const RuleSet& set, std::string_view metric, std::int64_t at_ms, double value);
  // Re-evaluates every rule at now_ms (the periodic tick: windows age, `for` timers end).
  void evaluate(const RuleSet& set, std::int64_t now_ms);
  // Per rule, in the RuleSet's order.
  const std::vector<RuleStatus>& status() const;

  // A sentence on rule i with the numbers, for score explanations, e.g.
  //   "avg(temp_c, 1m) = 9.25 > 8 for 42s (for 30s)"
  //   "avg(temp_c, 1m) = 9.25 > 8 since 12s, counts after 30s"
  //   "no temp_c values in the last 1m"
  std::string explain(const RuleSet& set, std::size_t i, std::int64_t now_ms) const;

  // Durable state (windows and `for` timers) for the health engine's snapshot. `out` is cleared
  // first. Names windows and rules through the RuleSet this state was built or last restored with,
  // which must still be alive.
  void save(v1::RuleStateData& out) const;
  // Restores what `data` holds for this RuleSet: windows whose (metric, span) still exist and
  // timers of rules whose name and `when` are unchanged; the rest starts empty. Also used to carry
  // state across a rules reload (save with the old set, restore into the new one). Until the next
  // add() or evaluate(), status() holds only the restored timers (restore() does not know the time).
  void restore(const RuleSet& set, const v1::RuleStateData& data);

  std::size_t heap_bytes() const;

 private:
  // Rule i at now_ms, as evaluate would leave it, from its previous status.
  static RuleStatus evaluated(const Rule& rule, const Window& window, const RuleStatus& previous, std::int64_t now_ms);
  void evaluate_rule(const RuleSet& set, std::size_t i, std::int64_t now_ms);
  void reset(const RuleSet& set);

  // The set this state was built or last restored with: add, evaluate and explain must be given
  // that same set (checked), and save() reads slot and rule names through it.
  const RuleSet* set_;
  std::vector<Window> windows_;  // per RuleSet slot
  std::vector<RuleStatus> status_;
};

}  // namespace xrm::health
