#pragma once
// Moves records from the outbox to the central broker: while the upstream connection is up it
// reads the critical lane, then the bulk lane, each in seq order, packs consecutive records of one
// kind into an xrm.v1.RecordBatch and publishes it at QoS 1 (not retained) on
// xrm/v1/gw/{gateway}/rec/{kind}. At least once: whatever was not confirmed when the connection
// went is sent again after the next connect, and central de-duplicates on (gateway, seq).
//
// Confirmation (upstream.confirm): "broker" deletes a batch's records on its PUBACK; "central"
// keeps them after the PUBACK until central's Ack (on_ack) names their seqs, and sends them again
// when no Ack came for ack_timeout, or after a reconnect. In "central" mode at most kMaxUnacked
// records wait for an Ack; the drain pauses there.
//
// At most kMaxInFlight batches wait for their PUBACK. The seqs on their way (published, or waiting
// for central's Ack) are kept in a set: they are not read twice, and the outbox's limits never drop
// them. A cursor per lane (the highest seq handed to the link) keeps reads cheap; the cursors go
// back to 0 when the connection goes, so the next read starts at the oldest record still stored.
// After each PUBACK the critical lane is read first again, so fresh critical records overtake a
// bulk backlog. Order is kept within a lane (so within a kind) on one connection.
//
// A batch the broker refuses (MQTT 5 PUBACK reason >= 0x80; Status invalid_argument from the link)
// is sent again one record per batch; a record refused on its own is moved to the upstream dead
// letters with a gap record (Outbox::dead_letter) and the lane moves on. Other publish failures
// while connected are retried after retry_delay.
//
// Every maintenance_interval it has the outbox enforce its bulk limits (Outbox::enforce_limits).
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
#include <set>
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
    // with ok once the broker acknowledged, invalid_argument when the broker refused the message,
    // another error otherwise.
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
    std::uint64_t refused_batches = 0;    // batches the broker refused (their records went again one by one)
    std::uint64_t dead_lettered = 0;      // records refused on their own, moved to the dead letters
    std::uint64_t acks = 0;               // central Acks received (confirm "central")
    std::uint64_t acked_records = 0;      // records they deleted
    std::uint64_t unacked = 0;            // records sent and waiting for central's Ack
    std::uint64_t ack_timeouts = 0;       // times nothing was acknowledged for ack_timeout: re-sent
    std::uint64_t dropped_records = 0;    // bulk records dropped over the outbox's limits since start
  };

  struct Settings {
    bool confirm_central = false;                       // upstream.confirm = "central"
    std::chrono::milliseconds ack_timeout{60000};       // central mode: re-send when no Ack came
    outbox::Limits limits;                              // [outbox] max_bytes and ttl
    std::chrono::milliseconds maintenance_interval{1000};
    std::chrono::milliseconds retry_delay = kRetryDelay;
  };
  // Records sent to central and not acknowledged yet, at most (confirm "central").
  static constexpr std::size_t kMaxUnacked = 10000;

  // outbox and clock must outlive the drain. Registers itself as the outbox's on_append function
  // (and unregisters on destruction). Sends nothing until start(); enforces the outbox's limits
  // from construction on.
  RecordDrain(boost::asio::io_context& io, outbox::Outbox& outbox, std::string gateway_id, const Clock& clock,
              Link link, Settings settings);
  RecordDrain(boost::asio::io_context& io, outbox::Outbox& outbox, std::string gateway_id, const Clock& clock,
              Link link)
      : RecordDrain(io, outbox, std::move(gateway_id), clock, std::move(link), Settings{}) {}
  ~RecordDrain();
  RecordDrain(const RecordDrain&) = delete;
  RecordDrain& operator=(const RecordDrain&) = delete;

  // The connection is up: send everything stored, from the oldest record of each lane.
  void start();
  // The connection is down (or going): send nothing more until the next start(). Acknowledgements
  // of batches still in flight are still honoured (in "broker" mode their records are removed).
  void stop();
  // Central's Ack (confirm "central"): deletes the records in its ranges. An Ack for another
  // gateway is ignored (logged). Ignored in "broker" mode.
  void on_ack(const xrm::v1::Ack& ack);
  // New limits, confirm mode and timers (SIGHUP); applied from the next maintenance run.
  void set_settings(const Settings& settings);
  // Enforces the outbox's limits now (what the maintenance timer does).
  void maintain();

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
  // Everything not confirmed is read again from the oldest stored record.
  void reset_cursors() { cursor_.fill(0); }
  // Forgets what was sent and not confirmed (acknowledgements still to come no longer count as in
  // flight) and reads again from the oldest stored record.
  void forget_sent();
  // forget_sent(), and no retry or Ack timer pending: a connection starts or ends.
  void reset_connection_state();
  void remove_unsendable(std::uint64_t seq, const std::string& why);
  void refused(const Batch& batch, const Status& st);
  void arm_ack_timer();
  void schedule_maintenance();

  boost::asio::io_context& io_;
  outbox::Outbox& outbox_;
  std::string gateway_id_;
  const Clock& clock_;
  Link link_;
  Settings settings_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer ack_timer_;
  boost::asio::steady_timer maintenance_timer_;
  // Posted handlers and link callbacks hold this weakly: after destruction they do nothing.
  std::shared_ptr<RecordDrain*> self_;

  bool running_ = false;
  bool paused_ = false;  // waiting for retry_timer_
  bool drain_posted_ = false;
  bool ack_armed_ = false;  // ack_timer_ is waiting
  // Bumped by start() and stop(): acknowledgements from an earlier connection still remove their
  // records but no longer count as in flight.
  std::uint64_t generation_ = 0;
  std::size_t in_flight_ = 0;
  std::array<std::uint64_t, 2> cursor_{};  // per lane: the highest seq handed to the link
  // Per lane: after a refused batch, batches hold one record up to this seq.
  std::array<std::uint64_t, 2> split_until_{};
  // Seqs published and not confirmed yet (in "central" mode: until the Ack). Never read twice,
  // never dropped by the outbox's limits.
  std::set<std::uint64_t> outstanding_;
  Counters counters_;
};

}  // namespace xrm::uplink
