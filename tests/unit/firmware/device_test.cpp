#include <CppUTest/TestHarness.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fake_transport.hpp"
#include "temp_dir.hpp"
#include "xrm/device/device.hpp"
#include "xrm/proto/xrm.pb.h"

using namespace xrm::device;
using xrm::device::test::FakeTransport;
using xrm::device::test::TempDir;

namespace {

constexpr const char* kUri =
    "xrm-provision:v1?gw=gw-01&device=pump-1&url=tcp%3A%2F%2Fgateway.local%3A1883&password=s3cr%2Bt";
constexpr std::uint64_t kBoot = 1700000000000ULL;

std::string seq_of(const std::string& json) {
  const auto at = json.find("\"seq\":");
  if (at == std::string::npos) return "none";
  return json.substr(at + 6, json.find(',', at) - at - 6);
}

std::string command_bytes(const std::string& request_id, const std::string& name,
                          std::optional<std::uint64_t> expires = std::nullopt) {
  xrm::v1::Command c;
  c.set_request_id(request_id);
  c.set_name(name);
  (*c.mutable_args())["delay_s"] = "5";
  c.set_issued_at_ms(kBoot);
  if (expires) c.set_expires_at_ms(*expires);
  c.set_device_id("pump-1");
  return c.SerializeAsString();
}

xrm::v1::CommandResult result_of(const FakeTransport& t, std::size_t index) {
  xrm::v1::CommandResult r;
  CHECK_TRUE(r.ParseFromString(t.publishes.at(index).payload));
  return r;
}

}  // namespace

TEST_GROUP(Device) {
  TempDir dir;
  FakeTransport transport;
  std::uint64_t clock_ms = kBoot;

  DeviceConfig config() {
    DeviceConfig c;
    c.uri = kUri;
    c.state_dir = dir.path();
    c.seq_block = 10;
    c.model = "CH-200";
    c.firmware_version = "1.4.2";
    c.capabilities = {"temp_c"};
    c.ack_timeout_ms = 5000;
    c.clock = [this] { return clock_ms; };
    return c;
  }

  void connect(Device & d) {
    transport.accept_connect();
    d.poll();
    CHECK_TRUE(d.is_online());
  }
};

TEST(Device, StartConnectsWithTheProvisionedCredentialsAndAnOfflineWill) {
  Device d(transport, config());
  Status st = d.start();
  CHECK_TRUE_TEXT(st.is_ok(), st.message().c_str());
  CHECK_EQUAL(1u, transport.connects.size());
  const ConnectOptions& o = transport.connects[0];
  STRCMP_EQUAL("tcp://gateway.local:1883", o.url.c_str());
  STRCMP_EQUAL("pump-1", o.client_id.c_str());
  STRCMP_EQUAL("pump-1", o.username.c_str());
  STRCMP_EQUAL("s3cr+t", o.password.c_str());
  CHECK_TRUE(o.will.has_value());
  STRCMP_EQUAL("xrm/v1/dev/pump-1/state", o.will->topic.c_str());
  STRCMP_EQUAL("offline", o.will->payload.c_str());
  CHECK_TRUE(o.will->retained);
  CHECK_EQUAL(1, o.will->qos);
  CHECK_FALSE(d.is_online());
}

TEST(Device, StartRefusesABadUri) {
  DeviceConfig c = config();
  c.uri = "xrm-provision:v1?gw=gw-01&device=pump%201&url=u&password=p";
  Device d(transport, c);
  Status st = d.start();
  CHECK_FALSE(st.is_ok());
  STRCMP_CONTAINS("invalid device id", st.message().c_str());
  CHECK_EQUAL(0u, transport.connects.size());
}

