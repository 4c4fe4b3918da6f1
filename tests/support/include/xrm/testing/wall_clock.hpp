#pragma once
// The wall clock as tests stamp device messages and commands with it.
#include <chrono>
#include <cstdint>

namespace xrm::testing {

// Milliseconds since the Unix epoch, the unit of every timestamp in the schema.
inline std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace xrm::testing
