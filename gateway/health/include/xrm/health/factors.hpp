#pragma once
// The five built-in KPI factors of a device's health, named as in the contract: silence, gaps,
// response, recurrence, satisfaction. KpiState keeps what they need, bounded whatever the
// traffic; evaluate() turns it into penalties against the profile's weights and targets. The
// formulas are documented in docs/rules.md ("KPI factors"); each function below names its part.
//
// Times are ms since the Unix epoch as the gateway saw them; callers never pass a time older than
// one passed before (the engine clamps a wall clock that stepped back). Plain value; no threads.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/health/profiles.hpp"
#include "xrm/proto/xrm.pb.h"

namespace xrm::health::v1 {
class KpiData;
}

namespace xrm::health {

// One line of a score's explanation: a KPI factor or a threshold rule.
struct Factor {
  std::string name;             // "silence", ..., or the rule's name
  double penalty = 0;           // points off the score now, 0 to its weight (or the rule's penalty)
  std::optional<double> value;  // the measured figure behind it, in `unit`
  std::string unit;             // "s", "%", "ms", "returns", "% failed", or the metric's FUNC
  std::string why;              // one sentence with the numbers
  bool rule = false;            // a threshold rule rather than a KPI factor
};

enum class KpiFactor { kSilence, kGaps, kResponse, kRecurrence, kSatisfaction };
inline constexpr std::size_t kKpiFactors = 5;
std::string_view to_string(KpiFactor f);

class KpiState {
 public:
  static constexpr std::size_t kGapBuckets = 10;
  static constexpr std::size_t kMaxResponseSamples = 20;
  static constexpr std::size_t kMaxPendingCommands = 16;
  static constexpr std::size_t kMaxFaultCodes = 16;
  static constexpr std::size_t kMaxReturns = 8;
  static constexpr std::size_t kMaxRequests = 16;
  // An unanswered command counts as a response time of its age once older than this many targets,
  // and is then forgotten.
  static constexpr int kResponseTimeoutTargets = 4;

  // A message carrying data (telemetry with a metric, a service event): ends a silence.
  void note_data(std::int64_t at_ms);
  // The device's telemetry sequence figures after a message (ingest's SequenceCounters, cumulative
  // since the gateway started): the change since the last call goes into the gaps window.
  void note_sequence(std::uint64_t received, std::uint64_t duplicates, std::uint64_t missed, std::int64_t at_ms,
                     const KpiTargets& targets);
  // The gateway sent the device a command / received a result for it (unknown ids are ignored;
  // false then).
  void note_command_sent(const std::string& request_id, std::int64_t at_ms);
  bool note_command_result(std::string_view request_id, std::int64_t at_ms);
  // A recorded service event (fault, service_request, service_done, satisfaction; others are
  // ignored).
  void note_event(const xrm::v1::ServiceEvent& event, std::int64_t at_ms, const KpiTargets& targets);

  // Expires what is older than the profile's windows (pending commands become timeouts). Called
  // by the engine's tick before evaluate().
  void advance(std::int64_t now_ms, const KpiTargets& targets);

  // The penalty of each factor (indexed by KpiFactor) at now_ms: cheap, no text.
  void penalties(const Profile& profile, std::int64_t now_ms, double out[kKpiFactors]) const;
  // The factor with its value and sentence, for explanations (show, records, snapshots).
  Factor explain(KpiFactor f, const Profile& profile, std::int64_t now_ms) const;
  // All five, in KpiFactor order, appended to `out` (the penalties computed once).
  void explain_all(const Profile& profile, std::int64_t now_ms, std::vector<Factor>& out) const;

  std::optional<std::int64_t> last_data_ms() const { return last_data_ms_; }
  // When the gateway has no data time yet (after a restart), the registry's last seen.
  void seed_last_data(std::int64_t at_ms) {
    if (!last_data_ms_) last_data_ms_ = at_ms;
  }
  // Silence now, in ms (0 before any data).
  std::int64_t silence_ms(std::int64_t now_ms) const;

  void save(v1::KpiData& out) const;
  void restore(const v1::KpiData& in);

 private:
  struct GapBucket {
    std::int64_t index = 0;  // at_ms / bucket width
    std::uint64_t expected = 0;
    std::uint64_t missed = 0;
  };
  struct Pending {
    std::string request_id;
    std::int64_t sent_ms = 0;
  };
  struct Return {
    std::string code;
    std::int64_t at_ms = 0;
    std::int64_t service_ms = 0;
  };
  struct Request {
    std::string request_id;
    std::int64_t opened_ms = 0;
    std::int64_t done_ms = 0;             // 0: not done
    std::optional<double> score;          // the satisfaction given for it
    std::int64_t score_ms = 0;
  };
  enum class Outcome { kPending, kSatisfied, kFailed };

  // explain() with the factor's penalty already computed.
  Factor explain_with(KpiFactor f, const Profile& profile, std::int64_t now_ms, double penalty) const;

  // Gaps: expected and missed over the window, from the buckets still inside it.
  void gap_totals(const KpiTargets& t, std::int64_t now_ms, std::uint64_t& expected, std::uint64_t& missed) const;
  // Response: p90 of the samples and of pending commands older than the target; nullopt without any.
  std::optional<std::int64_t> response_p90(const KpiTargets& t, std::int64_t now_ms, std::size_t& samples) const;
  std::size_t returns_within(const KpiTargets& t, std::int64_t now_ms) const;
  Outcome outcome(const Request& r, const KpiTargets& t, std::int64_t now_ms) const;
  void request_counts(const KpiTargets& t, std::int64_t now_ms, std::size_t& satisfied, std::size_t& failed,
                      std::size_t& pending) const;
  Request* find_request(std::string_view request_id, bool want_done);

  std::optional<std::int64_t> last_data_ms_;
  // Gaps. The cumulative counters last seen (not saved: ingest's restart with the gateway).
  std::uint64_t seen_expected_ = 0;
  std::uint64_t seen_missed_ = 0;
  std::vector<GapBucket> gap_buckets_;  // ring by index % kGapBuckets, at most kGapBuckets
  // Response.
  std::vector<std::int64_t> response_samples_;  // ms, newest last
  std::vector<Pending> pending_;
  // Recurrence.
  std::vector<std::pair<std::string, std::int64_t>> fault_codes_;  // code -> last fault time
  std::int64_t last_service_done_ms_ = 0;
  std::vector<std::string> codes_at_service_;  // faults seen before the last service_done
  std::vector<Return> returns_;
  // Satisfaction.
  std::vector<Request> requests_;
};

// Formats ms for explanations, rounded to what a person reads: "850ms", "42s", "12m", "3h", "2d".
std::string readable_duration(std::int64_t ms);
// A number to at most 3 decimals, no trailing zeros: "9.25", "40", "0.333".
std::string readable_number(double v);

}  // namespace xrm::health
