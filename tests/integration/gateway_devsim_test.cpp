// xrm-devsim against the real gateway: the real xrm-devsim program (one MQTT connection per device,
// the firmware library underneath) plays a scenario with every behaviour, using the credentials
// the real xrmctl printed, through a dynamic-security Mosquitto to the real xrm-gatewayd; the
// central side checks that each behaviour's records arrived upstream. Also: the gateway gives
// itself the broker role for device commands when the broker set-up lacks it.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gateway_rig.hpp"
#include "record_transcript.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/process.hpp"
#include "xrm/testing/subscriber.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::guarded;
using xrm::testing::Mosquitto;
using xrm::testing::Process;
using xrm::testing::Subscriber;
using xrm::testing::TempDir;
using xrm::testing::Transcript;

// Every behaviour, at 1 s intervals, over 20 s.
constexpr const char* kScenario = R"(seed = 11
duration = "20s"

[[group]]
count = 2
prefix = "ok-"
class = "chiller"
interval = "1s"
metrics = { temp_c = { base = 4.5, noise = 0.2 } }
owner = "acme"
technician = "tech-ann"
supplier = "coolco"
model = "CX-200"

[[group]]
devices = ["hot"]
class = "chiller"
interval = "1s"
metrics = { temp_c = { base = 4.5, noise = 0.2 } }
owner = "acme"
technician = "tech-ann"
behaviour = [ { kind = "drift", metric = "temp_c", target = 12, after = "2s", over = "2s" } ]

[[group]]
devices = ["flaky"]
class = "meter"
interval = "1s"
metrics = { kwh = { base = 100, noise = 0.1 } }
owner = "acme"
behaviour = [ { kind = "flaky", share = 0.5, after = "1s" } ]

[[group]]
devices = ["quiet"]
class = "chiller"
interval = "1s"
metrics = { temp_c = { base = 4.5, noise = 0.2 } }
behaviour = [ { kind = "silent", after = "4s" } ]

[[group]]
devices = ["serviced"]
class = "chiller"
interval = "1s"
metrics = { temp_c = { base = 4.5, noise = 0.2 } }
owner = "bistro"
technician = "tech-bob"
behaviour = [ { kind = "fault", at = "2s", code = "E17", request_after = "1s" },
              { kind = "service", at = "5s", takes = "2s", score = 5, rate_after = "1s" } ]

[[group]]
devices = ["recur"]
class = "chiller"
interval = "1s"
metrics = { temp_c = { base = 4.5, noise = 0.2 } }
owner = "bistro"
technician = "tech-bob"
behaviour = [ { kind = "fault", at = "2s", code = "E04", request_after = "1s" },
              { kind = "service", at = "4s", takes = "2s", score = 2, rate_after = "1s" },
              { kind = "recurring_fault", after = "3s" } ]
)";

constexpr const char* kProfiles = R"([[profile]]
class = "chiller"
expected_interval = "1s"
offline_after = "6s"
dwell = "1s"
escalate = { degraded = "alert", critical = "service_request" }
kpi = { sla = "10m" }

[[profile.rule]]
name = "overheat"
when = "avg(temp_c, 3s) > 8"
for = "2s"
penalty = 60

[[profile]]
class = "meter"
expected_interval = "1s"
offline_after = "30s"
dwell = "1s"
escalate = { degraded = "command:resync", critical = "alert" }
weights = { gaps = 40 }
kpi = { gaps_window = "20s", gaps_full = 25 }
)";

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t')) out.push_back(field);
  while (out.size() < 7) out.emplace_back();
  return out;
}

}  // namespace

