#include "xrm/health/profiles.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>

#include <toml++/toml.h>

#include "xrm/common/files.hpp"
#include "xrm/common/units.hpp"
#include "xrm/common/toml_kind.hpp"

namespace xrm::health {

using config::ConfigError;
using std::chrono::milliseconds;

namespace {

// Spellings, indexed by the enums' values.
constexpr std::array<std::string_view, 6> kFuncs = {"avg", "min", "max", "last", "count", "rate"};
constexpr std::array<std::string_view, 6> kOps = {">", ">=", "<", "<=", "==", "!="};
constexpr std::array<std::string_view, 4> kEscalations = {"none", "alert", "service_request", "command"};
constexpr std::string_view kCommandPrefix = "command:";
constexpr std::int64_t kMinGapsWindowMs = 60'000;
constexpr int kGapsWindowIntervals = 10;
// offline_after, when the file leaves it out, is this many expected intervals.
constexpr int kOfflineIntervals = 6;
constexpr std::size_t kMaxMetricLength = 64;

template <std::size_t N>
int index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_metric_char(char c) { return is_word(c) || c == '.' || c == '-'; }
bool is_op_char(char c) { return c == '<' || c == '>' || c == '=' || c == '!'; }
bool is_number_char(char c) { return is_alnum(c) || c == '.' || c == '+' || c == '-'; }

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Shortest spelling that reads back the same: 80, 42.5, -1e-09.
std::string format_number(double value) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  return std::string(buf, end);
}

int line_of(const toml::source_region& region) { return static_cast<int>(region.begin.line); }

// Reads one profiles document into Profiles, reporting each problem into errors.
class Loader {
 public:
  Loader(const std::string& file, std::vector<ConfigError>& errors) : file_(file), errors_(errors) {}

  void load(const toml::table& root, Profiles& out) {
    for (auto&& [key, node] : root) {
      const std::string name(key.str());
      const int line = line_of(key.source());
      if (name != "profile") {
        add(line, name, "unknown key");
        continue;
      }
      const auto* array = node.as_array();
      if (array == nullptr || !array->is_array_of_tables()) {
        add(line, name, "expected [[profile]] tables, found " + std::string(toml_node_kind(node)));
        continue;
      }
      for (std::size_t i = 0; i < array->size(); ++i) out.profiles.push_back(load_profile(*(*array)[i].as_table(), i));
    }
  }

 private:
  void add(int line, std::string key, std::string message) {
    errors_.push_back({file_, line, std::move(key), std::move(message)});
  }

  // Calls read(key, node, name, line) for each entry of a table; read returns false for a key
  // it does not know, which is then reported.
  template <typename Read>
  void each_entry(const toml::node& node, int line, const std::string& name, Read read) {
    const auto* table = node.as_table();
    if (table == nullptr) {
      add(line, name, "expected a table, found " + std::string(toml_node_kind(node)));
      return;
    }
    for (auto&& [key, value] : *table) {
      const std::string entry = name + "." + std::string(key.str());
      const int entry_line = line_of(key.source());
      if (!read(key.str(), value, entry, entry_line)) add(entry_line, entry, "unknown key");
    }
  }

  // Reads the id at table[key] that names the table in other errors. Returns the label
  // "WHAT[ID]", or "WHAT[#N]" when the id is missing or unusable; ids_seen catches duplicates.
  std::string read_label(const toml::table& table, std::string_view key, const std::string& what, std::size_t index,
                         int table_line, std::map<std::string, int, std::less<>>& ids_seen, std::string& id) {
    std::string by_position = what + "[#" + std::to_string(index + 1) + "]";
    const auto it = table.find(key);
    if (it == table.end()) {
      add(table_line, by_position + "." + std::string(key), "required key is missing");
      return by_position;
    }
    const int line = line_of(it->first.source());
    const auto* text = it->second.as_string();
    if (text == nullptr) {
      add(line, by_position + "." + std::string(key), "expected a string (id), found " + std::string(toml_node_kind(it->second)));
      return by_position;
    }
    if (const std::string why = id_error(text->get()); !why.empty()) {
      add(line, by_position + "." + std::string(key), "id " + in_quotes(text->get()) + " " + why);
      return by_position;
    }
    id = text->get();
    std::string label = what + "[" + id + "]";
    if (const auto [first, inserted] = ids_seen.emplace(id, line); !inserted) {
      add(line, label + "." + std::string(key),
          "duplicate " + std::string(key) + " " + in_quotes(id) + "; first defined at line " +
              std::to_string(first->second));
    }
    return label;
  }

