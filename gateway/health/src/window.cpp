// Window: one metric's values over a sliding span, in kBuckets + 1 epoch-aligned time buckets.
//
// Exact semantics (docs/rules.md is written from these):
//  - Bucket width w = ceil(span / kBuckets) ms, at least 1. A value at time t goes to bucket
//    floor(t / w). At now_ms the window holds the buckets floor(now_ms / w) - kBuckets ..
//    floor(now_ms / w), so a value at t counts while now_ms < (floor(t / w) + kBuckets + 1) * w:
//    for more than kBuckets * w >= span (always at least up to t + span inclusive) and at most
//    (kBuckets + 1) * w = span + w (plus under kBuckets ms of rounding when span is not a multiple
//    of kBuckets ms).
//  - Memory: Bucket is 40 bytes, so a bucketed window has 9 x 40 = 360 bytes on the heap,
//    allocated at its first add; a window that only `last` rules read never allocates.
//    sizeof(Window) is 136 bytes on 64-bit targets.
//  - Work: add() updates one bucket; when it enters a new bucket it clears the buckets that left
//    the window (at most kBuckets + 1 however far time jumped) and recomputes the summary of the
//    closed buckets (kBuckets merges), i.e. at most once per bucket width. value() at a time in the
//    newest bucket is the closed summary plus that bucket; at a later time (no advance() since)
//    it merges the at most kBuckets + 1 buckets still inside without changing anything.
//  - A time older than the newest value's is taken as the newest value's time (the caller
//    promises not to pass one), and one inside a bucket advance() has already left behind as the
//    start of the current bucket, so the ring never holds a bucket that is out of the window.
//  - Values are finite (ingest refuses others). A bucket holds up to 2^32 - 1 values.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "xrm/health/proto/rules_state.pb.h"
#include "xrm/health/rules.hpp"

