// The daemon's configuration (gateway/config: load_string, the same parser load_file uses): any
// text either loads with no error or yields errors, each with a message. A loaded config has a
// value for every key of the option table, and writing those values back as TOML strings (every
// option accepts a string) loads again to exactly the same values.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "xrm/config/config.hpp"
#include "xrm/config/options.hpp"

namespace {

namespace config = xrm::config;

// The values as a TOML file, one table per section.
std::string to_toml(const std::map<std::string, std::string>& values) {
  std::map<std::string, std::string> sections;
  for (const auto& [name, text] : values) {
    const auto dot = name.find('.');
    sections[name.substr(0, dot)] += name.substr(dot + 1) + " = " + xrm::fuzz::quoted(text, true) + "\n";
  }
  std::string out;
  for (const auto& [section, body] : sections) out += "[" + section + "]\n" + body;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<config::ConfigError> errors;
  const config::Config cfg = config::load_string(text, "fuzz.toml", errors);
  for (const auto& e : errors) {
    XRM_FUZZ_CHECK(!e.message.empty(), e.to_string().c_str());
    XRM_FUZZ_CHECK(e.line >= 0, e.to_string().c_str());
    XRM_FUZZ_CHECK(e.file == "fuzz.toml", e.to_string().c_str());
  }
  if (!errors.empty()) return 0;

  XRM_FUZZ_CHECK(cfg.values.size() == config::option_table().size(), "a key without a value");
  for (const auto& spec : config::option_table()) {
    XRM_FUZZ_CHECK(cfg.values.count(spec.name()) == 1, spec.name().c_str());
  }
  for (const auto& [key, line] : cfg.lines) {
    XRM_FUZZ_CHECK(cfg.values.count(key) == 1 && line >= 1, key.c_str());
  }
  XRM_FUZZ_CHECK(!cfg.gateway.id.empty(), "gateway.id is required");

  const std::string again = to_toml(cfg.values);
  std::vector<config::ConfigError> errors2;
  const config::Config cfg2 = config::load_string(again, "fuzz.toml", errors2);
  std::string why = again.substr(0, 400);
  for (const auto& e : errors2) why += "\n" + e.to_string();
  XRM_FUZZ_CHECK(errors2.empty(), why.c_str());
  XRM_FUZZ_CHECK(cfg2.values == cfg.values, why.c_str());
  XRM_FUZZ_CHECK(cfg2.gateway.id == cfg.gateway.id && cfg2.local.url == cfg.local.url &&
                     cfg2.upstream.url == cfg.upstream.url && cfg2.ingest.max_payload == cfg.ingest.max_payload &&
                     cfg2.outbox.max_bytes == cfg.outbox.max_bytes && cfg2.outbox.ttl == cfg.outbox.ttl &&
                     cfg2.log.level == cfg.log.level && cfg2.health.profiles == cfg.health.profiles,
                 "typed values differ after the round trip");
  return 0;
}
