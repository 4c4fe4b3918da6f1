#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "xrm/health/rules.hpp"

using namespace std::chrono_literals;
using xrm::health::RuleFunc;
using xrm::health::Window;

namespace {

// A bucket start for every span used here (a multiple of 80s and of 2ms): 2023-11-14T22:13:20Z.
constexpr std::int64_t kT0 = 1'700'000'000'000;
// An 80s window has 10s buckets.
constexpr std::int64_t kSec = 1000;

// CHECK that an optional is set and holds `want` exactly.
void check_value(double want, std::optional<double> got, const char* what) {
  CHECK_TEXT(got.has_value(), what);
  DOUBLES_EQUAL(want, got.value_or(-12345), 1e-12);
}

double count(const Window& w, std::int64_t now) { return w.value(RuleFunc::kCount, now).value_or(-1); }

}  // namespace

TEST_GROUP(Window){};

TEST(Window, EachFuncOverASequence) {
  Window w(80s);
  w.add(kT0, 5);
  w.add(kT0 + 1 * kSec, 1);
  w.add(kT0 + 12 * kSec, 9);
  w.add(kT0 + 25 * kSec, 3);
  const std::int64_t now = kT0 + 30 * kSec;
  check_value(4.5, w.value(RuleFunc::kAvg, now), "avg");
  check_value(1, w.value(RuleFunc::kMin, now), "min");
  check_value(9, w.value(RuleFunc::kMax, now), "max");
  check_value(3, w.value(RuleFunc::kLast, now), "last");
  check_value(4, w.value(RuleFunc::kCount, now), "count");
  check_value((3.0 - 5.0) / 25.0, w.value(RuleFunc::kRate, now), "rate: (newest - oldest) per second");
  CHECK(w.span() == 80s);
}

TEST(Window, EmptyWindowHasCountZeroAndNoOtherValue) {
  Window w(1min);
  check_value(0, w.value(RuleFunc::kCount, kT0), "count");
  CHECK_FALSE(w.value(RuleFunc::kAvg, kT0));
  CHECK_FALSE(w.value(RuleFunc::kMin, kT0));
  CHECK_FALSE(w.value(RuleFunc::kMax, kT0));
  CHECK_FALSE(w.value(RuleFunc::kLast, kT0));
  CHECK_FALSE(w.value(RuleFunc::kRate, kT0));
}

