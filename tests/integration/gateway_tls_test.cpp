// TLS to the upstream broker: a CA, a server certificate for 127.0.0.1 and a client certificate
// are made at test time with the openssl command line; the upstream Mosquitto gets a second
// listener that speaks TLS only and requires a client certificate from that CA. The real daemon
// connects to ssl://127.0.0.1:PORT with upstream.ca_file / cert_file / key_file, and its retained
// status reaches a subscriber on the broker's plain listener. With a CA that did not sign the
// server's certificate, or without a client certificate, it does not connect and says why.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <memory>
#include <string>

#include "gateway_rig.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/net.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/status.hpp"
#include "xrm/testing/subscriber.hpp"
#include "xrm/testing/test_pki.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::GatewayUnderTest;
using xrm::testing::guarded;
using xrm::testing::Mosquitto;
using xrm::testing::Subscriber;
using xrm::testing::TestPki;

constexpr auto kWait = 5s;
// A failed TLS attempt takes Paho about a second; two of them with the backoff between.
constexpr auto kSlowWait = 10s;
constexpr const char* kGatewayId = "gw-tls";

std::string status_topic() { return std::string("xrm/v1/gw/") + kGatewayId + "/status"; }

}  // namespace

TEST_GROUP(Tls) {
  GatewayRig rig;  // for its teardown and the logs of a failed test
  std::unique_ptr<TestPki> pki;
  std::unique_ptr<Subscriber> central;

  void setup() override {
    guarded([&] { pki = std::make_unique<TestPki>(XRM_OPENSSL_PATH); });
  }
  void teardown() override { central.reset(); }

  // Both brokers (the upstream one with its TLS listener) and the daemon pointed at the TLS
  // listener with these files; a subscriber on the plain listener watches the status topic.
  void start(const std::string& ca_file, const std::string& cert_file, const std::string& key_file) {
    guarded([&] {
      rig.upstream =
          std::make_unique<Mosquitto>(xrm::testing::mosquitto_tools(), Mosquitto::Flavour::kPlain, "upstream");
      rig.local = std::make_unique<Mosquitto>(xrm::testing::mosquitto_tools(), Mosquitto::Flavour::kLocal, "local");
      rig.upstream->add_tls_listener(pki->ca_cert(), pki->server_cert(), pki->server_key(), true);
      rig.upstream->start();
      rig.local->start();
      CHECK_TEXT(
          xrm::testing::poll_until([&] { return xrm::testing::loopback_accepts(rig.upstream->tls_port()); }, kWait),
          "the TLS listener does not accept connections");
      central = std::make_unique<Subscriber>(rig.upstream->url());
      central->subscribe(status_topic());

      GatewaySettings s;
      s.gateway_id = kGatewayId;
      s.log_level = "info";
      s.local_url = rig.local->url();
      s.local_username = rig.local->admin_user();
      s.local_password = rig.local->admin_password();
      s.upstream_url = rig.upstream->tls_url();
      s.upstream_ca_file = ca_file;
      s.upstream_cert_file = cert_file;
      s.upstream_key_file = key_file;
      rig.gateway = std::make_unique<GatewayUnderTest>(XRM_GATEWAYD_PATH, s);
      rig.gateway->start();
      CHECK_TEXT(rig.gateway->wait_for_log("local: connected", kWait), "gateway did not connect to the local broker");
    });
  }

  // The first status the subscriber sees within `timeout`; nullptr if none.
  mqtt::const_message_ptr await_status(std::chrono::milliseconds timeout) {
    return central->wait_for([](const mqtt::message& m) { return m.get_topic() == status_topic(); }, timeout);
  }

  // The upstream connection as `xrmctl status --json` shows it.
  json upstream_connection() { return rig.ctl_json({"status"})["connections"]["upstream"]; }

  // Waits until the gateway has failed to connect upstream at least twice, then checks it never
  // connected, no status arrived and the log's warning names the URL and `problem`.
  void expect_refused(const std::string& problem) {
    const std::string failed = "upstream: " + rig.upstream->tls_url() + ": connect failed: ";
    CHECK_TEXT(xrm::testing::poll_until([&] { return rig.gateway->log_count(failed) >= 2; }, kSlowWait),
               ("no failed connection attempt logged; log:\n" + rig.gateway->log()).c_str());
    CHECK_FALSE_TEXT(rig.gateway->log_contains("upstream: connected"), rig.gateway->log().c_str());
    STRCMP_CONTAINS((failed + problem).c_str(), rig.gateway->log().c_str());
    CHECK_TEXT(await_status(500ms) == nullptr, central->describe_seen(xrm::testing::describe_status_message).c_str());
    const json up = upstream_connection();
    CHECK_FALSE_TEXT(up["connected"].get<bool>(), up.dump().c_str());
  }
};

