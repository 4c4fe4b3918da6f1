#include "xrm/outbox/outbox.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "xrm/common/units.hpp"

namespace xrm::outbox {
namespace {

// Totals kept in gateway_state, across restarts.
constexpr std::string_view kDroppedRecords = "outbox_dropped_records";
constexpr std::string_view kDroppedBytes = "outbox_dropped_bytes";
constexpr std::string_view kGapRecords = "outbox_gap_records";

// One gap record covers at most this many dropped rows (bounds the memory and the length of one
// transaction); enforce_limits() goes on with another one when more must go.
constexpr std::size_t kMaxDropsPerGap = 20000;

}  // namespace

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
  if (bulk_bytes_ && lane_of(record.kind()) == Lane::kBulk) *bulk_bytes_ += bytes.size();
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
  std::uint64_t bulk = 0;
  Status st = db_.transaction([&]() -> Status {
    bulk = 0;
    auto stmt = db_.prepare("DELETE FROM outbox WHERE seq = ?1 RETURNING lane, bytes;");
    if (!stmt) return stmt.status();
    for (const std::uint64_t seq : seqs) {
      stmt->bind(1, static_cast<std::int64_t>(seq));
      for (;;) {
        auto row = stmt->step();
        if (!row) return row.status();
        if (!*row) break;
        if (stmt->column_int(0) == static_cast<std::int64_t>(Lane::kBulk)) bulk += static_cast<std::uint64_t>(stmt->column_int(1));
      }
      stmt->reset();
    }
    return Status::ok();
  });
  if (st && bulk_bytes_) *bulk_bytes_ -= std::min(*bulk_bytes_, bulk);
  return st;
}

Result<std::uint64_t> Outbox::remove_ranges(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
  std::uint64_t removed = 0;
  std::uint64_t bulk = 0;
  if (ranges.empty()) return removed;
  Status st = db_.transaction([&]() -> Status {
    removed = 0;
    bulk = 0;
    auto stmt = db_.prepare("DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2 RETURNING lane, bytes;");
    if (!stmt) return stmt.status();
    for (const auto& [first, last] : ranges) {
      if (first > last) continue;
      // SQLite integers are signed: clamp, so a range up to UINT64_MAX still means "all above".
      constexpr std::uint64_t kMax = static_cast<std::uint64_t>(INT64_MAX);
      stmt->bind(1, static_cast<std::int64_t>(std::min(first, kMax))).bind(2, static_cast<std::int64_t>(std::min(last, kMax)));
      for (;;) {
        auto row = stmt->step();
        if (!row) return row.status();
        if (!*row) break;
        ++removed;
        if (stmt->column_int(0) == static_cast<std::int64_t>(Lane::kBulk)) bulk += static_cast<std::uint64_t>(stmt->column_int(1));
      }
      stmt->reset();
    }
    return Status::ok();
  });
  if (!st) return st;
  if (bulk_bytes_) *bulk_bytes_ -= std::min(*bulk_bytes_, bulk);
  return removed;
}

Status Outbox::load_bulk_bytes() {
  auto stmt = db_.prepare("SELECT coalesce(sum(bytes), 0) FROM outbox WHERE lane = ?1;");
  if (!stmt) return stmt.status();
  stmt->bind(1, static_cast<std::int64_t>(Lane::kBulk));
  auto row = stmt->step();
  if (!row) return row.status();
  bulk_bytes_ = static_cast<std::uint64_t>(stmt->column_int(0));
  return Status::ok();
}

