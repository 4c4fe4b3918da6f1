#include "xrm/devsim/scenario.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include <toml++/toml.h>

#include "xrm/common/files.hpp"
#include "xrm/common/toml_kind.hpp"
#include "xrm/common/units.hpp"

namespace xrm::devsim {

namespace {

// Spellings, indexed by BehaviourKind.
constexpr std::array<std::string_view, 7> kKinds = {"normal", "drift",   "flaky",          "silent",
                                                    "fault",  "service", "recurring_fault"};
// Which keys each kind takes, besides `kind`.
const std::array<std::vector<std::string_view>, 7> kKindKeys = {{
    {"at"},
    {"metric", "target", "after", "over"},
    {"share", "after"},
    {"after", "for"},
    {"at", "code", "request_after"},
    {"at", "takes", "technician", "score", "rate_after"},
    {"after", "code", "request_after", "times"},
}};
constexpr std::int64_t kMaxCount = 1'000'000;
constexpr std::size_t kMaxMetricLength = 64;

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string format_number(double value) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  return std::string(buf, end);
}

int line_of(const toml::source_region& region) { return static_cast<int>(region.begin.line); }

bool is_metric_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

// Reads one scenario document, reporting each problem into errors. The read_* functions leave
// `out` unchanged and return false when they refuse the value.
class Loader {
 public:
  Loader(const std::string& file, std::vector<ScenarioError>& errors) : file_(file), errors_(errors) {}

  void load(const toml::table& root, Scenario& out) {
    bool has_groups = false;
    for (auto&& [key, node] : root) {
      const std::string name(key.str());
      const int line = line_of(key.source());
      if (name == "seed") {
        const auto* value = node.as_integer();
        if (value == nullptr) {
          add(line, name, "expected an integer, found " + std::string(toml_node_kind(node)));
        } else if (value->get() < 0) {
          add(line, name, std::to_string(value->get()) + " is negative; a seed is 0 or more");
        } else {
          out.seed = static_cast<std::uint64_t>(value->get());
        }
      } else if (name == "duration") {
        read_duration(node, line, name, false, out.duration_ms);
      } else if (name == "group") {
        const auto* array = node.as_array();
        if (array == nullptr || !array->is_array_of_tables()) {
          add(line, name, "expected [[group]] tables, found " + std::string(toml_node_kind(node)));
          continue;
        }
        has_groups = true;
        for (std::size_t i = 0; i < array->size(); ++i) {
          out.groups.push_back(load_group(*(*array)[i].as_table(), i));
        }
      } else {
        add(line, name, "unknown key");
      }
    }
    if (!has_groups && errors_.empty()) add(0, "group", "no [[group]] tables; a scenario needs at least one device");
  }

 private:
  void add(int line, std::string key, std::string message) {
    errors_.push_back({file_, line, std::move(key), std::move(message)});
  }

  bool read_duration(const toml::node& node, int line, const std::string& name, bool allow_zero, std::int64_t& out) {
    const auto* text = node.as_string();
    if (text == nullptr) {
      add(line, name, "expected a string (duration such as \"30s\"), found " + std::string(toml_node_kind(node)));
      return false;
    }
    auto d = parse_duration(text->get());
    if (!d) {
      add(line, name, d.status().message());
      return false;
    }
    if (!allow_zero && d->count() == 0) {
      add(line, name, "duration must be greater than zero");
      return false;
    }
    out = d->count();
    return true;
  }

  bool read_number(const toml::node& node, int line, const std::string& name, double& out) {
    if (!node.is_number()) {
      add(line, name, "expected a number, found " + std::string(toml_node_kind(node)));
      return false;
    }
    const double value = *node.value<double>();
    if (!std::isfinite(value)) {
      add(line, name, format_number(value) + " is not a finite number");
      return false;
    }
    out = value;
    return true;
  }

  bool read_string(const toml::node& node, int line, const std::string& name, std::string& out) {
    const auto* text = node.as_string();
    if (text == nullptr) {
      add(line, name, "expected a string, found " + std::string(toml_node_kind(node)));
      return false;
    }
    out = text->get();
    return true;
  }

