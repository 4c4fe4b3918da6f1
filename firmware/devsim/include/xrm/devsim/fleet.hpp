#pragma once
// xrm-devsim's fleet: one xrm::device::Device per scenario device, each with its own transport
// (one MQTT connection each, authenticated with the device's own credentials, as real devices
// do), driven by the scenario Engine. Single-threaded: one thread calls step() in a loop; the
// devices' transports deliver their callbacks from inside it (xrm/device/transport.hpp).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xrm/device/device.hpp"
#include "xrm/device/status.hpp"
#include "xrm/device/transport.hpp"
#include "xrm/devsim/engine.hpp"
#include "xrm/devsim/scenario.hpp"

namespace xrm::devsim {

// A transport decorator for flaky devices: telemetry handed over after lose_next_telemetry() is
// not sent and reported delivered (a QoS 0 message lost on the way), so the device's sequence
// number is used up and the gateway sees the hole. Everything else passes through.
class LossyTransport : public device::Transport {
 public:
  explicit LossyTransport(std::unique_ptr<device::Transport> inner) : inner_(std::move(inner)) {}

  void lose_next_telemetry() { ++to_lose_; }
  std::uint64_t lost() const { return lost_; }

  void set_handlers(ConnectHandler c, LostHandler l, MessageHandler m) override;
  device::Status connect(const device::ConnectOptions& options) override { return inner_->connect(options); }
  device::Status publish(const std::string& topic, const std::string& payload, int qos, bool retained,
                         PublishDone done) override;
  device::Status subscribe(const std::string& filter, int qos) override { return inner_->subscribe(filter, qos); }
  void disconnect() override { inner_->disconnect(); }
  bool is_connected() const override { return inner_->is_connected(); }
  void poll() override;

 private:
  std::unique_ptr<device::Transport> inner_;
  std::uint64_t to_lose_ = 0;
  std::uint64_t lost_ = 0;
  std::vector<PublishDone> completions_;  // lost messages, reported delivered at the next poll()
};

struct FleetOptions {
  // Each device keeps its sequence counters in STATE_DIR/DEVICE/ (created): a second run
  // continues the numbering, as a rebooted device would.
  std::string state_dir;
  device::Encoding encoding = device::Encoding::kJson;
  int telemetry_qos = 0;
  // New connections started per second, so a large fleet does not storm the broker at once.
  double connect_rate = 200;
  // What each device's birth says (the model comes from the scenario group).
  std::string firmware_version = "devsim";
};

struct FleetStats {
  std::size_t devices = 0;
  std::size_t online = 0;
  std::size_t never_connected = 0;  // started and not connected once yet
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t connections_lost = 0;
  std::uint64_t telemetry = 0;       // readings handed to the devices
  std::uint64_t telemetry_lost = 0;  // flaky: numbered, then lost on the way
  std::uint64_t events = 0;
  std::uint64_t refused = 0;         // the device library refused a message (counted, logged once)
  std::uint64_t published = 0;
  std::uint64_t delivered = 0;
  std::uint64_t retries = 0;
  std::uint64_t commands = 0;
  std::uint64_t buffered = 0;  // messages waiting in the devices' offline buffers
  std::uint64_t dropped = 0;   // dropped by full offline buffers
};

class Fleet : private ActionSink {
 public:
  using TransportFactory = std::function<std::unique_ptr<device::Transport>()>;
  using Clock = std::function<std::uint64_t()>;  // wall-clock ms since the epoch, for the devices

  // `scenario` must outlive the fleet. `credentials`: device id -> provisioning URI.
  Fleet(const Scenario& scenario, std::uint64_t seed, std::map<std::string, std::string> credentials,
        FleetOptions options, TransportFactory transports, Clock clock = {});
  ~Fleet() override;
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Checks that every scenario device has credentials whose URI names it, and creates the state
  // directories. Errors name the devices; nothing has connected yet.
  device::Status prepare();

  // At `elapsed_ms` from the start: starts the connections now due (connect_rate), plays every
  // scenario action due, and polls every device. Call every few ms.
  void step(std::int64_t elapsed_ms);
  // When the scenario's next action is due (ms from the start); none when it is over.
  std::optional<std::int64_t> next_due() const { return engine_.next_due(); }
  bool all_started() const { return started_ == devices_.size(); }
  // Nothing is waiting in any device's buffer.
  bool settled() const;
  // Each device says `offline` and disconnects (the broker discards its will); fleets of more
  // than 64 devices stop on up to kStopThreads threads.
  void stop();
  static constexpr std::size_t kStopThreads = 16;

  FleetStats stats() const;
  const EngineStats& engine_stats() const { return engine_.stats(); }
  // The first refusal or connection error seen, for the report ("chiller-3: not authorised").
  const std::string& first_problem() const { return first_problem_; }
  // The first device (scenario order) with a connection error, and the error; empty if none.
  std::string connection_problem() const;
  // Devices that have not connected once, in scenario order.
  std::vector<std::string> never_connected() const;

 private:
  struct SimDevice;

  void on_telemetry(const Telemetry& telemetry) override;
  void on_lost_telemetry(const Telemetry& telemetry) override;
  void on_event(const Event& event) override;
  void send(SimDevice& d, const Telemetry& telemetry);
  void note_problem(const std::string& device, const std::string& what);

  const Scenario& scenario_;
  Engine engine_;
  std::map<std::string, std::string> credentials_;
  FleetOptions options_;
  TransportFactory transports_;
  Clock clock_;
  std::vector<std::unique_ptr<SimDevice>> devices_;  // scenario order (the engine's device index)
  std::size_t started_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t commands_ = 0;
  std::string first_problem_;
  std::vector<std::pair<std::string, double>> scratch_;
};

}  // namespace xrm::devsim