Result<Dropped> Outbox::enforce_limits(const std::function<bool(std::uint64_t)>& in_flight) {
  Dropped total;
  auto add = [&total](const Dropped& d) {
    total.records += d.records;
    total.bytes += d.bytes;
    total.gaps += d.gaps;
  };
  if (limits_.ttl.count() > 0) {
    // Oldest first: one indexed row tells whether anything is too old.
    auto stmt = db_.prepare("SELECT created_ms FROM outbox WHERE lane = ?1 ORDER BY seq LIMIT 1;");
    if (!stmt) return stmt.status();
    stmt->bind(1, static_cast<std::int64_t>(Lane::kBulk));
    auto row = stmt->step();
    if (!row) return row.status();
    const bool old = *row && stmt->column_int(0) < clock_.unix_ms() - limits_.ttl.count();
    if (old) {
      auto d = drop_bulk(xrm::v1::GAP_REASON_OUTBOX_TTL, in_flight);
      if (!d) return d.status();
      add(*d);
    }
  }
  if (limits_.max_bytes > 0) {
    if (!bulk_bytes_) {
      if (Status st = load_bulk_bytes(); !st) return st;
    }
    if (*bulk_bytes_ > limits_.max_bytes) {
      // The in-memory figure may be high (a rolled-back append): count exactly before dropping.
      if (Status st = load_bulk_bytes(); !st) return st;
      if (*bulk_bytes_ > limits_.max_bytes) {
        auto d = drop_bulk(xrm::v1::GAP_REASON_OUTBOX_BUDGET, in_flight);
        if (!d) return d.status();
        add(*d);
      }
    }
  }
  return total;
}

Result<Dropped> Outbox::drop_bulk(xrm::v1::GapReason reason, const std::function<bool(std::uint64_t)>& in_flight) {
  Dropped total;
  const bool by_age = reason == xrm::v1::GAP_REASON_OUTBOX_TTL;
  for (;;) {
    const std::int64_t now_ms = clock_.unix_ms();
    const std::int64_t cutoff = now_ms - limits_.ttl.count();
    const std::uint64_t excess = !by_age && bulk_bytes_ && *bulk_bytes_ > limits_.max_bytes ? *bulk_bytes_ - limits_.max_bytes : 0;
    if (!by_age && excess == 0) break;
    struct Row {
      std::uint64_t seq;
      std::uint64_t bytes;
    };
    std::vector<Row> rows;
    std::uint64_t freed = 0;
    std::int64_t first_ms = 0, last_ms = 0;
    std::set<int> kinds;
    std::string device;
    bool one_device = true;
    bool more = false;  // stopped at kMaxDropsPerGap with more to go
    {
      auto stmt = db_.prepare("SELECT seq, kind, device, created_ms, bytes FROM outbox WHERE lane = ?1 ORDER BY seq;");
      if (!stmt) return stmt.status();
      stmt->bind(1, static_cast<std::int64_t>(Lane::kBulk));
      for (;;) {
        auto row = stmt->step();
        if (!row) return row.status();
        if (!*row) break;
        const auto seq = static_cast<std::uint64_t>(stmt->column_int(0));
        if (in_flight && in_flight(seq)) continue;
        const std::int64_t created = stmt->column_int(3);
        if (by_age ? created >= cutoff : freed >= excess) break;
        if (rows.size() == kMaxDropsPerGap) {
          more = true;
          break;
        }
        const auto size = static_cast<std::uint64_t>(stmt->column_int(4));
        std::string dev = stmt->column_text(2);
        if (rows.empty()) {
          device = dev;
          first_ms = last_ms = created;
        } else {
          one_device = one_device && dev == device;
          first_ms = std::min(first_ms, created);
          last_ms = std::max(last_ms, created);
        }
        kinds.insert(static_cast<int>(stmt->column_int(1)));
        rows.push_back({seq, size});
        freed += size;
      }
    }
    if (rows.empty()) break;

    xrm::v1::InteractionRecord gap;
    gap.set_kind(xrm::v1::RECORD_KIND_GAP);
    if (one_device) gap.set_device_id(device);
    gap.set_span_start_ms(static_cast<std::uint64_t>(first_ms));
    gap.set_span_end_ms(static_cast<std::uint64_t>(last_ms));
    auto* body = gap.mutable_gap();
    body->set_reason(reason);
    body->set_dropped_records(rows.size());
    body->set_dropped_bytes(freed);
    std::uint64_t lo = rows.front().seq, hi = rows.front().seq;
    for (const Row& r : rows) {
      lo = std::min(lo, r.seq);
      hi = std::max(hi, r.seq);
    }
    body->set_first_dropped_seq(lo);
    body->set_last_dropped_seq(hi);
    std::string kind_list;
    for (int k : kinds) {
      body->add_dropped_kinds(static_cast<xrm::v1::RecordKind>(k));
      if (!kind_list.empty()) kind_list += ", ";
      const std::string_view name = record_kind_name(static_cast<xrm::v1::RecordKind>(k));
      kind_list += name.empty() ? "kind " + std::to_string(k) : std::string(name);
    }
    body->set_detail(
        std::to_string(rows.size()) + " " + kind_list + " record(s), " + format_size(freed) + ", seq " + std::to_string(lo) +
        ".." + std::to_string(hi) + ", dropped unsent: " +
        (by_age ? "older than outbox.ttl " + format_duration(limits_.ttl)
                : "the bulk lane was over outbox.max_bytes " + format_size(limits_.max_bytes)));

    Status st = db_.transaction([&]() -> Status {
      auto del = db_.prepare("DELETE FROM outbox WHERE seq = ?1;");
      if (!del) return del.status();
      for (const Row& r : rows) {
        del->bind(1, static_cast<std::int64_t>(r.seq));
        if (Status s = del->run(); !s) return s;
      }
      if (auto a = state_.add(kDroppedRecords, rows.size()); !a) return a.status();
      if (auto a = state_.add(kDroppedBytes, freed); !a) return a.status();
      if (auto a = state_.add(kGapRecords, 1); !a) return a.status();
      auto seq = append(gap);
      return seq ? Status::ok() : seq.status();
    });
    if (!st) return st;
    if (bulk_bytes_) *bulk_bytes_ -= std::min(*bulk_bytes_, freed);
    total.records += rows.size();
    total.bytes += freed;
    ++total.gaps;
    if (!more) break;
  }
  return total;
}

