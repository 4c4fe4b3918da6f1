// The outbox's promises end to end, with real brokers, real devices (Paho clients with the
// credentials xrmctl made) and the real daemon: a 30 s upstream outage under load loses no critical
// record; a bulk lane over its budget becomes a gap record with the exact count; a kill -9 during
// the drain loses nothing and sequence numbers go on after it; confirm = "central" keeps rows until
// xrm-tap --ack confirms them; a record the broker refuses is set aside with a gap and the queue
// moves on; repeated kill -9s under QoS 1 load lose no acknowledged event and never reuse a seq; an
// upstream whose ACL refuses every publish gets each record once, into the dead letters, and no
// retry loop.
#include <CppUTest/TestHarness.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway_rig.hpp"
#include "record_transcript.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/device_client.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/wall_clock.hpp"
#include "xrm/testing/process.hpp"
#include "xrm/testing/subscriber.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::Arrived;
using xrm::testing::check_complete_and_ordered;
using xrm::testing::deduplicated;
using xrm::testing::describe;
using xrm::testing::DeviceClient;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::guarded;
using xrm::testing::of_kind;
using xrm::testing::poll_until;
using xrm::testing::unix_ms;
using xrm::testing::Process;
using xrm::testing::Subscriber;
using xrm::testing::TempDir;
using xrm::testing::Transcript;

constexpr auto kWait = 10s;
constexpr auto kDrainWait = 60s;  // a backlog of a few thousand records under the sanitizers
constexpr const char* kGatewayId = "gw-ob";
const std::string kRecordFilter = std::string("xrm/v1/gw/") + kGatewayId + "/rec/#";

// PRAGMA integrity_check of a database nobody has open: "ok", or what SQLite found.
std::string integrity_of(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    result = std::string("cannot open: ") + sqlite3_errmsg(db);
  } else {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check;", -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        result += (result.empty() ? "" : "; ") + std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
      }
    } else {
      result = sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

// How many kill -9s the kill test does: 10, or XRM_FAULT_KILLS for the long mode.
int kills_wanted() {
  const char* v = std::getenv("XRM_FAULT_KILLS");
  const int n = v == nullptr ? 0 : std::atoi(v);
  return n > 10 ? n : 10;
}

}  // namespace

