// The gateway's upstream presence (contract: xrm/v1/gw/{gateway}/status, retained, also the
// will), checked against two real Mosquitto brokers and the real daemon: the device broker with
// dynamic security ("local") and an anonymous central broker ("upstream").
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/status.hpp"
#include "xrm/testing/subscriber.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using xrm::testing::GatewaySettings;
using xrm::testing::GatewayUnderTest;
using xrm::testing::guarded;
using xrm::testing::Mosquitto;
using xrm::testing::Subscriber;
using xrm::v1::GatewayStatus;

// Each wait is bounded; these are generous for a loaded 2-core machine, and a passing run takes
// a fraction of them.
constexpr auto kWait = 5s;            // a message, a log line, a clean exit
constexpr auto kReconnectWait = 10s;  // reconnect after the upstream broker restarts

constexpr const char* kGatewayId = "gw-it-01";
// Spelled out from the contract, not built with the daemon's own topic helpers.
const std::string kStatusTopic = std::string("xrm/v1/gw/") + kGatewayId + "/status";


std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_status(const mqtt::message& m) { return m.get_topic() == kStatusTopic; }

void dump(const char* what, const std::string& path) {
  std::fprintf(stderr, "----- %s (%s), last lines:\n%s\n", what, path.c_str(),
               xrm::testing::tail_file(path, 60).c_str());
}

}  // namespace

TEST_GROUP(GatewayStatus) {
  std::unique_ptr<Mosquitto> upstream;
  std::unique_ptr<Mosquitto> local;
  std::unique_ptr<GatewayUnderTest> gateway;
  // Subscribed to the status topic before the daemon starts: sees every status live.
  std::unique_ptr<Subscriber> watcher;
  std::int64_t test_start_ms = 0;

  void setup() override {
    test_start_ms = unix_ms_now();
    guarded([&] {
      upstream = std::make_unique<Mosquitto>(xrm::testing::mosquitto_tools(), Mosquitto::Flavour::kPlain, "upstream");
      local = std::make_unique<Mosquitto>(xrm::testing::mosquitto_tools(), Mosquitto::Flavour::kLocal, "local");
      upstream->start();
      local->start();
    });
  }

  void teardown() override {
    if (UtestShell::getCurrent()->hasFailed()) {
      if (gateway) dump("xrm-gatewayd log", gateway->log_path());
      if (upstream) dump("upstream mosquitto log", upstream->log_path());
      if (local) dump("local mosquitto log", local->log_path());
    }
    watcher.reset();
    gateway.reset();  // kills the daemon before its brokers go
    local.reset();
    upstream.reset();
  }

  GatewaySettings settings(const std::string& local_password) const {
    GatewaySettings s;
    s.gateway_id = kGatewayId;
    s.local_url = local->url();
    s.local_username = local->admin_user();
    s.local_password = local_password;
    s.upstream_url = upstream->url();
    return s;
  }

  void make_gateway() {
    gateway = std::make_unique<GatewayUnderTest>(XRM_GATEWAYD_PATH, settings(local->admin_password()));
  }

  void start_watcher() {
    watcher = std::make_unique<Subscriber>(upstream->url());
    watcher->subscribe(kStatusTopic);
  }

  // The next status on `sub` with the given online flag; fails the test (showing every message
  // seen) if none arrives in time.
  GatewayStatus await_status(Subscriber & sub, bool online, std::chrono::milliseconds timeout, const char* what) {
    auto msg = sub.wait_for(
        [&](const mqtt::message& m) {
          return is_status(m) && xrm::testing::decode_status(m.get_payload()).online() == online;
        },
        timeout);
    if (!msg) {
      const std::string text = std::string("no status online=") + (online ? "true" : "false") + " (" + what +
                               ") within " + std::to_string(timeout.count()) + " ms; seen on " + kStatusTopic + ":\n" +
                               sub.describe_seen(xrm::testing::describe_status_message);
      FAIL(text.c_str());
    }
    return xrm::testing::decode_status(msg->get_payload());
  }

  // What a client connecting now is given: the retained status, delivered right after its
  // SUBACK with the retain flag set.
  //
  // Closes the watcher first: Paho C 1.3's receive thread notices a new connection only after one
  // or two 1-second select() timeouts while another client of the process is connected (Paho C
  // issue #1430), which would add 2 s to every call.
  GatewayStatus retained_status() {
    watcher.reset();
    Subscriber late(upstream->url());
    late.subscribe(kStatusTopic);
    auto msg = late.wait_for(is_status, kWait);
    if (!msg) FAIL(("no retained status on " + kStatusTopic + " for a new subscriber").c_str());
    CHECK_TEXT(msg->is_retained(), ("status given to a new subscriber is not flagged retained: " +
                                    xrm::testing::describe_status_message(*msg))
                                       .c_str());
    return xrm::testing::decode_status(msg->get_payload());
  }

  // Starts the daemon (watcher first) and returns its online status as seen live.
  GatewayStatus start_and_await_online() {
    if (!watcher) start_watcher();
    if (!gateway) make_gateway();
    gateway->start();
    return await_status(*watcher, true, kWait, "after start");
  }

  // What a new subscriber is given after the gateway went: offline, for this reason and epoch.
  void check_retained_offline(xrm::v1::StatusReason reason, std::uint64_t epoch) {
    const GatewayStatus st = retained_status();
    const std::string desc = xrm::testing::describe_status(st);
    CHECK_FALSE_TEXT(st.online(), desc.c_str());
    LONGS_EQUAL_TEXT(reason, st.reason(), desc.c_str());
    CHECK_EQUAL_TEXT(epoch, st.epoch(), desc.c_str());
    STRCMP_EQUAL_TEXT(kGatewayId, st.gateway_id().c_str(), desc.c_str());
    STRCMP_EQUAL_TEXT(XRM_EXPECTED_VERSION, st.version().c_str(), desc.c_str());
  }

  void check_online_status(const GatewayStatus& st) {
    const std::string desc = xrm::testing::describe_status(st);
    CHECK_TEXT(st.online(), desc.c_str());
    CHECK_TEXT(st.epoch() >= 1, desc.c_str());
    STRCMP_EQUAL_TEXT(kGatewayId, st.gateway_id().c_str(), desc.c_str());
    STRCMP_EQUAL_TEXT(XRM_EXPECTED_VERSION, st.version().c_str(), desc.c_str());
    LONGS_EQUAL_TEXT(xrm::v1::STATUS_REASON_CONNECTED, st.reason(), desc.c_str());
    // Mosquitto 2 speaks MQTT 5, which protocol "auto" tries first.
    LONGS_EQUAL_TEXT(xrm::v1::MQTT_PROTOCOL_V5, st.mqtt_protocol(), desc.c_str());
    // since_ms: when this epoch's connect attempt started, i.e. during this test.
    CHECK_TEXT(static_cast<std::int64_t>(st.since_ms()) >= test_start_ms - 1000, desc.c_str());
    CHECK_TEXT(static_cast<std::int64_t>(st.since_ms()) <= unix_ms_now() + 1000, desc.c_str());
  }
};

