#include <CppUTest/TestHarness.h>

#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/ingest/dead_letters.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/ingest/device_traffic.hpp"
#include "xrm/testing/store_fixture.hpp"
#include "xrm/ingest/inbound_journal.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace std::string_literals;
using xrm::ingest::DeviceIngest;
using xrm::ingest::DeviceTraffic;
using xrm::ingest::InboundJournal;
using xrm::ingest::Leaf;
using xrm::registry::Lifecycle;

namespace {

constexpr const char* kTele = "xrm/v1/dev/pump-1/tele";
constexpr const char* kEvt = "xrm/v1/dev/pump-1/evt";
constexpr const char* kState = "xrm/v1/dev/pump-1/state";
constexpr const char* kBirth = "xrm/v1/dev/pump-1/birth";
constexpr const char* kCmdRes = "xrm/v1/dev/pump-1/cmd-res";

// The router over a real gateway database (registry, outbox, dead letters, inbound journal) in a
// temporary directory, with a fake clock.
struct TrafficFixture : xrm::testing::StoreFixture {
  std::unique_ptr<xrm::ingest::DeadLetters> dead;
  std::unique_ptr<InboundJournal> journal;
  std::unique_ptr<DeviceTraffic> traffic;

  explicit TrafficFixture(xrm::ingest::DecodeLimits limits = {}) : StoreFixture("traffic") {
    dead = std::make_unique<xrm::ingest::DeadLetters>(*db, clock, 100);
    CHECK(dead->load().is_ok());
    auto j = InboundJournal::open(root, clock);
    CHECK_TEXT(j.is_ok(), j.status().to_string().c_str());
    journal = std::move(*j);
    traffic = std::make_unique<DeviceTraffic>(*db, *registry, *outbox, *dead, clock, limits);
  }
  ~TrafficFixture() override {
    traffic.reset();
    journal.reset();
    dead.reset();
  }

  const xrm::registry::Device* add(const std::string& id, const std::string& model = "CH-200") {
    return add_device(id, model);
  }

  const xrm::registry::Device& dev(const char* id) {
    const auto* d = registry->find(id);
    CHECK(d != nullptr);
    return *d;
  }

  const DeviceIngest& ingest(const char* id) {
    const DeviceIngest* st = traffic->device(id);
    CHECK_TEXT(st != nullptr, id);
    return *st;
  }

  std::size_t journal_rows() {
    auto p = InboundJournal::pending(*db);
    CHECK(p.is_ok());
    return p->size();
  }

  std::vector<xrm::ingest::DeadLetter> dead_letters() {
    auto r = dead->recent(100);
    CHECK_TEXT(r.is_ok(), r.status().to_string().c_str());
    return *r;
  }
};

std::string event_json(std::uint32_t seq, std::uint64_t ts, const std::string& type = "fault") {
  std::string out = "{\"seq\":" + std::to_string(seq);
  if (ts != 0) out += ",\"ts\":" + std::to_string(ts);
  out += ",\"type\":\"" + type + "\"";
  if (type == "fault") out += ",\"code\":\"E42\"";
  return out + "}";
}

}  // namespace

TEST_GROUP(DeviceTopic){};

TEST(DeviceTopic, ParsesEveryLeaf) {
  std::string_view device;
  Leaf leaf{};
  const std::pair<const char*, Leaf> cases[] = {
      {"xrm/v1/dev/pump-1/tele", Leaf::kTele},   {"xrm/v1/dev/pump-1/evt", Leaf::kEvt},
      {"xrm/v1/dev/pump-1/birth", Leaf::kBirth}, {"xrm/v1/dev/pump-1/state", Leaf::kState},
      {"xrm/v1/dev/pump-1/cmd-res", Leaf::kCmdRes},
  };
  for (const auto& [topic, expected] : cases) {
    CHECK_TEXT(xrm::ingest::parse_device_topic(topic, device, leaf), topic);
    CHECK_TEXT(leaf == expected, topic);
    CHECK(device == "pump-1");
  }
}

TEST(DeviceTopic, RefusesEverythingElse) {
  std::string_view device;
  Leaf leaf{};
  for (const char* topic : {"xrm/v1/dev/pump-1/other", "xrm/v2/dev/pump-1/tele", "xrm/v1/dev/pump-1/tele/x",
                            "xrm/v1/dev/pump-1", "xrm/v1/dev//tele", "xrm/v1/dev/bad id/tele", "xrm/v1/dev/a+b/tele",
                            "", "xrm/v1/dev/"}) {
    CHECK_FALSE_TEXT(xrm::ingest::parse_device_topic(topic, device, leaf), topic);
  }
}

TEST_GROUP(DeviceTraffic){};

