// The outbox drain, end to end (contract: xrm/v1/gw/{gateway}/rec/{kind}, RecordBatch, QoS 1, at
// least once, de-duplicated by (gateway, seq)): a technician provisions devices with the real
// xrmctl, each provisioning writes a `lifecycle` record, and a subscriber on a real upstream
// Mosquitto checks what arrives, across an upstream outage and a daemon restart.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <csignal>
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

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::CtlResult;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::GatewayUnderTest;
using xrm::testing::guarded;
using xrm::testing::Mosquitto;
using xrm::testing::poll_until;
using xrm::testing::Subscriber;

// Bounded waits, generous for a loaded 2-core machine under the sanitizers.
constexpr auto kWait = 5s;
constexpr auto kReconnectWait = 10s;

constexpr const char* kGatewayId = "gw-up";
// Spelled out from the contract, not built with the daemon's own topic helpers.
const std::string kRecordPrefix = std::string("xrm/v1/gw/") + kGatewayId + "/rec/";
const std::string kRecordFilter = kRecordPrefix + "#";

// The contract's {kind} of each RecordKind.
std::string kind_topic_name(int kind) {
  switch (kind) {
    case xrm::v1::RECORD_KIND_SUMMARY: return "summary";
    case xrm::v1::RECORD_KIND_EVENT: return "event";
    case xrm::v1::RECORD_KIND_HEALTH: return "health";
    case xrm::v1::RECORD_KIND_ALERT: return "alert";
    case xrm::v1::RECORD_KIND_LIFECYCLE: return "lifecycle";
    case xrm::v1::RECORD_KIND_GAP: return "gap";
    case xrm::v1::RECORD_KIND_SCORECARD: return "scorecard";
    default: return "?" + std::to_string(kind);
  }
}

// One record as it arrived upstream.
struct Arrived {
  std::uint64_t seq = 0;
  int kind = 0;
  std::string device;
};

// Everything a subscriber received on rec/#, decoded and checked batch by batch. The tests make
// lifecycle records (provisioning); records of other kinds that other stages make meanwhile are
// checked the same way and counted in the seq coverage.
struct Transcript {
  std::vector<Arrived> records;  // in arrival order, duplicates kept
  std::size_t batches = 0;
  std::string problems;  // what was wrong with any batch; empty when all were right

  void take(const mqtt::message& m) {
    ++batches;
    const std::string where = m.get_topic() + " batch " + std::to_string(batches) + ": ";
    if (m.is_retained()) problems += where + "retained\n";
    if (m.get_qos() != 1) problems += where + "QoS " + std::to_string(m.get_qos()) + "\n";
    xrm::v1::RecordBatch b;
    if (!b.ParseFromString(m.get_payload())) {
      problems += where + "not a RecordBatch\n";
      return;
    }
    if (m.get_topic() != kRecordPrefix + kind_topic_name(b.kind())) {
      problems += where + "batch of kind " + kind_topic_name(b.kind()) + " on this topic\n";
    }
    if (b.gateway_id() != kGatewayId) problems += where + "gateway_id " + b.gateway_id() + "\n";
    if (b.records_size() == 0) {
      problems += where + "no records\n";
      return;
    }
    if (b.first_seq() != b.records(0).seq() || b.last_seq() != b.records(b.records_size() - 1).seq()) {
      problems += where + "first_seq/last_seq do not match its records\n";
    }
    if (b.created_at_ms() == 0) problems += where + "no created_at_ms\n";
    std::uint64_t prev = 0;
    for (const auto& r : b.records()) {
      const std::string rec = where + "seq " + std::to_string(r.seq()) + ": ";
      if (r.seq() <= prev) problems += rec + "after seq " + std::to_string(prev) + "\n";
      prev = r.seq();
      if (r.kind() != b.kind()) problems += rec + "kind " + kind_topic_name(r.kind()) + "\n";
      if (r.kind() == xrm::v1::RECORD_KIND_LIFECYCLE && !r.has_lifecycle()) problems += rec + "no lifecycle body\n";
      if (r.gateway_id() != kGatewayId) problems += rec + "gateway_id " + r.gateway_id() + "\n";
      records.push_back({r.seq(), r.kind(), r.device_id()});
    }
  }

