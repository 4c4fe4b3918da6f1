// Attack and hygiene tests with the real daemon: secrets never reach its log or its database; its
// files are private and its control socket 0660; a client outside control.group is refused by the
// daemon itself, whatever the socket file's mode; the product runs no shell and no other program.
// (Anonymous clients, devices posing as others, retired devices and upstream TLS with a client
// certificate: gateway_provisioning_test.cpp and gateway_tls_test.cpp.)
#include <CppUTest/TestHarness.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gateway_rig.hpp"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/device_client.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/process.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::DeviceClient;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::guarded;
using xrm::testing::poll_until;
using xrm::testing::Process;
using xrm::testing::read_file;
using xrm::testing::TempDir;

constexpr auto kWait = 10s;

// The C library's ways of starting another program (a shell among them).
const std::vector<std::string> kStartsPrograms = {"system",  "popen",   "execl",   "execlp", "execle",
                                                  "execv",   "execvp",  "execvpe", "execve", "fexecve",
                                                  "posix_spawn", "posix_spawnp", "fork", "vfork"};

bool is_identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_GROUP(Security) {
  GatewayRig rig;
  TempDir dir{"xrm-security-it"};
};

// Every secret the gateway handles: the local broker admin password, the upstream password, each
// device's password (first and rotated), and a wrong password a device tried. With log level debug,
// through provisioning, rotation, connects, traffic and a restart, none of them appears in the
// daemon's log, in xrmctl's status, or anywhere in the database files.
TEST(Security, SecretsNeverAppearInTheLogTheStatusOrTheDatabase) {
  guarded([&] {
    const std::string upstream_secret = "Up-Secret-7f3a9c1e";
    const std::string upstream_file = dir.file("upstream.secret");
    xrm::testing::write_file(upstream_file, upstream_secret + "\n", 0600);
    GatewaySettings s;
    s.log_level = "debug";
    s.upstream_extra = "username = \"gw-sec\"\npassword_file = \"" + upstream_file + "\"\n";
    rig.start(s);
    CHECK_TEXT(rig.gateway->wait_for_log("upstream: connected", kWait), "gateway did not connect upstream");

    std::vector<std::string> secrets = {rig.local->admin_password(), upstream_secret};
    std::vector<std::unique_ptr<DeviceClient>> devices;
    for (const std::string name : {"sec-1", "sec-2"}) {
      json cred = rig.ctl_json({"provision", name, "--class", "chiller"});
      secrets.push_back(cred["password"].get<std::string>());
    }
    json rotated = rig.ctl_json({"provision", "sec-2", "--class", "chiller", "--rotate"});
    secrets.push_back(rotated["password"].get<std::string>());
    for (const std::string& p : secrets) CHECK_TEXT(p.size() >= 12, ("a short secret: " + p).c_str());

    auto wrong = std::make_unique<DeviceClient>(rig.local->url(), "sec-1");
    const std::string wrong_password = "Wrong-Secret-55aa";
    CHECK(!wrong->connect("sec-1", wrong_password).empty());
    secrets.push_back(wrong_password);
    for (const auto& [name, password] : {std::pair<std::string, std::string>{"sec-1", secrets[2]},
                                         std::pair<std::string, std::string>{"sec-2", secrets[4]}}) {
      auto dev = std::make_unique<DeviceClient>(rig.local->url(), name);
      STRCMP_EQUAL("", dev->connect(name, password).c_str());
      CHECK(dev->publish("xrm/v1/dev/" + name + "/evt", R"({"seq":1,"ts":1763900000000,"type":"maintenance"})", 1));
      devices.push_back(std::move(dev));
    }
    const std::string status = rig.ctl({"--json", "status"}).out;
    rig.ctl({"show", "sec-1"});
    CHECK_EQUAL(0, rig.gateway->terminate().value_or(-1));
    rig.gateway->start();
    CHECK_TEXT(rig.gateway->wait_for_log("local: connected", kWait), "the daemon did not come back");
    CHECK_EQUAL(0, rig.gateway->terminate().value_or(-1));

    std::string logs;
    for (int run = 1; run <= 2; ++run) logs += read_file(rig.gateway->dir() + "/gateway-" + std::to_string(run) + ".log");
    CHECK_TEXT(logs.size() > 2000, "the debug log is suspiciously short");
    std::string database;
    for (const auto& entry : fs::directory_iterator(rig.gateway->data_dir())) database += slurp(entry.path());
    for (const std::string& secret : secrets) {
      CHECK_TEXT(logs.find(secret) == std::string::npos, ("a secret is in the daemon's log: " + secret).c_str());
      CHECK_TEXT(status.find(secret) == std::string::npos, ("a secret is in xrmctl status: " + secret).c_str());
      CHECK_TEXT(database.find(secret) == std::string::npos, ("a secret is in the database files: " + secret).c_str());
    }
  });
}

