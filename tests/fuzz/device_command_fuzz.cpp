// The device library's command decoder (firmware/src/messages.cpp: decode_command, the reader a
// device runs on every .../cmd/{name} message), checked differentially against the generated
// protobuf-lite parser of xrm.v1.Command: when both accept a payload they must agree on every
// field; whatever decode_command accepts, re-encoded by protobuf, decodes to the same Command.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "quiet_protobuf.hpp"
#include "fuzz_check.hpp"
#include "xrm/device/messages.hpp"
#include "xrm/proto/xrm.pb.h"

namespace {

namespace device = xrm::device;

bool same(const device::Command& a, const xrm::v1::Command& b) {
  return a.request_id == b.request_id() && a.name == b.name() && a.payload == b.payload() &&
         a.issued_at_ms == b.issued_at_ms() && a.expires_at_ms.has_value() == b.has_expires_at_ms() &&
         (!a.expires_at_ms || *a.expires_at_ms == b.expires_at_ms()) && a.device_id == b.device_id() &&
         a.issued_by == b.issued_by() &&
         a.args == std::map<std::string, std::string>(b.args().begin(), b.args().end());
}

bool same(const device::Command& a, const device::Command& b) {
  return a.request_id == b.request_id && a.name == b.name && a.args == b.args && a.payload == b.payload &&
         a.issued_at_ms == b.issued_at_ms && a.expires_at_ms == b.expires_at_ms && a.device_id == b.device_id &&
         a.issued_by == b.issued_by;
}

xrm::v1::Command to_proto(const device::Command& c) {
  xrm::v1::Command p;
  p.set_request_id(c.request_id);
  p.set_name(c.name);
  for (const auto& [k, v] : c.args) (*p.mutable_args())[k] = v;
  p.set_payload(c.payload);
  p.set_issued_at_ms(c.issued_at_ms);
  if (c.expires_at_ms) p.set_expires_at_ms(*c.expires_at_ms);
  p.set_device_id(c.device_id);
  p.set_issued_by(c.issued_by);
  return p;
}

}  // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  device::Command cmd;
  const device::Status st = device::decode_command(payload, cmd);
  XRM_FUZZ_CHECK(st.is_ok() || !st.message().empty(), "a failure without a message");

  xrm::v1::Command pb;
  const bool pb_ok = pb.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
  if (st.is_ok() && pb_ok) XRM_FUZZ_CHECK(same(cmd, pb), "decode_command and protobuf disagree");
  if (!st.is_ok()) return 0;

  // Strings protobuf refuses (invalid UTF-8) cannot be re-encoded through it meaningfully.
  for (const std::string* s : {&cmd.request_id, &cmd.name, &cmd.device_id, &cmd.issued_by}) {
    if (!xrm::fuzz::valid_utf8(*s)) return 0;
  }
  for (const auto& [k, v] : cmd.args) {
    if (!xrm::fuzz::valid_utf8(k) || !xrm::fuzz::valid_utf8(v)) return 0;
  }
  const std::string re = to_proto(cmd).SerializeAsString();
  device::Command back;
  const device::Status bs = device::decode_command(re, back);
  XRM_FUZZ_CHECK(bs.is_ok(), bs.message().c_str());
  XRM_FUZZ_CHECK(same(back, cmd), "re-encoded command decodes differently");
  return 0;
}