  // The read_* functions leave `out` unchanged when the value is refused.
  void read_duration(const toml::node& node, int line, const std::string& name, bool allow_zero, milliseconds& out) {
    const auto* text = node.as_string();
    if (text == nullptr) {
      add(line, name, "expected a string (duration), found " + std::string(toml_node_kind(node)));
      return;
    }
    auto d = parse_duration(text->get());
    if (!d) {
      add(line, name, d.status().message());
    } else if (!allow_zero && d->count() == 0) {
      add(line, name, "duration must be greater than zero");
    } else {
      out = *d;
    }
  }

  // Every number in a profile (bands, weights, hysteresis, penalty) is 0 to 100.
  void read_number(const toml::node& node, int line, const std::string& name, double& out) {
    if (!node.is_number()) {
      add(line, name, "expected a number, found " + std::string(toml_node_kind(node)));
      return;
    }
    const double value = *node.value<double>();
    if (!(value >= 0 && value <= 100)) {  // also refuses nan
      add(line, name, format_number(value) + " is not between 0 and 100");
      return;
    }
    out = value;
  }

  void read_escalation(const toml::node& node, int line, const std::string& name, Escalation& out,
                       std::string& command) {
    const auto* text = node.as_string();
    if (text == nullptr) {
      add(line, name,
          "expected a string (none, alert, service_request or command:NAME), found " +
              std::string(toml_node_kind(node)));
      return;
    }
    const std::string& value = text->get();
    if (value.rfind(kCommandPrefix, 0) == 0) {
      const std::string cmd = value.substr(kCommandPrefix.size());
      if (const std::string why = id_error(cmd); !why.empty()) {
        add(line, name, "command name " + in_quotes(cmd) + " " + why);
        return;
      }
      out = Escalation::kCommand;
      command = cmd;
      return;
    }
    const int index = index_of(kEscalations, value);
    if (index < 0 || static_cast<Escalation>(index) == Escalation::kCommand) {
      add(line, name, in_quotes(value) + " is not one of none|alert|service_request|command:NAME");
    } else {
      out = static_cast<Escalation>(index);
    }
  }

