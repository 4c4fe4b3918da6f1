#include "xrm/testing/gateway_under_test.hpp"

#include <signal.h>

#include <stdexcept>

#include "xrm/testing/poll.hpp"

namespace xrm::testing {

std::string toml_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

GatewayUnderTest::GatewayUnderTest(std::string daemon_path, GatewaySettings settings)
    : daemon_path_(std::move(daemon_path)), settings_(std::move(settings)), dir_("xrm-gateway") {
  config_path_ = dir_.file("gateway.toml");
  data_dir_ = dir_.file("data");
  password_file_ = dir_.file("local.secret");
  profiles_file_ = dir_.file("profiles.toml");
  log_path_ = dir_.file("gateway-0.log");
  set_local_password(settings_.local_password);
  write_config();
}

void GatewayUnderTest::rewrite_config(GatewaySettings settings) {
  settings_ = std::move(settings);
  write_config();
}

int GatewayUnderTest::pid() const { return process_ ? process_->pid() : -1; }

void GatewayUnderTest::signal(int sig) {
  if (process_) process_->kill(sig);
}

void GatewayUnderTest::held(const std::function<void()>& fn) {
  signal(SIGSTOP);
  try {
    fn();
  } catch (...) {
    signal(SIGCONT);
    throw;
  }
  signal(SIGCONT);
}

void GatewayUnderTest::write_config() {
  const auto& s = settings_;
  std::string toml;
  toml += "# written by xrm test support\n";
  toml += "[gateway]\n";
  toml += "id = " + toml_quote(s.gateway_id) + "\n";
  toml += "data_dir = " + toml_quote(data_dir_) + "\n";
  toml += "\n[local]\n";
  toml += "url = " + toml_quote(s.local_url) + "\n";
  toml += "username = " + toml_quote(s.local_username) + "\n";
  // What provisioned devices are told to use (the provisioning URI): the same broker.
  toml += "device_url = " + toml_quote(s.local_url) + "\n";
  toml += "password_file = " + toml_quote(password_file_) + "\n";
  toml += "reconnect_min = " + toml_quote(s.reconnect_min) + "\n";
  toml += "reconnect_max = " + toml_quote(s.reconnect_max) + "\n";
  toml += "\n[upstream]\n";
  toml += "url = " + toml_quote(s.upstream_url) + "\n";
  toml += "keepalive = " + toml_quote(s.upstream_keepalive) + "\n";
  if (!s.upstream_ca_file.empty()) toml += "ca_file = " + toml_quote(s.upstream_ca_file) + "\n";
  if (!s.upstream_cert_file.empty()) toml += "cert_file = " + toml_quote(s.upstream_cert_file) + "\n";
  if (!s.upstream_key_file.empty()) toml += "key_file = " + toml_quote(s.upstream_key_file) + "\n";
  toml += "reconnect_min = " + toml_quote(s.reconnect_min) + "\n";
  toml += "reconnect_max = " + toml_quote(s.reconnect_max) + "\n";
  toml += s.upstream_extra;
  toml += "\n[control]\n";
  toml += "socket = " + toml_quote(dir_.file("control.sock")) + "\n";
  if (!s.control_group.empty()) toml += "group = " + toml_quote(s.control_group) + "\n";
  toml += "\n[health]\n";
  toml += "profiles = " + toml_quote(profiles_file_) + "\n";
  toml += "\n[log]\n";
  toml += "level = " + toml_quote(s.log_level) + "\n";
  toml += s.extra_toml;
  write_file(config_path_, toml);
  write_file(profiles_file_, s.profiles_toml);
}

GatewayUnderTest::~GatewayUnderTest() = default;  // Process's destructor kills and reaps

void GatewayUnderTest::set_local_password(const std::string& password) {
  write_file(password_file_, password + "\n", 0600);
}

void GatewayUnderTest::start() {
  if (process_ && process_->is_running()) throw std::runtime_error("xrm-gatewayd already running");
  log_path_ = dir_.file("gateway-" + std::to_string(++runs_) + ".log");
  // JOURNAL_STREAM would switch the daemon's log to journald's <N> prefixes; systemd's variables
  // are passed only when a test sets them.
  std::vector<std::string> unset;
  for (const char* name : {"JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) {
    bool given = false;
    for (const auto& [key, value] : settings_.env) given |= key == name;
    if (!given) unset.emplace_back(name);
  }
  std::vector<std::string> argv = settings_.wrapper;
  argv.insert(argv.end(), {daemon_path_, "--config", config_path_});
  process_ = std::make_unique<Process>(ProcessOptions{.argv = std::move(argv),
                                                      .env = settings_.env,
                                                      .stdout_path = log_path_,
                                                      .unset_env = unset});
}

std::optional<int> GatewayUnderTest::terminate(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  process_->kill(SIGTERM);
  return process_->wait_exit(timeout);
}

std::optional<int> GatewayUnderTest::wait_exit(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  return process_->wait_exit(timeout);
}

void GatewayUnderTest::kill9() {
  if (!process_) return;
  process_->kill(SIGKILL);
  process_->wait_exit(std::chrono::seconds(5));
}

bool GatewayUnderTest::is_running() { return process_ && process_->is_running(); }

std::string GatewayUnderTest::log() const { return read_file(log_path_); }

bool GatewayUnderTest::log_contains(const std::string& text) const { return log().find(text) != std::string::npos; }

std::size_t GatewayUnderTest::log_count(const std::string& text) const {
  const std::string all = log();
  std::size_t n = 0;
  for (auto pos = all.find(text); pos != std::string::npos; pos = all.find(text, pos + text.size())) ++n;
  return n;
}

bool GatewayUnderTest::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const {
  return poll_until([&] { return log_contains(text); }, timeout);
}

}  // namespace xrm::testing
