// The contract's topics (common/topics.hpp): command topics and MQTT filter matching.
#include "xrm/common/topics.hpp"

#include <CppUTest/TestHarness.h>

namespace topics = xrm::topics;

TEST_GROUP(Topics){};

TEST(Topics, CommandTopics) {
  STRCMP_EQUAL("xrm/v1/gw/gw-1/cmd/+", topics::gw_commands("gw-1").c_str());
  STRCMP_EQUAL("xrm/v1/gw/gw-1/cmd/ping", topics::gw_command("gw-1", "ping").c_str());
  STRCMP_EQUAL("xrm/v1/gw/gw-1/cmd-res", topics::gw_command_results("gw-1").c_str());
}

TEST(Topics, CommandNameOfATopic) {
  auto name = topics::gw_command_name("gw-1", "xrm/v1/gw/gw-1/cmd/rules.reload");
  CHECK(name.has_value());
  STRCMP_EQUAL("rules.reload", std::string(*name).c_str());
  CHECK(topics::gw_command_name("gw-1", "xrm/v1/gw/gw-1/cmd/").value() == "");
  CHECK_FALSE(topics::gw_command_name("gw-1", "xrm/v1/gw/gw-12/cmd/ping").has_value());
  CHECK_FALSE(topics::gw_command_name("gw-1", "xrm/v1/gw/gw-/cmd/ping").has_value());
  CHECK_FALSE(topics::gw_command_name("gw-1", "xrm/v1/gw/gw-1/cmd/a/b").has_value());
  CHECK_FALSE(topics::gw_command_name("gw-1", "xrm/v1/gw/gw-1/cmd-res").has_value());
  CHECK_FALSE(topics::gw_command_name("gw-1", "xrm/v1/dev/gw-1/cmd/ping").has_value());
}

TEST(Topics, FilterMatchingFollowsMqtt) {
  CHECK(topics::topic_matches("xrm/v1/gw/g/cmd/+", "xrm/v1/gw/g/cmd/ping"));
  CHECK_FALSE(topics::topic_matches("xrm/v1/gw/g/cmd/+", "xrm/v1/gw/g/cmd/a/b"));
  CHECK_FALSE(topics::topic_matches("xrm/v1/gw/g/cmd/+", "xrm/v1/gw/g/cmd"));
  CHECK(topics::topic_matches("xrm/v1/gw/g/cmd/+", "xrm/v1/gw/g/cmd/"));  // an empty level is a level
  CHECK(topics::topic_matches("xrm/v1/gw/g/ack", "xrm/v1/gw/g/ack"));
  CHECK_FALSE(topics::topic_matches("xrm/v1/gw/g/ack", "xrm/v1/gw/g/ack/x"));
  CHECK_FALSE(topics::topic_matches("xrm/v1/gw/g/ack", "xrm/v1/gw/g/ac"));
  CHECK(topics::topic_matches("a/#", "a"));
  CHECK(topics::topic_matches("a/#", "a/b/c"));
  CHECK(topics::topic_matches("#", "a/b"));
  CHECK(topics::topic_matches("+/+", "/x"));
  CHECK_FALSE(topics::topic_matches("+/b", "a/c"));
  CHECK_FALSE(topics::topic_matches("#", "$SYS/x"));
  CHECK_FALSE(topics::topic_matches("+/x", "$SYS/x"));
  CHECK(topics::topic_matches("$SYS/#", "$SYS/x"));
}
