// LiveTelemetry with a FakeClock and a fake uplink: rate limit, deadband per metric, the metric
// filter, the heartbeat, drops while the upstream is down, reloads, and what goes on the wire.
#include <CppUTest/TestHarness.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/health/profiles.hpp"
#include "xrm/live/live_telemetry.hpp"
#include "xrm/proto/xrm.pb.h"

using namespace std::chrono_literals;
using xrm::live::LiveTelemetry;

namespace {

std::string joined_errors(const std::vector<xrm::config::ConfigError>& errors) {
  std::string s;
  for (const auto& e : errors) s += e.to_string() + "\n";
  return s;
}

// One published message, decoded.
struct Sent {
  std::string topic;
  xrm::v1::Telemetry msg;

  // "name=value,name=value" in message order.
  std::string metrics() const {
    std::string s;
    for (const auto& m : msg.metrics()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%s=%g", s.empty() ? "" : ",", m.name().c_str(), m.value());
      s += buf;
    }
    return s;
  }
};

constexpr const char* kProfiles = R"([[profile]]
class = "chiller"
live = { interval = "5s", deadband = { temp_c = 0.5, default = 0 } }

[[profile]]
class = "pump"
[profile.live]
interval = "1s"
max_interval = "30s"
metrics = ["pressure_bar"]
deadband = { pressure_bar = 0.2 }

[[profile]]
class = "meter"
)";

}  // namespace

TEST_GROUP(LiveTelemetry) {
  xrm::FakeClock clock;
  bool online = true;
  std::vector<Sent> sent;
  std::unique_ptr<LiveTelemetry> live;
  xrm::health::Profiles profiles;

  void setup() override {
    live = std::make_unique<LiveTelemetry>("gw-1", clock, [this](const std::string& topic, std::string payload) {
      if (!online) return false;
      Sent s;
      s.topic = topic;
      CHECK_TEXT(s.msg.ParseFromString(payload), "payload is not a Telemetry");
      sent.push_back(std::move(s));
      return true;
    });
    set_profiles(kProfiles);
  }

  void set_profiles(const std::string& text) {
    std::vector<xrm::config::ConfigError> errors;
    profiles = xrm::health::load_profiles_string(text, "p.toml", errors);
    CHECK_TEXT(errors.empty(), joined_errors(errors).c_str());
    live->set_profiles(profiles);
  }

  static xrm::registry::Device device(const char* id, const char* cls) {
    xrm::registry::Device d;
    d.id = id;
    d.class_name = cls;
    return d;
  }

  // One reading of `dev`; the names must be literals (the sample holds views).
  void report(const xrm::registry::Device& dev, std::uint32_t seq,
              std::vector<std::pair<const char*, double>> metrics) {
    xrm::ingest::TelemetrySample s;
    s.seq = seq;
    s.ts_ms = 42;  // the device's clock: not what goes out
    for (const auto& [name, value] : metrics) s.metrics.push_back({name, value});
    live->on_telemetry(dev, s);
  }
};

TEST(LiveTelemetry, FirstReadingGoesOutWithGatewayTimeAndSeq) {
  const auto d = device("chiller-7", "chiller");
  report(d, 17, {{"temp_c", 4.0}, {"door_open", 0}});
  CHECK_EQUAL(1U, sent.size());
  STRCMP_EQUAL("xrm/v1/gw/gw-1/tele/chiller-7", sent[0].topic.c_str());
  CHECK_EQUAL(17U, sent[0].msg.seq());
  CHECK_EQUAL(static_cast<std::uint64_t>(clock.unix_ms()), sent[0].msg.ts());
  STRCMP_EQUAL("temp_c=4,door_open=0", sent[0].metrics().c_str());
  CHECK_EQUAL(1U, live->counters().sent);
  CHECK_EQUAL(1U, live->devices());
  CHECK_EQUAL(2U, live->enabled_classes());
}

TEST(LiveTelemetry, ClassWithoutLiveSendsNothingAndCountsNothing) {
  const auto d = device("meter-1", "meter");
  for (int i = 0; i < 5; ++i) {
    report(d, i, {{"energy_kwh", 10.0 + i}});
    clock.advance(10s);
  }
  report(device("x-1", "no-such-class"), 1, {{"a", 1}});
  CHECK_EQUAL(0U, sent.size());
  const auto& c = live->counters();
  CHECK_EQUAL(0U, c.sent + c.suppressed_rate + c.suppressed_deadband + c.dropped_offline);
  CHECK_EQUAL(0U, live->devices());
}

