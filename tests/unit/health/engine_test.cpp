// The health engine with a fake clock over a real SQLite file: score and explanation, bands with
// hysteresis and dwell (no flapping on noise), alert de-duplication, escalation and clearing,
// device commands, offline, and state that survives a restart.
#include <CppUTest/TestHarness.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/health/engine.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"
#include "xrm/testing/store_fixture.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using xrm::health::Band;
using xrm::registry::Lifecycle;

namespace {

// Score 100 - 40 (hot) = 60: degraded; - 40 more (very hot) = 20: critical.
constexpr const char* kProfiles = R"([[profile]]
class = "chiller"
expected_interval = "10s"
offline_after = "60s"
bands = { healthy = 80, critical = 50 }
hysteresis = 5
dwell = "10s"
escalate = { degraded = "alert", critical = "service_request" }

[[profile.rule]]
name = "overheat"
when = "max(temp_c, 5s) > 8"
penalty = 40

[[profile.rule]]
name = "meltdown"
when = "max(temp_c, 5s) > 20"
penalty = 40

[[profile.rule]]
name = "wobble"
when = "last(wobble, 1m) > 0"
penalty = 17
)";

struct Fixture : xrm::testing::StoreFixture {
  std::unique_ptr<xrm::health::HealthEngine> engine;
  xrm::health::Profiles profiles;
  xrm::ingest::DeviceIngest ingest;
  std::vector<std::pair<std::string, std::string>> commands;
  std::string profiles_text = kProfiles;

  explicit Fixture(const std::string& text = kProfiles) : StoreFixture("health"), profiles_text(text) {
    start_engine();
    xrm::registry::Stakeholders links{"acme", "plant-a", "tech-ana", "coolco", "CH-200"};
    CHECK(registry->add("c-1", "chiller", links, "test").is_ok());
  }
  ~Fixture() override { engine.reset(); }

  // Closes everything and opens it again over the same data directory: a restart.
  void open() {
    engine.reset();
    close_store();
    open_store();
    start_engine();
  }
  void start_engine() {
    std::vector<xrm::config::ConfigError> errors;
    profiles = xrm::health::load_profiles_string(profiles_text, "profiles.toml", errors);
    CHECK_TEXT(errors.empty(), errors.empty() ? "" : errors[0].to_string().c_str());
    engine = std::make_unique<xrm::health::HealthEngine>(*db, *registry, *outbox, clock,
                                                         xrm::health::EngineSettings{"gw-t", 30s});
    engine->set_command_sink([this](const std::string& topic, std::string payload) {
      commands.emplace_back(topic, std::move(payload));
    });
    CHECK(engine->load(profiles).is_ok());
  }

  const xrm::registry::Device& device() { return *registry->find("c-1"); }

  void tele(const std::string& metric, double value) {
    registry->note_data("c-1", "xrm/v1/dev/c-1/tele");
    xrm::ingest::TelemetrySample s;
    s.metrics.push_back({metric, value});
    engine->on_telemetry(device(), s, ingest);
  }
  // A reading every second for `seconds`, ticking as the daemon would.
  void run(const std::string& metric, double value, int seconds) {
    for (int i = 0; i < seconds; ++i) {
      tele(metric, value);
      clock.advance(1s);
      engine->tick();
    }
  }
  Band band() { return engine->score_of("c-1")->second; }
  double score() { return engine->score_of("c-1")->first; }
};

}  // namespace

TEST_GROUP(Engine){};

TEST(Engine, NoScoreBeforeDataThenAScoreThatExplainsItself) {
  Fixture f;
  CHECK_FALSE(f.engine->score_of("c-1").has_value());
  STRCMP_EQUAL("no data yet", f.engine->no_score_reason("c-1").c_str());
  f.tele("temp_c", 12);
  DOUBLES_EQUAL(60, f.score(), 1e-9);
  auto e = f.engine->explain("c-1");
  CHECK(e.has_value());
  STRCMP_EQUAL("overheat", e->factors[0].name.c_str());
  DOUBLES_EQUAL(40, e->factors[0].penalty, 1e-9);
  CHECK(e->factors[0].rule);
  STRCMP_CONTAINS("max(temp_c, 5s) = 12 > 8", e->factors[0].why.c_str());
  // Every KPI factor and every rule is listed, each with a sentence.
  CHECK_EQUAL(8u, e->factors.size());
  for (const auto& factor : e->factors) CHECK_TEXT(!factor.why.empty(), factor.name.c_str());
  // The first band is taken at once.
  CHECK(f.band() == Band::kDegraded);
}

