#include "central_commands.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <mqtt/properties.h>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "xrm/common/log.hpp"
#include "xrm/common/topics.hpp"

namespace xrm::app {
namespace {

using nlohmann::json;

// Arguments that the control verbs take as true/false; Command args are all text.
constexpr std::string_view kBooleanArgs[] = {"rotate"};
// What a repeat after a restart gets instead of a provision's credentials.
constexpr const char* kSecretsLeftOut =
    " (credentials left out: they are not kept on disk; provision again with rotate=true for new ones)";

bool is_known(std::string_view name) {
  for (auto k : CentralCommands::kCommands) {
    if (k == name) return true;
  }
  return false;
}

std::string known_list() {
  std::string out;
  for (auto k : CentralCommands::kCommands) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

// Well-formed UTF-8 as protobuf checks it (protobuf strings must be UTF-8, and central's parser
// refuses a CommandResult whose request_id is not): no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF. The byte patterns alone are not enough: "\xF6\x98\x98\x98"
// has them but is no character.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;  // continuation bytes
    // The allowed range of the first continuation byte (the later ones are always 80..BF).
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c < 0x80) {
      n = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte, overlong C0/C1, or F5..FF
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
    }
    i += n + 1;
  }
  return true;
}

// Untrusted text for a log line: control characters replaced, at most 80 bytes.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 80));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (s.size() > 80) out += "...";
  return out;
}

// The request id of a payload that is not a valid Command, if one can be read: field 1 of a
// protobuf that breaks further on, or "request_id" of a JSON object sent by mistake.
std::string recover_request_id(const std::string& payload) {
  std::string id;
  if (!payload.empty() && payload.front() == '{') {
    json j = json::parse(payload, nullptr, false);
    if (j.is_object()) {
      auto it = j.find("request_id");
      if (it != j.end() && it->is_string()) id = it->get<std::string>();
    }
  } else {
    namespace pb = google::protobuf;
    pb::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(payload.data()),
                                static_cast<int>(payload.size()));
    for (;;) {
      const std::uint32_t tag = in.ReadTag();
      if (tag == 0) break;
      if (tag == ((1U << 3) | 2U)) {
        std::uint32_t len = 0;
        if (!in.ReadVarint32(&len) || len > CentralCommands::kMaxRequestId ||
            !in.ReadString(&id, static_cast<int>(len))) {
          id.clear();
        }
        break;
      }
      if (!pb::internal::WireFormatLite::SkipField(&in, tag)) break;
    }
  }
  if (id.size() > CentralCommands::kMaxRequestId || !valid_utf8(id)) id.clear();
  return id;
}

// Where an answer may go: a topic name (no wildcards), not a system topic, and not in the
// gateways' own upstream space other than this gateway's cmd-res (a command must not make the
// gateway publish over its own records or status).
bool acceptable_response_topic(std::string_view topic, std::string_view gateway_id) {
  if (topic.empty() || topic.size() > 1024 || topic.front() == '$') return false;
  if (topic.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) return false;
  if (topic.substr(0, 10) == "xrm/v1/gw/") return topic == topics::gw_command_results(gateway_id);
  return valid_utf8(topic);
}

// Who the device history names for a command: "central" or "central:" + issued_by.
std::string actor_of(const std::string& issued_by) {
  if (issued_by.empty()) return "central";
  std::string by = printable(issued_by.substr(0, 64));
  if (by.size() > 64) by.resize(64);
  return "central:" + by;
}

