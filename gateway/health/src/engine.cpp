#include "xrm/health/engine.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "xrm/common/log.hpp"
#include "xrm/common/topics.hpp"
#include "xrm/health/proto/health_state.pb.h"

namespace xrm::health {

namespace {

constexpr std::string_view kActor = "gateway:health";

double clamp_score(double v) { return v < 0 ? 0 : v > 100 ? 100 : v; }

// How bad a band is, for "worse than".
int severity(Band b) { return b == Band::kCritical ? 2 : b == Band::kDegraded ? 1 : 0; }

xrm::v1::HealthBand to_proto(Band b) { return static_cast<xrm::v1::HealthBand>(b); }

void to_proto(const Factor& f, xrm::v1::Factor* out) {
  out->set_name(f.name);
  out->set_penalty(f.penalty);
  if (f.value) out->set_value(*f.value);
  out->set_unit(f.unit);
  out->set_why(f.why);
}

Escalation action_for(const Profile& p, Band b, std::string& command) {
  if (b == Band::kDegraded) {
    command = p.degraded_command;
    return p.on_degraded;
  }
  if (b == Band::kCritical) {
    command = p.critical_command;
    return p.on_critical;
  }
  command.clear();
  return Escalation::kNone;
}

std::string score_text(double score) { return readable_number(std::round(score * 10) / 10); }

}  // namespace

std::string_view to_string(Band band) {
  switch (band) {
    case Band::kHealthy: return "healthy";
    case Band::kDegraded: return "degraded";
    case Band::kCritical: return "critical";
    case Band::kUnknown: break;
  }
  return "unknown";
}

HealthEngine::HealthEngine(store::Database& db, registry::Registry& registry, outbox::Outbox& outbox,
                           const Clock& clock, EngineSettings settings)
    : db_(db), registry_(registry), outbox_(outbox), clock_(clock), settings_(std::move(settings)) {}

// --- set-up ---------------------------------------------------------------------------------------

Status HealthEngine::load(const Profiles& profiles) {
  set_profiles(profiles);
  alerts_.clear();
  {
    auto stmt = db_.prepare(
        "SELECT alert_id, device, cause, action, band, opened_ms, repeats, reason, command, request_id, assignee "
        "FROM alerts ORDER BY opened_ms, alert_id;");
    if (!stmt) return stmt.status();
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.status();
      if (!*row) break;
      OpenAlert a;
      a.alert_id = stmt->column_text(0);
      a.device = stmt->column_text(1);
      a.cause = stmt->column_text(2);
      a.action = static_cast<Escalation>(stmt->column_int(3));
      a.band = static_cast<Band>(stmt->column_int(4));
      a.opened_ms = stmt->column_int(5);
      a.repeats = static_cast<std::uint64_t>(stmt->column_int(6));
      a.reason = stmt->column_text(7);
      a.command = stmt->column_text(8);
      a.request_id = stmt->column_text(9);
      a.assignee = stmt->column_text(10);
      alerts_.push_back(std::move(a));
    }
  }
  auto stmt = db_.prepare("SELECT device, data FROM health_state;");
  if (!stmt) return stmt.status();
  std::size_t restored = 0;
  std::size_t unreadable = 0;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) break;
    const std::string id = stmt->column_text(0);
    const registry::Device* d = registry_.find(id);
    if (d == nullptr) continue;
    v1::DeviceHealthData data;
    const std::string blob = stmt->column_blob(1);
    if (!data.ParseFromString(blob)) {
      ++unreadable;  // starts afresh; its alerts are still known
      continue;
    }
    DeviceState& st = state_of(*d);
    if (st.rules && data.class_name() == d->class_name) st.rules->restore(st.profile->rules, data.rules());
    st.kpi.restore(data.kpi());
    if (d->last_seen_ms) st.kpi.seed_last_data(*d->last_seen_ms);
    st.band = static_cast<Band>(std::clamp(data.band(), 0, 3));
    st.pending_band = static_cast<Band>(std::clamp(data.pending_band(), 0, 3));
    st.pending_since_ms = data.pending_since_ms();
    st.band_since_ms = data.band_since_ms();
    if (data.has_score()) st.score = data.score();
    st.clock_ms = data.clock_ms();
    ++restored;
  }
  // Devices with data but no saved state yet (first start with this version, or a crash before
  // their first save) start with their last-seen time, so silence is right from the start.
  for (const registry::Device* d : registry_.list()) {
    if (d->first_data_ms && d->lifecycle != registry::Lifecycle::kRetired) state_of(*d);
  }
  if (unreadable > 0) {
    XRM_WARN << "health: " << unreadable << " saved device state(s) unreadable; started afresh";
  }
  XRM_INFO << "health: restored the state of " << restored << " device(s), " << alerts_.size() << " open alert(s)";
  return Status::ok();
}

