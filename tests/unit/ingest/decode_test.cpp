#include <CppUTest/TestHarness.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "xrm/ingest/decode.hpp"
#include "xrm/proto/xrm.pb.h"

using xrm::Status;
using xrm::ingest::DecodeLimits;
using xrm::ingest::PayloadDecoder;
using xrm::ingest::TelemetrySample;
using namespace std::string_literals;

namespace {

std::string telemetry_pb(std::uint32_t seq, std::uint64_t ts,
                         const std::vector<std::pair<std::string, double>>& metrics) {
  xrm::v1::Telemetry t;
  t.set_seq(seq);
  t.set_ts(ts);
  for (const auto& [name, value] : metrics) {
    auto* m = t.add_metrics();
    m->set_name(name);
    m->set_value(value);
  }
  return t.SerializeAsString();
}

std::string metric_pb(const std::string& name, double value) {
  xrm::v1::Metric m;
  m.set_name(name);
  m.set_value(value);
  return m.SerializeAsString();
}

// Field 3 (metrics) wrapping an already encoded Metric (shorter than 128 bytes).
std::string metrics_field(const std::string& encoded_metric) {
  return "\x1a"s + static_cast<char>(encoded_metric.size()) + encoded_metric;
}

// An unknown field: number 15 as a varint, value 1.
const std::string kUnknownField = "\x78\x01";

std::string nested(const std::string& open, const std::string& close, int levels) {
  std::string s = R"({"seq":1,"deep":)";
  for (int i = 0; i < levels; ++i) s += open;
  s += "1";
  for (int i = 0; i < levels; ++i) s += close;
  return s + "}";
}

// A JSON telemetry payload of exactly `size` bytes (size >= 24).
std::string json_of_size(std::size_t size) {
  std::string s = R"({"seq":1,"pad":")";
  s += std::string(size - s.size() - 2, 'x');
  return s + "\"}";
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct BadInput {
  const char* what;
  std::string payload;
  const char* reason;  // expected substring of the dead-letter reason
  DecodeLimits limits = {};
};

void check_telemetry_rejects(const std::vector<BadInput>& cases) {
  for (const auto& c : cases) {
    PayloadDecoder decoder(c.limits);
    TelemetrySample out;
    const Status s = decoder.decode_telemetry(c.payload, out);
    CHECK_TEXT(!s.is_ok(), c.what);
    CHECK_TEXT(s.code() == Status::Code::kInvalidArgument, c.what);
    STRCMP_CONTAINS_TEXT(c.reason, s.message().c_str(), c.what);
    CHECK_TEXT(s.message().find('\n') == std::string::npos, c.what);
  }
}

void check_event_rejects(const std::vector<BadInput>& cases) {
  for (const auto& c : cases) {
    PayloadDecoder decoder(c.limits);
    xrm::v1::ServiceEvent out;
    std::uint32_t ignored = 0;
    const Status s = decoder.decode_event(c.payload, out, ignored);
    CHECK_TEXT(!s.is_ok(), c.what);
    CHECK_TEXT(s.code() == Status::Code::kInvalidArgument, c.what);
    STRCMP_CONTAINS_TEXT(c.reason, s.message().c_str(), c.what);
  }
}

}  // namespace

TEST_GROUP(DecodeTelemetry) {
  PayloadDecoder decoder;
  TelemetrySample out;

  void ok(const std::string& payload) {
    const Status s = decoder.decode_telemetry(payload, out);
    CHECK_TEXT(s.is_ok(), s.to_string().c_str());
  }
};

TEST(DecodeTelemetry, JsonValuesInPayloadOrder) {
  ok(R"({"seq":123456,"ts":1763900000000,"temp_c":4.25,"door":0,"p":-3,"big":18446744073709551616,"e":1.5E3})");
  UNSIGNED_LONGS_EQUAL(123456, out.seq);
  CHECK(out.ts_ms == 1763900000000ULL);
  UNSIGNED_LONGS_EQUAL(5, out.metrics.size());
  STRCMP_EQUAL("temp_c", std::string(out.metrics[0].name).c_str());
  CHECK(same_double(4.25, out.metrics[0].value));
  STRCMP_EQUAL("door", std::string(out.metrics[1].name).c_str());
  CHECK(same_double(0.0, out.metrics[1].value));
  STRCMP_EQUAL("p", std::string(out.metrics[2].name).c_str());
  CHECK(same_double(-3.0, out.metrics[2].value));
  STRCMP_EQUAL("big", std::string(out.metrics[3].name).c_str());
  CHECK(same_double(18446744073709551616.0, out.metrics[3].value));
  STRCMP_EQUAL("e", std::string(out.metrics[4].name).c_str());
  CHECK(same_double(1500.0, out.metrics[4].value));
  UNSIGNED_LONGS_EQUAL(0, out.ignored_fields);
}

