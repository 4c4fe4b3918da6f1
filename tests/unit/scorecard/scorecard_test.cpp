// Stakeholder scorecards with a fixed "now": attribution across relinks, each figure's formula on
// small cases computed by hand (in the comments), the return rule, request and satisfaction
// matching, troubled time, ranking and the explanation sentences (docs/scorecards.md).
#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "xrm/scorecard/scorecard.hpp"

using xrm::scorecard::compute;
using xrm::scorecard::DeviceFacts;
using xrm::scorecard::Role;
using xrm::scorecard::Scorecard;
using xrm::scorecard::ServiceEvent;

namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kPeriod = 30 * kDay;
constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kStart = kNow - kPeriod;

// Day n of the period (day 0 is its start, day 30 is now); negative: before the period.
constexpr std::int64_t day(double n) { return kStart + static_cast<std::int64_t>(n * kDay); }

// An active device, created long before the period.
DeviceFacts device(const std::string& id) {
  DeviceFacts d;
  d.id = id;
  d.device_class = "chiller";
  d.created_ms = kStart - 100 * kDay;
  d.lifecycle = "active";
  return d;
}

void change(DeviceFacts& d, const std::string& what, const std::string& from, const std::string& to,
            std::int64_t at) {
  d.history.push_back({at, what, from, to, "xrmctl:uid=1000(alice)"});
}

ServiceEvent event(const std::string& dev, std::int64_t at, const std::string& type) {
  ServiceEvent e;
  e.device = dev;
  e.at_ms = at;
  e.type = type;
  return e;
}
ServiceEvent fault(const std::string& dev, std::int64_t at, const std::string& code) {
  auto e = event(dev, at, "fault");
  e.code = code;
  return e;
}
ServiceEvent request(const std::string& dev, std::int64_t at, const std::string& id) {
  auto e = event(dev, at, "service_request");
  e.request_id = id;
  return e;
}
ServiceEvent done(const std::string& dev, std::int64_t at, const std::string& tech = "", const std::string& id = "") {
  auto e = event(dev, at, "service_done");
  e.technician = tech;
  e.request_id = id;
  return e;
}
ServiceEvent rating(const std::string& dev, std::int64_t at, double score, const std::string& tech = "",
                    const std::string& id = "") {
  auto e = event(dev, at, "satisfaction");
  e.score = score;
  e.technician = tech;
  e.request_id = id;
  return e;
}

const Scorecard& card(const std::vector<Scorecard>& cards, const std::string& who) {
  for (const auto& c : cards) {
    if (c.stakeholder == who) return c;
  }
  FAIL(("no scorecard for " + who).c_str());
  return cards.front();
}

double figure(const Scorecard& c, const std::string& name) {
  for (const auto& f : c.figures) {
    if (f.name == name) return f.value;
  }
  FAIL(("no figure " + name + " on " + c.stakeholder).c_str());
  return 0;
}

std::vector<std::string> figure_names(const Scorecard& c) {
  std::vector<std::string> out;
  for (const auto& f : c.figures) out.push_back(f.name);
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

TEST_GROUP(Role){};

TEST(Role, NamesRoundTrip) {
  for (auto r : {Role::kTechnician, Role::kSupplier, Role::kModel, Role::kOwner, Role::kSite}) {
    auto back = xrm::scorecard::parse_role(xrm::scorecard::to_string(r));
    CHECK(back.has_value());
    CHECK(*back == r);
  }
  STRCMP_EQUAL("supplier", std::string(xrm::scorecard::to_string(Role::kSupplier)).c_str());
  CHECK_FALSE(xrm::scorecard::parse_role("customer").has_value());
  CHECK_FALSE(xrm::scorecard::parse_role("").has_value());
}

TEST_GROUP(Attribution){};

TEST(Attribution, VisitsBeforeARelinkGoToTheOldTechnicianAfterToTheNew) {
  auto d = device("pump-1");
  d.links.technician = "bob";
  change(d, "technician", "alice", "bob", day(10));
  // Day 5: alice's; day 10 (the relink's own instant): bob's; day 15: bob's.
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {done("pump-1", day(5)), done("pump-1", day(10)), done("pump-1", day(15))});
  LONGS_EQUAL(2, cards.size());
  DOUBLES_EQUAL(1, figure(card(cards, "alice"), "visits"), 1e-9);
  DOUBLES_EQUAL(2, figure(card(cards, "bob"), "visits"), 1e-9);
  LONGS_EQUAL(1, card(cards, "alice").device_count);
  LONGS_EQUAL(1, card(cards, "bob").device_count);
}

