#include <CppUTest/TestHarness.h>

#include <unistd.h>

#include <string>

#include "xrm/control/protocol.hpp"

using nlohmann::json;
using xrm::Status;
namespace control = xrm::control;

namespace {

// {"verb":"x","args":<depth - 1 nested arrays>}: the request object is level 1.
std::string nested_request(int depth) {
  return R"({"verb":"x","args":{"a":)" + std::string(depth - 2, '[') + std::string(depth - 2, ']') + "}}\n";
}

}  // namespace

TEST_GROUP(ControlProtocol){};

TEST(ControlProtocol, CodeNamesRoundTrip) {
  const Status::Code codes[] = {Status::Code::kInvalidArgument, Status::Code::kNotFound,   Status::Code::kAlreadyExists,
                                Status::Code::kIoError,         Status::Code::kCorruption, Status::Code::kUnavailable,
                                Status::Code::kInternal};
  for (const Status::Code code : codes) CHECK(control::code_from_name(control::code_name(code)) == code);
  STRCMP_EQUAL("invalid_argument", std::string(control::code_name(Status::Code::kInvalidArgument)).c_str());
  STRCMP_EQUAL("io_error", std::string(control::code_name(Status::Code::kIoError)).c_str());
  CHECK(control::code_from_name("ok") == Status::Code::kInternal);
  CHECK(control::code_from_name("no_such_code") == Status::Code::kInternal);
}

TEST(ControlProtocol, ParsesRequestWithAndWithoutArgs) {
  auto request = control::parse_request(R"({"verb":"devices","args":{"state":"active"}})"
                                        "\n");
  CHECK_TEXT(request.is_ok(), request.status().to_string().c_str());
  STRCMP_EQUAL("devices", request->verb.c_str());
  CHECK(request->args == json({{"state", "active"}}));

  request = control::parse_request(R"({"verb":"status"})");
  CHECK(request.is_ok());
  CHECK(request->args == json::object());
}

TEST(ControlProtocol, RefusesMalformedRequestsNamingTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json\n", "not valid JSON"},
      {"\n", "not valid JSON"},
      {"[1,2]\n", "not a JSON object"},
      {R"({"args":{}})", R"(no "verb")"},
      {R"({"verb":""})", R"(no "verb")"},
      {R"({"verb":7})", R"(no "verb")"},
      {R"({"verb":"x","args":[1]})", R"("args" is not a JSON object)"},
  };
  for (const auto& [line, expected] : cases) {
    const auto request = control::parse_request(line);
    CHECK_FALSE_TEXT(request.is_ok(), line);
    CHECK(request.status().code() == Status::Code::kInvalidArgument);
    STRCMP_CONTAINS(expected, request.status().message().c_str());
  }
}

TEST(ControlProtocol, NestingIsLimitedTo32Levels) {
  CHECK(control::parse_request(nested_request(control::kMaxDepth)).is_ok());
  const auto deep = control::parse_request(nested_request(control::kMaxDepth + 1));
  CHECK_FALSE(deep.is_ok());
  STRCMP_EQUAL("request nested deeper than 32 levels", deep.status().message().c_str());
  // Brackets inside strings (with escaped quotes) are text, not nesting.
  const std::string in_string = R"({"verb":"x","args":{"s":"\"[[)" + std::string(100, '[') + R"("}})";
  CHECK(control::parse_request(in_string).is_ok());
}

TEST(ControlProtocol, EncodesRequestsAndResponsesExactly) {
  STRCMP_EQUAL("{\"verb\":\"devices\",\"args\":{\"n\":1}}\n", control::encode_request("devices", {{"n", 1}}).c_str());
  STRCMP_EQUAL("{\"ok\":true,\"result\":[1,\"a\"]}\n", control::encode_response(json{1, "a"}).c_str());
  STRCMP_EQUAL("{\"ok\":false,\"error\":{\"code\":\"not_found\",\"message\":\"no device 'x'\"}}\n",
               control::encode_response(Status::not_found("no device 'x'")).c_str());
}

