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
                         const Clock& clock, Link link, std::chrono::milliseconds retry_delay)
    : io_(io),
      outbox_(outbox),
      gateway_id_(std::move(gateway_id)),
      clock_(clock),
      link_(std::move(link)),
      retry_delay_(retry_delay),
      retry_timer_(io),
      self_(std::make_shared<RecordDrain*>(this)) {
  // append() may run inside a caller's transaction: only post from here.
  outbox_.on_append([weak = std::weak_ptr<RecordDrain*>(self_)] {
    if (auto self = weak.lock()) (*self)->wake();
  });
}

RecordDrain::~RecordDrain() {
  outbox_.on_append(nullptr);
  self_.reset();
}

void RecordDrain::start() {
  ++generation_;
  running_ = true;
  paused_ = false;
  retry_timer_.cancel();
  in_flight_ = 0;
  counters_.in_flight_batches = 0;
  reset_cursors();
  drain();
}

void RecordDrain::stop() {
  ++generation_;
  running_ = false;
  paused_ = false;
  retry_timer_.cancel();
  in_flight_ = 0;
  counters_.in_flight_batches = 0;
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
  while (in_flight_ < kMaxInFlight) {
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
                << format_duration(retry_delay_);
      pause("cannot read the outbox: " + rows.status().message());
      return std::nullopt;
    }
    if (rows->empty()) return std::nullopt;
    Batch batch;
    batch.lane = lane;
    batch.kind = rows->front().kind;
    const std::string_view kind_name = outbox::record_kind_name(batch.kind);
    v1::RecordBatch message;
    for (const outbox::StoredRecord& row : *rows) {
      if (row.kind != batch.kind) break;  // a batch holds one kind: the next one starts here
      cursor = row.seq;
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
    // Acknowledged by the broker (confirm mode "broker"): the records may go, even if the
    // connection they went on is gone by now.
    if (Status removed = outbox_.remove(batch.seqs); !removed) {
      // They stay and go again after the next reconnect; central de-duplicates them.
      XRM_ERROR << "upstream: " << seq_range(batch.seqs)
                << " delivered but not removed from the outbox: " << removed.message();
      counters_.last_error = removed.message();
    }
    counters_.records_sent += batch.seqs.size();
    ++counters_.batches_sent;
    counters_.last_sent_seq = std::max(counters_.last_sent_seq, batch.seqs.back());
    if (current) drain();
    return;
  }
  ++counters_.publish_errors;
  counters_.last_error = st.message();
  if (!current) return;  // from a connection that is gone; start() reads from the oldest record again
  // Everything not acknowledged is read again from the oldest stored record (at least once).
  reset_cursors();
  if (link_.connected && !link_.connected()) {
    XRM_INFO << "upstream: " << batch.seqs.size() << " " << outbox::record_kind_name(batch.kind) << " record(s), "
             << seq_range(batch.seqs) << ", not acknowledged before the connection went; sent again after reconnecting";
    return;
  }
  // Refused while connected (an MQTT 5 reason code >= 0x80, e.g. too large or not authorized) or
  // not accepted by the client. Dead-lettering records the broker keeps refusing is a later issue;
  // until then they are retried every retry_delay_ and hold back the rest of their lane.
  XRM_WARN << "upstream: " << batch.seqs.size() << " " << outbox::record_kind_name(batch.kind) << " record(s), "
           << seq_range(batch.seqs) << ", not accepted: " << st.message() << "; sending again in "
           << format_duration(retry_delay_);
  pause(st.message());
}

void RecordDrain::pause(const std::string& why) {
  counters_.last_error = why;
  if (paused_) return;
  paused_ = true;
  retry_timer_.expires_after(retry_delay_);
  retry_timer_.async_wait([weak = std::weak_ptr<RecordDrain*>(self_)](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    (*self)->paused_ = false;
    (*self)->drain();
  });
}

}  // namespace xrm::uplink