// The database and everything beside it are the daemon's alone (0600 in a 0700 directory),
// whatever the umask; the control socket is 0660 with the configured group.
TEST(Security, DataFilesArePrivateAndTheControlSocketIs0660WhateverTheUmask) {
  guarded([&] {
    const mode_t saved = ::umask(0);  // inherited by the daemon: the most permissive there is
    GatewaySettings s;
    s.log_level = "info";
    rig.start(s, true, false);
    ::umask(saved);
    json cred = rig.ctl_json({"provision", "mode-1", "--class", "chiller"});
    auto dev = std::make_unique<DeviceClient>(rig.local->url(), "mode-1");
    STRCMP_EQUAL("", dev->connect("mode-1", cred["password"].get<std::string>()).c_str());
    CHECK(dev->publish("xrm/v1/dev/mode-1/evt", R"({"seq":1,"ts":1763900000000,"type":"maintenance"})", 1));
    CHECK(poll_until([&] { return rig.ctl_json({"status"})["ingest"]["events"].get<int>() >= 1; }, kWait, 100ms));

    struct stat st {};
    CHECK_EQUAL(0, ::stat(rig.gateway->data_dir().c_str(), &st));
    CHECK_EQUAL(0700, st.st_mode & 07777);
    int files = 0;
    for (const auto& entry : fs::directory_iterator(rig.gateway->data_dir())) {
      CHECK_EQUAL(0, ::stat(entry.path().c_str(), &st));
      CHECK_EQUAL_TEXT(0600, st.st_mode & 07777, entry.path().c_str());
      ++files;
    }
    CHECK_TEXT(files >= 3, "expected gateway.db with its -wal and -shm");
    CHECK_EQUAL(0, ::stat(rig.gateway->control_socket().c_str(), &st));
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQUAL(0660, st.st_mode & 07777);
    CHECK_EQUAL(::getegid(), st.st_gid);
  });
}

// control.group with the real daemon and xrmctl: even with the socket file opened to everyone, the
// daemon refuses a user outside the group (xrmctl exits 1 with "permission denied") and serves the
// same user once it is in the group as a supplementary group. Needs root (CI runs as root) to run
// xrmctl as another user.
TEST(Security, TheDaemonRefusesAnXrmctlOutsideControlGroupWhateverTheSocketMode) {
  guarded([&] {
    CHECK_TEXT(::geteuid() == 0, "this test runs xrmctl as another user and needs root (CI runs as root)");
    GatewaySettings s;
    s.log_level = "info";
    s.control_group = "4242";
    rig.start(s, true, false);
    struct stat st {};
    CHECK_EQUAL(0, ::stat(rig.gateway->control_socket().c_str(), &st));
    CHECK_EQUAL(4242U, st.st_gid);
    CHECK_EQUAL(0, ::chmod(rig.gateway->control_socket().c_str(), 0666));
    CHECK_EQUAL(0, ::chmod(rig.gateway->dir().c_str(), 0755));
    auto xrmctl_as_nobody = [&](const std::string& groups, const std::string& tag) {
      const std::vector<std::string> argv = {XRM_SETPRIV_PATH,
                                             "--reuid=65534",
                                             "--regid=65534",
                                             groups.empty() ? "--clear-groups" : "--groups=" + groups,
                                             "--",
                                             XRM_XRMCTL_PATH,
                                             "--socket",
                                             rig.gateway->control_socket(),
                                             "status"};
      Process p({.argv = argv, .stdout_path = dir.file(tag + ".out"), .stderr_path = dir.file(tag + ".err")});
      const int rc = p.wait_exit(kWait).value_or(-1);
      return std::make_pair(rc, read_file(dir.file(tag + ".err")));
    };
    const auto [refused_rc, refused_err] = xrmctl_as_nobody("", "outsider");
    CHECK_EQUAL_TEXT(1, refused_rc, refused_err.c_str());
    STRCMP_CONTAINS("uid 65534 may not use the control socket", refused_err.c_str());
    CHECK(rig.gateway->log_contains("refused uid 65534"));
    const auto [member_rc, member_err] = xrmctl_as_nobody("4242", "member");
    CHECK_EQUAL_TEXT(0, member_rc, member_err.c_str());
    CHECK(rig.gateway->is_running());
  });
}