TEST(DeviceTraffic, TelemetryIsAcceptedAndTracked) {
  TrafficFixture f;
  f.add("pump-1");
  const std::string p1 = R"({"seq":5,"ts":1800000000500,"temp":21.5,"rpm":1200,"label":"x"})";
  f.traffic->handle(kTele, p1);

  const auto& s = f.traffic->stats();
  CHECK_EQUAL(std::uint64_t{1}, s.messages);
  CHECK_EQUAL(std::uint64_t{p1.size()}, s.bytes);
  CHECK_EQUAL(std::uint64_t{1}, s.accepted);
  CHECK_EQUAL(std::uint64_t{1}, s.telemetry);
  CHECK_EQUAL(std::uint64_t{0}, s.events);
  CHECK_EQUAL(std::uint64_t{0}, s.dead_letters);
  CHECK_EQUAL(std::uint64_t{1}, s.ignored_fields);
  CHECK_EQUAL(std::uint64_t{0}, s.bad_topic);

  const DeviceIngest& st = f.ingest("pump-1");
  CHECK_EQUAL(std::uint64_t{1}, st.telemetry.counters().received);
  CHECK_EQUAL(std::uint32_t{5}, st.telemetry.highest());
  CHECK_EQUAL(std::uint64_t{1}, st.ignored_fields);
  CHECK_EQUAL(std::uint64_t{0}, st.dead_letters);
  CHECK_EQUAL(std::size_t{2}, st.readings.size());
  STRCMP_EQUAL("temp", st.readings[0].first.c_str());
  DOUBLES_EQUAL(21.5, st.readings[0].second, 0);
  STRCMP_EQUAL("rpm", st.readings[1].first.c_str());
  DOUBLES_EQUAL(1200, st.readings[1].second, 0);
  CHECK_EQUAL(std::int64_t{1800000000500}, st.readings_ms);

  // A later message updates in place, adds new names at the end, and the gap is counted.
  f.clock.advance(1s);
  const std::string p2 = R"({"seq":7,"ts":1800000001500,"rpm":900,"flow":3.25})";
  f.traffic->handle(kTele, p2);
  CHECK_EQUAL(std::uint64_t{2}, f.traffic->stats().telemetry);
  CHECK_EQUAL(std::uint64_t{p1.size() + p2.size()}, f.traffic->stats().bytes);
  CHECK_EQUAL(std::uint64_t{2}, st.telemetry.counters().received);
  CHECK_EQUAL(std::uint64_t{1}, st.telemetry.counters().missed);
  CHECK_EQUAL(std::size_t{3}, st.readings.size());
  STRCMP_EQUAL("temp", st.readings[0].first.c_str());
  DOUBLES_EQUAL(21.5, st.readings[0].second, 0);
  DOUBLES_EQUAL(900, st.readings[1].second, 0);
  STRCMP_EQUAL("flow", st.readings[2].first.c_str());
  DOUBLES_EQUAL(3.25, st.readings[2].second, 0);
  CHECK_EQUAL(std::int64_t{1800000001500}, st.readings_ms);

  const auto sum = f.traffic->telemetry_sequence();
  CHECK_EQUAL(std::uint64_t{2}, sum.received);
  CHECK_EQUAL(std::uint64_t{1}, sum.missed);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->event_sequence().received);
}

TEST(DeviceTraffic, FirstTelemetryMakesTheDeviceActiveAndSeen) {
  TrafficFixture f;
  f.add("pump-1");
  CHECK(f.dev("pump-1").lifecycle == Lifecycle::kProvisioned);
  CHECK(f.traffic->device("pump-1") == nullptr);
  const std::int64_t now = f.clock.unix_ms();
  f.traffic->handle(kTele, R"({"seq":1,"temp":20})");
  const auto& d = f.dev("pump-1");
  CHECK(d.lifecycle == Lifecycle::kActive);
  CHECK(d.first_data_ms.has_value());
  CHECK_EQUAL(now, *d.first_data_ms);
  CHECK_EQUAL(now, d.last_seen_ms.value_or(0));
  CHECK_EQUAL(std::uint64_t{1}, d.messages);
  auto lc = f.records(xrm::v1::RECORD_KIND_LIFECYCLE);
  CHECK_EQUAL(std::size_t{2}, lc.size());  // provisioned, then active
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_ACTIVE, lc[1].lifecycle().change());
  // No SQL record per telemetry message.
  CHECK_EQUAL(std::size_t{0}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
}

TEST(DeviceTraffic, TelemetryWithoutTsIsStampedWithTheClock) {
  TrafficFixture f;
  f.add("pump-1");
  f.clock.advance(1234ms);
  f.traffic->handle(kTele, R"({"seq":1,"temp":20})");
  CHECK_EQUAL(f.clock.unix_ms(), f.ingest("pump-1").readings_ms);
}

TEST(DeviceTraffic, MalformedTelemetryIsADeadLetterAndDoesNotMarkTheDeviceSeen) {
  TrafficFixture f;
  f.add("pump-1");
  const std::string bad = R"({"ts":1,"temp":20})";
  f.traffic->handle(kTele, bad);

  const auto& s = f.traffic->stats();
  CHECK_EQUAL(std::uint64_t{1}, s.messages);
  CHECK_EQUAL(std::uint64_t{bad.size()}, s.bytes);
  CHECK_EQUAL(std::uint64_t{0}, s.accepted);
  CHECK_EQUAL(std::uint64_t{0}, s.telemetry);
  CHECK_EQUAL(std::uint64_t{1}, s.dead_letters);
  CHECK_EQUAL(std::uint64_t{1}, f.dead->counts().since_start);

  // The per-device entry exists to count the dead letter; nothing else was noted.
  const DeviceIngest& st = f.ingest("pump-1");
  CHECK_EQUAL(std::uint64_t{1}, st.dead_letters);
  CHECK_EQUAL(std::uint64_t{0}, st.telemetry.counters().received);
  CHECK(st.readings.empty());

  const auto& d = f.dev("pump-1");
  CHECK(d.lifecycle == Lifecycle::kProvisioned);
  CHECK_FALSE(d.first_data_ms.has_value());
  CHECK_FALSE(d.last_seen_ms.has_value());
  CHECK_EQUAL(std::uint64_t{0}, d.messages);

  auto rows = f.dead_letters();
  CHECK_EQUAL(std::size_t{1}, rows.size());
  STRCMP_EQUAL(kTele, rows[0].topic.c_str());
  STRCMP_EQUAL("seq is missing", rows[0].reason.c_str());
  CHECK(rows[0].head == bad);
  CHECK_EQUAL(std::uint64_t{bad.size()}, rows[0].size);
}

TEST(DeviceTraffic, OversizeTelemetryIsADeadLetterNamingTheLimit) {
  xrm::ingest::DecodeLimits limits;
  limits.max_payload = 16;
  TrafficFixture f(limits);
  f.add("pump-1");
  f.traffic->handle(kTele, R"({"seq":1,"temperature":20})");
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().dead_letters);
  auto rows = f.dead_letters();
  CHECK_EQUAL(std::size_t{1}, rows.size());
  CHECK(rows[0].reason.find("exceeds ingest.max_payload") != std::string::npos);
}

