#pragma once
// The gateway's connection to the local (device-side) Mosquitto, as its dynamic-security admin
// client. It keeps a persistent session (clean_start=false, session expiry one week), so QoS 1
// device messages wait at the broker while the gateway restarts. Subscriptions and decoding come
// with the ingest stage; this part owns the connection and its reconnects.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "xrm/config/config.hpp"
#include "xrm/mqtt/connection.hpp"

namespace xrm::ingest {

class LocalLink {
 public:
  static constexpr std::uint32_t kSessionExpirySeconds = 7 * 24 * 3600;

  LocalLink(boost::asio::io_context& io, const config::Config& config);
  void start();
  void shutdown(std::chrono::milliseconds timeout, std::function<void()> done);
  void reload(const config::Config& config);

 private:
  std::shared_ptr<mqtt_link::Connection> conn_;
};

}  // namespace xrm::ingest