TEST(Window, ValueCountsForAtLeastTheSpanAndAtMostSpanPlusABucket) {
  // 80s span, 10s buckets: a value at the start of its bucket counts for span + width - 1ms...
  Window early(80s);
  early.add(kT0, 1);
  CHECK_EQUAL(1, count(early, kT0 + 89'999));
  CHECK_EQUAL(0, count(early, kT0 + 90'000));
  // ...one at the end of its bucket for exactly the span.
  Window late(80s);
  late.add(kT0 + 9'999, 1);
  CHECK_EQUAL(1, count(late, kT0 + 9'999 + 80'000));
  CHECK_EQUAL(0, count(late, kT0 + 9'999 + 80'001));
}

TEST(Window, ExpiryWorksTheSameThroughAdd) {
  Window w(80s);
  w.add(kT0, 1);
  w.add(kT0 + 20 * kSec, 5);
  w.add(kT0 + 40 * kSec, 3);
  check_value(1, w.value(RuleFunc::kMin, kT0 + 89'999), "min while the first value is in");
  w.add(kT0 + 90 * kSec, 4);  // rotates: the bucket of kT0 leaves
  const std::int64_t now = kT0 + 90 * kSec;
  check_value(3, w.value(RuleFunc::kCount, now), "count");
  check_value(3, w.value(RuleFunc::kMin, now), "min");
  check_value(5, w.value(RuleFunc::kMax, now), "max");
  check_value(4, w.value(RuleFunc::kAvg, now), "avg");
  check_value((4.0 - 5.0) / 70.0, w.value(RuleFunc::kRate, now), "rate from the oldest value left");
}

TEST(Window, SmallSpansRoundTheBucketWidthUp) {
  Window one_ms(1ms);  // width 1ms: counts at t .. t + 8ms
  one_ms.add(kT0, 1);
  CHECK_EQUAL(1, count(one_ms, kT0 + 8));
  CHECK_EQUAL(0, count(one_ms, kT0 + 9));
  Window ten_ms(10ms);  // width ceil(10 / 8) = 2ms: counts until 9 buckets = 18ms
  ten_ms.add(kT0, 1);
  CHECK_EQUAL(1, count(ten_ms, kT0 + 17));
  CHECK_EQUAL(0, count(ten_ms, kT0 + 18));
}

TEST(Window, AdvanceChangesNoResult) {
  Window w(80s);
  for (int i = 0; i < 40; ++i) w.add(kT0 + i * 3 * kSec, (i * 7) % 11);
  for (std::int64_t later : {0LL, 1LL, 9'999LL, 10'000LL, 35'000LL, 79'999LL, 85'000LL, 200'000LL}) {
    const std::int64_t now = kT0 + 39 * 3 * kSec + later;
    Window advanced = w;
    advanced.advance(now);
    for (RuleFunc f :
         {RuleFunc::kAvg, RuleFunc::kMin, RuleFunc::kMax, RuleFunc::kLast, RuleFunc::kCount, RuleFunc::kRate}) {
      const auto a = w.value(f, now);
      const auto b = advanced.value(f, now);
      CHECK_EQUAL(a.has_value(), b.has_value());
      if (a && b) DOUBLES_EQUAL(*a, *b, 1e-12);
    }
  }
}

TEST(Window, BucketsAreAllocatedAtTheFirstAddOnly) {
  Window w(1h);
  CHECK_EQUAL(0U, w.heap_bytes());
  w.add(kT0, 1);
  const std::size_t after_first = w.heap_bytes();
  CHECK_EQUAL((Window::kBuckets + 1) * 40U, after_first);
  for (int i = 1; i < 1000; ++i) w.add(kT0 + i * 10 * kSec, i);
  CHECK_EQUAL(after_first, w.heap_bytes());
}

TEST(Window, LastOnlyWindowKeepsJustTheNewestValue) {
  Window w(30s, /*needs_buckets=*/false);
  w.add(kT0, 1);
  w.add(kT0 + kSec, 2);
  CHECK_EQUAL(0U, w.heap_bytes());
  check_value(2, w.value(RuleFunc::kLast, kT0 + kSec), "last");
}

TEST(Window, RateNeedsTwoValuesAtDifferentTimes) {
  Window w(80s);
  CHECK_FALSE(w.value(RuleFunc::kRate, kT0));
  w.add(kT0, 10);
  CHECK_FALSE(w.value(RuleFunc::kRate, kT0));
  w.add(kT0, 11);
  CHECK_FALSE(w.value(RuleFunc::kRate, kT0));  // two values, the same time
  w.add(kT0 + 4 * kSec, 12);
  check_value(0.5, w.value(RuleFunc::kRate, kT0 + 4 * kSec), "(12 - 10) / 4s");
  // Once the oldest bucket leaves, the rate starts from the oldest value left.
  w.add(kT0 + 50 * kSec, 20);
  w.add(kT0 + 100 * kSec, 40);
  check_value(0.4, w.value(RuleFunc::kRate, kT0 + 100 * kSec), "(40 - 20) / 50s");
}

TEST(Window, AJumpFarAheadClearsEverything) {
  Window w(80s);
  for (int i = 0; i < 100; ++i) w.add(kT0 + i * kSec, 100 + i);
  const std::int64_t far = kT0 + 1'000'000'000;
  CHECK_EQUAL(0, count(w, far));
  w.add(far, 7);
  check_value(1, w.value(RuleFunc::kCount, far), "count");
  check_value(7, w.value(RuleFunc::kMin, far), "min");
  check_value(7, w.value(RuleFunc::kMax, far), "max");
  CHECK_FALSE(w.value(RuleFunc::kRate, far));
}

TEST(Window, LastOutsideTheWindowIsNullopt) {
  Window bucketed(80s);
  Window last_only(80s, false);
  for (Window* w : {&bucketed, &last_only}) {
    w->add(kT0, 3);
    check_value(3, w->value(RuleFunc::kLast, kT0 + 89'999), "last inside");
    CHECK_FALSE(w->value(RuleFunc::kLast, kT0 + 90'000));
  }
}

TEST(Window, AnOlderTimeCountsAsTheNewestValuesTime) {
  Window w(80s);
  w.add(kT0 + 10 * kSec, 1);
  w.add(kT0, 2);  // the caller broke its promise: taken as kT0 + 10s
  check_value(2, w.value(RuleFunc::kLast, kT0 + 10 * kSec), "last");
  CHECK_FALSE(w.value(RuleFunc::kRate, kT0 + 10 * kSec));  // both at kT0 + 10s
  // After advance() a value is still never placed in a bucket that has left the window.
  w.advance(kT0 + 200 * kSec);
  w.add(kT0 + 20 * kSec, 5);
  check_value(1, w.value(RuleFunc::kCount, kT0 + 200 * kSec), "count");
}

TEST(Window, HugeSpansKeepValueTimes) {
  Window w(std::chrono::hours(24 * 400));  // buckets of 50 days (4'320'000'000 ms), wider than 2^32 ms
  // 4'310'000'000 ms into its bucket: an offset that does not fit 32 bits.
  const std::int64_t t = 1'702'070'000'000;
  w.add(t, 0);
  w.add(t + 1000 * kSec, 100);
  check_value(0.1, w.value(RuleFunc::kRate, t + 1000 * kSec), "rate");
}
