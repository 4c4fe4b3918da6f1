#pragma once
// Synchronous client of the control socket, for xrmctl and tests: plain POSIX sockets, no
// io_context, one request at a time. Not thread-safe; move it between threads freely.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "xrm/common/status.hpp"

namespace xrm::control {

class Client {
 public:
  // unavailable: "cannot connect to control socket PATH: <strerror> (is xrm-gatewayd running?)".
  static Result<Client> connect(const std::string& path);
  ~Client();
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and waits up to timeout for its response. ok:true -> the result; ok:false ->
  // a Status with the server's code and message. A transport failure (timeout, server gone) ->
  // unavailable, and the connection is closed: every later call fails the same way.
  Result<nlohmann::json> call(const std::string& verb, const nlohmann::json& args,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  Client(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status send_all(const std::string& data, std::chrono::steady_clock::time_point deadline);
  Result<std::string> read_line(std::chrono::steady_clock::time_point deadline);
  Status fail(Status status);

  int fd_ = -1;  // -1 once closed
  std::string path_;
  std::string pending_;  // bytes received after the last response line
};

}  // namespace xrm::control