TEST(DecodeTelemetry, JsonTsAbsentBooleansAndIgnoredFieldsCounted) {
  ok(R"({"on":true,"label":"x","seq":0,"n":null,"off":false,"o":{"a":[1,{"b":2}]},"arr":[1,"2"],"c":7})");
  UNSIGNED_LONGS_EQUAL(0, out.seq);
  CHECK(out.ts_ms == 0);
  UNSIGNED_LONGS_EQUAL(3, out.metrics.size());
  STRCMP_EQUAL("on", std::string(out.metrics[0].name).c_str());
  CHECK(same_double(1.0, out.metrics[0].value));
  STRCMP_EQUAL("off", std::string(out.metrics[1].name).c_str());
  CHECK(same_double(0.0, out.metrics[1].value));
  STRCMP_EQUAL("c", std::string(out.metrics[2].name).c_str());
  CHECK(same_double(7.0, out.metrics[2].value));
  UNSIGNED_LONGS_EQUAL(4, out.ignored_fields);  // label, n, o, arr
}

TEST(DecodeTelemetry, JsonNumbersAreCorrectlyRounded) {
  ok(R"({"seq":4294967295,"ts":18446744073709551615,"a":0.30000000000000004,"b":1e-400,"c":-1e-400,)"
     R"("d":4.9e-324,"e":1.7976931348623157e308,"f":-0.0,"g":0.1})");
  CHECK(out.seq == 4294967295U);
  CHECK(out.ts_ms == std::numeric_limits<std::uint64_t>::max());
  UNSIGNED_LONGS_EQUAL(7, out.metrics.size());
  CHECK(same_double(0.1 + 0.2, out.metrics[0].value));
  CHECK(same_double(0.0, out.metrics[1].value));
  CHECK(same_double(-0.0, out.metrics[2].value));
  CHECK(same_double(std::numeric_limits<double>::denorm_min(), out.metrics[3].value));
  CHECK(same_double(std::numeric_limits<double>::max(), out.metrics[4].value));
  CHECK(same_double(-0.0, out.metrics[5].value));
  CHECK(same_double(0.1, out.metrics[6].value));
}

TEST(DecodeTelemetry, JsonEscapedKeysAndLeadingWhitespace) {
  ok(" \r\n\t{\"seq\" : 7 , \"a\\\"b\":1, \"temp_\\u00b0C\":2, \"\xc3\xa9t\xc3\xa9\":3 }\n");
  UNSIGNED_LONGS_EQUAL(7, out.seq);
  UNSIGNED_LONGS_EQUAL(3, out.metrics.size());
  STRCMP_EQUAL("a\"b", std::string(out.metrics[0].name).c_str());
  STRCMP_EQUAL("temp_\u00b0C", std::string(out.metrics[1].name).c_str());
  STRCMP_EQUAL("\xc3\xa9t\xc3\xa9", std::string(out.metrics[2].name).c_str());
}

TEST(DecodeTelemetry, ProtobufValues) {
  ok(telemetry_pb(42, 1763900000000ULL, {{"temp_c", 4.25}, {"door", 1}, {"neg", -0.5}}));
  UNSIGNED_LONGS_EQUAL(42, out.seq);
  CHECK(out.ts_ms == 1763900000000ULL);
  UNSIGNED_LONGS_EQUAL(3, out.metrics.size());
  STRCMP_EQUAL("temp_c", std::string(out.metrics[0].name).c_str());
  CHECK(same_double(4.25, out.metrics[0].value));
  STRCMP_EQUAL("door", std::string(out.metrics[1].name).c_str());
  CHECK(same_double(1.0, out.metrics[1].value));
  CHECK(same_double(-0.5, out.metrics[2].value));
  UNSIGNED_LONGS_EQUAL(0, out.ignored_fields);
}

TEST(DecodeTelemetry, ProtobufTsAbsentAndNoMetrics) {
  ok(telemetry_pb(3, 0, {}));
  UNSIGNED_LONGS_EQUAL(3, out.seq);
  CHECK(out.ts_ms == 0);
  UNSIGNED_LONGS_EQUAL(0, out.metrics.size());
}

TEST(DecodeTelemetry, ProtobufUnknownFieldsAreAcceptedAndCounted) {
  ok(telemetry_pb(5, 0, {{"a", 1}}) + kUnknownField);
  UNSIGNED_LONGS_EQUAL(5, out.seq);
  UNSIGNED_LONGS_EQUAL(1, out.metrics.size());
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);

  // Inside a Metric.
  ok("\x08\x06"s + metrics_field(metric_pb("a", 2) + kUnknownField));
  UNSIGNED_LONGS_EQUAL(6, out.seq);
  UNSIGNED_LONGS_EQUAL(1, out.metrics.size());
  CHECK(same_double(2.0, out.metrics[0].value));
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);

  // A known number with the wrong wire type (seq as fixed32) is an unknown field to protobuf too.
  ok("\x0d\x01\x00\x00\x00"s + telemetry_pb(0, 9, {}));
  UNSIGNED_LONGS_EQUAL(0, out.seq);
  CHECK(out.ts_ms == 9);
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);

  // Several unknown fields still count once.
  ok(telemetry_pb(5, 0, {{"a", 1}}) + kUnknownField + kUnknownField);
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
}

