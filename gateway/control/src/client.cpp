#include "xrm/control/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "xrm/control/protocol.hpp"

namespace xrm::control {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX));
}

// Waits until fd is ready for events or the deadline passes: 1 ready, 0 timed out, -1 errno set.
int wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

}  // namespace

Result<Client> Client::connect(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Status::invalid_argument("control socket path '" + path + "' must be 1 to " +
                                    std::to_string(sizeof addr.sun_path - 1) + " bytes long");
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return Status::unavailable("cannot connect to control socket " + path + ": " + std::strerror(err) +
                               " (is xrm-gatewayd running?)");
  }
  return Client(fd, path);
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), pending_(std::move(other.pending_)) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    pending_ = std::move(other.pending_);
  }
  return *this;
}

Result<nlohmann::json> Client::call(const std::string& verb, const nlohmann::json& args,
                                    std::chrono::milliseconds timeout) {
  if (fd_ < 0) return Status::unavailable("connection to control socket " + path_ + " is closed");
  const auto deadline = Clock::now() + timeout;
  const Status sent = send_all(encode_request(verb, args), deadline);
  // Read even when sending failed: a server that turns us away (too many clients, request too
  // large) writes why before it closes.
  Result<std::string> line = read_line(deadline);
  if (!line) return fail(sent.is_ok() ? line.status() : sent);
  return parse_response(*line);
}

Status Client::send_all(const std::string& data, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < data.size()) {
    const int ready = wait_for(fd_, POLLOUT, deadline);
    if (ready == 0) return Status::unavailable("timed out sending to control socket " + path_);
    const ssize_t n = ready < 0 ? -1 : ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::unavailable("cannot send to control socket " + path_ + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::ok();
}

Result<std::string> Client::read_line(Clock::time_point deadline) {
  std::size_t scanned = 0;  // pending_ before this holds no '\n'
  for (;;) {
    if (const auto end = pending_.find('\n', scanned); end != std::string::npos) {
      std::string line = pending_.substr(0, end + 1);
      pending_.erase(0, end + 1);
      return line;
    }
    scanned = pending_.size();
    const int ready = wait_for(fd_, POLLIN, deadline);
    if (ready == 0) return Status::unavailable("timed out waiting for a response from control socket " + path_);
    char buffer[64 * 1024];
    const ssize_t n = ready < 0 ? -1 : ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return Status::unavailable("control socket " + path_ + " closed the connection");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::unavailable("cannot read from control socket " + path_ + ": " + std::strerror(errno));
    }
    pending_.append(buffer, static_cast<std::size_t>(n));
  }
}

Status Client::fail(Status status) {
  ::close(fd_);
  fd_ = -1;
  return status;
}

}  // namespace xrm::control
