#pragma once
// The one seam between the device library and an MQTT client. The POSIX build uses PahoTransport
// (paho_transport.hpp); an MCU port implements this interface over its own stack (lwIP MQTT,
// esp-mqtt, a modem's AT commands) and nothing else in the library changes.
//
// Threading contract: every handler is called from inside poll(), on the thread that calls it.
// An implementation whose stack calls back on another thread queues the event and delivers it in
// poll(); the library itself then needs no locks. A single-threaded (superloop) implementation may
// call the handlers directly from poll().
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "xrm/device/status.hpp"

namespace xrm::device {

// The last will: published by the broker when the connection is lost without a DISCONNECT.
struct Will {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = true;
};

struct ConnectOptions {
  std::string url;        // tcp://host:1883, ssl://host:8883 (what the provisioning URI says)
  std::string client_id;  // the device id
  std::string username;   // the device id
  std::string password;
  std::optional<Will> will;
  int keep_alive_s = 30;
  bool clean_session = true;
};

class Transport {
 public:
  // Outcome of connect(): ok, or why the attempt failed.
  using ConnectHandler = std::function<void(const Status&)>;
  // The connection was lost after it had been made (not called after disconnect()).
  using LostHandler = std::function<void(const std::string& cause)>;
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;
  // A publish completed: true once the broker acknowledged it (PUBACK for QoS 1, written for
  // QoS 0), false if it failed or the connection went before that.
  using PublishDone = std::function<void(bool delivered)>;

  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  virtual ~Transport() = default;

  // Handlers are set once, before connect().
  virtual void set_handlers(ConnectHandler on_connect, LostHandler on_lost, MessageHandler on_message) = 0;

  // Starts a connection attempt; its outcome arrives through the ConnectHandler. An error here
  // means the attempt could not even start (bad URL, no memory) and no handler will be called.
  virtual Status connect(const ConnectOptions& options) = 0;

  // Queues a publish. An error means it was not accepted (not connected, client buffer full) and
  // `done` will not be called; otherwise `done` is called exactly once, from poll().
  virtual Status publish(const std::string& topic, const std::string& payload, int qos, bool retained,
                         PublishDone done) = 0;

  virtual Status subscribe(const std::string& filter, int qos) = 0;

  // Sends DISCONNECT (the broker then discards the will) and closes the connection.
  virtual void disconnect() = 0;

  virtual bool is_connected() const = 0;

  // Delivers queued events to the handlers on the caller's thread. Never blocks.
  virtual void poll() = 0;
};

}  // namespace xrm::device
