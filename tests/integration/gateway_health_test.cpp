// Health end to end: a device's temperature rises past a threshold rule's limit; once the rule's
// `for` has passed, the real daemon opens an alert that reaches a real upstream Mosquitto as an
// `alert` record naming the rule and the device's technician, owner and site; `xrmctl show`
// explains the score; when the device cools down a clearing record follows. Open alerts survive a
// restart without firing again, and rules reload atomically (a bad file changes nothing).
#include <CppUTest/TestHarness.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/device_client.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/subscriber.hpp"
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
using xrm::testing::Subscriber;

constexpr auto kWait = 5s;
constexpr const char* kGatewayId = "gw-health";
constexpr const char* kDevice = "chiller-7";

// A chiller reporting every second; overheating for 2 s takes 40 points: degraded, which asks for
// an alert. No dwell, so the alert follows the rule's `for` directly.
constexpr const char* kProfiles = R"([[profile]]
class = "chiller"
expected_interval = "1s"
offline_after = "30s"
dwell = "0s"
hysteresis = 5
escalate = { degraded = "alert", critical = "service_request" }

[[profile.rule]]
name = "overheat"
when = "max(temp_c, 2s) > 8"
for = "2s"
penalty = 40
)";

// The alert records that arrived on rec/alert, in order.
std::vector<xrm::v1::InteractionRecord> alert_records(const Subscriber& sub) {
  std::vector<xrm::v1::InteractionRecord> out;
  for (const auto& m : sub.seen()) {
    if (m->get_topic() != std::string("xrm/v1/gw/") + kGatewayId + "/rec/alert") continue;
    xrm::v1::RecordBatch batch;
    CHECK_TEXT(batch.ParseFromString(m->get_payload()), "rec/alert payload is not a RecordBatch");
    for (const auto& r : batch.records()) out.push_back(r);
  }
  return out;
}

bool is_alert(const mqtt::message& m, xrm::v1::AlertState state) {
  if (m.get_topic() != std::string("xrm/v1/gw/") + kGatewayId + "/rec/alert") return false;
  xrm::v1::RecordBatch batch;
  if (!batch.ParseFromString(m.get_payload())) return false;
  for (const auto& r : batch.records()) {
    if (r.has_alert() && r.alert().state() == state) return true;
  }
  return false;
}

}  // namespace