v1::CommandStatus status_of(const Status& st) {
  switch (st.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound:
    case Status::Code::kAlreadyExists: return v1::COMMAND_STATUS_REJECTED;
    default: return v1::COMMAND_STATUS_ERROR;
  }
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One line saying what a gateway verb did, from its JSON result.
std::string success_message(const std::string& name, const json& r) {
  const std::string device = text(r, "device");
  if (name == "provision") {
    auto rotated = r.find("rotated");
    if (rotated != r.end() && rotated->is_boolean() && rotated->get<bool>()) {
      return "device " + device + ": credentials rotated";
    }
    return "device " + device + " provisioned (class " + text(r, "class") + ")";
  }
  if (name == "link") {
    auto changed = r.find("changed");
    const std::size_t n = changed != r.end() && changed->is_array() ? changed->size() : 0;
    return "device " + device + ": " + std::to_string(n) + (n == 1 ? " link" : " links") + " changed";
  }
  if (name == "retire") return "device " + device + " retired (was " + text(r, "previous_lifecycle") + ")";
  if (name == "rules.reload") {
    auto rules = r.find("rules");
    return "rules reloaded from " + text(r, "file") +
           (rules != r.end() && rules->is_number() ? " (" + rules->dump() + " rules)" : std::string());
  }
  return "done";
}

}  // namespace

IncomingCommand IncomingCommand::from_message(const ::mqtt::message& msg) {
  IncomingCommand in;
  in.topic = msg.get_topic();
  in.payload = msg.get_payload();
  const auto& props = msg.get_properties();
  try {
    if (props.contains(::mqtt::property::RESPONSE_TOPIC)) {
      in.response_topic = ::mqtt::get<std::string>(props, ::mqtt::property::RESPONSE_TOPIC);
    }
    if (props.contains(::mqtt::property::CORRELATION_DATA)) {
      in.correlation_data = ::mqtt::get<std::string>(props, ::mqtt::property::CORRELATION_DATA);
    }
  } catch (const std::exception& e) {
    XRM_WARN << "central command on " << printable(in.topic) << ": unreadable MQTT 5 properties: " << e.what();
  }
  return in;
}

CentralCommands::CentralCommands(store::Database& db, const Clock& clock, CentralCommandsSettings settings,
                                 control::Handler run, Publish publish)
    : db_(db), clock_(clock), settings_(std::move(settings)), run_(std::move(run)), publish_(std::move(publish)) {}

CentralCommands::~CentralCommands() { *alive_ = false; }

Status CentralCommands::load() {
  std::vector<std::pair<std::string, std::string>> interrupted;
  {
    auto stmt = db_.prepare("SELECT request_id, name FROM command_results WHERE result IS NULL ORDER BY id;");
    if (!stmt) return stmt.status();
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.status();
      if (!*row) break;
      interrupted.emplace_back(stmt->column_text(0), stmt->column_text(1));
    }
  }
  for (const auto& [id, name] : interrupted) {
    auto r = make_result(id, name, v1::COMMAND_STATUS_ERROR,
                         name + ": the gateway stopped while this command ran; its outcome is unknown (not run again)");
    if (Status st = store_result(r, false); !st) return st;
  }
  if (!interrupted.empty()) {
    XRM_WARN << "central commands: " << interrupted.size()
             << " command(s) were running at the last stop; their outcome is unknown and they will not run again";
  }
  return prune();
}

CentralCommands::ReplyTo CentralCommands::reply_to(const IncomingCommand& in) const {
  if (!in.response_topic.empty()) {
    if (acceptable_response_topic(in.response_topic, settings_.gateway_id)) {
      return {in.response_topic, in.correlation_data};
    }
    XRM_WARN << "central command on " << printable(in.topic) << ": response topic \"" << printable(in.response_topic)
             << "\" refused (wildcard, $-topic or another gateway topic); answering on "
             << topics::gw_command_results(settings_.gateway_id);
  }
  return {topics::gw_command_results(settings_.gateway_id), in.correlation_data};
}

v1::CommandResult CentralCommands::make_result(const std::string& request_id, const std::string& name,
                                               v1::CommandStatus status, std::string message) const {
  v1::CommandResult r;
  r.set_request_id(request_id);
  r.set_name(name);
  r.set_status(status);
  r.set_message(std::move(message));
  r.set_gateway_id(settings_.gateway_id);
  r.set_completed_at_ms(static_cast<std::uint64_t>(clock_.unix_ms()));
  return r;
}

