#include "control_api.hpp"

#include <cmath>
#include <initializer_list>
#include <set>

#include "xrm/common/units.hpp"

namespace xrm::app {
namespace {

using nlohmann::json;

// Refuses arguments the verb does not know, naming them: a typo must not be silently ignored.
Status check_args(std::string_view verb, const json& args, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : args.items()) {
    bool ok = false;
    for (auto k : known) ok = ok || k == key;
    if (!ok) return Status::invalid_argument(std::string(verb) + ": unknown argument \"" + key + "\"");
  }
  return Status::ok();
}

// A string argument; `required` ones must be present.
Result<std::string> string_arg(std::string_view verb, const json& args, const char* name, bool required) {
  auto it = args.find(name);
  if (it == args.end()) {
    if (required) return Status::invalid_argument(std::string(verb) + ": missing argument \"" + name + "\"");
    return std::string();
  }
  if (!it->is_string()) return Status::invalid_argument(std::string(verb) + ": argument \"" + name + "\" must be a string");
  return it->get<std::string>();
}

// Values of links are names of people and companies: printable, bounded, no control characters.
Status check_link_value(std::string_view device, std::string_view field, std::string_view value) {
  if (value.size() > 128) {
    return Status::invalid_argument("device " + std::string(device) + ": " + std::string(field) + " is longer than 128 bytes");
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::invalid_argument("device " + std::string(device) + ": " + std::string(field) +
                                      " contains a control character");
    }
  }
  return Status::ok();
}

json opt(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

json stakeholders_json(const registry::Stakeholders& s) {
  return {{"owner", s.owner}, {"site", s.site}, {"technician", s.technician}, {"supplier", s.supplier}, {"model", s.model}};
}

// A score as shown: one decimal.
json score_json(double score) { return std::round(score * 10) / 10; }

json factor_json(const health::Factor& f) {
  return {{"name", f.name},
          {"kind", f.rule ? "rule" : "kpi"},
          {"penalty", std::round(f.penalty * 100) / 100},
          {"value", f.value ? json(*f.value) : json(nullptr)},
          {"unit", f.unit},
          {"why", f.why}};
}

json sequence_json(const ingest::SequenceCounters& c) {
  // The share of messages never received: missed / (received - duplicates + missed).
  const double expected = static_cast<double>(c.received - c.duplicates + c.missed);
  return {{"received", c.received},
          {"missed", c.missed},
          {"duplicates", c.duplicates},
          {"late", c.late},
          {"resets", c.resets},
          {"missed_share", expected > 0 ? json(static_cast<double>(c.missed) / expected) : json(nullptr)}};
}

// A service event as JSON, with the field names of its JSON form.
json event_json(const xrm::v1::ServiceEvent& e) {
  json out = {{"seq", e.seq()}, {"ts", e.ts()}, {"type", e.type()}};
  if (e.has_code()) out["code"] = e.code();
  if (e.has_score()) out["score"] = e.score();
  if (!e.technician().empty()) out["technician"] = e.technician();
  if (!e.request_id().empty()) out["request_id"] = e.request_id();
  if (!e.note().empty()) out["note"] = e.note();
  for (const auto& [k, v] : e.attributes()) out[k] = v;
  return out;
}

Status check_device_id(std::string_view verb, const std::string& id) {
  if (std::string why = device_id_error(id); !why.empty()) return Status::invalid_argument(std::string(verb) + ": " + why);
  return Status::ok();
}

}  // namespace

void ControlApi::handle(control::Request request, control::Reply reply) {
  const std::string& verb = request.verb;
  if (verb == "provision") return provision(request, std::move(reply));
  if (verb == "retire") return retire(request, std::move(reply));
  if (verb == "devices") return reply(devices(request.args));
  if (verb == "show") return reply(show(request.args));
  if (verb == "link") return reply(link(request));
  if (verb == "status") return reply(status(request.args));
  if (verb == "dead-letters") return reply(dead_letters(request.args));
  if (verb == "rules-reload") return reply(rules_reload(request.args));
  if (verb == "rank") return reply(rank(request.args));
  reply(Status::invalid_argument(
      "unknown verb \"" + verb + "\" (known: provision, devices, show, link, retire, status, dead-letters, rules-reload, rank)"));
}

