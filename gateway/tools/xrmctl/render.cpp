#include "xrmctl/render.hpp"

#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "xrm/common/units.hpp"
#include "xrmctl/format.hpp"

namespace xrm::xrmctl {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

namespace {

const json& array_field(const json& object, std::string_view key) {
  static const json kEmpty = json::array();
  const json& v = field(object, key);
  return v.is_array() ? v : kEmpty;
}

// A link's value in a change: an empty or missing link reads "(none)".
std::string link_value(const json& v) {
  const std::string s = cell(v);
  return s == "-" ? "(none)" : s;
}

// Whole seconds as "3h12m5s"; "-" when not a number.
std::string duration_cell(const json& ms) {
  const auto v = integer(ms);
  return v ? format_duration(std::chrono::floor<std::chrono::seconds>(std::chrono::milliseconds{*v})) : "-";
}

// "12s ago"; "never" for an explicit null; "-" when missing or not a number.
std::string last_seen_cell(const json& object, std::int64_t now_ms) {
  const json& v = field(object, "last_seen_ms");
  if (const auto ms = integer(v)) return relative_age(now_ms, *ms);
  return v.is_null() && object.is_object() && object.contains("last_seen_ms") ? "never" : "-";
}

std::string section(std::string_view title, const Rows& rows, std::string_view empty = "none") {
  std::string out = "\n" + std::string{title} + "\n";
  out += rows.empty() ? "  " + std::string{empty} + "\n" : render_table(rows, "  ");
  return out;
}

// The parts that are known, joined by ", "; "-" when none is.
std::string join_known(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!p.empty()) out += (out.empty() ? "" : ", ") + p;
  }
  return out.empty() ? "-" : out;
}

// "prefix<value>suffix" when value is there; empty otherwise.
std::string part(const json& value, std::string_view prefix, std::string_view suffix = "") {
  return value.is_null() ? "" : std::string{prefix} + cell(value) + std::string{suffix};
}

// A measured value (a reading, a satisfaction score) to six significant digits, so 1.013 bar is
// not shown as 1.0; anything but a fractional number as cell() shows it.
std::string measure_cell(const json& v) {
  if (!v.is_number_float()) return cell(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
  return buf;
}

// A share (0.005) as a percentage to two decimals ("0.50%"); a share too small to show reads
// "<0.01%" rather than "0.00%" so that a loss is never hidden. Empty when not a number.
std::string percent(const json& share) {
  if (!share.is_number()) return "";
  const double p = share.get<double>() * 100.0;
  if (!std::isfinite(p)) return "";
  if (p > 0 && p < 0.005) return "<0.01%";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f%%", p);
  return buf;
}

// A sequence tracker's figures: "received 597, missed 3 (0.50%), duplicates 1, late 0, resets 0".
std::string sequence_cell(const json& s) {
  if (!s.is_object()) return "-";
  std::string missed = part(field(s, "missed"), "missed ");
  if (const std::string share = percent(field(s, "missed_share")); !share.empty()) {
    missed += missed.empty() ? "missed " + share : " (" + share + ")";
  }
  return join_known({part(field(s, "received"), "received "), missed, part(field(s, "duplicates"), "duplicates "),
                     part(field(s, "late"), "late "), part(field(s, "resets"), "resets ")});
}

// A dead-letter table's counts: "stored 12, since start 15, deleted as oldest 3", and the ones that
// could not be stored when there are any.
std::string dead_letter_counts(const json& c) {
  const auto not_stored = integer(field(c, "not_stored"));
  return join_known({part(field(c, "stored"), "stored "), part(field(c, "since_start"), "since start "),
                     part(field(c, "deleted"), "deleted as oldest "),
                     not_stored && *not_stored > 0 ? "not stored " + std::to_string(*not_stored) : ""});
}

// The keys of a recent event that are not free attributes.
constexpr std::array<std::string_view, 9> kEventKeys = {"seq",        "ts",   "type",       "code",       "score",
                                                        "technician", "note", "request_id", "received_ms"};

// What one service event says besides its time and type: "code=E42, technician=tom, part=valve".
std::string event_detail(const json& e) {
  std::vector<std::string> parts;
  for (std::string_view key : {"code", "score", "technician", "request_id", "note"}) {
    const json& v = field(e, key);
    if (!v.is_null()) parts.push_back(std::string{key} + "=" + (key == "score" ? measure_cell(v) : cell(v)));
  }
  if (e.is_object()) {
    for (const auto& [key, value] : e.items()) {
      bool known = false;
      for (std::string_view k : kEventKeys) known = known || k == key;
      if (!known) parts.push_back(cell(json(key)) + "=" + cell(value));
    }
  }
  const std::string out = join_known(parts);
  return out == "-" ? "" : out;
}

// When the event happened: the device's ts, or when the gateway received it if the device has no
// clock (ts 0).
std::string event_time(const json& e) {
  const auto ts = integer(field(e, "ts"));
  return ts && *ts > 0 ? format_time_utc(*ts) : time_cell(field(e, "received_ms"));
}

}  // namespace

