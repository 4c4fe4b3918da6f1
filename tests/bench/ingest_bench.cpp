// Ingest throughput: N devices' small JSON telemetry published through a real Mosquitto as fast as
// the publisher can, received by the real daemon, and by a bare Paho C++ subscriber (the baseline:
// what any MQTT client gets from this broker on this machine) in the same run, rounds alternating.
// Prints both rates, the ratio gateway/bare, CPU per message and RSS. Asserts nothing; exits
// non-zero only when the setup fails.
//
// The publisher is by default MQTT spoken over a plain socket (--publisher raw), because one Paho
// C++ client (--publisher paho) published only about 35-60k msg/s at QoS 0 and 15-22k at QoS 1 on
// a 2-core VM, while the bare subscriber took about 95k at QoS 0: with it, both subscribers mostly
// show the publisher's rate and the ratio says little. The publisher rate is printed either way.
//
// What makes the two comparable:
// - Both subscribers are separate processes (the bare one is this program re-executed with the
//   hidden --bare-child option), connect as the same dynamic-security admin user with MQTT 5 and a
//   persistent session, and subscribe the same five filters at QoS 1 before anything is published.
//   The bare one only increments a counter; the daemon does whatever its pipeline does today.
// - The broker gets the same extra configuration for both, so it never drops silently:
//   max_queued_messages 0 (no limit) also lifts the QoS 0 drop when a subscriber's socket backs up.
// - Rate = messages counted / (last counted message - first publish), both seen by the same poll
//   loop. It polls every 5 ms near the end of a run and less often before (the daemon's count
//   comes from a status request on its control socket, which costs the daemon a few hundred µs of
//   CPU; the bare count is a shared memory page). Both carry the same few ms of resolution; the
//   daemon's polling CPU is measured, printed, and included in its CPU per message.
// - CPU is utime + stime from /proc/PID/stat of each process over the same window (tick resolution).
// - Nothing stays queued between runs: each run starts a fresh subscriber process, waits until a
//   probe message has arrived and the count is stable, and at its end the subscriber's session is
//   ended on the broker (the idle subscriber of the other kind would make the broker queue every
//   message for it).
// - The daemon's first run is preceded by a warm-up message from every device: a device's first
//   message makes it active (a registry transaction and a lifecycle record), a one-time cost that
//   is not ingest.
#include <arpa/inet.h>
#include <fcntl.h>
#include <mqtt/async_client.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_report.hpp"
#include "bench_util.hpp"
#include "xrm/control/client.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/testing/gateway_under_test.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/poll.hpp"
#include "xrm/testing/process.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::bench::Clock;
using xrm::bench::seconds_between;

constexpr const char* kLeaves[] = {"tele", "evt", "birth", "state", "cmd-res"};
// The daemon's own local session expiry (LocalLink::kSessionExpirySeconds), so the bare
// subscriber's session is the same kind of session.
constexpr int kSessionExpirySeconds = 7 * 24 * 3600;
constexpr auto kPollMin = 5ms;
constexpr auto kPollMax = 100ms;
constexpr auto kStallAfter = 2s;
// A device id the registry does not know: probes go through the whole path (the daemon counts
// them in `messages`, not in `accepted`) without touching any registered device's sequence.
constexpr const char* kProbeTopic = "xrm/v1/dev/bench-probe/tele";
constexpr const char* kProbePayload = R"({"seq":0,"ts":0})";
constexpr const char* kBareClientId = "bench-bare";
constexpr const char* kGatewayClientId = "xrm-gw-bench";
constexpr const char* kPublisherUser = "bench-publisher";
constexpr const char* kPasswordEnv = "XRM_BENCH_PASSWORD";
// The devices' profile: the example profile's chiller with its temperature rule (the readings
// here, 4.25, keep it healthy: the rule is evaluated on every message but never fires).
constexpr const char* kProfiles = R"([[profile]]
class = "chiller"
expected_interval = "10s"
offline_after = "60s"
bands = { healthy = 80, critical = 50 }
escalate = { degraded = "alert", critical = "service_request" }

[[profile.rule]]
name = "overheat"
when = "avg(temp_c, 1m) > 8"
for = "30s"
penalty = 40
)";

// The two payload encodings the contract allows on .../tele.
enum class Format { kJson, kProtobuf };

const char* to_string(Format f) { return f == Format::kJson ? "JSON" : "protobuf"; }

// The telemetry payload, the same readings in either encoding; returns its length (0 if it does
// not fit, which the 128-byte buffers here never see).
int format_payload(Format format, char* out, std::size_t size, std::uint64_t seq) {
  if (format == Format::kJson) {
    return std::snprintf(out, size, R"({"seq":%llu,"ts":%lld,"temp_c":4.25,"door":0})",
                         static_cast<unsigned long long>(seq), xrm::bench::unix_ms());
  }
  xrm::v1::Telemetry t;
  t.set_seq(static_cast<std::uint32_t>(seq));
  t.set_ts(static_cast<std::uint64_t>(xrm::bench::unix_ms()));
  auto* temp = t.add_metrics();
  temp->set_name("temp_c");
  temp->set_value(4.25);
  auto* door = t.add_metrics();
  door->set_name("door");
  door->set_value(0);
  const auto n = t.ByteSizeLong();
  if (n > size || !t.SerializeToArray(out, static_cast<int>(size))) return 0;
  return static_cast<int>(n);
}

// --- child processes: the bare subscriber and ending a session -----------------------------------

// The page the bare subscriber child and this program share (a file both map). Lock-free atomics
// are address-free, so they work across processes.
struct BareShared {
  std::atomic<std::uint64_t> received;
  std::atomic<int> state;  // kStarting, kSubscribed or kFailed
  std::atomic<int> stop;   // set by the parent: disconnect and exit
  char error[512];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);
enum : int { kStarting = 0, kSubscribed = 1, kFailed = 2 };

