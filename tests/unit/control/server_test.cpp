// Transcripts against a real Server on its own io thread: Client for the common path, raw sockets
// where the test has to misbehave (pipelining, partial lines, never reading, hanging up).
#include <CppUTest/TestHarness.h>

#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "xrm/control/client.hpp"
#include "xrm/control/server.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using xrm::Status;
using xrm::control::Client;
using xrm::control::Reply;
using xrm::control::Request;
using xrm::control::Server;
using xrm::control::ServerAccess;
using xrm::control::ServerLimits;

namespace {

sockaddr_un address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// A client socket driven by hand, for what Client would never do.
class RawClient {
 public:
  explicit RawClient(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const sockaddr_un addr = address(path);
    CHECK_EQUAL(0, ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr));
  }
  ~RawClient() { hang_up(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      CHECK_TEXT(n > 0, std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
  }

  // The next line without its '\n'; "" when the connection closed or nothing came in time.
  std::string line(std::chrono::milliseconds timeout = 5s) {
    for (;;) {
      if (const auto end = buffer_.find('\n'); end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      if (receive(timeout) <= 0) return "";
    }
  }

  // True when the server closes the connection within timeout (and sends nothing more).
  bool closed(std::chrono::milliseconds timeout = 5s) { return buffer_.empty() && receive(timeout) == 0; }

  void hang_up() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // Bytes appended to buffer_; 0 at end of file or reset, -1 on timeout.
  ssize_t receive(std::chrono::milliseconds timeout) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return -1;
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0) return errno == ECONNRESET ? 0 : -1;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return n;
  }

  int fd_;
  std::string buffer_;
};

std::string ok_line(const json& result) { return json{{"ok", true}, {"result", result}}.dump(); }

std::string error_line(const char* code, const std::string& message) {
  return R"({"ok":false,"error":{"code":")" + std::string(code) + R"(","message":)" + json(message).dump() + "}}";
}

Status status_named(const std::string& code, std::string message) {
  static const std::map<std::string, Status (*)(std::string)> makers = {{"invalid_argument", &Status::invalid_argument},
                                                                        {"not_found", &Status::not_found},
                                                                        {"already_exists", &Status::already_exists},
                                                                        {"io_error", &Status::io_error},
                                                                        {"corruption", &Status::corruption},
                                                                        {"unavailable", &Status::unavailable},
                                                                        {"internal", &Status::internal},
                                                                        {"permission_denied", &Status::permission_denied}};
  return makers.at(code)(std::move(message));
}

// Runs a client in a child process as uid/gid 65534 (nobody) with the supplementary groups
// `groups`: it connects to path, sends `request` and returns what it read until the server closed
// or 2 s passed. The child only makes system calls (the parent has threads). Needs root.
std::string as_nobody(const std::string& path, const std::vector<gid_t>& groups, const std::string& request) {
  int out[2];
  CHECK_EQUAL(0, ::pipe(out));
  const pid_t pid = ::fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    ::close(out[0]);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = address(path);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) ::_exit(4);
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
      // The server may have closed already: what it sent is still there to read.
    }
    char buffer[4096];
    for (int rounds = 0; rounds < 20; ++rounds) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      if (::write(out[1], buffer, static_cast<std::size_t>(n)) != n) ::_exit(5);
      if (std::memchr(buffer, '\n', static_cast<std::size_t>(n)) != nullptr && request.find("echo") != std::string::npos) {
        break;  // a served client got its answer
      }
    }
    ::_exit(0);
  }
  ::close(out[1]);
  std::string got;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(out[0], buffer, sizeof buffer)) > 0) got.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK_TEXT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
             ("the child client failed at step " + std::to_string(WEXITSTATUS(status))).c_str());
  return got;
}

}  // namespace

