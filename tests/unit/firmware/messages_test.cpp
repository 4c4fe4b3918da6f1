#include <CppUTest/TestHarness.h>

#include <cmath>
#include <limits>
#include <string>

#include "xrm/device/json_writer.hpp"
#include "xrm/device/messages.hpp"
#include "xrm/proto/xrm.pb.h"

using namespace xrm::device;

namespace {

std::string json_double(double v) {
  std::string out;
  append_json_double(out, v);
  return out;
}

std::string json_string(const std::string& s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string telemetry_json(std::uint32_t seq, std::uint64_t ts, std::vector<std::pair<std::string, double>> m) {
  Telemetry t;
  t.seq = seq;
  t.ts = ts;
  t.metrics = std::move(m);
  std::string out;
  Status st = encode_telemetry(t, Encoding::kJson, out);
  CHECK_TRUE_TEXT(st.is_ok(), st.message().c_str());
  return out;
}

std::string telemetry_error(std::vector<std::pair<std::string, double>> m) {
  Telemetry t;
  t.metrics = std::move(m);
  std::string out;
  Status st = encode_telemetry(t, Encoding::kJson, out);
  return st.message();
}

}  // namespace

TEST_GROUP(Json){};

TEST(Json, NumbersUseTheShortestTextThatReadsBackExactly) {
  STRCMP_EQUAL("21", json_double(21.0).c_str());
  STRCMP_EQUAL("0.1", json_double(0.1).c_str());
  STRCMP_EQUAL("-3.25", json_double(-3.25).c_str());
  STRCMP_EQUAL("0.30000000000000004", json_double(0.1 + 0.2).c_str());
  STRCMP_EQUAL("1e+300", json_double(1e300).c_str());
  STRCMP_EQUAL("5e-324", json_double(std::numeric_limits<double>::denorm_min()).c_str());
  STRCMP_EQUAL("1.7976931348623157e+308", json_double(std::numeric_limits<double>::max()).c_str());
  STRCMP_EQUAL("-0", json_double(-0.0).c_str());
  STRCMP_EQUAL("123456789012", json_double(123456789012.0).c_str());
}

TEST(Json, StringsEscapeQuotesBackslashesAndControlCharacters) {
  STRCMP_EQUAL("\"a\\\"b\\\\c\"", json_string("a\"b\\c").c_str());
  STRCMP_EQUAL("\"\\n\\r\\t\\b\\f\\u0001\\u001f\"", json_string("\n\r\t\b\f\x01\x1f").c_str());
  STRCMP_EQUAL("\"/ \xc3\xa9 \x7f\"", json_string("/ \xc3\xa9 \x7f").c_str());  // UTF-8 and DEL unchanged
  CHECK_EQUAL(std::string("\"a\\u0000b\""), json_string(std::string("a\0b", 3)));
}

TEST(Json, TelemetryIsExactlyTheContractShape) {
  STRCMP_EQUAL(
      "{\"seq\":7,\"ts\":1700000000123,\"temp_c\":4.5,\"door\":1,\"pressure_kpa\":101.325}",
      telemetry_json(7, 1700000000123ULL, {{"temp_c", 4.5}, {"door", 1.0}, {"pressure_kpa", 101.325}}).c_str());
  STRCMP_EQUAL("{\"seq\":4294967295,\"ts\":0}", telemetry_json(4294967295u, 0, {}).c_str());
  STRCMP_EQUAL("{\"seq\":1,\"ts\":2,\"a\\\"b\":-0.5}", telemetry_json(1, 2, {{"a\"b", -0.5}}).c_str());
}

TEST(Json, TelemetryRefusesWhatTheGatewayWouldDeadLetter) {
  STRCMP_EQUAL("telemetry: metric t is not a finite number",
               telemetry_error({{"t", std::numeric_limits<double>::quiet_NaN()}}).c_str());
  STRCMP_EQUAL("telemetry: metric t is not a finite number",
               telemetry_error({{"t", std::numeric_limits<double>::infinity()}}).c_str());
  STRCMP_EQUAL("telemetry: metric name \"seq\" is reserved", telemetry_error({{"seq", 1}}).c_str());
  STRCMP_EQUAL("telemetry: empty metric name", telemetry_error({{"", 1}}).c_str());
  STRCMP_EQUAL("telemetry: metric a given twice", telemetry_error({{"a", 1}, {"a", 2}}).c_str());
  std::vector<std::pair<std::string, double>> many;
  for (int i = 0; i < 257; ++i) many.emplace_back("m" + std::to_string(i), i);
  STRCMP_EQUAL("telemetry: more than 256 metrics", telemetry_error(many).c_str());
}

TEST(Json, EventsCarryOnlyTheFieldsThatAreSet) {
  ServiceEvent e;
  e.seq = 3;
  e.ts = 1000;
  e.type = "service_done";
  e.technician = "tech-7";
  e.request_id = "REQ-1";
  e.note = "replaced \"fan\"\n";
  e.attributes["part"] = "F-12";
  std::string out;
  CHECK_TRUE(encode_event(e, Encoding::kJson, out).is_ok());
  STRCMP_EQUAL(
      "{\"seq\":3,\"ts\":1000,\"type\":\"service_done\",\"technician\":\"tech-7\",\"request_id\":\"REQ-1\","
      "\"note\":\"replaced \\\"fan\\\"\\n\",\"part\":\"F-12\"}",
      out.c_str());

  ServiceEvent s;
  s.seq = 4;
  s.ts = 1001;
  s.type = "satisfaction";
  s.score = 4.5;
  s.code = "";
  CHECK_TRUE(encode_event(s, Encoding::kJson, out).is_ok());
  STRCMP_EQUAL("{\"seq\":4,\"ts\":1001,\"type\":\"satisfaction\",\"code\":\"\",\"score\":4.5}", out.c_str());
}

TEST(Json, EventsRefuseBadTypesAndScoresByName) {
  ServiceEvent e;
  std::string out;
  e.type = "Fault";
  STRCMP_EQUAL("event: invalid type \"Fault\" (1 to 64 of a-z 0-9 _)",
               encode_event(e, Encoding::kJson, out).message().c_str());
  e.type = "satisfaction";
  STRCMP_EQUAL("event: satisfaction needs a score", encode_event(e, Encoding::kJson, out).message().c_str());
  e.score = std::nan("");
  STRCMP_EQUAL("event: score is not a finite number", encode_event(e, Encoding::kJson, out).message().c_str());
  e.type = "fault";
  e.score.reset();
  e.attributes["seq"] = "1";
  STRCMP_EQUAL("event: attribute name \"seq\" is reserved", encode_event(e, Encoding::kJson, out).message().c_str());
}

TEST(Json, BirthHasTheContractFieldNames) {
  Birth b{"CH-200", "1.4.2", {"temp_c", "reboot"}, 1700000000000ULL, {}};
  STRCMP_EQUAL(
      "{\"model\":\"CH-200\",\"firmware_version\":\"1.4.2\",\"capabilities\":[\"temp_c\",\"reboot\"],"
      "\"ts\":1700000000000}",
      encode_birth(b, Encoding::kJson).c_str());
}

TEST_GROUP(Protobuf){};

TEST(Protobuf, TelemetryParsesWithTheGeneratedCode) {
  Telemetry t;
  t.seq = 300;
  t.ts = 1700000000123ULL;
  t.metrics = {{"temp_c", 4.5}, {"zero", 0.0}, {"neg", -1e-9}};
  std::string out;
  CHECK_TRUE(encode_telemetry(t, Encoding::kProtobuf, out).is_ok());
  CHECK_TRUE(out[0] != '{');
  xrm::v1::Telemetry pb;
  CHECK_TRUE(pb.ParseFromString(out));
  CHECK_EQUAL(300u, pb.seq());
  CHECK_EQUAL(1700000000123ULL, pb.ts());
  CHECK_EQUAL(3, pb.metrics_size());
  STRCMP_EQUAL("temp_c", pb.metrics(0).name().c_str());
  CHECK_EQUAL(4.5, pb.metrics(0).value());
  CHECK_EQUAL(0.0, pb.metrics(1).value());
  CHECK_EQUAL(-1e-9, pb.metrics(2).value());
  // Byte for byte what protobuf itself writes.
  CHECK_TRUE(out == pb.SerializeAsString());
}

TEST(Protobuf, ServiceEventParsesWithTheGeneratedCode) {
  ServiceEvent e;
  e.seq = 9;
  e.ts = 5;
  e.type = "fault";
  e.code = "E42";
  e.score = 0.0;
  e.technician = "t";
  e.request_id = "r";
  e.note = "n";
  e.attributes = {{"a", "1"}, {"b", ""}};
  std::string out;
  CHECK_TRUE(encode_event(e, Encoding::kProtobuf, out).is_ok());
  xrm::v1::ServiceEvent pb;
  CHECK_TRUE(pb.ParseFromString(out));
  CHECK_EQUAL(9u, pb.seq());
  STRCMP_EQUAL("fault", pb.type().c_str());
  CHECK_TRUE(pb.has_code());
  STRCMP_EQUAL("E42", pb.code().c_str());
  CHECK_TRUE(pb.has_score());  // optional: an explicit 0 is kept
  CHECK_EQUAL(0.0, pb.score());
  STRCMP_EQUAL("t", pb.technician().c_str());
  STRCMP_EQUAL("r", pb.request_id().c_str());
  STRCMP_EQUAL("n", pb.note().c_str());
  CHECK_EQUAL(2u, pb.attributes().size());
  STRCMP_EQUAL("1", pb.attributes().at("a").c_str());

  ServiceEvent bare;
  bare.type = "maintenance";
  CHECK_TRUE(encode_event(bare, Encoding::kProtobuf, out).is_ok());
  CHECK_TRUE(pb.ParseFromString(out));
  CHECK_FALSE(pb.has_code());
  CHECK_FALSE(pb.has_score());
}

TEST(Protobuf, BirthAndCommandResultParseWithTheGeneratedCode) {
  Birth b{"CH-200", "1.4.2", {"temp_c", "reboot"}, 77, {{"serial", "X1"}}};
  xrm::v1::Birth pb;
  CHECK_TRUE(pb.ParseFromString(encode_birth(b, Encoding::kProtobuf)));
  STRCMP_EQUAL("CH-200", pb.model().c_str());
  STRCMP_EQUAL("1.4.2", pb.firmware_version().c_str());
  CHECK_EQUAL(2, pb.capabilities_size());
  STRCMP_EQUAL("reboot", pb.capabilities(1).c_str());
  CHECK_EQUAL(77u, pb.ts());
  STRCMP_EQUAL("X1", pb.attributes().at("serial").c_str());

  CommandResult r;
  r.request_id = "req-1";
  r.status = CommandStatus::kRejected;
  r.message = "bad arg";
  r.data = {{"k", "v"}};
  r.completed_at_ms = 123;
  r.device_id = "pump-1";
  r.name = "reboot";
  r.payload = std::string("\0\1", 2);
  xrm::v1::CommandResult res;
  CHECK_TRUE(res.ParseFromString(encode_command_result(r)));
  STRCMP_EQUAL("req-1", res.request_id().c_str());
  CHECK_EQUAL(xrm::v1::COMMAND_STATUS_REJECTED, res.status());
  STRCMP_EQUAL("bad arg", res.message().c_str());
  STRCMP_EQUAL("v", res.data().at("k").c_str());
  CHECK_EQUAL(123u, res.completed_at_ms());
  STRCMP_EQUAL("pump-1", res.device_id().c_str());
  STRCMP_EQUAL("reboot", res.name().c_str());
  CHECK_TRUE(res.payload() == std::string("\0\1", 2));
}

TEST(Protobuf, CommandDecodesWhatTheGatewayWrites) {
  xrm::v1::Command pb;
  pb.set_request_id("alert-42");
  pb.set_name("reboot");
  (*pb.mutable_args())["delay_s"] = "5";
  (*pb.mutable_args())["mode"] = "soft";
  pb.set_payload(std::string("\xff\0", 2));
  pb.set_issued_at_ms(1700000000000ULL);
  pb.set_expires_at_ms(1700000060000ULL);
  pb.set_device_id("pump-1");
  pb.set_issued_by("xrm-gatewayd");
  Command cmd;
  Status st = decode_command(pb.SerializeAsString(), cmd);
  CHECK_TRUE_TEXT(st.is_ok(), st.message().c_str());
  STRCMP_EQUAL("alert-42", cmd.request_id.c_str());
  STRCMP_EQUAL("reboot", cmd.name.c_str());
  CHECK_EQUAL(2u, cmd.args.size());
  STRCMP_EQUAL("5", cmd.args["delay_s"].c_str());
  STRCMP_EQUAL("soft", cmd.args["mode"].c_str());
  CHECK_TRUE(cmd.payload == std::string("\xff\0", 2));
  CHECK_EQUAL(1700000000000ULL, cmd.issued_at_ms);
  CHECK_TRUE(cmd.expires_at_ms.has_value());
  CHECK_EQUAL(1700000060000ULL, *cmd.expires_at_ms);
  STRCMP_EQUAL("pump-1", cmd.device_id.c_str());
  STRCMP_EQUAL("xrm-gatewayd", cmd.issued_by.c_str());

  xrm::v1::Command no_expiry;
  no_expiry.set_request_id("r");
  CHECK_TRUE(decode_command(no_expiry.SerializeAsString(), cmd).is_ok());
  CHECK_FALSE(cmd.expires_at_ms.has_value());
}

TEST(Protobuf, CommandDecodingSkipsUnknownFieldsAndRefusesTruncation) {
  xrm::v1::Command pb;
  pb.set_request_id("r1");
  std::string bytes = pb.SerializeAsString();
  // Unknown fields of every wire type: 20 varint, 21 fixed64, 22 bytes, 23 fixed32.
  bytes += std::string("\xa0\x01\x96\x01", 4);
  bytes += std::string("\xa9\x01", 2) + std::string(8, '\x01');
  bytes += std::string("\xb2\x01\x02hi", 5);
  bytes += std::string("\xbd\x01", 2) + std::string(4, '\x02');
  Command cmd;
  Status st = decode_command(bytes, cmd);
  CHECK_TRUE_TEXT(st.is_ok(), st.message().c_str());
  STRCMP_EQUAL("r1", cmd.request_id.c_str());

  const std::string full = pb.SerializeAsString();
  CHECK_FALSE(decode_command(full.substr(0, full.size() - 1), cmd).is_ok());
  CHECK_FALSE(decode_command(std::string("\x0a\xff\xff\xff\xff\x0f", 6), cmd).is_ok());
  CHECK_FALSE(decode_command("{\"request_id\":\"x\"}", cmd).is_ok());  // JSON is not a Command
}
