// The daemon with a fleet: startup time, memory idle and under load, growth over a soak, and
// latency from a device's publish to the gateway's decisions arriving upstream. Real Mosquitto
// brokers (a local one with dynamic security, an upstream one), the real daemon; asserts nothing,
// exits non-zero only when the setup fails.
//
// Phases, all in one run so that every figure has its baseline from the same machine state:
// 1. Idle, no devices: the daemon started on an empty database, connected to both brokers, after a
//    quiet second. Baseline: a bare Paho C++ client (this program re-executed with --idle-child)
//    connected and subscribed to the local broker the same way, idle as long.
// 2. Startup with the fleet: --devices chillers (the example profile's three rules) and --probes
//    probe devices registered, the daemon started --starts times; time from exec to the local
//    broker's subscriptions being in place (a probe message counted by the daemon). Baseline: the
//    same with no devices, same run.
// 3. Load and soak: every device of the fleet reports 60-byte JSON telemetry round-robin at --rate
//    messages/s in total (the suite passes half of the measured maximum ingest rate) for --seconds.
//    RSS, open files, outbox depth and CPU are sampled every second; growth is the RSS at the end
//    against the RSS once every device has reported (the fleet's state then exists).
// 4. Latency, during the load: every --probe-ms one probe device (class "probe": one rule,
//    last(temp_c, 1m) > 50, penalty 60, dwell 0s, critical -> alert) publishes a hot reading and,
//    on its next turn, a normal one. Measured per probe, from just before the publish to arrival
//    at a subscriber of the upstream broker: the retained HealthSnapshot with the new band
//    ("health updated"), and the `alert` record (opened, then cleared). Baseline: the same
//    publish to a bare subscriber of the local broker (the broker hop every path includes).
#include <signal.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mqtt/async_client.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_report.hpp"
#include "bench_util.hpp"
#include "xrm/control/client.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/process.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::bench::Clock;

constexpr const char* kGatewayId = "gw-fleet";
constexpr const char* kPasswordEnv = "XRM_BENCH_PASSWORD";

// The fleet's class is the example profile's chiller (docs/examples/profiles.toml, three rules);
// the probes' class decides at once so that latency is the gateway's, not a dwell.
constexpr const char* kProfiles = R"([[profile]]
class = "chiller"
expected_interval = "10s"
offline_after = "60s"
bands = { healthy = 80, critical = 50 }
escalate = { degraded = "alert", critical = "service_request" }
hysteresis = 5
dwell = "30s"

[[profile.rule]]
name = "overheat"
when = "avg(temp_c, 1m) > 8"
for = "30s"
penalty = 40

[[profile.rule]]
name = "short-cycling"
when = "count(compressor_start, 1h) >= 12"
penalty = 20

[[profile.rule]]
name = "door-open"
when = "max(door_open, 5m) == 1"
for = "2m"
penalty = 15

[[profile]]
class = "probe"
expected_interval = "1h"
offline_after = "2h"
bands = { healthy = 80, critical = 50 }
escalate = { critical = "alert" }
dwell = "0s"

[[profile.rule]]
name = "hot"
when = "last(temp_c, 1m) > 50"
penalty = 60
)";

