#include <CppUTest/TestHarness.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "xrm/common/clock.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/provisioner.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using xrm::Status;
using xrm::registry::Lifecycle;

namespace {

// The provisioner with a fake broker: every dynamic-security message it publishes is kept in
// `sent`; the test answers with respond() as Mosquitto would.
struct Fixture {
  std::string root;
  boost::asio::io_context io;
  xrm::FakeClock clock;
  std::unique_ptr<xrm::store::Database> db;
  std::unique_ptr<xrm::store::GatewayState> state;
  std::unique_ptr<xrm::outbox::Outbox> outbox;
  std::unique_ptr<xrm::registry::Registry> registry;
  std::unique_ptr<xrm::registry::DynsecAdmin> dynsec;
  std::unique_ptr<xrm::registry::Provisioner> prov;
  std::vector<json> sent;
  bool connected = true;

  explicit Fixture(std::chrono::milliseconds timeout = 2s) {
    char tmpl[] = "/tmp/xrm-prov-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    root = tmpl;
    db = std::move(xrm::store::Database::open(root).value());
    state = std::make_unique<xrm::store::GatewayState>(*db);
    outbox = std::make_unique<xrm::outbox::Outbox>(*db, *state, "gw-t", clock);
    registry = std::make_unique<xrm::registry::Registry>(*db, *outbox, clock);
    CHECK(registry->load().is_ok());
    dynsec = std::make_unique<xrm::registry::DynsecAdmin>(
        io,
        [this](const std::string& topic, std::string payload, std::function<void(Status)> done) {
          STRCMP_EQUAL("$CONTROL/dynamic-security/v1", topic.c_str());
          if (!connected) {
            boost::asio::post(io, [done] { done(Status::unavailable("local: not connected")); });
            return;
          }
          sent.push_back(json::parse(payload));
          boost::asio::post(io, [done] { done(Status::ok()); });
        },
        timeout);
    prov = std::make_unique<xrm::registry::Provisioner>(*registry, *dynsec, "gw-t", "tcp://gateway.local:1883");
    prov->set_classes({"chiller", "meter"});
  }
  ~Fixture() { fs::remove_all(root); }

  // Runs whatever is ready. (An io_context that ran out of work stays stopped until restarted.)
  void pump() {
    io.restart();
    io.poll();
  }

  // Answers the last message: every command ok, except those named in `errors` (index -> error).
  void respond(const std::map<std::size_t, std::string>& errors = {}) {
    CHECK(!sent.empty());
    json responses = json::array();
    const auto& cmds = sent.back()["commands"];
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      json r = {{"command", cmds[i]["command"]}, {"correlationData", cmds[i]["correlationData"]}};
      if (auto it = errors.find(i); it != errors.end()) r["error"] = it->second;
      responses.push_back(r);
    }
    dynsec->handle_response(json{{"responses", responses}}.dump());
    pump();
  }

  xrm::Result<xrm::registry::ProvisionResult> provision(const std::string& id, const std::string& cls = "chiller",
                                                       bool rotate = false, bool answer = true) {
    std::optional<xrm::Result<xrm::registry::ProvisionResult>> out;
    prov->provision({id, cls, {"acme", "", "", "", ""}, rotate, "tester"}, [&](auto r) { out = std::move(r); });
    pump();
    if (!out && answer) respond();
    pump();
    CHECK(out.has_value());
    return std::move(*out);
  }
};

}  // namespace

TEST_GROUP(Provisioner){};

TEST(Provisioner, CreatesOwnRoleAndClientThenRegisters) {
  Fixture f;
  auto r = f.provision("pump-1");
  CHECK_TEXT(r.is_ok(), r.status().to_string().c_str());
  CHECK_EQUAL(1u, f.sent.size());
  const auto& cmds = f.sent[0]["commands"];
  CHECK_EQUAL(2u, cmds.size());
  STRCMP_EQUAL("createRole", cmds[0]["command"].get<std::string>().c_str());
  STRCMP_EQUAL("xrm-device-pump-1", cmds[0]["rolename"].get<std::string>().c_str());
  std::set<std::string> pubs;
  std::set<std::string> subs;
  for (const auto& acl : cmds[0]["acls"]) {
    CHECK(acl["allow"].get<bool>());
    (acl["acltype"] == "publishClientSend" ? pubs : subs).insert(acl["topic"].get<std::string>());
  }
  CHECK((pubs == std::set<std::string>{"xrm/v1/dev/pump-1/tele", "xrm/v1/dev/pump-1/evt", "xrm/v1/dev/pump-1/birth",
                                         "xrm/v1/dev/pump-1/state", "xrm/v1/dev/pump-1/cmd-res"}));
  CHECK((subs == std::set<std::string>{"xrm/v1/dev/pump-1/cmd/#"}));
  STRCMP_EQUAL("createClient", cmds[1]["command"].get<std::string>().c_str());
  STRCMP_EQUAL("pump-1", cmds[1]["username"].get<std::string>().c_str());
  STRCMP_EQUAL("pump-1", cmds[1]["clientid"].get<std::string>().c_str());
  const std::string password = cmds[1]["password"].get<std::string>();
  STRCMP_EQUAL(password.c_str(), r->credentials.password.c_str());
  CHECK_EQUAL(32u, password.size());
  STRCMP_EQUAL("tcp://gateway.local:1883", r->credentials.broker_url.c_str());
  STRCMP_EQUAL(("xrm-provision:v1?gw=gw-t&device=pump-1&url=tcp%3A%2F%2Fgateway.local%3A1883&password=" + password).c_str(),
               r->credentials.uri.c_str());
  CHECK(f.registry->find("pump-1") != nullptr);
  CHECK(f.registry->find("pump-1")->lifecycle == Lifecycle::kProvisioned);
  STRCMP_EQUAL("acme", f.registry->find("pump-1")->links.owner.c_str());
}

