#include "xrm/devsim/engine.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>

namespace xrm::devsim {

// Why the random numbers are made by hand: the same seed must give the same streams on every
// machine and standard library, so a test run, a demo and a bug report can be replayed.
// std::mt19937_64's output sequence is fixed by the standard (it even names its 10000th value),
// but the distributions are not: std::normal_distribution and std::uniform_real_distribution may
// use different algorithms, and do, in libstdc++, libc++ and MSVC. So only the engine's raw 64-bit
// draws are used; uniform01() keeps their top 53 bits and standard_normal() is Box-Muller over two
// of them. Drop decisions (flaky) compare those exact uniforms and are identical everywhere; the
// noise goes through log, sqrt and cos, which are exact to the last bit only within one C library
// (glibc gives the same results on x86-64 and ARM), so noise may differ in the last digits elsewhere.

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Times are sums of durations from the file, each up to 2^63 ms: saturate rather than overflow.
std::int64_t add_ms(std::int64_t a, std::int64_t b) { return a > kNever - b ? kNever : a + b; }

using HeapEntry = std::pair<std::int64_t, std::uint32_t>;
constexpr auto kHeapOrder = std::greater<HeapEntry>();  // min-heap on (due, device index)

// One event before sorting; `visit` ties a service's start, done and satisfaction together.
struct RawEvent {
  Engine::TimelineEvent event;
  int visit = -1;
};

}  // namespace

