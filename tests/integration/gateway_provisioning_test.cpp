// Devices as stakeholders, end to end: a technician provisions, relinks, rotates and retires
// devices with the real xrmctl against the real daemon, and devices connect to a real Mosquitto
// with dynamic security using exactly the credentials xrmctl printed.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/device_client.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/poll.hpp"
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


}  // namespace

TEST_GROUP(Provisioning) {
  GatewayRig rig;
  std::unique_ptr<Mosquitto>& upstream = rig.upstream;
  std::unique_ptr<Mosquitto>& local = rig.local;
  std::unique_ptr<GatewayUnderTest>& gateway = rig.gateway;

  void setup() override {
    guarded([&] {
      GatewaySettings s;
      s.gateway_id = "gw-prov";
      rig.start(s, true, true, kWait);
    });
  }

  CtlResult ctl(const std::vector<std::string>& args) { return rig.ctl(args); }

  // Provisions and returns the --json result; fails the test if xrmctl does not succeed.
  json provision(const std::string& device, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--json", "provision", device, "--class", "chiller"};
    args.insert(args.end(), extra.begin(), extra.end());
    CtlResult r = ctl(args);
    CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
    json j = r.json();
    CHECK_TEXT(j.is_object(), r.describe().c_str());
    return j;
  }

  json show(const std::string& device) {
    CtlResult r = ctl({"--json", "show", device});
    CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
    return r.json();
  }

  // Polls `xrmctl show` until pred holds.
  bool wait_show(const std::string& device, const std::function<bool(const json&)>& pred) {
    return poll_until([&] { return pred(show(device)); }, kWait, 100ms);
  }
};

TEST(Provisioning, DeviceConnectsWithPrintedCredentialsAndItsTelemetryReachesTheGateway) {
  json cred = provision("pump-1", {"--owner", "acme", "--technician", "tom", "--supplier", "coolco"});
  STRCMP_EQUAL("pump-1", cred["client_id"].get<std::string>().c_str());
  STRCMP_EQUAL("pump-1", cred["username"].get<std::string>().c_str());
  const std::string password = cred["password"].get<std::string>();
  CHECK(password.size() >= 22);  // at least 128 bits in base64
  CHECK(cred["uri"].get<std::string>().find("password=" + password) != std::string::npos);
  CHECK(cred["publish_topics"].size() == 5);
  STRCMP_EQUAL("xrm/v1/dev/pump-1/cmd/#", cred["subscribe_topics"][0].get<std::string>().c_str());

  DeviceClient dev(local->url(), cred["client_id"].get<std::string>());
  const std::string refused = dev.connect(cred["username"].get<std::string>(), password);
  STRCMP_EQUAL_TEXT("", refused.c_str(), "the printed credentials were refused");
  CHECK(dev.publish("xrm/v1/dev/pump-1/tele", R"({"seq":1,"ts":1,"temp_c":4.5})"));
  CHECK_TEXT(wait_show("pump-1", [](const json& j) { return j["lifecycle"] == "active" && j["counters"]["messages"] == 1; }),
             show("pump-1").dump().c_str());
  json s = show("pump-1");
  STRCMP_EQUAL("acme", s["stakeholders"]["owner"].get<std::string>().c_str());
  STRCMP_EQUAL("tom", s["stakeholders"]["technician"].get<std::string>().c_str());
  CHECK(s["last_seen_ms"].is_number());
  // The secret is printed once: never logged by the gateway, never stored in its database.
  CHECK_FALSE(gateway->log_contains(password));
  for (const char* f : {"/gateway.db", "/gateway.db-wal"}) {
    CHECK_TEXT(xrm::testing::read_file(gateway->data_dir() + f).find(password) == std::string::npos, f);
  }
  // The provision and the first data are lifecycle records (the health stage may add its own); the
  // uplink sends them on at once, so they are counted by seq, not by outbox depth
  // (gateway_uplink_test.cpp follows records upstream).
  CtlResult st = ctl({"--json", "status"});
  CHECK_EQUAL_TEXT(0, st.exit_code, st.describe().c_str());
  CHECK_TEXT(st.json()["outbox"]["last_seq"].get<int>() >= 2, st.describe().c_str());
  CHECK_EQUAL(1, st.json()["devices"]["by_lifecycle"]["active"].get<int>());
}

