// xrm-tap's library: records as JSON lines (exact fields, enums by short name, optional fields
// only when set) and the (gateway, seq) tracker (duplicates, out-of-order arrival, missing ranges,
// bounded memory).
#include <CppUTest/TestHarness.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tap.hpp"

using nlohmann::json;
using xrm::tap::SeqSpan;
using xrm::tap::SeqTracker;
namespace v1 = xrm::v1;

namespace {

v1::InteractionRecord base_record(v1::RecordKind kind, std::uint64_t seq) {
  v1::InteractionRecord r;
  r.set_gateway_id("gw-01");
  r.set_seq(seq);
  r.set_kind(kind);
  r.set_device_id("chiller-7");
  r.set_profile_class("chiller");
  auto* s = r.mutable_stakeholders();
  s->set_owner("acme");
  s->set_site("plant-a");
  s->set_technician("t-42");
  s->set_supplier("coolco");
  s->set_model("CX-9");
  r.set_span_start_ms(1'800'000'000'000);
  r.set_span_end_ms(1'800'000'060'000);
  r.set_created_at_ms(1'800'000'060'500);
  return r;
}

json base_json(const char* kind, std::uint64_t seq) {
  return {{"gateway", "gw-01"},
          {"seq", seq},
          {"kind", kind},
          {"device", "chiller-7"},
          {"profile_class", "chiller"},
          {"stakeholders",
           {{"owner", "acme"}, {"site", "plant-a"}, {"technician", "t-42"}, {"supplier", "coolco"}, {"model", "CX-9"}}},
          {"span_start_ms", 1'800'000'000'000ULL},
          {"span_end_ms", 1'800'000'060'000ULL},
          {"created_at_ms", 1'800'000'060'500ULL}};
}

void check_json(const json& expected, const json& actual) {
  CHECK_TEXT(expected == actual, ("expected " + expected.dump() + "\n     got " + actual.dump()).c_str());
}

std::string spans(const SeqTracker& t, const std::string& gw) { return xrm::tap::format_spans(t.missing(gw)); }

}  // namespace

TEST_GROUP(RecordJson){};

TEST(RecordJson, AlertHasEveryFieldByNameAndEnumsAsShortNames) {
  v1::InteractionRecord r = base_record(v1::RECORD_KIND_ALERT, 17);
  auto* a = r.mutable_alert();
  a->set_alert_id("chiller-7/overheat/1800000000000");
  a->set_state(v1::ALERT_STATE_OPENED);
  a->set_band(v1::HEALTH_BAND_DEGRADED);
  a->set_action(v1::ESCALATION_ACTION_SERVICE_REQUEST);
  a->set_reason("degraded: overheat");
  auto* f = a->add_factors();
  f->set_name("overheat");
  f->set_penalty(40);
  f->set_value(9.5);
  f->set_unit("degC");
  f->set_why("avg(temp_c, 1m) = 9.5 > 8 for 45s");
  auto* g = a->add_factors();  // no value: no "value" key
  g->set_name("silence");
  a->set_score(60);
  a->set_opened_at_ms(1'800'000'000'000);
  a->set_cause("overheat");
  a->set_assignee("t-42");
  a->set_repeats(2);

  json expected = base_json("alert", 17);
  expected["alert"] = {
      {"alert_id", "chiller-7/overheat/1800000000000"},
      {"state", "opened"},
      {"band", "degraded"},
      {"action", "service_request"},
      {"reason", "degraded: overheat"},
      {"factors",
       json::array({{{"name", "overheat"},
                     {"penalty", 40.0},
                     {"value", 9.5},
                     {"unit", "degC"},
                     {"why", "avg(temp_c, 1m) = 9.5 > 8 for 45s"}},
                    {{"name", "silence"}, {"penalty", 0.0}, {"unit", ""}, {"why", ""}}})},
      {"score", 60.0},
      {"opened_at_ms", 1'800'000'000'000ULL},
      {"cause", "overheat"},
      {"assignee", "t-42"},
      {"command", ""},
      {"request_id", ""},
      {"repeats", 2},
      {"escalated", false}};
  check_json(expected, xrm::tap::record_json(r));
}

