// Commands from central (app/central_commands.hpp) against a real SQLite store and a fake control
// handler: what runs, what is answered where, and that a request id never runs twice.
#include "central_commands.hpp"

#include <CppUTest/TestHarness.h>

#include <mqtt/async_client.h>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "xrm/testing/store_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::Result;
using xrm::Status;
using xrm::app::CentralCommands;
using xrm::app::CentralCommandsSettings;
using xrm::app::IncomingCommand;
namespace v1 = xrm::v1;
namespace control = xrm::control;

constexpr const char* kGw = "gw-t";

// The control verbs as the commands see them: records each request, then answers with `next`
// at once, or keeps the reply for the test to call (deferred).
struct FakeVerbs {
  std::vector<control::Request> requests;
  std::vector<control::Reply> deferred;
  Result<json> next = json{{"device", "pump-1"}};
  bool defer = false;
  bool throw_after_reply = false;

  void operator()(control::Request request, control::Reply reply) {
    requests.push_back(std::move(request));
    if (defer) {
      deferred.push_back(std::move(reply));
      return;
    }
    reply(next);
    if (throw_after_reply) throw std::runtime_error("boom");
  }
};

struct Sent {
  std::string topic;
  v1::CommandResult result;
  std::string correlation_data;
};

std::string command(const std::string& request_id, const std::string& name = "",
                    std::map<std::string, std::string> args = {}) {
  v1::Command c;
  c.set_request_id(request_id);
  c.set_name(name);
  for (const auto& [k, v] : args) (*c.mutable_args())[k] = v;
  c.set_issued_at_ms(1);
  return c.SerializeAsString();
}

// A result as text, map in key order (protobuf serializes maps in no fixed order).
std::string text(const v1::CommandResult& r) {
  std::string out = r.request_id() + "|" + r.name() + "|" + v1::CommandStatus_Name(r.status()) + "|" + r.message() +
                    "|" + std::to_string(r.completed_at_ms()) + "|" + r.gateway_id() + "|" + r.device_id();
  for (const auto& [k, v] : std::map<std::string, std::string>(r.data().begin(), r.data().end())) {
    out += "|" + k + "=" + v;
  }
  return out;
}

std::string describe(const std::vector<Sent>& sent) {
  std::string out;
  for (const auto& s : sent) {
    out += s.topic + ": " + s.result.request_id() + " " + v1::CommandStatus_Name(s.result.status()) + " " +
           s.result.message() + "\n";
  }
  return out.empty() ? "(nothing published)" : out;
}

}  // namespace

TEST_GROUP(CentralCommands) {
  std::unique_ptr<xrm::testing::StoreFixture> store;
  FakeVerbs verbs;
  std::vector<Sent> sent;
  CentralCommandsSettings settings;
  std::unique_ptr<CentralCommands> commands;

  void setup() override {
    store = std::make_unique<xrm::testing::StoreFixture>("cmd");
    settings.gateway_id = kGw;
    settings.version = "9.8.7";
    settings.started = store->clock.steady_now();
    make();
  }
  void teardown() override {
    commands.reset();
    store.reset();
  }

  void make() {
    commands = std::make_unique<CentralCommands>(
        *store->db, store->clock, settings,
        [this](control::Request req, control::Reply reply) { verbs(std::move(req), std::move(reply)); },
        [this](CentralCommands::Response r) {
          Sent s{r.topic, {}, r.correlation_data};
          CHECK_TEXT(s.result.ParseFromString(r.payload), "the answer is not a CommandResult");
          sent.push_back(std::move(s));
        });
    Status st = commands->load();
    CHECK_TEXT(st.is_ok(), st.to_string().c_str());
  }

  // What a daemon restart does: a new object over the reopened database.
  void restart() {
    commands.reset();
    store->close_store();
    store->open_store();
    make();
  }

  void handle(const std::string& name, const std::string& payload, const std::string& response_topic = "",
              const std::string& correlation = "") {
    commands->handle(IncomingCommand{"xrm/v1/gw/gw-t/cmd/" + name, payload, response_topic, correlation});
  }

  const Sent& only_answer() {
    CHECK_EQUAL_TEXT(1, sent.size(), describe(sent).c_str());
    return sent.front();
  }

  std::int64_t rows() {
    auto stmt = store->db->prepare("SELECT count(*) FROM command_results;");
    CHECK(stmt.is_ok());
    CHECK(*stmt->step());
    return stmt->column_int(0);
  }
};