Status Outbox::dead_letter(std::uint64_t seq, const std::string& reason) {
  return db_.transaction([&]() -> Status {
    auto sel = db_.prepare("SELECT lane, kind, device, created_ms, bytes, record FROM outbox WHERE seq = ?1;");
    if (!sel) return sel.status();
    sel->bind(1, static_cast<std::int64_t>(seq));
    auto row = sel->step();
    if (!row) return row.status();
    if (!*row) return Status::not_found("outbox record seq " + std::to_string(seq) + " is not there");
    const bool bulk = sel->column_int(0) == static_cast<std::int64_t>(Lane::kBulk);
    const auto kind = static_cast<xrm::v1::RecordKind>(sel->column_int(1));
    const std::string device = sel->column_text(2);
    const std::int64_t created = sel->column_int(3);
    const std::int64_t size = sel->column_int(4);
    const std::string record = sel->column_blob(5);
    sel->reset();
    auto ins = db_.prepare(
        "INSERT INTO outbox_dead_letters(seq, kind, device, created_ms, dead_ms, reason, bytes, record) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);");
    if (!ins) return ins.status();
    ins->bind(1, static_cast<std::int64_t>(seq))
        .bind(2, static_cast<std::int64_t>(kind))
        .bind(3, device)
        .bind(4, created)
        .bind(5, clock_.unix_ms())
        .bind(6, reason)
        .bind(7, size)
        .bind_blob(8, record);
    if (Status st = ins->run(); !st) return st;
    auto del = db_.prepare("DELETE FROM outbox WHERE seq = ?1;");
    if (!del) return del.status();
    del->bind(1, static_cast<std::int64_t>(seq));
    if (Status st = del->run(); !st) return st;
    if (bulk && bulk_bytes_) *bulk_bytes_ -= std::min<std::uint64_t>(*bulk_bytes_, static_cast<std::uint64_t>(size));
    if (kind == xrm::v1::RECORD_KIND_GAP) return Status::ok();
    xrm::v1::InteractionRecord gap;
    gap.set_kind(xrm::v1::RECORD_KIND_GAP);
    gap.set_device_id(device);
    gap.set_span_start_ms(static_cast<std::uint64_t>(created));
    gap.set_span_end_ms(static_cast<std::uint64_t>(created));
    auto* body = gap.mutable_gap();
    body->set_reason(xrm::v1::GAP_REASON_UPSTREAM_REFUSED);
    body->set_dropped_records(1);
    body->set_dropped_bytes(static_cast<std::uint64_t>(size));
    body->set_first_dropped_seq(seq);
    body->set_last_dropped_seq(seq);
    body->add_dropped_kinds(kind);
    const std::string_view name = record_kind_name(kind);
    body->set_detail("the " + (name.empty() ? std::string("record") : std::string(name) + " record") + " seq " +
                     std::to_string(seq) + " (" + format_size(static_cast<std::uint64_t>(size)) +
                     ") was refused by the upstream broker (" + reason +
                     ") and set aside in the gateway's upstream dead letters");
    auto appended = append(gap);
    return appended ? Status::ok() : appended.status();
  });
}

