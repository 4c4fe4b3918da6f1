#include "xrm/ingest/sequence.hpp"

namespace xrm::ingest {

SeqVerdict SequenceTracker::note(std::uint32_t seq) {
  ++counters_.received;
  if (!started_) {
    started_ = true;
    highest_ = seq;
    seen_ = 1;
    return SeqVerdict::kFirst;
  }
  // Unsigned 32-bit difference: wrapping from 4294967295 to 0 is a step of one forward.
  const std::uint32_t ahead = seq - highest_;
  if (ahead == 0) {
    ++counters_.duplicates;
    return SeqVerdict::kDuplicate;
  }
  if (ahead < 0x80000000u) {
    // Forward.
    seen_ = ahead >= 64 ? 1 : (seen_ << ahead) | 1;
    highest_ = seq;
    if (ahead == 1) return SeqVerdict::kNext;
    missed_from_ = seq - ahead + 1;
    missed_count_ = ahead - 1;
    counters_.missed += ahead - 1;
    return SeqVerdict::kJump;
  }
  const std::uint32_t behind = highest_ - seq;
  if (behind < kWindow) {
    const std::uint64_t bit = std::uint64_t{1} << behind;
    if ((seen_ & bit) != 0) {
      ++counters_.duplicates;
      return SeqVerdict::kDuplicate;
    }
    seen_ |= bit;
    ++counters_.late;
    if (counters_.missed > 0) --counters_.missed;
    return SeqVerdict::kLate;
  }
  ++counters_.resets;
  highest_ = seq;
  seen_ = 1;
  return SeqVerdict::kReset;
}

}  // namespace xrm::ingest
