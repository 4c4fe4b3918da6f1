#pragma once
// Stakeholder scorecards (docs/scorecards.md) in the running gateway: gathers what the computation
// (xrm/scorecard/scorecard.hpp, pure) needs from the registry (devices, their stakeholders now and
// their relationship history), the health engine (scores, silence, open alerts), the profiles (KPI
// targets) and the service history (table service_events, written by ingest with each event's
// record). Computes on demand (`xrmctl rank`) and, every scorecard.interval, writes one scorecard
// record (bulk) per stakeholder of every role. Io thread only.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/health/engine.hpp"
#include "xrm/health/profiles.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/registry.hpp"
#include "xrm/scorecard/scorecard.hpp"
#include "xrm/store/database.hpp"

namespace xrm::app {

struct ScorecardSettings {
  std::string gateway_id;
  std::chrono::milliseconds period{30LL * 86'400'000};      // scorecard.period
  std::chrono::milliseconds retention{400LL * 86'400'000};  // scorecard.retention
};

struct ScorecardStats {
  std::uint64_t runs = 0;     // periodic runs
  std::uint64_t records = 0;  // scorecard records written
  std::int64_t last_run_ms = 0;
  std::uint64_t pruned = 0;   // service history rows deleted as older than the retention
};

class Scorecards {
 public:
  // The profile of a device class, or nullptr (its KPI targets; defaults when none).
  using ProfileOf = std::function<const health::Profile*(std::string_view device_class)>;

  Scorecards(store::Database& db, const registry::Registry& registry, const health::HealthEngine& health,
             outbox::Outbox& outbox, const Clock& clock, ProfileOf profile_of, ScorecardSettings settings);

  // Every stakeholder of `role` over the last `period`, ranked (scorecard::compute).
  Result<std::vector<scorecard::Scorecard>> compute(scorecard::Role role, std::chrono::milliseconds period);

  // The periodic run: every role over scorecard.period, one record per stakeholder, all in one
  // transaction; then the service history older than the retention is deleted.
  Status publish();

  const ScorecardStats& stats() const { return stats_; }
  std::chrono::milliseconds period() const { return settings_.period; }

 private:
  Result<std::vector<scorecard::DeviceFacts>> device_facts();
  Result<std::vector<scorecard::ServiceEvent>> service_events(std::int64_t since_ms);

  store::Database& db_;
  const registry::Registry& registry_;
  const health::HealthEngine& health_;
  outbox::Outbox& outbox_;
  const Clock& clock_;
  ProfileOf profile_of_;
  ScorecardSettings settings_;
  ScorecardStats stats_;
};

// The record of one scorecard (kind SCORECARD; device empty; only the role's stakeholder set; span
// = the period ending at now_ms).
xrm::v1::InteractionRecord scorecard_record(const scorecard::Scorecard& card, std::int64_t period_ms,
                                            std::int64_t now_ms);
xrm::v1::StakeholderRole to_proto(scorecard::Role role);

}  // namespace xrm::app
