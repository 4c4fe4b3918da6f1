#pragma once
// Runs the real xrmctl against a gateway's control socket, as a technician would.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xrm::testing {

struct CtlResult {
  int exit_code = -1;   // -1: it did not finish in time (then it was killed)
  std::string out;      // stdout
  std::string err;      // stderr
  // stdout parsed as JSON (for --json runs); a discarded value if it is not JSON.
  nlohmann::json json() const { return nlohmann::json::parse(out, nullptr, false); }
  // "exit N, stdout: ..., stderr: ..." for failure messages.
  std::string describe() const;
};

// xrmctl --socket SOCKET ARGS...; environment XRMCTL_SOCKET removed. Bounded by timeout.
CtlResult run_xrmctl(const std::string& xrmctl_path, const std::string& socket, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace xrm::testing