TEST(Attribution, FaultsAndDeviceDaysSplitAcrossASupplierRelink) {
  auto d = device("pump-1");
  d.links.supplier = "bolt";
  change(d, "supplier", "acme", "bolt", day(20));
  // Day -1 is before the period: ignored. Day 19: acme's. Day 21: bolt's.
  auto cards = compute(Role::kSupplier, kPeriod, kNow, {d},
                       {fault("pump-1", day(-1), "E1"), fault("pump-1", day(19), "E1"), fault("pump-1", day(21), "E1")});
  LONGS_EQUAL(2, cards.size());
  const auto& acme = card(cards, "acme");
  const auto& bolt = card(cards, "bolt");
  // acme linked days 0..20 of the period, bolt 20..30.
  DOUBLES_EQUAL(20, figure(acme, "device_days"), 1e-9);
  DOUBLES_EQUAL(10, figure(bolt, "device_days"), 1e-9);
  DOUBLES_EQUAL(1, figure(acme, "faults"), 1e-9);
  DOUBLES_EQUAL(1, figure(bolt, "faults"), 1e-9);
  DOUBLES_EQUAL(0.05, figure(acme, "fault_rate"), 1e-9);  // 1 / 20
  DOUBLES_EQUAL(0.1, figure(bolt, "fault_rate"), 1e-9);   // 1 / 10
  // No health scores: the components are faults (0.4) and troubled (0.3, nothing troubled).
  // acme: (0.4 x (1 - 0.05/0.5) + 0.3 x 1) / 0.7 = 0.66 / 0.7 = 94.2857
  // bolt: (0.4 x (1 - 0.1/0.5) + 0.3 x 1) / 0.7 = 0.62 / 0.7 = 88.5714
  DOUBLES_EQUAL(94.2857, *acme.score, 1e-3);
  DOUBLES_EQUAL(88.5714, *bolt.score, 1e-3);
  STRCMP_EQUAL("94.3: 1 fault in 20 device-days (0.05 per device-day)", acme.explanation.c_str());
  STRCMP_EQUAL("88.6: 1 fault in 10 device-days (0.1 per device-day)", bolt.explanation.c_str());
  STRCMP_EQUAL("acme", cards[0].stakeholder.c_str());
  LONGS_EQUAL(1, cards[0].rank);
  LONGS_EQUAL(2, cards[1].rank);
}

TEST(Attribution, CreationAndRetirementBoundTheLinkedTime) {
  auto young = device("young");
  young.links.model = "m1";
  young.created_ms = day(24);  // 6 days in the period
  auto gone = device("gone");
  gone.links.model = "m1";
  gone.retired_ms = day(3);  // 3 days in the period
  gone.lifecycle = "retired";
  auto old = device("old");
  old.links.model = "m1";
  old.retired_ms = day(-2);  // retired before the period: not a device of it
  old.lifecycle = "retired";
  // The fault of `gone` after its retirement and the one of `young` before its creation do not count.
  auto cards = compute(Role::kModel, kPeriod, kNow, {young, gone, old},
                       {fault("gone", day(2), "E1"), fault("gone", day(4), "E1"), fault("young", day(20), "E1"),
                        fault("old", day(1), "E1")});
  LONGS_EQUAL(1, cards.size());
  DOUBLES_EQUAL(9, figure(cards[0], "device_days"), 1e-9);  // 6 + 3
  DOUBLES_EQUAL(1, figure(cards[0], "faults"), 1e-9);
  LONGS_EQUAL(2, cards[0].device_count);
}

TEST(Attribution, EmptyLinksAreNeverAStakeholder) {
  auto d = device("pump-1");  // no links at all
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {done("pump-1", day(3)), rating("pump-1", day(4), 5), done("ghost", day(5), "tina")});
  LONGS_EQUAL(0, cards.size());  // the done of an unknown device is ignored too
  CHECK(compute(Role::kOwner, kPeriod, kNow, {d}, {}).empty());
}