TEST_GROUP(ControlServer) {
  std::string root;
  std::string path;
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;
  std::unique_ptr<Server> server;
  Reply held;  // kept by the "hold" verb; io thread only

  // Runs fn on the io thread and returns its result: the Server is the io thread's alone.
  template <typename Fn>
  auto on_io(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return result.get();
  }

  // Polls cond on the io thread until it holds or timeout passes.
  template <typename Fn>
  bool eventually(Fn cond, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!on_io(cond)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  void setup() override {
    char tmpl[] = "/tmp/xrm-control-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    root = tmpl;
    path = root + "/run/xrm/control.sock";
    work.emplace(io.get_executor());
    thread = std::thread([this] { io.run(); });
  }

  void teardown() override {
    on_io([this] {
      held = nullptr;
      server.reset();
    });
    work.reset();
    thread.join();  // hangs (and ctest times out) if the server left work behind
    fs::remove_all(root);
  }

  xrm::Result<std::unique_ptr<Server>> open(ServerLimits limits = {}, ServerAccess access = {}) {
    return on_io([&] {
      return Server::open(
          io, path, [this](Request r, Reply reply) { handle(std::move(r), std::move(reply)); }, limits, access);
    });
  }

  void start(ServerLimits limits = {}, ServerAccess access = {}) {
    auto opened = open(limits, access);
    CHECK_TEXT(opened.is_ok(), opened.status().to_string().c_str());
    server = std::move(opened).value();
  }

  Client connect() {
    auto client = Client::connect(path);
    CHECK_TEXT(client.is_ok(), client.status().to_string().c_str());
    return std::move(client).value();
  }

  void handle(Request request, Reply reply) {
    const json& args = request.args;
    if (request.verb == "echo") {
      reply(args);
    } else if (request.verb == "fail") {
      reply(status_named(args.at("code"), args.at("message")));
    } else if (request.verb == "later") {
      auto timer = std::make_shared<boost::asio::steady_timer>(io, 50ms);
      timer->async_wait([timer, reply, args](const boost::system::error_code&) { reply(json{{"late", args}}); });
    } else if (request.verb == "throw") {
      throw std::runtime_error("boom");
    } else if (request.verb == "peer") {
      reply(json{{"uid", request.peer.uid},
                 {"gid", request.peer.gid},
                 {"pid", request.peer.pid},
                 {"actor", request.peer.actor()}});
    } else if (request.verb == "big") {
      reply(json(std::string(args.at("bytes").get<std::size_t>(), 'x')));
    } else if (request.verb == "hold") {
      held = std::move(reply);
    } else if (request.verb == "twice") {
      reply(json("first"));
      reply(json("second"));
    } else if (request.verb == "drop") {
      // The Reply goes out of scope uncalled.
    } else {
      reply(Status::not_found("unknown verb " + request.verb));
    }
  }
};

TEST(ControlServer, AnswersARequest) {
  start();
  Client client = connect();
  const auto result = client.call("echo", {{"a", 1}});
  CHECK_TEXT(result.is_ok(), result.status().to_string().c_str());
  CHECK(*result == json({{"a", 1}}));
  CHECK_EQUAL(1U, on_io([this] { return server->requests(); }));
  CHECK_EQUAL(0U, on_io([this] { return server->rejected(); }));
}

TEST(ControlServer, AnswersPipelinedRequestsInOrder) {
  start();
  RawClient raw(path);
  // The first answer comes from a timer; the others must still wait for it.
  raw.send(R"({"verb":"later","args":{"n":1}})"
           "\n"
           R"({"verb":"echo","args":{"n":2}})"
           "\n"
           R"({"verb":"echo","args":{"n":3}})"
           "\n");
  STRCMP_EQUAL(ok_line({{"late", {{"n", 1}}}}).c_str(), raw.line().c_str());
  STRCMP_EQUAL(ok_line({{"n", 2}}).c_str(), raw.line().c_str());
  STRCMP_EQUAL(ok_line({{"n", 3}}).c_str(), raw.line().c_str());

  Client client = connect();
  for (int i = 0; i < 3; ++i) CHECK(*client.call("echo", {{"i", i}}) == json({{"i", i}}));
}

TEST(ControlServer, AsyncReplyArrivesLater) {
  start();
  Client client = connect();
  const auto result = client.call("later", {{"x", "y"}});
  CHECK_TEXT(result.is_ok(), result.status().to_string().c_str());
  CHECK(*result == json({{"late", {{"x", "y"}}}}));
}

TEST(ControlServer, HandlerErrorsRoundTripWithTheirCode) {
  start();
  Client client = connect();
  for (const char* code :
       {"invalid_argument", "not_found", "already_exists", "io_error", "corruption", "unavailable", "internal"}) {
    const std::string message = std::string("because ") + code;
    const auto result = client.call("fail", {{"code", code}, {"message", message}});
    CHECK_FALSE(result.is_ok());
    STRCMP_EQUAL(code, std::string(xrm::control::code_name(result.status().code())).c_str());
    STRCMP_EQUAL(message.c_str(), result.status().message().c_str());
  }
}

TEST(ControlServer, ThrowingHandlerIsAnInternalErrorAndTheServerGoesOn) {
  start();
  Client client = connect();
  const auto result = client.call("throw", json::object());
  CHECK(result.status().code() == Status::Code::kInternal);
  STRCMP_EQUAL("verb 'throw' failed: boom", result.status().message().c_str());
  CHECK(client.call("echo", {{"still", true}}).is_ok());
}

TEST(ControlServer, MalformedRequestsAreRefusedAndTheConnectionStays) {
  start();
  RawClient raw(path);
  raw.send("not json\n[1,2]\n{\"args\":{}}\n{\"verb\":\"\"}\n");
  STRCMP_EQUAL(error_line("invalid_argument", "request is not valid JSON").c_str(), raw.line().c_str());
  STRCMP_EQUAL(error_line("invalid_argument", "request is not a JSON object").c_str(), raw.line().c_str());
  STRCMP_EQUAL(error_line("invalid_argument", R"(request has no "verb" (a non-empty string))").c_str(),
               raw.line().c_str());
  STRCMP_EQUAL(error_line("invalid_argument", R"(request has no "verb" (a non-empty string))").c_str(),
               raw.line().c_str());
  raw.send(R"({"verb":"echo","args":{"after":1}})"
           "\n");
  STRCMP_EQUAL(ok_line({{"after", 1}}).c_str(), raw.line().c_str());
  CHECK_EQUAL(4U, on_io([this] { return server->rejected(); }));
  CHECK_EQUAL(1U, on_io([this] { return server->requests(); }));
}

TEST(ControlServer, LineAtTheLimitIsServedOneByteMoreIsNot) {
  start({.max_request_bytes = 1024});
  const std::string head = R"({"verb":"echo","args":{"s":")";
  const std::string tail = "\"}}\n";
  const std::string fits = head + std::string(1024 - head.size() - tail.size(), 'x') + tail;
  CHECK_EQUAL(1024U, fits.size());
  RawClient raw(path);
  raw.send(fits);
  STRCMP_CONTAINS(R"("ok":true)", raw.line().c_str());

  Client client = connect();
  const std::string over(fits.size() - head.size() - tail.size() + 1, 'x');
  CHECK_EQUAL(1025U, xrm::control::encode_request("echo", {{"s", over}}).size());
  const auto result = client.call("echo", {{"s", over}});
  CHECK(result.status().code() == Status::Code::kInvalidArgument);
  STRCMP_EQUAL("request too large (limit 1024 bytes)", result.status().message().c_str());
}

