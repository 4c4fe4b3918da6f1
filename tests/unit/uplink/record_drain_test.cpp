// The record drain against a real outbox (SQLite in a temporary directory) and a fake link that
// records every publish and lets the test acknowledge, fail or refuse each one.
#include <CppUTest/TestHarness.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/testing/store_fixture.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"
#include "xrm/uplink/record_drain.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using xrm::Status;
using xrm::uplink::RecordDrain;

namespace {

struct Published {
  std::string topic;
  xrm::v1::RecordBatch batch;
  std::function<void(Status)> done;
  bool answered = false;
};

std::string seqs_text(const xrm::v1::RecordBatch& b) {
  std::string out;
  for (const auto& r : b.records()) out += (out.empty() ? "" : ",") + std::to_string(r.seq());
  return out;
}

}  // namespace

TEST_GROUP(RecordDrain) {
  xrm::testing::StoreFixture store{"drain"};
  xrm::FakeClock& clock = store.clock;
  boost::asio::io_context io;
  std::unique_ptr<xrm::store::Database>& db = store.db;
  std::unique_ptr<xrm::outbox::Outbox>& outbox = store.outbox;
  std::unique_ptr<RecordDrain> drain;
  std::vector<Published> published;
  bool connected = true;

  void setup() override { make_drain(RecordDrain::Settings{}); }
  void teardown() override { drain.reset(); }

  void make_drain(std::chrono::milliseconds retry_delay) {
    RecordDrain::Settings settings;
    settings.retry_delay = retry_delay;
    make_drain(settings);
  }
  void make_drain(const RecordDrain::Settings& settings) {
    RecordDrain::Link link;
    link.publish = [this](const std::string& topic, std::string payload, std::function<void(Status)> done) {
      Published p;
      p.topic = topic;
      CHECK_TEXT(p.batch.ParseFromString(payload), ("not a RecordBatch on " + topic).c_str());
      p.done = std::move(done);
      published.push_back(std::move(p));
    };
    link.connected = [this] { return connected; };
    drain.reset();
    drain = std::make_unique<RecordDrain>(io, *outbox, "gw-t", clock, std::move(link), settings);
  }

  std::uint64_t add(xrm::v1::RecordKind kind, std::size_t pad = 1) { return store.append(kind, pad); }
  void add_many(xrm::v1::RecordKind kind, int n) {
    CHECK(db->transaction([&] {
              for (int i = 0; i < n; ++i) add(kind);
              return Status::ok();
            }).is_ok());
  }

  // Runs what is ready on the io thread (posted wake-ups, nothing timed).
  void poll() {
    io.restart();
    io.poll();
  }
  void answer(std::size_t i, Status st) {
    CHECK_TEXT(i < published.size(), "no such publish");
    CHECK_FALSE_TEXT(published[i].answered, "answered twice");
    published[i].answered = true;
    published[i].done(st);
    poll();
  }
  void ack(std::size_t i) { answer(i, Status::ok()); }

  std::uint64_t depth() { return outbox->stats()->records; }
  std::size_t unanswered() const {
    std::size_t n = 0;
    for (const auto& p : published) n += p.answered ? 0 : 1;
    return n;
  }
  void check_batch(std::size_t i, const char* topic, const char* seqs) {
    CHECK_TEXT(i < published.size(), ("publish " + std::to_string(i) + " missing").c_str());
    STRCMP_EQUAL(topic, published[i].topic.c_str());
    STRCMP_EQUAL(seqs, seqs_text(published[i].batch).c_str());
  }
};

TEST(RecordDrain, NothingIsSentBeforeStart) {
  add(xrm::v1::RECORD_KIND_EVENT);
  poll();
  CHECK_EQUAL(0u, published.size());
  CHECK_FALSE(drain->running());
}