void HealthEngine::set_profiles(const Profiles& profiles) {
  std::unordered_map<std::string, std::shared_ptr<const CompiledProfile>> fresh;
  for (const auto& p : profiles.profiles) fresh.emplace(p.class_name, std::make_shared<const CompiledProfile>(p));
  profiles_ = std::move(fresh);
  for (auto& [device, st] : devices_) {
    // Carry windows and timers over where the rules still match them.
    v1::RuleStateData saved;
    const bool had_rules = st.rules != nullptr;
    if (had_rules) st.rules->save(saved);
    bind_profile(st);
    if (st.rules && had_rules) st.rules->restore(st.profile->rules, saved);
    st.dirty = true;
  }
}

void HealthEngine::bind_profile(DeviceState& st) {
  auto it = profiles_.find(st.device->class_name);
  st.profile = it == profiles_.end() ? nullptr : it->second;
  st.rules = st.profile ? std::make_unique<RuleState>(st.profile->rules) : nullptr;
}

HealthEngine::DeviceState& HealthEngine::state_of(const registry::Device& d) {
  auto it = devices_.find(&d);
  if (it != devices_.end()) return it->second;
  DeviceState& st = devices_[&d];
  st.device = &d;
  bind_profile(st);
  if (d.last_seen_ms) st.kpi.seed_last_data(*d.last_seen_ms);
  return st;
}

HealthEngine::DeviceState* HealthEngine::find_state(std::string_view id) {
  const registry::Device* d = registry_.find(id);
  if (d == nullptr) return nullptr;
  auto it = devices_.find(d);
  return it == devices_.end() ? nullptr : &it->second;
}

const HealthEngine::DeviceState* HealthEngine::find_state(std::string_view id) const {
  return const_cast<HealthEngine*>(this)->find_state(id);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

std::int64_t HealthEngine::now_for(DeviceState& st) {
  // A wall clock stepped back must not run windows or timers backwards: time stands still until
  // it catches up.
  st.clock_ms = std::max(st.clock_ms, clock_.unix_ms());
  return st.clock_ms;
}

bool HealthEngine::scored(const DeviceState& st) const {
  return st.profile && st.device->first_data_ms && st.device->lifecycle != registry::Lifecycle::kRetired;
}

// --- input --------------------------------------------------------------------------------------

void HealthEngine::on_telemetry(const registry::Device& device, const ingest::TelemetrySample& sample,
                                const ingest::DeviceIngest& ingest) {
  DeviceState& st = state_of(device);
  if (!st.profile) return;
  const std::int64_t now = now_for(st);
  const Profile& p = st.profile->profile;
  if (!sample.metrics.empty()) st.kpi.note_data(now);
  const auto& c = ingest.telemetry.counters();
  st.kpi.note_sequence(c.received, c.duplicates, c.missed, now, p.kpi);
  // A metric no rule reads costs one hash lookup inside add().
  for (const auto& m : sample.metrics) st.rules->add(st.profile->rules, m.name, now, m.value);
  st.dirty = true;
  evaluate(st, now);
}

void HealthEngine::on_event(const registry::Device& device, const xrm::v1::ServiceEvent& event) {
  DeviceState& st = state_of(device);
  if (!st.profile) return;
  const std::int64_t now = now_for(st);
  st.kpi.note_data(now);
  st.kpi.note_event(event, now, st.profile->profile.kpi);
  const std::string metric = "event." + event.type();
  if (st.profile->rules.reads(metric)) {
    st.rules->add(st.profile->rules, metric, now, event.has_score() ? event.score() : 1.0);
  }
  st.dirty = true;
  evaluate(st, now);
}

void HealthEngine::on_command_result(const registry::Device& device, const xrm::v1::CommandResult& result) {
  DeviceState& st = state_of(device);
  if (!st.profile) return;
  const std::int64_t now = now_for(st);
  if (st.kpi.note_command_result(result.request_id(), now)) {
    st.dirty = true;
    evaluate(st, now);
  }
}

// --- evaluation -------------------------------------------------------------------------------

double HealthEngine::compute_score(const DeviceState& st, std::int64_t now_ms) const {
  const Profile& p = st.profile->profile;
  double pen[kKpiFactors];
  st.kpi.penalties(p, now_ms, pen);
  double total = 0;
  for (double v : pen) total += v;
  const auto& rules = st.rules->status();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].counting) total += p.rules[i].penalty;
  }
  return clamp_score(100 - total);
}

