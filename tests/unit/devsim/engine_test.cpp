#include <CppUTest/TestHarness.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xrm/devsim/engine.hpp"

using xrm::devsim::Engine;
using xrm::devsim::Scenario;
using xrm::devsim::ScenarioError;

namespace {

// One action, copied out of the sink call.
struct Action {
  bool event = false;
  std::string device;
  std::uint32_t index = 0;
  std::uint32_t seq = 0;
  std::int64_t t_ms = 0;
  std::map<std::string, double> metrics;
  std::string type;
  std::string code;
  std::optional<double> score;
  std::string technician;
  std::string request_id;

  // Exact comparison, noise values bit for bit.
  bool operator==(const Action& o) const {
    if (metrics.size() != o.metrics.size()) return false;
    for (const auto& [name, value] : metrics) {
      const auto it = o.metrics.find(name);
      if (it == o.metrics.end() || std::memcmp(&value, &it->second, sizeof value) != 0) return false;
    }
    return event == o.event && device == o.device && index == o.index && seq == o.seq && t_ms == o.t_ms &&
           type == o.type && code == o.code && score == o.score && technician == o.technician &&
           request_id == o.request_id;
  }
};

class Recorder : public xrm::devsim::ActionSink {
 public:
  void on_telemetry(const xrm::devsim::Telemetry& t) override {
    Action a;
    a.device = t.device;
    a.index = t.device_index;
    a.seq = t.seq;
    a.t_ms = t.t_ms;
    for (const auto& m : t.metrics) a.metrics[std::string(m.name)] = m.value;
    actions.push_back(a);
  }
  void on_lost_telemetry(const xrm::devsim::Telemetry& t) override { lost_seqs.push_back(t.seq); }
  void on_event(const xrm::devsim::Event& e) override {
    Action a;
    a.event = true;
    a.device = e.device;
    a.index = e.device_index;
    a.seq = e.seq;
    a.t_ms = e.t_ms;
    a.type = e.type;
    a.code = e.code;
    a.score = e.score;
    a.technician = e.technician;
    a.request_id = e.request_id;
    actions.push_back(a);
  }

  std::vector<Action> telemetry() const { return select(false); }
  std::vector<Action> events() const { return select(true); }

  std::vector<Action> actions;
  std::vector<std::uint32_t> lost_seqs;  // on_lost_telemetry

 private:
  std::vector<Action> select(bool event) const {
    std::vector<Action> out;
    for (const auto& a : actions) {
      if (a.event == event) out.push_back(a);
    }
    return out;
  }
};

Scenario load(const std::string& text) {
  std::vector<ScenarioError> errors;
  Scenario s = xrm::devsim::load_scenario_string(text, "t.toml", errors);
  std::string all;
  for (const auto& e : errors) all += e.to_string() + "\n";
  CHECK_TRUE_TEXT(errors.empty(), all.c_str());
  return s;
}

// Runs the whole scenario through the engine in simulated time, one next_due() at a time.
std::vector<Action> play(const Scenario& s, std::optional<std::uint64_t> seed = std::nullopt) {
  Engine engine(s, seed.value_or(s.seed));
  Recorder r;
  std::int64_t last = -1;
  while (auto due = engine.next_due()) {
    CHECK_TRUE(*due > last);  // time only moves forward
    last = *due;
    engine.advance(*due, r);
  }
  return r.actions;
}

Recorder play_recorder(const Scenario& s) {
  Engine engine(s);
  Recorder r;
  while (auto due = engine.next_due()) engine.advance(*due, r);
  return r;
}

constexpr const char* kMixed = R"(seed = 7
duration = "5m"
[[group]]
count = 20
prefix = "chiller-"
class = "chiller"
interval = "3s"
metrics = { temp_c = { base = 4.5, noise = 0.3 }, power_kw = { base = 12, noise = 1.5 } }
behaviour = [ { kind = "flaky", share = 0.2, after = "30s" },
              { kind = "fault", at = "1m", code = "E1", request_after = "10s" },
              { kind = "service", at = "2m", takes = "20s", score = 4 } ]
[[group]]
count = 10
class = "meter"
interval = "7s"
metrics = { kwh = { base = 100, noise = 5 } }
behaviour = [ { kind = "silent", after = "1m", for = "1m" } ]
)";

}  // namespace

TEST_GROUP(DevsimEngine){};