TEST(DecodeTelemetry, OutputIsResetOnEveryCall) {
  ok(R"({"seq":1,"a":1,"b":2,"s":"x"})");
  UNSIGNED_LONGS_EQUAL(2, out.metrics.size());
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
  ok(telemetry_pb(2, 0, {{"c", 3}}));
  UNSIGNED_LONGS_EQUAL(2, out.seq);
  CHECK(out.ts_ms == 0);
  UNSIGNED_LONGS_EQUAL(1, out.metrics.size());
  STRCMP_EQUAL("c", std::string(out.metrics[0].name).c_str());
  UNSIGNED_LONGS_EQUAL(0, out.ignored_fields);
  ok(R"({"seq":3})");
  UNSIGNED_LONGS_EQUAL(3, out.seq);
  UNSIGNED_LONGS_EQUAL(0, out.metrics.size());
}

TEST(DecodeTelemetry, ManyMetricsUpToTheLimit) {
  std::string json = R"({"seq":1)";
  std::vector<std::pair<std::string, double>> pb;
  for (int i = 0; i < 256; ++i) {
    json += ",\"m" + std::to_string(i) + "\":" + std::to_string(i);
    pb.emplace_back("m" + std::to_string(i), i);
  }
  ok(json + "}");
  UNSIGNED_LONGS_EQUAL(256, out.metrics.size());
  STRCMP_EQUAL("m255", std::string(out.metrics[255].name).c_str());
  CHECK(same_double(255.0, out.metrics[255].value));
  ok(telemetry_pb(1, 0, pb));
  UNSIGNED_LONGS_EQUAL(256, out.metrics.size());
  STRCMP_EQUAL("m200", std::string(out.metrics[200].name).c_str());

  Status s = decoder.decode_telemetry(json + R"(,"m256":1})", out);
  STRCMP_EQUAL("more than 256 metrics", s.message().c_str());
  pb.emplace_back("m256", 1);
  s = decoder.decode_telemetry(telemetry_pb(1, 0, pb), out);
  STRCMP_EQUAL("more than 256 metrics", s.message().c_str());

  // A duplicate found by the hash table (after the first 16 metrics), in both forms.
  std::string forty = R"({"seq":1)";
  for (int i = 0; i < 40; ++i) forty += ",\"m" + std::to_string(i) + "\":1";
  s = decoder.decode_telemetry(forty + R"(,"m7":1})", out);
  STRCMP_EQUAL("metric \"m7\" appears twice", s.message().c_str());
  s = decoder.decode_telemetry(forty + R"(,"m39":1})", out);
  STRCMP_EQUAL("metric \"m39\" appears twice", s.message().c_str());
  pb.resize(40);
  pb.emplace_back("m17", 1);
  s = decoder.decode_telemetry(telemetry_pb(1, 0, pb), out);
  STRCMP_EQUAL("metric \"m17\" appears twice", s.message().c_str());
  // And one found by the linear scan.
  s = decoder.decode_telemetry(R"({"seq":1,"a":1,"b":2,"a":3})", out);
  STRCMP_EQUAL("metric \"a\" appears twice", s.message().c_str());
  // The table is reused: the same names decode again afterwards.
  ok(json + "}");
  UNSIGNED_LONGS_EQUAL(256, out.metrics.size());
}

TEST(DecodeTelemetry, PayloadOfExactlyTheLimitPasses) {
  ok(json_of_size(16 * 1024));
  UNSIGNED_LONGS_EQUAL(1, out.seq);
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
  const Status s = decoder.decode_telemetry(json_of_size(16 * 1024 + 1), out);
  STRCMP_EQUAL("payload of 16385 bytes exceeds ingest.max_payload (16384)", s.message().c_str());
}

TEST(DecodeTelemetry, NestingUpToTheLimitPasses) {
  ok(nested("[", "]", 7));  // root object (1) + 7 arrays = 8 levels
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
  ok(nested("{\"a\":", "}", 7));
  Status s = decoder.decode_telemetry(nested("[", "]", 8), out);
  STRCMP_EQUAL("nesting deeper than 8 levels", s.message().c_str());
  s = decoder.decode_telemetry(nested("{\"a\":", "}", 8), out);
  STRCMP_EQUAL("nesting deeper than 8 levels", s.message().c_str());
}

TEST(DecodeTelemetry, SetLimitsTakesEffectOnTheNextCall) {
  decoder.set_limits({.max_payload = 40, .max_depth = 2, .max_metrics = 2});
  UNSIGNED_LONGS_EQUAL(40, decoder.limits().max_payload);
  ok(R"({"seq":1,"a":1,"b":[2]})");
  Status s = decoder.decode_telemetry(R"({"seq":1,"a":1,"b":[[2]]})", out);
  STRCMP_EQUAL("nesting deeper than 2 levels", s.message().c_str());
  s = decoder.decode_telemetry(R"({"seq":1,"a":1,"b":2,"c":3})", out);
  STRCMP_EQUAL("more than 2 metrics", s.message().c_str());
  s = decoder.decode_telemetry(json_of_size(41), out);
  STRCMP_EQUAL("payload of 41 bytes exceeds ingest.max_payload (40)", s.message().c_str());
}

