#include <CppUTest/TestHarness.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "xrm/config/config.hpp"

using namespace std::chrono_literals;
using xrm::config::ConfigError;

namespace {

const char* kMinimal = R"([gateway]
id = "gw-01"
[upstream]
url = "tcp://127.0.0.1:1883"
)";

std::vector<std::string> lines_of(const std::vector<ConfigError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

bool has_error(const std::vector<ConfigError>& errors, const std::string& prefix) {
  for (const auto& line : lines_of(errors)) {
    if (line.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::string joined(const std::vector<ConfigError>& errors) {
  std::string s;
  for (const auto& line : lines_of(errors)) s += line + "\n";
  return s;
}

}  // namespace

TEST_GROUP(ConfigLoad) {
  std::vector<ConfigError> errors;
};

TEST(ConfigLoad, MinimalFileGetsDocumentedDefaults) {
  auto c = xrm::config::load_string(kMinimal, "gw.toml", errors);
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  STRCMP_EQUAL("gw-01", c.gateway.id.c_str());
  STRCMP_EQUAL("/var/lib/xrm-gateway", c.gateway.data_dir.c_str());
  STRCMP_EQUAL("tcp://127.0.0.1:1883", c.local.url.c_str());
  STRCMP_EQUAL("xrm-gateway", c.local.username.c_str());
  STRCMP_EQUAL("broker", c.upstream.confirm.c_str());
  STRCMP_EQUAL("/run/xrm-gateway/control.sock", c.control.socket.c_str());
  CHECK(c.condense.window == 60s);
  CHECK_EQUAL(256ULL * 1024 * 1024, c.outbox.max_bytes);
  CHECK(c.outbox.ttl == 168h);
  CHECK(c.upstream.reconnect_min == 1s);
  CHECK(c.upstream.reconnect_max == 60s);
  CHECK(c.log.level == xrm::log::Level::kInfo);
}

TEST(ConfigLoad, ContractExampleLoads) {
  const char* text = R"([gateway]
id = "gw-01"
site = "plant-a"
data_dir = "/var/lib/xrm-gateway"

[local]
url = "tcp://127.0.0.1:1883"
username = "xrm-gateway"
password_file = "/etc/xrm-gateway/local.secret"
device_url = "tcp://gateway.local:1883"

[upstream]
url = "ssl://central.example.com:8883"
username = ""
password_file = ""
ca_file = ""
cert_file = ""
key_file = ""
confirm = "central"

[control]
socket = "/run/xrm-gateway/control.sock"

[condense]
window = "30s"

[outbox]
max_bytes = "64MiB"
ttl = "2d"

[health]
profiles = "/etc/xrm-gateway/profiles.toml"
)";
  auto c = xrm::config::load_string(text, "gw.toml", errors);
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  STRCMP_EQUAL("central", c.upstream.confirm.c_str());
  CHECK(c.condense.window == 30s);
  CHECK_EQUAL(64ULL * 1024 * 1024, c.outbox.max_bytes);
  CHECK(c.outbox.ttl == 48h);
  STRCMP_EQUAL("gw.toml:28:outbox.max_bytes", c.where("outbox.max_bytes").c_str());
}

TEST(ConfigLoad, UnknownKeyAndSectionNameFileLineKey) {
  xrm::config::load_string(std::string(kMinimal) + "colour = \"red\"\n[telemetry]\nx = 1\n", "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:5:upstream.colour: unknown key"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:6:telemetry: unknown section"), joined(errors).c_str());
  CHECK_EQUAL(2U, errors.size());
}

TEST(ConfigLoad, BadValuesNameFileLineKeyAndWhy) {
  const char* text = R"([gateway]
id = "gw 01"
[upstream]
url = "http://central"
keepalive = "5 parsecs"
confirm = "maybe"
[outbox]
max_bytes = "lots"
[log]
level = "chatty"
)";
  xrm::config::load_string(text, "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:2:gateway.id: id \"gw 01\""), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:4:upstream.url:"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:5:upstream.keepalive: bad duration"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:6:upstream.confirm: \"maybe\" is not one of broker|central"),
             joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:8:outbox.max_bytes: bad size"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:10:log.level:"), joined(errors).c_str());
  CHECK_EQUAL(6U, errors.size());
}