  Profile load_profile(const toml::table& table, std::size_t index) {
    Profile p;
    p.line = line_of(table.source());
    const std::size_t errors_before = errors_.size();
    const std::string label = read_label(table, "class", "profile", index, p.line, classes_, p.class_name);
    int offline_line = 0;
    int bands_line = 0;
    int gaps_window_line = 0;
    each_entry(
        table, p.line, label, [&](std::string_view key, const toml::node& node, const std::string& name, int line) {
          if (key == "class") {
            // read by read_label
          } else if (key == "expected_interval") {
            read_duration(node, line, name, false, p.expected_interval);
          } else if (key == "offline_after") {
            offline_line = line;
            read_duration(node, line, name, false, p.offline_after);
          } else if (key == "hysteresis") {
            read_number(node, line, name, p.hysteresis);
          } else if (key == "dwell") {
            read_duration(node, line, name, true, p.dwell);
          } else if (key == "kpi") {
            KpiTargets& k = p.kpi;
            each_entry(node, line, name,
                       [&](std::string_view target, const toml::node& value, const std::string& n, int l) {
                         if (target == "gaps_window") {
                           gaps_window_line = l;
                           read_duration(value, l, n, false, k.gaps_window);
                         } else if (target == "gaps_full") {
                           read_number(value, l, n, k.gaps_full);
                         } else if (target == "response_target") {
                           read_duration(value, l, n, false, k.response_target);
                         } else if (target == "recurrence_window") {
                           read_duration(value, l, n, false, k.recurrence_window);
                         } else if (target == "satisfaction_min") {
                           read_number(value, l, n, k.satisfaction_min);
                         } else if (target == "sla") {
                           read_duration(value, l, n, false, k.sla);
                         } else if (target == "period") {
                           read_duration(value, l, n, false, k.period);
                         } else {
                           return false;
                         }
                         return true;
                       });
          } else if (key == "bands") {
            bands_line = line;
            each_entry(
                node, line, name, [&](std::string_view band, const toml::node& value, const std::string& n, int l) {
                  double* field = band == "healthy" ? &p.healthy_band : band == "critical" ? &p.critical_band : nullptr;
                  if (field != nullptr) read_number(value, l, n, *field);
                  return field != nullptr;
                });
          } else if (key == "escalate") {
            each_entry(node, line, name,
                       [&](std::string_view band, const toml::node& value, const std::string& n, int l) {
                         const bool degraded = band == "degraded";
                         if (!degraded && band != "critical") return false;
                         read_escalation(value, l, n, degraded ? p.on_degraded : p.on_critical,
                                         degraded ? p.degraded_command : p.critical_command);
                         return true;
                       });
          } else if (key == "weights") {
            Weights& w = p.weights;
            const std::pair<std::string_view, double*> fields[] = {{"silence", &w.silence},
                                                                   {"gaps", &w.gaps},
                                                                   {"response", &w.response},
                                                                   {"recurrence", &w.recurrence},
                                                                   {"satisfaction", &w.satisfaction}};
            each_entry(node, line, name,
                       [&](std::string_view factor, const toml::node& value, const std::string& n, int l) {
                         for (const auto& [field_name, field] : fields) {
                           if (field_name == factor) {
                             read_number(value, l, n, *field);
                             return true;
                           }
                         }
                         return false;
                       });
          } else if (key == "rule") {
            load_rules(node, line, name, label, p);
          } else if (key == "live") {
            load_live(node, line, name, p.live);
          } else {
            return false;
          }
          return true;
        });

    if (offline_line == 0) {
      constexpr auto kMax = milliseconds::max();
      p.offline_after = p.expected_interval > kMax / kOfflineIntervals ? kMax : p.expected_interval * kOfflineIntervals;
    }
    if (gaps_window_line == 0) {
      const milliseconds by_interval =
          p.expected_interval > milliseconds::max() / kGapsWindowIntervals ? milliseconds::max()
                                                                          : p.expected_interval * kGapsWindowIntervals;
      p.kpi.gaps_window = std::max(by_interval, milliseconds(kMinGapsWindowMs));
    }
    // Cross-checks only between values that were accepted, so one typo gives one error.
    if (errors_.size() == errors_before) {
      if (p.offline_after < p.expected_interval) {
        add(offline_line, label + ".offline_after",
            format_duration(p.offline_after) + " is shorter than expected_interval (" +
                format_duration(p.expected_interval) + ")");
      }
      if (p.kpi.gaps_full <= 0) {
        add(line_of(table.source()), label + ".kpi.gaps_full", "must be greater than 0 (percent)");
      }
      if (p.critical_band > p.healthy_band) {
        add(bands_line, label + ".bands",
            "critical (" + format_number(p.critical_band) + ") is above healthy (" + format_number(p.healthy_band) +
                "); need 0 <= critical <= healthy <= 100");
      }
    }
    return p;
  }