// Maps the shared page at path (created and sized by the parent).
BareShared* map_shared(const std::string& path, bool create) {
  const int fd = ::open(path.c_str(), create ? O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (create && ::ftruncate(fd, sizeof(BareShared)) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot size " + path + ": " + std::strerror(errno));
  }
  void* p = ::mmap(nullptr, sizeof(BareShared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
  return static_cast<BareShared*>(p);
}

mqtt::connect_options v5_options(const std::string& user, const std::string& password, int session_expiry_s) {
  mqtt::connect_options opts;
  opts.set_mqtt_version(MQTTVERSION_5);
  opts.set_clean_session(false);  // Paho rejects the 3.1.1 flag under MQTT 5
  opts.set_clean_start(true);     // a fresh session: nothing left from an earlier run
  opts.set_keep_alive_interval(std::chrono::seconds(60));
  opts.set_user_name(user);
  opts.set_password(password);
  if (session_expiry_s > 0) {
    // On the finished options: Paho 1.2's builder drops properties in finalize().
    opts.set_properties(mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL, session_expiry_s}});
  }
  return opts;
}

std::string child_password() {
  const char* p = std::getenv(kPasswordEnv);
  return p != nullptr ? p : "";
}

int bare_child_main(const std::string& shared_path, const std::string& url, const std::string& user) {
  BareShared* shared = map_shared(shared_path, false);
  try {
    mqtt::async_client client(url, kBareClientId, mqtt::create_options(MQTTVERSION_5), nullptr);
    // Runs on Paho's thread; Paho acknowledges a QoS 1 message when this returns.
    client.set_message_callback(
        [shared](mqtt::const_message_ptr) { shared->received.fetch_add(1, std::memory_order_relaxed); });
    client.connect(v5_options(user, child_password(), kSessionExpirySeconds))->wait();
    auto filters = std::make_shared<mqtt::string_collection>();
    for (const char* leaf : kLeaves) filters->push_back(std::string("xrm/v1/dev/+/") + leaf);
    const auto tok = client.subscribe(filters, mqtt::iasync_client::qos_collection(filters->size(), 1));
    tok->wait();
    const auto response = tok->get_subscribe_response();  // a copy: the codes live in it
    for (const auto code : response.get_reason_codes()) {
      if (code >= 0x80) throw std::runtime_error("subscription refused, reason " + std::to_string(code));
    }
    shared->state = kSubscribed;
    while (shared->stop.load() == 0) std::this_thread::sleep_for(10ms);
    // Session expiry 0 on DISCONNECT ends the session: the broker queues nothing for it afterwards.
    mqtt::disconnect_options bye;
    bye.set_properties(mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL, 0}});
    client.disconnect(bye)->wait();
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(shared->error, sizeof shared->error, "%s", e.what());
    shared->state = kFailed;
    return 1;
  }
}

// Connects as client_id with a clean start and no session expiry, then disconnects: whatever
// session the broker kept for that id is gone. Runs as a child process because Paho's shared
// threads in a process that has used Paho before notice a new connection only after their
// select timeout (about a second); a fresh process connects in milliseconds.
int end_session_main(const std::string& client_id, const std::string& url, const std::string& user) {
  try {
    mqtt::async_client c(url, client_id, mqtt::create_options(MQTTVERSION_5), nullptr);
    c.connect(v5_options(user, child_password(), 0))->wait();
    c.disconnect()->wait();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "end session %s: %s\n", client_id.c_str(), e.what());
    return 1;
  }
}

// --- publishers -----------------------------------------------------------------------------------

struct PublishResult {
  Clock::time_point first{};  // just before the first publish
  Clock::time_point done{};   // the last completion (handed to the socket at QoS 0, PUBACK at QoS 1)
  std::uint64_t sent = 0;
  std::uint64_t failed = 0;
  bool aborted = false;  // stopped early; the publisher must not be used again
};

// One client standing in for the whole fleet, publishing round-robin over the devices' topics.
class Publisher {
 public:
  virtual ~Publisher() = default;
  // One QoS 1 message on the probe topic, waiting for its PUBACK.
  virtual void probe() = 0;
  // Publishes total messages at qos as fast as it can, seq holding each device's last sequence
  // number (advanced here), and waits for every completion. abort, set by another thread, stops it.
  virtual PublishResult run(std::uint64_t total, int qos, std::vector<std::uint64_t>& seq,
                            const std::atomic<bool>& abort) = 0;
  virtual std::string describe() const = 0;

  Format format = Format::kJson;  // of the telemetry run() publishes
};

// A Paho C++ async_client. Paho refuses publishes beyond max_buffered_messages even while
// connected, so at most `window` publishes are outstanding; each completion callback frees a slot.
class PahoPublisher : public Publisher {
 public:
  PahoPublisher(const std::string& url, const std::string& password, const std::vector<std::string>& topics, int window)
      : window_(window),
        client_(url, "bench-pub", mqtt::create_options(MQTTVERSION_3_1_1, window + 100), nullptr),
        slots_(window),
        listener_(*this) {
    for (const auto& t : topics) topics_.emplace_back(t);  // shared, not copied per publish
    mqtt::connect_options opts;
    opts.set_user_name(kPublisherUser);
    opts.set_password(password);
    opts.set_clean_session(true);
    opts.set_max_inflight(window);
    client_.connect(opts)->wait();
  }
  ~PahoPublisher() override {
    try {
      client_.disconnect()->wait_for(5s);
    } catch (const std::exception&) {
    }
  }
  PahoPublisher(const PahoPublisher&) = delete;
  PahoPublisher& operator=(const PahoPublisher&) = delete;

  void probe() override { client_.publish(kProbeTopic, kProbePayload, 1, false)->wait(); }

  PublishResult run(std::uint64_t total, int qos, std::vector<std::uint64_t>& seq,
                    const std::atomic<bool>& abort) override {
    PublishResult r;
    failed_ = 0;
    char payload[128];
    // Waits for a slot; false once abort is set.
    auto take_slot = [&] {
      while (!slots_.try_acquire_for(100ms)) {
        if (abort) return false;
      }
      return true;
    };
    r.first = Clock::now();
    for (std::uint64_t i = 0; i < total; ++i) {
      if (!take_slot()) {
        r.aborted = true;
        break;
      }
      const std::size_t d = i % topics_.size();
      const int n = format_payload(format, payload, sizeof payload, ++seq[d]);
      try {
        client_.publish(topics_[d], payload, static_cast<std::size_t>(n), qos, false, nullptr, listener_);
      } catch (...) {
        slots_.release();
        throw;
      }
      ++r.sent;
    }
    // Every slot back: every publish completed.
    int taken = 0;
    while (!r.aborted && taken < window_) {
      if (take_slot()) {
        ++taken;
      } else {
        r.aborted = true;
      }
    }
    slots_.release(taken);
    r.done = Clock::now();
    r.failed = failed_;
    return r;
  }