TEST(DeviceTraffic, UnknownDeviceIsCountedByTheRegistryNotDeadLettered) {
  TrafficFixture f;
  f.traffic->handle("xrm/v1/dev/ghost/tele", R"({"seq":1,"temp":20})");
  f.traffic->handle("xrm/v1/dev/ghost/tele", "garbage");
  const std::uint64_t id = f.journal->append("xrm/v1/dev/ghost/evt", event_json(1, 0));
  f.traffic->handle("xrm/v1/dev/ghost/evt", event_json(1, 0), id);

  const auto& c = f.registry->counters();
  CHECK_EQUAL(std::uint64_t{3}, c.unknown_messages);
  CHECK_EQUAL(std::uint64_t{1}, c.unknown_records);  // rate-limited per id
  CHECK_EQUAL(std::uint64_t{3}, f.traffic->stats().messages);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().dead_letters);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().events);
  CHECK_EQUAL(std::uint64_t{0}, f.dead->counts().since_start);
  CHECK(f.traffic->device("ghost") == nullptr);
  CHECK(f.registry->find("ghost") == nullptr);
  CHECK_EQUAL(std::size_t{0}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  CHECK_EQUAL(std::size_t{0}, f.journal_rows());  // handled: the journal entry goes
}

TEST(DeviceTraffic, RetiredDeviceIsRefused) {
  TrafficFixture f;
  f.add("pump-1");
  CHECK(f.registry->retire("pump-1", "xrmctl").is_ok());
  f.traffic->handle(kTele, R"({"seq":1,"temp":20})");
  f.traffic->handle(kEvt, event_json(1, 0));
  f.traffic->handle(kState, "online");
  f.traffic->handle(kBirth, R"({"firmware_version":"9.9"})");

  CHECK_EQUAL(std::uint64_t{4}, f.registry->counters().retired_messages);
  CHECK_EQUAL(std::uint64_t{0}, f.registry->counters().unknown_messages);
  CHECK_EQUAL(std::uint64_t{4}, f.traffic->stats().messages);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().telemetry);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().events);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().dead_letters);
  CHECK(f.traffic->device("pump-1") == nullptr);
  const auto& d = f.dev("pump-1");
  CHECK(d.lifecycle == Lifecycle::kRetired);
  CHECK_FALSE(d.online.has_value());
  CHECK(d.firmware.empty());
  CHECK_EQUAL(std::uint64_t{0}, d.messages);
  CHECK_EQUAL(std::size_t{0}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
}

TEST(DeviceTraffic, EventIsRecordedInTheOutbox) {
  TrafficFixture f;
  f.add("pump-1");
  f.clock.advance(10s);
  const std::uint64_t now = static_cast<std::uint64_t>(f.clock.unix_ms());
  const std::uint64_t ts = now - 4000;
  f.traffic->handle(kEvt, event_json(3, ts));

  const auto& s = f.traffic->stats();
  CHECK_EQUAL(std::uint64_t{1}, s.accepted);
  CHECK_EQUAL(std::uint64_t{1}, s.events);
  CHECK_EQUAL(std::uint64_t{0}, s.duplicate_events);
  CHECK_EQUAL(std::uint64_t{0}, s.record_errors);

  auto evs = f.records(xrm::v1::RECORD_KIND_EVENT);
  CHECK_EQUAL(std::size_t{1}, evs.size());
  const auto& r = evs[0];
  CHECK(r.has_event());
  STRCMP_EQUAL("gw-t", r.gateway_id().c_str());
  CHECK_EQUAL(std::uint64_t{3}, r.seq());  // after provisioned and active lifecycle records
  STRCMP_EQUAL("pump-1", r.device_id().c_str());
  STRCMP_EQUAL("chiller", r.profile_class().c_str());
  STRCMP_EQUAL("acme", r.stakeholders().owner().c_str());
  STRCMP_EQUAL("plant-a", r.stakeholders().site().c_str());
  STRCMP_EQUAL("tom", r.stakeholders().technician().c_str());
  STRCMP_EQUAL("coolco", r.stakeholders().supplier().c_str());
  STRCMP_EQUAL("CH-200", r.stakeholders().model().c_str());
  CHECK_EQUAL(ts, r.span_start_ms());
  CHECK_EQUAL(ts, r.span_end_ms());
  CHECK_EQUAL(now, r.created_at_ms());
  CHECK_EQUAL(now, r.event().received_at_ms());
  CHECK_EQUAL(std::uint32_t{3}, r.event().event().seq());
  CHECK_EQUAL(ts, r.event().event().ts());
  STRCMP_EQUAL("fault", r.event().event().type().c_str());
  STRCMP_EQUAL("E42", r.event().event().code().c_str());

  // The event is data: the device became active and was seen.
  const auto& d = f.dev("pump-1");
  CHECK(d.lifecycle == Lifecycle::kActive);
  CHECK_EQUAL(std::uint64_t{1}, d.messages);

  const DeviceIngest& st = f.ingest("pump-1");
  CHECK_EQUAL(std::uint64_t{1}, st.events.counters().received);
  CHECK_EQUAL(std::size_t{1}, st.recent_events.size());
  CHECK_EQUAL(static_cast<std::int64_t>(now), st.recent_events[0].first);
  CHECK_EQUAL(std::uint32_t{3}, st.recent_events[0].second.seq());
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->event_sequence().received);
}

TEST(DeviceTraffic, EventWithoutTsSpansTheReceiveTime) {
  TrafficFixture f;
  f.add("pump-1");
  f.clock.advance(7s);
  const auto now = static_cast<std::uint64_t>(f.clock.unix_ms());
  f.traffic->handle(kEvt, event_json(1, 0, "maintenance"));
  auto evs = f.records(xrm::v1::RECORD_KIND_EVENT);
  CHECK_EQUAL(std::size_t{1}, evs.size());
  CHECK_EQUAL(now, evs[0].span_start_ms());
  CHECK_EQUAL(now, evs[0].span_end_ms());
  CHECK_EQUAL(std::uint64_t{0}, evs[0].event().event().ts());
  STRCMP_EQUAL("maintenance", evs[0].event().event().type().c_str());
}

