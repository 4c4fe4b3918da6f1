// xrm-bench-instructions: how many instructions the real xrm-gatewayd executes per ingested
// telemetry message, for the aarch64 build (run under qemu-aarch64) against the amd64 build (run
// natively) as the baseline, in the same run. Instruction counts do not depend on how slow the
// emulator or the VM is, so unlike seconds they compare an ARM build with the host build.
//
// How the instructions are counted: valgrind --tool=callgrind for both builds (its "Ir", every
// instruction the daemon's threads execute in user space, libraries included; the kernel is not
// counted). The amd64 daemon runs under the host's valgrind; the aarch64 daemon runs under
// valgrind for arm64 (Debian's valgrind:arm64, unpacked with dpkg -x, never installed), itself
// run by qemu-aarch64. Callgrind then counts aarch64 instructions exactly as it does on a real
// ARM board; qemu only executes valgrind. Checked on Debian 12 (qemu 7.2, valgrind 3.19) and chosen
// over the alternatives:
// - a qemu TCG plugin (qemu-aarch64 -plugin, e.g. an instruction counter) needs qemu-plugin.h,
//   which no Debian 12 package ships, and we do not copy qemu's header into the tree;
// - qemu's own log (-d in_asm,exec,nochain, summing executed blocks times their lengths) is exact
//   too, but writes a line per executed block: gigabytes for a daemon run;
// - perf stat -e instructions needs hardware counters this kind of VM does not expose, and would
//   count qemu's x86 instructions, not the ARM ones.
// valgrind's arm64 launcher execs the tool binary, which fails under qemu-user without binfmt_misc
// ("Exec format error"), so the tool (callgrind-arm64-linux) is started directly, with
// VALGRIND_LIB and VALGRIND_LAUNCHER set as the launcher would set them, and --tool=callgrind
// still given (without it the tool preloads memcheck's allocator into the daemon, whose first
// operator new then aborts).
//
// Method, per daemon: a fresh local Mosquitto (dynamic security, as in production) and upstream
// Mosquitto; the registry filled with --devices devices before the daemon starts; a warm-up run
// without valgrind sends every device's first message (activating a device is a one-time registry
// transaction, not ingest). Then, under callgrind, one run per payload kind with --messages
// telemetry messages published at QoS 1 at a fixed --rate (so both builds see messages one by one,
// as from a real fleet, whatever their speed under valgrind), waiting until the daemon's status
// counts all of them as accepted; and one idle run with no message that lasts as long as the
// message runs did and polls the status as often (so timers, keepalives and status requests
// cancel out). Every run starts the daemon, waits until the control socket says it is connected
// to the local broker, and ends with SIGTERM. instructions per message = (count(N) - count(idle))
// / N. The idle run's count is the fixed cost: start, connect, idle, clean stop.
//
// Asserts nothing about speed; exits non-zero only when the setup fails (a daemon that does not
// start, connect or count every message in time is a setup failure).
#include <mqtt/async_client.h>
#include <signal.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
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
#include "xrm/testing/real_parts.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using xrm::bench::Clock;
using xrm::bench::seconds_between;

constexpr const char* kPublisherUser = "bench-publisher";
constexpr auto kPollEvery = 1s;  // status requests while waiting: each costs the daemon instructions

struct Options {
  int devices = 100;
  std::uint64_t messages = 2000;
  double rate = 50;  // messages per second
  std::vector<std::string> payloads;
  std::chrono::seconds patience{600};  // for each wait: start, connect, counting, stop
};

// How one daemon build is run: its path, what runs it with and without callgrind, its environment.
struct Target {
  std::string arch;  // "amd64", "aarch64": the figures' names
  std::string daemon;
  std::vector<std::string> plain;  // the warm-up run's wrapper (empty: native)
  std::vector<std::string> counting;  // the counted runs' wrapper, up to the callgrind options
  std::vector<std::pair<std::string, std::string>> env;
  std::string how;  // for the printed header
};

