#include "scorecards.hpp"

#include <map>
#include <set>

#include "xrm/common/log.hpp"
#include "xrm/registry/device.hpp"

namespace xrm::app {
namespace {

constexpr scorecard::Role kRoles[] = {scorecard::Role::kTechnician, scorecard::Role::kSupplier,
                                      scorecard::Role::kModel, scorecard::Role::kOwner, scorecard::Role::kSite};

}  // namespace

xrm::v1::StakeholderRole to_proto(scorecard::Role role) {
  switch (role) {
    case scorecard::Role::kTechnician: return xrm::v1::STAKEHOLDER_ROLE_TECHNICIAN;
    case scorecard::Role::kSupplier: return xrm::v1::STAKEHOLDER_ROLE_SUPPLIER;
    case scorecard::Role::kModel: return xrm::v1::STAKEHOLDER_ROLE_MODEL;
    case scorecard::Role::kOwner: return xrm::v1::STAKEHOLDER_ROLE_OWNER;
    case scorecard::Role::kSite: return xrm::v1::STAKEHOLDER_ROLE_SITE;
  }
  return xrm::v1::STAKEHOLDER_ROLE_UNSPECIFIED;
}

xrm::v1::InteractionRecord scorecard_record(const scorecard::Scorecard& card, std::int64_t period_ms,
                                            std::int64_t now_ms) {
  xrm::v1::InteractionRecord rec;
  rec.set_kind(xrm::v1::RECORD_KIND_SCORECARD);
  auto* who = rec.mutable_stakeholders();
  switch (card.role) {
    case scorecard::Role::kTechnician: who->set_technician(card.stakeholder); break;
    case scorecard::Role::kSupplier: who->set_supplier(card.stakeholder); break;
    case scorecard::Role::kModel: who->set_model(card.stakeholder); break;
    case scorecard::Role::kOwner: who->set_owner(card.stakeholder); break;
    case scorecard::Role::kSite: who->set_site(card.stakeholder); break;
  }
  rec.set_span_start_ms(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ms - period_ms)));
  rec.set_span_end_ms(static_cast<std::uint64_t>(now_ms));
  rec.set_created_at_ms(static_cast<std::uint64_t>(now_ms));
  auto* b = rec.mutable_scorecard();
  b->set_role(to_proto(card.role));
  b->set_stakeholder_id(card.stakeholder);
  b->set_period_ms(static_cast<std::uint64_t>(period_ms));
  b->set_device_count(static_cast<std::uint32_t>(card.device_count));
  for (const auto& f : card.figures) {
    auto* fig = b->add_figures();
    fig->set_name(f.name);
    fig->set_value(f.value);
    fig->set_unit(f.unit);
  }
  if (card.score) b->set_score(*card.score);
  if (card.rank > 0) b->set_rank(card.rank);
  b->set_ranked_count(card.ranked_count);
  b->set_explanation(card.explanation);
  return rec;
}

Scorecards::Scorecards(store::Database& db, const registry::Registry& registry, const health::HealthEngine& health,
                       outbox::Outbox& outbox, const Clock& clock, ProfileOf profile_of, ScorecardSettings settings)
    : db_(db),
      registry_(registry),
      health_(health),
      outbox_(outbox),
      clock_(clock),
      profile_of_(std::move(profile_of)),
      settings_(std::move(settings)) {}

