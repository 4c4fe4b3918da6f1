#pragma once
// Stakeholder scorecards: technicians, suppliers, models, owners and sites ranked by what the
// devices linked to them show over a period (issue 8). The formulas are docs/scorecards.md; each
// is named at the function that computes it.
//
// Pure computation: no storage, no I/O, no clock. Everything comes in as arguments and all times
// are ms since the Unix epoch as the gateway saw them. Plain values; no threads.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/registry/device.hpp"

namespace xrm::scorecard {

// The stakeholder roles a device links to (registry::Stakeholders' fields).
enum class Role { kTechnician, kSupplier, kModel, kOwner, kSite };
// "technician", "supplier", "model", "owner", "site"; nullopt for anything else.
std::optional<Role> parse_role(std::string_view text);
std::string_view to_string(Role role);

// One device as the scorecards need it: its links and lifecycle now, the history that lets them be
// reconstructed at any earlier time, its health now and the KPI settings of its profile.
struct DeviceFacts {
  std::string id;
  std::string device_class;
  registry::Stakeholders links;            // now
  std::string firmware;                    // now ("" unknown)
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> retired_ms;
  // Oldest first. Uses what == "owner", "site", "technician", "supplier", "model" (old_value ->
  // new_value) and what == "lifecycle" (old -> new lifecycle name); ignores the rest.
  std::vector<registry::HistoryEntry> history;
  std::string lifecycle;                   // now: provisioned, active, degraded, critical, offline, retired
  std::optional<double> score;             // health score now (none: not scored)
  bool silent_beyond_profile = false;      // now
  std::size_t open_alerts = 0;             // now
  double satisfaction_min = 4;             // from the device's profile (kpi.satisfaction_min)
  std::int64_t sla_ms = 48LL * 3600 * 1000;                 // kpi.sla
  std::int64_t recurrence_window_ms = 30LL * 86400 * 1000;  // kpi.recurrence_window
};

// A device's service event as the gateway received it.
struct ServiceEvent {
  std::string device;
  std::int64_t at_ms = 0;      // when the gateway received it
  std::string type;            // fault, service_request, service_start, service_done, satisfaction; others ignored
  std::string code;            // fault code ("" is a code of its own)
  std::string technician;      // the event's technician field ("" none)
  std::string request_id;      // "" none
  std::optional<double> score; // satisfaction
};

// One measured figure of a scorecard, e.g. {"on_time", 75, "%"}.
struct Figure {
  std::string name;
  double value = 0;  // 0 when there is nothing to measure (the explanation and other figures say so)
  std::string unit;
};

struct Scorecard {
  Role role = Role::kTechnician;
  std::string stakeholder;
  std::size_t device_count = 0;     // devices linked to it at any time in the period
  std::vector<Figure> figures;      // stable order per role
  std::optional<double> score;      // 0..100, none: not ranked (explanation says why)
  std::uint32_t rank = 0;           // 1 = best; 0 = not ranked
  std::uint32_t ranked_count = 0;   // how many of this role were ranked
  std::string explanation;          // one sentence: the score and what moved it most
};

// Every stakeholder of `role` that any device was linked to during [now - period, now] (for
// technicians also every one an event in the period credits); ranked ones first (best first by the
// score rounded to one decimal, ties by id), then unranked ones by id. Events outside the period
// are ignored except where a formula looks back (request matching, rated visits, recurrence).
// Events of devices not in `devices` are ignored. Empty stakeholder ids are never a stakeholder.
std::vector<Scorecard> compute(Role role, std::int64_t period_ms, std::int64_t now_ms,
                               const std::vector<DeviceFacts>& devices, const std::vector<ServiceEvent>& events);

}  // namespace xrm::scorecard
