#pragma once
// One MQTT broker connection owned by the io thread: connects with Paho (MQTT 5, falling back to
// 3.1.1 in protocol "auto"), reconnects by itself with exponential backoff and jitter, and hands
// every Paho event (connected, lost, message, publish completed) to the io_context. Paho calls
// its callbacks on its own thread; here they only post, so all state below belongs to the io
// thread and needs no mutex (except TlsErrors, which Paho's TLS error handler fills: see
// connection.cpp). No Paho persistence: durability is the outbox's job.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mqtt/async_client.h>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xrm/common/backoff.hpp"
#include "xrm/common/status.hpp"
#include "xrm/config/config.hpp"
#include "xrm/mqtt/inbound_queue.hpp"

namespace xrm::mqtt_link {

struct ConnectionSettings {
  std::string name;                // "local" or "upstream", for logs
  config::BrokerConfig broker;     // address, credentials, TLS, timers
  std::string client_id;           // the resolved client id
  // Keep the session (and QoS 1 messages queued for us) across disconnects: clean_start=false
  // with this session expiry under MQTT 5, clean_session=false under 3.1.1. 0: clean session.
  std::uint32_t session_expiry_s = 0;
  // Topic filters (with their QoS) subscribed after every successful connect, before
  // on_connected runs. A refused subscription is logged as an error naming the filter.
  std::vector<std::pair<std::string, int>> subscriptions;
  // Received messages wait for the io thread in a bounded queue (inbound_queue.hpp): at most this
  // many messages without an acknowledgement hold (0: no limit). Beyond it they are dropped and
  // counted (inbound_dropped()).
  std::size_t inbound_limit = 0;
  // Runs on Paho's thread for every received message, before it is queued and before Paho sends
  // its PUBACK (Paho C 1.3 acknowledges a QoS 1 message after the message callback returns). It
  // must be thread-safe and must not call Paho or wait for the io thread: Paho holds its global
  // lock meanwhile, so any Paho call on the io thread would deadlock with it. Returns a token
  // handed to on_message with the message; nonzero exempts the message from inbound_limit.
  // The ingest stage journals events here (ingest/inbound_journal.hpp).
  std::function<std::uint64_t(const ::mqtt::message&)> before_ack;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // How long received messages may wait for the io thread to collect them as a batch: the latency
  // added to every message, traded for one io-thread wake-up per batch instead of per message.
  static constexpr std::chrono::milliseconds kInboundCoalesce{1};
  using Message = ::mqtt::const_message_ptr;
  // Called on the io thread before every connection attempt; returns the will to register with
  // it (or nothing). The uplink bumps and persists its epoch here.
  using WillProvider = std::function<std::optional<::mqtt::message>()>;

  static std::shared_ptr<Connection> create(boost::asio::io_context& io, ConnectionSettings settings,
                                            std::uint64_t jitter_seed);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Handlers run on the io thread. Set them before start().
  void on_connected(std::function<void(int mqtt_version, bool session_present)> fn) { on_connected_ = std::move(fn); }
  void on_disconnected(std::function<void(const std::string& why)> fn) { on_disconnected_ = std::move(fn); }
  // `token` is what settings.before_ack returned for the message (0 without a hook).
  void on_message(std::function<void(const Message&, std::uint64_t token)> fn) { on_message_ = std::move(fn); }
  void set_will_provider(WillProvider fn) { will_provider_ = std::move(fn); }

  // Starts connecting; keeps the connection up until stop().
  void start();
  // Disconnects cleanly (after in-flight publishes or `timeout`) and stops reconnecting; `done`
  // runs on the io thread once the connection is closed.
  void stop(std::chrono::milliseconds timeout, std::function<void()> done);

  // Publishes; `done` (optional) runs on the io thread with the outcome: ok once the broker
  // acknowledged (QoS 1) or the message was written (QoS 0); invalid_argument when the broker
  // refused it (MQTT 5 PUBACK reason code >= 0x80: too large, not authorized, quota exceeded...);
  // unavailable when not connected or the connection went.
  void publish(const std::string& topic, std::string payload, int qos, bool retained,
               std::function<void(Status)> done = {});
  // The same with MQTT 5 properties (e.g. correlation data for a response). On an MQTT 3.1.1
  // connection the properties are left off: 3.1.1 has no place for them.
  void publish(const std::string& topic, std::string payload, int qos, bool retained,
               const ::mqtt::properties& props, std::function<void(Status)> done = {});