struct Count {
  std::uint64_t instructions = 0;
  std::uint64_t accepted = 0;
  double seconds = 0;  // connected to last poll
  double wall = 0;     // start to exit
  int polls = 0;
};

struct Result {
  Target target;
  Count idle;
  std::map<std::string, Count> runs;  // by payload kind
  double seconds = 0;

  double per_message(const std::string& payload, std::uint64_t n) const {
    const auto& r = runs.at(payload);
    return (static_cast<double>(r.instructions) - static_cast<double>(idle.instructions)) / static_cast<double>(n);
  }
};

// A program's full path: as given if it contains a '/', else searched in PATH; empty if not found.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string p = dir + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// Callgrind's total ("totals: N", or "summary: N" in older files) from its output file.
std::uint64_t callgrind_total(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("no callgrind output " + path);
  std::optional<std::uint64_t> summary, totals;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("summary:", 0) == 0) summary = std::stoull(line.substr(8));
    if (line.rfind("totals:", 0) == 0) totals = std::stoull(line.substr(7));
  }
  if (totals) return *totals;
  if (summary) return *summary;
  throw std::runtime_error(path + ": no totals line (did the daemon exit cleanly?)");
}

// The telemetry payload of one message, as devices send it: JSON, or the protobuf Telemetry with
// the same fields.
std::string make_payload(const std::string& kind, std::uint64_t seq) {
  const auto ts = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  if (kind == "json") {
    char buf[128];
    const int n = std::snprintf(buf, sizeof buf, R"({"seq":%llu,"ts":%llu,"temp_c":4.25,"door":0})",
                                static_cast<unsigned long long>(seq), static_cast<unsigned long long>(ts));
    return std::string(buf, static_cast<std::size_t>(n));
  }
  xrm::v1::Telemetry t;
  t.set_seq(static_cast<std::uint32_t>(seq));
  t.set_ts(ts);
  for (const auto& [name, value] : {std::pair<const char*, double>{"temp_c", 4.25}, {"door", 0}}) {
    auto* m = t.add_metrics();
    m->set_name(name);
    m->set_value(value);
  }
  return t.SerializeAsString();
}

// One client standing in for the whole fleet: its own dynamic-security account allowed to publish
// below xrm/v1/dev/ (devices each have a narrow role; one client for all needs the wide one).
class Fleet {
 public:
  Fleet(const xrm::testing::Mosquitto& broker, int devices)
      : seq_(static_cast<std::size_t>(devices), 0),
        client_(broker.url(), "bench-fleet", mqtt::create_options(MQTTVERSION_3_1_1), nullptr) {
    const std::string password = "bench-pub-" + std::to_string(::getpid());
    xrm::bench::create_publisher_account(broker.url(), broker.admin_user(), broker.admin_password(), kPublisherUser,
                                         password);
    for (int i = 0; i < devices; ++i) topics_.push_back("xrm/v1/dev/" + xrm::bench::device_id(i) + "/tele");
    mqtt::connect_options opts;
    opts.set_user_name(kPublisherUser);
    opts.set_password(password);
    opts.set_clean_session(true);
    if (!client_.connect(opts)->wait_for(10s)) throw std::runtime_error("publisher: no CONNACK in 10 s");
  }
  ~Fleet() {
    try {
      client_.disconnect()->wait_for(5s);
    } catch (const std::exception&) {
    }
  }
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Publishes n messages round-robin over the devices at QoS 1, at most `rate` per second, each
  // waiting for its PUBACK (the broker has it; the daemon may still be behind). Devices' sequence
  // numbers continue across calls. Stops early once `stop` is set (from another thread).
  void publish(std::uint64_t n, const std::string& kind, double rate, const std::atomic<bool>& stop) {
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < n && !stop; ++i) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(static_cast<double>(i) / rate)));
      const std::size_t d = next_++ % topics_.size();
      const std::string payload = make_payload(kind, ++seq_[d]);
      if (!client_.publish(topics_[d], payload.data(), payload.size(), 1, false)->wait_for(30s)) {
        throw std::runtime_error("publisher: no PUBACK in 30 s");
      }
    }
  }
  std::size_t devices() const { return topics_.size(); }

 private:
  std::vector<std::uint64_t> seq_;
  std::vector<std::string> topics_;
  std::uint64_t next_ = 0;
  mqtt::async_client client_;
};