TEST_GROUP(Technician){};

TEST(Technician, FiguresRequestMatchingAndScore) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  d.sla_ms = 48 * kHour;
  d.satisfaction_min = 4;
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {request("pump-1", day(1), "r1"), request("pump-1", day(2), "r2"),
                        // by request_id: r2, 12 h, on time
                        done("pump-1", day(2.5), "", "r2"),
                        // no id: the oldest open request, r1: 4 days = 96 h, late
                        done("pump-1", day(5)),
                        // rates the r2 visit (by id) with 5: satisfied
                        rating("pump-1", day(6), 5, "", "r2"),
                        // no request left open: not matched
                        done("pump-1", day(8)),
                        // rates the last visit (day 8) with 3: not satisfied
                        rating("pump-1", day(9), 3)});
  LONGS_EQUAL(1, cards.size());
  const auto& t = cards[0];
  STRCMP_EQUAL("visits,mean_time_to_done,on_time,satisfaction_mean,satisfied,returns,return_rate",
               joined(figure_names(t)).c_str());
  DOUBLES_EQUAL(3, figure(t, "visits"), 1e-9);
  DOUBLES_EQUAL(54 * 3600, figure(t, "mean_time_to_done"), 1e-6);  // (12 h + 96 h) / 2 in s
  DOUBLES_EQUAL(50, figure(t, "on_time"), 1e-9);                    // 1 of 2 matched
  DOUBLES_EQUAL(4, figure(t, "satisfaction_mean"), 1e-9);           // (5 + 3) / 2
  DOUBLES_EQUAL(50, figure(t, "satisfied"), 1e-9);
  DOUBLES_EQUAL(0, figure(t, "returns"), 1e-9);
  DOUBLES_EQUAL(0, figure(t, "return_rate"), 1e-9);
  // 100 x (0.5 x 1 + 0.3 x 0.5 + 0.2 x 0.5) = 75; satisfied cost 15 points, on time 10.
  DOUBLES_EQUAL(75, *t.score, 1e-9);
  STRCMP_EQUAL("75: 1 of 2 ratings satisfied (50%)", t.explanation.c_str());
  LONGS_EQUAL(1, t.rank);
  LONGS_EQUAL(1, t.ranked_count);
}

TEST(Technician, RequestIdWinsOverTheOldestOpenRequest) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  d.sla_ms = kDay;  // exactly the first visit's time to done: on time
  // r1 stays open; the done names r2 (1 day). The next done takes r1 (day 0 -> day 4: 4 days).
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {request("pump-1", day(0), "r1"), request("pump-1", day(2), "r2"),
                        done("pump-1", day(3), "", "r2"), done("pump-1", day(4))});
  DOUBLES_EQUAL(2.5 * 86400, figure(cards[0], "mean_time_to_done"), 1e-6);  // (1 d + 4 d) / 2
  DOUBLES_EQUAL(50, figure(cards[0], "on_time"), 1e-9);                    // 1 d <= the SLA, 4 d is not
}

TEST(Technician, RequestsBeforeThePeriodStillMatch) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  d.sla_ms = 10 * kDay;
  // The first done (before the period) answers r0; the one in the period r1, 3 days, on time.
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {request("pump-1", day(-9), "r0"), request("pump-1", day(-3), "r1"), done("pump-1", day(-2)),
                        done("pump-1", day(0))});
  DOUBLES_EQUAL(1, figure(cards[0], "visits"), 1e-9);
  DOUBLES_EQUAL(3 * 86400, figure(cards[0], "mean_time_to_done"), 1e-6);
  DOUBLES_EQUAL(100, figure(cards[0], "on_time"), 1e-9);
}

