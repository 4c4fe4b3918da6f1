#pragma once
// Counters that must only grow for the lifetime of a gateway, across restarts and crashes:
// the connection epoch published in GatewayStatus. Each value is committed before it is returned,
// so a value handed out is never handed out again.
#include <cstdint>

#include "xrm/common/status.hpp"
#include "xrm/store/database.hpp"

namespace xrm::store {

class GatewayState {
 public:
  // db must outlive this object.
  explicit GatewayState(Database& db) : db_(db) {}

  // Increments the epoch durably and returns the new value (1 on a fresh database).
  Result<std::uint64_t> bump_epoch();
  // The last epoch handed out (0 if none).
  Result<std::uint64_t> epoch();

 private:
  Database& db_;
};

}  // namespace xrm::store