TEST(CentralCommands, PingIsAnsweredOnTheResponseTopicWithItsCorrelationData) {
  store->clock.advance(5s);
  const std::string correlation("\x00\x01zz", 4);  // binary, with a NUL
  handle("ping", command("r-1", "ping"), "central/replies/7", correlation);
  const Sent& s = only_answer();
  STRCMP_EQUAL("central/replies/7", s.topic.c_str());
  CHECK(s.correlation_data == correlation);
  CHECK_EQUAL(v1::COMMAND_STATUS_OK, s.result.status());
  STRCMP_EQUAL("r-1", s.result.request_id().c_str());
  STRCMP_EQUAL("ping", s.result.name().c_str());
  STRCMP_EQUAL(kGw, s.result.gateway_id().c_str());
  STRCMP_EQUAL("gw-t", s.result.data().at("gateway_id").c_str());
  STRCMP_EQUAL("9.8.7", s.result.data().at("version").c_str());
  STRCMP_EQUAL("5000", s.result.data().at("uptime_ms").c_str());
  CHECK_EQUAL(static_cast<std::uint64_t>(store->clock.unix_ms()), s.result.completed_at_ms());
  CHECK_EQUAL(0, verbs.requests.size());  // answered without the control verbs
}

TEST(CentralCommands, WithoutAResponseTopicTheAnswerGoesToCmdRes) {
  handle("ping", command("r-1"));  // the name may be left out of the payload
  const Sent& s = only_answer();
  STRCMP_EQUAL("xrm/v1/gw/gw-t/cmd-res", s.topic.c_str());
  CHECK(s.correlation_data.empty());
  CHECK_EQUAL(v1::COMMAND_STATUS_OK, s.result.status());
}

TEST(CentralCommands, ProvisionRunsTheControlVerbWithJsonArgumentsAndCentralAsTheActor) {
  v1::Command c;
  c.set_request_id("r-p");
  c.set_name("provision");
  c.set_issued_by("ops-console");
  (*c.mutable_args())["device"] = "pump-1";
  (*c.mutable_args())["class"] = "chiller";
  (*c.mutable_args())["owner"] = "acme";
  (*c.mutable_args())["rotate"] = "false";
  verbs.next = json{
      {"device", "pump-1"},           {"class", "chiller"},   {"rotated", false}, {"stakeholders", {{"owner", "acme"}}},
      {"publish_topics", {"a", "b"}}, {"broker_url", nullptr}};
  handle("provision", c.SerializeAsString());
  CHECK_EQUAL(1, verbs.requests.size());
  const control::Request& req = verbs.requests[0];
  STRCMP_EQUAL("provision", req.verb.c_str());
  STRCMP_EQUAL(R"({"class":"chiller","device":"pump-1","owner":"acme","rotate":false})", req.args.dump().c_str());
  STRCMP_EQUAL("central:ops-console", req.peer.actor().c_str());
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_OK, s.result.status());
  STRCMP_EQUAL("device pump-1 provisioned (class chiller)", s.result.message().c_str());
  // The top-level fields as text: strings as they are, everything else as compact JSON.
  STRCMP_EQUAL("pump-1", s.result.data().at("device").c_str());
  STRCMP_EQUAL("false", s.result.data().at("rotated").c_str());
  STRCMP_EQUAL(R"({"owner":"acme"})", s.result.data().at("stakeholders").c_str());
  STRCMP_EQUAL(R"(["a","b"])", s.result.data().at("publish_topics").c_str());
  STRCMP_EQUAL("", s.result.data().at("broker_url").c_str());
}

TEST(CentralCommands, AnUnnamedIssuerIsRecordedAsCentral) {
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(1, verbs.requests.size());
  STRCMP_EQUAL("retire", verbs.requests[0].verb.c_str());
  STRCMP_EQUAL("central", verbs.requests[0].peer.actor().c_str());
}