TEST_GROUP(Devsim) {
  GatewayRig rig;
  TempDir dir{"xrm-devsim-it"};

  // Runs xrm-devsim with `args`; returns its exit code and output.
  std::pair<int, std::string> devsim(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {XRM_DEVSIM_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string out = dir.file("devsim-" + std::to_string(++runs_) + ".out");
    Process p({.argv = argv, .stdout_path = out, .stderr_path = out + ".err"});
    const auto rc = p.wait_exit(timeout);
    const std::string text = xrm::testing::read_file(out);
    const std::string err = xrm::testing::read_file(out + ".err");
    CHECK_TEXT(rc.has_value(), ("xrm-devsim did not finish: " + err).c_str());
    return {rc.value_or(-1), text + err};
  }
  int runs_ = 0;
};

TEST(Devsim, EveryBehaviourReachesCentralAsItsRecords) {
  GatewaySettings s;
  s.gateway_id = "gw-sim";
  s.profiles_toml = kProfiles;
  s.extra_toml = "[condense]\nwindow = \"5s\"\n";
  guarded([&] { rig.start(s, /*run=*/false); });
  // Central subscribes before the gateway can publish anything (confirm mode broker).
  Subscriber central(rig.upstream->url());
  central.subscribe("xrm/v1/gw/gw-sim/rec/#", 1);
  rig.gateway->start();
  CHECK_TEXT(rig.gateway->wait_for_log("local: connected", 5s), "gateway did not connect");

  // The technician's side: the scenario's devices with their stakeholders, the credentials kept.
  const std::string scenario = dir.file("scenario.toml");
  xrm::testing::write_file(scenario, kScenario);
  auto [list_rc, list_out] = devsim({"list", scenario}, 10s);
  LONGS_EQUAL_TEXT(0, list_rc, list_out.c_str());
  std::string credentials;
  std::istringstream lines(list_out);
  int devices = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto f = split_tabs(line);
    std::vector<std::string> args = {"provision", f[0], "--class", f[1]};
    const char* keys[] = {"--owner", "--site", "--technician", "--supplier", "--model"};
    for (int k = 0; k < 5; ++k) {
      if (!f[2 + k].empty()) args.insert(args.end(), {keys[k], f[2 + k]});
    }
    credentials += rig.ctl_json(args).dump(2) + "\n";  // as `xrmctl --json provision >>FILE` writes it
    ++devices;
  }
  LONGS_EQUAL(7, devices);
  const std::string creds = dir.file("credentials.json");
  xrm::testing::write_file(creds, credentials, 0600);

  auto [rc, text] = devsim({"run", scenario, "--credentials", creds, "--state-dir", dir.file("state"), "--json"}, 60s);
  const std::string report_text = text;
  LONGS_EQUAL_TEXT(0, rc, report_text.c_str());
  const json report = json::parse(report_text.substr(0, report_text.find('\n')));
  CHECK_EQUAL_TEXT(7, report["devices"].get<int>(), report_text.c_str());
  CHECK_EQUAL_TEXT(0, report["never_connected"].get<int>(), report_text.c_str());
  CHECK_EQUAL_TEXT(0, report["buffered"].get<int>(), report_text.c_str());
  CHECK_TEXT(report["telemetry_lost"].get<int>() > 0, report_text.c_str());
  // The gateway escalated the flaky meter with the command resync, and the device answered it.
  CHECK_TEXT(report["commands"].get<int>() >= 1, report_text.c_str());

  // Everything the gateway wrote reaches central.
  const json st = rig.await_empty_outbox(20s);
  const auto last = st["uplink"]["last_sent_seq"].get<std::uint64_t>();
  Transcript t("gw-sim");
  xrm::testing::receive_all(central, t, 1, last, 20s);

  std::map<std::string, std::vector<const xrm::v1::InteractionRecord*>> by_device;
  for (const auto& [seq, r] : t.bodies) by_device[r.device_id()].push_back(&r);
  auto alerts_of = [&](const std::string& device) {
    std::vector<const xrm::v1::AlertBody*> out;
    for (const auto* r : by_device[device]) {
      if (r->kind() == xrm::v1::RECORD_KIND_ALERT) out.push_back(&r->alert());
    }
    return out;
  };
  auto event_types = [&](const std::string& device) {
    std::string out;
    for (const auto* r : by_device[device]) {
      if (r->kind() != xrm::v1::RECORD_KIND_EVENT) continue;
      const auto& e = r->event().event();
      out += e.type() + (e.request_id().empty() ? "" : "(" + e.request_id() + ")") + " ";
    }
    return out;
  };
  auto lifecycle_changes = [&](const std::string& device) {
    std::set<int> out;
    for (const auto* r : by_device[device]) {
      if (r->kind() == xrm::v1::RECORD_KIND_LIFECYCLE) out.insert(r->lifecycle().change());
    }
    return out;
  };
  auto describe_device = [&](const std::string& device) {
    std::string out;
    for (const auto* r : by_device[device]) {
      out += std::to_string(r->seq()) + " " + xrm::testing::kind_topic_name(r->kind());
      if (r->kind() == xrm::v1::RECORD_KIND_LIFECYCLE) out += " " + xrm::v1::LifecycleChange_Name(r->lifecycle().change());
      out += "\n";
    }
    return device + ":\n" + out;
  };
  auto summaries = [&](const std::string& device) {
    std::vector<const xrm::v1::Summary*> out;
    for (const auto* r : by_device[device]) {
      if (r->kind() == xrm::v1::RECORD_KIND_SUMMARY) out.push_back(&r->summary());
    }
    return out;
  };

  // Normal: registered with its stakeholders, summaries of its telemetry, no alert while it ran
  // (once xrm-devsim has stopped, every device falls silent and the silence factor may raise one).
  for (const char* d : {"ok-1", "ok-2"}) {
    CHECK_TEXT(lifecycle_changes(d).count(xrm::v1::LIFECYCLE_CHANGE_ACTIVE) == 1, describe_device(d).c_str());
    CHECK_TEXT(!summaries(d).empty(), describe_device(d).c_str());
    for (const auto* a : alerts_of(d)) STRCMP_EQUAL_TEXT("silence", a->cause().c_str(), describe_device(d).c_str());
    STRCMP_EQUAL("tech-ann", by_device[d].back()->stakeholders().technician().c_str());
    STRCMP_EQUAL("coolco", by_device[d].back()->stakeholders().supplier().c_str());
  }
  // Drift: the overheat rule makes it critical, and the alert asks its technician to come.
  {
    const auto alerts = alerts_of("hot");
    CHECK_TEXT(!alerts.empty(), "hot: no alert record");
    const auto* a = alerts.front();
    LONGS_EQUAL(xrm::v1::ALERT_STATE_OPENED, a->state());
    LONGS_EQUAL(xrm::v1::HEALTH_BAND_CRITICAL, a->band());
    LONGS_EQUAL(xrm::v1::ESCALATION_ACTION_SERVICE_REQUEST, a->action());
    STRCMP_EQUAL("overheat", a->cause().c_str());
    STRCMP_EQUAL("tech-ann", a->assignee().c_str());
  }
  // Flaky: the holes show in its summaries, and the gateway sent it the command resync.
  {
    std::uint64_t missed = 0, messages = 0;
    for (const auto* sm : summaries("flaky")) {
      missed += sm->missed();
      messages += sm->messages();
    }
    CHECK_TEXT(missed > 0 && messages > 0, ("flaky: missed " + std::to_string(missed)).c_str());
    bool commanded = false;
    for (const auto* a : alerts_of("flaky")) {
      commanded = commanded || (a->action() == xrm::v1::ESCALATION_ACTION_COMMAND && a->command() == "resync");
    }
    CHECK_TEXT(commanded, "flaky: no alert with the command resync");
    // The device's answer reached the gateway: the response factor has a sample.
    const json show = rig.ctl_json({"show", "flaky"});
    std::string response_sentence;
    for (const auto& f : show["factors"]) {
      if (f["name"] == "response") response_sentence = f["why"].get<std::string>();
    }
    CHECK_TEXT(response_sentence.find("no command") == std::string::npos, response_sentence.c_str());
  }
  // Silent: the gateway marks it offline after offline_after.
  CHECK_TEXT(lifecycle_changes("quiet").count(xrm::v1::LIFECYCLE_CHANGE_OFFLINE) == 1, "quiet: no OFFLINE record");
  // Fault, request, a visit answering it, a rating: the service loop as events, matched by request id.
  STRCMP_EQUAL(
      "fault service_request(serviced-r1) service_start(serviced-r1) service_done(serviced-r1) "
      "satisfaction(serviced-r1) ",
      event_types("serviced").c_str());
  // Recurring fault: the fault returns after service_done; the gateway counts it as a return.
  STRCMP_EQUAL(
      "fault service_request(recur-r1) service_start(recur-r1) service_done(recur-r1) satisfaction(recur-r1) fault ",
      event_types("recur").c_str());
  const json recur = rig.ctl_json({"show", "recur"});
  double recurrence = 0;
  for (const auto& f : recur["factors"]) {
    if (f["name"] == "recurrence") recurrence = f["penalty"].get<double>();
  }
  CHECK_TEXT(recurrence > 0, recur["factors"].dump().c_str());
}