  Group load_group(const toml::table& table, std::size_t index) {
    Group g;
    g.line = line_of(table.source());
    const std::string label = "group[" + std::to_string(index + 1) + "]";
    std::int64_t count = -1;
    int count_line = 0;
    int devices_line = 0;
    int prefix_line = 0;
    std::string prefix;
    bool has_class = false;
    const toml::array* behaviours = nullptr;
    int behaviours_line = 0;
    for (auto&& [k, node] : table) {
      const std::string_view key = k.str();
      const std::string name = label + "." + std::string(key);
      const int line = line_of(k.source());
      if (key == "devices") {
        devices_line = line;
        read_devices(node, line, name, g.devices);
      } else if (key == "count") {
        count_line = line;
        const auto* value = node.as_integer();
        if (value == nullptr) {
          add(line, name, "expected an integer, found " + std::string(toml_node_kind(node)));
        } else if (value->get() < 1 || value->get() > kMaxCount) {
          add(line, name, std::to_string(value->get()) + " is not between 1 and " + std::to_string(kMaxCount));
        } else {
          count = value->get();
        }
      } else if (key == "prefix") {
        prefix_line = line;
        read_string(node, line, name, prefix);
      } else if (key == "class") {
        has_class = true;
        if (read_string(node, line, name, g.device_class)) {
          if (const std::string why = id_error(g.device_class); !why.empty()) {
            add(line, name, "class " + in_quotes(g.device_class) + " " + why);
          }
        }
      } else if (key == "interval") {
        read_duration(node, line, name, false, g.interval_ms);
      } else if (key == "metrics") {
        read_metrics(node, line, name, g.metrics);
      } else if (key == "behaviour") {
        behaviours_line = line;
        behaviours = node.as_array();
        if (behaviours == nullptr || !behaviours->is_array_of_tables()) {
          add(line, name,
              "expected a list of tables ([[group.behaviour]] or [{ kind = ... }]), found " +
                  std::string(toml_node_kind(node)));
          behaviours = nullptr;
        }
      } else if (key == "owner") {
        read_string(node, line, name, g.owner);
      } else if (key == "site") {
        read_string(node, line, name, g.site);
      } else if (key == "technician") {
        read_string(node, line, name, g.technician);
      } else if (key == "supplier") {
        read_string(node, line, name, g.supplier);
      } else if (key == "model") {
        read_string(node, line, name, g.model);
      } else {
        add(line, name, "unknown key");
      }
    }
    if (!has_class) add(g.line, label + ".class", "required key is missing (the device class, e.g. \"chiller\")");
    if (devices_line != 0 && count_line != 0) {
      add(count_line, label + ".count", "give either devices or count (with prefix), not both");
    } else if (devices_line == 0 && count_line == 0) {
      add(g.line, label + ".devices", "required: a list of device ids, or count = N with prefix");
    } else if (count_line != 0 && count > 0) {
      if (prefix_line == 0) prefix = g.device_class + "-";
      for (std::int64_t i = 1; i <= count; ++i) g.devices.push_back(prefix + std::to_string(i));
      check_device_ids(g.devices, prefix_line != 0 ? prefix_line : count_line,
                       label + (prefix_line != 0 ? ".prefix" : ".count"));
    }
    if (prefix_line != 0 && count_line == 0) add(prefix_line, label + ".prefix", "prefix needs count");
    if (behaviours != nullptr) {
      for (std::size_t i = 0; i < behaviours->size(); ++i) {
        load_behaviour(*(*behaviours)[i].as_table(), i, label, behaviours_line, g);
      }
    }
    return g;
  }

  void read_devices(const toml::node& node, int line, const std::string& name, std::vector<std::string>& out) {
    const auto* array = node.as_array();
    if (array == nullptr) {
      add(line, name, "expected an array of device ids, found " + std::string(toml_node_kind(node)));
      return;
    }
    if (array->empty()) {
      add(line, name, "empty list; a group needs at least one device");
      return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const auto* text = element.as_string();
      if (text == nullptr) {
        add(line, name,
            "element " + std::to_string(i + 1) + ": expected a string (device id), found " +
                std::string(toml_node_kind(element)));
        continue;
      }
      out.push_back(text->get());
    }
    check_device_ids(out, line, name);
  }

  // Valid ids, unique across the whole scenario; refused ones are reported and removed.
  void check_device_ids(std::vector<std::string>& ids, int line, const std::string& name) {
    std::vector<std::string> kept;
    for (auto& id : ids) {
      if (const std::string why = device_id_error(id); !why.empty()) {
        add(line, name, why);
        if (ids.size() > 1) break;  // a bad prefix would repeat the same message count times
        continue;
      }
      if (const auto [first, inserted] = device_lines_.emplace(id, line); !inserted) {
        add(line, name, "device " + in_quotes(id) + " is already defined at line " + std::to_string(first->second));
        continue;
      }
      kept.push_back(std::move(id));
    }
    ids = std::move(kept);
  }

