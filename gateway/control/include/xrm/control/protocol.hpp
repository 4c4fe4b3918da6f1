#pragma once
// The control protocol, without any I/O: one request or response per line of JSON, shared by the
// server, the client and the fuzz tests. docs/contract.md is the reference for operators.
//   request:  {"verb":"devices","args":{...}}\n          ("args" optional, an object)
//   response: {"ok":true,"result":<any>}\n  or  {"ok":false,"error":{"code":"not_found","message":"..."}}\n
// Error codes map 1:1 to Status::Code. Pure functions; safe on any thread.
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "xrm/common/status.hpp"

namespace xrm::control {

// Requests nested deeper than this (the request object itself is level 1) are refused before
// parsing, so no hostile request reaches recursive JSON code with a deep tree.
inline constexpr int kMaxDepth = 32;

// Who sent a request, from SO_PEERCRED when the connection was accepted.
struct Peer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  // Set for requests that did not come through the socket (commands from central: "central:ops");
  // actor() then returns it as is. Empty for socket peers.
  std::string actor_override;
  // actor_override when set; else "xrmctl:uid=1000(alice)", or "xrmctl:uid=1000" when getpwuid_r
  // knows no name; for audit trails. Resolves the name on each call (may consult NSS).
  std::string actor() const;
};

struct Request {
  std::string verb;     // never empty
  nlohmann::json args;  // always an object ({} when the request had none)
  Peer peer;            // zero in requests straight from parse_request
};

// "invalid_argument", "not_found", ... ("ok" for kOk).
std::string_view code_name(Status::Code code);
// The inverse for the eight error codes; any other name (including "ok") -> kInternal, so a
// response from a newer server still reads as an error.
Status::Code code_from_name(std::string_view name);

// One request line (the trailing '\n' optional). Malformed JSON, a non-object, a missing or empty
// "verb", "args" that is not an object, or nesting deeper than kMaxDepth -> invalid_argument naming
// what is wrong.
Result<Request> parse_request(std::string_view line);
// The request line for verb and args, '\n' included.
std::string encode_request(std::string_view verb, const nlohmann::json& args);

// The response line for an outcome, '\n' included. Invalid UTF-8 in strings is replaced (U+FFFD)
// rather than thrown about.
std::string encode_response(const Result<nlohmann::json>& outcome);
// A response line back to the outcome: the result, or a Status with the mapped code and the
// server's message. A line that is not a response -> internal.
Result<nlohmann::json> parse_response(std::string_view line);

}  // namespace xrm::control