void ControlApi::provision(const control::Request& request, control::Reply reply) {
  const json& args = request.args;
  if (Status st = check_args("provision", args,
                             {"device", "class", "owner", "site", "technician", "supplier", "model", "rotate"});
      !st) {
    return reply(st);
  }
  registry::ProvisionRequest req;
  auto device = string_arg("provision", args, "device", true);
  if (!device) return reply(device.status());
  req.device = *device;
  auto rotate = args.find("rotate");
  if (rotate != args.end() && !rotate->is_boolean()) {
    return reply(Status::invalid_argument("provision: argument \"rotate\" must be true or false"));
  }
  req.rotate = rotate != args.end() && rotate->get<bool>();
  auto cls = string_arg("provision", args, "class", !req.rotate);
  if (!cls) return reply(cls.status());
  req.class_name = *cls;
  for (auto field : registry::kLinkFields) {
    auto v = string_arg("provision", args, std::string(field).c_str(), false);
    if (!v) return reply(v.status());
    if (Status st = check_link_value(req.device, field, *v); !st) return reply(st);
    registry::link_field(req.links, field) = *v;
  }
  if (req.links.site.empty() && !req.rotate) req.links.site = ctx_.default_site;
  req.actor = request.peer.actor();
  ctx_.provisioner.provision(std::move(req), [reply = std::move(reply)](Result<registry::ProvisionResult> r) {
    if (!r) return reply(r.status());
    const auto& d = *r->device;
    const auto& c = r->credentials;
    reply(json{{"device", d.id},
               {"class", d.class_name},
               {"lifecycle", registry::to_string(d.lifecycle)},
               {"rotated", r->rotated},
               {"stakeholders", stakeholders_json(d.links)},
               {"broker_url", c.broker_url},
               {"client_id", c.client_id},
               {"username", c.username},
               {"password", c.password},
               {"publish_topics", c.publish_topics},
               {"subscribe_topics", c.subscribe_topics},
               {"uri", c.uri}});
  });
}

void ControlApi::retire(const control::Request& request, control::Reply reply) {
  if (Status st = check_args("retire", request.args, {"device"}); !st) return reply(st);
  auto device = string_arg("retire", request.args, "device", true);
  if (!device) return reply(device.status());
  if (Status st = check_device_id("retire", *device); !st) return reply(st);
  ctx_.provisioner.retire(*device, request.peer.actor(),
                          [device = *device, reply = std::move(reply)](Result<registry::Lifecycle> r) {
                            if (!r) return reply(r.status());
                            reply(json{{"device", device},
                                       {"lifecycle", "retired"},
                                       {"previous_lifecycle", registry::to_string(*r)}});
                          });
}

Result<json> ControlApi::devices(const json& args) {
  if (Status st = check_args("devices", args, {}); !st) return st;
  json list = json::array();
  for (const auto* d : ctx_.registry.list()) list.push_back(device_summary(*d));
  return json{{"devices", std::move(list)}};
}

json ControlApi::device_summary(const registry::Device& d) const {
  const auto score = ctx_.health.score_of(d.id);
  return {{"id", d.id},
          {"class", d.class_name},
          {"lifecycle", registry::to_string(d.lifecycle)},
          {"online", d.online ? json(*d.online) : json(nullptr)},
          {"score", score ? score_json(score->first) : json(nullptr)},
          {"band", score ? json(health::to_string(score->second)) : json(nullptr)},
          {"last_seen_ms", opt(d.last_seen_ms)},
          {"stakeholders", stakeholders_json(d.links)}};
}