std::string render_provision(const json& r, const std::vector<std::string>& qr_lines) {
  Rows rows = {
      {"device", cell(field(r, "device"))},       {"class", cell(field(r, "class"))},
      {"lifecycle", cell(field(r, "lifecycle"))}, {"broker URL", cell(field(r, "broker_url"))},
      {"client id", cell(field(r, "client_id"))}, {"username", cell(field(r, "username"))},
      {"password", cell(field(r, "password"))},
  };
  for (const auto& [key, label] : {std::pair{"publish_topics", "publish"}, {"subscribe_topics", "subscribe"}}) {
    const json& topics = array_field(r, key);
    if (topics.empty()) rows.push_back({label, "-"});
    for (std::size_t i = 0; i < topics.size(); ++i) rows.push_back({i == 0 ? label : "", cell(topics[i])});
  }
  rows.push_back({"URI", cell(field(r, "uri"))});

  std::string out = render_table(rows);
  if (field(r, "rotated") == true) out += "\nNew credentials: the previous password no longer works.\n";
  if (!qr_lines.empty()) {
    out += '\n';
    for (const auto& line : qr_lines) out += line + '\n';
  }
  out += "\nThe password is shown only this once; it is not stored in plain text.\n";
  return out;
}

std::string render_devices(const json& r, std::int64_t now_ms) {
  const json& devices = array_field(r, "devices");
  const std::size_t n = devices.size();
  std::string count = std::to_string(n) + (n == 1 ? " device\n" : " devices\n");
  if (n == 0) return count;
  Rows rows = {{"DEVICE", "CLASS", "LIFECYCLE", "ONLINE", "SCORE", "BAND", "LAST SEEN"}};
  for (const json& d : devices) {
    rows.push_back({cell(field(d, "id")), cell(field(d, "class")), cell(field(d, "lifecycle")),
                    cell(field(d, "online")), cell(field(d, "score")), cell(field(d, "band")),
                    last_seen_cell(d, now_ms)});
  }
  return render_table(rows) + count;
}

