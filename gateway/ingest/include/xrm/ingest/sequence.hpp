#pragma once
// Sequence tracking of one device stream (its telemetry, or its events): from the device's own
// message numbers, what was never received (gaps), what came twice (duplicates), what came late
// (out of order within the window) and when the device started counting again (resets).
//
// Numbers are 32-bit and wrap: after 4294967295 comes 0, which is the next message, not a reset.
// A number behind the highest one seen by at most kWindow is a late message (it fills a gap that
// was counted, so `missed` goes down again) or a duplicate (already seen). A number further behind
// is a reset: the device rebooted (starting near 0) or its counter jumped back; counting starts
// again from it and nothing is counted as missed across the reset. A jump forward of N counts N-1
// missed messages, however large N is: the device says it sent them.
//
// Known limit: a device that reboots before it has sent more than kWindow messages starts again
// inside the window; its first messages then count as duplicates or late ones, not as a reset,
// unless the caller learns of the reboot otherwise (a new birth message) and calls restart().
// Plain value type; no threads.
#include <cstdint>

namespace xrm::ingest {

struct SequenceCounters {
  std::uint64_t received = 0;    // messages seen, duplicates included
  std::uint64_t missed = 0;      // numbers skipped and not (yet) received late
  std::uint64_t duplicates = 0;  // numbers seen before (within the window)
  std::uint64_t late = 0;        // received behind the highest number, filling a gap
  std::uint64_t resets = 0;      // counter went back beyond the window

  SequenceCounters& operator+=(const SequenceCounters& o) {
    received += o.received;
    missed += o.missed;
    duplicates += o.duplicates;
    late += o.late;
    resets += o.resets;
    return *this;
  }
};

// What one message was, for the caller's bookkeeping (gap records, logs).
enum class SeqVerdict {
  kFirst,      // the first number of the stream (or after the tracker was created)
  kNext,       // highest + 1
  kJump,       // ahead by more than one: the numbers in between are missed
  kLate,       // behind, not seen before: a late message
  kDuplicate,  // seen before
  kReset,      // behind by more than the window: counting restarts here
};

class SequenceTracker {
 public:
  // How far behind the highest number a message may arrive and still be told apart as late or
  // duplicate. 64 messages: one bit each.
  static constexpr std::uint32_t kWindow = 64;

  // Notes number `seq`. `missed_from`/`missed_count` tell the caller which numbers a kJump skipped.
  SeqVerdict note(std::uint32_t seq);

  // The device restarted (known from elsewhere): the next number starts the stream again; counted
  // as a reset if anything was seen before.
  void restart() {
    if (started_) ++counters_.resets;
    started_ = false;
  }

  const SequenceCounters& counters() const { return counters_; }
  bool started() const { return started_; }
  std::uint32_t highest() const { return highest_; }
  // For kJump: the first skipped number and how many (wrapping arithmetic).
  std::uint32_t last_missed_from() const { return missed_from_; }
  std::uint32_t last_missed_count() const { return missed_count_; }

 private:
  SequenceCounters counters_;
  bool started_ = false;
  std::uint32_t highest_ = 0;
  // Bit i set: number highest_ - i was received (bit 0 is highest_ itself).
  std::uint64_t seen_ = 0;
  std::uint32_t missed_from_ = 0;
  std::uint32_t missed_count_ = 0;
};

}  // namespace xrm::ingest
