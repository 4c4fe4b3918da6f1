#include <CppUTest/TestHarness.h>

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>

#include "xrm/common/clock.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"
#include "xrm/testing/store_fixture.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using xrm::registry::Lifecycle;

namespace {

// A registry over a real SQLite file in a temporary directory, with a fake clock.
struct Fixture : xrm::testing::StoreFixture {
  Fixture() : StoreFixture("registry") {}
  void reopen() {
    close_store();
    open_store();
  }

  std::int64_t count(const char* sql) {
    auto stmt = db->prepare(sql);
    CHECK(stmt.is_ok());
    CHECK(*stmt->step());
    return stmt->column_int(0);
  }

  const xrm::registry::Device* add(const std::string& id) { return add_device(id); }
};

}  // namespace

TEST_GROUP(Lifecycle){};

TEST(Lifecycle, NamesRoundTrip) {
  for (auto lc : {Lifecycle::kProvisioned, Lifecycle::kActive, Lifecycle::kDegraded, Lifecycle::kCritical,
                  Lifecycle::kOffline, Lifecycle::kRetired}) {
    auto back = xrm::registry::parse_lifecycle(xrm::registry::to_string(lc));
    CHECK(back.has_value());
    CHECK(*back == lc);
  }
  CHECK_FALSE(xrm::registry::parse_lifecycle("zombie").has_value());
}

TEST(Lifecycle, TransitionTable) {
  using xrm::registry::transition_allowed;
  CHECK(transition_allowed(Lifecycle::kProvisioned, Lifecycle::kActive));
  CHECK(transition_allowed(Lifecycle::kProvisioned, Lifecycle::kRetired));
  CHECK(transition_allowed(Lifecycle::kProvisioned, Lifecycle::kOffline));
  CHECK_FALSE(transition_allowed(Lifecycle::kProvisioned, Lifecycle::kDegraded));
  CHECK_FALSE(transition_allowed(Lifecycle::kProvisioned, Lifecycle::kCritical));
  CHECK(transition_allowed(Lifecycle::kActive, Lifecycle::kDegraded));
  CHECK(transition_allowed(Lifecycle::kDegraded, Lifecycle::kCritical));
  CHECK(transition_allowed(Lifecycle::kCritical, Lifecycle::kActive));
  CHECK(transition_allowed(Lifecycle::kOffline, Lifecycle::kActive));
  CHECK(transition_allowed(Lifecycle::kActive, Lifecycle::kRetired));
  CHECK_FALSE(transition_allowed(Lifecycle::kActive, Lifecycle::kActive));
  CHECK_FALSE(transition_allowed(Lifecycle::kActive, Lifecycle::kProvisioned));
  for (auto to : {Lifecycle::kProvisioned, Lifecycle::kActive, Lifecycle::kOffline, Lifecycle::kDegraded}) {
    CHECK_FALSE(transition_allowed(Lifecycle::kRetired, to));
  }
}

TEST_GROUP(Registry){};

TEST(Registry, AddWritesDeviceHistoryAndLifecycleRecordTogether) {
  Fixture f;
  const auto* d = f.add("pump-1");
  CHECK(d->lifecycle == Lifecycle::kProvisioned);
  CHECK_EQUAL(1, f.count("SELECT count(*) FROM devices;"));
  CHECK_EQUAL(1, f.count("SELECT count(*) FROM device_history WHERE device = 'pump-1' AND what = 'provisioned';"));
  auto recs = f.records();
  CHECK_EQUAL(1u, recs.size());
  const auto& r = recs[0];
  CHECK_EQUAL(1u, r.seq());
  STRCMP_EQUAL("gw-t", r.gateway_id().c_str());
  CHECK_EQUAL(xrm::v1::RECORD_KIND_LIFECYCLE, r.kind());
  STRCMP_EQUAL("pump-1", r.device_id().c_str());
  STRCMP_EQUAL("acme", r.stakeholders().owner().c_str());
  STRCMP_EQUAL("coolco", r.stakeholders().supplier().c_str());
  STRCMP_EQUAL("chiller", r.profile_class().c_str());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_PROVISIONED, r.lifecycle().change());
  STRCMP_EQUAL("provisioned", r.lifecycle().new_state().c_str());
  STRCMP_EQUAL("xrmctl:uid=0(root)", r.lifecycle().actor().c_str());
}

