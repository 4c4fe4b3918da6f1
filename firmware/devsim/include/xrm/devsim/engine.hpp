#pragma once
// The devsim behaviour engine: plays a Scenario as each device's time-ordered stream of telemetry
// and service events, without any transport. A driver asks next_due() when the next action is
// and calls advance(now) with a real or simulated clock; the output depends only on the scenario
// and the seed, never on how often or how late advance() is called.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/devsim/scenario.hpp"

namespace xrm::devsim {

struct MetricValue {
  std::string_view name;
  double value = 0;
};

// Views into the engine and its scenario: valid during the sink call only.
struct Telemetry {
  std::string_view device;
  std::uint32_t device_index = 0;  // position in the scenario, file order
  std::uint32_t seq = 0;           // per device, from 1; dropped (flaky) messages use a number too
  std::int64_t t_ms = 0;           // from the scenario's start
  std::span<const MetricValue> metrics;
};

struct Event {
  std::string_view device;
  std::uint32_t device_index = 0;
  std::uint32_t seq = 0;  // per device, from 1, its own counter (not telemetry's)
  std::int64_t t_ms = 0;
  std::string_view type;        // fault, service_request, service_start, service_done, satisfaction
  std::string_view code;        // fault
  std::optional<double> score;  // satisfaction
  std::string_view technician;  // service_start, service_done
  std::string request_id;       // "DEVICE-rN" on service_request and the visit that answers it; else empty
};

class ActionSink {
 public:
  virtual ~ActionSink() = default;
  virtual void on_telemetry(const Telemetry& telemetry) = 0;
  virtual void on_event(const Event& event) = 0;
  // A flaky device's message that is made (its seq used) and lost on the way. A driver that
  // numbers messages itself (xrm-devsim, through the device library) sends it into a lossy link
  // so the number is used up there too. Default: nothing.
  virtual void on_lost_telemetry(const Telemetry& telemetry) { (void)telemetry; }
};

struct EngineStats {
  std::uint64_t telemetry_sent = 0;
  std::uint64_t telemetry_dropped = 0;  // flaky: seq used, nothing sent
  std::uint64_t telemetry_silent = 0;   // silent: no seq used, nothing sent
  std::uint64_t events_sent = 0;
};

// Not thread-safe: one thread calls next_due() and advance(). *scenario must outlive the engine.
class Engine {
 public:
  // `seed` replaces the scenario's own seed (the file's `seed`, or a command-line override).
  Engine(const Scenario& scenario, std::uint64_t seed);
  explicit Engine(const Scenario& scenario) : Engine(scenario, scenario.seed) {}
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Time of the next action (ms from the start), or none when the scenario is over.
  std::optional<std::int64_t> next_due() const;
  // Emits every action due at or before now_ms, in order of (time, device index, telemetry before
  // events); returns how many it emitted (dropped and silent telemetry not counted).
  std::size_t advance(std::int64_t now_ms, ActionSink& sink);

  const EngineStats& stats() const { return stats_; }
  std::size_t device_count() const { return devices_.size(); }
  // Bytes of engine state per device (the random engine dominates), for sizing large fleets.
  static constexpr std::size_t state_bytes_per_device();

  // One event of a group's timeline, the same for every device of the group.
  struct TimelineEvent {
    std::int64_t t_ms = 0;
    std::string_view type;
    std::string_view code;
    std::string_view technician;
    std::optional<double> score;
    int request = 0;  // the device's Nth service request (0: none)
  };
  // Continuous behaviours of a group, with their end (-1: none) folded in from `normal` entries.
  struct Window {
    const Behaviour* behaviour = nullptr;
    std::int64_t start_ms = 0;
    std::int64_t end_ms = -1;
    bool covers(std::int64_t t) const { return t >= start_ms && (end_ms < 0 || t < end_ms); }
  };
  struct GroupPlan {
    const Group* group = nullptr;
    std::vector<TimelineEvent> timeline;  // sorted by time
    std::vector<Window> drifts;
    std::vector<Window> flakies;
    std::vector<Window> silences;
  };

 private:
  struct DeviceState {
    std::mt19937_64 rng;
    std::int64_t next_tele_ms = 0;
    std::uint32_t group = 0;
    std::uint32_t index_in_group = 0;
    std::uint32_t tele_seq = 0;  // last used
    std::uint32_t evt_seq = 0;
    std::uint32_t next_event = 0;  // index into the group's timeline
  };

  std::int64_t due_of(const DeviceState& d) const;
  void emit_telemetry(std::uint32_t index, DeviceState& d, ActionSink& sink);
  void emit_event(std::uint32_t index, DeviceState& d, ActionSink& sink);
  double value_of(const GroupPlan& plan, std::size_t metric, std::int64_t t, std::mt19937_64& rng) const;

  const Scenario& scenario_;
  std::vector<GroupPlan> plans_;
  std::vector<DeviceState> devices_;
  std::vector<std::string_view> names_;
  // Min-heap of (due time, device index); one entry per device with something left to do.
  std::vector<std::pair<std::int64_t, std::uint32_t>> heap_;
  std::vector<MetricValue> scratch_;
  EngineStats stats_;
};

constexpr std::size_t Engine::state_bytes_per_device() {
  // The device's state, its heap entry and its name view.
  return sizeof(DeviceState) + sizeof(std::pair<std::int64_t, std::uint32_t>) + sizeof(std::string_view);
}

// The portable random pieces, exposed for tests.
// A 64-bit seed for device `index` from the scenario seed (SplitMix64 mixing).
std::uint64_t device_seed(std::uint64_t seed, std::uint32_t index);
// Uniform in [0, 1) from the top 53 bits of one draw.
double uniform01(std::mt19937_64& rng);
// Standard normal by Box-Muller from two draws.
double standard_normal(std::mt19937_64& rng);

}  // namespace xrm::devsim
