#pragma once
// Client of Mosquitto's dynamic-security plugin over the gateway's admin connection to the local
// broker: JSON commands published to $CONTROL/dynamic-security/v1, answers read from
// $CONTROL/dynamic-security/v1/response, matched by correlationData. The plugin executes the
// commands of one message in order and answers each; a batch here succeeds when every command did.
// Passwords travel only inside the command payload (over the local connection) and are never logged.
// Runs on the io thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/status.hpp"

namespace xrm::registry {

class DynsecAdmin {
 public:
  static constexpr std::string_view kCommandTopic = "$CONTROL/dynamic-security/v1";
  static constexpr std::string_view kResponseTopic = "$CONTROL/dynamic-security/v1/response";

  // Publishes one message at QoS 1 and reports the outcome (not connected -> unavailable).
  using Send = std::function<void(const std::string& topic, std::string payload, std::function<void(Status)> done)>;

  // One command and the errors it may answer with that still count as success (e.g. "Client not
  // found" when deleting what is already gone).
  struct Command {
    nlohmann::json body;
    std::set<std::string> tolerated_errors;
  };

  DynsecAdmin(boost::asio::io_context& io, Send send, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~DynsecAdmin();
  DynsecAdmin(const DynsecAdmin&) = delete;
  DynsecAdmin& operator=(const DynsecAdmin&) = delete;

  // Sends the commands in one message. `done` runs once on the io thread: ok when every command
  // succeeded; otherwise the first failure, "COMMAND: broker's error" (invalid_argument for a
  // refusal such as "Client already exists", unavailable when the broker is not reachable or does
  // not answer within the timeout).
  void execute(std::vector<Command> commands, std::function<void(Status)> done);
  // The same, and also hands over each command's `data` (null when it had none), in order.
  void execute(std::vector<Command> commands, std::function<void(Status, std::vector<nlohmann::json>)> done);

  // Makes sure `username` (the gateway's own admin client) holds kGatewayRole. Asks first
  // (getClient) and only when the role is missing creates and adds it: Mosquitto then disconnects
  // that client once so it reconnects with the new rights. done(status, granted_now) on the io thread.
  void ensure_gateway_role(const std::string& username, std::function<void(Status, bool)> done);
  // Feeds a message received on kResponseTopic. Unknown or malformed answers are ignored (other
  // admin tools share the topic).
  void handle_response(std::string_view payload);
  // The admin connection was lost: every command waiting for an answer fails now (unavailable)
  // instead of at its timeout.
  void connection_lost();

  std::size_t pending() const { return pending_.size(); }

  // The commands for one device: its own role (publish only its own tele, evt, birth, state,
  // cmd-res; subscribe only its own cmd/#) and its client (username = client id = device id).
  static std::string role_name(std::string_view device);
  // The gateway's own role: publish device commands (xrm/v1/dev/+/cmd/#, escalation actions
  // `command:NAME`). `mosquitto_ctrl dynsec init` makes an admin that may administer the plugin
  // and subscribe to everything, but not publish to device topics. Both commands are idempotent,
  // but adding a role makes Mosquitto disconnect the client (ensure_gateway_role asks first).
  static constexpr std::string_view kGatewayRole = "xrm-gateway-commands";
  static Command create_gateway_role();
  static Command add_gateway_role(std::string_view username);
  static Command create_role(std::string_view device);
  static Command create_client(std::string_view device, std::string_view password, std::string_view description);
  static Command set_password(std::string_view device, std::string_view password);
  static Command delete_client(std::string_view device);
  static Command delete_role(std::string_view device);
  static std::vector<std::string> publish_topics(std::string_view device);
  static std::vector<std::string> subscribe_topics(std::string_view device);

 private:
  struct Pending {
    std::vector<Command> commands;
    std::vector<bool> answered;
    std::size_t remaining = 0;
    Status first_error;
    std::function<void(Status, std::vector<nlohmann::json>)> done;
    std::vector<nlohmann::json> data;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  void finish(std::uint64_t id, Status st);

  boost::asio::io_context& io_;
  Send send_;
  std::chrono::milliseconds timeout_;
  std::uint64_t next_id_ = 1;
  std::string instance_;  // distinguishes our correlation data from other admin clients'
  std::map<std::uint64_t, Pending> pending_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xrm::registry