TEST(Registry, SecondAddOfSameIdIsRefusedAndWritesNothing) {
  Fixture f;
  f.add("pump-1");
  auto again = f.registry->add("pump-1", "chiller", {}, "x");
  CHECK_FALSE(again.is_ok());
  CHECK(again.status().code() == xrm::Status::Code::kAlreadyExists);
  CHECK_EQUAL(1u, f.records().size());
}

TEST(Registry, SurvivesReopenWithEveryField) {
  Fixture f;
  f.add("pump-1");
  f.clock.advance(5s);
  CHECK(f.registry->note_data("pump-1", "xrm/v1/dev/pump-1/tele") != nullptr);
  f.clock.advance(5s);
  f.registry->note_data("pump-1", "xrm/v1/dev/pump-1/tele");
  const auto last_seen = f.clock.unix_ms();
  CHECK(f.registry->flush_seen().is_ok());
  f.reopen();
  const auto* d = f.registry->find("pump-1");
  CHECK(d != nullptr);
  CHECK(d->lifecycle == Lifecycle::kActive);
  STRCMP_EQUAL("tom", d->links.technician.c_str());
  STRCMP_EQUAL("CH-200", d->links.model.c_str());
  CHECK_EQUAL(2u, d->messages);
  CHECK(d->last_seen_ms.has_value());
  CHECK_EQUAL(last_seen, *d->last_seen_ms);
  CHECK(d->first_data_ms.has_value());
}

TEST(Registry, FirstDataActivatesOnceWithARecord) {
  Fixture f;
  f.add("pump-1");
  for (int i = 0; i < 5; ++i) f.registry->note_data("pump-1", "xrm/v1/dev/pump-1/tele");
  auto recs = f.records();
  CHECK_EQUAL(2u, recs.size());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_ACTIVE, recs[1].lifecycle().change());
  STRCMP_EQUAL("provisioned", recs[1].lifecycle().previous_state().c_str());
  STRCMP_EQUAL("active", recs[1].lifecycle().new_state().c_str());
  STRCMP_EQUAL("device", recs[1].lifecycle().actor().c_str());
  CHECK_EQUAL(5u, f.registry->find("pump-1")->messages);
}

TEST(Registry, UnknownDeviceRecordedAtMostOncePerHour) {
  Fixture f;
  for (int i = 0; i < 10; ++i) CHECK(f.registry->note_data("ghost", "xrm/v1/dev/ghost/tele") == nullptr);
  CHECK_EQUAL(10u, f.registry->counters().unknown_messages);
  CHECK_EQUAL(1u, f.records().size());
  f.clock.advance(59min);
  f.registry->note_data("ghost", "xrm/v1/dev/ghost/tele");
  CHECK_EQUAL(1u, f.records().size());
  f.clock.advance(2min);
  f.registry->note_data("ghost", "xrm/v1/dev/ghost/tele");
  auto recs = f.records();
  CHECK_EQUAL(2u, recs.size());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_UNKNOWN_DEVICE_SEEN, recs[1].lifecycle().change());
  STRCMP_EQUAL("xrm/v1/dev/ghost/tele", recs[1].lifecycle().detail().c_str());
  CHECK_EQUAL(0u, f.registry->size());
}

TEST(Registry, LinkRecordsEachChangeWithPreviousStakeholders) {
  Fixture f;
  f.add("pump-1");
  f.clock.advance(1s);
  auto changed = f.registry->link("pump-1", {{"owner", "globex"}, {"technician", ""}, {"site", "plant-a"}}, "alice");
  CHECK(changed.is_ok());
  CHECK_EQUAL(2u, changed->size());  // site unchanged
  STRCMP_EQUAL("owner", (*changed)[0].field.c_str());
  STRCMP_EQUAL("acme", (*changed)[0].old_value.c_str());
  STRCMP_EQUAL("globex", (*changed)[0].new_value.c_str());
  STRCMP_EQUAL("technician", (*changed)[1].field.c_str());
  const auto* d = f.registry->find("pump-1");
  STRCMP_EQUAL("globex", d->links.owner.c_str());
  STRCMP_EQUAL("", d->links.technician.c_str());
  auto recs = f.records();
  CHECK_EQUAL(2u, recs.size());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_RELINKED, recs[1].lifecycle().change());
  STRCMP_EQUAL("globex", recs[1].stakeholders().owner().c_str());
  STRCMP_EQUAL("acme", recs[1].lifecycle().previous_stakeholders().owner().c_str());
  STRCMP_EQUAL("tom", recs[1].lifecycle().previous_stakeholders().technician().c_str());
  auto history = f.registry->history("pump-1", 10);
  CHECK(history.is_ok());
  CHECK_EQUAL(3u, history->size());
  STRCMP_EQUAL("owner", (*history)[1].what.c_str());
  STRCMP_EQUAL("alice", (*history)[1].actor.c_str());
  // The same values again: nothing to write.
  auto none = f.registry->link("pump-1", {{"owner", "globex"}}, "alice");
  CHECK(none.is_ok());
  CHECK_EQUAL(0u, none->size());
  CHECK_EQUAL(2u, f.records().size());
}