TEST(Devsim, ProtobufAtQos1ArrivesLikeJson) {
  GatewaySettings s;
  s.gateway_id = "gw-pb";
  s.profiles_toml = kProfiles;
  guarded([&] { rig.start(s); });
  const std::string scenario = dir.file("pb.toml");
  xrm::testing::write_file(scenario, R"(duration = "4s"
[[group]]
count = 2
prefix = "pb-"
class = "chiller"
interval = "500ms"
metrics = { temp_c = { base = 4.5, noise = 0.2 }, door = 0 }
behaviour = [ { kind = "fault", at = "1s", code = "E1" } ]
)");
  std::string credentials;
  for (const char* d : {"pb-1", "pb-2"}) credentials += rig.ctl_json({"provision", d, "--class", "chiller"}).dump() + "\n";
  const std::string creds = dir.file("pb-credentials.json");
  xrm::testing::write_file(creds, credentials, 0600);
  auto [rc, text] = devsim({"run", scenario, "--credentials", creds, "--state-dir", dir.file("pb-state"), "--encoding",
                            "protobuf", "--qos", "1", "--json"},
                           30s);
  LONGS_EQUAL_TEXT(0, rc, text.c_str());
  // 8 readings and one event each; QoS 1 and nothing lost: the gateway counts every one, no hole,
  // nothing dead-lettered, and the latest readings decoded.
  for (const char* d : {"pb-1", "pb-2"}) {
    json show;
    const bool all = xrm::testing::poll_until(
        [&] {
          show = rig.ctl_json({"show", d});
          const json& c = show["counters"];
          return c.contains("telemetry") && c["telemetry"]["received"] == 8 && c["events"]["received"] == 1;
        },
        5s, 100ms);
    CHECK_TEXT(all, show.dump().c_str());
    CHECK_EQUAL_TEXT(0, show["counters"]["telemetry"]["missed"].get<int>(), show.dump().c_str());
    CHECK_EQUAL_TEXT(0, show["counters"]["dead_letters"].get<int>(), show.dump().c_str());
    CHECK_TEXT(show["readings"].contains("temp_c") && show["readings"].contains("door"), show.dump().c_str());
  }
}