std::string render_show(const json& r, std::int64_t now_ms) {
  std::string last_seen = last_seen_cell(r, now_ms);
  if (const auto ms = integer(field(r, "last_seen_ms"))) last_seen = format_time_utc(*ms) + " (" + last_seen + ")";
  std::string out = render_table({{"device", cell(field(r, "id"))},
                                  {"class", cell(field(r, "class"))},
                                  {"lifecycle", cell(field(r, "lifecycle"))},
                                  {"online", cell(field(r, "online"))},
                                  {"model", cell(field(r, "model"))},
                                  {"firmware", cell(field(r, "firmware"))},
                                  {"created", time_cell(field(r, "created_ms"))},
                                  {"updated", time_cell(field(r, "updated_ms"))},
                                  {"first data", time_cell(field(r, "first_data_ms"))},
                                  {"last seen", last_seen},
                                  {"retired", time_cell(field(r, "retired_ms"))}});

  Rows links;
  const json& stakeholders = field(r, "stakeholders");
  for (std::string_view key : kStakeholderFields) links.push_back({std::string{key}, cell(field(stakeholders, key))});
  out += section("Stakeholders", links);

  out += "\nHealth\n";
  const json& score = field(r, "score");
  const json& health = field(r, "health");
  if (score.is_number()) {
    const json& band = field(r, "band");
    out += "  score " + cell(score) + (band.is_string() ? " (" + cell(band) + ")" : "");
    if (const json& since = field(health, "band_since_ms"); since.is_number()) {
      if (const auto ms = integer(since)) out += ", band since " + format_time_utc(*ms) + " (" + relative_age(now_ms, *ms) + ")";
    }
    out += "\n";
    if (const json& pending = field(health, "pending_band"); pending.is_string()) {
      const auto ms = integer(field(health, "pending_since_ms"));
      out += "  becoming " + cell(pending) + (ms ? " (candidate since " + relative_age(now_ms, *ms) + ")" : "") +
             "; the profile's dwell must pass first\n";
    }
  } else {
    const json& why = field(health, "why_no_score");
    out += std::string("  no score yet") + (why.is_string() ? ": " + cell(why) : "") + "\n";
  }
  Rows factors;
  for (const json& f : array_field(r, "factors")) {
    const json& penalty = field(f, "penalty");
    const bool deduction = penalty.is_number() && penalty.get<double>() > 0;
    factors.push_back({cell(field(f, "name")), (deduction ? "-" : "") + cell(penalty), cell(field(f, "why"))});
  }
  out += render_table(factors, "  ");

  Rows alerts;
  for (const json& a : array_field(r, "alerts")) {
    const json& assignee = field(a, "assignee");
    const std::string to = assignee.is_string() && !assignee.get_ref<const std::string&>().empty()
                               ? " -> " + cell(assignee)
                               : "";
    const json& repeats = field(a, "repeats");
    const std::string again =
        repeats.is_number() && repeats.get<double>() > 0 ? " (again " + cell(repeats) + "x)" : "";
    alerts.push_back({cell(field(a, "id")), cell(field(a, "band")), cell(field(a, "action")) + to,
                      time_cell(field(a, "opened_ms")), cell(field(a, "reason")) + again});
  }
  out += section("Open alerts", alerts);

  // Counters: telemetry and beyond are there only when the device sent something since the daemon
  // started; keys a later daemon adds follow as they are.
  const json& c = field(r, "counters");
  Rows counters = {{"messages", cell(field(c, "messages"))}};
  constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCounters = {
      {{"telemetry", "telemetry"},
       {"events", "events"},
       {"dead_letters", "dead letters"},
       {"ignored_fields", "ignored fields"}}};
  for (const auto& [key, label] : kCounters) {
    const json& v = field(c, key);
    if (v.is_null()) continue;
    counters.push_back({std::string{label}, v.is_object() ? sequence_cell(v) : cell(v)});
  }
  if (c.is_object()) {
    for (const auto& [name, value] : c.items()) {
      bool known = name == "messages";
      for (const auto& [key, label] : kCounters) known = known || key == name;
      if (!known) counters.push_back({cell(json(name)), cell(value)});
    }
  }
  out += section("Counters", counters);

  // The latest value of each metric, all from the newest telemetry that carried it.
  Rows readings;
  if (const json& rd = field(r, "readings"); rd.is_object()) {
    for (const auto& [name, value] : rd.items()) readings.push_back({cell(json(name)), measure_cell(value)});
  }
  std::string readings_title = "Readings";
  if (const auto ms = integer(field(r, "readings_ms")); ms && !readings.empty()) {
    readings_title += ", " + relative_age(now_ms, *ms) + " (" + format_time_utc(*ms) + ")";
  }
  out += section(readings_title, readings);

  Rows history;
  for (const json& h : array_field(r, "history")) {
    const json& actor = field(h, "actor");
    history.push_back({time_cell(field(h, "at_ms")), cell(field(h, "what")),
                       link_value(field(h, "old")) + " -> " + link_value(field(h, "new")),
                       cell(actor) == "-" ? "" : "by " + cell(actor)});
  }
  out += section("Relationship history", history);

  Rows events;
  for (const json& e : array_field(r, "recent_events")) {
    const json& seq = field(e, "seq");
    events.push_back({event_time(e), seq.is_null() ? "-" : "#" + cell(seq), cell(field(e, "type")), event_detail(e)});
  }
  out += section("Recent events", events);
  return out;
}

