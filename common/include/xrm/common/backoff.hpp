#pragma once
// Reconnect delays: exponential growth with jitter, so a fleet of gateways that lost the same
// broker does not come back in lock-step. Attempt n waits a uniformly random time in
// [c/2, c] where c = min(max, min * 2^n). Not thread-safe; owned by one connection.
#include <chrono>
#include <cstdint>
#include <random>

namespace xrm {

class Backoff {
 public:
  // min > 0 and max >= min; seed makes the sequence repeatable in tests.
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed);

  // The delay before the next attempt; each call counts one attempt.
  std::chrono::milliseconds next();
  // After a success: the next delay starts again from min.
  void reset() { attempt_ = 0; }
  unsigned attempts() const { return attempt_; }
  void set_limits(std::chrono::milliseconds min, std::chrono::milliseconds max);

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  unsigned attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace xrm