Result<json> ControlApi::show(const json& args) {
  if (Status st = check_args("show", args, {"device"}); !st) return st;
  auto id = string_arg("show", args, "device", true);
  if (!id) return id.status();
  if (Status st = check_device_id("show", *id); !st) return st;
  const registry::Device* d = ctx_.registry.find(*id);
  if (d == nullptr) return Status::not_found("device " + *id + " is not registered");
  json out = device_summary(*d);
  out.erase("last_seen_ms");
  auto history = ctx_.registry.history(*id, 50);
  if (!history) return history.status();
  json h = json::array();
  for (const auto& e : *history) {
    h.push_back({{"at_ms", e.at_ms}, {"what", e.what}, {"old", e.old_value}, {"new", e.new_value}, {"actor", e.actor}});
  }
  json factors = json::array();
  json health = {{"why_no_score", nullptr}, {"pending_band", nullptr}, {"pending_since_ms", nullptr},
                 {"band_since_ms", nullptr}};
  if (auto e = ctx_.health.explain(*id)) {
    for (const auto& f : e->factors) factors.push_back(factor_json(f));
    out["score"] = score_json(e->score);
    if (e->pending_band) {
      health["pending_band"] = health::to_string(*e->pending_band);
      health["pending_since_ms"] = e->pending_since_ms;
    }
    if (e->band_since_ms != 0) health["band_since_ms"] = e->band_since_ms;
  } else {
    health["why_no_score"] = ctx_.health.no_score_reason(*id);
  }
  json alerts = json::array();
  for (const auto& a : ctx_.health.open_alerts(*id)) {
    alerts.push_back({{"id", a.alert_id},
                      {"cause", a.cause},
                      {"band", health::to_string(a.band)},
                      {"action", a.action == health::Escalation::kCommand ? "command:" + a.command
                                                                           : std::string(health::to_string(a.action))},
                      {"opened_ms", a.opened_ms},
                      {"repeats", a.repeats},
                      {"assignee", a.assignee},
                      {"reason", a.reason}});
  }
  out.update(json{{"factors", std::move(factors)},
                  {"alerts", std::move(alerts)},
                  {"health", std::move(health)},
                  {"firmware", d->firmware},
                  {"model", d->links.model},
                  {"created_ms", d->created_ms},
                  {"updated_ms", d->updated_ms},
                  {"first_data_ms", opt(d->first_data_ms)},
                  {"last_seen_ms", opt(d->last_seen_ms)},
                  {"retired_ms", opt(d->retired_ms)},
                  {"history", std::move(h)}});
  const ingest::DeviceIngest* in = ctx_.traffic.device(*id);
  json counters = {{"messages", d->messages}};
  json readings = json::object();
  json events = json::array();
  if (in != nullptr) {
    counters["telemetry"] = sequence_json(in->telemetry.counters());
    counters["events"] = sequence_json(in->events.counters());
    counters["dead_letters"] = in->dead_letters;
    counters["ignored_fields"] = in->ignored_fields;
    for (const auto& [name, value] : in->readings) readings[name] = value;
    for (const auto& [at, e] : in->recent_events) {
      json ev = event_json(e);
      ev["received_ms"] = at;
      events.push_back(std::move(ev));
    }
  }
  out["counters"] = std::move(counters);
  out["readings"] = std::move(readings);
  out["readings_ms"] = in != nullptr && in->readings_ms != 0 ? json(in->readings_ms) : json(nullptr);
  out["recent_events"] = std::move(events);
  return out;
}

Result<json> ControlApi::link(const control::Request& request) {
  const json& args = request.args;
  if (Status st = check_args("link", args, {"device", "owner", "site", "technician", "supplier", "model"}); !st) {
    return st;
  }
  auto id = string_arg("link", args, "device", true);
  if (!id) return id.status();
  if (Status st = check_device_id("link", *id); !st) return st;
  std::map<std::string, std::string> changes;
  for (auto field : registry::kLinkFields) {
    const std::string name(field);
    if (!args.contains(name)) continue;
    auto v = string_arg("link", args, name.c_str(), true);
    if (!v) return v.status();
    if (Status st = check_link_value(*id, field, *v); !st) return st;
    changes[name] = *v;
  }
  if (changes.empty()) {
    return Status::invalid_argument("link: device " + *id + ": name at least one of owner, site, technician, supplier, model");
  }
  auto changed = ctx_.registry.link(*id, changes, request.peer.actor());
  if (!changed) return changed.status();
  json list = json::array();
  for (const auto& c : *changed) list.push_back({{"field", c.field}, {"old", c.old_value}, {"new", c.new_value}});
  return json{{"device", *id}, {"changed", std::move(list)}, {"stakeholders", stakeholders_json(ctx_.registry.find(*id)->links)}};
}

