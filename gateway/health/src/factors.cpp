#include "xrm/health/factors.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "xrm/health/proto/health_state.pb.h"

namespace xrm::health {

namespace {

constexpr std::array<std::string_view, kKpiFactors> kNames = {"silence", "gaps", "response", "recurrence",
                                                              "satisfaction"};
// Silence: a report may be this many intervals late before it costs anything.
constexpr std::int64_t kSilenceGraceIntervals = 2;
// Recurrence: this many returns take the whole weight (one takes half).
constexpr double kRecurrenceFull = 2;

double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

template <typename T>
void drop_oldest_beyond(std::vector<T>& v, std::size_t limit) {
  if (v.size() > limit) v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() - limit));
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string code_name(const std::string& code) { return code.empty() ? "(no code)" : code; }

}  // namespace

std::string_view to_string(KpiFactor f) { return kNames[static_cast<std::size_t>(f)]; }

std::string readable_duration(std::int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 120'000) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>((ms + 500) / 1000));
  } else if (ms < 2 * 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>((ms + 30'000) / 60'000));
  } else if (ms < 2 * 86'400'000LL) {
    std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>((ms + 1'800'000) / 3'600'000));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd", static_cast<long long>((ms + 43'200'000) / 86'400'000));
  }
  return buf;
}

std::string readable_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

void KpiState::note_data(std::int64_t at_ms) { last_data_ms_ = at_ms; }

std::int64_t KpiState::silence_ms(std::int64_t now_ms) const {
  return last_data_ms_ ? std::max<std::int64_t>(0, now_ms - *last_data_ms_) : 0;
}

// --- gaps -------------------------------------------------------------------------------------

void KpiState::note_sequence(std::uint64_t received, std::uint64_t duplicates, std::uint64_t missed,
                             std::int64_t at_ms, const KpiTargets& targets) {
  const std::uint64_t expected = received - std::min(duplicates, received) + missed;
  if (expected < seen_expected_) {  // ingest started counting again (gateway restart)
    seen_expected_ = 0;
    seen_missed_ = 0;
  }
  const std::uint64_t add_expected = expected - seen_expected_;
  const std::int64_t add_missed = static_cast<std::int64_t>(missed) - static_cast<std::int64_t>(seen_missed_);
  seen_expected_ = expected;
  seen_missed_ = missed;
  if (add_expected == 0 && add_missed == 0) return;

  const std::int64_t width = std::max<std::int64_t>(1, targets.gaps_window.count() / kGapBuckets);
  const std::int64_t index = at_ms / width;
  GapBucket* bucket = nullptr;
  for (auto& b : gap_buckets_) {
    if (b.index == index) bucket = &b;
  }
  if (bucket == nullptr) {
    // Reuse the oldest slot once all are taken: it is outside the window by then.
    if (gap_buckets_.size() < kGapBuckets) {
      gap_buckets_.push_back({});
      bucket = &gap_buckets_.back();
    } else {
      bucket = &*std::min_element(gap_buckets_.begin(), gap_buckets_.end(),
                                  [](const GapBucket& a, const GapBucket& b) { return a.index < b.index; });
    }
    *bucket = GapBucket{index, 0, 0};
  }
  bucket->expected += add_expected;
  // A late message fills a gap counted earlier: take it back from this bucket (never below 0).
  if (add_missed >= 0) {
    bucket->missed += static_cast<std::uint64_t>(add_missed);
  } else {
    bucket->missed -= std::min(bucket->missed, static_cast<std::uint64_t>(-add_missed));
  }
}

void KpiState::gap_totals(const KpiTargets& t, std::int64_t now_ms, std::uint64_t& expected,
                          std::uint64_t& missed) const {
  const std::int64_t width = std::max<std::int64_t>(1, t.gaps_window.count() / kGapBuckets);
  const std::int64_t current = now_ms / width;
  expected = 0;
  missed = 0;
  for (const auto& b : gap_buckets_) {
    if (b.index > current - static_cast<std::int64_t>(kGapBuckets) && b.index <= current) {
      expected += b.expected;
      missed += b.missed;
    }
  }
  missed = std::min(missed, expected);
}