TEST_GROUP(OutboxIT) {
  GatewayRig rig;
  TempDir dir{"xrm-outbox-it"};
  std::unique_ptr<Subscriber> central;
  std::vector<std::unique_ptr<DeviceClient>> devices;
  std::vector<std::string> names;
  std::vector<int> event_seq;
  std::vector<int> tele_seq;

  void teardown() override {
    devices.clear();
    central.reset();
  }

  // Brokers, then the daemon with `s` (its gateway id set here); summaries every second.
  void start(GatewaySettings s, bool with_upstream = true) {
    s.gateway_id = kGatewayId;
    s.log_level = "info";
    s.extra_toml += "\n[condense]\nwindow = \"1s\"\n";
    rig.start(s, false, with_upstream);
    if (with_upstream) subscribe_central();
    rig.gateway->start();
    CHECK_TEXT(rig.gateway->wait_for_log("local: connected", kWait), "gateway did not connect to the local broker");
  }
  void subscribe_central() {
    central = std::make_unique<Subscriber>(rig.upstream->url());
    central->subscribe(kRecordFilter);
  }

  // Provisions n chillers and connects each as a device.
  void fleet(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string name = "ch-" + std::to_string(i + 1);
      json cred = rig.ctl_json({"provision", name, "--class", "chiller", "--owner", "acme", "--technician", "tom"});
      auto dev = std::make_unique<DeviceClient>(rig.local->url(), name);
      STRCMP_EQUAL_TEXT("", dev->connect(name, cred["password"].get<std::string>()).c_str(), "credentials refused");
      devices.push_back(std::move(dev));
      names.push_back(name);
      event_seq.push_back(0);
      tele_seq.push_back(0);
    }
  }
  // One service event from device i (QoS 1: the local broker has it when this returns).
  void event(std::size_t i, const std::string& extra = "") {
    const int seq = ++event_seq[i];
    CHECK(devices[i]->publish("xrm/v1/dev/" + names[i] + "/evt",
                              "{\"seq\":" + std::to_string(seq) + ",\"ts\":" + std::to_string(unix_ms()) +
                                  ",\"type\":\"maintenance\"" + extra + "}",
                              1));
  }
  void telemetry(std::size_t i) {
    const int seq = ++tele_seq[i];
    CHECK(devices[i]->publish("xrm/v1/dev/" + names[i] + "/tele",
                              "{\"seq\":" + std::to_string(seq) + ",\"temp_c\":" + std::to_string(4 + seq % 3) + "}", 0));
  }
  // Every device: one event and one telemetry message per round, a round every `every`.
  int load(std::chrono::milliseconds how_long, std::chrono::milliseconds every) {
    int events = 0;
    const auto end = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < end) {
      for (std::size_t i = 0; i < devices.size(); ++i) {
        event(i);
        telemetry(i);
        ++events;
      }
      std::this_thread::sleep_for(every);
    }
    return events;
  }

  json status() { return rig.ctl_json({"status"}); }
  std::uint64_t last_seq() { return status()["outbox"]["last_seq"].get<std::uint64_t>(); }
  // Waits until every event the devices sent has its record (the daemon has taken them all).
  void await_events_recorded(int events) { rig.await_events(static_cast<std::size_t>(events), kWait); }
  json await_empty_outbox(std::chrono::milliseconds timeout) { return rig.await_empty_outbox(timeout); }
  void receive(Transcript & t, std::uint64_t first, std::uint64_t last, std::chrono::milliseconds timeout) {
    xrm::testing::receive_all(*central, t, first, last, timeout);
  }
  // The upstream broker goes away with nothing of the gateway's on its way to central. The summary
  // windows close every second, so a record can be on its way at any moment, and in "broker" mode
  // the gateway forgets it at the broker's PUBACK: one still in the broker, or unread in the
  // `central` that restart_upstream() replaces, would be lost to the test (CI once lost three that
  // way). The daemon is held while central reads what is still coming.
  void stop_upstream(Transcript& t) {
    bool stopped = false;
    rig.gateway->held([&] {
      central->wait_for(
          [&](const mqtt::message& m) {
            t.take(m);
            return false;
          },
          1s);
      stopped = rig.upstream->stop().has_value();
    });
    CHECK_TEXT(stopped, "the upstream broker did not stop");
  }
  // The upstream broker comes back on its port with central subscribed before the gateway can
  // send (the restarted broker keeps no sessions): the daemon is held meanwhile.
  void restart_upstream() {
    rig.gateway->held([&] {
      rig.upstream->start();
      subscribe_central();
    });
  }
};

TEST(OutboxIT, EveryCriticalRecordOfA30sUpstreamOutageUnderLoadArrivesOnceDeduplicatedAndInOrder) {
  guarded([&] {
    start(GatewaySettings{});
    fleet(3);
    int events = load(3s, 100ms);
    // What went before the outage reached central.
    await_events_recorded(events);
    Transcript t{kGatewayId};
    receive(t, 1, last_seq(), kWait);
    stop_upstream(t);
    CHECK_TEXT(rig.gateway->wait_for_log("upstream: disconnected", kWait), "the gateway did not notice the outage");
    events += load(30s, 100ms);
    const json down = status();
    CHECK_FALSE(down["connections"]["upstream"]["connected"].get<bool>());
    CHECK_TEXT(down["outbox"]["critical"].get<std::uint64_t>() > 0, down["outbox"].dump().c_str());
    restart_upstream();
    events += load(3s, 100ms);
    await_events_recorded(events);
    const std::uint64_t last = last_seq();

    receive(t, 1, last, kDrainWait);
    const std::vector<Arrived> stored = deduplicated(t.records);
    STRCMP_EQUAL_TEXT("", check_complete_and_ordered(stored, 1, last).c_str(),
                      ("arrived " + std::to_string(t.records.size()) + " records").c_str());
    // Each device's events, once each after de-duplication, in the order the device sent them.
    const auto recorded = of_kind(stored, xrm::v1::RECORD_KIND_EVENT);
    CHECK_EQUAL(events, static_cast<int>(recorded.size()));
    for (const auto& name : names) {
      std::uint32_t prev = 0;
      for (const auto& r : recorded) {
        if (r.device != name) continue;
        const std::uint32_t s = t.bodies.at(r.seq).event().event().seq();
        CHECK_TEXT(s == prev + 1, (name + ": device event " + std::to_string(s) + " after " + std::to_string(prev)).c_str());
        prev = s;
      }
    }
    CHECK(of_kind(stored, xrm::v1::RECORD_KIND_SUMMARY).size() > 0);
    CHECK(of_kind(stored, xrm::v1::RECORD_KIND_GAP).empty());  // nothing was dropped
    await_empty_outbox(kWait);
  });
}

