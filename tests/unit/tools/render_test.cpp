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
  const json r = {{"id", "pump-17"},
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
                  {"counters", {{"messages", 1234}, {"dropped", 2}}},
                  {"history",
                   {{{"at_ms", kNow - 3'600'000},
                     {"what", "owner"},
                     {"old", ""},
                     {"new", "acme"},
                     {"actor", "xrmctl:uid=1000(ana)"}}}},
                  {"recent_events", {{{"at_ms", kNow - 30'000}, {"type", "fault"}, {"detail", {{"code", 7}}}}}}};
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
      "  messages  1234\n"
      "  dropped   2\n"
      "\n"
      "Relationship history\n"
      "  2027-01-15T07:00:00Z  owner  (none) -> acme  by xrmctl:uid=1000(ana)\n"
      "\n"
      "Recent events\n"
      "  2027-01-15T07:59:30Z  fault  {\"code\":7}\n",
      render_show(r, kNow).c_str());
}

TEST(RenderShow, NewDeviceHasNoScoreAndEmptySections) {
  const std::string text = render_show({{"id", "v"}, {"score", nullptr}, {"last_seen_ms", nullptr}}, kNow);
  STRCMP_CONTAINS("last seen   never\n", text.c_str());
  STRCMP_CONTAINS("Health\n  no score yet\n\nOpen alerts\n  none\n", text.c_str());
  STRCMP_CONTAINS("Counters\n  messages  -\n", text.c_str());
  STRCMP_CONTAINS("Recent events\n  none\n", text.c_str());
}

TEST(RenderShow, ToleratesMissingFieldsAndWrongTypes) {
  for (const json& odd : kOddValues) {
    render_show(odd, kNow);
    json r = json::object();
    for (const char* key : {"id", "score", "band", "factors", "alerts", "stakeholders", "counters", "history",
                            "recent_events", "last_seen_ms", "created_ms"}) {
      r[key] = odd;
    }
    const std::string text = render_show(r, kNow);
    STRCMP_CONTAINS("Recent events", text.c_str());
    r["factors"] = json::array({odd});
    r["history"] = json::array({odd});
    r["alerts"] = json::array({odd});
    render_show(r, kNow);
  }
}

TEST_GROUP(RenderStatus){};

TEST(RenderStatus, AlignedKeyValues) {
  const json r = {
      {"gateway_id", "gw-01"},
      {"version", "0.1.0"},
      {"uptime_ms", 3 * 3'600'000 + 12 * 60'000 + 5'400},
      {"connections",
       {{"local", {{"url", "mqtt://127.0.0.1:1883"}, {"connected", true}, {"mqtt_version", 5}}},
        {"upstream", {{"url", "mqtts://central:8883"}, {"connected", false}, {"mqtt_version", "3.1.1"}}}}},
      {"devices", {{"total", 12}, {"by_lifecycle", {{"active", 10}, {"provisioned", 1}, {"retired", 1}}}}},
      {"ingest", {{"messages", 1234}, {"rate_per_s", 3.25}}},
      {"outbox", {{"depth", 17}, {"oldest_age_ms", 125'000}}},
      {"drops", 0},
      {"dead_letters", 3},
      {"condensation", {{"messages_in", 1000}, {"bytes_in", 256000}, {"records_out", 40}, {"bytes_out", 12000}}}};
  STRCMP_EQUAL(
      "gateway       gw-01\n"
      "version       0.1.0\n"
      "uptime        3h12m5s\n"
      "local broker  connected, mqtt://127.0.0.1:1883, MQTT 5\n"
      "upstream      disconnected, mqtts://central:8883, MQTT 3.1.1\n"
      "devices       12 (active 10, provisioned 1, retired 1)\n"
      "ingest        1234 messages, 3.2/s\n"
      "outbox        depth 17, oldest 2m5s\n"
      "drops         0\n"
      "dead letters  3\n"
      "condensation  1000 messages, 256000 bytes -> 40 records, 12000 bytes (21.3:1)\n",
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
         {"gateway_id", "uptime_ms", "connections", "devices", "ingest", "outbox", "drops", "condensation"}) {
      r[key] = odd;
    }
    STRCMP_CONTAINS("condensation", render_status(r).c_str());
    r["connections"] = {{"local", odd}, {"upstream", {{"connected", odd}, {"url", odd}, {"mqtt_version", odd}}}};
    r["devices"] = {{"total", odd}, {"by_lifecycle", odd}};
    r["condensation"] = {{"bytes_in", odd}, {"bytes_out", odd}};
    render_status(r);
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