TEST(Engine, ClassWithoutProfileHasNoScore) {
  Fixture f;
  CHECK(f.registry->add("b-1", "boiler", {}, "test").is_ok());
  f.registry->note_data("b-1", "xrm/v1/dev/b-1/tele");
  xrm::ingest::TelemetrySample s;
  s.metrics.push_back({"temp_c", 99});
  f.engine->on_telemetry(*f.registry->find("b-1"), s, f.ingest);
  CHECK_FALSE(f.engine->score_of("b-1").has_value());
  STRCMP_EQUAL("class boiler has no profile", f.engine->no_score_reason("b-1").c_str());
}

TEST(Engine, NoiseShorterThanTheDwellNeverChangesTheBand) {
  Fixture f;
  f.run("temp_c", 5, 3);
  CHECK(f.band() == Band::kHealthy);
  // Hot and cool in turns for a minute: the 5 s window sees heat half the time, but never for
  // the 10 s dwell... with the window's memory, each hot reading keeps max() hot for 5 to 6 s.
  for (int i = 0; i < 60; ++i) f.run("temp_c", (i % 12) < 3 ? 12 : 5, 1);
  CHECK(f.band() == Band::kHealthy);
  CHECK_EQUAL(1u, f.records(xrm::v1::RECORD_KIND_HEALTH).size());  // only the first band
  CHECK_EQUAL(0u, f.records(xrm::v1::RECORD_KIND_ALERT).size());
}

TEST(Engine, DwellThenHysteresisBeforeReturningToABetterBand) {
  Fixture f;
  f.run("temp_c", 5, 2);
  f.run("temp_c", 12, 9);
  CHECK(f.band() == Band::kHealthy);  // degraded for 9 s only
  f.run("temp_c", 12, 2);
  CHECK(f.band() == Band::kDegraded);
  // Cool, but wobbling: 83 is above the healthy edge (80) but not by the hysteresis (5).
  f.tele("wobble", 1);
  f.run("temp_c", 5, 20);
  DOUBLES_EQUAL(83, f.score(), 1e-9);
  CHECK(f.band() == Band::kDegraded);
  f.tele("wobble", 0);
  f.run("temp_c", 5, 9);
  CHECK(f.band() == Band::kDegraded);  // healthy candidate for 9 s: not yet
  f.run("temp_c", 5, 2);
  CHECK(f.band() == Band::kHealthy);
  const auto health = f.records(xrm::v1::RECORD_KIND_HEALTH);
  CHECK_EQUAL(3u, health.size());  // first band, degraded, healthy
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_DEGRADED, health[1].health().to_band());
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_HEALTHY, health[2].health().to_band());
  STRCMP_EQUAL("tech-ana", health[1].stakeholders().technician().c_str());
}