TEST(DeviceTraffic, JournaledEventLeavesNoJournalEntry) {
  TrafficFixture f;
  f.add("pump-1");
  const std::string payload = event_json(1, 0);
  const std::uint64_t other = f.journal->append(kEvt, "still waiting");
  const std::uint64_t id = f.journal->append(kEvt, payload);
  CHECK_EQUAL(std::size_t{2}, f.journal_rows());
  f.traffic->handle(kEvt, payload, id);
  CHECK_EQUAL(std::size_t{1}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  auto left = InboundJournal::pending(*f.db);
  CHECK(left.is_ok());
  CHECK_EQUAL(std::size_t{1}, left->size());
  CHECK_EQUAL(other, (*left)[0].id);
}

TEST(DeviceTraffic, RepeatedEventIsRecordedOnceAcrossARestart) {
  // A journal replay after a crash can meet the broker's redelivery of the same event in the next
  // run: the key written with the first record catches it.
  TrafficFixture f;
  f.add("pump-1");
  const std::string payload = event_json(4, 1763900000000);
  f.traffic->handle(kEvt, payload);
  f.traffic = std::make_unique<DeviceTraffic>(*f.db, *f.registry, *f.outbox, *f.dead, f.clock, xrm::ingest::DecodeLimits{});
  f.traffic->handle(kEvt, payload);
  CHECK_EQUAL(std::size_t{1}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().duplicate_events);
  // A different device time is a different event.
  f.traffic->handle(kEvt, event_json(4, 1763900000001));
  CHECK_EQUAL(std::size_t{2}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
}

TEST(DeviceTraffic, RepeatedEventWithoutDeviceTimeIsRecordedAgain) {
  // Without a device time a repeated number cannot be told from a rebooted device's new event:
  // recorded twice rather than lost.
  TrafficFixture f;
  f.add("pump-1");
  f.traffic->handle(kEvt, event_json(1, 0));
  f.traffic->handle(kEvt, event_json(1, 0));
  CHECK_EQUAL(std::size_t{2}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().duplicate_events);
  CHECK_EQUAL(std::uint64_t{1}, f.ingest("pump-1").events.counters().duplicates);
}

TEST(DeviceTraffic, DuplicateEventIsRecordedOnceAndItsJournalEntryStillGoes) {
  TrafficFixture f;
  f.add("pump-1");
  const std::string payload = event_json(1, 1763900000000);
  f.traffic->handle(kEvt, payload, f.journal->append(kEvt, payload));
  f.clock.advance(1s);
  const std::uint64_t again = f.journal->append(kEvt, payload);
  CHECK_EQUAL(std::size_t{1}, f.journal_rows());
  f.traffic->handle(kEvt, payload, again);

  CHECK_EQUAL(std::size_t{1}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  CHECK_EQUAL(std::size_t{0}, f.journal_rows());
  const auto& s = f.traffic->stats();
  CHECK_EQUAL(std::uint64_t{1}, s.events);
  CHECK_EQUAL(std::uint64_t{1}, s.duplicate_events);
  CHECK_EQUAL(std::uint64_t{2}, s.accepted);
  const DeviceIngest& st = f.ingest("pump-1");
  CHECK_EQUAL(std::uint64_t{1}, st.events.counters().duplicates);
  CHECK_EQUAL(std::uint64_t{2}, st.events.counters().received);
  CHECK_EQUAL(std::size_t{1}, st.recent_events.size());
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->event_sequence().duplicates);
}

// ServiceEvent.seq "restarts on reboot" (xrm.proto). A device that rebooted after a few events
// (fewer than SequenceTracker::kWindow, the usual case for events) numbers its next event 1 again;
// that is a new event (a new birth time, a new event time) and must be recorded.
TEST(DeviceTraffic, EventAfterADeviceRebootIsRecorded) {
  TrafficFixture f;
  f.add("pump-1");
  const std::uint64_t t0 = static_cast<std::uint64_t>(f.clock.unix_ms());
  for (std::uint32_t seq = 1; seq <= 3; ++seq) f.traffic->handle(kEvt, event_json(seq, t0 + seq));
  f.clock.advance(1h);
  f.traffic->handle(kBirth, R"({"firmware_version":"1.0.0","ts":)" + std::to_string(f.clock.unix_ms()) + "}");
  const std::uint64_t t1 = static_cast<std::uint64_t>(f.clock.unix_ms());
  f.traffic->handle(kEvt, event_json(1, t1, "service_request"));
  auto evs = f.records(xrm::v1::RECORD_KIND_EVENT);
  CHECK_EQUAL(std::size_t{4}, evs.size());
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().duplicate_events);
}

TEST(DeviceTraffic, MalformedEventIsADeadLetterAndItsJournalEntryGoes) {
  TrafficFixture f;
  f.add("pump-1");
  const std::string bad = R"({"seq":1})";
  const std::uint64_t id = f.journal->append(kEvt, bad);
  f.traffic->handle(kEvt, bad, id);
  CHECK_EQUAL(std::size_t{0}, f.journal_rows());
  CHECK_EQUAL(std::size_t{0}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().dead_letters);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().events);
  CHECK(f.dev("pump-1").lifecycle == Lifecycle::kProvisioned);
  auto rows = f.dead_letters();
  CHECK_EQUAL(std::size_t{1}, rows.size());
  STRCMP_EQUAL(kEvt, rows[0].topic.c_str());
  STRCMP_EQUAL("type is missing", rows[0].reason.c_str());
}