TEST_GROUP(Health) {
  GatewayRig rig;
  std::unique_ptr<Mosquitto>& upstream = rig.upstream;
  std::unique_ptr<Mosquitto>& local = rig.local;
  std::unique_ptr<GatewayUnderTest>& gateway = rig.gateway;
  std::unique_ptr<Subscriber> central;
  std::unique_ptr<DeviceClient> dev;

  void start() {
    guarded([&] {
      GatewaySettings s;
      s.gateway_id = kGatewayId;
      s.log_level = "info";
      s.profiles_toml = kProfiles;
      rig.start(s, false);
      central = std::make_unique<Subscriber>(upstream->url());
      central->subscribe(std::string("xrm/v1/gw/") + kGatewayId + "/#");
      gateway->start();
      CHECK_TEXT(gateway->wait_for_log("local: connected", kWait), "gateway did not connect to the local broker");
      json cred = ctl_json({"provision", kDevice, "--class", "chiller", "--owner", "acme-foods", "--site",
                            "plant-a", "--technician", "tech-ana", "--supplier", "coolco"});
      dev = std::make_unique<DeviceClient>(local->url(), kDevice);
      STRCMP_EQUAL_TEXT("", dev->connect(kDevice, cred["password"].get<std::string>()).c_str(), "credentials refused");
    });
  }
  void teardown() override {
    dev.reset();
    central.reset();
  }

  CtlResult ctl(const std::vector<std::string>& args) { return rig.ctl(args); }
  json ctl_json(const std::vector<std::string>& args) { return rig.ctl_json(args); }

  std::atomic<int> seq{0};
  bool send(double temp_c) {
    return dev->publish(std::string("xrm/v1/dev/") + kDevice + "/tele",
                        "{\"seq\":" + std::to_string(++seq) + ",\"temp_c\":" + std::to_string(temp_c) + "}", 0);
  }
  // Telemetry every 200 ms for `how_long`, temp_c as given.
  void report(double temp_c, std::chrono::milliseconds how_long) {
    const auto end = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < end) {
      CHECK(send(temp_c));
      std::this_thread::sleep_for(200ms);
    }
  }
  // Keeps the device reporting temp_c every 200 ms from another thread while the test looks at
  // the gateway (xrmctl under the sanitizers can take longer than the rule's 2 s window, and a
  // silent device would recover on its own meanwhile). Stops when it goes.
  struct KeepReporting {
    KeepReporting(TEST_GROUP_CppUTestGroupHealth& g, double temp_c)
        : thread([this, &g, temp_c] {
            while (!stop) {
              g.send(temp_c);
              std::this_thread::sleep_for(200ms);
            }
          }) {}
    ~KeepReporting() {
      stop = true;
      thread.join();
    }
    std::atomic<bool> stop{false};
    std::thread thread;
  };

  // Reports temp_c until the subscriber sees an alert record in `state`, at most `timeout`.
  // Returns how long it took.
  std::chrono::milliseconds report_until_alert(double temp_c, xrm::v1::AlertState state,
                                               std::chrono::milliseconds timeout) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      report(temp_c, 200ms);
      bool seen = false;
      for (const auto& m : central->seen()) seen = seen || is_alert(*m, state);
      if (!seen && central->wait_for([&](const mqtt::message& m) { return is_alert(m, state); }, 1ms)) seen = true;
      if (seen) break;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  }
};