TEST(Engine, OneAlertPerCauseEscalatedOnceRepeatsSuppressedAndClearedAtTheEnd) {
  Fixture f;
  f.run("temp_c", 5, 2);
  f.run("temp_c", 12, 12);  // degraded: alert for overheat
  auto alerts = f.records(xrm::v1::RECORD_KIND_ALERT);
  CHECK_EQUAL(1u, alerts.size());
  const xrm::v1::AlertBody opened = alerts[0].alert();
  CHECK_EQUAL(xrm::v1::ALERT_STATE_OPENED, opened.state());
  STRCMP_EQUAL("overheat", opened.cause().c_str());
  CHECK_EQUAL(xrm::v1::ESCALATION_ACTION_ALERT, opened.action());
  STRCMP_CONTAINS("degraded, score 60: overheat: max(temp_c, 5s) = 12 > 8", opened.reason().c_str());
  STRCMP_EQUAL("acme", alerts[0].stakeholders().owner().c_str());
  STRCMP_EQUAL("plant-a", alerts[0].stakeholders().site().c_str());

  f.run("temp_c", 25, 12);  // critical: the open overheat alert escalates to a service request
  alerts = f.records(xrm::v1::RECORD_KIND_ALERT);
  CHECK_EQUAL(2u, alerts.size());
  CHECK(alerts[1].alert().escalated());
  CHECK_EQUAL(xrm::v1::ESCALATION_ACTION_SERVICE_REQUEST, alerts[1].alert().action());
  STRCMP_EQUAL("tech-ana", alerts[1].alert().assignee().c_str());
  STRCMP_EQUAL(opened.alert_id().c_str(), alerts[1].alert().alert_id().c_str());

  f.run("temp_c", 12, 20);  // back to degraded: same cause, already open: suppressed
  CHECK_EQUAL(2u, f.records(xrm::v1::RECORD_KIND_ALERT).size());
  CHECK_EQUAL(1u, f.engine->stats().alerts_suppressed);
  CHECK_EQUAL(1u, f.engine->open_alert_count());
  CHECK_EQUAL(2u, f.engine->open_alerts("c-1")[0].repeats);

  f.run("temp_c", 5, 20);  // healthy: cleared
  alerts = f.records(xrm::v1::RECORD_KIND_ALERT);
  CHECK_EQUAL(3u, alerts.size());
  CHECK_EQUAL(xrm::v1::ALERT_STATE_CLEARED, alerts[2].alert().state());
  STRCMP_EQUAL(opened.alert_id().c_str(), alerts[2].alert().alert_id().c_str());
  CHECK(alerts[2].alert().has_cleared_at_ms());
  CHECK_EQUAL(0u, f.engine->open_alert_count());
  CHECK(f.device().lifecycle == Lifecycle::kActive);
}

TEST(Engine, BandsMoveTheLifecycleAndSilenceMakesItOffline) {
  Fixture f;
  f.run("temp_c", 12, 12);
  CHECK(f.device().lifecycle == Lifecycle::kDegraded);
  for (int i = 0; i < 61; ++i) {
    f.clock.advance(1s);
    f.engine->tick();
  }
  CHECK(f.device().lifecycle == Lifecycle::kOffline);
  auto e = f.engine->explain("c-1");
  STRCMP_EQUAL("silence", e->factors[0].name.c_str());
  DOUBLES_EQUAL(30, e->factors[0].penalty, 1e-9);
}

TEST(Engine, OpenAlertsBandAndWindowsSurviveARestartWithoutFiringAgain) {
  Fixture f;
  f.run("temp_c", 12, 12);
  CHECK_EQUAL(1u, f.records(xrm::v1::RECORD_KIND_ALERT).size());
  const std::string id = f.engine->open_alerts("c-1").at(0).alert_id;
  CHECK(f.engine->save().is_ok());
  f.open();  // restart
  CHECK_EQUAL(1u, f.engine->open_alert_count());
  STRCMP_EQUAL(id.c_str(), f.engine->open_alerts("c-1").at(0).alert_id.c_str());
  // The window still holds the heat: the rule counts without a new reading.
  f.clock.advance(1s);
  f.engine->tick();
  CHECK(f.band() == Band::kDegraded);
  f.run("temp_c", 12, 15);
  CHECK_EQUAL(1u, f.records(xrm::v1::RECORD_KIND_ALERT).size());
  f.run("temp_c", 5, 20);
  const auto alerts = f.records(xrm::v1::RECORD_KIND_ALERT);
  CHECK_EQUAL(2u, alerts.size());
  STRCMP_EQUAL(id.c_str(), alerts[1].alert().alert_id().c_str());
}

