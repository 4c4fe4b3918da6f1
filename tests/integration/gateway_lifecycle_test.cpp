// The daemon's life under a service manager: SIGHUP reloads (what it applies, what needs a
// restart, a broken file kept out) and the systemd notify protocol (READY, WATCHDOG, STOPPING),
// against the real daemon. No broker is needed: both URLs point at closed loopback ports, and the
// daemon keeps retrying them in the background.
#include <CppUTest/TestHarness.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/net.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using xrm::testing::GatewaySettings;
using xrm::testing::GatewayUnderTest;
using xrm::testing::guarded;

GatewaySettings offline_settings() {
  GatewaySettings s;
  s.gateway_id = "gw-life";
  s.local_url = "tcp://127.0.0.1:" + std::to_string(xrm::testing::free_loopback_port());
  s.local_username = "xrm-gateway";
  s.local_password = "unused";
  s.upstream_url = "tcp://127.0.0.1:" + std::to_string(xrm::testing::free_loopback_port());
  s.log_level = "info";
  return s;
}

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      FAIL(("cannot bind notify socket " + path + ": " + std::strerror(errno)).c_str());
    }
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  // Collects datagrams until one contains `what` or timeout passes; true if found.
  bool wait_for(const std::string& what, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      char buf[512];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        messages_.emplace_back(buf, static_cast<std::size_t>(n));
        if (messages_.back().find(what) != std::string::npos) return true;
      }
    }
    return false;
  }
  std::string seen() const {
    std::string all;
    for (const auto& m : messages_) all += "[" + m + "] ";
    return all;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

}  // namespace

TEST_GROUP(GatewayLifecycle) {
  std::unique_ptr<GatewayUnderTest> gateway;
  void teardown() override {
    if (UtestShell::getCurrent()->hasFailed() && gateway) {
      std::fprintf(stderr, "----- xrm-gatewayd log:\n%s\n", gateway->log().c_str());
    }
    gateway.reset();
  }
};

TEST(GatewayLifecycle, SighupAppliesReloadableKeysAndNamesTheOthers) {
  guarded([&] {
    gateway = std::make_unique<GatewayUnderTest>(XRM_GATEWAYD_PATH, offline_settings());
    gateway->start();
    CHECK_TEXT(gateway->wait_for_log("started: gateway gw-life", 5s), "daemon did not start");
    CHECK_FALSE(gateway->log_contains(" debug "));

    GatewaySettings changed = gateway->settings();
    changed.log_level = "debug";             // reloadable
    changed.upstream_keepalive = "7s";       // needs a restart
    gateway->rewrite_config(changed);
    gateway->signal(SIGHUP);
    CHECK_TEXT(gateway->wait_for_log("reload: applied log.level", 5s), "reload did not apply log.level");
    CHECK_TEXT(gateway->log_contains("need a restart: upstream.keepalive"), "restart-only change not named");
    // debug lines now appear (each reconnect attempt logs one)
    CHECK_TEXT(gateway->wait_for_log(" debug ", 5s), "log level debug not in force after reload");

    // A broken file is reported with FILE:LINE:KEY and kept out; the daemon runs on.
    GatewaySettings broken = changed;
    broken.extra_toml = "colour = \"red\"\n";
    gateway->rewrite_config(broken);
    gateway->signal(SIGHUP);
    CHECK_TEXT(gateway->wait_for_log("keeping the running configuration", 5s), "broken reload not refused");
    CHECK_TEXT(gateway->log_contains(gateway->config_path() + ":"), "error does not name the file");
    CHECK_TEXT(gateway->log_contains(":log.colour: unknown key"), "error does not name line and key");
    CHECK(gateway->is_running());

    const auto rc = gateway->terminate(5s);
    CHECK_TEXT(rc.has_value(), "still running 5 s after SIGTERM");
    LONGS_EQUAL(0, *rc);
  });
}

TEST(GatewayLifecycle, SystemdNotifyReadyWatchdogStopping) {
  guarded([&] {
    xrm::testing::TempDir dir("xrm-notify");
    NotifySocket notify(dir.file("notify.sock"));
    GatewaySettings s = offline_settings();
    s.env = {{"NOTIFY_SOCKET", dir.file("notify.sock")}, {"WATCHDOG_USEC", "200000"}};
    gateway = std::make_unique<GatewayUnderTest>(XRM_GATEWAYD_PATH, s);
    gateway->start();

    CHECK_TEXT(notify.wait_for("READY=1", 5s), ("no READY=1; seen: " + notify.seen()).c_str());
    // WatchdogSec=200ms: pings every 100 ms from the io thread; three in a row within 2 s.
    for (int i = 0; i < 3; ++i) {
      CHECK_TEXT(notify.wait_for("WATCHDOG=1", 2s), ("missing WATCHDOG=1; seen: " + notify.seen()).c_str());
    }
    gateway->signal(SIGHUP);
    CHECK_TEXT(notify.wait_for("RELOADING=1", 5s), ("no RELOADING=1; seen: " + notify.seen()).c_str());
    gateway->signal(SIGTERM);
    CHECK_TEXT(notify.wait_for("STOPPING=1", 5s), ("no STOPPING=1; seen: " + notify.seen()).c_str());
    const auto rc = gateway->terminate(5s);
    CHECK(rc.has_value());
    LONGS_EQUAL(0, *rc);
  });
}