TEST(ControlServer, OversizedLineGetsAnErrorThenTheConnectionCloses) {
  start({.max_request_bytes = 1024});
  {
    RawClient raw(path);
    raw.send(std::string(100 * 1024, 'x'));  // no newline at all
    STRCMP_EQUAL(error_line("invalid_argument", "request too large (limit 1024 bytes)").c_str(), raw.line().c_str());
    CHECK(raw.closed());
  }
  CHECK_EQUAL(1U, on_io([this] { return server->rejected(); }));
  Client client = connect();
  CHECK(client.call("echo", {{"next", "client"}}).is_ok());
}

TEST(ControlServer, DeepNestingIsRefused) {
  start();
  Client client = connect();
  json deep = json::array();
  for (int i = 0; i < 40; ++i) deep = json::array({deep});
  const auto result = client.call("echo", {{"deep", deep}});
  CHECK(result.status().code() == Status::Code::kInvalidArgument);
  STRCMP_EQUAL("request nested deeper than 32 levels", result.status().message().c_str());

  // 20000 levels: far beyond what a recursive parser survives, still under the size limit.
  RawClient raw(path);
  raw.send(R"({"verb":"echo","args":{"a":)" + std::string(20000, '[') + std::string(20000, ']') + "}}\n");
  STRCMP_EQUAL(error_line("invalid_argument", "request nested deeper than 32 levels").c_str(), raw.line().c_str());
  CHECK(client.call("echo", json::object()).is_ok());
}

