#pragma once
// A devsim scenario: what a fleet of simulated devices does, read from a TOML file
// (docs/devsim.md describes every key). Pure data; the Engine (engine.hpp) plays it.
// All times are milliseconds from the scenario's start.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xrm::devsim {

// One problem in a scenario file. to_string(): "FILE:LINE:KEY: message" (":LINE" left out when 0,
// ":KEY" when empty), the same shape as the gateway's configuration errors.
struct ScenarioError {
  std::string file;
  int line = 0;
  std::string key;  // "group[2].behaviour[1].after", "duration", or empty for a syntax error
  std::string message;
  std::string to_string() const;
};

// A metric every telemetry message carries: base + drift + noise * N(0, 1).
struct MetricSpec {
  std::string name;
  double base = 0;
  double noise = 0;  // standard deviation, >= 0
};

enum class BehaviourKind { kNormal, kDrift, kFlaky, kSilent, kFault, kService, kRecurringFault };

// One entry of a group's `behaviour` list. Only the fields of its kind are meaningful; unset
// optional times are -1.
struct Behaviour {
  BehaviourKind kind = BehaviourKind::kNormal;
  int line = 0;
  std::int64_t at_ms = 0;     // normal, fault, service: when it happens
  std::int64_t after_ms = 0;  // drift, flaky, silent: when it starts; recurring_fault: delay after service_done
  std::int64_t over_ms = 0;   // drift: how long the ramp takes (0: a step)
  std::int64_t for_ms = -1;   // silent: how long (-1: to the end)
  std::int64_t request_after_ms = -1;  // fault, recurring_fault: service_request this long after the fault (-1: none)
  std::int64_t takes_ms = 0;           // service: service_start to service_done
  std::int64_t rate_after_ms = 0;      // service: service_done to satisfaction
  std::string metric;                  // drift
  double target = 0;                   // drift
  double share = 0;                    // flaky: 0 to 1 of telemetry messages dropped
  std::string code;                    // fault, recurring_fault
  std::string technician;              // service (defaults to the group's technician)
  std::optional<double> score;         // service: the satisfaction score; none: no satisfaction event
  int times = 1;                       // recurring_fault: after how many service_done events it returns
};

// Devices that share a class, a telemetry period, metrics, behaviours and stakeholders.
struct Group {
  int line = 0;
  std::vector<std::string> devices;  // from `devices`, or `count` names PREFIX1..PREFIXN
  std::string device_class;          // `class`: the gateway profile class
  std::int64_t interval_ms = 10'000;
  std::vector<MetricSpec> metrics;    // in file order
  std::vector<Behaviour> behaviours;  // in file order
  // Stakeholders, for provisioning (xrmctl provision --owner ... --model ...); empty: not set.
  std::string owner;
  std::string site;
  std::string technician;
  std::string supplier;
  std::string model;
};

struct Scenario {
  std::string source;  // file name, for messages
  std::uint64_t seed = 1;
  std::int64_t duration_ms = 60'000;
  std::vector<Group> groups;

  std::size_t device_count() const;
};

// Reads a scenario. Every problem is reported into `errors` (cleared first), sorted by line; the
// returned scenario is only meaningful when `errors` is empty.
Scenario load_scenario_string(const std::string& text, const std::string& source_name,
                              std::vector<ScenarioError>& errors);
Scenario load_scenario_file(const std::string& path, std::vector<ScenarioError>& errors);

std::string_view to_string(BehaviourKind kind);

}  // namespace xrm::devsim
