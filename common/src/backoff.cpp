#include "xrm/common/backoff.hpp"

#include <algorithm>

namespace xrm {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed) : rng_(seed) {
  set_limits(min, max);
}

void Backoff::set_limits(std::chrono::milliseconds min, std::chrono::milliseconds max) {
  min_ = std::max(min, std::chrono::milliseconds(1));
  max_ = std::max(max, min_);
}

std::chrono::milliseconds Backoff::next() {
  // 2^attempt overflows nothing: the shift is capped well below 63 bits.
  const unsigned shift = std::min(attempt_, 30U);
  const std::int64_t grown = min_.count() << shift;
  const std::int64_t ceiling = (grown / (std::int64_t{1} << shift) != min_.count()) ? max_.count()
                                                                                       : std::min(grown, max_.count());
  std::uniform_int_distribution<std::int64_t> pick(std::max<std::int64_t>(1, ceiling / 2), ceiling);
  ++attempt_;
  return std::chrono::milliseconds(pick(rng_));
}

}  // namespace xrm
