#include <CppUTest/TestHarness.h>

#include "xrm/common/backoff.hpp"

using namespace std::chrono_literals;

TEST_GROUP(Backoff){};

TEST(Backoff, GrowsWithinJitterBoundsUpToMax) {
  xrm::Backoff b(100ms, 1000ms, 7);
  const std::chrono::milliseconds ceilings[] = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms};
  for (auto c : ceilings) {
    const auto d = b.next();
    CHECK_TRUE(d >= c / 2);
    CHECK_TRUE(d <= c);
  }
  CHECK_EQUAL(7U, b.attempts());
}

TEST(Backoff, ResetStartsOver) {
  xrm::Backoff b(100ms, 10s, 1);
  for (int i = 0; i < 10; ++i) b.next();
  b.reset();
  CHECK_TRUE(b.next() <= 100ms);
}

TEST(Backoff, SameSeedSameSequenceOtherSeedDiffers) {
  xrm::Backoff a(1s, 60s, 42), b(1s, 60s, 42), c(1s, 60s, 43);
  bool differs = false;
  for (int i = 0; i < 8; ++i) {
    const auto x = a.next();
    CHECK(x == b.next());
    differs |= x != c.next();
  }
  CHECK_TRUE(differs);
}

TEST(Backoff, ManyAttemptsNeverOverflow) {
  xrm::Backoff b(1s, 60s, 3);
  for (int i = 0; i < 200; ++i) {
    const auto d = b.next();
    CHECK_TRUE(d >= 1ms);
    CHECK_TRUE(d <= 60s);
  }
}