Band HealthEngine::candidate_band(const Profile& p, Band current, double score) const {
  const double healthy = p.healthy_band;
  const double critical = p.critical_band;
  // Back into a better band only `hysteresis` points past its edge (never beyond 100).
  const double healthy_back = std::min(healthy + p.hysteresis, 100.0);
  const double degraded_back = std::min(critical + p.hysteresis, healthy_back);
  switch (current) {
    case Band::kDegraded:
      if (score < critical) return Band::kCritical;
      return score >= healthy_back ? Band::kHealthy : Band::kDegraded;
    case Band::kCritical:
      if (score >= healthy_back) return Band::kHealthy;
      return score >= degraded_back ? Band::kDegraded : Band::kCritical;
    case Band::kHealthy:
    case Band::kUnknown: break;
  }
  return score >= healthy ? Band::kHealthy : score < critical ? Band::kCritical : Band::kDegraded;
}

void HealthEngine::evaluate(DeviceState& st, std::int64_t now_ms) {
  if (!scored(st)) return;
  ++stats_.evaluations;
  const double score = compute_score(st, now_ms);
  if (!st.score || std::fabs(score - *st.score) > 1e-9) {
    st.score = score;
    st.dirty = true;
  }
  if (std::fabs(score - st.snapshot_score) >= 1.0) st.snapshot_due = true;
  const Profile& p = st.profile->profile;
  const Band candidate = candidate_band(p, st.band, score);
  if (st.band == Band::kUnknown) {
    change_band(st, candidate, now_ms);
    return;
  }
  if (candidate == st.band) {
    if (st.pending_band != Band::kUnknown) {
      st.pending_band = Band::kUnknown;
      st.dirty = true;
    }
    return;
  }
  if (candidate != st.pending_band) {
    st.pending_band = candidate;
    st.pending_since_ms = now_ms;
    st.dirty = true;
  }
  if (now_ms - st.pending_since_ms >= p.dwell.count()) change_band(st, candidate, now_ms);
}

std::vector<Factor> HealthEngine::factors_of(const DeviceState& st, std::int64_t now_ms) const {
  std::vector<Factor> out;
  const Profile& p = st.profile->profile;
  st.kpi.explain_all(p, now_ms, out);
  const auto& status = st.rules->status();
  for (std::size_t i = 0; i < status.size(); ++i) {
    const Rule& r = p.rules[i];
    Factor f;
    f.name = r.name;
    f.rule = true;
    f.penalty = status[i].counting ? r.penalty : 0;
    f.value = status[i].value;
    f.unit = std::string(to_string(r.condition.func)) + "(" + r.condition.metric + ")";
    f.why = st.rules->explain(st.profile->rules, i, now_ms);
    out.push_back(std::move(f));
  }
  // Largest penalty first; ties keep KPI factors before rules, each in their order.
  std::stable_sort(out.begin(), out.end(), [](const Factor& a, const Factor& b) { return a.penalty > b.penalty; });
  return out;
}

