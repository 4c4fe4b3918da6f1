// Live telemetry end to end: a device of a class whose profile has a `live` table reports through
// the real local broker; a subscriber on the real upstream Mosquitto sees Telemetry messages on
// xrm/v1/gw/{gateway}/tele/{device} (QoS 0, not retained) with only the selected metrics that
// moved, never more often than the profile's interval. A class without `live` sends nothing until
// a rules reload enables it; while the upstream is down messages are dropped and counted, never
// queued.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway_rig.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/device_client.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/subscriber.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::CtlResult;
using xrm::testing::DeviceClient;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::guarded;
using xrm::testing::Subscriber;

constexpr auto kWait = 5s;
constexpr const char* kGatewayId = "gw-live";

// chiller: live, at most one message a second, temp_c and door_open only. meter: no live table.
constexpr const char* kProfiles = R"([[profile]]
class = "chiller"
expected_interval = "1s"

[profile.live]
interval = "1s"
metrics = ["temp_c", "door_open"]
deadband = { temp_c = 0.5 }

[[profile]]
class = "meter"
expected_interval = "1s"
)";

std::string tele_topic(const std::string& device) { return std::string("xrm/v1/gw/") + kGatewayId + "/tele/" + device; }

struct Live {
  std::string device;
  bool retained = false;
  int qos = -1;
  xrm::v1::Telemetry msg;
};

// The live messages the subscriber has consumed, decoded; fails the test on a payload that is not
// a Telemetry.
std::vector<Live> live_messages(const Subscriber& sub) {
  const std::string prefix = std::string("xrm/v1/gw/") + kGatewayId + "/tele/";
  std::vector<Live> out;
  for (const auto& m : sub.seen()) {
    if (m->get_topic().rfind(prefix, 0) != 0) continue;
    Live l;
    l.device = m->get_topic().substr(prefix.size());
    l.retained = m->is_retained();
    l.qos = m->get_qos();
    CHECK_TEXT(l.msg.ParseFromString(m->get_payload()), ("not a Telemetry on " + m->get_topic()).c_str());
    out.push_back(std::move(l));
  }
  return out;
}

std::string names_of(const xrm::v1::Telemetry& t) {
  std::string s;
  for (const auto& m : t.metrics()) s += (s.empty() ? "" : ",") + m.name();
  return s;
}

