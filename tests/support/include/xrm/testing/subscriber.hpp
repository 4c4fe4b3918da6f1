#pragma once
// A test's view of a broker: a Paho client that subscribes and waits for matching messages.
#include <mqtt/async_client.h>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace xrm::testing {

// Connects (MQTT 3.1.1, clean session, no persistence) at construction and queues every message
// it receives (Paho's consumer queue). Used from the test thread only. A message a broker sends
// because it was retained when we subscribed has is_retained() true; one routed live while we
// were subscribed has it false.
class Subscriber {
 public:
  using Predicate = std::function<bool(const ::mqtt::message&)>;
  using Formatter = std::function<std::string(const ::mqtt::message&)>;

  // Throws std::runtime_error (or mqtt::exception) if it is not connected within timeout.
  explicit Subscriber(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Disconnects (bounded).
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Subscribes and waits for the SUBACK. Retained messages follow it. Throws on failure.
  void subscribe(const std::string& filter, int qos = 1, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The first message, in arrival order, for which pred is true; messages before it are
  // consumed (and kept in seen()). nullptr if none came within timeout.
  ::mqtt::const_message_ptr wait_for(const Predicate& pred, std::chrono::milliseconds timeout);
  // Every message consumed so far, oldest first.
  const std::vector<::mqtt::const_message_ptr>& seen() const { return seen_; }
  // One line per consumed message ("topic [retained] qos=N: <fmt(msg) or N bytes>"), for
  // failure messages.
  std::string describe_seen(const Formatter& fmt = {}) const;
  bool connected() const { return client_.is_connected(); }
  const std::string& client_id() const { return client_id_; }

 private:
  std::string client_id_;
  ::mqtt::async_client client_;
  std::vector<::mqtt::const_message_ptr> seen_;
};

}  // namespace xrm::testing