// --- response ---------------------------------------------------------------------------------

void KpiState::note_command_sent(const std::string& request_id, std::int64_t at_ms) {
  pending_.push_back({request_id, at_ms});
  drop_oldest_beyond(pending_, kMaxPendingCommands);
}

bool KpiState::note_command_result(std::string_view request_id, std::int64_t at_ms) {
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.request_id == request_id; });
  if (request_id.empty() || it == pending_.end()) return false;
  response_samples_.push_back(std::max<std::int64_t>(0, at_ms - it->sent_ms));
  drop_oldest_beyond(response_samples_, kMaxResponseSamples);
  pending_.erase(it);
  return true;
}

std::optional<std::int64_t> KpiState::response_p90(const KpiTargets& t, std::int64_t now_ms,
                                                   std::size_t& samples) const {
  std::array<std::int64_t, kMaxResponseSamples + kMaxPendingCommands> v{};
  std::size_t n = 0;
  for (auto s : response_samples_) v[n++] = s;
  // A command still waiting longer than the target is already a slow answer.
  for (const auto& p : pending_) {
    if (now_ms - p.sent_ms > t.response_target.count()) v[n++] = now_ms - p.sent_ms;
  }
  samples = n;
  if (n == 0) return std::nullopt;
  // Nearest rank: the smallest value with at least 90% of the samples at or below it.
  const std::size_t rank = (9 * n + 9) / 10;  // ceil(0.9 n)
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.begin() + static_cast<std::ptrdiff_t>(n));
  return v[rank - 1];
}

// --- recurrence and satisfaction ----------------------------------------------------------------

KpiState::Request* KpiState::find_request(std::string_view request_id, bool want_done) {
  if (!request_id.empty()) {
    for (auto& r : requests_) {
      if (r.request_id == request_id) return &r;
    }
  }
  if (want_done) {
    // A rating without a request id rates the newest finished visit not rated yet...
    for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
      if (it->done_ms != 0 && !it->score) return &*it;
    }
  }
  // ... else (and a service_done without an id closes) the oldest request still open.
  for (auto& r : requests_) {
    if (r.done_ms == 0 && (!want_done || !r.score)) return &r;
  }
  return nullptr;
}

void KpiState::note_event(const xrm::v1::ServiceEvent& event, std::int64_t at_ms, const KpiTargets& targets) {
  const std::string& type = event.type();
  if (type == "fault") {
    const std::string code = event.has_code() ? event.code() : std::string();
    auto it = std::find_if(codes_at_service_.begin(), codes_at_service_.end(), [&](const auto& c) { return c == code; });
    if (it != codes_at_service_.end() && last_service_done_ms_ != 0 &&
        at_ms - last_service_done_ms_ <= targets.recurrence_window.count()) {
      returns_.push_back({code, at_ms, last_service_done_ms_});
      drop_oldest_beyond(returns_, kMaxReturns);
      codes_at_service_.erase(it);  // one return per code and visit
    }
    auto known = std::find_if(fault_codes_.begin(), fault_codes_.end(), [&](const auto& c) { return c.first == code; });
    if (known != fault_codes_.end()) fault_codes_.erase(known);
    fault_codes_.emplace_back(code, at_ms);
    drop_oldest_beyond(fault_codes_, kMaxFaultCodes);
  } else if (type == "service_done") {
    last_service_done_ms_ = at_ms;
    codes_at_service_.clear();
    for (const auto& [code, fault_ms] : fault_codes_) {
      if (at_ms - fault_ms <= targets.recurrence_window.count()) codes_at_service_.push_back(code);
    }
    if (Request* r = find_request(event.request_id(), false); r != nullptr && r->done_ms == 0) r->done_ms = at_ms;
  } else if (type == "service_request") {
    requests_.push_back({event.request_id(), at_ms, 0, std::nullopt, 0});
    drop_oldest_beyond(requests_, kMaxRequests);
  } else if (type == "satisfaction" && event.has_score()) {
    if (Request* r = find_request(event.request_id(), true); r != nullptr) {
      r->score = event.score();
      r->score_ms = at_ms;
    }
  }
}

