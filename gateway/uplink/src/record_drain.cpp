#include "xrm/uplink/record_drain.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

#include "xrm/common/log.hpp"
#include "xrm/common/topics.hpp"
#include "xrm/common/units.hpp"
#include "xrm/proto/xrm.pb.h"

namespace xrm::uplink {
namespace {

std::size_t index_of(outbox::Lane lane) { return static_cast<std::size_t>(lane); }

std::string seq_range(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return "none";
  return seqs.size() == 1 ? "seq " + std::to_string(seqs.front())
                          : "seq " + std::to_string(seqs.front()) + ".." + std::to_string(seqs.back());
}

}  // namespace

RecordDrain::RecordDrain(boost::asio::io_context& io, outbox::Outbox& outbox, std::string gateway_id,
                         const Clock& clock, Link link, Settings settings)
    : io_(io),
      outbox_(outbox),
      gateway_id_(std::move(gateway_id)),
      clock_(clock),
      link_(std::move(link)),
      settings_(settings),
      retry_timer_(io),
      ack_timer_(io),
      maintenance_timer_(io),
      self_(std::make_shared<RecordDrain*>(this)) {
  // append() may run inside a caller's transaction: only post from here.
  outbox_.on_append([weak = std::weak_ptr<RecordDrain*>(self_)] {
    if (auto self = weak.lock()) (*self)->wake();
  });
  outbox_.set_limits(settings_.limits);
  schedule_maintenance();
}

RecordDrain::~RecordDrain() {
  outbox_.on_append(nullptr);
  self_.reset();
}

void RecordDrain::set_settings(const Settings& settings) {
  const bool mode_changed = settings.confirm_central != settings_.confirm_central;
  settings_ = settings;
  outbox_.set_limits(settings_.limits);
  if (mode_changed && running_) start();  // records waiting for an Ack are sent again under the new mode
}

void RecordDrain::start() {
  running_ = true;
  reset_connection_state();
  drain();
}

void RecordDrain::stop() {
  running_ = false;
  reset_connection_state();
}

void RecordDrain::reset_connection_state() {
  paused_ = false;
  retry_timer_.cancel();
  ack_timer_.cancel();
  ack_armed_ = false;
  forget_sent();
}

void RecordDrain::forget_sent() {
  ++generation_;
  in_flight_ = 0;
  counters_.in_flight_batches = 0;
  outstanding_.clear();
  counters_.unacked = 0;
  reset_cursors();
}

void RecordDrain::wake() {
  if (!running_ || drain_posted_) return;
  drain_posted_ = true;
  boost::asio::post(io_, [weak = std::weak_ptr<RecordDrain*>(self_)] {
    auto self = weak.lock();
    if (!self) return;
    (*self)->drain_posted_ = false;
    (*self)->drain();
  });
}

void RecordDrain::drain() {
  if (!running_ || paused_) return;
  if (link_.connected && !link_.connected()) return;  // stop() is on its way
  while (in_flight_ < kMaxInFlight && outstanding_.size() < kMaxUnacked) {
    bool failed = false;
    // Critical first, every time: fresh critical records overtake a bulk backlog.
    std::optional<Batch> batch = next_batch(outbox::Lane::kCritical, failed);
    if (failed) return;
    if (!batch) batch = next_batch(outbox::Lane::kBulk, failed);
    if (failed || !batch) return;
    send(std::move(*batch));
  }
}

std::optional<RecordDrain::Batch> RecordDrain::next_batch(outbox::Lane lane, bool& failed) {
  std::uint64_t& cursor = cursor_[index_of(lane)];
  // Each round moves the cursor past at least one row; it repeats only when every row it read was
  // unsendable (and removed).
  for (;;) {
    auto rows = outbox_.peek(lane, cursor, kMaxBatchRecords, kMaxBatchBytes);
    if (!rows) {
      failed = true;
      XRM_ERROR << "upstream: cannot read the outbox: " << rows.status().message() << "; trying again in "
                << format_duration(settings_.retry_delay);
      pause("cannot read the outbox: " + rows.status().message());
      return std::nullopt;
    }
    if (rows->empty()) return std::nullopt;
    Batch batch;
    batch.lane = lane;
    batch.kind = rows->front().kind;
    const std::string_view kind_name = outbox::record_kind_name(batch.kind);
    const std::uint64_t split_until = split_until_[index_of(lane)];
    v1::RecordBatch message;
    for (const outbox::StoredRecord& row : *rows) {
      if (row.kind != batch.kind) break;  // a batch holds one kind: the next one starts here
      // After a refused batch, its records go one per batch, so the broker's answer is about one.
      if (!batch.seqs.empty() && row.seq <= split_until) break;
      cursor = row.seq;
      if (outstanding_.count(row.seq) != 0) continue;  // on its way already
      if (kind_name.empty()) {
        remove_unsendable(row.seq, "its kind " + std::to_string(static_cast<int>(row.kind)) + " has no topic");
        continue;
      }
      v1::InteractionRecord* record = message.add_records();
      if (!record->ParseFromString(row.bytes)) {
        message.mutable_records()->RemoveLast();
        remove_unsendable(row.seq, "it does not parse as an InteractionRecord");
        continue;
      }
      batch.seqs.push_back(row.seq);
      if (row.seq <= split_until) break;
    }
    if (batch.seqs.empty()) continue;
    message.set_gateway_id(gateway_id_);
    message.set_first_seq(batch.seqs.front());
    message.set_last_seq(batch.seqs.back());
    message.set_created_at_ms(static_cast<std::uint64_t>(clock_.unix_ms()));
    message.set_kind(batch.kind);
    batch.topic = topics::gw_records(gateway_id_, kind_name);
    batch.payload = message.SerializeAsString();
    return batch;
  }
}

void RecordDrain::remove_unsendable(std::uint64_t seq, const std::string& why) {
  // It could never be sent, and it would block nothing but fill the disk: drop it, loudly.
  XRM_ERROR << "upstream: outbox record seq " << seq << " removed unsent: " << why;
  if (Status st = outbox_.remove({seq}); !st) {
    XRM_ERROR << "upstream: cannot remove outbox record seq " << seq << ": " << st.message();
    counters_.last_error = st.message();
  }
}

void RecordDrain::send(Batch batch) {
  ++in_flight_;
  outstanding_.insert(batch.seqs.begin(), batch.seqs.end());
  counters_.in_flight_batches = in_flight_;
  XRM_DEBUG << "upstream: publishing " << batch.seqs.size() << " " << outbox::record_kind_name(batch.kind)
            << " record(s), " << seq_range(batch.seqs) << ", " << batch.payload.size() << " bytes";
  const std::string topic = std::move(batch.topic);
  std::string payload = std::move(batch.payload);
  auto sent = std::make_shared<const Batch>(std::move(batch));
  link_.publish(topic, std::move(payload),
                [weak = std::weak_ptr<RecordDrain*>(self_), generation = generation_, sent](const Status& st) {
                  if (auto self = weak.lock()) (*self)->on_published(generation, *sent, st);
                });
}

void RecordDrain::on_published(std::uint64_t generation, const Batch& batch, const Status& st) {
  const bool current = generation == generation_;
  if (current && in_flight_ > 0) --in_flight_;
  counters_.in_flight_batches = in_flight_;
  if (st) {
    counters_.records_sent += batch.seqs.size();
    ++counters_.batches_sent;
    counters_.last_sent_seq = std::max(counters_.last_sent_seq, batch.seqs.back());
    if (settings_.confirm_central) {
      // Kept until central's Ack; sent again after ack_timeout without one, or after a reconnect.
      if (current) {
        counters_.unacked = outstanding_.size();
        if (!ack_armed_) arm_ack_timer();
        drain();
      }
      return;
    }
    // Acknowledged by the broker (confirm mode "broker"): the records may go, even if the
    // connection they went on is gone by now.
    if (current) {
      for (const std::uint64_t seq : batch.seqs) outstanding_.erase(seq);
    }
    if (Status removed = outbox_.remove(batch.seqs); !removed) {
      // They stay and go again after the next reconnect; central de-duplicates them.
      XRM_ERROR << "upstream: " << seq_range(batch.seqs)
                << " delivered but not removed from the outbox: " << removed.message();
      counters_.last_error = removed.message();
    }
    if (current) drain();
    return;
  }
  ++counters_.publish_errors;
  counters_.last_error = st.message();
  if (!current) return;  // from a connection that is gone; start() reads from the oldest record again
  for (const std::uint64_t seq : batch.seqs) outstanding_.erase(seq);
  counters_.unacked = settings_.confirm_central ? outstanding_.size() : 0;
  if (st.code() == Status::Code::kInvalidArgument) return refused(batch, st);
  // Everything not acknowledged is read again from the oldest stored record (at least once).
  reset_cursors();
  if (link_.connected && !link_.connected()) {
    XRM_INFO << "upstream: " << batch.seqs.size() << " " << outbox::record_kind_name(batch.kind) << " record(s), "
             << seq_range(batch.seqs) << ", not acknowledged before the connection went; sent again after reconnecting";
    return;
  }
  // Not accepted by the client while connected (the connection is probably going): try again later.
  XRM_WARN << "upstream: " << batch.seqs.size() << " " << outbox::record_kind_name(batch.kind) << " record(s), "
           << seq_range(batch.seqs) << ", not sent: " << st.message() << "; sending again in "
           << format_duration(settings_.retry_delay);
  pause(st.message());
}

void RecordDrain::refused(const Batch& batch, const Status& st) {
  const std::size_t lane = index_of(batch.lane);
  if (batch.seqs.size() > 1) {
    // Which record is it? Send them again one per batch; the refused one is then set aside alone.
    ++counters_.refused_batches;
    split_until_[lane] = std::max(split_until_[lane], batch.seqs.back());
    cursor_[lane] = std::min(cursor_[lane], batch.seqs.front() - 1);
    XRM_WARN << "upstream: the broker refused a batch of " << batch.seqs.size() << " "
             << outbox::record_kind_name(batch.kind) << " records, " << seq_range(batch.seqs) << ": " << st.message()
             << "; sending them one by one";
    drain();
    return;
  }
  const std::uint64_t seq = batch.seqs.front();
  if (Status moved = outbox_.dead_letter(seq, st.message()); !moved && moved.code() != Status::Code::kNotFound) {
    // Could not set it aside: it stays first in its lane; try again later rather than spin.
    cursor_[lane] = std::min(cursor_[lane], seq - 1);
    XRM_ERROR << "upstream: " << seq_range(batch.seqs) << " refused by the broker (" << st.message()
              << ") and not moved to the dead letters: " << moved.message();
    pause(moved.message());
    return;
  }
  ++counters_.dead_lettered;
  XRM_ERROR << "upstream: " << outbox::record_kind_name(batch.kind) << " record seq " << seq
            << " refused by the broker on its own (" << st.message()
            << "); moved to the upstream dead letters, reported with a gap record (xrmctl dead-letters --upstream)";
  drain();
}

void RecordDrain::on_ack(const xrm::v1::Ack& ack) {
  if (!settings_.confirm_central) {
    XRM_DEBUG << "upstream: Ack from " << ack.consumer_id() << " ignored (upstream.confirm is \"broker\")";
    return;
  }
  if (ack.gateway_id() != gateway_id_) {
    XRM_WARN << "upstream: Ack for gateway \"" << ack.gateway_id() << "\" from " << ack.consumer_id()
             << " ignored: this is " << gateway_id_;
    return;
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  ranges.reserve(static_cast<std::size_t>(ack.ranges_size()));
  for (const auto& r : ack.ranges()) ranges.emplace_back(r.first(), r.last());
  auto removed = outbox_.remove_ranges(ranges);
  if (!removed) {
    XRM_ERROR << "upstream: Ack from " << ack.consumer_id() << " not applied: " << removed.status().message();
    counters_.last_error = removed.status().message();
    return;
  }
  ++counters_.acks;
  counters_.acked_records += *removed;
  bool progress = false;
  for (const auto& [first, last] : ranges) {
    if (first > last) continue;
    for (auto it = outstanding_.lower_bound(first); it != outstanding_.end() && *it <= last;) {
      it = outstanding_.erase(it);
      progress = true;
    }
  }
  counters_.unacked = outstanding_.size();
  if (progress) {
    ack_timer_.cancel();
    ack_armed_ = false;
    if (!outstanding_.empty()) arm_ack_timer();
  }
  drain();
}

void RecordDrain::arm_ack_timer() {
  ack_armed_ = true;
  ack_timer_.expires_after(settings_.ack_timeout);
  ack_timer_.async_wait([weak = std::weak_ptr<RecordDrain*>(self_), generation = generation_](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    RecordDrain& d = **self;
    d.ack_armed_ = false;
    if (generation != d.generation_ || !d.running_ || d.outstanding_.empty()) return;
    ++d.counters_.ack_timeouts;
    XRM_WARN << "upstream: no Ack from central for " << format_duration(d.settings_.ack_timeout) << "; "
             << d.outstanding_.size() << " record(s) waiting for one are sent again";
    // Like a reconnect: forget what is on its way (late PUBACKs no longer count) and read again.
    d.forget_sent();
    d.drain();
  });
}

void RecordDrain::maintain() {
  auto dropped = outbox_.enforce_limits([this](std::uint64_t seq) { return outstanding_.count(seq) != 0; });
  if (!dropped) {
    XRM_ERROR << "outbox: limits not enforced: " << dropped.status().message();
    return;
  }
  if (dropped->records > 0) {
    counters_.dropped_records += dropped->records;
    XRM_WARN << "outbox: dropped " << dropped->records << " bulk record(s), " << format_size(dropped->bytes)
             << ", over outbox.max_bytes " << format_size(settings_.limits.max_bytes) << " or older than outbox.ttl "
             << format_duration(settings_.limits.ttl) << "; reported upstream in " << dropped->gaps << " gap record(s)";
  }
}

void RecordDrain::schedule_maintenance() {
  maintenance_timer_.expires_after(settings_.maintenance_interval);
  maintenance_timer_.async_wait([weak = std::weak_ptr<RecordDrain*>(self_)](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    (*self)->maintain();
    (*self)->schedule_maintenance();
  });
}

void RecordDrain::pause(const std::string& why) {
  counters_.last_error = why;
  if (paused_) return;
  paused_ = true;
  retry_timer_.expires_after(settings_.retry_delay);
  retry_timer_.async_wait([weak = std::weak_ptr<RecordDrain*>(self_)](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    (*self)->paused_ = false;
    (*self)->drain();
  });
}

}  // namespace xrm::uplink