TEST(Devsim, MissingCredentialsAreNamedAndNothingConnects) {
  const std::string scenario = dir.file("scenario.toml");
  xrm::testing::write_file(scenario, kScenario);
  const std::string creds = dir.file("credentials.json");
  xrm::testing::write_file(creds, R"({"device": "ok-1", "uri": "xrm-provision:v1?gw=g&device=ok-1&url=tcp%3A%2F%2F127.0.0.1%3A1&password=x"})");
  auto [rc, out] = devsim({"run", scenario, "--credentials", creds, "--state-dir", dir.file("state")}, 10s);
  LONGS_EQUAL_TEXT(2, rc, out.c_str());
  CHECK_TEXT(out.find("no credentials for 6 of 7 devices: ok-2, hot, flaky, quiet, serviced and 1 more") !=
                 std::string::npos,
             out.c_str());
}

// A broker set up with only `mosquitto_ctrl dynsec init`: the gateway gives its own admin client
// the role for device commands, is reconnected once by the broker, and next time finds it there.
TEST_GROUP(CommandRole) {};

TEST(CommandRole, GatewayGrantsItselfTheRoleOnce) {
  GatewayRig rig;
  guarded([&] {
    rig.upstream = std::make_unique<Mosquitto>(xrm::testing::mosquitto_tools(), Mosquitto::Flavour::kPlain, "upstream");
    rig.local = std::make_unique<Mosquitto>(xrm::testing::mosquitto_tools(), Mosquitto::Flavour::kLocal, "local");
    rig.local->remove_gateway_role();
    rig.upstream->start();
    rig.local->start();
    GatewaySettings s;
    s.local_url = rig.local->url();
    s.local_username = rig.local->admin_user();
    s.local_password = rig.local->admin_password();
    s.upstream_url = rig.upstream->url();
    rig.gateway = std::make_unique<xrm::testing::GatewayUnderTest>(XRM_GATEWAYD_PATH, s);
  });
  rig.gateway->start();
  CHECK_TEXT(rig.gateway->wait_for_log("gave the gateway the broker role xrm-gateway-commands", 10s), "no grant");
  // Mosquitto drops a client whose roles change; after the reconnect the role is there.
  CHECK_TEXT(rig.gateway->wait_for_log("xrm-gateway-commands present: device commands allowed", 10s),
             "role not seen after the reconnect");
  const std::string dump = xrm::testing::read_file(rig.local->dynsec_path());
  CHECK_TEXT(dump.find("xrm-gateway-commands") != std::string::npos, "the role is not in the broker's file");
  // A restart finds the role and grants nothing.
  CHECK_EQUAL(0, rig.gateway->terminate().value_or(-1));
  rig.gateway->start();
  CHECK_TEXT(rig.gateway->wait_for_log("xrm-gateway-commands present: device commands allowed", 10s), "no check");
  CHECK_FALSE(rig.gateway->wait_for_log("gave the gateway the broker role", 500ms));
}