TEST(RecordDrain, CriticalLaneFirstThenBulkEachInSeqOrderOneKindPerBatch) {
  add(xrm::v1::RECORD_KIND_LIFECYCLE);  // 1 critical
  add(xrm::v1::RECORD_KIND_LIFECYCLE);  // 2 critical
  add(xrm::v1::RECORD_KIND_SUMMARY);    // 3 bulk
  add(xrm::v1::RECORD_KIND_EVENT);      // 4 critical
  add(xrm::v1::RECORD_KIND_EVENT);      // 5 critical
  add(xrm::v1::RECORD_KIND_SUMMARY);    // 6 bulk
  add(xrm::v1::RECORD_KIND_LIFECYCLE);  // 7 critical
  clock.advance(5000ms);
  drain->start();
  CHECK_EQUAL(4u, published.size());  // the window is full
  check_batch(0, "xrm/v1/gw/gw-t/rec/lifecycle", "1,2");
  check_batch(1, "xrm/v1/gw/gw-t/rec/event", "4,5");
  check_batch(2, "xrm/v1/gw/gw-t/rec/lifecycle", "7");
  check_batch(3, "xrm/v1/gw/gw-t/rec/summary", "3,6");
  const auto& b = published[1].batch;
  STRCMP_EQUAL("gw-t", b.gateway_id().c_str());
  CHECK_EQUAL(4u, b.first_seq());
  CHECK_EQUAL(5u, b.last_seq());
  LONGS_EQUAL(xrm::v1::RECORD_KIND_EVENT, b.kind());
  CHECK_EQUAL(static_cast<std::uint64_t>(clock.unix_ms()), b.created_at_ms());
  STRCMP_EQUAL("gw-t", b.records(0).gateway_id().c_str());
  LONGS_EQUAL(xrm::v1::RECORD_KIND_EVENT, b.records(0).kind());
  CHECK_EQUAL(4u, drain->counters().in_flight_batches);

  // Rows go only with their PUBACK.
  CHECK_EQUAL(7u, depth());
  ack(1);
  CHECK_EQUAL(5u, depth());
  CHECK_EQUAL(4u, published.size());  // nothing left to read
  ack(0);
  ack(3);
  ack(2);
  CHECK_EQUAL(0u, depth());
  const auto& c = drain->counters();
  CHECK_EQUAL(7u, c.records_sent);
  CHECK_EQUAL(4u, c.batches_sent);
  CHECK_EQUAL(0u, c.in_flight_batches);
  CHECK_EQUAL(0u, c.publish_errors);
  CHECK_EQUAL(7u, c.last_sent_seq);
  CHECK(c.last_error.empty());
}

TEST(RecordDrain, AtMostFourBatchesOfAtMostOneHundredInFlight) {
  add_many(xrm::v1::RECORD_KIND_EVENT, 450);
  drain->start();
  CHECK_EQUAL(4u, published.size());
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK_EQUAL(100, published[i].batch.records_size());
    CHECK_EQUAL(i * 100 + 1, published[i].batch.first_seq());
    CHECK_EQUAL(i * 100 + 100, published[i].batch.last_seq());
  }
  poll();
  CHECK_EQUAL(4u, published.size());  // nothing more until a PUBACK
  ack(0);
  CHECK_EQUAL(5u, published.size());
  CHECK_EQUAL(50, published[4].batch.records_size());
  CHECK_EQUAL(401u, published[4].batch.first_seq());
  CHECK_EQUAL(4u, unanswered());
  for (std::size_t i = 1; i < 5; ++i) ack(i);
  CHECK_EQUAL(0u, depth());
  CHECK_EQUAL(450u, drain->counters().records_sent);
  CHECK_EQUAL(450u, drain->counters().last_sent_seq);
}

TEST(RecordDrain, BatchesStayNearTheByteLimitAndABigRecordGoesAlone) {
  // About 10 KiB each: 12 fit in 128 KiB.
  for (int i = 0; i < 13; ++i) add(xrm::v1::RECORD_KIND_EVENT, 10 * 1024);
  add(xrm::v1::RECORD_KIND_EVENT, 200 * 1024);  // 14: larger than a batch
  add(xrm::v1::RECORD_KIND_EVENT);              // 15
  drain->start();
  CHECK_EQUAL(4u, published.size());
  CHECK_EQUAL(12, published[0].batch.records_size());
  check_batch(1, "xrm/v1/gw/gw-t/rec/event", "13");
  check_batch(2, "xrm/v1/gw/gw-t/rec/event", "14");
  check_batch(3, "xrm/v1/gw/gw-t/rec/event", "15");
  CHECK(published[0].batch.ByteSizeLong() <= RecordDrain::kMaxBatchBytes + 12 * 16 + 64);
}