TEST(Technician, SatisfactionGoesToItsOwnTechnicianElseTheRatedVisits) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  change(d, "technician", "sam", "tina", day(10));
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {done("pump-1", day(5), "", "a"),         // sam's (linked then)
                        done("pump-1", day(12), "ulla", "b"),    // ulla's (its own field)
                        rating("pump-1", day(13), 2, "", "a"),   // rates the visit "a": sam
                        rating("pump-1", day(14), 5),            // the last visit (day 12): ulla
                        rating("pump-1", day(15), 4, "tina", "a")});  // its own field: tina
  LONGS_EQUAL(3, cards.size());
  const auto& sam = card(cards, "sam");
  const auto& ulla = card(cards, "ulla");
  const auto& tina = card(cards, "tina");
  DOUBLES_EQUAL(2, figure(sam, "satisfaction_mean"), 1e-9);
  DOUBLES_EQUAL(0, figure(sam, "satisfied"), 1e-9);
  DOUBLES_EQUAL(5, figure(ulla, "satisfaction_mean"), 1e-9);
  DOUBLES_EQUAL(100, figure(ulla, "satisfied"), 1e-9);
  DOUBLES_EQUAL(4, figure(tina, "satisfaction_mean"), 1e-9);
  DOUBLES_EQUAL(100, figure(tina, "satisfied"), 1e-9);  // 4 >= satisfaction_min 4
  LONGS_EQUAL(0, ulla.device_count);                    // never linked to the device
  // tina made no visit in the period: not ranked.
  CHECK_FALSE(tina.score.has_value());
  LONGS_EQUAL(0, tina.rank);
  STRCMP_EQUAL("no service visits in the last 30d", tina.explanation.c_str());
  // sam: 100 x (0.5 x 1 + 0.3 x 0) / 0.8 = 62.5
  DOUBLES_EQUAL(62.5, *sam.score, 1e-9);
  STRCMP_EQUAL("62.5: 0 of 1 rating satisfied (0%)", sam.explanation.c_str());
}

TEST_GROUP(Returns){};

TEST(Returns, SameCodeBeforeTheVisitWithinTheWindowOncePerVisitAndCode) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  d.recurrence_window_ms = 10 * kDay;
  auto d2 = device("pump-2");
  d2.links.technician = "tina";
  d2.recurrence_window_ms = 10 * kDay;
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d, d2},
                       {fault("pump-1", day(2), "E1"),
                        done("pump-1", day(5)),          // visit V1
                        fault("pump-1", day(7), "E1"),   // E1 3 days before V1, 2 after: a return
                        fault("pump-1", day(8), "E1"),   // the same (V1, E1): not again
                        fault("pump-1", day(8), "E9"),   // E9 not seen before V1: not a return
                        fault("pump-1", day(12), "E5"),  // not seen before V1
                        done("pump-1", day(20)),         // visit V2
                        fault("pump-1", day(21), "E1"),  // E1 last seen day 8, 12 days before V2: no
                        fault("pump-1", day(22), "E5"),  // E5 seen day 12, 8 days before V2: a return
                        fault("pump-2", day(1), "E1"),
                        done("pump-2", day(2)),          // visit V3
                        fault("pump-2", day(13), "E1")});  // 11 days after V3, beyond the window: no
  const auto& t = cards[0];
  DOUBLES_EQUAL(3, figure(t, "visits"), 1e-9);
  DOUBLES_EQUAL(2, figure(t, "returns"), 1e-9);
  DOUBLES_EQUAL(200.0 / 3, figure(t, "return_rate"), 1e-9);
  // Only the returns component (no ratings, no requests): 100 x (1 - 2/3) = 33.33
  DOUBLES_EQUAL(100.0 / 3, *t.score, 1e-9);
  STRCMP_EQUAL("33.3: 2 of 3 visits were followed by a returning fault (66.7%)", t.explanation.c_str());
}

TEST(Returns, ChargedToTheTechnicianOfTheLastVisitEvenBeforeThePeriod) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  change(d, "technician", "tom", "tina", day(3));
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {fault("pump-1", day(-3), "E7"), done("pump-1", day(-1)),  // tom's visit, before the period
                        fault("pump-1", day(1), "E7"),                           // a return, tom's
                        done("pump-1", day(2)),                                  // tom's visit in the period
                        done("pump-1", day(4)),                                  // tina's
                        fault("pump-1", day(5), "E7")});  // after tina's visit; E7 seen day 1: tina's return
  const auto& tom = card(cards, "tom");
  const auto& tina = card(cards, "tina");
  DOUBLES_EQUAL(1, figure(tom, "visits"), 1e-9);
  DOUBLES_EQUAL(1, figure(tom, "returns"), 1e-9);
  DOUBLES_EQUAL(1, figure(tina, "returns"), 1e-9);
  DOUBLES_EQUAL(0, *tom.score, 1e-9);
  STRCMP_EQUAL("0: 1 of 1 visit was followed by a returning fault (100%)", tom.explanation.c_str());
}

