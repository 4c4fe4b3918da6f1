#include "xrm/testing/device_client.hpp"

#include "xrm/testing/poll.hpp"

namespace xrm::testing {

DeviceClient::DeviceClient(std::string url, std::string client_id)
    : client_(url, client_id, ::mqtt::create_options(MQTTVERSION_3_1_1), nullptr) {
  client_.set_connection_lost_handler([this](const std::string&) { lost_ = true; });
}

DeviceClient::~DeviceClient() { disconnect(); }

std::string DeviceClient::connect(const std::string& username, const std::string& password,
                                  std::chrono::milliseconds timeout) {
  ::mqtt::connect_options opts;
  opts.set_mqtt_version(MQTTVERSION_3_1_1);
  opts.set_clean_session(true);
  opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(timeout));
  if (!username.empty()) {
    opts.set_user_name(username);
    opts.set_password(password);
  }
  lost_ = false;
  try {
    auto tok = client_.connect(opts);
    if (!tok->wait_for(timeout)) return "connect timed out";
    return "";
  } catch (const ::mqtt::exception& e) {
    static constexpr const char* kConnack[] = {"", "unacceptable protocol version", "client id rejected",
                                               "server unavailable", "bad user name or password", "not authorized"};
    const int rc = e.get_return_code();
    if (rc >= 1 && rc <= 5) return std::string(kConnack[rc]) + " (CONNACK " + std::to_string(rc) + ")";
    return e.what();
  }
}

bool DeviceClient::publish(const std::string& topic, const std::string& payload, int qos, bool retained,
                           std::chrono::milliseconds timeout) {
  try {
    auto tok = client_.publish(topic, payload.data(), payload.size(), qos, retained);
    return tok->wait_for(timeout);
  } catch (const ::mqtt::exception&) {
    return false;
  }
}

bool DeviceClient::wait_lost(std::chrono::milliseconds timeout) {
  return poll_until([this] { return lost_.load(); }, timeout, std::chrono::milliseconds(20));
}

void DeviceClient::disconnect() {
  try {
    if (client_.is_connected()) client_.disconnect(std::chrono::milliseconds(500))->wait_for(std::chrono::seconds(2));
  } catch (const ::mqtt::exception&) {
  }
}

}  // namespace xrm::testing
