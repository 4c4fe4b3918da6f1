#pragma once
// What a central consumer sees on xrm/v1/gw/{gateway}/rec/#, decoded and checked batch by batch
// against the contract (RecordBatch of one kind on its topic, QoS 1, not retained, ascending seqs,
// first/last seq), and the checks the outbox tests make on it: complete, ordered within each kind,
// de-duplicated by seq as central does. Test thread only.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <mqtt/message.h>

#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/subscriber.hpp"

namespace xrm::testing {

// The contract's {kind} of each RecordKind.
inline std::string kind_topic_name(int kind) {
  switch (kind) {
    case xrm::v1::RECORD_KIND_SUMMARY: return "summary";
    case xrm::v1::RECORD_KIND_EVENT: return "event";
    case xrm::v1::RECORD_KIND_HEALTH: return "health";
    case xrm::v1::RECORD_KIND_ALERT: return "alert";
    case xrm::v1::RECORD_KIND_LIFECYCLE: return "lifecycle";
    case xrm::v1::RECORD_KIND_GAP: return "gap";
    case xrm::v1::RECORD_KIND_SCORECARD: return "scorecard";
    default: return "?" + std::to_string(kind);
  }
}

// One record as it arrived upstream.
struct Arrived {
  std::uint64_t seq = 0;
  int kind = 0;
  std::string device;
};

// Everything a subscriber received on rec/#, decoded and checked batch by batch; every record
// kept whole in `bodies` (by seq, first copy).
struct Transcript {
  explicit Transcript(std::string gateway_id = "") : gateway(std::move(gateway_id)) {}
  std::string gateway;
  std::vector<Arrived> records;  // in arrival order, duplicates kept
  std::map<std::uint64_t, xrm::v1::InteractionRecord> bodies;
  std::size_t batches = 0;
  std::string problems;  // what was wrong with any batch; empty when all were right

  void take(const mqtt::message& m) {
    ++batches;
    const std::string where = m.get_topic() + " batch " + std::to_string(batches) + ": ";
    if (m.is_retained()) problems += where + "retained\n";
    if (m.get_qos() != 1) problems += where + "QoS " + std::to_string(m.get_qos()) + "\n";
    xrm::v1::RecordBatch b;
    if (!b.ParseFromString(m.get_payload())) {
      problems += where + "not a RecordBatch\n";
      return;
    }
    const std::string prefix = "xrm/v1/gw/" + gateway + "/rec/";
    if (m.get_topic() != prefix + kind_topic_name(b.kind())) {
      problems += where + "batch of kind " + kind_topic_name(b.kind()) + " on this topic\n";
    }
    if (b.gateway_id() != gateway) problems += where + "gateway_id " + b.gateway_id() + "\n";
    if (b.records_size() == 0) {
      problems += where + "no records\n";
      return;
    }
    if (b.first_seq() != b.records(0).seq() || b.last_seq() != b.records(b.records_size() - 1).seq()) {
      problems += where + "first_seq/last_seq do not match its records\n";
    }
    if (b.created_at_ms() == 0) problems += where + "no created_at_ms\n";
    std::uint64_t prev = 0;
    for (const auto& r : b.records()) {
      const std::string rec = where + "seq " + std::to_string(r.seq()) + ": ";
      if (r.seq() <= prev) problems += rec + "after seq " + std::to_string(prev) + "\n";
      prev = r.seq();
      if (r.kind() != b.kind()) problems += rec + "kind " + kind_topic_name(r.kind()) + "\n";
      if (r.kind() == xrm::v1::RECORD_KIND_LIFECYCLE && !r.has_lifecycle()) problems += rec + "no lifecycle body\n";
      if (r.gateway_id() != gateway) problems += rec + "gateway_id " + r.gateway_id() + "\n";
      records.push_back({r.seq(), r.kind(), r.device_id()});
      // A seq sent again must be the same record: a seq given to two records (reused after a
      // crash, say) would make central drop the second one as a duplicate.
      const auto [it, fresh] = bodies.emplace(r.seq(), r);
      if (!fresh && it->second.SerializeAsString() != r.SerializeAsString()) {
        problems += rec + "arrived again as a different record (a seq used twice)\n";
      }
    }
  }

