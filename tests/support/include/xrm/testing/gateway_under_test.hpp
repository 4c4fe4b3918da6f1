#pragma once
// The real xrm-gatewayd, run by a test against its own brokers, with its own config and data.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xrm/testing/process.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace xrm::testing {

struct GatewaySettings {
  std::string gateway_id = "gw-it";
  std::string local_url;       // the dynsec-protected device broker
  std::string local_username;  // its dynsec admin client
  std::string local_password;  // written to a 0600 password file, never on the command line
  std::string upstream_url;    // the central broker (anonymous)
  // upstream.ca_file / cert_file / key_file for an ssl:// upstream_url; written only when set.
  std::string upstream_ca_file;
  std::string upstream_cert_file;
  std::string upstream_key_file;
  // Short timers so reconnects and wills happen within a test's patience.
  std::string reconnect_min = "100ms";
  std::string reconnect_max = "500ms";
  std::string upstream_keepalive = "5s";
  std::string log_level = "debug";
  // The profiles file (health.profiles) written next to gateway.toml: device classes.
  std::string profiles_toml =
      "[[profile]]\nclass = \"chiller\"\nexpected_interval = \"10s\"\noffline_after = \"60s\"\n\n"
      "[[profile]]\nclass = \"meter\"\nexpected_interval = \"60s\"\noffline_after = \"5m\"\n";
  // More [upstream] keys, as TOML lines (e.g. "confirm = \"central\"\n").
  std::string upstream_extra;
  // control.group; empty: not written (the daemon's own group).
  std::string control_group;
  // Appended to gateway.toml as is (after the [log] section): more sections, or a deliberate error.
  std::string extra_toml;
  // Added to the daemon's environment (e.g. NOTIFY_SOCKET, WATCHDOG_USEC for systemd tests).
  std::vector<std::pair<std::string, std::string>> env;
  // Prepended to the daemon's command line: a program that runs it, with its own arguments (an
  // emulator such as qemu-aarch64, or valgrind). Empty: the daemon is run directly. pid() and
  // signal() then reach the wrapper, which must pass signals on (qemu-user and valgrind both do).
  std::vector<std::string> wrapper;
};

// Writes gateway.toml, the local password file and a data_dir path into a private directory at
// construction; start() runs the daemon with --config. Each start() logs to a new file
// (gateway-1.log, gateway-2.log, ...) so log checks see only the current run. The data_dir
// survives restarts of the daemon (it is what makes epochs grow), not the object.
class GatewayUnderTest {
 public:
  // Throws std::runtime_error if the files cannot be written.
  GatewayUnderTest(std::string daemon_path, GatewaySettings settings);
  ~GatewayUnderTest();  // kills the daemon if it still runs
  GatewayUnderTest(const GatewayUnderTest&) = delete;
  GatewayUnderTest& operator=(const GatewayUnderTest&) = delete;

  // Starts the daemon (throws if one is already running). Does not wait for anything.
  void start();
  // SIGTERM, then waits up to timeout. The exit code; nothing if it is still running (it is
  // then left running for the destructor to kill).
  std::optional<int> terminate(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Waits up to timeout for the daemon to exit on its own (a start that fails). Its exit code;
  // nothing if it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGKILL, then reaps it.
  void kill9();
  bool is_running();
  // The running daemon's pid; -1 when none was started.
  int pid() const;
  // Sends a signal (SIGHUP to reload) without waiting.
  void signal(int sig);
  // Runs fn with the daemon stopped (SIGSTOP): it sends and reads nothing meanwhile (a broker
  // restarting, central subscribing again). SIGCONT afterwards, also when fn throws.
  void held(const std::function<void()>& fn);
  // Replaces the settings and rewrites gateway.toml (a running daemon sees it on SIGHUP).
  void rewrite_config(GatewaySettings settings);

  // Rewrites the local password file (takes effect at the next start()).
  void set_local_password(const std::string& password);

  const GatewaySettings& settings() const { return settings_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& password_file() const { return password_file_; }
  const std::string& profiles_file() const { return profiles_file_; }
  // The control socket xrmctl should use (in the private directory).
  std::string control_socket() const { return dir_.file("control.sock"); }
  const std::string& daemon_path() const { return daemon_path_; }
  const std::string& dir() const { return dir_.path(); }
  // The current (or last) run's stdout+stderr.
  const std::string& log_path() const { return log_path_; }
  std::string log() const;
  bool log_contains(const std::string& text) const;
  std::size_t log_count(const std::string& text) const;
  // Polls the log until it contains text (true) or timeout passes (false).
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const;

 private:
  void write_config();

  std::string daemon_path_;
  GatewaySettings settings_;
  TempDir dir_;
  std::string config_path_;
  std::string data_dir_;
  std::string password_file_;
  std::string profiles_file_;
  std::string log_path_;
  int runs_ = 0;
  std::unique_ptr<Process> process_;
};

// A TOML basic string: "..." with quotes and backslashes escaped.
std::string toml_quote(const std::string& text);

}  // namespace xrm::testing