TEST(DecodeTelemetry, LongAndOddNamesAreQuotedOnOneLine) {
  const Status s =
      decoder.decode_telemetry(R"({"seq":1,")" + std::string("x\\n\\\"") + std::string(100, 'y') + R"(":1e300,")" +
                                   std::string("x\\n\\\"") + std::string(100, 'y') + R"(":2})",
                               out);
  STRCMP_EQUAL(("metric \"x\\u000a\\\"" + std::string(61, 'y') + "\"... appears twice").c_str(), s.message().c_str());
}

TEST_GROUP(DecodeTelemetryRejects){};

TEST(DecodeTelemetryRejects, TableOfBadInputs) {
  DecodeLimits big;
  big.max_payload = 1 << 20;
  const std::string good_pb = telemetry_pb(77, 1763900000000ULL, {{"temp_c", 4.25}, {"door", 1}});
  check_telemetry_rejects({
      {"truncated JSON", R"({"seq":1,"temp_c":4.2)",
       "not valid JSON at byte 21: Missing a comma or '}' after an object member."},
      {"truncated JSON in a key", R"({"seq":1,"tem)",
       "not valid JSON at byte 13: Missing a closing quotation mark in string."},
      {"missing colon", R"({"seq" 1})", "not valid JSON at byte 7: Missing a colon after a name of object member."},
      {"trailing garbage", R"({"seq":1}x)",
       "not valid JSON at byte 9: The document root must not be followed by other values."},
      {"trailing comma", R"({"seq":1,})", "not valid JSON at byte 9"},
      {"truncated protobuf", good_pb.substr(0, good_pb.size() - 3), "neither JSON nor a protobuf Telemetry"},
      {"truncated protobuf name", good_pb.substr(0, 12), "neither JSON nor a protobuf Telemetry"},
      {"seq as string", R"({"seq":"1"})", "seq must be an integer from 0 to 4294967295"},
      {"seq as float", R"({"seq":1.5})", "seq must be an integer from 0 to 4294967295"},
      {"seq as 1.0", R"({"seq":1.0})", "seq must be an integer from 0 to 4294967295"},
      {"seq with exponent", R"({"seq":1e3})", "seq must be an integer from 0 to 4294967295"},
      {"seq negative", R"({"seq":-1})", "seq must be an integer from 0 to 4294967295"},
      {"seq too big", R"({"seq":4294967296})", "seq must be an integer from 0 to 4294967295"},
      {"seq null", R"({"seq":null})", "seq must be an integer from 0 to 4294967295"},
      {"seq bool", R"({"seq":true})", "seq must be an integer from 0 to 4294967295"},
      {"seq object", R"({"seq":{}})", "seq must be an integer from 0 to 4294967295"},
      {"seq missing", R"({"temp_c":1})", "seq is missing"},
      {"seq twice", R"({"seq":1,"seq":2})", "key \"seq\" appears twice"},
      {"ts as string", R"({"seq":1,"ts":"1763900000000"})", "ts must be an integer from 0 to 18446744073709551615"},
      {"ts negative", R"({"seq":1,"ts":-5})", "ts must be an integer from 0 to 18446744073709551615"},
      {"ts float", R"({"seq":1,"ts":1.5})", "ts must be an integer from 0 to 18446744073709551615"},
      {"ts too big", R"({"seq":1,"ts":18446744073709551616})", "ts must be an integer from 0 to 18446744073709551615"},
      {"NaN literal", R"({"seq":1,"a":NaN})", "not valid JSON at byte 13: Invalid value."},
      {"Infinity literal", R"({"seq":1,"a":Infinity})", "not valid JSON at byte 13: Invalid value."},
      {"-Infinity literal", R"({"seq":1,"a":-Infinity})", "not valid JSON at byte 14: Invalid value."},
      {"1e400", R"({"seq":1,"a":1e400})", "not valid JSON at byte 13: Number too big to be stored in double."},
      {"1.8e308", R"({"seq":1,"a":1.8e308})", "metric \"a\" is not a finite number"},
      {"100 levels of [", nested("[", "]", 100), "nesting deeper than 8 levels"},
      {"100000 levels of [", nested("[", "]", 100000), "nesting deeper than 8 levels", big},
      {"100000 levels of [ unclosed", R"({"seq":1,"a":)" + std::string(100000, '['), "nesting deeper than 8 levels",
       big},
      {"100000 levels of {", nested("{\"a\":", "}", 100000), "nesting deeper than 8 levels", big},
      {"binary garbage: field 0", "\x02\x07\x01\x02\x03"s, "neither JSON nor a protobuf Telemetry"},
      {"binary garbage: wire type 7", "\x0f\xde\xad\xbe\xef"s, "neither JSON nor a protobuf Telemetry"},
      {"binary garbage: endless varint", std::string(12, '\xff'), "neither JSON nor a protobuf Telemetry"},
      {"JSON array root", "[1,2]", "neither JSON nor a protobuf Telemetry"},
      {"empty", "", "empty payload"},
      {"over-size", json_of_size(16 * 1024 + 1), "payload of 16385 bytes exceeds ingest.max_payload (16384)"},
      {"over-size garbage", std::string(20000, '\x01'), "payload of 20000 bytes exceeds ingest.max_payload (16384)"},
      {"NUL inside", "{\"seq\":1,\0\"a\":1}"s, "NUL byte in JSON at byte 9"},
      {"NUL after the object", "{\"seq\":1}\0{\"x\":1}"s, "NUL byte in JSON at byte 9"},
      {"invalid UTF-8 in a key", "{\"seq\":1,\"a\xff\":1}", "Invalid encoding in string."},
      {"invalid UTF-8 in a value", "{\"seq\":1,\"s\":\"\xc3\x28\"}", "Invalid encoding in string."},
      {"overlong UTF-8", "{\"seq\":1,\"s\":\"\xc0\xaf\"}", "Invalid encoding in string."},
      {"duplicate metric", R"({"seq":1,"temp_c":1,"temp_c":2})", "metric \"temp_c\" appears twice"},
      {"empty key", R"({"seq":1,"":1})", "metric with an empty name"},
      {"NUL in a key", R"({"seq":1,"a\u0000b":1})", "key \"a\\u0000b\" contains a NUL character"},
      {"protobuf NaN", telemetry_pb(1, 0, {{"temp_c", std::nan("")}}), "metric \"temp_c\" is not a finite number"},
      {"protobuf infinity", telemetry_pb(1, 0, {{"x", -HUGE_VAL}}), "metric \"x\" is not a finite number"},
      {"protobuf empty name", telemetry_pb(1, 0, {{"", 1}}), "metric with an empty name"},
      {"protobuf duplicate", telemetry_pb(1, 0, {{"a", 1}, {"b", 2}, {"a", 3}}), "metric \"a\" appears twice"},
      {"protobuf invalid UTF-8 name",
       "\x08\x01"s + metrics_field("\x0a\x02"
                                   "a\xff"s),
       "neither JSON nor a protobuf Telemetry"},
  });
}

