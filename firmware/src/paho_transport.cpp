#include "xrm/device/paho_transport.hpp"

#include <MQTTAsync.h>

#include <chrono>
#include <condition_variable>
#include <string_view>
#include <utility>

namespace xrm::device {

struct PahoTransport::Pending {
  PahoTransport* self;
  std::uint64_t id;
};

namespace {

MQTTAsync handle(void* p) { return static_cast<MQTTAsync>(p); }

std::string paho_error(int rc) {
  const char* s = MQTTAsync_strerror(rc);
  return std::string(s ? s : "unknown error") + " (" + std::to_string(rc) + ")";
}

bool is_tls(std::string_view url) {
  return url.substr(0, 6) == "ssl://" || url.substr(0, 8) == "mqtts://" || url.substr(0, 6) == "wss://";
}

}  // namespace

// C callbacks: run on Paho's thread; they only queue.
namespace {
extern "C" void cb_connected(void* ctx, MQTTAsync_successData*);
extern "C" void cb_connect_failed(void* ctx, MQTTAsync_failureData* resp);
extern "C" void cb_lost(void* ctx, char* cause);
extern "C" int cb_message(void* ctx, char* topic, int topic_len, MQTTAsync_message* msg);
extern "C" void cb_published(void* ctx, MQTTAsync_successData*);
extern "C" void cb_publish_failed(void* ctx, MQTTAsync_failureData*);
}  // namespace

PahoTransport::PahoTransport(PahoTransportOptions options) : options_(std::move(options)) {}

PahoTransport::~PahoTransport() { destroy_client(); }

void PahoTransport::set_handlers(ConnectHandler on_connect, LostHandler on_lost, MessageHandler on_message) {
  on_connect_ = std::move(on_connect);
  on_lost_ = std::move(on_lost);
  on_message_ = std::move(on_message);
}

void PahoTransport::post(std::function<void()> event) {
  std::lock_guard<std::mutex> lock(mutex_);
  events_.push_back(std::move(event));
}

void PahoTransport::complete(std::uint64_t id, bool delivered) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  PublishDone done = std::move(it->second.second);
  pending_.erase(it);
  events_.push_back([done = std::move(done), delivered] {
    if (done) done(delivered);
  });
  if (pending_.empty()) drained_.notify_all();
}

void PahoTransport::destroy_client() {
  if (client_) {
    MQTTAsync c = handle(client_);
    // Lives until after MQTTAsync_destroy, so a late callback cannot touch freed memory.
    struct Waiter {
      std::mutex m;
      std::condition_variable cv;
      bool done = false;
      static void signal(void* ctx) {
        auto* w = static_cast<Waiter*>(ctx);
        std::lock_guard<std::mutex> lock(w->m);
        w->done = true;
        w->cv.notify_all();
      }
    };
    auto waiter = std::make_shared<Waiter>();
    if (MQTTAsync_isConnected(c)) {
      // First let what is in flight (the `offline` state of Device::stop) be acknowledged: with
      // messages outstanding, Paho's disconnect only notices their completion at its next
      // 1-second cycle, which made stopping a fleet take over a second per device.
      std::unique_lock<std::mutex> lock(mutex_);
      drained_.wait_for(lock, std::chrono::milliseconds(1000), [&] { return pending_.empty(); });
    }
    if (MQTTAsync_isConnected(c)) {
      // Wait (bounded) for the DISCONNECT to go out: destroying the client at once would drop
      // what is still queued (the `offline` state) and the broker would keep `online`.
      MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer;
      opts.timeout = 1000;  // ms Paho lets in-flight messages complete
      opts.context = waiter.get();
      opts.onSuccess = [](void* ctx, MQTTAsync_successData*) { Waiter::signal(ctx); };
      opts.onFailure = [](void* ctx, MQTTAsync_failureData*) { Waiter::signal(ctx); };
      if (MQTTAsync_disconnect(c, &opts) == MQTTASYNC_SUCCESS) {
        std::unique_lock<std::mutex> lock(waiter->m);
        waiter->cv.wait_for(lock, std::chrono::milliseconds(1500), [&] { return waiter->done; });
      }
    }
    MQTTAsync_destroy(&c);  // no callbacks after this
    client_ = nullptr;
  }
  connected_ = false;
  // Publishes Paho never completed: they fail, so their owners send them again.
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& entry : pending_) {
    PublishDone done = std::move(entry.second.second);
    events_.push_back([done = std::move(done)] {
      if (done) done(false);
    });
  }
  pending_.clear();
}

