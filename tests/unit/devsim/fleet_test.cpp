// The xrm-devsim fleet with hand-driven fake transports: credentials, lost telemetry using up
// sequence numbers, events as the device library sends them, commands answered.
#include <CppUTest/TestHarness.h>

#include <map>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../firmware/fake_transport.hpp"
#include "../firmware/temp_dir.hpp"
#include "xrm/devsim/credentials.hpp"
#include "xrm/devsim/fleet.hpp"
#include "xrm/proto/xrm.pb.h"

using xrm::device::test::FakeTransport;
using xrm::device::test::TempDir;
using xrm::devsim::Fleet;
using xrm::devsim::FleetOptions;
using xrm::devsim::Scenario;
using xrm::devsim::ScenarioError;

namespace {

std::string uri(const std::string& device) {
  return "xrm-provision:v1?gw=gw-1&device=" + device + "&url=tcp%3A%2F%2F127.0.0.1%3A1883&password=secret-" + device;
}

Scenario load(const std::string& text) {
  std::vector<ScenarioError> errors;
  Scenario s = xrm::devsim::load_scenario_string(text, "t.toml", errors);
  std::string all;
  for (const auto& e : errors) all += e.to_string() + "\n";
  CHECK_TRUE_TEXT(errors.empty(), all.c_str());
  return s;
}

// A fleet whose transports the test holds, all connecting at once.
struct Rig {
  explicit Rig(const std::string& text, std::map<std::string, std::string> creds = {})
      : scenario(load(text)) {
    if (creds.empty()) {
      for (const auto& g : scenario.groups) {
        for (const auto& d : g.devices) creds[d] = uri(d);
      }
    }
    FleetOptions o;
    o.state_dir = dir.file("state");
    o.connect_rate = 1e6;
    fleet = std::make_unique<Fleet>(
        scenario, scenario.seed, std::move(creds), o,
        [this] {
          auto t = std::make_unique<FakeTransport>();
          transports.push_back(t.get());
          return t;
        },
        [this] { return now_ms; });
  }
  // Steps the fleet to t_ms, accepting connects and acknowledging every publish on the way.
  void run_to(std::int64_t t_ms) {
    for (std::int64_t t = last_; t <= t_ms; t += 100) {
      now_ms = 1'700'000'000'000ULL + static_cast<std::uint64_t>(t);
      fleet->step(t);
      for (FakeTransport* tr : transports) {
        if (!tr->is_connected() && tr->connects.size() > accepted_[tr]) {
          accepted_[tr] = tr->connects.size();
          tr->accept_connect();
        }
        for (std::size_t i = 0; i < tr->publishes.size(); ++i) {
          if (!tr->publishes[i].completed && acked_[tr].insert(i).second) tr->complete(i, true);
        }
      }
    }
    last_ = t_ms + 100;
  }
  // The JSON payloads device `index` published on `leaf`.
  std::vector<std::string> payloads(std::size_t index, const std::string& device, const std::string& leaf) {
    std::vector<std::string> out;
    for (const auto& p : transports.at(index)->publishes) {
      if (p.topic == "xrm/v1/dev/" + device + "/" + leaf) out.push_back(p.payload);
    }
    return out;
  }

  TempDir dir;
  Scenario scenario;
  std::vector<FakeTransport*> transports;  // owned by the fleet's devices
  std::uint64_t now_ms = 1'700'000'000'000ULL;
  std::unique_ptr<Fleet> fleet;

 private:
  std::int64_t last_ = 0;
  std::map<FakeTransport*, std::size_t> accepted_;
  std::map<FakeTransport*, std::set<std::size_t>> acked_;
};

std::string seq_of(const std::string& json) {
  const auto at = json.find("\"seq\":");
  if (at == std::string::npos) return "?";
  return json.substr(at + 6, json.find(',', at) - at - 6);
}

}  // namespace

TEST_GROUP(DevsimCredentials){};