TEST_GROUP(DecodeEvent) {
  PayloadDecoder decoder;
  xrm::v1::ServiceEvent out;
  std::uint32_t ignored = 99;

  void ok(const std::string& payload) {
    const Status s = decoder.decode_event(payload, out, ignored);
    CHECK_TEXT(s.is_ok(), s.to_string().c_str());
  }
  std::string attr(const char* key) {
    auto it = out.attributes().find(key);
    if (it == out.attributes().end()) return "<absent>";
    return it->second;
  }
};

TEST(DecodeEvent, JsonAllFieldsAndAttributes) {
  ok(R"({"seq":9,"ts":1763900000123,"type":"service_done","code":"E42","technician":"tom","request_id":"R-7",)"
     R"("note":"fixed \"fan\"","score":4.5,"fw":"1.4.2","retries":3,"ratio":0.1,"neg":-12,"flag":true,)"
     R"("off":false,"big":1E21,"n":null,"o":{"x":[1]},"a":[]})");
  UNSIGNED_LONGS_EQUAL(9, out.seq());
  CHECK(out.ts() == 1763900000123ULL);
  STRCMP_EQUAL("service_done", out.type().c_str());
  CHECK(out.has_code());
  STRCMP_EQUAL("E42", out.code().c_str());
  STRCMP_EQUAL("tom", out.technician().c_str());
  STRCMP_EQUAL("R-7", out.request_id().c_str());
  STRCMP_EQUAL("fixed \"fan\"", out.note().c_str());
  CHECK(out.has_score());
  CHECK(same_double(4.5, out.score()));
  LONGS_EQUAL(7, out.attributes_size());
  STRCMP_EQUAL("1.4.2", attr("fw").c_str());
  STRCMP_EQUAL("3", attr("retries").c_str());
  STRCMP_EQUAL("0.1", attr("ratio").c_str());
  STRCMP_EQUAL("-12", attr("neg").c_str());
  STRCMP_EQUAL("true", attr("flag").c_str());
  STRCMP_EQUAL("false", attr("off").c_str());
  STRCMP_EQUAL("1e+21", attr("big").c_str());
  UNSIGNED_LONGS_EQUAL(3, ignored);  // n, o, a
}

TEST(DecodeEvent, JsonMinimalEventHasNoOptionalFields) {
  ok(R"({"seq":1,"type":"fault"})");
  UNSIGNED_LONGS_EQUAL(1, out.seq());
  CHECK(out.ts() == 0);
  STRCMP_EQUAL("fault", out.type().c_str());
  CHECK_FALSE(out.has_code());
  CHECK_FALSE(out.has_score());
  LONGS_EQUAL(0, out.attributes_size());
  UNSIGNED_LONGS_EQUAL(0, ignored);
}