  void read_metrics(const toml::node& node, int line, const std::string& name, std::vector<MetricSpec>& out) {
    const auto* table = node.as_table();
    if (table == nullptr) {
      add(line, name,
          "expected a table of metrics (name = { base = N, noise = N }), found " + std::string(toml_node_kind(node)));
      return;
    }
    // toml++ keeps a table's keys sorted; the file's order is restored from their positions.
    std::vector<std::pair<toml::source_position, MetricSpec>> read;
    for (auto&& [k, value] : *table) {
      const std::string metric(k.str());
      const std::string n = name + "." + metric;
      const int l = line_of(k.source());
      if (metric.empty() || metric.size() > kMaxMetricLength ||
          !std::all_of(metric.begin(), metric.end(), is_metric_char) || metric == "seq" || metric == "ts") {
        add(l, n,
            "metric name " + in_quotes(metric) + " is not 1 to 64 characters of A-Z a-z 0-9 _ . - (nor seq or ts)");
        continue;
      }
      MetricSpec spec;
      spec.name = metric;
      if (value.is_number()) {  // a bare number is the base, without noise
        if (read_number(value, l, n, spec.base)) read.emplace_back(k.source().begin, spec);
        continue;
      }
      const auto* fields = value.as_table();
      if (fields == nullptr) {
        add(l, n, "expected a number or { base = N, noise = N }, found " + std::string(toml_node_kind(value)));
        continue;
      }
      bool ok = true;
      bool has_base = false;
      for (auto&& [fk, fv] : *fields) {
        const std::string fn = n + "." + std::string(fk.str());
        const int fl = line_of(fk.source());
        if (fk.str() == "base") {
          has_base = true;
          ok = read_number(fv, fl, fn, spec.base) && ok;
        } else if (fk.str() == "noise") {
          if (read_number(fv, fl, fn, spec.noise) && spec.noise < 0) {
            add(fl, fn, format_number(spec.noise) + " is negative; noise is a standard deviation");
            ok = false;
          }
        } else {
          add(fl, fn, "unknown key (a metric has base and noise)");
          ok = false;
        }
      }
      if (!has_base) {
        add(l, n + ".base", "required key is missing");
        ok = false;
      }
      if (ok) read.emplace_back(k.source().begin, spec);
    }
    std::stable_sort(read.begin(), read.end(), [](const auto& a, const auto& b) {
      return a.first.line != b.first.line ? a.first.line < b.first.line : a.first.column < b.first.column;
    });
    for (auto& [position, spec] : read) out.push_back(std::move(spec));
  }