  // `live` (inline table or [profile.live]): live telemetry to central. Present, it needs an
  // interval; cross-checks run only when every key of it was accepted.
  void load_live(const toml::node& node, int line, const std::string& name, LiveSettings& live) {
    const std::size_t errors_before = errors_.size();
    live.line = line;
    int interval_line = 0;
    int max_interval_line = 0;
    std::vector<std::pair<std::string, int>> deadband_lines;
    each_entry(node, line, name, [&](std::string_view key, const toml::node& value, const std::string& n, int l) {
      if (key == "interval") {
        interval_line = l;
        read_duration(value, l, n, false, live.interval);
      } else if (key == "max_interval") {
        max_interval_line = l;
        read_duration(value, l, n, false, live.max_interval);
      } else if (key == "deadband") {
        each_entry(value, l, n, [&](std::string_view metric, const toml::node& v, const std::string& n2, int l2) {
          double deadband = 0;
          if (metric != "default" && !check_metric_name(metric, l2, n2)) return true;
          if (!read_deadband(v, l2, n2, deadband)) return true;
          if (metric == "default") {
            live.default_deadband = deadband;
          } else {
            live.deadbands.emplace_back(std::string(metric), deadband);
            deadband_lines.emplace_back(std::string(metric), l2);
          }
          return true;
        });
      } else if (key == "metrics") {
        read_metric_list(value, l, n, live.metrics);
      } else {
        return false;
      }
      return true;
    });
    if (!node.is_table()) return;  // reported by each_entry
    if (interval_line == 0) {
      add(line, name + ".interval",
          "required key is missing (live telemetry needs the shortest time between two messages, e.g. \"5s\")");
    }
    if (errors_.size() != errors_before) return;
    if (live.max_interval.count() > 0 && live.max_interval < live.interval) {
      add(max_interval_line, name + ".max_interval",
          format_duration(live.max_interval) + " is shorter than interval (" + format_duration(live.interval) + ")");
    }
    if (!live.metrics.empty()) {
      for (const auto& [metric, l] : deadband_lines) {
        if (std::find(live.metrics.begin(), live.metrics.end(), metric) == live.metrics.end()) {
          add(l, name + ".deadband." + metric, in_quotes(metric) + " is not in live.metrics, so it is never sent");
        }
      }
    }
  }

  // A metric name as devices send it (the same rule as in `when`); false after reporting it.
  bool check_metric_name(std::string_view metric, int line, const std::string& name) {
    if (metric.empty() || metric.size() > kMaxMetricLength ||
        !std::all_of(metric.begin(), metric.end(), is_metric_char)) {
      add(line, name, "metric name " + in_quotes(metric) + " is not 1 to 64 characters of A-Z a-z 0-9 _ . -");
      return false;
    }
    return true;
  }

  // A deadband: a finite number >= 0, in the metric's own unit (so no upper bound).
  bool read_deadband(const toml::node& node, int line, const std::string& name, double& out) {
    if (!node.is_number()) {
      add(line, name, "expected a number (deadband), found " + std::string(toml_node_kind(node)));
      return false;
    }
    const double value = *node.value<double>();
    if (!std::isfinite(value)) {
      add(line, name, format_number(value) + " is not a finite number");
      return false;
    }
    if (value < 0) {
      add(line, name, format_number(value) + " is negative; a deadband is 0 (any change) or more");
      return false;
    }
    out = value;
    return true;
  }

  void read_metric_list(const toml::node& node, int line, const std::string& name, std::vector<std::string>& out) {
    const auto* array = node.as_array();
    if (array == nullptr) {
      add(line, name, "expected an array of metric names, found " + std::string(toml_node_kind(node)));
      return;
    }
    if (array->empty()) {
      add(line, name, "empty list; leave metrics out to forward every metric");
      return;
    }
    std::vector<std::string> metrics;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const int l = element.source().begin.line != 0 ? line_of(element.source()) : line;
      const auto* text = element.as_string();
      if (text == nullptr) {
        add(l, name,
            "element " + std::to_string(i + 1) + ": expected a string (metric name), found " +
                std::string(toml_node_kind(element)));
        ok = false;
      } else if (!check_metric_name(text->get(), l, name)) {
        ok = false;
      } else if (std::find(metrics.begin(), metrics.end(), text->get()) != metrics.end()) {
        add(l, name, in_quotes(text->get()) + " is listed twice");
        ok = false;
      } else {
        metrics.push_back(text->get());
      }
    }
    if (ok) out = std::move(metrics);
  }