TEST(DecodeEvent, AttributeNumbersInShortestRoundTripForm) {
  ok(R"({"seq":1,"type":"maintenance","a":1.50,"b":1E2,"c":-0,"d":18446744073709551616,)"
     R"("e":0.30000000000000004,"f":-9223372036854775808,"g":18446744073709551615,"h":1e-400,"i":2.5e-7})");
  STRCMP_EQUAL("1.5", attr("a").c_str());
  STRCMP_EQUAL("100", attr("b").c_str());
  STRCMP_EQUAL("0", attr("c").c_str());
  STRCMP_EQUAL("18446744073709551616", attr("d").c_str());  // 2^64: the fixed form is the shorter
  STRCMP_EQUAL("0.30000000000000004", attr("e").c_str());
  STRCMP_EQUAL("-9223372036854775808", attr("f").c_str());
  STRCMP_EQUAL("18446744073709551615", attr("g").c_str());
  STRCMP_EQUAL("0", attr("h").c_str());
  STRCMP_EQUAL("2.5e-07", attr("i").c_str());
}

TEST(DecodeEvent, SatisfactionWithScore) {
  ok(R"({"seq":2,"type":"satisfaction","score":0,"request_id":"R-7"})");
  STRCMP_EQUAL("satisfaction", out.type().c_str());
  CHECK(out.has_score());
  CHECK(same_double(0.0, out.score()));
}

TEST(DecodeEvent, ProtobufEvent) {
  xrm::v1::ServiceEvent e;
  e.set_seq(12);
  e.set_ts(1763900000000ULL);
  e.set_type("satisfaction");
  e.set_score(87.5);
  e.set_request_id("R-9");
  (*e.mutable_attributes())["channel"] = "app";
  ok(e.SerializeAsString());
  UNSIGNED_LONGS_EQUAL(12, out.seq());
  CHECK(out.ts() == 1763900000000ULL);
  STRCMP_EQUAL("satisfaction", out.type().c_str());
  CHECK(same_double(87.5, out.score()));
  STRCMP_EQUAL("R-9", out.request_id().c_str());
  STRCMP_EQUAL("app", attr("channel").c_str());
  CHECK_FALSE(out.has_code());
  UNSIGNED_LONGS_EQUAL(0, ignored);

  ok(e.SerializeAsString() + kUnknownField);
  UNSIGNED_LONGS_EQUAL(12, out.seq());
  UNSIGNED_LONGS_EQUAL(1, ignored);
}

TEST(DecodeEvent, OutputIsClearedOnEveryCall) {
  ok(R"({"seq":1,"type":"fault","code":"E1","x":"y","n":null})");
  UNSIGNED_LONGS_EQUAL(1, ignored);
  ok(R"({"seq":2,"type":"fault_cleared"})");
  CHECK_FALSE(out.has_code());
  LONGS_EQUAL(0, out.attributes_size());
  UNSIGNED_LONGS_EQUAL(0, ignored);
}

TEST_GROUP(DecodeEventRejects){};

TEST(DecodeEventRejects, TableOfBadInputs) {
  xrm::v1::ServiceEvent e;
  e.set_seq(1);
  e.set_type("satisfaction");
  const std::string no_score = e.SerializeAsString();
  e.set_score(std::nan(""));
  const std::string nan_score = e.SerializeAsString();
  e.set_score(5);
  e.set_type("Fault");
  const std::string bad_type = e.SerializeAsString();
  e.set_type("fault");
  e.set_note("a long enough note to cut");
  const std::string good = e.SerializeAsString();
  e.clear_note();
  (*e.mutable_attributes())[""] = "x";
  const std::string empty_attribute = e.SerializeAsString();
  std::string many = R"({"seq":1,"type":"fault")";
  for (int i = 0; i <= 256; ++i) many += ",\"a" + std::to_string(i) + "\":1";
  many += "}";

  check_event_rejects({
      {"satisfaction without score", R"({"seq":1,"type":"satisfaction"})", "satisfaction event without score"},
      {"bad type: upper case", R"({"seq":1,"type":"Fault"})", "type \"Fault\" is not 1 to 64 characters of a-z 0-9 _"},
      {"bad type: dash", R"({"seq":1,"type":"service-done"})", "is not 1 to 64 characters of a-z 0-9 _"},
      {"bad type: empty", R"({"seq":1,"type":""})", "type \"\" is not 1 to 64 characters of a-z 0-9 _"},
      {"bad type: 65 characters", R"({"seq":1,"type":")" + std::string(65, 'a') + "\"}",
       "is not 1 to 64 characters of a-z 0-9 _"},
      {"type as number", R"({"seq":1,"type":3})", "type must be a string of 1 to 64 characters of a-z 0-9 _"},
      {"type missing", R"({"seq":1,"code":"E1"})", "type is missing"},
      {"seq missing", R"({"type":"fault"})", "seq is missing"},
      {"seq as string", R"({"seq":"1","type":"fault"})", "seq must be an integer from 0 to 4294967295"},
      {"ts as string", R"({"seq":1,"ts":"now","type":"fault"})",
       "ts must be an integer from 0 to 18446744073709551615"},
      {"code as number", R"({"seq":1,"type":"fault","code":42})", "code must be a string"},
      {"technician null", R"({"seq":1,"type":"service_start","technician":null})", "technician must be a string"},
      {"request_id as object", R"({"seq":1,"type":"service_request","request_id":{}})", "request_id must be a string"},
      {"note as bool", R"({"seq":1,"type":"fault","note":true})", "note must be a string"},
      {"score as string", R"({"seq":1,"type":"satisfaction","score":"5"})", "score must be a finite number"},
      {"score too big", R"({"seq":1,"type":"satisfaction","score":1.8e308})", "score must be a finite number"},
      {"score NaN literal", R"({"seq":1,"type":"satisfaction","score":NaN})",
       "not valid JSON at byte 39: Invalid value."},
      {"attribute not finite", R"({"seq":1,"type":"fault","x":-2e308})", "attribute \"x\" is not a finite number"},
      {"duplicate attribute", R"({"seq":1,"type":"fault","x":1,"x":"2"})", "key \"x\" appears twice"},
      {"duplicate code", R"({"seq":1,"type":"fault","code":"a","code":"b"})", "key \"code\" appears twice"},
      {"empty key", R"({"seq":1,"type":"fault","":1})", "attribute with an empty name"},
      {"too many attributes", many, "more than 256 attributes"},
      {"truncated JSON", R"({"seq":1,"type":"fau)",
       "not valid JSON at byte 20: Missing a closing quotation mark in string."},
      {"deep nesting", nested("[", "]", 100), "nesting deeper than 8 levels"},
      {"protobuf satisfaction without score", no_score, "satisfaction event without score"},
      {"protobuf NaN score", nan_score, "score must be a finite number"},
      {"protobuf bad type", bad_type, "type \"Fault\" is not 1 to 64 characters of a-z 0-9 _"},
      {"protobuf missing type", "\x08\x01"s, "type is missing"},
      {"protobuf empty attribute name", empty_attribute, "attribute with an empty name"},
      {"truncated protobuf", good.substr(0, good.size() - 4), "neither JSON nor a protobuf ServiceEvent"},
      {"binary garbage", "\x0f\xde\xad\xbe\xef"s, "neither JSON nor a protobuf ServiceEvent"},
      {"empty", "", "empty payload"},
      {"over-size", std::string(16385, ' '), "payload of 16385 bytes exceeds ingest.max_payload (16384)"},
      {"NUL inside", "{\"seq\":1,\"type\":\"fault\",\"x\":\"a\0b\"}"s, "NUL byte in JSON at byte 30"},
      {"invalid UTF-8", "{\"seq\":1,\"type\":\"fault\",\"x\":\"\xed\xa0\x80\"}", "Invalid encoding in string."},
  });
}