  std::string describe() const override {
    return "one Paho C++ async_client, MQTT 3.1.1, at most " + std::to_string(window_) + " publishes outstanding";
  }

 private:
  class Listener : public mqtt::iaction_listener {
   public:
    explicit Listener(PahoPublisher& p) : p_(p) {}

   private:
    void on_success(const mqtt::token&) override { p_.slots_.release(); }
    void on_failure(const mqtt::token&) override {
      ++p_.failed_;
      p_.slots_.release();
    }
    PahoPublisher& p_;
  };

  int window_;
  mqtt::async_client client_;
  std::vector<mqtt::string_ref> topics_;
  std::counting_semaphore<INT_MAX> slots_;
  std::atomic<std::uint64_t> failed_{0};
  Listener listener_;
};

// MQTT 3.1.1 spoken over a plain socket: PUBLISH packets encoded into a buffer and written 64 KiB
// at a time, PUBACKs read and counted. A load generator only, for when one Paho client cannot
// publish as fast as the broker and a subscriber take messages: Paho hands every message to its
// send thread and writes it with its own system call. Blocking socket, one thread.
class RawPublisher : public Publisher {
 public:
  RawPublisher(int port, const std::string& password, const std::vector<std::string>& topics, int window)
      : topics_(topics), window_(window) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("raw publisher: connect: " + why);
    }
    // CONNECT: protocol "MQTT" level 4, flags username|password|clean session, the longest
    // keep-alive (a run never idles that long), then client id, username, password.
    std::string body;
    put_string(body, "MQTT");
    body += '\x04';
    body += static_cast<char>(0x80 | 0x40 | 0x02);
    body += '\xff';
    body += '\xff';
    put_string(body, "bench-pub");
    put_string(body, kPublisherUser);
    put_string(body, password);
    std::string packet(1, '\x10');
    put_length(packet, body.size());
    packet += body;
    out_.assign(packet.begin(), packet.end());
    flush();
    std::uint8_t connack[4];
    read_exact(connack, sizeof connack);
    if (connack[0] != 0x20 || connack[3] != 0) {
      ::close(fd_);
      throw std::runtime_error("raw publisher: CONNACK refused, code " + std::to_string(connack[3]));
    }
  }
  ~RawPublisher() override {
    const char disconnect[2] = {'\xe0', '\x00'};
    (void)::send(fd_, disconnect, sizeof disconnect, MSG_NOSIGNAL);
    ::close(fd_);
  }
  RawPublisher(const RawPublisher&) = delete;
  RawPublisher& operator=(const RawPublisher&) = delete;

  void probe() override {
    append_publish(kProbeTopic, kProbePayload, std::strlen(kProbePayload), 1);
    flush();
    outstanding_ = 1;
    const auto deadline = Clock::now() + 10s;
    while (outstanding_ > 0) {
      if (read_acks(100) == 0 && Clock::now() > deadline) throw std::runtime_error("raw publisher: no PUBACK in 10 s");
    }
  }

  PublishResult run(std::uint64_t total, int qos, std::vector<std::uint64_t>& seq,
                    const std::atomic<bool>& abort) override {
    PublishResult r;
    char payload[128];
    outstanding_ = 0;
    r.first = Clock::now();
    for (std::uint64_t i = 0; i < total; ++i) {
      const std::size_t d = i % topics_.size();
      const int n = format_payload(format, payload, sizeof payload, ++seq[d]);
      append_publish(topics_[d], payload, static_cast<std::size_t>(n), qos);
      ++r.sent;
      if (out_.size() >= 64 * 1024) flush();
      if (qos == 1) {
        ++outstanding_;
        if (outstanding_ >= window_) {
          flush();
          while (outstanding_ >= window_) {
            if (read_acks(100) == 0 && abort) {
              r.aborted = true;
              r.done = Clock::now();
              return r;
            }
          }
        }
      }
    }
    flush();
    while (qos == 1 && outstanding_ > 0) {
      if (read_acks(100) == 0 && abort) {
        r.aborted = true;
        break;
      }
    }
    r.done = Clock::now();
    return r;
  }

  std::string describe() const override {
    return "raw MQTT 3.1.1 socket (load generator), 64 KiB writes, at most " + std::to_string(window_) +
           " QoS 1 publishes unacknowledged";
  }

 private:
  template <class Bytes>
  static void put_string(Bytes& out, std::string_view s) {
    out.push_back(static_cast<char>(s.size() >> 8));
    out.push_back(static_cast<char>(s.size() & 0xff));
    out.insert(out.end(), s.begin(), s.end());
  }
  template <class Bytes>
  static void put_length(Bytes& out, std::size_t n) {
    do {
      auto b = static_cast<std::uint8_t>(n % 128);
      n /= 128;
      if (n > 0) b |= 0x80;
      out.push_back(static_cast<char>(b));
    } while (n > 0);
  }

  // Encodes straight into the output buffer: no allocation per message once it has grown.
  void append_publish(std::string_view topic, const char* payload, std::size_t n, int qos) {
    out_.push_back(static_cast<char>(0x30 | (qos << 1)));
    put_length(out_, 2 + topic.size() + (qos > 0 ? 2 : 0) + n);
    put_string(out_, topic);
    if (qos > 0) {
      out_.push_back(static_cast<char>(next_id_ >> 8));
      out_.push_back(static_cast<char>(next_id_ & 0xff));
      next_id_ = next_id_ == 65535 ? 1 : next_id_ + 1;
    }
    out_.insert(out_.end(), payload, payload + n);
  }

  void flush() {
    std::size_t done = 0;
    while (done < out_.size()) {
      const ssize_t w = ::send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw std::runtime_error(std::string("raw publisher: send: ") + std::strerror(errno));
      done += static_cast<std::size_t>(w);
    }
    out_.clear();
  }

  void read_exact(std::uint8_t* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd_, buf + got, n - got, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw std::runtime_error("raw publisher: the broker closed the connection");
      got += static_cast<std::size_t>(r);
    }
  }

  // Reads the PUBACKs that have arrived (4 bytes each; nothing else comes to a client without
  // subscriptions), waiting up to timeout_ms for the first. Returns how many.
  int read_acks(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    int ready = 0;
    do {
      ready = ::poll(&p, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) return 0;
    std::uint8_t buf[4096];
    ssize_t r = 0;
    do {
      r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (r <= 0) throw std::runtime_error("raw publisher: the broker closed the connection");
    ack_bytes_ += static_cast<std::size_t>(r);
    const auto acks = static_cast<int>(ack_bytes_ / 4);
    ack_bytes_ %= 4;
    outstanding_ -= acks;
    return acks;
  }

  int fd_ = -1;
  std::vector<std::string> topics_;
  int window_;
  std::vector<char> out_;
  std::uint16_t next_id_ = 1;
  int outstanding_ = 0;
  std::size_t ack_bytes_ = 0;
};

// Creates the publishing client's account over the dynamic-security control topic, as the admin:
// one role allowed to publish anywhere below xrm/v1/dev/ (devices each get their own narrow role;
// one client standing in for the whole fleet needs the wide one).

// --- one measured run ------------------------------------------------------------------------------

struct Run {
  std::string who;
  double pub_rate = 0;
  std::uint64_t pub_failed = 0;
  std::uint64_t received = 0;
  std::uint64_t lost = 0;
  std::uint64_t extra = 0;               // more than published: duplicates
  std::optional<std::uint64_t> dropped;  // the daemon's own count of messages it dropped, if it has one
  double seconds = 0;
  double rate = 0;
  double cpu_us = 0;     // the subscriber process, per message received
  double broker_us = 0;  // Mosquitto, per message published
  double bench_us = 0;   // this program (publisher and poll loop), per message published
  long rss_before = 0;
  long rss_after = 0;
  int polls = 0;
  double poll_ms = 0;  // mean time one count poll took
};

struct Bench {
  explicit Bench(const xrm::testing::Mosquitto& local) : broker(local) {}

  const xrm::testing::Mosquitto& broker;
  int broker_pid = -1;
  std::string self;  // this program, for the child processes
  std::string dir;   // for the children's files
  std::string publisher_kind;
  std::string publisher_password;
  std::vector<std::string> topics;
  std::uint64_t total = 0;
  int window = 0;
  std::unique_ptr<Publisher> publisher;  // kept across runs; replaced after an aborted run
  Format format = Format::kJson;          // what the publisher sends

  Publisher& pub() {
    if (!publisher) {
      if (publisher_kind == "raw") {
        publisher = std::make_unique<RawPublisher>(broker.port(), publisher_password, topics, window);
      } else {
        publisher = std::make_unique<PahoPublisher>(broker.url(), publisher_password, topics, window);
      }
    }
    publisher->format = format;
    return *publisher;
  }
};

// How long to wait before the next poll: 5 ms when the end is near, up to 100 ms while it is far,
// so the daemon's end is seen to within a few ms without polling it 200 times a second.
std::chrono::milliseconds next_poll(std::uint64_t n, std::uint64_t total, Clock::time_point start) {
  const double elapsed = seconds_between(start, Clock::now());
  if (n == 0 || elapsed <= 0) return 20ms;
  const double eta_ms = static_cast<double>(total - std::min(n, total)) / (static_cast<double>(n) / elapsed) * 1000;
  const auto wait = std::chrono::milliseconds(static_cast<long long>(eta_ms / 4));
  return std::clamp<std::chrono::milliseconds>(wait, kPollMin, kPollMax);
}

// Publishes bench.total messages from a second thread while polling count() (the subscriber's
// count from its own zero), and measures the subscriber process pid around it.
template <class Count>
Run measure(Bench& bench, const std::string& who, int qos, int pid, std::vector<std::uint64_t>& seq, Count&& count) {
  Run run;
  run.who = who;
  Publisher& pub = bench.pub();
  run.rss_before = xrm::bench::rss_kb(pid);
  const double cpu0 = xrm::bench::cpu_seconds(pid);
  const double broker0 = xrm::bench::cpu_seconds(bench.broker_pid);
  const double self0 = xrm::bench::cpu_seconds(static_cast<int>(::getpid()));

  std::atomic<bool> abort{false};
  PublishResult published;
  std::exception_ptr failure;
  const auto start = Clock::now();
  std::thread publisher([&] {
    try {
      published = pub.run(bench.total, qos, seq, abort);
    } catch (...) {
      failure = std::current_exception();
    }
  });

  std::uint64_t last = 0;
  auto last_growth = start;
  double poll_total_ms = 0;
  for (;;) {
    std::this_thread::sleep_for(next_poll(last, bench.total, start));
    const auto t = Clock::now();
    const std::uint64_t n = count();
    const auto now = Clock::now();
    poll_total_ms += std::chrono::duration<double, std::milli>(now - t).count();
    ++run.polls;
    if (n > last) {
      last = n;
      last_growth = now;
    }
    if (n >= bench.total || now - last_growth > kStallAfter) break;
  }
  // After a stall a publisher still waiting for completions gives up; otherwise it is left to see
  // its last completions, which end its own timing.
  if (last < bench.total) abort = true;
  publisher.join();
  if (failure) std::rethrow_exception(failure);
  if (published.aborted) bench.publisher.reset();
  const double cpu1 = xrm::bench::cpu_seconds(pid);
  const double broker1 = xrm::bench::cpu_seconds(bench.broker_pid);
  const double self1 = xrm::bench::cpu_seconds(static_cast<int>(::getpid()));
  run.rss_after = xrm::bench::rss_kb(pid);
  // Anything beyond the total (duplicates) would arrive right after; a short look.
  std::this_thread::sleep_for(300ms);
  const std::uint64_t settled = count();

  const auto total = static_cast<double>(bench.total);
  run.pub_rate = static_cast<double>(published.sent) / seconds_between(published.first, published.done);
  run.pub_failed = published.failed;
  run.received = std::min(last, bench.total);
  run.lost = bench.total - run.received;
  run.extra = settled > bench.total ? settled - bench.total : 0;
  run.seconds = seconds_between(published.first, last_growth);
  run.rate = static_cast<double>(run.received) / run.seconds;
  run.cpu_us = (cpu1 - cpu0) * 1e6 / std::max(1.0, static_cast<double>(run.received));
  run.broker_us = (broker1 - broker0) * 1e6 / total;
  run.bench_us = (self1 - self0) * 1e6 / total;
  run.poll_ms = poll_total_ms / std::max(1, run.polls);
  return run;
}

// Waits until count() has not changed for 200 ms (a late probe, or anything else still queued).
template <class Count>
std::uint64_t settle(Count&& count) {
  std::uint64_t last = count();
  auto since = Clock::now();
  while (Clock::now() - since < 200ms) {
    std::this_thread::sleep_for(20ms);
    const std::uint64_t n = count();
    if (n != last) {
      last = n;
      since = Clock::now();
    }
  }
  return last;
}

// Publishes probes until probed() says one arrived: the subscriptions are in place end to end.
template <class Probed>
void probe(Publisher& pub, Probed&& probed, const std::string& who) {
  const bool arrived = xrm::testing::poll_until(
      [&] {
        if (probed()) return true;
        pub.probe();
        return probed();
      },
      10s, 100ms);
  if (!arrived) throw std::runtime_error(who + ": no probe message arrived within 10 s");
}

void end_session(const Bench& bench, const std::string& client_id) {
  xrm::testing::Process child({.argv = {bench.self, "--end-session", client_id, "--url", bench.broker.url(), "--user",
                                        bench.broker.admin_user()},
                               .env = {{kPasswordEnv, bench.broker.admin_password()}},
                               .stdout_path = bench.dir + "/end-session.log"});
  const auto rc = child.wait_exit(10s);
  if (!rc || *rc != 0) {
    throw std::runtime_error("cannot end the session of " + client_id + ": " +
                             xrm::testing::tail_file(bench.dir + "/end-session.log"));
  }
}

Run run_bare(Bench& bench, int qos, std::vector<std::uint64_t>& seq) {
  const std::string shared_path = bench.dir + "/bare.shm";
  BareShared* shared = map_shared(shared_path, true);
  xrm::testing::Process child({.argv = {bench.self, "--bare-child", shared_path, "--url", bench.broker.url(), "--user",
                                        bench.broker.admin_user()},
                               .env = {{kPasswordEnv, bench.broker.admin_password()}},
                               .stdout_path = bench.dir + "/bare.log"});
  const bool up =
      xrm::testing::poll_until([&] { return shared->state.load() != kStarting || !child.is_running(); }, 10s, 5ms);
  if (!up || shared->state.load() != kSubscribed) {
    throw std::runtime_error(std::string("bare subscriber did not subscribe: ") + shared->error + " " +
                             xrm::testing::tail_file(bench.dir + "/bare.log"));
  }
  auto received = [&] { return shared->received.load(std::memory_order_relaxed); };
  probe(
      bench.pub(), [&] { return received() > 0; }, "bare subscriber");
  const std::uint64_t base = settle(received);
  Run run = measure(bench, "bare", qos, child.pid(), seq, [&] { return received() - base; });
  shared->stop = 1;
  const auto rc = child.wait_exit(5s);
  ::munmap(shared, sizeof(BareShared));
  if (!rc || *rc != 0) {
    child.kill(SIGKILL);
    end_session(bench, kBareClientId);  // it could not end its own
  }
  return run;
}

struct GatewayCounts {
  std::uint64_t messages = 0;
  std::uint64_t accepted = 0;
  std::optional<std::uint64_t> dropped;
  bool connected = false;
};

GatewayCounts gateway_counts(xrm::control::Client& client, const xrm::testing::GatewayUnderTest& gw) {
  auto r = client.call("status", json::object(), 10s);
  if (!r) {
    throw std::runtime_error("status: " + r.status().to_string() + "\n" + xrm::testing::tail_file(gw.log_path()));
  }
  const json& ingest = r->at("ingest");
  GatewayCounts c;
  c.messages = ingest.at("messages").get<std::uint64_t>();
  c.accepted = ingest.at("accepted").get<std::uint64_t>();
  if (auto it = ingest.find("dropped"); it != ingest.end() && it->is_number_unsigned())
    c.dropped = it->get<std::uint64_t>();
  c.connected = r->at("connections").at("local").at("connected").get<bool>();
  return c;
}

struct StatusCost {
  double round_trip_us = 0;
  double gateway_cpu_us = 0;
};

// Starts the daemon and waits until its local subscriptions deliver (a probe arrived). Returns
// the connected control client.
xrm::control::Client start_gateway(Bench& bench, xrm::testing::GatewayUnderTest& gw) {
  gw.start();
  std::optional<xrm::control::Client> client;
  const bool listening = xrm::testing::poll_until(
      [&] {
        if (!gw.is_running()) return true;
        auto c = xrm::control::Client::connect(gw.control_socket());
        if (c) client.emplace(std::move(*c));
        return client.has_value();
      },
      30s, 10ms);
  if (!listening || !client) {
    throw std::runtime_error("the daemon did not open its control socket:\n" + xrm::testing::tail_file(gw.log_path()));
  }
  if (!xrm::testing::poll_until([&] { return gateway_counts(*client, gw).connected; }, 30s, 10ms)) {
    throw std::runtime_error("the daemon did not connect to the local broker:\n" +
                             xrm::testing::tail_file(gw.log_path()));
  }
  const std::uint64_t probed_from = gateway_counts(*client, gw).messages;
  probe(
      bench.pub(), [&] { return gateway_counts(*client, gw).messages > probed_from; }, "gateway");
  return std::move(*client);
}

void stop_gateway(Bench& bench, xrm::testing::GatewayUnderTest& gw) {
  if (const auto rc = gw.terminate(10s); !rc || *rc != 0) {
    throw std::runtime_error("the daemon did not stop cleanly (exit " + (rc ? std::to_string(*rc) : "timeout") +
                             "):\n" + xrm::testing::tail_file(gw.log_path()));
  }
  end_session(bench, kGatewayClientId);
}

// Every device's first message, so that the measured runs see active devices only.
double warm_up_gateway(Bench& bench, xrm::testing::GatewayUnderTest& gw, std::vector<std::uint64_t>& seq) {
  auto client = start_gateway(bench, gw);
  const std::uint64_t base = settle([&] { return gateway_counts(client, gw).accepted; });
  std::atomic<bool> never{false};
  const auto t0 = Clock::now();
  const auto r = bench.pub().run(bench.topics.size(), 1, seq, never);
  if (r.aborted || r.failed > 0) throw std::runtime_error("warm-up: publishing failed");
  const bool all = xrm::testing::poll_until(
      [&] { return gateway_counts(client, gw).accepted - base >= bench.topics.size(); }, 60s, 10ms);
  if (!all) throw std::runtime_error("warm-up: the daemon did not accept every device's first message");
  const double ms = xrm::bench::ms_since(t0);
  stop_gateway(bench, gw);
  return ms;
}

Run run_gateway(Bench& bench, int qos, std::vector<std::uint64_t>& seq, xrm::testing::GatewayUnderTest& gw,
                std::optional<StatusCost>& status_cost) {
  std::optional<xrm::control::Client> client(start_gateway(bench, gw));
  const std::uint64_t base = settle([&] { return gateway_counts(*client, gw).accepted; });
  if (!status_cost) {
    // The price of the poll loop to the daemon: back-to-back status requests while idle.
    constexpr int kCalls = 1000;
    const double cpu0 = xrm::bench::cpu_seconds(gw.pid());
    const auto t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) gateway_counts(*client, gw);
    const double wall = seconds_between(t0, Clock::now());
    status_cost = StatusCost{wall * 1e6 / kCalls, (xrm::bench::cpu_seconds(gw.pid()) - cpu0) * 1e6 / kCalls};
  }
  const std::optional<std::uint64_t> dropped0 = gateway_counts(*client, gw).dropped;
  Run run = measure(bench, "gateway", qos, gw.pid(), seq, [&] { return gateway_counts(*client, gw).accepted - base; });
  if (const auto dropped1 = gateway_counts(*client, gw).dropped; dropped0 && dropped1)
    run.dropped = *dropped1 - *dropped0;
  client.reset();
  stop_gateway(bench, gw);
  return run;
}

