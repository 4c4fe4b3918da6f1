#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "xrm/common/units.hpp"
#include "xrm/config/config.hpp"
#include "xrm/config/options.hpp"
#include "xrm/common/toml_kind.hpp"

namespace xrm::config {
namespace {

Status check_url(std::string_view url) {
  static constexpr std::string_view kSchemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://", "ws://", "wss://"};
  std::string_view rest;
  for (auto scheme : kSchemes) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.empty()) {
    return Status::invalid_argument("\"" + std::string(url) +
                                    "\" is not a broker URL; expected tcp://HOST:PORT or ssl://HOST:PORT");
  }
  const auto slash = rest.find('/');
  const std::string_view hostport = rest.substr(0, slash);
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return Status::invalid_argument("unclosed [ in \"" + std::string(url) + "\"");
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return Status::invalid_argument("bad host in \"" + std::string(url) + "\"");
      port = hostport.substr(close + 2);
    }
  } else {
    const auto colon = hostport.rfind(':');
    if (colon == 0 || hostport.empty()) return Status::invalid_argument("no host in \"" + std::string(url) + "\"");
    if (colon != std::string_view::npos) port = hostport.substr(colon + 1);
  }
  if (!port.empty() || hostport.find(':') != std::string_view::npos) {
    long value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) { value = -1; break; }
      value = value * 10 + (c - '0');
    }
    if (port.empty() || value < 1 || value > 65535) {
      return Status::invalid_argument("bad port in \"" + std::string(url) + "\" (1 to 65535)");
    }
  }
  return Status::ok();
}

// Checks text against the option's type; the apply function then stores it.
Status check_value(const OptionSpec& spec, std::string_view text) {
  switch (spec.type) {
    case OptionType::kString: return Status::ok();
    case OptionType::kId: {
      if (text.empty() && !spec.required) return Status::ok();
      const std::string why = id_error(text);
      return why.empty() ? Status::ok() : Status::invalid_argument("id \"" + std::string(text) + "\" " + why);
    }
    case OptionType::kUrl: return text.empty() && !spec.required ? Status::ok() : check_url(text);
    case OptionType::kPath:
      if (!text.empty() && text.front() != '/') {
        return Status::invalid_argument("path \"" + std::string(text) + "\" must be absolute");
      }
      return Status::ok();
    case OptionType::kDuration: {
      auto d = parse_duration(text);
      if (!d) return d.status();
      if (d->count() <= 0) return Status::invalid_argument("duration must be greater than zero");
      return Status::ok();
    }
    case OptionType::kSize: {
      auto s = parse_size(text);
      if (!s) return s.status();
      if (*s == 0) return Status::invalid_argument("size must be greater than zero");
      return Status::ok();
    }
    case OptionType::kCount: {
      if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return Status::invalid_argument("\"" + std::string(text) + "\" is not a count from 1 to 100000000");
      }
      const auto n = std::stoull(std::string(text));
      if (n < 1 || n > 100000000) return Status::invalid_argument("count must be from 1 to 100000000");
      return Status::ok();
    }
    case OptionType::kEnum:
    case OptionType::kLogLevel: {
      std::string_view choices = spec.choices;
      while (!choices.empty()) {
        const auto bar = choices.find('|');
        if (choices.substr(0, bar) == text) return Status::ok();
        choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
      }
      return Status::invalid_argument("\"" + std::string(text) + "\" is not one of " + std::string(spec.choices));
    }
  }
  return Status::internal("unhandled option type");
}

// The TOML value as the text the option table parses; sizes may also be plain integers (bytes).
// A negative integer is passed on as its text too, so it is refused as a value out of range
// ("-5" is not a count) rather than as a wrong type ("expected an integer, found an integer").
bool value_text(const OptionSpec& spec, const toml::node& node, std::string& out) {
  if (const auto* s = node.as_string()) {
    out = s->get();
    return true;
  }
  if (spec.type == OptionType::kSize || spec.type == OptionType::kCount) {
    if (const auto* i = node.as_integer(); i != nullptr) {
      out = std::to_string(i->get());
      return true;
    }
  }
  return false;
}

