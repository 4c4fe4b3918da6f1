#include "tap.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <utility>

namespace xrm::tap {
namespace {

using nlohmann::json;

// The lite runtime keeps enum names (Foo_Name), not reflection: "HEALTH_BAND_DEGRADED" with
// prefix "HEALTH_BAND_" becomes "degraded". An unknown number has an empty name: its number.
std::string short_name(const std::string& full, std::string_view prefix, int value) {
  if (full.empty()) return std::to_string(value);
  std::string s = full.compare(0, prefix.size(), prefix) == 0 ? full.substr(prefix.size()) : full;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string band(v1::HealthBand b) { return short_name(v1::HealthBand_Name(b), "HEALTH_BAND_", b); }

json stakeholders(const v1::Stakeholders& s) {
  return {{"owner", s.owner()},
          {"site", s.site()},
          {"technician", s.technician()},
          {"supplier", s.supplier()},
          {"model", s.model()}};
}

json string_map(const google::protobuf::Map<std::string, std::string>& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

json factors(const google::protobuf::RepeatedPtrField<v1::Factor>& fs) {
  json a = json::array();
  for (const auto& f : fs) {
    json j = {{"name", f.name()}, {"penalty", f.penalty()}};
    if (f.has_value()) j["value"] = f.value();
    j["unit"] = f.unit();
    j["why"] = f.why();
    a.push_back(std::move(j));
  }
  return a;
}

json summary(const v1::Summary& b) {
  json metrics = json::array();
  for (const auto& m : b.metrics()) {
    metrics.push_back({{"name", m.name()},
                       {"count", m.count()},
                       {"min", m.min()},
                       {"max", m.max()},
                       {"mean", m.mean()},
                       {"last", m.last()}});
  }
  json j = {{"window_ms", b.window_ms()}, {"metrics", std::move(metrics)}, {"messages", b.messages()},
            {"gaps", b.gaps()},           {"missed", b.missed()},         {"duplicates", b.duplicates()},
            {"out_of_order", b.out_of_order()}, {"resets", b.resets()},   {"bytes", b.bytes()}};
  if (b.has_first_device_seq()) j["first_device_seq"] = b.first_device_seq();
  if (b.has_last_device_seq()) j["last_device_seq"] = b.last_device_seq();
  if (b.has_score()) j["score"] = b.score();
  j["band"] = band(b.band());
  return j;
}

json event(const v1::EventBody& b) {
  const v1::ServiceEvent& e = b.event();
  json ev = {{"seq", e.seq()}, {"ts", e.ts()}, {"type", e.type()}};
  if (e.has_code()) ev["code"] = e.code();
  if (e.has_score()) ev["score"] = e.score();
  ev["technician"] = e.technician();
  ev["request_id"] = e.request_id();
  ev["note"] = e.note();
  ev["attributes"] = string_map(e.attributes());
  return {{"event", std::move(ev)}, {"received_at_ms", b.received_at_ms()}};
}

json health(const v1::HealthChange& b) {
  json j = {{"from_band", band(b.from_band())}, {"to_band", band(b.to_band())}};
  if (b.has_score()) j["score"] = b.score();
  if (b.has_previous_score()) j["previous_score"] = b.previous_score();
  j["factors"] = factors(b.factors());
  return j;
}

json alert(const v1::AlertBody& b) {
  json j = {{"alert_id", b.alert_id()},
            {"state", short_name(v1::AlertState_Name(b.state()), "ALERT_STATE_", b.state())},
            {"band", band(b.band())},
            {"action", short_name(v1::EscalationAction_Name(b.action()), "ESCALATION_ACTION_", b.action())},
            {"reason", b.reason()},
            {"factors", factors(b.factors())}};
  if (b.has_score()) j["score"] = b.score();
  j["opened_at_ms"] = b.opened_at_ms();
  if (b.has_cleared_at_ms()) j["cleared_at_ms"] = b.cleared_at_ms();
  j["cause"] = b.cause();
  j["assignee"] = b.assignee();
  j["command"] = b.command();
  j["request_id"] = b.request_id();
  j["repeats"] = b.repeats();
  j["escalated"] = b.escalated();
  return j;
}

json lifecycle(const v1::LifecycleBody& b) {
  json j = {{"change", short_name(v1::LifecycleChange_Name(b.change()), "LIFECYCLE_CHANGE_", b.change())},
            {"previous_state", b.previous_state()},
            {"new_state", b.new_state()},
            {"actor", b.actor()},
            {"detail", b.detail()}};
  if (b.has_previous_stakeholders()) j["previous_stakeholders"] = stakeholders(b.previous_stakeholders());
  if (b.has_birth()) {
    const v1::Birth& birth = b.birth();
    json caps = json::array();
    for (const auto& c : birth.capabilities()) caps.push_back(c);
    j["birth"] = {{"model", birth.model()},
                  {"firmware_version", birth.firmware_version()},
                  {"capabilities", std::move(caps)},
                  {"ts", birth.ts()},
                  {"attributes", string_map(birth.attributes())}};
  }
  return j;
}

json gap(const v1::GapBody& b) {
  json j = {{"reason", short_name(v1::GapReason_Name(b.reason()), "GAP_REASON_", b.reason())},
            {"dropped_records", b.dropped_records()},
            {"dropped_bytes", b.dropped_bytes()}};
  if (b.has_first_dropped_seq()) j["first_dropped_seq"] = b.first_dropped_seq();
  if (b.has_last_dropped_seq()) j["last_dropped_seq"] = b.last_dropped_seq();
  json kinds = json::array();
  for (int k : b.dropped_kinds()) kinds.push_back(kind_name(static_cast<v1::RecordKind>(k)));
  j["dropped_kinds"] = std::move(kinds);
  j["missed_messages"] = b.missed_messages();
  if (b.has_first_missed_device_seq()) j["first_missed_device_seq"] = b.first_missed_device_seq();
  if (b.has_last_missed_device_seq()) j["last_missed_device_seq"] = b.last_missed_device_seq();
  j["detail"] = b.detail();
  return j;
}

json scorecard(const v1::ScorecardBody& b) {
  json figures = json::array();
  for (const auto& f : b.figures()) figures.push_back({{"name", f.name()}, {"value", f.value()}, {"unit", f.unit()}});
  json j = {{"role", short_name(v1::StakeholderRole_Name(b.role()), "STAKEHOLDER_ROLE_", b.role())},
            {"stakeholder_id", b.stakeholder_id()},
            {"period_ms", b.period_ms()},
            {"device_count", b.device_count()},
            {"figures", std::move(figures)}};
  if (b.has_score()) j["score"] = b.score();
  if (b.has_rank()) j["rank"] = b.rank();
  j["ranked_count"] = b.ranked_count();
  j["explanation"] = b.explanation();
  return j;
}

}  // namespace

std::string kind_name(v1::RecordKind kind) {
  const std::string& full = v1::RecordKind_Name(kind);
  if (full.empty()) return "kind_" + std::to_string(static_cast<int>(kind));
  return short_name(full, "RECORD_KIND_", kind);
}

nlohmann::json record_json(const v1::InteractionRecord& r) {
  json j = {{"gateway", r.gateway_id()},
            {"seq", r.seq()},
            {"kind", kind_name(r.kind())},
            {"device", r.device_id()},
            {"profile_class", r.profile_class()},
            {"stakeholders", stakeholders(r.stakeholders())},
            {"span_start_ms", r.span_start_ms()},
            {"span_end_ms", r.span_end_ms()},
            {"created_at_ms", r.created_at_ms()}};
  // The key is the body that is set (xrm.proto says it always matches kind).
  switch (r.body_case()) {
    case v1::InteractionRecord::kSummary: j["summary"] = summary(r.summary()); break;
    case v1::InteractionRecord::kEvent: j["event"] = event(r.event()); break;
    case v1::InteractionRecord::kHealth: j["health"] = health(r.health()); break;
    case v1::InteractionRecord::kAlert: j["alert"] = alert(r.alert()); break;
    case v1::InteractionRecord::kLifecycle: j["lifecycle"] = lifecycle(r.lifecycle()); break;
    case v1::InteractionRecord::kGap: j["gap"] = gap(r.gap()); break;
    case v1::InteractionRecord::kScorecard: j["scorecard"] = scorecard(r.scorecard()); break;
    case v1::InteractionRecord::BODY_NOT_SET: break;
  }
  return j;
}

std::string format_spans(const std::vector<SeqSpan>& spans) {
  if (spans.empty()) return "none";
  std::string out;
  for (const auto& s : spans) {
    if (!out.empty()) out += ", ";
    out += std::to_string(s.first);
    if (s.last != s.first) out += "-" + std::to_string(s.last);
  }
  return out;
}

std::vector<SeqSpan> coalesce(std::vector<std::uint64_t> seqs) {
  std::sort(seqs.begin(), seqs.end());
  std::vector<SeqSpan> out;
  for (std::uint64_t s : seqs) {
    if (!out.empty() && (s == out.back().last || s == out.back().last + 1)) {
      out.back().last = s;
    } else {
      out.push_back({s, s});
    }
  }
  return out;
}

SeqTracker::SeqTracker(std::size_t max_ranges) : max_ranges_(std::max<std::size_t>(max_ranges, 1)) {}

bool SeqTracker::note(const std::string& gateway, std::uint64_t seq) {
  auto it = gateways_.find(gateway);
  if (it == gateways_.end()) it = gateways_.emplace(gateway, Gateway{}).first;
  Gateway& g = it->second;
  auto& seen = g.seen;

  // The range starting after seq, and the one before it (which may contain seq).
  auto next = seen.upper_bound(seq);
  if (next != seen.begin()) {
    auto prev = std::prev(next);
    if (seq <= prev->second) {
      ++g.counts.duplicates;
      return false;
    }
    if (prev->second + 1 == seq) {
      prev->second = seq;
      if (next != seen.end() && next->first == seq + 1) {  // seq closed a hole of one
        prev->second = next->second;
        seen.erase(next);
      }
      ++g.counts.records;
      return true;
    }
  }
  if (next != seen.end() && next->first == seq + 1) {
    const std::uint64_t last = next->second;
    seen.erase(next);
    seen.emplace(seq, last);
  } else {
    seen.emplace(seq, seq);
  }
  ++g.counts.records;
  // Bounded memory: give up the lowest hole by joining the two lowest ranges.
  while (seen.size() > max_ranges_) {
    auto first = seen.begin();
    auto second = std::next(first);
    g.counts.given_up += second->first - first->second - 1;
    first->second = second->second;
    seen.erase(second);
  }
  return true;
}

std::vector<SeqSpan> SeqTracker::missing(const std::string& gateway) const {
  std::vector<SeqSpan> out;
  auto it = gateways_.find(gateway);
  if (it == gateways_.end()) return out;
  const auto& seen = it->second.seen;
  for (auto r = seen.begin(); r != seen.end(); ++r) {
    auto n = std::next(r);
    if (n == seen.end()) break;
    out.push_back({r->second + 1, n->first - 1});
  }
  return out;
}

SeqTracker::Counts SeqTracker::counts(const std::string& gateway) const {
  auto it = gateways_.find(gateway);
  return it == gateways_.end() ? Counts{} : it->second.counts;
}

std::size_t SeqTracker::ranges(const std::string& gateway) const {
  auto it = gateways_.find(gateway);
  return it == gateways_.end() ? 0 : it->second.seen.size();
}

std::vector<std::string> SeqTracker::gateways() const {
  std::vector<std::string> out;
  out.reserve(gateways_.size());
  for (const auto& [name, g] : gateways_) out.push_back(name);
  return out;
}

}  // namespace xrm::tap
