#include "xrm/ingest/inbound_journal.hpp"

#include "xrm/common/log.hpp"

namespace xrm::ingest {

Result<std::unique_ptr<InboundJournal>> InboundJournal::open(const std::string& data_dir, const Clock& clock) {
  // The gateway's main connection has just opened and checked the same file.
  auto db = store::Database::open(data_dir, store::Database::Sync::kFull, store::Database::Verify::kNone);
  if (!db) return db.status();
  return std::unique_ptr<InboundJournal>(new InboundJournal(std::move(*db), clock));
}

bool InboundJournal::wanted(std::string_view topic) {
  auto ends_with = [&](std::string_view suffix) {
    return topic.size() >= suffix.size() && topic.substr(topic.size() - suffix.size()) == suffix;
  };
  return ends_with("/evt") || ends_with("/cmd-res");
}

std::uint64_t InboundJournal::append(std::string_view topic, std::string_view payload) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto stmt = db_->prepare("INSERT INTO inbound_journal (at_ms, topic, payload) VALUES (?, ?, ?);");
  if (!stmt) {
    XRM_ERROR << "inbound journal: " << stmt.status().message();
    return 0;
  }
  stmt->bind(1, clock_.unix_ms()).bind(2, topic).bind_blob(3, payload);
  if (Status st = stmt->run(); !st) {
    XRM_ERROR << "inbound journal: " << topic << " not journaled (handled without the durability guarantee): "
              << st.message();
    return 0;
  }
  return static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

Status InboundJournal::remove(store::Database& db, std::uint64_t id) {
  auto stmt = db.prepare("DELETE FROM inbound_journal WHERE id = ?;");
  if (!stmt) return stmt.status();
  stmt->bind(1, static_cast<std::int64_t>(id));
  return stmt->run();
}

Result<std::vector<JournalEntry>> InboundJournal::pending(store::Database& db) {
  auto stmt = db.prepare("SELECT id, topic, payload FROM inbound_journal ORDER BY id;");
  if (!stmt) return stmt.status();
  std::vector<JournalEntry> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back({static_cast<std::uint64_t>(stmt->column_int(0)), stmt->column_text(1), stmt->column_blob(2)});
  }
  return out;
}

}  // namespace xrm::ingest
