#include "xrm/control/server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "xrm/common/log.hpp"

namespace xrm::control {
namespace {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;
using boost::system::error_code;
using nlohmann::json;

constexpr std::chrono::seconds kAcceptRetry{1};

std::string errno_text(int err) { return std::strerror(err); }

// The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13); empty if the kernel cannot tell.
std::vector<gid_t> peer_groups(int fd) {
#ifdef SO_PEERGROUPS
  std::vector<gid_t> groups(16);
  for (int attempt = 0; attempt < 3; ++attempt) {
    socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
      groups.resize(length / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) break;
    groups.resize(length / sizeof(gid_t) + 1);  // the kernel said how many there are
  }
#else
  (void)fd;
#endif
  return {};
}

// Creates the missing directories above path, each 0750 whatever the umask.
Status make_parent_dirs(const std::string& path) {
  const std::size_t end = path.rfind('/');
  if (end == std::string::npos) return Status::ok();
  for (std::size_t pos = 1; pos <= end; ++pos) {
    if (pos != end && path[pos] != '/') continue;
    const std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0750) == 0) {
      ::chmod(dir.c_str(), 0750);
    } else if (errno != EEXIST) {
      return Status::io_error("cannot create directory " + dir + " for control socket " + path + ": " +
                              errno_text(errno));
    }
  }
  return Status::ok();
}

// Removes a socket file left by a daemon that is gone; a socket someone still accepts on, or a
// file that is not a socket, is left alone and reported.
Status remove_stale(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::ok();
    return Status::io_error("cannot stat control socket " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) return Status::io_error("control socket path " + path + " exists and is not a socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Non-blocking: a live daemon with a full backlog answers EAGAIN instead of making us wait.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error("cannot create a socket to probe " + path + ": " + errno_text(errno));
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN) {
    return Status::unavailable("control socket " + path + " is in use by another process (is xrm-gatewayd running?)");
  }
  if (err != ECONNREFUSED) return Status::io_error("cannot probe control socket " + path + ": " + errno_text(err));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::io_error("cannot remove stale control socket " + path + ": " + errno_text(errno));
  }
  return Status::ok();
}

}  // namespace

bool may_use(const ServerAccess& access, uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  return uid == 0 || uid == access.owner || gid == access.group ||
         std::find(groups.begin(), groups.end(), access.group) != groups.end();
}

Result<gid_t> group_id(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos && name.size() < 10) {
    return static_cast<gid_t>(std::stoul(name));
  }
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(4096);
  int rc = 0;
  while ((rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
         buffer.size() < (1U << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0) return Status::io_error("cannot look up group '" + name + "': " + errno_text(rc));
  if (found == nullptr) return Status::invalid_argument("no group named '" + name + "'");
  return found->gr_gid;
}

// The listening socket and what every connection shares. Owned by the Server and by the pending
// accept and connections, so completions that run after ~Server still find it; closed_ tells them
// the Server is gone.
class Server::Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& io, std::string path, Handler handler, ServerLimits limits, ServerAccess access)
      : path_(std::move(path)),
        handler_(std::move(handler)),
        limits_(limits),
        access_(access),
        acceptor_(io),
        retry_(io) {}

  Status listen();
  void accept();
  // Unlinks the socket file, stops accepting and closes every connection (from ~Server).
  void close();

  std::size_t clients() const { return connections_.size(); }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t rejected() const { return rejected_; }
  const std::string& path() const { return path_; }

 private:
  friend class Server::Connection;
  void on_accept(const error_code& ec, Socket socket);
  void turn_away(Socket socket, const Status& why);

  const std::string path_;
  const Handler handler_;
  const ServerLimits limits_;
  const ServerAccess access_;
  asio::local::stream_protocol::acceptor acceptor_;
  asio::steady_timer retry_;                     // waits after a failed accept (EMFILE) instead of spinning
  std::unordered_set<Connection*> connections_;  // open ones; each removes itself when it closes
  std::uint64_t requests_ = 0;
  std::uint64_t rejected_ = 0;
  bool closed_ = false;
};

