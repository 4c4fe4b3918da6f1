#include "xrm/devsim/fleet.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>

#include "xrm/device/provisioning_uri.hpp"

namespace xrm::devsim {

// ---- LossyTransport -------------------------------------------------------------------------

void LossyTransport::set_handlers(ConnectHandler c, LostHandler l, MessageHandler m) {
  inner_->set_handlers(std::move(c), std::move(l), std::move(m));
}

device::Status LossyTransport::publish(const std::string& topic, const std::string& payload, int qos,
                                       bool retained, PublishDone done) {
  constexpr std::string_view kTele = "/tele";
  const bool telemetry = topic.size() >= kTele.size() && topic.compare(topic.size() - kTele.size(), kTele.size(), kTele) == 0;
  if (telemetry && to_lose_ > 0) {
    if (!inner_->is_connected()) return device::Status::error("not connected");  // as the real one would say
    --to_lose_;
    ++lost_;
    completions_.push_back(std::move(done));
    return device::Status::ok();
  }
  return inner_->publish(topic, payload, qos, retained, std::move(done));
}

void LossyTransport::poll() {
  inner_->poll();
  auto done = std::move(completions_);
  completions_.clear();
  for (auto& d : done) {
    if (d) d(true);
  }
}

// ---- Fleet ----------------------------------------------------------------------------------

struct Fleet::SimDevice {
  const Group* group = nullptr;
  std::string id;
  std::string state_dir;
  LossyTransport* link = nullptr;  // owned by `transport`
  std::unique_ptr<device::Transport> transport;
  std::unique_ptr<device::Device> device;
  bool started = false;
};

namespace {

// mkdir -p for one or two levels we own; errors name the directory.
device::Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return device::Status::ok();
    return device::Status::error(path + ": not a directory");
  }
  return device::Status::error(path + ": cannot create: " + std::strerror(errno));
}

device::Status make_dirs(const std::string& path) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    if (device::Status st = make_dir(path.substr(0, slash)); !st) return st;
  }
  return make_dir(path);
}

}  // namespace

Fleet::Fleet(const Scenario& scenario, std::uint64_t seed, std::map<std::string, std::string> credentials,
             FleetOptions options, TransportFactory transports, Clock clock)
    : scenario_(scenario),
      engine_(scenario, seed),
      credentials_(std::move(credentials)),
      options_(std::move(options)),
      transports_(std::move(transports)),
      clock_(std::move(clock)) {}

Fleet::~Fleet() {
  // Devices before their transports (a Device holds a reference to its transport).
  for (auto& d : devices_) d->device.reset();
}

device::Status Fleet::prepare() {
  if (!devices_.empty()) return device::Status::error("fleet already prepared");
  std::vector<std::string> missing;
  std::string wrong;
  for (const Group& g : scenario_.groups) {
    for (const std::string& id : g.devices) {
      const auto it = credentials_.find(id);
      if (it == credentials_.end()) {
        missing.push_back(id);
        continue;
      }
      device::ProvisioningUri uri;
      if (device::Status st = device::ProvisioningUri::parse(it->second, uri); !st) {
        if (wrong.empty()) wrong = id + ": bad provisioning URI: " + st.message();
        continue;
      }
      if (uri.device != id) {
        if (wrong.empty()) wrong = id + ": its credentials are for device " + uri.device;
        continue;
      }
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 5) list += " and " + std::to_string(missing.size() - 5) + " more";
    return device::Status::error("no credentials for " + std::to_string(missing.size()) + " of " +
                                 std::to_string(scenario_.device_count()) + " devices: " + list +
                                 " (provision them with `xrmctl --json provision` and pass its output)");
  }
  if (!wrong.empty()) return device::Status::error(wrong);

  const std::string root = options_.state_dir.empty() ? std::string(".") : options_.state_dir;
  if (device::Status st = make_dirs(root); !st) return st;
  for (const Group& g : scenario_.groups) {
    for (const std::string& id : g.devices) {
      auto d = std::make_unique<SimDevice>();
      d->group = &g;
      d->id = id;
      d->state_dir = root + "/" + id;
      if (device::Status st = make_dir(d->state_dir); !st) return st;
      auto link = std::make_unique<LossyTransport>(transports_());
      d->link = link.get();
      d->transport = std::move(link);

      device::DeviceConfig config;
      config.uri = credentials_.at(id);
      config.state_dir = d->state_dir;
      config.encoding = options_.encoding;
      config.telemetry_qos = options_.telemetry_qos;
      config.model = g.model;
      config.firmware_version = options_.firmware_version;
      config.capabilities = {"telemetry", "events", "commands"};
      config.clock = clock_;
      d->device = std::make_unique<device::Device>(*d->transport, std::move(config));
      SimDevice* raw = d.get();
      d->device->on_command([this, raw](const device::Command& c) {
        ++commands_;
        device::CommandResult r;
        r.status = device::CommandStatus::kOk;
        r.message = "simulated device " + raw->id + " did " + c.name;
        return r;
      });
      devices_.push_back(std::move(d));
    }
  }
  return device::Status::ok();
}

