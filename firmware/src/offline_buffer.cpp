#include "xrm/device/offline_buffer.hpp"

#include <algorithm>
#include <utility>

namespace xrm::device {

bool OfflineBuffer::fits(const OutboundMessage& msg) const {
  return messages_.size() + 1 <= limits_.max_messages && bytes_ + msg.bytes() <= limits_.max_bytes;
}

void OfflineBuffer::count_drop(const OutboundMessage& msg) {
  if (msg.kind == MessageKind::kTelemetry) {
    ++stats_.dropped_telemetry;
  } else {
    ++stats_.dropped_events;
  }
  stats_.dropped_bytes += msg.bytes();
}

bool OfflineBuffer::drop_oldest(MessageKind kind) {
  auto it = std::find_if(messages_.begin(), messages_.end(), [kind](const OutboundMessage& m) {
    const bool same =
        kind == MessageKind::kTelemetry ? m.kind == MessageKind::kTelemetry : m.kind != MessageKind::kTelemetry;
    return same && !m.in_flight;
  });
  if (it == messages_.end()) return false;
  count_drop(*it);
  bytes_ -= it->bytes();
  messages_.erase(it);
  return true;
}

std::uint64_t OfflineBuffer::push(OutboundMessage msg) {
  if (msg.bytes() > limits_.max_bytes || limits_.max_messages == 0) {
    count_drop(msg);
    return 0;
  }
  while (!fits(msg)) {
    if (drop_oldest(MessageKind::kTelemetry)) continue;
    // Only events (or in-flight telemetry) left: new telemetry yields to them.
    if (msg.kind == MessageKind::kTelemetry || !drop_oldest(MessageKind::kEvent)) {
      count_drop(msg);
      return 0;
    }
  }
  msg.id = next_id_++;
  msg.in_flight = false;
  bytes_ += msg.bytes();
  messages_.push_back(std::move(msg));
  return messages_.back().id;
}

OutboundMessage* OfflineBuffer::next_unsent() {
  for (auto& m : messages_) {
    if (!m.in_flight) return &m;
  }
  return nullptr;
}

OutboundMessage* OfflineBuffer::find(std::uint64_t id) {
  for (auto& m : messages_) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

bool OfflineBuffer::remove(std::uint64_t id) {
  auto it = std::find_if(messages_.begin(), messages_.end(), [id](const OutboundMessage& m) { return m.id == id; });
  if (it == messages_.end()) return false;
  bytes_ -= it->bytes();
  messages_.erase(it);
  return true;
}

void OfflineBuffer::requeue_in_flight() {
  for (auto& m : messages_) m.in_flight = false;
}

std::size_t OfflineBuffer::in_flight() const {
  return static_cast<std::size_t>(
      std::count_if(messages_.begin(), messages_.end(), [](const OutboundMessage& m) { return m.in_flight; }));
}

}  // namespace xrm::device
