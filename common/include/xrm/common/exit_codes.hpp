#pragma once
// Exit codes of every program (docs/contract.md).

namespace xrm {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace xrm