Result<std::vector<scorecard::DeviceFacts>> Scorecards::device_facts() {
  // The relationship history of every device in one query: link changes and lifecycle moves.
  std::map<std::string, std::vector<registry::HistoryEntry>> history;
  auto q = db_.prepare(
      "SELECT device, at_ms, what, old, new, actor FROM device_history "
      "WHERE what IN ('owner', 'site', 'technician', 'supplier', 'model', 'lifecycle') ORDER BY id;");
  if (!q) return q.status();
  while (true) {
    auto row = q->step();
    if (!row) return row.status();
    if (!*row) break;
    history[q->column_text(0)].push_back(
        {q->column_int(1), q->column_text(2), q->column_text(3), q->column_text(4), q->column_text(5)});
  }
  std::vector<scorecard::DeviceFacts> out;
  for (const registry::Device* d : registry_.list()) {
    scorecard::DeviceFacts f;
    f.id = d->id;
    f.device_class = d->class_name;
    f.links = d->links;
    f.firmware = d->firmware;
    f.created_ms = d->created_ms;
    f.retired_ms = d->retired_ms;
    if (auto it = history.find(d->id); it != history.end()) f.history = std::move(it->second);
    f.lifecycle = std::string(registry::to_string(d->lifecycle));
    if (auto sc = health_.score_of(d->id)) f.score = sc->first;
    // Silent beyond its profile: offline, or the silence factor is taking points (its last data is
    // more than two expected intervals old).
    f.silent_beyond_profile = d->lifecycle == registry::Lifecycle::kOffline;
    if (!f.silent_beyond_profile && d->lifecycle != registry::Lifecycle::kRetired) {
      if (auto ex = health_.explain(d->id)) {
        for (const auto& factor : ex->factors) {
          if (factor.name == "silence" && !factor.rule && factor.penalty > 0) f.silent_beyond_profile = true;
        }
      }
    }
    f.open_alerts = health_.open_alerts(d->id).size();
    if (const health::Profile* p = profile_of_ ? profile_of_(d->class_name) : nullptr) {
      f.satisfaction_min = p->kpi.satisfaction_min;
      f.sla_ms = p->kpi.sla.count();
      f.recurrence_window_ms = p->kpi.recurrence_window.count();
    }
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<scorecard::ServiceEvent>> Scorecards::service_events(std::int64_t since_ms) {
  auto q = db_.prepare(
      "SELECT device, at_ms, type, code, technician, request_id, score FROM service_events "
      "WHERE at_ms >= ? ORDER BY at_ms, id;");
  if (!q) return q.status();
  q->bind(1, since_ms);
  std::vector<scorecard::ServiceEvent> out;
  while (true) {
    auto row = q->step();
    if (!row) return row.status();
    if (!*row) break;
    scorecard::ServiceEvent e;
    e.device = q->column_text(0);
    e.at_ms = q->column_int(1);
    e.type = q->column_text(2);
    e.code = q->column_text(3);
    e.technician = q->column_text(4);
    e.request_id = q->column_text(5);
    if (!q->column_is_null(6)) e.score = q->column_double(6);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<scorecard::Scorecard>> Scorecards::compute(scorecard::Role role, std::chrono::milliseconds period) {
  const std::int64_t now = clock_.unix_ms();
  auto devices = device_facts();
  if (!devices) return devices.status();
  // Returns look back one recurrence window before the period's start.
  std::int64_t look_back = 0;
  for (const auto& d : *devices) look_back = std::max(look_back, d.recurrence_window_ms);
  auto events = service_events(now - period.count() - look_back);
  if (!events) return events.status();
  return scorecard::compute(role, period.count(), now, *devices, *events);
}

Status Scorecards::publish() {
  const std::int64_t now = clock_.unix_ms();
  auto devices = device_facts();
  if (!devices) return devices.status();
  std::int64_t look_back = 0;
  for (const auto& d : *devices) look_back = std::max(look_back, d.recurrence_window_ms);
  auto events = service_events(now - settings_.period.count() - look_back);
  if (!events) return events.status();
  std::vector<xrm::v1::InteractionRecord> records;
  for (scorecard::Role role : kRoles) {
    for (const auto& card : scorecard::compute(role, settings_.period.count(), now, *devices, *events)) {
      records.push_back(scorecard_record(card, settings_.period.count(), now));
    }
  }
  std::uint64_t pruned = 0;
  Status st = db_.transaction([&]() -> Status {
    for (auto& r : records) {
      if (auto seq = outbox_.append(r); !seq) return seq.status();
    }
    auto prune = db_.prepare("DELETE FROM service_events WHERE at_ms < ?;");
    if (!prune) return prune.status();
    prune->bind(1, now - settings_.retention.count());
    if (Status s = prune->run(); !s) return s;
    pruned = static_cast<std::uint64_t>(sqlite3_changes(db_.handle()));
    return Status::ok();
  });
  if (!st) return st;
  ++stats_.runs;
  stats_.records += records.size();
  stats_.pruned += pruned;
  stats_.last_run_ms = now;
  XRM_INFO << "scorecards: " << records.size() << " records for " << devices->size() << " devices"
           << (pruned > 0 ? ", " + std::to_string(pruned) + " service events older than the retention deleted" : "");
  return Status::ok();
}

}  // namespace xrm::app