TEST(ConfigLoad, WrongTomlTypeIsNamed) {
  xrm::config::load_string(std::string(kMinimal) + "keepalive = 30\n", "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:5:upstream.keepalive: expected a string (duration), found an integer"),
             joined(errors).c_str());
}

TEST(ConfigLoad, SizeAcceptsPlainInteger) {
  auto c = xrm::config::load_string(std::string(kMinimal) + "[outbox]\nmax_bytes = 1048576\n", "gw.toml", errors);
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  CHECK_EQUAL(1048576U, c.outbox.max_bytes);
}

TEST(ConfigLoad, MissingRequiredKeysAreNamed) {
  xrm::config::load_string("[log]\nlevel = \"debug\"\n", "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:gateway.id: required key is missing"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:upstream.url: required key is missing"), joined(errors).c_str());
}

TEST(ConfigLoad, SyntaxErrorNamesLine) {
  xrm::config::load_string("[gateway]\nid = \"gw-01\"\nsite = \n", "gw.toml", errors);
  CHECK_EQUAL(1U, errors.size());
  CHECK_TEXT(has_error(errors, "gw.toml:3: "), joined(errors).c_str());
}

TEST(ConfigLoad, CrossChecks) {
  const char* text = R"([gateway]
id = "gw-01"
[upstream]
url = "tcp://central:1883"
reconnect_min = "2m"
reconnect_max = "1m"
ca_file = "/etc/ca.pem"
password_file = "/etc/up.secret"
)";
  xrm::config::load_string(text, "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:5:upstream.reconnect_min: is greater than upstream.reconnect_max"),
             joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:7:upstream.ca_file: TLS files given"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:8:upstream.password_file: is set but username is empty"),
             joined(errors).c_str());
}

TEST(ConfigLoad, RelativePathsAndZeroDurationsRefused) {
  xrm::config::load_string(std::string(kMinimal) + "[gateway]\n", "gw.toml", errors);  // duplicate table
  CHECK_FALSE(errors.empty());
  xrm::config::load_string(R"([gateway]
id = "gw-01"
data_dir = "data"
[upstream]
url = "tcp://h:1"
keepalive = "0s"
)",
                           "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:3:gateway.data_dir: path \"data\" must be absolute"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:6:upstream.keepalive: duration must be greater than zero"),
             joined(errors).c_str());
}

TEST(ConfigLoad, UrlForms) {
  for (const char* good : {"tcp://127.0.0.1:1883", "ssl://central.example.com:8883", "mqtt://h", "tcp://[::1]:1883"}) {
    xrm::config::load_string(std::string("[gateway]\nid=\"g\"\n[upstream]\nurl=\"") + good + "\"\n", "f", errors);
    CHECK_TEXT(errors.empty(), (std::string(good) + ": " + joined(errors)).c_str());
  }
  for (const char* bad : {"tcp://", "tcp://h:0", "tcp://h:65536", "tcp://h:x", "h:1883", "tcp://:1883"}) {
    xrm::config::load_string(std::string("[gateway]\nid=\"g\"\n[upstream]\nurl=\"") + bad + "\"\n", "f", errors);
    CHECK_TEXT(has_error(errors, "f:4:upstream.url:"), bad);
  }
}

TEST(ConfigLoad, MissingFileIsAnError) {
  xrm::config::load_file("/nonexistent/gw.toml", errors);
  CHECK_EQUAL(1U, errors.size());
  STRCMP_CONTAINS("/nonexistent/gw.toml: cannot read", errors[0].to_string().c_str());
}

