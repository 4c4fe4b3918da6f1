#include "xrm/testing/subscriber.hpp"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

namespace xrm::testing {
namespace {

std::string unique_client_id() {
  static std::atomic<int> counter{0};
  return "xrm-it-sub-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

Subscriber::Subscriber(const std::string& url, std::chrono::milliseconds timeout)
    : client_id_(unique_client_id()), client_(url, client_id_, ::mqtt::create_options(MQTTVERSION_3_1_1), nullptr) {
  client_.start_consuming();
  ::mqtt::connect_options opts;
  opts.set_mqtt_version(MQTTVERSION_3_1_1);
  opts.set_clean_session(true);
  opts.set_keep_alive_interval(std::chrono::seconds(30));
  opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(timeout));
  opts.set_automatic_reconnect(false);
  auto tok = client_.connect(opts);
  if (!tok->wait_for(timeout)) {
    throw std::runtime_error("subscriber " + client_id_ + ": no CONNACK from " + url + " within " +
                             std::to_string(timeout.count()) + " ms");
  }
}

Subscriber::~Subscriber() {
  try {
    if (client_.is_connected()) client_.disconnect()->wait_for(std::chrono::seconds(1));
  } catch (const std::exception&) {
  }
  try {
    client_.stop_consuming();
  } catch (const std::exception&) {
  }
}

void Subscriber::subscribe(const std::string& filter, int qos, std::chrono::milliseconds timeout) {
  auto tok = client_.subscribe(filter, qos);
  if (!tok->wait_for(timeout)) {
    throw std::runtime_error("subscriber " + client_id_ + ": no SUBACK for " + filter);
  }
}

::mqtt::const_message_ptr Subscriber::wait_for(const Predicate& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ::mqtt::const_message_ptr msg;
    // A null message is Paho's marker for a lost connection; nothing more will come, but keep
    // waiting out the deadline rather than guess.
    if (client_.try_consume_message_until(&msg, deadline) && msg) {
      seen_.push_back(msg);
      if (pred(*msg)) return msg;
    }
    if (std::chrono::steady_clock::now() >= deadline) return nullptr;
  }
}

std::string Subscriber::describe_seen(const Formatter& fmt) const {
  if (seen_.empty()) return "(no messages)";
  std::string out;
  for (const auto& m : seen_) {
    out += m->get_topic() + (m->is_retained() ? " [retained]" : "") + " qos=" + std::to_string(m->get_qos()) + ": ";
    out += fmt ? fmt(*m) : std::to_string(m->get_payload().size()) + " bytes";
    out += "\n";
  }
  return out;
}

}  // namespace xrm::testing
