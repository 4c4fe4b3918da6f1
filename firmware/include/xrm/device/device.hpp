#pragma once
// One provisioned device: connects with its credentials, announces itself (birth, state), numbers
// and sends telemetry and service events, answers commands. See docs/firmware.md.
//
// Threading: single-threaded by design, for both a POSIX thread and an MCU superloop. The owner
// calls poll() regularly (every few ms to a second) from one thread; every other method must be
// called from that same thread. The Transport delivers its callbacks from inside poll(), so the
// device needs no locks. Nothing blocks except the sequence store's file write (once per block).
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xrm/device/messages.hpp"
#include "xrm/device/offline_buffer.hpp"
#include "xrm/device/provisioning_uri.hpp"
#include "xrm/device/sequence_store.hpp"
#include "xrm/device/status.hpp"
#include "xrm/device/transport.hpp"

namespace xrm::device {

struct DeviceConfig {
  // The provisioning URI from `xrmctl provision` (credentials and broker).
  std::string uri;
  // Directory for tele.seq and evt.seq (the sequence counters). Must exist. Ignored for a counter
  // whose storage is given below.
  std::string state_dir;
  // Optional storage for the counters (MCU ports: flash); must outlive the Device.
  CounterStorage* telemetry_seq_storage = nullptr;
  CounterStorage* event_seq_storage = nullptr;
  // Numbers reserved per counter write: after a crash up to this many numbers are skipped
  // (never repeated). Larger: fewer flash writes, longer skips.
  std::uint32_t seq_block = SequenceStore::kDefaultBlock;

  Encoding encoding = Encoding::kJson;
  // Telemetry QoS (0 or 1). Events and command results are always QoS 1.
  int telemetry_qos = 0;
  // The outbox in RAM; a reboot loses what it holds (events included).
  OfflineBufferLimits buffer;
  // Most messages handed to the transport and not yet acknowledged.
  std::size_t max_in_flight = 16;
  // A message unacknowledged this long is sent again (the gateway de-duplicates events by seq/ts).
  std::uint64_t ack_timeout_ms = 30000;
  std::uint64_t reconnect_min_ms = 1000;
  std::uint64_t reconnect_max_ms = 60000;
  int keep_alive_s = 30;

  // What the birth says.
  std::string model;
  std::string firmware_version;
  std::vector<std::string> capabilities;

  // Wall-clock time in ms since the Unix epoch (0 if the device has none). Default: the system clock.
  std::function<std::uint64_t()> clock;
};

struct DeviceStats {
  std::uint64_t connects = 0;  // successful connections
  std::uint64_t connect_failures = 0;
  std::uint64_t connections_lost = 0;
  std::uint64_t published = 0;           // publish attempts handed to the transport
  std::uint64_t delivered = 0;           // acknowledged by the broker
  std::uint64_t retries = 0;             // attempts that failed or timed out and will be repeated
  std::uint64_t commands = 0;            // commands received
  std::uint64_t duplicate_commands = 0;  // a request id seen before: the recorded result was sent again
};

class Device {
 public:
  // Returns the command's result; request_id, name, device_id and completed_at_ms are filled in
  // by the device. Runs on the poll() thread; a long command should answer kOk quickly and report
  // its outcome with an event.
  using CommandHandler = std::function<CommandResult(const Command&)>;

  // `transport` must outlive the Device and must not be polled after the Device is destroyed.
  Device(Transport& transport, DeviceConfig config);
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Parses the URI, opens the sequence counters and starts connecting. Errors name the URI key,
  // the counter file, or the transport's complaint.
  Status start();
  // Publishes state `offline` (retained) and disconnects, so the broker discards the will.
  void stop();
  // Delivers transport events, reconnects when due, resends what timed out, sends what waits.
  void poll();

  // Numbers, encodes and queues one reading; sent now if connected, else when the connection is
  // back (or dropped first if the buffer overflows). An error means it was refused (bad metric,
  // counter write failed) and no number was used up, except when the buffer refused it.
  Status send_telemetry(const std::map<std::string, double>& metrics);
  Status send_telemetry(const std::vector<std::pair<std::string, double>>& metrics);
  // Numbers and queues a service event (seq set here; ts set here when 0). QoS 1: it stays in
  // the buffer until the broker acknowledges it, and is sent again after failures and reconnects.
  Status send_event(ServiceEvent event);

  void on_command(CommandHandler handler) { handler_ = std::move(handler); }

  bool is_online() const { return state_ == State::kConnected; }
  const std::string& device_id() const { return uri_.device; }
  const ProvisioningUri& provisioning() const { return uri_; }
  const DeviceStats& stats() const { return stats_; }
  // Why the last connection attempt failed or the connection was lost; empty if neither happened.
  const std::string& last_error() const { return last_error_; }
  const OfflineBuffer& buffer() const { return buffer_; }

  // The topics of this device (docs/contract.md).
  std::string topic(const char* leaf) const { return "xrm/v1/dev/" + uri_.device + "/" + leaf; }

 private:
  enum class State { kIdle, kConnecting, kConnected, kDisconnected, kStopped };

  std::uint64_t now() const;
  Status connect();
  void handle_connect(const Status& result);
  void handle_lost(const std::string& cause);
  void handle_message(const std::string& topic, const std::string& payload);
  void handle_done(std::uint64_t id, std::uint32_t attempt, bool delivered);
  void schedule_reconnect();
  void flush();
  Status enqueue(MessageKind kind, const std::string& topic, std::string payload, int qos);

  Transport& transport_;
  DeviceConfig config_;
  ProvisioningUri uri_;
  std::unique_ptr<FileCounterStorage> tele_file_;
  std::unique_ptr<FileCounterStorage> evt_file_;
  std::unique_ptr<SequenceStore> tele_seq_;
  std::unique_ptr<SequenceStore> evt_seq_;
  OfflineBuffer buffer_;
  CommandHandler handler_;
  State state_ = State::kIdle;
  std::uint64_t boot_ms_ = 0;
  std::uint64_t reconnect_at_ = 0;
  std::uint64_t backoff_ms_ = 0;
  // Recent request ids and their encoded results, oldest first (QoS 1 may deliver a command twice).
  std::deque<std::pair<std::string, std::string>> recent_results_;
  DeviceStats stats_;
  std::string last_error_;
};

}  // namespace xrm::device