TEST(RecordJson, ClearedAlertHasClearedAtAndNoScoreWhenUnset) {
  v1::InteractionRecord r = base_record(v1::RECORD_KIND_ALERT, 18);
  r.mutable_alert()->set_state(v1::ALERT_STATE_CLEARED);
  r.mutable_alert()->set_cleared_at_ms(5);
  const json j = xrm::tap::record_json(r);
  STRCMP_EQUAL("cleared", j["alert"]["state"].get<std::string>().c_str());
  CHECK_EQUAL(5u, j["alert"]["cleared_at_ms"].get<std::uint64_t>());
  CHECK_FALSE(j["alert"].contains("score"));
  STRCMP_EQUAL("unspecified", j["alert"]["band"].get<std::string>().c_str());
}

TEST(RecordJson, LifecycleHasItsChangeAndOnlyTheSubMessagesSet) {
  v1::InteractionRecord r = base_record(v1::RECORD_KIND_LIFECYCLE, 1);
  auto* l = r.mutable_lifecycle();
  l->set_change(v1::LIFECYCLE_CHANGE_PROVISIONED);
  l->set_new_state("provisioned");
  l->set_actor("xrmctl:uid=1000");
  l->set_detail("provisioned as chiller");

  json expected = base_json("lifecycle", 1);
  expected["lifecycle"] = {{"change", "provisioned"},
                           {"previous_state", ""},
                           {"new_state", "provisioned"},
                           {"actor", "xrmctl:uid=1000"},
                           {"detail", "provisioned as chiller"}};
  check_json(expected, xrm::tap::record_json(r));

  l->set_change(v1::LIFECYCLE_CHANGE_RELINKED);
  l->mutable_previous_stakeholders()->set_owner("old-owner");
  l->mutable_birth()->set_model("CX-9");
  l->mutable_birth()->add_capabilities("temp_c");
  (*l->mutable_birth()->mutable_attributes())["hw"] = "rev-b";
  const json j = xrm::tap::record_json(r);
  STRCMP_EQUAL("relinked", j["lifecycle"]["change"].get<std::string>().c_str());
  check_json({{"owner", "old-owner"}, {"site", ""}, {"technician", ""}, {"supplier", ""}, {"model", ""}},
             j["lifecycle"]["previous_stakeholders"]);
  check_json({{"model", "CX-9"},
              {"firmware_version", ""},
              {"capabilities", json::array({"temp_c"})},
              {"ts", 0},
              {"attributes", {{"hw", "rev-b"}}}},
             j["lifecycle"]["birth"]);
}

TEST(RecordJson, EventHasTheServiceEventWithOptionalFieldsOnlyWhenSet) {
  v1::InteractionRecord r = base_record(v1::RECORD_KIND_EVENT, 5);
  auto* b = r.mutable_event();
  b->set_received_at_ms(1'800'000'000'123);
  auto* e = b->mutable_event();
  e->set_seq(3);
  e->set_ts(1'800'000'000'100);
  e->set_type("fault");
  e->set_code("E42");
  e->set_note("compressor");
  (*e->mutable_attributes())["phase"] = "2";

  json expected = base_json("event", 5);
  expected["event"] = {{"event",
                        {{"seq", 3},
                         {"ts", 1'800'000'000'100ULL},
                         {"type", "fault"},
                         {"code", "E42"},
                         {"technician", ""},
                         {"request_id", ""},
                         {"note", "compressor"},
                         {"attributes", {{"phase", "2"}}}}},
                       {"received_at_ms", 1'800'000'000'123ULL}};
  check_json(expected, xrm::tap::record_json(r));
}

TEST(RecordJson, UnknownKindsAndEnumValuesAreNumbersNotFailures) {
  v1::InteractionRecord r = base_record(static_cast<v1::RecordKind>(42), 9);
  json j = xrm::tap::record_json(r);
  STRCMP_EQUAL("kind_42", j["kind"].get<std::string>().c_str());
  CHECK_EQUAL(9u, j.size());  // no body key

  r.set_kind(v1::RECORD_KIND_HEALTH);
  r.mutable_health()->set_from_band(v1::HEALTH_BAND_HEALTHY);
  r.mutable_health()->set_to_band(static_cast<v1::HealthBand>(9));
  j = xrm::tap::record_json(r);
  STRCMP_EQUAL("healthy", j["health"]["from_band"].get<std::string>().c_str());
  STRCMP_EQUAL("9", j["health"]["to_band"].get<std::string>().c_str());
}