TEST(OutboxIT, BulkRecordsOverTheBudgetBecomeAGapRecordWithTheExactCount) {
  guarded([&] {
    GatewaySettings settings;
    settings.extra_toml = "\n[outbox]\nmax_bytes = \"2KiB\"\n";
    start(settings, false);  // no central broker: everything waits
    fleet(4);
    const int events = load(6s, 200ms);
    await_events_recorded(events);
    json st;
    CHECK_TEXT(poll_until(
                   [&] {
                     st = status();
                     return st["outbox"]["dropped_records"].get<std::uint64_t>() > 0;
                   },
                   kWait, 100ms),
               st["outbox"].dump().c_str());
    CHECK_TEXT(st["outbox"]["bulk_bytes"].get<std::uint64_t>() <= 2048 + 4096,  // a second's summaries at most
               st["outbox"].dump().c_str());
    // Stop making records, then let central see everything: after the restart (its shutdown
    // flushes open windows, and its first limit check may drop more), the outbox drains.
    devices.clear();
    CHECK(rig.gateway->terminate().has_value());
    rig.upstream->start();
    subscribe_central();
    rig.gateway->start();
    CHECK_TEXT(poll_until([&] { return rig.ctl({"status"}).exit_code == 0; }, kWait, 100ms), "the daemon did not come back");
    const json after = await_empty_outbox(kDrainWait);
    const std::uint64_t last = after["outbox"]["last_seq"].get<std::uint64_t>();
    const std::uint64_t dropped = after["outbox"]["dropped_records"].get<std::uint64_t>();

    // Everything arrives except the dropped seqs, which the gap records name exactly.
    Transcript t{kGatewayId};
    std::set<std::uint64_t> reported;
    std::uint64_t reported_count = 0;
    const bool done = nullptr != central->wait_for(
        [&](const mqtt::message& m) {
          t.take(m);
          reported.clear();
          reported_count = 0;
          for (const auto& [seq, r] : t.bodies) {
            if (r.kind() != xrm::v1::RECORD_KIND_GAP) continue;
            reported_count += r.gap().dropped_records();
            for (std::uint64_t s = r.gap().first_dropped_seq(); s <= r.gap().last_dropped_seq(); ++s) {
              if (t.bodies.count(s) == 0) reported.insert(s);
            }
          }
          return t.bodies.size() + reported.size() >= last;
        },
        kDrainWait);
    CHECK_TEXT(done, ("arrived " + std::to_string(t.bodies.size()) + ", reported dropped " +
                      std::to_string(reported.size()) + ", last seq " + std::to_string(last))
                         .c_str());
    STRCMP_EQUAL_TEXT("", t.problems.c_str(), t.problems.c_str());
    // Exact: the gap records' counts equal the seqs that never came, and what status counted.
    CHECK_EQUAL(dropped, reported_count);
    CHECK_EQUAL(dropped, static_cast<std::uint64_t>(reported.size()));
    for (std::uint64_t s = 1; s <= last; ++s) {
      CHECK_TEXT(t.bodies.count(s) == 1 || reported.count(s) == 1, ("seq " + std::to_string(s) + " unaccounted").c_str());
    }
    // Only bulk kinds were dropped.
    for (const auto& [seq, r] : t.bodies) {
      if (r.kind() != xrm::v1::RECORD_KIND_GAP) continue;
      for (int k : r.gap().dropped_kinds()) {
        CHECK_TEXT(k == xrm::v1::RECORD_KIND_SUMMARY || k == xrm::v1::RECORD_KIND_HEALTH, r.gap().detail().c_str());
      }
    }
    // No critical record was dropped: every event arrived.
    CHECK_EQUAL(events, static_cast<int>(of_kind(deduplicated(t.records), xrm::v1::RECORD_KIND_EVENT).size()));
    const auto gaps = of_kind(deduplicated(t.records), xrm::v1::RECORD_KIND_GAP);
    CHECK(!gaps.empty());
    const auto& g = t.bodies.at(gaps.front().seq);
    CHECK_EQUAL(xrm::v1::GAP_REASON_OUTBOX_BUDGET, g.gap().reason());
    CHECK(g.gap().dropped_bytes() > 0);
    CHECK(g.span_start_ms() > 0 && g.span_end_ms() >= g.span_start_ms());
  });
}