TEST(CentralCommands, RulesReloadAndLinkMapToTheirVerbs) {
  verbs.next = json{{"file", "/etc/p.toml"}, {"classes", {"chiller"}}, {"rules", 3}};
  handle("rules.reload", command("r-1"));
  verbs.next = json{{"device", "pump-1"}, {"changed", json::array({json{{"field", "owner"}}})}};
  handle("link", command("r-2", "link", {{"device", "pump-1"}, {"owner", "bob"}}));
  CHECK_EQUAL(2, verbs.requests.size());
  STRCMP_EQUAL("rules-reload", verbs.requests[0].verb.c_str());
  STRCMP_EQUAL("{}", verbs.requests[0].args.dump().c_str());
  STRCMP_EQUAL("link", verbs.requests[1].verb.c_str());
  CHECK_EQUAL(2, sent.size());
  STRCMP_EQUAL("rules reloaded from /etc/p.toml (3 rules)", sent[0].result.message().c_str());
  STRCMP_EQUAL(R"(["chiller"])", sent[0].result.data().at("classes").c_str());
  STRCMP_EQUAL("device pump-1: 1 link changed", sent[1].result.message().c_str());
}

TEST(CentralCommands, ARepeatedRequestIdRunsOnceAndGetsTheSameResult) {
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}), "central/a", "c1");
  store->clock.advance(2s);
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}), "central/b", "c2");
  CHECK_EQUAL(1, verbs.requests.size());
  CHECK_EQUAL_TEXT(2, sent.size(), describe(sent).c_str());
  // Each answer goes where its own request asked; the result is the stored one, unchanged.
  STRCMP_EQUAL("central/a", sent[0].topic.c_str());
  STRCMP_EQUAL("central/b", sent[1].topic.c_str());
  STRCMP_EQUAL("c2", sent[1].correlation_data.c_str());
  STRCMP_EQUAL(text(sent[0].result).c_str(), text(sent[1].result).c_str());
  CHECK_EQUAL(1, commands->counters().repeated);
}

TEST(CentralCommands, ARepeatAfterARestartIsAnsweredFromTheTableAndNotRun) {
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}));
  restart();
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(1, verbs.requests.size());
  CHECK_EQUAL_TEXT(2, sent.size(), describe(sent).c_str());
  STRCMP_EQUAL(text(sent[0].result).c_str(), text(sent[1].result).c_str());
}

TEST(CentralCommands, ARepeatWhileTheFirstStillRunsIsAnsweredWhenItCompletes) {
  verbs.defer = true;
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}), "central/a");
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}), "central/b");
  CHECK_EQUAL(1, verbs.requests.size());
  CHECK_EQUAL_TEXT(0, sent.size(), describe(sent).c_str());
  verbs.deferred.at(0)(json{{"device", "pump-1"}, {"previous_lifecycle", "active"}});
  CHECK_EQUAL_TEXT(2, sent.size(), describe(sent).c_str());
  STRCMP_EQUAL("central/a", sent[0].topic.c_str());
  STRCMP_EQUAL("central/b", sent[1].topic.c_str());
  STRCMP_EQUAL("device pump-1 retired (was active)", sent[1].result.message().c_str());
}

TEST(CentralCommands, ACommandInterruptedByAStopIsAnsweredOutcomeUnknownAndNotRunAgain) {
  verbs.defer = true;
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}));
  restart();
  verbs.defer = false;
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(1, verbs.requests.size());
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_ERROR, s.result.status());
  CHECK_TEXT(s.result.message().find("outcome is unknown") != std::string::npos, s.result.message().c_str());
}