std::string render_link(const json& r) {
  const json& changed = array_field(r, "changed");
  if (changed.empty()) return "nothing changed\n";
  std::string out;
  for (const json& c : changed) {
    out += cell(field(c, "field")) + ": " + link_value(field(c, "old")) + " -> " + link_value(field(c, "new")) + "\n";
  }
  return out;
}

std::string render_retire(const json& r) {
  return cell(field(r, "device")) + " retired (was " + cell(field(r, "previous_lifecycle")) +
         "); its credentials are revoked, its history is kept.\n";
}

namespace {

// "connected, mqtt://127.0.0.1:1883, MQTT 5"
std::string connection_cell(const json& c) {
  const json& connected = field(c, "connected");
  return join_known({connected.is_boolean() ? (connected.get<bool>() ? "connected" : "disconnected") : "",
                     part(field(c, "url"), ""), part(field(c, "mqtt_version"), "MQTT ")});
}

// "12 (active 10, provisioned 1, retired 1)"
std::string devices_cell(const json& d) {
  std::string out = cell(field(d, "total"));
  std::string parts;
  if (const json& by = field(d, "by_lifecycle"); by.is_object()) {
    for (const auto& [name, n] : by.items()) parts += (parts.empty() ? "" : ", ") + name + " " + cell(n);
  }
  return parts.empty() ? out : out + " (" + parts + ")";
}

// "1000 messages, 256000 bytes -> 40 records, 12000 bytes (21.3:1)"
std::string condensation_cell(const json& c) {
  if (!c.is_object()) return "-";
  std::string out = cell(field(c, "messages_in")) + " messages, " + cell(field(c, "bytes_in")) + " bytes -> " +
                    cell(field(c, "records_out")) + " records, " + cell(field(c, "bytes_out")) + " bytes";
  // Messages per record and bytes per byte: how much the central XRM is spared.
  const auto messages = integer(field(c, "messages_in"));
  const auto records = integer(field(c, "records_out"));
  const auto in = integer(field(c, "bytes_in"));
  const auto out_bytes = integer(field(c, "bytes_out"));
  std::string ratios;
  char buf[48];
  if (messages && records && *messages > 0 && *records > 0) {
    std::snprintf(buf, sizeof buf, "%.1f:1 messages", static_cast<double>(*messages) / static_cast<double>(*records));
    ratios = buf;
  }
  if (in && out_bytes && *in > 0 && *out_bytes > 0) {
    std::snprintf(buf, sizeof buf, "%.1f:1%s", static_cast<double>(*in) / static_cast<double>(*out_bytes),
                  ratios.empty() ? "" : " bytes");
    ratios += (ratios.empty() ? "" : ", ") + std::string(buf);
  }
  return ratios.empty() ? out : out + " (" + ratios + ")";
}

// "sent 120 records, 5 batches, last seq 99, in flight 1, errors 2 (last: why)"; the last error
// only when there is one.
// "depth 12 (critical 3), oldest 5s, bulk 1.2KiB of 256MiB, dropped 40 in 2 gaps, 1 refused"
std::string outbox_cell(const json& o) {
  if (!o.is_object()) return "-";
  const json& oldest = field(o, "oldest_age_ms");
  std::string bulk;
  if (const auto b = integer(field(o, "bulk_bytes"))) {
    bulk = "bulk " + format_size(static_cast<std::uint64_t>(*b));
    if (const auto max = integer(field(o, "max_bytes")); max && *max > 0) bulk += " of " + format_size(static_cast<std::uint64_t>(*max));
  }
  std::string dropped;
  if (const auto d = integer(field(o, "dropped_records")); d && *d > 0) {
    dropped = "dropped " + std::to_string(*d) + " in " + cell(field(o, "gap_records")) + " gap records";
  }
  std::string dead;
  if (const auto d = integer(field(o, "dead_letters")); d && *d > 0) dead = std::to_string(*d) + " refused upstream";
  return join_known({part(field(o, "depth"), "depth ") + part(field(o, "critical"), " (critical ", ")"),
                     integer(oldest) ? "oldest " + duration_cell(oldest) : "", bulk, dropped, dead});
}

std::string uplink_cell(const json& u) {
  if (!u.is_object()) return "-";
  std::string errors = part(field(u, "publish_errors"), "errors ");
  if (const json& last = field(u, "last_error"); last.is_string() && !last.get_ref<const std::string&>().empty()) {
    errors += (errors.empty() ? "last error: " : " (last: ") + cell(last) + (errors.empty() ? "" : ")");
  }
  return join_known({part(field(u, "records_sent"), "sent ", " records"),
                     part(field(u, "batches_sent"), "", " batches"), part(field(u, "last_sent_seq"), "last seq "),
                     part(field(u, "in_flight"), "in flight "),
                     field(u, "confirm") == "central"
                         ? "confirm central: " + cell(field(u, "unacked")) + " waiting for an Ack, " +
                               cell(field(u, "acked_records")) + " acked"
                         : "",
                     errors});
}

// "healthy 10, degraded 2; 1 open alert (opened 3, cleared 2, suppressed 1)"
std::string health_cell(const json& h) {
  if (!h.is_object()) return "-";
  std::string bands;
  if (const json& by = field(h, "by_band"); by.is_object()) {
    for (const auto& [name, n] : by.items()) bands += (bands.empty() ? "" : ", ") + name + " " + cell(n);
  }
  std::string alerts;
  if (const auto open = integer(field(h, "open_alerts"))) {
    alerts = std::to_string(*open) + (*open == 1 ? " open alert" : " open alerts");
    const std::string counts =
        join_known({part(field(h, "alerts_opened"), "opened "), part(field(h, "alerts_cleared"), "cleared "),
                    part(field(h, "alerts_suppressed"), "suppressed "), part(field(h, "alerts_escalated"), "escalated ")});
    if (counts != "-") alerts += " (" + counts + ")";
  }
  if (bands.empty()) bands = "no device scored";
  return alerts.empty() ? bands : bands + "; " + alerts;
}

// "sent 120, rate-limited 30, deadband 400, dropped offline 2; 2 classes, 5 devices"; empty when
// no class asks for live telemetry and nothing was sent (the line is then left out).
std::string live_cell(const json& l) {
  if (!l.is_object()) return "";
  const auto sent = integer(field(l, "sent"));
  const auto classes = integer(field(l, "enabled_classes"));
  if (sent.value_or(0) <= 0 && classes.value_or(0) <= 0) return "";
  const std::string counts =
      join_known({part(field(l, "sent"), "sent "), part(field(l, "suppressed_rate"), "rate-limited "),
                  part(field(l, "suppressed_deadband"), "deadband "),
                  part(field(l, "dropped_offline"), "dropped offline ")});
  const std::string scope = join_known({classes ? std::to_string(*classes) + (*classes == 1 ? " class" : " classes") : "",
                                        part(field(l, "devices"), "", " devices")});
  return scope == "-" ? counts : counts + "; " + scope;
}

}  // namespace

