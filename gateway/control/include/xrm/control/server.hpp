#pragma once
// The control socket xrmctl talks to: a Unix stream socket on the io thread serving the line
// protocol of protocol.hpp. Requests on one connection are answered in order, one at a time: the
// next request is read only after the previous response is written, so a client that does not read
// cannot make the server buffer more than one response. Everything here belongs to the io thread.
#include <sys/types.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xrm/common/status.hpp"
#include "xrm/control/protocol.hpp"

namespace xrm::control {

// Answers one request: the value becomes {"ok":true,"result":...}, a Status {"ok":false,...}. Call
// exactly once, on the io thread, during the handler or later (async work). Later calls, and calls
// after the client left or the Server was destroyed, do nothing. Dropping it uncalled closes the
// connection.
using Reply = std::function<void(Result<nlohmann::json>)>;
// Called on the io thread for each well-formed request. An exception it throws becomes an internal
// error response; the server keeps running.
using Handler = std::function<void(Request, Reply)>;

struct ServerLimits {
  // Longest request line, '\n' included. A longer line gets an error and the connection is closed;
  // the server never holds more than this of a request.
  std::size_t max_request_bytes = 64 * 1024;
  // Connections beyond this get one error line (unavailable) and are closed.
  std::size_t max_clients = 16;
  // A connection that takes longer than this to send a request (from the previous response on), or
  // to take a response from us, is closed. The handler's own time does not count.
  std::chrono::milliseconds idle_timeout{30000};
};

// Who may use the socket, checked on every connection from the peer's credentials (SO_PEERCRED and
// SO_PEERGROUPS), whatever the socket file's mode says: root, the daemon's own user, and members of
// `group`, as their primary or a supplementary group. Anyone else gets one permission_denied line
// and is closed before a byte of theirs is read.
struct ServerAccess {
  uid_t owner = ::geteuid();
  gid_t group = ::getegid();  // the socket file is given this group
};
// The check itself, for one peer's uid, primary gid and supplementary groups.
bool may_use(const ServerAccess& access, uid_t uid, gid_t gid, const std::vector<gid_t>& groups);
// A group name (or a number) to its gid: invalid_argument naming it when there is no such group.
Result<gid_t> group_id(const std::string& name);

class Server {
 public:
  // Listens on a Unix socket at path, mode 0660; missing parent directories are created 0750. A
  // stale socket file (nobody accepting) is replaced; a live one (another daemon) -> unavailable, a
  // non-socket file at path -> io_error, both leaving the file alone. Errors name the path and the
  // errno text. The file's group is access.group (io_error if it cannot be set). io must outlive
  // the Server; handler runs on io's thread.
  static Result<std::unique_ptr<Server>> open(boost::asio::io_context& io, std::string path, Handler handler,
                                              ServerLimits limits = {}, ServerAccess access = {});
  // Unlinks the socket file and closes every connection; pending Replies then do nothing. Call on
  // the io thread (or once it has stopped).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Open connections (not counting those turned away).
  std::size_t clients() const;
  // Well-formed requests handed to the handler.
  std::uint64_t requests() const;
  // Requests and connections refused: oversize, malformed, over max_clients, not allowed.
  std::uint64_t rejected() const;
  const std::string& path() const;

 private:
  class Listener;
  class Connection;
  explicit Server(std::shared_ptr<Listener> listener) : listener_(std::move(listener)) {}

  // Shared with the pending accept so that a completion after ~Server finds it still alive.
  std::shared_ptr<Listener> listener_;
};

}  // namespace xrm::control