  bool has(std::uint64_t seq) const {
    for (const auto& r : records) {
      if (r.seq == seq) return true;
    }
    return false;
  }
  bool has_all(std::uint64_t first, std::uint64_t last) const {
    for (std::uint64_t s = first; s <= last; ++s) {
      if (!has(s)) return false;
    }
    return true;
  }
};

std::string describe(const std::vector<Arrived>& records) {
  std::string out;
  for (const auto& r : records) {
    out += (out.empty() ? "" : " ") + std::to_string(r.seq) + ":" + kind_topic_name(r.kind) + ":" + r.device;
  }
  return out.empty() ? "(none)" : out;
}

// The records in arrival order with repeats removed (the first copy kept), as a de-duplicating
// central consumer stores them.
std::vector<Arrived> deduplicated(const std::vector<Arrived>& records) {
  std::vector<Arrived> out;
  for (const auto& r : records) {
    bool seen = false;
    for (const auto& o : out) seen = seen || o.seq == r.seq;
    if (!seen) out.push_back(r);
  }
  return out;
}

std::vector<Arrived> of_kind(const std::vector<Arrived>& records, int kind) {
  std::vector<Arrived> out;
  for (const auto& r : records) {
    if (r.kind == kind) out.push_back(r);
  }
  return out;
}

// Records in arrival order, de-duplicated: each kind's seqs must ascend (order is kept within a
// topic), and together they must be exactly first..last (every seq once, no gap). Returns what is
// wrong; empty when nothing is.
std::string check_complete_and_ordered(const std::vector<Arrived>& stored, std::uint64_t first, std::uint64_t last) {
  std::string problems;
  for (int kind = xrm::v1::RECORD_KIND_SUMMARY; kind <= xrm::v1::RECORD_KIND_SCORECARD; ++kind) {
    std::uint64_t prev = 0;
    for (const auto& r : of_kind(stored, kind)) {
      if (r.seq <= prev) problems += "seq " + std::to_string(r.seq) + " after " + std::to_string(prev) + "; ";
      prev = r.seq;
    }
  }
  if (stored.size() != last - first + 1) problems += "expected " + std::to_string(last - first + 1) + " records; ";
  for (std::uint64_t s = first; s <= last; ++s) {
    bool found = false;
    for (const auto& r : stored) found = found || r.seq == s;
    if (!found) problems += "seq " + std::to_string(s) + " missing; ";
  }
  return problems;
}

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

  // Reads central's messages into `t` until every seq from first to last has arrived; fails the
  // test (with what did arrive) if they do not within timeout.
  void receive(Transcript & t, std::uint64_t first, std::uint64_t last, std::chrono::milliseconds timeout) {
    if (!t.has_all(first, last)) {
      central->wait_for(
          [&](const mqtt::message& m) {
            t.take(m);
            return t.has_all(first, last);
          },
          timeout);
    }
    CHECK_TEXT(t.has_all(first, last),
               ("seqs " + std::to_string(first) + ".." + std::to_string(last) + " did not all arrive within " +
                std::to_string(timeout.count()) + " ms; arrived: " + describe(t.records))
                   .c_str());
    STRCMP_EQUAL_TEXT("", t.problems.c_str(), t.problems.c_str());
  }

  // Polls xrmctl status until the outbox is empty; returns the last status seen.
  json await_empty_outbox(std::chrono::milliseconds timeout) {
    json st;
    const bool empty = poll_until(
        [&] {
          st = status();
          return st["outbox"]["depth"] == 0 && st["uplink"]["in_flight"] == 0;
        },
        timeout, 50ms);
    CHECK_TEXT(empty, ("the outbox did not empty: " + st.dump()).c_str());
    return st;
  }
};

TEST(Uplink, LifecycleRecordsArriveAsBatchesInSeqOrderAndLeaveTheOutbox) {
  guarded([&] {
    subscribe_central();
    start_gateway();
    const std::vector<std::string> devices = {"pump-1", "pump-2", "pump-3", "pump-4", "pump-5"};
    for (const auto& d : devices) provision(d);
    const std::uint64_t last = last_seq();
    CHECK(last >= devices.size());  // one lifecycle record each (other stages may add their own)

    Transcript t;
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
    Transcript before;
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
    gateway->signal(SIGSTOP);
    try {
      upstream->start();
      subscribe_central();
    } catch (...) {
      gateway->signal(SIGCONT);
      throw;
    }
    gateway->signal(SIGCONT);

    Transcript after;
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
    Transcript t;
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