  bool has(std::uint64_t seq) const { return bodies.count(seq) != 0; }
  bool has_all(std::uint64_t first, std::uint64_t last) const {
    for (std::uint64_t s = first; s <= last; ++s) {
      if (!has(s)) return false;
    }
    return true;
  }
};

inline std::string describe(const std::vector<Arrived>& records) {
  std::string out;
  for (const auto& r : records) {
    out += (out.empty() ? "" : " ") + std::to_string(r.seq) + ":" + kind_topic_name(r.kind) + ":" + r.device;
  }
  return out.empty() ? "(none)" : out;
}

// The records in arrival order with repeats removed (the first copy kept), as a de-duplicating
// central consumer stores them.
inline std::vector<Arrived> deduplicated(const std::vector<Arrived>& records) {
  std::vector<Arrived> out;
  std::set<std::uint64_t> seen;
  for (const auto& r : records) {
    if (seen.insert(r.seq).second) out.push_back(r);
  }
  return out;
}

inline std::vector<Arrived> of_kind(const std::vector<Arrived>& records, int kind) {
  std::vector<Arrived> out;
  for (const auto& r : records) {
    if (r.kind == kind) out.push_back(r);
  }
  return out;
}

// Records in arrival order, de-duplicated: each kind's seqs must ascend (order is kept within a
// topic), and together they must be exactly first..last (every seq once, no gap). Returns what is
// wrong; empty when nothing is.
inline std::string check_complete_and_ordered(const std::vector<Arrived>& stored, std::uint64_t first,
                                             std::uint64_t last) {
  std::string problems;
  for (int kind = xrm::v1::RECORD_KIND_SUMMARY; kind <= xrm::v1::RECORD_KIND_SCORECARD; ++kind) {
    std::uint64_t prev = 0;
    for (const auto& r : of_kind(stored, kind)) {
      if (r.seq <= prev) problems += "seq " + std::to_string(r.seq) + " after " + std::to_string(prev) + "; ";
      prev = r.seq;
    }
  }
  if (stored.size() != last - first + 1) problems += "expected " + std::to_string(last - first + 1) + " records; ";
  std::set<std::uint64_t> have;
  for (const auto& r : stored) have.insert(r.seq);
  for (std::uint64_t s = first; s <= last; ++s) {
    if (have.count(s) == 0) problems += "seq " + std::to_string(s) + " missing; ";
  }
  return problems;
}

// Reads `central`'s messages into `t` until every seq from first to last has arrived; fails the
// test (with what did arrive, and any batch that broke the contract) if they do not within timeout.
inline void receive_all(Subscriber& central, Transcript& t, std::uint64_t first, std::uint64_t last,
                        std::chrono::milliseconds timeout) {
  if (!t.has_all(first, last)) {
    central.wait_for(
        [&](const mqtt::message& m) {
          t.take(m);
          return t.has_all(first, last);
        },
        timeout);
  }
  std::string missing;
  for (std::uint64_t s = first; s <= last && missing.size() < 400; ++s) {
    if (!t.has(s)) missing += (missing.empty() ? "" : " ") + std::to_string(s);
  }
  CHECK_TEXT(t.has_all(first, last),
             ("seqs " + std::to_string(first) + ".." + std::to_string(last) + " did not all arrive within " +
              std::to_string(timeout.count()) + " ms; " + std::to_string(t.bodies.size()) + " did; missing: " + missing)
                 .c_str());
  STRCMP_EQUAL_TEXT("", t.problems.c_str(), t.problems.c_str());
}

}  // namespace xrm::testing
