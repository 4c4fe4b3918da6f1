// xrm-tap, the reference central consumer, against the real daemon and a real upstream Mosquitto:
// a technician provisions devices with the real xrmctl (one `lifecycle` record each), and the real
// xrm-tap, run as central would, prints them as JSON lines, acks them and stops by itself.
#include <CppUTest/TestHarness.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gateway_rig.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/cpputest_guard.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/process.hpp"
#include "xrm/testing/subscriber.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::testing::GatewayRig;
using xrm::testing::GatewaySettings;
using xrm::testing::guarded;
using xrm::testing::poll_until;
using xrm::testing::Process;
using xrm::testing::read_file;
using xrm::testing::Subscriber;
using xrm::testing::TempDir;

constexpr const char* kGatewayId = "gw-tap";
// Spelled out from the contract.
const std::string kAckTopic = std::string("xrm/v1/gw/") + kGatewayId + "/ack";

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

}  // namespace

TEST_GROUP(Tap) {
  GatewayRig rig;
  TempDir dir{"xrm-tap-test"};
  std::unique_ptr<Process> tap;

  void setup() override {
    guarded([&] {
      GatewaySettings s;
      s.gateway_id = kGatewayId;
      rig.start(s);
    });
  }
  void teardown() override {
    if (UtestShell::getCurrent()->hasFailed()) print_tap();
    tap.reset();
  }

  std::string out() const { return read_file(dir.file("tap.out")); }
  std::string err() const { return read_file(dir.file("tap.err")); }
  void print_tap() const {
    std::fprintf(stderr, "----- xrm-tap stdout:\n%s\n----- xrm-tap stderr:\n%s\n", out().c_str(), err().c_str());
  }

  // Starts xrm-tap against the upstream broker and waits until it says it is subscribed.
  void start_tap(std::vector<std::string> args) {
    std::vector<std::string> argv{XRM_TAP_PATH, "--url", rig.upstream->url(), "--gateway", kGatewayId};
    argv.insert(argv.end(), args.begin(), args.end());
    tap = std::make_unique<Process>(
        xrm::testing::ProcessOptions{argv, {}, dir.file("tap.out"), dir.file("tap.err"), {}});
    const bool subscribed = poll_until([&] { return err().find("xrm-tap: subscribed to ") != std::string::npos; }, 10s);
    CHECK_TEXT(subscribed, ("xrm-tap did not subscribe: " + err()).c_str());
  }

  void provision(const std::string& device) {
    auto r = rig.ctl({"--json", "provision", device, "--class", "chiller", "--owner", "acme", "--site", "plant-a"});
    CHECK_EQUAL_TEXT(0, r.exit_code, r.describe().c_str());
  }
};

TEST(Tap, PrintsEachRecordAsAJsonLineAcksItAndStopsAtCount) {
  guarded([&] {
    Subscriber central(rig.upstream->url());
    central.subscribe(kAckTopic);
    start_tap({"--count", "3", "--timeout", "20s", "--ack"});
    const std::vector<std::string> devices{"tap-1", "tap-2", "tap-3"};
    for (const auto& d : devices) provision(d);

    const std::optional<int> code = tap->wait_exit(25s);
    CHECK_TEXT(code.has_value(), "xrm-tap did not exit");
    CHECK_EQUAL(0, *code);

    const auto printed = lines(out());
    CHECK_EQUAL_TEXT(3u, printed.size(), out().c_str());
    for (std::size_t i = 0; i < printed.size(); ++i) {
      const json j = json::parse(printed[i], nullptr, false);
      CHECK_TEXT(j.is_object(), printed[i].c_str());
      STRCMP_EQUAL(kGatewayId, j["gateway"].get<std::string>().c_str());
      CHECK_EQUAL(i + 1, j["seq"].get<std::uint64_t>());
      STRCMP_EQUAL("lifecycle", j["kind"].get<std::string>().c_str());
      STRCMP_EQUAL(devices[i].c_str(), j["device"].get<std::string>().c_str());
      STRCMP_EQUAL("chiller", j["profile_class"].get<std::string>().c_str());
      STRCMP_EQUAL("acme", j["stakeholders"]["owner"].get<std::string>().c_str());
      STRCMP_EQUAL("plant-a", j["stakeholders"]["site"].get<std::string>().c_str());
      STRCMP_EQUAL("provisioned", j["lifecycle"]["change"].get<std::string>().c_str());
    }
    CHECK_TEXT(err().find("xrm-tap: summary gw-tap: 3 records, 0 duplicates, missing none") != std::string::npos,
               err().c_str());

    // The Acks (one per batch) cover exactly seqs 1..3, from this gateway, named by the tap.
    std::set<std::uint64_t> acked;
    std::string problems;
    central.wait_for(
        [&](const mqtt::message& m) {
          xrm::v1::Ack ack;
          if (m.get_topic() != kAckTopic || !ack.ParseFromString(m.get_payload_str())) {
            problems += "undecodable message on " + m.get_topic() + "; ";
            return false;
          }
          if (ack.gateway_id() != kGatewayId) problems += "gateway_id " + ack.gateway_id() + "; ";
          if (ack.consumer_id().rfind("xrm-tap-", 0) != 0) problems += "consumer_id " + ack.consumer_id() + "; ";
          if (ack.sent_at_ms() == 0) problems += "no sent_at_ms; ";
          for (const auto& r : ack.ranges()) {
            for (std::uint64_t s = r.first(); s <= r.last() && s < r.first() + 100; ++s) acked.insert(s);
          }
          return acked.size() >= 3;
        },
        10s);
    CHECK_TEXT((acked == std::set<std::uint64_t>{1, 2, 3}), central.describe_seen().c_str());
    STRCMP_EQUAL("", problems.c_str());
  });
}

TEST(Tap, ExitsOneWithASummaryWhenTheTimeoutPassesBeforeCount) {
  guarded([&] {
    start_tap({"--count", "5", "--timeout", "3s"});
    provision("short-1");
    provision("short-2");

    const std::optional<int> code = tap->wait_exit(10s);
    CHECK_TEXT(code.has_value(), "xrm-tap did not exit");
    CHECK_EQUAL(1, *code);
    CHECK_EQUAL_TEXT(2u, lines(out()).size(), out().c_str());
    const std::string e = err();
    CHECK_TEXT(e.find("xrm-tap: timeout after 3s with 2 of 5 records") != std::string::npos, e.c_str());
    CHECK_TEXT(e.find("xrm-tap: summary gw-tap: 2 records, 0 duplicates, missing none") != std::string::npos,
               e.c_str());
  });
}