TEST(Device, OnConnectSubscribesCommandsAndPublishesRetainedBirthAndOnline) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  CHECK_EQUAL(1u, transport.subscriptions.size());
  STRCMP_EQUAL("xrm/v1/dev/pump-1/cmd/+", transport.subscriptions[0].first.c_str());
  CHECK_EQUAL(1, transport.subscriptions[0].second);
  CHECK_EQUAL(2u, transport.publishes.size());
  const auto& birth = transport.publishes[0];
  STRCMP_EQUAL("xrm/v1/dev/pump-1/birth", birth.topic.c_str());
  CHECK_TRUE(birth.retained);
  CHECK_EQUAL(1, birth.qos);
  STRCMP_EQUAL(
      "{\"model\":\"CH-200\",\"firmware_version\":\"1.4.2\",\"capabilities\":[\"temp_c\"],\"ts\":1700000000000}",
      birth.payload.c_str());
  const auto& state = transport.publishes[1];
  STRCMP_EQUAL("xrm/v1/dev/pump-1/state", state.topic.c_str());
  STRCMP_EQUAL("online", state.payload.c_str());
  CHECK_TRUE(state.retained);
  CHECK_EQUAL(1, state.qos);
}

TEST(Device, BirthKeepsTheBootTimeAcrossReconnects) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  clock_ms += 60000;
  transport.lose_connection();
  d.poll();
  clock_ms += 1000;
  d.poll();  // reconnect attempt
  CHECK_EQUAL(2u, transport.connects.size());
  connect(d);
  const auto births = transport.to("xrm/v1/dev/pump-1/birth");
  CHECK_EQUAL(2u, births.size());
  CHECK_TRUE(transport.publishes[births[0]].payload == transport.publishes[births[1]].payload);
}

TEST(Device, StopPublishesOfflineRetainedThenDisconnects) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  d.stop();
  const auto& last = transport.publishes.back();
  STRCMP_EQUAL("xrm/v1/dev/pump-1/state", last.topic.c_str());
  STRCMP_EQUAL("offline", last.payload.c_str());
  CHECK_TRUE(last.retained);
  CHECK_EQUAL(1, transport.disconnects);
  CHECK_FALSE(d.is_online());
}

TEST(Device, TelemetryWhileOfflineIsBufferedAndSentInOrderOnConnect) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  CHECK_TRUE(d.send_telemetry(std::map<std::string, double>{{"temp_c", 4.5}}).is_ok());
  clock_ms += 10;
  CHECK_TRUE(d.send_telemetry(std::map<std::string, double>{{"temp_c", 4.75}}).is_ok());
  CHECK_EQUAL(0u, transport.publishes.size());
  CHECK_EQUAL(2u, d.buffer().size());
  connect(d);
  const auto tele = transport.to("xrm/v1/dev/pump-1/tele");
  CHECK_EQUAL(2u, tele.size());
  STRCMP_EQUAL("{\"seq\":0,\"ts\":1700000000000,\"temp_c\":4.5}", transport.publishes[tele[0]].payload.c_str());
  STRCMP_EQUAL("{\"seq\":1,\"ts\":1700000000010,\"temp_c\":4.75}", transport.publishes[tele[1]].payload.c_str());
  CHECK_EQUAL(0, transport.publishes[tele[0]].qos);
  CHECK_FALSE(transport.publishes[tele[0]].retained);
  transport.complete(tele[0], true);
  transport.complete(tele[1], true);
  d.poll();
  CHECK_EQUAL(0u, d.buffer().size());
  CHECK_EQUAL(2u, d.stats().delivered);
}

TEST(Device, RefusedTelemetryUsesNoSequenceNumber) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  CHECK_FALSE(d.send_telemetry(std::map<std::string, double>{{"ts", 1}}).is_ok());
  CHECK_TRUE(d.send_telemetry(std::map<std::string, double>{{"a", 1}}).is_ok());
  STRCMP_EQUAL("0", seq_of(transport.publishes.back().payload).c_str());
}

