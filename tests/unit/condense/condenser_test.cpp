// The condenser with a fake clock over a real outbox: wall-clock windows, per-metric figures,
// sequence deltas, the score at the window's end, windows of silent devices, and the flush at
// shutdown.
#include <CppUTest/TestHarness.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "xrm/condense/condenser.hpp"
#include "xrm/testing/store_fixture.hpp"

using namespace std::chrono_literals;
using xrm::condense::Condenser;

namespace {

struct Fixture : xrm::testing::StoreFixture {
  std::unique_ptr<Condenser> condenser;
  xrm::ingest::DeviceIngest ingest;
  std::uint32_t seq = 0;

  Fixture() : StoreFixture("condense") {
    // Start exactly on a minute, like the wall clock's windows.
    clock.set_wall(std::chrono::system_clock::time_point{std::chrono::milliseconds{1'800'000'000'000 - 1'800'000'000'000 % 60'000}});
    condenser = std::make_unique<Condenser>(*db, *outbox, clock, 60s);
    condenser->set_score_fn([](std::string_view) -> std::optional<std::pair<double, xrm::v1::HealthBand>> {
      return std::make_pair(72.5, xrm::v1::HEALTH_BAND_DEGRADED);
    });
    add_device("c-1");
  }
  ~Fixture() override { condenser.reset(); }

  const xrm::registry::Device& dev(const char* id = "c-1") { return *registry->find(id); }

  // One telemetry message of `bytes` bytes with the next sequence number (skip: numbers missed).
  void tele(double temp, std::size_t bytes = 40, std::uint32_t skip = 0, const char* id = "c-1") {
    seq += 1 + skip;
    ingest.telemetry.note(seq);
    xrm::ingest::TelemetrySample s;
    s.seq = seq;
    s.bytes = bytes;
    s.metrics.push_back({"temp_c", temp});
    if (temp > 10) s.metrics.push_back({"alarm", 1});
    condenser->on_telemetry(dev(id), s, ingest);
  }
};

}  // namespace

TEST_GROUP(Condenser){};

TEST(Condenser, OneSummaryPerDeviceAndWindowWithEveryFigure) {
  Fixture f;
  f.tele(4.0);
  f.clock.advance(10s);
  f.tele(6.0, 60, 2);  // two numbers missed
  f.clock.advance(10s);
  f.tele(11.0);
  CHECK(f.condenser->tick().is_ok());
  CHECK_EQUAL(0u, f.records(xrm::v1::RECORD_KIND_SUMMARY).size());  // the window is still open
  f.clock.advance(41s);  // past the minute
  CHECK(f.condenser->tick().is_ok());
  const auto recs = f.records(xrm::v1::RECORD_KIND_SUMMARY);
  CHECK_EQUAL(1u, recs.size());
  const auto& r = recs[0];
  STRCMP_EQUAL("c-1", r.device_id().c_str());
  STRCMP_EQUAL("tom", r.stakeholders().technician().c_str());
  CHECK_EQUAL(60'000u, r.span_end_ms() - r.span_start_ms());
  CHECK_EQUAL(0u, r.span_start_ms() % 60'000);
  const auto& s = r.summary();
  CHECK_EQUAL(60'000u, s.window_ms());
  CHECK_EQUAL(3u, s.messages());
  CHECK_EQUAL(140u, s.bytes());
  CHECK_EQUAL(2u, s.missed());
  CHECK_EQUAL(1u, s.gaps());
  CHECK_EQUAL(1u, s.first_device_seq());
  CHECK_EQUAL(5u, s.last_device_seq());
  DOUBLES_EQUAL(72.5, s.score(), 1e-9);
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_DEGRADED, s.band());
  CHECK_EQUAL(2, s.metrics_size());
  const auto& t = s.metrics(0);
  STRCMP_EQUAL("temp_c", t.name().c_str());
  CHECK_EQUAL(3u, t.count());
  DOUBLES_EQUAL(4.0, t.min(), 1e-9);
  DOUBLES_EQUAL(11.0, t.max(), 1e-9);
  DOUBLES_EQUAL(7.0, t.mean(), 1e-9);
  DOUBLES_EQUAL(11.0, t.last(), 1e-9);
  STRCMP_EQUAL("alarm", s.metrics(1).name().c_str());
  CHECK_EQUAL(1u, s.metrics(1).count());
  CHECK_EQUAL(1u, f.condenser->stats().summaries);
  CHECK_EQUAL(0u, f.condenser->stats().windows_open);
}

TEST(Condenser, AMessageInTheNextWindowClosesTheLastOne) {
  Fixture f;
  f.tele(4.0);
  f.clock.advance(61s);
  f.tele(5.0);  // next minute: the first window ends here, written at the tick
  f.tele(5.5);
  CHECK(f.condenser->tick().is_ok());
  auto recs = f.records(xrm::v1::RECORD_KIND_SUMMARY);
  CHECK_EQUAL(1u, recs.size());
  CHECK_EQUAL(1u, recs[0].summary().messages());
  f.clock.advance(60s);
  CHECK(f.condenser->tick().is_ok());
  recs = f.records(xrm::v1::RECORD_KIND_SUMMARY);
  CHECK_EQUAL(2u, recs.size());
  CHECK_EQUAL(2u, recs[1].summary().messages());
  CHECK_EQUAL(recs[0].span_end_ms(), recs[1].span_start_ms());
  CHECK(recs[1].seq() > recs[0].seq());
}

TEST(Condenser, NoTelemetryNoSummaryAndShutdownFlushesOpenWindows) {
  Fixture f;
  f.add_device("c-2");
  f.clock.advance(120s);
  CHECK(f.condenser->tick().is_ok());
  CHECK_EQUAL(0u, f.records(xrm::v1::RECORD_KIND_SUMMARY).size());
  f.clock.advance(5s);
  f.tele(3.0);
  f.tele(3.5, 40, 0, "c-2");
  f.clock.advance(10s);
  CHECK(f.condenser->flush_all().is_ok());
  const auto recs = f.records(xrm::v1::RECORD_KIND_SUMMARY);
  CHECK_EQUAL(2u, recs.size());
  for (const auto& r : recs) CHECK_EQUAL(15'000u, r.span_end_ms() - r.span_start_ms());  // cut at the flush
}

TEST(Condenser, AWallClockSteppingBackDoesNotReopenAnEndedWindow) {
  Fixture f;
  f.tele(4.0);
  f.clock.advance(61s);
  CHECK(f.condenser->tick().is_ok());
  CHECK_EQUAL(1u, f.records(xrm::v1::RECORD_KIND_SUMMARY).size());
  f.clock.set_wall(f.clock.system_now() - std::chrono::minutes(10));
  f.tele(5.0);
  f.tele(6.0);
  CHECK(f.condenser->tick().is_ok());
  CHECK_EQUAL(1u, f.records(xrm::v1::RECORD_KIND_SUMMARY).size());  // still the current minute's window
  f.clock.set_wall(f.clock.system_now() + std::chrono::minutes(11));
  CHECK(f.condenser->tick().is_ok());
  const auto recs = f.records(xrm::v1::RECORD_KIND_SUMMARY);
  CHECK_EQUAL(2u, recs.size());
  CHECK_EQUAL(2u, recs[1].summary().messages());
  CHECK(recs[1].span_start_ms() > recs[0].span_start_ms());
}

TEST(Condenser, MetricsPerWindowAreBounded) {
  Fixture f;
  xrm::ingest::TelemetrySample s;
  s.seq = 1;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < Condenser::kMaxMetrics + 5; ++i) names.push_back("m" + std::to_string(i));
  for (const auto& n : names) s.metrics.push_back({n, 1.0});
  f.ingest.telemetry.note(1);
  f.condenser->on_telemetry(f.dev(), s, f.ingest);
  CHECK_EQUAL(5u, f.condenser->stats().metrics_dropped);
  CHECK(f.condenser->flush_all().is_ok());
  CHECK_EQUAL(static_cast<int>(Condenser::kMaxMetrics), f.records(xrm::v1::RECORD_KIND_SUMMARY).at(0).summary().metrics_size());
}

TEST(Condenser, RatioCountersOfTheOutbox) {
  Fixture f;
  const std::uint64_t before = f.outbox->appended_records();  // the provisioning's lifecycle record
  for (int i = 0; i < 30; ++i) {
    f.tele(4.0);
    f.clock.advance(2s);
  }
  f.clock.advance(1s);
  CHECK(f.condenser->tick().is_ok());
  CHECK_EQUAL(before + 1, f.outbox->appended_records());
  CHECK(f.outbox->appended_bytes() > 0);
}

TEST(Condenser, AFleetsEndedWindowsAreWrittenAFewPerTickOldestFirst) {
  Fixture f;
  f.add_device("c-2");
  f.add_device("c-3");
  f.tele(4.0, 40, 0, "c-1");
  f.tele(5.0, 40, 0, "c-2");
  f.tele(6.0, 40, 0, "c-3");
  f.clock.advance(61s);  // all three windows end at the same moment
  CHECK(f.condenser->tick(2).is_ok());
  CHECK_EQUAL(2u, f.records(xrm::v1::RECORD_KIND_SUMMARY).size());
  CHECK_EQUAL(1u, f.condenser->stats().windows_ended);  // the third waits, not lost
  CHECK_EQUAL(0u, f.condenser->stats().windows_open);
  f.tele(7.0, 40, 0, "c-1");  // c-1's next window meanwhile
  f.clock.advance(1s);
  CHECK(f.condenser->tick(2).is_ok());
  const auto recs = f.records(xrm::v1::RECORD_KIND_SUMMARY);
  CHECK_EQUAL(3u, recs.size());
  CHECK_EQUAL(0u, f.condenser->stats().windows_ended);
  CHECK_EQUAL(1u, f.condenser->stats().windows_open);  // c-1's new window is still open
  std::set<std::string> devices;
  for (const auto& r : recs) {
    devices.insert(r.device_id());
    CHECK_EQUAL(recs[0].span_start_ms(), r.span_start_ms());  // the first minute's windows only
  }
  CHECK_EQUAL(3u, devices.size());
  CHECK_EQUAL(3u, f.condenser->stats().summaries);
}
