#include <CppUTest/TestHarness.h>

#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/ingest/dead_letters.hpp"
#include "xrm/store/database.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace std::string_literals;
using xrm::ingest::DeadLetter;
using xrm::ingest::DeadLetters;

namespace {

// A dead-letter table over a real SQLite file in a temporary directory, with a fake clock.
struct DeadLetterFixture {
  std::string root;
  xrm::FakeClock clock;
  std::unique_ptr<xrm::store::Database> db;
  std::unique_ptr<DeadLetters> dl;

  explicit DeadLetterFixture(std::size_t max_rows = 1000) {
    char tmpl[] = "/tmp/xrm-deadletters-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    root = tmpl;
    reopen(max_rows);
  }
  ~DeadLetterFixture() {
    dl.reset();
    db.reset();
    fs::remove_all(root);
  }

  // Closes and opens the database again, with a new DeadLetters that loads its counts.
  void reopen(std::size_t max_rows) {
    dl.reset();
    db.reset();
    auto opened = xrm::store::Database::open(root);
    CHECK_TEXT(opened.is_ok(), opened.status().to_string().c_str());
    db = std::move(*opened);
    dl = std::make_unique<DeadLetters>(*db, clock, max_rows);
    CHECK(dl->load().is_ok());
  }

  std::int64_t rows() {
    auto stmt = db->prepare("SELECT count(*) FROM dead_letters;");
    CHECK(stmt.is_ok());
    CHECK(*stmt->step());
    return stmt->column_int(0);
  }

  // The ids in the table, ascending.
  std::vector<std::int64_t> ids() {
    std::vector<std::int64_t> out;
    auto stmt = db->prepare("SELECT id FROM dead_letters ORDER BY id;");
    CHECK(stmt.is_ok());
    while (*stmt->step()) out.push_back(stmt->column_int(0));
    return out;
  }

  void flush() {
    xrm::Status st = dl->flush();
    CHECK_TEXT(st.is_ok(), st.to_string().c_str());
  }

  std::vector<DeadLetter> recent(std::size_t limit) {
    auto r = dl->recent(limit);
    CHECK_TEXT(r.is_ok(), r.status().to_string().c_str());
    return *r;
  }

  void add_n(int n, const char* reason = "bad") {
    for (int i = 0; i < n; ++i) dl->add("xrm/v1/dev/d" + std::to_string(i) + "/tele", reason, "{");
  }
};

void check_ids(const std::vector<std::int64_t>& expected, const std::vector<std::int64_t>& actual) {
  CHECK_EQUAL(expected.size(), actual.size());
  for (std::size_t i = 0; i < expected.size() && i < actual.size(); ++i) CHECK_EQUAL(expected[i], actual[i]);
}

}  // namespace

TEST_GROUP(DeadLetters){};

TEST(DeadLetters, FreshTableLoadsZeroCounts) {
  DeadLetterFixture f;
  const auto& c = f.dl->counts();
  CHECK_EQUAL(std::uint64_t{0}, c.since_start);
  CHECK_EQUAL(std::uint64_t{0}, c.stored);
  CHECK_EQUAL(std::uint64_t{0}, c.deleted);
  CHECK_EQUAL(std::uint64_t{0}, c.not_stored);
  CHECK_FALSE(f.dl->pending());
  CHECK(f.dl->flush().is_ok());  // nothing to do
  CHECK_EQUAL(0, f.rows());
}

TEST(DeadLetters, AddOnlyBuffersUntilFlush) {
  DeadLetterFixture f;
  f.dl->add("xrm/v1/dev/pump-1/tele", "seq is missing", "{}");
  f.dl->add("xrm/v1/dev/pump-1/evt", "type is missing", "{\"seq\":1}");
  CHECK(f.dl->pending());
  CHECK_EQUAL(0, f.rows());
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().since_start);
  CHECK_EQUAL(std::uint64_t{0}, f.dl->counts().stored);

  f.flush();
  CHECK_FALSE(f.dl->pending());
  CHECK_EQUAL(2, f.rows());
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().since_start);
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{0}, f.dl->counts().deleted);
  CHECK_EQUAL(std::uint64_t{0}, f.dl->counts().not_stored);
  check_ids({1, 2}, f.ids());
}

