// Commands from central, end to end (contract: xrm/v1/gw/{gateway}/cmd/{name}, Command, QoS 1; the
// CommandResult on the MQTT 5 response topic with the correlation data echoed, or on
// xrm/v1/gw/{gateway}/cmd-res): the test plays central with Paho clients on a real upstream
// Mosquitto, the real daemon answers, and the real xrmctl shows what the commands did.
#include <CppUTest/TestHarness.h>

#include <mqtt/async_client.h>
#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "gateway_rig.hpp"
#include "xrm/testing/wall_clock.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"

namespace {

using namespace std::chrono_literals;
using xrm::testing::unix_ms;
using nlohmann::json;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::guarded;
namespace v1 = xrm::v1;

constexpr auto kWait = 5s;
constexpr auto kRestartWait = 10s;
constexpr const char* kGatewayId = "gw-cmd";
// Spelled out from the contract, not built with the daemon's own topic helpers.
const std::string kCommandPrefix = std::string("xrm/v1/gw/") + kGatewayId + "/cmd/";
const std::string kCmdRes = std::string("xrm/v1/gw/") + kGatewayId + "/cmd-res";
const std::string kReplyTopic = "central/replies/it";

// Central's side: a Paho client (MQTT 5 or 3.1.1) that publishes commands and collects whatever
// arrives on its subscriptions. Test thread only.
class Central {
 public:
  Central(const std::string& url, int version)
      : version_(version),
        client_(url, "xrm-it-central-" + std::to_string(::getpid()) + "-" + std::to_string(version),
                ::mqtt::create_options(version), nullptr) {
    client_.start_consuming();
    ::mqtt::connect_options opts;
    opts.set_mqtt_version(version);
    if (version == MQTTVERSION_5) {
      opts.set_clean_start(true);
    } else {
      opts.set_clean_session(true);
    }
    opts.set_connect_timeout(std::chrono::seconds(5));
    if (!client_.connect(opts)->wait_for(kWait)) throw std::runtime_error("central: no CONNACK from " + url);
  }
  ~Central() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(1s);
      client_.stop_consuming();
    } catch (const std::exception&) {
    }
  }
  Central(const Central&) = delete;
  Central& operator=(const Central&) = delete;

  void subscribe(const std::string& filter) {
    if (!client_.subscribe(filter, 1)->wait_for(kWait)) throw std::runtime_error("central: no SUBACK for " + filter);
  }

  // Publishes a command at QoS 1 and waits for the PUBACK; under MQTT 5 with the response topic
  // and correlation data when given.
  void send(const std::string& name, const v1::Command& cmd, const std::string& response_topic = "",
            const std::string& correlation = "") {
    auto msg = ::mqtt::make_message(kCommandPrefix + name, cmd.SerializeAsString(), 1, false);
    if (version_ == MQTTVERSION_5 && !response_topic.empty()) {
      ::mqtt::properties props;
      props.add(::mqtt::property(::mqtt::property::RESPONSE_TOPIC, response_topic));
      if (!correlation.empty()) props.add(::mqtt::property(::mqtt::property::CORRELATION_DATA, correlation));
      msg->set_properties(props);
    }
    if (!client_.publish(msg)->wait_for(kWait)) throw std::runtime_error("central: no PUBACK for " + msg->get_topic());
  }

  // The next message whose CommandResult has this request id (others are kept in `seen`).
  ::mqtt::const_message_ptr wait_result(const std::string& request_id, v1::CommandResult& out,
                                        std::chrono::milliseconds timeout = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      ::mqtt::const_message_ptr msg;
      if (client_.try_consume_message_until(&msg, deadline) && msg) {
        v1::CommandResult r;
        const bool parsed = r.ParseFromString(msg->get_payload());
        seen += msg->get_topic() + ": " +
                (parsed ? r.request_id() + " " + v1::CommandStatus_Name(r.status()) + " " + r.message()
                        : "(not a CommandResult)") +
                "\n";
        if (parsed && r.request_id() == request_id) {
          out = r;
          return msg;
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) return nullptr;
    }
  }

  std::string seen;

 private:
  int version_;
  ::mqtt::async_client client_;
};

v1::Command make_command(const std::string& request_id, const std::string& name,
                         std::map<std::string, std::string> args = {}) {
  v1::Command c;
  c.set_request_id(request_id);
  c.set_name(name);
  for (const auto& [k, v] : args) (*c.mutable_args())[k] = v;
  c.set_issued_at_ms(unix_ms());
  c.set_issued_by("ops");
  return c;
}

