#include <CppUTest/TestHarness.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>
#include <cstdio>

#include "xrm/common/units.hpp"
#include "xrmctl/cli.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using namespace xrm::xrmctl;
using xrm::device_id_error;
using xrm::Status;

TEST_GROUP(ExitCode){};

TEST(ExitCode, RefusedRequestsAreUsageErrorsTheRestFailures) {
  CHECK_EQUAL(0, exit_code(Status::Code::kOk));
  CHECK_EQUAL(2, exit_code(Status::Code::kInvalidArgument));
  CHECK_EQUAL(2, exit_code(Status::Code::kNotFound));
  CHECK_EQUAL(2, exit_code(Status::Code::kAlreadyExists));
  CHECK_EQUAL(1, exit_code(Status::Code::kUnavailable));
  CHECK_EQUAL(1, exit_code(Status::Code::kInternal));
  CHECK_EQUAL(1, exit_code(Status::Code::kIoError));
  CHECK_EQUAL(1, exit_code(Status::Code::kCorruption));
}

TEST_GROUP(DeviceId){};

TEST(DeviceId, MessageNamesTheIdAndTheReason) {
  STRCMP_EQUAL("", device_id_error("pump-17").c_str());
  STRCMP_EQUAL("device id \"a b\": has character 0x20 at position 2 (allowed: A-Z a-z 0-9 . _ -)",
               device_id_error("a b").c_str());
  STRCMP_EQUAL("device id \"\": is empty", device_id_error("").c_str());
  STRCMP_CONTAINS("65 characters long", device_id_error(std::string(65, 'x')).c_str());
}

namespace {

// Runs xrmctl with args against a fake daemon that records each request and answers with reply.
struct Harness {
  std::vector<Request> requests;
  xrm::Result<json> reply = json::object();
  xrm::FakeClock clock;
  std::ostringstream out;
  std::ostringstream err;

  int run(std::vector<std::string> args) {
    args.insert(args.begin(), "xrmctl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    const Transport send = [this](const Request& r) {
      requests.push_back(r);
      return reply;
    };
    return xrm::xrmctl::run(static_cast<int>(argv.size()), argv.data(), send, clock, out, err);
  }
  const Request& only_request() {
    CHECK_EQUAL(1U, requests.size());
    return requests.front();
  }
};

}  // namespace

TEST_GROUP(Cli) {
  Harness h;
  void setup() override { unsetenv("XRMCTL_SOCKET"); }
  void teardown() override { unsetenv("XRMCTL_SOCKET"); }
};

TEST(Cli, GlobalOptionsGoBeforeOrAfterTheVerb) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--json", "--socket", "/tmp/a.sock", "devices", "--timeout", "500ms"},
                                             {"devices", "--json", "--socket=/tmp/a.sock", "--timeout=500ms"}}) {
    Harness one;
    one.reply = json{{"devices", json::array()}};
    CHECK_EQUAL(0, one.run(args));
    const Request& r = one.only_request();
    STRCMP_EQUAL("devices", r.verb.c_str());
    STRCMP_EQUAL("/tmp/a.sock", r.socket.c_str());
    CHECK(r.args == json::object());
    CHECK(r.timeout == 500ms);
    CHECK(json::parse(one.out.str()) == one.reply.value());
    STRCMP_EQUAL("", one.err.str().c_str());
  }
}

TEST(Cli, SocketDefaultsToTheEnvironmentThenTheRunDirectory) {
  CHECK_EQUAL(0, h.run({"status"}));
  setenv("XRMCTL_SOCKET", "/tmp/env.sock", 1);
  CHECK_EQUAL(0, h.run({"status"}));
  CHECK_EQUAL(0, h.run({"status", "--socket", "/tmp/flag.sock"}));
  STRCMP_EQUAL(kDefaultSocket, h.requests[0].socket.c_str());
  STRCMP_EQUAL("/tmp/env.sock", h.requests[1].socket.c_str());
  STRCMP_EQUAL("/tmp/flag.sock", h.requests[2].socket.c_str());
  CHECK(h.requests[0].timeout == 10s);
}