TEST(Tls, GatewayConnectsWithItsClientCertificateAndItsStatusArrives) {
  start(pki->ca_cert(), pki->client_cert(), pki->client_key());
  auto msg = await_status(kWait);
  CHECK_TEXT(msg != nullptr, ("no status upstream; gateway log:\n" + rig.gateway->log()).c_str());
  const auto st = xrm::testing::decode_status(msg->get_payload());
  CHECK_TEXT(st.online(), xrm::testing::describe_status(st).c_str());
  CHECK_TRUE(msg->is_retained() || msg->get_qos() == 1);
  CHECK_TEXT(rig.gateway->log_contains("upstream: connected to " + rig.upstream->tls_url()),
             rig.gateway->log().c_str());
  const json up = upstream_connection();
  CHECK_TEXT(up["connected"].get<bool>(), up.dump().c_str());
  STRCMP_EQUAL(rig.upstream->tls_url().c_str(), up["url"].get<std::string>().c_str());
  // A subscriber arriving later gets it retained: the broker stored what came over TLS.
  Subscriber late(rig.upstream->url());
  late.subscribe(status_topic());
  auto retained = late.wait_for([](const mqtt::message& m) { return m.get_topic() == status_topic(); }, kWait);
  CHECK_TEXT(retained != nullptr && retained->is_retained(), late.describe_seen().c_str());
}

TEST(Tls, WrongCaIsRefused) {
  start(pki->other_ca_cert(), pki->client_cert(), pki->client_key());
  expect_refused("");
  // The broker saw the handshake fail: the gateway did not accept its certificate.
  CHECK_TEXT(xrm::testing::poll_until(
                 [&] {
                   return xrm::testing::read_file(rig.upstream->log_path()).find("tlsv1 alert unknown ca") !=
                          std::string::npos;
                 },
                 kWait),
             xrm::testing::tail_file(rig.upstream->log_path()).c_str());
}

// The warning names OpenSSL's reason (Paho's ssl error handler), not just "no connection". Paho
// C++ 1.2 points that handler's context at the options parameter of async_client::connect(), so
// the daemon keeps that parameter alive until the attempt completes (connection.cpp,
// start_connect); run under ASan, a failed handshake here would show it if it did not.
TEST(Tls, WrongCaLogNamesTheTlsProblem) {
  start(pki->other_ca_cert(), pki->client_cert(), pki->client_key());
  expect_refused("TLS: certificate verify failed");
}

TEST(Tls, MissingClientCertificateIsRefused) {
  start(pki->ca_cert(), "", "");
  expect_refused("");
  // Only the broker knows why (TLS 1.3 refuses the client after its handshake): its log says so.
  CHECK_TEXT(xrm::testing::poll_until(
                 [&] {
                   return xrm::testing::read_file(rig.upstream->log_path()).find("peer did not return a certificate") !=
                          std::string::npos;
                 },
                 kWait),
             xrm::testing::tail_file(rig.upstream->log_path()).c_str());
}
