#pragma once
// Moves records from the outbox to the central broker: while the upstream connection is up it
// reads the critical lane, then the bulk lane, each in seq order, packs consecutive records of one
// kind into an xrm.v1.RecordBatch and publishes it at QoS 1 (not retained) on
// xrm/v1/gw/{gateway}/rec/{kind}. A record leaves the outbox only when the broker has acknowledged
// its batch (confirm mode "broker"); whatever was not acknowledged when the connection went, or
// was refused, is sent again: at least once, de-duplicated by central on (gateway, seq).
//
// At most kMaxInFlight batches wait for their PUBACK. A cursor per lane (the highest seq handed to
// the link) keeps a record from being read twice while its batch is in flight; the cursors go back
// to 0 when the connection goes or a publish fails, so the next read starts at the oldest record
// still stored. After each PUBACK the critical lane is read first again, so fresh critical records
// overtake a bulk backlog. Order is kept within a lane (so within a kind) on one connection; a
// batch refused by the broker and retried later arrives after the batches acknowledged meanwhile.
//
// Not there yet: the bulk lane's disk budget and TTL, dead-lettering of records the broker keeps
// refusing, and confirm mode "central" (deletion on central's Ack).
//
// Runs on the io thread: every function, the link's callbacks and the outbox's on_append.
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/outbox/outbox.hpp"

namespace xrm::uplink {

class RecordDrain {
 public:
  static constexpr std::size_t kMaxBatchRecords = 100;
  // About: the sum of the stored records' sizes; the batch adds a few bytes per record and its own
  // header. One record larger than this is sent alone.
  static constexpr std::size_t kMaxBatchBytes = std::size_t{128} * 1024;
  static constexpr std::size_t kMaxInFlight = 4;
  // How long to wait before sending again after the broker refused a publish (or the outbox could
  // not be read), so a persistent refusal does not become a tight loop.
  static constexpr std::chrono::milliseconds kRetryDelay{5000};

  // What the drain needs from the upstream connection (mqtt_link::Connection in the daemon, a fake
  // in tests).
  struct Link {
    // Publishes at QoS 1, not retained; `done` runs later on the io thread (never inside the call)
    // with ok once the broker acknowledged, an error otherwise.
    std::function<void(const std::string& topic, std::string payload, std::function<void(Status)> done)> publish;
    // Whether the connection is up now (tells a refused publish from a lost connection).
    std::function<bool()> connected;
  };

  struct Counters {
    std::uint64_t records_sent = 0;       // records in acknowledged batches (re-sends count again)
    std::uint64_t batches_sent = 0;       // acknowledged batches
    std::uint64_t in_flight_batches = 0;  // published, not acknowledged yet
    std::uint64_t publish_errors = 0;     // failed or refused publishes
    std::string last_error;               // why the last publish (or outbox read/delete) failed; empty: none
    std::uint64_t last_sent_seq = 0;      // the highest seq acknowledged by the broker
  };

  // outbox and clock must outlive the drain. Registers itself as the outbox's on_append function
  // (and unregisters on destruction). Does nothing until start().
  RecordDrain(boost::asio::io_context& io, outbox::Outbox& outbox, std::string gateway_id, const Clock& clock,
              Link link, std::chrono::milliseconds retry_delay = kRetryDelay);
  ~RecordDrain();
  RecordDrain(const RecordDrain&) = delete;
  RecordDrain& operator=(const RecordDrain&) = delete;

  // The connection is up: send everything stored, from the oldest record of each lane.
  void start();
  // The connection is down (or going): send nothing more until the next start(). Acknowledgements
  // of batches still in flight are still honoured (their records are removed).
  void stop();

  bool running() const { return running_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Batch {
    outbox::Lane lane = outbox::Lane::kCritical;
    xrm::v1::RecordKind kind = xrm::v1::RECORD_KIND_UNSPECIFIED;
    std::vector<std::uint64_t> seqs;
    std::string topic;
    std::string payload;
  };

  // Coalesced: at most one drain is posted at a time.
  void wake();
  // Publishes batches until kMaxInFlight are in flight or nothing is left to read.
  void drain();
  // The next batch of `lane` after its cursor (advancing the cursor); nothing when the lane has no
  // sendable rows. A read error pauses the drain.
  std::optional<Batch> next_batch(outbox::Lane lane, bool& failed);
  void send(Batch batch);
  void on_published(std::uint64_t generation, const Batch& batch, const Status& st);
  // Stops sending until the retry timer fires.
  void pause(const std::string& why);
  void reset_cursors() { cursor_.fill(0); }
  void remove_unsendable(std::uint64_t seq, const std::string& why);

  boost::asio::io_context& io_;
  outbox::Outbox& outbox_;
  std::string gateway_id_;
  const Clock& clock_;
  Link link_;
  std::chrono::milliseconds retry_delay_;
  boost::asio::steady_timer retry_timer_;
  // Posted handlers and link callbacks hold this weakly: after destruction they do nothing.
  std::shared_ptr<RecordDrain*> self_;

  bool running_ = false;
  bool paused_ = false;  // waiting for retry_timer_
  bool drain_posted_ = false;
  // Bumped by start() and stop(): acknowledgements from an earlier connection still remove their
  // records but no longer count as in flight.
  std::uint64_t generation_ = 0;
  std::size_t in_flight_ = 0;
  std::array<std::uint64_t, 2> cursor_{};  // per lane: the highest seq handed to the link
  Counters counters_;
};

}  // namespace xrm::uplink
