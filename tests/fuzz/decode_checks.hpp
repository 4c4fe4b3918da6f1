#pragma once
// Invariants of PayloadDecoder (gateway/ingest/include/xrm/ingest/decode.hpp), shared by the JSON
// and the protobuf fuzzer: what an accepted payload must look like, that the tight limits never
// accept what the defaults refuse, that decoding is repeatable with a reused decoder, and that an
// accepted message re-encoded (as JSON and as protobuf) decodes to the same values.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/proto/xrm.pb.h"

namespace xrm::fuzz {

using ingest::DecodeLimits;
using ingest::PayloadDecoder;
using ingest::TelemetrySample;

// The decoder's rule for JSON: the first byte other than JSON whitespace is '{'.
inline bool looks_like_json(std::string_view payload) {
  const auto i = payload.find_first_not_of(std::string_view(" \t\r\n"));
  return i != std::string_view::npos && payload[i] == '{';
}

inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct OwnedSample {
  std::uint32_t seq = 0;
  std::uint64_t ts = 0;
  std::vector<std::pair<std::string, double>> metrics;
  std::uint32_t ignored = 0;
};

inline OwnedSample own(const TelemetrySample& s) {
  OwnedSample o{s.seq, s.ts_ms, {}, s.ignored_fields};
  for (const auto& m : s.metrics) o.metrics.emplace_back(std::string(m.name), m.value);
  return o;
}

inline bool same_values(const OwnedSample& a, const OwnedSample& b) {
  if (a.seq != b.seq || a.ts != b.ts || a.metrics.size() != b.metrics.size()) return false;
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    if (a.metrics[i].first != b.metrics[i].first || !same_bits(a.metrics[i].second, b.metrics[i].second)) return false;
  }
  return true;
}

inline std::string json_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

inline std::string telemetry_json(const OwnedSample& s) {
  std::string out = "{\"seq\":" + std::to_string(s.seq) + ",\"ts\":" + std::to_string(s.ts);
  for (const auto& [name, value] : s.metrics) out += "," + xrm::fuzz::quoted(name) + ":" + json_number(value);
  return out + "}";
}

inline std::string telemetry_proto(const OwnedSample& s) {
  v1::Telemetry t;
  t.set_seq(s.seq);
  t.set_ts(s.ts);
  for (const auto& [name, value] : s.metrics) {
    auto* m = t.add_metrics();
    m->set_name(name);
    m->set_value(value);
  }
  return t.SerializeAsString();
}

// Limits large enough for any re-encoding of an accepted payload.
inline DecodeLimits roomy() {
  DecodeLimits l;
  l.max_payload = std::size_t{1} << 22;
  l.max_depth = 8;
  l.max_metrics = 1 << 16;
  return l;
}

inline void check_telemetry(std::string_view payload) {
  static PayloadDecoder decoder;  // defaults, reused across inputs like the io thread's
  static PayloadDecoder tight(DecodeLimits{256, 3, 4});
  static PayloadDecoder big(roomy());
  const DecodeLimits& limits = decoder.limits();

  TelemetrySample sample;
  const Status st = decoder.decode_telemetry(payload, sample);
  XRM_FUZZ_CHECK(st.is_ok() || st.code() == Status::Code::kInvalidArgument, st.to_string().c_str());
  XRM_FUZZ_CHECK(st.is_ok() || !st.message().empty(), "a rejection without a reason");
  XRM_FUZZ_CHECK(st.message().find('\n') == std::string::npos, "a reason is one line");

  TelemetrySample tight_sample;
  const Status tight_st = tight.decode_telemetry(payload, tight_sample);
  XRM_FUZZ_CHECK(!tight_st.is_ok() || st.is_ok(), "tight limits accept what the defaults refuse");
  if (!st.is_ok()) return;

  XRM_FUZZ_CHECK(payload.size() <= limits.max_payload && !payload.empty(), "size limit");
  XRM_FUZZ_CHECK(sample.metrics.size() <= limits.max_metrics, "metric limit");
  std::set<std::string_view> names;
  for (const auto& m : sample.metrics) {
    XRM_FUZZ_CHECK(!m.name.empty(), "empty metric name");
    XRM_FUZZ_CHECK(m.name.find('\0') == std::string_view::npos, "NUL in a metric name");
    XRM_FUZZ_CHECK(valid_utf8(m.name), "metric name is not UTF-8");
    XRM_FUZZ_CHECK(std::isfinite(m.value), "metric value not finite");
    XRM_FUZZ_CHECK(names.insert(m.name).second, "metric name twice");
  }
  const OwnedSample first = own(sample);
  if (tight_st.is_ok()) XRM_FUZZ_CHECK(same_values(own(tight_sample), first), "tight and default disagree");

  // The same decoder again: the reused buffers must not change the outcome.
  TelemetrySample again;
  XRM_FUZZ_CHECK(decoder.decode_telemetry(payload, again).is_ok(), "second decode refused");
  XRM_FUZZ_CHECK(same_values(own(again), first) && again.ignored_fields == first.ignored, "second decode differs");

  // Round trips: the values as JSON and as protobuf decode to exactly the same sample.
  for (const std::string& re : {telemetry_json(first), telemetry_proto(first)}) {
    // seq 0 and ts 0 without metrics encode to no bytes in protobuf, and an empty payload is
    // refused by contract (docs/contract.md), so that one re-encoding is not a message.
    if (re.empty()) continue;
    TelemetrySample back;
    const Status bs = big.decode_telemetry(re, back);
    XRM_FUZZ_CHECK(bs.is_ok(), (bs.to_string() + " for " + re.substr(0, 200)).c_str());
    XRM_FUZZ_CHECK(back.ignored_fields == 0, "re-encoding has ignored fields");
    XRM_FUZZ_CHECK(same_values(own(back), first), ("round trip differs: " + re.substr(0, 200)).c_str());
  }
}

