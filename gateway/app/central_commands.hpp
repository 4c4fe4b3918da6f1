#pragma once
// Commands from central on the upstream broker (xrm/v1/gw/{gateway}/cmd/{name}, protobuf Command):
// each is checked, run once through the control verbs xrmctl uses (ControlApi), and answered with
// a CommandResult on the request's MQTT 5 response topic (correlation data echoed) or on
// xrm/v1/gw/{gateway}/cmd-res.
//
// Idempotent by request id: a request id is recorded in SQLite (table command_results) before its
// command runs and completed with the result, so a repeated request id (central re-sends after a
// reconnect) is answered from the table and never runs again, across restarts too. A command
// interrupted by a stop is answered ERROR "outcome unknown" afterwards, not run again. Recorded
// ids are kept for `keep_for` and at most `keep_results` of them; an id older than that runs again.
// Device credentials of a provision are never written to disk: a repeat in the same process gets
// them from memory (the last kKeptSecrets), after a restart the result comes without them.
//
// This lives in app/ because it is wiring: it turns one stage's messages (the uplink's) into
// another's requests (the control verbs), like ControlApi does for the socket. Everything here
// belongs to the io thread.
#include <mqtt/message.h>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/control/server.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/store/database.hpp"

namespace xrm::app {

struct CentralCommandsSettings {
  std::string gateway_id;
  std::string version;                            // in ping's answer
  std::chrono::steady_clock::time_point started;  // ping's uptime counts from here
  // How many recent request ids (with their results) are kept, and for how long. A request id
  // re-sent after it left the table runs again; central should give commands an expires_at_ms
  // well inside keep_for.
  std::size_t keep_results = 1000;
  std::chrono::milliseconds keep_for = std::chrono::hours(24);
};

// A received command message: what the MQTT message carried.
struct IncomingCommand {
  std::string topic;
  std::string payload;
  std::string response_topic;    // MQTT 5 Response Topic; empty when there was none
  std::string correlation_data;  // MQTT 5 Correlation Data, echoed in the answer; may be empty

  // The fields of a Paho message (properties only if it came over MQTT 5).
  static IncomingCommand from_message(const ::mqtt::message& msg);
};

class CentralCommands {
 public:
  // An answer to publish at QoS 1: to `topic`, with `correlation_data` when not empty.
  struct Response {
    std::string topic;
    std::string payload;  // a serialized v1::CommandResult
    std::string correlation_data;
  };
  // Publishes a response. Failures are the publisher's to log: the result stays recorded, and
  // central's re-send of the request id gets it.
  using Publish = std::function<void(Response)>;

  // The command names understood, in the order error messages list them.
  static constexpr std::string_view kCommands[] = {"ping", "provision", "link", "retire", "rules.reload"};
  // Provision results whose credentials are held in memory for repeats (never on disk).
  static constexpr std::size_t kKeptSecrets = 100;
  // Longest request id accepted (bytes); longer ones are refused and not recorded.
  static constexpr std::size_t kMaxRequestId = 256;

  struct Counters {
    std::uint64_t received = 0;  // command messages handled
    std::uint64_t ran = 0;       // commands started (ping included)
    std::uint64_t repeated = 0;  // answered from the table (or joined a running one)
    std::uint64_t expired = 0;
    std::uint64_t refused = 0;  // unknown name, malformed, bad request id, name mismatch
    std::uint64_t store_errors = 0;
  };

  // `run` is ControlApi::handle (or a fake); `db` and `clock` must outlive this object.
  CentralCommands(store::Database& db, const Clock& clock, CentralCommandsSettings settings, control::Handler run,
                  Publish publish);
  ~CentralCommands();
  CentralCommands(const CentralCommands&) = delete;
  CentralCommands& operator=(const CentralCommands&) = delete;

  // Answers ERROR "outcome unknown" for the commands a previous process left running, and drops
  // expired rows. Call once, before handle().
  Status load();
  // Handles one command message; the answer is published now or when the command completes.
  void handle(const IncomingCommand& in);

  const Counters& counters() const { return counters_; }

 private:
  struct ReplyTo {
    std::string topic;
    std::string correlation_data;
  };

  ReplyTo reply_to(const IncomingCommand& in) const;
  v1::CommandResult make_result(const std::string& request_id, const std::string& name, v1::CommandStatus status,
                                std::string message) const;
  void send(const ReplyTo& to, const v1::CommandResult& result);
  // Records a result that needs no run (expired, unknown name, ...) and answers it.
  void answer_final(const ReplyTo& to, const v1::CommandResult& result);
  void start(const v1::Command& cmd, const std::string& name, const ReplyTo& to);
  // Runs a command through `run_`; `done` gets its result (now or later).
  void execute(const v1::Command& cmd, const std::string& name, std::function<void(v1::CommandResult)> done);
  void finish(const std::string& request_id, v1::CommandResult result);

  // The table.
  struct Row {
    enum class State { kAbsent, kRunning, kDone } state = State::kAbsent;
    v1::CommandResult result;  // kDone only
  };
  Result<Row> lookup(const std::string& request_id);
  Status insert_running(const std::string& request_id, const std::string& name);
  Status store_result(const v1::CommandResult& result, bool insert);
  Status prune();

  store::Database& db_;
  const Clock& clock_;
  CentralCommandsSettings settings_;
  control::Handler run_;
  Publish publish_;
  Counters counters_;
  // Request ids running now, with everyone waiting for their answer.
  std::map<std::string, std::vector<ReplyTo>> running_;
  // Full provision results (with credentials) by request id, the newest kKeptSecrets.
  std::map<std::string, v1::CommandResult> secrets_;
  std::deque<std::string> secrets_order_;
  // Cleared at destruction: replies that arrive later do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xrm::app