  // Adds a topic filter to settings().subscriptions; subscribed at once when connected, and after
  // every later connect. A filter already there only gets the new QoS (from the next connect on).
  void add_subscription(std::string filter, int qos);

  // Applies new reconnect limits (SIGHUP).
  void set_reconnect_limits(std::chrono::milliseconds min, std::chrono::milliseconds max);

  bool connected() const { return connected_; }
  int mqtt_version() const { return version_; }
  const ConnectionSettings& settings() const { return settings_; }
  std::uint64_t connects() const { return connects_; }
  // Received messages dropped because the inbound queue was full; its depth and high-water mark.
  std::uint64_t inbound_dropped() const { return inbound_->dropped(); }
  std::size_t inbound_depth() const { return inbound_->depth(); }
  std::size_t inbound_high_water() const { return inbound_->high_water(); }

 private:
  class Listener;
  Connection(boost::asio::io_context& io, ConnectionSettings settings, std::uint64_t jitter_seed);

  void make_client();
  void attempt();
  void schedule_reconnect(const std::string& why);
  void handle_connect_result(std::uint64_t attempt_id, bool ok, int rc, int reason, bool session_present,
                             const std::string& why);
  void handle_lost(const std::string& why);
  void handle_publish_result(std::uint64_t id, Status st);
  void subscribe_all();
  void subscribe(const std::vector<std::pair<std::string, int>>& subscriptions);
  // io thread: hands a batch of received messages to on_message_.
  void drain_inbound();
  // Paho's thread: runs before_ack and queues a received message.
  void receive(::mqtt::const_message_ptr msg);
  // `attempt_id`: the attempt the options are for (TLS errors are recorded under it).
  ::mqtt::connect_options build_options(const std::optional<::mqtt::message>& will, std::uint64_t attempt_id) const;
  // Starts a connect; TLS ones through a thread that keeps Paho's copy of the options alive until
  // the attempt completes (connection.cpp says why). Throws what Paho's connect() throws.
  void start_connect(const ::mqtt::connect_options& opts, std::uint64_t attempt_id, bool tls);

  boost::asio::io_context& io_;
  ConnectionSettings settings_;
  Backoff backoff_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer drain_timer_;
  std::unique_ptr<::mqtt::async_client> client_;
  std::unique_ptr<Listener> connect_listener_;
  std::unique_ptr<Listener> publish_listener_;
  std::unique_ptr<Listener> disconnect_listener_;
  std::unique_ptr<Listener> subscribe_listener_;
  // What OpenSSL reported during a TLS connect attempt (Paho's ssl error handler, on Paho's
  // thread), read by handle_connect_result on the io thread.
  class TlsErrors;
  std::shared_ptr<TlsErrors> tls_errors_;

  std::function<void(int, bool)> on_connected_;
  std::function<void(const std::string&)> on_disconnected_;
  std::function<void(const Message&, std::uint64_t)> on_message_;
  // Shared with Paho's callback, which may outlive this object by a callback or two.
  std::shared_ptr<InboundQueue> inbound_;
  std::vector<InboundItem> draining_;  // io thread: the batch being handled (capacity reused)
  WillProvider will_provider_;

  int version_ = 0;            // MQTT version of the current connection (5 or 4)
  int try_version_ = 5;        // version the next attempt uses
  int client_version_ = 0;     // version client_ was created for
  bool connected_ = false;
  bool connecting_ = false;
  bool stopping_ = false;
  std::uint64_t attempt_id_ = 0;
  std::uint64_t connects_ = 0;
  std::uint64_t next_publish_id_ = 1;
  std::unordered_map<std::uint64_t, std::function<void(Status)>> pending_;
  // Subscribe requests awaiting their SUBACK: their filters, to name a refused one.
  std::uint64_t next_subscribe_id_ = 1;
  std::unordered_map<std::uint64_t, std::vector<std::string>> pending_subscribes_;
  std::function<void()> stop_done_;
};

}  // namespace xrm::mqtt_link
