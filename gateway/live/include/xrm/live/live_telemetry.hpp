#pragma once
// Live telemetry to central dashboards: for devices whose profile has a `live` table
// (health::LiveSettings, docs/rules.md "Live telemetry"), a reading becomes a Telemetry message on
// xrm/v1/gw/{gateway}/tele/{device} at QoS 0, not retained, never stored in the outbox.
//
// Per device and sample, with S = the profile's live settings:
//  - only the metrics S selects are considered;
//  - a metric has *moved* when no value was sent for it yet, or |value - last sent| > its deadband;
//  - a heartbeat is *due* when S.max_interval is set and that long has passed since the last message;
//  - nothing moved and no heartbeat due: suppressed (deadband);
//  - less than S.interval since the last message: suppressed (rate limit). The last sent values
//    stay, so a move still beyond its deadband goes out with the first reading after the interval;
//  - else a message with the moved metrics (a heartbeat: every selected metric of the reading),
//    the device's seq and the gateway's receive time as ts. When the publish function says the
//    upstream is down, the message is dropped and counted (QoS 0 is never queued); the rate-limit
//    clock restarts as if it had been sent, the last sent values do not change.
// There are no timers: a device that stops reporting sends nothing more. Memory per device is
// bounded: at most kMaxMetrics last values (beyond that the device's values are forgotten and its
// next message carries every selected metric). Runs on the io thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "xrm/common/clock.hpp"
#include "xrm/health/profiles.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/registry/device.hpp"

namespace xrm::live {

struct LiveCounters {
  std::uint64_t sent = 0;                 // messages handed to the uplink
  std::uint64_t suppressed_rate = 0;      // readings with a move or heartbeat, within interval of the last message
  std::uint64_t suppressed_deadband = 0;  // readings with nothing past its deadband and no heartbeat due
  std::uint64_t dropped_offline = 0;      // messages due while the upstream was not connected
};

class LiveTelemetry {
 public:
  static constexpr std::size_t kMaxMetrics = 256;
  // Publishes one message at QoS 0, not retained; false when the upstream is not connected (the
  // message is then dropped). Uplink::publish_live in the daemon.
  using PublishFn = std::function<bool(const std::string& topic, std::string payload)>;

  // clock must outlive the LiveTelemetry.
  LiveTelemetry(std::string gateway_id, const Clock& clock, PublishFn publish);
  LiveTelemetry(const LiveTelemetry&) = delete;
  LiveTelemetry& operator=(const LiveTelemetry&) = delete;

  // The live settings of every class, copied (the profiles may go away). Devices keep their last
  // sent values and times across a reload; those of classes without live telemetry now are
  // forgotten.
  void set_profiles(const health::Profiles& profiles);

  // An accepted telemetry message (DeviceTraffic::on_telemetry), as the condenser gets it.
  void on_telemetry(const registry::Device& device, const ingest::TelemetrySample& sample);

  // Forgets a device (retired).
  void forget(std::string_view device);

  const LiveCounters& counters() const { return counters_; }
  // Classes whose profile enables live telemetry.
  std::size_t enabled_classes() const { return settings_.size(); }
  // Devices with live state (sent or tried at least once).
  std::size_t devices() const { return devices_.size(); }

  // The topic of a device's live telemetry: xrm/v1/gw/{gateway}/tele/{device}.
  static std::string topic(std::string_view gateway_id, std::string_view device);

 private:
  struct DeviceState {
    std::string class_name;
    std::optional<std::chrono::steady_clock::time_point> last_message;  // sent or dropped
    std::map<std::string, double, std::less<>> last_sent;               // at most kMaxMetrics
  };

  std::string gateway_id_;
  const Clock& clock_;
  PublishFn publish_;
  std::map<std::string, health::LiveSettings, std::less<>> settings_;  // enabled classes only
  std::unordered_map<std::string, DeviceState> devices_;
  LiveCounters counters_;
};

}  // namespace xrm::live
