#include "daemon.hpp"

#include <google/protobuf/stubs/logging.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>

#include "xrm/common/clock.hpp"
#include "xrm/common/log.hpp"
#include "xrm/config/config.hpp"
#include "xrm/config/options.hpp"
#include "xrm/control/server.hpp"
#include "xrm/common/topics.hpp"
#include "xrm/condense/condenser.hpp"
#include "xrm/health/engine.hpp"
#include "xrm/health/profiles.hpp"
#include "xrm/ingest/dead_letters.hpp"
#include "xrm/ingest/device_traffic.hpp"
#include "xrm/ingest/local_link.hpp"
#include "xrm/live/live_telemetry.hpp"
#include "xrm/manpage/manpage.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/dynsec.hpp"
#include "xrm/registry/provisioner.hpp"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"
#include "xrm/uplink/uplink.hpp"
#include "central_commands.hpp"
#include "command_line.hpp"
#include "control_api.hpp"
#include "scorecards.hpp"

#ifndef XRM_VERSION
#define XRM_VERSION "0.0.0"
#endif

namespace xrm::app {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto kShutdownStep = 2s;       // per connection: PUBACK of status offline, disconnect
constexpr auto kShutdownDeadline = 6s;   // then the process exits regardless
// How often last-seen times and message counts reach the database. A crash loses at most this
// much of them (never a lifecycle change: those are written at once).
constexpr auto kFlushInterval = 10s;
constexpr std::size_t kSeenPerSlice = 1000;
constexpr auto kDeadLetterFlushInterval = 1s;
// How often every device's health is re-evaluated (windows age, `for` and dwell timers end,
// silence grows): the most an alert can lag behind the moment its condition is met.
constexpr auto kHealthTick = 500ms;
// Devices re-evaluated per slice of a health tick (about 1-3 ms on a Raspberry Pi-class core).
constexpr std::size_t kHealthTickSlice = 256;
// Summary records written per health tick: 1,000 a second, so 10,000 devices' windows, which all
// end at once, are written within 5 s, in transactions short enough not to hold up messages.
constexpr std::size_t kSummariesPerTick = 500;

health::EngineSettings health_settings(const config::Config& c) {
  return {c.gateway.id, c.health.snapshot_interval};
}

ingest::DecodeLimits decode_limits(const config::Config& c) {
  ingest::DecodeLimits limits;
  limits.max_payload = c.ingest.max_payload;
  return limits;
}

// Protobuf logs a line of its own for every string field with invalid UTF-8 it parses; a device
// could flood the log with them. The payload goes to the dead-letter table with a reason anyway, so
// these become debug lines in our own format.
void protobuf_log(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    XRM_ERROR << "protobuf: " << file << ":" << line << ": " << message;
  } else {
    XRM_DEBUG << "protobuf: " << message;
  }
}

// Loads and validates; prints every problem as FILE:LINE:KEY: message.
bool load_config(const std::string& path, config::Config& out) {
  std::vector<config::ConfigError> errors;
  config::Config c = config::load_file(path, errors);
  if (errors.empty()) {
    if (Status st = config::read_secrets(c); !st) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return false;
    }
    out = std::move(c);
    return true;
  }
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
  return false;
}

// Loads the profiles file named by health.profiles; prints every problem as FILE:LINE:KEY: message.
bool load_profiles(const config::Config& config, health::Profiles& out) {
  std::vector<config::ConfigError> errors;
  health::Profiles p = health::load_profiles_file(config.health.profiles, errors);
  if (errors.empty()) {
    out = std::move(p);
    return true;
  }
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
  return false;
}

// The running daemon: owns the stages and wires them on one io_context.
class Daemon {
 public:
  Daemon(config::Config config, health::Profiles profiles, std::string config_path)
      : config_(std::move(config)), profiles_(std::move(profiles)), config_path_(std::move(config_path)),
        signals_(io_), watchdog_(io_), deadline_(io_), flush_timer_(io_), dead_letter_timer_(io_), health_timer_(io_),
        health_save_timer_(io_), scorecard_timer_(io_) {}

