#include <CppUTest/TestHarness.h>

#include <string>

#include "xrm/device/provisioning_uri.hpp"

using xrm::device::ProvisioningUri;
using xrm::device::Status;

namespace {

// The error for `text`, or "" if it parsed.
std::string error_of(const std::string& text) {
  ProvisioningUri uri;
  Status st = ProvisioningUri::parse(text, uri);
  return st ? std::string() : st.message();
}

void check_error(const std::string& text, const std::string& expected_part) {
  const std::string err = error_of(text);
  if (err.find(expected_part) == std::string::npos) {
    FAIL(("for " + text + ": expected an error containing \"" + expected_part + "\", got \"" + err + "\"").c_str());
  }
}

}  // namespace

TEST_GROUP(ProvisioningUri){};

TEST(ProvisioningUri, ParsesAllFourKeysInAnyOrder) {
  ProvisioningUri uri;
  CHECK_TRUE(ProvisioningUri::parse(
                 "xrm-provision:v1?url=tcp%3A%2F%2Fgateway.local%3A1883&password=Ab-_9z&device=pump-1&gw=gw-01", uri)
                 .is_ok());
  STRCMP_EQUAL("gw-01", uri.gateway.c_str());
  STRCMP_EQUAL("pump-1", uri.device.c_str());
  STRCMP_EQUAL("tcp://gateway.local:1883", uri.url.c_str());
  STRCMP_EQUAL("Ab-_9z", uri.password.c_str());
}

TEST(ProvisioningUri, DecodesEveryPercentEscapeAndKeepsPlusLiteral) {
  ProvisioningUri uri;
  CHECK_TRUE(
      ProvisioningUri::parse("xrm-provision:v1?gw=g&device=d.1_x-Y&url=ssl://h:8883&password=a%2Bb%26c%3d%25+", uri)
          .is_ok());
  // RFC 3986 has no '+' for space: it stays '+'. Hex digits in either case.
  STRCMP_EQUAL("a+b&c=%+", uri.password.c_str());
  STRCMP_EQUAL("d.1_x-Y", uri.device.c_str());
}

TEST(ProvisioningUri, IgnoresUnknownKeys) {
  ProvisioningUri uri;
  CHECK_TRUE(ProvisioningUri::parse("xrm-provision:v1?gw=g&device=d&url=tcp://h:1&password=p&later=1", uri).is_ok());
}

TEST(ProvisioningUri, RefusesUnknownSchemeAndVersion) {
  check_error("http://x?gw=g&device=d&url=u&password=p", "unknown scheme");
  check_error("xrm-provision:v2?gw=g&device=d&url=u&password=p", "unknown version \"v2\"");
  check_error("xrm-provision:?gw=g&device=d&url=u&password=p", "unknown version");
}

TEST(ProvisioningUri, NamesEachMissingKey) {
  check_error("xrm-provision:v1?device=d&url=u&password=p", "missing key gw");
  check_error("xrm-provision:v1?gw=g&url=u&password=p", "missing key device");
  check_error("xrm-provision:v1?gw=g&device=d&password=p", "missing key url");
  check_error("xrm-provision:v1?gw=g&device=d&url=u", "missing key password");
  check_error("xrm-provision:v1", "missing key gw");
  check_error("xrm-provision:v1?gw=g&device=d&url=u&password=", "empty value for password");
  check_error("xrm-provision:v1?gw=g&gw=h&device=d&url=u&password=p", "key gw given twice");
}

TEST(ProvisioningUri, NamesTheKeyWithABadEscape) {
  check_error("xrm-provision:v1?gw=g&device=d&url=u&password=ab%2", "bad percent escape in password");
  check_error("xrm-provision:v1?gw=g&device=d&url=u%zz&password=p", "bad percent escape in url");
  check_error("xrm-provision:v1?gw=g&device=d%&url=u&password=p", "bad percent escape in device");
}

TEST(ProvisioningUri, RefusesDeviceIdsOutsideTheContractRules) {
  check_error("xrm-provision:v1?gw=g&device=pump%2F1&url=u&password=p", "invalid device id \"pump/1\"");
  check_error("xrm-provision:v1?gw=g&device=a%20b&url=u&password=p", "invalid device id");
  check_error("xrm-provision:v1?gw=g&device=" + std::string(65, 'a') + "&url=u&password=p", "invalid device id");
  CHECK_EQUAL(std::string(), error_of("xrm-provision:v1?gw=g&device=" + std::string(64, 'a') + "&url=u&password=p"));
  check_error("xrm-provision:v1?gw=g%2B&device=d&url=u&password=p", "invalid gateway id");
}

TEST(ProvisioningUri, LeavesTheOutputAloneOnError) {
  ProvisioningUri uri;
  uri.device = "before";
  CHECK_FALSE(ProvisioningUri::parse("xrm-provision:v1?gw=g&device=d", uri).is_ok());
  STRCMP_EQUAL("before", uri.device.c_str());
}