TEST(DevsimEngine, SameSeedGivesIdenticalStreams) {
  const Scenario s = load(kMixed);
  const auto a = play(s);
  const auto b = play(s);
  CHECK_TRUE(a.size() > 1000);
  CHECK_TRUE(a == b);
}

TEST(DevsimEngine, StreamDoesNotDependOnHowTheDriverSteps) {
  const Scenario s = load(kMixed);
  const auto by_due = play(s);
  // A real-time driver that wakes every 250 ms, late and irregularly, sees the same actions.
  Engine engine(s);
  Recorder r;
  for (std::int64_t now = 0; engine.next_due(); now += 250 + (now / 250) % 7) engine.advance(now, r);
  CHECK_TRUE(by_due == r.actions);
  // One call for everything, too.
  Engine all_at_once(s);
  Recorder r2;
  all_at_once.advance(s.duration_ms, r2);
  CHECK_TRUE(by_due == r2.actions);
  CHECK_FALSE(all_at_once.next_due().has_value());
}

TEST(DevsimEngine, DifferentSeedGivesDifferentValuesSameSchedule) {
  const Scenario s = load(kMixed);
  const auto a = play(s, 7);
  const auto b = play(s, 8);
  CHECK_FALSE(a == b);
  // Events are scheduled, not random: the same in both.
  std::vector<Action> ea, eb;
  for (const auto& x : a)
    if (x.event) ea.push_back(x);
  for (const auto& x : b)
    if (x.event) eb.push_back(x);
  CHECK_TRUE(ea == eb);
  CHECK_FALSE(ea.empty());
}

TEST(DevsimEngine, DevicesOfOneSeedDiffer) {
  const Scenario s = load(kMixed);
  const auto a = play(s);
  // The first readings of chiller-1 and chiller-2 are drawn from different generators.
  const Action* first[2] = {nullptr, nullptr};
  for (const auto& x : a) {
    if (!x.event && x.index < 2 && first[x.index] == nullptr) first[x.index] = &x;
  }
  CHECK_TRUE(first[0] != nullptr && first[1] != nullptr);
  CHECK_TRUE(first[0]->metrics.at("temp_c") != first[1]->metrics.at("temp_c"));
}

TEST(DevsimEngine, RandomPiecesArePinned) {
  // The first draw of std::mt19937_64 seeded with 5489 is fixed by the standard; our mapping on
  // top of it is fixed here, so a change to the random pieces fails this test.
  std::mt19937_64 rng(5489);
  const double u = xrm::devsim::uniform01(rng);
  DOUBLES_EQUAL(static_cast<double>(14514284786278117030ULL >> 11) * 0x1.0p-53, u, 0);
  CHECK_EQUAL(xrm::devsim::device_seed(1, 0), xrm::devsim::device_seed(1, 0));
  CHECK_TRUE(xrm::devsim::device_seed(1, 0) != xrm::devsim::device_seed(1, 1));
  CHECK_TRUE(xrm::devsim::device_seed(1, 0) != xrm::devsim::device_seed(2, 0));
  // Box-Muller: mean about 0, standard deviation about 1 over many draws.
  std::mt19937_64 g(1);
  double sum = 0, sum2 = 0;
  constexpr int kN = 200'000;
  for (int i = 0; i < kN; ++i) {
    const double z = xrm::devsim::standard_normal(g);
    sum += z;
    sum2 += z * z;
  }
  DOUBLES_EQUAL(0, sum / kN, 0.01);
  DOUBLES_EQUAL(1, std::sqrt(sum2 / kN), 0.01);
}