std::size_t KpiState::returns_within(const KpiTargets& t, std::int64_t now_ms) const {
  return static_cast<std::size_t>(std::count_if(returns_.begin(), returns_.end(), [&](const Return& r) {
    return now_ms - r.at_ms <= t.recurrence_window.count();
  }));
}

KpiState::Outcome KpiState::outcome(const Request& r, const KpiTargets& t, std::int64_t now_ms) const {
  const std::int64_t deadline = r.opened_ms + t.sla.count();
  const bool done_in_time = r.done_ms != 0 && r.done_ms <= deadline;
  const bool rated_in_time = r.score && r.score_ms <= deadline;
  if (done_in_time && rated_in_time && *r.score >= t.satisfaction_min) return Outcome::kSatisfied;
  if (r.score && *r.score < t.satisfaction_min) return Outcome::kFailed;
  if (now_ms > deadline) return Outcome::kFailed;
  return Outcome::kPending;
}

void KpiState::request_counts(const KpiTargets& t, std::int64_t now_ms, std::size_t& satisfied, std::size_t& failed,
                              std::size_t& pending) const {
  satisfied = failed = pending = 0;
  for (const auto& r : requests_) {
    if (now_ms - r.opened_ms > t.period.count()) continue;
    switch (outcome(r, t, now_ms)) {
      case Outcome::kSatisfied: ++satisfied; break;
      case Outcome::kFailed: ++failed; break;
      case Outcome::kPending: ++pending; break;
    }
  }
}

void KpiState::advance(std::int64_t now_ms, const KpiTargets& targets) {
  const std::int64_t timeout = kResponseTimeoutTargets * targets.response_target.count();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_ms - it->sent_ms > timeout) {
      response_samples_.push_back(now_ms - it->sent_ms);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  drop_oldest_beyond(response_samples_, kMaxResponseSamples);
  returns_.erase(std::remove_if(returns_.begin(), returns_.end(),
                                [&](const Return& r) { return now_ms - r.at_ms > targets.recurrence_window.count(); }),
                 returns_.end());
  requests_.erase(std::remove_if(requests_.begin(), requests_.end(),
                                 [&](const Request& r) { return now_ms - r.opened_ms > targets.period.count(); }),
                  requests_.end());
}

// --- penalties and explanations -----------------------------------------------------------------

void KpiState::penalties(const Profile& p, std::int64_t now_ms, double out[kKpiFactors]) const {
  const KpiTargets& t = p.kpi;
  const Weights& w = p.weights;
  for (std::size_t i = 0; i < kKpiFactors; ++i) out[i] = 0;

  // silence: nothing for up to 2 intervals, then linear up to the whole weight at offline_after.
  if (last_data_ms_) {
    const double s = static_cast<double>(silence_ms(now_ms));
    const double grace = static_cast<double>(kSilenceGraceIntervals * p.expected_interval.count());
    const double offline = static_cast<double>(p.offline_after.count());
    const double frac = offline > grace ? clamp01((s - grace) / (offline - grace)) : (s >= offline ? 1.0 : 0.0);
    out[0] = w.silence * frac;
  }
  // gaps: share of expected sequence numbers missing in the window, whole weight at gaps_full %.
  std::uint64_t expected = 0;
  std::uint64_t missed = 0;
  gap_totals(t, now_ms, expected, missed);
  if (expected > 0) {
    const double share_pct = 100.0 * static_cast<double>(missed) / static_cast<double>(expected);
    out[1] = w.gaps * clamp01(share_pct / t.gaps_full);
  }
  // response: p90 over the target, whole weight at twice the target.
  std::size_t samples = 0;
  if (auto p90 = response_p90(t, now_ms, samples)) {
    const double target = static_cast<double>(t.response_target.count());
    out[2] = w.response * clamp01((static_cast<double>(*p90) - target) / target);
  }
  // recurrence: half the weight per return within the window.
  out[3] = w.recurrence * clamp01(static_cast<double>(returns_within(t, now_ms)) / kRecurrenceFull);
  // satisfaction: share of decided requests that failed.
  std::size_t ok = 0;
  std::size_t failed = 0;
  std::size_t pending = 0;
  request_counts(t, now_ms, ok, failed, pending);
  if (ok + failed > 0) out[4] = w.satisfaction * static_cast<double>(failed) / static_cast<double>(ok + failed);
}