  int run() {
    auto db = store::Database::open(config_.gateway.data_dir);
    if (!db) {
      XRM_ERROR << db.status().message();
      if (db.status().code() == Status::Code::kCorruption) {
        XRM_ERROR << "the database was left as it is; to recover, move gateway.db and its -wal and -shm files aside "
                     "and restore a backup or salvage what is readable (docs/operations.md, \"A damaged database\")";
      }
      return kExitFailure;
    }
    db_ = std::move(*db);
    state_ = std::make_unique<store::GatewayState>(*db_);
    outbox_ = std::make_unique<outbox::Outbox>(*db_, *state_, config_.gateway.id, clock_);
    registry_ = std::make_unique<registry::Registry>(*db_, *outbox_, clock_);
    if (Status st = registry_->load(); !st) {
      XRM_ERROR << db_->path() << ": cannot read the device registry: " << st.message();
      return kExitFailure;
    }
    uplink_ = std::make_unique<uplink::Uplink>(io_, config_, *state_, *outbox_, clock_, XRM_VERSION);
    auto journal = ingest::InboundJournal::open(config_.gateway.data_dir, clock_);
    if (!journal) {
      XRM_ERROR << "inbound journal: " << journal.status().message();
      return kExitFailure;
    }
    journal_ = std::move(*journal);
    local_ = std::make_unique<ingest::LocalLink>(io_, config_, journal_);
    dynsec_ = std::make_unique<registry::DynsecAdmin>(
        io_, [this](const std::string& topic, std::string payload, std::function<void(Status)> done) {
          local_->publish(topic, std::move(payload), std::move(done));
        });
    // Escalation commands go to xrm/v1/dev/{device}/cmd/NAME: at every connection (the broker may
    // have been reset) make sure the gateway's admin client holds the role that allows them.
    local_->on_disconnected([this] { dynsec_->connection_lost(); });
    local_->on_connected([this] {
      dynsec_->ensure_gateway_role(config_.local.username, [](const Status& st, bool granted) {
        if (!st) {
          XRM_ERROR << "local: cannot give the gateway the broker role " << registry::DynsecAdmin::kGatewayRole
                    << " (device commands will be refused by the broker): " << st.message();
        } else if (granted) {
          XRM_NOTICE << "local: gave the gateway the broker role " << registry::DynsecAdmin::kGatewayRole
                     << " to send device commands; the broker reconnects it once";
        } else {
          XRM_INFO << "local: broker role " << registry::DynsecAdmin::kGatewayRole << " present: device commands allowed";
        }
      });
    });
    provisioner_ = std::make_unique<registry::Provisioner>(*registry_, *dynsec_, config_.gateway.id,
                                                           config_.local.device_url);
    provisioner_->set_classes(profiles_.class_names());
    dead_letters_ = std::make_unique<ingest::DeadLetters>(*db_, clock_, config_.ingest.dead_letters);
    if (Status st = dead_letters_->load(); !st) {
      XRM_ERROR << db_->path() << ": cannot read the dead-letter table: " << st.message();
      return kExitFailure;
    }
    traffic_ = std::make_unique<ingest::DeviceTraffic>(*db_, *registry_, *outbox_, *dead_letters_, clock_,
                                                       decode_limits(config_));
    health_ = std::make_unique<health::HealthEngine>(*db_, *registry_, *outbox_, clock_, health_settings(config_));
    if (Status st = health_->load(profiles_); !st) {
      XRM_ERROR << db_->path() << ": cannot read the health state: " << st.message();
      return kExitFailure;
    }
    scorecards_ = std::make_unique<Scorecards>(
        *db_, *registry_, *health_, *outbox_, clock_,
        [this](std::string_view device_class) { return profiles_.find(device_class); },
        ScorecardSettings{config_.gateway.id, config_.scorecard.period, config_.scorecard.retention});
    condense_ = std::make_unique<condense::Condenser>(*db_, *outbox_, clock_, config_.condense.window);
    condense_->set_score_fn([this](std::string_view device) -> std::optional<std::pair<double, xrm::v1::HealthBand>> {
      auto sc = health_->score_of(device);
      if (!sc) return std::nullopt;
      return std::make_pair(sc->first, static_cast<xrm::v1::HealthBand>(sc->second));
    });
    // Live telemetry (QoS 0, never stored) where a profile asks for it; dropped while upstream is down.
    live_ = std::make_unique<live::LiveTelemetry>(config_.gateway.id, clock_,
                                                  [this](const std::string& topic, std::string payload) {
                                                    return uplink_->publish_live(topic, std::move(payload));
                                                  });
    live_->set_profiles(profiles_);
    traffic_->on_telemetry([this](const registry::Device& d, const ingest::TelemetrySample& s, std::int64_t,
                                  const ingest::DeviceIngest& in) {
      health_->on_telemetry(d, s, in);
      condense_->on_telemetry(d, s, in);
      live_->on_telemetry(d, s);
    });
    traffic_->on_event([this](const registry::Device& d, const xrm::v1::ServiceEvent& e) { health_->on_event(d, e); });
    traffic_->on_command_result(
        [this](const registry::Device& d, const xrm::v1::CommandResult& r) { health_->on_command_result(d, r); });
    health_->set_command_sink([this](const std::string& topic, std::string payload) {
      local_->publish(topic, std::move(payload), [topic](const Status& st) {
        if (!st) {
          XRM_WARN << "health: command " << topic << " not delivered to the broker: " << st.message();
        }
      });
    });
    health_->set_snapshot_sink([this](const std::string& device, std::string payload) {
      if (!uplink_->connected()) return false;
      uplink_->publish_retained(topics::gw_health(config_.gateway.id, device), std::move(payload),
                                [this, device](const Status& st) {
                                  if (!st) health_->snapshot_failed(device);
                                });
      return true;
    });
    local_->on_message([this](const mqtt_link::Connection::Message& msg, std::uint64_t journal_id) {
      const std::string& topic = msg->get_topic();
      if (topic == registry::DynsecAdmin::kResponseTopic) {
        dynsec_->handle_response(msg->get_payload());
      } else {
        traffic_->handle(topic, msg->get_payload(), journal_id);
      }
    });
    // Messages journaled and acknowledged before a crash, not handled yet: first, in order.
    if (auto left = ingest::InboundJournal::pending(*db_); !left) {
      XRM_ERROR << db_->path() << ": cannot read the inbound journal: " << left.status().message();
      return kExitFailure;
    } else if (!left->empty()) {
      XRM_NOTICE << "inbound journal: handling " << left->size() << " message(s) acknowledged before the last stop";
      for (const auto& e : *left) traffic_->handle(e.topic, e.payload, e.id);
    }
    control_api_ = std::make_unique<ControlApi>(ControlContext{config_.gateway.id, XRM_VERSION, config_.gateway.site,
                                                               clock_, clock_.steady_now(), *registry_, *provisioner_,
                                                               *outbox_, *traffic_, *dead_letters_, *local_, *uplink_,
                                                               *health_, *condense_,
                                                               [this] { return reload_rules(); }, live_.get(),
                                                               scorecards_.get()});
    // Commands from central: the same verbs, asked on the upstream broker and answered there
    // (central_commands.hpp). Subscribed before the uplink starts, so that commands queued in the
    // gateway's session at the broker are routed from the first message on.
    commands_ = std::make_unique<CentralCommands>(
        *db_, clock_, CentralCommandsSettings{config_.gateway.id, XRM_VERSION, clock_.steady_now()},
        [this](control::Request req, control::Reply reply) { control_api_->handle(std::move(req), std::move(reply)); },
        [this](CentralCommands::Response r) {
          uplink_->publish_response(r.topic, std::move(r.payload), r.correlation_data, [topic = r.topic](const Status& st) {
            if (!st) {
              XRM_WARN << "central commands: answer on " << topic << " not delivered: " << st.message()
                       << " (kept; a re-sent request gets it)";
            }
          });
        });
    if (Status st = commands_->load(); !st) {
      XRM_ERROR << db_->path() << ": cannot read the command table: " << st.message();
      return kExitFailure;
    }
    uplink_->subscribe(topics::gw_commands(config_.gateway.id), 1, [this](const uplink::Uplink::Message& msg) {
      commands_->handle(IncomingCommand::from_message(*msg));
    });
    control::ServerAccess access;
    if (!config_.control.group.empty()) {
      auto gid = control::group_id(config_.control.group);
      if (!gid) {
        XRM_ERROR << "control.group: " << gid.status().message();
        return kExitUsage;
      }
      access.group = *gid;
    }
    auto server = control::Server::open(
        io_, config_.control.socket,
        [this](control::Request req, control::Reply reply) { control_api_->handle(std::move(req), std::move(reply)); },
        {}, access);
    if (!server) {
      XRM_ERROR << "control socket: " << server.status().message();
      return kExitFailure;
    }
    control_ = std::move(*server);

    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
    wait_signal();
    start_watchdog();
    schedule_flush();
    schedule_dead_letter_flush();
    schedule_health_tick();
    schedule_health_save();
    schedule_scorecards();

    local_->start();
    uplink_->start();
    XRM_NOTICE << "xrm-gatewayd " << XRM_VERSION << " started: gateway " << config_.gateway.id << ", data "
               << db_->path() << ", " << registry_->size() << " devices, " << profiles_.profiles.size()
               << " profile classes, control " << control_->path();
    sd_notify(0, "READY=1\nSTATUS=running");

    io_.run();
    control_.reset();
    if (Status st = registry_->flush_seen(); !st) {
      XRM_ERROR << "registry: " << st.message();
    }
    if (Status st = dead_letters_->flush(); !st) {
      XRM_ERROR << "dead letters: " << st.message();
    }
    if (Status st = condense_->flush_all(); !st) {
      XRM_ERROR << "condense: open windows not written: " << st.message();
    }
    if (Status st = health_->save(); !st) {
      XRM_ERROR << "health: saving the state: " << st.message();
    }
    XRM_NOTICE << "xrm-gatewayd stopped";
    return kExitOk;
  }