TEST(OutboxIT, AKillDashNineDuringTheDrainLosesNothingAndSequenceNumbersGoOn) {
  guarded([&] {
    start(GatewaySettings{}, false);
    fleet(3);
    int events = load(8s, 5ms);
    // A slow or busy machine publishes less in 8 s: load on until the backlog is worth interrupting.
    for (int more = 0; more < 10 && events < 450; ++more) events += load(2s, 5ms);
    await_events_recorded(events);
    const std::uint64_t last = last_seq();
    CHECK_TEXT(last > 400, std::to_string(last).c_str());

    // Central comes (subscribed before the gateway can send: in mode "broker" a batch the broker
    // acknowledged while nobody was subscribed is gone); the drain starts; the daemon dies in the
    // middle of it.
    restart_upstream();
    Transcript t{kGatewayId};
    central->wait_for(
        [&](const mqtt::message& m) {
          t.take(m);
          return t.bodies.size() >= 200;
        },
        kWait);
    rig.gateway->kill9();
    CHECK_TEXT(t.bodies.size() >= 200 && t.bodies.size() < last,
               ("the kill did not land during the drain: " + std::to_string(t.bodies.size()) + " of " +
                std::to_string(last))
                   .c_str());

    rig.gateway->start();
    CHECK_TEXT(rig.gateway->wait_for_log("local: connected", kWait), "the daemon did not come back");
    // New records after the restart take new numbers.
    rig.ctl_json({"provision", "late-1", "--class", "chiller"});
    await_empty_outbox(kDrainWait);
    const std::uint64_t after = last_seq();
    CHECK_TEXT(after > last + 1, ("last seq " + std::to_string(last) + " then " + std::to_string(after)).c_str());
    receive(t, 1, after, kDrainWait);
    const std::vector<Arrived> stored = deduplicated(t.records);
    STRCMP_EQUAL_TEXT("", check_complete_and_ordered(stored, 1, after).c_str(), "after the kill");
    CHECK_EQUAL(events, static_cast<int>(of_kind(stored, xrm::v1::RECORD_KIND_EVENT).size()));
    bool late = false;
    for (const auto& r : of_kind(stored, xrm::v1::RECORD_KIND_LIFECYCLE)) late = late || (r.device == "late-1" && r.seq > last);
    CHECK_TEXT(late, "the device provisioned after the restart has no lifecycle record with a new seq");
  });
}

TEST(OutboxIT, ConfirmCentralKeepsRowsUntilXrmTapAcksThem) {
  guarded([&] {
    GatewaySettings s;
    s.upstream_extra = "confirm = \"central\"\nack_timeout = \"2s\"\n";
    start(s);
    fleet(2);
    const std::uint64_t last = last_seq();
    Transcript t{kGatewayId};
    receive(t, 1, last, kWait);
    // Delivered to the broker and to a subscriber, but nobody confirmed: the rows stay, and are
    // sent again after ack_timeout.
    json st;
    CHECK_TEXT(poll_until(
                   [&] {
                     st = status();
                     return st["uplink"]["ack_timeouts"].get<int>() >= 1;
                   },
                   kWait, 100ms),
               st["uplink"].dump().c_str());
    CHECK_TEXT(st["outbox"]["depth"].get<std::uint64_t>() >= last, st["outbox"].dump().c_str());
    CHECK_EQUAL_TEXT(0, st["uplink"]["acked_records"].get<int>(), st["uplink"].dump().c_str());

    // xrm-tap, as central would, receives them (at the next re-send) and acks exactly those.
    Process tap({{XRM_TAP_PATH, "--url", rig.upstream->url(), "--gateway", kGatewayId, "--ack", "--count",
                  std::to_string(last), "--timeout", "30s"},
                 {},
                 dir.file("tap.out"),
                 dir.file("tap.err"),
                 {}});
    const auto code = tap.wait_exit(kDrainWait);
    CHECK_TEXT(code.has_value() && *code == 0, xrm::testing::read_file(dir.file("tap.err")).c_str());
    st = await_empty_outbox(kWait);
    CHECK_TEXT(st["uplink"]["acked_records"].get<std::uint64_t>() >= last, st["uplink"].dump().c_str());
  });
}

