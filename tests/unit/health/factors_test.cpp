// The five KPI factors with explicit times: each formula of docs/rules.md, its bounds, and state
// surviving save/restore.
#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "xrm/health/factors.hpp"
#include "xrm/health/proto/health_state.pb.h"

using namespace std::chrono_literals;
using xrm::health::KpiFactor;
using xrm::health::KpiState;
using xrm::health::Profile;

namespace {

constexpr std::int64_t kT0 = 1'800'000'000'000;

Profile profile() {
  Profile p;
  p.class_name = "chiller";
  p.expected_interval = 10s;
  p.offline_after = 60s;
  p.weights = {30, 20, 10, 20, 20};
  p.kpi.gaps_window = 100s;
  p.kpi.gaps_full = 20;
  p.kpi.response_target = 5s;
  p.kpi.recurrence_window = std::chrono::milliseconds(30LL * 86'400'000);
  p.kpi.satisfaction_min = 4;
  p.kpi.sla = 48h;
  p.kpi.period = std::chrono::milliseconds(30LL * 86'400'000);
  return p;
}

double penalty(const KpiState& s, const Profile& p, KpiFactor f, std::int64_t now) {
  double out[xrm::health::kKpiFactors];
  s.penalties(p, now, out);
  return out[static_cast<int>(f)];
}

xrm::v1::ServiceEvent event(const std::string& type, const std::string& code = "", double score = -1,
                            const std::string& request_id = "") {
  xrm::v1::ServiceEvent e;
  e.set_type(type);
  if (!code.empty()) e.set_code(code);
  if (score >= 0) e.set_score(score);
  e.set_request_id(request_id);
  return e;
}

}  // namespace

TEST_GROUP(Silence){};

