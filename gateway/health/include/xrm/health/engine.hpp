#pragma once
// The health engine: scores every device against the profile of its class and turns the score
// into decisions.
//
// - Score: 100 minus the penalties of the five KPI factors (factors.hpp) and of the threshold
//   rules that count (rules.hpp), clamped to 0..100; every score comes with its factors, each with
//   a sentence of why.
// - Bands: healthy (score >= bands.healthy), critical (< bands.critical), else degraded. A worse
//   band is the candidate as soon as the score crosses its edge; a better one only once the score
//   is `hysteresis` points past the edge. The band changes when a candidate has held for the
//   profile's `dwell` (a device's first band is taken at once). A change writes a `health` record,
//   moves the registry lifecycle (active/degraded/critical) and escalates.
// - Escalation: entering a band whose action is alert, service_request or command:NAME opens an
//   alert for the dominant factor (the cause): an `alert` record naming cause, band, action, score,
//   factors and (by its header) the device's stakeholders; a service request is addressed to the
//   technician; a command is sent to the device. One open alert per device and cause: entering
//   such a band again while it is open is a repeat, suppressed and counted (or, into a worse band,
//   recorded once more as escalated). Back in a band without action, every open alert of the
//   device clears with a clearing record.
// - Offline: silent for offline_after moves the lifecycle to offline.
// - Durable: open alerts are written with their records in one transaction; band changes with the
//   device's state; windows, timers and KPI state are snapshot to SQLite every save interval and
//   at shutdown. A restart neither re-fires nor forgets an alert; it loses at most the readings of
//   the last save interval from the windows.
// - The retained HealthSnapshot upstream: on a band change at once (as soon as the change is
//   written, not at the next tick), otherwise when the score moved by at least a point, at most
//   once per snapshot interval per device (at a tick).
//
// Runs on the io thread. Evaluation on a reading is constant work per rule; tick() evaluates
// every device (about a microsecond each) and the daemon runs it twice a second.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/health/factors.hpp"
#include "xrm/health/profiles.hpp"
#include "xrm/health/rules.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/ingest/device_traffic.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"

namespace xrm::health {

enum class Band { kUnknown = 0, kHealthy = 1, kDegraded = 2, kCritical = 3 };  // = xrm.v1.HealthBand
std::string_view to_string(Band band);

// A profile with its compiled rules; shared by the devices of its class.
struct CompiledProfile {
  explicit CompiledProfile(Profile p) : profile(std::move(p)), rules(profile) {}
  CompiledProfile(const CompiledProfile&) = delete;
  CompiledProfile& operator=(const CompiledProfile&) = delete;
  Profile profile;
  RuleSet rules;  // refers to `profile`
};

struct OpenAlert {
  std::string alert_id;  // "DEVICE/CAUSE/OPENED_MS"
  std::string device;
  std::string cause;     // the dominant factor's name when it opened
  Escalation action = Escalation::kAlert;
  Band band = Band::kUnknown;
  std::int64_t opened_ms = 0;
  std::uint64_t repeats = 0;  // times the device entered an escalating band again meanwhile
  std::string reason;         // the cause's sentence when it opened
  std::string command;        // kCommand: the command's name
  std::string request_id;     // kCommand: the request id it was sent with
  std::string assignee;       // kServiceRequest: the technician
};

struct HealthStats {
  std::uint64_t evaluations = 0;
  std::uint64_t band_changes = 0;
  std::uint64_t alerts_opened = 0;
  std::uint64_t alerts_cleared = 0;
  std::uint64_t alerts_suppressed = 0;  // repeats of an open alert
  std::uint64_t alerts_escalated = 0;
  std::uint64_t commands_sent = 0;
  std::uint64_t snapshots_published = 0;
  std::uint64_t record_errors = 0;      // records or state that could not be written
  std::uint64_t saves = 0;
  std::int64_t last_save_ms = 0;
};

struct EngineSettings {
  std::string gateway_id;
  std::chrono::milliseconds snapshot_interval{30'000};
};

class HealthEngine {
 public:
  // How long a device command sent by escalation stays valid (its expires_at_ms).
  static constexpr std::int64_t kCommandTtlMs = 60'000;
  // Snapshots published per tick at most (a burst after a restart is spread out).
  static constexpr std::size_t kSnapshotsPerTick = 200;

  // Publishes bytes on the device's command topic (QoS 1) / the retained snapshot topic of a
  // device (empty payload clears it). The snapshot sink returns false when it cannot publish now
  // (the snapshot stays due); its outcome arrives through snapshot_failed().
  using CommandSink = std::function<void(const std::string& topic, std::string payload)>;
  using SnapshotSink = std::function<bool(const std::string& device, std::string payload)>;

  // All references must outlive the engine.
  HealthEngine(store::Database& db, registry::Registry& registry, outbox::Outbox& outbox, const Clock& clock,
               EngineSettings settings);

  // Installs the profiles and reads the saved state and open alerts. Call once, before the rest.
  Status load(const Profiles& profiles);
  // Swaps the profiles (rules reload): devices keep their windows where metric and window are the
  // same, their timers where a rule's name and `when` are, and all KPI state and open alerts.
  void set_profiles(const Profiles& profiles);
  void set_settings(const EngineSettings& s) { settings_ = s; }
  void set_command_sink(CommandSink fn) { command_sink_ = std::move(fn); }
  void set_snapshot_sink(SnapshotSink fn) { snapshot_sink_ = std::move(fn); }