TEST(Provisioning, PublishingOnAnotherDevicesTopicNeverReachesTheGateway) {
  json a = provision("dev-a");
  provision("dev-b");
  DeviceClient dev(local->url(), "dev-a");
  STRCMP_EQUAL("", dev.connect("dev-a", a["password"].get<std::string>()).c_str());
  dev.publish("xrm/v1/dev/dev-b/tele", R"({"seq":1,"ts":1,"temp_c":99})");
  dev.publish("xrm/v1/dev/dev-b/evt", R"({"seq":1,"ts":1,"type":"fault"})");
  // Its own message after the forged ones: once it has arrived, so would they have.
  CHECK(dev.publish("xrm/v1/dev/dev-a/tele", R"({"seq":1,"ts":1,"temp_c":4})"));
  CHECK(wait_show("dev-a", [](const json& j) { return j["counters"]["messages"] == 1; }));
  json b = show("dev-b");
  STRCMP_EQUAL("provisioned", b["lifecycle"].get<std::string>().c_str());
  CHECK_EQUAL(0, b["counters"]["messages"].get<int>());
  // And it cannot read another device's commands either.
  CHECK(local->flavour() == Mosquitto::Flavour::kLocal);
}

TEST(Provisioning, WrongPasswordAnonymousAndForeignClientIdAreRefused) {
  json a = provision("dev-a");
  DeviceClient wrong(local->url(), "dev-a");
  CHECK(wrong.connect("dev-a", "not-the-password") != "");
  DeviceClient anonymous(local->url(), "anon-1");
  CHECK(anonymous.connect("", "") != "");
  DeviceClient other_id(local->url(), "someone-else");
  CHECK_TEXT(other_id.connect("dev-a", a["password"].get<std::string>()) != "", "client id not bound to the device");
}

TEST(Provisioning, RetireDropsTheConnectionRefusesReconnectAndKeepsHistory) {
  json a = provision("dev-a", {"--owner", "acme"});
  DeviceClient dev(local->url(), "dev-a");
  STRCMP_EQUAL("", dev.connect("dev-a", a["password"].get<std::string>()).c_str());
  CtlResult r = ctl({"--json", "retire", "dev-a"});
  CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
  STRCMP_EQUAL("provisioned", r.json()["previous_lifecycle"].get<std::string>().c_str());
  CHECK_TEXT(dev.wait_lost(kWait), "the retired device's open connection was not dropped");
  DeviceClient again(local->url(), "dev-a");
  CHECK(again.connect("dev-a", a["password"].get<std::string>()) != "");
  json s = show("dev-a");
  STRCMP_EQUAL("retired", s["lifecycle"].get<std::string>().c_str());
  STRCMP_EQUAL("acme", s["stakeholders"]["owner"].get<std::string>().c_str());
  CHECK(s["retired_ms"].is_number());
  CHECK(s["history"].size() >= 2);
  // Retired ids are not reused.
  CtlResult re = ctl({"provision", "dev-a", "--class", "chiller"});
  CHECK_EQUAL_TEXT(2, re.exit_code, re.describe().c_str());
  CHECK(re.err.find("dev-a") != std::string::npos);
}

TEST(Provisioning, RotateInvalidatesTheOldSecret) {
  json first = provision("dev-a");
  CtlResult again = ctl({"provision", "dev-a", "--class", "chiller"});
  CHECK_EQUAL_TEXT(2, again.exit_code, again.describe().c_str());
  CHECK(again.err.find("dev-a") != std::string::npos);
  CHECK(again.err.find("--rotate") != std::string::npos);
  json second = provision("dev-a", {"--rotate"});
  CHECK(second["rotated"].get<bool>());
  CHECK(first["password"] != second["password"]);
  DeviceClient old_secret(local->url(), "dev-a");
  CHECK(old_secret.connect("dev-a", first["password"].get<std::string>()) != "");
  DeviceClient new_secret(local->url(), "dev-a");
  STRCMP_EQUAL("", new_secret.connect("dev-a", second["password"].get<std::string>()).c_str());
}

