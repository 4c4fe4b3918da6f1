#include "xrm/common/clock.hpp"

namespace xrm {

std::int64_t Clock::unix_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(system_now().time_since_epoch()).count();
}

std::chrono::steady_clock::time_point SystemClock::steady_now() const { return std::chrono::steady_clock::now(); }

std::chrono::system_clock::time_point SystemClock::system_now() const { return std::chrono::system_clock::now(); }

}  // namespace xrm
