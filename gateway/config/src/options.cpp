#include "xrm/config/options.hpp"

#include <array>
#include <sstream>

#include "xrm/common/units.hpp"
#include "xrm/manpage/manpage.hpp"

namespace xrm::config {
namespace {

Status assign_duration(milliseconds& out, std::string_view text) {
  auto d = parse_duration(text);
  if (!d) return d.status();
  out = *d;
  return Status::ok();
}

Status assign_size(std::uint64_t& out, std::string_view text) {
  auto s = parse_size(text);
  if (!s) return s.status();
  out = *s;
  return Status::ok();
}

Status assign_count(std::uint64_t& out, std::string_view text) {
  out = std::stoull(std::string(text));  // checked by the loader: digits, in range
  return Status::ok();
}

Status assign_level(log::Level& out, std::string_view text) {
  if (!log::parse_level(text, out)) return Status::invalid_argument("unknown log level");
  return Status::ok();
}

}  // namespace

#define XRM_STR(field) [](Config& c, std::string_view t) { c.field = std::string(t); return Status::ok(); }
#define XRM_DUR(field) [](Config& c, std::string_view t) { return assign_duration(c.field, t); }
#define XRM_SIZE(field) [](Config& c, std::string_view t) { return assign_size(c.field, t); }
#define XRM_LEVEL(field) [](Config& c, std::string_view t) { return assign_level(c.field, t); }
#define XRM_COUNT(field) [](Config& c, std::string_view t) { return assign_count(c.field, t); }

// The MQTT connection keys shared by [local] and [upstream].
#define XRM_BROKER_OPTIONS(sec, side, url_default, url_required, user_default, pass_default, who)                                \
  {sec, "url", OptionType::kUrl, url_default, url_required, false, "",                                                     \
   "Broker address: tcp://HOST:PORT, ssl://HOST:PORT (TLS), mqtt:// and mqtts:// alike.", XRM_STR(side.url)},       \
  {sec, "username", OptionType::kString, user_default, false, false, "",                                            \
   "User name the gateway authenticates with (" who ").", XRM_STR(side.username)},                                  \
  {sec, "password_file", OptionType::kPath, pass_default, false, false, "",                                         \
   "File holding the password (first line). Secrets are never taken from the command line.",                        \
   XRM_STR(side.password_file)},                                                                                     \
  {sec, "ca_file", OptionType::kPath, "", false, false, "",                                                         \
   "TLS (ssl:// url): PEM file of the CAs that may sign the broker's certificate, which must also name the url's "  \
   "host; empty: the system's CA store.", XRM_STR(side.ca_file)},                                                    \
  {sec, "cert_file", OptionType::kPath, "", false, false, "",                                                       \
   "TLS: this gateway's client certificate (PEM), for a broker that requires one; with key_file.",                 \
   XRM_STR(side.cert_file)},                                                                                         \
  {sec, "key_file", OptionType::kPath, "", false, false, "",                                                        \
   "TLS: the private key of cert_file (PEM, unencrypted: keep the file 0600).", XRM_STR(side.key_file)},           \
  {sec, "client_id", OptionType::kString, "", false, false, "",                                                     \
   "MQTT client id; empty: xrm-gw-{gateway.id} (local) or xrm-gw-{gateway.id}-up (upstream).",                   \
   XRM_STR(side.client_id)},                                                                                         \
  {sec, "protocol", OptionType::kEnum, "auto", false, false, "auto|5|3.1.1",                                        \
   "MQTT version: auto tries 5 and falls back to 3.1.1 when the broker refuses it.", XRM_STR(side.protocol)},       \
  {sec, "keepalive", OptionType::kDuration, "30s", false, false, "",                                                \
   "MQTT keep-alive interval; a dead link is noticed after about 1.5 times this.", XRM_DUR(side.keepalive)},        \
  {sec, "connect_timeout", OptionType::kDuration, "10s", false, false, "",                                          \
   "How long one connection attempt may take.", XRM_DUR(side.connect_timeout)},                                     \
  {sec, "reconnect_min", OptionType::kDuration, "1s", false, true, "",                                              \
   "First reconnect delay; doubles per failed attempt up to reconnect_max, with random jitter.",                    \
   XRM_DUR(side.reconnect_min)},                                                                                     \
  {sec, "reconnect_max", OptionType::kDuration, "60s", false, true, "",                                             \
   "Longest reconnect delay.", XRM_DUR(side.reconnect_max)}

std::span<const OptionSpec> option_table() {
  static const OptionSpec kTable[] = {
      {"gateway", "id", OptionType::kId, "", true, false, "",
       "This gateway's id, in every topic and record: 1 to 64 characters of A-Z a-z 0-9 . _ -", XRM_STR(gateway.id)},
      {"gateway", "site", OptionType::kId, "", false, false, "",
       "The site this gateway serves; the default site of devices provisioned here.", XRM_STR(gateway.site)},
      {"gateway", "data_dir", OptionType::kPath, "/var/lib/xrm-gateway", false, false, "",
       "Directory of the SQLite database and state (created 0700 if missing). Losing it loses the "
       "registry, the outbox and the sequence and epoch counters.",
       XRM_STR(gateway.data_dir)},

      XRM_BROKER_OPTIONS("local", local, "tcp://127.0.0.1:1883", false, "xrm-gateway", "/etc/xrm-gateway/local.secret",
                         "a dynamic-security admin client of the local Mosquitto"),
      {"local", "device_url", OptionType::kUrl, "tcp://gateway.local:1883", false, false, "",
       "The broker address provisioned devices are told to use.", XRM_STR(local.device_url)},

      XRM_BROKER_OPTIONS("upstream", upstream, "", true, "", "", "optional, with password_file"),
      {"upstream", "confirm", OptionType::kEnum, "broker", false, false, "broker|central",
       "When an outbox record may be deleted: broker = on the upstream broker's PUBACK; central = only "
       "after the central XRM's Ack on xrm/v1/gw/{id}/ack (survives a broker that loses messages).",
       XRM_STR(upstream.confirm)},
      {"upstream", "ack_timeout", OptionType::kDuration, "60s", false, true, "",
       "confirm = central: records sent and not acknowledged by central within this time are sent "
       "again (central de-duplicates by gateway and seq). At most 10000 records wait for an Ack.",
       XRM_DUR(upstream.ack_timeout)},

      {"control", "socket", OptionType::kPath, "/run/xrm-gateway/control.sock", false, false, "",
       "Unix socket xrmctl talks to (mode 0660).", XRM_STR(control.socket)},
      {"control", "group", OptionType::kString, "", false, false, "",
       "Group whose members may use the control socket: the socket file gets this group, and the daemon checks "
       "every client's credentials (SO_PEERCRED, with supplementary groups) and refuses, with permission_denied, "
       "anyone who is not root, not the daemon's own user and not in the group. Empty: the daemon's own group "
       "(xrm-gateway in the package).",
       XRM_STR(control.group)},

      {"ingest", "max_payload", OptionType::kSize, "16KiB", false, true, "",
       "Largest device payload the gateway decodes; a larger one goes to the dead-letter table.",
       XRM_SIZE(ingest.max_payload)},
      {"ingest", "queue_messages", OptionType::kCount, "20000", false, false, "",
       "Device messages that may wait between the MQTT client's thread and the pipeline. When it is "
       "full, telemetry is dropped and counted (xrmctl status: ingest.dropped); events, birth, state "
       "and command results wait instead (their PUBACK is held back, so the broker keeps them).",
       XRM_COUNT(ingest.queue_messages)},
      {"ingest", "dead_letters", OptionType::kCount, "1000", false, true, "",
       "Malformed device messages kept in the dead-letter table (xrmctl dead-letters); beyond this "
       "the oldest are deleted and counted.",
       XRM_COUNT(ingest.dead_letters)},

      {"condense", "window", OptionType::kDuration, "60s", false, false, "",
       "Length of a telemetry summary window, aligned to the wall clock.", XRM_DUR(condense.window)},

      {"scorecard", "period", OptionType::kDuration, "30d", false, false, "",
       "Rolling period of the stakeholder scorecards (docs/scorecards.md): the periodic scorecard "
       "records cover it, and it is xrmctl rank's default --period.",
       XRM_DUR(scorecard.period)},
      {"scorecard", "interval", OptionType::kDuration, "1h", false, false, "",
       "How often a scorecard record (bulk) goes upstream for every technician, supplier, model, "
       "owner and site the gateway's devices were linked to during the period.",
       XRM_DUR(scorecard.interval)},
      {"scorecard", "retention", OptionType::kDuration, "400d", false, false, "",
       "How long the service history (table service_events) is kept; a period longer than this "
       "sees only what is kept.",
       XRM_DUR(scorecard.retention)},

      {"outbox", "max_bytes", OptionType::kSize, "256MiB", false, true, "",
       "Budget for droppable (bulk: summary, health, scorecard) records waiting in the outbox, as "
       "stored (serialized) bytes. Checked every second, also while the upstream is down: beyond it "
       "the oldest bulk records are deleted, never one on its way, and the deletion commits together "
       "with one gap record (critical) giving the exact count, bytes, kinds, seq range and time span. "
       "Critical records (event, alert, lifecycle, gap) are never dropped and do not count. Commit "
       "policy: every record is committed to SQLite (WAL, synchronous=FULL) before it counts as made, "
       "so a crash or power cut loses no committed record and never reuses a seq; a record sent but "
       "not yet deleted when the process dies is sent again (central de-duplicates by gateway and "
       "seq). The database file itself is larger than this by the critical records, SQLite's free "
       "pages and the WAL.",
       XRM_SIZE(outbox.max_bytes)},
      {"outbox", "ttl", OptionType::kDuration, "7d", false, true, "",
       "Bulk records older than this (since they were made) are deleted unsent, oldest first, and "
       "reported in a gap record like budget drops. Critical records never expire.",
       XRM_DUR(outbox.ttl)},

      {"health", "profiles", OptionType::kPath, "/etc/xrm-gateway/profiles.toml", false, false, "",
       "Profiles file: device classes, KPI weights, threshold rules, bands and escalation.",
       XRM_STR(health.profiles)},
      {"health", "snapshot_interval", OptionType::kDuration, "30s", false, true, "",
       "Least time between two retained HealthSnapshot messages of one device while only its score "
       "moves; a band change is published at once.",
       XRM_DUR(health.snapshot_interval)},
      {"health", "save_interval", OptionType::kDuration, "60s", false, true, "",
       "How often the health state of changed devices (windows, timers, KPI state) is written to the "
       "database. A crash or power cut loses at most this much of it; bands, open alerts and their "
       "records are written at once and never lost.",
       XRM_DUR(health.save_interval)},

      {"log", "level", OptionType::kLogLevel, "info", false, true, "error|warning|notice|info|debug",
       "Least severe level written to stderr (journald under systemd).", XRM_LEVEL(log.level)},
  };
  return kTable;
}

#undef XRM_BROKER_OPTIONS
#undef XRM_STR
#undef XRM_DUR
#undef XRM_SIZE
#undef XRM_LEVEL
#undef XRM_COUNT

const OptionSpec* find_option(std::string_view section, std::string_view key) {
  for (const auto& spec : option_table()) {
    if (spec.section == section && spec.key == key) return &spec;
  }
  return nullptr;
}

std::string_view type_name(OptionType type) {
  switch (type) {
    case OptionType::kString: return "string";
    case OptionType::kId: return "id";
    case OptionType::kUrl: return "url";
    case OptionType::kPath: return "path";
    case OptionType::kDuration: return "duration";
    case OptionType::kSize: return "size";
    case OptionType::kEnum: return "enum";
    case OptionType::kLogLevel: return "enum";
    case OptionType::kCount: return "count";
  }
  return "?";
}

namespace {

std::string shown_default(const OptionSpec& spec) {
  if (spec.required) return "(required)";
  if (spec.default_value.empty()) return "\"\"";
  if (spec.type == OptionType::kCount) return std::string(spec.default_value);
  return "\"" + std::string(spec.default_value) + "\"";
}

std::string type_text(const OptionSpec& spec) {
  std::string t(type_name(spec.type));
  if (!spec.choices.empty()) t += ": " + std::string(spec.choices);
  return t;
}

}  // namespace

std::string render_reference_markdown() {
  std::ostringstream out;
  out << "# Configuration reference\n\n"
      << "<!-- Generated by `xrm-gatewayd --print-config-reference` from the option table in\n"
      << "     gateway/config/src/options.cpp. Do not edit by hand; a test fails when this file is stale. -->\n\n"
      << "`xrm-gatewayd --config FILE` reads TOML (default `/etc/xrm-gateway/gateway.toml`). Every key\n"
      << "below has the default shown; unknown sections and keys are errors reported as `FILE:LINE:KEY`.\n"
      << "`xrm-gatewayd --check-config` validates a file (and reads its password files) and exits: 0 valid,\n"
      << "2 invalid. Durations are NUMBER UNIT parts (`500ms`, `30s`, `5m`, `1h30m`, `7d`); sizes take\n"
      << "`B`, `kB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`. Paths must be absolute. Keys marked *reload* are\n"
      << "applied by SIGHUP (`systemctl reload xrm-gatewayd`); changing any other key needs a restart.\n";
  std::string_view section;
  for (const auto& spec : option_table()) {
    if (spec.section != section) {
      section = spec.section;
      out << "\n## [" << section << "]\n\n| key | type | default | reload | description |\n| --- | --- | --- | --- | --- |\n";
    }
    std::string type = type_text(spec);
    for (std::size_t i = type.find('|'); i != std::string::npos; i = type.find('|', i + 2)) type.replace(i, 1, "\\|");
    out << "| `" << spec.key << "` | " << type << " | `" << shown_default(spec) << "` | "
        << (spec.reloadable ? "reload" : "restart") << " | " << spec.description << " |\n";
  }
  return out.str();
}

std::string render_reference_text() {
  std::ostringstream out;
  std::string_view section;
  for (const auto& spec : option_table()) {
    if (spec.section != section) {
      section = spec.section;
      out << "\n[" << section << "]\n";
    }
    out << "  " << spec.key << " (" << type_text(spec) << ") = " << shown_default(spec)
        << (spec.reloadable ? "  [reload]" : "") << "\n      " << spec.description << "\n";
  }
  return out.str();
}

std::string render_reference_man(std::string_view version) {
  manpage::Page page;
  page.name = "xrm-gateway.toml";
  page.section = "5";
  page.summary = "configuration file of the XRM edge gateway daemon";
  page.source = "xrm-gateway " + std::string(version);
  page.description.push_back(
      {"DESCRIPTION",
       "xrm-gatewayd(8) reads its configuration from a TOML file, by default /etc/xrm-gateway/gateway.toml "
       "(xrm-gatewayd --config FILE names another). The file has one table per section below; every key "
       "has the default shown, and only gateway.id and upstream.url are required. Unknown sections and "
       "keys are errors, reported as FILE:LINE:KEY.\n\n"
       "xrm-gatewayd --check-config validates a file (and reads its password files) and exits: 0 valid, "
       "2 invalid.\n\n"
       "Durations are NUMBER UNIT parts: 500ms, 30s, 5m, 1h30m, 7d. Sizes take B, kB, MB, GB, KiB, MiB, "
       "GiB. Paths must be absolute. Secrets are never given in this file or on the command line: keys "
       "named password_file name a file whose first line is the password.\n\n"
       "Keys marked reload are applied by SIGHUP (systemctl reload xrm-gatewayd); changing any other key "
       "needs a restart. The same reference is in xrm-gatewayd --help and, as Markdown, in "
       "xrm-gatewayd --print-config-reference.",
       {}});
  manpage::Section keys{"KEYS",
                        "Each key is written section.key below, and in the file as key = value under the "
                        "[section] table. After the name: its type, default, and whether SIGHUP reloads it.",
                        {}};
  for (const auto& spec : option_table()) {
    const std::string def = spec.required ? "required" : "default " + shown_default(spec);
    keys.items.push_back({spec.name(), "(" + type_text(spec) + ", " + def + ", " +
                                           (spec.reloadable ? "reload" : "restart") + ")",
                          std::string(spec.description)});
  }
  page.sections.push_back(std::move(keys));
  page.sections.push_back({"EXAMPLE",
                           "The smallest valid file: the two required keys.\n\n"
                           "  [gateway]\n"
                           "  id = \"gw-01\"\n"
                           "\n"
                           "  [upstream]\n"
                           "  url = \"ssl://central.example.com:8883\"",
                           {}});
  page.sections.push_back({"FILES",
                           "",
                           {{"/etc/xrm-gateway/gateway.toml", "", "The default configuration file."},
                            {"/etc/xrm-gateway/profiles.toml", "", "The default profiles file (health.profiles)."},
                            {"/etc/xrm-gateway/local.secret", "",
                             "The default password file of the local broker user (local.password_file)."}}});
  page.sections.push_back({"SEE ALSO", "xrm-gatewayd(8), xrmctl(1), mosquitto(8)", {}});
  return manpage::render(page);
}

}  // namespace xrm::config