Result<std::vector<DeadRecord>> Outbox::dead_letters(std::size_t limit) {
  std::vector<DeadRecord> out;
  auto stmt = db_.prepare(
      "SELECT seq, kind, device, created_ms, dead_ms, reason, bytes FROM outbox_dead_letters ORDER BY seq DESC LIMIT ?1;");
  if (!stmt) return stmt.status();
  stmt->bind(1, static_cast<std::int64_t>(limit));
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) break;
    DeadRecord d;
    d.seq = static_cast<std::uint64_t>(stmt->column_int(0));
    d.kind = static_cast<xrm::v1::RecordKind>(stmt->column_int(1));
    d.device = stmt->column_text(2);
    d.created_ms = stmt->column_int(3);
    d.dead_ms = stmt->column_int(4);
    d.reason = stmt->column_text(5);
    d.bytes = static_cast<std::uint64_t>(stmt->column_int(6));
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::uint64_t> Outbox::requeue_dead_letters() {
  std::uint64_t moved = 0;
  Status st = db_.transaction([&]() -> Status {
    // lane is derived from the kind, as append() does.
    auto ins = db_.prepare(
        "INSERT INTO outbox(seq, lane, kind, device, created_ms, bytes, record) "
        "SELECT seq, CASE WHEN kind IN (?1, ?2, ?3) THEN 1 ELSE 0 END, kind, device, created_ms, bytes, record "
        "FROM outbox_dead_letters;");
    if (!ins) return ins.status();
    ins->bind(1, static_cast<std::int64_t>(xrm::v1::RECORD_KIND_SUMMARY))
        .bind(2, static_cast<std::int64_t>(xrm::v1::RECORD_KIND_HEALTH))
        .bind(3, static_cast<std::int64_t>(xrm::v1::RECORD_KIND_SCORECARD));
    if (Status s = ins->run(); !s) return s;
    auto del = db_.prepare("DELETE FROM outbox_dead_letters RETURNING seq;");
    if (!del) return del.status();
    moved = 0;
    for (;;) {
      auto row = del->step();
      if (!row) return row.status();
      if (!*row) break;
      ++moved;
    }
    return Status::ok();
  });
  if (!st) return st;
  bulk_bytes_.reset();  // recounted at the next enforce_limits()
  if (moved > 0 && on_append_) on_append_();
  return moved;
}

Result<Stats> Outbox::stats() {
  Stats s;
  auto stmt = db_.prepare(
      "SELECT count(*), coalesce(sum(lane = 0), 0), coalesce(sum(bytes), 0), min(created_ms), "
      "coalesce(sum(CASE WHEN lane = 1 THEN bytes END), 0) FROM outbox;");
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
  s.bulk_bytes = static_cast<std::uint64_t>(stmt->column_int(4));
  bulk_bytes_ = s.bulk_bytes;  // exact now
  for (auto [key, out] : {std::pair{kDroppedRecords, &s.dropped_records}, std::pair{kDroppedBytes, &s.dropped_bytes},
                          std::pair{kGapRecords, &s.gap_records}}) {
    auto v = state_.total(key);
    if (!v) return v.status();
    *out = *v;
  }
  auto dead = db_.prepare("SELECT count(*) FROM outbox_dead_letters;");
  if (!dead) return dead.status();
  auto drow = dead->step();
  if (!drow) return drow.status();
  s.dead_letters = static_cast<std::uint64_t>(dead->column_int(0));
  return s;
}

}  // namespace xrm::outbox