TEST(Provisioner, PasswordsAreFreshAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string p = xrm::registry::generate_password();
    CHECK_EQUAL(32u, p.size());
    for (char c : p) CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    CHECK(seen.insert(p).second);
  }
}

TEST(Provisioner, InvalidIdsAreRefusedBeforeTheBroker) {
  Fixture f;
  for (const std::string& id : {std::string(), std::string(65, 'a'), std::string("a+b"), std::string("a#"),
                               std::string("a/b"), std::string("a b"), std::string("caf\xc3\xa9")}) {
    auto r = f.provision(id, "chiller", false, false);
    CHECK_FALSE(r.is_ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK(r.status().message().find("device id") != std::string::npos);
  }
  CHECK_EQUAL(0u, f.sent.size());
  CHECK(f.provision(std::string(64, 'a')).is_ok());
}

TEST(Provisioner, UnknownClassIsRefusedNamingTheKnownOnes) {
  Fixture f;
  auto r = f.provision("pump-1", "toaster", false, false);
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK(r.status().message().find("toaster") != std::string::npos);
  CHECK(r.status().message().find("chiller, meter") != std::string::npos);
  CHECK_EQUAL(0u, f.sent.size());
}

TEST(Provisioner, ExistingDeviceNeedsRotate) {
  Fixture f;
  CHECK(f.provision("pump-1").is_ok());
  auto again = f.provision("pump-1", "chiller", false, false);
  CHECK(again.status().code() == Status::Code::kAlreadyExists);
  CHECK(again.status().message().find("--rotate") != std::string::npos);
  CHECK_EQUAL(1u, f.sent.size());
  auto rotated = f.provision("pump-1", "chiller", true);
  CHECK_TEXT(rotated.is_ok(), rotated.status().to_string().c_str());
  CHECK(rotated->rotated);
  CHECK_EQUAL(2u, f.sent.size());
  const auto& cmds = f.sent[1]["commands"];
  CHECK_EQUAL(1u, cmds.size());
  STRCMP_EQUAL("setClientPassword", cmds[0]["command"].get<std::string>().c_str());
  STRCMP_EQUAL(rotated->credentials.password.c_str(), cmds[0]["password"].get<std::string>().c_str());
  auto history = f.registry->history("pump-1", 10);
  STRCMP_EQUAL("credentials", history->back().what.c_str());
}

TEST(Provisioner, RotateOfUnknownDeviceIsNotFound) {
  Fixture f;
  auto r = f.provision("pump-1", "chiller", true, false);
  CHECK(r.status().code() == Status::Code::kNotFound);
}

TEST(Provisioner, BrokerRefusalLeavesRegistryUntouchedAndUndoesTheRole) {
  Fixture f;
  std::optional<xrm::Result<xrm::registry::ProvisionResult>> out;
  f.prov->provision({"pump-1", "chiller", {}, false, "t"}, [&](auto r) { out = std::move(r); });
  f.pump();
  f.respond({{1, "Client already exists"}});
  CHECK(out.has_value());
  CHECK(out->status().code() == Status::Code::kAlreadyExists);
  CHECK(out->status().message().find("Client already exists") != std::string::npos);
  CHECK(f.registry->find("pump-1") == nullptr);
  CHECK_EQUAL(2u, f.sent.size());
  STRCMP_EQUAL("deleteRole", f.sent[1]["commands"][0]["command"].get<std::string>().c_str());
  CHECK_EQUAL(1u, f.sent[1]["commands"].size());  // never the client the broker refused: it may be someone else's
}

TEST(Provisioner, BrokerSilenceTimesOutAsUnavailable) {
  Fixture f(50ms);
  std::optional<xrm::Result<xrm::registry::ProvisionResult>> out;
  f.prov->provision({"pump-1", "chiller", {}, false, "t"}, [&](auto r) { out = std::move(r); });
  for (int i = 0; i < 100 && !out; ++i) {
    f.io.restart();
    f.io.run_for(10ms);
  }
  CHECK(out.has_value());
  CHECK(out->status().code() == Status::Code::kUnavailable);
  CHECK(f.registry->find("pump-1") == nullptr);
  CHECK_EQUAL(1u, f.dynsec->pending());  // only the undo still waits for the broker
  const auto& undo = f.sent.back()["commands"];
  CHECK_EQUAL(2u, undo.size());  // the batch may have succeeded late: both client and role go
  STRCMP_EQUAL("deleteClient", undo[0]["command"].get<std::string>().c_str());
  STRCMP_EQUAL("deleteRole", undo[1]["command"].get<std::string>().c_str());
}

TEST(Provisioner, BrokerNotConnectedIsUnavailable) {
  Fixture f;
  f.connected = false;
  auto r = f.provision("pump-1", "chiller", false, false);
  CHECK(r.status().code() == Status::Code::kUnavailable);
  CHECK(f.registry->find("pump-1") == nullptr);
}

TEST(Provisioner, RetireRevokesThenMarksRetired) {
  Fixture f;
  CHECK(f.provision("pump-1").is_ok());
  std::optional<xrm::Result<Lifecycle>> out;
  f.prov->retire("pump-1", "t", [&](auto r) { out = std::move(r); });
  f.pump();
  CHECK_FALSE(out.has_value());  // waits for the broker
  CHECK(f.registry->find("pump-1")->lifecycle == Lifecycle::kProvisioned);
  const auto& cmds = f.sent.back()["commands"];
  STRCMP_EQUAL("deleteClient", cmds[0]["command"].get<std::string>().c_str());
  STRCMP_EQUAL("deleteRole", cmds[1]["command"].get<std::string>().c_str());
  f.respond({{0, "Client not found"}});  // already gone at the broker: fine
  CHECK(out.has_value());
  CHECK_TEXT(out->is_ok(), out->status().to_string().c_str());
  CHECK(**out == Lifecycle::kProvisioned);
  CHECK(f.registry->find("pump-1")->lifecycle == Lifecycle::kRetired);
}

TEST(Provisioner, RetireFailsCleanlyWhenBrokerIsAway) {
  Fixture f;
  CHECK(f.provision("pump-1").is_ok());
  f.connected = false;
  std::optional<xrm::Result<Lifecycle>> out;
  f.prov->retire("pump-1", "t", [&](auto r) { out = std::move(r); });
  f.pump();
  CHECK(out.has_value());
  CHECK(out->status().code() == Status::Code::kUnavailable);
  CHECK(f.registry->find("pump-1")->lifecycle == Lifecycle::kProvisioned);
}

TEST(Provisioner, OneOperationPerDeviceAtATime) {
  Fixture f;
  std::optional<xrm::Result<xrm::registry::ProvisionResult>> first;
  f.prov->provision({"pump-1", "chiller", {}, false, "t"}, [&](auto r) { first = std::move(r); });
  f.pump();
  auto second = f.provision("pump-1", "chiller", false, false);
  CHECK(second.status().code() == Status::Code::kUnavailable);
  f.respond();
  CHECK(first.has_value());
  CHECK(first->is_ok());
}

TEST(Provisioner, PercentEncodingKeepsOnlyUnreserved) {
  STRCMP_EQUAL("a-b_c.d~e", xrm::registry::percent_encode("a-b_c.d~e").c_str());
  STRCMP_EQUAL("ssl%3A%2F%2Fh%3A8883%2F%3Fx%3D1%26y", xrm::registry::percent_encode("ssl://h:8883/?x=1&y").c_str());
  STRCMP_EQUAL("%C3%A9%20%25", xrm::registry::percent_encode("\xc3\xa9 %").c_str());
}

TEST(Provisioner, ForeignAndMalformedResponsesAreIgnored) {
  Fixture f;
  std::optional<xrm::Result<xrm::registry::ProvisionResult>> out;
  f.prov->provision({"pump-1", "chiller", {}, false, "t"}, [&](auto r) { out = std::move(r); });
  f.pump();
  f.dynsec->handle_response("not json");
  f.dynsec->handle_response(R"({"responses":[{"command":"createClient","correlationData":"other-tool-1"}]})");
  f.dynsec->handle_response(R"({"responses":"x"})");
  f.pump();
  CHECK_FALSE(out.has_value());
  f.respond();
  CHECK(out.has_value());
  CHECK(out->is_ok());
}