TEST(RecordJson, KindNamesAreTheTopicSuffixes) {
  const char* names[] = {"summary", "event", "health", "alert", "lifecycle", "gap", "scorecard"};
  for (int k = 1; k <= 7; ++k) {
    STRCMP_EQUAL(names[k - 1], xrm::tap::kind_name(static_cast<v1::RecordKind>(k)).c_str());
  }
}

TEST_GROUP(SeqTracker){};

TEST(SeqTracker, ASecondCopyIsADuplicatePerGateway) {
  SeqTracker t;
  CHECK_TRUE(t.note("gw-a", 1));
  CHECK_TRUE(t.note("gw-a", 2));
  CHECK_FALSE(t.note("gw-a", 1));
  CHECK_FALSE(t.note("gw-a", 2));
  CHECK_TRUE(t.note("gw-b", 1));  // the same seq from another gateway is another record
  CHECK_EQUAL(2u, t.counts("gw-a").records);
  CHECK_EQUAL(2u, t.counts("gw-a").duplicates);
  CHECK_EQUAL(1u, t.counts("gw-b").records);
  CHECK_EQUAL(0u, t.counts("gw-b").duplicates);
  CHECK_TRUE((std::vector<std::string>{"gw-a", "gw-b"}) == t.gateways());
}

TEST(SeqTracker, OutOfOrderArrivalFillsHolesAndIsNotADuplicate) {
  SeqTracker t;
  CHECK_TRUE(t.note("gw", 5));
  CHECK_TRUE(t.note("gw", 8));
  STRCMP_EQUAL("6-7", spans(t, "gw").c_str());
  CHECK_TRUE(t.note("gw", 7));
  CHECK_TRUE(t.note("gw", 3));  // below the first seen: new too
  STRCMP_EQUAL("4, 6", spans(t, "gw").c_str());
  CHECK_TRUE(t.note("gw", 6));
  CHECK_TRUE(t.note("gw", 4));
  STRCMP_EQUAL("none", spans(t, "gw").c_str());
  CHECK_EQUAL(1u, t.ranges("gw"));
  CHECK_FALSE(t.note("gw", 6));
  CHECK_EQUAL(6u, t.counts("gw").records);
  CHECK_EQUAL(1u, t.counts("gw").duplicates);
}

TEST(SeqTracker, MissingRangesLieBetweenTheLowestAndHighestSeen) {
  SeqTracker t;
  for (std::uint64_t s : {1, 2, 3, 4, 8, 11, 13}) t.note("gw", s);
  CHECK_TRUE((std::vector<SeqSpan>{{5, 7}, {9, 10}, {12, 12}}) == t.missing("gw"));
  STRCMP_EQUAL("5-7, 9-10, 12", spans(t, "gw").c_str());
  CHECK_TRUE(t.missing("never-seen").empty());
}

TEST(SeqTracker, MemoryStaysBoundedAfterManySeqs) {
  SeqTracker t(8);
  for (std::uint64_t s = 1; s <= 200'000; ++s) t.note("gw", s);
  CHECK_EQUAL(1u, t.ranges("gw"));  // in-order traffic: one range, however long
  for (std::uint64_t s = 200'002; s <= 200'100; s += 2) t.note("gw", s);  // 50 holes of one
  CHECK_EQUAL(8u, t.ranges("gw"));
  CHECK_EQUAL(7u, t.missing("gw").size());  // the 7 newest holes are still reported
  CHECK_EQUAL(43u, t.counts("gw").given_up);
  CHECK_EQUAL(200'050u, t.counts("gw").records);
}

TEST(SeqTracker, CoalesceAndFormatSpans) {
  CHECK_TRUE((std::vector<SeqSpan>{{1, 3}, {5, 5}, {9, 10}}) == xrm::tap::coalesce({3, 1, 2, 5, 9, 10, 10}));
  STRCMP_EQUAL("1-3, 5, 9-10", xrm::tap::format_spans(xrm::tap::coalesce({3, 1, 2, 5, 9, 10})).c_str());
  STRCMP_EQUAL("none", xrm::tap::format_spans({}).c_str());
}
