#include <CppUTest/TestHarness.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "xrm/mqtt/inbound_queue.hpp"

using xrm::mqtt_link::InboundItem;
using xrm::mqtt_link::InboundQueue;
using Push = InboundQueue::Push;

namespace {

::mqtt::const_message_ptr msg(const std::string& payload) {
  return ::mqtt::make_message("xrm/v1/dev/pump-1/tele", payload);
}

// The payloads of `items`, joined with ','.
std::string payloads(const std::vector<InboundItem>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item.message->get_payload_str();
  }
  return out;
}

void check_push(Push expected, Push actual, const char* what) { CHECK_TEXT(expected == actual, what); }

}  // namespace

TEST_GROUP(InboundQueue){};

TEST(InboundQueue, FirstPushWakesLaterOnesQueueUntilTakeDrainsAll) {
  InboundQueue q(100);
  check_push(Push::kWake, q.push(msg("a"), 0), "first push");
  check_push(Push::kQueued, q.push(msg("b"), 0), "second push");
  check_push(Push::kQueued, q.push(msg("c"), 3), "third push");
  CHECK_EQUAL(std::size_t{3}, q.depth());

  std::vector<InboundItem> out;
  CHECK_FALSE(q.take(out, 10));
  STRCMP_EQUAL("a,b,c", payloads(out).c_str());
  CHECK_EQUAL(std::uint64_t{0}, out[0].token);
  CHECK_EQUAL(std::uint64_t{3}, out[2].token);
  STRCMP_EQUAL("xrm/v1/dev/pump-1/tele", out[0].message->get_topic().c_str());
  CHECK_EQUAL(std::size_t{0}, q.depth());

  // The drain ended: the next push must schedule one again.
  check_push(Push::kWake, q.push(msg("d"), 0), "push after the drain");
  check_push(Push::kQueued, q.push(msg("e"), 0), "push after that");
  out.clear();
  CHECK_FALSE(q.take(out, 2));  // exactly max left: all of it, drain ends
  STRCMP_EQUAL("d,e", payloads(out).c_str());
  check_push(Push::kWake, q.push(msg("f"), 0), "push after the second drain");
}

TEST(InboundQueue, TakeOnAnEmptyQueueEndsTheDrain) {
  InboundQueue q(10);
  std::vector<InboundItem> out;
  CHECK_FALSE(q.take(out, 5));
  CHECK(out.empty());
  check_push(Push::kWake, q.push(msg("a"), 0), "push");
}

TEST(InboundQueue, LimitDropsTokenZeroMessagesAndCountsThem) {
  InboundQueue q(2);
  check_push(Push::kWake, q.push(msg("a"), 0), "a");
  check_push(Push::kQueued, q.push(msg("b"), 0), "b");
  check_push(Push::kDropped, q.push(msg("c"), 0), "c");
  CHECK_EQUAL(std::uint64_t{1}, q.dropped());
  CHECK_EQUAL(std::size_t{2}, q.depth());

  // A durable message still goes in, and does not use the room of the droppable ones.
  check_push(Push::kQueued, q.push(msg("J"), 7), "journaled");
  check_push(Push::kDropped, q.push(msg("d"), 0), "d");
  CHECK_EQUAL(std::uint64_t{2}, q.dropped());
  CHECK_EQUAL(std::size_t{3}, q.depth());

  std::vector<InboundItem> out;
  CHECK_FALSE(q.take(out, 100));
  STRCMP_EQUAL("a,b,J", payloads(out).c_str());
  CHECK_EQUAL(std::uint64_t{7}, out[2].token);

  // Room again for exactly `limit`.
  check_push(Push::kWake, q.push(msg("e"), 0), "e");
  check_push(Push::kQueued, q.push(msg("f"), 0), "f");
  check_push(Push::kDropped, q.push(msg("g"), 0), "g");
  CHECK_EQUAL(std::uint64_t{3}, q.dropped());
}