TEST(OutboxIT, ARecordTheBrokerRefusesIsSetAsideWithAGapAndTheQueueMovesOn) {
  guarded([&] {
    GatewaySettings s;
    s.gateway_id = kGatewayId;
    s.log_level = "info";
    rig.start(s, false, false);  // brokers made, the upstream not started: it gets a size limit
    rig.upstream->add_config("message_size_limit 4000\n");
    rig.upstream->start();
    subscribe_central();
    rig.gateway->start();
    CHECK_TEXT(rig.gateway->wait_for_log("upstream: connected", kWait), "gateway did not connect upstream");
    fleet(1);
    event(0, ",\"note\":\"" + std::string(6000, 'x') + "\"");  // its record is over the limit
    event(0);
    await_events_recorded(2);
    const std::uint64_t last = last_seq();
    json st = await_empty_outbox(kWait);
    CHECK_EQUAL_TEXT(1, st["outbox"]["dead_letters"].get<int>(), st["outbox"].dump().c_str());

    Transcript t{kGatewayId};
    central->wait_for(
        [&](const mqtt::message& m) {
          t.take(m);
          return !of_kind(deduplicated(t.records), xrm::v1::RECORD_KIND_GAP).empty() && t.has(last);
        },
        kWait);
    const auto gaps = of_kind(deduplicated(t.records), xrm::v1::RECORD_KIND_GAP);
    CHECK_EQUAL(1U, gaps.size());
    const auto& g = t.bodies.at(gaps[0].seq).gap();
    CHECK_EQUAL(xrm::v1::GAP_REASON_UPSTREAM_REFUSED, g.reason());
    CHECK_FALSE(t.has(g.first_dropped_seq()));
    // The small event after it arrived: the queue moved on.
    const auto events = of_kind(deduplicated(t.records), xrm::v1::RECORD_KIND_EVENT);
    CHECK_EQUAL(1U, events.size());
    CHECK_EQUAL(2U, t.bodies.at(events[0].seq).event().event().seq());
    auto dead = rig.ctl_json({"dead-letters", "--upstream"});
    CHECK_TEXT(dead.dump().find("\"seq\":" + std::to_string(g.first_dropped_seq())) != std::string::npos,
               dead.dump().c_str());
  });
}