struct Status {
  std::uint64_t accepted = 0;
  bool connected = false;
};

Status status(xrm::control::Client& client, const xrm::testing::GatewayUnderTest& gw) {
  auto r = client.call("status", json::object(), 60s);
  if (!r) throw std::runtime_error("status: " + r.status().to_string() + "\n" + xrm::testing::tail_file(gw.log_path()));
  return {r->at("ingest").at("accepted").get<std::uint64_t>(), r->at("connections").at("local").at("connected").get<bool>()};
}

// One daemon run: start, wait for the control socket and the local connection, then `work` (given
// the control client and a poll function that counts), then SIGTERM and wait for a clean exit.
template <class Work>
void daemon_run(xrm::testing::GatewayUnderTest& gw, const Options& o, Count& count, Work&& work) {
  const auto t0 = Clock::now();
  gw.start();
  std::optional<xrm::control::Client> client;
  // Connecting to the socket (without a request) costs the daemon an accept; poll it often.
  xrm::testing::poll_until(
      [&] {
        if (!gw.is_running()) return true;
        if (auto c = xrm::control::Client::connect(gw.control_socket())) client.emplace(std::move(*c));
        return client.has_value();
      },
      o.patience, 100ms);
  if (!client) {
    throw std::runtime_error("the daemon did not open its control socket:\n" + xrm::testing::tail_file(gw.log_path()));
  }
  auto poll = [&] {
    ++count.polls;
    return status(*client, gw);
  };
  if (!xrm::testing::poll_until([&] { return poll().connected; }, o.patience, kPollEvery)) {
    throw std::runtime_error("the daemon did not connect to the local broker:\n" + xrm::testing::tail_file(gw.log_path()));
  }
  const auto connected = Clock::now();
  work(poll);
  count.seconds = seconds_between(connected, Clock::now());
  client.reset();
  const auto rc = gw.terminate(o.patience);
  if (!rc || *rc != 0) {
    throw std::runtime_error("the daemon did not stop cleanly (exit " + (rc ? std::to_string(*rc) : "timeout") +
                             "):\n" + xrm::testing::tail_file(gw.log_path()));
  }
  count.wall = seconds_between(t0, Clock::now());
}

