#pragma once
// The MQTT topics of the contract (docs/contract.md), built in one place.
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
inline std::string gw_commands(std::string_view gw) { return "xrm/v1/gw/" + std::string(gw) + "/cmd/+"; }

// Local (devices <-> gateway).
inline std::string dev_topic(std::string_view device, std::string_view leaf) {
  return "xrm/v1/dev/" + std::string(device) + "/" + std::string(leaf);
}

}  // namespace xrm::topics