TEST_GROUP(Product){};

TEST(Product, TroubledTimeFromLifecycleHistoryHealthAndFirmware) {
  auto d1 = device("pump-1");
  d1.links.supplier = "acme";
  d1.firmware = "2.0";
  d1.score = 80;
  change(d1, "lifecycle", "provisioned", "active", day(-5));
  change(d1, "lifecycle", "active", "degraded", day(10));
  change(d1, "lifecycle", "degraded", "critical", day(12));
  change(d1, "lifecycle", "critical", "active", day(16));  // troubled days 10..16: 6 days
  auto d2 = device("pump-2");
  d2.links.supplier = "acme";
  d2.firmware = "1.10";
  d2.score = 100;
  d2.created_ms = day(20);  // 10 days in the period
  d2.lifecycle = "degraded";
  change(d2, "lifecycle", "provisioned", "degraded", day(30));  // at now: no troubled time
  auto cards = compute(Role::kSupplier, kPeriod, kNow, {d1, d2}, {});
  LONGS_EQUAL(1, cards.size());
  const auto& s = cards[0];
  STRCMP_EQUAL("device_days,faults,fault_rate,mean_health,troubled,firmware_versions,firmware 1.10,firmware 2.0",
               joined(figure_names(s)).c_str());
  DOUBLES_EQUAL(40, figure(s, "device_days"), 1e-9);   // 30 + 10
  DOUBLES_EQUAL(15, figure(s, "troubled"), 1e-9);      // 6 of 40 days
  DOUBLES_EQUAL(90, figure(s, "mean_health"), 1e-9);   // (80 + 100) / 2
  DOUBLES_EQUAL(2, figure(s, "firmware_versions"), 1e-9);
  DOUBLES_EQUAL(1, figure(s, "firmware 1.10"), 1e-9);
  DOUBLES_EQUAL(1, figure(s, "firmware 2.0"), 1e-9);
  // 100 x (0.4 x 1 + 0.3 x 0.9 + 0.3 x 0.85) = 92.5; troubled costs 4.5 points, health 3.
  DOUBLES_EQUAL(92.5, *s.score, 1e-9);
  STRCMP_EQUAL("92.5: degraded or critical 15% of its device time", s.explanation.c_str());
}

TEST(Product, BeforeTheFirstLifecycleEntryADeviceIsProvisioned) {
  auto d = device("pump-1");
  d.links.model = "m1";
  d.lifecycle = "critical";
  change(d, "lifecycle", "degraded", "critical", day(25));  // before day 25: provisioned, not troubled
  auto cards = compute(Role::kModel, kPeriod, kNow, {d}, {});
  DOUBLES_EQUAL(100.0 * 5 / 30, figure(cards[0], "troubled"), 1e-9);
}

TEST(Product, FaultRateAtHalfADayTakesTheWholeComponentAndNoDeviceTimeIsNotRanked) {
  auto d = device("pump-1");
  d.links.model = "m1";
  d.created_ms = day(28);  // 2 device-days
  auto never = device("pump-2");
  never.links.model = "m2";
  never.created_ms = kNow;  // linked at the instant of now only
  auto cards = compute(Role::kModel, kPeriod, kNow, {d, never},
                       {fault("pump-1", day(28.5), "E1"), fault("pump-1", day(29), "E2"),
                        fault("pump-1", day(29.5), "E3")});
  const auto& m1 = card(cards, "m1");
  const auto& m2 = card(cards, "m2");
  DOUBLES_EQUAL(1.5, figure(m1, "fault_rate"), 1e-9);  // 3 / 2
  // (0.4 x 0 + 0.3 x 1) / 0.7 = 42.857
  DOUBLES_EQUAL(300.0 / 7, *m1.score, 1e-9);
  STRCMP_EQUAL("42.9: 3 faults in 2 device-days (1.5 per device-day)", m1.explanation.c_str());
  LONGS_EQUAL(1, m2.device_count);
  CHECK_FALSE(m2.score.has_value());
  STRCMP_EQUAL("no device time in the last 30d", m2.explanation.c_str());
  STRCMP_EQUAL("m1", cards[0].stakeholder.c_str());
  LONGS_EQUAL(1, m1.ranked_count);
  LONGS_EQUAL(1, m2.ranked_count);
}