TEST(Registry, LinkOfUnknownOrRetiredDeviceIsRefused) {
  Fixture f;
  CHECK(f.registry->link("nope", {{"owner", "x"}}, "a").status().code() == xrm::Status::Code::kNotFound);
  f.add("pump-1");
  CHECK(f.registry->retire("pump-1", "a").is_ok());
  CHECK(f.registry->link("pump-1", {{"owner", "x"}}, "a").status().code() == xrm::Status::Code::kInvalidArgument);
}

TEST(Registry, RetireKeepsHistoryAndIgnoresLaterData) {
  Fixture f;
  f.add("pump-1");
  f.registry->note_data("pump-1", "t");
  CHECK(f.registry->retire("pump-1", "alice").is_ok());
  const auto* d = f.registry->find("pump-1");
  CHECK(d->lifecycle == Lifecycle::kRetired);
  CHECK(d->retired_ms.has_value());
  CHECK(f.registry->note_data("pump-1", "t") == nullptr);
  CHECK_EQUAL(1u, f.registry->counters().retired_messages);
  CHECK_FALSE(f.registry->retire("pump-1", "alice").is_ok());
  auto recs = f.records();
  CHECK_EQUAL(3u, recs.size());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_RETIRED, recs[2].lifecycle().change());
  STRCMP_EQUAL("active", recs[2].lifecycle().previous_state().c_str());
  f.reopen();
  CHECK(f.registry->find("pump-1")->lifecycle == Lifecycle::kRetired);
  CHECK_EQUAL(3u, f.registry->history("pump-1", 10)->size());
}

TEST(Registry, OfflineThenDataComesBackOnline) {
  Fixture f;
  f.add("pump-1");
  f.registry->note_data("pump-1", "t");
  CHECK(f.registry->set_online("pump-1", false).is_ok());
  CHECK(f.registry->find("pump-1")->lifecycle == Lifecycle::kOffline);
  f.registry->note_data("pump-1", "t");
  CHECK(f.registry->find("pump-1")->lifecycle == Lifecycle::kActive);
  auto recs = f.records();
  CHECK_EQUAL(4u, recs.size());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_OFFLINE, recs[2].lifecycle().change());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_ONLINE, recs[3].lifecycle().change());
}

TEST(Registry, BackFromAHealthBandIsActiveNotOnline) {
  Fixture f;
  f.add("pump-1");
  f.registry->note_data("pump-1", "t");
  CHECK(f.registry->set_lifecycle("pump-1", Lifecycle::kDegraded, "gateway:health", "band degraded").is_ok());
  CHECK(f.registry->set_lifecycle("pump-1", Lifecycle::kActive, "gateway:health", "band healthy").is_ok());
  auto recs = f.records();
  CHECK_EQUAL(4u, recs.size());
  STRCMP_EQUAL("degraded", recs[2].lifecycle().new_state().c_str());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_HEALTH_BAND, recs[2].lifecycle().change());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_ACTIVE, recs[3].lifecycle().change());
  STRCMP_EQUAL("degraded", recs[3].lifecycle().previous_state().c_str());
  STRCMP_EQUAL("gateway:health", recs[3].lifecycle().actor().c_str());
}

