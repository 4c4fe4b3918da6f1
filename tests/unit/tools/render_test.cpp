#include <CppUTest/TestHarness.h>

#include <nlohmann/json.hpp>
#include <string>

#include "xrmctl/render.hpp"

using nlohmann::json;
using namespace xrm::xrmctl;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

json stakeholders(const char* owner, const char* site) {
  return {{"owner", owner}, {"site", site}, {"technician", ""}, {"supplier", ""}, {"model", ""}};
}

// Every value a reply may hold in the wrong type, so renderers meet each one somewhere.
const json kOddValues[] = {
    json(), json(7), json(-1.5), json("text"), json(true), json::array({1, "x"}), json{{"k", json::array()}}};

}  // namespace

TEST_GROUP(RenderDevices){};

TEST(RenderDevices, TableWithNullsAndMissingFields) {
  const json r = {{"devices",
                   {{{"id", "pump-17"},
                     {"class", "pump"},
                     {"lifecycle", "active"},
                     {"online", true},
                     {"score", 72.5},
                     {"band", "watch"},
                     {"last_seen_ms", kNow - 12'000},
                     {"stakeholders", stakeholders("acme", "")}},
                    {{"id", "chiller-3"},
                     {"class", "chiller"},
                     {"lifecycle", "provisioned"},
                     {"online", nullptr},
                     {"score", nullptr},
                     {"band", nullptr},
                     {"last_seen_ms", nullptr}},
                    {{"id", "x"}, {"last_seen_ms", "soon"}}}}};
  STRCMP_EQUAL(
      "DEVICE     CLASS    LIFECYCLE    ONLINE  SCORE  BAND   LAST SEEN\n"
      "pump-17    pump     active       yes     72.5   watch  12s ago\n"
      "chiller-3  chiller  provisioned  -       -      -      never\n"
      "x          -        -            -       -      -      -\n"
      "3 devices\n",
      render_devices(r, kNow).c_str());
}

TEST(RenderDevices, CountsOneAndNone) {
  STRCMP_EQUAL("0 devices\n", render_devices({{"devices", json::array()}}, kNow).c_str());
  STRCMP_EQUAL("0 devices\n", render_devices(json::object(), kNow).c_str());
  const std::string one = render_devices({{"devices", {{{"id", "a"}}}}}, kNow);
  STRCMP_CONTAINS("\n1 device\n", one.c_str());
}

TEST(RenderDevices, ToleratesWrongTypes) {
  for (const json& odd : kOddValues) {
    render_devices(odd, kNow);
    render_devices({{"devices", odd}}, kNow);
    render_devices({{"devices", json::array({odd})}}, kNow);
  }
  STRCMP_CONTAINS("1 device", render_devices({{"devices", json::array({7})}}, kNow).c_str());
}

TEST_GROUP(RenderShow){};

TEST(RenderShow, PrintsEverySection) {
  const json r = {
      {"id", "pump-17"},
      {"class", "pump"},
      {"lifecycle", "active"},
      {"online", true},
      {"score", 72},
      {"band", "watch"},
      {"factors",
       {{{"name", "clock_drift"}, {"penalty", 10}, {"why", "clock 40s off"}},
        {{"name", "gaps"}, {"penalty", 18}, {"why", "3 of 60 messages missing"}}}},
      {"alerts",
       {{{"id", "a-12"},
         {"band", "alarm"},
         {"action", "dispatch"},
         {"opened_ms", kNow - 60'000},
         {"reason", "fault"}}}},
      {"stakeholders", stakeholders("acme", "plant-3")},
      {"firmware", "1.4.2"},
      {"model", "P-200"},
      {"created_ms", kNow - 86'400'000},
      {"updated_ms", kNow},
      {"first_data_ms", nullptr},
      {"last_seen_ms", kNow - 5'000},
      {"retired_ms", nullptr},
      {"counters",
       {{"messages", 1234},
        {"telemetry",
         {{"received", 597}, {"missed", 3}, {"duplicates", 1}, {"late", 2}, {"resets", 0}, {"missed_share", 0.005}}},
        {"events",
         {{"received", 0}, {"missed", 0}, {"duplicates", 0}, {"late", 0}, {"resets", 0}, {"missed_share", nullptr}}},
        {"dead_letters", 2},
        {"ignored_fields", 5}}},
      {"readings", {{"temp_c", 4.2}, {"pressure_bar", 1.013}, {"rpm", 1480}}},
      {"readings_ms", kNow - 125'000},
      {"history",
       {{{"at_ms", kNow - 3'600'000},
         {"what", "owner"},
         {"old", ""},
         {"new", "acme"},
         {"actor", "xrmctl:uid=1000(ana)"}}}},
      {"recent_events",
       {{{"seq", 11}, {"ts", kNow - 90'000}, {"type", "fault"}, {"code", "E42"}, {"received_ms", kNow - 89'000}},
        {{"seq", 12},
         {"ts", 0},
         {"type", "service_done"},
         {"technician", "tom"},
         {"request_id", "R-77"},
         {"note", "new seal"},
         {"part", "valve"},
         {"received_ms", kNow - 30'000}},
        {{"seq", 13}, {"ts", kNow - 20'000}, {"type", "satisfaction"}, {"score", 4.25}}}}};
  STRCMP_EQUAL(
      "device      pump-17\n"
      "class       pump\n"
      "lifecycle   active\n"
      "online      yes\n"
      "model       P-200\n"
      "firmware    1.4.2\n"
      "created     2027-01-14T08:00:00Z\n"
      "updated     2027-01-15T08:00:00Z\n"
      "first data  -\n"
      "last seen   2027-01-15T07:59:55Z (5s ago)\n"
      "retired     -\n"
      "\n"
      "Stakeholders\n"
      "  owner       acme\n"
      "  site        plant-3\n"
      "  technician  -\n"
      "  supplier    -\n"
      "  model       -\n"
      "\n"
      "Health\n"
      "  score 72 (watch)\n"
      "  clock_drift  -10  clock 40s off\n"
      "  gaps         -18  3 of 60 messages missing\n"
      "\n"
      "Open alerts\n"
      "  a-12  alarm  dispatch  2027-01-15T07:59:00Z  fault\n"
      "\n"
      "Counters\n"
      "  messages        1234\n"
      "  telemetry       received 597, missed 3 (0.50%), duplicates 1, late 2, resets 0\n"
      "  events          received 0, missed 0, duplicates 0, late 0, resets 0\n"
      "  dead letters    2\n"
      "  ignored fields  5\n"
      "\n"
      "Readings, 2m ago (2027-01-15T07:57:55Z)\n"
      "  pressure_bar  1.013\n"
      "  rpm           1480\n"
      "  temp_c        4.2\n"
      "\n"
      "Relationship history\n"
      "  2027-01-15T07:00:00Z  owner  (none) -> acme  by xrmctl:uid=1000(ana)\n"
      "\n"
      "Recent events\n"
      "  2027-01-15T07:58:30Z  #11  fault         code=E42\n"
      "  2027-01-15T07:59:30Z  #12  service_done  technician=tom, request_id=R-77, note=new seal, part=valve\n"
      "  2027-01-15T07:59:40Z  #13  satisfaction  score=4.25\n",
      render_show(r, kNow).c_str());
}

TEST(RenderShow, DeviceTextCannotDriveTheTerminal) {
  const json r = {
      {"id", "v"},
      {"readings", {{"t\x1b[2J", 1.5}}},
      {"readings_ms", kNow},
      {"recent_events",
       {{{"seq", 1}, {"ts", kNow}, {"type", "fault"}, {"code", "E\x1b]0;x\x07"}, {"note", "a\nb"}, {"k\r", "v\x7f"}}}}};
  const std::string text = render_show(r, kNow);
  STRCMP_CONTAINS("Readings, 0s ago (2027-01-15T08:00:00Z)\n  t?[2J  1.5\n", text.c_str());
  STRCMP_CONTAINS("#1  fault  code=E?]0;x?, note=a?b, k?=v?\n", text.c_str());
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\x07') == std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
}

TEST(RenderShow, NewDeviceHasNoScoreAndEmptySections) {
  const std::string text = render_show({{"id", "v"}, {"score", nullptr}, {"last_seen_ms", nullptr}}, kNow);
  STRCMP_CONTAINS("last seen   never\n", text.c_str());
  STRCMP_CONTAINS("Health\n  no score yet\n\nOpen alerts\n  none\n", text.c_str());
  STRCMP_CONTAINS("Counters\n  messages  -\n\nReadings\n  none\n", text.c_str());
  STRCMP_CONTAINS("Recent events\n  none\n", text.c_str());
  // What a device that sent nothing since the daemon started gets.
  const std::string quiet = render_show({{"id", "v"},
                                         {"counters", {{"messages", 7}}},
                                         {"readings", json::object()},
                                         {"readings_ms", nullptr},
                                         {"recent_events", json::array()}},
                                        kNow);
  STRCMP_CONTAINS("Counters\n  messages  7\n\nReadings\n  none\n", quiet.c_str());
}

TEST(RenderShow, HealthBandSinceCandidateReasonAndAlertDetails) {
  const json r = {{"id", "c-7"},
                  {"score", 60},
                  {"band", "degraded"},
                  {"health",
                   {{"why_no_score", nullptr},
                    {"band_since_ms", kNow - 120'000},
                    {"pending_band", "critical"},
                    {"pending_since_ms", kNow - 4'000}}},
                  {"factors", {{{"name", "overheat"}, {"penalty", 40}, {"why", "max(temp_c, 2s) = 12 > 8"}},
                               {{"name", "silence"}, {"penalty", 0}, {"why", "last data 1s ago"}}}},
                  {"alerts",
                   {{{"id", "c-7/overheat/1"},
                     {"band", "critical"},
                     {"action", "service_request"},
                     {"assignee", "tech-ana"},
                     {"repeats", 2},
                     {"opened_ms", kNow - 60'000},
                     {"reason", "overheat"}}}}};
  const std::string text = render_show(r, kNow);
  STRCMP_CONTAINS("Health\n  score 60 (degraded), band since 2027-01-15T07:58:00Z (2m ago)\n"
                  "  becoming critical (candidate since 4s ago); the profile's dwell must pass first\n"
                  "  overheat  -40  max(temp_c, 2s) = 12 > 8\n"
                  "  silence   0    last data 1s ago\n",
                  text.c_str());
  STRCMP_CONTAINS("  c-7/overheat/1  critical  service_request -> tech-ana  2027-01-15T07:59:00Z  overheat (again 2x)\n",
                  text.c_str());
  const std::string none = render_show({{"id", "b"}, {"score", nullptr}, {"health", {{"why_no_score", "class boiler has no profile"}}}}, kNow);
  STRCMP_CONTAINS("Health\n  no score yet: class boiler has no profile\n", none.c_str());
}

TEST_GROUP(RenderRules){};

TEST(RenderRules, ReloadNamesFileClassesAndRules) {
  STRCMP_EQUAL("rules reloaded from /etc/p.toml: chiller, pump (3 rules)\n",
               render_rules_reload({{"file", "/etc/p.toml"}, {"classes", {"chiller", "pump"}}, {"rules", 3}}).c_str());
}

TEST(RenderShow, ToleratesMissingFieldsAndWrongTypes) {
  for (const json& odd : kOddValues) {
    render_show(odd, kNow);
    json r = json::object();
    for (const char* key : {"id", "score", "band", "factors", "alerts", "stakeholders", "counters", "history",
                            "recent_events", "last_seen_ms", "created_ms", "readings", "readings_ms"}) {
      r[key] = odd;
    }
    const std::string text = render_show(r, kNow);
    STRCMP_CONTAINS("Recent events", text.c_str());
    r["factors"] = json::array({odd});
    r["history"] = json::array({odd});
    r["alerts"] = json::array({odd});
    r["recent_events"] = json::array({odd, {{"seq", odd}, {"ts", odd}, {"received_ms", odd}, {"score", odd}}});
    r["readings"] = {{"x", odd}};
    r["counters"] = {{"telemetry", odd},
                     {"events", {{"received", odd}, {"missed", odd}, {"missed_share", odd}, {"late", odd}}}};
    render_show(r, kNow);
  }
}

TEST_GROUP(RenderStatus){};

namespace {

json sequence(int received, int missed, int duplicates, int late, int resets, json share) {
  return {{"received", received}, {"missed", missed}, {"duplicates", duplicates},
          {"late", late},         {"resets", resets}, {"missed_share", std::move(share)}};
}

// A status result as the daemon sends it.
json full_status() {
  return {{"gateway_id", "gw-01"},
          {"version", "0.1.0"},
          {"uptime_ms", 3 * 3'600'000 + 12 * 60'000 + 5'400},
          {"connections",
           {{"local", {{"url", "mqtt://127.0.0.1:1883"}, {"connected", true}, {"mqtt_version", "5"}}},
            {"upstream", {{"url", "mqtts://central:8883"}, {"connected", false}, {"mqtt_version", nullptr}}}}},
          {"devices", {{"total", 12}, {"by_lifecycle", {{"active", 10}, {"provisioned", 1}, {"retired", 1}}}}},
          {"ingest",
           {{"messages", 1234},
            {"bytes", 98765},
            {"accepted", 1200},
            {"telemetry", 1100},
            {"events", 100},
            {"duplicate_events", 1},
            {"unknown_device", 7},
            {"retired_device", 2},
            {"bad_topic", 1},
            {"ignored_fields", 4},
            {"dropped", 3},
            {"queue_high_water", 250},
            {"record_errors", 0},
            {"rate_per_s", 3.25},
            {"dead_letters", {{"since_start", 15}, {"stored", 12}, {"deleted", 3}, {"not_stored", 0}}},
            {"telemetry_sequence", sequence(1097, 6, 0, 1, 2, 6.0 / 1103.0)},
            {"event_sequence", sequence(0, 0, 0, 0, 0, nullptr)}}},
          {"outbox",
           {{"depth", 17},
            {"critical", 0},
            {"bytes", 4000},
            {"last_seq", 99},
            {"oldest_age_ms", 125'000},
            {"bulk_bytes", 4000},
            {"max_bytes", 268435456},
            {"dropped_records", 40},
            {"gap_records", 2},
            {"dead_letters", 1}}},
          {"uplink",
           {{"records_sent", 82},
            {"batches_sent", 9},
            {"in_flight", 1},
            {"publish_errors", 0},
            {"last_error", nullptr},
            {"last_sent_seq", 82}}},
          {"health",
           {{"by_band", {{"degraded", 2}, {"healthy", 9}}},
            {"open_alerts", 1},
            {"alerts_opened", 3},
            {"alerts_cleared", 2},
            {"alerts_suppressed", 1},
            {"alerts_escalated", 0}}}};
}

}  // namespace

TEST(RenderStatus, AlignedKeyValues) {
  json r = full_status();
  r["condensation"] = {{"messages_in", 1000}, {"bytes_in", 256000}, {"records_out", 40}, {"bytes_out", 12000}};
  STRCMP_EQUAL(
      "gateway       gw-01\n"
      "version       0.1.0\n"
      "uptime        3h12m5s\n"
      "local broker  connected, mqtt://127.0.0.1:1883, MQTT 5\n"
      "upstream      disconnected, mqtts://central:8883\n"
      "devices       12 (active 10, provisioned 1, retired 1)\n"
      "ingest        1234 messages, 3.2/s\n"
      "outbox        depth 17 (critical 0), oldest 2m5s, bulk 4000B of 256MiB, dropped 40 in 2 gap records, 1 refused upstream\n"
      "uplink        sent 82 records, 9 batches, last seq 82, in flight 1, errors 0\n"
      "health        degraded 2, healthy 9; 1 open alert (opened 3, cleared 2, suppressed 1, escalated 0)\n"
      "telemetry     received 1097, missed 6 (0.54%), duplicates 0, late 1, resets 2\n"
      "events        received 0, missed 0, duplicates 0, late 0, resets 0\n"
      "drops         queue full 3, unknown device 7, retired device 2, bad topic 1\n"
      "dead letters  stored 12, since start 15, deleted as oldest 3\n"
      "condensation  1000 messages, 256000 bytes -> 40 records, 12000 bytes (25.0:1 messages, 21.3:1 bytes)\n",
      render_status(r).c_str());
}

TEST(RenderStatus, CondensationAbsentIsUnknown) {
  STRCMP_CONTAINS("\ncondensation  -\n", render_status(full_status()).c_str());
}

TEST(RenderStatus, MissedShareAsPercentage) {
  const struct {
    json share;
    const char* text;
  } cases[] = {
      {0.005, "missed 6 (0.50%)"},     {0.0, "missed 6 (0.00%)"},      {1.0, "missed 6 (100.00%)"},
      {0.123456, "missed 6 (12.35%)"}, {0.00001, "missed 6 (<0.01%)"}, {nullptr, "missed 6, "},
      {"0.5", "missed 6, "},           {json::array(), "missed 6, "},
  };
  for (const auto& c : cases) {
    json r = full_status();
    r["ingest"]["telemetry_sequence"]["missed_share"] = c.share;
    const std::string text = render_status(r);
    STRCMP_CONTAINS(c.text, text.c_str());
  }
}

TEST(RenderStatus, UplinkShowsTheLastErrorOnlyWhenThereIsOne) {
  json r = full_status();
  r["uplink"]["publish_errors"] = 3;
  r["uplink"]["last_error"] = "publish refused by broker (reason 149)";
  STRCMP_CONTAINS("uplink        sent 82 records, 9 batches, last seq 82, in flight 1, errors 3 (last: publish refused "
                  "by broker (reason 149))\n",
                  render_status(r).c_str());
  r["uplink"]["last_error"] = "";
  STRCMP_CONTAINS("in flight 1, errors 3\n", render_status(r).c_str());
  // Only the error known: it still shows.
  r["uplink"] = {{"last_error", "upstream: not connected"}};
  STRCMP_CONTAINS("uplink        last error: upstream: not connected\n", render_status(r).c_str());
  r["uplink"] = json::object();
  STRCMP_CONTAINS("uplink        -\n", render_status(r).c_str());
}

TEST(RenderStatus, HealthWithNoDeviceScored) {
  json r = full_status();
  r["health"] = {{"by_band", json::object()}, {"open_alerts", 0}};
  STRCMP_CONTAINS("health        no device scored; 0 open alerts\n", render_status(r).c_str());
}

TEST(RenderStatus, DeadLettersNotStoredShowOnlyWhenThereAreSome) {
  json r = full_status();
  r["ingest"]["dead_letters"]["not_stored"] = 40;
  STRCMP_CONTAINS("dead letters  stored 12, since start 15, deleted as oldest 3, not stored 40\n",
                  render_status(r).c_str());
}

TEST(RenderStatus, MissingAndNullFieldsPrintDashes) {
  STRCMP_EQUAL(
      "gateway       gw-01\n"
      "version       -\n"
      "uptime        -\n"
      "local broker  -\n"
      "upstream      -\n"
      "devices       -\n"
      "ingest        -\n"
      "outbox        depth 0\n"
      "uplink        -\n"
      "health        -\n"
      "telemetry     -\n"
      "events        -\n"
      "drops         -\n"
      "dead letters  -\n"
      "condensation  -\n",
      render_status({{"gateway_id", "gw-01"},
                     {"connections", {{"upstream", json::object()}}},
                     {"ingest", {{"messages", nullptr}}},
                     {"outbox", {{"depth", 0}, {"oldest_age_ms", nullptr}}},
                     {"condensation", nullptr}})
          .c_str());
}

TEST(RenderStatus, ToleratesWrongTypes) {
  for (const json& odd : kOddValues) {
    render_status(odd);
    json r = json::object();
    for (const char* key :
         {"gateway_id", "uptime_ms", "connections", "devices", "ingest", "outbox", "uplink", "drops", "condensation"}) {
      r[key] = odd;
    }
    STRCMP_CONTAINS("condensation", render_status(r).c_str());
    r["connections"] = {{"local", odd}, {"upstream", {{"connected", odd}, {"url", odd}, {"mqtt_version", odd}}}};
    r["devices"] = {{"total", odd}, {"by_lifecycle", odd}};
    r["condensation"] = {{"bytes_in", odd}, {"bytes_out", odd}};
    r["uplink"] = {{"records_sent", odd}, {"publish_errors", odd}, {"last_error", odd}};
    r["ingest"] = {{"telemetry_sequence", odd},
                   {"event_sequence", {{"missed", odd}, {"missed_share", odd}}},
                   {"dead_letters", odd},
                   {"dropped", odd}};
    render_status(r);
    r["ingest"]["dead_letters"] = {{"stored", odd}, {"not_stored", odd}};
    render_status(r);
  }
}

TEST_GROUP(RenderDeadLetters){};

TEST(RenderDeadLetters, TableNewestFirstThenCounts) {
  const json r = {{"dead_letters",
                   {{{"id", 15},
                     {"at_ms", kNow - 2'000},
                     {"topic", "xrm/v1/dev/pump-17/tele"},
                     {"reason", "seq is missing"},
                     {"size", 21},
                     {"head_hex", "7b227473223a312c2274656d705f63223a342e327d"}},
                    {{"id", 14},
                     {"at_ms", kNow - 60'000},
                     {"topic", "xrm/v1/dev/pump-17/state"},
                     {"reason", "state payload must be online or offline"},
                     {"size", 7},
                     {"head_hex", "0a0d1b5b324a7f"}},
                    {{"id", 13},
                     {"at_ms", kNow - 61'000},
                     {"topic", "xrm/v1/dev/m-1/evt"},
                     {"reason", "empty payload"},
                     {"size", 0},
                     {"head_hex", ""}}}},
                  {"stored", 12},
                  {"deleted", 3},
                  {"since_start", 15}};
  STRCMP_EQUAL(
      "TIME                  TOPIC                     REASON                                   SIZE  FIRST BYTES\n"
      "2027-01-15T07:59:58Z  xrm/v1/dev/pump-17/tele   seq is missing                           21    "
      "{\"ts\":1,\"temp_c\":4.2}\n"
      "2027-01-15T07:59:00Z  xrm/v1/dev/pump-17/state  state payload must be online or offline  7     ...[2J.\n"
      "2027-01-15T07:58:59Z  xrm/v1/dev/m-1/evt        empty payload                            0     -\n"
      "shown 3, stored 12, since start 15, deleted as oldest 3\n",
      render_dead_letters(r).c_str());
}

TEST(RenderDeadLetters, NoneStored) {
  STRCMP_EQUAL("no dead letters\nstored 0, since start 0, deleted as oldest 0\n",
               render_dead_letters({{"dead_letters", json::array()}, {"stored", 0}, {"deleted", 0}, {"since_start", 0}})
                   .c_str());
  STRCMP_EQUAL("no dead letters\n", render_dead_letters(json::object()).c_str());
}

TEST(RenderDeadLetters, TopicAndReasonCannotDriveTheTerminal) {
  const std::string text = render_dead_letters({{"dead_letters",
                                                 {{{"at_ms", kNow},
                                                   {"topic", "xrm/v1/dev/a\x1b[31m/tele"},
                                                   {"reason", "key \"\x07\" bad\r"},
                                                   {"size", 1},
                                                   {"head_hex", "1b"}}}}});
  STRCMP_CONTAINS("xrm/v1/dev/a?[31m/tele  key \"?\" bad?  1     .\n", text.c_str());
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\x07') == std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
}

TEST(RenderDeadLetters, PrintableHead) {
  STRCMP_EQUAL("{\"seq\":1}", printable_head("7b22736571223a317d").c_str());
  STRCMP_EQUAL("AZaz09 ~", printable_head("415A617a3039207e").c_str());  // either case of hex digits
  STRCMP_EQUAL("........", printable_head("00091f7f80c29bff").c_str());  // controls, DEL, high bytes
  STRCMP_EQUAL("A?B", printable_head("41zz42").c_str());                 // a pair that is not hex
  STRCMP_EQUAL("A", printable_head("414").c_str());                      // odd last digit ignored
  STRCMP_EQUAL("", printable_head("").c_str());
}

TEST(RenderDeadLetters, ToleratesWrongTypes) {
  for (const json& odd : kOddValues) {
    render_dead_letters(odd);
    render_dead_letters({{"dead_letters", odd}, {"stored", odd}});
    const std::string text = render_dead_letters(
        {{"dead_letters", json::array({odd, {{"at_ms", odd}, {"topic", odd}, {"size", odd}, {"head_hex", odd}}})}});
    STRCMP_CONTAINS("shown 2", text.c_str());
  }
}

TEST_GROUP(RenderChanges){};

TEST(RenderChanges, LinkListsEachChange) {
  const json r = {{"device", "pump-17"},
                  {"changed",
                   {{{"field", "owner"}, {"old", "acme"}, {"new", "globex"}},
                    {{"field", "site"}, {"old", "plant-3"}, {"new", ""}}}}};
  STRCMP_EQUAL("owner: acme -> globex\nsite: plant-3 -> (none)\n", render_link(r).c_str());
  STRCMP_EQUAL("nothing changed\n", render_link({{"changed", json::array()}}).c_str());
  STRCMP_EQUAL("nothing changed\n", render_link(json("odd")).c_str());
}

TEST(RenderChanges, Retire) {
  STRCMP_EQUAL(
      "pump-17 retired (was active); its credentials are revoked, its history is kept.\n",
      render_retire({{"device", "pump-17"}, {"lifecycle", "retired"}, {"previous_lifecycle", "active"}}).c_str());
}

TEST_GROUP(RenderProvision){};

TEST(RenderProvision, CredentialsBlockThenQrThenReminder) {
  const json r = {{"device", "pump-17"},
                  {"class", "pump"},
                  {"lifecycle", "provisioned"},
                  {"rotated", false},
                  {"stakeholders", stakeholders("acme", "")},
                  {"broker_url", "mqtt://gw-01.local:1883"},
                  {"client_id", "pump-17"},
                  {"username", "pump-17"},
                  {"password", "Zq8v3LxP"},
                  {"publish_topics", {"xrm/v1/dev/pump-17/tele", "xrm/v1/dev/pump-17/evt"}},
                  {"subscribe_topics", {"xrm/v1/dev/pump-17/cmd/#"}},
                  {"uri", "xrm://gw-01.local:1883/pump-17"}};
  STRCMP_EQUAL(
      "device      pump-17\n"
      "class       pump\n"
      "lifecycle   provisioned\n"
      "broker URL  mqtt://gw-01.local:1883\n"
      "client id   pump-17\n"
      "username    pump-17\n"
      "password    Zq8v3LxP\n"
      "publish     xrm/v1/dev/pump-17/tele\n"
      "            xrm/v1/dev/pump-17/evt\n"
      "subscribe   xrm/v1/dev/pump-17/cmd/#\n"
      "URI         xrm://gw-01.local:1883/pump-17\n"
      "\n"
      "QR1\n"
      "QR2\n"
      "\n"
      "The password is shown only this once; it is not stored in plain text.\n",
      render_provision(r, {"QR1", "QR2"}).c_str());
}

TEST(RenderProvision, RotationIsSaidAndOddRepliesDoNotThrow) {
  STRCMP_CONTAINS("previous password no longer works",
                  render_provision({{"rotated", true}, {"device", "v"}}, {}).c_str());
  for (const json& odd : kOddValues) {
    render_provision(odd, {});
    render_provision({{"publish_topics", odd}, {"subscribe_topics", odd}}, {});
  }
}
