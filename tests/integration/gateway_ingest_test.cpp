// Ingest end to end: devices with their own credentials publish telemetry and service events to a
// real Mosquitto with dynamic security; the real daemon decodes them, tracks their sequence
// numbers, keeps what it cannot use in the dead-letter table, and records events durably, so an
// event a device saw acknowledged survives a kill -9 of the gateway right after the PUBACK.
#include <CppUTest/TestHarness.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/device_client.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/temp_dir.hpp"
#include "xrm/testing/xrmctl.hpp"
#include "gateway_rig.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::CtlResult;
using xrm::testing::DeviceClient;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::GatewayUnderTest;
using xrm::testing::guarded;
using xrm::testing::Mosquitto;
using xrm::testing::poll_until;

constexpr auto kWait = 5s;

// The event records in the gateway's outbox, read straight from its SQLite file (the daemon is
// not running, or at least not asked): kind EVENT, decoded.
std::vector<xrm::v1::InteractionRecord> outbox_events(const std::string& data_dir) {
  std::vector<xrm::v1::InteractionRecord> out;
  sqlite3* db = nullptr;
  const std::string path = data_dir + "/gateway.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    FAIL(("cannot open " + path).c_str());
  }
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT record FROM outbox ORDER BY seq;", -1, &stmt, nullptr);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    xrm::v1::InteractionRecord rec;
    CHECK(rec.ParseFromArray(sqlite3_column_blob(stmt, 0), sqlite3_column_bytes(stmt, 0)));
    if (rec.kind() == xrm::v1::RECORD_KIND_EVENT) out.push_back(std::move(rec));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

}  // namespace

TEST_GROUP(Ingest) {
  GatewayRig rig;
  std::unique_ptr<Mosquitto>& local = rig.local;
  std::unique_ptr<GatewayUnderTest>& gateway = rig.gateway;

  void start(const std::string& extra_toml = "") {
    guarded([&] {
      GatewaySettings s;
      s.gateway_id = "gw-ingest";
      s.log_level = "info";
      s.extra_toml = extra_toml;
      // The central broker is not started: records stay in the outbox, where these tests read
      // them (with it, the uplink would send and delete them; gateway_uplink_test.cpp covers that).
      rig.start(s, true, false, kWait);
    });
  }

  CtlResult ctl(const std::vector<std::string>& args) { return rig.ctl(args); }
  json ctl_json(const std::vector<std::string>& args) { return rig.ctl_json(args); }
  // Provisions DEVICE and connects a client with the printed credentials.
  std::unique_ptr<DeviceClient> device(const std::string& id) {
    json cred = ctl_json({"provision", id, "--class", "chiller"});
    auto dev = std::make_unique<DeviceClient>(local->url(), id);
    STRCMP_EQUAL_TEXT("", dev->connect(id, cred["password"].get<std::string>()).c_str(), "credentials refused");
    return dev;
  }
  bool wait_json(std::vector<std::string> args, const std::function<bool(const json&)>& pred) {
    return poll_until([&] { return pred(ctl_json(args)); }, kWait, 50ms);
  }
};

TEST(Ingest, TelemetryAndEventsFlowWithSequenceAccounting) {
  start();
  auto dev = device("chiller-1");
  // 1 2 3, then 5 (4 missed), 5 again (duplicate), 4 (late: fills the gap), then 7 (6 missed).
  for (const char* seq : {"1", "2", "3", "5", "5", "4", "7"}) {
    CHECK(dev->publish("xrm/v1/dev/chiller-1/tele",
                       std::string(R"({"seq":)") + seq + R"(,"ts":1763900000000,"temp_c":4.)" + seq + R"(,"door":true,"fw":"x"})",
                       0));
  }
  CHECK(dev->publish("xrm/v1/dev/chiller-1/evt",
                     R"({"seq":1,"ts":1763900000500,"type":"fault","code":"E42","note":"compressor","zone":"B"})"));
  CHECK(wait_json({"show", "chiller-1"}, [](const json& j) {
    return j["counters"].contains("telemetry") && j["counters"]["telemetry"]["received"] == 7 &&
           j["recent_events"].size() == 1;
  }));
  json s = ctl_json({"show", "chiller-1"});
  const json& t = s["counters"]["telemetry"];
  CHECK_EQUAL(1, t["missed"].get<int>());  // 6; 4 came late
  CHECK_EQUAL(1, t["duplicates"].get<int>());
  CHECK_EQUAL(1, t["late"].get<int>());
  CHECK_EQUAL(0, t["resets"].get<int>());
  // The latest reading of each metric (the late 4 and duplicate 5 were handled after 5: arrival order).
  DOUBLES_EQUAL(4.7, s["readings"]["temp_c"].get<double>(), 1e-9);
  DOUBLES_EQUAL(1.0, s["readings"]["door"].get<double>(), 1e-9);
  CHECK_FALSE(s["readings"].contains("fw"));
  CHECK_EQUAL(7, s["counters"]["ignored_fields"].get<int>());  // "fw" in each of the seven
  const json& e = s["recent_events"][0];
  STRCMP_EQUAL("fault", e["type"].get<std::string>().c_str());
  STRCMP_EQUAL("E42", e["code"].get<std::string>().c_str());
  STRCMP_EQUAL("B", e["zone"].get<std::string>().c_str());
  STRCMP_EQUAL("active", s["lifecycle"].get<std::string>().c_str());

  json st = ctl_json({"status"});
  CHECK_EQUAL(1, st["ingest"]["events"].get<int>());
  CHECK_EQUAL(7, st["ingest"]["telemetry"].get<int>());
  CHECK_EQUAL(0, st["ingest"]["dead_letters"]["since_start"].get<int>());
  DOUBLES_EQUAL(1.0 / 7.0, st["ingest"]["telemetry_sequence"]["missed_share"].get<double>(), 1e-9);

  // The event went to the outbox as an EVENT record with the device's stakeholders.
  gateway->terminate();
  auto events = outbox_events(gateway->data_dir());
  CHECK_EQUAL(1u, events.size());
  STRCMP_EQUAL("chiller-1", events[0].device_id().c_str());
  STRCMP_EQUAL("E42", events[0].event().event().code().c_str());
  CHECK_EQUAL(1763900000500u, events[0].span_start_ms());
  STRCMP_EQUAL("B", events[0].event().event().attributes().at("zone").c_str());
}