TEST(DevsimEngine, TelemetryRateAndSeqs) {
  const Scenario s = load(R"(duration = "1m"
[[group]]
devices = ["a", "b"]
class = "meter"
interval = "5s"
metrics = { kwh = 100 }
)");
  const auto r = play_recorder(s);
  const auto t = r.telemetry();
  LONGS_EQUAL(24, t.size());  // 12 each in one minute
  // Devices of a group are spread over the interval: a at 0, 5000...; b at 2500, 7500...
  STRCMP_EQUAL("a", t[0].device.c_str());
  CHECK_EQUAL(0, t[0].t_ms);
  LONGS_EQUAL(1, t[0].seq);
  STRCMP_EQUAL("b", t[1].device.c_str());
  CHECK_EQUAL(2'500, t[1].t_ms);
  LONGS_EQUAL(1, t[1].seq);
  STRCMP_EQUAL("a", t[22].device.c_str());
  CHECK_EQUAL(55'000, t[22].t_ms);
  LONGS_EQUAL(12, t[22].seq);
  CHECK_EQUAL(57'500, t[23].t_ms);
  DOUBLES_EQUAL(100, t[5].metrics.at("kwh"), 0);  // no noise: the base exactly
  for (std::size_t i = 1; i < t.size(); ++i) CHECK_TRUE(t[i - 1].t_ms < t[i].t_ms);
}

TEST(DevsimEngine, DriftReachesTheTarget) {
  const Scenario s = load(R"(duration = "1m"
[[group]]
devices = ["c1"]
class = "chiller"
interval = "1s"
metrics = { temp_c = 4.5, power_kw = 10 }
behaviour = [ { kind = "drift", metric = "temp_c", target = 9.5, after = "10s", over = "20s" } ]
)");
  const auto t = play_recorder(s).telemetry();
  LONGS_EQUAL(60, t.size());
  DOUBLES_EQUAL(4.5, t[9].metrics.at("temp_c"), 1e-9);    // before: the base
  DOUBLES_EQUAL(4.5, t[10].metrics.at("temp_c"), 1e-9);   // starts at the base
  DOUBLES_EQUAL(7.0, t[20].metrics.at("temp_c"), 1e-9);   // half way
  DOUBLES_EQUAL(9.5, t[30].metrics.at("temp_c"), 1e-9);   // there
  DOUBLES_EQUAL(9.5, t[59].metrics.at("temp_c"), 1e-9);   // and stays
  DOUBLES_EQUAL(10, t[40].metrics.at("power_kw"), 1e-9);  // other metrics untouched
}

TEST(DevsimEngine, NormalEndsADrift) {
  const Scenario s = load(R"(duration = "1m"
[[group]]
devices = ["c1"]
class = "chiller"
interval = "1s"
metrics = { temp_c = 4.5 }
behaviour = [ { kind = "drift", metric = "temp_c", target = 9.5, after = "10s", over = "10s" },
              { kind = "normal", at = "40s" } ]
)");
  const auto t = play_recorder(s).telemetry();
  DOUBLES_EQUAL(9.5, t[39].metrics.at("temp_c"), 1e-9);
  DOUBLES_EQUAL(4.5, t[40].metrics.at("temp_c"), 1e-9);
}

TEST(DevsimEngine, FlakyDropsAboutTheShareAndSeqsStillAdvance) {
  const Scenario s = load(R"(duration = "2000s"
[[group]]
devices = ["m1"]
class = "meter"
interval = "1s"
metrics = { kwh = { base = 1, noise = 0.1 } }
behaviour = [ { kind = "flaky", share = 0.3 } ]
)");
  Engine engine(s);
  Recorder r;
  engine.advance(s.duration_ms, r);
  const auto t = r.telemetry();
  // 2000 made; about 30% (sd of the count about 20) dropped.
  CHECK_EQUAL(2000U, engine.stats().telemetry_sent + engine.stats().telemetry_dropped);
  CHECK_EQUAL(t.size(), engine.stats().telemetry_sent);
  CHECK_TRUE_TEXT(t.size() > 1300 && t.size() < 1500, std::to_string(t.size()).c_str());
  // The seq of each message is its position in what was made: holes where messages were dropped.
  std::size_t holes = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    LONGS_EQUAL(t[i].t_ms / 1000 + 1, t[i].seq);
    if (i > 0 && t[i].seq != t[i - 1].seq + 1) ++holes;
  }
  CHECK_TRUE(holes > 100);
  // Every dropped message reached on_lost_telemetry, with exactly the seqs of the holes.
  CHECK_EQUAL(engine.stats().telemetry_dropped, r.lost_seqs.size());
  std::vector<std::uint32_t> all;
  for (const auto& a : t) all.push_back(a.seq);
  all.insert(all.end(), r.lost_seqs.begin(), r.lost_seqs.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) LONGS_EQUAL(i + 1, all[i]);
}

TEST(DevsimEngine, SilentStopsAndResumes) {
  const Scenario s = load(R"(duration = "1m"
[[group]]
devices = ["m1"]
class = "meter"
interval = "1s"
metrics = { kwh = 1 }
behaviour = [ { kind = "silent", after = "10s", for = "20s" }, { kind = "fault", at = "15s", code = "LOST" } ]
)");
  Engine engine(s);
  Recorder r;
  engine.advance(s.duration_ms, r);
  const auto t = r.telemetry();
  LONGS_EQUAL(40, t.size());
  CHECK_EQUAL(9'000, t[9].t_ms);
  CHECK_EQUAL(30'000, t[10].t_ms);  // nothing from 10s to 30s
  LONGS_EQUAL(11, t[10].seq);       // a silent device makes nothing, so no hole in the seqs
  CHECK_EQUAL(20U, engine.stats().telemetry_silent);
  CHECK_TRUE(r.events().empty());  // the fault fell into the silence
}

TEST(DevsimEngine, SilentWithoutForStopsForGood) {
  const Scenario s = load(R"(duration = "1m"
[[group]]
devices = ["m1", "m2"]
class = "meter"
interval = "1s"
behaviour = [ { kind = "silent", after = "10s" } ]
)");
  const auto t = play_recorder(s).telemetry();
  LONGS_EQUAL(20, t.size());
  for (const auto& a : t) CHECK_TRUE(a.t_ms < 10'000);
}

TEST(DevsimEngine, FaultThenServiceRequest) {
  const Scenario s = load(R"(duration = "1m"
[[group]]
devices = ["c1"]
class = "chiller"
interval = "1s"
behaviour = [ { kind = "fault", at = "10s", code = "E42", request_after = "5s" } ]
)");
  const auto e = play_recorder(s).events();
  LONGS_EQUAL(2, e.size());
  STRCMP_EQUAL("fault", e[0].type.c_str());
  STRCMP_EQUAL("E42", e[0].code.c_str());
  CHECK_EQUAL(10'000, e[0].t_ms);
  LONGS_EQUAL(1, e[0].seq);
  STRCMP_EQUAL("", e[0].request_id.c_str());
  STRCMP_EQUAL("service_request", e[1].type.c_str());
  CHECK_EQUAL(15'000, e[1].t_ms);
  LONGS_EQUAL(2, e[1].seq);  // its own counter, not telemetry's (which is at 16 by then)
  STRCMP_EQUAL("c1-r1", e[1].request_id.c_str());
}

TEST(DevsimEngine, ServiceVisitAnswersTheRequestAndIsRated) {
  const Scenario s = load(R"(duration = "2m"
[[group]]
devices = ["c1"]
class = "chiller"
technician = "tech-ann"
behaviour = [ { kind = "fault", at = "10s", code = "E42", request_after = "5s" },
              { kind = "service", at = "30s", takes = "20s", score = 4.5, rate_after = "3s" },
              { kind = "service", at = "1m30s", technician = "tech-bob" } ]
)");
  const auto e = play_recorder(s).events();
  LONGS_EQUAL(7, e.size());
  const char* types[] = {"fault",        "service_request", "service_start", "service_done",
                         "satisfaction", "service_start",   "service_done"};
  const std::int64_t times[] = {10'000, 15'000, 30'000, 50'000, 53'000, 90'000, 90'000};
  for (std::size_t i = 0; i < e.size(); ++i) {
    STRCMP_EQUAL(types[i], e[i].type.c_str());
    CHECK_EQUAL(times[i], e[i].t_ms);
    LONGS_EQUAL(i + 1, e[i].seq);
  }
  STRCMP_EQUAL("tech-ann", e[2].technician.c_str());
  STRCMP_EQUAL("tech-ann", e[3].technician.c_str());
  STRCMP_EQUAL("c1-r1", e[2].request_id.c_str());
  STRCMP_EQUAL("c1-r1", e[3].request_id.c_str());
  STRCMP_EQUAL("c1-r1", e[4].request_id.c_str());
  CHECK_TRUE(e[4].score.has_value());
  DOUBLES_EQUAL(4.5, *e[4].score, 0);
  // The second visit answers no request and, without a score, is not rated.
  STRCMP_EQUAL("tech-bob", e[5].technician.c_str());
  STRCMP_EQUAL("", e[5].request_id.c_str());
}

TEST(DevsimEngine, RecurringFaultReturnsAfterServiceDone) {
  const Scenario s = load(R"(duration = "3m"
[[group]]
devices = ["c1"]
class = "chiller"
interval = "1m"
behaviour = [ { kind = "fault", at = "10s", code = "E7", request_after = "5s" },
              { kind = "service", at = "20s", takes = "10s" },
              { kind = "recurring_fault", after = "25s", request_after = "5s" },
              { kind = "service", at = "1m30s", takes = "10s" } ]
)");
  const auto e = play_recorder(s).events();
  std::string got;
  for (const auto& a : e) got += a.type + "@" + std::to_string(a.t_ms) + ":" + a.request_id + " ";
  // done at 30s -> fault again at 55s (times = 1: not again after the second visit's done).
  STRCMP_EQUAL(
      "fault@10000: service_request@15000:c1-r1 service_start@20000:c1-r1 service_done@30000:c1-r1 "
      "fault@55000: service_request@60000:c1-r2 service_start@90000:c1-r2 service_done@100000:c1-r2 ",
      got.c_str());
  STRCMP_EQUAL("E7", e[4].code.c_str());
}

TEST(DevsimEngine, ActionsAreInTimeThenDeviceOrder) {
  const Scenario s = load(kMixed);
  const auto a = play(s);
  for (std::size_t i = 1; i < a.size(); ++i) {
    const bool ordered = a[i - 1].t_ms < a[i].t_ms || (a[i - 1].t_ms == a[i].t_ms && a[i - 1].index <= a[i].index);
    CHECK_TRUE_TEXT(ordered, std::to_string(i).c_str());
    CHECK_TRUE(a[i].t_ms < s.duration_ms);
  }
}

TEST(DevsimEngine, StateIsSmallPerDevice) {
  const std::size_t bytes = Engine::state_bytes_per_device();
  std::printf("\ndevsim engine state: %zu bytes per device\n", bytes);
  CHECK_TRUE(bytes < 3 * 1024);
  // A few thousand devices: a scenario of 5000 plays without trouble.
  const Scenario s = load(R"(duration = "20s"
[[group]]
count = 5000
class = "meter"
interval = "10s"
metrics = { kwh = { base = 1, noise = 1 } }
)");
  Engine engine(s);
  Recorder r;
  engine.advance(s.duration_ms, r);
  LONGS_EQUAL(10'000, r.actions.size());
}

TEST(DevsimEngine, DemoScenarioShowsEveryPath) {
  std::vector<ScenarioError> errors;
  const Scenario s = xrm::devsim::load_scenario_file(XRM_DEVSIM_SCENARIOS_DIR "/demo.toml", errors);
  CHECK_TRUE(errors.empty());
  LONGS_EQUAL(20, s.device_count());
  Engine engine(s);
  Recorder r;
  engine.advance(s.duration_ms, r);
  std::map<std::string, std::vector<Action>> by_device;
  for (const auto& a : r.actions) by_device[a.device].push_back(a);
  auto types_of = [&](const std::string& device) {
    std::string out;
    for (const auto& a : by_device[device]) {
      if (a.event) out += a.type + (a.request_id.empty() ? "" : "(" + a.request_id + ")") + " ";
    }
    return out;
  };
  // Overheating: well above the rule's 8 C at the end.
  double last_hot = 0;
  for (const auto& a : by_device["chiller-hot"]) last_hot = a.metrics.at("temp_c");
  CHECK_TRUE(last_hot > 10);
  CHECK_TRUE(by_device["chiller-1"].back().metrics.at("temp_c") < 6);
  // Flaky: holes in the seqs.
  const auto& flaky = by_device["meter-flaky"];
  CHECK_TRUE(flaky.back().seq > flaky.size());
  // Silent: nothing after 10s.
  CHECK_TRUE(by_device["chiller-silent"].back().t_ms < 10'000);
  STRCMP_EQUAL(
      "fault service_request(chiller-fault-r1) service_start(chiller-fault-r1) "
      "service_done(chiller-fault-r1) satisfaction(chiller-fault-r1) ",
      types_of("chiller-fault").c_str());
  STRCMP_EQUAL(
      "fault service_request(chiller-recur-r1) service_start(chiller-recur-r1) "
      "service_done(chiller-recur-r1) satisfaction(chiller-recur-r1) fault service_request(chiller-recur-r2) ",
      types_of("chiller-recur").c_str());
  std::int64_t last_event = 0;
  for (const auto& a : r.actions) {
    if (a.event) last_event = a.t_ms;
  }
  CHECK_TRUE(last_event < 60'000);  // every service path within a minute
}