TEST(RecordDrain, FreshCriticalRecordsOvertakeABulkBacklog) {
  add_many(xrm::v1::RECORD_KIND_SUMMARY, 600);
  drain->start();
  CHECK_EQUAL(4u, published.size());
  const std::uint64_t alert = add(xrm::v1::RECORD_KIND_ALERT);
  poll();
  CHECK_EQUAL(4u, published.size());  // the window is full
  ack(0);
  CHECK_EQUAL(5u, published.size());
  check_batch(4, "xrm/v1/gw/gw-t/rec/alert", std::to_string(alert).c_str());
  ack(1);
  CHECK_EQUAL(6u, published.size());
  STRCMP_EQUAL("xrm/v1/gw/gw-t/rec/summary", published[5].topic.c_str());
  CHECK_EQUAL(401u, published[5].batch.first_seq());
}

TEST(RecordDrain, WakesOnAppendOncePerBurst) {
  drain->start();
  CHECK_EQUAL(0u, published.size());
  add(xrm::v1::RECORD_KIND_EVENT);
  add(xrm::v1::RECORD_KIND_EVENT);
  add(xrm::v1::RECORD_KIND_EVENT);
  CHECK_EQUAL(0u, published.size());  // append only posts
  poll();
  CHECK_EQUAL(1u, published.size());
  check_batch(0, "xrm/v1/gw/gw-t/rec/event", "1,2,3");
}

TEST(RecordDrain, AppendInsideATransactionIsSentAfterTheCommit) {
  drain->start();
  CHECK(db->transaction([&] {
            add(xrm::v1::RECORD_KIND_LIFECYCLE);
            add(xrm::v1::RECORD_KIND_LIFECYCLE);
            return Status::ok();
          }).is_ok());
  CHECK(db->transaction([&] {
            add(xrm::v1::RECORD_KIND_LIFECYCLE);
            return Status::io_error("rolled back");
          }).is_ok() == false);
  poll();
  CHECK_EQUAL(1u, published.size());
  check_batch(0, "xrm/v1/gw/gw-t/rec/lifecycle", "1,2");
}

TEST(RecordDrain, LostConnectionResendsEverythingNotAcknowledged) {
  add(xrm::v1::RECORD_KIND_LIFECYCLE);  // 1
  add(xrm::v1::RECORD_KIND_EVENT);      // 2
  add(xrm::v1::RECORD_KIND_LIFECYCLE);  // 3
  add(xrm::v1::RECORD_KIND_SUMMARY);    // 4
  drain->start();
  CHECK_EQUAL(4u, published.size());
  ack(0);
  // The connection goes: what was in flight fails (as mqtt_link::Connection reports it), then stop().
  connected = false;
  answer(1, Status::unavailable("upstream: connection lost before acknowledgement"));
  answer(3, Status::unavailable("upstream: connection lost before acknowledgement"));
  drain->stop();
  add(xrm::v1::RECORD_KIND_EVENT);  // 5, while down
  poll();
  CHECK_EQUAL(4u, published.size());  // nothing while down, and no retry timer either
  // Publish 2 (seq 3) was acknowledged after all, late: its record goes.
  ack(2);
  CHECK_EQUAL(3u, depth());
  connected = true;
  drain->start();
  CHECK_EQUAL(6u, published.size());
  check_batch(4, "xrm/v1/gw/gw-t/rec/event", "2,5");
  check_batch(5, "xrm/v1/gw/gw-t/rec/summary", "4");
  CHECK_EQUAL(2u, drain->counters().in_flight_batches);
  ack(4);
  ack(5);
  CHECK_EQUAL(0u, depth());
  CHECK_EQUAL(2u, drain->counters().publish_errors);
  CHECK_EQUAL(0u, drain->counters().in_flight_batches);
  CHECK_EQUAL(5u, drain->counters().last_sent_seq);
}