TEST(GatewayStatus, StatusOnlineRetainedOnStart) {
  guarded([&] {
    const GatewayStatus live = start_and_await_online();
    check_online_status(live);

    // A subscriber that connects after the daemon published is given the same status, retained.
    const GatewayStatus st = retained_status();
    check_online_status(st);
    CHECK_EQUAL(live.epoch(), st.epoch());
    CHECK_EQUAL(live.since_ms(), st.since_ms());
    CHECK(gateway->is_running());
  });
}

TEST(GatewayStatus, OfflineOnSigterm) {
  guarded([&] {
    const GatewayStatus online = start_and_await_online();
    check_online_status(online);

    const auto rc = gateway->terminate(kWait);
    CHECK_TEXT(rc.has_value(), "xrm-gatewayd still running 5 s after SIGTERM");
    LONGS_EQUAL(0, *rc);

    // Published by the daemon itself before disconnecting; the will must not replace it.
    const GatewayStatus live = await_status(*watcher, false, kWait, "after SIGTERM");
    LONGS_EQUAL_TEXT(xrm::v1::STATUS_REASON_SHUTDOWN, live.reason(), xrm::testing::describe_status(live).c_str());
    CHECK_EQUAL(online.epoch(), live.epoch());
    // Nothing after the offline status (e.g. a will) reached the watcher.
    const auto extra = watcher->wait_for(is_status, 300ms);
    CHECK_TEXT(extra == nullptr, ("status after the offline one: " +
                                  (extra ? xrm::testing::describe_status_message(*extra) : std::string()))
                                     .c_str());

    check_retained_offline(xrm::v1::STATUS_REASON_SHUTDOWN, online.epoch());
  });
}

