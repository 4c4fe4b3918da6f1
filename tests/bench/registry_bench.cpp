// Registry and provisioning at fleet scale: with N registered devices (default 10,000), how long
// `xrmctl devices --json` takes and how long a provision takes, each next to a baseline measured in
// the same run: `xrmctl status --json` (the same process start and socket round trip with almost no
// work) for the listing, and the bare dynamic-security commands sent straight to the broker by a
// plain Paho client (the broker's own cost) for provisioning. Real Mosquitto, the real daemon and the
// real xrmctl. Prints figures; asserts nothing.
//
// Setup: the registry is filled through the registry library itself (each add its own transaction,
// as provisioning does, synchronous=NORMAL for speed of setup only), and Mosquitto's dynamic-security
// file gets one role and one client per device in exactly the shape the gateway creates, without
// passwords (hashing 10,000 passwords would only slow the setup; the file size differs by about 10%).
#include <CLI/CLI.hpp>
#include <mqtt/async_client.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "bench_util.hpp"
#include "xrm/control/client.hpp"
#include "xrm/registry/dynsec.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/xrmctl.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::bench::Clock;
using xrm::bench::device_id;
using xrm::bench::ms_since;
using xrm::bench::print;
using xrm::bench::rss_kb;
using xrm::bench::Stats;
using xrm::bench::stats;

void fill_dynsec(const std::string& path, int n) {
  json d;
  std::ifstream(path) >> d;
  for (int i = 0; i < n; ++i) {
    const std::string id = device_id(i);
    json role = xrm::registry::DynsecAdmin::create_role(id).body;
    role.erase("command");
    d["roles"].push_back(role);
    d["clients"].push_back({{"username", id}, {"clientid", id}, {"roles", json::array({{{"rolename", role["rolename"]}}})}});
  }
  std::ofstream(path) << d.dump(1, '\t');
}