 private:
  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      XRM_NOTICE << "signal " << sig << ": shutting down";
      shutdown();
    });
  }

  void shutdown() {
    if (stopping_) return;
    stopping_ = true;
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    control_.reset();  // no new technician requests while we go
    deadline_.expires_after(kShutdownDeadline);
    deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      XRM_WARN << "shutdown took longer than " << std::chrono::seconds(kShutdownDeadline).count() << "s; exiting";
      io_.stop();
    });
    // Status offline first, then the local broker, then stop.
    uplink_->shutdown(kShutdownStep, [this] {
      local_->shutdown(kShutdownStep, [this] {
        signals_.cancel();
        watchdog_.cancel();
        flush_timer_.cancel();
        dead_letter_timer_.cancel();
        health_timer_.cancel();
        scorecard_timer_.cancel();
        health_save_timer_.cancel();
        deadline_.cancel();
        io_.stop();
      });
    });
  }

  void reload() {
    sd_notify(0, "RELOADING=1\nSTATUS=reloading configuration");
    config::Config fresh;
    if (!load_config(config_path_, fresh)) {
      XRM_ERROR << "reload: " << config_path_ << " has errors (above); keeping the running configuration";
      sd_notify(0, "READY=1\nSTATUS=running (reload failed)");
      return;
    }
    std::string restart_keys;
    std::string applied;
    for (const auto& spec : config::option_table()) {
      const std::string name = spec.name();
      if (fresh.values[name] == config_.values[name]) continue;
      std::string& list = spec.reloadable ? applied : restart_keys;
      list += (list.empty() ? "" : ", ") + name;
    }
    health::Profiles profiles;
    if (!load_profiles(fresh, profiles)) {
      XRM_ERROR << "reload: " << fresh.health.profiles << " has errors (above); keeping the running configuration";
      sd_notify(0, "READY=1\nSTATUS=running (reload failed)");
      return;
    }
    profiles_ = std::move(profiles);
    provisioner_->set_classes(profiles_.class_names());
    health_->set_profiles(profiles_);
    live_->set_profiles(profiles_);
    health_->set_settings(health_settings(fresh));
    log::set_level(fresh.log.level);
    uplink_->reload(fresh);
    local_->reload(fresh);
    traffic_->set_limits(decode_limits(fresh));
    dead_letters_->set_max_rows(fresh.ingest.dead_letters);
    // Keep restart-only values as they run, so the next reload compares against what is in force.
    for (const auto& spec : config::option_table()) {
      if (spec.reloadable) {
        const std::string name = spec.name();
        config_.values[name] = fresh.values[name];
        spec.apply(config_, config_.values[name]);
      }
    }
    XRM_NOTICE << "reload: " << (applied.empty() ? "nothing to apply" : "applied " + applied)
               << (restart_keys.empty() ? "" : "; changed but need a restart: " + restart_keys) << "; profiles "
               << profiles_.source_file << " (" << profiles_.profiles.size() << " classes)";
    sd_notify(0, "READY=1\nSTATUS=running");
  }

  // `xrmctl rules reload`: the profiles file named by the running configuration, swapped in whole
  // or not at all.
  Result<nlohmann::json> reload_rules() {
    std::vector<config::ConfigError> errors;
    health::Profiles fresh = health::load_profiles_file(config_.health.profiles, errors);
    if (!errors.empty()) {
      std::string lines;
      for (const auto& e : errors) lines += (lines.empty() ? "" : "\n") + e.to_string();
      XRM_ERROR << "rules reload: " << config_.health.profiles << " has errors; keeping the running rules:\n" << lines;
      return Status::invalid_argument(lines);
    }
    profiles_ = std::move(fresh);
    provisioner_->set_classes(profiles_.class_names());
    health_->set_profiles(profiles_);
    live_->set_profiles(profiles_);
    std::size_t rules = 0;
    for (const auto& p : profiles_.profiles) rules += p.rules.size();
    XRM_NOTICE << "rules reload: " << profiles_.source_file << " (" << profiles_.profiles.size() << " classes, "
               << rules << " rules)";
    return nlohmann::json{{"file", profiles_.source_file},
                          {"classes", profiles_.class_names()},
                          {"rules", rules}};
  }

  void schedule_health_tick() {
    health_timer_.expires_after(kHealthTick);
    health_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      health_->tick_begin();
      health_tick_slice();
    });
  }

  // One slice of the health tick; messages that arrived meanwhile are handled before the next
  // slice (post queues behind them), so a large fleet's tick delays an alert by one slice at most.
  void health_tick_slice() {
    if (health_->tick_step(kHealthTickSlice)) {
      boost::asio::post(io_, [this] { health_tick_slice(); });
      return;
    }
    // Ended windows become summaries after the health tick, so they carry the newest score; at
    // most kSummariesPerTick per tick, the rest at the next ones (a fleet's windows all end at once).
    if (Status st = condense_->tick(kSummariesPerTick); !st) {
      XRM_ERROR << "condense: summaries not written: " << st.message();
    }
    schedule_health_tick();
  }

  void schedule_health_save() {
    health_save_timer_.expires_after(config_.health.save_interval);
    health_save_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (Status st = health_->save(); !st) {
        XRM_ERROR << "health: saving the state: " << st.message();
      }
      schedule_health_save();
    });
  }

  // Every scorecard.interval: one scorecard record per stakeholder of every role (bulk).
  void schedule_scorecards() {
    scorecard_timer_.expires_after(config_.scorecard.interval);
    scorecard_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (Status st = scorecards_->publish(); !st) {
        XRM_ERROR << "scorecards: records not written: " << st.message();
      }
      schedule_scorecards();
    });
  }

  void schedule_flush() {
    flush_timer_.expires_after(kFlushInterval);
    flush_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      flush_seen_slice(registry_->seen_dirty());
    });
  }

  // Last-seen figures in transactions of kSeenPerSlice devices, each posted behind the messages
  // that arrived meanwhile: a 10,000-device fleet's flush would otherwise hold the io thread for
  // tens of ms every kFlushInterval. `left` bounds the round to the devices dirty at its start
  // (under load they keep becoming dirty).
  void flush_seen_slice(std::size_t left) {
    const std::size_t n = std::min(left, kSeenPerSlice);
    if (Status st = registry_->flush_seen(n); !st) {
      XRM_ERROR << "registry: " << st.message();
      schedule_flush();  // still dirty: the next round tries again
      return;
    }
    if (left > n && registry_->seen_dirty() > 0) {
      boost::asio::post(io_, [this, rest = left - n] { flush_seen_slice(rest); });
      return;
    }
    schedule_flush();
  }

  // Dead letters are buffered on the message path and written here, at most once a second.
  void schedule_dead_letter_flush() {
    dead_letter_timer_.expires_after(kDeadLetterFlushInterval);
    dead_letter_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (Status st = dead_letters_->flush(); !st) {
        XRM_ERROR << "dead letters: " << st.message();
      }
      schedule_dead_letter_flush();
    });
  }

  void start_watchdog() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    XRM_INFO << "systemd watchdog: pinging every " << watchdog_interval_.count() / 1000 << " ms";
    ping_watchdog();
  }

  // The ping runs on the io thread, so a stalled pipeline stops the pings and systemd restarts us.
  void ping_watchdog() {
    sd_notify(0, "WATCHDOG=1");
    watchdog_.expires_after(watchdog_interval_);
    watchdog_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ping_watchdog();
    });
  }

  config::Config config_;
  health::Profiles profiles_;
  std::string config_path_;
  SystemClock clock_;
  asio::io_context io_{1};
  asio::signal_set signals_;
  asio::steady_timer watchdog_;
  asio::steady_timer deadline_;
  asio::steady_timer flush_timer_;
  asio::steady_timer dead_letter_timer_;
  asio::steady_timer health_timer_;
  asio::steady_timer health_save_timer_;
  asio::steady_timer scorecard_timer_;
  std::chrono::microseconds watchdog_interval_{};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::GatewayState> state_;
  std::unique_ptr<outbox::Outbox> outbox_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<uplink::Uplink> uplink_;
  std::shared_ptr<ingest::InboundJournal> journal_;  // shared with Paho's thread (see inbound_journal.hpp)
  std::unique_ptr<ingest::LocalLink> local_;
  std::unique_ptr<registry::DynsecAdmin> dynsec_;
  std::unique_ptr<registry::Provisioner> provisioner_;
  std::unique_ptr<ingest::DeadLetters> dead_letters_;
  std::unique_ptr<ingest::DeviceTraffic> traffic_;
  std::unique_ptr<health::HealthEngine> health_;
  std::unique_ptr<condense::Condenser> condense_;
  std::unique_ptr<Scorecards> scorecards_;
  std::unique_ptr<live::LiveTelemetry> live_;
  std::unique_ptr<ControlApi> control_api_;
  std::unique_ptr<CentralCommands> commands_;
  std::unique_ptr<control::Server> control_;
  bool stopping_ = false;
};

}  // namespace