TEST(Device, EventIsSentAgainUntilTheBrokerAcknowledgesIt) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  ServiceEvent e;
  e.type = "fault";
  e.code = "E42";
  CHECK_TRUE(d.send_event(e).is_ok());
  auto evts = transport.to("xrm/v1/dev/pump-1/evt");
  CHECK_EQUAL(1u, evts.size());
  const std::string payload = transport.publishes[evts[0]].payload;
  STRCMP_EQUAL("{\"seq\":0,\"ts\":1700000000000,\"type\":\"fault\",\"code\":\"E42\"}", payload.c_str());
  CHECK_EQUAL(1, transport.publishes[evts[0]].qos);

  // 1. The publish fails: sent again at the next poll, same bytes (same seq and ts).
  transport.complete(evts[0], false);
  d.poll();
  evts = transport.to("xrm/v1/dev/pump-1/evt");
  CHECK_EQUAL(2u, evts.size());
  CHECK_TRUE(transport.publishes[evts[1]].payload == payload);

  // 2. The connection goes before the PUBACK: nothing is sent while offline, then again after.
  transport.lose_connection();
  d.poll();
  CHECK_FALSE(d.is_online());
  CHECK_EQUAL(1u, d.buffer().size());
  clock_ms += 999;
  d.poll();
  CHECK_EQUAL(1u, transport.connects.size());  // backoff: not yet
  clock_ms += 1;
  d.poll();
  CHECK_EQUAL(2u, transport.connects.size());
  connect(d);
  evts = transport.to("xrm/v1/dev/pump-1/evt");
  CHECK_EQUAL(3u, evts.size());

  // 3. No answer at all: sent again after ack_timeout_ms.
  clock_ms += 4999;
  d.poll();
  CHECK_EQUAL(3u, transport.to("xrm/v1/dev/pump-1/evt").size());
  clock_ms += 1;
  d.poll();
  evts = transport.to("xrm/v1/dev/pump-1/evt");
  CHECK_EQUAL(4u, evts.size());

  // A late failure of an older attempt does not disturb the current one; its PUBACK ends it.
  transport.complete(evts[2], false);
  transport.complete(evts[3], true);
  d.poll();
  CHECK_EQUAL(0u, d.buffer().size());
  clock_ms += 60000;
  d.poll();
  CHECK_EQUAL(4u, transport.to("xrm/v1/dev/pump-1/evt").size());
  CHECK_TRUE(transport.publishes[evts[3]].payload == payload);
}

TEST(Device, AnEventAcknowledgedByAnEarlierAttemptIsNotSentAgain) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  ServiceEvent e;
  e.type = "maintenance";
  CHECK_TRUE(d.send_event(e).is_ok());
  clock_ms += 5000;
  d.poll();  // timed out: second attempt
  auto evts = transport.to("xrm/v1/dev/pump-1/evt");
  CHECK_EQUAL(2u, evts.size());
  transport.complete(evts[0], true);  // the first PUBACK arrives late after all
  d.poll();
  CHECK_EQUAL(0u, d.buffer().size());
  transport.complete(evts[1], false);
  d.poll();
  CHECK_EQUAL(2u, transport.to("xrm/v1/dev/pump-1/evt").size());
}

TEST(Device, EventsAndTelemetryNumberSeparatelyAndSurviveAReboot) {
  std::vector<std::string> seqs;
  for (int boot = 0; boot < 2; ++boot) {
    FakeTransport t;
    Device d(t, config());
    CHECK_TRUE(d.start().is_ok());
    t.accept_connect();
    d.poll();
    for (int i = 0; i < 3; ++i) CHECK_TRUE(d.send_telemetry(std::map<std::string, double>{{"a", i}}).is_ok());
    ServiceEvent e;
    e.type = "service_request";
    CHECK_TRUE(d.send_event(e).is_ok());
    for (auto i : t.to("xrm/v1/dev/pump-1/tele")) seqs.push_back("t" + seq_of(t.publishes[i].payload));
    for (auto i : t.to("xrm/v1/dev/pump-1/evt")) seqs.push_back("e" + seq_of(t.publishes[i].payload));
  }
  // The second boot continues after the first boot's reservation (block 10): numbers skip, never repeat.
  std::string all;
  for (const auto& s : seqs) all += s + " ";
  STRCMP_EQUAL("t0 t1 t2 e0 t10 t11 t12 e10 ", all.c_str());
}

