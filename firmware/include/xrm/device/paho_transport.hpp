#pragma once
// The POSIX Transport: Eclipse Paho MQTT C, asynchronous API (MQTTAsync, libpaho-mqtt3as).
// Paho calls back on its own thread; those callbacks only queue events under a mutex, and poll()
// delivers them on the caller's thread, as the Transport contract requires.
//
// Each connect() creates a fresh Paho client (no Paho persistence, clean session): the Device's
// offline buffer is the only store of unacknowledged messages, so nothing is sent twice by two
// layers. Publishes still pending when a client is replaced or destroyed complete with false.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xrm/device/transport.hpp"

namespace xrm::device {

struct PahoTransportOptions {
  // For ssl:// URLs: the CA bundle (empty: OpenSSL's default trust store).
  std::string ca_file;
  // Paho's own limit on publishes it has accepted and not completed.
  int max_inflight = 20;
};

class PahoTransport : public Transport {
 public:
  explicit PahoTransport(PahoTransportOptions options = {});
  ~PahoTransport() override;

  void set_handlers(ConnectHandler on_connect, LostHandler on_lost, MessageHandler on_message) override;
  Status connect(const ConnectOptions& options) override;
  Status publish(const std::string& topic, const std::string& payload, int qos, bool retained,
                 PublishDone done) override;
  Status subscribe(const std::string& filter, int qos) override;
  void disconnect() override;
  bool is_connected() const override { return connected_; }
  void poll() override;

  // For Paho's C callbacks (its thread): they queue events and return.
  struct Pending;  // one publish waiting for its completion
  void complete(std::uint64_t id, bool delivered);
  void paho_connected();
  void paho_connect_failed(std::string why);
  void paho_lost(std::string cause);
  void paho_message(std::string topic, std::string payload);

 private:
  void post(std::function<void()> event);
  void destroy_client();

  PahoTransportOptions options_;
  void* client_ = nullptr;  // MQTTAsync
  ConnectHandler on_connect_;
  LostHandler on_lost_;
  MessageHandler on_message_;
  bool connected_ = false;                 // as seen by the poll() thread
  std::string will_topic_, will_payload_;  // kept alive for Paho while connecting

  std::mutex mutex_;  // guards events_ and pending_ (touched by Paho's thread)
  std::condition_variable drained_;  // pending_ became empty
  std::vector<std::function<void()>> events_;
  std::map<std::uint64_t, std::pair<std::unique_ptr<Pending>, PublishDone>> pending_;
  std::uint64_t next_id_ = 1;
};

}  // namespace xrm::device