namespace xrm::health {

namespace {

constexpr std::int64_t kSlots = Window::kBuckets + 1;

// Rounds toward minus infinity (times before 1970 still land in the right bucket). b > 0.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

bool finite(double v) { return std::isfinite(v); }

}  // namespace

Window::Window(std::chrono::milliseconds span, bool needs_buckets)
    : span_ms_(std::max<std::int64_t>(span.count(), 1)),
      width_ms_(span_ms_ / kBuckets + (span_ms_ % kBuckets != 0 ? 1 : 0)),
      needs_buckets_(needs_buckets) {
  static_assert(sizeof(Bucket) == 40, "the bucket layout is documented as 40 bytes");
  while (static_cast<std::uint64_t>(width_ms_ - 1) >> offset_shift_ > std::numeric_limits<std::uint32_t>::max()) {
    ++offset_shift_;
  }
}

std::chrono::milliseconds Window::span() const { return std::chrono::milliseconds(span_ms_); }

std::size_t Window::heap_bytes() const { return buckets_.capacity() * sizeof(Bucket); }

std::size_t Window::slot(std::int64_t index) const {
  const std::int64_t m = index % kSlots;
  return static_cast<std::size_t>(m < 0 ? m + kSlots : m);
}

// Times in the current bucket or the next (nearly every add and tick) need no division.
std::int64_t Window::index_of(std::int64_t at_ms) const {
  const std::int64_t d = at_ms - cur_start_ms_;
  if (d >= 0 && d < width_ms_) return cur_index_;
  if (d >= width_ms_ && d - width_ms_ < width_ms_) return cur_index_ + 1;
  return floor_div(at_ms, width_ms_);
}

void Window::move_to(std::int64_t index) {
  cur_index_ = index;
  cur_start_ms_ = index * width_ms_;
}

void Window::add(std::int64_t at_ms, double value) {
  std::int64_t index = 0;
  if (has_newest_) {
    if (at_ms < newest_at_ms_) at_ms = newest_at_ms_;
    index = index_of(at_ms);
    if (index < cur_index_) {  // advance() went past at_ms
      index = cur_index_;
      at_ms = cur_start_ms_;
    } else if (index > cur_index_) {
      if (buckets_.empty()) {
        move_to(index);
      } else {
        rotate(index);
      }
    }
  } else {
    index = floor_div(at_ms, width_ms_);
    move_to(index);
  }
  if (needs_buckets_) {
    if (buckets_.empty()) {
      buckets_.assign(kSlots, Bucket{});
      closed_ = Summary{};
    }
    Bucket& b = buckets_[slot(index)];
    const auto offset = static_cast<std::uint32_t>(static_cast<std::uint64_t>(at_ms - cur_start_ms_) >> offset_shift_);
    if (b.count == 0) {
      b = Bucket{value, value, value, value, 1, offset};
    } else {
      b.sum += value;
      b.min = std::min(b.min, value);
      b.max = std::max(b.max, value);
      ++b.count;
    }
  }
  newest_value_ = value;
  newest_at_ms_ = at_ms;
  newest_index_ = index;
  has_newest_ = true;
}

void Window::advance(std::int64_t now_ms) {
  if (!has_newest_) return;
  const std::int64_t index = index_of(now_ms);
  if (index <= cur_index_) return;
  if (buckets_.empty()) {
    move_to(index);
  } else {
    rotate(index);
  }
}

void Window::rotate(std::int64_t index) {
  assert(index > cur_index_);
  // The slots of the buckets that leave the window are the slots the new ones take.
  const std::int64_t steps = std::min(index - cur_index_, kSlots);
  for (std::int64_t i = 1; i <= steps; ++i) buckets_[slot(cur_index_ + i)].count = 0;
  move_to(index);
  recompute_closed();
}

void Window::recompute_closed() {
  closed_ = Summary{};
  for (std::int64_t i = cur_index_ - kBuckets; i < cur_index_; ++i) merge(closed_, i);
}

// Appends bucket `index` (newer than everything already in `into`).
void Window::merge(Summary& into, std::int64_t index) const {
  const Bucket& b = buckets_[slot(index)];
  if (b.count == 0) return;
  if (into.count == 0) {
    into.min = b.min;
    into.max = b.max;
    into.first_value = b.first_value;
    into.first_at_ms = index * width_ms_ + static_cast<std::int64_t>(std::uint64_t{b.first_offset} << offset_shift_);
  } else {
    into.min = std::min(into.min, b.min);
    into.max = std::max(into.max, b.max);
  }
  into.count += b.count;
  into.sum += b.sum;
}

Window::Summary Window::summarize(std::int64_t now_ms) const {
  Summary s;
  if (buckets_.empty()) return s;
  const std::int64_t now_index = std::max(index_of(now_ms), cur_index_);
  if (now_index == cur_index_) {
    s = closed_;
    merge(s, cur_index_);
    return s;
  }
  // now_ms is past the newest bucket and advance() has not run: of the buckets the ring holds
  // (cur_index_ - kBuckets .. cur_index_), merge those still inside at now_ms.
  for (std::int64_t i = now_index - kBuckets; i <= cur_index_; ++i) merge(s, i);
  return s;
}

std::optional<double> Window::value(RuleFunc func, std::int64_t now_ms) const {
  if (func == RuleFunc::kLast) {
    if (has_newest_ && index_of(now_ms) - newest_index_ <= kBuckets) return newest_value_;
    return std::nullopt;
  }
  const Summary s = summarize(now_ms);
  switch (func) {
    case RuleFunc::kCount: return static_cast<double>(s.count);
    case RuleFunc::kAvg:
      if (s.count == 0) return std::nullopt;
      return s.sum / static_cast<double>(s.count);
    case RuleFunc::kMin:
      if (s.count == 0) return std::nullopt;
      return s.min;
    case RuleFunc::kMax:
      if (s.count == 0) return std::nullopt;
      return s.max;
    case RuleFunc::kRate:
      // With any value inside, the newest one is inside too (it has the latest time).
      if (s.count < 2 || s.first_at_ms == newest_at_ms_) return std::nullopt;
      return (newest_value_ - s.first_value) / (static_cast<double>(newest_at_ms_ - s.first_at_ms) / 1000.0);
    case RuleFunc::kLast: break;
  }
  return std::nullopt;
}

void Window::save(v1::RuleStateData_Window& out) const {
  out.set_span_ms(span_ms_);
  out.set_bucket_ms(width_ms_);
  if (!has_newest_) return;
  out.set_newest_value(newest_value_);
  out.set_newest_at_ms(newest_at_ms_);
  if (buckets_.empty()) return;
  for (std::int64_t i = cur_index_ - kBuckets; i <= cur_index_; ++i) {
    const Bucket& b = buckets_[slot(i)];
    if (b.count == 0) continue;
    auto* d = out.add_buckets();
    d->set_index(i);
    d->set_count(b.count);
    d->set_sum(b.sum);
    d->set_min(b.min);
    d->set_max(b.max);
    d->set_first_value(b.first_value);
    d->set_first_at_ms(i * width_ms_ + static_cast<std::int64_t>(std::uint64_t{b.first_offset} << offset_shift_));
  }
}

void Window::restore(const v1::RuleStateData_Window& in) {
  assert(!has_newest_ && buckets_.empty());
  // Times are ms since the epoch: a window without a positive newest time held no value (or is
  // garbage), and bounding times below keeps the index arithmetic clear of overflow.
  if (in.newest_at_ms() <= 0 || !finite(in.newest_value())) return;
  newest_value_ = in.newest_value();
  newest_at_ms_ = in.newest_at_ms();
  has_newest_ = true;
  const std::int64_t cur = floor_div(newest_at_ms_, width_ms_);
  newest_index_ = cur;
  move_to(cur);
  if (!needs_buckets_ || in.bucket_ms() != width_ms_) return;
  for (const auto& d : in.buckets()) {
    // Only buckets of the window at newest_at_ms: at most kSlots distinct indices get through,
    // however many entries a damaged snapshot has.
    if (d.count() == 0 || d.index() > cur || d.index() < cur - kBuckets) continue;
    const std::int64_t start = d.index() * width_ms_;
    if (d.first_at_ms() < start || d.first_at_ms() - start >= width_ms_ || d.first_at_ms() > newest_at_ms_) continue;
    if (!finite(d.sum()) || !finite(d.min()) || !finite(d.max()) || !finite(d.first_value()) || d.min() > d.max()) {
      continue;
    }
    if (buckets_.empty()) buckets_.assign(kSlots, Bucket{});
    Bucket& b = buckets_[slot(d.index())];
    if (b.count != 0) continue;  // a duplicate index: the first one wins
    const auto offset =
        static_cast<std::uint32_t>(static_cast<std::uint64_t>(d.first_at_ms() - start) >> offset_shift_);
    b = Bucket{d.sum(), d.min(), d.max(), d.first_value(), d.count(), offset};
  }
  if (!buckets_.empty()) recompute_closed();
}

}  // namespace xrm::health