TEST(Engine, ACommandEscalationSendsTheCommandOnceAndTimesTheAnswer) {
  std::string text = kProfiles;
  text.replace(text.find("critical = \"service_request\""), std::string("critical = \"service_request\"").size(),
               "critical = \"command:defrost\"");
  Fixture f(text);
  f.run("temp_c", 25, 12);  // first band: critical at once
  CHECK_EQUAL(1u, f.commands.size());
  STRCMP_EQUAL("xrm/v1/dev/c-1/cmd/defrost", f.commands[0].first.c_str());
  xrm::v1::Command cmd;
  CHECK(cmd.ParseFromString(f.commands[0].second));
  STRCMP_EQUAL("defrost", cmd.name().c_str());
  STRCMP_EQUAL("c-1", cmd.device_id().c_str());
  CHECK(cmd.expires_at_ms() > cmd.issued_at_ms());
  const auto alerts = f.records(xrm::v1::RECORD_KIND_ALERT);
  CHECK_EQUAL(1u, alerts.size());
  CHECK_EQUAL(xrm::v1::ESCALATION_ACTION_COMMAND, alerts[0].alert().action());
  STRCMP_EQUAL(cmd.request_id().c_str(), alerts[0].alert().request_id().c_str());
  // The device answers 3 s after the readings above (15 s after the command): the response factor
  // has its first figure.
  f.clock.advance(3s);
  xrm::v1::CommandResult res;
  res.set_request_id(cmd.request_id());
  f.engine->on_command_result(f.device(), res);
  auto e = f.engine->explain("c-1");
  bool found = false;
  for (const auto& factor : e->factors) {
    if (factor.name == "response") {
      found = true;
      DOUBLES_EQUAL(15000, *factor.value, 1e-9);
      DOUBLES_EQUAL(10, factor.penalty, 1e-9);  // p90 15 s is beyond twice the 5 s target
    }
  }
  CHECK(found);
  f.run("temp_c", 25, 5);
  CHECK_EQUAL(1u, f.commands.size());  // still critical: not sent again
}

TEST(Engine, AWallClockSteppingBackDoesNotRunTimeBackwards) {
  Fixture f;
  f.run("temp_c", 12, 12);
  CHECK(f.band() == Band::kDegraded);
  f.clock.set_wall(f.clock.system_now() - std::chrono::hours(1));
  f.run("temp_c", 5, 20);  // time stands still until the clock catches up: the window ages by ticks only
  CHECK(f.engine->score_of("c-1").has_value());
  f.clock.set_wall(f.clock.system_now() + std::chrono::hours(1));
  f.run("temp_c", 5, 20);
  CHECK(f.band() == Band::kHealthy);
}

TEST(Engine, RulesReloadKeepsWindowsAndAlerts) {
  Fixture f;
  f.run("temp_c", 12, 12);
  CHECK_EQUAL(1u, f.engine->open_alert_count());
  std::string text = kProfiles;
  text += "\n[[profile.rule]]\nname = \"cold\"\nwhen = \"min(temp_c, 5s) < 0\"\npenalty = 5\n";
  std::vector<xrm::config::ConfigError> errors;
  auto fresh = xrm::health::load_profiles_string(text, "profiles.toml", errors);
  CHECK(errors.empty());
  f.engine->set_profiles(fresh);
  f.clock.advance(1s);
  f.engine->tick();
  DOUBLES_EQUAL(60, f.score(), 1e-9);  // overheat's window came along: still counts
  CHECK_EQUAL(1u, f.engine->open_alert_count());
  CHECK_EQUAL(9u, f.engine->explain("c-1")->factors.size());
}

TEST(Engine, ABandChangeIsPublishedByTheReadingNotAtTheNextTick) {
  Fixture f;
  std::vector<xrm::v1::HealthSnapshot> sent;
  f.engine->set_snapshot_sink([&](const std::string&, std::string payload) {
    xrm::v1::HealthSnapshot snap;
    CHECK(snap.ParseFromString(payload));
    sent.push_back(snap);
    return true;
  });
  f.tele("temp_c", 5);  // the first band, taken at once: no tick in between
  CHECK_EQUAL(1u, sent.size());
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_HEALTHY, sent[0].band());
  f.tele("wobble", 1);  // 83: the score moved, the band did not: that one waits for a tick
  CHECK_EQUAL(1u, sent.size());
}

