#pragma once
// The inbound journal: how a service event becomes durable before the gateway acknowledges it.
//
// Paho C 1.3 sends the PUBACK of a QoS 1 message right after the message callback returns, and it
// holds its process-wide lock during the callback, so the callback may neither wait for the io
// thread (which may be calling Paho: deadlock) nor be slow. Instead, on Paho's thread, append()
// writes the raw message (topic and payload) to the table inbound_journal over its own database
// connection and commits (synchronous=FULL) before the callback returns. The io thread handles
// the message later and deletes its journal row; for an event, in the same transaction that
// writes the event's record to the outbox. After a crash, replay the rows that are left (pending())
// before connecting: each journaled message is handled exactly once.
//
// Journaled: events (evt) and command results (cmd-res), the messages whose loss would lose an
// interaction. Not journaled: telemetry (at most once by design), birth and state (retained at
// the broker and idempotent; the next change corrects a lost one).
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/store/database.hpp"

namespace xrm::ingest {

struct JournalEntry {
  std::uint64_t id = 0;
  std::string topic;
  std::string payload;
};

class InboundJournal {
 public:
  // Opens a second connection to the gateway database in data_dir (already checked and migrated
  // by the first, so not checked again). clock must outlive the journal and be safe to read from
  // Paho's thread.
  static Result<std::unique_ptr<InboundJournal>> open(const std::string& data_dir, const Clock& clock);

  // True for the topics that are journaled (.../evt and .../cmd-res). Any thread.
  static bool wanted(std::string_view topic);

  // Paho's thread: stores the message and commits. Returns its id; 0 if it could not be stored
  // (the reason is logged; the message is then handled without the guarantee). Serialized by a
  // mutex, so a reconnect that brings a new Paho thread is safe too.
  std::uint64_t append(std::string_view topic, std::string_view payload);

  // io thread, on the gateway's main connection: delete a handled entry (inside the caller's
  // transaction when there is one), and the entries left by a crash, oldest first.
  static Status remove(store::Database& db, std::uint64_t id);
  static Result<std::vector<JournalEntry>> pending(store::Database& db);

 private:
  InboundJournal(std::unique_ptr<store::Database> db, const Clock& clock) : db_(std::move(db)), clock_(clock) {}

  std::mutex mutex_;
  std::unique_ptr<store::Database> db_;
  const Clock& clock_;
};

}  // namespace xrm::ingest
