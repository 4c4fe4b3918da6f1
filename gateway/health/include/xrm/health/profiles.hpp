#pragma once
// Profiles: the device classes of the profiles file (config key health.profiles), each with its
// report cadence, score bands, escalation, KPI factor weights and threshold rules. This is only
// the loaded, validated description; the health engine that scores devices builds on it.
// Every key and default is documented in docs/rules.md; the member initializers below are those
// defaults.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/status.hpp"
#include "xrm/config/config.hpp"

namespace xrm::health {

enum class RuleFunc { kAvg, kMin, kMax, kLast, kCount, kRate };
enum class RuleOp { kGt, kGe, kLt, kLe, kEq, kNe };
// What a band asks for. The values match EscalationAction in common/proto/xrm.proto; kNone is
// that enum's UNSPECIFIED and means no alert is opened at all.
enum class Escalation { kNone = 0, kAlert = 1, kServiceRequest = 2 };

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
  double response = 10;      // slow service: time from service_request to the technician's work
  double recurrence = 20;    // faults that come back after fault_cleared or service_done
  double satisfaction = 20;  // low customer ratings (satisfaction events)
};

struct Profile {
  std::string class_name;                               // `class`, required: an id, unique in the file
  std::chrono::milliseconds expected_interval{60'000};  // how often a healthy device reports
  // Silent this long: offline. Absent from the file: 6 x expected_interval. Never shorter than
  // expected_interval.
  std::chrono::milliseconds offline_after{360'000};
  double healthy_band = 80;   // score >= this: healthy
  double critical_band = 50;  // score < this: critical; in between degraded. critical <= healthy
  double hysteresis = 5;      // score points past a band edge before the band changes, 0 to 100
  Escalation on_degraded = Escalation::kNone;
  Escalation on_critical = Escalation::kAlert;
  Weights weights;
  std::vector<Rule> rules;  // in file order
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