TEST(Ingest, DuplicateEventIsRecordedOnce) {
  start();
  auto dev = device("chiller-2");
  const std::string evt = R"({"seq":9,"ts":1763900000000,"type":"service_request","request_id":"R-1"})";
  CHECK(dev->publish("xrm/v1/dev/chiller-2/evt", evt));
  CHECK(dev->publish("xrm/v1/dev/chiller-2/evt", evt));
  CHECK(wait_json({"status"}, [](const json& j) { return j["ingest"]["duplicate_events"] == 1; }));
  CHECK_EQUAL(1, ctl_json({"status"})["ingest"]["events"].get<int>());
}

TEST(Ingest, MalformedMessagesGoToABoundedDeadLetterTableAndThePipelineGoesOn) {
  start("[ingest]\nmax_payload = \"1KiB\"\ndead_letters = 3\n");
  auto dev = device("meter-1");
  const std::string topic = "xrm/v1/dev/meter-1/tele";
  CHECK(dev->publish(topic, std::string("\xff\x01\x02garbage", 10)));              // not JSON, not protobuf
  CHECK(dev->publish(topic, R"({"ts":1,"kwh":3})"));                               // seq missing
  CHECK(dev->publish(topic, R"({"seq":1,"kwh":NaN})"));                            // not JSON
  const std::string big_payload = "{\"seq\":2,\"blob\":\"" + std::string(1100, 'a') + "\"}";
  CHECK(dev->publish(topic, big_payload));  // over 1 KiB
  CHECK(dev->publish("xrm/v1/dev/meter-1/evt", R"({"seq":1,"type":"satisfaction"})"));    // no score
  CHECK(dev->publish(topic, R"({"seq":3,"kwh":12.5})"));                            // good, after all that
  CHECK(wait_json({"status"}, [](const json& j) { return j["ingest"]["dead_letters"]["stored"] == 3; }));
  json st = ctl_json({"status"});
  CHECK_EQUAL(5, st["ingest"]["dead_letters"]["since_start"].get<int>());
  CHECK_EQUAL(2, st["ingest"]["dead_letters"]["deleted"].get<int>());  // the two oldest
  CHECK_EQUAL(1, st["ingest"]["telemetry"].get<int>());
  DOUBLES_EQUAL(12.5, ctl_json({"show", "meter-1"})["readings"]["kwh"].get<double>(), 1e-9);

  json dl = ctl_json({"dead-letters"});
  CHECK_EQUAL(3u, dl["dead_letters"].size());
  // Newest first: the satisfaction event, the over-size payload, NaN.
  const json& newest = dl["dead_letters"][0];
  STRCMP_EQUAL("xrm/v1/dev/meter-1/evt", newest["topic"].get<std::string>().c_str());
  CHECK_TEXT(newest["reason"].get<std::string>().find("score") != std::string::npos, newest.dump().c_str());
  const json& big = dl["dead_letters"][1];
  CHECK_TEXT(big["reason"].get<std::string>().find("ingest.max_payload") != std::string::npos, big.dump().c_str());
  CHECK_EQUAL(big_payload.size(), big["size"].get<std::size_t>());
  CHECK_EQUAL(128u, big["head_hex"].get<std::string>().size());  // the first 64 bytes
  CHECK_EQUAL(5, ctl_json({"show", "meter-1"})["counters"]["dead_letters"].get<int>());
}

TEST(Ingest, AnAcknowledgedEventSurvivesKill9RightAfterItsPuback) {
  start();
  auto dev = device("pump-9");
  // The device's PUBACK comes from the broker, which then owes the event to the gateway's
  // persistent session until the gateway acknowledges it. The gateway holds that PUBACK until the
  // event is committed, so whenever it dies, the event is either in its outbox or still at the
  // broker, which delivers it again after the restart. Each round: a burst of telemetry the
  // gateway must work through (the event waits behind it), the event at QoS 1, kill -9 as soon as
  // the device has its PUBACK, restart: the event must end up in the outbox exactly once.
  constexpr int kRounds = 5;
  for (int round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < 2000; ++i) {
      dev->publish("xrm/v1/dev/pump-9/tele", R"({"seq":)" + std::to_string(round * 10000 + i) + R"(,"temp_c":1.5})", 0);
    }
    const std::string evt = R"({"seq":)" + std::to_string(round) + R"(,"ts":1763900000000,"type":"fault","code":"K)" +
                            std::to_string(round) + R"("})";
    CHECK(dev->publish("xrm/v1/dev/pump-9/evt", evt, 1, false, 10s));
    gateway->kill9();
    gateway->start();
    const bool arrived = poll_until(
        [&] { return outbox_events(gateway->data_dir()).size() == static_cast<std::size_t>(round); }, kWait, 50ms);
    auto events = outbox_events(gateway->data_dir());
    CHECK_EQUAL_TEXT(static_cast<std::size_t>(round), events.size(),
                     ("round " + std::to_string(round) + (arrived ? "" : ": not within 5 s")).c_str());
    STRCMP_EQUAL(("K" + std::to_string(round)).c_str(), events.back().event().event().code().c_str());
  }
}
