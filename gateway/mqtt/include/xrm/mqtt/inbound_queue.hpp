#pragma once
// The hand-over of received messages from Paho's callback thread to the io thread: a bounded FIFO
// that wakes the io thread once per batch rather than once per message (one post, one wake-up and
// one handler allocation per batch under load).
//
// Each message carries a token from the connection's before_ack hook (connection.hpp): nonzero
// means the message was made durable on Paho's thread before its PUBACK, and such a message is
// never dropped. Messages with token 0 beyond the limit are dropped and counted.
//
// Thread contract: push() on Paho's thread; take() on the io thread; close() and the counters from
// either. One mutex guards everything; it is held for a vector push or swap only.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mqtt/message.h>
#include <mutex>
#include <vector>

namespace xrm::mqtt_link {

struct InboundItem {
  ::mqtt::const_message_ptr message;
  std::uint64_t token = 0;
};

class InboundQueue {
 public:
  enum class Push {
    kQueued,    // queued; a drain is already scheduled
    kWake,      // queued; the caller must schedule a drain (post to the io thread)
    kDropped,   // the queue is full (token 0): dropped and counted
    kClosed,    // closed: not queued
  };

  // limit: messages with token 0 that may wait (0: no limit).
  explicit InboundQueue(std::size_t limit) : limit_(limit) {}

  Push push(::mqtt::const_message_ptr msg, std::uint64_t token);
  // Moves up to `max` items, oldest first, into `out` (which must be empty). Returns true if more
  // remain: the caller keeps the drain scheduled and comes back; false ends the scheduled drain.
  bool take(std::vector<InboundItem>& out, std::size_t max);
  // Drops everything queued and refuses later pushes.
  void close();

  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::size_t depth() const;
  // The most messages that waited at once.
  std::size_t high_water() const;

 private:
  const std::size_t limit_;
  mutable std::mutex mutex_;
  std::vector<InboundItem> items_;
  std::size_t droppable_ = 0;    // queued items with token 0 (the ones the limit counts)
  std::size_t high_water_ = 0;
  bool scheduled_ = false;
  bool closed_ = false;
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace xrm::mqtt_link
