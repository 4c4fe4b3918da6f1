#include "xrm/control/protocol.hpp"

#include <pwd.h>

#include <cerrno>
#include <vector>

namespace xrm::control {
namespace {

using nlohmann::json;

constexpr Status::Code kErrorCodes[] = {
    Status::Code::kInvalidArgument, Status::Code::kNotFound,    Status::Code::kAlreadyExists, Status::Code::kIoError,
    Status::Code::kCorruption,      Status::Code::kUnavailable, Status::Code::kInternal,
    Status::Code::kPermissionDenied};

Status make_status(Status::Code code, std::string message) {
  switch (code) {
    case Status::Code::kInvalidArgument: return Status::invalid_argument(std::move(message));
    case Status::Code::kNotFound: return Status::not_found(std::move(message));
    case Status::Code::kAlreadyExists: return Status::already_exists(std::move(message));
    case Status::Code::kIoError: return Status::io_error(std::move(message));
    case Status::Code::kCorruption: return Status::corruption(std::move(message));
    case Status::Code::kUnavailable: return Status::unavailable(std::move(message));
    case Status::Code::kPermissionDenied: return Status::permission_denied(std::move(message));
    case Status::Code::kOk:
    case Status::Code::kInternal: break;
  }
  return Status::internal(std::move(message));
}

// Nesting depth of the brackets outside strings, stopping as soon as it exceeds kMaxDepth: one
// linear pass, so a deep request costs no more than a flat one of the same size.
bool too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// obj[key] when it is a string, else fallback (json::value() throws on a type mismatch).
std::string string_field(const json& obj, const char* key, std::string fallback) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::move(fallback);
}

}  // namespace

std::string Peer::actor() const {
  if (!actor_override.empty()) return actor_override;
  std::string actor = "xrmctl:uid=" + std::to_string(uid);
  std::vector<char> buffer(1024);
  passwd entry{};
  passwd* found = nullptr;
  int rc = 0;
  while ((rc = getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found)) == ERANGE && buffer.size() < 1 << 20) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc == 0 && found != nullptr) actor += "(" + std::string(found->pw_name) + ")";
  return actor;
}

std::string_view code_name(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid_argument";
    case Status::Code::kNotFound: return "not_found";
    case Status::Code::kAlreadyExists: return "already_exists";
    case Status::Code::kIoError: return "io_error";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kUnavailable: return "unavailable";
    case Status::Code::kInternal: return "internal";
    case Status::Code::kPermissionDenied: return "permission_denied";
  }
  return "internal";
}

Status::Code code_from_name(std::string_view name) {
  for (const Status::Code code : kErrorCodes) {
    if (code_name(code) == name) return code;
  }
  return Status::Code::kInternal;
}

Result<Request> parse_request(std::string_view line) {
  if (too_deep(line)) {
    return Status::invalid_argument("request nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  // nlohmann's parser stops at a NUL byte as at the end of input: whatever follows one would be
  // ignored unseen, so a line with one is refused as a whole.
  if (line.find('\0') != std::string_view::npos) return Status::invalid_argument("request contains a NUL byte");
  json doc = json::parse(line, nullptr, false);
  if (doc.is_discarded()) return Status::invalid_argument("request is not valid JSON");
  if (!doc.is_object()) return Status::invalid_argument("request is not a JSON object");
  const auto verb = doc.find("verb");
  if (verb == doc.end() || !verb->is_string() || verb->get_ref<const std::string&>().empty()) {
    return Status::invalid_argument("request has no \"verb\" (a non-empty string)");
  }
  Request request;
  request.verb = verb->get<std::string>();
  const auto args = doc.find("args");
  if (args == doc.end()) {
    request.args = json::object();
  } else if (args->is_object()) {
    request.args = std::move(*args);
  } else {
    return Status::invalid_argument("request \"args\" is not a JSON object");
  }
  return request;
}

std::string encode_request(std::string_view verb, const json& args) {
  return R"({"verb":)" + dump(json(verb)) + R"(,"args":)" + dump(args) + "}\n";
}

std::string encode_response(const Result<json>& outcome) {
  if (outcome.is_ok()) return R"({"ok":true,"result":)" + dump(*outcome) + "}\n";
  const json error = {{"code", code_name(outcome.status().code())}, {"message", outcome.status().message()}};
  return R"({"ok":false,"error":)" + dump(error) + "}\n";
}

Result<json> parse_response(std::string_view line) {
  json doc = json::parse(line, nullptr, false);
  const auto ok = doc.is_object() ? doc.find("ok") : doc.end();
  if (doc.is_discarded() || !doc.is_object() || ok == doc.end() || !ok->is_boolean()) {
    return Status::internal("malformed response from the control socket");
  }
  if (ok->get<bool>()) {
    const auto result = doc.find("result");
    return result == doc.end() ? json() : std::move(*result);
  }
  const auto error = doc.find("error");
  if (error == doc.end() || !error->is_object()) {
    return Status::internal("malformed error response from the control socket");
  }
  return make_status(code_from_name(string_field(*error, "code", "")), string_field(*error, "message", ""));
}

}  // namespace xrm::control