// An unknown control.group is a configuration error at start, exit 2, naming the key.
TEST(Security, AnUnknownControlGroupStopsTheStartNamingTheKey) {
  guarded([&] {
    GatewaySettings s;
    s.log_level = "info";
    s.control_group = "no-such-group-xrm";
    rig.start(s, false, false);
    rig.gateway->start();
    CHECK_EQUAL(2, rig.gateway->wait_exit(kWait).value_or(-1));
    STRCMP_CONTAINS("control.group: no group named 'no-such-group-xrm'", rig.gateway->log().c_str());
  });
}

// No shell and no other program is ever started by the product, so nothing a device sends can
// reach one: the source of the daemon, xrmctl, xrm-tap and the firmware library calls none of the
// functions that start programs, and the linked daemon and xrmctl import none of them.
TEST(Security, TheProductStartsNoShellAndNoOtherProgram) {
  guarded([&] {
    std::string found;
    int scanned = 0;
    for (const std::string top : {"gateway", "common", "firmware"}) {
      for (const auto& entry : fs::recursive_directory_iterator(std::string(XRM_SOURCE_DIR) + "/" + top)) {
        const std::string ext = entry.path().extension().string();
        if (ext != ".cpp" && ext != ".hpp" && ext != ".h" && ext != ".cc") continue;
        ++scanned;
        const std::string text = slurp(entry.path());
        for (const std::string& name : kStartsPrograms) {
          for (auto pos = text.find(name); pos != std::string::npos; pos = text.find(name, pos + 1)) {
            if (pos > 0 && is_identifier_char(text[pos - 1])) continue;
            auto after = pos + name.size();
            if (after < text.size() && is_identifier_char(text[after])) continue;
            while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
            if (after < text.size() && text[after] == '(') found += entry.path().string() + ": " + name + "(\n";
          }
        }
      }
    }
    CHECK_TEXT(scanned > 50, "the source tree was not found");
    STRCMP_EQUAL_TEXT("", found.c_str(), "calls that start programs");

    for (const std::string binary : {XRM_GATEWAYD_PATH, XRM_XRMCTL_PATH}) {
      const std::string out = dir.file("nm.out");
      Process p({.argv = {XRM_NM_PATH, "-D", "--undefined-only", binary}, .stdout_path = out,
                 .stderr_path = dir.file("nm.err")});
      CHECK_EQUAL(0, p.wait_exit(kWait).value_or(-1));
      std::istringstream symbols(read_file(out));
      int imports = 0;
      std::string imported;
      for (std::string type, symbol; symbols >> type >> symbol;) {
        ++imports;
        symbol = symbol.substr(0, symbol.find('@'));
        for (const std::string& name : kStartsPrograms) {
          if (symbol == name) imported += " " + symbol;
        }
      }
      CHECK_TEXT(imports > 10, ("nm saw no imports of " + binary).c_str());
      STRCMP_EQUAL_TEXT("", imported.c_str(), (binary + " imports functions that start programs").c_str());
      fs::remove(out);
    }
  });
}

TEST_GROUP(GatewayControl) {
  GatewayRig rig;
};

// The real daemon's control API behind the socket: an unknown verb is refused naming the verbs it
// knows, and the same connection then serves the next request.
TEST(GatewayControl, UnknownVerbIsRefusedNamingTheKnownVerbs) {
  guarded([&] {
    GatewaySettings s;
    s.log_level = "info";
    rig.start(s, true, false);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = rig.gateway->control_socket();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    CHECK_EQUAL(0, ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr));
    const std::string requests = "{\"verb\":\"x\"}\n{\"verb\":\"status\"}\n";
    CHECK_EQUAL(static_cast<ssize_t>(requests.size()), ::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL));
    std::string got;
    for (int i = 0; i < 50 && std::count(got.begin(), got.end(), '\n') < 2; ++i) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 100) <= 0) continue;
      char buffer[8192];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      got.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const auto end = got.find('\n');
    CHECK(end != std::string::npos);
    const json refused = json::parse(got.substr(0, end));
    CHECK_FALSE(refused["ok"].get<bool>());
    STRCMP_EQUAL("invalid_argument", refused["error"]["code"].get<std::string>().c_str());
    STRCMP_CONTAINS("unknown verb \"x\" (known: provision, devices, show, link, retire, status",
                    refused["error"]["message"].get<std::string>().c_str());
    const json served = json::parse(got.substr(end + 1));
    CHECK_TEXT(served["ok"].get<bool>(), got.c_str());
  });
}
