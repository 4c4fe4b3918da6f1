#include <CppUTest/TestHarness.h>

#include "xrm/common/clock.hpp"

using namespace std::chrono_literals;

TEST_GROUP(FakeClock){};

TEST(FakeClock, AdvancesBothClocks) {
  xrm::FakeClock c;
  const auto s0 = c.steady_now();
  const auto ms0 = c.unix_ms();
  c.advance(1500ms);
  CHECK(c.steady_now() - s0 == 1500ms);
  CHECK_EQUAL(ms0 + 1500, c.unix_ms());
}

TEST(FakeClock, WallClockStepLeavesSteadyAlone) {
  xrm::FakeClock c;
  const auto s0 = c.steady_now();
  c.set_wall(std::chrono::system_clock::time_point{} + 1h);
  CHECK(c.steady_now() == s0);
  CHECK_EQUAL(3'600'000, c.unix_ms());
}
