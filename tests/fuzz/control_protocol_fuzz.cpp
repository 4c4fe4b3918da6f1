// The control protocol (gateway/control/include/xrm/control/protocol.hpp): every input is read as
// a request line and as a response line. An accepted request has a non-empty verb and object args,
// and encode_request of it parses back to the same verb and args; a response read back from
// encode_response of what parse_response made of it gives the same outcome (result, or code and
// message); code names map back to their codes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "xrm/control/protocol.hpp"

namespace {

using nlohmann::json;
using xrm::Result;
using xrm::Status;
namespace control = xrm::control;

// nlohmann reads an out-of-range number (1e400) as an infinite double and writes it as null: not
// a round trip, and not the protocol's to fix, so such values are left out of the comparison.
bool all_finite(const json& j) {
  if (j.is_number_float()) return std::isfinite(j.get<double>());
  if (j.is_structured()) {
    for (const auto& v : j) {
      if (!all_finite(v)) return false;
    }
  }
  return true;
}

int depth(const json& j) {
  if (!j.is_structured()) return 0;
  int d = 0;
  for (const auto& v : j) d = std::max(d, depth(v));
  return d + 1;
}

void check_request(std::string_view line) {
  Result<control::Request> r = control::parse_request(line);
  if (!r.is_ok()) {
    XRM_FUZZ_CHECK(r.status().code() == Status::Code::kInvalidArgument, r.status().to_string().c_str());
    return;
  }
  XRM_FUZZ_CHECK(!r->verb.empty(), "empty verb accepted");
  XRM_FUZZ_CHECK(r->args.is_object(), "args not an object");
  // The request object is level 1 and args level 2.
  XRM_FUZZ_CHECK(depth(r->args) + 1 <= control::kMaxDepth, "deeper than kMaxDepth accepted");
  const std::string encoded = control::encode_request(r->verb, r->args);
  XRM_FUZZ_CHECK(!encoded.empty() && encoded.back() == '\n', "encoded request not a line");
  XRM_FUZZ_CHECK(encoded.find('\n') == encoded.size() - 1, "encoded request has a newline inside");
  Result<control::Request> back = control::parse_request(encoded);
  XRM_FUZZ_CHECK(back.is_ok(), back.status().to_string().c_str());
  XRM_FUZZ_CHECK(back->verb == r->verb, "verb changed in the round trip");
  if (all_finite(r->args)) XRM_FUZZ_CHECK(back->args == r->args, "args changed in the round trip");
  // Encoding is a fixed point after one round.
  XRM_FUZZ_CHECK(control::encode_request(back->verb, back->args) == encoded, "encoding not stable");
}

void check_response(std::string_view line) {
  Result<json> r = control::parse_response(line);
  if (!r.is_ok()) {
    XRM_FUZZ_CHECK(r.status().code() != Status::Code::kOk, "error with code ok");
    XRM_FUZZ_CHECK(control::code_from_name(control::code_name(r.status().code())) == r.status().code(),
                   "code name does not map back");
  }
  const std::string encoded = control::encode_response(r);
  XRM_FUZZ_CHECK(!encoded.empty() && encoded.back() == '\n', "encoded response not a line");
  XRM_FUZZ_CHECK(encoded.find('\n') == encoded.size() - 1, "encoded response has a newline inside");
  Result<json> back = control::parse_response(encoded);
  XRM_FUZZ_CHECK(back.is_ok() == r.is_ok(), "ok changed in the round trip");
  if (r.is_ok()) {
    if (all_finite(*r)) XRM_FUZZ_CHECK(*back == *r, "result changed in the round trip");
  } else {
    XRM_FUZZ_CHECK(back.status().code() == r.status().code(), "code changed in the round trip");
    XRM_FUZZ_CHECK(back.status().message() == r.status().message(), "message changed in the round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  check_request(line);
  check_response(line);
  return 0;
}