  // Ingest hooks (DeviceTraffic::on_telemetry / on_event / on_command_result).
  void on_telemetry(const registry::Device& device, const ingest::TelemetrySample& sample,
                    const ingest::DeviceIngest& ingest);
  void on_event(const registry::Device& device, const xrm::v1::ServiceEvent& event);
  void on_command_result(const registry::Device& device, const xrm::v1::CommandResult& result);

  // Re-evaluates every device: windows age, `for` and dwell timers end, silence grows, offline,
  // escalation; then publishes due snapshots.
  void tick();
  // The same tick in slices, so that a tick over a large fleet never holds the io thread for long
  // (10,000 devices take tens of ms; messages and their alerts wait meanwhile): tick_begin()
  // takes the devices known now, then each tick_step(max) re-evaluates at most max of them and
  // returns true while some are left; the last step publishes the due snapshots. Devices that
  // appear between steps are evaluated at the next tick. tick() is tick_begin() and one step.
  void tick_begin();
  bool tick_step(std::size_t max_devices);
  // Writes the state of every device that changed since the last save, in one transaction.
  Status save();
  // A snapshot publish failed: publish again at the next tick.
  void snapshot_failed(const std::string& device);

  // For xrmctl. The device's score now with every factor (KPI factors first, then rules), or
  // nullopt when it has none (no profile for its class, no data yet, retired).
  struct Explained {
    double score = 0;
    Band band = Band::kUnknown;
    std::optional<Band> pending_band;     // waiting for its dwell
    std::int64_t pending_since_ms = 0;
    std::int64_t band_since_ms = 0;
    std::vector<Factor> factors;
  };
  std::optional<Explained> explain(std::string_view device) const;
  // Score and band as last evaluated (cheap; for listings).
  std::optional<std::pair<double, Band>> score_of(std::string_view device) const;
  // Why a device has no score ("class boiler has no profile", "no data yet", "retired").
  std::string no_score_reason(std::string_view device) const;
  std::vector<OpenAlert> open_alerts(std::string_view device) const;  // oldest first
  std::size_t open_alert_count() const { return alerts_.size(); }
  std::map<std::string, std::size_t> count_by_band() const;
  const HealthStats& stats() const { return stats_; }

 private:
  struct DeviceState {
    const registry::Device* device = nullptr;
    std::shared_ptr<const CompiledProfile> profile;  // nullptr: no profile for its class
    std::unique_ptr<RuleState> rules;
    KpiState kpi;
    std::optional<double> score;
    Band band = Band::kUnknown;
    Band pending_band = Band::kUnknown;
    std::int64_t pending_since_ms = 0;
    std::int64_t band_since_ms = 0;
    std::int64_t clock_ms = 0;  // newest time used for this device
    bool dirty = false;         // changed since the last save
    // Snapshot publishing.
    bool snapshot_due = true;
    bool snapshot_urgent = false;
    bool snapshot_cleared = false;  // retired: the empty retained message went out
    std::int64_t snapshot_ms = 0;
    double snapshot_score = -1;
  };

  DeviceState& state_of(const registry::Device& d);
  DeviceState* find_state(std::string_view id);
  const DeviceState* find_state(std::string_view id) const;
  void bind_profile(DeviceState& st);
  std::int64_t now_for(DeviceState& st);
  bool scored(const DeviceState& st) const;
  // Computes the score (no text) and moves the band; escalates on a change.
  void evaluate(DeviceState& st, std::int64_t now_ms);
  // Score now, numbers only (no text): the message path's work.
  double compute_score(const DeviceState& st, std::int64_t now_ms) const;
  Band candidate_band(const Profile& p, Band current, double score) const;
  void change_band(DeviceState& st, Band to, std::int64_t now_ms);
  std::vector<Factor> factors_of(const DeviceState& st, std::int64_t now_ms) const;
  std::string dominant_cause(const std::vector<Factor>& factors) const;
  Status open_or_repeat(DeviceState& st, Band band, Escalation action, const std::string& command,
                        const std::vector<Factor>& factors, double score, std::int64_t now_ms);
  Status clear_alerts(DeviceState& st, const std::vector<Factor>& factors, double score, std::int64_t now_ms);
  Status write_alert_record(const registry::Device& d, const OpenAlert& a, xrm::v1::AlertState state,
                            const std::vector<Factor>& factors, double score, std::int64_t now_ms,
                            const std::string& reason);
  Status save_state(const DeviceState& st);
  void sync_lifecycle(DeviceState& st, std::int64_t now_ms);
  void publish_snapshots(std::int64_t now_ms);
  // Publishes this device's snapshot now; false when it could not be handed over (it stays due).
  bool publish_snapshot(DeviceState& st, std::int64_t now_ms);
  std::string snapshot_payload(const DeviceState& st, std::int64_t now_ms) const;

  store::Database& db_;
  registry::Registry& registry_;
  outbox::Outbox& outbox_;
  const Clock& clock_;
  EngineSettings settings_;
  std::unordered_map<std::string, std::shared_ptr<const CompiledProfile>> profiles_;
  std::unordered_map<const registry::Device*, DeviceState> devices_;
  std::vector<OpenAlert> alerts_;  // open, oldest first
  CommandSink command_sink_;
  SnapshotSink snapshot_sink_;
  HealthStats stats_;
  std::uint64_t next_request_ = 1;
  std::vector<std::string> unsent_commands_;  // alert ids whose command goes out after the commit
  std::vector<const registry::Device*> tick_order_;  // the tick in progress (tick_begin/tick_step)
  std::size_t tick_next_ = 0;
};

}  // namespace xrm::health
