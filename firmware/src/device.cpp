#include "xrm/device/device.hpp"

#include <algorithm>
#include <chrono>

namespace xrm::device {
namespace {

constexpr std::size_t kRecentCommands = 16;

std::uint64_t system_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace

Device::Device(Transport& transport, DeviceConfig config)
    : transport_(transport), config_(std::move(config)), buffer_(config_.buffer) {
  if (!config_.clock) config_.clock = system_ms;
  if (config_.telemetry_qos != 0) config_.telemetry_qos = 1;
  if (config_.max_in_flight == 0) config_.max_in_flight = 1;
  if (config_.reconnect_min_ms == 0) config_.reconnect_min_ms = 1;
  config_.reconnect_max_ms = std::max(config_.reconnect_max_ms, config_.reconnect_min_ms);
}

std::uint64_t Device::now() const { return config_.clock(); }

Status Device::start() {
  if (state_ != State::kIdle) return Status::error("device already started");
  if (Status st = ProvisioningUri::parse(config_.uri, uri_); !st) return st;

  CounterStorage* tele = config_.telemetry_seq_storage;
  CounterStorage* evt = config_.event_seq_storage;
  const std::string dir = config_.state_dir.empty() ? std::string(".") : config_.state_dir;
  if (!tele) {
    tele_file_ = std::make_unique<FileCounterStorage>(dir + "/tele.seq");
    tele = tele_file_.get();
  }
  if (!evt) {
    evt_file_ = std::make_unique<FileCounterStorage>(dir + "/evt.seq");
    evt = evt_file_.get();
  }
  tele_seq_ = std::make_unique<SequenceStore>(*tele, config_.seq_block);
  evt_seq_ = std::make_unique<SequenceStore>(*evt, config_.seq_block);
  if (Status st = tele_seq_->open(); !st) return st;
  if (Status st = evt_seq_->open(); !st) return st;

  transport_.set_handlers([this](const Status& s) { handle_connect(s); },
                          [this](const std::string& cause) { handle_lost(cause); },
                          [this](const std::string& t, const std::string& p) { handle_message(t, p); });
  boot_ms_ = now();
  backoff_ms_ = config_.reconnect_min_ms;
  return connect();
}

Status Device::connect() {
  ConnectOptions opts;
  opts.url = uri_.url;
  opts.client_id = uri_.device;
  opts.username = uri_.device;
  opts.password = uri_.password;
  opts.keep_alive_s = config_.keep_alive_s;
  opts.will = Will{topic("state"), "offline", 1, true};
  Status st = transport_.connect(opts);
  if (!st) {
    ++stats_.connect_failures;
    last_error_ = "cannot connect to " + uri_.url + ": " + st.message();
    schedule_reconnect();
    return Status::error(uri_.device + ": cannot connect to " + uri_.url + ": " + st.message());
  }
  state_ = State::kConnecting;
  return Status::ok();
}

void Device::schedule_reconnect() {
  state_ = State::kDisconnected;
  reconnect_at_ = now() + backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, config_.reconnect_max_ms);
}

void Device::handle_connect(const Status& result) {
  if (state_ != State::kConnecting) return;
  if (!result) {
    ++stats_.connect_failures;
    last_error_ = "connect to " + uri_.url + " failed: " + result.message();
    schedule_reconnect();
    return;
  }
  state_ = State::kConnected;
  ++stats_.connects;
  backoff_ms_ = config_.reconnect_min_ms;
  transport_.subscribe(topic("cmd/+"), 1);
  // Birth and state are retained and sent on every connect; the birth ts stays the boot time, so
  // the gateway sees a reboot only when there was one. Not buffered: the next connect repeats them.
  Birth birth{config_.model, config_.firmware_version, config_.capabilities, boot_ms_, {}};
  transport_.publish(topic("birth"), encode_birth(birth, config_.encoding), 1, true, [](bool) {});
  transport_.publish(topic("state"), "online", 1, true, [](bool) {});
  flush();
}

void Device::handle_lost(const std::string& cause) {
  if (state_ != State::kConnected) return;
  ++stats_.connections_lost;
  last_error_ = "connection lost: " + cause;
  buffer_.requeue_in_flight();
  schedule_reconnect();
}

void Device::stop() {
  if (state_ == State::kConnected) {
    transport_.publish(topic("state"), "offline", 1, true, [](bool) {});
  }
  if (state_ == State::kConnected || state_ == State::kConnecting) transport_.disconnect();
  state_ = State::kStopped;
}

void Device::poll() {
  transport_.poll();
  const std::uint64_t t = now();
  if (state_ == State::kDisconnected && t >= reconnect_at_) {
    (void)connect();  // a failure schedules the next attempt
    return;
  }
  if (state_ != State::kConnected) return;
  for (const auto& m : buffer_.messages()) {
    if (m.in_flight && t - m.sent_at_ms >= config_.ack_timeout_ms) {
      OutboundMessage* msg = buffer_.find(m.id);
      msg->in_flight = false;
      ++stats_.retries;
    }
  }
  flush();
}

void Device::flush() {
  if (state_ != State::kConnected) return;
  while (buffer_.in_flight() < config_.max_in_flight) {
    OutboundMessage* m = buffer_.next_unsent();
    if (!m) return;
    const std::uint64_t id = m->id;
    const std::uint32_t attempt = ++m->attempt;
    m->in_flight = true;
    m->sent_at_ms = now();
    // Copies: the completion may run (from a later poll()) after the buffer changed.
    Status st = transport_.publish(m->topic, m->payload, m->qos, m->retained,
                                   [this, id, attempt](bool ok) { handle_done(id, attempt, ok); });
    if (!st) {
      // Not accepted (client buffer full, connection going): try again on the next poll().
      if (OutboundMessage* again = buffer_.find(id)) again->in_flight = false;
      return;
    }
    ++stats_.published;
  }
}

void Device::handle_done(std::uint64_t id, std::uint32_t attempt, bool delivered) {
  OutboundMessage* m = buffer_.find(id);
  if (!m) return;  // already delivered by another attempt
  if (delivered) {
    buffer_.remove(id);
    ++stats_.delivered;
    flush();
    return;
  }
  if (m->attempt == attempt && m->in_flight) {
    m->in_flight = false;
    ++stats_.retries;
  }
}

Status Device::enqueue(MessageKind kind, const std::string& t, std::string payload, int qos) {
  OutboundMessage msg;
  msg.kind = kind;
  msg.topic = t;
  msg.payload = std::move(payload);
  msg.qos = qos;
  if (buffer_.push(std::move(msg)) == 0) {
    return Status::error(uri_.device + ": offline buffer full, message to " + t + " dropped");
  }
  flush();
  return Status::ok();
}

Status Device::send_telemetry(const std::map<std::string, double>& metrics) {
  return send_telemetry(std::vector<std::pair<std::string, double>>(metrics.begin(), metrics.end()));
}

Status Device::send_telemetry(const std::vector<std::pair<std::string, double>>& metrics) {
  if (!tele_seq_) return Status::error("device not started");
  Telemetry t;
  t.ts = now();
  t.metrics = metrics;
  std::string payload;
  // Encode once to validate before a number is used, then again with the number.
  if (Status st = encode_telemetry(t, config_.encoding, payload); !st) return st;
  if (Status st = tele_seq_->next(t.seq); !st) return st;
  (void)encode_telemetry(t, config_.encoding, payload);
  return enqueue(MessageKind::kTelemetry, topic("tele"), std::move(payload), config_.telemetry_qos);
}

Status Device::send_event(ServiceEvent event) {
  if (!evt_seq_) return Status::error("device not started");
  if (event.ts == 0) event.ts = now();
  std::string payload;
  if (Status st = encode_event(event, config_.encoding, payload); !st) return st;
  if (Status st = evt_seq_->next(event.seq); !st) return st;
  (void)encode_event(event, config_.encoding, payload);
  return enqueue(MessageKind::kEvent, topic("evt"), std::move(payload), 1);
}

void Device::handle_message(const std::string& t, const std::string& payload) {
  const std::string prefix = topic("cmd/");
  if (t.compare(0, prefix.size(), prefix) != 0) return;
  const std::string name = t.substr(prefix.size());
  if (name.empty() || name.find('/') != std::string::npos) return;
  ++stats_.commands;

  Command cmd;
  CommandResult result;
  if (Status st = decode_command(payload, cmd); !st) {
    result.status = CommandStatus::kRejected;
    result.message = st.message();
  } else {
    auto seen = std::find_if(recent_results_.begin(), recent_results_.end(),
                             [&](const auto& r) { return !cmd.request_id.empty() && r.first == cmd.request_id; });
    if (seen != recent_results_.end()) {
      ++stats_.duplicate_commands;
      std::string again = seen->second;  // copy: enqueue() does not touch recent_results_, but be safe
      (void)enqueue(MessageKind::kCommandResult, topic("cmd-res"), std::move(again), 1);
      return;
    }
    if (cmd.name.empty()) cmd.name = name;
    if (cmd.request_id.empty()) {
      result.status = CommandStatus::kRejected;
      result.message = "command " + name + " has no request_id";
    } else if (cmd.expires_at_ms && now() > *cmd.expires_at_ms) {
      result.status = CommandStatus::kExpired;
      result.message = "command " + name + " expired before it ran";
    } else if (!handler_) {
      result.status = CommandStatus::kUnknownCommand;
      result.message = "device " + uri_.device + " takes no commands";
    } else {
      result = handler_(cmd);
      if (result.status == CommandStatus::kUnspecified) result.status = CommandStatus::kOk;
    }
  }
  result.request_id = cmd.request_id;
  result.name = cmd.name.empty() ? name : cmd.name;
  result.device_id = uri_.device;
  result.completed_at_ms = now();
  std::string encoded = encode_command_result(result);
  if (!result.request_id.empty()) {
    recent_results_.emplace_back(result.request_id, encoded);
    if (recent_results_.size() > kRecentCommands) recent_results_.pop_front();
  }
  (void)enqueue(MessageKind::kCommandResult, topic("cmd-res"), std::move(encoded), 1);
}

}  // namespace xrm::device