std::string HealthEngine::dominant_cause(const std::vector<Factor>& factors) const {
  // factors_of sorts by penalty: the first is the dominant one, if it takes anything at all.
  return !factors.empty() && factors.front().penalty > 0 ? factors.front().name : "score";
}

void HealthEngine::change_band(DeviceState& st, Band to, std::int64_t now_ms) {
  const registry::Device& d = *st.device;
  const Profile& p = st.profile->profile;
  const Band from = st.band;
  const double score = st.score.value_or(0);
  const std::vector<Factor> factors = factors_of(st, now_ms);
  std::string command;
  const Escalation action = action_for(p, to, command);

  const std::vector<OpenAlert> before = alerts_;
  const HealthStats stats_before = stats_;
  unsent_commands_.clear();
  // The band, its record and its alerts are one transaction: together or not at all.
  const Band old_band = st.band;
  const Band old_pending = st.pending_band;
  const std::int64_t old_since = st.band_since_ms;
  st.band = to;
  st.pending_band = Band::kUnknown;
  st.band_since_ms = now_ms;
  Status written = db_.transaction([&]() -> Status {
    xrm::v1::InteractionRecord rec;
    rec.set_kind(xrm::v1::RECORD_KIND_HEALTH);
    registry::fill_record_header(d, static_cast<std::uint64_t>(old_since != 0 ? old_since : now_ms),
                                 static_cast<std::uint64_t>(now_ms), rec);
    auto* body = rec.mutable_health();
    body->set_from_band(to_proto(from));
    body->set_to_band(to_proto(to));
    body->set_score(score);
    for (const auto& f : factors) to_proto(f, body->add_factors());
    if (auto seq = outbox_.append(rec); !seq) return seq.status();
    Status st_alerts = action == Escalation::kNone ? clear_alerts(st, factors, score, now_ms)
                                                   : open_or_repeat(st, to, action, command, factors, score, now_ms);
    if (!st_alerts) return st_alerts;
    return save_state(st);
  });
  if (!written) {
    // Nothing happened: try again at the next evaluation.
    unsent_commands_.clear();
    alerts_ = before;
    stats_ = stats_before;
    st.band = old_band;
    st.pending_band = old_pending;
    st.band_since_ms = old_since;
    ++stats_.record_errors;
    XRM_ERROR << "health: " << d.id << ": band change " << to_string(from) << " -> " << to_string(to)
              << " not written: " << written.message();
    return;
  }
  ++stats_.band_changes;
  st.dirty = false;
  st.snapshot_due = true;
  st.snapshot_urgent = true;
  XRM_INFO << "health: " << d.id << ": " << to_string(from) << " -> " << to_string(to) << ", score "
           << score_text(score) << (factors.empty() || factors.front().penalty <= 0 ? "" : "; " + factors.front().name + ": " + factors.front().why);
  // Commands go out once their alert is durable: a crash in between loses the command, never
  // sends it twice.
  for (auto& a : alerts_) {
    if (std::find(unsent_commands_.begin(), unsent_commands_.end(), a.alert_id) != unsent_commands_.end() &&
        command_sink_) {
      xrm::v1::Command cmd;
      cmd.set_request_id(a.request_id);
      cmd.set_name(a.command);
      cmd.set_issued_at_ms(static_cast<std::uint64_t>(now_ms));
      cmd.set_expires_at_ms(static_cast<std::uint64_t>(now_ms + kCommandTtlMs));
      cmd.set_device_id(d.id);
      cmd.set_issued_by(std::string(kActor));
      command_sink_(topics::dev_topic(d.id, "cmd/" + a.command), cmd.SerializeAsString());
      st.kpi.note_command_sent(a.request_id, now_ms);
      ++stats_.commands_sent;
    }
  }
  sync_lifecycle(st, now_ms);
  // The band change upstream at once, not at the next tick (up to half a second later): its
  // records are durable now; a failed or impossible publish is retried by the tick.
  publish_snapshot(st, clock_.unix_ms());
}