TEST(CentralCommands, ARepeatedProvisionGetsItsCredentialsFromMemoryButTheyAreNeverStored) {
  verbs.next = json{
      {"device", "pump-1"}, {"class", "chiller"}, {"password", "s3cret-pw"}, {"uri", "mqtt://pump-1:s3cret-pw@host"}};
  handle("provision", command("r-1", "provision", {{"device", "pump-1"}, {"class", "chiller"}}));
  handle("provision", command("r-1", "provision", {{"device", "pump-1"}, {"class", "chiller"}}));
  CHECK_EQUAL_TEXT(2, sent.size(), describe(sent).c_str());
  STRCMP_EQUAL("s3cret-pw", sent[0].result.data().at("password").c_str());
  STRCMP_EQUAL(text(sent[0].result).c_str(), text(sent[1].result).c_str());
  auto stmt = store->db->prepare("SELECT result FROM command_results;");
  CHECK(stmt.is_ok());
  CHECK(*stmt->step());
  CHECK_TEXT(stmt->column_blob(0).find("s3cret-pw") == std::string::npos, "the password reached the database");
  // After a restart the repeat is answered without them, and says so.
  restart();
  handle("provision", command("r-1", "provision", {{"device", "pump-1"}, {"class", "chiller"}}));
  CHECK_EQUAL(1, verbs.requests.size());
  CHECK_EQUAL(3, sent.size());
  const auto& later = sent[2].result;
  CHECK_EQUAL(v1::COMMAND_STATUS_OK, later.status());
  CHECK(later.data().count("password") == 0);
  CHECK(later.data().count("uri") == 0);
  STRCMP_EQUAL("pump-1", later.data().at("device").c_str());
  CHECK_TEXT(later.message().find("credentials left out") != std::string::npos, later.message().c_str());
}

TEST(CentralCommands, AnExpiredCommandIsAnsweredExpiredAndNotRun) {
  v1::Command c;
  c.set_request_id("r-old");
  c.set_expires_at_ms(static_cast<std::uint64_t>(store->clock.unix_ms()) - 1);
  (*c.mutable_args())["device"] = "pump-1";
  handle("retire", c.SerializeAsString());
  CHECK_EQUAL(0, verbs.requests.size());
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_EXPIRED, s.result.status());
  STRCMP_EQUAL("r-old", s.result.request_id().c_str());
  // One not yet expired runs.
  c.set_request_id("r-new");
  c.set_expires_at_ms(static_cast<std::uint64_t>(store->clock.unix_ms()) + 1000);
  handle("retire", c.SerializeAsString());
  CHECK_EQUAL(1, verbs.requests.size());
}

TEST(CentralCommands, AnUnknownCommandNamesTheKnownOnes) {
  handle("reboot", command("r-1"));
  CHECK_EQUAL(0, verbs.requests.size());
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_UNKNOWN_COMMAND, s.result.status());
  STRCMP_EQUAL("unknown command \"reboot\" (known: ping, provision, link, retire, rules.reload)",
               s.result.message().c_str());
}

