#include "xrm/store/gateway_state.hpp"

namespace xrm::store {

Result<std::uint64_t> GatewayState::bump_epoch() {
  auto stmt = db_.prepare(
      "INSERT INTO gateway_state(key, value) VALUES('epoch', 1) "
      "ON CONFLICT(key) DO UPDATE SET value = value + 1 RETURNING value;");
  if (!stmt) return stmt.status();
  auto row = stmt->step();
  if (!row) return row.status();
  if (!*row) return Status::internal("epoch update returned no row");
  const auto value = static_cast<std::uint64_t>(stmt->column_int(0));
  // Drain the statement so the implicit transaction commits before the value is used.
  auto done = stmt->step();
  if (!done) return done.status();
  return value;
}

Result<std::uint64_t> GatewayState::epoch() {
  auto stmt = db_.prepare("SELECT value FROM gateway_state WHERE key = 'epoch';");
  if (!stmt) return stmt.status();
  auto row = stmt->step();
  if (!row) return row.status();
  return *row ? static_cast<std::uint64_t>(stmt->column_int(0)) : std::uint64_t{0};
}

}  // namespace xrm::store