Status HealthEngine::open_or_repeat(DeviceState& st, Band band, Escalation action, const std::string& command,
                                    const std::vector<Factor>& factors, double score, std::int64_t now_ms) {
  const registry::Device& d = *st.device;
  const std::string cause = dominant_cause(factors);
  auto it = std::find_if(alerts_.begin(), alerts_.end(),
                         [&](const OpenAlert& a) { return a.device == d.id && a.cause == cause; });
  const std::string reason =
      std::string(to_string(band)) + ", score " + score_text(score) + ": " +
      (factors.empty() || factors.front().penalty <= 0 ? "score below the band's edge"
                                                       : cause + ": " + factors.front().why);
  if (it != alerts_.end()) {
    OpenAlert& a = *it;
    ++a.repeats;
    const bool worse = severity(band) > severity(a.band);
    if (worse) {
      a.band = band;
      a.action = action;
      if (action == Escalation::kServiceRequest) a.assignee = d.links.technician;
      if (action == Escalation::kCommand) {
        a.command = command;
        a.request_id = "health-" + std::to_string(now_ms) + "-" + std::to_string(next_request_++);
        unsent_commands_.push_back(a.alert_id);
      }
      ++stats_.alerts_escalated;
    } else {
      ++stats_.alerts_suppressed;
    }
    auto up = db_.prepare(
        "UPDATE alerts SET repeats = ?, band = ?, action = ?, command = ?, request_id = ?, assignee = ? "
        "WHERE alert_id = ?;");
    if (!up) return up.status();
    up->bind(1, static_cast<std::int64_t>(a.repeats))
        .bind(2, static_cast<std::int64_t>(a.band))
        .bind(3, static_cast<std::int64_t>(a.action))
        .bind(4, a.command)
        .bind(5, a.request_id)
        .bind(6, a.assignee)
        .bind(7, a.alert_id);
    if (Status s = up->run(); !s) return s;
    if (worse) return write_alert_record(d, a, xrm::v1::ALERT_STATE_OPENED, factors, score, now_ms, reason);
    return Status::ok();
  }
  OpenAlert a;
  a.device = d.id;
  a.cause = cause;
  a.action = action;
  a.band = band;
  a.opened_ms = now_ms;
  a.alert_id = d.id + "/" + cause + "/" + std::to_string(now_ms);
  a.reason = reason;
  if (action == Escalation::kServiceRequest) a.assignee = d.links.technician;
  if (action == Escalation::kCommand) {
    a.command = command;
    a.request_id = "health-" + std::to_string(now_ms) + "-" + std::to_string(next_request_++);
    unsent_commands_.push_back(a.alert_id);
  }
  auto ins = db_.prepare(
      "INSERT OR REPLACE INTO alerts (alert_id, device, cause, action, band, opened_ms, repeats, reason, command, "
      "request_id, assignee) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?);");
  if (!ins) return ins.status();
  ins->bind(1, a.alert_id)
      .bind(2, a.device)
      .bind(3, a.cause)
      .bind(4, static_cast<std::int64_t>(a.action))
      .bind(5, static_cast<std::int64_t>(a.band))
      .bind(6, a.opened_ms)
      .bind(7, a.reason)
      .bind(8, a.command)
      .bind(9, a.request_id)
      .bind(10, a.assignee);
  if (Status s = ins->run(); !s) return s;
  if (Status s = write_alert_record(d, a, xrm::v1::ALERT_STATE_OPENED, factors, score, now_ms, reason); !s) return s;
  alerts_.push_back(std::move(a));
  ++stats_.alerts_opened;
  return Status::ok();
}