TEST(Device, ACommandRunsTheHandlerAndItsResultEchoesTheRequestId) {
  Device d(transport, config());
  std::vector<Command> seen;
  d.on_command([&](const Command& c) {
    seen.push_back(c);
    CommandResult r;
    r.status = CommandStatus::kOk;
    r.message = "rebooting in " + c.args.at("delay_s") + " s";
    r.data["uptime_s"] = "42";
    return r;
  });
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  clock_ms += 7;
  transport.deliver("xrm/v1/dev/pump-1/cmd/reboot", command_bytes("req-1", "reboot"));
  d.poll();
  CHECK_EQUAL(1u, seen.size());
  STRCMP_EQUAL("req-1", seen[0].request_id.c_str());
  const auto res = transport.to("xrm/v1/dev/pump-1/cmd-res");
  CHECK_EQUAL(1u, res.size());
  CHECK_EQUAL(1, transport.publishes[res[0]].qos);
  CHECK_FALSE(transport.publishes[res[0]].retained);
  const auto r = result_of(transport, res[0]);
  STRCMP_EQUAL("req-1", r.request_id().c_str());
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_OK, r.status());
  STRCMP_EQUAL("rebooting in 5 s", r.message().c_str());
  STRCMP_EQUAL("42", r.data().at("uptime_s").c_str());
  STRCMP_EQUAL("pump-1", r.device_id().c_str());
  STRCMP_EQUAL("reboot", r.name().c_str());
  CHECK_EQUAL(kBoot + 7, r.completed_at_ms());
  CHECK_TRUE(r.gateway_id().empty());
}

TEST(Device, ARepeatedRequestIdIsAnsweredAgainWithoutRunningTwice) {
  Device d(transport, config());
  int runs = 0;
  d.on_command([&](const Command&) {
    ++runs;
    return CommandResult{};
  });
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  transport.deliver("xrm/v1/dev/pump-1/cmd/reboot", command_bytes("req-1", "reboot"));
  transport.deliver("xrm/v1/dev/pump-1/cmd/reboot", command_bytes("req-1", "reboot"));
  d.poll();
  CHECK_EQUAL(1, runs);
  const auto res = transport.to("xrm/v1/dev/pump-1/cmd-res");
  CHECK_EQUAL(2u, res.size());
  CHECK_TRUE(transport.publishes[res[0]].payload == transport.publishes[res[1]].payload);
  CHECK_EQUAL(1u, d.stats().duplicate_commands);
}

TEST(Device, ExpiredUnknownAndUndecodableCommandsGetTheirStatus) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  transport.deliver("xrm/v1/dev/pump-1/cmd/reboot", command_bytes("r1", "reboot"));  // no handler
  transport.deliver("xrm/v1/dev/pump-1/cmd/x", std::string("\x0a\x05"
                                                           "ab",
                                                           4));                     // truncated
  transport.deliver("xrm/v1/dev/other/cmd/reboot", command_bytes("r9", "reboot"));  // not ours: ignored
  d.poll();
  int handled = 0;
  d.on_command([&](const Command&) {
    ++handled;
    return CommandResult{};
  });
  transport.deliver("xrm/v1/dev/pump-1/cmd/reboot", command_bytes("r2", "reboot", kBoot - 1));
  d.poll();
  CHECK_EQUAL(0, handled);
  const auto res = transport.to("xrm/v1/dev/pump-1/cmd-res");
  CHECK_EQUAL(3u, res.size());
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_UNKNOWN_COMMAND, result_of(transport, res[0]).status());
  STRCMP_EQUAL("r1", result_of(transport, res[0]).request_id().c_str());
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_REJECTED, result_of(transport, res[1]).status());
  STRCMP_EQUAL("x", result_of(transport, res[1]).name().c_str());
  STRCMP_CONTAINS("truncated", result_of(transport, res[1]).message().c_str());
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_EXPIRED, result_of(transport, res[2]).status());
  STRCMP_EQUAL("r2", result_of(transport, res[2]).request_id().c_str());
}