// The broker's own cost of what a provision asks of it: createRole + createClient in one message,
// sent by a plain Paho client as the dynamic-security admin, waiting for the response.
std::vector<double> bare_dynsec(const xrm::testing::Mosquitto& broker, int samples) {
  auto admin = xrm::bench::connect_dynsec_admin(broker.url(), "bench-admin", broker.admin_user(), broker.admin_password());
  mqtt::async_client& c = *admin;
  std::vector<double> out;
  for (int i = 0; i < samples; ++i) {
    const std::string id = "bare-" + std::to_string(i);
    json cmds = {{"commands",
                  {xrm::registry::DynsecAdmin::create_role(id).body,
                   xrm::registry::DynsecAdmin::create_client(id, "x-bench-password-0123456789abcdef", "bench").body}}};
    const auto t0 = Clock::now();
    c.publish("$CONTROL/dynamic-security/v1", cmds.dump(), 1, false)->wait();
    auto msg = c.try_consume_message_for(10s);
    if (!msg) throw std::runtime_error("no dynsec response");
    out.push_back(ms_since(t0));
  }
  c.disconnect()->wait();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"xrm-bench-registry: registry listing and provisioning at fleet scale, against baselines"};
  int devices = 10000;
  int samples = 20;
  cli.add_option("--devices", devices, "Registered devices")->capture_default_str()->check(CLI::Range(0, 200000));
  cli.add_option("--samples", samples, "Samples per figure")->capture_default_str()->check(CLI::Range(3, 1000));
  CLI11_PARSE(cli, argc, argv);

  const xrm::testing::MosquittoTools tools = xrm::testing::mosquitto_tools();
  xrm::testing::Mosquitto upstream(tools, xrm::testing::Mosquitto::Flavour::kPlain, "bench-up");
  xrm::testing::Mosquitto local(tools, xrm::testing::Mosquitto::Flavour::kLocal, "bench-local");
  xrm::testing::GatewaySettings s;
  s.gateway_id = "gw-bench";
  s.local_url = local.url();
  s.local_username = local.admin_user();
  s.local_password = local.admin_password();
  s.upstream_url = upstream.url();
  s.log_level = "info";  // "local: connected" is an info line; nothing is logged per message
  xrm::testing::GatewayUnderTest gw(XRM_GATEWAYD_PATH, s);

  std::printf("xrm-bench-registry: %d registered devices, %d samples per figure\n", devices, samples);
  auto t0 = Clock::now();
  xrm::bench::fill_registry(gw.data_dir(), s.gateway_id, devices);
  const double fill_ms = ms_since(t0);
  t0 = Clock::now();
  fill_dynsec(local.dynsec_path(), devices);
  const double dynsec_fill_ms = ms_since(t0);
  std::ifstream f(local.dynsec_path(), std::ios::ate);
  const auto dynsec_bytes = static_cast<long long>(f.tellg());
  std::printf("setup: registry filled in %.0f ms (%.0f adds/s); dynsec file %lld bytes, written in %.0f ms\n", fill_ms,
              devices * 1000.0 / std::max(fill_ms, 1.0), dynsec_bytes, dynsec_fill_ms);

  upstream.start();
  local.start(30s);
  t0 = Clock::now();
  gw.start();
  if (!gw.wait_for_log("started: gateway", 30s) || !gw.wait_for_log("local: connected", 30s)) {
    std::fprintf(stderr, "gateway did not start:\n%s\n", xrm::testing::tail_file(gw.log_path()).c_str());
    return 1;
  }
  std::printf("daemon start with %d devices to 'connected to the local broker': %.0f ms; RSS %ld kB\n", devices,
              ms_since(t0), rss_kb(gw.pid()));

  std::vector<double> list_ms, status_ms;
  std::size_t list_bytes = 0;
  for (int i = 0; i < samples; ++i) {
    auto t = Clock::now();
    auto r = xrm::testing::run_xrmctl(XRM_XRMCTL_PATH, gw.control_socket(), {"--json", "devices"});
    list_ms.push_back(ms_since(t));
    if (r.exit_code != 0) throw std::runtime_error("xrmctl devices: " + r.describe());
    list_bytes = r.out.size();
    if (i == 0 && r.json()["devices"].size() != static_cast<std::size_t>(devices)) {
      throw std::runtime_error("xrmctl devices listed " + std::to_string(r.json()["devices"].size()));
    }
    t = Clock::now();
    auto st = xrm::testing::run_xrmctl(XRM_XRMCTL_PATH, gw.control_socket(), {"--json", "status"});
    status_ms.push_back(ms_since(t));
    if (st.exit_code != 0) throw std::runtime_error("xrmctl status: " + st.describe());
  }
  std::printf("\nlisting (the real xrmctl process, wall time):\n");
  const Stats ls = stats(list_ms);
  const Stats ss = stats(status_ms);
  print("xrmctl --json devices", ls);
  print("baseline: xrmctl --json status", ss);
  std::printf("  output %zu bytes; devices/status p50 ratio %.1f; target: devices within 1000 ms\n", list_bytes,
              ls.p50 / ss.p50);

  // Provisioning through the daemon (in-process control client: daemon + broker, no process start).
  std::vector<double> prov_ms;
  auto client = xrm::control::Client::connect(gw.control_socket());
  if (!client) throw std::runtime_error(client.status().to_string());
  for (int i = 0; i < samples; ++i) {
    const auto t = Clock::now();
    auto r = client->call("provision", {{"device", "new-" + std::to_string(i)}, {"class", "chiller"}}, 30s);
    prov_ms.push_back(ms_since(t));
    if (!r) throw std::runtime_error("provision: " + r.status().to_string());
  }
  auto t = Clock::now();
  auto one = xrm::testing::run_xrmctl(XRM_XRMCTL_PATH, gw.control_socket(), {"provision", "new-xrmctl", "--class", "chiller"});
  const double xrmctl_prov_ms = ms_since(t);
  if (one.exit_code != 0) throw std::runtime_error("xrmctl provision: " + one.describe());
  const auto bare = bare_dynsec(local, samples);
  std::printf("\nprovisioning with %d devices registered:\n", devices);
  const Stats ps = stats(prov_ms);
  const Stats bs = stats(bare);
  print("provision via the control socket", ps);
  print("baseline: bare dynsec createRole+createClient", bs);
  std::printf("  one provision through the real xrmctl: %.1f ms\n", xrmctl_prov_ms);
  std::printf("  daemon RSS after listing and provisioning: %ld kB\n", rss_kb(gw.pid()));
  std::printf("  provision/bare p50 ratio %.2f (the gateway's own share: %.1f ms); target: within 200 ms\n",
              ps.p50 / bs.p50, ps.p50 - bs.p50);
  xrm::bench::report({.name = "registry.list",
                      .label = "xrmctl --json devices with " + std::to_string(devices) + " devices, p50",
                      .value = ls.p50,
                      .unit = "ms",
                      .baseline = ss.p50,
                      .baseline_label = "xrmctl --json status",
                      .ratio = ls.p50 / ss.p50,
                      .target = xrm::bench::Target{"<=", 1000}});
  xrm::bench::report({.name = "registry.provision",
                      .label = "provision with " + std::to_string(devices) + " devices registered, p50",
                      .value = ps.p50,
                      .unit = "ms",
                      .baseline = bs.p50,
                      .baseline_label = "bare dynsec createRole + createClient",
                      .ratio = ps.p50 / bs.p50,
                      .target = xrm::bench::Target{"<=", 200}});
  gw.terminate();
  return 0;
}
