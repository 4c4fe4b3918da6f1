#pragma once
// Time as the pipeline sees it. Stages take a Clock& so unit tests can drive time with FakeClock;
// the daemon uses SystemClock. Asio timers stay on std::chrono::steady_clock.
#include <chrono>
#include <cstdint>

namespace xrm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for intervals and timeouts; never jumps when the wall clock is set.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
  // Wall-clock time, for timestamps that leave the gateway (records, status).
  virtual std::chrono::system_clock::time_point system_now() const = 0;
  // Wall-clock milliseconds since the Unix epoch, the unit of every timestamp in the schema.
  std::int64_t unix_ms() const;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override;
  std::chrono::system_clock::time_point system_now() const override;
};

// A clock that moves only when told. Not thread-safe: tests drive it from one thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start = std::chrono::system_clock::time_point{
                         std::chrono::milliseconds{1'800'000'000'000}})
      : system_(start) {}
  std::chrono::steady_clock::time_point steady_now() const override { return steady_; }
  std::chrono::system_clock::time_point system_now() const override { return system_; }
  // Moves both clocks forward.
  void advance(std::chrono::milliseconds d) {
    steady_ += d;
    system_ += d;
  }
  // Sets the wall clock only (as an NTP step would); the steady clock does not move.
  void set_wall(std::chrono::system_clock::time_point t) { system_ = t; }

 private:
  std::chrono::steady_clock::time_point steady_{};
  std::chrono::system_clock::time_point system_;
};

}  // namespace xrm