void cross_checks(const Config& c, const std::string& file, std::vector<ConfigError>& errors) {
  auto add = [&](const std::string& key, std::string msg) {
    auto it = c.lines.find(key);
    errors.push_back({file, it == c.lines.end() ? 0 : it->second, key, std::move(msg)});
  };
  const std::pair<const char*, const BrokerConfig*> brokers[] = {{"local", &c.local}, {"upstream", &c.upstream}};
  for (const auto& [name, b] : brokers) {
    const std::string sec = name;
    if (b->reconnect_min > b->reconnect_max) add(sec + ".reconnect_min", "is greater than " + sec + ".reconnect_max");
    if (b->cert_file.empty() != b->key_file.empty()) {
      add(sec + (b->cert_file.empty() ? ".key_file" : ".cert_file"), "cert_file and key_file go together");
    }
    if (!b->password_file.empty() && b->username.empty()) add(sec + ".password_file", "is set but username is empty");
    const bool tls = b->url.rfind("ssl://", 0) == 0 || b->url.rfind("mqtts://", 0) == 0 || b->url.rfind("wss://", 0) == 0;
    if (!tls && (!b->ca_file.empty() || !b->cert_file.empty())) {
      add(sec + (b->ca_file.empty() ? ".cert_file" : ".ca_file"), "TLS files given but " + sec + ".url is not ssl:// or mqtts://");
    }
  }
}

Config load_table(const toml::table& root, const std::string& file, std::vector<ConfigError>& errors) {
  Config config;
  config.source_file = file;
  std::set<std::string> seen;

  for (auto&& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const int section_line = static_cast<int>(section_key.source().begin.line);
    const auto* table = section_node.as_table();
    bool known_section = false;
    for (const auto& spec : option_table()) known_section |= spec.section == section;
    if (!known_section) {
      errors.push_back({file, section_line, section, "unknown section"});
      continue;
    }
    if (table == nullptr) {
      errors.push_back({file, section_line, section, "expected a table, found " + std::string(toml_node_kind(section_node))});
      continue;
    }
    for (auto&& [key, node] : *table) {
      const std::string name = section + "." + std::string(key.str());
      const int line = static_cast<int>(key.source().begin.line);
      const OptionSpec* spec = find_option(section, key.str());
      seen.insert(name);  // present, even if wrong: no "missing" error on top of the real one
      if (spec == nullptr) {
        errors.push_back({file, line, name, "unknown key"});
        continue;
      }
      std::string text;
      if (!value_text(*spec, node, text)) {
        errors.push_back({file, line, name,
                          std::string(spec->type == OptionType::kCount ? "expected an integer (" : "expected a string (") +
                              std::string(type_name(spec->type)) + "), found " +
                              std::string(toml_node_kind(node))});
        continue;
      }
      Status st = check_value(*spec, text);
      if (st) st = spec->apply(config, text);
      if (!st) {
        errors.push_back({file, line, name, st.message()});
        continue;
      }
      config.lines[name] = line;
      config.values[name] = text;
    }
  }

  for (const auto& spec : option_table()) {
    const std::string name = spec.name();
    if (seen.count(name) != 0) continue;
    if (spec.required) {
      errors.push_back({file, 0, name, "required key is missing"});
      continue;
    }
    // Defaults go through the same checks, so a bad default fails every test at once.
    Status st = check_value(spec, spec.default_value);
    if (st) st = spec.apply(config, spec.default_value);
    config.values[name] = std::string(spec.default_value);
    if (!st) errors.push_back({file, 0, name, "bad built-in default: " + st.message()});
  }
  if (errors.empty()) cross_checks(config, file, errors);
  return config;
}

Config parse(const std::string& text, const std::string& file, std::vector<ConfigError>& errors) {
  errors.clear();
  try {
    const toml::table root = toml::parse(text, file);
    return load_table(root, file, errors);
  } catch (const toml::parse_error& e) {
    errors.push_back({file, static_cast<int>(e.source().begin.line), "", std::string(e.description())});
  }
  return {};
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (!key.empty()) out += ":" + key;
  out += ": " + message;
  return out;
}

std::string Config::where(const std::string& key) const {
  auto it = lines.find(key);
  return source_file + (it == lines.end() ? "" : ":" + std::to_string(it->second)) + ":" + key;
}

Config load_string(const std::string& text, const std::string& source_name, std::vector<ConfigError>& errors) {
  return parse(text, source_name, errors);
}

Config load_file(const std::string& path, std::vector<ConfigError>& errors) {
  errors.clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({path, 0, "", std::string("cannot read: ") + std::strerror(errno)});
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, errors);
}

namespace {

Status read_password(const Config& c, const std::string& key, const std::string& path, std::string& out) {
  out.clear();
  if (path.empty()) return Status::ok();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(c.where(key) + ": cannot read " + path + ": " + std::strerror(errno));
  std::getline(in, out);
  if (!out.empty() && out.back() == '\r') out.pop_back();
  if (out.empty()) return Status::invalid_argument(c.where(key) + ": " + path + " is empty");
  return Status::ok();
}

}  // namespace

Status read_secrets(Config& config) {
  if (Status st = read_password(config, "local.password_file", config.local.password_file, config.local.password); !st) {
    return st;
  }
  return read_password(config, "upstream.password_file", config.upstream.password_file, config.upstream.password);
}

}  // namespace xrm::config