TEST(LiveTelemetry, RateLimitHoldsBackUntilTheIntervalHasPassed) {
  const auto d = device("chiller-7", "chiller");
  report(d, 1, {{"temp_c", 4.0}});
  clock.advance(1s);
  report(d, 2, {{"temp_c", 6.0}});  // moved, but 1s < 5s
  clock.advance(3s);
  report(d, 3, {{"temp_c", 7.0}});  // 4s < 5s
  CHECK_EQUAL(1U, sent.size());
  CHECK_EQUAL(2U, live->counters().suppressed_rate);
  clock.advance(1s);  // exactly 5s after the first message
  report(d, 4, {{"temp_c", 7.5}});
  CHECK_EQUAL(2U, sent.size());
  // The newest value goes, compared against the last value *sent* (4), not the held-back ones.
  STRCMP_EQUAL("temp_c=7.5", sent[1].metrics().c_str());
  CHECK_EQUAL(4U, sent[1].msg.seq());
}

TEST(LiveTelemetry, DeadbandPerMetricAgainstTheLastSentValue) {
  const auto d = device("chiller-7", "chiller");
  report(d, 1, {{"temp_c", 4.0}, {"door_open", 0}});
  CHECK_EQUAL(1U, sent.size());
  clock.advance(10s);
  report(d, 2, {{"temp_c", 4.5}, {"door_open", 0}});  // 0.5 is not more than 0.5; door unchanged
  CHECK_EQUAL(1U, sent.size());
  CHECK_EQUAL(1U, live->counters().suppressed_deadband);
  clock.advance(10s);
  report(d, 3, {{"temp_c", 4.4}, {"door_open", 1}});  // door: default 0, any change
  CHECK_EQUAL(2U, sent.size());
  STRCMP_EQUAL("door_open=1", sent[1].metrics().c_str());
  clock.advance(10s);
  // Creeping by 0.3 at a time: compared with the last sent 4.0, the third step passes.
  report(d, 4, {{"temp_c", 4.3}, {"door_open", 1}});
  clock.advance(10s);
  report(d, 5, {{"temp_c", 4.51}, {"door_open", 1}});
  CHECK_EQUAL(3U, sent.size());
  STRCMP_EQUAL("temp_c=4.51", sent[2].metrics().c_str());
  clock.advance(10s);
  report(d, 6, {{"temp_c", 4.0}, {"door_open", 1}});  // 0.51 down
  CHECK_EQUAL(4U, sent.size());
  STRCMP_EQUAL("temp_c=4", sent[3].metrics().c_str());
  CHECK_EQUAL(2U, live->counters().suppressed_deadband);
  CHECK_EQUAL(0U, live->counters().suppressed_rate);
}

TEST(LiveTelemetry, MetricFilterForwardsOnlyTheListedMetrics) {
  const auto d = device("pump-1", "pump");
  report(d, 1, {{"pressure_bar", 2.0}, {"rpm", 1450}, {"temp_c", 30}});
  CHECK_EQUAL(1U, sent.size());
  STRCMP_EQUAL("pressure_bar=2", sent[0].metrics().c_str());
  clock.advance(2s);
  report(d, 2, {{"rpm", 1500}, {"temp_c", 35}});  // nothing this class forwards: not even counted
  CHECK_EQUAL(1U, sent.size());
  CHECK_EQUAL(0U, live->counters().suppressed_deadband);
  report(d, 3, {{"pressure_bar", 2.1}, {"rpm", 1500}});  // 0.1 <= 0.2
  CHECK_EQUAL(1U, live->counters().suppressed_deadband);
  report(d, 4, {{"pressure_bar", 2.5}, {"rpm", 1500}});
  CHECK_EQUAL(2U, sent.size());
  STRCMP_EQUAL("pressure_bar=2.5", sent[1].metrics().c_str());
}

TEST(LiveTelemetry, HeartbeatCarriesEverySelectedMetricAfterMaxInterval) {
  const auto d = device("pump-1", "pump");
  report(d, 1, {{"pressure_bar", 2.0}, {"rpm", 1450}});
  for (int i = 0; i < 29; ++i) {  // steady for 29 s: nothing
    clock.advance(1s);
    report(d, 2 + i, {{"pressure_bar", 2.0}, {"rpm", 1450}});
  }
  CHECK_EQUAL(1U, sent.size());
  CHECK_EQUAL(29U, live->counters().suppressed_deadband);
  clock.advance(1s);  // 30 s since the last message
  report(d, 31, {{"pressure_bar", 2.0}, {"rpm", 1450}});
  CHECK_EQUAL(2U, sent.size());
  STRCMP_EQUAL("pressure_bar=2", sent[1].metrics().c_str());
  CHECK_EQUAL(31U, sent[1].msg.seq());
  // The heartbeat restarts the clock: the next one is 30 s later again.
  clock.advance(29s);
  report(d, 32, {{"pressure_bar", 2.0}});
  CHECK_EQUAL(2U, sent.size());
  clock.advance(1s);
  report(d, 33, {{"pressure_bar", 2.0}});
  CHECK_EQUAL(3U, sent.size());
}

TEST(LiveTelemetry, WithoutMaxIntervalASteadyDeviceStaysQuiet) {
  const auto d = device("chiller-7", "chiller");
  report(d, 1, {{"temp_c", 4.0}});
  for (int i = 0; i < 10; ++i) {
    clock.advance(1h);
    report(d, 2 + i, {{"temp_c", 4.0}});
  }
  CHECK_EQUAL(1U, sent.size());
  CHECK_EQUAL(10U, live->counters().suppressed_deadband);
}