TEST(Health, OverheatOpensAnAlertUpstreamAndCoolingClearsIt) {
  start();
  report(5.0, 1500ms);
  json cool = ctl_json({"show", kDevice});
  CHECK_TEXT(cool["score"].is_number(), cool.dump().c_str());
  STRCMP_EQUAL("healthy", cool["band"].get<std::string>().c_str());

  // Hot from now on: the rule holds at once, counts after its `for` (2 s); the alert must be
  // upstream within 2 s after that.
  const auto took = report_until_alert(12.0, xrm::v1::ALERT_STATE_OPENED, 8s);
  std::fprintf(stderr, "\nalert upstream %lld ms after the first hot reading (the rule's for: 2000 ms)\n",
               static_cast<long long>(took.count()));
  CHECK_TEXT(took <= 4s, ("alert took " + std::to_string(took.count()) + " ms after the first hot reading").c_str());
  auto alerts = alert_records(*central);
  CHECK_EQUAL_TEXT(1u, alerts.size(), central->describe_seen().c_str());
  const xrm::v1::InteractionRecord opened = alerts.at(0);
  STRCMP_EQUAL(kDevice, opened.device_id().c_str());
  STRCMP_EQUAL("tech-ana", opened.stakeholders().technician().c_str());
  STRCMP_EQUAL("acme-foods", opened.stakeholders().owner().c_str());
  STRCMP_EQUAL("plant-a", opened.stakeholders().site().c_str());
  STRCMP_EQUAL("coolco", opened.stakeholders().supplier().c_str());
  STRCMP_EQUAL("overheat", opened.alert().cause().c_str());
  STRCMP_CONTAINS("overheat", opened.alert().reason().c_str());
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_DEGRADED, opened.alert().band());
  CHECK_EQUAL(xrm::v1::ESCALATION_ACTION_ALERT, opened.alert().action());
  DOUBLES_EQUAL(60.0, opened.alert().score(), 0.5);
  STRCMP_EQUAL("overheat", opened.alert().factors(0).name().c_str());
  DOUBLES_EQUAL(40.0, opened.alert().factors(0).penalty(), 1e-9);

  // xrmctl show explains the score and lists the open alert (the device stays hot meanwhile).
  auto hot_meanwhile = std::make_unique<KeepReporting>(*this, 12.0);
  json hot = ctl_json({"show", kDevice});
  STRCMP_EQUAL("degraded", hot["band"].get<std::string>().c_str());
  STRCMP_EQUAL("overheat", hot["factors"][0]["name"].get<std::string>().c_str());
  STRCMP_CONTAINS("max(temp_c, 2s) = 12 > 8", hot["factors"][0]["why"].get<std::string>().c_str());
  CHECK_EQUAL(1u, hot["alerts"].size());
  STRCMP_EQUAL(opened.alert().alert_id().c_str(), hot["alerts"][0]["id"].get<std::string>().c_str());
  CtlResult text = ctl({"show", kDevice});
  STRCMP_CONTAINS("overheat", text.out.c_str());
  STRCMP_CONTAINS("-40", text.out.c_str());

  // A health record for the band change and the retained snapshot.
  CHECK(central->wait_for([](const mqtt::message& m) { return m.get_topic().find("/rec/health") != std::string::npos; }, kWait) ||
        [&] {
          for (const auto& m : central->seen()) {
            if (m->get_topic().find("/rec/health") != std::string::npos) return true;
          }
          return false;
        }());
  Subscriber late(upstream->url());
  late.subscribe(std::string("xrm/v1/gw/") + kGatewayId + "/health/" + kDevice);
  auto snap_msg = late.wait_for([](const mqtt::message& m) { return m.is_retained(); }, kWait);
  CHECK_TEXT(snap_msg != nullptr, "no retained HealthSnapshot");
  xrm::v1::HealthSnapshot snap;
  CHECK(snap.ParseFromString(snap_msg->get_payload()));
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_DEGRADED, snap.band());
  STRCMP_EQUAL("tech-ana", snap.stakeholders().technician().c_str());

  // Cooling down clears it: a record with the same id, state CLEARED.
  hot_meanwhile.reset();
  report_until_alert(5.0, xrm::v1::ALERT_STATE_CLEARED, 10s);
  alerts = alert_records(*central);
  CHECK_EQUAL_TEXT(2u, alerts.size(), central->describe_seen().c_str());
  const auto& cleared = alerts.at(1);
  CHECK_EQUAL(xrm::v1::ALERT_STATE_CLEARED, cleared.alert().state());
  STRCMP_EQUAL(opened.alert().alert_id().c_str(), cleared.alert().alert_id().c_str());
  CHECK(cleared.alert().has_cleared_at_ms());
  CHECK(cleared.seq() > opened.seq());
  json after = ctl_json({"show", kDevice});
  STRCMP_EQUAL("healthy", after["band"].get<std::string>().c_str());
  CHECK_EQUAL(0u, after["alerts"].size());
}

TEST(Health, AnOpenAlertSurvivesARestartWithoutFiringAgain) {
  start();
  report(5.0, 1s);
  report_until_alert(12.0, xrm::v1::ALERT_STATE_OPENED, 8s);
  CHECK_EQUAL_TEXT(1u, alert_records(*central).size(), central->describe_seen().c_str());
  const std::string id = alert_records(*central).at(0).alert().alert_id();

  CHECK(gateway->terminate().value_or(-1) == 0);
  gateway->start();
  CHECK(gateway->wait_for_log("local: connected", kWait));
  json shown = ctl_json({"show", kDevice});
  CHECK_EQUAL_TEXT(1u, shown["alerts"].size(), shown.dump().c_str());
  STRCMP_EQUAL(id.c_str(), shown["alerts"][0]["id"].get<std::string>().c_str());
  STRCMP_EQUAL("degraded", shown["band"].get<std::string>().c_str());

  // Still hot after the restart: no second alert.
  report(12.0, 3s);
  for (const auto& r : alert_records(*central)) STRCMP_EQUAL(id.c_str(), r.alert().alert_id().c_str());
  CHECK_EQUAL_TEXT(1u, alert_records(*central).size(), central->describe_seen().c_str());

  report_until_alert(5.0, xrm::v1::ALERT_STATE_CLEARED, 10s);
  const auto all = alert_records(*central);
  CHECK_EQUAL(2u, all.size());
  STRCMP_EQUAL(id.c_str(), all.at(1).alert().alert_id().c_str());
  CHECK_EQUAL(xrm::v1::ALERT_STATE_CLEARED, all.at(1).alert().state());
}

