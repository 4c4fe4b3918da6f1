#pragma once
// Decoders for the device payloads of the local broker (docs/contract.md, "Local broker"):
// telemetry on xrm/v1/dev/{device}/tele and service events on xrm/v1/dev/{device}/evt, each either
// a JSON object or the protobuf message of common/proto/xrm.proto. This is the hot path of the
// gateway: one PayloadDecoder per io thread keeps its buffers between calls, so decoding valid
// telemetry allocates nothing once the buffers have grown to the traffic's size.
//
// Every rejection is a Status invalid_argument whose message is the dead-letter reason: one short
// line naming the field and what is wrong. Nothing here throws.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "xrm/common/status.hpp"
#include "xrm/proto/xrm.pb.h"

namespace xrm::ingest {

// Bounds on what a device may send; config reload swaps them with PayloadDecoder::set_limits.
struct DecodeLimits {
  // Largest payload accepted, in bytes (config key ingest.max_payload). Checked before anything
  // is parsed; a payload of exactly this size is accepted.
  std::size_t max_payload = std::size_t{16} * 1024;
  // Nesting levels allowed in a JSON payload, the root object being level 1: with 8,
  // {"a":[[[[[[[1]]]]]]]} (7 arrays) passes and one more level fails. Skipped values count too.
  int max_depth = 8;
  // Most metrics in one telemetry message, and most attributes in one service event.
  std::size_t max_metrics = 256;
};

// One reading. `name` points into the PayloadDecoder that produced it (see TelemetrySample).
struct MetricValue {
  std::string_view name;
  double value = 0;
};

// A decoded telemetry message (JSON or protobuf Telemetry).
struct TelemetrySample {
  std::uint32_t seq = 0;
  // Device time in ms since the Unix epoch; 0 when the device sent none (or sent 0).
  std::uint64_t ts_ms = 0;
  // The readings in payload order, names unique. The names point into the decoder's buffers and
  // are valid until its next decode call. Reuse one TelemetrySample across calls so the vector's
  // capacity is kept.
  std::vector<MetricValue> metrics;
  // JSON: keys that carried no metric (string, null, object or array values). Protobuf: 1 if the
  // payload has fields this schema does not define (in the Telemetry or any Metric), else 0.
  std::uint32_t ignored_fields = 0;
  // The payload's size in bytes (set by DeviceTraffic before it hands the sample on).
  std::size_t bytes = 0;
};

// Decodes device payloads. A payload whose first byte other than JSON whitespace (space, tab, CR,
// LF) is '{' is JSON; anything else is protobuf. The schema guarantees no protobuf payload starts
// with '{'; a Telemetry or ServiceEvent can start with one of those whitespace bytes only if its
// first field is one the schema does not define (field 1 with a wrong wire type, or field 4 as a
// varint), which no conforming sender writes.
//
// JSON is parsed with RapidJSON's SAX reader in place (in a copy of the payload held here),
// iteratively (no recursion however deep the input), with UTF-8 validation. Numbers are converted
// with std::from_chars, so they are correctly rounded: RapidJSON 1.1's own full-precision
// conversion crashes on some inputs, and its default conversion can be off by a few units in the
// last place for 17-digit numbers.
//
// Not thread-safe: one decoder per io thread, used on that thread only.
class PayloadDecoder {
 public:
  explicit PayloadDecoder(DecodeLimits limits = {});
  ~PayloadDecoder();
  PayloadDecoder(const PayloadDecoder&) = delete;
  PayloadDecoder& operator=(const PayloadDecoder&) = delete;
  // A moved-from decoder may only be destroyed or assigned to.
  PayloadDecoder(PayloadDecoder&&) noexcept;
  PayloadDecoder& operator=(PayloadDecoder&&) noexcept;

  // Takes effect from the next decode call (config reload). Grows the reusable buffers at once so
  // the next messages do not allocate.
  void set_limits(DecodeLimits limits);
  [[nodiscard]] const DecodeLimits& limits() const;

  // Telemetry: JSON {"seq":N,"ts":MS,"<metric>":<number>,...} or protobuf Telemetry.
  // - "seq" is required, an integer from 0 to 4294967295; "ts" is optional, an integer from 0 to
  //   2^64-1. Both must be written as integers: no fraction, no exponent, no sign, not strings.
  // - Every other key is a metric: numbers become doubles and must be finite (NaN and Infinity
  //   literals are not JSON; 1e400 is refused as too big, 1.8e308 as not finite); true and false
  //   become 1 and 0. String, null, object and array values are skipped and counted in
  //   ignored_fields. An empty key, a key with a NUL character, a name used twice (metric, seq or
  //   ts) or more than max_metrics metrics fail.
  // - Protobuf: the same rules for metric names and values; seq is a uint32 by the schema.
  // On success fills `out` completely (clearing what it held); on failure `out` is unspecified.
  // io thread only.
  Status decode_telemetry(std::string_view payload, TelemetrySample& out);

  // Service event: JSON {"seq":N,"ts":MS,"type":T,...} or protobuf ServiceEvent, mapped by field
  // name as xrm.proto describes. seq and ts as for telemetry; "type" is required, 1 to 64
  // characters of a-z 0-9 _; "code", "technician", "request_id" and "note" must be strings;
  // "score" a finite number, required for type "satisfaction". Any other key goes to attributes
  // with its value as text: strings as they are, integers in decimal, other numbers in their
  // shortest round-trip form, true/false as "true"/"false"; null, object and array values are
  // skipped and counted in `ignored_fields`. A key used twice, an empty key, a key with a NUL
  // character or more than max_metrics attributes fail. Protobuf events get the same checks of
  // type, score and attribute keys; a message with unknown fields counts once in ignored_fields.
  // On success `out` holds exactly the event (cleared first); on failure it is unspecified.
  // io thread only.
  Status decode_event(std::string_view payload, xrm::v1::ServiceEvent& out, std::uint32_t& ignored_fields);

 private:
  struct Impl;  // keeps RapidJSON out of this header
  std::unique_ptr<Impl> impl_;
};

}  // namespace xrm::ingest
