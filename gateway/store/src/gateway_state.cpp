#include "xrm/store/gateway_state.hpp"

namespace xrm::store {

Result<std::uint64_t> GatewayState::bump(std::string_view key) { return add(key, 1); }

Result<std::uint64_t> GatewayState::add(std::string_view key, std::uint64_t n) {
  auto stmt = db_.prepare(
      "INSERT INTO gateway_state(key, value) VALUES(?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = value + ?2 RETURNING value;");
  if (!stmt) return stmt.status();
  stmt->bind(1, key).bind(2, static_cast<std::int64_t>(n));
  auto row = stmt->step();
  if (!row) return row.status();
  if (!*row) return Status::internal(std::string(key) + " update returned no row");
  const auto value = static_cast<std::uint64_t>(stmt->column_int(0));
  // Drain the statement so an implicit transaction commits before the value is used.
  auto done = stmt->step();
  if (!done) return done.status();
  return value;
}

Result<std::uint64_t> GatewayState::read(std::string_view key) {
  auto stmt = db_.prepare("SELECT value FROM gateway_state WHERE key = ?1;");
  if (!stmt) return stmt.status();
  stmt->bind(1, key);
  auto row = stmt->step();
  if (!row) return row.status();
  return *row ? static_cast<std::uint64_t>(stmt->column_int(0)) : std::uint64_t{0};
}

Result<std::uint64_t> GatewayState::bump_epoch() { return bump("epoch"); }
Result<std::uint64_t> GatewayState::epoch() { return read("epoch"); }
Result<std::uint64_t> GatewayState::next_record_seq() { return bump("record_seq"); }
Result<std::uint64_t> GatewayState::last_record_seq() { return read("record_seq"); }

}  // namespace xrm::store
