#pragma once
// The outbox: every interaction record the gateway makes is stored here, durably, before anything
// else happens with it, and gets the gateway's next record sequence number (one counter for all
// kinds, never reused, across restarts too). Records wait here until the uplink has delivered them.
// Two lanes: critical records (event, alert, lifecycle, gap) are never dropped; bulk records
// (summary, health, scorecard) live under a disk budget. Used from the io thread only.
#include <cstdint>
#include <optional>
#include <string>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace xrm::outbox {

enum class Lane : int { kCritical = 0, kBulk = 1 };
Lane lane_of(xrm::v1::RecordKind kind);

struct Stats {
  std::uint64_t records = 0;          // waiting, both lanes
  std::uint64_t critical = 0;         // of which in the critical lane
  std::uint64_t bytes = 0;            // serialized size of what waits
  std::optional<std::int64_t> oldest_created_ms;
  std::uint64_t last_seq = 0;         // the last sequence number handed out
};

class Outbox {
 public:
  // db, state and clock must outlive the Outbox.
  Outbox(store::Database& db, store::GatewayState& state, std::string gateway_id, const Clock& clock);

  // Stamps the record with the gateway id, the next sequence number and (if unset) its creation
  // time, and stores it. Inside an open transaction (Database::transaction) the record commits or
  // rolls back with the caller's other changes, and so does its sequence number; outside, it is
  // committed (synchronous=FULL: it survives a power loss) before this returns. Returns the seq.
  Result<std::uint64_t> append(xrm::v1::InteractionRecord& record);

  Result<Stats> stats();

 private:
  store::Database& db_;
  store::GatewayState& state_;
  std::string gateway_id_;
  const Clock& clock_;
};

}  // namespace xrm::outbox
