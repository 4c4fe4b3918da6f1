#pragma once
// What most integration tests stand on: a central (plain) and a local (dynamic security) Mosquitto
// on free loopback ports, the real xrm-gatewayd between them, and the real xrmctl. Owned by a
// test group; everything is torn down (daemon first) when the rig goes, and the logs of a failed
// test are printed first. Test thread only.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/temp_dir.hpp"
#include "xrm/testing/xrmctl.hpp"

namespace xrm::testing {

struct GatewayRig {
  std::unique_ptr<Mosquitto> upstream;
  std::unique_ptr<Mosquitto> local;
  std::unique_ptr<GatewayUnderTest> gateway;

  GatewayRig() = default;
  GatewayRig(const GatewayRig&) = delete;
  GatewayRig& operator=(const GatewayRig&) = delete;
  ~GatewayRig() {
    if (UtestShell::getCurrent()->hasFailed()) print_logs();
    gateway.reset();
    local.reset();
    upstream.reset();
  }

  // Starts both brokers (the upstream one only when asked) and creates the daemon with `s`
  // completed by their addresses and the local admin credentials. With `run`, starts the daemon
  // and fails the test unless it connects to the local broker within `wait`.
  void start(GatewaySettings s, bool run = true, bool with_upstream = true,
             std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    upstream = std::make_unique<Mosquitto>(mosquitto_tools(), Mosquitto::Flavour::kPlain, "upstream");
    local = std::make_unique<Mosquitto>(mosquitto_tools(), Mosquitto::Flavour::kLocal, "local");
    if (with_upstream) upstream->start();
    local->start();
    s.local_url = local->url();
    s.local_username = local->admin_user();
    s.local_password = local->admin_password();
    s.upstream_url = upstream->url();
    gateway = std::make_unique<GatewayUnderTest>(XRM_GATEWAYD_PATH, s);
    if (!run) return;
    gateway->start();
    CHECK_TEXT(gateway->wait_for_log("local: connected", wait), "gateway did not connect to the local broker");
  }

  CtlResult ctl(const std::vector<std::string>& args) const {
    return run_xrmctl(XRM_XRMCTL_PATH, gateway->control_socket(), args);
  }
  // `xrmctl --json ARGS`; fails the test unless it exits 0.
  nlohmann::json ctl_json(std::vector<std::string> args) const {
    args.insert(args.begin(), "--json");
    CtlResult r = ctl(args);
    CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
    return r.json();
  }

  // Polls `xrmctl status` until the outbox is empty and nothing is in flight; fails the test with
  // the last status seen if that does not happen within `timeout`. Returns that status.
  // Waits until the daemon has taken at least n service events (each one recorded); fails the test
  // naming what it took if not within timeout. The last status.
  nlohmann::json await_events(std::size_t n, std::chrono::milliseconds timeout) const {
    nlohmann::json st;
    const bool all = poll_until(
        [&] {
          st = ctl_json({"status"});
          return st["ingest"]["events"].get<std::size_t>() >= n;
        },
        timeout, std::chrono::milliseconds(100));
    CHECK_TEXT(all, ("not every event was taken: " + st["ingest"].dump() + ", expected " + std::to_string(n)).c_str());
    return st;
  }
  nlohmann::json await_empty_outbox(std::chrono::milliseconds timeout) const {
    nlohmann::json st;
    const bool empty = poll_until(
        [&] {
          st = ctl_json({"status"});
          return st["outbox"]["depth"] == 0 && st["uplink"]["in_flight"] == 0;
        },
        timeout, std::chrono::milliseconds(50));
    CHECK_TEXT(empty, ("the outbox did not empty: " + st["outbox"].dump() + " " + st["uplink"].dump()).c_str());
    return st;
  }

  void print_logs() const {
    if (gateway) std::fprintf(stderr, "----- xrm-gatewayd log:\n%s\n", tail_file(gateway->log_path(), 80).c_str());
    if (local) std::fprintf(stderr, "----- local broker log:\n%s\n", tail_file(local->log_path(), 30).c_str());
    if (upstream) std::fprintf(stderr, "----- upstream broker log:\n%s\n", tail_file(upstream->log_path(), 30).c_str());
  }
};

}  // namespace xrm::testing
