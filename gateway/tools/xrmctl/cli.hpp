#pragma once
// xrmctl's whole life apart from the socket: arguments, local checks, one request, the output
// and the exit code. main() supplies the transport (xrm::control::Client); tests supply a fake.
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "xrm/common/clock.hpp"
#include "xrm/common/exit_codes.hpp"
#include "xrm/common/status.hpp"

namespace xrm::xrmctl {

inline constexpr const char* kDefaultSocket = "/run/xrm-gateway/control.sock";

// One call to the daemon, as the command line asked for it.
struct Request {
  std::string socket;  // --socket, else $XRMCTL_SOCKET, else kDefaultSocket
  std::string verb;    // provision, devices, show, link, retire, status, dead-letters
  nlohmann::json args;
  std::chrono::milliseconds timeout{};
};

// Delivers a request and returns the daemon's result, or the Status explaining why there is none
// (its code as the daemon named it, or unavailable when the daemon cannot be reached).
using Transport = std::function<Result<nlohmann::json>(const Request&)>;

// The exit code for a failed request: 2 when the request itself was refused (invalid_argument,
// not_found, already_exists: fixing the command line helps), 1 for everything else; 0 for ok.
int exit_code(Status::Code code);

// Parses argv, refuses bad ids, durations and limits before connecting, sends at most one request,
// prints the result (human text, or JSON with --json) on out and any error as one line on err.
// Returns the exit code. now comes from clock (relative ages).
int run(int argc, const char* const* argv, const Transport& send, const Clock& clock, std::ostream& out,
        std::ostream& err);

}  // namespace xrm::xrmctl