TEST(ControlServer, ClientsBeyondTheLimitAreTurnedAway) {
  start({.max_clients = 2});
  std::optional<Client> first = connect();
  Client second = connect();
  CHECK(first->call("echo", json::object()).is_ok());
  CHECK(second.call("echo", json::object()).is_ok());

  RawClient third(path);
  STRCMP_EQUAL(error_line("unavailable", "too many control clients").c_str(), third.line().c_str());
  CHECK(third.closed());
  Client fourth = connect();
  const auto refused = fourth.call("echo", json::object());
  CHECK(refused.status().code() == Status::Code::kUnavailable);
  STRCMP_EQUAL("too many control clients", refused.status().message().c_str());
  CHECK_EQUAL(2U, on_io([this] { return server->rejected(); }));

  first.reset();
  CHECK(eventually([this] { return server->clients() == 1; }));
  Client fifth = connect();
  CHECK(fifth.call("echo", json::object()).is_ok());
}

TEST(ControlServer, IdleTimeoutClosesSilentClients) {
  start({.idle_timeout = 200ms});
  const auto begin = std::chrono::steady_clock::now();
  RawClient silent(path);
  RawClient partial(path);
  partial.send(R"({"verb":"ec)");
  CHECK(silent.closed(3s));
  CHECK(partial.closed(3s));
  CHECK(std::chrono::steady_clock::now() - begin >= 190ms);
  CHECK(eventually([this] { return server->clients() == 0; }));
}

TEST(ControlServer, ClientThatNeverReadsIsClosed) {
  start({.idle_timeout = 200ms});
  RawClient reader_not(path);
  // Far more than the socket buffers hold, so the write stays pending.
  reader_not.send(R"({"verb":"big","args":{"bytes":1000000}})"
                  "\n");
  CHECK(eventually([this] { return server->requests() == 1; }));
  CHECK(eventually([this] { return server->clients() == 0; }));
  Client client = connect();
  CHECK(client.call("echo", json::object()).is_ok());
}

TEST(ControlServer, LargeResponseReachesAReadingClient) {
  start();
  Client client = connect();
  const auto result = client.call("big", {{"bytes", 1000000}});
  CHECK_TEXT(result.is_ok(), result.status().to_string().c_str());
  CHECK_EQUAL(1000000U, result->get_ref<const std::string&>().size());
}

TEST(ControlServer, PartialLineThenHangUpDisturbsNobody) {
  start();
  Client client = connect();
  CHECK(client.call("echo", {{"n", 1}}).is_ok());
  {
    RawClient quitter(path);
    quitter.send(R"({"verb":"echo","ar)");
  }
  CHECK(client.call("echo", {{"n", 2}}).is_ok());
  CHECK(eventually([this] { return server->clients() == 1; }));
  CHECK_EQUAL(0U, on_io([this] { return server->rejected(); }));
}

