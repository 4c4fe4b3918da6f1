// The outbox drain, end to end (contract: xrm/v1/gw/{gateway}/rec/{kind}, RecordBatch, QoS 1, at
// least once, de-duplicated by (gateway, seq)): a technician provisions devices with the real
// xrmctl, each provisioning writes a `lifecycle` record, and a subscriber on a real upstream
// Mosquitto checks what arrives, across an upstream outage and a daemon restart.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/subscriber.hpp"
#include "xrm/testing/temp_dir.hpp"
#include "xrm/testing/xrmctl.hpp"
#include "gateway_rig.hpp"
#include "record_transcript.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::CtlResult;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::GatewayUnderTest;
using xrm::testing::guarded;
using xrm::testing::Mosquitto;
using xrm::testing::Subscriber;
using xrm::testing::Transcript;
using xrm::testing::Arrived;
using xrm::testing::check_complete_and_ordered;
using xrm::testing::deduplicated;
using xrm::testing::describe;
using xrm::testing::of_kind;

// Bounded waits, generous for a loaded 2-core machine under the sanitizers.
constexpr auto kWait = 5s;
constexpr auto kReconnectWait = 10s;

constexpr const char* kGatewayId = "gw-up";
// Spelled out from the contract, not built with the daemon's own topic helpers.
const std::string kRecordPrefix = std::string("xrm/v1/gw/") + kGatewayId + "/rec/";
const std::string kRecordFilter = kRecordPrefix + "#";

}  // namespace

TEST_GROUP(Uplink) {
  GatewayRig rig;
  std::unique_ptr<Mosquitto>& upstream = rig.upstream;
  std::unique_ptr<Mosquitto>& local = rig.local;
  std::unique_ptr<GatewayUnderTest>& gateway = rig.gateway;
  std::unique_ptr<Subscriber> central;

  void setup() override {
    guarded([&] {
      GatewaySettings s;
      s.gateway_id = kGatewayId;
      rig.start(s, false);
    });
  }
  void teardown() override { central.reset(); }

  // Subscribes the central side to rec/# (before the records it must see are published).
  void subscribe_central() {
    central = std::make_unique<Subscriber>(upstream->url());
    central->subscribe(kRecordFilter);
  }

  void start_gateway() {
    gateway->start();
    CHECK_TEXT(gateway->wait_for_log("local: connected", kWait), "gateway did not connect to the local broker");
  }

  CtlResult ctl(const std::vector<std::string>& args) { return rig.ctl(args); }
  json status() {
    CtlResult r = ctl({"--json", "status"});
    CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
    return r.json();
  }
  // Provisions a device: one lifecycle record.
  void provision(const std::string& device) {
    CtlResult r = ctl({"--json", "provision", device, "--class", "chiller"});
    CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
  }
  std::uint64_t last_seq() { return status()["outbox"]["last_seq"].get<std::uint64_t>(); }
  void receive(Transcript & t, std::uint64_t first, std::uint64_t last, std::chrono::milliseconds timeout) {
    xrm::testing::receive_all(*central, t, first, last, timeout);
  }
  json await_empty_outbox(std::chrono::milliseconds timeout) { return rig.await_empty_outbox(timeout); }
};

TEST(Uplink, LifecycleRecordsArriveAsBatchesInSeqOrderAndLeaveTheOutbox) {
  guarded([&] {
    subscribe_central();
    start_gateway();
    const std::vector<std::string> devices = {"pump-1", "pump-2", "pump-3", "pump-4", "pump-5"};
    for (const auto& d : devices) provision(d);
    const std::uint64_t last = last_seq();
    CHECK(last >= devices.size());  // one lifecycle record each (other stages may add their own)

    Transcript t{kGatewayId};
    receive(t, 1, last, kWait);
    // Without an outage nothing is sent twice: every seq once, ascending within each topic.
    const std::string text = describe(t.records);
    STRCMP_EQUAL_TEXT("", check_complete_and_ordered(t.records, 1, last).c_str(), text.c_str());
    CHECK_EQUAL_TEXT(last, t.records.size(), text.c_str());
    const auto lifecycle = of_kind(t.records, xrm::v1::RECORD_KIND_LIFECYCLE);
    CHECK_EQUAL_TEXT(devices.size(), lifecycle.size(), text.c_str());
    for (std::size_t i = 0; i < lifecycle.size() && i < devices.size(); ++i) {
      STRCMP_EQUAL_TEXT(devices[i].c_str(), lifecycle[i].device.c_str(), text.c_str());
    }

    const json st = await_empty_outbox(kWait);
    const json& up = st["uplink"];
    CHECK_EQUAL_TEXT(last, up["records_sent"].get<std::uint64_t>(), up.dump().c_str());
    CHECK_EQUAL_TEXT(t.batches, up["batches_sent"].get<std::size_t>(), up.dump().c_str());
    CHECK_EQUAL_TEXT(last, up["last_sent_seq"].get<std::uint64_t>(), up.dump().c_str());
    CHECK_EQUAL_TEXT(0, up["publish_errors"].get<int>(), up.dump().c_str());
    CHECK_TEXT(up["last_error"].is_null(), up.dump().c_str());
    // The technician sees the same in the table.
    CtlResult table = ctl({"status"});
    CHECK_EQUAL(0, table.exit_code);
    const std::string sent = "uplink        sent " + std::to_string(last) + " records";
    CHECK_TEXT(table.out.find(sent) != std::string::npos, table.out.c_str());
  });
}