TEST(GatewayStatus, OfflineThroughWillOnKill9) {
  guarded([&] {
    const GatewayStatus online = start_and_await_online();
    check_online_status(online);

    gateway->kill9();
    CHECK_FALSE(gateway->is_running());

    // The broker publishes the will registered with this epoch's connection.
    const GatewayStatus will = await_status(*watcher, false, kWait, "will after kill -9");
    LONGS_EQUAL_TEXT(xrm::v1::STATUS_REASON_CONNECTION_LOST, will.reason(),
                     xrm::testing::describe_status(will).c_str());
    CHECK_EQUAL(online.epoch(), will.epoch());

    check_retained_offline(xrm::v1::STATUS_REASON_CONNECTION_LOST, online.epoch());
  });
}

TEST(GatewayStatus, EpochGrowsAcrossRestarts) {
  guarded([&] {
    const GatewayStatus first = start_and_await_online();
    check_online_status(first);
    // The exit code is OfflineOnSigterm's business; here only the epoch counts.
    CHECK_TEXT(gateway->terminate(kWait).has_value(), "xrm-gatewayd still running 5 s after SIGTERM");

    // Same config, same data_dir: the epoch comes from the database.
    gateway->start();
    const GatewayStatus second = await_status(*watcher, true, kWait, "after restart");
    check_online_status(second);
    CHECK_TEXT(second.epoch() > first.epoch(),
               ("epoch did not grow across a restart: " + std::to_string(first.epoch()) + " then " +
                std::to_string(second.epoch()))
                   .c_str());
    CHECK_EQUAL(second.epoch(), retained_status().epoch());
  });
}

TEST(GatewayStatus, ReconnectsAfterUpstreamRestart) {
  guarded([&] {
    const GatewayStatus first = start_and_await_online();
    check_online_status(first);

    // persistence is off: the restarted broker has no retained status until the daemon is back.
    watcher.reset();
    upstream->restart();

    // Live or retained, depending on whether the daemon got there before this subscriber.
    start_watcher();
    const GatewayStatus again = await_status(*watcher, true, kReconnectWait, "after upstream restart");
    check_online_status(again);
    CHECK_TEXT(again.epoch() > first.epoch(), ("epoch did not grow on reconnect: " + std::to_string(first.epoch()) +
                                               " then " + std::to_string(again.epoch()))
                                                  .c_str());
    CHECK(gateway->is_running());
    CHECK_EQUAL(again.epoch(), retained_status().epoch());
  });
}

TEST(GatewayStatus, ConnectsToLocalBrokerWithDynsecAdmin) {
  guarded([&] {
    make_gateway();
    gateway->start();
    const std::string connected = "local: connected to " + local->url();
    CHECK_TEXT(gateway->wait_for_log(connected, kWait), ("no \"" + connected + "\" in the daemon's log").c_str());
    // The broker saw the dynsec admin's user name (Mosquitto logs "... (p5, c0, k30, u'NAME')").
    const std::string user_in_broker_log = "u'" + local->admin_user() + "')";
    CHECK_TEXT(xrm::testing::read_file(local->log_path()).find(user_in_broker_log) != std::string::npos,
               ("local broker log has no client with " + user_in_broker_log).c_str());
    CHECK_FALSE(xrm::testing::read_file(local->log_path()).find("not authorised") != std::string::npos);
    gateway->kill9();  // how it exits is OfflineOnSigterm's business

    // The same daemon with a wrong password: the broker refuses it, and it keeps retrying.
    gateway = std::make_unique<GatewayUnderTest>(XRM_GATEWAYD_PATH, settings(local->admin_password() + "-wrong"));
    gateway->start();
    const std::string refused = "local: " + local->url() + ": connect failed";
    CHECK_TEXT(gateway->wait_for_log(refused, kWait), ("no \"" + refused + "\" in the daemon's log").c_str());
    CHECK_FALSE_TEXT(gateway->log_contains("local: connected"), "connected to the local broker with a wrong password");
    CHECK_TEXT(xrm::testing::read_file(local->log_path()).find("disconnected, not authorised") != std::string::npos,
               "the local broker did not log refusing the client");
    CHECK(gateway->is_running());
  });
}
