#pragma once
// The daemon's configuration as typed structs. Defaults, descriptions and parsing live in one
// place, the option table (options.hpp); the initial values here only make a default-constructed
// Config well-formed and are overwritten by the table's defaults when loading.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "xrm/common/log.hpp"
#include "xrm/common/status.hpp"

namespace xrm::config {

using std::chrono::milliseconds;

// One MQTT broker connection (the local device broker or the upstream central broker).
struct BrokerConfig {
  std::string url;
  std::string username;
  std::string password_file;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string client_id;    // empty: derived from the gateway id
  std::string protocol;     // "auto" (MQTT 5, falling back to 3.1.1), "5" or "3.1.1"
  milliseconds keepalive{};
  milliseconds reconnect_min{};
  milliseconds reconnect_max{};
  milliseconds connect_timeout{};
  // Read from password_file at start (never from the command line); not part of the file.
  std::string password;
};

struct Config {
  struct Gateway {
    std::string id;
    std::string site;
    std::string data_dir;
  } gateway;
  struct Local : BrokerConfig {
    std::string device_url;
  } local;
  struct Upstream : BrokerConfig {
    std::string confirm;    // "broker" or "central"
    milliseconds ack_timeout{};  // confirm "central": re-send what central did not Ack by then
  } upstream;
  struct Control {
    std::string socket;
    std::string group;  // empty: the daemon's own group
  } control;
  struct Ingest {
    std::uint64_t max_payload = 0;    // bytes
    std::uint64_t queue_messages = 0;
    std::uint64_t dead_letters = 0;   // rows kept
  } ingest;
  struct Condense {
    milliseconds window{};
  } condense;
  struct Scorecard {
    milliseconds period{};
    milliseconds interval{};
    milliseconds retention{};
  } scorecard;
  struct Outbox {
    std::uint64_t max_bytes = 0;
    milliseconds ttl{};
  } outbox;
  struct Health {
    std::string profiles;
    milliseconds snapshot_interval{};
    milliseconds save_interval{};
  } health;
  struct Log {
    log::Level level = log::Level::kInfo;
  } log;

  // Where each key was set: "section.key" -> line in source_file. Keys left at their default
  // are absent.
  std::string source_file;
  std::map<std::string, int> lines;
  // Every key's value as spelled in the file (or its default): "section.key" -> text. Lets a
  // reload name exactly which keys changed.
  std::map<std::string, std::string> values;

  // "FILE:LINE:section.key" for a key set in the file, "FILE:section.key" for a default.
  std::string where(const std::string& key) const;
};

// One problem found in a configuration file; to_string() gives "FILE:LINE:KEY: message".
struct ConfigError {
  std::string file;
  int line = 0;          // 0 when the problem has no line (a missing required key)
  std::string key;       // "section.key", "section" or empty for a syntax error
  std::string message;
  std::string to_string() const;
};

// Loads and validates a TOML file: every key must be declared in the option table, every value
// must have the declared type and pass its check. Collects every problem rather than the first.
// On success `errors` is empty.
Config load_file(const std::string& path, std::vector<ConfigError>& errors);
Config load_string(const std::string& text, const std::string& source_name, std::vector<ConfigError>& errors);

// Reads the password files named in the config (local and upstream) into .password. Errors name
// FILE:LINE:KEY and the reason.
Status read_secrets(Config& config);

}  // namespace xrm::config