// One client. Owned by whatever operation is pending on it (a read, a write, a timer wait) or, while
// the handler works, by the Reply; so it lives exactly as long as something can still happen to it.
class Server::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Listener> listener, Socket socket, Peer peer)
      : listener_(std::move(listener)),
        socket_(std::move(socket)),
        peer_(peer),
        in_(listener_->limits_.max_request_bytes),
        timer_(socket_.get_executor()) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start() {
    listener_->connections_.insert(this);
    read_next();
  }
  // Idempotent; afterwards nothing is read, written or handed to the handler.
  void close();

 private:
  void read_next();
  void on_read(const error_code& ec, std::size_t length);
  void dispatch(Request request);
  void respond(std::uint64_t serial, const Result<json>& outcome);
  void write(std::string line, bool then_close);
  void arm_timer();
  void disarm_timer() { timer_.expires_at(std::chrono::steady_clock::time_point::max()); }

  std::shared_ptr<Listener> listener_;  // null once closed
  Socket socket_;
  const Peer peer_;
  asio::streambuf in_;  // bounded by max_request_bytes: async_read_until fails with not_found when full
  std::string out_;     // the response being written; one at a time
  asio::steady_timer timer_;
  std::uint64_t serial_ = 0;    // of the last request handed to the handler
  std::uint64_t awaiting_ = 0;  // serial whose Reply is still expected; 0: none
};

Status Server::Listener::listen() {
  if (path_.empty() || path_.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::invalid_argument("control socket path '" + path_ + "' must be 1 to " +
                                    std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes long");
  }
  if (Status st = make_parent_dirs(path_); !st) return st;
  if (Status st = remove_stale(path_); !st) return st;
  const asio::local::stream_protocol::endpoint endpoint(path_);
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (ec) return Status::io_error("cannot bind control socket " + path_ + ": " + ec.message());
  if (::chown(path_.c_str(), static_cast<uid_t>(-1), access_.group) != 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    return Status::io_error("cannot give control socket " + path_ + " group " + std::to_string(access_.group) +
                            " (control.group): " + errno_text(err) +
                            (err == EPERM ? " (the daemon's user must be a member of that group)" : ""));
  }
  if (::chmod(path_.c_str(), 0660) != 0) {
    ec.assign(errno, boost::system::system_category());
  } else {
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    ::unlink(path_.c_str());
    return Status::io_error("cannot listen on control socket " + path_ + ": " + ec.message());
  }
  return Status::ok();
}

void Server::Listener::accept() {
  acceptor_.async_accept(
      [self = shared_from_this()](const error_code& ec, Socket socket) { self->on_accept(ec, std::move(socket)); });
}

void Server::Listener::on_accept(const error_code& ec, Socket socket) {
  if (closed_) return;
  if (ec) {
    XRM_WARN << "control socket " << path_ << ": accept failed: " << ec.message();
    retry_.expires_after(kAcceptRetry);
    retry_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && !self->closed_) self->accept();
    });
    return;
  }
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    XRM_WARN << "control socket " << path_ << ": no peer credentials (" << errno_text(errno) << "); closed";
  } else if (!may_use(access_, cred.uid, cred.gid, peer_groups(socket.native_handle()))) {
    ++rejected_;
    XRM_NOTICE << "control socket " << path_ << ": refused uid " << cred.uid << " (pid " << cred.pid
               << "): not root, not the daemon's user and not in group " << access_.group;
    turn_away(std::move(socket), Status::permission_denied("uid " + std::to_string(cred.uid) +
                                                           " may not use the control socket: not in its group (gid " +
                                                           std::to_string(access_.group) + ", control.group)"));
  } else if (connections_.size() >= limits_.max_clients) {
    ++rejected_;
    turn_away(std::move(socket), Status::unavailable("too many control clients"));
    XRM_NOTICE << "control socket " << path_ << ": turned a client away (" << limits_.max_clients << " connected)";
  } else {
    std::make_shared<Connection>(shared_from_this(), std::move(socket), Peer{cred.uid, cred.gid, cred.pid, {}})->start();
  }
  accept();
}

void Server::Listener::turn_away(Socket socket, const Status& why) {
  // One short line into a fresh socket's empty buffer: written at once, so no need to wait.
  const std::string line = encode_response(why);
  error_code ignored;
  socket.non_blocking(true, ignored);
  asio::write(socket, asio::buffer(line), ignored);
}