TEST(InboundQueue, TokenMessagesAreNeverDroppedEvenWhenFull) {
  InboundQueue q(1);
  check_push(Push::kWake, q.push(msg("x"), 0), "fills the limit");
  check_push(Push::kDropped, q.push(msg("y"), 0), "over the limit");
  for (std::uint64_t i = 1; i <= 500; ++i) {
    check_push(Push::kQueued, q.push(msg(std::to_string(i)), i), "durable");
  }
  CHECK_EQUAL(std::size_t{501}, q.depth());
  CHECK_EQUAL(std::uint64_t{1}, q.dropped());
  std::vector<InboundItem> out;
  CHECK_FALSE(q.take(out, 1000));
  CHECK_EQUAL(std::size_t{501}, out.size());
  STRCMP_EQUAL("x", out[0].message->get_payload_str().c_str());
  for (std::size_t i = 1; i < out.size(); ++i) {
    CHECK_EQUAL(std::uint64_t{i}, out[i].token);
    STRCMP_EQUAL(std::to_string(i).c_str(), out[i].message->get_payload_str().c_str());
  }
}

TEST(InboundQueue, LimitZeroMeansNoLimit) {
  InboundQueue q(0);
  for (int i = 0; i < 5000; ++i) {
    const Push p = q.push(msg(std::to_string(i)), 0);
    CHECK(p == (i == 0 ? Push::kWake : Push::kQueued));
  }
  CHECK_EQUAL(std::uint64_t{0}, q.dropped());
  CHECK_EQUAL(std::size_t{5000}, q.depth());
}

TEST(InboundQueue, PartialTakeKeepsOrderAndRecomputesTheRoom) {
  InboundQueue q(3);
  check_push(Push::kWake, q.push(msg("a"), 0), "a");
  check_push(Push::kQueued, q.push(msg("B"), 5), "B");
  check_push(Push::kQueued, q.push(msg("c"), 0), "c");
  check_push(Push::kQueued, q.push(msg("d"), 0), "d");
  check_push(Push::kDropped, q.push(msg("e"), 0), "e: a, c and d fill the limit");

  std::vector<InboundItem> out;
  CHECK_TRUE(q.take(out, 2));  // more remain
  STRCMP_EQUAL("a,B", payloads(out).c_str());
  CHECK_EQUAL(std::size_t{2}, q.depth());

  // c and d wait: room for exactly one more droppable message. The drain is still scheduled.
  check_push(Push::kQueued, q.push(msg("f"), 0), "f");
  check_push(Push::kDropped, q.push(msg("g"), 0), "g");
  check_push(Push::kQueued, q.push(msg("H"), 9), "H");
  CHECK_EQUAL(std::uint64_t{2}, q.dropped());

  out.clear();
  CHECK_TRUE(q.take(out, 1));
  STRCMP_EQUAL("c", payloads(out).c_str());
  // d, f, H wait: two droppable ones, so room for one.
  check_push(Push::kQueued, q.push(msg("i"), 0), "i");
  check_push(Push::kDropped, q.push(msg("j"), 0), "j");

  out.clear();
  CHECK_FALSE(q.take(out, 10));
  STRCMP_EQUAL("d,f,H,i", payloads(out).c_str());
  CHECK_EQUAL(std::uint64_t{9}, out[2].token);
  CHECK_EQUAL(std::size_t{0}, q.depth());
  check_push(Push::kWake, q.push(msg("k"), 0), "k after the drain ended");
  CHECK_EQUAL(std::uint64_t{3}, q.dropped());
}

TEST(InboundQueue, PartialTakeOfOnlyDurableItemsLeavesFullRoom) {
  InboundQueue q(2);
  q.push(msg("A"), 1);
  q.push(msg("B"), 2);
  q.push(msg("c"), 0);
  q.push(msg("d"), 0);
  std::vector<InboundItem> out;
  CHECK_TRUE(q.take(out, 3));  // A, B, c: only d (droppable) waits
  STRCMP_EQUAL("A,B,c", payloads(out).c_str());
  check_push(Push::kQueued, q.push(msg("e"), 0), "e");
  check_push(Push::kDropped, q.push(msg("f"), 0), "f");
}

TEST(InboundQueue, HighWaterIsTheMostThatWaitedAtOnce) {
  InboundQueue q(0);
  CHECK_EQUAL(std::size_t{0}, q.high_water());
  for (int i = 0; i < 5; ++i) q.push(msg("x"), 0);
  CHECK_EQUAL(std::size_t{5}, q.high_water());
  std::vector<InboundItem> out;
  q.take(out, 100);
  for (int i = 0; i < 3; ++i) q.push(msg("x"), 0);
  CHECK_EQUAL(std::size_t{5}, q.high_water());
  for (int i = 0; i < 3; ++i) q.push(msg("x"), 0);
  CHECK_EQUAL(std::size_t{6}, q.high_water());
}