TEST(DevsimCredentials, ConcatenatedProvisionResultsAreRead) {
  std::vector<std::string> errors;
  const auto creds = xrm::devsim::parse_credentials(
      "{\n  \"device\": \"a\",\n  \"uri\": \"U1\",\n  \"password\": \"p\"\n}\n{\"device\":\"b\",\"uri\":\"U2\"}"
      "{\"device\":\"a\",\"uri\":\"U3\"}\n",
      "creds.json", errors);
  CHECK_TRUE(errors.empty());
  LONGS_EQUAL(2, creds.size());
  STRCMP_EQUAL("U3", creds.at("a").c_str());  // a later --rotate wins
  STRCMP_EQUAL("U2", creds.at("b").c_str());
}

TEST(DevsimCredentials, ProblemsNameTheObject) {
  std::vector<std::string> errors;
  const auto creds = xrm::devsim::parse_credentials(
      R"({"device":"a","uri":"U1"} [1,2] {"uri":"x"} {"device":"c"} {"device":"d","uri":"U4"} {oops)", "c.json",
      errors);
  LONGS_EQUAL(2, creds.size());
  LONGS_EQUAL(4, errors.size());
  STRCMP_EQUAL("c.json: object 2: expected an object from `xrmctl --json provision`, got array", errors[0].c_str());
  STRCMP_EQUAL("c.json: object 3: no \"device\" (is this `xrmctl --json provision` output?)", errors[1].c_str());
  CHECK_TRUE(errors[2].find("c.json: object 4: device c has no \"uri\"") == 0);
  CHECK_TRUE(errors[3].find("c.json: object 6: not JSON") == 0);
}

TEST(DevsimCredentials, UnreadableFileIsNamed) {
  std::vector<std::string> errors;
  xrm::devsim::load_credentials_file("/nonexistent/creds.json", errors);
  LONGS_EQUAL(1, errors.size());
  STRCMP_EQUAL("/nonexistent/creds.json: cannot read: No such file or directory", errors[0].c_str());
}

TEST_GROUP(DevsimFleet){};

constexpr const char* kTwo = R"(duration = "6s"
[[group]]
devices = ["m1"]
class = "meter"
interval = "1s"
metrics = { kwh = 5 }
behaviour = [ { kind = "flaky", share = 1.0, after = "2s" }, { kind = "normal", at = "4s" } ]
[[group]]
devices = ["c1"]
class = "chiller"
interval = "1s"
model = "CX-200"
technician = "tech-ann"
metrics = { temp_c = 4 }
behaviour = [ { kind = "fault", at = "1s", code = "E17", request_after = "1s" },
              { kind = "service", at = "3s", takes = "1s", score = 5 } ]
)";

TEST(DevsimFleet, MissingOrForeignCredentialsAreRefusedByName) {
  Rig none(kTwo, {{"c1", uri("c1")}});
  const auto st = none.fleet->prepare();
  CHECK_FALSE(st.is_ok());
  STRCMP_CONTAINS("no credentials for 1 of 2 devices: m1", st.message().c_str());
  LONGS_EQUAL(0, none.transports.size());

  Rig foreign(kTwo, {{"m1", uri("m1")}, {"c1", uri("c9")}});
  const auto st2 = foreign.fleet->prepare();
  CHECK_FALSE(st2.is_ok());
  STRCMP_EQUAL("c1: its credentials are for device c9", st2.message().c_str());
}

TEST(DevsimFleet, EachDeviceConnectsWithItsOwnCredentials) {
  Rig rig(kTwo);
  CHECK_TRUE(rig.fleet->prepare().is_ok());
  rig.run_to(0);
  LONGS_EQUAL(2, rig.transports.size());
  STRCMP_EQUAL("m1", rig.transports[0]->connects.at(0).username.c_str());
  STRCMP_EQUAL("secret-m1", rig.transports[0]->connects.at(0).password.c_str());
  STRCMP_EQUAL("c1", rig.transports[1]->connects.at(0).client_id.c_str());
  STRCMP_EQUAL("tcp://127.0.0.1:1883", rig.transports[1]->connects.at(0).url.c_str());
}