void CentralCommands::send(const ReplyTo& to, const v1::CommandResult& result) {
  XRM_INFO << "central command " << printable(result.name()) << " (request " << printable(result.request_id())
           << "): " << v1::CommandStatus_Name(result.status()) << ": " << printable(result.message()) << "; answer to "
           << printable(to.topic);
  if (publish_) publish_(Response{to.topic, result.SerializeAsString(), to.correlation_data});
}

void CentralCommands::handle(const IncomingCommand& in) {
  ++counters_.received;
  const auto topic_name = topics::gw_command_name(settings_.gateway_id, in.topic);
  if (!topic_name) {
    XRM_WARN << "central commands: message on " << printable(in.topic) << " is not a command topic of gateway "
             << settings_.gateway_id << "; ignored";
    return;
  }
  const std::string name(*topic_name);
  const ReplyTo to = reply_to(in);

  v1::Command cmd;
  if (!cmd.ParseFromString(in.payload)) {
    ++counters_.refused;
    const std::string id = recover_request_id(in.payload);
    const std::string why = "payload on " + in.topic + " (" + std::to_string(in.payload.size()) +
                            " bytes) is not a protobuf xrm.v1.Command";
    if (id.empty()) {
      XRM_WARN << "central command: " << printable(why) << " and has no readable request id; not answered";
      return;
    }
    send(to, make_result(id, name, v1::COMMAND_STATUS_REJECTED, why));
    return;
  }
  const std::string& id = cmd.request_id();
  if (id.empty() || id.size() > kMaxRequestId) {
    ++counters_.refused;
    const std::string why = name + ": request_id is " +
                            (id.empty() ? "missing" : "longer than " + std::to_string(kMaxRequestId) + " bytes");
    XRM_WARN << "central command on " << printable(in.topic) << ": " << why
             << (in.response_topic.empty() ? "; not answered" : "");
    // Without an id only an MQTT 5 requester can match an answer (by its correlation data).
    if (!in.response_topic.empty())
      send(to, make_result(id.size() > kMaxRequestId ? "" : id, name, v1::COMMAND_STATUS_REJECTED, why));
    return;
  }

  auto row = lookup(id);
  if (!row) {
    ++counters_.store_errors;
    send(to, make_result(id, name, v1::COMMAND_STATUS_ERROR,
                         name + ": cannot read the command table (" + row.status().message() + "); not run"));
    return;
  }
  if (row->state != Row::State::kAbsent) {
    ++counters_.repeated;
    if (auto waiting = running_.find(id); waiting != running_.end()) {
      waiting->second.push_back(to);  // answered when the first one completes
      return;
    }
    if (row->state == Row::State::kDone) {
      auto secret = secrets_.find(id);
      send(to, secret != secrets_.end() ? secret->second : row->result);
    } else {
      // Recorded as running but not running here: load() was not called or failed.
      send(to, make_result(id, name, v1::COMMAND_STATUS_ERROR,
                           name + ": this request id was started before and its outcome is unknown (not run again)"));
    }
    return;
  }

  if (!cmd.name().empty() && cmd.name() != name) {
    ++counters_.refused;
    answer_final(to, make_result(id, name, v1::COMMAND_STATUS_REJECTED,
                                 "command name \"" + cmd.name() + "\" in the payload differs from \"" + name +
                                     "\" in the topic"));
    return;
  }
  const auto now_ms = static_cast<std::uint64_t>(clock_.unix_ms());
  if (cmd.has_expires_at_ms() && cmd.expires_at_ms() < now_ms) {
    ++counters_.expired;
    answer_final(to, make_result(id, name, v1::COMMAND_STATUS_EXPIRED,
                                 name + ": expired " + std::to_string(now_ms - cmd.expires_at_ms()) +
                                     " ms ago (expires_at_ms " + std::to_string(cmd.expires_at_ms()) + "); not run"));
    return;
  }
  if (!is_known(name)) {
    ++counters_.refused;
    answer_final(to, make_result(id, name, v1::COMMAND_STATUS_UNKNOWN_COMMAND,
                                 "unknown command \"" + name + "\" (known: " + known_list() + ")"));
    return;
  }
  start(cmd, name, to);
}