// Devices publish service events at QoS 1 without a pause while the daemon is killed (SIGKILL) and
// restarted again and again. The device's PUBACK comes from the local broker, which then owes the
// event to the daemon's persistent session; the daemon acknowledges it only once the event is
// committed. So every event a device saw acknowledged must reach central, and exactly once after
// central's de-duplication by (gateway, seq); seqs must only grow across the restarts (never one
// seq for two records) and the database must pass PRAGMA integrity_check after every kill.
TEST(OutboxIT, RepeatedKillDashNinesUnderQos1LoadLoseNoAcknowledgedEventAndNeverReuseASeq) {
  guarded([&] {
    GatewaySettings s;
    s.gateway_id = kGatewayId;
    s.log_level = "info";
    s.extra_toml += "\n[condense]\nwindow = \"1s\"\n";
    rig.start(s, false);
    rig.local->add_config("max_queued_messages 20000\n");  // as the packaged broker (operations.md)
    rig.local->restart();
    subscribe_central();
    rig.gateway->start();
    CHECK_TEXT(rig.gateway->wait_for_log("local: connected", kWait), "gateway did not connect to the local broker");
    fleet(3);

    // The publisher: its own thread, so the kills land while events are on their way. It only
    // records; the test thread checks.
    std::mutex mu;
    std::set<std::pair<std::string, int>> acked;   // the device had its PUBACK
    std::set<std::pair<std::string, int>> unsure;  // the publish timed out: may or may not arrive
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
      for (int seq = 1; !stop; ++seq) {
        for (std::size_t i = 0; i < devices.size(); ++i) {
          const bool ok = devices[i]->publish(
              "xrm/v1/dev/" + names[i] + "/evt",
              "{\"seq\":" + std::to_string(seq) + ",\"ts\":" + std::to_string(unix_ms()) + ",\"type\":\"maintenance\"}", 1,
              false, 5s);
          devices[i]->publish("xrm/v1/dev/" + names[i] + "/tele",
                              "{\"seq\":" + std::to_string(seq) + ",\"temp_c\":" + std::to_string(4 + seq % 3) + "}", 0);
          const std::lock_guard<std::mutex> lock(mu);
          (ok ? acked : unsure).insert({names[i], seq});
        }
        std::this_thread::sleep_for(10ms);
      }
    });
    struct Join {
      std::atomic<bool>& stop;
      std::thread& t;
      ~Join() {
        stop = true;
        if (t.joinable()) t.join();
      }
    } join{stop, publisher};

    const int kills = kills_wanted();
    std::uint64_t seq_before = 0;
    for (int k = 1; k <= kills; ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(400 + (k * 317) % 900));  // 0.4 to 1.3 s of load
      const std::uint64_t seen = last_seq();
      CHECK_TEXT(seen >= seq_before, ("kill " + std::to_string(k) + ": last seq went back from " +
                                      std::to_string(seq_before) + " to " + std::to_string(seen)).c_str());
      seq_before = seen;
      rig.gateway->kill9();
      STRCMP_EQUAL_TEXT("ok", integrity_of(rig.gateway->data_dir() + "/gateway.db").c_str(),
                        ("after kill " + std::to_string(k)).c_str());
      rig.gateway->start();
      CHECK_TEXT(rig.gateway->wait_for_log("local: connected", kWait),
                 ("the daemon did not come back after kill " + std::to_string(k)).c_str());
    }
    std::this_thread::sleep_for(500ms);
    stop = true;
    publisher.join();

    const std::lock_guard<std::mutex> lock(mu);  // the publisher has ended; for the analyzers' sake
    CHECK_TEXT(acked.size() > static_cast<std::size_t>(kills) * 30,
               ("too little load to mean anything: " + std::to_string(acked.size()) + " events").c_str());
    // Everything the broker still owed the daemon is taken, committed and sent: central reads until
    // every acknowledged event has arrived (the daemon's counters start again with it, so they
    // cannot tell), then the outbox empties and the last seq is final.
    Transcript t{kGatewayId};
    // (device, device seq) of each event record, and how many records it has after de-duplication.
    const auto events_arrived = [&t] {
      std::map<std::pair<std::string, int>, int> out;
      for (const auto& r : of_kind(deduplicated(t.records), xrm::v1::RECORD_KIND_EVENT)) {
        ++out[{r.device, static_cast<int>(t.bodies.at(r.seq).event().event().seq())}];
      }
      return out;
    };
    const auto all_acked_arrived = [&] {
      const auto arrived = events_arrived();
      return std::all_of(acked.begin(), acked.end(), [&](const auto& key) { return arrived.count(key) > 0; });
    };
    central->wait_for(
        [&](const mqtt::message& m) {
          t.take(m);
          return all_acked_arrived();
        },
        kDrainWait);
    await_empty_outbox(kDrainWait);
    const std::uint64_t last = last_seq();
    CHECK_TEXT(last >= seq_before, "the last seq went back after the final restart");
    receive(t, 1, last, kDrainWait);  // also fails on a seq that arrived as two different records
    STRCMP_EQUAL_TEXT("", check_complete_and_ordered(deduplicated(t.records), 1, last).c_str(), "after the kills");

    const auto arrived = events_arrived();
    std::string lost;
    std::string twice;
    std::string unknown;
    for (const auto& key : acked) {
      if (arrived.count(key) == 0) lost += " " + key.first + "#" + std::to_string(key.second);
    }
    for (const auto& [key, n] : arrived) {
      if (n > 1) twice += " " + key.first + "#" + std::to_string(key.second);
      if (acked.count(key) == 0 && unsure.count(key) == 0) unknown += " " + key.first + "#" + std::to_string(key.second);
    }
    STRCMP_EQUAL_TEXT("", lost.c_str(), "acknowledged events that never reached central");
    STRCMP_EQUAL_TEXT("", twice.c_str(), "events recorded twice (under two seqs)");
    STRCMP_EQUAL_TEXT("", unknown.c_str(), "events nobody sent");
    STRCMP_EQUAL("ok", integrity_of(rig.gateway->data_dir() + "/gateway.db").c_str());
    std::printf("\n%d kills under load: %zu events acknowledged to devices (%zu unsure), %zu arrived, last seq %llu\n",
                kills, acked.size(), unsure.size(), arrived.size(), static_cast<unsigned long long>(last));
  });
}