// A fleet device's telemetry (about 60 bytes of JSON): the payload's length in out.
int fleet_payload(char* out, std::size_t size, std::uint64_t seq) {
  return std::snprintf(out, size, R"({"seq":%llu,"ts":%lld,"temp_c":4.25,"door_open":0})",
                       static_cast<unsigned long long>(seq), xrm::bench::unix_ms());
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string tele_topic(int device) { return "xrm/v1/dev/" + xrm::bench::device_id(device) + "/tele"; }

mqtt::connect_options options(const std::string& user, const std::string& password) {
  mqtt::connect_options o;
  o.set_clean_session(true);
  o.set_keep_alive_interval(60s);
  if (!user.empty()) {
    o.set_user_name(user);
    o.set_password(password);
  }
  return o;
}

// --- the idle baseline: a bare Paho C++ client, connected and subscribed, doing nothing -----------

int idle_child_main(const std::string& url, const std::string& user) {
  const char* password = std::getenv(kPasswordEnv);
  try {
    mqtt::async_client c(url, "bench-idle-bare", mqtt::create_options(MQTTVERSION_3_1_1), nullptr);
    c.set_message_callback([](mqtt::const_message_ptr) {});
    c.connect(options(user, password ? password : ""))->wait();
    for (const char* leaf : {"tele", "evt", "birth", "state", "cmd-res"})
      c.subscribe(std::string("xrm/v1/dev/+/") + leaf, 1)->wait();
    std::printf("subscribed\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(600s);  // killed by the parent long before
  } catch (const std::exception& e) {
    std::fprintf(stderr, "idle child: %s\n", e.what());
    return 1;
  }
  return 0;
}

// --- the daemon -------------------------------------------------------------------------------------

json status(xrm::control::Client& client, const xrm::testing::GatewayUnderTest& gw) {
  auto r = client.call("status", json::object(), 10s);
  if (!r) throw std::runtime_error("status: " + r.status().to_string() + "\n" + xrm::testing::tail_file(gw.log_path()));
  return *r;
}

std::uint64_t messages_seen(xrm::control::Client& client, const xrm::testing::GatewayUnderTest& gw) {
  return status(client, gw).at("ingest").at("messages").get<std::uint64_t>();
}

// Starts the daemon and returns the time from exec until its local subscriptions deliver (a
// probe message on an unregistered device's topic counted) and its control client.
std::pair<double, xrm::control::Client> start_daemon(xrm::testing::GatewayUnderTest& gw, mqtt::async_client& pub) {
  const auto t0 = Clock::now();
  gw.start();
  std::optional<xrm::control::Client> client;
  if (!xrm::testing::poll_until(
          [&] {
            auto c = xrm::control::Client::connect(gw.control_socket());
            if (c) client.emplace(std::move(*c));
            return client.has_value();
          },
          60s, 2ms)) {
    throw std::runtime_error("the daemon's control socket did not appear:\n" + xrm::testing::tail_file(gw.log_path()));
  }
  const std::uint64_t before = messages_seen(*client, gw);
  const bool delivered = xrm::testing::poll_until(
      [&] {
        pub.publish("xrm/v1/dev/bench-startup-probe/tele", R"({"seq":1,"ts":0})", 0, false);
        return messages_seen(*client, gw) > before;
      },
      60s, 2ms);
  if (!delivered) {
    throw std::runtime_error("the daemon did not receive from the local broker within 60 s:\n" +
                             xrm::testing::tail_file(gw.log_path()));
  }
  return {xrm::bench::ms_since(t0), std::move(*client)};
}

void stop_daemon(xrm::testing::GatewayUnderTest& gw) {
  if (const auto rc = gw.terminate(30s); !rc || *rc != 0) {
    throw std::runtime_error("the daemon did not stop cleanly (exit " + (rc ? std::to_string(*rc) : "timeout") +
                             "):\n" + xrm::testing::tail_file(gw.log_path()));
  }
}

// --- latency probes -----------------------------------------------------------------------------

// What the upstream and local subscribers saw, matched to the probe publishes.
class Probes {
 public:
  Probes(int first, int count) : first_(first), slots_(static_cast<std::size_t>(count)) {}

  // A probe device's next publish: hot (alert expected) or normal (clear expected).
  void sent(int device, bool hot, Clock::time_point at) {
    std::lock_guard lock(mu_);
    Slot& s = slot(device);
    s.hot = hot;
    s.at = at;
    s.armed = true;
    s.health_seen = s.alert_seen = s.local_seen = false;
  }

  void on_upstream(const mqtt::const_message_ptr& m) {
    const auto now = Clock::now();
    const std::string& topic = m->get_topic();
    std::lock_guard lock(mu_);
    if (topic.find("/health/") != std::string::npos) {
      xrm::v1::HealthSnapshot snap;
      if (!snap.ParseFromString(m->get_payload_str())) return;
      Slot* s = find(snap.device_id());
      if (s == nullptr || !s->armed || s->health_seen) return;
      const auto want = s->hot ? xrm::v1::HEALTH_BAND_CRITICAL : xrm::v1::HEALTH_BAND_HEALTHY;
      if (snap.band() != want) return;
      s->health_seen = true;
      health_.push_back(ms_between(s->at, now));
    } else if (topic.find("/rec/alert") != std::string::npos) {
      xrm::v1::RecordBatch batch;
      if (!batch.ParseFromString(m->get_payload_str())) return;
      for (const auto& r : batch.records()) {
        Slot* s = find(r.device_id());
        if (s == nullptr || !s->armed || s->alert_seen) continue;
        const auto want = s->hot ? xrm::v1::ALERT_STATE_OPENED : xrm::v1::ALERT_STATE_CLEARED;
        if (r.alert().state() != want) continue;
        s->alert_seen = true;
        alert_.push_back(ms_between(s->at, now));
      }
    }
  }

  void on_local(const mqtt::const_message_ptr& m) {
    const auto now = Clock::now();
    const std::string& topic = m->get_topic();  // xrm/v1/dev/bench-NNNNN/tele
    const auto a = topic.find("bench-");
    if (a == std::string::npos) return;
    std::lock_guard lock(mu_);
    Slot* s = find(topic.substr(a, 11));
    if (s == nullptr || !s->armed || s->local_seen) return;
    s->local_seen = true;
    local_.push_back(ms_between(s->at, now));
  }

  // Forgets what was measured so far (the warm-up's arrivals are not latency).
  void reset() {
    std::lock_guard lock(mu_);
    health_.clear();
    alert_.clear();
    local_.clear();
    missing_ = 0;
    for (auto& s : slots_) s.armed = false;
  }

  // Probes whose health or alert never arrived (counted when the device is probed again).
  std::uint64_t missing() const {
    std::lock_guard lock(mu_);
    return missing_;
  }
  void check_before_reuse(int device) {
    std::lock_guard lock(mu_);
    const Slot& s = slot(device);
    if (s.armed && (!s.health_seen || !s.alert_seen)) ++missing_;
  }
  std::vector<double> health() const {
    std::lock_guard lock(mu_);
    return health_;
  }
  std::vector<double> alert() const {
    std::lock_guard lock(mu_);
    return alert_;
  }
  std::vector<double> local() const {
    std::lock_guard lock(mu_);
    return local_;
  }

 private:
  struct Slot {
    bool hot = false;
    bool armed = false;
    bool health_seen = false;
    bool alert_seen = false;
    bool local_seen = false;
    Clock::time_point at{};
  };
  Slot& slot(int device) { return slots_.at(static_cast<std::size_t>(device - first_)); }
  const Slot& slot(int device) const { return slots_.at(static_cast<std::size_t>(device - first_)); }
  Slot* find(const std::string& id) {
    if (id.size() != 11 || id.rfind("bench-", 0) != 0) return nullptr;
    const int n = std::atoi(id.c_str() + 6);
    if (n < first_ || n >= first_ + static_cast<int>(slots_.size())) return nullptr;
    return &slot(n);
  }

  mutable std::mutex mu_;
  int first_;
  std::vector<Slot> slots_;
  std::vector<double> health_, alert_, local_;
  std::uint64_t missing_ = 0;
};

// Nearest-rank percentile of a sample (0 for none).
double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size()));
  return v[std::min(v.size() - 1, i)];
}