TEST(DeviceTraffic, RecentEventsAreBounded) {
  TrafficFixture f;
  f.add("pump-1");
  const std::uint32_t n = DeviceTraffic::kRecentEvents + 3;
  for (std::uint32_t seq = 1; seq <= n; ++seq) {
    f.traffic->handle(kEvt, event_json(seq, 0));
    f.clock.advance(1s);
  }
  CHECK_EQUAL(std::uint64_t{n}, f.traffic->stats().events);
  CHECK_EQUAL(std::size_t{n}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  const DeviceIngest& st = f.ingest("pump-1");
  CHECK_EQUAL(DeviceTraffic::kRecentEvents, st.recent_events.size());
  CHECK_EQUAL(std::uint32_t{4}, st.recent_events.front().second.seq());  // oldest kept
  CHECK_EQUAL(n, st.recent_events.back().second.seq());
  CHECK(st.recent_events.front().first < st.recent_events.back().first);
}

TEST(DeviceTraffic, ReadingsAreBoundedAtKMaxReadings) {
  TrafficFixture f;
  f.add("pump-1");
  const std::size_t names = DeviceTraffic::kMaxReadings + 6;
  std::string p = R"({"seq":1)";
  for (std::size_t i = 0; i < names; ++i) p += ",\"m" + std::to_string(i) + "\":" + std::to_string(i);
  p += "}";
  f.traffic->handle(kTele, p);
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().telemetry);
  const DeviceIngest& st = f.ingest("pump-1");
  CHECK_EQUAL(DeviceTraffic::kMaxReadings, st.readings.size());
  STRCMP_EQUAL("m0", st.readings.front().first.c_str());
  STRCMP_EQUAL("m63", st.readings.back().first.c_str());

  // Known names still update; new ones beyond the bound are not kept.
  f.traffic->handle(kTele, R"({"seq":2,"m0":100,"m63":163,"m64":1,"new":2})");
  CHECK_EQUAL(DeviceTraffic::kMaxReadings, st.readings.size());
  DOUBLES_EQUAL(100, st.readings.front().second, 0);
  DOUBLES_EQUAL(163, st.readings.back().second, 0);
  STRCMP_EQUAL("m63", st.readings.back().first.c_str());
}

TEST(DeviceTraffic, StateOnlineAndOfflineSetTheRegistryFlag) {
  TrafficFixture f;
  f.add("pump-1");
  f.traffic->handle(kTele, R"({"seq":1,"temp":20})");  // active first
  CHECK_FALSE(f.dev("pump-1").online.has_value());

  f.traffic->handle(kState, "online");
  CHECK(f.dev("pump-1").online.has_value());
  CHECK_TRUE(*f.dev("pump-1").online);
  CHECK_EQUAL(std::uint64_t{2}, f.traffic->stats().accepted);

  f.traffic->handle(kState, "offline");
  CHECK_FALSE(*f.dev("pump-1").online);
  CHECK(f.dev("pump-1").lifecycle == Lifecycle::kOffline);

  f.traffic->handle(kState, "online");
  CHECK_TRUE(*f.dev("pump-1").online);
  CHECK(f.dev("pump-1").lifecycle == Lifecycle::kActive);
  CHECK_EQUAL(std::uint64_t{4}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().dead_letters);
}

TEST(DeviceTraffic, BadStatePayloadIsADeadLetter) {
  TrafficFixture f;
  f.add("pump-1");
  f.traffic->handle(kState, "ONLINE");
  f.traffic->handle(kState, "");
  CHECK_FALSE(f.dev("pump-1").online.has_value());
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{2}, f.traffic->stats().dead_letters);
  CHECK_EQUAL(std::uint64_t{2}, f.ingest("pump-1").dead_letters);
  auto rows = f.dead_letters();
  CHECK_EQUAL(std::size_t{2}, rows.size());
  STRCMP_EQUAL(kState, rows[1].topic.c_str());
  STRCMP_EQUAL("state payload must be online or offline", rows[1].reason.c_str());
  STRCMP_EQUAL("ONLINE", rows[1].head.c_str());
}

TEST(DeviceTraffic, JsonBirthSetsFirmwareAndLearnsTheModel) {
  TrafficFixture f;
  f.add("pump-1", "");
  f.traffic->handle(kBirth, R"({"model":"CH-9","firmware_version":"2.1.0","capabilities":["temp"],"ts":5})");
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().dead_letters);
  const auto& d = f.dev("pump-1");
  STRCMP_EQUAL("2.1.0", d.firmware.c_str());
  STRCMP_EQUAL("CH-9", d.links.model.c_str());
  CHECK(d.lifecycle == Lifecycle::kProvisioned);  // a birth is not data
  auto lc = f.records(xrm::v1::RECORD_KIND_LIFECYCLE);
  CHECK_EQUAL(std::size_t{2}, lc.size());
  CHECK_EQUAL(xrm::v1::LIFECYCLE_CHANGE_BIRTH, lc[1].lifecycle().change());
  STRCMP_EQUAL("2.1.0", lc[1].lifecycle().birth().firmware_version().c_str());
  CHECK_EQUAL(1, lc[1].lifecycle().birth().capabilities_size());
  CHECK_EQUAL(std::uint64_t{5}, lc[1].lifecycle().birth().ts());
}

TEST(DeviceTraffic, ProtobufBirthSetsFirmware) {
  TrafficFixture f;
  f.add("pump-1");
  xrm::v1::Birth b;
  b.set_firmware_version("3.0.1");
  f.traffic->handle(kBirth, b.SerializeAsString());
  STRCMP_EQUAL("3.0.1", f.dev("pump-1").firmware.c_str());
  STRCMP_EQUAL("CH-200", f.dev("pump-1").links.model.c_str());  // set by a technician: kept
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().accepted);
}

TEST(DeviceTraffic, BadOrEmptyBirth) {
  TrafficFixture f;
  f.add("pump-1");
  f.traffic->handle(kBirth, "");  // a cleared retained birth: ignored
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().dead_letters);

  f.traffic->handle(kBirth, R"({"firmware_version":)");
  f.traffic->handle(kBirth, "[1,2]");
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{2}, f.traffic->stats().dead_letters);
  CHECK(f.dev("pump-1").firmware.empty());
  auto rows = f.dead_letters();
  CHECK_EQUAL(std::size_t{2}, rows.size());
  STRCMP_EQUAL("birth payload is neither a JSON object nor a protobuf Birth", rows[1].reason.c_str());
}