TEST(DevsimFleet, LostTelemetryUsesUpItsSequenceNumber) {
  Rig rig(kTwo);
  CHECK_TRUE(rig.fleet->prepare().is_ok());
  rig.run_to(6000);
  // Made at 0..5 s and numbered by the device library from 0; lost at 2 and 3 s (flaky until
  // `normal` at 4 s): the broker never sees 2 and 3.
  std::string seqs;
  for (const auto& p : rig.payloads(0, "m1", "tele")) seqs += seq_of(p) + " ";
  STRCMP_EQUAL("0 1 4 5 ", seqs.c_str());
  const auto st = rig.fleet->stats();
  LONGS_EQUAL(12, st.telemetry);  // both devices
  LONGS_EQUAL(2, st.telemetry_lost);
  LONGS_EQUAL(0, st.buffered);
  CHECK_TRUE(rig.fleet->settled());
}

TEST(DevsimFleet, EventsCarryTheScenariosFields) {
  Rig rig(kTwo);
  CHECK_TRUE(rig.fleet->prepare().is_ok());
  rig.run_to(6000);
  const auto events = rig.payloads(1, "c1", "evt");
  LONGS_EQUAL(5, events.size());
  STRCMP_CONTAINS("\"type\":\"fault\",\"code\":\"E17\"", events[0].c_str());
  STRCMP_CONTAINS("\"type\":\"service_request\"", events[1].c_str());
  STRCMP_CONTAINS("\"request_id\":\"c1-r1\"", events[1].c_str());
  STRCMP_CONTAINS("\"type\":\"service_start\"", events[2].c_str());
  STRCMP_CONTAINS("\"technician\":\"tech-ann\"", events[2].c_str());
  STRCMP_CONTAINS("\"type\":\"satisfaction\",\"score\":5", events[4].c_str());
  for (std::size_t i = 0; i < events.size(); ++i) STRCMP_EQUAL(std::to_string(i).c_str(), seq_of(events[i]).c_str());
  // The birth names the group's model.
  bool birth = false;
  for (const auto& p : rig.transports[1]->publishes) birth = birth || (p.topic == "xrm/v1/dev/c1/birth" && p.payload.find("CX-200") != std::string::npos);
  CHECK_TRUE(birth);
}

TEST(DevsimFleet, CommandsAreAnswered) {
  Rig rig(kTwo);
  CHECK_TRUE(rig.fleet->prepare().is_ok());
  rig.run_to(500);
  xrm::v1::Command c;
  c.set_request_id("req-7");
  c.set_name("resync");
  c.set_device_id("m1");
  rig.transports[0]->deliver("xrm/v1/dev/m1/cmd/resync", c.SerializeAsString());
  rig.run_to(700);
  LONGS_EQUAL(1, rig.fleet->stats().commands);
  const auto results = rig.payloads(0, "m1", "cmd-res");
  LONGS_EQUAL(1, results.size());
  xrm::v1::CommandResult r;
  CHECK_TRUE(r.ParseFromString(results[0]));
  STRCMP_EQUAL("req-7", r.request_id().c_str());
  LONGS_EQUAL(xrm::v1::COMMAND_STATUS_OK, r.status());
}

TEST(DevsimFleet, StatePersistsPerDevice) {
  Rig rig(kTwo);
  CHECK_TRUE(rig.fleet->prepare().is_ok());
  rig.run_to(1000);
  rig.fleet->stop();
  // Each device's counters live in STATE_DIR/DEVICE/.
  FILE* f = std::fopen(rig.dir.file("state/m1/tele.seq").c_str(), "r");
  CHECK_TRUE(f != nullptr);
  if (f) std::fclose(f);
}