// The daemon's [local] client id, fixed so that end_session() ends exactly its session.
void set_gateway_client_id(const std::string& config_path) {
  std::string toml = xrm::testing::read_file(config_path);
  const std::string section = "\n[local]\n";
  const auto at = toml.find(section);
  if (at == std::string::npos) throw std::runtime_error(config_path + ": no [local] section to add client_id to");
  toml.insert(at + section.size(), "client_id = " + xrm::testing::toml_quote(kGatewayClientId) + "\n");
  xrm::testing::write_file(config_path, toml);
}

// --- printing ------------------------------------------------------------------------------------

void print_run(int round, const Run& r) {
  std::printf(
      "  %d %-7s  pub %6.0f/s  got %7llu  lost %6llu  %6.0f/s %6.2f s  CPU %5.1f us  broker %4.1f us  "
      "bench %4.1f us  RSS %6ld>%6ld kB  polls %3d %6.2f ms\n",
      round, r.who.c_str(), r.pub_rate, static_cast<unsigned long long>(r.received),
      static_cast<unsigned long long>(r.lost), r.rate, r.seconds, r.cpu_us, r.broker_us, r.bench_us, r.rss_before,
      r.rss_after, r.polls, r.poll_ms);
  if (r.extra > 0 || r.pub_failed > 0 || (r.dropped && *r.dropped > 0)) {
    std::printf("             %llu duplicates, %llu failed publishes, %s dropped by the daemon (its ingest.dropped)\n",
                static_cast<unsigned long long>(r.extra), static_cast<unsigned long long>(r.pub_failed),
                r.dropped ? std::to_string(*r.dropped).c_str() : "?");
  }
}