TEST(DeviceTraffic, DeeplyNestedBirthWithinMaxPayloadIsHandled) {
  TrafficFixture f;
  f.add("pump-1");
  // 8000 levels of arrays inside an object: within ingest.max_payload (16 KiB), far beyond the
  // depth allowed for telemetry and events. It must neither crash nor change the device.
  const std::size_t levels = 8000;
  const std::string birth = "{\"x\":" + std::string(levels, '[') + std::string(levels, ']') + "}";
  CHECK(birth.size() <= xrm::ingest::DecodeLimits{}.max_payload);
  f.traffic->handle(kBirth, birth);
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().messages);
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().accepted + f.traffic->stats().dead_letters);
  CHECK(f.dev("pump-1").firmware.empty());
}

TEST(DeviceTraffic, OversizeBirthIsADeadLetter) {
  xrm::ingest::DecodeLimits limits;
  limits.max_payload = 20;
  TrafficFixture f(limits);
  f.add("pump-1");
  f.traffic->handle(kBirth, R"({"firmware_version":"2.1.0"})");
  CHECK(f.dev("pump-1").firmware.empty());
  auto rows = f.dead_letters();
  CHECK_EQUAL(std::size_t{1}, rows.size());
  STRCMP_EQUAL("birth payload larger than ingest.max_payload", rows[0].reason.c_str());
}

TEST(DeviceTraffic, BadTopicsAreCounted) {
  TrafficFixture f;
  f.add("pump-1");
  const std::uint64_t id = f.journal->append("xrm/v1/dev/pump-1/evt/x", "p");
  f.traffic->handle("xrm/v1/dev/pump-1/evt/x", "p", id);
  f.traffic->handle("xrm/v1/dev/pump-1/other", "p");
  f.traffic->handle("xrm/v2/dev/pump-1/tele", "p");
  f.traffic->handle("xrm/v1/dev/bad id/tele", "p");
  const auto& s = f.traffic->stats();
  CHECK_EQUAL(std::uint64_t{4}, s.bad_topic);
  CHECK_EQUAL(std::uint64_t{4}, s.messages);
  CHECK_EQUAL(std::uint64_t{4}, s.bytes);
  CHECK_EQUAL(std::uint64_t{0}, s.accepted);
  CHECK_EQUAL(std::uint64_t{0}, s.dead_letters);
  CHECK_EQUAL(std::uint64_t{0}, f.registry->counters().unknown_messages);
  CHECK_EQUAL(std::size_t{0}, f.journal_rows());
}

TEST(DeviceTraffic, CommandResultIsAcceptedAndItsJournalEntryGoes) {
  TrafficFixture f;
  f.add("pump-1");
  const std::uint64_t id = f.journal->append(kCmdRes, "{}");
  f.traffic->handle(kCmdRes, "{}", id);
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::size_t{0}, f.journal_rows());
}

TEST(DeviceTraffic, CommandResultsAreDecodedAndHandedOnGarbageIsDeadLettered) {
  TrafficFixture f;
  f.add("pump-1");
  std::vector<std::pair<std::string, std::string>> results;  // device, request id
  std::vector<int> statuses;
  f.traffic->on_command_result([&](const xrm::registry::Device& d, const xrm::v1::CommandResult& r) {
    results.emplace_back(d.id, r.request_id());
    statuses.push_back(r.status());
  });
  f.traffic->handle(kCmdRes, R"({"request_id":"R-1","status":"ok","message":"done"})");
  xrm::v1::CommandResult pb;
  pb.set_request_id("R-2");
  pb.set_status(xrm::v1::COMMAND_STATUS_ERROR);
  f.traffic->handle(kCmdRes, pb.SerializeAsString());
  f.traffic->handle(kCmdRes, R"({"request_id":"R-3","status":5})");
  f.traffic->handle(kCmdRes, "{not json");
  CHECK_EQUAL(3u, results.size());
  STRCMP_EQUAL("pump-1", results[0].first.c_str());
  STRCMP_EQUAL("R-1", results[0].second.c_str());
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_OK, statuses[0]);
  STRCMP_EQUAL("R-2", results[1].second.c_str());
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_ERROR, statuses[1]);
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_REJECTED, statuses[2]);
  CHECK_EQUAL(std::uint64_t{3}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().dead_letters);
}

TEST(DeviceTraffic, CallbacksGetTheAcceptedData) {
  TrafficFixture f;
  f.add("pump-1");
  int tele_calls = 0;
  std::string tele_device;
  std::vector<std::pair<std::string, double>> tele_metrics;
  std::uint32_t tele_seq = 0;
  std::int64_t tele_ts = 0;
  f.traffic->on_telemetry([&](const xrm::registry::Device& d, const xrm::ingest::TelemetrySample& s, std::int64_t ts,
                              const xrm::ingest::DeviceIngest&) {
    ++tele_calls;
    tele_device = d.id;
    tele_seq = s.seq;
    tele_ts = ts;
    tele_metrics.clear();
    for (const auto& m : s.metrics) tele_metrics.emplace_back(std::string(m.name), m.value);
  });
  int event_calls = 0;
  std::string event_device;
  xrm::v1::ServiceEvent last_event;
  f.traffic->on_event([&](const xrm::registry::Device& d, const xrm::v1::ServiceEvent& e) {
    ++event_calls;
    event_device = d.id;
    last_event = e;
  });

  f.traffic->handle(kTele, R"({"seq":9,"ts":1800000000001,"temp":21.5,"rpm":7})");
  CHECK_EQUAL(1, tele_calls);
  STRCMP_EQUAL("pump-1", tele_device.c_str());
  CHECK_EQUAL(std::uint32_t{9}, tele_seq);
  CHECK_EQUAL(std::int64_t{1800000000001}, tele_ts);
  CHECK_EQUAL(std::size_t{2}, tele_metrics.size());
  STRCMP_EQUAL("temp", tele_metrics[0].first.c_str());
  DOUBLES_EQUAL(21.5, tele_metrics[0].second, 0);
  STRCMP_EQUAL("rpm", tele_metrics[1].first.c_str());

  // Without ts the callback gets the clock time.
  f.clock.advance(3s);
  f.traffic->handle(kTele, R"({"seq":10,"temp":22})");
  CHECK_EQUAL(2, tele_calls);
  CHECK_EQUAL(f.clock.unix_ms(), tele_ts);

  // Not for what is refused.
  f.traffic->handle(kTele, R"({"temp":22})");
  f.traffic->handle("xrm/v1/dev/ghost/tele", R"({"seq":1,"temp":22})");
  CHECK_EQUAL(2, tele_calls);
  CHECK_EQUAL(0, event_calls);

  f.traffic->handle(kEvt, event_json(4, 1800000000002, "service_request"));
  CHECK_EQUAL(1, event_calls);
  STRCMP_EQUAL("pump-1", event_device.c_str());
  CHECK_EQUAL(std::uint32_t{4}, last_event.seq());
  CHECK_EQUAL(std::uint64_t{1800000000002}, last_event.ts());
  STRCMP_EQUAL("service_request", last_event.type().c_str());

  // A duplicate or a malformed event is not passed on.
  f.traffic->handle(kEvt, event_json(4, 1800000000002, "service_request"));
  f.traffic->handle(kEvt, R"({"seq":5})");
  CHECK_EQUAL(1, event_calls);
  CHECK_EQUAL(2, tele_calls);
}

