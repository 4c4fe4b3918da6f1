#pragma once
// Condensation: the central XRM wants to know what a device did in each window, not every reading.
// Per device and window (condense.window, aligned to the wall clock: a 60 s window runs from one
// full minute to the next) the condenser keeps, per metric, count, min, max, sum and last, and
// the device's messages, bytes and sequence figures; when the window ends it becomes one `summary`
// record (bulk lane) with the device's score and band at that moment. Events, band changes, alerts
// and lifecycle changes are not condensed: their stages write them at once (report by exception).
//
// Windows are written by tick() (those that ended, oldest first, at most a given number per call
// in one transaction: a fleet's windows all end at the same moment, and writing 10,000 summaries
// at once would hold the io thread for a tenth of a second) and by flush_all() at
// shutdown (the open ones, cut short: span_end is the moment of the flush). A crash loses the open
// windows: summaries are at most once, which the bulk lane allows. A wall clock that steps back
// does not reopen an ended window: the device's current window continues until the clock passes
// its end. Memory per device is bounded (kMaxMetrics metrics per window). Runs on the io thread.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/ingest/device_traffic.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"

namespace xrm::condense {

struct CondenseStats {
  std::uint64_t summaries = 0;       // summary records written
  std::uint64_t windows_open = 0;    // devices with an open window now
  std::uint64_t windows_ended = 0;   // ended windows whose summary waits for the next tick
  std::uint64_t metrics_dropped = 0; // readings of metrics beyond kMaxMetrics in a window
  std::uint64_t write_errors = 0;    // summaries that could not be written (then lost)
};

class Condenser {
 public:
  static constexpr std::size_t kMaxMetrics = 64;
  // The device's score and band (xrm.v1.HealthBand) now, if it has one.
  using ScoreFn = std::function<std::optional<std::pair<double, xrm::v1::HealthBand>>(std::string_view device)>;

  // All references must outlive the Condenser. window > 0.
  Condenser(store::Database& db, outbox::Outbox& outbox, const Clock& clock, std::chrono::milliseconds window);

  void set_score_fn(ScoreFn fn) { score_ = std::move(fn); }

  // An accepted telemetry message (DeviceTraffic::on_telemetry); `ingest` holds the device's
  // sequence figures after it.
  void on_telemetry(const registry::Device& device, const ingest::TelemetrySample& sample,
                    const ingest::DeviceIngest& ingest);

  // Writes the summaries of the windows that have ended, oldest first, at most max_records of
  // them, in one transaction; the rest wait for the next call (stats().windows_ended).
  Status tick(std::size_t max_records = SIZE_MAX);
  // Writes every window, open ones too (shutdown).
  Status flush_all();

  const CondenseStats& stats() const { return stats_; }
  std::chrono::milliseconds window() const { return window_; }

 private:
  struct MetricAgg {
    std::string name;
    std::uint32_t count = 0;
    double min = 0;
    double max = 0;
    double sum = 0;
    double last = 0;
  };
  struct Window {
    const registry::Device* device = nullptr;
    std::int64_t index = 0;  // start_ms / window
    std::vector<MetricAgg> metrics;
    std::uint32_t messages = 0;
    std::uint64_t bytes = 0;
    std::uint32_t gaps = 0;  // messages after which more numbers were missing than before
    // The device's cumulative sequence figures when the window began.
    ingest::SequenceCounters start;
    ingest::SequenceCounters now;
    std::optional<std::uint32_t> first_seq;
    std::uint32_t last_seq = 0;
  };

  std::int64_t index_of(std::int64_t unix_ms) const { return unix_ms / window_.count(); }
  void to_record(const Window& w, std::int64_t end_ms, xrm::v1::InteractionRecord& rec) const;
  Status write(std::vector<xrm::v1::InteractionRecord>& records);

  store::Database& db_;
  outbox::Outbox& outbox_;
  const Clock& clock_;
  std::chrono::milliseconds window_;
  ScoreFn score_;
  std::unordered_map<const registry::Device*, Window> open_;
  // Ended windows waiting for their summary, oldest first: of devices that already sent into the
  // next window, and those tick() found ended.
  std::deque<Window> ended_;
  std::int64_t last_index_ = 0;  // the newest window index seen (a clock stepping back stays here)
  CondenseStats stats_;
};

}  // namespace xrm::condense