TEST(ControlServer, ReplyAfterTheClientLeftIsHarmless) {
  start();
  {
    RawClient raw(path);
    raw.send("{\"verb\":\"hold\"}\n");
    CHECK(eventually([this] { return static_cast<bool>(held); }));
  }
  on_io([this] {
    held(json("too late"));
    held(json("and again"));
  });
  CHECK(eventually([this] { return server->clients() == 0; }));
}

TEST(ControlServer, ReplyAfterTheServerIsGoneIsHarmless) {
  start();
  RawClient raw(path);
  raw.send("{\"verb\":\"hold\"}\n");
  CHECK(eventually([this] { return static_cast<bool>(held); }));
  on_io([this] {
    server.reset();
    held(json("nobody listens"));
  });
  CHECK(raw.closed());
}

TEST(ControlServer, OnlyTheFirstReplyCounts) {
  start();
  RawClient raw(path);
  raw.send("{\"verb\":\"twice\"}\n{\"verb\":\"echo\",\"args\":{\"n\":2}}\n");
  STRCMP_EQUAL(ok_line("first").c_str(), raw.line().c_str());
  STRCMP_EQUAL(ok_line({{"n", 2}}).c_str(), raw.line().c_str());
}

TEST(ControlServer, DroppedReplyClosesTheConnection) {
  start();
  Client client = connect();
  const auto result = client.call("drop", json::object(), 3s);
  CHECK(result.status().code() == Status::Code::kUnavailable);
  STRCMP_CONTAINS("closed the connection", result.status().message().c_str());
}

TEST(ControlServer, PeerCredentialsComeWithTheRequest) {
  start();
  Client client = connect();
  const auto peer = client.call("peer", json::object());
  CHECK_TEXT(peer.is_ok(), peer.status().to_string().c_str());
  CHECK_EQUAL(getuid(), peer->at("uid").get<uid_t>());
  CHECK_EQUAL(getgid(), peer->at("gid").get<gid_t>());
  CHECK_EQUAL(getpid(), peer->at("pid").get<pid_t>());
  STRCMP_CONTAINS(("xrmctl:uid=" + std::to_string(getuid())).c_str(), peer->at("actor").get<std::string>().c_str());
}

TEST(ControlServer, SocketIs0660InA0750DirectoryWhateverTheUmask) {
  const mode_t saved = ::umask(0077);
  start();
  ::umask(saved);
  struct stat st {};
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  CHECK(S_ISSOCK(st.st_mode));
  CHECK_EQUAL(0660, st.st_mode & 07777);
  CHECK_EQUAL(0, ::stat((root + "/run/xrm").c_str(), &st));
  CHECK_EQUAL(0750, st.st_mode & 07777);
  CHECK_EQUAL(0, ::stat((root + "/run").c_str(), &st));
  CHECK_EQUAL(0750, st.st_mode & 07777);
}

TEST(ControlServer, OnlyRootTheDaemonsUserAndMembersOfTheGroupMayUseTheSocket) {
  ServerAccess access;
  access.owner = 1000;
  access.group = 2000;
  CHECK(xrm::control::may_use(access, 0, 0, {}));                // root
  CHECK(xrm::control::may_use(access, 1000, 1000, {}));          // the daemon's own user
  CHECK(xrm::control::may_use(access, 1001, 2000, {}));          // primary group
  CHECK(xrm::control::may_use(access, 1001, 1001, {27, 2000}));  // supplementary group
  CHECK_FALSE(xrm::control::may_use(access, 1001, 1001, {}));
  CHECK_FALSE(xrm::control::may_use(access, 1001, 1001, {27, 2001}));
  CHECK_FALSE(xrm::control::may_use(access, 65534, 65534, {65534}));
}

TEST(ControlServer, TheSocketFileGetsTheConfiguredGroup) {
  ServerAccess access;
  access.group = ::getegid();
  start({}, access);
  struct stat st {};
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  CHECK_EQUAL(access.group, st.st_gid);
  if (::geteuid() != 0) return;  // only root may give a file a group it is not in
  server.reset();
  access.group = 4242;
  start({}, access);
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  CHECK_EQUAL(4242U, st.st_gid);
}

