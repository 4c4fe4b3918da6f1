#pragma once
// Admitting devices: a technician's provision, rotate and retire, each a deliberate act that
// changes both the broker's credentials (dynamic security) and the registry, in that order. The
// registry changes only once the broker confirmed; if the registry write then fails, the broker
// change is undone, so the two never disagree about who may connect.
// One operation per device at a time. Runs on the io thread.
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/status.hpp"
#include "xrm/registry/dynsec.hpp"
#include "xrm/registry/registry.hpp"

namespace xrm::registry {

struct ProvisionRequest {
  std::string device;
  std::string class_name;
  Stakeholders links;
  bool rotate = false;       // the device exists: replace its secret (the old one stops working)
  std::string actor;         // who asked, for the history
};

// What a device needs to connect; printed once to the technician, never stored or logged here.
struct Credentials {
  std::string broker_url;
  std::string client_id;
  std::string username;
  std::string password;
  std::vector<std::string> publish_topics;
  std::vector<std::string> subscribe_topics;
  std::string uri;           // the same as one provisioning URI (see provisioning_uri)
};

struct ProvisionResult {
  const Device* device = nullptr;
  Credentials credentials;
  bool rotated = false;
};

class Provisioner {
 public:
  // registry and dynsec must outlive the Provisioner.
  Provisioner(Registry& registry, DynsecAdmin& dynsec, std::string gateway_id, std::string device_url);

  // The profile classes a device may be provisioned as (from the profiles file).
  void set_classes(std::vector<std::string> classes) { classes_ = {classes.begin(), classes.end()}; }
  void set_device_url(std::string url) { device_url_ = std::move(url); }

  // Validates (id, class, existence), creates or replaces the broker credentials, then registers
  // the device (or notes the rotation). Refusals: invalid_argument (bad id, unknown class, retired
  // device), already_exists (known device without rotate), not_found (rotate of an unknown device);
  // broker trouble: unavailable. `done` runs on the io thread.
  void provision(ProvisionRequest request, std::function<void(Result<ProvisionResult>)> done);
  // Removes the device's broker client and role (an open connection is dropped, reconnects are
  // refused), then marks it retired. `done` gets the lifecycle it had before.
  void retire(const std::string& device, const std::string& actor, std::function<void(Result<Lifecycle>)> done);

 private:
  Status begin(const std::string& device);
  Credentials credentials_for(const std::string& device, std::string password) const;

  Registry& registry_;
  DynsecAdmin& dynsec_;
  std::string gateway_id_;
  std::string device_url_;
  std::set<std::string, std::less<>> classes_;
  std::set<std::string, std::less<>> busy_;  // devices with an operation in flight
};

// 24 bytes (192 bits) from the OS random source (getrandom), base64url without padding: 32
// characters of A-Z a-z 0-9 - _. Throws std::runtime_error if the OS has no randomness to give.
std::string generate_password();
// The one string a device (or the firmware library) needs:
//   xrm-provision:v1?gw=GW&device=ID&url=URL&password=SECRET
// each value percent-encoded (RFC 3986 unreserved characters kept); the client id and user name
// are the device id; the topics follow from the contract.
std::string provisioning_uri(std::string_view gateway_id, std::string_view device, std::string_view broker_url,
                             std::string_view password);
std::string percent_encode(std::string_view text);

}  // namespace xrm::registry