Status PahoTransport::connect(const ConnectOptions& o) {
  destroy_client();
  MQTTAsync c = nullptr;
  int rc = MQTTAsync_create(&c, o.url.c_str(), o.client_id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr);
  if (rc != MQTTASYNC_SUCCESS) return Status::error("broker URL " + o.url + ": " + paho_error(rc));
  client_ = c;
  rc = MQTTAsync_setCallbacks(c, this, cb_lost, cb_message, nullptr);
  if (rc != MQTTASYNC_SUCCESS) return Status::error("Paho callbacks: " + paho_error(rc));

  MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
  opts.keepAliveInterval = o.keep_alive_s;
  opts.cleansession = o.clean_session ? 1 : 0;
  opts.maxInflight = options_.max_inflight;
  opts.username = o.username.empty() ? nullptr : o.username.c_str();
  opts.password = o.password.empty() ? nullptr : o.password.c_str();
  opts.automaticReconnect = 0;  // the Device decides when to reconnect
  opts.onSuccess = cb_connected;
  opts.onFailure = cb_connect_failed;
  opts.context = this;
  MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
  if (o.will) {
    will_topic_ = o.will->topic;
    will_payload_ = o.will->payload;
    will.topicName = will_topic_.c_str();
    will.message = nullptr;
    will.payload.data = will_payload_.data();
    will.payload.len = static_cast<int>(will_payload_.size());
    will.qos = o.will->qos;
    will.retained = o.will->retained ? 1 : 0;
    opts.will = &will;
  }
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  if (is_tls(o.url)) {
    if (!options_.ca_file.empty()) ssl.trustStore = options_.ca_file.c_str();
    opts.ssl = &ssl;
  }
  rc = MQTTAsync_connect(c, &opts);  // copies what it needs before returning
  if (rc != MQTTASYNC_SUCCESS) return Status::error("connect to " + o.url + ": " + paho_error(rc));
  return Status::ok();
}

Status PahoTransport::publish(const std::string& topic, const std::string& payload, int qos, bool retained,
                              PublishDone done) {
  if (!client_ || !connected_) return Status::error(topic + ": not connected");
  std::uint64_t id = 0;
  Pending* ctx = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    auto p = std::make_unique<Pending>(Pending{this, id});
    ctx = p.get();
    pending_.emplace(id, std::make_pair(std::move(p), std::move(done)));
  }
  MQTTAsync_message msg = MQTTAsync_message_initializer;
  msg.payload = const_cast<char*>(payload.data());  // Paho copies it
  msg.payloadlen = static_cast<int>(payload.size());
  msg.qos = qos;
  msg.retained = retained ? 1 : 0;
  MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
  ro.onSuccess = cb_published;
  ro.onFailure = cb_publish_failed;
  ro.context = ctx;
  const int rc = MQTTAsync_sendMessage(handle(client_), topic.c_str(), &msg, &ro);
  if (rc != MQTTASYNC_SUCCESS) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.erase(id);  // not accepted: no callback will come, and `done` is not called
    return Status::error(topic + ": publish not accepted: " + paho_error(rc));
  }
  return Status::ok();
}

Status PahoTransport::subscribe(const std::string& filter, int qos) {
  if (!client_) return Status::error(filter + ": not connected");
  MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
  const int rc = MQTTAsync_subscribe(handle(client_), filter.c_str(), qos, &ro);
  if (rc != MQTTASYNC_SUCCESS) return Status::error(filter + ": subscribe failed: " + paho_error(rc));
  return Status::ok();
}

void PahoTransport::disconnect() {
  destroy_client();  // sends DISCONNECT (waits up to 1 s for in-flight messages), then frees
}

void PahoTransport::poll() {
  std::vector<std::function<void()>> events;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events.swap(events_);
  }
  for (auto& e : events) e();
}

// Called on Paho's thread: queue only. State changes happen in poll(), on the owner's thread.
void PahoTransport::paho_connected() {
  post([this] {
    connected_ = true;
    if (on_connect_) on_connect_(Status::ok());
  });
}

void PahoTransport::paho_connect_failed(std::string why) {
  post([this, why = std::move(why)] {
    connected_ = false;
    if (on_connect_) on_connect_(Status::error(why));
  });
}

void PahoTransport::paho_lost(std::string cause) {
  post([this, cause = std::move(cause)] {
    if (!connected_) return;
    connected_ = false;
    if (on_lost_) on_lost_(cause);
  });
}

void PahoTransport::paho_message(std::string topic, std::string payload) {
  post([this, topic = std::move(topic), payload = std::move(payload)] {
    if (on_message_) on_message_(topic, payload);
  });
}

namespace {

extern "C" void cb_connected(void* ctx, MQTTAsync_successData*) { static_cast<PahoTransport*>(ctx)->paho_connected(); }

extern "C" void cb_connect_failed(void* ctx, MQTTAsync_failureData* resp) {
  std::string why = "connect refused or failed";
  if (resp) {
    why += ": " + paho_error(resp->code);
    if (resp->message) why += std::string(" ") + resp->message;
  }
  static_cast<PahoTransport*>(ctx)->paho_connect_failed(std::move(why));
}

extern "C" void cb_lost(void* ctx, char* cause) {
  static_cast<PahoTransport*>(ctx)->paho_lost(cause ? cause : "connection lost");
}

extern "C" int cb_message(void* ctx, char* topic, int topic_len, MQTTAsync_message* msg) {
  std::string t = topic_len > 0 ? std::string(topic, static_cast<std::size_t>(topic_len)) : std::string(topic);
  std::string payload(static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen));
  MQTTAsync_freeMessage(&msg);
  MQTTAsync_free(topic);
  static_cast<PahoTransport*>(ctx)->paho_message(std::move(t), std::move(payload));
  return 1;  // taken
}

extern "C" void cb_published(void* ctx, MQTTAsync_successData*) {
  auto* p = static_cast<PahoTransport::Pending*>(ctx);
  p->self->complete(p->id, true);  // frees p
}

extern "C" void cb_publish_failed(void* ctx, MQTTAsync_failureData*) {
  auto* p = static_cast<PahoTransport::Pending*>(ctx);
  p->self->complete(p->id, false);  // frees p
}

}  // namespace

}  // namespace xrm::device
