// The threshold-rule engine alone (gateway/health/rules.hpp): readings/s through RuleState::add
// for a fleet of devices on one core, the periodic RuleState::evaluate per device, heap per
// device and allocations on the hot path, next to a baseline measured in the same run (the same
// loops summing each value into one double per device), so the ratio is comparable across
// machines. Prints figures; asserts nothing. No broker, no daemon, no database.
//
// Simulation: every device reports all METRICS every 10 simulated seconds, the devices spread
// evenly over those 10 s (device d at offset d * 10 s / devices), so readings arrive round-robin
// over the devices with a monotonically advancing time. At the end of each simulated second every
// device's state is evaluated (the health engine's tick), timed separately from add().
//
// Allocations are counted by replacing the global operator new, in this program only.
#include <CLI/CLI.hpp>

#include "bench_report.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/units.hpp"
#include "xrm/health/rules.hpp"

// ---------------------------------------------------------------------------------------------
// Allocation counter.

namespace {
std::atomic<std::uint64_t> g_allocations{0};

void* counted_new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
}  // namespace

// libstdc++'s default operator delete is std::free, which these blocks belong to.
void* operator new(std::size_t size) { return counted_new(size); }
void* operator new[](std::size_t size) { return counted_new(size); }

namespace {

using Clock = std::chrono::steady_clock;
using xrm::health::Profile;
using xrm::health::Rule;
using xrm::health::RuleSet;
using xrm::health::RuleState;

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kPeriodMs = 10'000;  // every device reports every metric this often
constexpr int kSecondsPerPeriod = 10;
constexpr std::array<std::string_view, 5> kMetrics = {"temp_c", "pressure_bar", "energy_kwh", "door_open",
                                                      "compressor_start"};
constexpr std::size_t kValueTable = 1 << 16;  // pre-drawn values per metric (no RNG in the loops)

struct RuleSpec {
  const char* name;
  const char* when;
  std::int64_t hold_s;
};
// Windows 30s..1h over the five metrics; (temp_c, 1m), (pressure_bar, 2m) and
// (compressor_start, 1h) are each shared by two rules.
constexpr std::array<RuleSpec, 10> kRules = {{
    {"overheat", "avg(temp_c, 1m) > 8", 30},
    {"temp_peak", "max(temp_c, 1m) > 11", 0},
    {"pressure_low", "min(pressure_bar, 2m) < 1.5", 0},
    {"pressure_high", "avg(pressure_bar, 2m) > 6", 60},
    {"energy_flat", "rate(energy_kwh, 1h) <= 0", 600},
    {"door_open", "last(door_open, 30s) == 1", 300},
    {"short_cycling", "count(compressor_start, 1h) >= 12", 0},
    {"warm_15m", "avg(temp_c, 15m) > 7.5", 600},
    {"compressor_busy", "max(compressor_start, 1h) > 0", 0},
    {"temp_rising", "rate(temp_c, 5m) > 0.01", 120},
}};

// n rules: the ten above, then variants of them with longer windows (and new names).
Profile make_profile(int n) {
  Profile p;
  p.class_name = "chiller";
  for (int i = 0; i < n; ++i) {
    const RuleSpec& s = kRules[static_cast<std::size_t>(i) % kRules.size()];
    std::string when = s.when;
    std::string name = s.name;
    if (const int round = i / static_cast<int>(kRules.size()); round > 0) {
      // "avg(temp_c, 1m) > 8" -> "avg(temp_c, 1m1s) > 8": a window of its own.
      when.insert(when.find(')'), std::to_string(round) + "s");
      name += "_" + std::to_string(round);
    }
    auto c = xrm::health::parse_condition(when);
    if (!c) {
      std::fprintf(stderr, "bad rule %s: %s\n", when.c_str(), c.status().to_string().c_str());
      std::exit(1);
    }
    Rule r;
    r.name = name;
    r.when = when;
    r.condition = *c;
    r.hold = std::chrono::seconds(s.hold_s);
    p.rules.push_back(std::move(r));
  }
  return p;
}

long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

double ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

// Values per metric, drawn once: temperatures around 7.5, pressures 1..7, door mostly closed.
// energy_kwh is a per-device counter computed in the loop; compressor_start is an event (1).
std::vector<std::vector<double>> draw_values(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> temp(7.5, 1.5);
  std::uniform_real_distribution<double> pressure(1.0, 7.0);
  std::bernoulli_distribution door(0.05);
  std::vector<std::vector<double>> v(kMetrics.size(), std::vector<double>(kValueTable));
  for (std::size_t i = 0; i < kValueTable; ++i) {
    v[0][i] = temp(rng);
    v[1][i] = pressure(rng);
    v[2][i] = 0;
    v[3][i] = door(rng) ? 1 : 0;
    v[4][i] = 1;
  }
  return v;
}

// The simulation's loop structure, shared by the rule engine and the baseline so both see the
// same readings in the same order. feed(device, metric, at_ms, value) per reading and tick(now_ms)
// at the end of each simulated second; stops after `readings`.
template <typename Feed, typename Tick>
std::uint64_t simulate(int devices, std::uint64_t readings, const std::vector<std::vector<double>>& values, Feed&& feed,
                       Tick&& tick) {
  // first_device[k]: the first device reporting in second k of a period (device order = time order).
  // On the stack: the simulation itself allocates nothing, so what is counted is the engine's.
  std::array<int, kSecondsPerPeriod + 1> first_device;
  first_device.fill(devices);
  for (int d = devices - 1; d >= 0; --d) {
    first_device[static_cast<std::size_t>(static_cast<std::int64_t>(d) * kSecondsPerPeriod / devices)] = d;
  }
  for (int k = kSecondsPerPeriod - 1; k >= 0; --k) {
    first_device[static_cast<std::size_t>(k)] =
        std::min(first_device[static_cast<std::size_t>(k)], first_device[static_cast<std::size_t>(k) + 1]);
  }
  std::uint64_t fed = 0;
  for (std::int64_t period = 0; fed < readings; ++period) {
    for (int k = 0; k < kSecondsPerPeriod && fed < readings; ++k) {
      for (int d = first_device[static_cast<std::size_t>(k)]; d < first_device[static_cast<std::size_t>(k) + 1]; ++d) {
        const std::int64_t at = kT0 + period * kPeriodMs + static_cast<std::int64_t>(d) * kPeriodMs / devices;
        for (std::size_t m = 0; m < kMetrics.size() && fed < readings; ++m) {
          double v = values[m][(fed * 7919) & (kValueTable - 1)];
          if (m == 2) v = static_cast<double>(d) + static_cast<double>(period) * 0.01;  // energy counter
          feed(d, m, at, v);
          ++fed;
        }
      }
      tick(kT0 + period * kPeriodMs + (k + 1) * 1000);
    }
  }
  return fed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"xrm-bench-rules: threshold rules over sliding windows, readings/s per core, against a baseline"};
  int devices = 10000;
  int rules = 10;
  std::uint64_t readings = 5'000'000;
  std::uint64_t seed = 1;
  cli.add_option("--devices", devices, "Devices, each with its own RuleState")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cli.add_option("--rules", rules, "Rules in the profile (10 distinct; more are variants with their own windows)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cli.add_option("--readings", readings, "Readings fed in total")
      ->capture_default_str()
      ->check(CLI::Range(1ULL, 1'000'000'000ULL));
  cli.add_option("--seed", seed, "Seed of the values")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  const Profile profile = make_profile(rules);
  const RuleSet set(profile);
  std::vector<std::uint64_t> rules_per_metric(kMetrics.size(), 0);
  for (const Rule& r : profile.rules) {
    for (std::size_t m = 0; m < kMetrics.size(); ++m) {
      if (r.condition.metric == kMetrics[m]) ++rules_per_metric[m];
    }
  }
  const auto values = draw_values(seed);

  std::printf("xrm-bench-rules: %d devices x %d rules over %zu metrics, %llu readings, seed %llu\n", devices, rules,
              kMetrics.size(), static_cast<unsigned long long>(readings), static_cast<unsigned long long>(seed));
  std::printf(
      "each device reports every metric every %llds of simulated time; evaluate() for every device once per "
      "simulated second\n",
      static_cast<long long>(kPeriodMs / 1000));
  for (const Rule& r : profile.rules) {
    std::printf("  %-18s %-36s for %s\n", r.name.c_str(), r.when.c_str(), xrm::format_duration(r.hold).c_str());
    if (r.name == kRules.back().name && rules > static_cast<int>(kRules.size())) {
      std::printf("  ... and %d variants\n", rules - static_cast<int>(kRules.size()));
      break;
    }
  }

  const long rss_before = rss_kb();
  std::vector<RuleState> states;
  states.reserve(static_cast<std::size_t>(devices));
  for (int d = 0; d < devices; ++d) states.emplace_back(set);
  const long rss_states = rss_kb();

  // The rule engine. The first report of each device allocates its windows' buckets; what comes
  // after must not allocate.
  double add_ns = 0;
  double eval_ns = 0;
  std::uint64_t eval_calls = 0;
  std::uint64_t rule_updates = 0;
  std::uint64_t allocations_warm = 0;   // in add(), from each device's second report on
  std::uint64_t allocations_first = 0;  // in add(), first reports
  std::uint64_t counting = 0;           // rules counting at the last tick (keeps the work observable)
  const std::uint64_t first_round = static_cast<std::uint64_t>(devices) * kMetrics.size();
  std::uint64_t fed_so_far = 0;
  Clock::time_point phase_start = Clock::now();
  std::uint64_t allocs_at_phase = g_allocations.load();
  auto close_add_phase = [&]() {
    const Clock::time_point now = Clock::now();
    add_ns += ns_between(phase_start, now);
    const std::uint64_t a = g_allocations.load() - allocs_at_phase;
    (fed_so_far <= first_round ? allocations_first : allocations_warm) += a;
  };
  const std::uint64_t fed = simulate(
      devices, readings, values,
      [&](int d, std::size_t m, std::int64_t at, double v) {
        states[static_cast<std::size_t>(d)].add(set, kMetrics[m], at, v);
        rule_updates += rules_per_metric[m];
        ++fed_so_far;
      },
      [&](std::int64_t now) {
        close_add_phase();
        const Clock::time_point t0 = Clock::now();
        for (RuleState& s : states) s.evaluate(set, now);
        eval_ns += ns_between(t0, Clock::now());
        eval_calls += states.size();
        phase_start = Clock::now();
        allocs_at_phase = g_allocations.load();
      });
  close_add_phase();
  for (const RuleState& s : states) {
    for (const auto& st : s.status()) counting += st.counting ? 1 : 0;
  }
  const long rss_after = rss_kb();
  std::size_t heap = 0;
  for (const RuleState& s : states) heap += s.heap_bytes();

  // Baseline: the same loops, each value summed into one double per device. It takes
  // milliseconds, so it runs kBaselineRuns times and the median counts.
  constexpr int kBaselineRuns = 5;
  std::vector<double> sums(static_cast<std::size_t>(devices), 0.0);
  std::vector<double> base_runs;
  for (int run = 0; run < kBaselineRuns; ++run) {
    double ns = 0;
    phase_start = Clock::now();
    simulate(
        devices, readings, values,
        [&](int d, std::size_t, std::int64_t, double v) { sums[static_cast<std::size_t>(d)] += v; },
        [&](std::int64_t) {
          ns += ns_between(phase_start, Clock::now());
          phase_start = Clock::now();
        });
    ns += ns_between(phase_start, Clock::now());
    base_runs.push_back(ns);
  }
  std::sort(base_runs.begin(), base_runs.end());
  const double base_ns = base_runs[kBaselineRuns / 2];
  double checksum = 0;
  for (double s : sums) checksum += s;

  const double n = static_cast<double>(fed);
  std::printf(
      "\nadd():      %llu readings in %.1f ms: %.0f readings/s on one core, %.1f ns/reading, "
      "%.1f ns/rule-update (%.2f rule updates/reading)\n",
      static_cast<unsigned long long>(fed), add_ns / 1e6, n / (add_ns / 1e9), add_ns / n,
      add_ns / static_cast<double>(rule_updates), static_cast<double>(rule_updates) / n);
  std::printf(
      "baseline:   the same loops summing each value into one double per device: %.1f ms, %.2f ns/reading "
      "(median of %d runs, %.1f..%.1f ms; checksum %.6g)\n",
      base_ns / 1e6, base_ns / n, kBaselineRuns, base_runs.front() / 1e6, base_runs.back() / 1e6, checksum);
  std::printf("ratio:      add() takes %.1fx the baseline per reading\n", add_ns / base_ns);
  std::printf(
      "evaluate(): %llu calls in %.1f ms: %.1f ns/device (%d rules each), %.1f ns/rule; %llu rules counting "
      "at the end\n",
      static_cast<unsigned long long>(eval_calls), eval_ns / 1e6, eval_ns / static_cast<double>(eval_calls), rules,
      eval_ns / static_cast<double>(eval_calls) / rules, static_cast<unsigned long long>(counting));
  std::printf("heap allocations in add(): %llu during the devices' first reports (window buckets), %llu after\n",
              static_cast<unsigned long long>(allocations_first), static_cast<unsigned long long>(allocations_warm));
  std::printf(
      "memory:     RuleState::heap_bytes %.0f bytes/device after the run (+ sizeof(RuleState) %zu, "
      "sizeof(Window) %zu)\n",
      static_cast<double>(heap) / devices, sizeof(RuleState), sizeof(xrm::health::Window));
  std::printf(
      "RSS:        %ld kB before the states, %ld kB with empty states, %ld kB after the run "
      "(%.0f bytes/device over the empty process)\n",
      rss_before, rss_states, rss_after, static_cast<double>(rss_after - rss_before) * 1024.0 / devices);

  const std::string shape = std::to_string(devices) + " devices x " + std::to_string(rules) + " rules";
  xrm::bench::report({.name = "rules.readings_per_s",
                      .label = "rule engine: readings/s through RuleState::add() on one core (" + shape + ")",
                      .value = n / (add_ns / 1e9),
                      .unit = "readings/s",
                      .baseline = n / (base_ns / 1e9),
                      .baseline_label = "the same loops summing each value into one double per device",
                      .ratio = base_ns / add_ns,
                      .target = xrm::bench::Target{">=", 200000}});
  xrm::bench::report({.name = "rules.evaluate_per_device",
                      .label = "rule engine: evaluate() of one device's rules (" + shape + ")",
                      .value = eval_ns / static_cast<double>(eval_calls) / 1000,
                      .unit = "us"});
  xrm::bench::report({.name = "rules.memory_per_device",
                      .label = "rule engine: heap per device (" + shape + ")",
                      .value = static_cast<double>(heap) / devices + static_cast<double>(sizeof(RuleState)),
                      .unit = "bytes"});
  return 0;
}
