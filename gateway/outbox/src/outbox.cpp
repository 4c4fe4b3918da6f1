#include "xrm/outbox/outbox.hpp"

#include <utility>

namespace xrm::outbox {

Lane lane_of(xrm::v1::RecordKind kind) {
  switch (kind) {
    case xrm::v1::RECORD_KIND_SUMMARY:
    case xrm::v1::RECORD_KIND_HEALTH:
    case xrm::v1::RECORD_KIND_SCORECARD: return Lane::kBulk;
    default: return Lane::kCritical;  // event, alert, lifecycle, gap, and anything newer: keep it
  }
}

std::string_view record_kind_name(xrm::v1::RecordKind kind) {
  switch (kind) {
    case xrm::v1::RECORD_KIND_SUMMARY: return "summary";
    case xrm::v1::RECORD_KIND_EVENT: return "event";
    case xrm::v1::RECORD_KIND_HEALTH: return "health";
    case xrm::v1::RECORD_KIND_ALERT: return "alert";
    case xrm::v1::RECORD_KIND_LIFECYCLE: return "lifecycle";
    case xrm::v1::RECORD_KIND_GAP: return "gap";
    case xrm::v1::RECORD_KIND_SCORECARD: return "scorecard";
    default: return {};
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
  ++appended_records_;
  appended_bytes_ += bytes.size();
  if (on_append_) on_append_();
  return *seq;
}

Result<std::vector<StoredRecord>> Outbox::peek(Lane lane, std::uint64_t after_seq, std::size_t max_records,
                                               std::size_t max_bytes) {
  std::vector<StoredRecord> rows;
  if (max_records == 0) return rows;
  // outbox_by_lane(lane, seq) serves both the filter and the order. The size check uses the bytes
  // column, so a row that does not fit is not read.
  auto stmt = db_.prepare(
      "SELECT seq, kind, created_ms, bytes, record FROM outbox WHERE lane = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3;");
  if (!stmt) return stmt.status();
  stmt->bind(1, static_cast<std::int64_t>(lane))
      .bind(2, static_cast<std::int64_t>(after_seq))
      .bind(3, static_cast<std::int64_t>(max_records));
  std::size_t total = 0;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) break;
    const auto size = static_cast<std::size_t>(stmt->column_int(3));
    if (!rows.empty() && total + size > max_bytes) break;
    total += size;
    StoredRecord r;
    r.seq = static_cast<std::uint64_t>(stmt->column_int(0));
    r.kind = static_cast<xrm::v1::RecordKind>(stmt->column_int(1));
    r.created_ms = stmt->column_int(2);
    r.bytes = stmt->column_blob(4);
    rows.push_back(std::move(r));
  }
  return rows;
}

Status Outbox::remove(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return Status::ok();
  return db_.transaction([&]() -> Status {
    auto stmt = db_.prepare("DELETE FROM outbox WHERE seq = ?1;");
    if (!stmt) return stmt.status();
    for (const std::uint64_t seq : seqs) {
      stmt->bind(1, static_cast<std::int64_t>(seq));
      if (Status st = stmt->run(); !st) return st;
    }
    return Status::ok();
  });
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
