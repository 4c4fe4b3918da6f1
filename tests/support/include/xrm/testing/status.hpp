#pragma once
// Decoding what the gateway publishes upstream.
#include <mqtt/message.h>
#include <xrm/proto/xrm.pb.h>
#include <string>
#include <string_view>

namespace xrm::testing {

// Parses a GatewayStatus payload. Throws std::runtime_error if it is not one.
xrm::v1::GatewayStatus decode_status(std::string_view payload);

// "online=true epoch=3 reason=CONNECTED gateway_id=gw-it version=0.1.0 mqtt=V5 since_ms=..."
std::string describe_status(const xrm::v1::GatewayStatus& status);
// describe_status of a message's payload, or why it is not a GatewayStatus. Fits
// Subscriber::describe_seen.
std::string describe_status_message(const ::mqtt::message& msg);

}  // namespace xrm::testing
