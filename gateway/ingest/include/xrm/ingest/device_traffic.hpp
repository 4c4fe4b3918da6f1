#pragma once
// First stop of every device message: splits the topic xrm/v1/dev/{device}/{leaf}, checks the
// device against the registry, and keeps the registry's view of the device current (first data,
// last seen, online/offline, birth). Payload decoding, sequence tracking and dead letters build on
// this in the ingest stage proper. No SQL per message: the registry writes only on lifecycle
// changes. Runs on the io thread.
#include <cstdint>
#include <string_view>

#include "xrm/common/clock.hpp"
#include "xrm/registry/registry.hpp"

namespace xrm::ingest {

enum class Leaf { kTele, kEvt, kBirth, kState, kCmdRes };

// xrm/v1/dev/{device}/{leaf} -> device and leaf; false for anything else (wrong prefix, unknown
// leaf, deeper topics, an id that breaks the id rules). The views point into `topic`.
bool parse_device_topic(std::string_view topic, std::string_view& device, Leaf& leaf);

struct TrafficStats {
  std::uint64_t messages = 0;        // device messages received (any leaf, any outcome)
  std::uint64_t bytes = 0;           // their payload bytes
  std::uint64_t accepted = 0;        // from registered, not retired devices
  std::uint64_t bad_topic = 0;       // topic not of the contract's form
  std::uint64_t bad_payload = 0;     // state or birth payload not understood
};

class DeviceTraffic {
 public:
  // registry and clock must outlive this.
  DeviceTraffic(registry::Registry& registry, const Clock& clock);

  void handle(std::string_view topic, std::string_view payload);

  const TrafficStats& stats() const { return stats_; }
  // Messages per second over the last completed 10-second window (0 before the first one ends).
  double rate_per_s() const;

 private:
  void tick();

  registry::Registry& registry_;
  const Clock& clock_;
  TrafficStats stats_;
  // Rate window.
  std::chrono::steady_clock::time_point window_start_;
  std::uint64_t window_messages_ = 0;
  double last_rate_ = 0;
};

}  // namespace xrm::ingest
