#include "xrm/testing/mosquitto.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "xrm/testing/net.hpp"
#include "xrm/testing/poll.hpp"

namespace xrm::testing {
namespace {

// Run as root, Mosquitto drops to user "mosquitto" unless told otherwise; that user could not
// write our log or read our dynsec file. Naming the current user keeps it as it is.
std::string current_user() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
  throw std::runtime_error("cannot find the current user's name");
}

constexpr const char* kGatewayRole = "xrm-gateway-commands";

// What docs/operations.md tells an installer to do after `mosquitto_ctrl dynsec init`: a role
// allowing device commands, held by the gateway's admin client.
void add_gateway_role(const std::string& path, const std::string& admin) {
  nlohmann::json doc = nlohmann::json::parse(read_file(path));
  doc["roles"].push_back({{"rolename", kGatewayRole},
                          {"acls", nlohmann::json::array({{{"acltype", "publishClientSend"},
                                                           {"topic", "xrm/v1/dev/+/cmd/#"},
                                                           {"priority", 0},
                                                           {"allow", true}}})}});
  for (auto& c : doc["clients"]) {
    if (c.value("username", "") == admin) c["roles"].push_back({{"rolename", kGatewayRole}});
  }
  write_file(path, doc.dump(2), 0600);
}

}  // namespace

void Mosquitto::remove_gateway_role() {
  nlohmann::json doc = nlohmann::json::parse(read_file(dynsec_path()));
  auto& roles = doc["roles"];
  roles.erase(std::remove_if(roles.begin(), roles.end(), [](const auto& r) { return r.value("rolename", "") == kGatewayRole; }),
              roles.end());
  for (auto& c : doc["clients"]) {
    auto& cr = c["roles"];
    cr.erase(std::remove_if(cr.begin(), cr.end(), [](const auto& r) { return r.value("rolename", "") == kGatewayRole; }),
             cr.end());
  }
  write_file(dynsec_path(), doc.dump(2), 0600);
}

Mosquitto::Mosquitto(MosquittoTools tools, Flavour flavour, std::string name)
    : tools_(std::move(tools)), flavour_(flavour), name_(std::move(name)), dir_("xrm-mosquitto-" + name_) {
  port_ = free_loopback_port();
  config_path_ = dir_.file("mosquitto.conf");
  log_path_ = dir_.file("mosquitto.log");

  std::string conf;
  conf += "# written by xrm test support for broker '" + name_ + "'\n";
  conf += "user " + current_user() + "\n";
  conf += "persistence false\n";
  conf += "log_dest stderr\n";
  conf += "log_type all\n";
  conf += "log_timestamp_format %Y-%m-%dT%H:%M:%S\n";
  conf += "listener " + std::to_string(port_) + " 127.0.0.1\n";
  if (flavour_ == Flavour::kPlain) {
    conf += "allow_anonymous true\n";
  } else {
    admin_user_ = "xrm-admin";
    admin_password_ = "it-admin-" + std::to_string(port_);
    const std::string dynsec = dir_.file("dynsec.json");
    // mosquitto_ctrl prompts for a password only when none is given; stdin is /dev/null anyway.
    // It exits 0 even when it refuses (file exists), so the file itself is the check.
    Process init({.argv = {tools_.mosquitto_ctrl, "dynsec", "init", dynsec, admin_user_, admin_password_},
                  .stdout_path = dir_.file("mosquitto_ctrl.log")});
    const auto rc = init.wait_exit(std::chrono::seconds(5));
    struct stat st {};
    if (!rc || *rc != 0 || ::stat(dynsec.c_str(), &st) != 0 || st.st_size == 0) {
      throw std::runtime_error("mosquitto_ctrl dynsec init failed (exit " + (rc ? std::to_string(*rc) : "timeout") +
                               "): " + tail_file(dir_.file("mosquitto_ctrl.log")));
    }
    add_gateway_role(dynsec, admin_user_);
    conf += "allow_anonymous false\n";
    conf += "plugin " + tools_.dynsec_plugin + "\n";
    conf += "plugin_opt_config_file " + dynsec + "\n";
  }
  write_file(config_path_, conf);
}

Mosquitto::~Mosquitto() = default;  // Process's destructor kills and reaps

std::string Mosquitto::url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

void Mosquitto::add_config(const std::string& lines) {
  std::string conf = read_file(config_path_);
  conf += "# added with add_config()\n" + lines;
  if (!lines.empty() && lines.back() != '\n') conf += '\n';
  write_file(config_path_, conf);
}

int Mosquitto::add_tls_listener(const std::string& cafile, const std::string& certfile, const std::string& keyfile,
                                bool require_certificate) {
  tls_port_ = free_loopback_port();
  // In Mosquitto 2 these options belong to the listener above them.
  add_config("listener " + std::to_string(tls_port_) + " 127.0.0.1\n" + "cafile " + cafile + "\n" + "certfile " +
             certfile + "\n" + "keyfile " + keyfile + "\n" + "require_certificate " +
             (require_certificate ? "true" : "false") + "\n");
  return tls_port_;
}

std::string Mosquitto::tls_url() const { return tls_port_ == 0 ? "" : "ssl://127.0.0.1:" + std::to_string(tls_port_); }

void Mosquitto::start(std::chrono::milliseconds timeout) {
  if (process_ && process_->is_running()) throw std::runtime_error("mosquitto " + name_ + ": already running");
  process_ = std::make_unique<Process>(
      ProcessOptions{.argv = {tools_.mosquitto, "-c", config_path_}, .stdout_path = log_path_});
  bool exited = false;
  const bool up = poll_until(
      [&] {
        if (!process_->is_running()) {
          exited = true;
          return true;
        }
        return loopback_accepts(port_);
      },
      timeout, 10ms);
  if (exited || !up) {
    const std::string why = exited ? "exited with " + std::to_string(process_->exit_code().value_or(-1))
                                   : "not listening after " + std::to_string(timeout.count()) + " ms";
    process_.reset();
    throw std::runtime_error("mosquitto " + name_ + " on port " + std::to_string(port_) + " " + why + "; log:\n" +
                             tail_file(log_path_));
  }
}

std::optional<int> Mosquitto::stop(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  process_->kill(SIGTERM);
  auto rc = process_->wait_exit(timeout);
  if (!rc) {
    process_->kill(SIGKILL);
    rc = process_->wait_exit(std::chrono::seconds(5));
  }
  process_.reset();
  return rc;
}

void Mosquitto::restart() {
  stop();
  start();
}

void Mosquitto::kill9() {
  if (!process_) return;
  process_->kill(SIGKILL);
  process_->wait_exit(std::chrono::seconds(5));
  process_.reset();
}

bool Mosquitto::is_running() { return process_ && process_->is_running(); }

}  // namespace xrm::testing
