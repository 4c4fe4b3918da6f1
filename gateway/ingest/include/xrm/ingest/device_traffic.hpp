#pragma once
// First stop of every device message: splits the topic xrm/v1/dev/{device}/{leaf}, checks the
// device against the registry, decodes telemetry and service events, tracks each device's
// sequence numbers, puts what it cannot use into the dead-letter table, records service events
// durably in the outbox, and keeps the registry's view of the device current (first data, last
// seen, online/offline, birth).
//
// What each message type is guaranteed (docs/architecture.md, "Ingest guarantees"):
// - evt (QoS 1): journaled before its PUBACK (inbound_journal.hpp); handle() writes the event
//   record to the outbox and deletes the journal entry in one transaction: exactly once, across
//   kill -9 and power loss.
// - cmd-res (QoS 1): journaled the same way. JSON {"request_id": "...", ...} or protobuf
//   CommandResult; it counts as contact and feeds the health stage's response factor.
// - birth, state: retained at the broker and idempotent; a change lost in a crash is corrected by
//   the device's next one.
// - tele: at most once. Its PUBACK goes out when it is queued in memory; a crash loses what was
//   queued and not yet handled, and no SQL is done per telemetry message.
// Runs on the io thread.
#include <cstdint>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/ingest/dead_letters.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/ingest/inbound_journal.hpp"
#include "xrm/ingest/sequence.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/registry.hpp"

namespace xrm::ingest {

enum class Leaf { kTele, kEvt, kBirth, kState, kCmdRes };

// xrm/v1/dev/{device}/{leaf} -> device and leaf; false for anything else (wrong prefix, unknown
// leaf, deeper topics, an id that breaks the id rules). The views point into `topic`.
bool parse_device_topic(std::string_view topic, std::string_view& device, Leaf& leaf);

struct TrafficStats {
  std::uint64_t messages = 0;        // device messages received (any leaf, any outcome)
  std::uint64_t bytes = 0;           // their payload bytes
  std::uint64_t accepted = 0;        // from registered, not retired devices, and usable
  std::uint64_t telemetry = 0;       // telemetry messages decoded
  std::uint64_t events = 0;          // service events recorded
  std::uint64_t duplicate_events = 0;  // events whose sequence number was seen already: not recorded twice
  std::uint64_t dead_letters = 0;    // messages that went to the dead-letter table
  std::uint64_t ignored_fields = 0;  // fields skipped inside accepted messages
  std::uint64_t bad_topic = 0;       // topic not of the contract's form
  std::uint64_t record_errors = 0;   // events that could not be written (disk full...)
};

// What ingest knows about one device beyond the registry.
struct DeviceIngest {
  SequenceTracker telemetry;
  SequenceTracker events;
  std::uint64_t dead_letters = 0;
  std::uint64_t ignored_fields = 0;
  // The latest reading of each metric (at most kMaxReadings names) and when it was taken.
  std::vector<std::pair<std::string, double>> readings;
  std::int64_t readings_ms = 0;
  // The newest recorded service events (at most kRecentEvents), oldest first, with the time the
  // gateway received each.
  std::vector<std::pair<std::int64_t, xrm::v1::ServiceEvent>> recent_events;
  // The ts of the device's last birth message: a different one means it restarted.
  std::uint64_t birth_ts = 0;
};

class DeviceTraffic {
 public:
  static constexpr std::size_t kMaxReadings = 64;
  static constexpr std::size_t kRecentEvents = 10;
  // How long an event's (seq, ts) is remembered to recognise it when it comes again.
  static constexpr std::int64_t kEventKeyTtlMs = 7LL * 24 * 3600 * 1000;

  // ts_ms: the device's time of the reading (the gateway's when it sent none); `ingest` holds the
  // device's sequence figures after this message.
  using TelemetryFn = std::function<void(const registry::Device&, const TelemetrySample&, std::int64_t ts_ms,
                                         const DeviceIngest& ingest)>;
  using EventFn = std::function<void(const registry::Device&, const xrm::v1::ServiceEvent&)>;
  using CommandResultFn = std::function<void(const registry::Device&, const xrm::v1::CommandResult&)>;

  // All references must outlive this.
  DeviceTraffic(store::Database& db, registry::Registry& registry, outbox::Outbox& outbox, DeadLetters& dead_letters,
                const Clock& clock, DecodeLimits limits);

  // journal_id: the message's inbound journal entry (0: none), deleted once it is handled.
  void handle(std::string_view topic, std::string_view payload, std::uint64_t journal_id = 0);
  void set_limits(const DecodeLimits& limits) { decoder_.set_limits(limits); }

  // Later stages (health, condensation) subscribe here; called after the message was accepted.
  void on_telemetry(TelemetryFn fn) { on_telemetry_ = std::move(fn); }
  void on_event(EventFn fn) { on_event_ = std::move(fn); }
  void on_command_result(CommandResultFn fn) { on_command_result_ = std::move(fn); }

  const TrafficStats& stats() const { return stats_; }
  // Messages per second over the last completed 10-second window (0 before the first one ends).
  double rate_per_s() const;
  // nullptr until the device's first message since the start (accepted or dead-lettered).
  const DeviceIngest* device(std::string_view id) const;
  // Sums over all devices.
  SequenceCounters telemetry_sequence() const;
  SequenceCounters event_sequence() const;

 private:
  void tick();
  DeviceIngest& state_of(const registry::Device& d);
  void dead_letter(DeviceIngest& st, std::string_view topic, std::string_view reason, std::string_view payload);
  void handle_telemetry(std::string_view device, std::string_view topic, std::string_view payload);
  void handle_event(std::string_view device, std::string_view topic, std::string_view payload,
                    std::uint64_t journal_id);
  void handle_leaf(Leaf leaf, std::string_view device, std::string_view topic, std::string_view payload);
  // Unknown or retired devices: counted by the registry (and an unknown one recorded); false.
  bool admitted(std::string_view device, std::string_view topic, const registry::Device*& out);

  store::Database& db_;
  registry::Registry& registry_;
  outbox::Outbox& outbox_;
  DeadLetters& dead_letters_;
  const Clock& clock_;
  PayloadDecoder decoder_;
  TelemetrySample sample_;          // reused: no allocation per message
  xrm::v1::ServiceEvent event_;
  TelemetryFn on_telemetry_;
  EventFn on_event_;
  CommandResultFn on_command_result_;
  xrm::v1::CommandResult command_result_;
  TrafficStats stats_;
  // Keyed by the registry's device (entries live as long as the registry).
  std::unordered_map<const registry::Device*, DeviceIngest> devices_;
  // Rate window.
  std::chrono::steady_clock::time_point window_start_;
  std::uint64_t window_messages_ = 0;
  double last_rate_ = 0;
};

}  // namespace xrm::ingest