TEST(Engine, SnapshotsAtOnceOnABandChangeOtherwiseRateLimited) {
  Fixture f;
  std::vector<std::pair<std::string, xrm::v1::HealthSnapshot>> sent;
  bool connected = true;
  f.engine->set_snapshot_sink([&](const std::string& device, std::string payload) {
    if (!connected) return false;
    xrm::v1::HealthSnapshot snap;
    CHECK(snap.ParseFromString(payload));
    sent.emplace_back(device, snap);
    return true;
  });
  f.run("temp_c", 5, 2);
  CHECK_EQUAL(1u, sent.size());  // the first band
  STRCMP_EQUAL("c-1", sent[0].first.c_str());
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_HEALTHY, sent[0].second.band());
  STRCMP_EQUAL("tech-ana", sent[0].second.stakeholders().technician().c_str());
  STRCMP_EQUAL("gw-t", sent[0].second.gateway_id().c_str());
  f.tele("wobble", 1);  // 83: the score moved, the band did not
  f.run("temp_c", 5, 5);
  CHECK_EQUAL(1u, sent.size());  // within snapshot_interval (30 s)
  f.run("temp_c", 5, 30);
  CHECK_EQUAL(2u, sent.size());
  DOUBLES_EQUAL(83, sent[1].second.score(), 1e-9);
  connected = false;  // not connected: stays due
  f.run("temp_c", 12, 12);
  CHECK_EQUAL(2u, sent.size());
  connected = true;
  f.run("temp_c", 12, 1);
  CHECK_EQUAL(3u, sent.size());
  CHECK_EQUAL(xrm::v1::HEALTH_BAND_CRITICAL, sent[2].second.band());  // overheat 40 + wobble 17
  // Retired: the retained snapshot is cleared with an empty payload, once.
  std::vector<std::string> cleared;
  f.engine->set_snapshot_sink([&](const std::string& device, std::string payload) {
    if (payload.empty()) cleared.push_back(device);
    return true;
  });
  CHECK(f.registry->retire("c-1", "test").is_ok());
  f.engine->tick();
  f.engine->tick();
  CHECK_EQUAL(1u, cleared.size());
  CHECK_EQUAL(0u, f.engine->open_alert_count());  // its alert cleared too
}

TEST(Engine, ATickInSlicesReachesEveryDeviceOnceAndPublishesAtTheEnd) {
  Fixture f;
  xrm::registry::Stakeholders links{"acme", "plant-a", "tech-ana", "coolco", "CH-200"};
  CHECK(f.registry->add("c-2", "chiller", links, "test").is_ok());
  CHECK(f.registry->add("c-3", "chiller", links, "test").is_ok());
  for (const char* id : {"c-1", "c-2", "c-3"}) {
    f.registry->note_data(id, std::string("xrm/v1/dev/") + id + "/tele");
    xrm::ingest::TelemetrySample s;
    s.metrics.push_back({"temp_c", 5});
    f.engine->on_telemetry(*f.registry->find(id), s, f.ingest);
  }
  std::size_t published = 0;
  f.engine->set_snapshot_sink([&](const std::string&, std::string) {
    ++published;
    return true;
  });
  f.clock.advance(61s);  // silent beyond offline_after: the tick makes each one offline
  f.engine->tick_begin();
  CHECK_TRUE(f.engine->tick_step(2));
  auto offline = [&] {
    int n = 0;
    for (const char* id : {"c-1", "c-2", "c-3"}) n += f.registry->find(id)->lifecycle == Lifecycle::kOffline;
    return n;
  };
  CHECK_EQUAL(2, offline());
  CHECK_EQUAL(0u, published);  // snapshots wait for the tick's last slice
  CHECK_FALSE(f.engine->tick_step(2));
  CHECK_EQUAL(3, offline());
  CHECK_EQUAL(3u, published);  // the scores fell by the silence penalty: each one is due
  CHECK_FALSE(f.engine->tick_step(2));  // nothing left: a step after the end does nothing
}
