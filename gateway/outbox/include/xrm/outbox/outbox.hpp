#pragma once
// The outbox: every interaction record the gateway makes is stored here, durably, before anything
// else happens with it, and gets the gateway's next record sequence number (one counter for all
// kinds, never reused, across restarts too). Records wait here until the uplink's RecordDrain
// (uplink/record_drain.hpp) has had them confirmed upstream and removes them: it reads each lane
// in seq order with peek() and deletes what was confirmed with remove() / remove_ranges().
//
// Two lanes. Critical records (event, alert, lifecycle, gap) are never dropped and are sent first.
// Bulk records (summary, health, scorecard) live under a budget and an age limit (Limits):
// enforce_limits() deletes the oldest bulk records beyond them and writes, in the same
// transaction, one `gap` record (critical) saying exactly how many records and bytes of which
// kinds were dropped, their seq range and time span. So central can always tell a record that was
// dropped from one that is late.
//
// Commit policy (what a crash or power cut can lose): SQLite in WAL mode with synchronous=FULL.
// Every append outside a transaction is committed (fsync'd) before it returns; inside a caller's
// transaction it is durable when that transaction commits. A crash or power cut therefore loses
// no record whose append returned (or whose transaction committed), and no sequence number is
// ever handed out twice. A record deleted after its confirmation may be sent again if the process
// dies between the confirmation and the delete: delivery is at least once, and central
// de-duplicates by (gateway, seq).
//
// A record the upstream broker refuses on its own (dead_letter()) moves to the table
// outbox_dead_letters, with a gap record, and the queue moves on; requeue_dead_letters() puts
// such records back under their old seqs once the cause is fixed. Used from the io thread only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  std::uint64_t bulk_bytes = 0;       // of which in the bulk lane (what max_bytes bounds)
  std::optional<std::int64_t> oldest_created_ms;
  std::uint64_t last_seq = 0;         // the last sequence number handed out
  // Bulk records dropped over the budget or the TTL, and their bytes, over the gateway's life
  // (persisted), and the gap records that reported them.
  std::uint64_t dropped_records = 0;
  std::uint64_t dropped_bytes = 0;
  std::uint64_t gap_records = 0;
  std::uint64_t dead_letters = 0;     // records in outbox_dead_letters now
};

// The bulk lane's limits; 0 means none.
struct Limits {
  std::uint64_t max_bytes = 0;           // sum of the bulk records' serialized sizes
  std::chrono::milliseconds ttl{0};      // age since created_at_ms
};

// What one enforce_limits() call dropped (both reasons together).
struct Dropped {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t gaps = 0;  // gap records written
};

// A record in the upstream dead-letter table.
struct DeadRecord {
  std::uint64_t seq = 0;
  xrm::v1::RecordKind kind = xrm::v1::RECORD_KIND_UNSPECIFIED;
  std::string device;
  std::int64_t created_ms = 0;
  std::int64_t dead_ms = 0;
  std::string reason;
  std::uint64_t bytes = 0;
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
  // Deletes the rows in these inclusive seq ranges (central's Ack) in one transaction; returns
  // how many there were. Ranges with first > last are ignored.
  Result<std::uint64_t> remove_ranges(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);

  void set_limits(Limits limits) { limits_ = limits; }
  const Limits& limits() const { return limits_; }
  // Drops bulk records older than the TTL, then the oldest bulk records while the bulk lane is
  // over max_bytes, skipping records for which `in_flight(seq)` is true (a record on its way is
  // not dropped, so it is never both delivered and reported as dropped). Each reason's drops
  // commit together with the gap record reporting them. Cheap when nothing is over: the bulk
  // lane's size is kept in memory and checked against the database only when it seems over.
  // Must not be called inside an open transaction.
  Result<Dropped> enforce_limits(const std::function<bool(std::uint64_t)>& in_flight = {});

  // Moves the row `seq` to outbox_dead_letters with `reason`, and reports it with a gap record
  // (reason UPSTREAM_REFUSED) in the same transaction, unless the row is itself a gap record (a
  // refused gap must not make another one). not_found if the row is gone.
  Status dead_letter(std::uint64_t seq, const std::string& reason);
  // The newest `limit` dead-lettered records, newest first.
  Result<std::vector<DeadRecord>> dead_letters(std::size_t limit);
  // Moves every dead-lettered record back into the outbox under its old seq (so central, which
  // got a gap for it, now gets the record too); returns how many.
  Result<std::uint64_t> requeue_dead_letters();

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
  Limits limits_;
  // The bulk lane's serialized size as far as this object knows: read once, then kept up to date
  // by append, remove and the drops. An append that rolled back leaves it too high, which costs
  // one exact recount in enforce_limits, never a missed drop.
  std::optional<std::uint64_t> bulk_bytes_;
  Status load_bulk_bytes();
  Result<Dropped> drop_bulk(xrm::v1::GapReason reason, const std::function<bool(std::uint64_t)>& in_flight);
  std::uint64_t appended_records_ = 0;
  std::uint64_t appended_bytes_ = 0;
};

}  // namespace xrm::outbox
