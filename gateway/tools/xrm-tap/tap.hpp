#pragma once
// xrm-tap's logic without MQTT: an InteractionRecord as one JSON object, and per-gateway
// de-duplication by (gateway, seq) with a report of the seqs never seen. main.cpp adds the broker.
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/proto/xrm.pb.h"

namespace xrm::tap {

// The topic's {kind} for a RecordKind ("summary", ..., "scorecard"); "kind_N" for a number this
// build does not know (a newer gateway), "unspecified" for 0.
std::string kind_name(v1::RecordKind kind);

// A record as JSON, field names as in xrm.proto (docs/central-integration.md shows an example):
// gateway, seq, kind, device, profile_class, stakeholders {owner, site, technician, supplier,
// model}, span_start_ms, span_end_ms, created_at_ms, and the body under its kind's name. Enums are
// their short lower-case names ("degraded", "opened", "service_request"); a value this build does
// not know is its number as text. Plain fields are always present (proto3 defaults included),
// `optional` ones only when set. A record without a body this build knows has no body key.
nlohmann::json record_json(const v1::InteractionRecord& record);

// An inclusive range of record seqs.
struct SeqSpan {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  bool operator==(const SeqSpan&) const = default;
};

// "5-7, 12"; "none" for no spans.
std::string format_spans(const std::vector<SeqSpan>& spans);
// Sorted seqs (duplicates allowed) coalesced into inclusive spans: 1 2 3 5 -> 1-3, 5.
std::vector<SeqSpan> coalesce(std::vector<std::uint64_t> seqs);

// Which (gateway, seq) pairs have been seen, per gateway as the seqs seen in order, kept as
// disjoint ranges: normal in-order traffic is one range however long it runs, so memory grows
// only with the number of holes. At most max_ranges ranges are kept per gateway; beyond that the
// lowest hole is given up (its seqs counted in given_up() and no longer reported missing, and a
// late arrival in it is taken for a duplicate). Not thread-safe.
class SeqTracker {
 public:
  struct Counts {
    std::uint64_t records = 0;     // unique seqs noted
    std::uint64_t duplicates = 0;  // notes of a seq already seen
    std::uint64_t given_up = 0;    // seqs in holes given up to stay within max_ranges
  };

  explicit SeqTracker(std::size_t max_ranges = 4096);

  // True the first time (gateway, seq) is noted; false for a duplicate (counted).
  bool note(const std::string& gateway, std::uint64_t seq);
  // The seqs not seen between the lowest and the highest seen, ascending; empty for a gateway
  // never noted.
  std::vector<SeqSpan> missing(const std::string& gateway) const;
  Counts counts(const std::string& gateway) const;
  // Ranges kept for the gateway (memory use); at most max_ranges.
  std::size_t ranges(const std::string& gateway) const;
  // Every gateway noted, sorted.
  std::vector<std::string> gateways() const;

 private:
  struct Gateway {
    std::map<std::uint64_t, std::uint64_t> seen;  // first -> last (inclusive), disjoint, not adjacent
    Counts counts;
  };
  std::size_t max_ranges_;
  std::map<std::string, Gateway, std::less<>> gateways_;
};

}  // namespace xrm::tap