TEST(Uplink, RecordsMadeDuringAnUpstreamOutageArriveAfterItInOrder) {
  guarded([&] {
    subscribe_central();
    start_gateway();
    provision("dev-1");
    provision("dev-2");
    provision("dev-3");
    const std::uint64_t sent_before = last_seq();
    Transcript before{kGatewayId};
    receive(before, 1, sent_before, kWait);

    // The central broker goes away; the gateway keeps making records.
    central.reset();
    CHECK(upstream->stop().has_value());
    CHECK_TEXT(gateway->wait_for_log("upstream: disconnected", kWait), "the gateway did not notice the outage");
    for (const char* d : {"dev-4", "dev-5", "dev-6", "dev-7"}) provision(d);
    const json down = status();
    const std::uint64_t last = down["outbox"]["last_seq"].get<std::uint64_t>();
    CHECK_TEXT(last >= sent_before + 4, down.dump().c_str());
    CHECK_TEXT(down["outbox"]["depth"].get<std::uint64_t>() >= 4, down.dump().c_str());  // kept, none lost
    CHECK_FALSE(down["connections"]["upstream"]["connected"].get<bool>());

    // The broker comes back on the same port. The daemon is held (SIGSTOP) until central has
    // subscribed again, so it cannot deliver the backlog to nobody (the restarted broker has no
    // sessions: persistence is off).
    const std::size_t connects = gateway->log_count("upstream: connected");
    gateway->held([&] {
      upstream->start();
      subscribe_central();
    });

    Transcript after{kGatewayId};
    receive(after, sent_before + 1, last, kReconnectWait);
    CHECK(gateway->log_count("upstream: connected") > connects);

    // Every seq at least once and, after de-duplication, in order within each kind, with no gap.
    std::vector<Arrived> all = before.records;
    all.insert(all.end(), after.records.begin(), after.records.end());
    const std::vector<Arrived> stored = deduplicated(all);
    const std::string text = describe(before.records) + " | " + describe(after.records);
    STRCMP_EQUAL_TEXT("", check_complete_and_ordered(stored, 1, last).c_str(), text.c_str());
    const auto lifecycle = of_kind(stored, xrm::v1::RECORD_KIND_LIFECYCLE);
    CHECK_EQUAL_TEXT(7u, lifecycle.size(), text.c_str());
    for (std::size_t i = 0; i < lifecycle.size(); ++i) {
      STRCMP_EQUAL_TEXT(("dev-" + std::to_string(i + 1)).c_str(), lifecycle[i].device.c_str(), text.c_str());
    }

    const json st = await_empty_outbox(kWait);
    CHECK_EQUAL_TEXT(last, st["uplink"]["last_sent_seq"].get<std::uint64_t>(), st.dump().c_str());
    CHECK_TEXT(st["uplink"]["records_sent"].get<std::uint64_t>() >= last, st.dump().c_str());
  });
}

TEST(Uplink, RecordsKeptAcrossADaemonRestartAreSentWhenItIsBack) {
  guarded([&] {
    CHECK(upstream->stop().has_value());  // no central broker while the records are made
    start_gateway();
    provision("a-1");
    provision("a-2");
    const json down = status();
    const std::uint64_t last = down["outbox"]["last_seq"].get<std::uint64_t>();
    CHECK_EQUAL_TEXT(last, down["outbox"]["depth"].get<std::uint64_t>(), down.dump().c_str());
    gateway->kill9();

    upstream->start();
    subscribe_central();
    start_gateway();
    Transcript t{kGatewayId};
    receive(t, 1, last, kReconnectWait);
    const std::vector<Arrived> stored = deduplicated(t.records);
    STRCMP_EQUAL_TEXT("", check_complete_and_ordered(stored, 1, last).c_str(), describe(t.records).c_str());
    const auto lifecycle = of_kind(stored, xrm::v1::RECORD_KIND_LIFECYCLE);
    CHECK_EQUAL_TEXT(2u, lifecycle.size(), describe(t.records).c_str());
    STRCMP_EQUAL("a-1", lifecycle[0].device.c_str());
    STRCMP_EQUAL("a-2", lifecycle[1].device.c_str());
    await_empty_outbox(kWait);
  });
}