TEST_GROUP(Customer){};

TEST(Customer, OwnerFiguresScoreAndRanking) {
  auto o1 = device("o1");
  o1.links.owner = "olga";
  o1.score = 90;
  o1.silent_beyond_profile = true;
  o1.open_alerts = 1;
  auto o2 = device("o2");
  o2.links.owner = "olga";
  o2.score = 70;
  o2.open_alerts = 2;
  o2.lifecycle = "degraded";
  change(o2, "lifecycle", "active", "degraded", day(24));  // 6 troubled days
  auto o3 = device("o3");
  o3.links.owner = "olga";
  auto o4 = device("o4");
  o4.links.owner = "olga";
  o4.retired_ms = day(10);
  o4.lifecycle = "retired";
  auto p1 = device("p1");
  p1.links.owner = "pia";
  p1.score = 100;
  auto q1 = device("q1");
  q1.links.owner = "quinn";
  q1.retired_ms = day(1);
  q1.lifecycle = "retired";
  auto cards = compute(Role::kOwner, kPeriod, kNow, {o1, o2, o3, o4, p1, q1},
                       {fault("o1", day(3), "E1"), fault("o4", day(5), "E1"), fault("o4", day(12), "E1")});
  LONGS_EQUAL(3, cards.size());
  const auto& olga = card(cards, "olga");
  STRCMP_EQUAL("devices,mean_health,silent,open_alerts,troubled,faults,fault_rate", joined(figure_names(olga)).c_str());
  LONGS_EQUAL(4, olga.device_count);                   // o4 was linked until its retirement
  DOUBLES_EQUAL(3, figure(olga, "devices"), 1e-9);     // o4 retired
  DOUBLES_EQUAL(80, figure(olga, "mean_health"), 1e-9);  // (90 + 70) / 2, o3 not scored
  DOUBLES_EQUAL(1, figure(olga, "silent"), 1e-9);
  DOUBLES_EQUAL(3, figure(olga, "open_alerts"), 1e-9);
  DOUBLES_EQUAL(6, figure(olga, "troubled"), 1e-9);    // 6 of 3 x 30 + 10 = 100 days
  DOUBLES_EQUAL(2, figure(olga, "faults"), 1e-9);      // o4's day-12 fault is after its retirement
  DOUBLES_EQUAL(0.02, figure(olga, "fault_rate"), 1e-9);
  // 100 x (0.5 x 0.8 + 0.2 x (1 - 1/3) + 0.15 x (1 - min(1, 3/3)) + 0.15 x 0.94) = 67.433;
  // alerts cost 15 points, health 10, silence 6.7, troubled 0.9.
  DOUBLES_EQUAL(67.4333, *olga.score, 1e-3);
  STRCMP_EQUAL("67.4: 3 open alerts on 3 devices", olga.explanation.c_str());
  const auto& pia = card(cards, "pia");
  DOUBLES_EQUAL(100, *pia.score, 1e-9);
  STRCMP_EQUAL("100: mean health 100 of its 1 device, none of its 1 device silent, no open alerts, "
               "never degraded or critical",
               pia.explanation.c_str());
  const auto& quinn = card(cards, "quinn");
  CHECK_FALSE(quinn.score.has_value());
  STRCMP_EQUAL("no devices now", quinn.explanation.c_str());
  STRCMP_EQUAL("pia", cards[0].stakeholder.c_str());
  STRCMP_EQUAL("olga", cards[1].stakeholder.c_str());
  STRCMP_EQUAL("quinn", cards[2].stakeholder.c_str());
  LONGS_EQUAL(2, olga.rank);
  LONGS_EQUAL(0, quinn.rank);
  LONGS_EQUAL(2, quinn.ranked_count);
}

