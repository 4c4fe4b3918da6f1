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

// ---- The bulk lane's budget and TTL, central's Ack ranges, and the upstream dead letters.

namespace {

// The size the outbox stores for a record (what the budget counts).
std::uint64_t stored_bytes(xrm::store::Database& db, std::uint64_t seq) {
  auto stmt = db.prepare("SELECT bytes FROM outbox WHERE seq = ?1;");
  CHECK(stmt.is_ok());
  stmt->bind(1, static_cast<std::int64_t>(seq));
  auto row = stmt->step();
  CHECK(row.is_ok() && *row);
  return static_cast<std::uint64_t>(stmt->column_int(0));
}

}  // namespace

TEST(Outbox, OverBudgetDropsTheOldestBulkRecordsAndReportsThemExactlyInOneGap) {
  std::vector<std::uint64_t> bulk;
  std::uint64_t each = 0;
  for (int i = 0; i < 10; ++i) {
    bulk.push_back(add(i % 2 ? xrm::v1::RECORD_KIND_HEALTH : xrm::v1::RECORD_KIND_SUMMARY, 100));
    clock.advance(std::chrono::seconds(1));
  }
  const std::uint64_t event = add(xrm::v1::RECORD_KIND_EVENT, 5000);  // critical: never counted, never dropped
  each = stored_bytes(*db, bulk[0]);
  // Room for 6.5 records: the 4 oldest must go.
  outbox->set_limits({each * 13 / 2, std::chrono::milliseconds(0)});
  auto dropped = outbox->enforce_limits();
  CHECK_TEXT(dropped.is_ok(), dropped.status().to_string().c_str());
  CHECK_EQUAL(4U, dropped->records);
  CHECK_EQUAL(4 * each, dropped->bytes);
  CHECK_EQUAL(1U, dropped->gaps);

  check_seqs({bulk[4], bulk[5], bulk[6], bulk[7], bulk[8], bulk[9]}, peek(Lane::kBulk, 0));
  auto gaps = store.records(xrm::v1::RECORD_KIND_GAP);
  CHECK_EQUAL(1U, gaps.size());
  const auto& g = gaps[0].gap();
  CHECK_EQUAL(xrm::v1::GAP_REASON_OUTBOX_BUDGET, g.reason());
  CHECK_EQUAL(4U, g.dropped_records());
  CHECK_EQUAL(4 * each, g.dropped_bytes());
  CHECK_EQUAL(bulk[0], g.first_dropped_seq());
  CHECK_EQUAL(bulk[3], g.last_dropped_seq());
  CHECK_EQUAL(2, g.dropped_kinds_size());
  CHECK(gaps[0].span_end_ms() - gaps[0].span_start_ms() == 3000);
  CHECK_TEXT(g.detail().find("max_bytes") != std::string::npos, g.detail().c_str());
  CHECK(gaps[0].seq() > event);
  // The gap is critical, sent before any bulk record.
  auto critical = peek(Lane::kCritical, 0);
  CHECK_EQUAL(2U, critical.size());

  // Within the budget now: nothing more goes.
  dropped = outbox->enforce_limits();
  CHECK_EQUAL(0U, dropped->records);
  CHECK_EQUAL(0U, dropped->gaps);
  auto stats = outbox->stats();
  CHECK_EQUAL(4U, stats->dropped_records);
  CHECK_EQUAL(4 * each, stats->dropped_bytes);
  CHECK_EQUAL(1U, stats->gap_records);
  CHECK_EQUAL(6 * each, stats->bulk_bytes);
}

TEST(Outbox, TheBudgetCountsAppendsRemovesAndAcksSinceTheLastCheck) {
  std::vector<std::uint64_t> bulk;
  for (int i = 0; i < 4; ++i) bulk.push_back(add(xrm::v1::RECORD_KIND_SUMMARY, 100));
  const std::uint64_t each = stored_bytes(*db, bulk[0]);
  outbox->set_limits({each * 4, std::chrono::milliseconds(0)});
  CHECK_EQUAL(0U, outbox->enforce_limits()->records);
  // Two delivered and removed: room for two more without a drop.
  CHECK(outbox->remove({bulk[0]}).is_ok());
  CHECK_EQUAL(1U, *outbox->remove_ranges({{bulk[1], bulk[1]}}));
  add(xrm::v1::RECORD_KIND_SUMMARY, 100);
  add(xrm::v1::RECORD_KIND_SUMMARY, 100);
  CHECK_EQUAL(0U, outbox->enforce_limits()->records);
  // One more: the oldest left (bulk[2]) goes.
  add(xrm::v1::RECORD_KIND_SUMMARY, 100);
  auto dropped = outbox->enforce_limits();
  CHECK_EQUAL(1U, dropped->records);
  CHECK_EQUAL(bulk[2], store.records(xrm::v1::RECORD_KIND_GAP).at(0).gap().first_dropped_seq());
}

TEST(Outbox, RecordsInFlightAreNeverDropped) {
  std::vector<std::uint64_t> bulk;
  for (int i = 0; i < 5; ++i) bulk.push_back(add(xrm::v1::RECORD_KIND_SUMMARY, 100));
  const std::uint64_t each = stored_bytes(*db, bulk[0]);
  outbox->set_limits({each * 3, std::chrono::milliseconds(0)});
  // The two oldest are on their way: the next two oldest go instead.
  auto dropped = outbox->enforce_limits([&](std::uint64_t seq) { return seq == bulk[0] || seq == bulk[1]; });
  CHECK_EQUAL(2U, dropped->records);
  check_seqs({bulk[0], bulk[1], bulk[4]}, peek(Lane::kBulk, 0));
  const auto g = store.records(xrm::v1::RECORD_KIND_GAP).at(0).gap();
  CHECK_EQUAL(bulk[2], g.first_dropped_seq());
  CHECK_EQUAL(bulk[3], g.last_dropped_seq());
}