Status HealthEngine::clear_alerts(DeviceState& st, const std::vector<Factor>& factors, double score,
                                  std::int64_t now_ms) {
  const registry::Device& d = *st.device;
  const std::string reason = d.lifecycle == registry::Lifecycle::kRetired
                                 ? std::string("device retired")
                                 : "back to " + std::string(to_string(st.band)) + ", score " + score_text(score);
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    if (it->device != d.id) {
      ++it;
      continue;
    }
    auto del = db_.prepare("DELETE FROM alerts WHERE alert_id = ?;");
    if (!del) return del.status();
    del->bind(1, it->alert_id);
    if (Status s = del->run(); !s) return s;
    if (Status s = write_alert_record(d, *it, xrm::v1::ALERT_STATE_CLEARED, factors, score, now_ms, reason); !s) {
      return s;
    }
    ++stats_.alerts_cleared;
    it = alerts_.erase(it);
  }
  return Status::ok();
}

Status HealthEngine::write_alert_record(const registry::Device& d, const OpenAlert& a, xrm::v1::AlertState state,
                                        const std::vector<Factor>& factors, double score, std::int64_t now_ms,
                                        const std::string& reason) {
  xrm::v1::InteractionRecord rec;
  rec.set_kind(xrm::v1::RECORD_KIND_ALERT);
  registry::fill_record_header(d, static_cast<std::uint64_t>(a.opened_ms), static_cast<std::uint64_t>(now_ms), rec);
  rec.set_created_at_ms(static_cast<std::uint64_t>(now_ms));
  auto* body = rec.mutable_alert();
  body->set_alert_id(a.alert_id);
  body->set_state(state);
  body->set_band(to_proto(a.band));
  body->set_action(static_cast<xrm::v1::EscalationAction>(a.action));
  body->set_reason(reason);
  for (const auto& f : factors) to_proto(f, body->add_factors());
  body->set_score(score);
  body->set_opened_at_ms(static_cast<std::uint64_t>(a.opened_ms));
  if (state == xrm::v1::ALERT_STATE_CLEARED) body->set_cleared_at_ms(static_cast<std::uint64_t>(now_ms));
  body->set_cause(a.cause);
  body->set_assignee(a.assignee);
  body->set_command(a.command);
  body->set_request_id(a.request_id);
  body->set_repeats(static_cast<std::uint32_t>(std::min<std::uint64_t>(a.repeats, UINT32_MAX)));
  body->set_escalated(state == xrm::v1::ALERT_STATE_OPENED && a.repeats > 0);
  auto seq = outbox_.append(rec);
  return seq ? Status::ok() : seq.status();
}

void HealthEngine::sync_lifecycle(DeviceState& st, std::int64_t now_ms) {
  const registry::Device& d = *st.device;
  using registry::Lifecycle;
  if (d.lifecycle == Lifecycle::kRetired || d.lifecycle == Lifecycle::kProvisioned || !st.profile) return;
  const Profile& p = st.profile->profile;
  const std::int64_t silence = st.kpi.silence_ms(now_ms);
  if (st.kpi.last_data_ms() && silence >= p.offline_after.count()) {
    if (d.lifecycle != Lifecycle::kOffline) {
      Status s = registry_.set_lifecycle(d.id, Lifecycle::kOffline, std::string(kActor),
                                         "silent for " + readable_duration(silence) + " (offline after " +
                                             readable_duration(p.offline_after.count()) + ")");
      if (!s) {
        XRM_ERROR << "health: " << d.id << ": " << s.message();
      }
    }
    return;
  }
  if (d.lifecycle == Lifecycle::kOffline) return;  // back to active with its next data (registry)
  const Lifecycle want = st.band == Band::kCritical   ? Lifecycle::kCritical
                         : st.band == Band::kDegraded ? Lifecycle::kDegraded
                                                      : Lifecycle::kActive;
  if (st.band != Band::kUnknown && d.lifecycle != want) {
    Status s = registry_.set_lifecycle(d.id, want, std::string(kActor),
                                       "health band " + std::string(to_string(st.band)) + ", score " +
                                           score_text(st.score.value_or(0)));
    if (!s) {
      XRM_ERROR << "health: " << d.id << ": " << s.message();
    }
  }
}

