#include "xrm/scorecard/scorecard.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "xrm/common/units.hpp"

namespace xrm::scorecard {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::array<std::string_view, 5> kRoleNames = {"technician", "supplier", "model", "owner", "site"};
// A fault rate of this many faults per device-day or more takes the whole fault component.
constexpr double kFaultRateFull = 0.5;

const std::string& link_of(const registry::Stakeholders& s, Role role) {
  switch (role) {
    case Role::kTechnician:
      return s.technician;
    case Role::kSupplier:
      return s.supplier;
    case Role::kModel:
      return s.model;
    case Role::kOwner:
      return s.owner;
    case Role::kSite:
      return s.site;
  }
  return s.technician;
}

// Attribution: the link now with every later change of that field undone, newest first.
std::string link_at(const DeviceFacts& d, Role role, std::int64_t t) {
  const std::string_view field = to_string(role);
  std::string value = link_of(d.links, role);
  for (auto it = d.history.rbegin(); it != d.history.rend(); ++it) {
    if (it->what == field && it->at_ms > t) value = it->old_value;
  }
  return value;
}

// The lifecycle the same way; before the first "lifecycle" entry a device is provisioned. Without
// any entry it has always had the lifecycle it has now.
std::string lifecycle_at(const DeviceFacts& d, std::int64_t t) {
  std::string value = d.lifecycle;
  bool any = false;
  bool all_later = true;
  for (auto it = d.history.rbegin(); it != d.history.rend(); ++it) {
    if (it->what != "lifecycle") continue;
    any = true;
    if (it->at_ms > t) {
      value = it->old_value;
    } else {
      all_later = false;
    }
  }
  if (any && all_later) return "provisioned";
  return value;
}

bool is_troubled(std::string_view lifecycle) { return lifecycle == "degraded" || lifecycle == "critical"; }

// Whether the device counts at time t: from its creation to its retirement, both included.
bool exists_at(const DeviceFacts& d, std::int64_t t) {
  return t >= d.created_ms && (!d.retired_ms || t <= *d.retired_ms);
}

// Linked now: created, not retired.
bool counts_now(const DeviceFacts& d, std::int64_t now_ms) {
  return d.created_ms <= now_ms && !(d.retired_ms && *d.retired_ms <= now_ms) && d.lifecycle != "retired";
}

// What one stakeholder accumulates from the devices and events.
struct Tally {
  std::set<std::string> devices;  // linked at some instant of the period
  std::int64_t linked_ms = 0;
  std::int64_t troubled_ms = 0;
  std::size_t faults = 0;
  // Now.
  std::size_t devices_now = 0;
  std::size_t scored = 0;
  double score_sum = 0;
  std::size_t silent = 0;
  std::size_t open_alerts = 0;
  std::map<std::string, std::size_t> firmware;
  // Technicians.
  std::size_t visits = 0;
  std::size_t matched = 0;
  std::size_t on_time = 0;
  double time_to_done_ms = 0;
  std::size_t ratings = 0;
  std::size_t satisfied = 0;
  double rating_sum = 0;
  std::size_t returns = 0;
};
using Tallies = std::map<std::string, Tally>;

// Linked and troubled time of d over [lo, hi], cut where the link or the lifecycle changes; and
// every stakeholder it was linked to at some instant, hi included.
void add_linked_time(const DeviceFacts& d, Role role, std::int64_t lo, std::int64_t hi, Tallies& out) {
  const std::string_view field = to_string(role);
  std::vector<std::int64_t> cuts{lo, hi};
  for (const auto& h : d.history) {
    if ((h.what == field || h.what == "lifecycle") && h.at_ms > lo && h.at_ms < hi) cuts.push_back(h.at_ms);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    const std::string who = link_at(d, role, cuts[k]);
    if (who.empty()) continue;
    Tally& t = out[who];
    const std::int64_t len = cuts[k + 1] - cuts[k];
    t.devices.insert(d.id);
    t.linked_ms += len;
    if (is_troubled(lifecycle_at(d, cuts[k]))) t.troubled_ms += len;
  }
  const std::string last = link_at(d, role, hi);
  if (!last.empty()) out[last].devices.insert(d.id);
}

struct Visit {
  std::size_t pos = 0;  // index in the device's events
  std::int64_t at_ms = 0;
  std::string technician;
  std::string request_id;
  std::optional<std::int64_t> request_ms;  // the matched service_request
};

// The device's service_done events in order, each with its technician (its own field, else the
// device's technician then) and the service_request it answers: the one with its request_id, else
// the oldest one not yet answered.
std::vector<Visit> visits_of(const DeviceFacts& d, const std::vector<const ServiceEvent*>& evs) {
  struct Request {
    std::int64_t at_ms;
    const std::string* id;
    bool matched;
  };
  std::vector<Request> requests;
  std::vector<Visit> visits;
  for (std::size_t pos = 0; pos < evs.size(); ++pos) {
    const ServiceEvent& ev = *evs[pos];
    if (ev.type == "service_request") {
      requests.push_back({ev.at_ms, &ev.request_id, false});
      continue;
    }
    if (ev.type != "service_done") continue;
    Visit v;
    v.pos = pos;
    v.at_ms = ev.at_ms;
    v.technician = ev.technician.empty() ? link_at(d, Role::kTechnician, ev.at_ms) : ev.technician;
    v.request_id = ev.request_id;
    std::optional<std::size_t> match;
    if (!ev.request_id.empty()) {
      for (std::size_t i = requests.size(); i-- > 0;) {
        if (*requests[i].id == ev.request_id) {
          match = i;
          break;
        }
      }
    }
    if (!match) {
      for (std::size_t i = 0; i < requests.size(); ++i) {
        if (!requests[i].matched) {
          match = i;
          break;
        }
      }
    }
    if (match) {
      requests[*match].matched = true;
      v.request_ms = requests[*match].at_ms;
    }
    visits.push_back(std::move(v));
  }
  return visits;
}

// The technician figures of one device's events in [start, now].
void add_technician_events(const DeviceFacts& d, const std::vector<const ServiceEvent*>& evs, std::int64_t start,
                           std::int64_t now_ms, Tallies& out) {
  auto counted = [&](std::int64_t at) { return at >= start && at <= now_ms && exists_at(d, at); };
  const std::vector<Visit> visits = visits_of(d, evs);
  // The last visit before the event at `pos` (with `request_id` when given and there is one).
  auto visit_before = [&](std::size_t pos, const std::string& request_id) -> const Visit* {
    const Visit* last = nullptr;
    const Visit* same_id = nullptr;
    for (const auto& v : visits) {
      if (v.pos >= pos) break;
      last = &v;
      if (!request_id.empty() && v.request_id == request_id) same_id = &v;
    }
    return same_id != nullptr ? same_id : last;
  };

  for (const auto& v : visits) {
    if (!counted(v.at_ms) || v.technician.empty()) continue;
    Tally& t = out[v.technician];
    ++t.visits;
    if (v.request_ms) {
      const std::int64_t took = v.at_ms - *v.request_ms;
      ++t.matched;
      t.time_to_done_ms += static_cast<double>(took);
      if (took <= d.sla_ms) ++t.on_time;
    }
  }

  std::set<std::pair<std::size_t, std::string>> charged;  // (visit, code) already a return
  for (std::size_t pos = 0; pos < evs.size(); ++pos) {
    const ServiceEvent& ev = *evs[pos];
    if (!counted(ev.at_ms)) continue;
    if (ev.type == "satisfaction" && ev.score) {
      const Visit* rated = visit_before(pos, ev.request_id);
      const std::string& who = !ev.technician.empty() ? ev.technician
                               : rated != nullptr     ? rated->technician
                                                      : ev.technician;
      if (who.empty()) continue;
      Tally& t = out[who];
      ++t.ratings;
      t.rating_sum += *ev.score;
      if (*ev.score >= d.satisfaction_min) ++t.satisfied;
    } else if (ev.type == "fault") {
      // A return: the same code was seen within the window before the last visit, and this fault
      // comes within the window after it.
      const Visit* v = visit_before(pos, "");
      if (v == nullptr || ev.at_ms - v->at_ms > d.recurrence_window_ms || v->technician.empty()) continue;
      bool seen_before = false;
      for (std::size_t i = 0; i < v->pos && !seen_before; ++i) {
        const ServiceEvent& before = *evs[i];
        seen_before = before.type == "fault" && before.code == ev.code &&
                      before.at_ms >= v->at_ms - d.recurrence_window_ms;
      }
      if (seen_before && charged.insert({v->pos, ev.code}).second) ++out[v->technician].returns;
    }
  }
}

// "42.5", "88", "0.16": rounded to `decimals`, trailing zeros dropped.
std::string number(double x, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string percent(double share) { return number(share * 100) + "%"; }

std::string count(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

double share(std::size_t part, std::size_t whole) {
  return whole == 0 ? 0 : static_cast<double>(part) / static_cast<double>(whole);
}

// One part of a score: its value 0..1, its weight, what to say when it cost the most points and
// what to say when nothing cost anything.
struct Component {
  double value = 1;
  double weight = 0;
  std::string cost;
  std::string fine;
};

// 100 x the weighted mean of the components (weights scaled up over those present), and the
// explanation: the component that cost the most points, or all of them when none cost anything.
void weigh(const std::vector<Component>& parts, Scorecard& card) {
  double weights = 0;
  double sum = 0;
  for (const auto& c : parts) {
    weights += c.weight;
    sum += c.weight * std::clamp(c.value, 0.0, 1.0);
  }
  if (parts.empty() || weights <= 0) return;
  const double score = 100 * sum / weights;
  const Component* worst = nullptr;
  double worst_cost = 1e-9;
  for (const auto& c : parts) {
    const double cost = 100 * c.weight / weights * (1 - std::clamp(c.value, 0.0, 1.0));
    if (cost > worst_cost) {
      worst = &c;
      worst_cost = cost;
    }
  }
  std::string why;
  if (worst != nullptr) {
    why = worst->cost;
  } else {
    for (const auto& c : parts) why += (why.empty() ? "" : ", ") + c.fine;
  }
  card.score = score;
  card.explanation = number(score) + ": " + why;
}

double device_days(const Tally& t) { return static_cast<double>(t.linked_ms) / static_cast<double>(kDayMs); }
double fault_rate(const Tally& t) { return t.linked_ms > 0 ? static_cast<double>(t.faults) / device_days(t) : 0; }
double mean_health(const Tally& t) { return t.scored > 0 ? t.score_sum / static_cast<double>(t.scored) : 0; }
double troubled(const Tally& t) {
  return t.linked_ms > 0 ? static_cast<double>(t.troubled_ms) / static_cast<double>(t.linked_ms) : 0;
}

Component health_component(const Tally& t, double weight) {
  const std::string text = "mean health " + number(mean_health(t)) + " of its " + count(t.scored, "device", "devices");
  return {mean_health(t) / 100, weight, text, text};
}

Component troubled_component(const Tally& t, double weight) {
  return {1 - troubled(t), weight, "degraded or critical " + percent(troubled(t)) + " of its device time",
          "never degraded or critical"};
}

void technician_card(const Tally& t, const std::string& period, Scorecard& card) {
  const double mean_ms = t.matched > 0 ? t.time_to_done_ms / static_cast<double>(t.matched) : 0;
  const double return_rate = share(t.returns, t.visits);
  card.figures = {{"visits", static_cast<double>(t.visits), ""},
                  {"mean_time_to_done", mean_ms / 1000, "s"},
                  {"on_time", share(t.on_time, t.matched) * 100, "%"},
                  {"satisfaction_mean", t.ratings > 0 ? t.rating_sum / static_cast<double>(t.ratings) : 0, ""},
                  {"satisfied", share(t.satisfied, t.ratings) * 100, "%"},
                  {"returns", static_cast<double>(t.returns), ""},
                  {"return_rate", return_rate * 100, "%"}};
  if (t.visits == 0) {
    card.explanation = "no service visits in the last " + period;
    return;
  }
  std::vector<Component> parts;
  const std::string returned =
      t.returns <= t.visits
          ? std::to_string(t.returns) + " of " + count(t.visits, "visit", "visits") +
                (t.returns == 1 ? " was" : " were") + " followed by a returning fault (" + percent(return_rate) + ")"
          : count(t.returns, "returning fault", "returning faults") + " after " +
                count(t.visits, "visit", "visits") + " (" + percent(return_rate) + ")";
  parts.push_back({1 - std::min(1.0, return_rate), 0.5, returned, "no returning faults"});
  if (t.ratings > 0) {
    parts.push_back({share(t.satisfied, t.ratings), 0.3,
                     std::to_string(t.satisfied) + " of " + count(t.ratings, "rating", "ratings") + " satisfied (" +
                         percent(share(t.satisfied, t.ratings)) + ")",
                     std::to_string(t.satisfied) + " of " + count(t.ratings, "rating", "ratings") + " satisfied"});
  }
  if (t.matched > 0) {
    parts.push_back({share(t.on_time, t.matched), 0.2,
                     std::to_string(t.on_time) + " of " + count(t.matched, "request", "requests") +
                         " done within the SLA (" + percent(share(t.on_time, t.matched)) + ")",
                     "all requests done within the SLA"});
  }
  weigh(parts, card);
}

void product_card(const Tally& t, const std::string& period, Scorecard& card) {
  card.figures = {{"device_days", device_days(t), "d"},
                  {"faults", static_cast<double>(t.faults), ""},
                  {"fault_rate", fault_rate(t), "1/device-day"},
                  {"mean_health", mean_health(t), ""},
                  {"troubled", troubled(t) * 100, "%"},
                  {"firmware_versions", static_cast<double>(t.firmware.size()), ""}};
  for (const auto& [version, n] : t.firmware) card.figures.push_back({"firmware " + version, static_cast<double>(n), ""});
  if (t.linked_ms <= 0) {
    card.explanation = "no device time in the last " + period;
    return;
  }
  // Short periods (a demo, a test) have fractions of a device-day: keep two significant digits.
  const double dd = device_days(t);
  const std::string days = number(dd, dd > 0 && dd < 1 ? 1 - static_cast<int>(std::floor(std::log10(dd))) : 1) + " device-days";
  std::vector<Component> parts;
  parts.push_back({1 - std::min(1.0, fault_rate(t) / kFaultRateFull), 0.4,
                   count(t.faults, "fault", "faults") + " in " + days + " (" + number(fault_rate(t), 2) +
                       " per device-day)",
                   "no faults in " + days});
  if (t.scored > 0) parts.push_back(health_component(t, 0.3));
  parts.push_back(troubled_component(t, 0.3));
  weigh(parts, card);
}

void customer_card(const Tally& t, Scorecard& card) {
  card.figures = {{"devices", static_cast<double>(t.devices_now), ""},
                  {"mean_health", mean_health(t), ""},
                  {"silent", static_cast<double>(t.silent), ""},
                  {"open_alerts", static_cast<double>(t.open_alerts), ""},
                  {"troubled", troubled(t) * 100, "%"},
                  {"faults", static_cast<double>(t.faults), ""},
                  {"fault_rate", fault_rate(t), "1/device-day"}};
  if (t.devices_now == 0) {
    card.explanation = "no devices now";
    return;
  }
  std::vector<Component> parts;
  if (t.scored > 0) parts.push_back(health_component(t, 0.5));
  parts.push_back({1 - share(t.silent, t.devices_now), 0.2,
                   std::to_string(t.silent) + " of " + count(t.devices_now, "device", "devices") +
                       " silent beyond their profile",
                   "none of its " + count(t.devices_now, "device", "devices") + " silent"});
  parts.push_back({1 - std::min(1.0, share(t.open_alerts, t.devices_now)), 0.15,
                   count(t.open_alerts, "open alert", "open alerts") + " on " +
                       count(t.devices_now, "device", "devices"),
                   "no open alerts"});
  if (t.linked_ms > 0) parts.push_back(troubled_component(t, 0.15));
  weigh(parts, card);
}

}  // namespace

std::optional<Role> parse_role(std::string_view text) {
  for (std::size_t i = 0; i < kRoleNames.size(); ++i) {
    if (kRoleNames[i] == text) return static_cast<Role>(i);
  }
  return std::nullopt;
}

std::string_view to_string(Role role) { return kRoleNames[static_cast<std::size_t>(role)]; }

std::vector<Scorecard> compute(Role role, std::int64_t period_ms, std::int64_t now_ms,
                               const std::vector<DeviceFacts>& devices, const std::vector<ServiceEvent>& events) {
  const std::int64_t start = now_ms - std::max<std::int64_t>(0, period_ms);
  std::unordered_map<std::string_view, const DeviceFacts*> by_id;
  for (const auto& d : devices) by_id.emplace(d.id, &d);
  std::unordered_map<std::string_view, std::vector<const ServiceEvent*>> events_of;
  for (const auto& ev : events) {
    if (by_id.count(ev.device) != 0) events_of[ev.device].push_back(&ev);
  }

  Tallies tallies;
  for (const auto& d : devices) {
    if (by_id.at(d.id) != &d) continue;  // a repeated id counts once
    const std::int64_t lo = std::max(start, d.created_ms);
    const std::int64_t hi = d.retired_ms ? std::min(now_ms, *d.retired_ms) : now_ms;
    if (lo <= hi) add_linked_time(d, role, lo, hi, tallies);

    if (counts_now(d, now_ms) && !link_of(d.links, role).empty()) {
      Tally& t = tallies[link_of(d.links, role)];
      ++t.devices_now;
      if (d.score) {
        ++t.scored;
        t.score_sum += *d.score;
      }
      if (d.silent_beyond_profile) ++t.silent;
      t.open_alerts += d.open_alerts;
      if (!d.firmware.empty()) ++t.firmware[d.firmware];
    }

    auto it = events_of.find(d.id);
    if (it == events_of.end()) continue;
    auto& evs = it->second;
    std::stable_sort(evs.begin(), evs.end(),
                     [](const ServiceEvent* a, const ServiceEvent* b) { return a->at_ms < b->at_ms; });
    if (role == Role::kTechnician) {
      add_technician_events(d, evs, start, now_ms, tallies);
      continue;
    }
    for (const ServiceEvent* ev : evs) {
      if (ev->type != "fault" || ev->at_ms < start || ev->at_ms > now_ms || !exists_at(d, ev->at_ms)) continue;
      const std::string who = link_at(d, role, ev->at_ms);
      if (!who.empty()) ++tallies[who].faults;
    }
  }

  const std::string period = format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, period_ms)));
  std::vector<Scorecard> cards;
  cards.reserve(tallies.size());
  for (const auto& [who, t] : tallies) {
    Scorecard card;
    card.role = role;
    card.stakeholder = who;
    card.device_count = t.devices.size();
    switch (role) {
      case Role::kTechnician:
        technician_card(t, period, card);
        break;
      case Role::kSupplier:
      case Role::kModel:
        product_card(t, period, card);
        break;
      case Role::kOwner:
      case Role::kSite:
        customer_card(t, card);
        break;
    }
    cards.push_back(std::move(card));
  }

  // Best first by the score as shown (one decimal), so equal shown scores go by id (the map's
  // order, kept by the stable sort); unranked last.
  auto shown = [](const Scorecard& c) { return c.score ? std::round(*c.score * 10) : -1.0; };
  std::stable_sort(cards.begin(), cards.end(),
                   [&](const Scorecard& a, const Scorecard& b) { return shown(a) > shown(b); });
  std::uint32_t ranked = 0;
  for (auto& c : cards) {
    if (c.score) c.rank = ++ranked;
  }
  for (auto& c : cards) c.ranked_count = ranked;
  return cards;
}

}  // namespace xrm::scorecard
