// The outbox over a real SQLite file: append, and what the uplink's drain reads and deletes.
#include <CppUTest/TestHarness.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/testing/store_fixture.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace fs = std::filesystem;
using xrm::outbox::Lane;
using xrm::outbox::StoredRecord;

namespace {

std::vector<std::uint64_t> seqs_of(const std::vector<StoredRecord>& rows) {
  std::vector<std::uint64_t> out;
  for (const auto& r : rows) out.push_back(r.seq);
  return out;
}

std::string describe(const std::vector<std::uint64_t>& seqs) {
  std::string out = "[";
  for (auto s : seqs) out += (out.size() > 1 ? "," : "") + std::to_string(s);
  return out + "]";
}

}  // namespace

TEST_GROUP(Outbox) {
  xrm::testing::StoreFixture store{"outbox"};
  xrm::FakeClock& clock = store.clock;
  std::unique_ptr<xrm::store::Database>& db = store.db;
  std::unique_ptr<xrm::outbox::Outbox>& outbox = store.outbox;

  std::uint64_t add(xrm::v1::RecordKind kind, std::size_t pad = 1) { return store.append(kind, pad); }

  std::vector<StoredRecord> peek(Lane lane, std::uint64_t after, std::size_t max_records = 100,
                                 std::size_t max_bytes = 1 << 20) {
    auto rows = outbox->peek(lane, after, max_records, max_bytes);
    CHECK_TEXT(rows.is_ok(), rows.status().to_string().c_str());
    return *rows;
  }

  void check_seqs(const std::vector<std::uint64_t>& want, const std::vector<StoredRecord>& got) {
    STRCMP_EQUAL(describe(want).c_str(), describe(seqs_of(got)).c_str());
  }
};

TEST(Outbox, PeekReadsOneLaneInSeqOrder) {
  add(xrm::v1::RECORD_KIND_LIFECYCLE);  // 1 critical
  add(xrm::v1::RECORD_KIND_SUMMARY);    // 2 bulk
  add(xrm::v1::RECORD_KIND_EVENT);      // 3 critical
  add(xrm::v1::RECORD_KIND_HEALTH);     // 4 bulk
  add(xrm::v1::RECORD_KIND_GAP);        // 5 critical
  add(xrm::v1::RECORD_KIND_ALERT);      // 6 critical
  add(xrm::v1::RECORD_KIND_SCORECARD);  // 7 bulk
  check_seqs({1, 3, 5, 6}, peek(Lane::kCritical, 0));
  check_seqs({2, 4, 7}, peek(Lane::kBulk, 0));
}

TEST(Outbox, PeekGivesWhatWasStored) {
  clock.advance(std::chrono::milliseconds(1234));
  xrm::v1::InteractionRecord r;
  r.set_kind(xrm::v1::RECORD_KIND_EVENT);
  r.set_device_id("pump-1");
  const std::uint64_t seq = *outbox->append(r);
  auto rows = peek(Lane::kCritical, 0);
  CHECK_EQUAL(1u, rows.size());
  CHECK_EQUAL(seq, rows[0].seq);
  LONGS_EQUAL(xrm::v1::RECORD_KIND_EVENT, rows[0].kind);
  CHECK_EQUAL(clock.unix_ms(), rows[0].created_ms);
  xrm::v1::InteractionRecord back;
  CHECK(back.ParseFromString(rows[0].bytes));
  STRCMP_EQUAL("gw-t", back.gateway_id().c_str());
  STRCMP_EQUAL("pump-1", back.device_id().c_str());
  CHECK_EQUAL(seq, back.seq());
  CHECK_EQUAL(static_cast<std::uint64_t>(clock.unix_ms()), back.created_at_ms());
}

TEST(Outbox, PeekStartsAfterTheGivenSeq) {
  for (int i = 0; i < 5; ++i) add(xrm::v1::RECORD_KIND_EVENT);
  check_seqs({3, 4, 5}, peek(Lane::kCritical, 2));
  check_seqs({}, peek(Lane::kCritical, 5));
  check_seqs({}, peek(Lane::kCritical, 99));
  check_seqs({}, peek(Lane::kBulk, 0));
}

TEST(Outbox, PeekStopsAtMaxRecords) {
  for (int i = 0; i < 5; ++i) add(xrm::v1::RECORD_KIND_EVENT);
  check_seqs({1, 2}, peek(Lane::kCritical, 0, 2));
  check_seqs({3, 4}, peek(Lane::kCritical, 2, 2));
  check_seqs({}, peek(Lane::kCritical, 0, 0));
}

TEST(Outbox, PeekStopsAtMaxBytesButReturnsAtLeastOneRow) {
  for (int i = 0; i < 4; ++i) add(xrm::v1::RECORD_KIND_EVENT, 100);
  const std::size_t size = peek(Lane::kCritical, 0, 1)[0].bytes.size();
  CHECK(size > 100);
  check_seqs({1, 2}, peek(Lane::kCritical, 0, 100, 2 * size));
  check_seqs({1, 2}, peek(Lane::kCritical, 0, 100, 3 * size - 1));
  check_seqs({1, 2, 3, 4}, peek(Lane::kCritical, 0, 100, 4 * size));
  // One row larger than the limit still comes, alone.
  check_seqs({1}, peek(Lane::kCritical, 0, 100, 10));
  check_seqs({3}, peek(Lane::kCritical, 2, 100, 1));
}