void Fleet::note_problem(const std::string& device, const std::string& what) {
  if (first_problem_.empty()) first_problem_ = device + ": " + what;
}

void Fleet::step(std::int64_t elapsed_ms) {
  // Connections due by the ramp; a device with an action due earlier was started by it.
  const double rate = options_.connect_rate > 0 ? options_.connect_rate : 1e9;
  const auto due = static_cast<std::size_t>(std::floor(static_cast<double>(elapsed_ms) * rate / 1000.0)) + 1;
  for (; started_ < devices_.size() && started_ < due; ++started_) {
    SimDevice& d = *devices_[started_];
    if (d.started) continue;
    d.started = true;
    if (device::Status st = d.device->start(); !st) note_problem(d.id, st.message());
  }
  engine_.advance(elapsed_ms, *this);
  for (auto& d : devices_) {
    if (d->started) d->device->poll();
  }
}

void Fleet::send(SimDevice& d, const Telemetry& telemetry) {
  if (!d.started) {
    d.started = true;
    if (device::Status st = d.device->start(); !st) note_problem(d.id, st.message());
  }
  scratch_.clear();
  for (const MetricValue& m : telemetry.metrics) scratch_.emplace_back(std::string(m.name), m.value);
  if (device::Status st = d.device->send_telemetry(scratch_); !st) {
    ++refused_;
    note_problem(d.id, st.message());
  }
}

void Fleet::on_telemetry(const Telemetry& telemetry) { send(*devices_.at(telemetry.device_index), telemetry); }

void Fleet::on_lost_telemetry(const Telemetry& telemetry) {
  SimDevice& d = *devices_.at(telemetry.device_index);
  d.link->lose_next_telemetry();
  send(d, telemetry);
}

void Fleet::on_event(const Event& event) {
  SimDevice& d = *devices_.at(event.device_index);
  if (!d.started) {
    d.started = true;
    if (device::Status st = d.device->start(); !st) note_problem(d.id, st.message());
  }
  device::ServiceEvent e;
  e.type = std::string(event.type);
  if (!event.code.empty()) e.code = std::string(event.code);
  e.score = event.score;
  e.technician = std::string(event.technician);
  e.request_id = event.request_id;
  if (device::Status st = d.device->send_event(std::move(e)); !st) {
    ++refused_;
    note_problem(d.id, st.message());
  }
}

bool Fleet::settled() const {
  for (const auto& d : devices_) {
    if (d->started && !d->device->buffer().empty()) return false;
  }
  return true;
}

void Fleet::stop() {
  // Each stop waits for its `offline` state to be acknowledged (a round trip to the broker), so a
  // large fleet stops on several threads; each device is touched by exactly one of them, and the
  // step() loop is not running.
  const std::size_t threads = std::min<std::size_t>(kStopThreads, (devices_.size() + 63) / 64);
  if (threads <= 1) {
    for (auto& d : devices_) {
      if (d->started) d->device->stop();
    }
    return;
  }
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([this, t, threads] {
      for (std::size_t i = t; i < devices_.size(); i += threads) {
        if (devices_[i]->started) devices_[i]->device->stop();
      }
    });
  }
  for (auto& th : pool) th.join();
}

FleetStats Fleet::stats() const {
  FleetStats s;
  s.devices = devices_.size();
  s.refused = refused_;
  s.commands = commands_;
  for (const auto& d : devices_) {
    if (!d->started) continue;
    const device::DeviceStats& ds = d->device->stats();
    if (d->device->is_online()) ++s.online;
    if (ds.connects == 0) ++s.never_connected;
    s.connects += ds.connects;
    s.connect_failures += ds.connect_failures;
    s.connections_lost += ds.connections_lost;
    s.published += ds.published;
    s.delivered += ds.delivered;
    s.retries += ds.retries;
    s.buffered += d->device->buffer().size();
    s.dropped += d->device->buffer().stats().dropped_telemetry + d->device->buffer().stats().dropped_events;
    s.telemetry_lost += d->link->lost();
  }
  s.telemetry = engine_.stats().telemetry_sent + engine_.stats().telemetry_dropped;
  s.events = engine_.stats().events_sent;
  return s;
}

std::string Fleet::connection_problem() const {
  for (const auto& d : devices_) {
    if (d->started && !d->device->last_error().empty()) return d->id + ": " + d->device->last_error();
  }
  return {};
}

std::vector<std::string> Fleet::never_connected() const {
  std::vector<std::string> out;
  for (const auto& d : devices_) {
    if (!d->started || d->device->stats().connects == 0) out.push_back(d->id);
  }
  return out;
}

}  // namespace xrm::devsim
