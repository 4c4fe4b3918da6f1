#pragma once
// A test's stand-in for a device: one Paho client with a device's credentials, as a real device
// would connect to the local broker. Used from the test thread only; every wait is bounded.
#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <string>

namespace xrm::testing {

class DeviceClient {
 public:
  // Does not connect yet. MQTT 3.1.1, clean session, no persistence.
  DeviceClient(std::string url, std::string client_id);
  ~DeviceClient();
  DeviceClient(const DeviceClient&) = delete;
  DeviceClient& operator=(const DeviceClient&) = delete;

  // Connects with these credentials (empty username: anonymous). Empty string on success, else
  // why the broker (or the network) refused, e.g. "not authorized (CONNACK 5)".
  std::string connect(const std::string& username, const std::string& password,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Publishes and, for QoS 1, waits for the PUBACK. False if it failed or timed out.
  bool publish(const std::string& topic, const std::string& payload, int qos = 1, bool retained = false,
               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool connected() const { return client_.is_connected(); }
  // True once the broker dropped the connection (not our own disconnect) within timeout.
  bool wait_lost(std::chrono::milliseconds timeout);
  void disconnect();

 private:
  ::mqtt::async_client client_;
  std::atomic<bool> lost_{false};
};

}  // namespace xrm::testing
