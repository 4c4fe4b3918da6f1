#include <CppUTest/TestHarness.h>

#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/ingest/inbound_journal.hpp"
#include "xrm/store/database.hpp"

namespace fs = std::filesystem;
using namespace std::string_literals;
using xrm::ingest::InboundJournal;
using xrm::ingest::JournalEntry;

namespace {

// The gateway database (the io thread's connection) and a journal on its own second connection.
struct JournalFixture {
  std::string root;
  xrm::FakeClock clock;
  std::unique_ptr<xrm::store::Database> db;
  std::unique_ptr<InboundJournal> journal;

  JournalFixture() {
    char tmpl[] = "/tmp/xrm-journal-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    root = tmpl;
    auto opened = xrm::store::Database::open(root);
    CHECK_TEXT(opened.is_ok(), opened.status().to_string().c_str());
    db = std::move(*opened);
    auto j = InboundJournal::open(root, clock);
    CHECK_TEXT(j.is_ok(), j.status().to_string().c_str());
    journal = std::move(*j);
  }
  ~JournalFixture() {
    journal.reset();
    db.reset();
    fs::remove_all(root);
  }

  std::vector<JournalEntry> pending() {
    auto p = InboundJournal::pending(*db);
    CHECK_TEXT(p.is_ok(), p.status().to_string().c_str());
    return *p;
  }

  std::int64_t at_ms_of(std::uint64_t id) {
    auto stmt = db->prepare("SELECT at_ms FROM inbound_journal WHERE id = ?;");
    CHECK(stmt.is_ok());
    stmt->bind(1, static_cast<std::int64_t>(id));
    CHECK(*stmt->step());
    return stmt->column_int(0);
  }
};

}  // namespace

TEST_GROUP(InboundJournal){};

TEST(InboundJournal, WantedOnlyForEventsAndCommandResults) {
  CHECK(InboundJournal::wanted("xrm/v1/dev/pump-1/evt"));
  CHECK(InboundJournal::wanted("xrm/v1/dev/pump-1/cmd-res"));
  CHECK_FALSE(InboundJournal::wanted("xrm/v1/dev/pump-1/tele"));
  CHECK_FALSE(InboundJournal::wanted("xrm/v1/dev/pump-1/birth"));
  CHECK_FALSE(InboundJournal::wanted("xrm/v1/dev/pump-1/state"));
  CHECK_FALSE(InboundJournal::wanted("xrm/v1/dev/pump-1/evtx"));
  CHECK_FALSE(InboundJournal::wanted("xrm/v1/dev/pump-1/evt/more"));
  CHECK_FALSE(InboundJournal::wanted("xrm/v1/dev/pump-1/myevt"));
  CHECK_FALSE(InboundJournal::wanted("evt"));
  CHECK_FALSE(InboundJournal::wanted(""));
  CHECK_FALSE(InboundJournal::wanted("$CONTROL/dynamic-security/v1/response"));
}

TEST(InboundJournal, EmptyJournalHasNothingPending) {
  JournalFixture f;
  CHECK_EQUAL(std::size_t{0}, f.pending().size());
}

TEST(InboundJournal, AppendIsVisibleOnTheMainConnectionOldestFirst) {
  JournalFixture f;
  const std::string binary = "\x0a\x00\xff\x80{"s;
  const std::uint64_t a = f.journal->append("xrm/v1/dev/pump-1/evt", "{\"seq\":1,\"type\":\"fault\"}");
  const std::uint64_t b = f.journal->append("xrm/v1/dev/pump-2/cmd-res", binary);
  const std::uint64_t c = f.journal->append("xrm/v1/dev/pump-1/evt", "");
  CHECK(a != 0);
  CHECK(b > a);
  CHECK(c > b);

  auto p = f.pending();
  CHECK_EQUAL(std::size_t{3}, p.size());
  CHECK_EQUAL(a, p[0].id);
  STRCMP_EQUAL("xrm/v1/dev/pump-1/evt", p[0].topic.c_str());
  STRCMP_EQUAL("{\"seq\":1,\"type\":\"fault\"}", p[0].payload.c_str());
  CHECK_EQUAL(b, p[1].id);
  STRCMP_EQUAL("xrm/v1/dev/pump-2/cmd-res", p[1].topic.c_str());
  CHECK_EQUAL(std::size_t{5}, p[1].payload.size());
  CHECK(p[1].payload == binary);
  CHECK_EQUAL(c, p[2].id);
  CHECK(p[2].payload.empty());
}

TEST(InboundJournal, AppendStampsTheClockTime) {
  JournalFixture f;
  const std::uint64_t id = f.journal->append("xrm/v1/dev/pump-1/evt", "x");
  CHECK_EQUAL(f.clock.unix_ms(), f.at_ms_of(id));
}

TEST(InboundJournal, IdsGrowWithEachAppend) {
  JournalFixture f;
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    const std::uint64_t id = f.journal->append("xrm/v1/dev/pump-1/evt", std::to_string(i));
    CHECK_EQUAL(last + 1, id);
    last = id;
  }
  auto p = f.pending();
  CHECK_EQUAL(std::size_t{20}, p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    CHECK_EQUAL(std::uint64_t{i + 1}, p[i].id);
    STRCMP_EQUAL(std::to_string(i).c_str(), p[i].payload.c_str());
  }
}