TEST(RecordDrain, RefusedBatchIsRetriedAfterTheRetryDelay) {
  make_drain(100ms);
  add(xrm::v1::RECORD_KIND_EVENT);      // 1
  add(xrm::v1::RECORD_KIND_LIFECYCLE);  // 2
  drain->start();
  CHECK_EQUAL(2u, published.size());
  const auto refused_at = std::chrono::steady_clock::now();
  answer(0, Status::unavailable("publish refused by broker (reason 149)"));
  ack(1);
  CHECK_EQUAL(1u, drain->counters().publish_errors);
  STRCMP_EQUAL("publish refused by broker (reason 149)", drain->counters().last_error.c_str());
  add(xrm::v1::RECORD_KIND_EVENT);  // 3
  poll();
  CHECK_EQUAL(2u, published.size());  // waiting, not a tight loop
  const auto t0 = std::chrono::steady_clock::now();
  io.restart();
  while (published.size() == 2u && std::chrono::steady_clock::now() - t0 < 2s) io.run_one_for(50ms);
  CHECK(std::chrono::steady_clock::now() - refused_at >= 100ms);
  CHECK_EQUAL(3u, published.size());
  // From the oldest record still stored: seq 2 went meanwhile, so 1 and 3 are now one run of events.
  check_batch(2, "xrm/v1/gw/gw-t/rec/event", "1,3");
  ack(2);
  CHECK_EQUAL(0u, depth());
  CHECK_EQUAL(1u, drain->counters().publish_errors);
}

TEST(RecordDrain, UnparseableAndUnknownKindRowsAreRemovedUnsent) {
  const std::uint64_t good = add(xrm::v1::RECORD_KIND_EVENT);  // 1
  auto stmt = db->prepare(
      "INSERT INTO outbox(seq, lane, kind, device, created_ms, bytes, record) VALUES(?1, 0, ?2, 'x', 0, 7, ?3);");
  CHECK(stmt.is_ok());
  // 2: an event that is not a protobuf message; 3: a kind this build has no topic for.
  stmt->bind(1, std::int64_t{2})
      .bind(2, std::int64_t{xrm::v1::RECORD_KIND_EVENT})
      .bind_blob(3, "\xff\xff\xff\xff\xff\xff\xff");
  CHECK(stmt->run().is_ok());
  stmt->bind(1, std::int64_t{3}).bind(2, std::int64_t{77}).bind_blob(3, "");
  CHECK(stmt->run().is_ok());
  drain->start();
  CHECK_EQUAL(1u, published.size());
  check_batch(0, "xrm/v1/gw/gw-t/rec/event", std::to_string(good).c_str());
  CHECK_EQUAL(1u, depth());  // only the good one is left, waiting for its PUBACK
  ack(0);
  CHECK_EQUAL(0u, depth());
  CHECK_EQUAL(1u, drain->counters().records_sent);
}

TEST(RecordDrain, DestroyedDrainIgnoresLateCallbacksAndAppends) {
  add(xrm::v1::RECORD_KIND_EVENT);
  drain->start();
  CHECK_EQUAL(1u, published.size());
  auto done = published[0].done;
  drain.reset();
  done(Status::ok());               // nothing to call back into
  add(xrm::v1::RECORD_KIND_EVENT);  // no on_append left
  poll();
  CHECK_EQUAL(2u, depth());
}

// ---- Refusals, central's Acks and the outbox's limits.

namespace {

xrm::v1::Ack ack_of(std::uint64_t first, std::uint64_t last, const std::string& gateway = "gw-t") {
  xrm::v1::Ack a;
  a.set_gateway_id(gateway);
  a.set_consumer_id("test");
  auto* r = a.add_ranges();
  r->set_first(first);
  r->set_last(last);
  return a;
}

Status refusal() { return Status::invalid_argument("publish refused by broker: Packet too large (reason 149)"); }

}  // namespace