// Bad-input matrix (docs/reliability.md): hostile protobuf and JSON beyond the tables above.

TEST(DecodeTelemetryRejects, ProtobufLengthPrefixesBeyondThePayload) {
  const std::string claims_4g = "\x08\x01\x1a\xff\xff\xff\xff\x0f"s + "abc";  // metrics field of 2^32-1 bytes
  const std::string claims_2e63 = "\x08\x01\x1a"s + std::string(9, '\xff') + "\x01" + "abc";  // a 10-byte varint
  const std::string name_claims_100 = "\x08\x01\x1a\x04\x0a\x64"s + "ab";  // a Metric whose name claims 100 bytes
  const std::string unknown_claims_1g = "\x08\x01\x7a\x80\x80\x80\x80\x04"s + "x";  // unknown field 15, 1 GiB
  check_telemetry_rejects({
      {"metrics field claiming 4 GiB", claims_4g, "neither JSON nor a protobuf Telemetry"},
      {"metrics field claiming 2^63 bytes", claims_2e63, "neither JSON nor a protobuf Telemetry"},
      {"metric name claiming 100 bytes", name_claims_100, "neither JSON nor a protobuf Telemetry"},
      {"unknown field claiming 1 GiB", unknown_claims_1g, "neither JSON nor a protobuf Telemetry"},
  });
  check_event_rejects({
      {"note claiming 4 GiB", "\x08\x01\x22\x05" "fault\x42\xff\xff\xff\xff\x0f" "x"s,
       "neither JSON nor a protobuf ServiceEvent"},
      {"attribute entry claiming 1 GiB", "\x08\x01\x22\x05" "fault\x4a\x80\x80\x80\x80\x04"s,
       "neither JSON nor a protobuf ServiceEvent"},
  });
}

TEST(DecodeTelemetry, ProtobufWrongWireTypesAreUnknownFieldsNotReadings) {
  // The metrics field (3) as a varint and as fixed64: not metrics, counted once as ignored.
  ok("\x08\x07\x18\x05"s);
  UNSIGNED_LONGS_EQUAL(7, out.seq);
  UNSIGNED_LONGS_EQUAL(0, out.metrics.size());
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
  ok("\x08\x07\x19"s + std::string(8, '\x01'));
  UNSIGNED_LONGS_EQUAL(0, out.metrics.size());
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
  // A Metric's value (field 2) as a varint: the metric keeps the default 0.
  ok("\x08\x07"s + metrics_field("\x0a\x01t\x10\x05"s));
  UNSIGNED_LONGS_EQUAL(1, out.metrics.size());
  CHECK(same_double(0.0, out.metrics[0].value));
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
}

TEST(DecodeTelemetry, ProtobufRepeatedScalarFieldTheLastOneWins) {
  ok("\x08\x01\x08\x02\x10\x03\x10\x04"s);  // seq 1, seq 2, ts 3, ts 4
  UNSIGNED_LONGS_EQUAL(2, out.seq);
  CHECK(out.ts_ms == 4);
  UNSIGNED_LONGS_EQUAL(0, out.ignored_fields);
}