TEST(Silence, NothingForTwoIntervalsThenLinearToTheWholeWeightAtOfflineAfter) {
  const Profile p = profile();
  KpiState s;
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kSilence, kT0), 1e-9);  // no data yet: nothing to judge
  STRCMP_EQUAL("no data yet", s.explain(KpiFactor::kSilence, p, kT0).why.c_str());
  s.note_data(kT0);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kSilence, kT0 + 20'000), 1e-9);
  DOUBLES_EQUAL(15, penalty(s, p, KpiFactor::kSilence, kT0 + 40'000), 1e-9);  // halfway from 20 s to 60 s
  DOUBLES_EQUAL(30, penalty(s, p, KpiFactor::kSilence, kT0 + 60'000), 1e-9);
  DOUBLES_EQUAL(30, penalty(s, p, KpiFactor::kSilence, kT0 + 600'000), 1e-9);
  const auto f = s.explain(KpiFactor::kSilence, p, kT0 + 40'000);
  STRCMP_EQUAL("last data 40s ago; expected every 10s, offline after 60s", f.why.c_str());
  DOUBLES_EQUAL(40, *f.value, 1e-9);
  s.note_data(kT0 + 45'000);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kSilence, kT0 + 46'000), 1e-9);
}

TEST(Silence, OfflineWithinTwoIntervalsIsAStep) {
  Profile p = profile();
  p.offline_after = 15s;
  KpiState s;
  s.note_data(kT0);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kSilence, kT0 + 14'999), 1e-9);
  DOUBLES_EQUAL(30, penalty(s, p, KpiFactor::kSilence, kT0 + 15'000), 1e-9);
}

TEST_GROUP(Gaps){};

TEST(Gaps, ShareMissingAgainstGapsFullThenForgottenAfterTheWindow) {
  const Profile p = profile();
  KpiState s;
  s.note_sequence(95, 5, 10, kT0, p.kpi);  // expected 100, 10 missing: 10% of the 20% for the whole weight
  DOUBLES_EQUAL(10, penalty(s, p, KpiFactor::kGaps, kT0 + 1000), 1e-9);
  const auto f = s.explain(KpiFactor::kGaps, p, kT0 + 1000);
  STRCMP_EQUAL("10 of 100 expected messages missing (10%) in the last 100s; whole weight at 20%", f.why.c_str());
  s.note_sequence(96, 5, 9, kT0 + 2000, p.kpi);  // a late message filled a gap
  DOUBLES_EQUAL(9, penalty(s, p, KpiFactor::kGaps, kT0 + 2000), 1e-9);
  s.note_sequence(196, 5, 49, kT0 + 3000, p.kpi);  // 40 more of 100 missing: beyond 20%, whole weight
  DOUBLES_EQUAL(20, penalty(s, p, KpiFactor::kGaps, kT0 + 3000), 1e-9);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kGaps, kT0 + 200'000), 1e-9);  // window passed
}

TEST(Gaps, IngestCountingAgainAfterARestartIsANewBaseline) {
  const Profile p = profile();
  KpiState s;
  s.note_sequence(100, 0, 0, kT0, p.kpi);
  s.note_sequence(10, 0, 0, kT0 + 1000, p.kpi);  // counters went back: gateway restarted
  s.note_sequence(20, 0, 10, kT0 + 2000, p.kpi);
  // expected 100 + 10 + 20 = 130... the restart's 10 count again as new: 10 missing of 130.
  DOUBLES_EQUAL(20.0 * (10.0 / 130.0) / 0.2, penalty(s, p, KpiFactor::kGaps, kT0 + 2000), 1e-9);
}

TEST_GROUP(Response){};

TEST(Response, P90OfResultsAgainstTheTargetWholeWeightAtTwice) {
  const Profile p = profile();
  KpiState s;
  STRCMP_EQUAL("no command results yet", s.explain(KpiFactor::kResponse, p, kT0).why.c_str());
  const std::int64_t sent[] = {0, 1000, 2000};
  const std::int64_t took[] = {1000, 2000, 7500};
  for (int i = 0; i < 3; ++i) s.note_command_sent("r" + std::to_string(i), kT0 + sent[i]);
  CHECK_FALSE(s.note_command_result("unknown", kT0 + 3000));
  for (int i = 0; i < 3; ++i) CHECK(s.note_command_result("r" + std::to_string(i), kT0 + sent[i] + took[i]));
  // p90 of {1, 2, 7.5} s is 7.5 s: (7.5 - 5) / 5 = half the weight.
  DOUBLES_EQUAL(5, penalty(s, p, KpiFactor::kResponse, kT0 + 20'000), 1e-9);
  STRCMP_CONTAINS("p90 command response 8s over 3 results; target 5s",
                  s.explain(KpiFactor::kResponse, p, kT0 + 20'000).why.c_str());
}

TEST(Response, AWaitingCommandCountsOnceLateAndTimesOut) {
  const Profile p = profile();
  KpiState s;
  s.note_command_sent("slow", kT0);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kResponse, kT0 + 4000), 1e-9);  // not late yet: no figure
  DOUBLES_EQUAL(10, penalty(s, p, KpiFactor::kResponse, kT0 + 10'000), 1e-9);  // waiting 10 s: twice the target
  s.advance(kT0 + 21'000, p.kpi);  // beyond 4 targets: a timeout sample
  CHECK_FALSE(s.note_command_result("slow", kT0 + 22'000));
  DOUBLES_EQUAL(10, penalty(s, p, KpiFactor::kResponse, kT0 + 22'000), 1e-9);
}

TEST_GROUP(Recurrence){};

TEST(Recurrence, AFaultCodeReturningAfterServiceDoneHalfWeightEach) {
  const Profile p = profile();
  KpiState s;
  const std::int64_t day = 86'400'000;
  s.note_event(event("fault", "E1"), kT0, p.kpi);
  s.note_event(event("service_done"), kT0 + 3'600'000, p.kpi);
  s.note_event(event("fault", "E2"), kT0 + day, p.kpi);  // a different code: not a return
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kRecurrence, kT0 + day), 1e-9);
  s.note_event(event("fault", "E1"), kT0 + 2 * day, p.kpi);
  DOUBLES_EQUAL(10, penalty(s, p, KpiFactor::kRecurrence, kT0 + 2 * day), 1e-9);
  STRCMP_CONTAINS("fault E1 returned 47h after service_done; 1 return in the last 30d",
                  s.explain(KpiFactor::kRecurrence, p, kT0 + 2 * day).why.c_str());
  s.note_event(event("fault", "E1"), kT0 + 3 * day, p.kpi);  // once per code and visit
  DOUBLES_EQUAL(10, penalty(s, p, KpiFactor::kRecurrence, kT0 + 3 * day), 1e-9);
  s.note_event(event("service_done"), kT0 + 4 * day, p.kpi);
  s.note_event(event("fault", "E2"), kT0 + 5 * day, p.kpi);
  DOUBLES_EQUAL(20, penalty(s, p, KpiFactor::kRecurrence, kT0 + 5 * day), 1e-9);
  s.advance(kT0 + 40 * day, p.kpi);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kRecurrence, kT0 + 40 * day), 1e-9);
}

TEST_GROUP(Satisfaction){};

TEST(Satisfaction, ShareOfRequestsNotClosedByServiceDoneAndAGoodRatingWithinTheSla) {
  const Profile p = profile();
  KpiState s;
  const std::int64_t h = 3'600'000;
  s.note_event(event("service_request", "", -1, "A"), kT0, p.kpi);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kSatisfaction, kT0 + h), 1e-9);  // open, within the SLA
  STRCMP_CONTAINS("(1 open)", s.explain(KpiFactor::kSatisfaction, p, kT0 + h).why.c_str());
  s.note_event(event("service_done", "", -1, "A"), kT0 + h, p.kpi);
  s.note_event(event("satisfaction", "", 5), kT0 + 2 * h, p.kpi);
  DOUBLES_EQUAL(0, penalty(s, p, KpiFactor::kSatisfaction, kT0 + 2 * h), 1e-9);
  // B: done and rated 2: failed.
  s.note_event(event("service_request", "", -1, "B"), kT0 + 3 * h, p.kpi);
  s.note_event(event("service_done"), kT0 + 4 * h, p.kpi);
  s.note_event(event("satisfaction", "", 2), kT0 + 5 * h, p.kpi);
  DOUBLES_EQUAL(10, penalty(s, p, KpiFactor::kSatisfaction, kT0 + 5 * h), 1e-9);
  // C: never done; fails when its 48 h pass.
  s.note_event(event("service_request", "", -1, "C"), kT0 + 6 * h, p.kpi);
  DOUBLES_EQUAL(10, penalty(s, p, KpiFactor::kSatisfaction, kT0 + 50 * h), 1e-9);
  DOUBLES_EQUAL(20.0 * 2 / 3, penalty(s, p, KpiFactor::kSatisfaction, kT0 + 55 * h), 1e-9);
  STRCMP_CONTAINS("2 of 3 service requests in the last 30d not closed by service_done and a satisfaction >= 4 within 2d",
                  s.explain(KpiFactor::kSatisfaction, p, kT0 + 55 * h).why.c_str());
}

TEST_GROUP(KpiDurable){};

TEST(KpiDurable, SaveAndRestoreKeepEveryFactor) {
  const Profile p = profile();
  KpiState s;
  s.note_data(kT0);
  s.note_sequence(90, 0, 10, kT0, p.kpi);
  s.note_command_sent("x", kT0);
  s.note_command_result("x", kT0 + 9000);
  s.note_command_sent("y", kT0 + 1000);
  s.note_event(event("fault", "E9"), kT0, p.kpi);
  s.note_event(event("service_done"), kT0 + 1000, p.kpi);
  s.note_event(event("fault", "E9"), kT0 + 2000, p.kpi);
  s.note_event(event("service_request"), kT0, p.kpi);
  s.note_event(event("satisfaction", "", 1), kT0 + 3000, p.kpi);
  xrm::health::v1::KpiData data;
  s.save(data);
  KpiState r;
  xrm::health::v1::KpiData copy;
  CHECK(copy.ParseFromString(data.SerializeAsString()));
  r.restore(copy);
  const std::int64_t now = kT0 + 50'000;
  for (std::size_t f = 0; f < xrm::health::kKpiFactors; ++f) {
    const auto which = static_cast<KpiFactor>(f);
    DOUBLES_EQUAL(penalty(s, p, which, now), penalty(r, p, which, now), 1e-9);
    STRCMP_EQUAL(s.explain(which, p, now).why.c_str(), r.explain(which, p, now).why.c_str());
  }
  CHECK(r.note_command_result("y", now));  // the waiting command is still known
}

TEST_GROUP(Readable){};

TEST(Readable, DurationsAndNumbersForSentences) {
  STRCMP_EQUAL("850ms", xrm::health::readable_duration(850).c_str());
  STRCMP_EQUAL("42s", xrm::health::readable_duration(41'600).c_str());
  STRCMP_EQUAL("12m", xrm::health::readable_duration(12 * 60'000 + 10'000).c_str());
  STRCMP_EQUAL("3h", xrm::health::readable_duration(3 * 3'600'000).c_str());
  STRCMP_EQUAL("30d", xrm::health::readable_duration(30LL * 86'400'000).c_str());
  STRCMP_EQUAL("9.25", xrm::health::readable_number(9.25).c_str());
  STRCMP_EQUAL("40", xrm::health::readable_number(40.0).c_str());
  STRCMP_EQUAL("0.333", xrm::health::readable_number(1.0 / 3).c_str());
}

TEST(KpiDurable, ExplainAllGivesEachFactorAsExplainDoes) {
  const Profile p = profile();
  KpiState s;
  s.note_data(kT0);
  s.note_sequence(90, 0, 10, kT0, p.kpi);
  s.note_event(event("service_request"), kT0, p.kpi);
  std::vector<xrm::health::Factor> all;
  s.explain_all(p, kT0 + 50'000, all);
  CHECK_EQUAL(xrm::health::kKpiFactors, all.size());
  for (std::size_t f = 0; f < xrm::health::kKpiFactors; ++f) {
    const auto one = s.explain(static_cast<KpiFactor>(f), p, kT0 + 50'000);
    STRCMP_EQUAL(one.name.c_str(), all[f].name.c_str());
    DOUBLES_EQUAL(one.penalty, all[f].penalty, 1e-12);
    STRCMP_EQUAL(one.why.c_str(), all[f].why.c_str());
  }
  CHECK(all[0].penalty > 0);  // silence 50 s: beyond two intervals
}