TEST(RecordDrain, ARefusedBatchGoesAgainOneByOneAndOnlyTheRefusedRecordIsSetAside) {
  add_many(xrm::v1::RECORD_KIND_EVENT, 3);  // seqs 1..3
  drain->start();
  poll();
  check_batch(0, "xrm/v1/gw/gw-t/rec/event", "1,2,3");
  answer(0, refusal());
  CHECK_EQUAL(1U, drain->counters().refused_batches);
  check_batch(1, "xrm/v1/gw/gw-t/rec/event", "1");
  check_batch(2, "xrm/v1/gw/gw-t/rec/event", "2");
  check_batch(3, "xrm/v1/gw/gw-t/rec/event", "3");
  ack(1);
  answer(2, refusal());  // seq 2 on its own: set aside with a gap record
  ack(3);
  CHECK_EQUAL(1U, drain->counters().dead_lettered);
  auto dead = outbox->dead_letters(10);
  CHECK_EQUAL(1U, dead->size());
  CHECK_EQUAL(2U, dead->at(0).seq);
  // The gap reporting it goes out next, as any critical record.
  poll();
  CHECK_EQUAL(5U, published.size());
  check_batch(4, "xrm/v1/gw/gw-t/rec/gap", "4");
  CHECK_EQUAL(xrm::v1::GAP_REASON_UPSTREAM_REFUSED, published[4].batch.records(0).gap().reason());
  ack(4);
  CHECK_EQUAL(0U, depth());
  // Batches are whole again after the refused range.
  add_many(xrm::v1::RECORD_KIND_EVENT, 2);
  poll();
  check_batch(5, "xrm/v1/gw/gw-t/rec/event", "5,6");
}

TEST(RecordDrain, ConfirmCentralKeepsRecordsAfterThePubackUntilCentralAcksThem) {
  RecordDrain::Settings settings;
  settings.confirm_central = true;
  make_drain(settings);
  add_many(xrm::v1::RECORD_KIND_EVENT, 3);
  drain->start();
  poll();
  ack(0);
  CHECK_EQUAL(3U, depth());
  CHECK_EQUAL(3U, drain->counters().unacked);
  // Not sent twice while waiting for the Ack.
  add(xrm::v1::RECORD_KIND_EVENT);
  poll();
  check_batch(1, "xrm/v1/gw/gw-t/rec/event", "4");
  // An Ack for another gateway does nothing.
  drain->on_ack(ack_of(1, 4, "gw-other"));
  CHECK_EQUAL(4U, depth());
  drain->on_ack(ack_of(1, 2));
  CHECK_EQUAL(2U, depth());
  CHECK_EQUAL(2U, drain->counters().acked_records);
  ack(1);
  drain->on_ack(ack_of(3, 4));
  CHECK_EQUAL(0U, depth());
  CHECK_EQUAL(0U, drain->counters().unacked);
  CHECK_EQUAL(2U, published.size());
}

TEST(RecordDrain, ConfirmCentralSendsAgainWhenNoAckComesWithinTheTimeout) {
  RecordDrain::Settings settings;
  settings.confirm_central = true;
  settings.ack_timeout = 30ms;
  make_drain(settings);
  add_many(xrm::v1::RECORD_KIND_EVENT, 2);
  drain->start();
  poll();
  ack(0);
  io.restart();
  io.run_for(200ms);
  CHECK_EQUAL(1U, drain->counters().ack_timeouts);
  CHECK_EQUAL(2U, published.size());
  check_batch(1, "xrm/v1/gw/gw-t/rec/event", "1,2");
  // In "broker" mode an Ack is ignored and the PUBACK deletes.
  make_drain(RecordDrain::Settings{});
  drain->on_ack(ack_of(1, 2));
  CHECK_EQUAL(2U, depth());
}

TEST(RecordDrain, MaintenanceDropsBulkOverTheBudgetButNothingOnItsWay) {
  RecordDrain::Settings settings;
  settings.limits.max_bytes = 1;  // everything droppable is over
  settings.maintenance_interval = std::chrono::hours(1);
  make_drain(settings);
  add_many(xrm::v1::RECORD_KIND_SUMMARY, 3);
  drain->start();
  poll();
  check_batch(0, "xrm/v1/gw/gw-t/rec/summary", "1,2,3");
  add_many(xrm::v1::RECORD_KIND_SUMMARY, 2);  // 4, 5: not on their way
  drain->maintain();
  CHECK_EQUAL(2U, drain->counters().dropped_records);
  auto gaps = store.records(xrm::v1::RECORD_KIND_GAP);
  CHECK_EQUAL(1U, gaps.size());
  CHECK_EQUAL(4U, gaps[0].gap().first_dropped_seq());
  CHECK_EQUAL(5U, gaps[0].gap().last_dropped_seq());
  ack(0);
  CHECK_EQUAL(1U, depth());  // only the gap waits, and goes next
  check_batch(1, "xrm/v1/gw/gw-t/rec/gap", "6");
}