TEST(Outbox, RemoveDeletesTheGivenRowsAndIgnoresMissingOnes) {
  for (int i = 0; i < 5; ++i) add(xrm::v1::RECORD_KIND_EVENT);
  CHECK(outbox->remove({2, 4, 42}).is_ok());
  check_seqs({1, 3, 5}, peek(Lane::kCritical, 0));
  CHECK(outbox->remove({2, 4}).is_ok());  // again: nothing left to delete, still fine
  CHECK(outbox->remove({}).is_ok());
  CHECK(outbox->remove({1, 3, 5}).is_ok());
  check_seqs({}, peek(Lane::kCritical, 0));
  auto st = outbox->stats();
  CHECK(st.is_ok());
  CHECK_EQUAL(0u, st->records);
  CHECK_EQUAL(5u, st->last_seq);  // seqs are never reused
  CHECK_EQUAL(6u, add(xrm::v1::RECORD_KIND_EVENT));
}

TEST(Outbox, StatsCountBothLanes) {
  add(xrm::v1::RECORD_KIND_EVENT);
  add(xrm::v1::RECORD_KIND_SUMMARY);
  add(xrm::v1::RECORD_KIND_SUMMARY);
  auto st = outbox->stats();
  CHECK(st.is_ok());
  CHECK_EQUAL(3u, st->records);
  CHECK_EQUAL(1u, st->critical);
  CHECK_EQUAL(3u, st->last_seq);
  CHECK(st->oldest_created_ms.has_value());
}

TEST(Outbox, OnAppendRunsAfterEachSuccessfulAppend) {
  int calls = 0;
  std::uint64_t rows_seen = 0;
  outbox->on_append([&] {
    ++calls;
    rows_seen = outbox->stats()->records;  // only a test may look; the record is stored by now
  });
  add(xrm::v1::RECORD_KIND_EVENT);
  CHECK_EQUAL(1, calls);
  CHECK_EQUAL(1u, rows_seen);
  add(xrm::v1::RECORD_KIND_SUMMARY);
  CHECK_EQUAL(2, calls);
  // A failed append (the table is gone) does not call it.
  CHECK(db->exec("DROP TABLE outbox;").is_ok());
  xrm::v1::InteractionRecord r;
  r.set_kind(xrm::v1::RECORD_KIND_EVENT);
  CHECK_FALSE(outbox->append(r).is_ok());
  CHECK_EQUAL(2, calls);
  outbox->on_append(nullptr);
}

TEST(Outbox, OnAppendIsCalledInsideTheCallersTransaction) {
  int calls = 0;
  outbox->on_append([&] { ++calls; });
  const auto st = db->transaction([&]() -> xrm::Status {
    add(xrm::v1::RECORD_KIND_LIFECYCLE);
    return xrm::Status::io_error("caller gives up");
  });
  CHECK_FALSE(st.is_ok());
  CHECK_EQUAL(1, calls);  // a wake-up for nothing: the drain finds no row and that is fine
  check_seqs({}, peek(Lane::kCritical, 0));
}

TEST(Outbox, RecordKindNames) {
  STRCMP_EQUAL("summary", std::string(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_SUMMARY)).c_str());
  STRCMP_EQUAL("event", std::string(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_EVENT)).c_str());
  STRCMP_EQUAL("health", std::string(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_HEALTH)).c_str());
  STRCMP_EQUAL("alert", std::string(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_ALERT)).c_str());
  STRCMP_EQUAL("lifecycle", std::string(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_LIFECYCLE)).c_str());
  STRCMP_EQUAL("gap", std::string(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_GAP)).c_str());
  STRCMP_EQUAL("scorecard", std::string(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_SCORECARD)).c_str());
  CHECK(xrm::outbox::record_kind_name(xrm::v1::RECORD_KIND_UNSPECIFIED).empty());
  CHECK(xrm::outbox::record_kind_name(static_cast<xrm::v1::RecordKind>(99)).empty());
}

TEST(Outbox, LanesOfKinds) {
  CHECK(xrm::outbox::lane_of(xrm::v1::RECORD_KIND_EVENT) == Lane::kCritical);
  CHECK(xrm::outbox::lane_of(xrm::v1::RECORD_KIND_ALERT) == Lane::kCritical);
  CHECK(xrm::outbox::lane_of(xrm::v1::RECORD_KIND_LIFECYCLE) == Lane::kCritical);
  CHECK(xrm::outbox::lane_of(xrm::v1::RECORD_KIND_GAP) == Lane::kCritical);
  CHECK(xrm::outbox::lane_of(xrm::v1::RECORD_KIND_SUMMARY) == Lane::kBulk);
  CHECK(xrm::outbox::lane_of(xrm::v1::RECORD_KIND_HEALTH) == Lane::kBulk);
  CHECK(xrm::outbox::lane_of(xrm::v1::RECORD_KIND_SCORECARD) == Lane::kBulk);
}
