#pragma once
// The gateway's connection to the local (device-side) Mosquitto, as its dynamic-security admin
// client. It keeps a persistent session (clean_start=false, session expiry one week), so QoS 1
// device messages wait at the broker while the gateway restarts, and subscribes (QoS 1) to every
// device's tele, evt, birth, state and cmd-res topics and to the dynamic-security responses.
// Messages reach the io thread through a bounded queue (ingest.queue_messages). QoS 1 events and
// command results are written to the inbound journal on Paho's thread before their PUBACK
// (inbound_journal.hpp); telemetry is acknowledged once queued and is dropped (counted) when the
// queue is full.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "xrm/config/config.hpp"
#include "xrm/ingest/inbound_journal.hpp"
#include "xrm/mqtt/connection.hpp"

namespace xrm::ingest {

class LocalLink {
 public:
  static constexpr std::uint32_t kSessionExpirySeconds = 7 * 24 * 3600;

  // journal: may be null (nothing journaled); shared with Paho's thread, which may still be in a
  // callback while the LocalLink goes away.
  LocalLink(boost::asio::io_context& io, const config::Config& config, std::shared_ptr<InboundJournal> journal);
  // Set before start(); runs on the io thread for every message received, with its journal id
  // (0: not journaled).
  void on_message(std::function<void(const mqtt_link::Connection::Message&, std::uint64_t journal_id)> fn);
  // Set before start(); runs on the io thread after every (re)connection.
  void on_connected(std::function<void()> fn);
  // Set before start(); runs on the io thread when an established connection is lost.
  void on_disconnected(std::function<void()> fn);
  void start();
  void shutdown(std::chrono::milliseconds timeout, std::function<void()> done);
  void reload(const config::Config& config);
  // QoS 1, not retained (the dynamic-security commands; later the device commands).
  void publish(const std::string& topic, std::string payload, std::function<void(Status)> done);

  bool connected() const { return conn_->connected(); }
  int mqtt_version() const { return conn_->mqtt_version(); }
  const std::string& url() const { return conn_->settings().broker.url; }
  // Telemetry dropped because the inbound queue (ingest.queue_messages) was full, and the most
  // messages that waited at once.
  std::uint64_t dropped() const { return conn_->inbound_dropped(); }
  std::size_t queue_high_water() const { return conn_->inbound_high_water(); }

 private:
  std::shared_ptr<mqtt_link::Connection> conn_;
};

}  // namespace xrm::ingest