TEST(DeviceTraffic, RateIsMessagesPerSecondOfTheLastWindow) {
  TrafficFixture f;
  f.add("pump-1");
  DOUBLES_EQUAL(0, f.traffic->rate_per_s(), 0);
  for (int i = 0; i < 5; ++i) f.traffic->handle(kState, "online");
  f.clock.advance(10s);
  f.traffic->handle(kState, "online");  // ends the first window: 5 messages in 10 s
  DOUBLES_EQUAL(0.5, f.traffic->rate_per_s(), 1e-12);
  f.clock.advance(20s);
  DOUBLES_EQUAL(0, f.traffic->rate_per_s(), 0);  // silent since
}

// Bad-input matrix (docs/reliability.md): device ids and topics, empty payloads, hostile payloads
// and replays, as the router sees them.

TEST(DeviceTopic, DeviceIdEdgeCases) {
  std::string_view device;
  Leaf leaf{};
  const std::string longest(64, 'a');
  for (const std::string& id : {longest, std::string("A.b_c-9"), std::string("-"), std::string(".")}) {
    const std::string topic = "xrm/v1/dev/" + id + "/tele";
    CHECK_TEXT(xrm::ingest::parse_device_topic(topic, device, leaf), topic.c_str());
    CHECK(device == id);
  }
  const std::string refused[] = {
      std::string(65, 'a'),  // too long
      "",                    // empty
      "#", "a#", "+", "pump+1",  // MQTT wildcards
      "pump\xc3\xa9",        // non-ASCII (UTF-8 e acute)
      "pump\xff",            // not even UTF-8
      std::string("pu\0mp", 5),  // NUL
      "pump 1", "pump\t1", "$SYS", "pump:1",
  };
  for (const std::string& id : refused) {
    const std::string topic = "xrm/v1/dev/" + id + "/tele";
    CHECK_FALSE_TEXT(xrm::ingest::parse_device_topic(topic, device, leaf), topic.c_str());
  }
}

TEST(DeviceTraffic, TopicsWithBadDeviceIdsAreCountedAsBadTopicsAndNeverReachTheRegistry) {
  TrafficFixture f;
  f.add(std::string(64, 'a'));
  const std::string payload = R"({"seq":1,"temp":20})";
  const std::string topics[] = {
      "xrm/v1/dev/" + std::string(65, 'a') + "/tele", "xrm/v1/dev//tele", "xrm/v1/dev/#/tele",
      "xrm/v1/dev/+/tele", "xrm/v1/dev/pump\xc3\xa9/tele", "xrm/v1/dev/pump-1/tele/extra", "xrm/v1/dev/pump-1/TELE",
  };
  for (const std::string& t : topics) f.traffic->handle(t, payload);
  const auto& s = f.traffic->stats();
  CHECK_EQUAL(std::uint64_t{std::size(topics)}, s.bad_topic);
  CHECK_EQUAL(std::uint64_t{std::size(topics)}, s.messages);
  CHECK_EQUAL(std::uint64_t{0}, s.accepted);
  CHECK_EQUAL(std::uint64_t{0}, s.dead_letters);
  CHECK_EQUAL(std::uint64_t{0}, f.registry->counters().unknown_messages);
  CHECK_EQUAL(std::uint64_t{0}, f.registry->counters().unknown_records);
  CHECK_EQUAL(std::size_t{0}, f.dead_letters().size());
  // The 64-character id is a device like any other.
  f.traffic->handle("xrm/v1/dev/" + std::string(64, 'a') + "/tele", payload);
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().accepted);
}

TEST(DeviceTraffic, EmptyPayloadOnEachLeaf) {
  TrafficFixture f;
  f.add("pump-1");
  f.traffic->handle(kTele, "");
  f.traffic->handle(kEvt, "");
  f.traffic->handle(kState, "");
  auto rows = f.dead_letters();  // newest first
  CHECK_EQUAL(std::size_t{3}, rows.size());
  STRCMP_EQUAL(kState, rows[0].topic.c_str());
  STRCMP_EQUAL("state payload must be online or offline", rows[0].reason.c_str());
  STRCMP_EQUAL(kEvt, rows[1].topic.c_str());
  STRCMP_EQUAL("empty payload", rows[1].reason.c_str());
  STRCMP_EQUAL(kTele, rows[2].topic.c_str());
  STRCMP_EQUAL("empty payload", rows[2].reason.c_str());
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{3}, f.traffic->stats().dead_letters);

  // An empty birth is a cleared retained message: ignored, neither accepted nor dead-lettered.
  f.traffic->handle(kBirth, "");
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{3}, f.traffic->stats().dead_letters);

  // An empty cmd-res is a valid (empty) protobuf CommandResult: accepted as contact, it carries no
  // request id and so answers no command.
  int results = 0;
  std::string request_id = "unset";
  f.traffic->on_command_result([&](const xrm::registry::Device&, const xrm::v1::CommandResult& r) {
    ++results;
    request_id = r.request_id();
  });
  f.traffic->handle(kCmdRes, "");
  CHECK_EQUAL(1, results);
  CHECK(request_id.empty());
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{3}, f.traffic->stats().dead_letters);
  CHECK_EQUAL(std::size_t{0}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
}

