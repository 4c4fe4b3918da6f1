#include "xrm/outbox/outbox.hpp"

namespace xrm::outbox {

Lane lane_of(xrm::v1::RecordKind kind) {
  switch (kind) {
    case xrm::v1::RECORD_KIND_SUMMARY:
    case xrm::v1::RECORD_KIND_HEALTH:
    case xrm::v1::RECORD_KIND_SCORECARD: return Lane::kBulk;
    default: return Lane::kCritical;  // event, alert, lifecycle, gap, and anything newer: keep it
  }
}

Outbox::Outbox(store::Database& db, store::GatewayState& state, std::string gateway_id, const Clock& clock)
    : db_(db), state_(state), gateway_id_(std::move(gateway_id)), clock_(clock) {}

Result<std::uint64_t> Outbox::append(xrm::v1::InteractionRecord& record) {
  auto seq = state_.next_record_seq();
  if (!seq) return seq.status();
  record.set_gateway_id(gateway_id_);
  record.set_seq(*seq);
  if (record.created_at_ms() == 0) record.set_created_at_ms(static_cast<std::uint64_t>(clock_.unix_ms()));
  std::string bytes;
  if (!record.SerializeToString(&bytes)) return Status::internal("cannot serialize record " + std::to_string(*seq));
  auto stmt = db_.prepare(
      "INSERT INTO outbox(seq, lane, kind, device, created_ms, bytes, record) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7);");
  if (!stmt) return stmt.status();
  stmt->bind(1, static_cast<std::int64_t>(*seq))
      .bind(2, static_cast<std::int64_t>(lane_of(record.kind())))
      .bind(3, static_cast<std::int64_t>(record.kind()))
      .bind(4, record.device_id())
      .bind(5, static_cast<std::int64_t>(record.created_at_ms()))
      .bind(6, static_cast<std::int64_t>(bytes.size()))
      .bind_blob(7, bytes);
  if (Status st = stmt->run(); !st) return st;
  return *seq;
}

Result<Stats> Outbox::stats() {
  Stats s;
  auto stmt = db_.prepare(
      "SELECT count(*), coalesce(sum(lane = 0), 0), coalesce(sum(bytes), 0), min(created_ms) FROM outbox;");
  if (!stmt) return stmt.status();
  auto row = stmt->step();
  if (!row) return row.status();
  s.records = static_cast<std::uint64_t>(stmt->column_int(0));
  s.critical = static_cast<std::uint64_t>(stmt->column_int(1));
  s.bytes = static_cast<std::uint64_t>(stmt->column_int(2));
  s.oldest_created_ms = stmt->column_opt(3);
  auto last = state_.last_record_seq();
  if (!last) return last.status();
  s.last_seq = *last;
  return s;
}

}  // namespace xrm::outbox
