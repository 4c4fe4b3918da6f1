#pragma once
// What a device sends and receives (docs/contract.md, "Local broker") and how it is encoded:
// JSON (dependency-free) or the protobuf messages of common/proto/xrm.proto (package xrm.v1).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xrm/device/status.hpp"

namespace xrm::device {

enum class Encoding : std::uint8_t { kJson, kProtobuf };

// xrm.v1.Telemetry. JSON: {"seq":N,"ts":MS,"<metric>":<number>,...} in the order of `metrics`.
struct Telemetry {
  std::uint32_t seq = 0;
  std::uint64_t ts = 0;  // ms since the Unix epoch; 0 if the device has no clock
  std::vector<std::pair<std::string, double>> metrics;
};

// xrm.v1.ServiceEvent. JSON: {"seq":N,"ts":MS,"type":T,"code":..,"score":..,"technician":..,
// "request_id":..,"note":..,<attributes>...}; empty strings and unset optionals are left out.
struct ServiceEvent {
  std::uint32_t seq = 0;  // set by Device::send_event
  std::uint64_t ts = 0;   // set by Device::send_event when 0
  std::string type;       // 1 to 64 of a-z 0-9 _ (fault, fault_cleared, service_request, ...)
  std::optional<std::string> code;
  std::optional<double> score;  // required for "satisfaction"
  std::string technician;
  std::string request_id;
  std::string note;
  std::map<std::string, std::string> attributes;
};

// xrm.v1.Birth, retained on .../birth. JSON: {"model":..,"firmware_version":..,"capabilities":[..],"ts":MS}.
struct Birth {
  std::string model;
  std::string firmware_version;
  std::vector<std::string> capabilities;
  std::uint64_t ts = 0;  // when the device started; a new value tells the gateway it rebooted
  std::map<std::string, std::string> attributes;
};

// xrm.v1.CommandStatus values.
enum class CommandStatus : std::uint8_t {
  kUnspecified = 0,
  kOk = 1,
  kError = 2,
  kUnknownCommand = 3,
  kExpired = 4,
  kRejected = 5,
  kTimeout = 6,
};

// xrm.v1.Command (the gateway sends it as protobuf on .../cmd/{name}).
struct Command {
  std::string request_id;
  std::string name;
  std::map<std::string, std::string> args;
  std::string payload;
  std::uint64_t issued_at_ms = 0;
  std::optional<std::uint64_t> expires_at_ms;
  std::string device_id;
  std::string issued_by;
};

// xrm.v1.CommandResult, sent as protobuf on .../cmd-res.
struct CommandResult {
  std::string request_id;
  CommandStatus status = CommandStatus::kOk;
  std::string message;
  std::map<std::string, std::string> data;
  std::uint64_t completed_at_ms = 0;
  std::string device_id;
  std::string name;
  std::string payload;
};

// Encoders refuse what the gateway would dead-letter, naming it: non-finite values, empty or
// reserved ("seq", "ts") metric names, duplicate names, more than 256 metrics, a bad event type,
// "satisfaction" without a score, a non-finite score.
Status encode_telemetry(const Telemetry& t, Encoding enc, std::string& out);
Status encode_event(const ServiceEvent& e, Encoding enc, std::string& out);
std::string encode_birth(const Birth& b, Encoding enc);
std::string encode_command_result(const CommandResult& r);  // always protobuf
Status decode_command(std::string_view payload, Command& out);

bool is_valid_event_type(std::string_view type);

}  // namespace xrm::device