TEST(CentralCommands, ANameInThePayloadThatDiffersFromTheTopicIsRejected) {
  handle("ping", command("r-1", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(0, verbs.requests.size());
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, only_answer().result.status());
}

TEST(CentralCommands, VerbErrorsBecomeRejectedOrError) {
  verbs.next = Status::not_found("device ghost is not registered");
  handle("retire", command("r-1", "retire", {{"device", "ghost"}}));
  verbs.next = Status::unavailable("the local broker is not connected");
  handle("retire", command("r-2", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL_TEXT(2, sent.size(), describe(sent).c_str());
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, sent[0].result.status());
  STRCMP_EQUAL("device ghost is not registered", sent[0].result.message().c_str());
  CHECK_EQUAL(v1::COMMAND_STATUS_ERROR, sent[1].result.status());
}

TEST(CentralCommands, ABooleanArgumentThatIsNotTrueOrFalseIsRejectedWithoutRunning) {
  handle("provision", command("r-1", "provision", {{"device", "pump-1"}, {"rotate", "yes"}}));
  CHECK_EQUAL(0, verbs.requests.size());
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  STRCMP_EQUAL("provision: argument \"rotate\" must be true or false", s.result.message().c_str());
}

TEST(CentralCommands, ACommandForADeviceBehindTheGatewayIsRejectedUntilPassThroughExists) {
  v1::Command c;
  c.set_request_id("r-1");
  c.set_device_id("pump-1");
  (*c.mutable_args())["device"] = "pump-1";
  handle("retire", c.SerializeAsString());
  CHECK_EQUAL(0, verbs.requests.size());
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  CHECK_TEXT(s.result.message().find("device_id") != std::string::npos, s.result.message().c_str());
}

TEST(CentralCommands, AThrowingVerbIsAnsweredOnce) {
  verbs.throw_after_reply = true;
  handle("retire", command("r-1", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(v1::COMMAND_STATUS_OK, only_answer().result.status());
}

TEST(CentralCommands, AMalformedPayloadWithAReadableRequestIdIsRejected) {
  // A valid start (request_id), then a length-delimited field 2 that claims more bytes than follow.
  std::string payload = command("r-bad");
  payload += std::string("\x12\x40short", 7);
  handle("ping", payload, "central/r");
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  STRCMP_EQUAL("r-bad", s.result.request_id().c_str());
  CHECK_TEXT(s.result.message().find("not a protobuf xrm.v1.Command") != std::string::npos, s.result.message().c_str());
  CHECK_EQUAL(0, rows());  // nothing to de-duplicate: it never ran
}

TEST(CentralCommands, AJsonPayloadIsRejectedUnderItsRequestId) {
  handle("ping", R"({"request_id":"r-json","name":"ping"})");
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  STRCMP_EQUAL("r-json", s.result.request_id().c_str());
}

TEST(CentralCommands, AMalformedPayloadWithoutARequestIdIsOnlyLogged) {
  handle("ping", std::string("\xff\xff\xff\xff", 4));
  CHECK_EQUAL_TEXT(0, sent.size(), describe(sent).c_str());
  CHECK_EQUAL(1, commands->counters().refused);
}

TEST(CentralCommands, AMissingRequestIdIsRefusedAndAnsweredOnlyToAnMqtt5Requester) {
  handle("ping", command(""));
  CHECK_EQUAL_TEXT(0, sent.size(), describe(sent).c_str());
  handle("ping", command(""), "central/r", "c");
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  STRCMP_EQUAL("c", s.correlation_data.c_str());
}

TEST(CentralCommands, AResponseTopicAmongTheGatewaysOwnTopicsIsNotUsed) {
  handle("ping", command("r-1"), "xrm/v1/gw/gw-t/rec/summary", "c");
  handle("ping", command("r-2"), "central/+/x", "c");
  CHECK_EQUAL_TEXT(2, sent.size(), describe(sent).c_str());
  STRCMP_EQUAL("xrm/v1/gw/gw-t/cmd-res", sent[0].topic.c_str());
  STRCMP_EQUAL("xrm/v1/gw/gw-t/cmd-res", sent[1].topic.c_str());
}

TEST(CentralCommands, RecordedResultsAreBoundedByCountAndAge) {
  settings.keep_results = 3;
  make();
  for (int i = 0; i < 5; ++i) handle("ping", command("r-" + std::to_string(i)));
  CHECK_EQUAL(3, rows());
  store->clock.advance(settings.keep_for + 1s);
  handle("ping", command("r-new"));
  CHECK_EQUAL(1, rows());
  // An id that left the table is new again.
  handle("retire", command("r-0", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(1, verbs.requests.size());
}

TEST(CentralCommands, AMessageOnAnotherTopicIsIgnored) {
  commands->handle(IncomingCommand{"xrm/v1/gw/other/cmd/ping", command("r-1"), "", ""});
  CHECK_EQUAL_TEXT(0, sent.size(), describe(sent).c_str());
}

TEST_GROUP(IncomingCommand){};

TEST(IncomingCommand, ReadsTheResponseTopicAndCorrelationDataOfAnMqtt5Message) {
  // Paho C tracks its heap only once a client exists; without one, freed properties read as leaks.
  ::mqtt::async_client client("tcp://127.0.0.1:1", "unit", ::mqtt::create_options(MQTTVERSION_5), nullptr);
  const std::string correlation("\x00\xff\x01", 3);
  ::mqtt::properties props;
  props.add(::mqtt::property(::mqtt::property::RESPONSE_TOPIC, std::string("central/r/1")));
  props.add(::mqtt::property(::mqtt::property::CORRELATION_DATA, correlation));
  ::mqtt::message msg("xrm/v1/gw/gw-t/cmd/ping", std::string("payload"), 1, false, props);
  IncomingCommand in = IncomingCommand::from_message(msg);
  STRCMP_EQUAL("xrm/v1/gw/gw-t/cmd/ping", in.topic.c_str());
  STRCMP_EQUAL("payload", in.payload.c_str());
  STRCMP_EQUAL("central/r/1", in.response_topic.c_str());
  CHECK(in.correlation_data == correlation);

  IncomingCommand plain = IncomingCommand::from_message(::mqtt::message("t", std::string("p"), 1, false));
  CHECK(plain.response_topic.empty());
  CHECK(plain.correlation_data.empty());
}

// Bad-input matrix (docs/reliability.md): request ids and arguments central should not send.

TEST(CentralCommands, ARequestIdLongerThan256BytesIsRefusedWithoutRunning) {
  const std::string longest(CentralCommands::kMaxRequestId, 'r');
  handle("retire", command(longest + "x", "retire", {{"device", "pump-1"}}), "central/r", "c");
  CHECK_EQUAL(0, verbs.requests.size());
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  STRCMP_EQUAL("", s.result.request_id().c_str());  // not echoed
  STRCMP_EQUAL("retire: request_id is longer than 256 bytes", s.result.message().c_str());
  STRCMP_EQUAL("c", s.correlation_data.c_str());
  CHECK_EQUAL(1, commands->counters().refused);
  CHECK_EQUAL(0, rows());
  // Without a response topic it is only logged.
  handle("retire", command(longest + "x", "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(1, sent.size());
  // 256 bytes is still an id.
  handle("retire", command(longest, "retire", {{"device", "pump-1"}}));
  CHECK_EQUAL(1, verbs.requests.size());
}

TEST(CentralCommands, PingWithAnArgumentIsRejected) {
  handle("ping", command("r-1", "ping", {{"verbose", "1"}}));
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  STRCMP_EQUAL("ping: unknown argument \"verbose\"", s.result.message().c_str());
  CHECK_EQUAL(0, verbs.requests.size());
}

TEST(CentralCommands, AnEmptyPayloadIsACommandWithoutARequestId) {
  // An empty payload is a valid (empty) protobuf Command: refused as having no request id.
  handle("ping", "", "central/r", "c");
  const Sent& s = only_answer();
  CHECK_EQUAL(v1::COMMAND_STATUS_REJECTED, s.result.status());
  STRCMP_EQUAL("ping: request_id is missing", s.result.message().c_str());
  handle("ping", "");
  CHECK_EQUAL(1, sent.size());
  CHECK_EQUAL(2, commands->counters().refused);
  CHECK_EQUAL(0, verbs.requests.size());
}

// Found by tests/fuzz (central_commands, corpus regress_request_id_not_utf8): a broken payload
// whose field 1 has the byte pattern of UTF-8 but is no character ("\xF6\x98\x98\x98" is above
// U+10FFFF) was answered under that request id, and central's protobuf parser refuses such a
// CommandResult (make()'s publisher checks every answer parses). Overlong forms and surrogates are
// refused the same way; a real 4-byte character is still recovered.
TEST(CentralCommands, ARecoveredRequestIdThatIsNotUtf8IsNotEchoed) {
  const std::string broken_tail("\x12\x40short", 7);
  const std::string bad_ids[] = {std::string("\xF6\x98\x98\x98"), std::string("\xF4\x90\x80\x80"),
                                 std::string("\xC0\xAF"), std::string("\xE0\x80\xAF"), std::string("\xED\xA0\x80")};
  for (const std::string& bad : bad_ids) {
    handle("ping", std::string("\x0a") + static_cast<char>(bad.size()) + bad + broken_tail, "central/r");
  }
  CHECK_EQUAL_TEXT(0, sent.size(), describe(sent).c_str());
  CHECK_EQUAL(5, commands->counters().refused);

  handle("ping", std::string("\x0a\x04\xF0\x9F\x98\x80") + broken_tail, "central/r");
  STRCMP_EQUAL("\xF0\x9F\x98\x80", only_answer().result.request_id().c_str());
}