TEST(InboundJournal, RemoveDeletesExactlyThatEntry) {
  JournalFixture f;
  const std::uint64_t a = f.journal->append("xrm/v1/dev/a/evt", "A");
  const std::uint64_t b = f.journal->append("xrm/v1/dev/b/evt", "B");
  const std::uint64_t c = f.journal->append("xrm/v1/dev/c/evt", "C");
  CHECK(InboundJournal::remove(*f.db, b).is_ok());
  auto p = f.pending();
  CHECK_EQUAL(std::size_t{2}, p.size());
  CHECK_EQUAL(a, p[0].id);
  CHECK_EQUAL(c, p[1].id);

  // Removing what is not there is not an error and changes nothing.
  CHECK(InboundJournal::remove(*f.db, b).is_ok());
  CHECK(InboundJournal::remove(*f.db, 9999).is_ok());
  CHECK_EQUAL(std::size_t{2}, f.pending().size());

  CHECK(InboundJournal::remove(*f.db, a).is_ok());
  CHECK(InboundJournal::remove(*f.db, c).is_ok());
  CHECK_EQUAL(std::size_t{0}, f.pending().size());
}

TEST(InboundJournal, RemoveInsideARolledBackTransactionKeepsTheEntry) {
  JournalFixture f;
  const std::uint64_t a = f.journal->append("xrm/v1/dev/a/evt", "A");
  xrm::Status st = f.db->transaction([&]() -> xrm::Status {
    if (xrm::Status s = InboundJournal::remove(*f.db, a); !s) return s;
    return xrm::Status::io_error("disk full");
  });
  CHECK_FALSE(st.is_ok());
  auto p = f.pending();
  CHECK_EQUAL(std::size_t{1}, p.size());
  CHECK_EQUAL(a, p[0].id);
}

TEST(InboundJournal, EntriesSurviveReopeningBothConnections) {
  JournalFixture f;
  f.journal->append("xrm/v1/dev/a/evt", "A");
  f.journal->append("xrm/v1/dev/b/cmd-res", "B");
  f.journal.reset();
  f.db.reset();
  auto opened = xrm::store::Database::open(f.root);
  CHECK(opened.is_ok());
  f.db = std::move(*opened);
  auto p = f.pending();
  CHECK_EQUAL(std::size_t{2}, p.size());
  STRCMP_EQUAL("A", p[0].payload.c_str());
  STRCMP_EQUAL("xrm/v1/dev/b/cmd-res", p[1].topic.c_str());
}

TEST(InboundJournal, OpenFailsWhenTheDataDirCannotBeCreated) {
  xrm::FakeClock clock;
  auto j = InboundJournal::open("/proc/xrm-no-such-dir/data", clock);
  CHECK_FALSE(j.is_ok());
}

TEST(InboundJournal, AppendWaitsForAWriteTransactionOnTheMainConnection) {
  JournalFixture f;
  // The io thread holds the write lock (as while it records an event) when Paho's thread appends.
  CHECK(f.db->exec("BEGIN IMMEDIATE;").is_ok());
  CHECK(f.db->exec("DELETE FROM inbound_journal;").is_ok());
  std::uint64_t id = 0;
  std::thread paho([&] { id = f.journal->append("xrm/v1/dev/a/evt", "A"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the append meet the lock
  CHECK(f.db->exec("COMMIT;").is_ok());
  paho.join();
  CHECK_EQUAL(std::uint64_t{1}, id);  // stored once the lock was released, not given up on
  auto p = f.pending();
  CHECK_EQUAL(std::size_t{1}, p.size());
  STRCMP_EQUAL("A", p[0].payload.c_str());
}

TEST(InboundJournal, AppendsFromTwoThreadsAllGetDistinctIds) {
  JournalFixture f;
  constexpr int kEach = 40;
  std::vector<std::uint64_t> ids_a;
  std::vector<std::uint64_t> ids_b;
  std::thread a([&] {
    for (int i = 0; i < kEach; ++i) ids_a.push_back(f.journal->append("xrm/v1/dev/a/evt", "a" + std::to_string(i)));
  });
  std::thread b([&] {
    for (int i = 0; i < kEach; ++i) ids_b.push_back(f.journal->append("xrm/v1/dev/b/evt", "b" + std::to_string(i)));
  });
  a.join();
  b.join();
  std::vector<bool> seen(2 * kEach + 1, false);
  for (const auto* ids : {&ids_a, &ids_b}) {
    CHECK_EQUAL(std::size_t{kEach}, ids->size());
    for (std::uint64_t id : *ids) {
      CHECK(id >= 1 && id <= 2 * kEach);
      CHECK_FALSE(seen[id]);
      seen[id] = true;
    }
  }
  auto p = f.pending();
  CHECK_EQUAL(std::size_t{2 * kEach}, p.size());
  // Each thread's entries keep that thread's order.
  int next_a = 0;
  int next_b = 0;
  for (const auto& e : p) {
    if (e.topic == "xrm/v1/dev/a/evt") {
      STRCMP_EQUAL(("a" + std::to_string(next_a++)).c_str(), e.payload.c_str());
    } else {
      STRCMP_EQUAL(("b" + std::to_string(next_b++)).c_str(), e.payload.c_str());
    }
  }
  CHECK_EQUAL(kEach, next_a);
  CHECK_EQUAL(kEach, next_b);
}