TEST(DecodeTelemetry, NegativeZeroIsKeptInBothForms) {
  ok(R"({"seq":1,"a":-0,"b":-0.0,"c":0})");
  CHECK(same_double(-0.0, out.metrics[0].value));
  CHECK(same_double(-0.0, out.metrics[1].value));
  CHECK(same_double(0.0, out.metrics[2].value));
  ok(telemetry_pb(1, 0, {{"a", -0.0}}));
  CHECK(same_double(-0.0, out.metrics[0].value));
}

TEST(DecodeTelemetry, LongKeysAndStringsWithinTheLimitAreAccepted) {
  // No limit on a metric name's length other than ingest.max_payload; long strings are skipped.
  const std::string name(8000, 'k');
  const std::string payload = R"({"seq":1,")" + name + R"(":2.5,"s":")" + std::string(8000, 'v') + R"("})";
  CHECK(payload.size() <= DecodeLimits{}.max_payload);
  ok(payload);
  UNSIGNED_LONGS_EQUAL(1, out.metrics.size());
  CHECK(out.metrics[0].name == name);
  CHECK(same_double(2.5, out.metrics[0].value));
  UNSIGNED_LONGS_EQUAL(1, out.ignored_fields);
  // The same name as protobuf.
  ok(telemetry_pb(2, 0, {{name, 1}}));
  CHECK(out.metrics[0].name == name);
}

TEST(DecodeTelemetryRejects, JsonOfTheWrongShape) {
  check_telemetry_rejects({
      {"JSON string root", R"("seq")", "neither JSON nor a protobuf Telemetry"},
      {"JSON number root", "42", "neither JSON nor a protobuf Telemetry"},
      {"JSON null root", "null", "neither JSON nor a protobuf Telemetry"},
      {"whitespace only", " \n\t ", "neither JSON nor a protobuf Telemetry"},
      {"empty object", "{}", "seq is missing"},
      {"two objects", R"({"seq":1}{"seq":2})", "The document root must not be followed by other values."},
      {"seq as array", R"({"seq":[1]})", "seq must be an integer from 0 to 4294967295"},
      {"ts as object", R"({"seq":1,"ts":{"ms":1}})", "ts must be an integer from 0 to 18446744073709551615"},
      {"ts twice", R"({"seq":1,"ts":1,"ts":2})", "key \"ts\" appears twice"},
      {"huge integer seq", R"({"seq":99999999999999999999999})", "seq must be an integer from 0 to 4294967295"},
      {"single quotes", R"({'seq':1})", "not valid JSON at byte 1"},
      {"comment", R"({"seq":1 /* x */})", "not valid JSON"},
  });
}

TEST(DecodeTelemetryRejects, ProtobufNamesWithANulCharacter) {
  check_telemetry_rejects({
      {"NUL in a metric name", telemetry_pb(1, 0, {{"a\0b"s, 1}}), "key \"a\\u0000b\" contains a NUL character"},
  });
  xrm::v1::ServiceEvent e;
  e.set_seq(1);
  e.set_type("fault");
  (*e.mutable_attributes())["x\0y"s] = "1";
  check_event_rejects({
      {"NUL in an attribute key", e.SerializeAsString(), "key \"x\\u0000y\" contains a NUL character"},
  });
}

// Found by tests/fuzz (decode_json, corpus regress_lone_surrogate_key): RapidJSON accepts an
// unpaired low-surrogate escape and writes it as bytes ED B8 80, which is not UTF-8; as a metric
// name or event text it would make the protobuf records carrying it unparseable upstream. A pair
// (a high surrogate followed by a low one) is a character and stays accepted.
TEST(DecodeTelemetryRejects, JsonUnpairedSurrogateEscapes) {
  check_telemetry_rejects({
      {"lone low surrogate in a metric name", R"({"seq":2,"\ud41d\ude00":2})", "unpaired surrogate escape"},
      {"lone low surrogate in an ignored key", R"({"seq":2,"\udc00":"x"})", "unpaired surrogate escape"},
  });
  check_event_rejects({
      {"lone low surrogate in an attribute key", R"({"seq":1,"type":"fault","\udfff":"x"})",
       "unpaired surrogate escape"},
      {"lone low surrogate in a note", R"({"seq":1,"type":"fault","note":"a\udc00"})",
       "value of \"note\" contains an unpaired surrogate escape"},
      {"lone low surrogate in an attribute value", R"({"seq":1,"type":"fault","zone":"\ude00"})",
       "value of \"zone\" contains an unpaired surrogate escape"},
  });
  PayloadDecoder decoder;
  TelemetrySample out;
  const Status s = decoder.decode_telemetry(R"({"seq":2,"\ud83d\ude00":1})", out);
  CHECK_TEXT(s.is_ok(), s.to_string().c_str());
  CHECK_EQUAL(1U, out.metrics.size());
  CHECK(out.metrics[0].name == "\xF0\x9F\x98\x80");
}
