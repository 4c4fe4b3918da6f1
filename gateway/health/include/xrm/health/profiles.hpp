#pragma once
// Profiles: the device classes of the profiles file (config key health.profiles), each with its
// report cadence, score bands, escalation, KPI factor weights and threshold rules. This is only
// the loaded, validated description; the health engine that scores devices builds on it.
// Every key and default is documented in docs/rules.md; the member initializers below are those
// defaults.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xrm/common/status.hpp"
#include "xrm/config/config.hpp"

namespace xrm::health {

enum class RuleFunc { kAvg, kMin, kMax, kLast, kCount, kRate };
enum class RuleOp { kGt, kGe, kLt, kLe, kEq, kNe };
// What a band asks for. The values match EscalationAction in common/proto/xrm.proto; kNone is
// that enum's UNSPECIFIED and means no alert is opened at all. kCommand sends a device command
// (written "command:NAME" in the file) and records it as an alert.
enum class Escalation { kNone = 0, kAlert = 1, kServiceRequest = 2, kCommand = 3 };

// A rule's `when`, "FUNC(METRIC, WINDOW) OP NUMBER", e.g. avg(temp_c, 1m) > 8.
struct RuleCondition {
  RuleFunc func = RuleFunc::kAvg;
  std::string metric;                  // 1 to 64 characters of A-Z a-z 0-9 _ . -
  std::chrono::milliseconds window{};  // greater than zero
  RuleOp op = RuleOp::kGt;
  double threshold = 0;  // finite
};

struct Rule {
  std::string name;                   // an id, unique within its profile
  std::string when;                   // as spelled in the file
  RuleCondition condition;            // `when`, parsed
  std::chrono::milliseconds hold{0};  // `for`: how long the condition must hold before it counts
  double penalty = 20;                // points off the score while it counts, 0 to 100
  int line = 0;                       // of its [[profile.rule]] header
};

// The most points each built-in KPI factor can take off the score of 100; each 0 to 100. How
// much of its weight a factor takes at a given moment is the health engine's business.
struct Weights {
  double silence = 30;       // reports late or missing against expected_interval
  double gaps = 20;          // messages lost: holes in the device's sequence numbers
  double response = 10;      // slow answers: p90 time from a device command to its result
  double recurrence = 20;    // a fault code that returns soon after service_done
  double satisfaction = 20;  // service requests not closed by service_done and a good rating in time
};

// The targets the KPI factors measure against (docs/rules.md gives each formula).
struct KpiTargets {
  // Recent window of the gaps factor. Absent from the file: 10 x expected_interval, at least 1m.
  std::chrono::milliseconds gaps_window{600'000};
  double gaps_full = 20;  // percent of expected messages missing at which gaps takes its whole weight
  // p90 of command results at or under this costs nothing; at twice this the whole weight.
  std::chrono::milliseconds response_target{5'000};
  // A fault code seen before a service_done that comes back within this is a recurrence; a
  // recurrence counts this long.
  std::chrono::milliseconds recurrence_window{30LL * 24 * 3600 * 1000};
  double satisfaction_min = 4;  // a satisfaction score at or above this is a satisfied customer
  // A service request must see service_done and a satisfaction >= satisfaction_min within this.
  std::chrono::milliseconds sla{48LL * 3600 * 1000};
  // Service requests opened within this period count for the satisfaction factor.
  std::chrono::milliseconds period{30LL * 24 * 3600 * 1000};
};

// Live telemetry to central (`live` in the profile; docs/rules.md, "Live telemetry"): readings of
// the class's devices forwarded on xrm/v1/gw/{gateway}/tele/{device} at QoS 0, rate-limited and
// with a deadband per metric. Off unless the file sets `live.interval`.
struct LiveSettings {
  // At least this long between two live messages of one device; zero: live telemetry is off.
  std::chrono::milliseconds interval{0};
  // Heartbeat: a message at least this often even when nothing moved past its deadband (carrying
  // every selected metric). Zero: no heartbeat. Never shorter than interval.
  std::chrono::milliseconds max_interval{0};
  // A metric goes out only when it moved by more than its deadband since the value last sent for
  // it; metrics not in `deadbands` use default_deadband. 0 means any change. All >= 0, finite.
  double default_deadband = 0;
  std::vector<std::pair<std::string, double>> deadbands;  // metric -> deadband, in file order
  // Only these metrics are forwarded; empty: every metric the device sends.
  std::vector<std::string> metrics;
  int line = 0;  // of the `live` key or [profile.live] header; 0 when absent

  bool enabled() const { return interval.count() > 0; }
  double deadband_of(std::string_view metric) const;
  bool selects(std::string_view metric) const;
};

struct Profile {
  std::string class_name;                               // `class`, required: an id, unique in the file
  std::chrono::milliseconds expected_interval{60'000};  // how often a healthy device reports
  // Silent this long: offline. Absent from the file: 6 x expected_interval. Never shorter than
  // expected_interval.
  std::chrono::milliseconds offline_after{360'000};
  double healthy_band = 80;   // score >= this: healthy
  double critical_band = 50;  // score < this: critical; in between degraded. critical <= healthy
  double hysteresis = 5;      // score points above a better band's edge before returning to it, 0 to 100
  // A new band must hold this long before the device's band changes (noise cannot flap alerts).
  std::chrono::milliseconds dwell{30'000};
  Escalation on_degraded = Escalation::kNone;
  Escalation on_critical = Escalation::kAlert;
  std::string degraded_command;  // with kCommand: the command's name
  std::string critical_command;
  Weights weights;
  KpiTargets kpi;
  std::vector<Rule> rules;  // in file order
  LiveSettings live;
  int line = 0;             // of its [[profile]] header
};

struct Profiles {
  std::string source_file;
  std::vector<Profile> profiles;  // in file order

  // The profile of that class; nullptr if there is none. Valid while this Profiles lives unchanged.
  const Profile* find(std::string_view class_name) const;
  std::vector<std::string> class_names() const;  // in file order
};

// Parses a `when` expression. Whitespace is allowed between the parts. A failure's message says
// what is wrong and where: "column N: ..." (1-based, in text).
Result<RuleCondition> parse_condition(std::string_view text);

// Loads and validates a profiles file, collecting every problem rather than the first, each as
// "FILE:LINE:profile[CLASS].KEY: message" (rules: "...profile[CLASS].rule[NAME].KEY: ..."; a
// profile or rule without a usable class or name is named by position, "profile[#2]"), sorted by
// line. An empty file is valid (no classes); a missing or unreadable one is an error naming the
// path. `errors` is cleared first; when it is not empty on return, the result has no profiles.
Profiles load_profiles_file(const std::string& path, std::vector<config::ConfigError>& errors);
Profiles load_profiles_string(const std::string& text, const std::string& source_name,
                              std::vector<config::ConfigError>& errors);

// The spelling in the file: "avg", ">=", "service_request".
std::string_view to_string(RuleFunc func);
std::string_view to_string(RuleOp op);
std::string_view to_string(Escalation escalation);

}  // namespace xrm::health
