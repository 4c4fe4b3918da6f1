// Device payloads as JSON (PayloadDecoder, gateway/ingest/src/decode.cpp): every input is decoded
// as telemetry and as a service event, with the invariants of decode_checks.hpp. Inputs that do
// not start with '{' are turned into JSON (a '{' prepended) so the fuzzer's effort stays on the
// JSON reader; the protobuf path has its own fuzzer.
#include <cstddef>
#include <cstdint>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "quiet_protobuf.hpp"
#include "decode_checks.hpp"


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string payload(reinterpret_cast<const char*>(data), size);
  std::size_t i = 0;
  while (i < payload.size() && (payload[i] == ' ' || payload[i] == '\t' || payload[i] == '\n' || payload[i] == '\r')) ++i;
  if (i == payload.size() || payload[i] != '{') payload.insert(0, 1, '{');
  xrm::fuzz::check_telemetry(payload);
  xrm::fuzz::check_event(payload);
  return 0;
}