Result<json> ControlApi::status(const json& args) {
  if (Status st = check_args("status", args, {}); !st) return st;
  auto ob = ctx_.outbox.stats();
  if (!ob) return ob.status();
  const auto now_ms = ctx_.clock.unix_ms();
  const auto& traffic = ctx_.traffic.stats();
  const auto& rc = ctx_.registry.counters();
  const auto& drain = ctx_.uplink.drain().counters();
  // Buffered dead letters are written at most a second late; write them now so "stored" and
  // "since start" agree in what a technician sees.
  if (Status st = ctx_.dead_letters.flush(); !st) return st;
  const auto& dl = ctx_.dead_letters.counts();
  json by_lifecycle = json::object();
  for (const auto& [name, n] : ctx_.registry.count_by_lifecycle()) by_lifecycle[name] = n;
  // Live telemetry to central (QoS 0, never stored): classes asking for it and what happened.
  json live = {{"enabled_classes", 0}, {"devices", 0}, {"sent", 0}, {"suppressed_rate", 0},
               {"suppressed_deadband", 0}, {"dropped_offline", 0}};
  if (ctx_.live != nullptr) {
    const auto& lc = ctx_.live->counters();
    live = {{"enabled_classes", ctx_.live->enabled_classes()}, {"devices", ctx_.live->devices()},
            {"sent", lc.sent}, {"suppressed_rate", lc.suppressed_rate},
            {"suppressed_deadband", lc.suppressed_deadband}, {"dropped_offline", lc.dropped_offline}};
  }
  auto conn = [](bool connected, int version, const std::string& url) {
    return json{{"url", url},
                {"connected", connected},
                {"mqtt_version", connected ? json(version == 5 ? "5" : "3.1.1") : json(nullptr)}};
  };
  return json{
      {"gateway_id", ctx_.gateway_id},
      {"version", ctx_.version},
      {"uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.clock.steady_now() - ctx_.started).count()},
      {"connections",
       {{"local", conn(ctx_.local.connected(), ctx_.local.mqtt_version(), ctx_.local.url())},
        {"upstream", conn(ctx_.uplink.connected(), ctx_.uplink.mqtt_version(), ctx_.uplink.url())}}},
      {"devices", {{"total", ctx_.registry.size()}, {"by_lifecycle", std::move(by_lifecycle)}}},
      {"ingest",
       {{"messages", traffic.messages},
        {"bytes", traffic.bytes},
        {"accepted", traffic.accepted},
        {"telemetry", traffic.telemetry},
        {"events", traffic.events},
        {"duplicate_events", traffic.duplicate_events},
        {"unknown_device", rc.unknown_messages},
        {"retired_device", rc.retired_messages},
        {"bad_topic", traffic.bad_topic},
        {"ignored_fields", traffic.ignored_fields},
        {"dropped", ctx_.local.dropped()},
        {"queue_high_water", ctx_.local.queue_high_water()},
        {"record_errors", traffic.record_errors},
        {"rate_per_s", ctx_.traffic.rate_per_s()},
        {"dead_letters",
         {{"since_start", dl.since_start}, {"stored", dl.stored}, {"deleted", dl.deleted}, {"not_stored", dl.not_stored}}},
        {"telemetry_sequence", sequence_json(ctx_.traffic.telemetry_sequence())},
        {"event_sequence", sequence_json(ctx_.traffic.event_sequence())}}},
      {"outbox",
       {{"depth", ob->records},
        {"critical", ob->critical},
        {"bytes", ob->bytes},
        {"last_seq", ob->last_seq},
        {"oldest_age_ms", ob->oldest_created_ms ? json(now_ms - *ob->oldest_created_ms) : json(nullptr)},
        {"bulk_bytes", ob->bulk_bytes},
        {"max_bytes", ctx_.outbox.limits().max_bytes},
        {"ttl_ms", ctx_.outbox.limits().ttl.count()},
        {"dropped_records", ob->dropped_records},
        {"dropped_bytes", ob->dropped_bytes},
        {"gap_records", ob->gap_records},
        {"dead_letters", ob->dead_letters}}},
      {"uplink",
       {{"records_sent", drain.records_sent},
        {"batches_sent", drain.batches_sent},
        {"in_flight", drain.in_flight_batches},
        {"publish_errors", drain.publish_errors},
        {"last_error", drain.last_error.empty() ? json(nullptr) : json(drain.last_error)},
        {"last_sent_seq", drain.last_sent_seq},
        {"confirm", ctx_.uplink.confirm_central() ? "central" : "broker"},
        {"refused_batches", drain.refused_batches},
        {"dead_lettered", drain.dead_lettered},
        {"acks", drain.acks},
        {"acked_records", drain.acked_records},
        {"unacked", drain.unacked},
        {"ack_timeouts", drain.ack_timeouts}}},
      {"health", health_json()},
      // Device messages and bytes in, records and bytes out (every kind), since the start.
      {"condensation",
       {{"messages_in", traffic.messages},
        {"bytes_in", traffic.bytes},
        {"records_out", ctx_.outbox.appended_records()},
        {"bytes_out", ctx_.outbox.appended_bytes()},
        {"summaries", ctx_.condense.stats().summaries},
        {"windows_open", ctx_.condense.stats().windows_open},
        {"windows_ended", ctx_.condense.stats().windows_ended},
        {"window_ms", ctx_.condense.window().count()}}},
      {"live", std::move(live)},
      {"scorecards", ctx_.scorecards == nullptr
                         ? json(nullptr)
                         : json{{"period_ms", ctx_.scorecards->period().count()},
                                {"runs", ctx_.scorecards->stats().runs},
                                {"records", ctx_.scorecards->stats().records},
                                {"last_run_ms", ctx_.scorecards->stats().last_run_ms != 0
                                                    ? json(ctx_.scorecards->stats().last_run_ms)
                                                    : json(nullptr)},
                                {"pruned", ctx_.scorecards->stats().pruned}}}};
}

// Records the upstream broker refused on their own (Outbox::dead_letter); with requeue, first puts
// every one back into the outbox under its old seq.
Result<json> ControlApi::upstream_dead_letters(std::size_t limit, bool requeue) {
  std::uint64_t requeued = 0;
  if (requeue) {
    auto moved = ctx_.outbox.requeue_dead_letters();
    if (!moved) return moved.status();
    requeued = *moved;
  }
  auto rows = ctx_.outbox.dead_letters(limit);
  if (!rows) return rows.status();
  json list = json::array();
  for (const auto& d : *rows) {
    const std::string_view kind = outbox::record_kind_name(d.kind);
    list.push_back({{"seq", d.seq},
                    {"kind", kind.empty() ? json(static_cast<int>(d.kind)) : json(std::string(kind))},
                    {"device", d.device},
                    {"created_ms", d.created_ms},
                    {"dead_ms", d.dead_ms},
                    {"reason", d.reason},
                    {"bytes", d.bytes}});
  }
  auto stats = ctx_.outbox.stats();
  if (!stats) return stats.status();
  json out{{"upstream_dead_letters", std::move(list)}, {"stored", stats->dead_letters}};
  if (requeue) out["requeued"] = requeued;
  return out;
}

Result<json> ControlApi::rules_reload(const json& args) {
  if (Status st = check_args("rules-reload", args, {}); !st) return st;
  if (!ctx_.reload_rules) return Status::unavailable("rules-reload: not available");
  return ctx_.reload_rules();
}

Result<json> ControlApi::rank(const json& args) {
  if (Status st = check_args("rank", args, {"by", "period"}); !st) return st;
  if (ctx_.scorecards == nullptr) return Status::unavailable("rank: scorecards are not available");
  const auto by = args.find("by");
  if (by == args.end() || !by->is_string()) {
    return Status::invalid_argument("rank: argument \"by\" is required: technician, supplier, model, owner or site");
  }
  const auto role = scorecard::parse_role(by->get<std::string>());
  if (!role) {
    return Status::invalid_argument("rank: \"" + by->get<std::string>() +
                                    "\" is not one of technician, supplier, model, owner, site");
  }
  std::chrono::milliseconds period = ctx_.scorecards->period();
  if (auto it = args.find("period"); it != args.end()) {
    if (!it->is_string()) return Status::invalid_argument("rank: argument \"period\" must be a duration such as \"30d\"");
    auto d = parse_duration(it->get<std::string>());
    if (!d) return Status::invalid_argument("rank: period: " + d.status().message());
    if (d->count() <= 0) return Status::invalid_argument("rank: period: must be longer than 0s");
    period = *d;
  }
  auto cards = ctx_.scorecards->compute(*role, period);
  if (!cards) return cards.status();
  json list = json::array();
  std::uint32_t ranked = 0;
  for (const auto& c : *cards) {
    json figures = json::array();
    for (const auto& f : c.figures) figures.push_back({{"name", f.name}, {"value", f.value}, {"unit", f.unit}});
    list.push_back({{"stakeholder", c.stakeholder},
                    {"rank", c.rank > 0 ? json(c.rank) : json(nullptr)},
                    {"score", c.score ? json(std::round(*c.score * 10) / 10) : json(nullptr)},
                    {"device_count", c.device_count},
                    {"figures", std::move(figures)},
                    {"explanation", c.explanation}});
    ranked = std::max(ranked, c.ranked_count);
  }
  return json{{"by", std::string(scorecard::to_string(*role))},
              {"period_ms", period.count()},
              {"computed_at_ms", ctx_.clock.unix_ms()},
              {"ranked", ranked},
              {"scorecards", std::move(list)}};
}

json ControlApi::health_json() const {
  const auto& h = ctx_.health.stats();
  json by_band = json::object();
  for (const auto& [name, n] : ctx_.health.count_by_band()) by_band[name] = n;
  return {{"by_band", std::move(by_band)},
          {"open_alerts", ctx_.health.open_alert_count()},
          {"alerts_opened", h.alerts_opened},
          {"alerts_cleared", h.alerts_cleared},
          {"alerts_suppressed", h.alerts_suppressed},
          {"alerts_escalated", h.alerts_escalated},
          {"band_changes", h.band_changes},
          {"commands_sent", h.commands_sent},
          {"snapshots_published", h.snapshots_published},
          {"evaluations", h.evaluations},
          {"record_errors", h.record_errors},
          {"last_save_ms", h.last_save_ms != 0 ? json(h.last_save_ms) : json(nullptr)}};
}

Result<json> ControlApi::dead_letters(const json& args) {
  if (Status st = check_args("dead-letters", args, {"limit", "upstream", "requeue"}); !st) return st;
  std::size_t limit = 20;
  if (auto it = args.find("limit"); it != args.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() < 1 || it->get<std::uint64_t>() > 10000) {
      return Status::invalid_argument("dead-letters: argument \"limit\" must be an integer from 1 to 10000");
    }
    limit = it->get<std::size_t>();
  }
  auto flag = [&args](const char* name) -> Result<bool> {
    auto it = args.find(name);
    if (it == args.end()) return false;
    if (!it->is_boolean()) return Status::invalid_argument(std::string("dead-letters: argument \"") + name + "\" must be true or false");
    return it->get<bool>();
  };
  auto upstream = flag("upstream");
  if (!upstream) return upstream.status();
  auto requeue = flag("requeue");
  if (!requeue) return requeue.status();
  if (*requeue && !*upstream) {
    return Status::invalid_argument("dead-letters: \"requeue\" applies to the upstream dead letters (with \"upstream\")");
  }
  if (*upstream) return upstream_dead_letters(limit, *requeue);
  auto rows = ctx_.dead_letters.recent(limit);
  if (!rows) return rows.status();
  json list = json::array();
  for (const auto& d : *rows) {
    // The first bytes as hex: payloads are often binary, and JSON text must be valid UTF-8.
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(d.head.size() * 2);
    for (unsigned char c : d.head) {
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    list.push_back({{"id", d.id}, {"at_ms", d.at_ms}, {"topic", d.topic}, {"reason", d.reason}, {"size", d.size},
                    {"head_hex", std::move(hex)}});
  }
  const auto& c = ctx_.dead_letters.counts();
  return json{{"dead_letters", std::move(list)},
              {"stored", c.stored},
              {"deleted", c.deleted},
              {"since_start", c.since_start}};
}

}  // namespace xrm::app