TEST(Registry, FirmwareChangeFromBirthIsRecordedOnce) {
  Fixture f;
  f.add("pump-1");
  xrm::v1::Birth birth;
  birth.set_model("CH-200");
  birth.set_firmware_version("1.0.0");
  CHECK(f.registry->note_birth("pump-1", birth).is_ok());
  CHECK(f.registry->note_birth("pump-1", birth).is_ok());  // same again: nothing new
  birth.set_firmware_version("1.1.0");
  CHECK(f.registry->note_birth("pump-1", birth).is_ok());
  STRCMP_EQUAL("1.1.0", f.registry->find("pump-1")->firmware.c_str());
  auto recs = f.records();
  CHECK_EQUAL(3u, recs.size());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_BIRTH, recs[2].lifecycle().change());
  STRCMP_EQUAL("firmware 1.0.0 -> 1.1.0", recs[2].lifecycle().detail().c_str());
  STRCMP_EQUAL("1.1.0", recs[2].lifecycle().birth().firmware_version().c_str());
  auto history = f.registry->history("pump-1", 10);
  STRCMP_EQUAL("firmware", history->back().what.c_str());
  STRCMP_EQUAL("1.0.0", history->back().old_value.c_str());
}

TEST(Registry, RecordSequenceOnlyGrowsAcrossRestarts) {
  Fixture f;
  f.add("a");
  f.add("b");
  f.reopen();
  f.add("c");
  auto recs = f.records();
  CHECK_EQUAL(3u, recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i) CHECK_EQUAL(i + 1, recs[i].seq());
  auto stats = f.outbox->stats();
  CHECK(stats.is_ok());
  CHECK_EQUAL(3u, stats->records);
  CHECK_EQUAL(3u, stats->critical);
  CHECK_EQUAL(3u, stats->last_seq);
}

TEST(Registry, MigratesASchemaOneDatabaseKeepingItsEpoch) {
  char tmpl[] = "/tmp/xrm-migrate-XXXXXX";
  CHECK(mkdtemp(tmpl) != nullptr);
  const std::string root = tmpl;
  {
    // A database as the foundation release left it: schema 1, epoch 7.
    sqlite3* raw = nullptr;
    CHECK_EQUAL(SQLITE_OK, sqlite3_open((root + "/gateway.db").c_str(), &raw));
    CHECK_EQUAL(SQLITE_OK, sqlite3_exec(raw,
                                        "CREATE TABLE gateway_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) "
                                        "WITHOUT ROWID; INSERT INTO gateway_state VALUES('epoch', 7); "
                                        "PRAGMA user_version=1;",
                                        nullptr, nullptr, nullptr));
    sqlite3_close(raw);
  }
  {
    auto db = xrm::store::Database::open(root);
    CHECK_TEXT(db.is_ok(), db.status().to_string().c_str());
    CHECK_EQUAL(xrm::store::Database::latest_schema_version(), (*db)->schema_version());
    xrm::store::GatewayState state(**db);
    CHECK_EQUAL(7u, *state.epoch());
    auto stmt = (*db)->prepare("SELECT count(*) FROM devices;");
    CHECK(stmt.is_ok());
  }
  fs::remove_all(root);
}

TEST(Registry, LastSeenIsFlushedInSlicesLongestDirtyFirst) {
  Fixture f;
  for (const char* id : {"pump-1", "pump-2", "pump-3"}) {
    f.add(id);
    f.registry->note_data(id, "tele");  // first data: activated and written at once
  }
  CHECK_EQUAL(0u, f.registry->seen_dirty());
  f.registry->note_data("pump-2", "tele");
  f.clock.advance(1s);
  f.registry->note_data("pump-1", "tele");
  f.registry->note_data("pump-3", "tele");
  CHECK_EQUAL(3u, f.registry->seen_dirty());
  CHECK(f.registry->flush_seen(2).is_ok());
  CHECK_EQUAL(1u, f.registry->seen_dirty());
  f.registry->note_data("pump-2", "tele");  // flushed before, dirty again
  CHECK_EQUAL(2u, f.registry->seen_dirty());
  f.reopen();  // what the slice wrote: pump-2 and pump-1 (2 messages each), not pump-3
  CHECK_EQUAL(2u, f.registry->find("pump-2")->messages);
  CHECK_EQUAL(2u, f.registry->find("pump-1")->messages);
  CHECK(f.registry->find("pump-3")->messages < 2u);
}