TEST(Cli, ProvisionSendsOnlyTheGivenLinks) {
  CHECK_EQUAL(0, h.run({"provision", "pump-17", "--class", "pump", "--owner", "acme", "--model", "P-200"}));
  CHECK(h.only_request().args ==
        json({{"device", "pump-17"}, {"class", "pump"}, {"owner", "acme"}, {"model", "P-200"}, {"rotate", false}}));
  STRCMP_EQUAL("provision", h.only_request().verb.c_str());
}

TEST(Cli, ProvisionRotate) {
  CHECK_EQUAL(0, h.run({"provision", "pump-17", "--class=pump", "--rotate"}));
  CHECK(h.only_request().args == json({{"device", "pump-17"}, {"class", "pump"}, {"rotate", true}}));
}

TEST(Cli, ProvisionNeedsAClass) {
  CHECK_EQUAL(2, h.run({"provision", "pump-17"}));
  CHECK(h.requests.empty());
  STRCMP_CONTAINS("--class", h.err.str().c_str());
}

TEST(Cli, LinkSendsGivenOptionsAndEmptyClears) {
  CHECK_EQUAL(0, h.run({"link", "pump-17", "--site", "", "--technician=ana"}));
  CHECK(h.only_request().args == json({{"device", "pump-17"}, {"site", ""}, {"technician", "ana"}}));
}

TEST(Cli, LinkWithoutOptionsIsAUsageError) {
  CHECK_EQUAL(2, h.run({"link", "pump-17"}));
  CHECK(h.requests.empty());
  STRCMP_EQUAL("xrmctl: link: give at least one of --owner, --site, --technician, --supplier, --model\n",
               h.err.str().c_str());
}

TEST(Cli, InvalidDeviceIdIsRefusedBeforeConnecting) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"provision", "a b", "--class", "pump"},
                                                                {"show", "a b"},
                                                                {"link", "a b", "--owner", "x"},
                                                                {"retire", "a b"}}) {
    Harness one;
    CHECK_EQUAL(2, one.run(args));
    CHECK(one.requests.empty());
    STRCMP_EQUAL("xrmctl: device id \"a b\": has character 0x20 at position 2 (allowed: A-Z a-z 0-9 . _ -)\n",
                 one.err.str().c_str());
  }
}

TEST(Cli, DaemonRefusalsExitTwoOtherFailuresOne) {
  h.reply = Status::not_found("device \"pump-9\" is not registered");
  CHECK_EQUAL(2, h.run({"show", "pump-9"}));
  STRCMP_EQUAL("xrmctl: device \"pump-9\" is not registered\n", h.err.str().c_str());
  STRCMP_EQUAL("", h.out.str().c_str());

  Harness down;
  down.reply = Status::unavailable("cannot connect to control socket /x: No such file or directory");
  CHECK_EQUAL(1, down.run({"status", "--json"}));
  STRCMP_EQUAL("xrmctl: cannot connect to control socket /x: No such file or directory\n", down.err.str().c_str());

  Harness exists;
  exists.reply = Status::already_exists("device \"pump-17\" is already provisioned");
  CHECK_EQUAL(2, exists.run({"provision", "pump-17", "--class", "pump"}));
}

TEST(Cli, UsageErrorsAreOneLineAndExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"frobnicate"}, {"devices", "--bogus"}, {"show"}, {"devices", "extra"}}) {
    Harness one;
    CHECK_EQUAL(2, one.run(args));
    CHECK(one.requests.empty());
    const std::string e = one.err.str();
    CHECK_TEXT(e.rfind("xrmctl: ", 0) == 0, e.c_str());
    CHECK_EQUAL(1, static_cast<int>(std::count(e.begin(), e.end(), '\n')));
  }
}

TEST(Cli, BadTimeoutIsAUsageError) {
  CHECK_EQUAL(2, h.run({"status", "--timeout", "5x"}));
  STRCMP_CONTAINS("xrmctl: --timeout: bad duration \"5x\"", h.err.str().c_str());
  Harness zero;
  CHECK_EQUAL(2, zero.run({"status", "--timeout", "0s"}));
  CHECK(h.requests.empty() && zero.requests.empty());
}