TEST(LiveTelemetry, OfflineMessagesAreDroppedCountedAndNotRemembered) {
  const auto d = device("chiller-7", "chiller");
  online = false;
  report(d, 1, {{"temp_c", 4.0}});
  CHECK_EQUAL(0U, sent.size());
  CHECK_EQUAL(1U, live->counters().dropped_offline);
  // The rate limit applies to dropped messages too: one drop per interval, not one per reading.
  clock.advance(1s);
  report(d, 2, {{"temp_c", 4.0}});
  CHECK_EQUAL(1U, live->counters().dropped_offline);
  CHECK_EQUAL(1U, live->counters().suppressed_rate);
  clock.advance(5s);
  report(d, 3, {{"temp_c", 4.0}});
  CHECK_EQUAL(2U, live->counters().dropped_offline);
  // Back online: the value never reached central, so it goes out although it did not move.
  online = true;
  clock.advance(5s);
  report(d, 4, {{"temp_c", 4.0}});
  CHECK_EQUAL(1U, sent.size());
  STRCMP_EQUAL("temp_c=4", sent[0].metrics().c_str());
  CHECK_EQUAL(1U, live->counters().sent);
  CHECK_EQUAL(2U, live->counters().dropped_offline);
}

TEST(LiveTelemetry, DevicesAreIndependent) {
  const auto a = device("chiller-1", "chiller");
  const auto b = device("chiller-2", "chiller");
  report(a, 1, {{"temp_c", 4.0}});
  report(b, 1, {{"temp_c", 4.0}});
  CHECK_EQUAL(2U, sent.size());
  STRCMP_EQUAL("xrm/v1/gw/gw-1/tele/chiller-2", sent[1].topic.c_str());
  CHECK_EQUAL(2U, live->devices());
}

TEST(LiveTelemetry, ReloadAppliesNewSettingsAndForgetsClassesNoLongerLive) {
  const auto c = device("chiller-7", "chiller");
  const auto p = device("pump-1", "pump");
  report(c, 1, {{"temp_c", 4.0}});
  report(p, 1, {{"pressure_bar", 2.0}});
  CHECK_EQUAL(2U, sent.size());
  // chiller: a wider deadband and a shorter interval; pump: live telemetry off.
  set_profiles(R"([[profile]]
class = "chiller"
live = { interval = "1s", deadband = { default = 2 } }
[[profile]]
class = "pump"
)");
  CHECK_EQUAL(1U, live->enabled_classes());
  CHECK_EQUAL(1U, live->devices());  // the pump's state is gone
  clock.advance(1s);
  report(c, 2, {{"temp_c", 5.5}});  // the chiller keeps its last sent value: 1.5 <= 2
  report(p, 2, {{"pressure_bar", 9.0}});
  CHECK_EQUAL(2U, sent.size());
  report(c, 3, {{"temp_c", 6.5}});
  CHECK_EQUAL(3U, sent.size());
  // Off for every class: nothing at all.
  set_profiles("");
  CHECK_EQUAL(0U, live->enabled_classes());
  CHECK_EQUAL(0U, live->devices());
  clock.advance(1h);
  report(c, 4, {{"temp_c", 20}});
  CHECK_EQUAL(3U, sent.size());
}

TEST(LiveTelemetry, ForgetStartsADeviceOver) {
  const auto d = device("chiller-7", "chiller");
  report(d, 1, {{"temp_c", 4.0}});
  live->forget("chiller-7");
  CHECK_EQUAL(0U, live->devices());
  report(d, 2, {{"temp_c", 4.0}});  // no rate limit, no last value: goes at once
  CHECK_EQUAL(2U, sent.size());
}

TEST(LiveTelemetry, MemoryPerDeviceIsBounded) {
  set_profiles("[[profile]]\nclass = \"chiller\"\nlive = { interval = \"1s\" }\n");
  const auto d = device("chiller-7", "chiller");
  std::vector<std::string> names;
  for (std::size_t i = 0; i < LiveTelemetry::kMaxMetrics + 10; ++i) names.push_back("m" + std::to_string(i));
  xrm::ingest::TelemetrySample s;
  for (const auto& n : names) s.metrics.push_back({n, 1.0});
  live->on_telemetry(d, s);
  CHECK_EQUAL(1U, sent.size());
  CHECK_EQUAL(static_cast<int>(names.size()), sent[0].msg.metrics_size());
  // Same values again, after the interval: the device's memory was reset at the cap, so some
  // metrics go again; the process does not grow without bound.
  clock.advance(1s);
  live->on_telemetry(d, s);
  CHECK_EQUAL(2U, sent.size());
  CHECK(sent[1].msg.metrics_size() > 0);
  CHECK(static_cast<std::size_t>(sent[1].msg.metrics_size()) <= names.size());
}