template <class Field>
std::vector<double> column(const std::vector<Run>& runs, Field&& f) {
  std::vector<double> out;
  for (const auto& r : runs) out.push_back(static_cast<double>(f(r)));
  return out;
}

template <class Field>
double median_of(const std::vector<Run>& runs, Field&& f) {
  return xrm::bench::median(column(runs, std::forward<Field>(f)));
}

// "3 0 12": one value per run.
template <class Field>
std::string each(const std::vector<Run>& runs, Field&& f) {
  std::string out;
  for (const auto& r : runs) out += (out.empty() ? "" : " ") + std::to_string(f(r));
  return out;
}

void print_summary(Format format, int qos, const std::vector<Run>& bare, const std::vector<Run>& gw,
                   const StatusCost& cost) {
  std::vector<double> ratios;
  std::string ratio_list;
  char buf[32];
  for (std::size_t i = 0; i < std::min(bare.size(), gw.size()); ++i) {
    ratios.push_back(gw[i].rate / bare[i].rate);
    std::snprintf(buf, sizeof buf, "%s%.3f", ratio_list.empty() ? "" : " ", ratios.back());
    ratio_list += buf;
  }
  auto rate = [](const Run& r) { return r.rate; };
  auto polls_per_msg = [](const Run& r) { return r.polls / std::max(1.0, static_cast<double>(r.received)); };
  std::printf("\n%s QoS %d, median of %zu rounds:\n", to_string(format), qos, bare.size());
  std::printf("  publisher rate          bare runs %8.0f/s      gateway runs %8.0f/s\n",
              median_of(bare, [](const Run& r) { return r.pub_rate; }),
              median_of(gw, [](const Run& r) { return r.pub_rate; }));
  std::printf("  received rate           bare      %8.0f/s      gateway      %8.0f/s\n", median_of(bare, rate),
              median_of(gw, rate));
  std::printf("  ratio gateway/bare      %.3f (per round %s; ratio of the medians %.3f); target >= 0.95\n",
              xrm::bench::median(ratios), ratio_list.c_str(), median_of(gw, rate) / median_of(bare, rate));
  std::printf("  lost per run            bare      %-14s  gateway      %s\n",
              each(bare, [](const Run& r) { return r.lost; }).c_str(),
              each(gw, [](const Run& r) { return r.lost; }).c_str());
  std::printf("  CPU per message         bare      %8.2f us     gateway      %8.2f us (status polls: %.2f us of it)\n",
              median_of(bare, [](const Run& r) { return r.cpu_us; }),
              median_of(gw, [](const Run& r) { return r.cpu_us; }), median_of(gw, polls_per_msg) * cost.gateway_cpu_us);
  std::printf("  broker CPU per message  bare runs %8.2f us     gateway runs %8.2f us\n",
              median_of(bare, [](const Run& r) { return r.broker_us; }),
              median_of(gw, [](const Run& r) { return r.broker_us; }));
  std::printf("  RSS before > after      bare      %5.1f > %5.1f MB  gateway      %5.1f > %5.1f MB\n",
              median_of(bare, [](const Run& r) { return r.rss_before; }) / 1024,
              median_of(bare, [](const Run& r) { return r.rss_after; }) / 1024,
              median_of(gw, [](const Run& r) { return r.rss_before; }) / 1024,
              median_of(gw, [](const Run& r) { return r.rss_after; }) / 1024);

  const std::string key = std::string("ingest.") + (format == Format::kJson ? "json" : "protobuf") + ".qos" +
                          std::to_string(qos);
  const std::string what = std::string("ingest, 1 rule profile, ") + to_string(format) + " QoS " + std::to_string(qos);
  const double gw_rate = median_of(gw, rate);
  const double bare_rate = median_of(bare, rate);
  xrm::bench::report({.name = key + ".ratio",
                      .label = what + ": gateway rate / bare Paho subscriber rate (median of per-round ratios)",
                      .value = xrm::bench::median(ratios),
                      .unit = "",
                      .target = xrm::bench::Target{">=", 0.95}});
  xrm::bench::report({.name = key + ".rate",
                      .label = what + ": messages/s received",
                      .value = gw_rate,
                      .unit = "msg/s",
                      .baseline = bare_rate,
                      .baseline_label = "bare Paho C++ subscriber, same broker and run",
                      .ratio = gw_rate / bare_rate});
  const double gw_cpu = median_of(gw, [](const Run& r) { return r.cpu_us; });
  const double bare_cpu = median_of(bare, [](const Run& r) { return r.cpu_us; });
  xrm::bench::report({.name = key + ".cpu_per_message",
                      .label = what + ": CPU per message",
                      .value = gw_cpu,
                      .unit = "us",
                      .baseline = bare_cpu,
                      .baseline_label = "bare Paho C++ subscriber",
                      .ratio = gw_cpu / bare_cpu});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"xrm-bench-ingest: the daemon's ingest rate against a bare Paho subscriber's, same broker, same run"};
  int devices = 1000;
  std::uint64_t messages = 200000;
  std::string qos_arg = "both";
  int rounds = 3;
  std::string publisher_kind = "raw";
  int window = 1000;
  int max_inflight = 100;
  std::string gateway_toml;
  std::string payload_arg = "both";
  std::string profiles_path;
  std::string bare_child, end_session_id, child_url, child_user;
  cli.add_option("--devices", devices, "Registered devices, published to round-robin")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cli.add_option("--messages", messages, "Messages per run")->capture_default_str()->check(CLI::Range(1000, 100000000));
  cli.add_option("--qos", qos_arg, "QoS of the published telemetry: 0, 1 or both")
      ->capture_default_str()
      ->check(CLI::IsMember({"0", "1", "both"}));
  cli.add_option("--rounds", rounds, "Rounds per QoS, each one bare run and one gateway run (order alternating)")
      ->capture_default_str()
      ->check(CLI::Range(1, 50));
  cli.add_option("--publisher", publisher_kind,
                 "raw: MQTT 3.1.1 over a plain socket, fast enough to saturate the subscribers; paho: one Paho C++ "
                 "client (slower than the subscribers here)")
      ->capture_default_str()
      ->check(CLI::IsMember({"paho", "raw"}));
  cli.add_option("--window", window, "The publisher's outstanding publishes (Paho: max inflight and buffer)")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  cli.add_option("--max-inflight", max_inflight, "Mosquitto max_inflight_messages (QoS 1 per subscriber; 0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cli.add_option("--payload", payload_arg, "Telemetry encoding: json, protobuf or both")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "protobuf", "both"}));
  cli.add_option("--profiles", profiles_path,
                 "The daemon's profiles file (class \"chiller\" is the devices' class); default: the built-in one, "
                 "with the threshold rule avg(temp_c, 1m) > 8")
      ->check(CLI::ExistingFile);
  cli.add_option("--gateway-toml", gateway_toml,
                 "File appended to the daemon's gateway.toml (e.g. to switch stages on)")
      ->check(CLI::ExistingFile);
  // Child processes: this program re-executed (the bare subscriber; ending a broker session).
  cli.add_option("--bare-child", bare_child)->group("");
  cli.add_option("--end-session", end_session_id)->group("");
  cli.add_option("--url", child_url)->group("");
  cli.add_option("--user", child_user)->group("");
  CLI11_PARSE(cli, argc, argv);
  if (!bare_child.empty()) return bare_child_main(bare_child, child_url, child_user);
  if (!end_session_id.empty()) return end_session_main(end_session_id, child_url, child_user);

  ::signal(SIGPIPE, SIG_IGN);  // a daemon that dies mid-run is reported, not fatal to the report
  try {
    const auto started = Clock::now();
    xrm::testing::TempDir dir("xrm-bench-ingest");
    const xrm::testing::MosquittoTools tools = xrm::testing::mosquitto_tools();
    xrm::testing::Mosquitto upstream(tools, xrm::testing::Mosquitto::Flavour::kPlain, "bench-up");
    xrm::testing::Mosquitto local(tools, xrm::testing::Mosquitto::Flavour::kLocal, "bench-local");
    // Identical for both subscribers. "log_type none" first: the default "log_type all" would
    // write two debug lines per message and make the broker's log the bottleneck.
    const std::string broker_extra = "max_queued_messages 0\nmax_inflight_messages " + std::to_string(max_inflight) +
                                     "\nlog_type none\nlog_type error\nlog_type warning\nlog_type notice\n";
    local.add_config(broker_extra);

    xrm::testing::GatewaySettings s;
    s.gateway_id = "gw-bench";
    s.local_url = local.url();
    s.local_username = local.admin_user();
    s.local_password = local.admin_password();
    s.upstream_url = upstream.url();
    s.log_level = "notice";  // nothing per message; connection changes still show
    if (!gateway_toml.empty()) s.extra_toml = "\n" + xrm::testing::read_file(gateway_toml);
    // Health with a threshold rule every message feeds (temp_c), condensation (always on, 60 s
    // windows) and the outbox: the whole path a telemetry message takes.
    s.profiles_toml = profiles_path.empty() ? std::string(kProfiles) : xrm::testing::read_file(profiles_path);
    xrm::testing::GatewayUnderTest gw(XRM_GATEWAYD_PATH, s);
    set_gateway_client_id(gw.config_path());

    const auto t0 = Clock::now();
    xrm::bench::fill_registry(gw.data_dir(), s.gateway_id, devices);
    const double fill_ms = xrm::bench::ms_since(t0);
    upstream.start();
    local.start(30s);

    Bench bench{local};
    bench.broker_pid = xrm::bench::find_process(local.config_path());
    if (bench.broker_pid < 0) throw std::runtime_error("cannot find the local broker's pid");
    bench.self = xrm::bench::self_path();
    bench.dir = dir.path();
    bench.publisher_kind = publisher_kind;
    bench.publisher_password = "bench-pub-" + std::to_string(::getpid());
    bench.total = messages;
    bench.window = window;
    for (int i = 0; i < devices; ++i) bench.topics.push_back("xrm/v1/dev/" + xrm::bench::device_id(i) + "/tele");
    xrm::bench::create_publisher_account(local.url(), local.admin_user(), local.admin_password(), kPublisherUser,
                                         bench.publisher_password);

    char sample[128];
    const int sample_len = format_payload(Format::kJson, sample, sizeof sample, 123);
    char sample_pb[128];
    const int sample_pb_len = format_payload(Format::kProtobuf, sample_pb, sizeof sample_pb, 123);
    std::string extra_line = broker_extra;
    std::replace(extra_line.begin(), extra_line.end(), '\n', ';');
    std::printf("xrm-bench-ingest: %d registered devices, %llu messages per run, %d rounds per QoS, %u cores\n",
                devices, static_cast<unsigned long long>(messages), rounds, std::thread::hardware_concurrency());
    std::printf("payload like %s (%d bytes; protobuf Telemetry %d bytes) on xrm/v1/dev/bench-NNNNN/tele, devices "
                "round-robin\n",
                sample, sample_len, sample_pb_len);
    std::printf("broker: Mosquitto, dynamic security; added config: %s\n", extra_line.c_str());
    std::printf("publisher: %s\n", bench.pub().describe().c_str());
    std::printf(
        "subscribers: separate processes, MQTT 5 persistent sessions as %s, 5 filters at QoS 1; daemon log "
        "level %s%s%s\n",
        local.admin_user().c_str(), s.log_level.c_str(),
        gateway_toml.empty() ? "" : ", gateway.toml += ", gateway_toml.c_str());
    std::printf("registry filled in %.0f ms\n", fill_ms);

    // Separate sequence streams: the daemon sees each device's seq continue without gaps across
    // its restarts, whatever the bare runs in between published.
    std::vector<std::uint64_t> seq_bare(static_cast<std::size_t>(devices), 0);
    std::vector<std::uint64_t> seq_gw(static_cast<std::size_t>(devices), 0);
    std::printf("warm-up: every device's first message (QoS 1) through the daemon: %.0f ms\n",
                warm_up_gateway(bench, gw, seq_gw));
    std::printf(
        "\ncolumns: round, subscriber, publisher rate, messages counted, lost, rate, first publish to last "
        "count,\n  CPU per message of the subscriber process, of Mosquitto and of this program (publisher, "
        "polls),\n  subscriber RSS before > after, count polls and the mean time one took\n");
    std::fflush(stdout);

    std::vector<int> qos_list;
    if (qos_arg != "1") qos_list.push_back(0);
    if (qos_arg != "0") qos_list.push_back(1);
    std::vector<Format> formats;
    if (payload_arg != "protobuf") formats.push_back(Format::kJson);
    if (payload_arg != "json") formats.push_back(Format::kProtobuf);
    std::optional<StatusCost> status_cost;
    for (Format format : formats)
    for (int qos : qos_list) {
      bench.format = format;
      std::printf("\n%s QoS %d runs:\n", to_string(format), qos);
      std::vector<Run> bare_runs, gw_runs;
      for (int round = 1; round <= rounds; ++round) {
        // Alternating order, so a drift over the run (caches, broker heap) favours neither side.
        const bool bare_first = round % 2 == 1;
        for (int k = 0; k < 2; ++k) {
          if ((k == 0) == bare_first) {
            bare_runs.push_back(run_bare(bench, qos, seq_bare));
            print_run(round, bare_runs.back());
          } else {
            gw_runs.push_back(run_gateway(bench, qos, seq_gw, gw, status_cost));
            print_run(round, gw_runs.back());
          }
          std::fflush(stdout);
        }
      }
      print_summary(format, qos, bare_runs, gw_runs, *status_cost);
    }
    std::printf(
        "\nstatus request (how the daemon's count is polled): %.0f us round trip, %.1f us of daemon CPU each "
        "(1000 back-to-back, idle)\n",
        status_cost->round_trip_us, status_cost->gateway_cpu_us);
    std::printf("total time %.0f s\n", seconds_between(started, Clock::now()));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xrm-bench-ingest: setup failed: %s\n", e.what());
    return 1;
  }
}
