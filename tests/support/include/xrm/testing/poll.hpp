#pragma once
// Bounded polling: the only waiting tests do on things that have no notification of their own
// (a log line, a port opening, a process exiting).
#include <chrono>
#include <thread>

namespace xrm::testing {

using namespace std::chrono_literals;

// Calls cond() every `step` until it returns true (then true) or `timeout` has passed (then
// false, after one last try).
template <class Cond>
bool poll_until(Cond&& cond, std::chrono::milliseconds timeout, std::chrono::milliseconds step = 20ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

}  // namespace xrm::testing
