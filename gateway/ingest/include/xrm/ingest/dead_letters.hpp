#pragma once
// The dead-letter table: device messages the gateway could not use (malformed, over-size, wrong
// types), kept for the technician to look at (xrmctl dead-letters) with their topic, the reason,
// their size, their first bytes and when they came. Bounded: beyond `max_rows` the oldest rows are
// deleted (and counted). A flood of garbage never stalls the pipeline: add() only buffers (at most
// kMaxPending; beyond that messages are counted but not stored) and flush() writes the buffer in one
// transaction. Used from the io thread only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/store/database.hpp"

namespace xrm::ingest {

struct DeadLetter {
  std::int64_t id = 0;       // grows; the row's place in the table's history
  std::int64_t at_ms = 0;    // when it arrived, ms since the Unix epoch
  std::string topic;
  std::string reason;
  std::uint64_t size = 0;    // payload size in bytes
  std::string head;          // the first kHeadBytes bytes of the payload, as received
};

struct DeadLetterCounts {
  std::uint64_t since_start = 0;   // dead letters seen since the daemon started
  std::uint64_t stored = 0;        // rows in the table now
  std::uint64_t deleted = 0;       // rows deleted as the oldest, ever
  std::uint64_t not_stored = 0;    // since start: seen while the write buffer was full
};

class DeadLetters {
 public:
  static constexpr std::size_t kHeadBytes = 64;
  static constexpr std::size_t kMaxPending = 256;

  // db and clock must outlive this. max_rows >= 1.
  DeadLetters(store::Database& db, const Clock& clock, std::size_t max_rows);

  // Reads the table's counts. Call once before anything else.
  Status load();
  void set_max_rows(std::size_t max_rows) { max_rows_ = max_rows < 1 ? 1 : max_rows; }

  // Buffers one dead letter (copies what it keeps).
  void add(std::string_view topic, std::string_view reason, std::string_view payload);
  bool pending() const { return !pending_.empty(); }
  // Writes the buffered dead letters and trims the table to max_rows, in one transaction.
  Status flush();

  const DeadLetterCounts& counts() const { return counts_; }
  // The newest `limit` rows, newest first (flushes first).
  Result<std::vector<DeadLetter>> recent(std::size_t limit);

 private:
  store::Database& db_;
  const Clock& clock_;
  std::size_t max_rows_;
  std::vector<DeadLetter> pending_;
  DeadLetterCounts counts_;
  std::int64_t max_id_ = 0;
};

}  // namespace xrm::ingest