TEST(Cli, VersionAndHelpExitZero) {
  CHECK_EQUAL(0, h.run({"--version"}));
  STRCMP_CONTAINS("xrmctl ", h.out.str().c_str());
  Harness help;
  CHECK_EQUAL(0, help.run({"provision", "--help"}));
  STRCMP_CONTAINS("--rotate", help.out.str().c_str());
  CHECK(h.requests.empty() && help.requests.empty());
}

TEST(Cli, HumanOutputUsesTheClock) {
  h.reply = json{{"devices", {{{"id", "pump-17"}, {"last_seen_ms", h.clock.unix_ms() - 180'000}}}}};
  CHECK_EQUAL(0, h.run({"devices"}));
  STRCMP_CONTAINS("pump-17  -      -          -       -      -     3m ago\n1 device\n", h.out.str().c_str());
}

TEST(Cli, ProvisionQrInJsonAddsTheLines) {
  h.reply = json{{"device", "pump-17"}, {"uri", "xrm://gw/pump-17"}, {"password", "pw"}};
  CHECK_EQUAL(0, h.run({"provision", "pump-17", "--class", "pump", "--qr", "--json"}));
  const json printed = json::parse(h.out.str());
  CHECK(printed.at("qr").is_array());
  CHECK(printed.at("qr").size() > 10);
  STRCMP_EQUAL("pw", printed.at("password").get<std::string>().c_str());
}

TEST(Cli, ProvisionQrThatCannotBeDrawnStillSucceeds) {
  h.reply = json{{"device", "pump-17"}, {"uri", std::string(3000, 'a')}, {"password", "pw"}};
  CHECK_EQUAL(0, h.run({"provision", "pump-17", "--class", "pump", "--qr"}));
  STRCMP_CONTAINS("password    pw\n", h.out.str().c_str());
  STRCMP_EQUAL(
      "xrmctl: QR code: 3000 bytes are too many for a QR code (error correction M) (the device is provisioned)\n",
      h.err.str().c_str());
}

TEST(Cli, DeadLettersSendsTheLimitOnlyWhenGiven) {
  CHECK_EQUAL(0, h.run({"dead-letters"}));
  STRCMP_EQUAL("dead-letters", h.only_request().verb.c_str());
  CHECK(h.only_request().args == json::object());
  for (const auto& [args, limit] : std::vector<std::pair<std::vector<std::string>, std::uint64_t>>{
           {{"dead-letters", "--limit", "5"}, 5},
           {{"dead-letters", "--limit=1"}, 1},
           {{"--json", "dead-letters", "--limit", "10000"}, 10000}}) {
    Harness one;
    CHECK_EQUAL(0, one.run(args));
    const json& sent = one.only_request().args;
    CHECK_EQUAL(1U, sent.size());
    CHECK(sent.at("limit").is_number_unsigned());  // the daemon accepts only a non-negative integer
    CHECK(limit == sent.at("limit").get<std::uint64_t>());
  }
}

TEST(Cli, DeadLettersLimitOutOfRangeOrNotANumberIsAUsageError) {
  for (const std::string bad : {"0", "10001", "abc", "5x", "-3", "1.5", " 5", "+5", "99999999999999999999999"}) {
    Harness one;
    CHECK_EQUAL_TEXT(2, one.run({"dead-letters", "--limit=" + bad}), bad.c_str());
    CHECK_TEXT(one.requests.empty(), bad.c_str());
    STRCMP_EQUAL(("xrmctl: --limit: \"" + bad + "\" is not a whole number from 1 to 10000\n").c_str(),
                 one.err.str().c_str());
    STRCMP_EQUAL("", one.out.str().c_str());
  }
  Harness missing;
  CHECK_EQUAL(2, missing.run({"dead-letters", "--limit"}));
  CHECK(missing.requests.empty());
  STRCMP_CONTAINS("--limit", missing.err.str().c_str());
}

TEST(Cli, DeadLettersPrintsTheTableOrTheJson) {
  h.reply = json{{"dead_letters",
                  {{{"id", 3},
                    {"at_ms", h.clock.unix_ms()},
                    {"topic", "xrm/v1/dev/pump-17/tele"},
                    {"reason", "seq is missing"},
                    {"size", 9},
                    {"head_hex", "7b2274223a317d0a00"}}}},
                 {"stored", 1},
                 {"deleted", 0},
                 {"since_start", 1}};
  CHECK_EQUAL(0, h.run({"dead-letters", "--limit", "1"}));
  STRCMP_CONTAINS("xrm/v1/dev/pump-17/tele  seq is missing  9     {\"t\":1}..\n", h.out.str().c_str());
  STRCMP_CONTAINS("\nshown 1, stored 1, since start 1, deleted as oldest 0\n", h.out.str().c_str());
  Harness as_json;
  as_json.reply = h.reply;
  CHECK_EQUAL(0, as_json.run({"dead-letters", "--json"}));
  CHECK(json::parse(as_json.out.str()) == h.reply.value());
}

TEST(Cli, DeadLettersFailuresExitLikeTheOtherVerbs) {
  h.reply = Status::unavailable("cannot connect to control socket /x: No such file or directory");
  CHECK_EQUAL(1, h.run({"dead-letters"}));
  STRCMP_EQUAL("xrmctl: cannot connect to control socket /x: No such file or directory\n", h.err.str().c_str());
  Harness refused;
  refused.reply = Status::invalid_argument("unknown verb \"dead-letters\"");
  CHECK_EQUAL(2, refused.run({"dead-letters"}));
  Harness extra;
  CHECK_EQUAL(2, extra.run({"dead-letters", "pump-17"}));
  CHECK(extra.requests.empty());
}

TEST_GROUP(RulesVerbs){};

namespace {

std::string write_temp(const std::string& text) {
  char name[] = "/tmp/xrmctl-rules-XXXXXX";
  const int fd = mkstemp(name);
  CHECK(fd >= 0);
  CHECK(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  return name;
}

}  // namespace

TEST(RulesVerbs, CheckValidatesLocallyWithoutTheDaemon) {
  Harness h;
  const std::string good = write_temp(
      "[[profile]]\nclass = \"chiller\"\n[[profile.rule]]\nname = \"hot\"\nwhen = \"avg(t, 1m) > 8\"\n");
  CHECK_EQUAL(0, h.run({"rules", "check", good}));
  STRCMP_EQUAL((good + ": ok, 1 class, 1 rule\n").c_str(), h.out.str().c_str());
  CHECK(h.requests.empty());

  Harness bad;
  const std::string broken = write_temp("[[profile]]\nclass = \"chiller\"\n[[profile.rule]]\nname = \"hot\"\nwhen = \"avg(t 1m) > 8\"\n");
  CHECK_EQUAL(2, bad.run({"rules", "check", broken}));
  STRCMP_CONTAINS((broken + ":5:profile[chiller].rule[hot].when: column 7: expected \",\"").c_str(), bad.err.str().c_str());
  CHECK(bad.requests.empty());

  Harness missing;
  CHECK_EQUAL(2, missing.run({"rules", "check", "/nonexistent/p.toml"}));
  STRCMP_CONTAINS("/nonexistent/p.toml: cannot read", missing.err.str().c_str());
  std::remove(good.c_str());
  std::remove(broken.c_str());
}

TEST(RulesVerbs, ReloadAsksTheDaemonAndAnErrorExitsTwo) {
  Harness h;
  h.reply = json{{"file", "/etc/xrm-gateway/profiles.toml"}, {"classes", {"chiller"}}, {"rules", 2}};
  CHECK_EQUAL(0, h.run({"rules", "reload"}));
  CHECK_EQUAL(1u, h.requests.size());
  STRCMP_EQUAL("rules-reload", h.requests[0].verb.c_str());
  STRCMP_CONTAINS("rules reloaded from /etc/xrm-gateway/profiles.toml: chiller (2 rules)", h.out.str().c_str());
  Harness refused;
  refused.reply = Status::invalid_argument("p.toml:3:profile[c].bands.critical: 500 is not between 0 and 100");
  CHECK_EQUAL(2, refused.run({"rules", "reload"}));
  STRCMP_CONTAINS("p.toml:3:profile[c].bands.critical", refused.err.str().c_str());
  Harness usage;
  CHECK_EQUAL(2, usage.run({"rules"}));  // a subcommand is required
}
