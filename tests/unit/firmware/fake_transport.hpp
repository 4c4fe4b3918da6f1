#pragma once
// A Transport the test drives by hand: it records what the device asks for, and the test decides
// when a connection succeeds, a publish is acknowledged, or the connection drops. Like a real
// transport it delivers every event from poll().
#include <functional>
#include <string>
#include <vector>

#include "xrm/device/transport.hpp"

namespace xrm::device::test {

struct FakePublish {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
  Transport::PublishDone done;
  bool completed = false;
};

class FakeTransport : public Transport {
 public:
  void set_handlers(ConnectHandler c, LostHandler l, MessageHandler m) override {
    on_connect_ = std::move(c);
    on_lost_ = std::move(l);
    on_message_ = std::move(m);
  }
  Status connect(const ConnectOptions& o) override {
    connects.push_back(o);
    return Status::ok();
  }
  Status publish(const std::string& topic, const std::string& payload, int qos, bool retained,
                 PublishDone done) override {
    if (!connected_) return Status::error("not connected");
    if (refuse_publishes) return Status::error("buffer full");
    publishes.push_back(FakePublish{topic, payload, qos, retained, std::move(done), false});
    return Status::ok();
  }
  Status subscribe(const std::string& filter, int qos) override {
    subscriptions.emplace_back(filter, qos);
    return Status::ok();
  }
  void disconnect() override {
    ++disconnects;
    connected_ = false;
  }
  bool is_connected() const override { return connected_; }
  void poll() override {
    auto events = std::move(queued_);
    queued_.clear();
    for (auto& e : events) e();
  }

  // Test controls: queue an event, delivered at the next poll().
  void accept_connect() {
    queued_.push_back([this] {
      connected_ = true;
      on_connect_(Status::ok());
    });
  }
  void refuse_connect() {
    queued_.push_back([this] { on_connect_(Status::error("not authorised")); });
  }
  void lose_connection() {
    queued_.push_back([this] {
      connected_ = false;
      on_lost_("socket closed");
    });
  }
  void deliver(std::string topic, std::string payload) {
    queued_.push_back([this, topic = std::move(topic), payload = std::move(payload)] { on_message_(topic, payload); });
  }
  // Completes publish number `index` (by index: `publishes` may grow while events run).
  void complete(std::size_t index, bool delivered) {
    queued_.push_back([this, index, delivered] {
      FakePublish& p = publishes.at(index);
      if (p.completed) return;
      p.completed = true;
      auto done = p.done;  // copy: done may publish, which grows `publishes`
      if (done) done(delivered);
    });
  }
  // Indexes of publishes to `topic`.
  std::vector<std::size_t> to(const std::string& topic) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < publishes.size(); ++i) {
      if (publishes[i].topic == topic) out.push_back(i);
    }
    return out;
  }

  std::vector<ConnectOptions> connects;
  std::vector<FakePublish> publishes;
  std::vector<std::pair<std::string, int>> subscriptions;
  int disconnects = 0;
  bool refuse_publishes = false;

 private:
  bool connected_ = false;
  ConnectHandler on_connect_;
  LostHandler on_lost_;
  MessageHandler on_message_;
  std::vector<std::function<void()>> queued_;
};

}  // namespace xrm::device::test
