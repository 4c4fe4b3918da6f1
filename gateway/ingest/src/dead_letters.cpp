#include "xrm/ingest/dead_letters.hpp"

#include <algorithm>

namespace xrm::ingest {

DeadLetters::DeadLetters(store::Database& db, const Clock& clock, std::size_t max_rows)
    : db_(db), clock_(clock), max_rows_(std::max<std::size_t>(1, max_rows)) {}

Status DeadLetters::load() {
  auto stmt = db_.prepare("SELECT count(*), coalesce(max(id), 0) FROM dead_letters;");
  if (!stmt) return stmt.status();
  auto row = stmt->step();
  if (!row) return row.status();
  counts_.stored = static_cast<std::uint64_t>(stmt->column_int(0));
  max_id_ = stmt->column_int(1);
  counts_.deleted = static_cast<std::uint64_t>(max_id_) - counts_.stored;
  return Status::ok();
}

void DeadLetters::add(std::string_view topic, std::string_view reason, std::string_view payload) {
  ++counts_.since_start;
  if (pending_.size() >= kMaxPending) {
    ++counts_.not_stored;
    return;
  }
  DeadLetter d;
  d.at_ms = clock_.unix_ms();
  d.topic = std::string(topic);
  d.reason = std::string(reason);
  d.size = payload.size();
  d.head = std::string(payload.substr(0, kHeadBytes));
  pending_.push_back(std::move(d));
}

Status DeadLetters::flush() {
  if (pending_.empty() && counts_.stored <= max_rows_) return Status::ok();
  std::int64_t max_id = max_id_;
  Status st = db_.transaction([&]() -> Status {
    auto insert = db_.prepare("INSERT INTO dead_letters (at_ms, topic, reason, size, head) VALUES (?, ?, ?, ?, ?);");
    if (!insert) return insert.status();
    for (const auto& d : pending_) {
      insert->reset();
      insert->bind(1, d.at_ms).bind(2, d.topic).bind(3, d.reason).bind(4, static_cast<std::int64_t>(d.size));
      insert->bind_blob(5, d.head);
      if (Status s = insert->run(); !s) return s;
      max_id = static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_.handle()));
    }
    // Ids only grow (the newest row is never deleted), so the oldest are those below the cut.
    auto trim = db_.prepare("DELETE FROM dead_letters WHERE id <= ?;");
    if (!trim) return trim.status();
    trim->bind(1, max_id - static_cast<std::int64_t>(max_rows_));
    return trim->run();
  });
  if (!st) return st;  // the buffer stays for the next attempt
  pending_.clear();
  max_id_ = max_id;
  const auto stored_max = static_cast<std::uint64_t>(max_id_);
  counts_.stored = std::min<std::uint64_t>(stored_max, max_rows_);
  counts_.deleted = stored_max - counts_.stored;
  return Status::ok();
}

Result<std::vector<DeadLetter>> DeadLetters::recent(std::size_t limit) {
  if (Status st = flush(); !st) return st;
  auto stmt = db_.prepare("SELECT id, at_ms, topic, reason, size, head FROM dead_letters ORDER BY id DESC LIMIT ?;");
  if (!stmt) return stmt.status();
  stmt->bind(1, static_cast<std::int64_t>(limit));
  std::vector<DeadLetter> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) break;
    DeadLetter d;
    d.id = stmt->column_int(0);
    d.at_ms = stmt->column_int(1);
    d.topic = stmt->column_text(2);
    d.reason = stmt->column_text(3);
    d.size = static_cast<std::uint64_t>(stmt->column_int(4));
    d.head = stmt->column_blob(5);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace xrm::ingest
