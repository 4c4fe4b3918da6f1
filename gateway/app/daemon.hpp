#pragma once
// xrm-gatewayd's whole life: arguments, configuration, storage, the io_context and its stages,
// signals and systemd notification. main() only calls run().

namespace xrm::app {

// Exit codes of every program (docs/contract.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int run(int argc, char** argv);

}  // namespace xrm::app
