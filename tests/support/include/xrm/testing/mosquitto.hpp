#pragma once
// A real Mosquitto 2 broker for one test: its own config, port and log in a private directory.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "xrm/testing/process.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace xrm::testing {

// Where the broker's programs are; the build passes them in (find_program/find_file).
struct MosquittoTools {
  std::string mosquitto;       // the broker
  std::string mosquitto_ctrl;  // creates the dynamic-security file
  std::string dynsec_plugin;   // mosquitto_dynamic_security.so
};

class Mosquitto {
 public:
  enum class Flavour {
    // Anonymous clients allowed: the upstream (central) broker.
    kPlain,
    // The gateway's device broker: anonymous clients refused, dynamic-security plugin with one
    // admin client (admin_user / admin_password), as in production.
    kLocal,
  };

  // Picks a free loopback port and writes the configuration (and, for kLocal, the dynsec file
  // with mosquitto_ctrl). Does not start the broker. Throws std::runtime_error.
  Mosquitto(MosquittoTools tools, Flavour flavour, std::string name);
  // Kills the broker if it still runs.
  ~Mosquitto();
  Mosquitto(const Mosquitto&) = delete;
  Mosquitto& operator=(const Mosquitto&) = delete;

  // Appends lines to the broker's configuration file (a newline is added if missing); they take
  // effect at the next start() or restart(). Later lines win where Mosquitto lets them: a
  // benchmark can lift `max_queued_messages`, or replace the default `log_type all` with
  // `log_type none` followed by the types it wants. Throws std::runtime_error.
  void add_config(const std::string& lines);

  // Adds a second listener on a free loopback port that speaks TLS only, with this server
  // certificate and key; with require_certificate, clients must present a certificate signed by
  // cafile. The plain listener (url()) stays. Takes effect at the next start(). Returns the port;
  // tls_url() names it. Throws std::runtime_error.
  int add_tls_listener(const std::string& cafile, const std::string& certfile, const std::string& keyfile,
                       bool require_certificate = true);
  // "ssl://127.0.0.1:PORT" of the TLS listener; empty without one.
  std::string tls_url() const;
  int tls_port() const { return tls_port_; }

  // Starts the broker and waits (up to timeout) until it accepts TCP connections. Throws
  // std::runtime_error with the broker's log if it exits or does not listen in time.
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // SIGTERM, then waits for it to exit (SIGKILL after timeout). Returns its exit code.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // stop() then start() on the same port. Nothing retained survives (persistence is off).
  void restart();
  // SIGKILL, then reaps it.
  void kill9();
  bool is_running();

  int port() const { return port_; }
  // "tcp://127.0.0.1:PORT"
  std::string url() const;
  const std::string& name() const { return name_; }
  Flavour flavour() const { return flavour_; }
  // Credentials of the dynamic-security admin client (kLocal only; empty for kPlain).
  const std::string& admin_user() const { return admin_user_; }
  const std::string& admin_password() const { return admin_password_; }
  const std::string& config_path() const { return config_path_; }
  // The dynamic-security file (kLocal only): may be edited before start().
  std::string dynsec_path() const { return dir_.file("dynsec.json"); }
  // kLocal brokers are set up as an installed gateway's broker is (docs/operations.md): the admin
  // client holds the role xrm-gateway-commands, so the gateway may publish device commands and
  // need not grant it itself (which makes Mosquitto drop its connection once). This takes the
  // role away again, for the test of that self-grant. Before start(). Throws std::runtime_error.
  void remove_gateway_role();
  // Broker output (log_type all), appended across restarts.
  const std::string& log_path() const { return log_path_; }

 private:
  MosquittoTools tools_;
  Flavour flavour_;
  std::string name_;
  TempDir dir_;
  int port_ = 0;
  int tls_port_ = 0;
  std::string admin_user_;
  std::string admin_password_;
  std::string config_path_;
  std::string log_path_;
  std::unique_ptr<Process> process_;
};

}  // namespace xrm::testing
