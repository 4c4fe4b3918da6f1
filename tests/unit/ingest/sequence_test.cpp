#include <CppUTest/TestHarness.h>

#include <initializer_list>

#include "xrm/ingest/sequence.hpp"

using xrm::ingest::SeqVerdict;
using xrm::ingest::SequenceCounters;
using xrm::ingest::SequenceTracker;

namespace {

SequenceCounters feed(SequenceTracker& t, std::initializer_list<std::uint32_t> seqs) {
  for (auto s : seqs) t.note(s);
  return t.counters();
}

void check(const SequenceCounters& c, std::uint64_t received, std::uint64_t missed, std::uint64_t duplicates,
           std::uint64_t late, std::uint64_t resets) {
  CHECK_EQUAL(received, c.received);
  CHECK_EQUAL(missed, c.missed);
  CHECK_EQUAL(duplicates, c.duplicates);
  CHECK_EQUAL(late, c.late);
  CHECK_EQUAL(resets, c.resets);
}

}  // namespace

TEST_GROUP(Sequence){};

TEST(Sequence, InOrderCountsNothingMissing) {
  SequenceTracker t;
  CHECK(t.note(0) == SeqVerdict::kFirst);
  CHECK(t.note(1) == SeqVerdict::kNext);
  check(feed(t, {2, 3, 4, 5}), 6, 0, 0, 0, 0);
  CHECK_EQUAL(5u, t.highest());
}

TEST(Sequence, FirstNumberNeedNotBeZero) {
  SequenceTracker t;
  check(feed(t, {1000, 1001, 1002}), 3, 0, 0, 0, 0);
}

TEST(Sequence, GapCountsEachMissedNumber) {
  SequenceTracker t;
  t.note(1);
  CHECK(t.note(5) == SeqVerdict::kJump);
  CHECK_EQUAL(2u, t.last_missed_from());
  CHECK_EQUAL(3u, t.last_missed_count());
  check(feed(t, {6, 10}), 4, 3 + 3, 0, 0, 0);
}

TEST(Sequence, DuplicateOfHighestAndOfOlder) {
  SequenceTracker t;
  feed(t, {1, 2, 3});
  CHECK(t.note(3) == SeqVerdict::kDuplicate);
  CHECK(t.note(1) == SeqVerdict::kDuplicate);
  check(t.counters(), 5, 0, 2, 0, 0);
}

TEST(Sequence, LateMessageFillsItsGap) {
  SequenceTracker t;
  feed(t, {1, 2, 4, 5});
  CHECK_EQUAL(1u, t.counters().missed);
  CHECK(t.note(3) == SeqVerdict::kLate);
  check(t.counters(), 5, 0, 0, 1, 0);
  // The same late number again is a duplicate.
  CHECK(t.note(3) == SeqVerdict::kDuplicate);
  check(t.counters(), 6, 0, 1, 1, 0);
}

TEST(Sequence, ReorderAtTheEdgeOfTheWindow) {
  SequenceTracker t;
  t.note(100);
  t.note(100 + SequenceTracker::kWindow);  // misses 63
  CHECK(t.note(101) == SeqVerdict::kLate);  // 63 behind: still inside the window
  CHECK_EQUAL(std::uint64_t{SequenceTracker::kWindow - 2}, t.counters().missed);
  CHECK(t.note(100) == SeqVerdict::kReset);  // 64 behind: outside
  CHECK_EQUAL(1u, t.counters().resets);
}

TEST(Sequence, RebootStartingNearZeroIsOneResetNotFourBillionGaps) {
  SequenceTracker t;
  for (std::uint32_t s = 5000; s < 5100; ++s) t.note(s);
  CHECK(t.note(0) == SeqVerdict::kReset);
  check(feed(t, {1, 2, 3}), 104, 0, 0, 0, 1);
  CHECK_EQUAL(3u, t.highest());
}

TEST(Sequence, RebootStartingAtOneAfterFewMessagesIsAReset) {
  SequenceTracker t;
  for (std::uint32_t s = 1; s <= 200; ++s) t.note(s);
  CHECK(t.note(1) == SeqVerdict::kReset);
  CHECK(t.note(2) == SeqVerdict::kNext);
}

TEST(Sequence, WrapAroundIsTheNextNumber) {
  SequenceTracker t;
  feed(t, {4294967294u, 4294967295u});
  CHECK(t.note(0) == SeqVerdict::kNext);
  CHECK(t.note(1) == SeqVerdict::kNext);
  check(t.counters(), 4, 0, 0, 0, 0);
}

TEST(Sequence, GapAcrossTheWrap) {
  SequenceTracker t;
  t.note(4294967290u);
  CHECK(t.note(3) == SeqVerdict::kJump);  // skips ...91 to ...95, 0, 1, 2: 8 numbers
  CHECK_EQUAL(8u, t.counters().missed);
  CHECK_EQUAL(4294967291u, t.last_missed_from());
  CHECK(t.note(4294967295u) == SeqVerdict::kLate);  // behind across the wrap, inside the window
  CHECK_EQUAL(7u, t.counters().missed);
}

TEST(Sequence, LargeJumpForwardCountsAsMissed) {
  SequenceTracker t;
  t.note(10);
  t.note(1000010);
  CHECK_EQUAL(999999u, t.counters().missed);
  // The window was cleared by the jump: something just behind is late, not a duplicate.
  CHECK(t.note(1000009) == SeqVerdict::kLate);
}

TEST(Sequence, CountersAdd) {
  SequenceCounters a{10, 2, 1, 1, 0};
  a += SequenceCounters{5, 1, 0, 2, 1};
  check(a, 15, 3, 1, 3, 1);
}