  void load_rules(const toml::node& node, int line, const std::string& name, const std::string& profile_label,
                  Profile& p) {
    const auto* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      add(line, name, "expected [[profile.rule]] tables, found " + std::string(toml_node_kind(node)));
      return;
    }
    std::map<std::string, int, std::less<>> names;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::table& table = *(*array)[i].as_table();
      Rule r;
      r.line = line_of(table.source());
      const std::string label = read_label(table, "name", profile_label + ".rule", i, r.line, names, r.name);
      bool has_when = false;
      each_entry(table, r.line, label, [&](std::string_view key, const toml::node& value, const std::string& n, int l) {
        if (key == "name") {
          // read by read_label
        } else if (key == "when") {
          has_when = true;
          read_when(value, l, n, r);
        } else if (key == "for") {
          read_duration(value, l, n, true, r.hold);
        } else if (key == "penalty") {
          read_number(value, l, n, r.penalty);
        } else {
          return false;
        }
        return true;
      });
      if (!has_when) add(r.line, label + ".when", "required key is missing");
      p.rules.push_back(std::move(r));
    }
  }

  void read_when(const toml::node& node, int line, const std::string& name, Rule& r) {
    const auto* text = node.as_string();
    if (text == nullptr) {
      add(line, name, "expected a string (FUNC(METRIC, WINDOW) OP NUMBER), found " + std::string(toml_node_kind(node)));
      return;
    }
    r.when = text->get();
    auto condition = parse_condition(r.when);
    if (!condition) {
      add(line, name, condition.status().message());
      return;
    }
    r.condition = std::move(*condition);
  }

  const std::string& file_;
  std::vector<ConfigError>& errors_;
  std::map<std::string, int, std::less<>> classes_;  // class -> line, across the file
};

Profiles parse(const std::string& text, const std::string& file, std::vector<ConfigError>& errors) {
  Profiles out;
  out.source_file = file;
  try {
    const toml::table root = toml::parse(text, file);
    Loader(file, errors).load(root, out);
  } catch (const toml::parse_error& e) {
    errors.push_back({file, line_of(e.source()), "", std::string(e.description())});
  }
  std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
  if (!errors.empty()) out.profiles.clear();
  return out;
}

}  // namespace

