#include "xrm/condense/condenser.hpp"

#include <algorithm>

#include "xrm/common/log.hpp"

namespace xrm::condense {

Condenser::Condenser(store::Database& db, outbox::Outbox& outbox, const Clock& clock, std::chrono::milliseconds window)
    : db_(db), outbox_(outbox), clock_(clock), window_(window.count() > 0 ? window : std::chrono::milliseconds(60'000)) {}

void Condenser::on_telemetry(const registry::Device& device, const ingest::TelemetrySample& sample,
                             const ingest::DeviceIngest& ingest) {
  last_index_ = std::max(last_index_, index_of(clock_.unix_ms()));
  const ingest::SequenceCounters& c = ingest.telemetry.counters();
  auto [it, fresh] = open_.try_emplace(&device);
  Window& w = it->second;
  if (!fresh && w.index < last_index_) {
    // Its window ended: set it aside for the tick to write, and start the new one.
    ended_.push_back(std::move(w));
    w = Window{};
    fresh = true;
  }
  if (fresh) {
    w.device = &device;
    w.index = last_index_;
    // The figures before this message, so its own numbers count in this window.
    w.start = c;
    w.start.received -= std::min<std::uint64_t>(w.start.received, 1);
    w.now = w.start;
  }
  ++w.messages;
  w.bytes += sample.bytes;
  if (c.missed > w.now.missed) ++w.gaps;
  w.now = c;
  if (!w.first_seq) w.first_seq = sample.seq;
  w.last_seq = sample.seq;
  for (const auto& m : sample.metrics) {
    auto agg = std::find_if(w.metrics.begin(), w.metrics.end(), [&](const MetricAgg& a) { return a.name == m.name; });
    if (agg == w.metrics.end()) {
      if (w.metrics.size() >= kMaxMetrics) {
        ++stats_.metrics_dropped;
        continue;
      }
      w.metrics.push_back({std::string(m.name), 0, m.value, m.value, 0, m.value});
      agg = w.metrics.end() - 1;
    }
    ++agg->count;
    agg->min = std::min(agg->min, m.value);
    agg->max = std::max(agg->max, m.value);
    agg->sum += m.value;
    agg->last = m.value;
  }
  stats_.windows_open = open_.size();
}

void Condenser::to_record(const Window& w, std::int64_t end_ms, xrm::v1::InteractionRecord& rec) const {
  const std::int64_t start_ms = w.index * window_.count();
  rec.set_kind(xrm::v1::RECORD_KIND_SUMMARY);
  registry::fill_record_header(*w.device, static_cast<std::uint64_t>(start_ms), static_cast<std::uint64_t>(end_ms),
                               rec);
  auto* s = rec.mutable_summary();
  s->set_window_ms(static_cast<std::uint64_t>(window_.count()));
  for (const auto& m : w.metrics) {
    auto* out = s->add_metrics();
    out->set_name(m.name);
    out->set_count(m.count);
    out->set_min(m.min);
    out->set_max(m.max);
    out->set_mean(m.count > 0 ? m.sum / m.count : 0);
    out->set_last(m.last);
  }
  s->set_messages(w.messages);
  s->set_gaps(w.gaps);
  auto delta = [](std::uint64_t now, std::uint64_t start) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(now >= start ? now - start : 0, UINT32_MAX));
  };
  // missed can shrink when late messages fill gaps; a window never reports fewer than 0.
  s->set_missed(delta(w.now.missed, w.start.missed));
  s->set_duplicates(delta(w.now.duplicates, w.start.duplicates));
  s->set_out_of_order(delta(w.now.late, w.start.late));
  s->set_resets(delta(w.now.resets, w.start.resets));
  s->set_bytes(w.bytes);
  if (w.first_seq) {
    s->set_first_device_seq(*w.first_seq);
    s->set_last_device_seq(w.last_seq);
  }
  if (score_) {
    if (auto sc = score_(w.device->id)) {
      s->set_score(sc->first);
      s->set_band(sc->second);
    }
  }
}

Status Condenser::write(std::vector<xrm::v1::InteractionRecord>& records) {
  if (records.empty()) return Status::ok();
  Status st = db_.transaction([&]() -> Status {
    for (auto& r : records) {
      if (auto seq = outbox_.append(r); !seq) return seq.status();
    }
    return Status::ok();
  });
  if (!st) {
    stats_.write_errors += records.size();
    return st;
  }
  stats_.summaries += records.size();
  return Status::ok();
}

Status Condenser::tick(std::size_t max_records) {
  const std::int64_t now = clock_.unix_ms();
  last_index_ = std::max(last_index_, index_of(now));
  // Every window that has ended joins the queue of ended ones (oldest first); a retired device's
  // last window is not reported.
  for (auto it = open_.begin(); it != open_.end();) {
    Window& w = it->second;
    if (w.index >= last_index_) {
      ++it;
      continue;
    }
    if (w.device->lifecycle != registry::Lifecycle::kRetired) ended_.push_back(std::move(w));
    it = open_.erase(it);
  }
  stats_.windows_open = open_.size();
  // At most max_records of them now, the rest at the next tick.
  std::vector<xrm::v1::InteractionRecord> records;
  const std::size_t n = std::min(max_records, ended_.size());
  records.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Window& w = ended_[i];
    if (w.device->lifecycle == registry::Lifecycle::kRetired) continue;
    records.emplace_back();
    to_record(w, (w.index + 1) * window_.count(), records.back());
  }
  ended_.erase(ended_.begin(), ended_.begin() + static_cast<std::ptrdiff_t>(n));
  stats_.windows_ended = ended_.size();
  return write(records);
}

Status Condenser::flush_all() {
  const std::int64_t now = clock_.unix_ms();
  std::vector<xrm::v1::InteractionRecord> records;
  for (const Window& w : ended_) {
    records.emplace_back();
    to_record(w, (w.index + 1) * window_.count(), records.back());
  }
  ended_.clear();
  stats_.windows_ended = 0;
  for (const auto& [device, w] : open_) {
    records.emplace_back();
    const std::int64_t end = std::min<std::int64_t>((w.index + 1) * window_.count(), std::max(now, w.index * window_.count()));
    to_record(w, end, records.back());
  }
  open_.clear();
  stats_.windows_open = 0;
  return write(records);
}

}  // namespace xrm::condense
