#pragma once
// The MQTT topics of the contract (docs/contract.md), built in one place.
#include <optional>
#include <string>
#include <string_view>

namespace xrm::topics {

inline constexpr std::string_view kPrefix = "xrm/v1";

// Upstream (gateway <-> central).
inline std::string gw_status(std::string_view gw) { return "xrm/v1/gw/" + std::string(gw) + "/status"; }
inline std::string gw_records(std::string_view gw, std::string_view kind) {
  return "xrm/v1/gw/" + std::string(gw) + "/rec/" + std::string(kind);
}
inline std::string gw_health(std::string_view gw, std::string_view device) {
  return "xrm/v1/gw/" + std::string(gw) + "/health/" + std::string(device);
}
inline std::string gw_ack(std::string_view gw) { return "xrm/v1/gw/" + std::string(gw) + "/ack"; }
// Commands from central: the filter the gateway subscribes, one command's topic, and where results
// go when the request names no MQTT 5 response topic.
inline std::string gw_commands(std::string_view gw) { return "xrm/v1/gw/" + std::string(gw) + "/cmd/+"; }
inline std::string gw_command(std::string_view gw, std::string_view name) {
  return "xrm/v1/gw/" + std::string(gw) + "/cmd/" + std::string(name);
}
inline std::string gw_command_results(std::string_view gw) { return "xrm/v1/gw/" + std::string(gw) + "/cmd-res"; }
// The {name} of xrm/v1/gw/{gw}/cmd/{name}; nothing if topic is not one of gw's command topics.
inline std::optional<std::string_view> gw_command_name(std::string_view gw, std::string_view topic) {
  constexpr std::string_view kGw = "xrm/v1/gw/";
  constexpr std::string_view kCmd = "/cmd/";
  if (topic.substr(0, kGw.size()) != kGw) return std::nullopt;
  topic.remove_prefix(kGw.size());
  if (topic.substr(0, gw.size()) != gw) return std::nullopt;
  topic.remove_prefix(gw.size());
  if (topic.substr(0, kCmd.size()) != kCmd) return std::nullopt;
  topic.remove_prefix(kCmd.size());
  if (topic.find('/') != std::string_view::npos) return std::nullopt;
  return topic;
}

// Whether an MQTT topic filter (with + and # wildcards) matches a topic name, as a broker decides:
// wildcards do not match topics starting with '$' at their first level.
inline bool topic_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() && (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  for (;;) {
    const auto fslash = filter.find('/');
    const std::string_view flevel = filter.substr(0, fslash);
    if (flevel == "#") return true;  // also matches the parent level ("a/#" matches "a")
    const auto tslash = topic.find('/');
    const std::string_view tlevel = topic.substr(0, tslash);
    if (flevel != "+" && flevel != tlevel) return false;
    if (fslash == std::string_view::npos || tslash == std::string_view::npos) {
      if (fslash == std::string_view::npos && tslash == std::string_view::npos) return true;
      // The topic ended first: only a trailing "/#" still matches.
      return tslash == std::string_view::npos && filter.substr(fslash + 1) == "#";
    }
    filter.remove_prefix(fslash + 1);
    topic.remove_prefix(tslash + 1);
  }
}

// Local (devices <-> gateway).
inline std::string dev_topic(std::string_view device, std::string_view leaf) {
  return "xrm/v1/dev/" + std::string(device) + "/" + std::string(leaf);
}

}  // namespace xrm::topics