Result<RuleCondition> parse_condition(std::string_view text) {
  std::size_t pos = 0;
  auto skip_space = [&] {
    while (pos < text.size() && is_space(text[pos])) ++pos;
  };
  auto take = [&](bool (*pred)(char)) {
    const std::size_t start = pos;
    while (pos < text.size() && pred(text[pos])) ++pos;
    return text.substr(start, pos - start);
  };
  auto accept = [&](char c) {
    if (pos == text.size() || text[pos] != c) return false;
    ++pos;
    return true;
  };
  auto fail = [&](std::size_t at, const std::string& what) {
    return Status::invalid_argument("column " + std::to_string(at + 1) + ": " + what);
  };
  auto found = [&] {
    return pos == text.size() ? std::string("found the end") : "found " + in_quotes(text.substr(pos, 1));
  };

  RuleCondition c;
  skip_space();
  if (pos == text.size()) return Status::invalid_argument("empty condition; expected FUNC(METRIC, WINDOW) OP NUMBER");

  const std::size_t func_at = pos;
  const std::string_view func = take(is_word);
  if (func.empty()) return fail(pos, "expected a function (avg min max last count rate), " + found());
  const int func_index = index_of(kFuncs, func);
  if (func_index < 0)
    return fail(func_at, "unknown function " + in_quotes(func) + "; expected avg min max last count rate");
  c.func = static_cast<RuleFunc>(func_index);

  skip_space();
  if (!accept('(')) return fail(pos, "expected \"(\" after " + std::string(func) + ", " + found());

  skip_space();
  const std::size_t metric_at = pos;
  c.metric = take(is_metric_char);
  if (c.metric.empty()) return fail(pos, "expected a metric name (A-Z a-z 0-9 _ . -), " + found());
  if (c.metric.size() > kMaxMetricLength) return fail(metric_at, "metric name is longer than 64 characters");

  skip_space();
  if (!accept(',')) return fail(pos, "expected \",\" after the metric name, " + found());

  skip_space();
  const std::size_t window_at = pos;
  const std::string_view window = take(is_alnum);
  if (window.empty()) return fail(pos, "expected a window such as 1m, " + found());
  auto d = parse_duration(window);
  if (!d) return fail(window_at, "bad window: " + d.status().message());
  if (d->count() == 0) return fail(window_at, "window must be greater than zero");
  c.window = *d;

  skip_space();
  if (!accept(')')) return fail(pos, "expected \")\" after the window, " + found());

  skip_space();
  const std::size_t op_at = pos;
  const std::string_view op = take(is_op_char);
  if (op.empty()) return fail(pos, "expected an operator (> >= < <= == !=), " + found());
  const int op_index = index_of(kOps, op);
  if (op_index < 0) return fail(op_at, "unknown operator " + in_quotes(op) + "; expected > >= < <= == !=");
  c.op = static_cast<RuleOp>(op_index);

  skip_space();
  const std::size_t number_at = pos;
  const std::string_view number = take(is_number_char);
  if (number.empty()) return fail(pos, "expected a number after " + std::string(op) + ", " + found());
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), c.threshold);
  if (ec == std::errc::invalid_argument || end != number.data() + number.size()) {
    return fail(number_at, in_quotes(number) + " is not a number");
  }
  if (ec == std::errc::result_out_of_range || !std::isfinite(c.threshold)) {
    return fail(number_at, in_quotes(number) + " is not a finite number");
  }

  skip_space();
  if (pos != text.size()) return fail(pos, "unexpected " + in_quotes(text.substr(pos)) + " after the number");
  return c;
}

double LiveSettings::deadband_of(std::string_view metric) const {
  for (const auto& [name, deadband] : deadbands) {
    if (name == metric) return deadband;
  }
  return default_deadband;
}

bool LiveSettings::selects(std::string_view metric) const {
  return metrics.empty() || std::find(metrics.begin(), metrics.end(), metric) != metrics.end();
}

const Profile* Profiles::find(std::string_view class_name) const {
  const auto it =
      std::find_if(profiles.begin(), profiles.end(), [&](const Profile& p) { return p.class_name == class_name; });
  return it == profiles.end() ? nullptr : &*it;
}

std::vector<std::string> Profiles::class_names() const {
  std::vector<std::string> names;
  for (const auto& p : profiles) names.push_back(p.class_name);
  return names;
}

Profiles load_profiles_string(const std::string& text, const std::string& source_name,
                              std::vector<ConfigError>& errors) {
  errors.clear();
  return parse(text, source_name, errors);
}

Profiles load_profiles_file(const std::string& path, std::vector<ConfigError>& errors) {
  errors.clear();
  auto text = read_text_file(path);
  if (!text) {
    errors.push_back({path, 0, "", text.status().message()});
    return {path, {}};
  }
  return parse(*text, path, errors);
}

std::string_view to_string(RuleFunc func) { return kFuncs[static_cast<std::size_t>(func)]; }
std::string_view to_string(RuleOp op) { return kOps[static_cast<std::size_t>(op)]; }
std::string_view to_string(Escalation escalation) { return kEscalations[static_cast<std::size_t>(escalation)]; }

}  // namespace xrm::health