std::string correlation_of(const ::mqtt::message& msg) {
  const auto& props = msg.get_properties();
  if (!props.contains(::mqtt::property::CORRELATION_DATA)) return "(none)";
  return ::mqtt::get<std::string>(props, ::mqtt::property::CORRELATION_DATA);
}

}  // namespace

TEST_GROUP(CentralCommands) {
  GatewayRig rig;
  std::unique_ptr<Central> central;

  void setup() override {
    guarded([&] {
      GatewaySettings s;
      s.gateway_id = kGatewayId;
      rig.start(s, true, true, kWait);
      await_subscribed();
      central = std::make_unique<Central>(rig.upstream->url(), MQTTVERSION_5);
      central->subscribe(kReplyTopic);
    });
  }
  void teardown() override { central.reset(); }

  // Commands published before the gateway's subscription is in place would find nobody.
  void await_subscribed() {
    CHECK_TEXT(rig.gateway->wait_for_log("upstream: subscribed to " + kCommandPrefix + "+", kWait),
               "the gateway did not subscribe to its command topics");
  }

  v1::CommandResult request(const std::string& name, const v1::Command& cmd, const std::string& correlation = "c") {
    central->send(name, cmd, kReplyTopic, correlation);
    v1::CommandResult r;
    auto msg = central->wait_result(cmd.request_id(), r);
    CHECK_TEXT(msg != nullptr, ("no answer to request " + cmd.request_id() + "; seen:\n" + central->seen).c_str());
    STRCMP_EQUAL(kReplyTopic.c_str(), msg->get_topic().c_str());
    STRCMP_EQUAL(correlation.c_str(), correlation_of(*msg).c_str());
    return r;
  }

  bool has_device(const std::string& id) {
    const json list = rig.ctl_json({"devices"});  // named: a range-for over a temporary's member dangles
    for (const auto& d : list["devices"]) {
      if (d["id"] == id) return true;
    }
    return false;
  }
};

TEST(CentralCommands, PingIsAnsweredOnTheResponseTopicWithTheCorrelationDataEchoed) {
  guarded([&] {
    const std::string correlation("\x01\x00req-7", 7);  // binary, with a NUL
    v1::CommandResult r = request("ping", make_command("ping-1", "ping"), correlation);
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_OK, r.status(), r.message().c_str());
    STRCMP_EQUAL("ping", r.name().c_str());
    STRCMP_EQUAL(kGatewayId, r.gateway_id().c_str());
    STRCMP_EQUAL(kGatewayId, r.data().at("gateway_id").c_str());
    CHECK(!r.data().at("version").empty());
    CHECK(std::stoll(r.data().at("uptime_ms")) >= 0);
    CHECK(r.completed_at_ms() > 0);
  });
}

TEST(CentralCommands, ProvisionFromCentralRegistersTheDeviceWithCentralAsTheActor) {
  guarded([&] {
    CHECK_FALSE(has_device("pump-c"));
    v1::Command cmd =
        make_command("prov-1", "provision", {{"class", "chiller"}, {"owner", "acme"}, {"device", "pump-c"}});
    v1::CommandResult r = request("provision", cmd);
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_OK, r.status(), r.message().c_str());
    STRCMP_EQUAL("pump-c", r.data().at("device").c_str());
    STRCMP_EQUAL("pump-c", r.data().at("username").c_str());
    CHECK(r.data().at("password").size() >= 22);
    CHECK_TEXT(has_device("pump-c"), rig.ctl_json({"devices"}).dump().c_str());
    const json show = rig.ctl_json({"show", "pump-c"});
    STRCMP_EQUAL("acme", show["stakeholders"]["owner"].get<std::string>().c_str());
    bool by_central = false;
    for (const auto& h : show["history"]) by_central = by_central || h["actor"] == "central:ops";
    CHECK_TEXT(by_central, show["history"].dump().c_str());
    // The credentials go to central only: not into the gateway's log.
    CHECK_FALSE(rig.gateway->log_contains(r.data().at("password")));
  });
}

