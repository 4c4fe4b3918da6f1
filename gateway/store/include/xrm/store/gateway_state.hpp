#pragma once
// Counters that must only grow for the lifetime of a gateway, across restarts and crashes: the
// connection epoch published in GatewayStatus and the sequence number of interaction records.
// Outside a transaction each value is committed before it is returned; inside one (the outbox
// assigns a record's seq in the transaction that stores the record) it commits or rolls back with
// it, so a value handed out to the outside world is never handed out again.
#include <cstdint>
#include <string_view>

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
  // The next record sequence number (1 on a fresh database).
  Result<std::uint64_t> next_record_seq();
  // The last record sequence number handed out (0 if none).
  Result<std::uint64_t> last_record_seq();

  // A named total that only grows (e.g. "outbox_dropped_records"): adds n and returns the new
  // value; inside a transaction it commits or rolls back with it. total() reads it (0 if never
  // added to).
  Result<std::uint64_t> add(std::string_view key, std::uint64_t n);
  Result<std::uint64_t> total(std::string_view key) { return read(key); }

 private:
  Result<std::uint64_t> bump(std::string_view key);
  Result<std::uint64_t> read(std::string_view key);

  Database& db_;
};

}  // namespace xrm::store
