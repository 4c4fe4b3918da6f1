// Commands from central (gateway/app/central_commands.cpp). There is no pure parser to call: the
// entry point is CentralCommands::handle, which reads the protobuf Command (or recovers a request
// id from a broken one), checks the response topic, and records the request in SQLite. So this
// drives the real handler over a real store (a temporary directory, the table emptied before each
// input so inputs do not depend on each other) with a fake control handler, after
// IncomingCommand::from_message has read the MQTT 5 properties of a real Paho message.
//
// Input: byte 0 flags (1: send a response topic, 2: the verb fails, 4: the verb answers later,
// 8: the verb throws after answering, 16: the result carries credentials), byte 1 the command name
// (0-5: ping provision link retire rules.reload reboot; more: that many & 31 bytes of name from
// the input), byte 2 and 3 the lengths of the response topic and correlation data, then those,
// then the name bytes, then the payload (the rest).
//
// Checked, with each input handled twice (central re-sending the same message):
// - every answer is a parseable CommandResult for this gateway and the topic's command name, goes
//   to the accepted response topic (never a $-topic, a wildcard or another gateway topic) or to
//   cmd-res, with the correlation data echoed;
// - at most one answer per message; the verb runs at most once per request id;
// - the repeat gets the same answer as the first; no store errors.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mqtt/async_client.h>
#include <mqtt/message.h>
#include <mqtt/properties.h>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <string_view>
#include <vector>

#include "quiet_protobuf.hpp"
#include "central_commands.hpp"
#include <google/protobuf/stubs/logging.h>

#include "fuzz_check.hpp"
#include "xrm/common/clock.hpp"
#include "xrm/common/log.hpp"
#include "xrm/store/database.hpp"

namespace {

using nlohmann::json;
using xrm::app::CentralCommands;
using xrm::app::IncomingCommand;
namespace v1 = xrm::v1;

constexpr const char* kGw = "gw-f";
constexpr std::string_view kNames[] = {"ping", "provision", "link", "retire", "rules.reload", "reboot"};

struct World {
  std::string root;
  std::unique_ptr<xrm::store::Database> db;
  xrm::FakeClock clock;
  std::unique_ptr<::mqtt::async_client> paho;  // see IncomingCommand's unit test: Paho's heap tracking