// Credentials are checked by the server, not only by the file's mode: the socket is opened to
// everyone here (0666, directories 0755), and a client outside the group is still refused.
TEST(ControlServer, APeerOutsideTheGroupGetsPermissionDeniedWhateverTheFileMode) {
  CHECK_TEXT(::geteuid() == 0, "this test runs clients as another user and needs root (CI runs as root)");
  ServerAccess access;
  access.group = 4242;  // nobody is not in it
  start({}, access);
  CHECK_EQUAL(0, ::chmod(path.c_str(), 0666));
  CHECK_EQUAL(0, ::chmod((root + "/run/xrm").c_str(), 0755));
  CHECK_EQUAL(0, ::chmod((root + "/run").c_str(), 0755));
  CHECK_EQUAL(0, ::chmod(root.c_str(), 0755));
  const std::string got = as_nobody(path, {}, "{\"verb\":\"echo\"}\n");
  STRCMP_CONTAINS("\"code\":\"permission_denied\"", got.c_str());
  STRCMP_CONTAINS("uid 65534 may not use the control socket", got.c_str());
  CHECK(got.find("\"ok\":true") == std::string::npos);
  CHECK_EQUAL(1U, on_io([this] { return server->rejected(); }));
  CHECK_EQUAL(0U, on_io([this] { return server->requests(); }));
}

TEST(ControlServer, AMemberThroughASupplementaryGroupIsServed) {
  CHECK_TEXT(::geteuid() == 0, "this test runs clients as another user and needs root (CI runs as root)");
  ServerAccess access;
  access.group = 4242;
  start({}, access);
  CHECK_EQUAL(0, ::chmod((root + "/run/xrm").c_str(), 0755));
  CHECK_EQUAL(0, ::chmod((root + "/run").c_str(), 0755));
  CHECK_EQUAL(0, ::chmod(root.c_str(), 0755));
  // The socket stays 0660 root:4242: the member reaches it through the file's group, too.
  const std::string got = as_nobody(path, {4242}, "{\"verb\":\"echo\",\"args\":{\"x\":1}}\n");
  STRCMP_EQUAL((ok_line(json{{"x", 1}}) + "\n").c_str(), got.c_str());
}

TEST(ControlServer, StaleSocketFileIsReplaced) {
  fs::create_directories(fs::path(path).parent_path());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un addr = address(path);
  CHECK_EQUAL(0, ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr));
  ::close(fd);  // the file stays, nobody accepts on it
  CHECK(fs::is_socket(path));
  start();
  Client client = connect();
  CHECK(client.call("echo", json::object()).is_ok());
}

TEST(ControlServer, LiveSocketIsNotTakenOver) {
  start();
  const auto second = open();
  CHECK_FALSE(second.is_ok());
  CHECK(second.status().code() == Status::Code::kUnavailable);
  STRCMP_CONTAINS(path.c_str(), second.status().message().c_str());
  Client client = connect();
  CHECK(client.call("echo", json::object()).is_ok());
}

TEST(ControlServer, OtherFileAtThePathIsLeftAlone) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "not a socket";
  const auto opened = open();
  CHECK_FALSE(opened.is_ok());
  CHECK(opened.status().code() == Status::Code::kIoError);
  STRCMP_CONTAINS(path.c_str(), opened.status().message().c_str());
  CHECK(fs::is_regular_file(path));
}

TEST(ControlServer, DestructionUnlinksTheSocketAndClosesClients) {
  start();
  Client client = connect();
  CHECK(client.call("echo", json::object()).is_ok());
  on_io([this] { server.reset(); });
  CHECK_FALSE(fs::exists(path));
  CHECK(client.call("echo", json::object()).status().code() == Status::Code::kUnavailable);
  const auto refused = Client::connect(path);
  CHECK_FALSE(refused.is_ok());
  STRCMP_CONTAINS("(is xrm-gatewayd running?)", refused.status().message().c_str());
}