std::uint64_t device_seed(std::uint64_t seed, std::uint32_t index) { return splitmix64(seed ^ splitmix64(index)); }

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double standard_normal(std::mt19937_64& rng) {
  const double u1 = 1.0 - uniform01(rng);  // (0, 1]: log(0) never happens
  const double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

namespace {

Engine::GroupPlan plan_group(const Group& g, std::int64_t duration_ms) {
  Engine::GroupPlan plan;
  plan.group = &g;

  // A `normal` at T ends every continuous behaviour that started before T.
  std::vector<std::int64_t> normals;
  for (const auto& b : g.behaviours) {
    if (b.kind == BehaviourKind::kNormal) normals.push_back(b.at_ms);
  }
  std::sort(normals.begin(), normals.end());
  auto normal_end = [&](std::int64_t start) -> std::int64_t {
    const auto it = std::upper_bound(normals.begin(), normals.end(), start);
    return it == normals.end() ? -1 : *it;
  };
  for (const auto& b : g.behaviours) {
    const std::int64_t end = normal_end(b.after_ms);
    switch (b.kind) {
      case BehaviourKind::kDrift: plan.drifts.push_back({&b, b.after_ms, end}); break;
      case BehaviourKind::kFlaky: plan.flakies.push_back({&b, b.after_ms, end}); break;
      case BehaviourKind::kSilent: {
        std::int64_t stop = end;
        if (b.for_ms >= 0) {
          const std::int64_t own = add_ms(b.after_ms, b.for_ms);
          stop = stop < 0 ? own : std::min(stop, own);
        }
        plan.silences.push_back({&b, b.after_ms, stop});
        break;
      }
      default: break;
    }
  }

  // The events, the same for every device of the group.
  std::vector<RawEvent> raw;
  std::vector<std::int64_t> done_times;
  auto add_fault = [&](const Behaviour& b, std::int64_t at) {
    raw.push_back({{at, "fault", b.code, {}, {}, 0}, -1});
    if (b.request_after_ms >= 0)
      raw.push_back({{add_ms(at, b.request_after_ms), "service_request", {}, {}, {}, 0}, -1});
  };
  int visits = 0;
  for (const auto& b : g.behaviours) {
    if (b.kind == BehaviourKind::kFault) {
      add_fault(b, b.at_ms);
    } else if (b.kind == BehaviourKind::kService) {
      const int visit = visits++;
      const std::int64_t done = add_ms(b.at_ms, b.takes_ms);
      raw.push_back({{b.at_ms, "service_start", {}, b.technician, {}, 0}, visit});
      raw.push_back({{done, "service_done", {}, b.technician, {}, 0}, visit});
      if (b.score) raw.push_back({{add_ms(done, b.rate_after_ms), "satisfaction", {}, {}, b.score, 0}, visit});
      done_times.push_back(done);
    }
  }
  std::sort(done_times.begin(), done_times.end());
  for (const auto& b : g.behaviours) {
    if (b.kind != BehaviourKind::kRecurringFault) continue;
    const std::size_t n = std::min(done_times.size(), static_cast<std::size_t>(b.times));
    for (std::size_t i = 0; i < n; ++i) add_fault(b, add_ms(done_times[i], b.after_ms));
  }
  // A silent device sends nothing, events included; nothing happens at or after the end.
  std::erase_if(raw, [&](const RawEvent& e) {
    if (e.event.t_ms >= duration_ms) return true;
    return std::any_of(plan.silences.begin(), plan.silences.end(),
                       [&](const Engine::Window& w) { return w.covers(e.event.t_ms); });
  });
  std::stable_sort(raw.begin(), raw.end(),
                   [](const RawEvent& a, const RawEvent& b) { return a.event.t_ms < b.event.t_ms; });

  // Request numbers: each service_request opens the next one; a visit answers the oldest open
  // request at its start, and its done and satisfaction carry the same number.
  int requests = 0;
  std::vector<int> open;
  std::vector<int> visit_request(static_cast<std::size_t>(visits), 0);
  for (auto& e : raw) {
    if (e.event.type == "service_request") {
      e.event.request = ++requests;
      open.push_back(requests);
    } else if (e.visit >= 0) {
      auto& r = visit_request[static_cast<std::size_t>(e.visit)];
      if (e.event.type == "service_start" && !open.empty()) {
        r = open.front();
        open.erase(open.begin());
      }
      e.event.request = r;
    }
    plan.timeline.push_back(e.event);
  }
  return plan;
}

}  // namespace

Engine::Engine(const Scenario& scenario, std::uint64_t seed) : scenario_(scenario) {
  plans_.reserve(scenario.groups.size());
  std::size_t max_metrics = 0;
  for (const auto& g : scenario.groups) {
    plans_.push_back(plan_group(g, scenario.duration_ms));
    max_metrics = std::max(max_metrics, g.metrics.size());
  }
  scratch_.reserve(max_metrics);
  const std::size_t n = scenario.device_count();
  devices_.reserve(n);
  names_.reserve(n);
  heap_.reserve(n);
  for (std::uint32_t gi = 0; gi < scenario.groups.size(); ++gi) {
    const Group& g = scenario.groups[gi];
    const auto size = static_cast<std::int64_t>(g.devices.size());
    for (std::uint32_t k = 0; k < g.devices.size(); ++k) {
      const auto index = static_cast<std::uint32_t>(devices_.size());
      DeviceState& d = devices_.emplace_back();
      d.rng.seed(device_seed(seed, index));
      // Spread a group's devices evenly over one interval, so a large fleet does not report in bursts.
      d.next_tele_ms = g.interval_ms * static_cast<std::int64_t>(k) / size;
      d.group = gi;
      d.index_in_group = k;
      names_.push_back(g.devices[k]);
      const std::int64_t due = due_of(d);
      if (due < scenario.duration_ms) heap_.emplace_back(due, index);
    }
  }
  std::make_heap(heap_.begin(), heap_.end(), kHeapOrder);
}

std::int64_t Engine::due_of(const DeviceState& d) const {
  const auto& timeline = plans_[d.group].timeline;
  const std::int64_t event = d.next_event < timeline.size() ? timeline[d.next_event].t_ms : kNever;
  return std::min(d.next_tele_ms, event);
}

std::optional<std::int64_t> Engine::next_due() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().first;
}