TEST(ControlProtocol, InvalidUtf8IsReplacedNotThrown) {
  const std::string line = control::encode_response(json(std::string("ab\xff")));
  STRCMP_EQUAL("{\"ok\":true,\"result\":\"ab\xef\xbf\xbd\"}\n", line.c_str());
}

TEST(ControlProtocol, ResponsesRoundTrip) {
  auto ok = control::parse_response(control::encode_response(json{{"k", "v"}}));
  CHECK(ok.is_ok());
  CHECK(*ok == json({{"k", "v"}}));

  const auto error = control::parse_response(control::encode_response(Status::already_exists("device d1")));
  CHECK(error.status().code() == Status::Code::kAlreadyExists);
  STRCMP_EQUAL("device d1", error.status().message().c_str());

  const auto unknown = control::parse_response(R"({"ok":false,"error":{"code":"teapot","message":"short"}})");
  CHECK(unknown.status().code() == Status::Code::kInternal);
  STRCMP_EQUAL("short", unknown.status().message().c_str());

  for (const char* bad : {"garbage", "[]", R"({"ok":"yes"})", R"({"ok":false,"error":3})"}) {
    const auto parsed = control::parse_response(bad);
    CHECK_FALSE_TEXT(parsed.is_ok(), bad);
    CHECK(parsed.status().code() == Status::Code::kInternal);
  }
}

TEST(ControlProtocol, ActorNamesTheUid) {
  control::Peer me{getuid(), getgid(), getpid(), {}};
  const std::string prefix = "xrmctl:uid=" + std::to_string(getuid());
  STRCMP_CONTAINS(prefix.c_str(), me.actor().c_str());
  // Root always has a name; an unassigned uid has none.
  const control::Peer root{0, 0, 1, {}};
  const control::Peer nobody_known{3999999, 0, 1, {}};
  STRCMP_EQUAL("xrmctl:uid=0(root)", root.actor().c_str());
  STRCMP_EQUAL("xrmctl:uid=3999999", nobody_known.actor().c_str());
}

TEST(ControlProtocol, AnActorOverrideIsNamedAsItIs) {
  // Requests that did not come through the socket (commands from central) name their own actor.
  const control::Peer central{0, 0, 0, "central:ops"};
  STRCMP_EQUAL("central:ops", central.actor().c_str());
}

// Bad-input matrix (docs/reliability.md): request lines of the wrong shape.
TEST(ControlProtocol, ArgsOfAnyOtherTypeAndUndecodableLinesAreRefused) {
  const std::pair<std::string, const char*> cases[] = {
      {R"({"verb":"status","args":null})", R"(request "args" is not a JSON object)"},
      {R"({"verb":"status","args":"x"})", R"(request "args" is not a JSON object)"},
      {R"({"verb":"status","args":7})", R"(request "args" is not a JSON object)"},
      {R"({"verb":"status","args":true})", R"(request "args" is not a JSON object)"},
      {R"({"verb":null})", R"(request has no "verb" (a non-empty string))"},
      {R"({"verb":["status"]})", R"(request has no "verb" (a non-empty string))"},
      {"{\"verb\":\"st\xff\"}", "request is not valid JSON"},
      {std::string("{\"verb\":\"sta\0tus\"}", 18), "request contains a NUL byte"},
      {std::string("{\"verb\":\0\"status\"}", 18), "request contains a NUL byte"},
      {std::string("{\"verb\":\"status\"}\0junk", 22), "request contains a NUL byte"},
      {R"({"verb":"status"} {"verb":"status"})", "request is not valid JSON"},
      {R"("status")", "request is not a JSON object"},
  };
  for (const auto& [line, expected] : cases) {
    const auto request = control::parse_request(line);
    CHECK_FALSE_TEXT(request.is_ok(), line.c_str());
    CHECK(request.status().code() == Status::Code::kInvalidArgument);
    STRCMP_EQUAL_TEXT(expected, request.status().message().c_str(), line.c_str());
  }
}