// Scorecards (issue 8): two technicians service the same kind of fault on two devices each; the
// faults tech-bad fixed come back and its customers rate it 2, tech-good's stay fixed and are
// rated 5. tech-good ranks first, and scorecard records for both arrive upstream.
TEST(Devsim, TechnicianWhoseRepairsFailRanksBelowOneWhoseRepairsHold) {
  GatewaySettings s;
  s.gateway_id = "gw-rank";
  s.profiles_toml = kProfiles;
  s.extra_toml = "[scorecard]\ninterval = \"2s\"\nperiod = \"1h\"\n";
  guarded([&] { rig.start(s, /*run=*/false); });
  Subscriber central(rig.upstream->url());
  central.subscribe("xrm/v1/gw/gw-rank/rec/scorecard", 1);
  rig.gateway->start();
  CHECK_TEXT(rig.gateway->wait_for_log("local: connected", 5s), "gateway did not connect");

  const std::string scenario = dir.file("rank.toml");
  xrm::testing::write_file(scenario, R"(duration = "12s"
[[group]]
count = 2
prefix = "good-"
class = "chiller"
interval = "1s"
metrics = { temp_c = 4.5 }
owner = "acme"
supplier = "coolco"
technician = "tech-good"
behaviour = [ { kind = "fault", at = "1s", code = "E1", request_after = "500ms" },
              { kind = "service", at = "3s", takes = "1s", score = 5, rate_after = "500ms" } ]
[[group]]
count = 2
prefix = "bad-"
class = "chiller"
interval = "1s"
metrics = { temp_c = 4.5 }
owner = "bistro"
supplier = "frostline"
technician = "tech-bad"
behaviour = [ { kind = "fault", at = "1s", code = "E1", request_after = "500ms" },
              { kind = "service", at = "3s", takes = "1s", score = 2, rate_after = "500ms" },
              { kind = "recurring_fault", after = "2s" } ]
)");
  std::string credentials;
  for (const char* d : {"good-1", "good-2"}) {
    credentials += rig.ctl_json({"provision", d, "--class", "chiller", "--technician", "tech-good", "--owner", "acme"}).dump() + "\n";
  }
  for (const char* d : {"bad-1", "bad-2"}) {
    credentials += rig.ctl_json({"provision", d, "--class", "chiller", "--technician", "tech-bad", "--owner", "bistro"}).dump() + "\n";
  }
  const std::string creds = dir.file("rank-credentials.json");
  xrm::testing::write_file(creds, credentials, 0600);
  auto [rc, text] = devsim({"run", scenario, "--credentials", creds, "--state-dir", dir.file("rank-state"), "--json"}, 40s);
  LONGS_EQUAL_TEXT(0, rc, text.c_str());

  const json ranked = rig.ctl_json({"rank", "--by", "technician"});
  const json& cards = ranked["scorecards"];
  CHECK_EQUAL_TEXT(2U, cards.size(), ranked.dump(2).c_str());
  STRCMP_EQUAL_TEXT("tech-good", cards[0]["stakeholder"].get<std::string>().c_str(), ranked.dump(2).c_str());
  STRCMP_EQUAL_TEXT("tech-bad", cards[1]["stakeholder"].get<std::string>().c_str(), ranked.dump(2).c_str());
  CHECK_EQUAL(1, cards[0]["rank"].get<int>());
  CHECK_EQUAL(2, cards[1]["rank"].get<int>());
  CHECK_TEXT(cards[0]["score"].get<double>() > cards[1]["score"].get<double>(), ranked.dump(2).c_str());
  auto figure = [](const json& card, const std::string& name) {
    for (const auto& f : card["figures"]) {
      if (f["name"] == name) return f["value"].get<double>();
    }
    return -1.0;
  };
  CHECK_EQUAL_TEXT(2.0, figure(cards[0], "visits"), ranked.dump(2).c_str());
  CHECK_EQUAL_TEXT(0.0, figure(cards[0], "returns"), ranked.dump(2).c_str());
  CHECK_EQUAL_TEXT(2.0, figure(cards[1], "returns"), ranked.dump(2).c_str());
  // The bad technician's sentence names the returning faults.
  CHECK_TEXT(cards[1]["explanation"].get<std::string>().find("return") != std::string::npos, ranked.dump(2).c_str());

  // The periodic scorecard records (scorecard.interval 2s) reach central, one per technician.
  std::set<std::string> technicians;
  central.wait_for(
      [&](const mqtt::message& m) {
        xrm::v1::RecordBatch b;
        if (!b.ParseFromString(m.get_payload())) return false;
        for (const auto& r : b.records()) {
          if (r.kind() == xrm::v1::RECORD_KIND_SCORECARD && r.scorecard().role() == xrm::v1::STAKEHOLDER_ROLE_TECHNICIAN &&
              r.scorecard().has_rank()) {
            technicians.insert(r.scorecard().stakeholder_id() + "#" + std::to_string(r.scorecard().rank()));
          }
        }
        return technicians.count("tech-good#1") == 1 && technicians.count("tech-bad#2") == 1;
      },
      10s);
  CHECK_TEXT(technicians.count("tech-good#1") == 1 && technicians.count("tech-bad#2") == 1,
             ("scorecard records seen: " + std::to_string(technicians.size())).c_str());
}

TEST(Devsim, BadRankRequestsExitTwoNamingWhatIsWrong) {
  GatewaySettings s;
  s.gateway_id = "gw-rank-bad";
  guarded([&] { rig.start(s); });
  for (const auto& [args, words] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"rank"}, "--by"},
           {{"rank", "--by", "boss"}, "boss"},
           {{"rank", "--by", "owner", "--period", "0s"}, "--period"},
           {{"rank", "--by", "owner", "--period", "3 weeks"}, "--period"}}) {
    const auto r = rig.ctl(args);
    CHECK_EQUAL_TEXT(2, r.exit_code, r.describe().c_str());
    CHECK_TEXT(r.err.find(words) != std::string::npos, r.describe().c_str());
  }
  // With no device at all, a valid request answers an empty ranking.
  const json empty = rig.ctl_json({"rank", "--by", "site", "--period", "7d"});
  CHECK_EQUAL(0U, empty["scorecards"].size());
  CHECK_EQUAL(7LL * 86'400'000, empty["period_ms"].get<long long>());
  const json st = rig.ctl_json({"status"});
  CHECK_EQUAL(30LL * 86'400'000, st["scorecards"]["period_ms"].get<long long>());
}