std::string render_status(const json& r) {
  const json& connections = field(r, "connections");
  const json& ingest = field(r, "ingest");
  const json& outbox = field(r, "outbox");
  Rows rows = {{"gateway", cell(field(r, "gateway_id"))},
       {"version", cell(field(r, "version"))},
       {"uptime", duration_cell(field(r, "uptime_ms"))},
       {"local broker", connection_cell(field(connections, "local"))},
       {"upstream", connection_cell(field(connections, "upstream"))},
       {"devices", devices_cell(field(r, "devices"))},
       {"ingest",
        join_known({part(field(ingest, "messages"), "", " messages"), part(field(ingest, "rate_per_s"), "", "/s")})},
       {"outbox", outbox_cell(outbox)},
       {"uplink", uplink_cell(field(r, "uplink"))},
       {"health", health_cell(field(r, "health"))},
       {"telemetry", sequence_cell(field(ingest, "telemetry_sequence"))},
       {"events", sequence_cell(field(ingest, "event_sequence"))},
       {"drops", join_known({part(field(ingest, "dropped"), "queue full "),
                             part(field(ingest, "unknown_device"), "unknown device "),
                             part(field(ingest, "retired_device"), "retired device "),
                             part(field(ingest, "bad_topic"), "bad topic ")})},
       {"dead letters",
        field(ingest, "dead_letters").is_object() ? dead_letter_counts(field(ingest, "dead_letters")) : "-"},
       {"condensation", condensation_cell(field(r, "condensation"))}};
  if (std::string live = live_cell(field(r, "live")); !live.empty()) rows.push_back({"live", std::move(live)});
  if (const json& sc = field(r, "scorecards"); sc.is_object()) {
    const json& period = field(sc, "period_ms");
    rows.push_back({"scorecards", cell(field(sc, "records")) + " records in " + cell(field(sc, "runs")) +
                                      " runs over " +
                                      (period.is_number() ? format_duration(std::chrono::milliseconds(period.get<std::int64_t>())) : "-") +
                                      ", last " + time_cell(field(sc, "last_run_ms"))});
  }
  return render_table(rows);
}