TEST(Outbox, BulkRecordsOlderThanTheTtlAreDroppedWithAGapNamingTheTtl) {
  const std::uint64_t a = add(xrm::v1::RECORD_KIND_SUMMARY);
  const std::uint64_t b = add(xrm::v1::RECORD_KIND_HEALTH);
  clock.advance(std::chrono::minutes(30));
  const std::uint64_t c = add(xrm::v1::RECORD_KIND_SUMMARY);
  const std::uint64_t alert = add(xrm::v1::RECORD_KIND_ALERT);
  outbox->set_limits({0, std::chrono::hours(1)});
  CHECK_EQUAL(0U, outbox->enforce_limits()->records);
  clock.advance(std::chrono::minutes(31));  // a and b are 61 minutes old, c 31
  auto dropped = outbox->enforce_limits();
  CHECK_EQUAL(2U, dropped->records);
  check_seqs({c}, peek(Lane::kBulk, 0));
  auto gaps = store.records(xrm::v1::RECORD_KIND_GAP);
  CHECK_EQUAL(1U, gaps.size());
  CHECK_EQUAL(xrm::v1::GAP_REASON_OUTBOX_TTL, gaps[0].gap().reason());
  CHECK_EQUAL(a, gaps[0].gap().first_dropped_seq());
  CHECK_EQUAL(b, gaps[0].gap().last_dropped_seq());
  CHECK_TEXT(gaps[0].gap().detail().find("ttl") != std::string::npos, gaps[0].gap().detail().c_str());
  // Critical records never age out.
  clock.advance(std::chrono::hours(48));
  outbox->enforce_limits();
  auto critical = peek(Lane::kCritical, 0);
  CHECK_EQUAL(alert, critical.at(0).seq);
}

TEST(Outbox, DropTotalsSurviveARestart) {
  for (int i = 0; i < 3; ++i) add(xrm::v1::RECORD_KIND_SUMMARY, 100);
  outbox->set_limits({1, std::chrono::milliseconds(0)});
  CHECK_EQUAL(3U, outbox->enforce_limits()->records);
  store.close_store();
  store.open_store();
  auto stats = outbox->stats();
  CHECK_EQUAL(3U, stats->dropped_records);
  CHECK_EQUAL(1U, stats->gap_records);
  CHECK_EQUAL(0U, stats->bulk_bytes);
}

TEST(Outbox, RemoveRangesDeletesInclusiveRangesAndCountsThem) {
  for (int i = 0; i < 10; ++i) add(i < 5 ? xrm::v1::RECORD_KIND_EVENT : xrm::v1::RECORD_KIND_SUMMARY);
  auto removed = outbox->remove_ranges({{2, 4}, {7, 7}, {9, 3}, {9, UINT64_MAX}});
  CHECK_TEXT(removed.is_ok(), removed.status().to_string().c_str());
  CHECK_EQUAL(6U, *removed);
  check_seqs({1, 5}, peek(Lane::kCritical, 0));
  check_seqs({6, 8}, peek(Lane::kBulk, 0));
  CHECK_EQUAL(0U, *outbox->remove_ranges({{2, 4}}));
}

TEST(Outbox, DeadLetterMovesTheRecordAsideWithAGapAndRequeueBringsItBack) {
  const std::uint64_t a = add(xrm::v1::RECORD_KIND_EVENT, 300);
  const std::uint64_t b = add(xrm::v1::RECORD_KIND_EVENT);
  const std::uint64_t size = stored_bytes(*db, a);
  CHECK(outbox->dead_letter(a, "packet too large (reason 149)").is_ok());
  auto critical = peek(Lane::kCritical, 0);
  CHECK_EQUAL(2U, critical.size());
  CHECK_EQUAL(b, critical[0].seq);
  auto gaps = store.records(xrm::v1::RECORD_KIND_GAP);
  CHECK_EQUAL(1U, gaps.size());
  CHECK_EQUAL(xrm::v1::GAP_REASON_UPSTREAM_REFUSED, gaps[0].gap().reason());
  CHECK_EQUAL(a, gaps[0].gap().first_dropped_seq());
  CHECK_EQUAL(size, gaps[0].gap().dropped_bytes());
  CHECK_TEXT(gaps[0].gap().detail().find("reason 149") != std::string::npos, gaps[0].gap().detail().c_str());
  auto dead = outbox->dead_letters(10);
  CHECK_EQUAL(1U, dead->size());
  CHECK_EQUAL(a, dead->at(0).seq);
  STRCMP_EQUAL("packet too large (reason 149)", dead->at(0).reason.c_str());
  CHECK_EQUAL(1U, outbox->stats()->dead_letters);
  // Gone already: not found, nothing written.
  CHECK(outbox->dead_letter(a, "again").code() == xrm::Status::Code::kNotFound);

  // A refused gap record is set aside without a gap about itself.
  CHECK(outbox->dead_letter(gaps[0].seq(), "not authorized").is_ok());
  CHECK_EQUAL(0U, store.records(xrm::v1::RECORD_KIND_GAP).size());

  auto moved = outbox->requeue_dead_letters();
  CHECK_EQUAL(2U, *moved);
  check_seqs({a, b, gaps[0].seq()}, peek(Lane::kCritical, 0));
  CHECK_EQUAL(0U, outbox->dead_letters(10)->size());
}