  void load_behaviour(const toml::table& table, std::size_t index, const std::string& group_label, int list_line,
                      Group& g) {
    Behaviour b;
    b.line = line_of(table.source());
    if (b.line == 0) b.line = list_line;
    const std::string label = group_label + ".behaviour[" + std::to_string(index + 1) + "]";
    const auto kind_it = table.find("kind");
    if (kind_it == table.end()) {
      add(b.line, label + ".kind",
          "required key is missing (normal, drift, flaky, silent, fault, service or recurring_fault)");
      return;
    }
    const int kind_line = line_of(kind_it->first.source());
    std::string kind;
    if (!read_string(kind_it->second, kind_line, label + ".kind", kind)) return;
    const auto found = std::find(kKinds.begin(), kKinds.end(), kind);
    if (found == kKinds.end()) {
      add(kind_line, label + ".kind",
          in_quotes(kind) + " is not one of normal, drift, flaky, silent, fault, service, recurring_fault");
      return;
    }
    const auto k = static_cast<std::size_t>(found - kKinds.begin());
    b.kind = static_cast<BehaviourKind>(k);
    const std::size_t errors_before = errors_.size();
    std::set<std::string, std::less<>> seen;
    for (auto&& [key_node, node] : table) {
      const std::string_view key = key_node.str();
      const std::string name = label + "." + std::string(key);
      const int line = line_of(key_node.source());
      if (key == "kind") continue;
      const auto& allowed = kKindKeys[k];
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        add(line, name, "unknown key for kind " + kind);
        continue;
      }
      seen.emplace(key);
      if (key == "at") {
        read_duration(node, line, name, true, b.at_ms);
      } else if (key == "after") {
        read_duration(node, line, name, true, b.after_ms);
      } else if (key == "over") {
        read_duration(node, line, name, true, b.over_ms);
      } else if (key == "for") {
        read_duration(node, line, name, false, b.for_ms);
      } else if (key == "request_after") {
        read_duration(node, line, name, true, b.request_after_ms);
      } else if (key == "takes") {
        read_duration(node, line, name, true, b.takes_ms);
      } else if (key == "rate_after") {
        read_duration(node, line, name, true, b.rate_after_ms);
      } else if (key == "metric") {
        if (read_string(node, line, name, b.metric)) {
          const bool known =
              std::any_of(g.metrics.begin(), g.metrics.end(), [&](const MetricSpec& m) { return m.name == b.metric; });
          if (!known) add(line, name, in_quotes(b.metric) + " is not one of the group's metrics");
        }
      } else if (key == "target") {
        read_number(node, line, name, b.target);
      } else if (key == "share") {
        if (read_number(node, line, name, b.share) && !(b.share >= 0 && b.share <= 1)) {
          add(line, name, format_number(b.share) + " is not between 0 and 1");
        }
      } else if (key == "code") {
        if (read_string(node, line, name, b.code) && b.code.empty()) add(line, name, "empty fault code");
      } else if (key == "technician") {
        read_string(node, line, name, b.technician);
      } else if (key == "score") {
        double score = 0;
        if (read_number(node, line, name, score)) b.score = score;
      } else if (key == "times") {
        const auto* value = node.as_integer();
        if (value == nullptr) {
          add(line, name, "expected an integer, found " + std::string(toml_node_kind(node)));
        } else if (value->get() < 1 || value->get() > 1000) {
          add(line, name, std::to_string(value->get()) + " is not between 1 and 1000");
        } else {
          b.times = static_cast<int>(value->get());
        }
      }
    }
    auto require = [&](std::string_view key, std::string_view why) {
      if (!seen.contains(key))
        add(b.line, label + "." + std::string(key), "required key is missing (" + std::string(why) + ")");
    };
    switch (b.kind) {
      case BehaviourKind::kDrift:
        require("metric", "the metric that drifts");
        require("target", "the value it drifts to");
        break;
      case BehaviourKind::kFlaky: require("share", "0 to 1 of telemetry messages dropped"); break;
      case BehaviourKind::kFault:
        require("at", "when the fault happens");
        require("code", "the fault code");
        break;
      case BehaviourKind::kService: require("at", "when the technician starts"); break;
      case BehaviourKind::kRecurringFault: require("after", "how long after service_done the fault returns"); break;
      default: break;
    }
    if (b.kind == BehaviourKind::kService && b.technician.empty()) b.technician = g.technician;
    if (b.kind == BehaviourKind::kRecurringFault && !seen.contains("code")) {
      const auto fault = std::find_if(g.behaviours.begin(), g.behaviours.end(),
                                      [](const Behaviour& x) { return x.kind == BehaviourKind::kFault; });
      if (fault == g.behaviours.end()) {
        add(b.line, label + ".code", "required key is missing (no earlier fault in the group to take it from)");
      } else {
        b.code = fault->code;
      }
    }
    if (errors_.size() == errors_before) g.behaviours.push_back(std::move(b));
  }

  const std::string& file_;
  std::vector<ScenarioError>& errors_;
  std::map<std::string, int, std::less<>> device_lines_;  // device id -> line, across the file
};

Scenario parse(const std::string& text, const std::string& file, std::vector<ScenarioError>& errors) {
  Scenario out;
  out.source = file;
  try {
    const toml::table root = toml::parse(text, file);
    Loader(file, errors).load(root, out);
  } catch (const toml::parse_error& e) {
    errors.push_back({file, line_of(e.source()), "", std::string(e.description())});
  }
  std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
  if (!errors.empty()) out.groups.clear();
  return out;
}

}  // namespace

std::string ScenarioError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (!key.empty()) out += ":" + key;
  out += ": " + message;
  return out;
}

std::size_t Scenario::device_count() const {
  std::size_t n = 0;
  for (const auto& g : groups) n += g.devices.size();
  return n;
}

Scenario load_scenario_string(const std::string& text, const std::string& source_name,
                              std::vector<ScenarioError>& errors) {
  errors.clear();
  return parse(text, source_name, errors);
}

Scenario load_scenario_file(const std::string& path, std::vector<ScenarioError>& errors) {
  errors.clear();
  auto text = read_text_file(path);
  if (!text) {
    errors.push_back({path, 0, "", text.status().message()});
    Scenario s;
    s.source = path;
    return s;
  }
  return parse(*text, path, errors);
}

std::string_view to_string(BehaviourKind kind) { return kKinds[static_cast<std::size_t>(kind)]; }

}  // namespace xrm::devsim