void CentralCommands::answer_final(const ReplyTo& to, const v1::CommandResult& result) {
  if (Status st = store_result(result, true); !st) {
    ++counters_.store_errors;
    XRM_ERROR << "central commands: result of request " << printable(result.request_id())
              << " not recorded: " << st.message();
  }
  send(to, result);
}

void CentralCommands::start(const v1::Command& cmd, const std::string& name, const ReplyTo& to) {
  const std::string& id = cmd.request_id();
  // Recorded before it runs: if we stop halfway, a repeat must not run it a second time.
  if (Status st = insert_running(id, name); !st) {
    ++counters_.store_errors;
    send(to, make_result(id, name, v1::COMMAND_STATUS_ERROR,
                         name + ": cannot record the command (" + st.message() + "); not run"));
    return;
  }
  ++counters_.ran;
  running_[id].push_back(to);
  execute(cmd, name, [this, alive = std::weak_ptr<bool>(alive_), id](v1::CommandResult r) {
    auto a = alive.lock();
    if (!a || !*a) return;
    finish(id, std::move(r));
  });
}

void CentralCommands::execute(const v1::Command& cmd, const std::string& name,
                              std::function<void(v1::CommandResult)> done) {
  const std::string& id = cmd.request_id();
  auto refuse = [&](const std::string& why) { done(make_result(id, name, v1::COMMAND_STATUS_REJECTED, why)); };
  // device_id means "pass this on to the device" (docs/contract.md), which the gateway does not do
  // yet; gateway commands name their device in args["device"]. Refused rather than guessed, so the
  // meaning stays free for the pass-through.
  if (!cmd.device_id().empty()) {
    return refuse(name +
                  ": device_id is set, but passing commands on to devices is not supported yet "
                  "(gateway commands name their device in the argument \"device\")");
  }
  if (name == "ping") {
    if (!cmd.args().empty()) return refuse("ping: unknown argument \"" + cmd.args().begin()->first + "\"");
    const auto uptime =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - settings_.started).count();
    auto r = make_result(id, name, v1::COMMAND_STATUS_OK,
                         "gateway " + settings_.gateway_id + " is up (xrm-gatewayd " + settings_.version + ", " +
                             std::to_string(uptime / 1000) + " s)");
    auto& data = *r.mutable_data();
    data["gateway_id"] = settings_.gateway_id;
    data["version"] = settings_.version;
    data["uptime_ms"] = std::to_string(uptime);
    return done(std::move(r));
  }

  control::Request request;
  request.verb = name == "rules.reload" ? "rules-reload" : name;
  request.args = json::object();
  for (const auto& [key, value] : cmd.args()) {
    bool boolean = false;
    for (auto b : kBooleanArgs) boolean = boolean || b == key;
    if (!boolean) {
      request.args[key] = value;
    } else if (value == "true" || value == "false") {
      request.args[key] = value == "true";
    } else {
      return refuse(name + ": argument \"" + key + "\" must be true or false");
    }
  }
  request.peer.actor_override = actor_of(cmd.issued_by());

  // Exactly one answer, whether the verb replies, throws, or both.
  auto answered = std::make_shared<bool>(false);
  control::Reply reply = [this, alive = std::weak_ptr<bool>(alive_), answered, id, name, done](Result<json> r) {
    auto a = alive.lock();
    if (!a || !*a || *answered) return;
    *answered = true;
    if (!r) return done(make_result(id, name, status_of(r.status()), r.status().message()));
    const json& value = *r;
    auto result = make_result(id, name, v1::COMMAND_STATUS_OK, success_message(name, value));
    auto& data = *result.mutable_data();
    if (value.is_object()) {
      for (const auto& [key, field] : value.items()) {
        data[key] = field.is_string() ? field.get<std::string>() : field.is_null() ? std::string() : field.dump();
      }
    } else {
      data["result"] = value.dump();
    }
    done(std::move(result));
  };
  try {
    run_(std::move(request), reply);
  } catch (const std::exception& e) {
    if (!*answered) {
      *answered = true;
      done(make_result(id, name, v1::COMMAND_STATUS_ERROR, name + ": internal error: " + e.what()));
    }
  }
}