TEST(CentralCommands, TheSameRequestIdTwiceProvisionsOnceAndGetsTheSameResultAlsoAfterARestart) {
  guarded([&] {
    v1::Command cmd = make_command("prov-2", "provision", {{"class", "meter"}, {"device", "meter-9"}});
    v1::CommandResult first = request("provision", cmd, "c1");
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_OK, first.status(), first.message().c_str());
    const std::string password = first.data().at("password");
    // Central re-sends (as after a reconnect): a second provision of meter-9 would be refused, so
    // an OK with the same password shows it did not run again.
    v1::CommandResult second = request("provision", cmd, "c2");
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_OK, second.status(), second.message().c_str());
    STRCMP_EQUAL(password.c_str(), second.data().at("password").c_str());
    CHECK_EQUAL(first.completed_at_ms(), second.completed_at_ms());
    std::size_t provisioned = 0;
    const json shown = rig.ctl_json({"show", "meter-9"});
    for (const auto& h : shown["history"]) provisioned += h["what"] == "provisioned" ? 1 : 0;
    CHECK_EQUAL_TEXT(1u, provisioned, shown["history"].dump().c_str());

    // After a restart the request id is still known; the credentials were never written to disk.
    const auto exit_code = rig.gateway->terminate();
    CHECK_TEXT(exit_code.has_value() && *exit_code == 0, "the daemon did not stop cleanly");
    rig.gateway->start();
    CHECK_TEXT(rig.gateway->wait_for_log("upstream: subscribed to " + kCommandPrefix + "+", kRestartWait),
               "the restarted gateway did not subscribe to its command topics");
    v1::CommandResult third = request("provision", cmd, "c3");
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_OK, third.status(), third.message().c_str());
    CHECK_EQUAL(first.completed_at_ms(), third.completed_at_ms());
    CHECK(third.data().count("password") == 0);
    CHECK_TEXT(third.message().find("credentials left out") != std::string::npos, third.message().c_str());
  });
}

TEST(CentralCommands, AnExpiredCommandIsAnsweredExpiredAndNothingIsDone) {
  guarded([&] {
    v1::Command cmd = make_command("prov-old", "provision", {{"class", "chiller"}, {"device", "late-1"}});
    cmd.set_expires_at_ms(unix_ms() - 60000);
    v1::CommandResult r = request("provision", cmd);
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_EXPIRED, r.status(), r.message().c_str());
    CHECK_FALSE(has_device("late-1"));
  });
}

TEST(CentralCommands, ARequestWithoutAResponseTopicIsAnsweredOnCmdRes) {
  guarded([&] {
    central->subscribe(kCmdRes);
    Central v311(rig.upstream->url(), MQTTVERSION_3_1_1);  // MQTT 3.1.1 has no response topic
    v311.send("ping", make_command("ping-311", "ping"));
    v1::CommandResult r;
    auto msg = central->wait_result("ping-311", r);
    CHECK_TEXT(msg != nullptr, ("no answer on " + kCmdRes + "; seen:\n" + central->seen).c_str());
    STRCMP_EQUAL(kCmdRes.c_str(), msg->get_topic().c_str());
    CHECK_EQUAL(1, msg->get_qos());
    STRCMP_EQUAL("(none)", correlation_of(*msg).c_str());
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_OK, r.status(), r.message().c_str());
  });
}

TEST(CentralCommands, AnUnknownCommandIsAnsweredWithTheKnownOnes) {
  guarded([&] {
    v1::CommandResult r = request("reboot", make_command("boot-1", "reboot"));
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_UNKNOWN_COMMAND, r.status(), r.message().c_str());
    for (const char* known : {"ping", "provision", "link", "retire", "rules.reload"}) {
      CHECK_TEXT(r.message().find(known) != std::string::npos, r.message().c_str());
    }
  });
}

TEST(CentralCommands, ACommandSentWhileTheGatewayIsDownIsAnsweredWhenItIsBack) {
  guarded([&] {
    const auto exit_code = rig.gateway->terminate();
    CHECK_TEXT(exit_code.has_value() && *exit_code == 0, "the daemon did not stop cleanly");
    // The broker keeps the gateway's session (and this QoS 1 command) while it is away.
    central->send("ping", make_command("ping-offline", "ping"), kReplyTopic, "off");
    rig.gateway->start();
    v1::CommandResult r;
    auto msg = central->wait_result("ping-offline", r, kRestartWait);
    CHECK_TEXT(msg != nullptr, ("no answer after the restart; seen:\n" + central->seen).c_str());
    CHECK_EQUAL_TEXT(v1::COMMAND_STATUS_OK, r.status(), r.message().c_str());
    STRCMP_EQUAL("off", correlation_of(*msg).c_str());
  });
}