std::string describe(const std::vector<Live>& all) {
  std::string s;
  for (const auto& l : all) {
    s += l.device + " seq " + std::to_string(l.msg.seq()) + " ts " + std::to_string(l.msg.ts()) + " [" +
         names_of(l.msg) + "]\n";
  }
  return s.empty() ? "(no live messages)" : s;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_GROUP(Live) {
  GatewayRig rig;
  std::unique_ptr<Subscriber> central;
  std::vector<std::unique_ptr<DeviceClient>> devices;
  int seq = 0;

  void start() {
    guarded([&] {
      GatewaySettings s;
      s.gateway_id = kGatewayId;
      s.log_level = "info";
      s.profiles_toml = kProfiles;
      rig.start(s, false);
      subscribe_central();
      rig.gateway->start();
      CHECK_TEXT(rig.gateway->wait_for_log("local: connected", kWait), "gateway did not connect to the local broker");
      CHECK_TEXT(rig.gateway->wait_for_log("upstream: connected", kWait), "gateway did not connect upstream");
    });
  }
  void teardown() override {
    devices.clear();
    central.reset();
  }

  void subscribe_central() {
    central = std::make_unique<Subscriber>(rig.upstream->url());
    central->subscribe(std::string("xrm/v1/gw/") + kGatewayId + "/tele/#");
  }

  // Provisions and connects a device of `cls`.
  DeviceClient& device(const std::string& id, const std::string& cls) {
    json cred = rig.ctl_json({"provision", id, "--class", cls});
    devices.push_back(std::make_unique<DeviceClient>(rig.local->url(), id));
    STRCMP_EQUAL_TEXT("", devices.back()->connect(id, cred["password"].get<std::string>()).c_str(),
                      ("credentials of " + id + " refused").c_str());
    return *devices.back();
  }

  // One telemetry message (QoS 1, so it has reached the broker on return); returns its seq.
  int report(DeviceClient & dev, const std::string& id, const std::string& metrics) {
    ++seq;
    CHECK(dev.publish("xrm/v1/dev/" + id + "/tele", "{\"seq\":" + std::to_string(seq) + ",\"ts\":1000," + metrics + "}",
                      1));
    return seq;
  }

  // Everything that arrives within `d` (nothing expected to end the wait early).
  void collect(std::chrono::milliseconds d) {
    central->wait_for([](const mqtt::message&) { return false; }, d);
  }

  json live_status() { return rig.ctl_json({"status"})["live"]; }
};

TEST(Live, EnabledProfileForwardsMovedSelectedMetricsAtMostOncePerInterval) {
  start();
  DeviceClient& dev = device("chiller-1", "chiller");
  const std::int64_t start_ms = wall_ms();
  // 3.5 s of readings every 100 ms: temp_c moves by 1 each time, door_open and rpm never do.
  std::set<int> published;
  const auto end = std::chrono::steady_clock::now() + 3500ms;
  int i = 0;
  while (std::chrono::steady_clock::now() < end) {
    published.insert(report(dev, "chiller-1", "\"temp_c\":" + std::to_string(4 + i) + ",\"door_open\":0,\"rpm\":1450"));
    ++i;
    std::this_thread::sleep_for(100ms);  // pacing the device, not a wait for a result
  }
  collect(1500ms);
  const std::int64_t end_ms = wall_ms();
  const auto all = live_messages(*central);
  const std::string text = describe(all);

  // 3.5 s at one message per second: 3 or 4 (the first at once), of more than 30 readings.
  CHECK_TEXT(all.size() >= 3 && all.size() <= 4, text.c_str());
  for (std::size_t k = 0; k < all.size(); ++k) {
    const Live& l = all[k];
    STRCMP_EQUAL_TEXT("chiller-1", l.device.c_str(), text.c_str());
    CHECK_FALSE_TEXT(l.retained, "a live message arrived retained");
    CHECK_EQUAL_TEXT(0, l.qos, text.c_str());
    CHECK_TEXT(published.count(static_cast<int>(l.msg.seq())) == 1, ("seq not a reading's: " + text).c_str());
    // The gateway's time, not the device's ts of 1000.
    CHECK_TEXT(static_cast<std::int64_t>(l.msg.ts()) >= start_ms - 1000 &&
                   static_cast<std::int64_t>(l.msg.ts()) <= end_ms + 1000,
               text.c_str());
    // The first carries both selected metrics; later ones only what moved past its deadband.
    STRCMP_EQUAL_TEXT(k == 0 ? "temp_c,door_open" : "temp_c", names_of(l.msg).c_str(), text.c_str());
    if (k > 0) {
      CHECK_TEXT(l.msg.seq() > all[k - 1].msg.seq(), text.c_str());
      // Rate limit: the gateway's timestamps are at least the interval apart (a few ms of slack
      // for the wall clock against the steady clock the limit runs on).
      CHECK_TEXT(l.msg.ts() - all[k - 1].msg.ts() >= 990, text.c_str());
    }
  }

  const json live = live_status();
  CHECK_EQUAL_TEXT(all.size(), live["sent"].get<std::size_t>(), live.dump().c_str());
  CHECK_EQUAL_TEXT(1, live["enabled_classes"].get<int>(), live.dump().c_str());
  CHECK_EQUAL_TEXT(1, live["devices"].get<int>(), live.dump().c_str());
  CHECK_TEXT(live["suppressed_rate"].get<std::size_t>() + all.size() == published.size(), live.dump().c_str());
  CHECK_EQUAL_TEXT(0, live["dropped_offline"].get<int>(), live.dump().c_str());
  CtlResult text_status = rig.ctl({"status"});
  CHECK_EQUAL_TEXT(0, text_status.exit_code, text_status.describe().c_str());
  STRCMP_CONTAINS(("\nlive          sent " + std::to_string(all.size()) + ", rate-limited ").c_str(),
                  text_status.out.c_str());
}

TEST(Live, ProfileWithoutLiveSendsNothingUntilARulesReloadEnablesIt) {
  start();
  DeviceClient& meter = device("meter-1", "meter");
  DeviceClient& chiller = device("chiller-1", "chiller");
  for (int i = 0; i < 5; ++i) report(meter, "meter-1", "\"energy_kwh\":" + std::to_string(100 + i));
  // The chiller's reading was published after every meter reading had reached the broker, and the
  // gateway handles them in order: once its live message is here, a meter one would be too.
  report(chiller, "chiller-1", "\"temp_c\":4");
  CHECK_TEXT(central->wait_for([](const mqtt::message& m) { return m.get_topic() == tele_topic("chiller-1"); }, kWait),
             central->describe_seen().c_str());
  for (const auto& l : live_messages(*central)) {
    STRCMP_EQUAL_TEXT("chiller-1", l.device.c_str(), describe(live_messages(*central)).c_str());
  }
  CHECK_EQUAL(1, live_status()["devices"].get<int>());

  // The meter's class gets a live table; `xrmctl rules reload` applies it to the running daemon.
  {
    std::ofstream(rig.gateway->profiles_file())
        << kProfiles << "\n[profile.live]\ninterval = \"1s\"\nmax_interval = \"1m\"\n";
  }
  CtlResult reload = rig.ctl({"rules", "reload"});
  CHECK_EQUAL_TEXT(0, reload.exit_code, reload.describe().c_str());
  CHECK_EQUAL(2, live_status()["enabled_classes"].get<int>());
  const int s = report(meter, "meter-1", "\"energy_kwh\":200");
  auto got = central->wait_for([](const mqtt::message& m) { return m.get_topic() == tele_topic("meter-1"); }, kWait);
  CHECK_TEXT(got != nullptr, central->describe_seen().c_str());
  xrm::v1::Telemetry t;
  CHECK(t.ParseFromString(got->get_payload()));
  CHECK_EQUAL(static_cast<std::uint32_t>(s), t.seq());
  STRCMP_EQUAL("energy_kwh", names_of(t).c_str());
}

TEST(Live, WhileUpstreamIsDownMessagesAreDroppedAndCountedNeverQueued) {
  start();
  DeviceClient& dev = device("chiller-1", "chiller");
  report(dev, "chiller-1", "\"temp_c\":4");
  CHECK_TEXT(central->wait_for([](const mqtt::message& m) { return m.get_topic() == tele_topic("chiller-1"); }, kWait),
             central->describe_seen().c_str());

  central.reset();
  CHECK(rig.upstream->stop().has_value());
  CHECK_TEXT(rig.gateway->wait_for_log("upstream: disconnected", kWait), "the gateway did not notice the outage");
  // 2.5 s of moving readings while central is gone: two or three messages fall due.
  const auto end = std::chrono::steady_clock::now() + 2500ms;
  int last_offline = 0;
  for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
    last_offline = report(dev, "chiller-1", "\"temp_c\":" + std::to_string(10 + i));
    std::this_thread::sleep_for(200ms);  // pacing the device
  }
  const json down = live_status();
  CHECK_TEXT(down["dropped_offline"].get<int>() >= 2, down.dump().c_str());
  CHECK_EQUAL_TEXT(1, down["sent"].get<int>(), down.dump().c_str());

  const std::size_t connects = rig.gateway->log_count("upstream: connected");
  rig.upstream->start();
  subscribe_central();
  CHECK_TEXT(xrm::testing::poll_until([&] { return rig.gateway->log_count("upstream: connected") > connects; }, kWait),
             "the gateway did not reconnect upstream");
  // Readings until one goes out (the interval since the last dropped message may still run).
  mqtt::const_message_ptr got;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  for (int i = 0; !got && std::chrono::steady_clock::now() < deadline; ++i) {
    report(dev, "chiller-1", "\"temp_c\":" + std::to_string(50 + i));
    got = central->wait_for([](const mqtt::message& m) { return m.get_topic() == tele_topic("chiller-1"); }, 300ms);
  }
  CHECK_TEXT(got != nullptr, central->describe_seen().c_str());
  xrm::v1::Telemetry t;
  CHECK(t.ParseFromString(got->get_payload()));
  // The first live message after the outage is a new reading: nothing of the outage was queued.
  CHECK_TEXT(static_cast<int>(t.seq()) > last_offline, describe(live_messages(*central)).c_str());
  CHECK_EQUAL_TEXT(1U, live_messages(*central).size(), describe(live_messages(*central)).c_str());
}