TEST_GROUP(ConfigSecrets) {
  std::vector<ConfigError> errors;
  char dir[64] = "/tmp/xrm-secrets-XXXXXX";
  void setup() override { CHECK(mkdtemp(dir) != nullptr); }
  void teardown() override {
    std::remove((std::string(dir) + "/local.secret").c_str());
    rmdir(dir);
  }
};

TEST(ConfigSecrets, ReadsFirstLineOfPasswordFile) {
  const std::string secret = std::string(dir) + "/local.secret";
  std::ofstream(secret) << "s3cret\nignored\n";
  auto c = xrm::config::load_string(std::string(kMinimal) + "[local]\npassword_file = \"" + secret + "\"\n", "gw.toml",
                                    errors);
  CHECK_TEXT(errors.empty(), joined(errors).c_str());
  CHECK(xrm::config::read_secrets(c).is_ok());
  STRCMP_EQUAL("s3cret", c.local.password.c_str());
}

TEST(ConfigSecrets, UnreadableOrEmptyPasswordFileNamesKey) {
  const std::string secret = std::string(dir) + "/local.secret";
  auto c = xrm::config::load_string(std::string(kMinimal) + "[local]\npassword_file = \"" + secret + "\"\n", "gw.toml",
                                    errors);
  auto st = xrm::config::read_secrets(c);
  CHECK_FALSE(st.is_ok());
  STRCMP_CONTAINS("gw.toml:6:local.password_file: cannot read", st.message().c_str());
  std::ofstream(secret) << "\n";
  st = xrm::config::read_secrets(c);
  STRCMP_CONTAINS("is empty", st.message().c_str());
}

// Bad-input matrix (docs/reliability.md): values out of range, negative numbers, odd shapes.

TEST(ConfigLoad, CountsAndSizesOutOfRangeNameTheirRange) {
  xrm::config::load_string(std::string(kMinimal) + R"([ingest]
dead_letters = 0
queue_messages = 100000001
max_payload = "0B"
[outbox]
max_bytes = 0
)",
                           "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:6:ingest.dead_letters: count must be from 1 to 100000000"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:7:ingest.queue_messages: count must be from 1 to 100000000"),
             joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:8:ingest.max_payload: size must be greater than zero"), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:10:outbox.max_bytes: size must be greater than zero"), joined(errors).c_str());
  CHECK_EQUAL_TEXT(4U, errors.size(), joined(errors).c_str());
}

TEST(ConfigLoad, NegativeAndFractionalNumbersAreRefusedAsValuesNotAsTypes) {
  xrm::config::load_string(std::string(kMinimal) + R"([ingest]
dead_letters = -5
max_payload = -1
queue_messages = 1.5
[outbox]
max_bytes = "1.5MiB"
ttl = "-1d"
)",
                           "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:6:ingest.dead_letters: \"-5\" is not a count from 1 to 100000000"),
             joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:7:ingest.max_payload: bad size \"-1\""), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:8:ingest.queue_messages: expected an integer (count), found a number"),
             joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:10:outbox.max_bytes: bad size \"1.5MiB\""), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:11:outbox.ttl: bad duration \"-1d\""), joined(errors).c_str());
  CHECK_EQUAL_TEXT(5U, errors.size(), joined(errors).c_str());
}

TEST(ConfigLoad, SectionThatIsNotATableAndDuplicateKeysAreRefused) {
  xrm::config::load_string("gateway = \"gw-01\"\n[upstream]\nurl = \"tcp://h:1\"\n", "gw.toml", errors);
  CHECK_TEXT(has_error(errors, "gw.toml:1:gateway: expected a table, found a string"), joined(errors).c_str());
  xrm::config::load_string(std::string(kMinimal) + "url = \"tcp://other:1\"\n", "gw.toml", errors);
  CHECK_EQUAL_TEXT(1U, errors.size(), joined(errors).c_str());
  CHECK_TEXT(has_error(errors, "gw.toml:5: "), joined(errors).c_str());
  STRCMP_CONTAINS("url", errors[0].message.c_str());
}
