#pragma once
// What `xrmctl provision` hands a device (docs/contract.md, "Provisioning and device credentials"):
//   xrm-provision:v1?gw=GATEWAY&device=DEVICE&url=BROKER_URL&password=SECRET
// Values are percent-encoded (RFC 3986). The client id and username are the device id.
#include <string>
#include <string_view>

#include "xrm/device/status.hpp"

namespace xrm::device {

struct ProvisioningUri {
  std::string gateway;
  std::string device;
  std::string url;
  std::string password;

  // Parses `text` into `out`. Errors name what is wrong: the scheme or version, a missing,
  // repeated or empty key, a bad percent escape (and the key it is in), an invalid id.
  // Unknown keys are ignored so later versions of v1 can add optional ones.
  static Status parse(std::string_view text, ProvisioningUri& out);
};

// 1 to 64 characters of A-Z a-z 0-9 . _ - (the contract's rule for device and gateway ids).
bool is_valid_id(std::string_view id);

// RFC 3986 percent-decoding; false on a '%' not followed by two hex digits.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace xrm::device