TEST(Customer, SiteSilenceSentence) {
  std::vector<DeviceFacts> ds;
  for (int i = 0; i < 5; ++i) {
    auto d = device("s" + std::to_string(i));
    d.links.site = "north";
    d.score = 100;
    d.silent_beyond_profile = i < 2;
    ds.push_back(d);
  }
  auto cards = compute(Role::kSite, kPeriod, kNow, ds, {});
  // 100 x (0.5 + 0.2 x 0.6 + 0.15 + 0.15) = 92
  DOUBLES_EQUAL(92, *cards[0].score, 1e-9);
  STRCMP_EQUAL("92: 2 of 5 devices silent beyond their profile", cards[0].explanation.c_str());
  DOUBLES_EQUAL(2, figure(cards[0], "silent"), 1e-9);
  LONGS_EQUAL(5, cards[0].device_count);
}

TEST_GROUP(Ranking){};

TEST(Ranking, BestFirstTiesByIdUnrankedLastById) {
  std::vector<DeviceFacts> ds;
  for (const char* t : {"carl", "abe", "bea", "dan", "aaron"}) {
    auto d = device(std::string("d-") + t);
    d.links.technician = t;
    ds.push_back(d);
  }
  auto cards = compute(Role::kTechnician, kPeriod, kNow, ds,
                       {done("d-carl", day(1)), done("d-abe", day(1)),
                        fault("d-bea", day(1), "X"), done("d-bea", day(2)), fault("d-bea", day(3), "X")});
  LONGS_EQUAL(5, cards.size());
  const char* order[] = {"abe", "carl", "bea", "aaron", "dan"};
  const std::uint32_t ranks[] = {1, 2, 3, 0, 0};
  for (std::size_t i = 0; i < 5; ++i) {
    STRCMP_EQUAL(order[i], cards[i].stakeholder.c_str());
    LONGS_EQUAL(ranks[i], cards[i].rank);
    LONGS_EQUAL(3, cards[i].ranked_count);
  }
  DOUBLES_EQUAL(100, *cards[0].score, 1e-9);
  DOUBLES_EQUAL(0, *cards[2].score, 1e-9);
  CHECK_FALSE(cards[3].score.has_value());
}

TEST_GROUP(Explanation){};

TEST(Explanation, NothingCostAnythingSaysSo) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  auto cards = compute(Role::kTechnician, kPeriod, kNow, {d},
                       {request("pump-1", day(1), "r1"), done("pump-1", day(1.5), "", "r1"),
                        rating("pump-1", day(2), 5), done("pump-1", day(3)), rating("pump-1", day(4), 4)});
  DOUBLES_EQUAL(100, *cards[0].score, 1e-9);
  STRCMP_EQUAL("100: no returning faults, 2 of 2 ratings satisfied, all requests done within the SLA",
               cards[0].explanation.c_str());
}

TEST(Explanation, OnTimeSentenceAndHealthSentence) {
  auto d = device("pump-1");
  d.links.technician = "tina";
  d.links.supplier = "acme";
  d.score = 60;
  d.sla_ms = kHour;
  auto events = std::vector<ServiceEvent>{request("pump-1", day(1), "r1"), done("pump-1", day(2), "", "r1")};
  auto tech = compute(Role::kTechnician, kPeriod, kNow, {d}, events);
  // 100 x (0.5 x 1 + 0.2 x 0) / 0.7 = 71.43
  DOUBLES_EQUAL(500.0 / 7, *tech[0].score, 1e-9);
  STRCMP_EQUAL("71.4: 0 of 1 request done within the SLA (0%)", tech[0].explanation.c_str());
  auto sup = compute(Role::kSupplier, kPeriod, kNow, {d}, events);
  // 100 x (0.4 x 1 + 0.3 x 0.6 + 0.3 x 1) = 88
  DOUBLES_EQUAL(88, *sup[0].score, 1e-9);
  STRCMP_EQUAL("88: mean health 60 of its 1 device", sup[0].explanation.c_str());
}