Factor KpiState::explain(KpiFactor f, const Profile& p, std::int64_t now_ms) const {
  double penalties_now[kKpiFactors];
  penalties(p, now_ms, penalties_now);
  return explain_with(f, p, now_ms, penalties_now[static_cast<std::size_t>(f)]);
}

void KpiState::explain_all(const Profile& p, std::int64_t now_ms, std::vector<Factor>& out) const {
  double penalties_now[kKpiFactors];
  penalties(p, now_ms, penalties_now);
  for (std::size_t i = 0; i < kKpiFactors; ++i) {
    out.push_back(explain_with(static_cast<KpiFactor>(i), p, now_ms, penalties_now[i]));
  }
}

Factor KpiState::explain_with(KpiFactor f, const Profile& p, std::int64_t now_ms, double penalty) const {
  const KpiTargets& t = p.kpi;
  Factor out;
  out.name = std::string(to_string(f));
  out.penalty = penalty;
  switch (f) {
    case KpiFactor::kSilence: {
      out.unit = "s";
      if (!last_data_ms_) {
        out.why = "no data yet";
        break;
      }
      const std::int64_t s = silence_ms(now_ms);
      out.value = static_cast<double>(s) / 1000.0;
      out.why = "last data " + readable_duration(s) + " ago; expected every " +
                readable_duration(p.expected_interval.count()) + ", offline after " +
                readable_duration(p.offline_after.count());
      break;
    }
    case KpiFactor::kGaps: {
      out.unit = "%";
      std::uint64_t expected = 0;
      std::uint64_t missed = 0;
      gap_totals(t, now_ms, expected, missed);
      if (expected == 0) {
        out.why = "no numbered telemetry in the last " + readable_duration(t.gaps_window.count());
        break;
      }
      const double share = 100.0 * static_cast<double>(missed) / static_cast<double>(expected);
      out.value = share;
      out.why = std::to_string(missed) + " of " + std::to_string(expected) + " expected messages missing (" +
                readable_number(std::round(share * 10) / 10) + "%) in the last " + readable_duration(t.gaps_window.count()) +
                "; whole weight at " + readable_number(t.gaps_full) + "%";
      break;
    }
    case KpiFactor::kResponse: {
      out.unit = "ms";
      std::size_t samples = 0;
      const auto p90 = response_p90(t, now_ms, samples);
      if (!p90) {
        out.why = "no command results yet";
        break;
      }
      out.value = static_cast<double>(*p90);
      out.why = "p90 command response " + readable_duration(*p90) + " over " + plural(samples, "result", "results") +
                (pending_.empty() ? "" : " (" + plural(pending_.size(), "command", "commands") + " waiting)") +
                "; target " + readable_duration(t.response_target.count());
      break;
    }
    case KpiFactor::kRecurrence: {
      out.unit = "returns";
      const std::size_t n = returns_within(t, now_ms);
      out.value = static_cast<double>(n);
      if (n == 0) {
        out.why = "no fault returned within " + readable_duration(t.recurrence_window.count()) + " of a service_done";
        break;
      }
      const Return& last = returns_.back();
      out.why = "fault " + code_name(last.code) + " returned " + readable_duration(last.at_ms - last.service_ms) +
                " after service_done; " + plural(n, "return", "returns") + " in the last " +
                readable_duration(t.recurrence_window.count());
      break;
    }
    case KpiFactor::kSatisfaction: {
      out.unit = "% failed";
      std::size_t ok = 0;
      std::size_t failed = 0;
      std::size_t pending = 0;
      request_counts(t, now_ms, ok, failed, pending);
      const std::string tail = pending == 0 ? "" : " (" + std::to_string(pending) + " open)";
      if (ok + failed == 0) {
        out.why = "no service request decided in the last " + readable_duration(t.period.count()) + tail;
        break;
      }
      out.value = 100.0 * static_cast<double>(failed) / static_cast<double>(ok + failed);
      out.why = std::to_string(failed) + " of " + plural(ok + failed, "service request", "service requests") +
                " in the last " + readable_duration(t.period.count()) +
                " not closed by service_done and a satisfaction >= " + readable_number(t.satisfaction_min) +
                " within " + readable_duration(t.sla.count()) + tail;
      break;
    }
  }
  return out;
}

