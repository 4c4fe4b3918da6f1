#include "xrm/mqtt/inbound_queue.hpp"

#include <iterator>

namespace xrm::mqtt_link {

InboundQueue::Push InboundQueue::push(::mqtt::const_message_ptr msg, std::uint64_t token) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return Push::kClosed;
  if (token == 0) {
    if (limit_ != 0 && droppable_ >= limit_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return Push::kDropped;
    }
    ++droppable_;
  }
  items_.push_back(InboundItem{std::move(msg), token});
  if (items_.size() > high_water_) high_water_ = items_.size();
  if (scheduled_) return Push::kQueued;
  scheduled_ = true;
  return Push::kWake;
}

bool InboundQueue::take(std::vector<InboundItem>& out, std::size_t max) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (items_.size() <= max) {
    out.swap(items_);  // both buffers keep their capacity: no allocation in steady state
    droppable_ = 0;
    scheduled_ = false;
    return false;
  }
  out.insert(out.end(), std::make_move_iterator(items_.begin()),
             std::make_move_iterator(items_.begin() + static_cast<std::ptrdiff_t>(max)));
  items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(max));
  droppable_ = 0;
  for (const auto& item : items_) {
    if (item.token == 0) ++droppable_;
  }
  return true;
}

void InboundQueue::close() {
  std::vector<InboundItem> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  items_.swap(dropped);
  droppable_ = 0;
  scheduled_ = false;
}

std::size_t InboundQueue::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return items_.size();
}

std::size_t InboundQueue::high_water() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return high_water_;
}

}  // namespace xrm::mqtt_link