void HealthEngine::tick() {
  tick_begin();
  tick_step(tick_order_.size());
}

void HealthEngine::tick_begin() {
  tick_order_.clear();
  tick_order_.reserve(devices_.size());
  for (const auto& entry : devices_) tick_order_.push_back(entry.first);
  tick_next_ = 0;
}

bool HealthEngine::tick_step(std::size_t max_devices) {
  const std::size_t end = tick_next_ + std::min(max_devices, tick_order_.size() - tick_next_);
  for (; tick_next_ < end; ++tick_next_) {
    // States are never erased and unordered_map keeps references stable: the device is there.
    const registry::Device* device = tick_order_[tick_next_];
    DeviceState& st = devices_.find(device)->second;
    const std::int64_t now = now_for(st);
    if (device->lifecycle == registry::Lifecycle::kRetired) {
      if (std::any_of(alerts_.begin(), alerts_.end(), [&](const OpenAlert& a) { return a.device == device->id; })) {
        Status s = db_.transaction([&] { return clear_alerts(st, {}, st.score.value_or(0), now); });
        if (!s) {
          XRM_ERROR << "health: " << device->id << ": clearing the alerts of a retired device: " << s.message();
        }
      }
      continue;
    }
    if (!st.profile) continue;
    st.rules->evaluate(st.profile->rules, now);
    st.kpi.advance(now, st.profile->profile.kpi);
    evaluate(st, now);
    sync_lifecycle(st, now);
  }
  if (tick_next_ < tick_order_.size()) return true;
  tick_order_.clear();
  tick_next_ = 0;
  publish_snapshots(clock_.unix_ms());
  return false;
}

// --- durable state ------------------------------------------------------------------------------

Status HealthEngine::save_state(const DeviceState& st) {
  v1::DeviceHealthData data;
  if (st.rules) st.rules->save(*data.mutable_rules());
  st.kpi.save(*data.mutable_kpi());
  data.set_band(static_cast<int>(st.band));
  data.set_pending_band(static_cast<int>(st.pending_band));
  data.set_pending_since_ms(st.pending_since_ms);
  data.set_band_since_ms(st.band_since_ms);
  if (st.score) data.set_score(*st.score);
  data.set_clock_ms(st.clock_ms);
  data.set_class_name(st.device->class_name);
  auto stmt = db_.prepare("INSERT OR REPLACE INTO health_state (device, saved_ms, data) VALUES (?, ?, ?);");
  if (!stmt) return stmt.status();
  stmt->bind(1, st.device->id).bind(2, clock_.unix_ms()).bind_blob(3, data.SerializeAsString());
  return stmt->run();
}

Status HealthEngine::save() {
  std::vector<DeviceState*> dirty;
  for (auto& [device, st] : devices_) {
    if (st.dirty) dirty.push_back(&st);
  }
  if (dirty.empty()) return Status::ok();
  Status s = db_.transaction([&]() -> Status {
    for (DeviceState* st : dirty) {
      if (Status w = save_state(*st); !w) return w;
    }
    return Status::ok();
  });
  if (!s) {
    ++stats_.record_errors;
    return s;
  }
  for (DeviceState* st : dirty) st->dirty = false;
  ++stats_.saves;
  stats_.last_save_ms = clock_.unix_ms();
  return Status::ok();
}

// --- snapshots ----------------------------------------------------------------------------------

