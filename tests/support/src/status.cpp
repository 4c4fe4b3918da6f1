#include "xrm/testing/status.hpp"

#include <stdexcept>

namespace xrm::testing {

xrm::v1::GatewayStatus decode_status(std::string_view payload) {
  xrm::v1::GatewayStatus status;
  if (!status.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    throw std::runtime_error("payload of " + std::to_string(payload.size()) + " bytes is not a GatewayStatus");
  }
  return status;
}

std::string describe_status(const xrm::v1::GatewayStatus& s) {
  return std::string("online=") + (s.online() ? "true" : "false") + " epoch=" + std::to_string(s.epoch()) +
         " reason=" + xrm::v1::StatusReason_Name(s.reason()) + " gateway_id=" + s.gateway_id() +
         " version=" + s.version() + " mqtt=" + xrm::v1::MqttProtocol_Name(s.mqtt_protocol()) +
         " since_ms=" + std::to_string(s.since_ms());
}

std::string describe_status_message(const ::mqtt::message& msg) {
  try {
    return describe_status(decode_status(msg.get_payload()));
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace xrm::testing