TEST(InboundQueue, HighWaterDoesNotCountDroppedMessages) {
  InboundQueue q(2);
  for (int i = 0; i < 10; ++i) q.push(msg("x"), 0);
  CHECK_EQUAL(std::size_t{2}, q.high_water());
  CHECK_EQUAL(std::uint64_t{8}, q.dropped());
}

TEST(InboundQueue, CloseEmptiesAndRefusesLaterPushes) {
  InboundQueue q(10);
  q.push(msg("a"), 0);
  q.push(msg("B"), 4);
  q.close();
  CHECK_EQUAL(std::size_t{0}, q.depth());
  check_push(Push::kClosed, q.push(msg("c"), 0), "token 0 after close");
  check_push(Push::kClosed, q.push(msg("D"), 8), "durable after close");
  CHECK_EQUAL(std::size_t{0}, q.depth());
  std::vector<InboundItem> out;
  CHECK_FALSE(q.take(out, 10));
  CHECK(out.empty());
  q.close();  // idempotent
  CHECK_EQUAL(std::size_t{0}, q.depth());
}

namespace {

// Drives the queue as Connection does: the producer posts a drain (here: bumps `wakes`) when
// push() says kWake; the consumer, per wake, takes batches until take() says nothing remains.
// Returns the payloads received as numbers, in order.
std::vector<int> run_producer_consumer(InboundQueue& q, int n, std::uint64_t token_every, int& wakes_out,
                                       bool& timed_out) {
  std::atomic<int> wakes{0};
  std::atomic<bool> producer_done{false};
  std::thread producer([&] {
    for (int i = 0; i < n; ++i) {
      const std::uint64_t token =
          (token_every != 0 && static_cast<std::uint64_t>(i) % token_every == 0) ? static_cast<std::uint64_t>(i) + 1 : 0;
      if (q.push(msg(std::to_string(i)), token) == Push::kWake) wakes.fetch_add(1, std::memory_order_release);
    }
    producer_done.store(true, std::memory_order_release);
  });

  std::vector<int> received;
  received.reserve(static_cast<std::size_t>(n));
  std::vector<InboundItem> out;
  int handled = 0;
  timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (handled < wakes.load(std::memory_order_acquire)) {
      ++handled;
      bool more = true;
      while (more) {
        out.clear();
        more = q.take(out, 64);
        for (const auto& item : out) received.push_back(std::stoi(item.message->get_payload_str()));
      }
      continue;
    }
    // Done when the producer has finished and every wake it posted has been handled.
    if (producer_done.load(std::memory_order_acquire) && handled == wakes.load(std::memory_order_acquire)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::yield();
  }
  producer.join();
  wakes_out = wakes.load();
  return received;
}

}  // namespace

TEST(InboundQueue, ConcurrentProducerAndDrainReceiveEverythingInOrder) {
  constexpr int kN = 20000;
  InboundQueue q(0);
  int wakes = 0;
  bool timed_out = false;
  const std::vector<int> received = run_producer_consumer(q, kN, 0, wakes, timed_out);
  CHECK_FALSE(timed_out);
  CHECK_EQUAL(std::size_t{kN}, received.size());
  for (std::size_t i = 0; i < received.size(); ++i) {
    if (received[i] != static_cast<int>(i)) {
      FAIL(("out of order at " + std::to_string(i) + ": got " + std::to_string(received[i])).c_str());
    }
  }
  CHECK(wakes >= 1);
  CHECK_EQUAL(std::size_t{0}, q.depth());
  CHECK_EQUAL(std::uint64_t{0}, q.dropped());
}

TEST(InboundQueue, ConcurrentWithALimitDropsOnlyTokenZeroAndKeepsOrder) {
  constexpr int kN = 20000;
  InboundQueue q(8);
  int wakes = 0;
  bool timed_out = false;
  // Every 10th message carries a token (journaled): none of those may be lost.
  const std::vector<int> received = run_producer_consumer(q, kN, 10, wakes, timed_out);
  CHECK_FALSE(timed_out);
  CHECK_EQUAL(static_cast<std::uint64_t>(kN), received.size() + q.dropped());
  for (std::size_t i = 1; i < received.size(); ++i) {
    if (received[i] <= received[i - 1]) FAIL(("out of order at " + std::to_string(i)).c_str());
  }
  std::size_t durable = 0;
  for (int v : received) {
    if (v % 10 == 0) ++durable;
  }
  CHECK_EQUAL(std::size_t{kN / 10}, durable);
  CHECK_EQUAL(std::size_t{0}, q.depth());
}