TEST(DeadLetters, RowKeepsTopicReasonSizeArrivalTimeAndBinaryHead) {
  DeadLetterFixture f;
  // 100 bytes with NULs and high bytes: the head is the first 64 of them, byte for byte.
  std::string payload;
  for (int i = 0; i < 100; ++i) payload.push_back(static_cast<char>((i * 37) & 0xff));
  payload[0] = '\0';
  payload[63] = '\xff';
  payload[64] = 'X';  // first byte beyond the head
  const std::int64_t added_at = f.clock.unix_ms();
  f.dl->add("xrm/v1/dev/pump-1/tele", "neither JSON nor a protobuf Telemetry", payload);
  f.clock.advance(5s);  // the row keeps the arrival time, not the flush time
  f.flush();

  auto rows = f.recent(10);
  CHECK_EQUAL(std::size_t{1}, rows.size());
  const DeadLetter& d = rows[0];
  CHECK_EQUAL(std::int64_t{1}, d.id);
  CHECK_EQUAL(added_at, d.at_ms);
  STRCMP_EQUAL("xrm/v1/dev/pump-1/tele", d.topic.c_str());
  STRCMP_EQUAL("neither JSON nor a protobuf Telemetry", d.reason.c_str());
  CHECK_EQUAL(std::uint64_t{100}, d.size);
  CHECK_EQUAL(DeadLetters::kHeadBytes, d.head.size());
  CHECK(d.head == payload.substr(0, 64));
  CHECK_EQUAL('\0', d.head[0]);
  CHECK_EQUAL('\xff', d.head[63]);
}

TEST(DeadLetters, ShortPayloadIsKeptWhole) {
  DeadLetterFixture f;
  const std::string payload = "a\0b\x80"s;
  f.dl->add("t", "r", payload);
  f.dl->add("t", "empty", "");
  auto rows = f.recent(10);
  CHECK_EQUAL(std::size_t{2}, rows.size());
  STRCMP_EQUAL("empty", rows[0].reason.c_str());
  CHECK_EQUAL(std::uint64_t{0}, rows[0].size);
  CHECK(rows[0].head.empty());
  CHECK_EQUAL(std::uint64_t{4}, rows[1].size);
  CHECK_EQUAL(std::size_t{4}, rows[1].head.size());
  CHECK(rows[1].head == payload);
}

TEST(DeadLetters, HeadOfExactlyKHeadBytesIsWhole) {
  DeadLetterFixture f;
  const std::string payload(DeadLetters::kHeadBytes, 'z');
  f.dl->add("t", "r", payload);
  auto rows = f.recent(1);
  CHECK_EQUAL(std::size_t{1}, rows.size());
  CHECK(rows[0].head == payload);
  CHECK_EQUAL(std::uint64_t{64}, rows[0].size);
}

TEST(DeadLetters, FlushTrimsTheOldestBeyondMaxRowsAndCountsThem) {
  DeadLetterFixture f(3);
  f.add_n(5);
  f.flush();
  check_ids({3, 4, 5}, f.ids());
  CHECK_EQUAL(std::uint64_t{3}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().deleted);
  CHECK_EQUAL(std::uint64_t{5}, f.dl->counts().since_start);

  f.add_n(1);
  f.flush();
  check_ids({4, 5, 6}, f.ids());
  CHECK_EQUAL(std::uint64_t{3}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{3}, f.dl->counts().deleted);
}

TEST(DeadLetters, TrimAcrossSeveralFlushes) {
  DeadLetterFixture f(2);
  f.add_n(1);
  f.flush();
  CHECK_EQUAL(std::uint64_t{1}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{0}, f.dl->counts().deleted);
  f.add_n(1);
  f.flush();
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{0}, f.dl->counts().deleted);
  f.add_n(1);
  f.flush();
  check_ids({2, 3}, f.ids());
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{1}, f.dl->counts().deleted);
}

TEST(DeadLetters, ConstructorClampsMaxRowsToOne) {
  DeadLetterFixture f(0);
  f.add_n(3);
  f.flush();
  check_ids({3}, f.ids());
  CHECK_EQUAL(std::uint64_t{1}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().deleted);
}

TEST(DeadLetters, CountsSurviveReopen) {
  DeadLetterFixture f(2);
  f.add_n(5);
  f.flush();
  f.reopen(2);
  const auto& c = f.dl->counts();
  CHECK_EQUAL(std::uint64_t{2}, c.stored);
  CHECK_EQUAL(std::uint64_t{3}, c.deleted);
  CHECK_EQUAL(std::uint64_t{0}, c.since_start);  // "since the daemon started"
  CHECK_EQUAL(std::uint64_t{0}, c.not_stored);

  // Ids carry on where they were; trimming goes on counting.
  f.add_n(1);
  f.flush();
  check_ids({5, 6}, f.ids());
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{4}, f.dl->counts().deleted);
  CHECK_EQUAL(std::uint64_t{1}, f.dl->counts().since_start);
}