TEST(Health, RulesCheckAndReloadRefuseABadFileAndKeepTheRunningRules) {
  start();
  report(5.0, 600ms);
  {
    std::ofstream(gateway->profiles_file()) << kProfiles << "\n[[profile.rule]]\nname = \"cold\"\nwhen = \"avg(temp_c 1m) < 1\"\n";
  }
  CtlResult check = ctl({"rules", "check", gateway->profiles_file()});
  CHECK_EQUAL_TEXT(2, check.exit_code, check.describe().c_str());
  STRCMP_CONTAINS((gateway->profiles_file() + ":17:profile[chiller].rule[cold].when: column 12").c_str(), check.err.c_str());

  CtlResult reload = ctl({"rules", "reload"});
  CHECK_EQUAL_TEXT(2, reload.exit_code, reload.describe().c_str());
  STRCMP_CONTAINS(":17:profile[chiller].rule[cold].when", reload.err.c_str());
  json shown = ctl_json({"show", kDevice});
  bool has_cold = false;
  for (const auto& f : shown["factors"]) has_cold = has_cold || f["name"] == "cold";
  CHECK_FALSE(has_cold);

  {
    std::ofstream(gateway->profiles_file()) << kProfiles << "\n[[profile.rule]]\nname = \"cold\"\nwhen = \"avg(temp_c, 1m) < 6\"\npenalty = 25\n";
  }
  CtlResult ok = ctl({"rules", "check", gateway->profiles_file()});
  CHECK_EQUAL_TEXT(0, ok.exit_code, ok.describe().c_str());
  STRCMP_CONTAINS("ok, 1 class, 2 rules", ok.out.c_str());
  CtlResult applied = ctl({"rules", "reload"});
  CHECK_EQUAL_TEXT(0, applied.exit_code, applied.describe().c_str());
  STRCMP_CONTAINS("rules reloaded", applied.out.c_str());
  // The new rule judges the device at its next reading (its readings are 5 < 6).
  report(5.0, 600ms);
  CHECK(poll_until(
      [&] {
        const json shown_now = ctl_json({"show", kDevice});
        for (const auto& f : shown_now["factors"]) {
          if (f["name"] == "cold" && f["penalty"].get<double>() == 25) return true;
        }
        return false;
      },
      kWait, 100ms));

  // SIGHUP does the same: a bad file is refused (the running rules stay), a good one swaps in.
  {
    std::ofstream(gateway->profiles_file()) << kProfiles << "\n[[profile.rule]]\nname = \"cold\"\npenalty = 500\n";
  }
  gateway->signal(SIGHUP);
  CHECK_TEXT(gateway->wait_for_log("keeping the running configuration", kWait), "bad profiles accepted on SIGHUP");
  CHECK(gateway->log_contains(":17:profile[chiller].rule[cold].penalty: 500 is not between 0 and 100"));
  bool still_cold = false;
  const json kept = ctl_json({"show", kDevice});
  for (const auto& f : kept["factors"]) still_cold = still_cold || f["name"] == "cold";
  CHECK_TEXT(still_cold, "the running rules were dropped by a refused reload");
  {
    std::ofstream(gateway->profiles_file()) << kProfiles;
  }
  gateway->signal(SIGHUP);
  CHECK(poll_until(
      [&] {
        const json now = ctl_json({"show", kDevice});
        for (const auto& f : now["factors"]) {
          if (f["name"] == "cold") return false;
        }
        return true;
      },
      kWait, 100ms));
}