std::string HealthEngine::snapshot_payload(const DeviceState& st, std::int64_t now_ms) const {
  const registry::Device& d = *st.device;
  xrm::v1::HealthSnapshot snap;
  snap.set_gateway_id(settings_.gateway_id);
  snap.set_device_id(d.id);
  if (st.score) snap.set_score(*st.score);
  snap.set_band(to_proto(st.band));
  for (const auto& f : factors_of(st, now_ms)) to_proto(f, snap.add_factors());
  snap.set_computed_at_ms(static_cast<std::uint64_t>(now_ms));
  snap.set_profile_class(d.class_name);
  registry::to_proto(d.links, snap.mutable_stakeholders());
  if (d.last_seen_ms) snap.set_last_seen_ms(static_cast<std::uint64_t>(*d.last_seen_ms));
  snap.set_online(d.online.value_or(false));
  return snap.SerializeAsString();
}

void HealthEngine::publish_snapshots(std::int64_t now_ms) {
  if (!snapshot_sink_) return;
  std::size_t sent = 0;
  for (auto& [device, st] : devices_) {
    if (sent >= kSnapshotsPerTick) return;
    if (device->lifecycle == registry::Lifecycle::kRetired) {
      // The contract: a retired device's retained snapshot is cleared.
      if (st.snapshot_ms != 0 && !st.snapshot_cleared) {
        if (!snapshot_sink_(device->id, std::string())) return;
        st.snapshot_cleared = true;
        ++sent;
      }
      continue;
    }
    if (!scored(st) || !st.snapshot_due) continue;
    if (!st.snapshot_urgent && st.snapshot_ms != 0 && now_ms - st.snapshot_ms < settings_.snapshot_interval.count()) {
      continue;
    }
    if (!publish_snapshot(st, now_ms)) return;  // not connected: later
    ++sent;
  }
}

bool HealthEngine::publish_snapshot(DeviceState& st, std::int64_t now_ms) {
  if (!snapshot_sink_ || !scored(st)) return false;
  if (!snapshot_sink_(st.device->id, snapshot_payload(st, now_ms))) return false;
  st.snapshot_due = false;
  st.snapshot_urgent = false;
  st.snapshot_ms = now_ms;
  st.snapshot_score = st.score.value_or(0);
  ++stats_.snapshots_published;
  return true;
}

void HealthEngine::snapshot_failed(const std::string& device) {
  if (DeviceState* st = find_state(device)) st->snapshot_due = true;
}

// --- views --------------------------------------------------------------------------------------

std::optional<HealthEngine::Explained> HealthEngine::explain(std::string_view device) const {
  const DeviceState* st = find_state(device);
  if (st == nullptr || !scored(*st) || !st->score) return std::nullopt;
  const std::int64_t now = std::max(st->clock_ms, clock_.unix_ms());
  Explained e;
  e.score = compute_score(*st, now);
  e.band = st->band;
  if (st->pending_band != Band::kUnknown) e.pending_band = st->pending_band;
  e.pending_since_ms = st->pending_since_ms;
  e.band_since_ms = st->band_since_ms;
  e.factors = factors_of(*st, now);
  return e;
}

std::optional<std::pair<double, Band>> HealthEngine::score_of(std::string_view device) const {
  const DeviceState* st = find_state(device);
  if (st == nullptr || !scored(*st) || !st->score) return std::nullopt;
  return std::make_pair(*st->score, st->band);
}

std::string HealthEngine::no_score_reason(std::string_view device) const {
  const registry::Device* d = registry_.find(device);
  if (d == nullptr) return "not registered";
  if (d->lifecycle == registry::Lifecycle::kRetired) return "retired";
  if (profiles_.find(d->class_name) == profiles_.end()) return "class " + d->class_name + " has no profile";
  if (!d->first_data_ms) return "no data yet";
  return "not evaluated yet";
}

std::vector<OpenAlert> HealthEngine::open_alerts(std::string_view device) const {
  std::vector<OpenAlert> out;
  for (const auto& a : alerts_) {
    if (a.device == device) out.push_back(a);
  }
  return out;
}

std::map<std::string, std::size_t> HealthEngine::count_by_band() const {
  std::map<std::string, std::size_t> out;
  for (const auto& [device, st] : devices_) {
    if (scored(st) && st.score) ++out[std::string(to_string(st.band))];
  }
  return out;
}

}  // namespace xrm::health