TEST(DeadLetters, ReopenWithSmallerMaxRowsTrimsAtTheNextFlush) {
  DeadLetterFixture f(10);
  f.add_n(4);
  f.flush();
  f.reopen(1);
  CHECK_EQUAL(std::uint64_t{4}, f.dl->counts().stored);  // what the table holds until trimmed
  CHECK_EQUAL(std::uint64_t{0}, f.dl->counts().deleted);
  f.flush();
  check_ids({4}, f.ids());
  CHECK_EQUAL(std::uint64_t{1}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{3}, f.dl->counts().deleted);
}

TEST(DeadLetters, BeyondMaxPendingIsCountedAsNotStored) {
  DeadLetterFixture f(100000);
  const int extra = 3;
  f.add_n(static_cast<int>(DeadLetters::kMaxPending) + extra);
  CHECK_EQUAL(std::uint64_t{DeadLetters::kMaxPending + extra}, f.dl->counts().since_start);
  CHECK_EQUAL(std::uint64_t{extra}, f.dl->counts().not_stored);
  CHECK_EQUAL(0, f.rows());
  f.flush();
  CHECK_EQUAL(static_cast<std::int64_t>(DeadLetters::kMaxPending), f.rows());
  CHECK_EQUAL(std::uint64_t{DeadLetters::kMaxPending}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{0}, f.dl->counts().deleted);

  // The flush emptied the buffer: the next one is buffered again.
  f.dl->add("t", "r", "p");
  CHECK_EQUAL(std::uint64_t{extra}, f.dl->counts().not_stored);
  f.flush();
  CHECK_EQUAL(static_cast<std::int64_t>(DeadLetters::kMaxPending) + 1, f.rows());
}

TEST(DeadLetters, RecentIsNewestFirstAndFlushesFirst) {
  DeadLetterFixture f;
  f.dl->add("t/a", "first", "1");
  f.clock.advance(1s);
  f.dl->add("t/b", "second", "22");
  f.clock.advance(1s);
  f.dl->add("t/c", "third", "333");
  CHECK(f.dl->pending());

  auto two = f.recent(2);
  CHECK_FALSE(f.dl->pending());
  CHECK_EQUAL(3, f.rows());
  CHECK_EQUAL(std::uint64_t{3}, f.dl->counts().stored);
  CHECK_EQUAL(std::size_t{2}, two.size());
  STRCMP_EQUAL("third", two[0].reason.c_str());
  STRCMP_EQUAL("t/c", two[0].topic.c_str());
  CHECK_EQUAL(std::int64_t{3}, two[0].id);
  STRCMP_EQUAL("second", two[1].reason.c_str());
  CHECK_EQUAL(std::int64_t{2}, two[1].id);
  CHECK_EQUAL(two[1].at_ms + 1000, two[0].at_ms);

  auto all = f.recent(10);
  CHECK_EQUAL(std::size_t{3}, all.size());
  STRCMP_EQUAL("first", all[2].reason.c_str());
  CHECK_EQUAL(std::uint64_t{1}, all[2].size);

  CHECK_EQUAL(std::size_t{0}, f.recent(0).size());
}

TEST(DeadLetters, SetMaxRowsTrimsAtTheNextFlushWithNothingPending) {
  DeadLetterFixture f(10);
  f.add_n(5);
  f.flush();
  CHECK_EQUAL(std::uint64_t{5}, f.dl->counts().stored);
  f.dl->set_max_rows(2);
  CHECK_FALSE(f.dl->pending());
  f.flush();
  check_ids({4, 5}, f.ids());
  CHECK_EQUAL(std::uint64_t{2}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{3}, f.dl->counts().deleted);

  // Raising it again keeps what is there and lets the table grow.
  f.dl->set_max_rows(4);
  f.add_n(3);
  f.flush();
  check_ids({5, 6, 7, 8}, f.ids());
  CHECK_EQUAL(std::uint64_t{4}, f.dl->counts().stored);
  CHECK_EQUAL(std::uint64_t{4}, f.dl->counts().deleted);
}