void Server::Listener::close() {
  if (closed_) return;
  closed_ = true;
  // Unlink before closing, so a daemon starting meanwhile sees a live socket rather than having
  // its own removed by us.
  ::unlink(path_.c_str());
  error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
  const auto open = std::move(connections_);
  connections_.clear();
  for (Connection* connection : open) connection->close();
}

void Server::Connection::close() {
  if (!listener_) return;
  listener_->connections_.erase(this);
  listener_.reset();
  error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
}

void Server::Connection::arm_timer() {
  timer_.expires_after(listener_->limits_.idle_timeout);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    // A wait that completed just before the timer was re-armed or disarmed finds a later expiry.
    if (ec || !self->listener_ || self->timer_.expiry() > std::chrono::steady_clock::now()) return;
    XRM_DEBUG << "control client " << self->peer_.pid << " timed out; closed";
    self->close();
  });
}

void Server::Connection::read_next() {
  arm_timer();
  asio::async_read_until(socket_, in_, '\n', [self = shared_from_this()](const error_code& ec, std::size_t length) {
    self->on_read(ec, length);
  });
}

void Server::Connection::on_read(const error_code& ec, std::size_t length) {
  if (!listener_) return;
  if (ec == asio::error::not_found) {
    ++listener_->rejected_;
    const std::size_t limit = listener_->limits_.max_request_bytes;
    XRM_NOTICE << "control client " << peer_.pid << " sent a request over " << limit << " bytes; closed";
    write(encode_response(Status::invalid_argument("request too large (limit " + std::to_string(limit) + " bytes)")),
          true);
    return;
  }
  if (ec) {  // end of file, reset, or cancelled by close()
    close();
    return;
  }
  disarm_timer();
  Result<Request> request = parse_request({static_cast<const char*>(in_.data().data()), length});
  in_.consume(length);
  if (!request) {
    ++listener_->rejected_;
    write(encode_response(request.status()), false);
    return;
  }
  ++listener_->requests_;
  dispatch(std::move(request).value());
}

void Server::Connection::dispatch(Request request) {
  request.peer = peer_;
  awaiting_ = ++serial_;
  Reply reply = [self = shared_from_this(), serial = serial_](const Result<json>& outcome) {
    self->respond(serial, outcome);
  };
  const std::string verb = request.verb;
  // Held here so that a handler destroying the Server does not destroy itself mid-call.
  const std::shared_ptr<Listener> listener = listener_;
  try {
    listener->handler_(std::move(request), std::move(reply));
  } catch (const std::exception& e) {
    XRM_ERROR << "control verb '" << verb << "' threw: " << e.what();
    respond(serial_, Status::internal("verb '" + verb + "' failed: " + e.what()));
  } catch (...) {
    XRM_ERROR << "control verb '" << verb << "' threw a non-exception";
    respond(serial_, Status::internal("verb '" + verb + "' failed"));
  }
}

void Server::Connection::respond(std::uint64_t serial, const Result<json>& outcome) {
  if (!listener_ || serial != awaiting_) return;
  awaiting_ = 0;
  write(encode_response(outcome), false);
}

void Server::Connection::write(std::string line, bool then_close) {
  out_ = std::move(line);
  arm_timer();  // a client that does not read its responses is closed like an idle one
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this(), then_close](const error_code& ec, std::size_t) {
                      if (!self->listener_) return;
                      if (ec || then_close) {
                        self->close();
                      } else {
                        self->read_next();
                      }
                    });
}

Result<std::unique_ptr<Server>> Server::open(boost::asio::io_context& io, std::string path, Handler handler,
                                             ServerLimits limits, ServerAccess access) {
  auto listener = std::make_shared<Listener>(io, std::move(path), std::move(handler), limits, access);
  if (Status st = listener->listen(); !st) return st;
  listener->accept();
  return std::unique_ptr<Server>(new Server(std::move(listener)));
}

Server::~Server() { listener_->close(); }
std::size_t Server::clients() const { return listener_->clients(); }
std::uint64_t Server::requests() const { return listener_->requests(); }
std::uint64_t Server::rejected() const { return listener_->rejected(); }
const std::string& Server::path() const { return listener_->path(); }

}  // namespace xrm::control