struct Sample {
  double t = 0;  // s since the load started
  xrm::bench::Rss rss;
  int fds = 0;
  std::uint64_t outbox = 0;
  std::uint64_t accepted = 0;
};

// Which figures this run reports (--report): "latency" (latency.*), "memory" (the rest) or "all".
// The suite runs the program twice: latency with the ingest benchmark's 1,000 devices at half its
// maximum rate, memory and startup with 10,000 devices at 1 message/s each.
std::string g_report = "all";

void emit(const xrm::bench::Figure& f) {
  const bool latency = f.name.rfind("latency.", 0) == 0;
  if (g_report == "all" || (g_report == "latency") == latency) {
    xrm::bench::report(f);
  } else {
    std::printf("(not reported: %s = %.6g %s)\n", f.name.c_str(), f.value, f.unit.c_str());
  }
}

void report_latency(const char* key, const char* what, const std::vector<double>& v, const std::vector<double>& base,
                    std::optional<xrm::bench::Target> p99_target) {
  const double p50 = percentile(v, 0.5), p99 = percentile(v, 0.99);
  const double b50 = percentile(base, 0.5), b99 = percentile(base, 0.99);
  std::printf("  %-46s n %4zu  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, v.size(), p50, p99,
              percentile(v, 1.0));
  const std::string k = std::string("latency.") + key;
  const std::string baseline = "device publish -> bare subscriber of the local broker";
  emit({.name = k + ".p50", .label = std::string(what) + ", p50", .value = p50, .unit = "ms",
                      .baseline = b50, .baseline_label = baseline, .ratio = b50 > 0 ? p50 / b50 : 0});
  emit({.name = k + ".p99", .label = std::string(what) + ", p99", .value = p99, .unit = "ms",
                      .baseline = b99, .baseline_label = baseline, .ratio = b99 > 0 ? p99 / b99 : 0,
                      .target = p99_target});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"xrm-bench-fleet: startup, memory and latency of the daemon with a fleet, against baselines in the same run"};
  int devices = 10000;
  int probes = 50;
  double rate = 20000;
  int seconds = 60;
  int starts = 3;
  int probe_ms = 100;
  std::vector<std::string> daemon_env;
  std::string idle_child, child_url, child_user;
  cli.add_option("--devices", devices, "Registered devices that report under load")
      ->capture_default_str()
      ->check(CLI::Range(1, 200000));
  cli.add_option("--probes", probes, "Probe devices for the latency figures")->capture_default_str()->check(CLI::Range(2, 1000));
  cli.add_option("--rate", rate, "Telemetry messages per second, all devices together, during load")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  cli.add_option("--seconds", seconds, "How long the load (and the soak) lasts")
      ->capture_default_str()
      ->check(CLI::Range(2, 24 * 3600));
  cli.add_option("--starts", starts, "Daemon starts per startup figure")->capture_default_str()->check(CLI::Range(1, 20));
  cli.add_option("--probe-ms", probe_ms, "Time between two latency probes")->capture_default_str()->check(CLI::Range(10, 10000));
  cli.add_option("--report", g_report, "Figures to report to the suite: latency, memory (and startup) or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"latency", "memory", "all"}));
  cli.add_option("--daemon-env", daemon_env,
                 "NAME=VALUE added to the daemon's environment (repeatable), e.g. MALLOC_ARENA_MAX=1 to compare");
  cli.add_option("--idle-child", idle_child)->group("");
  cli.add_option("--user", child_user)->group("");
  CLI11_PARSE(cli, argc, argv);
  if (!idle_child.empty()) return idle_child_main(idle_child, child_user);

  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a log that ends early still says how far it got
  try {
    const auto started = Clock::now();
    xrm::testing::TempDir dir("xrm-bench-fleet");
    const auto tools = xrm::testing::mosquitto_tools();
    xrm::testing::Mosquitto upstream(tools, xrm::testing::Mosquitto::Flavour::kPlain, "fleet-up");
    xrm::testing::Mosquitto local(tools, xrm::testing::Mosquitto::Flavour::kLocal, "fleet-local");
    local.add_config("max_queued_messages 0\nlog_type none\nlog_type error\nlog_type warning\n");
    upstream.add_config("max_queued_messages 0\nlog_type none\nlog_type error\nlog_type warning\n");
    upstream.start();
    local.start(30s);

    xrm::testing::GatewaySettings s;
    s.gateway_id = kGatewayId;
    s.local_url = local.url();
    s.local_username = local.admin_user();
    s.local_password = local.admin_password();
    s.upstream_url = upstream.url();
    s.log_level = "notice";
    s.profiles_toml = kProfiles;
    for (const auto& kv : daemon_env) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) throw std::runtime_error("--daemon-env " + kv + ": not NAME=VALUE");
      s.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    std::printf("xrm-bench-fleet: %d devices + %d probes, %.0f msg/s for %d s, %u cores\n", devices, probes, rate,
                seconds, std::thread::hardware_concurrency());

    // The load and probe publishers' account: may publish on every device topic.
    const std::string pub_user = "bench-fleet-publisher";
    const std::string pub_password = "bench-pub-" + std::to_string(::getpid());
    xrm::bench::create_publisher_account(local.url(), local.admin_user(), local.admin_password(), pub_user,
                                         pub_password);
    // Paho refuses publishes beyond max_buffered_messages even while connected: room for a second.
    mqtt::async_client pub(local.url(), "bench-fleet-pub", mqtt::create_options(MQTTVERSION_3_1_1, 200000), nullptr);
    pub.connect(options(pub_user, pub_password))->wait();

    // 1. Idle, no devices, and its baseline.
    double start_empty_ms = 0;
    xrm::bench::Rss idle_empty, idle_bare;
    {
      xrm::testing::GatewayUnderTest gw(XRM_GATEWAYD_PATH, s);
      std::vector<double> t;
      for (int i = 0; i < starts; ++i) {
        auto [ms, client] = start_daemon(gw, pub);
        t.push_back(ms);
        if (i + 1 == starts) {
          std::this_thread::sleep_for(2s);
          idle_empty = xrm::bench::rss_detail(gw.pid());
          std::printf("idle RSS by mapping (kB):");
          int shown = 0;
          for (const auto& [name, kb] : xrm::bench::rss_by_mapping(gw.pid())) {
            if (shown++ == 12) break;
            std::printf("%s %s %ld", shown == 1 ? "" : ",", name.substr(name.rfind('/') + 1).c_str(), kb);
          }
          std::printf("\n");
        }
        stop_daemon(gw);
      }
      start_empty_ms = xrm::bench::median(t);
      xrm::testing::Process bare({.argv = {xrm::bench::self_path(), "--idle-child", local.url(), "--user", local.admin_user()},
                                  .env = {{kPasswordEnv, local.admin_password()}},
                                  .stdout_path = dir.file("idle-bare.log")});
      if (!xrm::testing::poll_until([&] { return xrm::testing::read_file(dir.file("idle-bare.log")).find("subscribed") !=
                                                 std::string::npos; },
                                    10s, 10ms)) {
        throw std::runtime_error("the bare idle client did not subscribe: " + xrm::testing::tail_file(dir.file("idle-bare.log")));
      }
      std::this_thread::sleep_for(2s);
      idle_bare = xrm::bench::rss_detail(bare.pid());
      bare.kill(SIGKILL);
    }
    std::printf("idle, no devices: RSS %.1f MB (anon %.1f, file %.1f); bare Paho client %.1f MB (anon %.1f, file %.1f)\n",
                idle_empty.total / 1024.0, idle_empty.anon / 1024.0, idle_empty.file / 1024.0, idle_bare.total / 1024.0,
                idle_bare.anon / 1024.0, idle_bare.file / 1024.0);
    emit({.name = "memory.idle_rss",
                        .label = "RSS idle (no devices, connected to both brokers)",
                        .value = idle_empty.total / 1024.0,
                        .unit = "MB",
                        .baseline = idle_bare.total / 1024.0,
                        .baseline_label = "bare Paho C++ client, connected and subscribed",
                        .ratio = static_cast<double>(idle_empty.total) / static_cast<double>(idle_bare.total),
                        .target = xrm::bench::Target{"<=", 8}});
    emit({.name = "memory.idle_pss",
          .label = "PSS idle (shared library pages divided among the processes using them)",
          .value = idle_empty.pss / 1024.0,
          .unit = "MB",
          .baseline = idle_bare.pss / 1024.0,
          .baseline_label = "bare Paho C++ client",
          .ratio = static_cast<double>(idle_empty.pss) / static_cast<double>(std::max(1L, idle_bare.pss))});
    emit({.name = "memory.idle_rss_anon",
                        .label = "RSS idle, the daemon's own part (anonymous: heap, stacks)",
                        .value = idle_empty.anon / 1024.0,
                        .unit = "MB",
                        .baseline = idle_bare.anon / 1024.0,
                        .baseline_label = "bare Paho C++ client",
                        .ratio = static_cast<double>(idle_empty.anon) / static_cast<double>(std::max(1L, idle_bare.anon))});

    // 2. Startup with the fleet.
    xrm::testing::GatewayUnderTest gw(XRM_GATEWAYD_PATH, s);
    {
      const auto t0 = Clock::now();
      xrm::bench::fill_registry(gw.data_dir(), kGatewayId, 0, devices, "chiller");
      xrm::bench::fill_registry(gw.data_dir(), kGatewayId, devices, probes, "probe");
      std::printf("registry filled in %.0f ms\n", xrm::bench::ms_since(t0));
    }
    std::vector<double> t;
    std::optional<xrm::control::Client> client;
    for (int i = 0; i < starts; ++i) {
      auto [ms, c] = start_daemon(gw, pub);
      t.push_back(ms);
      if (i + 1 < starts) {
        stop_daemon(gw);
      } else {
        client.emplace(std::move(c));
      }
    }
    const double start_fleet_ms = xrm::bench::median(t);
    std::this_thread::sleep_for(2s);
    const xrm::bench::Rss idle_fleet = xrm::bench::rss_detail(gw.pid());
    std::printf("startup (exec to receiving), median of %d: %.0f ms with %d devices, %.0f ms with none\n", starts,
                start_fleet_ms, devices + probes, start_empty_ms);
    std::printf("idle with %d devices: RSS %.1f MB (anon %.1f)\n", devices + probes, idle_fleet.total / 1024.0,
                idle_fleet.anon / 1024.0);
    emit({.name = "startup.fleet",
                        .label = "startup with " + std::to_string(devices + probes) + " devices: exec to receiving",
                        .value = start_fleet_ms,
                        .unit = "ms",
                        .baseline = start_empty_ms,
                        .baseline_label = "the same with no devices",
                        .ratio = start_fleet_ms / start_empty_ms});
    emit({.name = "memory.idle_fleet_rss",
                        .label = "RSS idle with " + std::to_string(devices + probes) + " registered devices",
                        .value = idle_fleet.total / 1024.0,
                        .unit = "MB",
                        .baseline = idle_empty.total / 1024.0,
                        .baseline_label = "idle, no devices",
                        .ratio = static_cast<double>(idle_fleet.total) / static_cast<double>(idle_empty.total)});

    // 3 and 4. Load, soak and latency.
    Probes probe_state(devices, probes);
    mqtt::async_client up_sub(upstream.url(), "bench-fleet-up", mqtt::create_options(MQTTVERSION_3_1_1), nullptr);
    up_sub.set_message_callback([&](mqtt::const_message_ptr m) { probe_state.on_upstream(m); });
    up_sub.connect(options("", ""))->wait();
    up_sub.subscribe(std::string("xrm/v1/gw/") + kGatewayId + "/health/+", 1)->wait();
    up_sub.subscribe(std::string("xrm/v1/gw/") + kGatewayId + "/rec/alert", 1)->wait();
    mqtt::async_client local_sub(local.url(), "bench-fleet-bare", mqtt::create_options(MQTTVERSION_3_1_1), nullptr);
    local_sub.set_message_callback([&](mqtt::const_message_ptr m) { probe_state.on_local(m); });
    local_sub.connect(options(local.admin_user(), local.admin_password()))->wait();
    for (int p = 0; p < probes; ++p) local_sub.subscribe(tele_topic(devices + p), 0)->wait();

    mqtt::async_client probe_pub(local.url(), "bench-fleet-probe", mqtt::create_options(MQTTVERSION_3_1_1, 10000),
                                 nullptr);
    probe_pub.connect(options(pub_user, pub_password))->wait();
    std::vector<std::uint64_t> probe_seq(static_cast<std::size_t>(probes), 0);
    auto probe_publish = [&](int p, bool hot) {
      char payload[96];
      const int n = std::snprintf(payload, sizeof payload, R"({"seq":%llu,"ts":%lld,"temp_c":%s})",
                                  static_cast<unsigned long long>(++probe_seq[static_cast<std::size_t>(p)]), xrm::bench::unix_ms(),
                                  hot ? "99.5" : "4.25");
      probe_state.check_before_reuse(devices + p);
      probe_state.sent(devices + p, hot, Clock::now());
      probe_pub.publish(tele_topic(devices + p), payload, static_cast<std::size_t>(n), 1, false);
    };
    // First contact: every device's first message makes it active (a registry transaction and a
    // lifecycle record each, committed one by one). That happens once in a device's life, so it is
    // measured on its own and the load starts after it: probes normal (healthy), fleet at QoS 1.
    std::vector<std::uint64_t> seq(static_cast<std::size_t>(devices), 0);
    {
      const std::uint64_t base = status(*client, gw).at("ingest").at("accepted").get<std::uint64_t>();
      const auto w0 = Clock::now();
      for (int p = 0; p < probes; ++p) probe_publish(p, false);
      char payload[128];
      for (int d = 0; d < devices; ++d) {
        const int n = fleet_payload(payload, sizeof payload, ++seq[static_cast<std::size_t>(d)]);
        pub.publish(tele_topic(d), payload, static_cast<std::size_t>(n), 1, false);
      }
      const auto total = static_cast<std::uint64_t>(devices + probes);
      const bool done = xrm::testing::poll_until(
          [&] {
            const json st = status(*client, gw);
            return st.at("ingest").at("accepted").get<std::uint64_t>() - base >= total &&
                   st.at("outbox").at("depth").get<std::uint64_t>() == 0;
          },
          std::chrono::seconds(60 + devices / 50), 50ms);
      if (!done) throw std::runtime_error("first contact: not every device's first message was handled and sent");
      const double s_taken = xrm::bench::seconds_between(w0, Clock::now());
      std::printf("first contact of %d devices (each made active, its lifecycle record sent): %.1f s, %.0f devices/s\n",
                  devices + probes, s_taken, static_cast<double>(total) / s_taken);
      emit({.name = "startup.first_contact",
                          .label = "first contact: devices made active per second (one durable transaction each)",
                          .value = static_cast<double>(total) / s_taken,
                          .unit = "devices/s"});
    }
    std::this_thread::sleep_for(1s);
    probe_state.reset();
    Probes& measured = probe_state;

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> publish_failed{0};
    const double cpu0 = xrm::bench::cpu_seconds(gw.pid());
    const auto load_start = Clock::now();
    std::thread loader([&] {
      // Paced in 5 ms slices: each slice publishes what the rate owes by then.
      char payload[128];
      std::uint64_t i = 0;
      while (!stop) {
        const double owed = rate * std::chrono::duration<double>(Clock::now() - load_start).count();
        while (static_cast<double>(i) < owed && !stop) {
          const auto d = static_cast<std::size_t>(i % static_cast<std::uint64_t>(devices));
          const int n = fleet_payload(payload, sizeof payload, ++seq[d]);
          try {
            pub.publish(tele_topic(static_cast<int>(d)), payload, static_cast<std::size_t>(n), 0, false);
            published.fetch_add(1, std::memory_order_relaxed);
          } catch (const mqtt::exception&) {
            publish_failed.fetch_add(1, std::memory_order_relaxed);
            --seq[d];
            break;  // the client's buffer is full: the next slice tries again
          }
          ++i;
        }
        std::this_thread::sleep_for(5ms);
      }
    });

    // Whatever fails from here on, the loader stops and is joined before the error is reported.
    struct JoinLoader {
      std::atomic<bool>& stop;
      std::thread& loader;
      ~JoinLoader() {
        stop = true;
        if (loader.joinable()) loader.join();
      }
    } join_loader{stop, loader};
    std::vector<Sample> samples;
    const auto deadline = load_start + std::chrono::seconds(seconds);
    auto next_sample = load_start + 1s;
    auto next_probe = load_start + 500ms;
    int probe_turn = 0;
    std::vector<bool> probe_hot(static_cast<std::size_t>(probes), false);
    while (Clock::now() < deadline) {
      const auto now = Clock::now();
      if (now >= next_probe) {
        const int p = probe_turn % probes;
        probe_hot[static_cast<std::size_t>(p)] = !probe_hot[static_cast<std::size_t>(p)];
        probe_publish(p, probe_hot[static_cast<std::size_t>(p)]);
        ++probe_turn;
        next_probe += std::chrono::milliseconds(probe_ms);
      }
      if (now >= next_sample) {
        const json st = status(*client, gw);
        Sample smp;
        smp.t = std::chrono::duration<double>(now - load_start).count();
        smp.rss = xrm::bench::rss_detail(gw.pid());
        smp.fds = xrm::bench::open_fds(gw.pid());
        smp.accepted = st.at("ingest").at("accepted").get<std::uint64_t>();
        smp.outbox = st.at("outbox").at("depth").get<std::uint64_t>();
        samples.push_back(smp);
        next_sample += 1s;
      }
      std::this_thread::sleep_until(std::min(next_probe, next_sample));
    }
    stop = true;
    if (loader.joinable()) loader.join();
    const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
    const double cpu1 = xrm::bench::cpu_seconds(gw.pid());
    std::this_thread::sleep_for(1s);  // the last probes' answers
    const json final_status = status(*client, gw);
    const xrm::bench::Rss under_load = xrm::bench::rss_detail(gw.pid());

    // Soak: growth from the sample at which every device had reported under load (or a quarter into
    // the run).
    const double full_at = std::max(static_cast<double>(devices) / rate + 1, 0.25 * seconds);
    const Sample* from = nullptr;
    for (const auto& smp : samples) {
      if (smp.t >= full_at) {
        from = &smp;
        break;
      }
    }
    if (from == nullptr && !samples.empty()) from = &samples.front();
    long peak = 0;
    for (const auto& smp : samples) peak = std::max(peak, smp.rss.total);
    const double achieved = static_cast<double>(published.load()) / load_s;
    const std::uint64_t accepted = final_status.at("ingest").at("accepted").get<std::uint64_t>();
    std::printf("\nload: %.0f msg/s asked, %.0f published (%llu publish retries), daemon CPU %.1f%% of a core, %.2f us/msg\n",
                rate, achieved, static_cast<unsigned long long>(publish_failed.load()),
                100 * (cpu1 - cpu0) / load_s, (cpu1 - cpu0) * 1e6 / std::max(1.0, static_cast<double>(published.load())));
    std::printf("  samples (s, RSS MB, anon MB, fds, outbox records, accepted):\n");
    for (std::size_t i = 0; i < samples.size(); i += std::max<std::size_t>(1, samples.size() / 10)) {
      const auto& smp = samples[i];
      std::printf("    %5.0f %6.1f %6.1f %4d %7llu %9llu\n", smp.t, smp.rss.total / 1024.0, smp.rss.anon / 1024.0, smp.fds,
                  static_cast<unsigned long long>(smp.outbox), static_cast<unsigned long long>(smp.accepted));
    }
    std::printf("  RSS under load %.1f MB (peak %.1f, anon %.1f), accepted %llu of %llu published\n",
                under_load.total / 1024.0, peak / 1024.0, under_load.anon / 1024.0,
                static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(published.load()));
    emit({.name = "memory.load_rss",
                        .label = "RSS with " + std::to_string(devices + probes) + " devices under load (peak)",
                        .value = peak / 1024.0,
                        .unit = "MB",
                        .baseline = idle_empty.total / 1024.0,
                        .baseline_label = "idle, no devices",
                        .ratio = static_cast<double>(peak) / static_cast<double>(idle_empty.total),
                        .target = xrm::bench::Target{"<=", 24}});
    if (from != nullptr && !samples.empty()) {
      const auto& last = samples.back();
      const double minutes = std::max(1e-9, (last.t - from->t) / 60);
      const double growth_mb = (last.rss.total - from->rss.total) / 1024.0;
      std::printf("  soak: RSS %.1f MB at %.0f s -> %.1f MB at %.0f s (%+.2f MB, %+.3f MB/min); fds %d -> %d; outbox %llu -> %llu\n",
                  from->rss.total / 1024.0, from->t, last.rss.total / 1024.0, last.t, growth_mb, growth_mb / minutes,
                  from->fds, last.fds, static_cast<unsigned long long>(from->outbox),
                  static_cast<unsigned long long>(last.outbox));
      emit({.name = "memory.soak_growth",
                          .label = "RSS growth under load over " + std::to_string(static_cast<int>(last.t - from->t)) +
                                   " s once every device reported",
                          .value = growth_mb,
                          .unit = "MB",
                          .baseline = from->rss.total / 1024.0,
                          .baseline_label = "RSS when every device had reported",
                          .ratio = static_cast<double>(last.rss.total) / static_cast<double>(from->rss.total)});
      emit({.name = "soak.fds_growth",
                          .label = "open files, growth over the soak",
                          .value = static_cast<double>(last.fds - from->fds),
                          .unit = "fds",
                          .baseline = static_cast<double>(from->fds),
                          .baseline_label = "open files when every device had reported"});
    }
    emit({.name = "load.cpu_per_message",
                        .label = "daemon CPU per message under fleet load",
                        .value = (cpu1 - cpu0) * 1e6 / std::max(1.0, static_cast<double>(published.load())),
                        .unit = "us"});
    emit({.name = "load.rate",
                        .label = "fleet load: messages/s published (asked " + std::to_string(static_cast<long>(rate)) + ")",
                        .value = achieved,
                        .unit = "msg/s",
                        .baseline = rate,
                        .baseline_label = "asked rate",
                        .ratio = achieved / rate});

    std::printf("\nlatency from the device's publish, at %.0f msg/s (%d probes every %d ms, %llu without an answer):\n",
                achieved, probe_turn, probe_ms, static_cast<unsigned long long>(measured.missing()));
    const auto local_v = measured.local();
    report_latency("local_hop", "-> bare subscriber of the local broker (baseline)", local_v, local_v, std::nullopt);
    report_latency("health", "-> HealthSnapshot with the new band upstream", measured.health(), local_v, std::nullopt);
    report_latency("alert", "-> alert record upstream", measured.alert(), local_v, xrm::bench::Target{"<=", 20});
    emit({.name = "latency.rate",
          .label = "latency probes under a load of (msg/s published, asked " + std::to_string(static_cast<long>(rate)) +
                   ")",
          .value = achieved,
          .unit = "msg/s",
          .baseline = rate,
          .baseline_label = "asked rate",
          .ratio = achieved / rate});
    emit({.name = "latency.unanswered",
                        .label = "probes whose health or alert never arrived upstream",
                        .value = static_cast<double>(measured.missing()),
                        .unit = "probes"});

    client.reset();
    stop_daemon(gw);
    pub.disconnect()->wait();
    probe_pub.disconnect()->wait();
    up_sub.disconnect()->wait();
    local_sub.disconnect()->wait();
    std::printf("total time %.0f s\n", xrm::bench::seconds_between(started, Clock::now()));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xrm-bench-fleet: setup failed: %s\n", e.what());
    return 1;
  }
}