  World() {
    xrm::log::set_level(xrm::log::Level::kError);
    std::string tmpl = "/tmp/xrm-fuzz-cmd-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) __builtin_trap();
    root = tmpl;
    auto opened = xrm::store::Database::open(root, xrm::store::Database::Sync::kNormal);
    if (!opened.is_ok()) __builtin_trap();
    db = std::move(*opened);
    (void)db->exec("PRAGMA synchronous=OFF;");
    paho = std::make_unique<::mqtt::async_client>("tcp://127.0.0.1:1", "fuzz", ::mqtt::create_options(MQTTVERSION_5),
                                                  nullptr);
  }
  ~World() {
    paho.reset();
    db.reset();
    std::filesystem::remove_all(root);
  }
};

World& world() {
  static World w;
  return w;
}

using Attributes = std::map<std::string, std::string>;

std::string describe(const v1::CommandResult& r) {
  std::string out = r.request_id() + "|" + r.name() + "|" + v1::CommandStatus_Name(r.status()) + "|" + r.message() +
                    "|" + std::to_string(r.completed_at_ms()) + "|" + r.gateway_id() + "|" + r.device_id();
  for (const auto& [k, v] : Attributes(r.data().begin(), r.data().end())) out += "|" + k + "=" + v;
  return out;
}

struct Answer {
  std::string topic;
  std::string correlation;
  v1::CommandResult result;
};

}  // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto flags = static_cast<unsigned char>(in[0]);
  const auto name_sel = static_cast<unsigned char>(in[1]);
  std::size_t pos = 4;
  auto take = [&](std::size_t n) {
    const std::string_view s = in.substr(std::min(pos, in.size()), n);
    pos += s.size();
    return std::string(s);
  };
  const std::string response_topic = take(static_cast<unsigned char>(in[2]));
  const std::string correlation = take(static_cast<unsigned char>(in[3]));
  const std::string name = name_sel < std::size(kNames) ? std::string(kNames[name_sel]) : take(name_sel & 31);
  const std::string payload = take(std::string_view::npos);
  const std::string topic = std::string("xrm/v1/gw/") + kGw + "/cmd/" + name;
  // The broker hands on only UTF-8 topic names (MQTT 1.5.4); Paho requires it too.
  if (!xrm::fuzz::valid_utf8(topic) || topic.find('\0') != std::string::npos) return 0;
  const bool send_response_topic = (flags & 1) != 0 && !response_topic.empty() &&
                                   xrm::fuzz::valid_utf8(response_topic) &&
                                   response_topic.find('\0') == std::string::npos;

  World& w = world();
  if (!w.db->exec("DELETE FROM command_results;").is_ok()) __builtin_trap();

  // The MQTT message as Paho delivers it, and what the daemon makes of it.
  ::mqtt::properties props;
  if (send_response_topic) props.add(::mqtt::property(::mqtt::property::RESPONSE_TOPIC, response_topic));
  if (!correlation.empty()) props.add(::mqtt::property(::mqtt::property::CORRELATION_DATA, correlation));
  const ::mqtt::message msg(topic, payload, 1, false, props);
  const IncomingCommand incoming = IncomingCommand::from_message(msg);
  XRM_FUZZ_CHECK(incoming.topic == topic && incoming.payload == payload, "from_message changed topic or payload");
  XRM_FUZZ_CHECK(incoming.response_topic == (send_response_topic ? response_topic : ""), "response topic");
  XRM_FUZZ_CHECK(incoming.correlation_data == correlation, "correlation data");

  std::vector<Answer> answers;
  int runs = 0;
  std::vector<xrm::control::Reply> deferred;
  auto verbs = [&](xrm::control::Request request, xrm::control::Reply reply) {
    ++runs;
    XRM_FUZZ_CHECK(!request.verb.empty() && request.args.is_object(), "malformed control request");
    XRM_FUZZ_CHECK(request.peer.actor_override.rfind("central", 0) == 0, request.peer.actor_override.c_str());
    if (flags & 4) {
      deferred.push_back(std::move(reply));
      return;
    }
    if (flags & 2) {
      reply(xrm::Status::not_found("device \"x\" is not provisioned"));
    } else {
      json result = {{"device", request.args.value("device", json("pump-1"))}, {"class", "chiller"},
                     {"changed", json::array({"owner"})}, {"rules", 3}, {"file", "/etc/p.toml"}};
      if (flags & 16) result["password"] = "secret", result["uri"] = "xrm://secret";
      reply(result);
    }
    if (flags & 8) throw std::runtime_error("verb failed after answering");
  };
  auto publish = [&](CentralCommands::Response r) {
    Answer a{r.topic, r.correlation_data, {}};
    XRM_FUZZ_CHECK(a.result.ParseFromString(r.payload), "answer is not a CommandResult");
    answers.push_back(std::move(a));
  };

  xrm::app::CentralCommandsSettings settings;
  settings.gateway_id = kGw;
  settings.version = "0.0-fuzz";
  settings.started = w.clock.steady_now();
  auto commands = std::make_unique<CentralCommands>(*w.db, w.clock, settings, verbs, publish);
  XRM_FUZZ_CHECK(commands->load().is_ok(), "load");

  const std::string cmd_res = std::string("xrm/v1/gw/") + kGw + "/cmd-res";
  auto check_answer = [&](const Answer& a) {
    XRM_FUZZ_CHECK(a.correlation == correlation, "correlation data not echoed");
    XRM_FUZZ_CHECK(a.topic == cmd_res || (send_response_topic && a.topic == response_topic), a.topic.c_str());
    XRM_FUZZ_CHECK(!a.topic.empty() && a.topic.front() != '$', a.topic.c_str());
    XRM_FUZZ_CHECK(a.topic.find_first_of("+#") == std::string::npos, a.topic.c_str());
    XRM_FUZZ_CHECK(a.topic.rfind("xrm/v1/gw/", 0) != 0 || a.topic == cmd_res, a.topic.c_str());
    XRM_FUZZ_CHECK(a.result.gateway_id() == kGw, describe(a.result).c_str());
    XRM_FUZZ_CHECK(a.result.name() == name, describe(a.result).c_str());
    XRM_FUZZ_CHECK(a.result.request_id().size() <= CentralCommands::kMaxRequestId, "request id too long");
    XRM_FUZZ_CHECK(a.result.status() != v1::COMMAND_STATUS_UNSPECIFIED, describe(a.result).c_str());
  };

  commands->handle(incoming);
  XRM_FUZZ_CHECK(answers.size() <= 1, "more than one answer to one message");
  XRM_FUZZ_CHECK(runs <= 1, "ran more than once");
  for (const auto& a : answers) check_answer(a);
  const std::size_t first_answers = answers.size();
  if (!answers.empty() && answers[0].result.status() == v1::COMMAND_STATUS_OK && name != "ping") {
    XRM_FUZZ_CHECK(runs == 1, "OK without running");
  }

  commands->handle(incoming);  // central re-sends the same message
  XRM_FUZZ_CHECK(runs <= 1, "a repeated request id ran again");
  XRM_FUZZ_CHECK(answers.size() - first_answers <= 1, "more than one answer to the repeat");
  for (const auto& a : answers) check_answer(a);
  if ((flags & 4) == 0) {
    XRM_FUZZ_CHECK(answers.size() == 2 * first_answers, "first and repeat answered differently");
    if (first_answers == 1) {
      XRM_FUZZ_CHECK(describe(answers[0].result) == describe(answers[1].result),
                     (describe(answers[0].result) + " vs " + describe(answers[1].result)).c_str());
    }
  } else if (!deferred.empty()) {
    // The verb answers now: both waiting messages get the answer, once each.
    const std::size_t before = answers.size();
    deferred.front()(json{{"device", "pump-1"}});
    XRM_FUZZ_CHECK(answers.size() - before == 2, "a waiting repeat was not answered (or answered twice)");
    for (const auto& a : answers) check_answer(a);
    deferred.front()(json{{"device", "again"}});  // a second reply is ignored
    XRM_FUZZ_CHECK(answers.size() - before == 2, "a second reply was published");
  }
  XRM_FUZZ_CHECK(commands->counters().store_errors == 0, "store error");
  commands.reset();
  // A verb that answers after the handler is gone must do nothing.
  if (deferred.size() > 1) deferred.back()(json::object());
  for (auto& d : deferred) d(json::object());
  return 0;
}
