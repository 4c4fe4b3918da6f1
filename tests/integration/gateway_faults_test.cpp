// Faults at the gateway's own feet, with the real daemon and brokers: the local broker restarts
// under it; its database is damaged before a start (truncated, overwritten: a clear error, the file
// left as it is); its data directory is not writable. (Kills under load, upstream
// outages and an upstream that refuses records are in gateway_outbox_test.cpp.)
#include <CppUTest/TestHarness.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway_rig.hpp"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/device_client.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/wall_clock.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::DeviceClient;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::guarded;
using xrm::testing::poll_until;
using xrm::testing::unix_ms;

constexpr auto kWait = 10s;

}  // namespace

TEST_GROUP(Faults) {
  GatewayRig rig;

  json status() { return rig.ctl_json({"status"}); }

  // A provisioned device, connected with the credentials xrmctl printed.
  std::unique_ptr<DeviceClient> device(const std::string& name, std::string* password = nullptr) {
    json cred = rig.ctl_json({"provision", name, "--class", "chiller"});
    auto dev = std::make_unique<DeviceClient>(rig.local->url(), name);
    STRCMP_EQUAL_TEXT("", dev->connect(name, cred["password"].get<std::string>()).c_str(), "credentials refused");
    if (password != nullptr) *password = cred["password"].get<std::string>();
    return dev;
  }
  void event(DeviceClient & dev, const std::string& name, int seq) {
    CHECK(dev.publish("xrm/v1/dev/" + name + "/evt",
                      "{\"seq\":" + std::to_string(seq) + ",\"ts\":" + std::to_string(unix_ms()) +
                          ",\"type\":\"fault\",\"code\":\"E" + std::to_string(seq) + "\"}",
                      1));
  }
  void await_events(std::size_t n) { rig.await_events(n, kWait); }

  // Starts the daemon, provisions `n` devices and stops it cleanly: a database with content.
  void make_database(int n) {
    GatewaySettings s;
    s.log_level = "info";
    rig.start(s, true, false);
    for (int i = 1; i <= n; ++i) rig.ctl_json({"provision", "dev-" + std::to_string(i), "--class", "chiller"});
    const int rc = rig.gateway->terminate().value_or(-1);
    CHECK_EQUAL_TEXT(0, rc, rig.gateway->log().c_str());
  }
  std::string db_path() const { return rig.gateway->data_dir() + "/gateway.db"; }
  // Starts the daemon and expects it to give up: its exit code (or -1 if it keeps running).
  int start_expecting_exit() {
    rig.gateway->start();
    return rig.gateway->wait_exit(kWait).value_or(-1);
  }
};

// The local broker (persistence off, as a worst case) restarts: the daemon reconnects, subscribes
// again (the broker kept no session) and hears the devices, which reconnect on their own.
TEST(Faults, ALocalBrokerRestartIsRiddenOutAndDevicesAreHeardAgain) {
  guarded([&] {
    GatewaySettings s;
    s.log_level = "info";
    rig.start(s, true, false);
    std::string password;
    auto dev = device("pump-1", &password);
    event(*dev, "pump-1", 1);
    await_events(1);

    rig.local->restart();
    CHECK_TEXT(poll_until([&] { return rig.gateway->log_count("local: connected") >= 2; }, kWait, 50ms),
               "the daemon did not reconnect to the restarted local broker");
    CHECK(rig.gateway->is_running());
    dev = std::make_unique<DeviceClient>(rig.local->url(), "pump-1");
    // The device's own reconnect: its credentials survived in the dynamic-security file.
    STRCMP_EQUAL("", dev->connect("pump-1", password).c_str());
    event(*dev, "pump-1", 2);
    await_events(2);
    CHECK(status()["connections"]["local"]["connected"].get<bool>());
  });
}

// A database cut short (a half-written copy, a disk that lost its tail) is found at start by
// quick_check: the daemon exits 1 naming the file and the way out, and writes nothing to it.
TEST(Faults, ATruncatedDatabaseStopsTheStartWithAClearErrorAndIsLeftAsItIs) {
  guarded([&] {
    make_database(40);
    const auto full = fs::file_size(db_path());
    fs::resize_file(db_path(), full / 2);
    CHECK_EQUAL(1, start_expecting_exit());
    const std::string log = rig.gateway->log();
    STRCMP_CONTAINS((db_path() + ": the database is damaged").c_str(), log.c_str());
    STRCMP_CONTAINS("to recover, move gateway.db and its -wal and -shm files aside", log.c_str());
    CHECK_EQUAL(full / 2, fs::file_size(db_path()));
    CHECK_FALSE(fs::exists(db_path() + "-wal") && fs::file_size(db_path() + "-wal") > 0);
  });
}

// A file that is not a database at all (overwritten, or another file put in its place).
TEST(Faults, AFileThatIsNotADatabaseStopsTheStartWithAClearErrorAndIsLeftAsItIs) {
  guarded([&] {
    make_database(1);
    const std::string junk(16384, 'J');
    std::ofstream(db_path(), std::ios::trunc | std::ios::binary) << junk;
    fs::remove(db_path() + "-wal");
    fs::remove(db_path() + "-shm");
    CHECK_EQUAL(1, start_expecting_exit());
    STRCMP_CONTAINS((db_path() + ": the database is damaged (file is not a database)").c_str(),
                    rig.gateway->log().c_str());
    std::ifstream in(db_path(), std::ios::binary);
    const std::string now((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(now == junk);
  });
}

// A data directory the daemon's user cannot write: exit 1 at start, naming it; nothing else is
// created. As root (CI) the daemon runs as nobody through setpriv, since root writes anywhere.
TEST(Faults, AReadOnlyDataDirectoryIsAClearErrorAtStart) {
  guarded([&] {
    GatewaySettings s;
    s.log_level = "info";
    const bool root = ::geteuid() == 0;
    if (root) s.wrapper = {XRM_SETPRIV_PATH, "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
    rig.start(s, false, false);
    const std::string data = rig.gateway->data_dir();
    fs::create_directory(data);
    ::chmod(data.c_str(), 0555);
    if (root) {
      // Everything but the data directory is nobody's, as it would be the service user's.
      for (const auto& entry : fs::recursive_directory_iterator(rig.gateway->dir())) {
        if (entry.path() != data) CHECK_EQUAL(0, ::chown(entry.path().c_str(), 65534, 65534));
      }
      CHECK_EQUAL(0, ::chown(rig.gateway->dir().c_str(), 65534, 65534));
    }
    CHECK_EQUAL(1, start_expecting_exit());
    STRCMP_CONTAINS(("data_dir " + data + " is not writable").c_str(), rig.gateway->log().c_str());
    CHECK_FALSE(fs::exists(data + "/gateway.db"));
    ::chmod(data.c_str(), 0700);
  });
}