TEST(Device, ProtobufEncodingSendsTelemetryEventsAndBirthAsProtobuf) {
  DeviceConfig c = config();
  c.encoding = Encoding::kProtobuf;
  c.telemetry_qos = 1;
  Device d(transport, c);
  CHECK_TRUE(d.start().is_ok());
  connect(d);
  CHECK_TRUE(d.send_telemetry(std::map<std::string, double>{{"temp_c", -2.5}}).is_ok());
  ServiceEvent e;
  e.type = "satisfaction";
  e.score = 5;
  e.request_id = "REQ-9";
  CHECK_TRUE(d.send_event(e).is_ok());

  xrm::v1::Birth birth;
  CHECK_TRUE(birth.ParseFromString(transport.publishes[transport.to("xrm/v1/dev/pump-1/birth")[0]].payload));
  CHECK_EQUAL(kBoot, birth.ts());
  xrm::v1::Telemetry tele;
  const auto& tp = transport.publishes[transport.to("xrm/v1/dev/pump-1/tele")[0]];
  CHECK_EQUAL(1, tp.qos);
  CHECK_TRUE(tele.ParseFromString(tp.payload));
  CHECK_EQUAL(0u, tele.seq());
  CHECK_EQUAL(kBoot, tele.ts());
  CHECK_EQUAL(-2.5, tele.metrics(0).value());
  xrm::v1::ServiceEvent ev;
  CHECK_TRUE(ev.ParseFromString(transport.publishes[transport.to("xrm/v1/dev/pump-1/evt")[0]].payload));
  STRCMP_EQUAL("satisfaction", ev.type().c_str());
  CHECK_EQUAL(5.0, ev.score());
  STRCMP_EQUAL("REQ-9", ev.request_id().c_str());
}

TEST(Device, AFullBufferDropsTelemetryBeforeEventsWhileOffline) {
  DeviceConfig c = config();
  c.buffer.max_messages = 3;
  Device d(transport, c);
  CHECK_TRUE(d.start().is_ok());
  ServiceEvent e;
  e.type = "fault";
  CHECK_TRUE(d.send_telemetry(std::map<std::string, double>{{"a", 1}}).is_ok());
  CHECK_TRUE(d.send_event(e).is_ok());
  CHECK_TRUE(d.send_telemetry(std::map<std::string, double>{{"a", 2}}).is_ok());
  CHECK_TRUE(d.send_event(e).is_ok());                                    // drops telemetry seq 0
  CHECK_TRUE(d.send_event(e).is_ok());                                    // drops telemetry seq 1
  Status st = d.send_telemetry(std::map<std::string, double>{{"a", 3}});  // only events left: refused
  CHECK_FALSE(st.is_ok());
  STRCMP_CONTAINS("offline buffer full", st.message().c_str());
  CHECK_EQUAL(3u, d.buffer().stats().dropped_telemetry);
  CHECK_EQUAL(0u, d.buffer().stats().dropped_events);
  connect(d);
  CHECK_EQUAL(0u, transport.to("xrm/v1/dev/pump-1/tele").size());
  CHECK_EQUAL(3u, transport.to("xrm/v1/dev/pump-1/evt").size());
}

TEST(Device, ARefusedConnectionIsRetriedWithGrowingBackoff) {
  Device d(transport, config());
  CHECK_TRUE(d.start().is_ok());
  transport.refuse_connect();
  d.poll();
  CHECK_EQUAL(1u, d.stats().connect_failures);
  clock_ms += 999;
  d.poll();
  CHECK_EQUAL(1u, transport.connects.size());
  clock_ms += 1;
  d.poll();
  CHECK_EQUAL(2u, transport.connects.size());
  transport.refuse_connect();
  d.poll();
  clock_ms += 1999;
  d.poll();
  CHECK_EQUAL(2u, transport.connects.size());
  clock_ms += 1;
  d.poll();
  CHECK_EQUAL(3u, transport.connects.size());
  connect(d);
  CHECK_EQUAL(1u, d.stats().connects);
}