TEST(Provisioning, BadRequestsExitTwoNamingWhatIsWrong) {
  for (const std::string& id : std::vector<std::string>{"a b", "a/b", "a+b", "x#", std::string(65, 'x')}) {
    CtlResult r = ctl({"provision", id, "--class", "chiller"});
    CHECK_EQUAL_TEXT(2, r.exit_code, r.describe().c_str());
    CHECK_TEXT(r.err.find("device id") != std::string::npos, r.describe().c_str());
  }
  CtlResult cls = ctl({"provision", "dev-a", "--class", "toaster"});
  CHECK_EQUAL_TEXT(2, cls.exit_code, cls.describe().c_str());
  CHECK(cls.err.find("toaster") != std::string::npos);
  CtlResult missing = ctl({"show", "nobody"});
  CHECK_EQUAL_TEXT(2, missing.exit_code, missing.describe().c_str());
  CHECK(missing.err.find("nobody") != std::string::npos);
  // Nothing was registered by any of them.
  CtlResult list = ctl({"--json", "devices"});
  CHECK_EQUAL(0, list.exit_code);
  CHECK_EQUAL(0u, list.json()["devices"].size());
  // No daemon behind the socket: a runtime failure, exit 1.
  CtlResult none = xrm::testing::run_xrmctl(XRM_XRMCTL_PATH, gateway->dir() + "/no.sock", {"devices"});
  CHECK_EQUAL_TEXT(1, none.exit_code, none.describe().c_str());
}

TEST(Provisioning, LinkChangesRelationshipsWithHistory) {
  provision("dev-a", {"--owner", "acme", "--technician", "tom"});
  CtlResult r = ctl({"--json", "link", "dev-a", "--owner", "globex", "--technician", ""});
  CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
  CHECK_EQUAL(2u, r.json()["changed"].size());
  json s = show("dev-a");
  STRCMP_EQUAL("globex", s["stakeholders"]["owner"].get<std::string>().c_str());
  STRCMP_EQUAL("", s["stakeholders"]["technician"].get<std::string>().c_str());
  bool found = false;
  for (const auto& h : s["history"]) {
    found |= h["what"] == "owner" && h["old"] == "acme" && h["new"] == "globex" &&
             h["actor"].get<std::string>().rfind("xrmctl:uid=", 0) == 0;
  }
  CHECK_TEXT(found, s["history"].dump().c_str());
  // The human table lists it.
  CtlResult table = ctl({"devices"});
  CHECK_EQUAL(0, table.exit_code);
  CHECK(table.out.find("dev-a") != std::string::npos);
  CHECK(table.out.find("chiller") != std::string::npos);
}

TEST(Provisioning, BirthRecordsFirmwareAndStateTracksPresence) {
  json a = provision("dev-a");
  DeviceClient dev(local->url(), "dev-a");
  STRCMP_EQUAL("", dev.connect("dev-a", a["password"].get<std::string>()).c_str());
  CHECK(dev.publish("xrm/v1/dev/dev-a/birth", R"({"model":"CH-200","firmware_version":"2.1.0"})", 1, true));
  CHECK(dev.publish("xrm/v1/dev/dev-a/state", "online", 1, true));
  CHECK(wait_show("dev-a", [](const json& j) { return j["firmware"] == "2.1.0" && j["online"] == true; }));
  json s = show("dev-a");
  STRCMP_EQUAL("CH-200", s["model"].get<std::string>().c_str());
  CHECK(dev.publish("xrm/v1/dev/dev-a/state", "offline", 1, true));
  CHECK(wait_show("dev-a", [](const json& j) { return j["online"] == false; }));
}
