#pragma once
// The device's outbox: every message waits here until the transport reports it delivered (PUBACK
// for QoS 1, written for QoS 0), so events survive a lost connection and are sent again.
//
// Bounded by count and by bytes (topic + payload). When a new message does not fit, room is made
// by dropping, oldest first, telemetry; only when no telemetry is left to drop are the oldest
// events (and command results) dropped, so events are kept as long as possible. New telemetry is
// refused rather than displacing an event. Messages in flight (handed to the transport, not yet
// acknowledged) are never dropped. Every drop is counted. Held in RAM: a reboot loses it.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace xrm::device {

enum class MessageKind : std::uint8_t { kTelemetry, kEvent, kCommandResult };

struct OutboundMessage {
  std::uint64_t id = 0;  // assigned by push(), unique for the buffer's lifetime
  MessageKind kind = MessageKind::kTelemetry;
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = false;
  bool in_flight = false;
  std::uint32_t attempt = 0;     // bumped on each send, so a stale completion can be recognised
  std::uint64_t sent_at_ms = 0;  // when the current attempt was handed to the transport
  std::size_t bytes() const { return topic.size() + payload.size(); }
};

struct OfflineBufferLimits {
  std::size_t max_messages = 1000;
  std::size_t max_bytes = 256 * 1024;
};

struct OfflineBufferStats {
  std::uint64_t dropped_telemetry = 0;  // displaced, or refused because the buffer was full
  std::uint64_t dropped_events = 0;     // events and command results
  std::uint64_t dropped_bytes = 0;
};

class OfflineBuffer {
 public:
  explicit OfflineBuffer(OfflineBufferLimits limits) : limits_(limits) {}

  // Adds a message, dropping older ones as described above. Returns its id, or 0 if it was
  // refused (larger than the byte limit, or nothing droppable left); a refusal is counted.
  std::uint64_t push(OutboundMessage msg);

  // The oldest message not in flight, or nullptr.
  OutboundMessage* next_unsent();
  OutboundMessage* find(std::uint64_t id);
  // Removes the message (delivered). False if it is no longer here.
  bool remove(std::uint64_t id);
  // After a lost connection: everything in flight becomes unsent again.
  void requeue_in_flight();

  std::size_t size() const { return messages_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::size_t in_flight() const;
  bool empty() const { return messages_.empty(); }
  const OfflineBufferStats& stats() const { return stats_; }
  const std::deque<OutboundMessage>& messages() const { return messages_; }

 private:
  bool fits(const OutboundMessage& msg) const;
  bool drop_oldest(MessageKind kind);  // oldest of that kind not in flight
  void count_drop(const OutboundMessage& msg);

  OfflineBufferLimits limits_;
  std::deque<OutboundMessage> messages_;
  std::size_t bytes_ = 0;
  std::uint64_t next_id_ = 1;
  OfflineBufferStats stats_;
};

}  // namespace xrm::device
