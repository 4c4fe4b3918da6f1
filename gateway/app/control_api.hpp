#pragma once
// The verbs of the control socket (xrmctl): argument checking, the call into the stage that owns
// the answer, and the JSON result documented in docs/contract.md. Runs on the io thread.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "xrm/common/clock.hpp"
#include "xrm/condense/condenser.hpp"
#include "xrm/control/server.hpp"
#include "xrm/health/engine.hpp"
#include "xrm/ingest/dead_letters.hpp"
#include "xrm/ingest/device_traffic.hpp"
#include "xrm/ingest/local_link.hpp"
#include "xrm/live/live_telemetry.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/provisioner.hpp"
#include "xrm/registry/registry.hpp"
#include "xrm/uplink/uplink.hpp"
#include "scorecards.hpp"

namespace xrm::app {

// What the verbs read and change; every reference must outlive the ControlApi.
struct ControlContext {
  std::string gateway_id;
  std::string version;
  std::string default_site;  // gateway.site: the site of devices provisioned without --site
  const Clock& clock;
  std::chrono::steady_clock::time_point started;
  registry::Registry& registry;
  registry::Provisioner& provisioner;
  outbox::Outbox& outbox;
  const ingest::DeviceTraffic& traffic;
  ingest::DeadLetters& dead_letters;
  const ingest::LocalLink& local;
  const uplink::Uplink& uplink;
  const health::HealthEngine& health;
  const condense::Condenser& condense;
  // Reloads the profiles file (the daemon's rules reload, as on SIGHUP): the file's path and
  // class count, or invalid_argument with every problem as FILE:LINE:KEY: message, one per line,
  // the running rules unchanged.
  std::function<Result<nlohmann::json>()> reload_rules;
  // Live telemetry counters for `status`; nullptr: shown as not enabled.
  const live::LiveTelemetry* live = nullptr;
  // Stakeholder scorecards for `rank`; nullptr: rank is unavailable.
  Scorecards* scorecards = nullptr;
};

class ControlApi {
 public:
  explicit ControlApi(ControlContext ctx) : ctx_(std::move(ctx)) {}

  // The control::Handler: dispatches on the verb; unknown verbs -> invalid_argument listing the known.
  void handle(control::Request request, control::Reply reply);

 private:
  Result<nlohmann::json> devices(const nlohmann::json& args);
  Result<nlohmann::json> show(const nlohmann::json& args);
  Result<nlohmann::json> link(const control::Request& request);
  Result<nlohmann::json> status(const nlohmann::json& args);
  Result<nlohmann::json> dead_letters(const nlohmann::json& args);
  Result<nlohmann::json> upstream_dead_letters(std::size_t limit, bool requeue);
  Result<nlohmann::json> rules_reload(const nlohmann::json& args);
  Result<nlohmann::json> rank(const nlohmann::json& args);
  nlohmann::json device_summary(const registry::Device& d) const;
  nlohmann::json health_json() const;
  void provision(const control::Request& request, control::Reply reply);
  void retire(const control::Request& request, control::Reply reply);

  ControlContext ctx_;
};

}  // namespace xrm::app
