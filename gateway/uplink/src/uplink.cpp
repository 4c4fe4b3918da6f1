#include "xrm/uplink/uplink.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>
#include <utility>

#include "xrm/common/log.hpp"
#include "xrm/common/topics.hpp"
#include "xrm/proto/xrm.pb.h"

namespace xrm::uplink {

Uplink::Uplink(boost::asio::io_context& io, const config::Config& config, store::GatewayState& state,
               outbox::Outbox& outbox, const Clock& clock, std::string version)
    : io_(io), shutdown_timer_(io), gateway_id_(config.gateway.id), version_(std::move(version)), state_(state), clock_(clock) {
  mqtt_link::ConnectionSettings settings;
  settings.name = "upstream";
  settings.broker = config.upstream;
  settings.client_id = config.upstream.client_id.empty() ? "xrm-gw-" + config.gateway.id + "-up" : config.upstream.client_id;
  settings.session_expiry_s = kSessionExpirySeconds;
  conn_ = mqtt_link::Connection::create(io_, std::move(settings), std::random_device{}());
  conn_->on_message([this](const Message& msg, std::uint64_t) {
    const std::string& topic = msg->get_topic();
    for (const auto& [filter, handler] : routes_) {
      if (topics::topic_matches(filter, topic)) {
        // A copy: a handler that subscribes again would reallocate routes_ under itself.
        MessageHandler run = handler;
        run(msg);
        return;
      }
    }
    XRM_DEBUG << "upstream: message on " << topic << " matches no subscription; dropped";
  });
  conn_->set_will_provider([this] { return next_will(); });
  RecordDrain::Link link;
  link.publish = [this](const std::string& topic, std::string payload, std::function<void(Status)> done) {
    conn_->publish(topic, std::move(payload), 1, false, std::move(done));
  };
  link.connected = [this] { return conn_->connected(); };
  drain_ = std::make_unique<RecordDrain>(io_, outbox, gateway_id_, clock_, std::move(link), drain_settings(config));
  confirm_central_ = config.upstream.confirm == "central";
  if (confirm_central_) {
    // Central's Acks delete records; they may wait at the broker (persistent session) while the
    // gateway is away.
    subscribe(topics::gw_ack(gateway_id_), 1, [this](const Message& msg) {
      v1::Ack ack;
      if (!ack.ParseFromString(msg->get_payload_str())) {
        XRM_WARN << "upstream: " << msg->get_topic() << ": " << msg->get_payload().size()
                 << " bytes that are not an xrm.v1.Ack; ignored";
        return;
      }
      drain_->on_ack(ack);
    });
  }
  conn_->on_connected([this](int mqtt_version, bool) {
    conn_->publish(topics::gw_status(gateway_id_), status_payload(true, v1::STATUS_REASON_CONNECTED), 1, true,
                   [epoch = epoch_, mqtt_version](const Status& st) {
                     if (st) {
                       XRM_INFO << "upstream: status online published (epoch " << epoch << ", MQTT "
                                << (mqtt_version == 5 ? "5" : "3.1.1") << ")";
                     } else {
                       XRM_WARN << "upstream: status online not published: " << st.message();
                     }
                   });
    // After the status: publishes on one connection keep their order, so "online" goes first.
    drain_->start();
  });
  conn_->on_disconnected([this](const std::string& why) {
    drain_->stop();
    XRM_WARN << "upstream: disconnected: " << why;
  });
}

std::optional<::mqtt::message> Uplink::next_will() {
  auto epoch = state_.bump_epoch();
  if (!epoch) {
    // Without a durable epoch the status would lie; keep the last one rather than reuse a number.
    XRM_ERROR << "upstream: cannot persist the next epoch: " << epoch.status().message();
    ++epoch_;
  } else {
    epoch_ = *epoch;
  }
  epoch_since_ms_ = clock_.unix_ms();
  return ::mqtt::message(topics::gw_status(gateway_id_), status_payload(false, v1::STATUS_REASON_CONNECTION_LOST), 1,
                         true);
}

std::string Uplink::status_payload(bool online, int reason) const {
  v1::GatewayStatus status;
  status.set_online(online);
  status.set_epoch(epoch_);
  status.set_version(version_);
  status.set_gateway_id(gateway_id_);
  status.set_since_ms(static_cast<std::uint64_t>(epoch_since_ms_));
  // The will is registered before the version is known; it names the version being tried.
  const int v = conn_ && conn_->connected() ? conn_->mqtt_version() : 0;
  status.set_mqtt_protocol(v == 5 ? v1::MQTT_PROTOCOL_V5 : v == 4 ? v1::MQTT_PROTOCOL_V311 : v1::MQTT_PROTOCOL_UNSPECIFIED);
  status.set_reason(static_cast<v1::StatusReason>(reason));
  return status.SerializeAsString();
}

void Uplink::start() { conn_->start(); }

void Uplink::publish_retained(const std::string& topic, std::string payload, std::function<void(Status)> done) {
  conn_->publish(topic, std::move(payload), 1, true, std::move(done));
}

bool Uplink::publish_live(const std::string& topic, std::string payload) {
  if (!conn_->connected()) return false;
  conn_->publish(topic, std::move(payload), 0, false);
  return true;
}

void Uplink::subscribe(std::string filter, int qos, MessageHandler handler) {
  routes_.emplace_back(filter, std::move(handler));
  conn_->add_subscription(std::move(filter), qos);
}

void Uplink::publish_response(const std::string& topic, std::string payload, const std::string& correlation_data,
                              std::function<void(Status)> done) {
  ::mqtt::properties props;
  if (!correlation_data.empty()) props.add(::mqtt::property(::mqtt::property::CORRELATION_DATA, correlation_data));
  conn_->publish(topic, std::move(payload), 1, false, props, std::move(done));
}

void Uplink::shutdown(std::chrono::milliseconds timeout, std::function<void()> done) {
  // Batches in flight may still be acknowledged before the disconnect; their records are removed
  // then. The rest waits in the outbox for the next start.
  drain_->stop();
  shutdown_done_ = std::move(done);
  if (!conn_->connected()) {
    finish_shutdown(timeout);
    return;
  }
  // Bounded wait for the PUBACK of the offline status, then disconnect whatever happened.
  shutdown_timer_.expires_after(timeout);
  shutdown_timer_.async_wait([this, timeout](const boost::system::error_code& ec) {
    if (ec) return;
    XRM_WARN << "upstream: no acknowledgement for status offline; disconnecting anyway";
    finish_shutdown(timeout);
  });
  conn_->publish(topics::gw_status(gateway_id_), status_payload(false, v1::STATUS_REASON_SHUTDOWN), 1, true,
                 [this, timeout, epoch = epoch_](const Status& st) {
                   if (st) {
                     XRM_INFO << "upstream: status offline published (epoch " << epoch << ")";
                   } else {
                     XRM_WARN << "upstream: status offline not published: " << st.message();
                   }
                   finish_shutdown(timeout);
                 });
}

void Uplink::finish_shutdown(std::chrono::milliseconds timeout) {
  if (!shutdown_done_) return;  // the PUBACK and the timer both lead here; the first one wins
  shutdown_timer_.cancel();
  conn_->stop(timeout, std::exchange(shutdown_done_, nullptr));
}

RecordDrain::Settings Uplink::drain_settings(const config::Config& config) {
  RecordDrain::Settings s;
  s.confirm_central = config.upstream.confirm == "central";
  s.ack_timeout = config.upstream.ack_timeout;
  s.limits.max_bytes = config.outbox.max_bytes;
  s.limits.ttl = config.outbox.ttl;
  return s;
}

void Uplink::reload(const config::Config& config) {
  conn_->set_reconnect_limits(config.upstream.reconnect_min, config.upstream.reconnect_max);
  // upstream.confirm needs a restart (the Ack subscription is made at start); keep the running mode.
  RecordDrain::Settings s = drain_settings(config);
  s.confirm_central = confirm_central_;
  drain_->set_settings(s);
}

}  // namespace xrm::uplink