// xrmctl dead-letters --upstream [--requeue]
std::string render_upstream_dead_letters(const json& r) {
  const json& letters = array_field(r, "upstream_dead_letters");
  std::string out;
  if (const auto n = integer(field(r, "requeued"))) out += "requeued " + std::to_string(*n) + " record(s) into the outbox\n";
  if (letters.empty()) return out + "no upstream dead letters\n";
  Rows rows = {{"SEQ", "KIND", "DEVICE", "MADE", "REFUSED", "SIZE", "REASON"}};
  for (const json& d : letters) {
    rows.push_back({cell(field(d, "seq")), cell(field(d, "kind")), cell(field(d, "device")), time_cell(field(d, "created_ms")),
                    time_cell(field(d, "dead_ms")), cell(field(d, "bytes")), cell(field(d, "reason"))});
  }
  return out + render_table(rows) + "shown " + std::to_string(letters.size()) + ", stored " + cell(field(r, "stored")) + "\n";
}

std::string render_dead_letters(const json& r) {
  if (r.is_object() && r.contains("upstream_dead_letters")) return render_upstream_dead_letters(r);
  const json& letters = array_field(r, "dead_letters");
  std::string out;
  if (letters.empty()) {
    out = "no dead letters\n";
  } else {
    Rows rows = {{"TIME", "TOPIC", "REASON", "SIZE", "FIRST BYTES"}};
    for (const json& d : letters) {
      const json& hex = field(d, "head_hex");
      std::string head = hex.is_string() ? printable_head(hex.get_ref<const std::string&>()) : "";
      rows.push_back({time_cell(field(d, "at_ms")), cell(field(d, "topic")), cell(field(d, "reason")),
                      cell(field(d, "size")), head.empty() ? "-" : std::move(head)});
    }
    out = render_table(rows);
  }
  const std::string shown = letters.empty() ? "" : "shown " + std::to_string(letters.size());
  const std::string counts = dead_letter_counts(r);
  if (counts == "-") return shown.empty() ? out : out + shown + "\n";
  return out + (shown.empty() ? counts : shown + ", " + counts) + "\n";
}