TEST(DeviceTraffic, HostileTelemetryIsDeadLetteredWithItsReasonAndTheNextMessageIsAccepted) {
  TrafficFixture f;
  f.add("pump-1");
  int calls = 0;
  f.traffic->on_telemetry([&](const xrm::registry::Device&, const xrm::ingest::TelemetrySample&, std::int64_t,
                              const DeviceIngest&) { ++calls; });
  const std::pair<std::string, const char*> hostile[] = {
      {R"({"seq":1,"a":)" + std::string(5000, '[') + std::string(5000, ']') + "}", "nesting deeper than 8 levels"},
      {"{\"seq\":1,\"s\":\"\xc3\x28\"}", "not valid JSON at byte 14: Invalid encoding in string."},
      {"{\"seq\":1,\0\"a\":1}"s, "NUL byte in JSON at byte 9"},
      {R"({"seq":1,"a":1,"a":2})", "metric \"a\" appears twice"},
      {R"({"seq":1,"a":1e400})", "not valid JSON at byte 13: Number too big to be stored in double."},
      {R"({"seq":-1,"a":1})", "seq must be an integer from 0 to 4294967295"},
      {"\x08\x01\x1a\xff\xff\xff\xff\x0f"s, "neither JSON nor a protobuf Telemetry"},
  };
  for (const auto& [payload, reason] : hostile) f.traffic->handle(kTele, payload);
  auto rows = f.dead_letters();
  CHECK_EQUAL(std::size(hostile), rows.size());
  for (std::size_t i = 0; i < std::size(hostile); ++i) {
    const auto& row = rows[std::size(hostile) - 1 - i];  // newest first
    STRCMP_EQUAL(hostile[i].second, row.reason.c_str());
    CHECK_EQUAL(std::uint64_t{hostile[i].first.size()}, row.size);
  }
  CHECK_EQUAL(0, calls);
  CHECK_EQUAL(std::uint64_t{std::size(hostile)}, f.ingest("pump-1").dead_letters);
  CHECK_EQUAL(std::uint64_t{0}, f.ingest("pump-1").telemetry.counters().received);
  CHECK_FALSE(f.dev("pump-1").last_seen_ms.has_value());

  f.traffic->handle(kTele, R"({"seq":2,"temp":20})");
  CHECK_EQUAL(1, calls);
  CHECK_EQUAL(std::uint64_t{1}, f.traffic->stats().accepted);
}

TEST(DeviceTraffic, ReplayedTelemetryIsCountedAsADuplicateAndStillHandedOn) {
  TrafficFixture f;
  f.add("pump-1");
  int calls = 0;
  f.traffic->on_telemetry([&](const xrm::registry::Device&, const xrm::ingest::TelemetrySample&, std::int64_t,
                              const DeviceIngest&) { ++calls; });
  f.traffic->handle(kTele, R"({"seq":5,"temp":20})");
  f.traffic->handle(kTele, R"({"seq":5,"temp":21})");  // the same number again (a replay)
  f.traffic->handle(kTele, R"({"seq":3,"temp":19})");  // an older one, within 64: late
  f.traffic->handle(kTele, R"({"seq":3,"temp":19})");  // and again: a duplicate
  const auto& c = f.ingest("pump-1").telemetry.counters();
  CHECK_EQUAL(std::uint64_t{4}, c.received);
  CHECK_EQUAL(std::uint64_t{2}, c.duplicates);
  CHECK_EQUAL(std::uint64_t{1}, c.late);
  CHECK_EQUAL(std::uint64_t{0}, c.missed);
  CHECK_EQUAL(std::uint64_t{0}, c.resets);
  // Telemetry is at most once and not de-duplicated: every copy is accepted and handed on.
  CHECK_EQUAL(4, calls);
  CHECK_EQUAL(std::uint64_t{4}, f.traffic->stats().accepted);
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().dead_letters);
  DOUBLES_EQUAL(19, f.ingest("pump-1").readings[0].second, 0);
  // A jump back beyond the window is a reset (a reboot), not four billion missed numbers.
  f.traffic->handle(kTele, R"({"seq":100000,"temp":20})");
  f.traffic->handle(kTele, R"({"seq":1,"temp":20})");
  CHECK_EQUAL(std::uint64_t{1}, c.resets);
  CHECK_EQUAL(std::uint64_t{99994}, c.missed);
}

TEST(DeviceTraffic, OversizeEventAndCommandResultAreDeadLettersNamingTheLimit) {
  xrm::ingest::DecodeLimits limits;
  limits.max_payload = 32;
  TrafficFixture f(limits);
  f.add("pump-1");
  const std::string event = event_json(1, 1763900000000);  // 54 bytes
  CHECK(event.size() > limits.max_payload);
  const std::uint64_t id = f.journal->append(kEvt, event);
  f.traffic->handle(kEvt, event, id);
  const std::string result = R"({"request_id":"R-1","status":"ok","message":"done"})";
  f.traffic->handle(kCmdRes, result);
  auto rows = f.dead_letters();  // newest first
  CHECK_EQUAL(std::size_t{2}, rows.size());
  STRCMP_EQUAL("cmd-res payload larger than ingest.max_payload", rows[0].reason.c_str());
  STRCMP_EQUAL(("payload of " + std::to_string(event.size()) + " bytes exceeds ingest.max_payload (32)").c_str(),
               rows[1].reason.c_str());
  CHECK_EQUAL(std::uint64_t{event.size()}, rows[1].size);
  CHECK(rows[1].head == event.substr(0, xrm::ingest::DeadLetters::kHeadBytes));
  CHECK_EQUAL(std::size_t{0}, f.records(xrm::v1::RECORD_KIND_EVENT).size());
  CHECK_EQUAL(std::size_t{0}, f.journal_rows());  // dead-lettered is handled: the journal entry goes
  CHECK_EQUAL(std::uint64_t{0}, f.traffic->stats().accepted);
}