using Attributes = std::map<std::string, std::string>;

inline bool same_event(const v1::ServiceEvent& a, const v1::ServiceEvent& b) {
  return a.seq() == b.seq() && a.ts() == b.ts() && a.type() == b.type() && a.code() == b.code() &&
         a.has_score() == b.has_score() && (!a.has_score() || same_bits(a.score(), b.score())) &&
         a.technician() == b.technician() && a.request_id() == b.request_id() && a.note() == b.note() &&
         Attributes(a.attributes().begin(), a.attributes().end()) ==
             Attributes(b.attributes().begin(), b.attributes().end());
}

inline bool valid_type(const std::string& t) {
  if (t.empty() || t.size() > 64) return false;
  for (char c : t) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

inline void check_event(std::string_view payload) {
  static PayloadDecoder decoder;
  static PayloadDecoder tight(DecodeLimits{256, 3, 4});
  static PayloadDecoder big(roomy());

  v1::ServiceEvent event;
  std::uint32_t ignored = 0;
  const Status st = decoder.decode_event(payload, event, ignored);
  XRM_FUZZ_CHECK(st.is_ok() || st.code() == Status::Code::kInvalidArgument, st.to_string().c_str());
  XRM_FUZZ_CHECK(st.message().find('\n') == std::string::npos, "a reason is one line");
  v1::ServiceEvent tight_event;
  std::uint32_t tight_ignored = 0;
  const Status tight_st = tight.decode_event(payload, tight_event, tight_ignored);
  XRM_FUZZ_CHECK(!tight_st.is_ok() || st.is_ok(), "tight limits accept what the defaults refuse");
  if (!st.is_ok()) return;
  if (tight_st.is_ok()) XRM_FUZZ_CHECK(same_event(tight_event, event), "tight and default disagree");

  XRM_FUZZ_CHECK(valid_type(event.type()), event.type().c_str());
  XRM_FUZZ_CHECK(!event.has_score() || std::isfinite(event.score()), "score not finite");
  XRM_FUZZ_CHECK(event.type() != "satisfaction" || event.has_score(), "satisfaction without a score");
  XRM_FUZZ_CHECK(static_cast<std::size_t>(event.attributes_size()) <= decoder.limits().max_metrics, "attributes");
  for (const auto& [key, value] : event.attributes()) {
    XRM_FUZZ_CHECK(!key.empty() && key.find('\0') == std::string::npos, "attribute key");
    XRM_FUZZ_CHECK(valid_utf8(key) && valid_utf8(value), "attribute not UTF-8");
  }
  for (const std::string* s : {&event.code(), &event.technician(), &event.request_id(), &event.note()}) {
    XRM_FUZZ_CHECK(valid_utf8(*s), "event string not UTF-8");
  }

  v1::ServiceEvent again;
  std::uint32_t again_ignored = 0;
  XRM_FUZZ_CHECK(decoder.decode_event(payload, again, again_ignored).is_ok(), "second decode refused");
  XRM_FUZZ_CHECK(same_event(again, event) && again_ignored == ignored, "second decode differs");

  // Round trip through protobuf (what the gateway stores and forwards). A protobuf payload's
  // unknown fields are kept by the lite runtime and written back (except those inside map
  // entries, which it drops), so they may count again.
  const std::string re = event.SerializeAsString();
  const std::uint32_t most_ignored = looks_like_json(payload) ? 0 : ignored;
  if (!re.empty()) {  // an event always has a type, so never empty; kept for clarity
    v1::ServiceEvent back;
    std::uint32_t back_ignored = 0;
    const Status bs = big.decode_event(re, back, back_ignored);
    XRM_FUZZ_CHECK(bs.is_ok(), bs.to_string().c_str());
    XRM_FUZZ_CHECK(back_ignored <= most_ignored && same_event(back, event), "protobuf round trip differs");
  }
}

}  // namespace xrm::fuzz
