// Device payloads as protobuf (PayloadDecoder, gateway/ingest/src/decode.cpp): every input is
// decoded as a Telemetry and as a ServiceEvent, with the invariants of decode_checks.hpp, and
// checked against the generated protobuf-lite parser: what the decoder accepts, protobuf parses to
// the same values, and the decoder's unknown-field flag agrees with a clean re-encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "quiet_protobuf.hpp"
#include "decode_checks.hpp"

namespace {

using namespace xrm::fuzz;

void check_against_protobuf(std::string_view payload) {
  static PayloadDecoder decoder;
  if (looks_like_json(payload)) return;
  TelemetrySample sample;
  if (!decoder.decode_telemetry(payload, sample).is_ok()) return;
  xrm::v1::Telemetry t;
  XRM_FUZZ_CHECK(t.ParseFromArray(payload.data(), static_cast<int>(payload.size())), "protobuf refuses it");
  XRM_FUZZ_CHECK(t.seq() == sample.seq && t.ts() == sample.ts_ms, "seq/ts differ from protobuf's");
  XRM_FUZZ_CHECK(static_cast<std::size_t>(t.metrics_size()) == sample.metrics.size(), "metric count differs");
  for (int i = 0; i < t.metrics_size(); ++i) {
    const auto& m = sample.metrics[static_cast<std::size_t>(i)];
    XRM_FUZZ_CHECK(t.metrics(i).name() == m.name && same_bits(t.metrics(i).value(), m.value), "metric differs");
  }
  // protobuf keeps unknown fields (wrong wire types and groups included) and writes them back, so
  // its re-encoding equals a clean one exactly when the wire had no unknown field.
  xrm::v1::Telemetry clean;
  clean.set_seq(t.seq());
  clean.set_ts(t.ts());
  for (const auto& m : t.metrics()) {
    auto* c = clean.add_metrics();
    c->set_name(m.name());
    c->set_value(m.value());
  }
  if (clean.SerializeAsString() == t.SerializeAsString()) {
    XRM_FUZZ_CHECK(sample.ignored_fields == 0, "unknown fields reported for a payload without any");
  } else {
    XRM_FUZZ_CHECK(sample.ignored_fields == 1, "unknown fields kept by protobuf but not reported");
  }
}

}  // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  check_telemetry(payload);
  check_event(payload);
  check_against_protobuf(payload);
  return 0;
}