std::size_t Engine::advance(std::int64_t now_ms, ActionSink& sink) {
  std::size_t emitted = 0;
  while (!heap_.empty() && heap_.front().first <= now_ms) {
    std::pop_heap(heap_.begin(), heap_.end(), kHeapOrder);
    const auto [due, index] = heap_.back();
    heap_.pop_back();
    DeviceState& d = devices_[index];
    const auto& timeline = plans_[d.group].timeline;
    if (d.next_tele_ms == due) {
      const std::uint64_t before = stats_.telemetry_sent;
      emit_telemetry(index, d, sink);
      emitted += stats_.telemetry_sent - before;
    }
    while (d.next_event < timeline.size() && timeline[d.next_event].t_ms == due) {
      emit_event(index, d, sink);
      ++emitted;
    }
    const std::int64_t next = due_of(d);
    if (next < scenario_.duration_ms) {
      heap_.emplace_back(next, index);
      std::push_heap(heap_.begin(), heap_.end(), kHeapOrder);
    }
  }
  return emitted;
}

double Engine::value_of(const GroupPlan& plan, std::size_t metric, std::int64_t t, std::mt19937_64& rng) const {
  const MetricSpec& spec = plan.group->metrics[metric];
  double value = spec.base;
  // The latest drift of this metric that has started and not been ended by `normal` wins; it
  // ramps linearly from the base to its target over `over`, then stays there.
  const Window* active = nullptr;
  for (const auto& w : plan.drifts) {
    if (w.behaviour->metric == spec.name && w.covers(t) && (active == nullptr || w.start_ms >= active->start_ms)) {
      active = &w;
    }
  }
  if (active != nullptr) {
    const Behaviour& b = *active->behaviour;
    const double progress =
        b.over_ms == 0 ? 1.0
                       : std::min(1.0, static_cast<double>(t - active->start_ms) / static_cast<double>(b.over_ms));
    value += (b.target - spec.base) * progress;
  }
  if (spec.noise > 0) value += spec.noise * standard_normal(rng);
  return value;
}

void Engine::emit_telemetry(std::uint32_t index, DeviceState& d, ActionSink& sink) {
  const GroupPlan& plan = plans_[d.group];
  const std::int64_t t = d.next_tele_ms;
  d.next_tele_ms = add_ms(t, plan.group->interval_ms);
  if (std::any_of(plan.silences.begin(), plan.silences.end(), [&](const Window& w) { return w.covers(t); })) {
    ++stats_.telemetry_silent;
    return;
  }
  const std::uint32_t seq = ++d.tele_seq;  // 32-bit, wraps to 0 as the contract says
  scratch_.clear();
  for (std::size_t m = 0; m < plan.group->metrics.size(); ++m) {
    scratch_.push_back({plan.group->metrics[m].name, value_of(plan, m, t, d.rng)});
  }
  // Flaky: the message is made (its seq is used) and then lost, so the gateway sees a hole.
  for (const auto& w : plan.flakies) {
    if (w.covers(t) && uniform01(d.rng) < w.behaviour->share) {
      ++stats_.telemetry_dropped;
      sink.on_lost_telemetry({names_[index], index, seq, t, scratch_});
      return;
    }
  }
  ++stats_.telemetry_sent;
  sink.on_telemetry({names_[index], index, seq, t, scratch_});
}

void Engine::emit_event(std::uint32_t index, DeviceState& d, ActionSink& sink) {
  const TimelineEvent& e = plans_[d.group].timeline[d.next_event++];
  Event out;
  out.device = names_[index];
  out.device_index = index;
  out.seq = ++d.evt_seq;
  out.t_ms = e.t_ms;
  out.type = e.type;
  out.code = e.code;
  out.score = e.score;
  out.technician = e.technician;
  if (e.request > 0) out.request_id = std::string(names_[index]) + "-r" + std::to_string(e.request);
  ++stats_.events_sent;
  sink.on_event(out);
}

}  // namespace xrm::devsim