int run(int argc, char** argv) {
  CLI::App cli{"xrm-gatewayd: the XRM edge gateway daemon (devices as stakeholders, health, durable uplink)",
               "xrm-gatewayd"};
  CommandLine line;
  declare_options(cli, line);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (line.show_version) {
    std::printf("xrm-gatewayd %s\n", XRM_VERSION);
    return kExitOk;
  }
  if (line.print_reference) {
    std::fputs(config::render_reference_markdown().c_str(), stdout);
    return kExitOk;
  }
  if (cli.count(manpage::kOption) > 0) {
    const auto page = man_page(cli, line.man_page);
    if (!page) {
      std::fprintf(stderr, "xrm-gatewayd: --print-man-page: no page \"%s\" (xrm-gatewayd or xrm-gateway.toml)\n",
                   line.man_page.c_str());
      return kExitUsage;
    }
    std::fputs(page->c_str(), stdout);
    return kExitOk;
  }
  const std::string& config_path = line.config_path;
  const bool check_only = line.check_only;

  config::Config config;
  if (!load_config(config_path, config)) return kExitUsage;
  health::Profiles profiles;
  if (!load_profiles(config, profiles)) return kExitUsage;
  if (check_only) {
    std::printf("%s: ok\n", config_path.c_str());
    return kExitOk;
  }
  log::set_level(config.log.level);
  google::protobuf::SetLogHandler(&protobuf_log);

  try {
    Daemon daemon(std::move(config), std::move(profiles), config_path);
    return daemon.run();
  } catch (const std::exception& e) {
    XRM_ERROR << "fatal: " << e.what();
    return kExitFailure;
  }
}

}  // namespace xrm::app