// An upstream broker whose ACL lets the gateway publish its status but no record: MQTT 5 brokers
// answer each publish "not authorized" (reason 0x87). Each refused record is tried once on its own,
// then set aside in the upstream dead letters with a gap record (which is refused in turn and set
// aside without a gap of its own); the drain then waits for new records instead of trying again, so
// the broker sees no retry loop. Once the ACL is fixed, requeueing sends every record.
TEST(OutboxIT, AnUpstreamAclThatRefusesEveryRecordDeadLettersEachOnceWithoutARetryLoop) {
  guarded([&] {
    GatewaySettings s;
    s.gateway_id = kGatewayId;
    s.log_level = "info";
    rig.start(s, false, false);
    const std::string acl = dir.file("acl");
    std::ofstream(acl) << "topic readwrite xrm/v1/gw/" << kGatewayId << "/status\n"
                       << "topic read xrm/v1/gw/" << kGatewayId << "/#\n";
    rig.upstream->add_config("acl_file " + acl + "\n");
    rig.upstream->start();
    subscribe_central();
    rig.gateway->start();
    CHECK_TEXT(rig.gateway->wait_for_log("upstream: connected", kWait), "gateway did not connect upstream");
    fleet(2);
    for (int i = 0; i < 5; ++i) {
      event(0);
      event(1);
    }
    await_events_recorded(10);
    json st = await_empty_outbox(kWait);
    const std::uint64_t last = last_seq();
    const auto dead = st["outbox"]["dead_letters"].get<std::uint64_t>();
    // Every record is in the dead letters: the 12 made here (10 events, 2 lifecycle) and one gap
    // record for each of them.
    CHECK_TEXT(dead >= 24 && dead == last, st["outbox"].dump().c_str());
    const auto refused_lines = rig.gateway->log_count("refused by the broker on its own");
    CHECK_EQUAL_TEXT(dead, refused_lines, rig.gateway->log().c_str());

    // No retry loop: with nothing new to send, the broker hears nothing more from the gateway.
    const json before = status()["uplink"];
    std::this_thread::sleep_for(3s);
    const json after = status()["uplink"];
    CHECK_EQUAL_TEXT(before["publish_errors"].get<std::uint64_t>(), after["publish_errors"].get<std::uint64_t>(),
                     (before.dump() + " then " + after.dump()).c_str());
    CHECK_EQUAL(refused_lines, rig.gateway->log_count("refused by the broker on its own"));
    CHECK(rig.gateway->is_running());
    CHECK(central->seen().empty());

    // The ACL fixed (the broker restarted without it): the dead letters go again under their seqs.
    rig.gateway->held([&] {
      rig.upstream->stop();
      std::ofstream(acl, std::ios::trunc) << "topic readwrite xrm/v1/#\n";
    });
    rig.upstream->start();
    subscribe_central();
    CHECK_TEXT(rig.gateway->wait_for_log("upstream: connected", kWait), "gateway did not reconnect upstream");
    rig.ctl_json({"dead-letters", "--upstream", "--requeue"});
    await_empty_outbox(kDrainWait);
    Transcript t{kGatewayId};
    receive(t, 1, last, kDrainWait);
    CHECK_EQUAL(10U, of_kind(deduplicated(t.records), xrm::v1::RECORD_KIND_EVENT).size());
  });
}
