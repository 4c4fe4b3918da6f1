#pragma once
// The outbox: every interaction record the gateway makes is stored here, durably, before anything
// else happens with it, and gets the gateway's next record sequence number (one counter for all
// kinds, never reused, across restarts too). Records wait here until the uplink's RecordDrain
// (uplink/record_drain.hpp) has had them acknowledged upstream and removes them: it reads each
// lane in seq order with peek() and deletes what the broker acknowledged with remove().
// Two lanes: critical records (event, alert, lifecycle, gap) are never dropped and are sent first;
// bulk records (summary, health, scorecard) are meant to live under a disk budget and TTL (not
// enforced yet). Used from the io thread only.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace xrm::outbox {

enum class Lane : int { kCritical = 0, kBulk = 1 };
Lane lane_of(xrm::v1::RecordKind kind);

// The {kind} of the upstream topic xrm/v1/gw/{gateway}/rec/{kind}: "summary", "event", "health",
// "alert", "lifecycle", "gap" or "scorecard". Empty for RECORD_KIND_UNSPECIFIED and for kinds this
// build does not know (such a record has no topic to go to).
std::string_view record_kind_name(xrm::v1::RecordKind kind);

struct Stats {
  std::uint64_t records = 0;          // waiting, both lanes
  std::uint64_t critical = 0;         // of which in the critical lane
  std::uint64_t bytes = 0;            // serialized size of what waits
  std::optional<std::int64_t> oldest_created_ms;
  std::uint64_t last_seq = 0;         // the last sequence number handed out
};

// One stored row, as the drain reads it.
struct StoredRecord {
  std::uint64_t seq = 0;
  xrm::v1::RecordKind kind = xrm::v1::RECORD_KIND_UNSPECIFIED;
  std::string bytes;  // the serialized InteractionRecord
  std::int64_t created_ms = 0;
};

class Outbox {
 public:
  // db, state and clock must outlive the Outbox.
  Outbox(store::Database& db, store::GatewayState& state, std::string gateway_id, const Clock& clock);

  // Stamps the record with the gateway id, the next sequence number and (if unset) its creation
  // time, and stores it. Inside an open transaction (Database::transaction) the record commits or
  // rolls back with the caller's other changes, and so does its sequence number; outside, it is
  // committed (synchronous=FULL: it survives a power loss) before this returns. Returns the seq.
  // Then calls the on_append function, if any.
  Result<std::uint64_t> append(xrm::v1::InteractionRecord& record);

  // The rows of `lane` with seq > after_seq, in seq order: at most max_records of them, and no
  // more than max_bytes of serialized records in all, except that the first row is returned even
  // if it alone is larger (so a big record can never block its lane). Empty when none waits.
  Result<std::vector<StoredRecord>> peek(Lane lane, std::uint64_t after_seq, std::size_t max_records,
                                         std::size_t max_bytes);

  // Deletes these rows in one transaction (committed before this returns); seqs that are not
  // there (deleted before) are fine. Must not be called inside an open transaction.
  Status remove(const std::vector<std::uint64_t>& seqs);

  // `fn` runs after each successful append (replacing any earlier function; empty: none). append
  // may run inside a caller's open transaction, which may still roll back, so `fn` must only
  // schedule work (post to the io_context), never read the outbox or call back into it.
  void on_append(std::function<void()> fn) { on_append_ = std::move(fn); }

  Result<Stats> stats();

  // Records (and their serialized bytes) appended since this Outbox was made, for the condensation
  // ratio. An append inside a transaction that then rolled back still counts.
  std::uint64_t appended_records() const { return appended_records_; }
  std::uint64_t appended_bytes() const { return appended_bytes_; }

 private:
  store::Database& db_;
  store::GatewayState& state_;
  std::string gateway_id_;
  const Clock& clock_;
  std::function<void()> on_append_;
  std::uint64_t appended_records_ = 0;
  std::uint64_t appended_bytes_ = 0;
};

}  // namespace xrm::outbox
