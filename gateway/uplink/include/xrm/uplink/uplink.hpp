#pragma once
// The gateway's presence at the central broker. Before every connect attempt it bumps the epoch
// (persisted in SQLite, so it only grows) and registers a retained will "offline, this epoch";
// once connected it publishes the retained GatewayStatus "online"; on shutdown it publishes
// "offline" itself before disconnecting. While connected, its RecordDrain sends the outbox's
// records (record_drain.hpp); the status "online" always goes before the first record of a
// connection. Runs on the io thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/config/config.hpp"
#include "xrm/common/status.hpp"
#include "xrm/mqtt/connection.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/store/gateway_state.hpp"
#include "xrm/uplink/record_drain.hpp"

namespace xrm::uplink {

class Uplink {
 public:
  using Message = mqtt_link::Connection::Message;
  using MessageHandler = std::function<void(const Message&)>;
  // How long the broker keeps the gateway's session (its subscriptions and the QoS 1 messages for
  // it, e.g. commands from central) while the gateway is away. Longer outages lose what was queued;
  // central re-sends what it still wants done.
  static constexpr std::uint32_t kSessionExpirySeconds = 24 * 3600;

  // state, outbox and clock must outlive the Uplink.
  Uplink(boost::asio::io_context& io, const config::Config& config, store::GatewayState& state, outbox::Outbox& outbox,
         const Clock& clock, std::string version);

  void start();
  // Stops sending records, publishes status offline (waits for its PUBACK, at most `timeout`),
  // then disconnects; `done` runs on the io thread.
  void shutdown(std::chrono::milliseconds timeout, std::function<void()> done);
  // Applies the reloadable keys of a new configuration.
  void reload(const config::Config& config);

  bool connected() const { return conn_->connected(); }
  int mqtt_version() const { return conn_->mqtt_version(); }
  const std::string& url() const { return conn_->settings().broker.url; }
  std::uint64_t epoch() const { return epoch_; }
  const RecordDrain& drain() const { return *drain_; }
  bool confirm_central() const { return confirm_central_; }

  // Publishes at QoS 1, retained (the health stage's HealthSnapshot); `done` runs on the io thread:
  // ok after the PUBACK, unavailable when not connected (nothing is queued for later).
  void publish_retained(const std::string& topic, std::string payload, std::function<void(Status)> done);

  // Subscribes `filter` at `qos` (at once when connected, and after every connect: the session is
  // kept, see kSessionExpirySeconds) and hands every received message whose topic matches it to
  // `handler`, on the io thread. Filters are tried in the order they were added; a message no
  // filter matches is logged and dropped. Call before start() to miss nothing queued at the broker.
  void subscribe(std::string filter, int qos, MessageHandler handler);
  // Publishes a response at QoS 1, not retained, with MQTT 5 correlation data when it is not empty
  // (left off under MQTT 3.1.1); `done` as for publish_retained.
  void publish_response(const std::string& topic, std::string payload, const std::string& correlation_data,
                        std::function<void(Status)> done);
  // Publishes at QoS 0, not retained (live telemetry): true when handed to Paho, false when not
  // connected (then dropped: nothing is queued for later, nothing stored).
  bool publish_live(const std::string& topic, std::string payload);

 private:
  static RecordDrain::Settings drain_settings(const config::Config& config);
  std::string status_payload(bool online, int reason) const;
  std::optional<::mqtt::message> next_will();
  void finish_shutdown(std::chrono::milliseconds timeout);

  boost::asio::io_context& io_;
  boost::asio::steady_timer shutdown_timer_;
  std::function<void()> shutdown_done_;
  std::string gateway_id_;
  std::string version_;
  store::GatewayState& state_;
  const Clock& clock_;
  std::shared_ptr<mqtt_link::Connection> conn_;
  std::vector<std::pair<std::string, MessageHandler>> routes_;  // filter -> handler, see subscribe()
  std::unique_ptr<RecordDrain> drain_;
  bool confirm_central_ = false;  // upstream.confirm = "central" (fixed until restart)
  std::uint64_t epoch_ = 0;
  std::int64_t epoch_since_ms_ = 0;
};

}  // namespace xrm::uplink
