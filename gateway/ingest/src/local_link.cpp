#include "xrm/ingest/local_link.hpp"

#include <random>
#include <string_view>

#include "xrm/common/log.hpp"

namespace xrm::ingest {

LocalLink::LocalLink(boost::asio::io_context& io, const config::Config& config,
                     std::shared_ptr<InboundJournal> journal) {
  mqtt_link::ConnectionSettings settings;
  settings.name = "local";
  settings.broker = config.local;
  settings.client_id = config.local.client_id.empty() ? "xrm-gw-" + config.gateway.id : config.local.client_id;
  settings.session_expiry_s = kSessionExpirySeconds;
  for (const char* leaf : {"tele", "evt", "birth", "state", "cmd-res"}) {
    settings.subscriptions.emplace_back(std::string("xrm/v1/dev/+/") + leaf, 1);
  }
  settings.subscriptions.emplace_back("$CONTROL/dynamic-security/v1/response", 1);
  settings.inbound_limit = config.ingest.queue_messages;
  if (journal != nullptr) {
    // Events and command results are committed to the journal before their PUBACK.
    settings.before_ack = [journal](const ::mqtt::message& msg) -> std::uint64_t {
      const std::string& topic = msg.get_topic();
      if (msg.get_qos() < 1 || !InboundJournal::wanted(topic)) return 0;
      return journal->append(topic, msg.get_payload());
    };
  }
  conn_ = mqtt_link::Connection::create(io, std::move(settings), std::random_device{}());
  conn_->on_disconnected([](const std::string& why) { XRM_WARN << "local: disconnected: " << why; });
}

void LocalLink::on_message(std::function<void(const mqtt_link::Connection::Message&, std::uint64_t)> fn) {
  conn_->on_message(std::move(fn));
}

void LocalLink::on_connected(std::function<void()> fn) {
  conn_->on_connected([fn = std::move(fn)](int, bool) { fn(); });
}

void LocalLink::on_disconnected(std::function<void()> fn) {
  conn_->on_disconnected([fn = std::move(fn)](const std::string& why) {
    XRM_WARN << "local: disconnected: " << why;
    fn();
  });
}

void LocalLink::start() { conn_->start(); }

void LocalLink::shutdown(std::chrono::milliseconds timeout, std::function<void()> done) {
  conn_->stop(timeout, std::move(done));
}

void LocalLink::reload(const config::Config& config) {
  conn_->set_reconnect_limits(config.local.reconnect_min, config.local.reconnect_max);
}

void LocalLink::publish(const std::string& topic, std::string payload, std::function<void(Status)> done) {
  conn_->publish(topic, std::move(payload), 1, false, std::move(done));
}

}  // namespace xrm::ingest