void CentralCommands::finish(const std::string& request_id, v1::CommandResult result) {
  // Device credentials stay in memory only (see the header).
  v1::CommandResult stored = result;
  bool secret = false;
  for (const char* key : {"password", "uri"}) secret = stored.mutable_data()->erase(key) > 0 || secret;
  if (secret) {
    stored.set_message(stored.message() + kSecretsLeftOut);
    secrets_[request_id] = result;
    secrets_order_.push_back(request_id);
    while (secrets_order_.size() > kKeptSecrets) {
      secrets_.erase(secrets_order_.front());
      secrets_order_.pop_front();
    }
  }
  if (Status st = store_result(stored, false); !st) {
    ++counters_.store_errors;
    XRM_ERROR << "central commands: result of request " << printable(request_id) << " not recorded: " << st.message();
  }
  if (Status st = prune(); !st) {
    XRM_WARN << "central commands: old results not removed: " << st.message();
  }
  std::vector<ReplyTo> waiting;
  if (auto it = running_.find(request_id); it != running_.end()) {
    waiting = std::move(it->second);
    running_.erase(it);
  }
  for (const auto& to : waiting) send(to, result);
}

Result<CentralCommands::Row> CentralCommands::lookup(const std::string& request_id) {
  auto stmt = db_.prepare("SELECT result FROM command_results WHERE request_id = ?1;");
  if (!stmt) return stmt.status();
  stmt->bind(1, request_id);
  auto found = stmt->step();
  if (!found) return found.status();
  Row row;
  if (!*found) return row;
  if (stmt->column_is_null(0)) {
    row.state = Row::State::kRunning;
    return row;
  }
  if (!row.result.ParseFromString(stmt->column_blob(0))) {
    return Status::corruption("command_results: the result of request " + printable(request_id) + " does not parse");
  }
  row.state = Row::State::kDone;
  return row;
}

Status CentralCommands::insert_running(const std::string& request_id, const std::string& name) {
  auto stmt = db_.prepare("INSERT INTO command_results(request_id, name, received_ms) VALUES(?1, ?2, ?3);");
  if (!stmt) return stmt.status();
  stmt->bind(1, request_id).bind(2, name).bind(3, clock_.unix_ms());
  return stmt->run();
}

Status CentralCommands::store_result(const v1::CommandResult& result, bool insert) {
  auto stmt = db_.prepare(insert ? "INSERT INTO command_results(request_id, name, received_ms, done_ms, result) "
                                   "VALUES(?1, ?2, ?3, ?3, ?4);"
                                 : "UPDATE command_results SET done_ms = ?3, result = ?4 WHERE request_id = ?1;");
  if (!stmt) return stmt.status();
  stmt->bind(1, result.request_id()).bind(2, result.name()).bind(3, clock_.unix_ms());
  stmt->bind_blob(4, result.SerializeAsString());
  return stmt->run();
}

Status CentralCommands::prune() {
  auto stmt = db_.prepare(
      "DELETE FROM command_results WHERE result IS NOT NULL AND (done_ms < ?1 OR id <= "
      "(SELECT id FROM command_results ORDER BY id DESC LIMIT 1 OFFSET ?2));");
  if (!stmt) return stmt.status();
  stmt->bind(1, clock_.unix_ms() - settings_.keep_for.count());
  stmt->bind(2, static_cast<std::int64_t>(settings_.keep_results));
  return stmt->run();
}

}  // namespace xrm::app