Result measure(const Target& target, const Options& o) {
  const auto t0 = Clock::now();
  Result result{target, {}, {}, 0};
  xrm::testing::TempDir dir("xrm-bench-instructions");
  const xrm::testing::MosquittoTools tools = xrm::testing::mosquitto_tools();
  xrm::testing::Mosquitto upstream(tools, xrm::testing::Mosquitto::Flavour::kPlain, "insn-up");
  xrm::testing::Mosquitto local(tools, xrm::testing::Mosquitto::Flavour::kLocal, "insn-local");
  // No limit on what the broker queues for a slow subscriber (a daemon under valgrind is one);
  // no per-message broker log.
  local.add_config("max_queued_messages 0\nlog_type none\nlog_type error\nlog_type warning\nlog_type notice\n");

  xrm::testing::GatewaySettings s;
  s.gateway_id = "gw-insn";
  s.local_url = local.url();
  s.local_username = local.admin_user();
  s.local_password = local.admin_password();
  s.upstream_url = upstream.url();
  s.log_level = "notice";  // nothing per message
  s.env = target.env;
  xrm::testing::GatewayUnderTest gw(target.daemon, s);
  xrm::bench::fill_registry(gw.data_dir(), s.gateway_id, o.devices);
  upstream.start();
  local.start(30s);
  Fleet fleet(local, o.devices);

  // Publishes n messages from a second thread while polling the status every kPollEvery (which
  // also keeps the control connection from being closed as idle) until the daemon has accepted
  // all of them.
  auto send_and_count = [&](auto& poll, std::uint64_t n, const std::string& kind, double rate, Count& count) {
    const std::uint64_t base = poll().accepted;
    std::atomic<bool> stop{false};
    std::exception_ptr failure;
    std::thread publisher([&] {
      try {
        fleet.publish(n, kind, rate, stop);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    bool all = false;
    try {
      all = xrm::testing::poll_until([&] { return (count.accepted = poll().accepted - base) >= n; }, o.patience,
                                     kPollEvery);
    } catch (...) {
      stop = true;
      publisher.join();
      throw;
    }
    stop = true;
    publisher.join();
    if (failure) std::rethrow_exception(failure);
    if (!all) {
      throw std::runtime_error("the daemon accepted " + std::to_string(count.accepted) + " of " + std::to_string(n) +
                               " messages in " + std::to_string(o.patience.count()) + " s:\n" +
                               xrm::testing::tail_file(gw.log_path()));
    }
  };

  // Warm-up, not counted: every device's first message (the daemon's session on the broker, with
  // its subscriptions, persists from here on).
  {
    s.wrapper = target.plain;
    gw.rewrite_config(s);
    Count warm;
    daemon_run(gw, o, warm, [&](auto& poll) { send_and_count(poll, fleet.devices(), "json", o.rate * 10, warm); });
    std::printf("  warm-up (no valgrind): %zu first messages, %.1f s\n", fleet.devices(), warm.wall);
    std::fflush(stdout);
  }

  auto counting = [&](const std::string& name) {
    s.wrapper = target.counting;
    const std::string out = dir.file("callgrind-" + name + ".out");
    s.wrapper.push_back("--callgrind-out-file=" + out);
    gw.rewrite_config(s);
    return out;
  };
  auto print = [](const std::string& name, std::uint64_t n, const Count& c) {
    std::printf("  %-9s %6llu msgs  %15llu instructions  connected %6.1f s  polls %3d  run %6.1f s\n", name.c_str(),
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(c.instructions), c.seconds,
                c.polls, c.wall);
    std::fflush(stdout);
  };

  double busy_seconds = 0;
  int busy_polls = 0;
  for (const auto& kind : o.payloads) {
    const std::string out = counting(kind);
    Count& c = result.runs[kind];
    daemon_run(gw, o, c, [&](auto& poll) { send_and_count(poll, o.messages, kind, o.rate, c); });
    c.instructions = callgrind_total(out);
    busy_seconds += c.seconds;
    busy_polls += c.polls;
    print(kind, o.messages, c);
  }

  // The idle run: as long as the message runs stayed connected on average, with as many polls.
  const double idle_for = busy_seconds / static_cast<double>(o.payloads.size());
  const int idle_polls = busy_polls / static_cast<int>(o.payloads.size());
  const std::string out = counting("idle");
  daemon_run(gw, o, result.idle, [&](auto& poll) {
    const auto from = Clock::now();
    const auto until = from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(idle_for));
    // Spread the remaining polls over the remaining time, the last one at its end.
    while (result.idle.polls < idle_polls) {
      const int left = idle_polls - result.idle.polls;
      std::this_thread::sleep_for((until - Clock::now()) / left);
      poll();
    }
    std::this_thread::sleep_until(until);
  });
  result.idle.instructions = callgrind_total(out);
  print("idle", 0, result.idle);
  result.seconds = seconds_between(t0, Clock::now());
  return result;
}

// valgrind:arm64's tool directory (usr/libexec/valgrind) under root, a `dpkg -x` of the package;
// empty if it is not there.
std::string arm_valgrind_lib(const std::string& root) {
  if (root.empty()) return "";
  for (const std::string& d : {root + "/usr/libexec/valgrind", root + "/usr/lib/aarch64-linux-gnu/valgrind", root}) {
    if (::access((d + "/callgrind-arm64-linux").c_str(), R_OK) == 0) return d;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"xrm-bench-instructions: instructions per ingested telemetry message, aarch64 (qemu) against amd64"};
  Options o;
  std::string daemon = XRM_GATEWAYD_PATH;
  std::string arm_daemon = XRM_ARM_GATEWAYD_DEFAULT;
  std::string valgrind = "valgrind";
  std::string qemu = "qemu-aarch64";
  const char* env_root = std::getenv("XRM_ARM64_VALGRIND");
  std::string arm_valgrind = env_root != nullptr ? env_root : "";
  std::string payload = "both";
  long patience_s = 600;
  bool smoke = false;
  cli.add_option("--daemon", daemon, "The host (amd64) xrm-gatewayd")->capture_default_str();
  cli.add_option("--arm-daemon", arm_daemon, "The aarch64 xrm-gatewayd (skipped if absent)")->capture_default_str();
  cli.add_option("--arm-valgrind", arm_valgrind,
                 "Where valgrind:arm64 is unpacked (apt-get download valgrind:arm64; dpkg -x valgrind_*_arm64.deb "
                 "DIR); default $XRM_ARM64_VALGRIND, else the aarch64 run is skipped");
  cli.add_option("--valgrind", valgrind, "The host's valgrind")->capture_default_str();
  cli.add_option("--qemu", qemu, "qemu-user for aarch64")->capture_default_str();
  cli.add_option("--devices", o.devices, "Registered devices, published to round-robin")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cli.add_option("--messages", o.messages, "Messages per counted run")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  cli.add_option("--rate", o.rate, "Messages per second published (QoS 1)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 10000.0));
  cli.add_option("--payload", payload, "json, protobuf or both")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "protobuf", "both"}));
  cli.add_option("--patience", patience_s, "Seconds each wait (start, connect, counting, stop) may take")
      ->capture_default_str()
      ->check(CLI::Range(10, 7200));
  cli.add_flag("--smoke", smoke, "Tiny sizes (5 devices, 50 messages, JSON only): checks that it all runs");
  CLI11_PARSE(cli, argc, argv);
  if (smoke) {
    o.devices = 5;
    o.messages = 50;
    payload = "json";
  }
  if (payload != "protobuf") o.payloads.push_back("json");
  if (payload != "json") o.payloads.push_back("protobuf");
  o.patience = std::chrono::seconds(patience_s);

  ::signal(SIGPIPE, SIG_IGN);
  try {
    const auto started = Clock::now();
    std::vector<Target> targets;
    const std::string vg = find_program(valgrind);
    if (vg.empty()) throw std::runtime_error("valgrind not found (" + valgrind + "): apt-get install valgrind");
    if (::access(daemon.c_str(), X_OK) != 0) throw std::runtime_error("no daemon at " + daemon);
    targets.push_back({"amd64", daemon, {}, {vg, "--tool=callgrind", "--dump-line=no"}, {}, "valgrind --tool=callgrind, native"});

    const std::string qemu_path = find_program(qemu);
    const std::string vglib = arm_valgrind_lib(arm_valgrind);
    if (::access(arm_daemon.c_str(), R_OK) != 0) {
      std::printf("aarch64: skipped, no daemon at %s (cmake --preset aarch64 && cmake --build build/aarch64 "
                  "--target xrm-gatewayd; or --arm-daemon)\n", arm_daemon.c_str());
    } else if (qemu_path.empty()) {
      std::printf("aarch64: skipped, %s not found (apt-get install qemu-user)\n", qemu.c_str());
    } else if (vglib.empty()) {
      std::printf("aarch64: skipped, no valgrind:arm64 (give --arm-valgrind DIR or XRM_ARM64_VALGRIND=DIR after "
                  "apt-get download valgrind:arm64 && dpkg -x valgrind_*_arm64.deb DIR)\n");
    } else {
      // The arm64 launcher would exec the tool, which qemu-user cannot do: start the tool itself.
      const std::string launcher = std::filesystem::path(vglib).parent_path().parent_path().string() + "/bin/valgrind";
      targets.push_back({"aarch64",
                         arm_daemon,
                         {qemu_path},
                         {qemu_path, vglib + "/callgrind-arm64-linux", "--tool=callgrind", "--dump-line=no"},
                         {{"VALGRIND_LIB", vglib}, {"VALGRIND_LAUNCHER", launcher}},
                         "qemu-aarch64 running valgrind:arm64 --tool=callgrind"});
    }

    std::string kinds;
    for (const auto& k : o.payloads) kinds += (kinds.empty() ? "" : "+") + k;
    std::printf("xrm-bench-instructions: %d registered devices, %llu telemetry messages per counted run (%s), QoS 1 "
                "at %.0f msg/s\n", o.devices, static_cast<unsigned long long>(o.messages), kinds.c_str(), o.rate);
    std::printf("instructions per message = (callgrind Ir of a run with N messages - of an idle run as long) / N\n");
    std::fflush(stdout);

    std::vector<Result> results;
    for (const auto& t : targets) {
      std::printf("\n%s: %s\n  daemon %s\n", t.arch.c_str(), t.how.c_str(), t.daemon.c_str());
      std::fflush(stdout);
      results.push_back(measure(t, o));
      const Result& r = results.back();
      for (const auto& k : o.payloads) {
        std::printf("  %s: %.0f instructions per message\n", k.c_str(), r.per_message(k, o.messages));
      }
      std::printf("  fixed cost (idle run: start, connect, %.0f s idle, stop): %llu instructions; %.0f s for this "
                  "build\n", r.idle.seconds, static_cast<unsigned long long>(r.idle.instructions), r.seconds);
      std::fflush(stdout);
    }

    std::printf("\nsummary:\n");
    const Result& base = results.front();
    for (const auto& k : o.payloads) {
      const double amd = base.per_message(k, o.messages);
      std::printf("  %-8s amd64 %8.0f instructions/message", k.c_str(), amd);
      if (results.size() > 1) {
        const double arm = results[1].per_message(k, o.messages);
        std::printf("   aarch64 %8.0f   ratio aarch64/amd64 %.3f", arm, arm / amd);
      }
      std::printf("\n");
    }
    std::fflush(stdout);
    // A figure; baseline and ratio set where there is one.
    auto figure = [](std::string name, std::string label, double value, std::string unit) {
      xrm::bench::Figure f;
      f.name = std::move(name);
      f.label = std::move(label);
      f.value = value;
      f.unit = std::move(unit);
      return f;
    };
    for (const auto& k : o.payloads) {
      const double amd = base.per_message(k, o.messages);
      xrm::bench::report(figure("instructions." + k + ".amd64",
                                "instructions per " + k + " telemetry message, amd64 daemon (callgrind)", amd,
                                "instr/msg"));
      if (results.size() > 1) {
        const double arm = results[1].per_message(k, o.messages);
        auto f = figure("instructions." + k + ".aarch64",
                        "instructions per " + k + " telemetry message, aarch64 daemon (qemu-aarch64 + callgrind)",
                        arm, "instr/msg");
        f.baseline = amd;
        f.baseline_label = "amd64 daemon (callgrind), same run";
        f.ratio = arm / amd;
        xrm::bench::report(f);
      }
    }
    for (const auto& r : results) {
      xrm::bench::report(figure("instructions.idle." + r.target.arch,
                                "instructions of an idle run (start, connect, " +
                                    std::to_string(static_cast<int>(r.idle.seconds)) + " s idle, stop), " +
                                    r.target.arch,
                                static_cast<double>(r.idle.instructions), "instr"));
    }
    std::printf("total time %.0f s\n", seconds_between(started, Clock::now()));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xrm-bench-instructions: setup failed: %s\n", e.what());
    return 1;
  }
}
