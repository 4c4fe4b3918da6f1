// Stakeholder scorecards (gateway/scorecard): how long one `xrmctl rank` computation takes for a
// large fleet, per role, next to a baseline measured in the same run (one pass over the same
// events and histories that only counts them into a hash map per stakeholder), so the ratio is
// comparable across machines. Prints figures; asserts nothing. No broker, no daemon, no database
// (the gateway adds the SQLite reads of the history and the service events).
//
// Fleet: DEVICES devices, 20 technicians, 5 suppliers, 10 models, 50 owners, 20 sites; every device
// relinked to another technician once in the period and moved through degraded and back twice;
// EVENTS_PER_DEVICE service events each over the 30-day period (fault, request, done, rating,
// sometimes a returning fault).
#include <CLI/CLI.hpp>

#include "bench_report.hpp"

#include <algorithm>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "xrm/scorecard/scorecard.hpp"

namespace {

using SteadyClock = std::chrono::steady_clock;
using xrm::scorecard::DeviceFacts;
using xrm::scorecard::Role;
using xrm::scorecard::ServiceEvent;

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kPeriod = 30 * kDay;

struct Fleet {
  std::vector<DeviceFacts> devices;
  std::vector<ServiceEvent> events;
};

Fleet make_fleet(std::size_t n, std::size_t events_per_device, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
  Fleet f;
  f.devices.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    DeviceFacts d;
    d.id = "dev-" + std::to_string(i);
    d.device_class = "chiller";
    d.links.owner = "owner-" + std::to_string(pick(50));
    d.links.site = "site-" + std::to_string(pick(20));
    d.links.technician = "tech-" + std::to_string(pick(20));
    d.links.supplier = "supplier-" + std::to_string(pick(5));
    d.links.model = "model-" + std::to_string(pick(10));
    d.firmware = "fw-" + std::to_string(pick(3));
    d.created_ms = kNow - 60 * kDay;
    d.lifecycle = "active";
    d.score = 60 + static_cast<double>(pick(40));
    d.silent_beyond_profile = pick(20) == 0;
    d.open_alerts = pick(10) == 0 ? 1 : 0;
    const std::string old_tech = "tech-" + std::to_string(pick(20));
    d.history.push_back({kNow - 50 * kDay, "lifecycle", "provisioned", "active", "device"});
    d.history.push_back({kNow - 15 * kDay, "technician", old_tech, d.links.technician, "xrmctl"});
    for (int k = 0; k < 2; ++k) {
      const std::int64_t at = kNow - static_cast<std::int64_t>(pick(28) + 1) * kDay;
      d.history.push_back({at, "lifecycle", "active", "degraded", "gateway:health"});
      d.history.push_back({at + kDay / 4, "lifecycle", "degraded", "active", "gateway:health"});
    }
    std::sort(d.history.begin(), d.history.end(), [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
    for (std::size_t e = 0; e < events_per_device; e += 4) {
      const std::int64_t at = kNow - kPeriod + static_cast<std::int64_t>(pick(28)) * kDay;
      const std::string req = d.id + "-r" + std::to_string(e);
      f.events.push_back({d.id, at, "fault", "E" + std::to_string(pick(3)), "", "", std::nullopt});
      f.events.push_back({d.id, at + 1000, "service_request", "", "", req, std::nullopt});
      f.events.push_back({d.id, at + 3'600'000, "service_done", "", "", req, std::nullopt});
      f.events.push_back({d.id, at + 7'200'000, "satisfaction", "", "", req, static_cast<double>(1 + pick(5))});
    }
    f.devices.push_back(std::move(d));
  }
  std::sort(f.events.begin(), f.events.end(), [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
  return f;
}

// The baseline: one pass over the same inputs that counts events and history entries per
// stakeholder of the role (the least any scorecard computation must do).
std::size_t baseline(const Fleet& f, Role role) {
  std::unordered_map<std::string, std::size_t> per;
  std::unordered_map<std::string, const DeviceFacts*> by_id;
  for (const auto& d : f.devices) {
    by_id.emplace(d.id, &d);
    const std::string& who = role == Role::kTechnician ? d.links.technician
                             : role == Role::kSupplier ? d.links.supplier
                             : role == Role::kModel    ? d.links.model
                             : role == Role::kOwner    ? d.links.owner
                                                       : d.links.site;
    per[who] += d.history.size();
  }
  for (const auto& e : f.events) {
    const auto it = by_id.find(e.device);
    if (it != by_id.end()) ++per[it->second->links.technician];
  }
  return per.size();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t devices = 10'000;
  std::size_t events_per_device = 8;
  int rounds = 5;
  CLI::App app{"xrm-bench-scorecard: time of one scorecard computation per role against a counting baseline"};
  app.add_option("--devices", devices, "Fleet size")->capture_default_str();
  app.add_option("--events", events_per_device, "Service events per device in the period")->capture_default_str();
  app.add_option("--rounds", rounds, "Repetitions; the median is reported")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (devices == 0 || rounds < 1) {
    std::fprintf(stderr, "xrm-bench-scorecard: --devices and --rounds must be at least 1\n");
    return 2;
  }

  const Fleet fleet = make_fleet(devices, events_per_device, 42);
  std::printf("scorecards: %zu devices, %zu service events, %zu history entries per device, 30-day period, median of %d\n",
              fleet.devices.size(), fleet.events.size(), fleet.devices.front().history.size(), rounds);
  std::printf("%-11s %12s %12s %8s %10s\n", "role", "compute ms", "baseline ms", "ratio", "cards");
  for (Role role : {Role::kTechnician, Role::kSupplier, Role::kModel, Role::kOwner, Role::kSite}) {
    std::vector<double> compute_ms, base_ms;
    std::size_t cards = 0, groups = 0;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = SteadyClock::now();
      cards = xrm::scorecard::compute(role, kPeriod, kNow, fleet.devices, fleet.events).size();
      auto t1 = SteadyClock::now();
      groups = baseline(fleet, role);
      auto t2 = SteadyClock::now();
      compute_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      base_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
    const double c = median(compute_ms), b = median(base_ms);
    std::printf("%-11s %12.1f %12.1f %8.1f %10zu\n", std::string(xrm::scorecard::to_string(role)).c_str(), c, b,
                b > 0 ? c / b : 0.0, cards);
    if (groups == 0) std::printf("(baseline saw no stakeholder)\n");
    const std::string r(xrm::scorecard::to_string(role));
    xrm::bench::report({.name = "scorecard." + r,
                        .label = "scorecards by " + r + " for " + std::to_string(fleet.devices.size()) + " devices",
                        .value = c,
                        .unit = "ms",
                        .baseline = b,
                        .baseline_label = "counting the same events and history per stakeholder",
                        .ratio = b > 0 ? c / b : 0.0});
  }
  return 0;
}