std::string render_rules_reload(const json& r) {
  std::string classes;
  for (const json& c : array_field(r, "classes")) classes += (classes.empty() ? "" : ", ") + cell(c);
  return "rules reloaded from " + cell(field(r, "file")) + ": " + (classes.empty() ? "no classes" : classes) + " (" +
         cell(field(r, "rules")) + " rules)\n";
}

namespace {

// A figure's value as a cell: one decimal (none when whole), then its unit ("12.5%", "3.2 s").
std::string figure_cell(const json& figure) {
  const json& v = field(figure, "value");
  if (!v.is_number()) return "-";
  // One decimal, none when whole; below 1, two significant digits (0.0014 device-days).
  const double raw = v.get<double>();
  const double x = std::round(raw * 10) / 10;
  char buf[64];
  if (raw != 0 && std::fabs(raw) < 1) {
    std::snprintf(buf, sizeof buf, "%.2g", raw);
  } else if (x == std::floor(x) && std::fabs(x) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", x);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", x);
  }
  const json& unit = field(figure, "unit");
  std::string u = unit.is_string() ? unit.get<std::string>() : "";
  if (u.empty() || u == "count") return buf;
  return std::string(buf) + (u == "%" ? "" : " ") + cell(unit);
}

}  // namespace

std::string render_rank(const json& r) {
  const json& cards = array_field(r, "scorecards");
  std::string out = "Ranked by " + cell(field(r, "by")) + " over the last " +
                    (field(r, "period_ms").is_number() ? format_duration(std::chrono::milliseconds(field(r, "period_ms").get<std::int64_t>())) : "-") +
                    ": " + cell(field(r, "ranked")) + " ranked of " + std::to_string(cards.size()) + "\n";
  if (cards.empty()) return out + "No devices were linked to one in that period.\n";
  // Columns: the figures of the role, in the daemon's order, except the per-version firmware counts.
  std::vector<std::string> names;
  for (const json& f : array_field(cards.front(), "figures")) {
    const std::string name = cell(field(f, "name"));
    if (name.rfind("firmware ", 0) != 0) names.push_back(name);
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"RANK", "STAKEHOLDER", "SCORE", "DEVICES"};
  for (const auto& n : names) {
    std::string upper = n;
    for (char& c : upper) c = c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    head.push_back(upper);
  }
  rows.push_back(head);
  for (const json& c : cards) {
    std::vector<std::string> row = {cell(field(c, "rank")), cell(field(c, "stakeholder")), cell(field(c, "score")),
                                    cell(field(c, "device_count"))};
    for (const auto& n : names) {
      std::string value = "-";
      for (const json& f : array_field(c, "figures")) {
        if (field(f, "name") == n) value = figure_cell(f);
      }
      row.push_back(value);
    }
    rows.push_back(std::move(row));
  }
  out += render_table(rows);
  out += "\nWhy:\n";
  for (const json& c : cards) {
    out += "  " + cell(field(c, "stakeholder")) + "  " + cell(field(c, "explanation"));
    std::string versions;
    for (const json& f : array_field(c, "figures")) {
      const std::string name = cell(field(f, "name"));
      if (name.rfind("firmware ", 0) == 0) versions += (versions.empty() ? "" : ", ") + name.substr(9) + " x" + figure_cell(f);
    }
    if (!versions.empty()) out += " (firmware in the field: " + versions + ")";
    out += "\n";
  }
  return out;
}

std::string printable_head(std::string_view hex) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      out += '?';
      continue;
    }
    const int byte = hi * 16 + lo;
    out += byte >= 0x20 && byte < 0x7f ? static_cast<char>(byte) : '.';
  }
  return out;
}

}  // namespace xrm::xrmctl