// --- durable state ------------------------------------------------------------------------------

void KpiState::save(v1::KpiData& out) const {
  out.Clear();
  if (last_data_ms_) out.set_last_data_ms(*last_data_ms_);
  for (const auto& b : gap_buckets_) {
    auto* d = out.add_gap_buckets();
    d->set_index(b.index);
    d->set_expected(b.expected);
    d->set_missed(b.missed);
  }
  for (auto s : response_samples_) out.add_response_samples(s);
  for (const auto& p : pending_) {
    auto* d = out.add_pending();
    d->set_request_id(p.request_id);
    d->set_sent_ms(p.sent_ms);
  }
  for (const auto& [code, at] : fault_codes_) {
    auto* d = out.add_fault_codes();
    d->set_code(code);
    d->set_at_ms(at);
  }
  out.set_last_service_done_ms(last_service_done_ms_);
  for (const auto& c : codes_at_service_) out.add_codes_at_service(c);
  for (const auto& r : returns_) {
    auto* d = out.add_returns();
    d->set_code(r.code);
    d->set_at_ms(r.at_ms);
    d->set_service_ms(r.service_ms);
  }
  for (const auto& r : requests_) {
    auto* d = out.add_requests();
    d->set_request_id(r.request_id);
    d->set_opened_ms(r.opened_ms);
    d->set_done_ms(r.done_ms);
    if (r.score) d->set_score(*r.score);
    d->set_score_ms(r.score_ms);
  }
}

void KpiState::restore(const v1::KpiData& in) {
  *this = KpiState{};
  if (in.has_last_data_ms()) last_data_ms_ = in.last_data_ms();
  // Every list is cut to its bound, whatever the stored state holds.
  for (const auto& b : in.gap_buckets()) {
    if (gap_buckets_.size() < kGapBuckets) gap_buckets_.push_back({b.index(), b.expected(), b.missed()});
  }
  for (auto s : in.response_samples()) response_samples_.push_back(s);
  drop_oldest_beyond(response_samples_, kMaxResponseSamples);
  for (const auto& p : in.pending()) pending_.push_back({p.request_id(), p.sent_ms()});
  drop_oldest_beyond(pending_, kMaxPendingCommands);
  for (const auto& c : in.fault_codes()) fault_codes_.emplace_back(c.code(), c.at_ms());
  drop_oldest_beyond(fault_codes_, kMaxFaultCodes);
  last_service_done_ms_ = in.last_service_done_ms();
  for (const auto& c : in.codes_at_service()) codes_at_service_.push_back(c);
  drop_oldest_beyond(codes_at_service_, kMaxFaultCodes);
  for (const auto& r : in.returns()) returns_.push_back({r.code(), r.at_ms(), r.service_ms()});
  drop_oldest_beyond(returns_, kMaxReturns);
  for (const auto& r : in.requests()) {
    Request q{r.request_id(), r.opened_ms(), r.done_ms(), std::nullopt, r.score_ms()};
    if (r.has_score()) q.score = r.score();
    requests_.push_back(std::move(q));
  }
  drop_oldest_beyond(requests_, kMaxRequests);
}

}  // namespace xrm::health
